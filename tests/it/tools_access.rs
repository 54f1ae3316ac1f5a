//! Users and permissions against the mocked PVE: users, groups, roles, ACL grants and API tokens.
//! Each test shows the requests PVE received and what the MCP client read; the refusals send
//! nothing; a new token's secret lands in a 0600 file and nowhere else.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{session, texts, Client, FakePve, TempDir};

/// The secret the mocked PVE gives a new token; it must show up only in the secret's file.
const SECRET: &str = "9d1c4b7e-2a6f-4e85-b3d0-71c5a8e2f4b9";

/// Access admin allowed, every toolset loaded, no secrets directory.
const ADMIN: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "full"),
    ("PROXMOX_MCP_TOOLS", "all"),
    ("PROXMOX_MCP_ALLOW_ACCESS_ADMIN", "true"),
];

/// A secrets directory only its owner may write to.
fn secrets_dir(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// `ADMIN` plus `PROXMOX_MCP_SECRETS_DIR=dir`.
fn with_dir(fake: &FakePve, dir: &Path, f: impl FnOnce(&mut Client)) {
    let dir = dir.to_str().unwrap();
    let mut settings = ADMIN.to_vec();
    settings.push(("PROXMOX_MCP_SECRETS_DIR", dir));
    session(fake, &settings, f)
}

fn admin(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    session(fake, ADMIN, f)
}

#[rustfmt::skip]
fn users() -> Value {
    json!([
        {"userid": "root@pam", "enable": 1, "expire": 0, "groups": "admins", "realm-type": "pam"},
        {"userid": "alice@pve", "enable": 1, "expire": 0, "groups": "ops", "email": "alice@example.com", "keys": "x", "realm-type": "pve"},
    ])
}

#[rustfmt::skip]
fn groups() -> Value {
    json!([
        {"groupid": "ops", "users": "alice@pve", "comment": "operators"},
        {"groupid": "admins", "users": "root@pam,bob@pve"},
    ])
}

// ---------------------------------------------------------------------------------------------
// Transcripts.

#[test]
fn create_update_and_delete_a_user() {
    let mut fake = FakePve::new();
    fake.post("/access/users", Value::Null)
        .ok("PUT", "/access/users/alice@pve", Value::Null)
        .ok("DELETE", "/access/users/alice@pve", Value::Null);
    admin(&fake, |c| {
        let created = c.ok(
            "create_user",
            json!({"userid": "alice@pve", "groups": ["ops", "dev"], "email": "alice@example.com",
                   "firstname": "Alice", "expire": 1893456000, "enable": true, "comment": "on call"}),
        );
        assert_eq!(created, json!({"data": null}));
        let updated = c.ok(
            "update_user",
            json!({"userid": "alice@pve", "enable": false, "groups": ["ops"]}),
        );
        assert_eq!(updated, json!({"data": null}));
        assert_eq!(
            c.ok("delete_user", json!({"userid": "alice@pve"})),
            json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /access/users userid=alice%40pve&enable=1&expire=1893456000&groups=ops%2Cdev&email=alice%40example.com&firstname=Alice&comment=on%20call",
            "PUT /access/users/alice@pve enable=0&groups=ops",
            "DELETE /access/users/alice@pve",
        ]
    );
}

#[test]
fn groups_and_roles_are_listed_created_and_deleted() {
    let mut fake = FakePve::new();
    fake.get("/access/groups", groups())
        .get("/access/users", users())
        .get(
            "/access/roles",
            json!([
                {"roleid": "PVEVMUser", "privs": "VM.Audit,VM.PowerMgmt", "special": 1},
                {"roleid": "Backup", "privs": "VM.Backup", "special": 0},
            ]),
        )
        .post("/access/groups", Value::Null)
        .ok("DELETE", "/access/groups/ops", Value::Null);
    admin(&fake, |c| {
        assert_eq!(
            c.ok("list_groups", json!({})),
            json!({"data": [
                {"groupid": "admins", "users": "root@pam,bob@pve"},
                {"groupid": "ops", "users": "alice@pve", "comment": "operators"},
            ], "total": 2, "limit": 100, "offset": 0})
        );
        let roles = c.ok("list_roles", json!({"limit": 1}));
        assert_eq!(
            roles["data"],
            json!([{"roleid": "Backup", "privs": "VM.Backup", "special": 0}])
        );
        assert_eq!(roles["total"], 2);
        let made = c.ok(
            "create_group",
            json!({"groupid": "dev", "comment": "developers"}),
        );
        assert_eq!(made, json!({"data": null}));
        assert_eq!(
            c.ok("delete_group", json!({"groupid": "ops"})),
            json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /access/groups",
            "GET /access/roles",
            "POST /access/groups groupid=dev&comment=developers",
            "GET /access/groups",
            "GET /access/users?full=1",
            "DELETE /access/groups/ops",
        ]
    );
}

#[test]
fn grant_and_revoke_permissions() {
    let mut fake = FakePve::new();
    fake.get("/access/users", users())
        .ok("PUT", "/access/acl", Value::Null);
    admin(&fake, |c| {
        let args = json!({"path": "/vms/100", "roles": ["PVEVMUser", "PVEAuditor"],
            "users": ["alice@pve"], "groups": ["ops"], "tokens": ["alice@pve!ci"], "propagate": false});
        assert_eq!(c.ok("grant_permission", args), json!({"data": null}));
        let revoke =
            json!({"path": "/pool/dev", "roles": ["PVEVMUser"], "tokens": ["alice@pve!ci"]});
        assert_eq!(c.ok("revoke_permission", revoke), json!({"data": null}));
    });
    assert_eq!(
        fake.lines(),
        [
            // The groups of this server's own user (PVE lists them only with full=1), read to
            // refuse a grant to one of them.
            "GET /access/users?full=1",
            "PUT /access/acl path=%2Fvms%2F100&roles=PVEVMUser%2CPVEAuditor&users=alice%40pve&groups=ops&tokens=alice%40pve%21ci&propagate=0",
            "PUT /access/acl path=%2Fpool%2Fdev&roles=PVEVMUser&tokens=alice%40pve%21ci&delete=1",
        ]
    );
}

#[test]
fn create_api_token_writes_the_secret_to_a_0600_file_and_returns_only_its_path() {
    let dir = secrets_dir("token-create");
    let mut fake = FakePve::new();
    fake.post(
        "/access/users/alice@pve/token/ci",
        json!({"full-tokenid": "alice@pve!ci", "info": {"privsep": 1, "expire": 0, "comment": "CI"}, "value": SECRET}),
    )
    .ok("DELETE", "/access/users/alice@pve/token/ci", Value::Null);
    let file = dir.path("alice@pve_ci.token");
    with_dir(&fake, &dir.0, |c| {
        let r = c.call(
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci", "privsep": true, "comment": "CI"}),
        );
        assert!(!r.to_string().contains(SECRET), "{r}");
        let out = crate::support::ok(&r);
        assert_eq!(
            out["data"],
            json!({"tokenid": "alice@pve!ci", "secret_file": file.to_str().unwrap(),
                   "privsep": 1, "expire": 0, "comment": "CI"})
        );
        assert!(out["hint"]
            .as_str()
            .unwrap()
            .contains("PROXMOX_TOKEN_VALUE_FILE"));
        let deleted = c.ok(
            "delete_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
        );
        assert_eq!(deleted, json!({"data": null}));
    });
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{SECRET}\n")
    );
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&file), 0o600);
    assert_eq!(
        fake.lines(),
        [
            "POST /access/users/alice@pve/token/ci privsep=1&comment=CI",
            "DELETE /access/users/alice@pve/token/ci",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Dry runs.

#[test]
fn every_write_dry_run_shows_the_request_and_the_current_state() {
    let dir = secrets_dir("token-dry");
    let mut fake = FakePve::new();
    fake.get("/access/users", users())
        .get("/access/groups", groups())
        .get(
            "/access/acl",
            json!([
                {"path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser", "propagate": 1},
                {"path": "/", "type": "group", "ugid": "admins", "roleid": "Administrator", "propagate": 1},
            ]),
        )
        .get(
            "/access/users/alice@pve/token",
            json!([{"tokenid": "ci", "privsep": 1, "expire": 0}]),
        );
    let alice = json!({"userid": "alice@pve", "enable": 1, "expire": 0, "groups": "ops", "email": "alice@example.com"});
    let on_vm = json!({"path": "/vms/100", "entries": [{"path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser", "propagate": 1}]});
    let cases = [
        (
            "create_user",
            json!({"userid": "carol@pve", "enable": true}),
            json!({"method": "POST", "path": "/access/users", "params": {"userid": "carol@pve", "enable": "1"}}),
            json!({"existing": null}),
        ),
        (
            "update_user",
            json!({"userid": "alice@pve", "email": "a@example.org"}),
            json!({"method": "PUT", "path": "/access/users/alice@pve", "params": {"email": "a@example.org"}}),
            alice.clone(),
        ),
        (
            "delete_user",
            json!({"userid": "alice@pve"}),
            json!({"method": "DELETE", "path": "/access/users/alice@pve", "params": {}}),
            alice,
        ),
        (
            "create_group",
            json!({"groupid": "ops"}),
            json!({"method": "POST", "path": "/access/groups", "params": {"groupid": "ops"}}),
            json!({"existing": {"groupid": "ops", "users": "alice@pve", "comment": "operators"}}),
        ),
        (
            "delete_group",
            json!({"groupid": "ops"}),
            json!({"method": "DELETE", "path": "/access/groups/ops", "params": {}}),
            json!({"groupid": "ops", "users": "alice@pve", "comment": "operators"}),
        ),
        (
            "grant_permission",
            json!({"path": "/vms/100", "roles": ["PVEAuditor"], "users": ["alice@pve"]}),
            json!({"method": "PUT", "path": "/access/acl", "params": {"path": "/vms/100", "roles": "PVEAuditor", "users": "alice@pve"}}),
            on_vm.clone(),
        ),
        (
            "revoke_permission",
            json!({"path": "/vms/100", "roles": ["PVEVMUser"], "users": ["alice@pve"]}),
            json!({"method": "PUT", "path": "/access/acl", "params": {"path": "/vms/100", "roles": "PVEVMUser", "users": "alice@pve", "delete": "1"}}),
            on_vm,
        ),
        (
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "deploy", "privsep": false, "expire": 1893456000}),
            json!({"method": "POST", "path": "/access/users/alice@pve/token/deploy", "params": {"privsep": "0", "expire": "1893456000"}}),
            json!({"tokens": [{"tokenid": "ci", "privsep": 1, "expire": 0}],
                "secret_file": dir.path("alice@pve_deploy.token").to_str().unwrap(), "secret_file_exists": false}),
        ),
        (
            "delete_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
            json!({"method": "DELETE", "path": "/access/users/alice@pve/token/ci", "params": {}}),
            json!({"tokenid": "ci", "privsep": 1, "expire": 0}),
        ),
    ];
    with_dir(&fake, &dir.0, |c| {
        for (tool, mut args, request, target) in cases {
            args["dry_run"] = json!(true);
            let out = c.ok(tool, args);
            assert_eq!(
                out,
                json!({"data": null, "dry_run": true, "request": request, "target": target}),
                "{tool}"
            );
        }
    });
    fake.assert_no_writes();
    assert!(!dir.path("alice@pve_deploy.token").exists());
}

// ---------------------------------------------------------------------------------------------
// Refusals.

const WRITES: [&str; 9] = [
    "create_user",
    "update_user",
    "delete_user",
    "create_group",
    "delete_group",
    "grant_permission",
    "revoke_permission",
    "create_api_token",
    "delete_api_token",
];

#[test]
fn without_the_switch_the_writes_are_neither_listed_nor_run() {
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_SECRETS_DIR", "/tmp"),
    ];
    session(&fake, &settings, |c| {
        let names = c.tool_names();
        for read in ["list_groups", "list_roles", "list_users", "list_acl"] {
            assert!(names.contains(&read), "{read}");
        }
        for write in WRITES {
            assert!(!names.contains(&write), "{write}");
        }
        let refused = c.error("delete_user", json!({"userid": "alice@pve"}));
        assert_eq!(
            refused,
            "delete_user changes who may do what in the cluster (users, groups, API tokens, permissions) and is off unless PROXMOX_MCP_ALLOW_ACCESS_ADMIN=true is set, besides PROXMOX_MCP_ACCESS=full"
        );
    });
    // At operate the switch alone does not do it: these writes need full.
    let operate = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_ALLOW_ACCESS_ADMIN", "true"),
    ];
    session(&fake, &operate, |c| {
        let names = c.tool_names();
        assert!(WRITES.iter().all(|w| !names.contains(w)), "{names:?}");
        let refused = c.error(
            "grant_permission",
            json!({"path": "/", "roles": ["PVEAuditor"], "users": ["alice@pve"]}),
        );
        assert!(refused.contains("needs access level full"), "{refused}");
    });
    fake.assert_untouched();
}

