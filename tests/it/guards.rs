//! What keeps a model from changing what it should not: tool selection, protected guests, PVE's
//! protection flag, dry runs that send no write, and the audit log.

use proxmox_mcp_server::config::Config;
use proxmox_mcp_server::policy::Policy;
use serde_json::{json, Value};

use crate::support::{
    assert_starts, audit_dir, config, connected, error_text, guest, ok, session, FakePve, UPID,
};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("qemu/101", "db", "pve1", "running", json!({"tags": "Prod;db"})),
        guest("qemu/102", "test", "pve1", "stopped", json!({})),
        guest("lxc/200", "dns", "pve1", "running", json!({})),
    ])
}

#[test]
fn tool_selection_lists_and_refuses() {
    let fake = FakePve::new();
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_TOOLS", "vms,get_cluster_status"),
            ("PROXMOX_MCP_DENY_TOOLS", "stop_vm,destroy"),
        ],
        |c| {
            let names = c.tool_names();
            // The vms toolset, which holds every tool acting on VMs (their snapshots and
            // metrics too), minus what is denied, and the one tool named.
            let expected: Vec<&str> = proxmox_mcp_server::tools::TOOLS
                .iter()
                .filter(|t| {
                    (t.areas().iter().any(|a| a.name() == "vms") || t.name == "get_cluster_status")
                        && t.name != "stop_vm"
                        && t.effect.name() != "destroy"
                })
                .map(|t| t.name)
                .collect();
            assert_eq!(names, expected);
            for must in [
                "list_vms",
                "get_vm_status",
                "start_vm",
                "get_cluster_status",
                "create_vm_snapshot",
                "list_vm_snapshots",
                "get_vm_metrics",
            ] {
                assert!(names.contains(&must), "{must}");
            }
            for not in [
                "list_container_snapshots",
                "create_container_snapshot",
                "get_container_metrics",
                "rollback_vm_snapshot",
            ] {
                assert!(!names.contains(&not), "{not}");
            }
            assert!(!names.contains(&"stop_vm") && !names.contains(&"list_nodes"));
            assert_eq!(
                error_text(&c.call("stop_vm", json!({"vmid": 100}))),
                "stop_vm is switched off on this server (PROXMOX_MCP_DENY_TOOLS names stop_vm)"
            );
            assert_eq!(
        error_text(&c.call("list_nodes", json!({}))),
        "list_nodes is not loaded on this server: it is in the toolset nodes, and PROXMOX_MCP_TOOLS=vms,get_cluster_status does not list it; \
         to use it, restart the server with PROXMOX_MCP_TOOLS=vms,get_cluster_status,nodes (or all, or add the tool's name)"
    );
            fake.assert_untouched();
        },
    );
}

#[test]
fn unknown_tool_names_are_a_configuration_error() {
    let fake = FakePve::new();
    let deny = [("PROXMOX_MCP_DENY_TOOLS", "delete_everything")];
    // The settings parse; the catalogue checks the names they give.
    let c = config(&fake, &deny);
    let checked = proxmox_mcp_server::tools::check_selection(&c.tools, &c.deny_tools);
    let err = checked.unwrap_err().to_string();
    assert_starts(
        &err,
        "configuration: PROXMOX_MCP_DENY_TOOLS: 'delete_everything' is neither a tool nor a group",
    );
}

#[test]
fn protected_guests_cannot_be_changed() {
    let mut fake = FakePve::with_resources(resources());
    fake.status("pve1/qemu/102", json!({"status": "stopped"}));
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_PROTECTED", "100, 200-299, tag:prod"),
        ],
        |c| {
            let text = c.error("start_vm", json!({"vmid": 100, "dry_run": true}));
            assert_eq!(text, "guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 100); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED");
            assert!(
                error_text(&c.call("stop_container", json!({"vmid": 250, "node": "pve1"})))
                    .contains("names the range 200-299")
            );
            assert!(
                error_text(&c.call("shutdown_vm", json!({"vmid": 101}))).contains("names tag:prod")
            );
            // Reading a protected guest is fine; an unprotected one can be changed.
            let r = c.call("start_vm", json!({"vmid": 102, "dry_run": true}));
            assert_eq!(
                ok(&r)["request"]["path"],
                "/nodes/pve1/qemu/102/status/start"
            );
            fake.assert_no_writes();
        },
    );
}

#[test]
fn pve_protection_flag_stops_destroy_tools() {
    let mut fake = FakePve::new();
    fake.config("pve1/qemu/100", json!({"name": "web", "protection": 1}));
    let config = config(&fake, &[("PROXMOX_MCP_ACCESS", "full")]);
    connected(&config, |c| {
        assert_starts(&c.error("delete_vm_snapshot",
            json!({"vmid": 100, "node": "pve1", "snapname": "first", "confirm_name": "web"})), "GET /nodes/pve1/qemu/100/config: guest 100 has PVE's protection flag set (protection: 1)");
        fake.assert_no_writes();
        let destroy = c
            .tools
            .iter()
            .find(|t| t["name"] == "delete_vm_snapshot")
            .unwrap();
        assert_eq!(destroy["_meta"]["proxmox-mcp-server/confirm"], true);
        // Exactly the tools that can lose data carry the hint.
        for t in &c.tools {
            let name = t["name"].as_str().unwrap();
            let destroy = proxmox_mcp_server::tools::find(name).unwrap().effect
                == proxmox_mcp_server::tools::Effect::Destroy;
            assert_eq!(t.get("_meta").is_some(), destroy, "{name}");
        }
    });
}

