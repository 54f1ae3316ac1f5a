//! Attacks of a prompt-injected assistant at the access level the operator chose, and what stops
//! them: the audit log (written before a change, failing closed, rotated, redacted) and the
//! binding of every data-losing call to the guest it names (`confirm_name`, firewall digests,
//! protected guests' backups). Each test sends the attack and checks the refusal the user reads
//! and that PVE received no write.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proxmox_mcp_server::policy::Policy;
use serde_json::{json, Value};

use crate::support::{
    assert_starts, audit_dir, config, error_text, guest, mock_task, mode, ok, session, FakePve,
    TempDir, STATUS, TOKEN, UPID,
};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("qemu/103", "vault", "pve1", "running", json!({"tags": "prod"})),
        guest("lxc/200", "dns", "pve1", "running", json!({})),
    ])
}

/// The audit log's lines, each parsed.
fn entries(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn phases(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["phase"].as_str().unwrap_or("?"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A. The audit log.

#[test]
fn a_log_that_cannot_be_written_refuses_the_change() {
    let mut fake = FakePve::new();
    // Were the start sent, PVE would take it.
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    fake.get("/nodes", json!([{"node": "pve1", "status": "online"}]));
    mock_task(&mut fake, UPID, "OK");
    // /dev/full opens (it is not a file others could read back) but every write fails.
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_AUDIT_LOG", "/dev/full"),
    ];
    session(&fake, &settings, |c| {
        let text =
            error_text(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"}))).to_string();
        assert!(
            text.starts_with("the audit log /dev/full could not be written ("),
            "{text}"
        );
        assert!(
            text.contains("so start_vm was refused and nothing was sent to PVE"),
            "{text}"
        );
        let dry = c.call(
            "start_vm",
            json!({"vmid": 100, "node": "pve1", "dry_run": true}),
        );
        assert!(error_text(&dry).starts_with("the audit log /dev/full could not be written"));
        // Reads are not audited, so they still work.
        ok(&c.call("list_nodes", json!({})));
    });
    fake.assert_no_writes();
}

#[test]
fn intent_comes_before_the_write_and_the_upid_before_the_wait() {
    let (_dir, log) = audit_dir("audit-order");
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    mock_task(&mut fake, UPID, "start failed: QEMU exited with code 1");
    fake.task_log(&["TASK ERROR: start failed"]);
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
    ];
    session(&fake, &settings, |c| {
        error_text(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"})));
    });
    let lines = entries(&log);
    assert_eq!(
        phases(&lines),
        ["intent", "started", "outcome"],
        "{lines:?}"
    );
    let (intent, started, outcome) = (&lines[0], &lines[1], &lines[2]);
    for l in &lines {
        assert_eq!((&l["call"], &l["tool"]), (&json!(1), &json!("start_vm")));
        assert_eq!(l["user"], "root@pam!mcp");
    }
    assert_eq!(intent["arguments"], json!({"vmid": 100, "node": "pve1"}));
    assert_eq!(intent["dry_run"], false);
    assert!(intent.get("upid").is_none() && intent.get("outcome").is_none());
    assert_eq!(started["upid"], UPID);
    assert_eq!(outcome["upid"], UPID);
    let result = outcome["outcome"].as_str().unwrap();
    assert_starts(
        result,
        "error: POST /nodes/pve1/qemu/100/status/start: task failed: start failed",
    );
}

#[test]
fn a_crash_during_the_task_wait_leaves_the_intent_and_the_upid() {
    let (_dir, log) = audit_dir("audit-crash");
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    // The task never ends while the server waits.
    fake.get(STATUS,
        json!({"upid": UPID, "status": "running", "node": "pve1", "type": "qmstart", "id": "100", "user": "root@pam!mcp", "starttime": 1732288512}),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"))
        .env_clear()
        .envs([
            ("PROXMOX_HOST", fake.url().as_str()),
            ("PROXMOX_USER", "root@pam"),
            ("PROXMOX_TOKEN_NAME", "mcp"),
            ("PROXMOX_TOKEN_VALUE", TOKEN),
            (
                "PROXMOX_CA_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem"),
            ),
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"it","version":"1"}}}}}}"#).unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("\"id\":1"), "{line}");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"start_vm","arguments":{{"vmid":100,"node":"pve1","wait_seconds":600}}}}}}"#).unwrap();
    // Wait until the server follows the task, then kill it as a crash would.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !phases(&entries(&log)).contains(&"started") {
        assert!(
            Instant::now() < deadline,
            "no started line: {:?}",
            entries(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = entries(&log);
    assert_eq!(phases(&lines), ["intent", "started"], "{lines:?}");
    assert_eq!(lines[0]["arguments"]["vmid"], 100);
    assert_eq!(lines[1]["upid"], UPID);
    assert_eq!(fake.writes(), ["POST /nodes/pve1/qemu/100/status/start"]);
}

#[test]
fn refused_calls_are_recorded_with_the_reason() {
    let (_dir, log) = audit_dir("audit-refused");
    let fake = FakePve::with_resources(resources());
    let path = log.to_str().unwrap();
    // An assistant at read-only tries a change.
    session(&fake, &[("PROXMOX_MCP_AUDIT_LOG", path)], |c| {
        error_text(&c.call("stop_vm", json!({"vmid": 100, "node": "pve1"})));
    });
    // At operate: a protected guest, and arguments that do not validate.
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_PROTECTED", "tag:prod"),
        ("PROXMOX_MCP_AUDIT_LOG", path),
    ];
    session(&fake, &settings, |c| {
        error_text(&c.call("stop_vm", json!({"vmid": 103})));
        error_text(&c.call("stop_vm", json!({"vmid": 99, "node": "pve1"})));
        // A read with bad arguments is not a change: not logged.
        error_text(&c.call("get_vm_status", json!({"vmid": 99})));
    });
    fake.assert_no_writes();
    let lines = entries(&log);
    assert_eq!(phases(&lines), ["refused"; 3], "{lines:?}");
    assert!(lines.iter().all(|l| l["tool"] == "stop_vm"));
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].starts_with("refused: stop_vm changes the cluster and needs access level operate, but this server runs with PROXMOX_MCP_ACCESS=read-only"),
        "{}",
        reasons[0]
    );
    assert_eq!(
        reasons[1],
        "refused: guest 103 is protected on this server (PROXMOX_MCP_PROTECTED names tag:prod); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"
    );
    assert_eq!(
        reasons[2],
        "refused: invalid arguments: 'vmid' must be between 100 and 999999999, got 99"
    );
    assert_eq!(lines[1]["arguments"], json!({"vmid": 103}));
}

