//! The HA rule and HA resource tools against the mocked PVE: rules listed, created and deleted,
//! resources updated, migrated and relocated; dry runs; protected guests and bad arguments
//! refused with no write sent.

use serde_json::{json, Value};

use crate::support::{guest, session, with_access as with, FakePve};

fn rules() -> Value {
    json!([
        {"rule": "web-pref", "type": "node-affinity", "resources": "vm:100,vm:101", "nodes": "pve1:2,pve2", "strict": 0, "order": 1, "digest": "abc"},
        {"rule": "db-apart", "type": "resource-affinity", "resources": "vm:102,vm:103", "affinity": "negative", "comment": "spread", "order": 2, "digest": "abc"},
    ])
}

#[test]
fn list_ha_rules_sorted_and_filtered() {
    let mut fake = FakePve::new();
    fake.get("/cluster/ha/rules", rules());
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_ha_rules", json!({})),
            json!({
                "data": [
                    {"rule": "db-apart", "type": "resource-affinity", "resources": "vm:102,vm:103", "affinity": "negative", "comment": "spread", "order": 2},
                    {"rule": "web-pref", "type": "node-affinity", "resources": "vm:100,vm:101", "nodes": "pve1:2,pve2", "strict": 0, "order": 1},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        c.ok(
            "list_ha_rules",
            json!({"type": "node-affinity", "resource": "vm:100"}),
        );
        assert_eq!(
            c.error("list_ha_rules", json!({"type": "group"})),
            "invalid arguments: 'type' must be one of node-affinity, resource-affinity, got 'group'"
        );
        assert_eq!(
            c.error("list_ha_rules", json!({"resource": "100"})),
            "invalid arguments: 'resource' must name HA resources as vm:VMID or ct:VMID (e.g. vm:100), got '100'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/rules",
            "GET /cluster/ha/rules?type=node-affinity&resource=vm%3A100",
        ]
    );
}

#[test]
fn create_node_and_resource_affinity_rules() {
    let mut fake = FakePve::new();
    fake.post("/cluster/ha/rules", Value::Null);
    with(&fake, "operate", |c| {
        let done = json!({"data": null});
        let node_rule = json!({
            "rule": "web-pref", "type": "node-affinity", "resources": ["vm:100", "ct:200"],
            "nodes": ["pve1:2", "pve2"], "strict": true, "comment": "prefer pve1",
        });
        assert_eq!(c.ok("create_ha_rule", node_rule), done);
        let apart = json!({
            "rule": "db-apart", "type": "resource-affinity", "resources": ["vm:102", "vm:103"],
            "affinity": "negative",
        });
        assert_eq!(c.ok("create_ha_rule", apart), done);
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /cluster/ha/rules rule=web-pref&type=node-affinity&resources=vm%3A100%2Cct%3A200&nodes=pve1%3A2%2Cpve2&strict=1&comment=prefer%20pve1",
            "POST /cluster/ha/rules rule=db-apart&type=resource-affinity&resources=vm%3A102%2Cvm%3A103&affinity=negative",
        ]
    );
}

#[test]
fn create_ha_rule_dry_run_shows_the_rules_it_joins() {
    let mut fake = FakePve::new();
    fake.get("/cluster/ha/rules", rules());
    with(&fake, "operate", |c| {
        let args = json!({
            "rule": "pin-db", "type": "node-affinity", "resources": ["vm:103"],
            "nodes": ["pve3"], "dry_run": true,
        });
        assert_eq!(
            c.ok("create_ha_rule", args),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/cluster/ha/rules", "params": {
                    "rule": "pin-db", "type": "node-affinity", "resources": "vm:103", "nodes": "pve3",
                }},
                "target": {"rules_with_these_resources": [
                    {"rule": "db-apart", "type": "resource-affinity", "resources": "vm:102,vm:103", "affinity": "negative", "comment": "spread", "order": 2},
                ]},
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/ha/rules"]);
}

#[test]
fn create_ha_rule_refuses_what_pve_would_and_protected_guests() {
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "ha"),
        ("PROXMOX_MCP_PROTECTED", "900-999"),
    ];
    let node = |extra: Value| {
        let mut args = json!({"rule": "r1", "type": "node-affinity", "resources": ["vm:100"], "nodes": ["pve1"]});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    session(&fake, &settings, |c| {
        for (args, message) in [
            (node(json!({"rule": "1st"})), "invalid arguments: 'rule' must be a letter, then letters, digits, '-' and '_' (2 or more), got '1st'"),
            (node(json!({"type": "group"})), "invalid arguments: 'type' must be one of node-affinity, resource-affinity, got 'group'"),
            (node(json!({"resources": ["100"]})), "invalid arguments: 'resources' must name HA resources as vm:VMID or ct:VMID (e.g. vm:100), got '100'"),
            (node(json!({"resources": ["vm:100", "ct:100"]})), "invalid arguments: 'resources' names guest 100 twice"),
            (node(json!({"nodes": ["pve1,pve2"]})), "invalid arguments: 'nodes' items must be NODE or NODE:PRIORITY (a whole number), got 'pve1,pve2'"),
            (node(json!({"nodes": ["pve1:high"]})), "invalid arguments: 'nodes' items must be NODE or NODE:PRIORITY (a whole number), got 'pve1:high'"),
            (node(json!({"affinity": "positive"})), "invalid arguments: 'affinity' belongs to resource-affinity rules; a node-affinity rule takes nodes (and strict)"),
            (json!({"rule": "r1", "type": "node-affinity", "resources": ["vm:100"]}), "invalid arguments: a node-affinity rule needs 'nodes', e.g. [\"pve1\", \"pve2:2\"]"),
            (json!({"rule": "r1", "type": "resource-affinity", "resources": ["vm:100", "vm:101"]}), "invalid arguments: a resource-affinity rule needs 'affinity': positive (keep together) or negative (keep apart)"),
            (json!({"rule": "r1", "type": "resource-affinity", "resources": ["vm:100"], "affinity": "positive"}), "invalid arguments: a resource-affinity rule relates two or more resources; 'resources' names one"),
            (json!({"rule": "r1", "type": "resource-affinity", "resources": ["vm:100", "vm:101"], "affinity": "positive", "strict": true}), "invalid arguments: 'nodes' and 'strict' belong to node-affinity rules; a resource-affinity rule takes affinity"),
            (node(json!({"resources": ["vm:100", "ct:950"]})), "the rule would place guest 950, but guest 950 is protected on this server (PROXMOX_MCP_PROTECTED names the range 900-999); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"),
        ] {
            assert_eq!(c.error("create_ha_rule", args.clone()), message, "{args}");
        }
    });
    fake.assert_untouched();
}

#[test]
fn delete_ha_rule_reads_it_first() {
    let mut fake = FakePve::new();
    let rule = json!({"rule": "db-apart", "type": "resource-affinity", "resources": "vm:102,vm:103", "affinity": "negative", "digest": "abc"});
    fake.get("/cluster/ha/rules/db-apart", rule);
    fake.ok("DELETE", "/cluster/ha/rules/db-apart", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "delete_ha_rule",
                json!({"rule": "db-apart", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/cluster/ha/rules/db-apart", "params": {}},
                "target": {"rule": "db-apart", "type": "resource-affinity", "resources": "vm:102,vm:103", "affinity": "negative"},
            })
        );
        assert_eq!(
            c.ok("delete_ha_rule", json!({"rule": "db-apart"})),
            json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/rules/db-apart",
            "GET /cluster/ha/rules/db-apart",
            "DELETE /cluster/ha/rules/db-apart",
        ]
    );

    // A rule placing a protected guest stays.
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/ha/rules/web-pref",
        json!({"rule": "web-pref", "type": "node-affinity", "resources": "vm:100,ct:200", "nodes": "pve1"}),
    );
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_TOOLS", "ha"),
            ("PROXMOX_MCP_PROTECTED", "200"),
        ],
        |c| {
            let r = c.error("delete_ha_rule", json!({"rule": "web-pref"}));
            assert!(
                r.starts_with(
                    "deleting the rule would release guest 200, but guest 200 is protected"
                ),
                "{r}"
            );
            // Deleting needs full.
            assert!(c.tool_names().contains(&"delete_ha_rule"));
        },
    );
    fake.assert_no_writes();
    with(&FakePve::new(), "operate", |c| {
        assert!(!c.tool_names().contains(&"delete_ha_rule"));
        assert!(c.tool_names().contains(&"create_ha_rule"));
    });
}

