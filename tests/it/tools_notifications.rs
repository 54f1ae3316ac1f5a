//! The notifications toolset against the mocked PVE: targets and matchers listed, endpoints
//! created with their secret read from a file (which never shows anywhere), matchers created,
//! targets tested, endpoints and matchers deleted; dry runs that send no write; refusals that
//! send nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{audit_dir, run, session, Client, FakePve, TempDir, TOKEN};

const TARGETS: &str = "/cluster/notifications/targets";
const MATCHERS: &str = "/cluster/notifications/matchers";

/// Full access with the notifications and health toolsets loaded (neither is wholly in the
/// default set).
const FULL: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "full"),
    ("PROXMOX_MCP_TOOLS", "notifications,health"),
];

fn full(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    session(fake, FULL, f)
}

/// Full access with `dir` as `PROXMOX_MCP_SECRETS_DIR`, where secret files must be.
fn full_in(fake: &FakePve, dir: &TempDir, f: impl FnOnce(&mut Client)) {
    let mut settings = FULL.to_vec();
    settings.push(("PROXMOX_MCP_SECRETS_DIR", s(&dir.0)));
    session(fake, &settings, f)
}

/// A file in `dir` holding `text`, with permission bits `mode`.
fn secret_file(dir: &TempDir, name: &str, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// PVE's targets: the built-in mail target and two of the user's.
#[rustfmt::skip]
fn targets() -> Value {
    json!([
        {"name": "mail-to-root", "type": "sendmail", "origin": "builtin", "comment": "Send mails to root@pam's email address"},
        {"name": "ops-gotify", "type": "gotify", "origin": "user-created", "disable": 0},
        {"name": "chat-hook", "type": "webhook", "origin": "user-created", "secret": ["name=key"]},
    ])
}

#[test]
fn targets_and_matchers_are_listed_by_name() {
    let mut fake = FakePve::new();
    fake.get(TARGETS, targets());
    #[rustfmt::skip]
    fake.get(MATCHERS, json!([
        {"name": "default-matcher", "target": ["mail-to-root"], "origin": "builtin", "comment": "Route all notifications to mail-to-root"},
        {"name": "backups", "target": ["ops-gotify", "chat-hook"], "match-field": ["exact:type=vzdump"], "match-severity": ["error", "warning"], "mode": "all", "origin": "user-created", "digest": "abc"},
    ]));
    session(&fake, &[("PROXMOX_MCP_TOOLS", "notifications")], |c| {
        assert_eq!(
            c.ok("list_notification_targets", json!({})),
            json!({
                "data": [
                    {"name": "chat-hook", "type": "webhook", "origin": "user-created"},
                    {"name": "mail-to-root", "type": "sendmail", "origin": "builtin", "comment": "Send mails to root@pam's email address"},
                    {"name": "ops-gotify", "type": "gotify", "origin": "user-created", "disable": 0},
                ],
                "total": 3, "limit": 100, "offset": 0,
            })
        );
        let matchers = c.ok("list_notification_matchers", json!({"limit": 1}));
        assert_eq!(
            matchers,
            json!({
                "data": [{"name": "backups", "target": ["ops-gotify", "chat-hook"], "match-field": ["exact:type=vzdump"], "match-severity": ["error", "warning"], "mode": "all", "origin": "user-created"}],
                "total": 2, "limit": 1, "offset": 0, "hint": "1 more; call again with offset 1",
            })
        );
        // The writes are not offered at read-only.
        let names = c.tool_names();
        assert!(names.contains(&"list_notification_targets"), "{names:?}");
        assert!(
            !names.contains(&"create_notification_endpoint"),
            "{names:?}"
        );
    });
    assert_eq!(
        fake.lines(),
        [format!("GET {TARGETS}"), format!("GET {MATCHERS}")]
    );
}

#[test]
fn endpoints_are_created_with_their_secret_from_the_file() {
    let dir = TempDir::new("notify-create");
    let token = secret_file(&dir, "gotify.secret", "Gtk-Secret-0a1b2c\n", 0o600);
    let password = secret_file(&dir, "smtp.pass", "Smtp-Pw-9z8y\r\n", 0o400);
    let hook = secret_file(
        &dir,
        "hook.env",
        "# chat service\napikey=Hook-Key-55aa\n\nchannel=ops\n",
        0o600,
    );
    let mut fake = FakePve::new();
    for kind in ["gotify", "smtp", "webhook", "sendmail"] {
        fake.post(
            &format!("/cluster/notifications/endpoints/{kind}"),
            json!(null),
        );
    }
    full_in(&fake, &dir, |c| {
        let gotify = json!({"type": "gotify", "name": "ops-gotify", "server": "https://gotify.example.org", "secret_file": s(&token)});
        assert_eq!(
            c.ok("create_notification_endpoint", gotify),
            json!({"data": null})
        );
        #[rustfmt::skip]
        let smtp = json!({"type": "smtp", "name": "ops-mail", "server": "mail.example.org", "from_address": "pve@example.org", "mailto": ["ops@example.org", "oncall@example.org"], "username": "pve", "mode": "starttls", "secret_file": s(&password)});
        assert_eq!(
            c.ok("create_notification_endpoint", smtp),
            json!({"data": null})
        );
        #[rustfmt::skip]
        let webhook = json!({"type": "webhook", "name": "chat-hook", "server": "https://chat.example.org/hook/{{ secrets.apikey }}", "body": "{\"text\": \"{{ escape message }}\"}", "secret_file": s(&hook)});
        assert_eq!(
            c.ok("create_notification_endpoint", webhook),
            json!({"data": null})
        );
        let sendmail = json!({"type": "sendmail", "name": "root-mail", "mailto": ["root@pam"]});
        assert_eq!(
            c.ok("create_notification_endpoint", sendmail),
            json!({"data": null})
        );
    });
    let b64 = |t: &str| {
        // The few values used here, encoded as PVE expects (standard base64).
        match t {
            "Hook-Key-55aa" => "SG9vay1LZXktNTVhYQ==",
            "ops" => "b3Bz",
            "application/json" => "YXBwbGljYXRpb24vanNvbg==",
            "{\"text\": \"{{ escape message }}\"}" => {
                "eyJ0ZXh0IjogInt7IGVzY2FwZSBtZXNzYWdlIH19In0="
            }
            other => panic!("{other}"),
        }
    };
    let enc = |t: &str| {
        t.replace('=', "%3D")
            .replace(',', "%2C")
            .replace('+', "%2B")
    };
    assert_eq!(
        fake.lines(),
        [
            "POST /cluster/notifications/endpoints/gotify name=ops-gotify&server=https%3A%2F%2Fgotify.example.org&token=Gtk-Secret-0a1b2c".to_string(),
            "POST /cluster/notifications/endpoints/smtp name=ops-mail&server=mail.example.org&from-address=pve%40example.org&username=pve&mode=starttls&mailto=ops%40example.org&mailto=oncall%40example.org&password=Smtp-Pw-9z8y".to_string(),
            format!(
                "POST /cluster/notifications/endpoints/webhook name=chat-hook&url=https%3A%2F%2Fchat.example.org%2Fhook%2F%7B%7B%20secrets.apikey%20%7D%7D&method=post&body={}&header={}&secret={}&secret={}",
                enc(b64("{\"text\": \"{{ escape message }}\"}")),
                enc(&format!("name=Content-Type,value={}", b64("application/json"))),
                enc(&format!("name=apikey,value={}", b64("Hook-Key-55aa"))),
                enc(&format!("name=channel,value={}", b64("ops"))),
            ),
            "POST /cluster/notifications/endpoints/sendmail name=root-mail&mailto=root%40pam".to_string(),
        ]
    );
}

#[test]
fn every_write_can_be_dry_run_and_sends_nothing() {
    let dir = TempDir::new("notify-dry");
    let hook = secret_file(&dir, "hook.env", "apikey=Dry-Key-77\n", 0o600);
    let mut fake = FakePve::new();
    fake.get(TARGETS, targets());
    fake.get(MATCHERS, json!([]));
    #[rustfmt::skip]
    fake.get(&format!("{MATCHERS}/backups"), json!({"name": "backups", "target": ["ops-gotify"], "match-severity": ["error"]}));
    fake.get(
        "/nodes/pve1/apt/update",
        json!([{"Package": "pve-manager"}, {"Package": "openssl"}]),
    );
    let file = s(&hook).to_string();
    full_in(&fake, &dir, |c| {
        let out = c.ok(
            "create_notification_endpoint",
            json!({"type": "webhook", "name": "chat-hook", "server": "https://chat.example.org/x", "secret_file": file, "dry_run": true}),
        );
        assert_eq!(
            out,
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/cluster/notifications/endpoints/webhook", "params": {
                    "name": "chat-hook", "url": "https://chat.example.org/x", "method": "post",
                    "secret": format!("name=apikey,value=(from {file})"),
                }},
                "target": {"name": "chat-hook", "exists": true, "current": {"name": "chat-hook", "type": "webhook", "origin": "user-created"}},
            })
        );
        let out = c.ok(
            "create_notification_matcher",
            json!({"name": "backups", "target": ["ops-gotify", "chat-hook"], "match_severity": ["error", "warning"], "match_field": ["exact:type=vzdump"], "mode": "any", "invert_match": false, "dry_run": true}),
        );
        assert_eq!(
            out["request"],
            json!({"method": "POST", "path": MATCHERS, "params": {
                "name": "backups", "target": ["ops-gotify", "chat-hook"],
                "match-severity": ["error", "warning"], "match-field": "exact:type=vzdump",
                "mode": "any", "invert-match": "0",
            }})
        );
        assert_eq!(
            out["target"],
            json!({"name": "backups", "exists": false, "current": null})
        );
        let out = c.ok(
            "test_notification_target",
            json!({"name": "ops-gotify", "dry_run": true}),
        );
        assert_eq!(
            out["request"],
            json!({"method": "POST", "path": "/cluster/notifications/targets/ops-gotify/test", "params": {}})
        );
        assert_eq!(out["target"]["type"], "gotify");
        let out = c.ok(
            "delete_notification_endpoint",
            json!({"name": "chat-hook", "dry_run": true}),
        );
        assert_eq!(
            out["request"],
            json!({"method": "DELETE", "path": "/cluster/notifications/endpoints/webhook/chat-hook", "params": {}})
        );
        // What PVE lists about a webhook's secrets (their names) is not shown either.
        assert_eq!(
            out["target"],
            json!({"name": "chat-hook", "type": "webhook", "origin": "user-created"})
        );
        let out = c.ok(
            "delete_notification_matcher",
            json!({"name": "backups", "dry_run": true}),
        );
        assert_eq!(
            out["request"],
            json!({"method": "DELETE", "path": format!("{MATCHERS}/backups"), "params": {}})
        );
        assert_eq!(out["target"]["target"], json!(["ops-gotify"]));
    });
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "health"),
        ],
        |c| {
            let out = c.ok(
                "refresh_node_updates",
                json!({"node": "pve1", "dry_run": true}),
            );
            assert_eq!(
                out,
                json!({
                    "data": null, "dry_run": true,
                    "request": {"method": "POST", "path": "/nodes/pve1/apt/update", "params": {}},
                    "target": {"node": "pve1", "pending_updates": 2},
                })
            );
        },
    );
    fake.assert_no_writes();
}