#[cfg(unix)]
#[test]
fn the_log_is_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("audit-mode");
    let fake = FakePve::new();
    let log = dir.path("new.jsonl");
    Policy::new(&config(
        &fake,
        &[("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap())],
    ))
    .unwrap();
    assert_eq!(mode(&log), 0o600, "created for the owner only");

    let shared = dir.path("shared.jsonl");
    std::fs::write(&shared, "").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Policy::new(&config(
        &fake,
        &[("PROXMOX_MCP_AUDIT_LOG", shared.to_str().unwrap())],
    ))
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!(
            "configuration: PROXMOX_MCP_AUDIT_LOG={0}: the audit log is readable or writable by group or others (mode 644); run: chmod 600 {0}",
            shared.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_rotated_log_is_opened_again() {
    let (dir, log) = audit_dir("audit-rotate");
    let rotated = dir.path("audit.jsonl.1");
    let mut fake = FakePve::new();
    fake.status("pve1/qemu/100", json!({"status": "stopped", "name": "web"}));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
    ];
    let dry = json!({"vmid": 100, "node": "pve1", "dry_run": true});
    session(&fake, &settings, |c| {
        ok(&c.call("start_vm", dry.clone()));
        // logrotate renames the file; the next call writes to a new one at the path.
        std::fs::rename(&log, &rotated).unwrap();
        ok(&c.call("reboot_vm", dry.clone()));
        assert_eq!(mode(&log), 0o600);
        // ... or deletes it.
        std::fs::remove_file(&log).unwrap();
        ok(&c.call("stop_vm", dry.clone()));
    });
    let tools = |p: &Path| -> Vec<String> {
        entries(p)
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["tool"].as_str().unwrap(),
                    e["phase"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(tools(&rotated), ["start_vm intent", "start_vm outcome"]);
    assert_eq!(tools(&log), ["stop_vm intent", "stop_vm outcome"]);
    fake.assert_no_writes();
}

#[test]
fn credentials_in_arguments_are_redacted() {
    let (_dir, log) = audit_dir("audit-redact");
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/storage/local/status",
        json!({"type": "dir", "active": 1, "content": "iso,vztmpl"}),
    );
    fake.config("pve1/qemu/100", json!({"name": "web", "agent": "1"}));
    fake.status("pve1/qemu/100", json!({"status": "running", "name": "web"}));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_ALLOW_EXEC", "true"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
    ];
    session(&fake, &settings, |c| {
        ok(&c.call(
            "download_to_storage",
            json!({"storage": "local", "node": "pve1", "url": "https://mirror:Url-Pw-1@example.org/debian.iso", "dry_run": true}),
        ));
        ok(&c.call(
            "exec_in_vm",
            json!({
                "vmid": 100, "node": "pve1", "dry_run": true,
                "command": ["mysql", "--password=Argv-Pw-2", "--password", "Argv-Pw-3", "password=Argv-Pw-4", "-u", "root"],
                "input_data": "Stdin-Pw-5",
            }),
        ));
    });
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        "Url-Pw-1",
        "Argv-Pw-2",
        "Argv-Pw-3",
        "Argv-Pw-4",
        "Stdin-Pw-5",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log: {text}");
    }
    let lines = entries(&log);
    assert_eq!(
        lines[0]["arguments"]["url"],
        "https://<redacted>@example.org/debian.iso"
    );
    assert_eq!(
        lines[2]["arguments"]["command"],
        json!([
            "mysql",
            "--password=<redacted>",
            "--password",
            "<redacted>",
            "password=<redacted>",
            "-u",
            "root"
        ])
    );
    assert_eq!(lines[2]["arguments"]["input_data"], "<redacted>");
    fake.assert_no_writes();
}

// ---------------------------------------------------------------------------------------------
// B. Every loss is bound to its target.

/// A qemu backup of guest 103 on `local`, and the same as one request path segment.
const VAULT_BACKUP: &str = "local:backup/vzdump-qemu-103-2025_01_31-02_00_00.vma.zst";
const VAULT_BACKUP_PATH: &str = "local:backup%2Fvzdump-qemu-103-2025_01_31-02_00_00.vma.zst";

#[test]
fn rollbacks_and_snapshot_deletion_need_the_guests_name() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.get("/nodes/pve1/lxc/200/config", json!({"hostname": "dns"}));
    let snaps = json!([{"name": "first", "snaptime": 1}, {"name": "current"}]);
    fake.get("/nodes/pve1/qemu/100/snapshot", snaps.clone());
    fake.get("/nodes/pve1/lxc/200/snapshot", snaps);
    // Were they sent, PVE would take them.
    fake.post("/nodes/pve1/qemu/100/snapshot/first/rollback", json!(UPID));
    fake.post("/nodes/pve1/lxc/200/snapshot/first/rollback", json!(UPID));
    fake.ok("DELETE", "/nodes/pve1/qemu/100/snapshot/first", json!(UPID));
    fake.ok("DELETE", "/nodes/pve1/lxc/200/snapshot/first", json!(UPID));
    session(
        &fake,
        &[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "all")],
        |c| {
            // The assistant means guest 200 (or was told 100 by an injected text) but names the other.
            for (tool, vmid, wrong, noun, name, status_tool, unchanged) in [
                (
                    "rollback_vm_snapshot",
                    100,
                    "dns",
                    "VM",
                    "web",
                    "get_vm_status",
                    "nothing was rolled back",
                ),
                (
                    "delete_vm_snapshot",
                    100,
                    "dns",
                    "VM",
                    "web",
                    "get_vm_status",
                    "nothing was deleted",
                ),
                (
                    "rollback_container_snapshot",
                    200,
                    "web",
                    "container",
                    "dns",
                    "get_container_status",
                    "nothing was rolled back",
                ),
                (
                    "delete_container_snapshot",
                    200,
                    "web",
                    "container",
                    "dns",
                    "get_container_status",
                    "nothing was deleted",
                ),
            ] {
                for dry_run in [false, true] {
                    let r = c.call(
                    tool,
                    json!({"vmid": vmid, "snapname": "first", "confirm_name": wrong, "dry_run": dry_run}),
                );
                    assert_eq!(
                    error_text(&r),
                    format!("confirm_name '{wrong}' is not the name of {noun} {vmid}, which is '{name}'; {unchanged}. Check the VMID ({status_tool} shows its name) and pass its current name"),
                    "{tool}"
                );
                }
                let r = c.call(tool, json!({"vmid": vmid, "snapname": "first"}));
                assert!(
                    error_text(&r)
                        .starts_with("invalid arguments: missing required argument 'confirm_name'"),
                    "{tool}"
                );
            }
        },
    );
    fake.assert_no_writes();
}