#[test]
fn update_ha_resource_sends_the_digest_it_read() {
    let mut fake = FakePve::new();
    let current = json!({"sid": "vm:100", "type": "vm", "state": "started", "max_restart": 1, "max_relocate": 1, "digest": "d41d8", "failback": 1});
    fake.get("/cluster/ha/resources/vm:100", current);
    fake.ok("PUT", "/cluster/ha/resources/vm:100", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "update_ha_resource",
                json!({"sid": "vm:100", "state": "stopped", "max_restart": 3, "max_relocate": 0, "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/cluster/ha/resources/vm:100", "params": {
                    "state": "stopped", "max_restart": "3", "max_relocate": "0", "digest": "d41d8",
                }},
                "target": {"sid": "vm:100", "type": "vm", "state": "started", "max_restart": 1, "max_relocate": 1, "failback": 1, "digest": "d41d8"},
            })
        );
        assert_eq!(
            c.ok(
                "update_ha_resource",
                json!({"sid": "vm:100", "state": "stopped"})
            ),
            json!({"data": null})
        );
        for (args, message) in [
            (json!({"sid": "vm:100"}), "invalid arguments: nothing to change: give state, max_restart, max_relocate or comment"),
            (json!({"sid": "vm:100", "state": "on"}), "invalid arguments: 'state' must be one of started, stopped, disabled, ignored, got 'on'"),
            (json!({"sid": "vm:99", "state": "stopped"}), "invalid arguments: 'sid' must name HA resources as vm:VMID or ct:VMID (e.g. vm:100), got 'vm:99'"),
            (json!({"sid": "vm:100", "max_restart": -1}), "invalid arguments: 'max_restart' must be between 0 and 100, got -1"),
        ] {
            assert_eq!(c.error("update_ha_resource", args), message);
        }
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/resources/vm:100",
            "GET /cluster/ha/resources/vm:100",
            "PUT /cluster/ha/resources/vm:100 state=stopped&digest=d41d8",
        ]
    );
}