#[test]
fn deleting_and_testing_go_to_the_right_paths() {
    let mut fake = FakePve::new();
    fake.get(TARGETS, targets());
    fake.ok(
        "DELETE",
        "/cluster/notifications/endpoints/gotify/ops-gotify",
        json!(null),
    );
    fake.ok("DELETE", &format!("{MATCHERS}/backups"), json!(null));
    fake.post("/cluster/notifications/targets/chat-hook/test", json!(null));
    fake.post(MATCHERS, json!(null));
    full(&fake, |c| {
        assert_eq!(
            c.ok("test_notification_target", json!({"name": "chat-hook"})),
            json!({"data": null})
        );
        c.ok("create_notification_matcher", json!({"name": "backups", "target": ["chat-hook"], "match_calendar": ["mon..fri 8-17"]}));
        c.ok(
            "delete_notification_endpoint",
            json!({"name": "ops-gotify"}),
        );
        c.ok("delete_notification_matcher", json!({"name": "backups"}));
        let missing = c.error("delete_notification_endpoint", json!({"name": "nobody"}));
        assert_eq!(
            missing,
            format!("GET {TARGETS}: no notification target named 'nobody' (list_notification_targets shows them); nothing was sent")
        );
    });
    assert_eq!(
        fake.writes(),
        [
            "POST /cluster/notifications/targets/chat-hook/test",
            "POST /cluster/notifications/matchers name=backups&target=chat-hook&match-calendar=mon..fri%208-17",
            "DELETE /cluster/notifications/endpoints/gotify/ops-gotify",
            "DELETE /cluster/notifications/matchers/backups",
        ]
    );
}