#[test]
fn create_api_token_is_offered_only_with_a_secrets_directory() {
    let fake = FakePve::new();
    admin(&fake, |c| {
        let names = c.tool_names();
        assert!(!names.contains(&"create_api_token"));
        assert!(names.contains(&"delete_api_token") && names.contains(&"create_user"));
        let refused = c.error(
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
        );
        assert_eq!(
            refused,
            "create_api_token receives a secret from PVE, which this server only writes to a file, and is off unless PROXMOX_MCP_SECRETS_DIR names a directory for it (existing, writable only by its owner)"
        );
    });
    fake.assert_untouched();
}

#[test]
fn an_unusable_secrets_directory_refuses_the_call_before_pve_is_asked() {
    let dir = secrets_dir("token-unsafe");
    let file = dir.path("plain-file");
    std::fs::write(&file, "").unwrap();
    let missing = dir.path("missing");
    let fake = FakePve::new();
    let args = json!({"userid": "alice@pve", "tokenid": "ci"});
    let prefix = "POST /access/users/alice@pve/token/ci: refused, nothing was sent: PROXMOX_MCP_SECRETS_DIR=";
    with_dir(&fake, &missing, |c| {
        let e = c.error("create_api_token", args.clone());
        assert!(
            e.starts_with(prefix)
                && e.contains("No such file or directory")
                && e.contains("mkdir -m 700"),
            "{e}"
        );
    });
    with_dir(&fake, &file, |c| {
        let e = c.error("create_api_token", args.clone());
        assert_eq!(e, format!("{prefix}{} is not a directory", file.display()));
    });
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = dir.path("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o770)).unwrap();
        with_dir(&fake, &shared, |c| {
            let e = c.error("create_api_token", args.clone());
            let s = shared.display();
            assert_eq!(e, format!("{prefix}{s} is writable by group or others (mode 770), so a secret written there could be swapped or read; run: chmod 700 {s}"));
        });
    }
    fake.assert_untouched();
}