#[test]
fn every_write_tools_dry_run_sends_no_write() {
    let mut fake = FakePve::with_resources(resources());
    fake.status("pve1/qemu/100", json!({"status": "running", "vmid": 100}));
    fake.status("pve1/lxc/200", json!({"status": "running", "vmid": 200}));
    fake.get(
        "/nodes/pve1/qemu/100/snapshot",
        json!([{"name": "first", "snaptime": 1}]),
    );
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    session(&fake, &[("PROXMOX_MCP_ACCESS", "full")], |c| {
        // The original server's write tools; each area's tests cover the dry runs of its own.
        let writers = [
            "start_vm",
            "stop_vm",
            "shutdown_vm",
            "reboot_vm",
            "create_vm_snapshot",
            "delete_vm_snapshot",
            "start_container",
            "stop_container",
        ];
        for name in writers {
            let name = name.to_string();
            let mut args = json!({"vmid": if name.ends_with("_container") { 200 } else { 100 }, "dry_run": true});
            if name.contains("snapshot") {
                args["snapname"] = json!("first");
            }
            if name.starts_with("delete_") {
                args["confirm_name"] = json!("web");
            }
            let r = c.call(&name, args);
            let out = ok(&r);
            assert_eq!(out["dry_run"], true, "{name}");
            assert!(
                out["data"].is_null() && out["target"].is_object(),
                "{name}: {out}"
            );
            let method = out["request"]["method"].as_str().unwrap();
            assert!(method == "POST" || method == "DELETE", "{name}");
        }
        fake.assert_no_writes();
    });
}

#[test]
fn audit_log_has_a_line_per_change() {
    let (_dir, log) = audit_dir("audit");
    let mut fake = FakePve::new();
    fake.get("/nodes", json!([]));
    fake.status("pve1/qemu/100", json!({"status": "stopped"}));
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    fake.get(
        "/nodes/pve1/tasks/UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:/status",
        json!({"status": "stopped", "exitstatus": "OK", "starttime": 1}),
    );
    fake.fail(
        "POST",
        "/nodes/pve1/qemu/101/status/start",
        500,
        "VM is locked (backup)",
    );
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
        ],
        |c| {
            ok(&c.call("list_nodes", json!({})));
            ok(&c.call(
                "start_vm",
                json!({"vmid": 100, "node": "pve1", "dry_run": true}),
            ));
            ok(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"})));
            error_text(&c.call("start_vm", json!({"vmid": 101, "node": "pve1"})));
            let text = std::fs::read_to_string(&log).unwrap();
            // Each call's outcome line (its intent and task lines are checked in attacks_audit.rs).
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|l| l["phase"] == "outcome")
                .collect();
            assert_eq!(lines.len(), 3, "reads are not logged: {text}");
            for l in &lines {
                assert_eq!(l["tool"], "start_vm");
                assert_eq!(l["user"], "root@pam!mcp");
                assert!(l["time"].as_str().unwrap().ends_with('Z'));
                assert!(!text.contains(crate::support::TOKEN));
            }
            assert_eq!(
                (
                    &lines[0]["dry_run"],
                    &lines[0]["outcome"],
                    &lines[0]["upid"]
                ),
                (&json!(true), &json!("ok"), &Value::Null)
            );
            assert_eq!(
                lines[0]["arguments"],
                json!({"vmid": 100, "node": "pve1", "dry_run": true})
            );
            assert_eq!(
                (
                    &lines[1]["dry_run"],
                    &lines[1]["outcome"],
                    &lines[1]["upid"]
                ),
                (&json!(false), &json!("ok"), &json!(UPID))
            );
            assert_eq!(
                lines[2]["outcome"],
                "error: POST /nodes/pve1/qemu/101/status/start: VM is locked (backup)"
            );

            // An audit log that cannot be written stops the server at start.
            let bad = config_with_audit(&fake, "/nonexistent-dir/audit.jsonl");
            let err = Policy::new(&bad).unwrap_err().to_string();
            assert_starts(&err, "configuration: PROXMOX_MCP_AUDIT_LOG=/nonexistent-dir/audit.jsonl: cannot open for appending");
        },
    );
}

fn config_with_audit(fake: &FakePve, path: &str) -> Config {
    config(fake, &[("PROXMOX_MCP_AUDIT_LOG", path)])
}