#[test]
fn the_endpoint_tool_needs_access_full() {
    let fake = FakePve::new();
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "notifications"),
        ],
        |c| {
            let names = c.tool_names();
            assert!(names.contains(&"create_notification_matcher"), "{names:?}");
            assert!(names.contains(&"test_notification_target"), "{names:?}");
            assert!(
                !names.contains(&"create_notification_endpoint"),
                "{names:?}"
            );
            assert!(
                !names.contains(&"delete_notification_endpoint"),
                "{names:?}"
            );
        },
    );
    fake.assert_untouched();
}

#[test]
fn bad_secret_files_and_arguments_are_refused_before_anything_is_sent() {
    let dir = TempDir::new("notify-refuse");
    let shared = secret_file(&dir, "shared.secret", "Shared-Tok-1\n", 0o644);
    let empty = secret_file(&dir, "empty.secret", "", 0o600);
    let two = secret_file(&dir, "two.secret", "Line-One-1\nLine-Two-2\n", 0o600);
    let big = secret_file(&dir, "big.secret", &"x".repeat(70 * 1024), 0o600);
    let bad_hook = secret_file(
        &dir,
        "hook.env",
        "apikey=Ok-Value-3\nnot a pair Hidden-4\n",
        0o600,
    );
    let missing = dir.path("missing.secret");
    let sub = dir.path("subdir");
    std::fs::create_dir(&sub).unwrap();
    let fifo = dir.path("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let fake = FakePve::new();
    full_in(&fake, &dir, |c| {
        let gotify = |file: &str| json!({"type": "gotify", "name": "ops-gotify", "server": "https://g.example.org", "secret_file": file});
        let cases: Vec<(Value, String)> = vec![
            (gotify(s(&missing)), format!("invalid arguments: secret_file {}: cannot be read (no such file); create it in PROXMOX_MCP_SECRETS_DIR={}, readable by this server's user only (chmod 600)", s(&missing), s(&dir.0))),
            (gotify(s(&sub)), format!("invalid arguments: secret_file {}: is a directory; name a regular file", s(&sub))),
            (gotify(s(&fifo)), format!("invalid arguments: secret_file {}: is not a regular file (a device, FIFO or socket); name a regular file", s(&fifo))),
            (gotify("relative/token"), "invalid arguments: secret_file relative/token: must be an absolute path on the host this server runs on".into()),
            (gotify(s(&shared)), format!("invalid arguments: secret_file {0}: is readable or writable by group or others (mode 644); run: chmod 600 {0}", s(&shared))),
            (gotify(s(&empty)), format!("invalid arguments: secret_file {}: is empty", s(&empty))),
            (gotify(s(&big)), format!("invalid arguments: secret_file {}: is 71680 bytes, more than a secret file may hold (64 KiB)", s(&big))),
            (gotify(s(&two)), format!("invalid arguments: secret_file {}: must hold the secret on one line (a final line break is fine)", s(&two))),
            (json!({"type": "webhook", "name": "h1", "server": "https://h.example.org", "secret_file": s(&bad_hook)}),
             format!("invalid arguments: secret_file {}: line 2 is not NAME=value (NAME: letters, digits, - and _; the value not empty)", s(&bad_hook))),
            (json!({"type": "pagerduty", "name": "pd", "server": "https://x"}),
             "invalid arguments: 'type' must be one of webhook, gotify, smtp, sendmail, got 'pagerduty'".into()),
            (json!({"type": "sendmail", "name": "m1", "mailto": ["a@example.org"], "secret_file": s(&two)}),
             "invalid arguments: 'secret_file' does not apply to a sendmail endpoint; it takes mailto, from_address".into()),
            (json!({"type": "gotify", "name": "g1", "server": "https://g.example.org"}),
             "invalid arguments: a gotify endpoint needs 'secret_file'".into()),
            (json!({"type": "smtp", "name": "m2", "server": "mail", "from_address": "a@b", "mailto": ["c@d"], "secret_file": s(&two)}),
             "invalid arguments: the smtp password in secret_file needs 'username' to log in with".into()),
            (json!({"type": "webhook", "name": "9bad", "server": "https://h"}),
             "invalid arguments: the endpoint name '9bad' must be at least 2 characters: a letter, then letters, digits, '-' and '_'".into()),
        ];
        for (args, expected) in cases {
            for dry_run in [false, true] {
                let mut args = args.clone();
                args["dry_run"] = json!(dry_run);
                assert_eq!(c.error("create_notification_endpoint", args), expected);
            }
        }
        let matcher = c.error(
            "create_notification_matcher",
            json!({"name": "m", "target": ["x1"]}),
        );
        assert!(
            matcher.contains("the matcher name 'm' must be at least 2"),
            "{matcher}"
        );
        let severity = c.error(
            "create_notification_matcher",
            json!({"name": "mm", "target": ["x1"], "match_severity": ["critical"]}),
        );
        assert_eq!(severity, "invalid arguments: 'match_severity' items must be info, notice, warning, error, unknown, got 'critical'");
    });
    fake.assert_untouched();
}

/// Every secret the files below hold, and their base64 forms as PVE gets them.
const SECRETS: &[&str] = &[
    "Gtk-Leak-Check-4f1e",
    "Smtp-Leak-Check-9c2d",
    "Hook-Leak-Check-7b3a",
    "SG9vay1MZWFrLUNoZWNrLTdiM2E=",
];

#[test]
fn no_byte_of_a_secret_file_shows_in_results_errors_or_the_audit_log() {
    let dir = TempDir::new("notify-leak");
    let (_audit_dir, log) = audit_dir("notify-leak-audit");
    let token = secret_file(&dir, "g.secret", "Gtk-Leak-Check-4f1e\n", 0o600);
    let password = secret_file(&dir, "s.pass", "Smtp-Leak-Check-9c2d", 0o600);
    let hook = secret_file(&dir, "h.env", "key=Hook-Leak-Check-7b3a\n", 0o600);
    let mut fake = FakePve::new();
    fake.get(TARGETS, targets());
    // PVE refuses each, quoting what it was sent (as a parameter check might).
    fake.fail(
        "POST",
        "/cluster/notifications/endpoints/gotify",
        400,
        "token 'Gtk-Leak-Check-4f1e' is not accepted",
    );
    fake.fail(
        "POST",
        "/cluster/notifications/endpoints/smtp",
        400,
        "authentication as pve with Smtp-Leak-Check-9c2d failed",
    );
    fake.fail(
        "POST",
        "/cluster/notifications/endpoints/webhook",
        400,
        "secret 'name=key,value=SG9vay1MZWFrLUNoZWNrLTdiM2E=' rejected",
    );
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "notifications"),
        ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
        ("PROXMOX_MCP_SECRETS_DIR", s(&dir.0)),
    ];
    let calls = [
        json!({"type": "gotify", "name": "g1", "server": "https://g.example.org", "secret_file": s(&token)}),
        json!({"type": "smtp", "name": "s1", "server": "mail.example.org", "from_address": "a@example.org", "mailto": ["b@example.org"], "username": "pve", "secret_file": s(&password)}),
        json!({"type": "webhook", "name": "w1", "server": "https://w.example.org/{{ secrets.key }}", "secret_file": s(&hook)}),
    ];
    let mut shown = String::new();
    session(&fake, &settings, |c| {
        for args in &calls {
            for dry_run in [true, false] {
                let mut args = args.clone();
                args["dry_run"] = json!(dry_run);
                let result = c.call("create_notification_endpoint", args);
                assert_eq!(result["isError"], json!(!dry_run), "{result}");
                shown.push_str(&result.to_string());
            }
        }
    });
    assert!(shown.contains("(secret)"), "{shown}");
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(audit.contains("create_notification_endpoint"), "{audit}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} in a result: {shown}");
        assert!(
            !audit.contains(secret),
            "{secret} in the audit log: {audit}"
        );
    }
    // PVE did get them: the secrets went where they belong.
    let sent = fake.lines().join("\n");
    assert!(sent.contains("token=Gtk-Leak-Check-4f1e"), "{sent}");
    assert!(sent.contains("password=Smtp-Leak-Check-9c2d"), "{sent}");
}