#[test]
fn the_servers_own_user_and_token_are_never_changed() {
    let dir = secrets_dir("token-own");
    let mut fake = FakePve::new();
    fake.get("/access/users", users())
        .get("/access/groups", groups());
    let said = |what: &str| {
        format!("refused, nothing was sent: {what} this server's own user (PROXMOX_USER); no tool changes the account, API tokens, permissions or groups this server logs in with. Change them in PVE itself")
    };
    with_dir(&fake, &dir.0, |c| {
        let cases = [
            (
                "update_user",
                json!({"userid": "root@pam", "enable": false}),
                "PUT /access/users/root@pam",
                "it would change",
            ),
            (
                "update_user",
                json!({"userid": "ROOT@pam", "email": "x@example.com"}),
                "PUT /access/users/ROOT@pam",
                "it would change",
            ),
            (
                "delete_user",
                json!({"userid": "root@pam"}),
                "DELETE /access/users/root@pam",
                "it would delete",
            ),
            (
                "create_api_token",
                json!({"userid": "root@pam", "tokenid": "more"}),
                "POST /access/users/root@pam/token/more",
                "it would add a token to",
            ),
            (
                "delete_api_token",
                json!({"userid": "root@pam", "tokenid": "mcp"}),
                "DELETE /access/users/root@pam/token/mcp",
                "it would delete a token of",
            ),
            (
                "grant_permission",
                json!({"path": "/", "roles": ["Administrator"], "users": ["alice@pve", "root@pam"]}),
                "PUT /access/acl",
                "it would change the permissions of",
            ),
            (
                "grant_permission",
                json!({"path": "/", "roles": ["Administrator"], "tokens": ["root@pam!mcp"]}),
                "PUT /access/acl",
                "it would change the permissions of",
            ),
            (
                "revoke_permission",
                json!({"path": "/", "roles": ["Administrator"], "tokens": ["root@pam!other"]}),
                "PUT /access/acl",
                "it would change the permissions of",
            ),
            (
                "grant_permission",
                json!({"path": "/", "roles": ["Administrator"], "groups": ["admins"]}),
                "PUT /access/acl",
                "a group named is one of the groups of",
            ),
            (
                "revoke_permission",
                json!({"path": "/", "roles": ["Administrator"], "groups": ["ops", "admins"]}),
                "PUT /access/acl",
                "a group named is one of the groups of",
            ),
            (
                "delete_group",
                json!({"groupid": "admins"}),
                "DELETE /access/groups/admins",
                "the group holds",
            ),
        ];
        for (tool, mut args, at, what) in cases {
            for dry_run in [false, true] {
                args["dry_run"] = json!(dry_run);
                let e = c.error(tool, args.clone());
                assert_eq!(e, format!("{at}: {}", said(what)), "{tool} {args}");
            }
        }
    });
    fake.assert_no_writes();
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn a_password_and_malformed_ids_are_refused_before_anything_is_sent() {
    let fake = FakePve::new();
    admin(&fake, |c| {
        let e = c.error(
            "create_user",
            json!({"userid": "carol@pve", "password": "hunter2hunter2"}),
        );
        assert_eq!(e, "invalid arguments: 'password': create_user never takes a password (a model's context is no place for one); set passwords in PVE itself, e.g. pveum passwd USER");
        let e = c.error(
            "update_user",
            json!({"userid": "alice@pve", "password": "x"}),
        );
        assert!(
            e.starts_with("invalid arguments: 'password': update_user never takes a password"),
            "{e}"
        );
        let cases = [
            ("create_user", json!({"userid": "carol"}), "'userid' must be a user such as alice@pve (name@realm), got 'carol'"),
            ("delete_user", json!({"userid": "a b@pve"}), "'userid' must be a user such as alice@pve (name@realm), got 'a b@pve'"),
            ("update_user", json!({"userid": "alice@pve"}), "nothing to change: give enable, expire, groups, email, firstname, lastname or comment"),
            ("update_user", json!({"userid": "alice@pve", "groups": ["ops", "a,b"]}), "'groups' must hold only a group id (letters, digits, '.', '-', '_'), got 'a,b'"),
            ("create_group", json!({"groupid": "o/ps"}), "'groupid' must be a group id (letters, digits, '.', '-', '_'), got 'o/ps'"),
            ("delete_api_token", json!({"userid": "alice@pve", "tokenid": "1x"}), "'tokenid' must be a token id (a letter, then letters, digits, '.', '-', '_'; 2 or more), got '1x'"),
            ("grant_permission", json!({"path": "/etc/pve", "roles": ["PVEAuditor"], "users": ["alice@pve"]}), "'path' must be an ACL path: / or /access, /nodes, /pool, /sdn, /storage, /vms or /mapping and what is below (e.g. /vms/100), got '/etc/pve'"),
            ("grant_permission", json!({"path": "/vms", "roles": ["PVE Auditor"], "users": ["alice@pve"]}), "'roles' must hold only role ids (letters, digits, '.', '-', '_'), got 'PVE Auditor'"),
            ("grant_permission", json!({"path": "/vms", "roles": ["PVEAuditor"]}), "name whom: give users, groups or tokens (or several)"),
            ("revoke_permission", json!({"path": "/vms", "roles": ["PVEAuditor"], "tokens": ["alice@pve"]}), "'tokens' must hold only tokens such as alice@pve!backup, got 'alice@pve'"),
        ];
        for (tool, args, message) in cases {
            assert_eq!(
                c.error(tool, args),
                format!("invalid arguments: {message}"),
                "{tool}"
            );
        }
    });
    fake.assert_untouched();
}

#[test]
fn a_token_file_already_there_refuses_the_call_before_pve_is_asked() {
    let dir = secrets_dir("token-taken");
    let taken = dir.path("alice@pve_ci.token");
    std::fs::write(&taken, "old").unwrap();
    let fake = FakePve::new();
    with_dir(&fake, &dir.0, |c| {
        let e = c.error(
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
        );
        assert!(e.starts_with(&format!("POST /access/users/alice@pve/token/ci: refused, nothing was sent: cannot create {} for the secret (", taken.display())), "{e}");
        assert!(
            e.ends_with("remove the old file or pick another tokenid"),
            "{e}"
        );
    });
    fake.assert_untouched();
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "old");
}