#[test]
fn clearing_pve_protection_needs_full() {
    let mut fake = FakePve::new();
    fake.config("pve1/qemu/100", json!({"name": "web", "protection": 1}));
    fake.ok("PUT", "/nodes/pve1/qemu/100/config", Value::Null);
    for (access, set) in [
        ("operate", json!({"protection": 0})),
        ("operate", json!({"protection": false})),
    ] {
        crate::support::with_access(&fake, access, |c| {
            let text = error_text(&c.call(
                "update_vm_config",
                json!({"vmid": 100, "node": "pve1", "set": set}),
            ))
            .to_string();
            assert!(text.starts_with("update_vm_config: setting 'protection' clears the protection flag, which lifts PVE's guard against deleting the guest (key class: data); it needs access level full"), "{text}");
        });
    }
    crate::support::with_access(&fake, "operate", |c| {
        let r = c.call(
            "update_vm_config",
            json!({"vmid": 100, "node": "pve1", "delete": ["protection"]}),
        );
        assert!(error_text(&r).contains("needs access level full"));
    });
    fake.assert_no_writes();
    crate::support::with_access(&fake, "full", |c| {
        ok(&c.call(
            "update_vm_config",
            json!({"vmid": 100, "node": "pve1", "set": {"protection": 0}}),
        ));
    });
    assert_eq!(
        fake.writes(),
        ["PUT /nodes/pve1/qemu/100/config protection=0"]
    );
}

#[test]
fn protected_tags_that_cannot_be_read_refuse_the_change() {
    let mut fake = FakePve::new();
    // The credentials see no guest 300 (no VM.Audit), so its tags are unknown.
    fake.get("/cluster/resources", resources());
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_PROTECTED", "tag:prod"),
        ],
        |c| {
            let text = c.error("start_vm", json!({"vmid": 300, "node": "pve1"}));
            assert_starts(&text, "guest 300 is not in /cluster/resources, so the tags PROXMOX_MCP_PROTECTED names cannot be checked");
            fake.assert_no_writes();
        },
    );
}

#[test]
fn the_audit_log_redacts_secrets_at_any_depth() {
    let (_dir, log) = audit_dir("audit2");
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    session(
        &fake,
        &[
            // cipassword puts a login into the guest: full and the exec switch.
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_ALLOW_EXEC", "true"),
            ("PROXMOX_MCP_TOOLS", "default,provisioning"),
            ("PROXMOX_MCP_AUDIT_LOG", log.to_str().unwrap()),
        ],
        |c| {
            ok(&c.call("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"cipassword": "s3cret-pw", "cores": 2}, "dry_run": true})));
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(!text.contains("s3cret-pw"), "{text}");
            let entry: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
            assert_eq!(
                entry["arguments"]["set"],
                json!({"cipassword": "<redacted>", "cores": 2})
            );
        },
    );
}

#[test]
fn tag_protection_lets_a_new_guest_be_created_but_not_a_protected_vmid() {
    let mut fake = FakePve::new();
    // Guest 101 carries tag prod; 150 is in no list: a guest to create.
    fake.get("/cluster/resources", resources());
    fake.get("/cluster/nextid", json!(150));
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "default,provisioning"),
            ("PROXMOX_MCP_PROTECTED", "tag:prod,160-169"),
        ],
        |c| {
            let new = json!({"node": "pve1", "vmid": 150, "name": "new", "storage": "local-lvm", "dry_run": true});
            let r = c.call("create_vm", new);
            assert_eq!(ok(&r)["dry_run"], true);
            // A protected range still refuses a new VMID; an existing tagged guest is still refused.
            let range = json!({"node": "pve1", "vmid": 165, "name": "new", "storage": "local-lvm", "dry_run": true});
            let text = c.error("create_vm", range);
            assert!(
                text.contains("PROXMOX_MCP_PROTECTED names the range 160-169"),
                "{text}"
            );
            let tagged = json!({"node": "pve1", "vmid": 101, "name": "new", "storage": "local-lvm", "dry_run": true});
            let text = c.error("create_vm", tagged);
            assert!(
                text.contains("PROXMOX_MCP_PROTECTED names tag:prod"),
                "{text}"
            );
            // A tool that changes an existing guest still refuses one whose tags cannot be read.
            let text = c.error("start_vm", json!({"vmid": 150, "node": "pve1"}));
            assert_starts(&text, "guest 150 is not in /cluster/resources");
            fake.assert_no_writes();
        },
    );
}

/// Gemini CLI adds `wait_for_previous` to every tool's schema and passes it with the call: it is
/// accepted and dropped (nothing of it reaches PVE); any other unknown argument is still refused.
#[test]
fn arguments_hosts_inject_are_accepted_and_dropped() {
    let mut fake = FakePve::new();
    fake.status(
        "pve1/qemu/100",
        json!({"vmid": 100, "name": "web", "status": "running"}),
    );
    crate::support::with_access(&fake, "read-only", |c| {
        let r = c.call(
            "get_vm_status",
            json!({"vmid": 100, "node": "pve1", "wait_for_previous": true}),
        );
        assert_eq!(ok(&r)["data"]["status"], "running");
        let r = c.call(
            "get_vm_status",
            json!({"vmid": 100, "node": "pve1", "wait_for_others": true}),
        );
        assert!(error_text(&r).starts_with("invalid arguments: unknown argument 'wait_for_others'"));
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/qemu/100/status/current"]);
}