#[test]
fn delete_backup_needs_the_name_of_the_backups_guest() {
    let mut fake = FakePve::new();
    let gone = "local:backup/vzdump-lxc-250-2025_01_31-02_00_00.tar.zst";
    let gone_path = "local:backup%2Fvzdump-lxc-250-2025_01_31-02_00_00.tar.zst";
    fake.get("/cluster/resources", resources());
    for path in [VAULT_BACKUP_PATH, gone_path] {
        let content = format!("/nodes/pve1/storage/local/content/{path}");
        fake.get(&content, json!({"format": "vma.zst", "size": 1000}));
        fake.ok("DELETE", &content, json!(UPID));
    }
    session(
        &fake,
        &[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "all")],
        |c| {
            let r = c.call(
                "delete_backup",
                json!({"volume": VAULT_BACKUP, "node": "pve1", "confirm_name": "web"}),
            );
            assert_eq!(
            error_text(&r),
            "confirm_name 'web' is not the name of VM 103, which is 'vault'; nothing was deleted. Check the VMID (get_vm_status shows its name) and pass its current name"
        );
            // The guest is gone: its VMID stands for its name.
            let r = c.call(
                "delete_backup",
                json!({"volume": gone, "node": "pve1", "confirm_name": "dns", "dry_run": true}),
            );
            assert_eq!(
            error_text(&r),
            format!("confirm_name 'dns' does not match: {gone} is a backup of guest 250, which is not in /cluster/resources (deleted, or the credentials lack VM.Audit on /vms/250), so confirm_name is its VMID, '250'; nothing was deleted")
        );
            let r = c.call(
                "delete_backup",
                json!({"volume": gone, "node": "pve1", "confirm_name": "250", "dry_run": true}),
            );
            assert_eq!(
                ok(&r)["request"]["path"],
                format!("/nodes/pve1/storage/local/content/{gone_path}")
            );
            // A volume that does not say whose it is cannot be bound to a guest.
            let r = c.call(
            "delete_backup",
            json!({"volume": "local:backup/renamed.vma.zst", "node": "pve1", "confirm_name": "web"}),
        );
            assert!(
            error_text(&r).starts_with("invalid arguments: cannot tell from 'volume' local:backup/renamed.vma.zst which guest it is a backup of"),
            "{r}"
        );
        },
    );
    fake.assert_no_writes();
}