#[test]
fn a_token_pve_made_without_a_secret_is_deleted_again_and_the_error_names_it() {
    let dir = secrets_dir("token-nosecret");
    let mut fake = FakePve::new();
    fake.post(
        "/access/users/alice@pve/token/ci",
        json!({"full-tokenid": "alice@pve!ci", "info": {}}),
    )
    .ok("DELETE", "/access/users/alice@pve/token/ci", Value::Null);
    with_dir(&fake, &dir.0, |c| {
        let e = c.error(
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
        );
        assert_eq!(e, "POST /access/users/alice@pve/token/ci: PVE created the API token alice@pve!ci, but PVE's answer held no secret; the token was deleted again (DELETE /access/users/alice@pve/token/ci)");
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /access/users/alice@pve/token/ci",
            "DELETE /access/users/alice@pve/token/ci"
        ]
    );
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        0,
        "the empty file is removed"
    );
}

#[test]
fn a_refused_token_leaves_no_file() {
    let dir = secrets_dir("token-pve-refuses");
    let mut fake = FakePve::new();
    fake.fail(
        "POST",
        "/access/users/alice@pve/token/ci",
        400,
        "Token already exists.",
    );
    with_dir(&fake, &dir.0, |c| {
        let e = c.error(
            "create_api_token",
            json!({"userid": "alice@pve", "tokenid": "ci"}),
        );
        assert_eq!(
            e,
            "POST /access/users/alice@pve/token/ci: Token already exists."
        );
    });
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

/// The real binary, debug logging and the audit log on: the secret is in its file only, not on
/// stdout, stderr or in the audit log.
#[test]
fn the_secret_reaches_no_output_log_or_audit_line() {
    let dir = secrets_dir("token-binary");
    let audit = dir.path("audit.jsonl");
    let secrets = dir.path("secrets");
    std::fs::create_dir(&secrets).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut fake = FakePve::new();
    fake.post(
        "/access/users/alice@pve/token/ci",
        json!({"full-tokenid": "alice@pve!ci", "info": {"privsep": 0}, "value": SECRET}),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
    cmd.env_clear()
        .env("PROXMOX_HOST", fake.url())
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_TOKEN_NAME", "mcp")
        .env("PROXMOX_TOKEN_VALUE", crate::support::TOKEN)
        .env(
            "PROXMOX_CA_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem"),
        )
        .env("PROXMOX_MCP_LOG", "debug")
        .env("PROXMOX_MCP_AUDIT_LOG", &audit)
        .env("PROXMOX_MCP_SECRETS_DIR", &secrets)
        .args([
            "--access",
            "full",
            "--tools",
            "access",
            "--allow-access-admin",
            "true",
        ])
        .args([
            "call",
            "create_api_token",
            "userid=alice@pve",
            "tokenid=ci",
            "privsep=false",
        ]);
    let out = crate::support::run(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let printed: Value = serde_json::from_str(out.stdout.trim_end()).expect("one JSON line");
    let file = secrets.join("alice@pve_ci.token");
    assert_eq!(printed["data"]["secret_file"], file.to_str().unwrap());
    assert_eq!(printed["data"]["privsep"], 0);
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(
        texts(
            &Value::Array(
                log.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect()
            ),
            "phase"
        ),
        ["intent", "outcome"]
    );
    assert!(
        out.stderr
            .contains("POST /access/users/alice@pve/token/ci -> 200"),
        "{}",
        out.stderr
    );
    for (what, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("audit log", &log),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret is in the {what}: {text}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{SECRET}\n")
    );
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&file), 0o600);
    assert_eq!(
        fake.lines(),
        ["POST /access/users/alice@pve/token/ci privsep=0"]
    );
}