#[test]
fn migrate_and_relocate_return_what_pve_will_move() {
    let mut fake = FakePve::new();
    let answer =
        json!({"sid": "vm:100", "requested-node": "pve2", "comigrated-resources": ["vm:101"]});
    fake.post("/cluster/ha/resources/vm:100/migrate", answer.clone());
    let blocked = json!({"sid": "ct:200", "requested-node": "pve1", "blocking-resources": [{"sid": "vm:100", "cause": "resource-affinity"}]});
    fake.post("/cluster/ha/resources/ct:200/relocate", blocked.clone());
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "migrate_ha_resource",
                json!({"sid": "vm:100", "node": "pve2"})
            ),
            json!({"data": answer})
        );
        assert_eq!(
            c.ok(
                "relocate_ha_resource",
                json!({"sid": "ct:200", "node": "pve1"})
            ),
            json!({"data": blocked})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /cluster/ha/resources/vm:100/migrate node=pve2",
            "POST /cluster/ha/resources/ct:200/relocate node=pve1",
        ]
    );
}

#[test]
fn migrate_and_relocate_dry_runs_show_where_it_runs_now() {
    let mut fake = FakePve::new();
    let service = json!({"id": "service:vm:100", "type": "service", "sid": "vm:100", "node": "pve1", "state": "started", "crm_state": "started"});
    fake.get(
        "/cluster/ha/status/current",
        json!([{"id": "quorum", "type": "quorum", "status": "OK"}, service]),
    );
    with(&fake, "operate", |c| {
        for how in ["migrate", "relocate"] {
            assert_eq!(
                c.ok(
                    &format!("{how}_ha_resource"),
                    json!({"sid": "vm:100", "node": "pve2", "dry_run": true})
                ),
                json!({
                    "data": null, "dry_run": true,
                    "request": {"method": "POST", "path": format!("/cluster/ha/resources/vm:100/{how}"), "params": {"node": "pve2"}},
                    "target": service,
                })
            );
        }
        assert_eq!(
            c.error("migrate_ha_resource", json!({"sid": "vm:101", "node": "pve2", "dry_run": true})),
            "GET /cluster/ha/status/current: vm:101 is not an HA resource; list_ha_resources shows them"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn protected_guests_are_not_moved_by_ha() {
    let fake = FakePve::with_resources(json!([guest(
        "qemu/100",
        "web",
        "pve1",
        "running",
        json!({"tags": "critical"})
    ),]));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "ha"),
        ("PROXMOX_MCP_PROTECTED", "tag:critical"),
    ];
    session(&fake, &settings, |c| {
        let why = "guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names tag:critical); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED";
        assert_eq!(
            c.error(
                "migrate_ha_resource",
                json!({"sid": "vm:100", "node": "pve2"})
            ),
            format!("migrate_ha_resource would move guest 100, but {why}")
        );
        assert_eq!(
            c.error(
                "relocate_ha_resource",
                json!({"sid": "vm:100", "node": "pve2", "dry_run": true})
            ),
            format!("relocate_ha_resource would move guest 100, but {why}")
        );
        assert_eq!(
            c.error(
                "update_ha_resource",
                json!({"sid": "vm:100", "state": "stopped"})
            ),
            format!("update_ha_resource would change guest 100, but {why}")
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"; 3]);
}