#[test]
fn delete_backup_of_a_guest_whose_tags_cannot_be_read_is_refused() {
    let mut fake = FakePve::new();
    // The credentials see no guest 103 (no VM.Audit), so whether it carries tag:prod is unknown.
    fake.get(
        "/cluster/resources",
        json!([{"type": "qemu", "vmid": 100, "node": "pve1", "name": "web"}]),
    );
    let content = format!("/nodes/pve1/storage/local/content/{VAULT_BACKUP_PATH}");
    fake.get(&content, json!({"format": "vma.zst", "size": 1000}));
    fake.ok("DELETE", &content, json!(UPID));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "tag:prod"),
    ];
    session(&fake, &settings, |c| {
        let r = c.call(
            "delete_backup",
            json!({"volume": VAULT_BACKUP, "node": "pve1", "confirm_name": "103"}),
        );
        assert_eq!(
            error_text(&r),
            format!("{VAULT_BACKUP} is a backup of guest 103, and guest 103 is not in /cluster/resources, so the tags PROXMOX_MCP_PROTECTED names cannot be checked for it; grant VM.Audit on /vms/103, or change it in PVE itself; its backups are kept too")
        );
    });
    fake.assert_no_writes();
}

#[test]
fn a_protected_guests_backup_is_not_restored_to_a_new_guest() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/cluster/nextid", json!("105"));
    fake.get(
        &format!("/nodes/pve1/storage/local/content/{VAULT_BACKUP_PATH}"),
        json!({"format": "vma.zst", "size": 1000}),
    );
    fake.post("/nodes/pve1/qemu", json!(UPID));
    let pbs = "pbs:backup/vm/103/2025-01-31T02:00:00Z";
    for protected in ["103", "tag:prod"] {
        let settings = [
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "all"),
            ("PROXMOX_MCP_PROTECTED", protected),
        ];
        session(&fake, &settings, |c| {
            let why = match protected {
                "103" => "VMID 103",
                _ => "tag:prod",
            };
            for archive in [VAULT_BACKUP, pbs] {
                // To the next free VMID: a new guest, nothing overwritten.
                let r = c.call(
                    "restore_backup",
                    json!({"archive": archive, "node": "pve1"}),
                );
                assert_eq!(
                    error_text(&r),
                    format!("{archive} is a backup of guest 103, and guest 103 is protected on this server (PROXMOX_MCP_PROTECTED names {why}); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED; restoring it would copy its data to another guest, so it is refused too")
                );
            }
            let r = c.call(
                "restore_backup",
                json!({"archive": VAULT_BACKUP, "dry_run": true}),
            );
            assert!(error_text(&r).contains("restoring it would copy its data to another guest"));
        });
    }
    fake.assert_no_writes();
}