#[test]
fn the_binary_prints_no_secret_on_stdout_or_stderr() {
    let dir = TempDir::new("notify-leak-bin");
    let token = secret_file(&dir, "g.secret", "Gtk-Leak-Check-4f1e\n", 0o600);
    let mut fake = FakePve::new();
    fake.get(TARGETS, targets());
    fake.fail(
        "POST",
        "/cluster/notifications/endpoints/gotify",
        400,
        "token 'Gtk-Leak-Check-4f1e' is not accepted",
    );
    let args = json!({"type": "gotify", "name": "g1", "server": "https://g.example.org", "secret_file": s(&token)});
    for dry_run in [true, false] {
        let mut args = args.clone();
        args["dry_run"] = json!(dry_run);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
        cmd.env_clear()
            .env("PROXMOX_HOST", fake.url())
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_TOKEN_NAME", "mcp")
            .env("PROXMOX_TOKEN_VALUE", TOKEN)
            .env("PROXMOX_MCP_ACCESS", "full")
            .env("PROXMOX_MCP_TOOLS", "notifications")
            .env("PROXMOX_MCP_SECRETS_DIR", &dir.0)
            .env("PROXMOX_MCP_LOG", "debug")
            .args(["call", "create_notification_endpoint", "--json"])
            .arg(args.to_string());
        let out = run(cmd, Duration::from_secs(20));
        assert_eq!(
            out.status.code(),
            Some(if dry_run { 0 } else { 1 }),
            "{}",
            out.stderr
        );
        if dry_run {
            assert!(out.stdout.contains("(from "), "{}", out.stdout);
        } else {
            assert!(
                out.stderr.contains("token '(secret)' is not accepted"),
                "{}",
                out.stderr
            );
        }
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains("Gtk-Leak-Check-4f1e"), "{text}");
        }
    }
    // The dry run sent nothing; the real call sent its one POST.
    assert_eq!(fake.writes().len(), 1, "{:?}", fake.writes());
}