/// `check` names the switches that are on and the secrets directory, and fails when that
/// directory cannot be used.
#[test]
fn check_shows_the_switch_and_the_secrets_directory() {
    let dir = secrets_dir("token-check");
    let shared = dir.path("shared");
    std::fs::create_dir(&shared).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut fake = FakePve::new();
    fake.get("/version", json!({"version": "9.1.2"}))
        .get("/cluster/status", json!([{"type": "node", "name": "pve1"}]))
        .get("/access/permissions", crate::support::all_privileges());
    let check = |secrets: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
        cmd.env_clear()
            .env("PROXMOX_HOST", fake.url())
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_TOKEN_NAME", "mcp")
            .env("PROXMOX_TOKEN_VALUE", crate::support::TOKEN)
            .env(
                "PROXMOX_CA_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem"),
            )
            .env("PROXMOX_MCP_SECRETS_DIR", secrets)
            .args([
                "--access",
                "full",
                "--tools",
                "access",
                "--allow-access-admin",
                "true",
                "check",
            ]);
        crate::support::run(cmd, Duration::from_secs(30))
    };
    let good = check(&dir.0);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}{}",
        good.stdout,
        good.stderr
    );
    let lines: Vec<&str> = good.stdout.lines().collect();
    assert!(
        lines.contains(&"✓ switches: on: PROXMOX_MCP_ALLOW_ACCESS_ADMIN"),
        "{}",
        good.stdout
    );
    let shown = format!(
        "✓ secrets directory: {} (new API token secrets go there)",
        dir.0.display()
    );
    assert!(lines.contains(&shown.as_str()), "{}", good.stdout);
    assert!(
        lines.contains(&"✓ tools: 15 of 15 tools at access full can be used"),
        "{}",
        good.stdout
    );
    #[cfg(unix)]
    {
        let bad = check(&shared);
        assert_eq!(bad.status.code(), Some(1), "{}{}", bad.stdout, bad.stderr);
        // Long lines are wrapped with continuation lines indented by two spaces.
        let bad = bad.stdout.replace("\n  ", " ");
        let said = format!("✗ secrets directory: PROXMOX_MCP_SECRETS_DIR={} is writable by group or others (mode 777)", shared.display());
        assert!(bad.contains(&said), "{bad}");
    }
}