#[test]
fn delete_firewall_rule_always_sends_the_digest_it_read() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/firewall/rules",
        json!([
            {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "digest": "d1"},
            {"pos": 1, "type": "in", "action": "DROP", "digest": "d1"},
        ]),
    );
    fake.ok("DELETE", "/cluster/firewall/rules/1", Value::Null);
    // A node whose rules come without a digest (nothing binds the position to the rule read).
    fake.get(
        "/nodes/pve1/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "DROP"}]),
    );
    fake.ok("DELETE", "/nodes/pve1/firewall/rules/0", Value::Null);
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_TOOLS", "default,firewall"),
        ],
        |c| {
            let r = c.call("delete_firewall_rule", json!({"pos": 1, "dry_run": true}));
            assert_eq!(ok(&r)["request"]["params"], json!({"digest": "d1"}));
            let r = c.call("delete_firewall_rule", json!({"node": "pve1", "pos": 0}));
            assert_eq!(
            error_text(&r),
            "GET /nodes/pve1/firewall/rules: PVE returned no digest with the rules, so this server cannot make sure the rule at position 0 is still the one it read; nothing was deleted"
        );
            fake.assert_no_writes();
            // Without a digest from the caller, PVE still gets the one just read: if the rules
            // changed since, PVE refuses instead of deleting whatever is now at that position.
            ok(&c.call("delete_firewall_rule", json!({"pos": 1})));
        },
    );
    assert_eq!(
        fake.writes(),
        ["DELETE /cluster/firewall/rules/1?digest=d1"]
    );
}
