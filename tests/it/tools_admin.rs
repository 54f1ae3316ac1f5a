//! The cluster administration tools against the mocked PVE: pools, HA, firewall rules, node
//! networks, users, API tokens, ACL, the server's own permissions, certificates, backup jobs.
//! Each test shows the requests PVE received and the result the MCP client read.

use serde_json::{json, Value};

use crate::support::{error_text, guest, ok, with_access as with, Client, FakePve};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("lxc/200", "dns", "pve2", "running", json!({})),
        guest("qemu/101", "db", "pve1", "stopped", json!({})),
    ])
}

fn read_only(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    with(fake, "read-only", f)
}

// ---------------------------------------------------------------------------------------------
// Pools.

#[test]
fn list_pools_sorted_and_trimmed() {
    let mut fake = FakePve::new();
    fake.get(
        "/pools",
        json!([
            {"poolid": "prod", "comment": "production", "members": []},
            {"poolid": "dev"},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_pools", json!({})),
            &json!({
                "data": [{"poolid": "dev"}, {"poolid": "prod", "comment": "production"}],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
    });
    assert_eq!(fake.lines(), ["GET /pools"]);
}

#[test]
fn get_pool_members_sorted() {
    let mut fake = FakePve::new();
    fake.get("/pools",
        json!([{
            "poolid": "prod", "comment": "production",
            "members": [
                {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "status": "available", "disk": 1},
                {"id": "qemu/101", "type": "qemu", "vmid": 101, "name": "db", "node": "pve1", "status": "stopped", "maxmem": 1},
                {"id": "lxc/200", "type": "lxc", "vmid": 200, "name": "dns", "node": "pve2", "status": "running"},
                {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running", "template": 0},
            ],
        }]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("get_pool", json!({"poolid": "prod"})),
            &json!({"data": {
                "poolid": "prod", "comment": "production",
                "members": [
                    {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running", "template": 0},
                    {"id": "qemu/101", "type": "qemu", "vmid": 101, "name": "db", "node": "pve1", "status": "stopped"},
                    {"id": "lxc/200", "type": "lxc", "vmid": 200, "name": "dns", "node": "pve2", "status": "running"},
                    {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "status": "available"},
                ],
            }})
        );
        ok(&c.call("get_pool", json!({"poolid": "prod", "type": "qemu"})));
        // Bad arguments send nothing.
        assert_eq!(
            c.error("get_pool", json!({"poolid": "prod", "type": "vm"})),
            "invalid arguments: 'type' must be one of qemu, lxc, storage, got 'vm'"
        );
        let r = c.call("get_pool", json!({"poolid": "../x"}));
        assert!(error_text(&r).starts_with("invalid arguments: 'poolid' must be letters"));
    });
    assert_eq!(
        fake.lines(),
        ["GET /pools?poolid=prod", "GET /pools?poolid=prod&type=qemu"]
    );
}

#[test]
fn get_pool_that_does_not_exist() {
    let mut fake = FakePve::new();
    fake.fail("GET", "/pools", 500, "pool 'nope' does not exist");
    read_only(&fake, |c| {
        assert_eq!(
            c.error("get_pool", json!({"poolid": "nope"})),
            "GET /pools: pool 'nope' does not exist"
        );
    });
    assert_eq!(fake.lines(), ["GET /pools?poolid=nope"]);

    // A pool the credentials cannot see: PVE answers an empty list.
    let mut fake = FakePve::new();
    fake.get("/pools", json!([]));
    read_only(&fake, |c| {
        let r = c.call("get_pool", json!({"poolid": "secret"}));
        assert_eq!(
            error_text(&r),
            "GET /pools: no pool 'secret' (or the credentials lack Pool.Audit on /pool/secret); list_pools shows the pools"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// HA.

#[test]
fn get_ha_status() {
    let mut fake = FakePve::new();
    let status = json!([
        {"id": "quorum", "type": "quorum", "node": "pve1", "quorate": 1, "status": "OK"},
        {"id": "master", "type": "master", "node": "pve1", "status": "pve1 (active, Mon Nov 24 10:00:00 2026)", "timestamp": 1795000000},
        {"id": "lrm:pve1", "type": "lrm", "node": "pve1", "status": "pve1 (active)", "timestamp": 1795000001},
        {"id": "service:vm:100", "type": "service", "sid": "vm:100", "node": "pve1", "state": "started", "crm_state": "started", "request_state": "started", "status": "vm:100 (pve1, started)"},
    ]);
    fake.get("/cluster/ha/status/current", status.clone());
    read_only(&fake, |c| {
        assert_eq!(&c.ok("get_ha_status", json!({})), &json!({"data": status}));
    });
    assert_eq!(fake.lines(), ["GET /cluster/ha/status/current"]);
}

fn ha_resources() -> Value {
    json!([
        {"sid": "ct:200", "type": "ct", "state": "started", "max_restart": 1, "max_relocate": 1, "digest": "d1", "failback": 1},
        {"sid": "vm:1000", "type": "vm", "state": "stopped", "digest": "d1"},
        {"sid": "vm:100", "type": "vm", "state": "started", "comment": "web", "digest": "d1"},
    ])
}

#[test]
fn list_ha_resources_sorted_by_vmid() {
    let mut fake = FakePve::new();
    fake.get("/cluster/ha/resources", ha_resources());
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_ha_resources", json!({})),
            &json!({
                "data": [
                    {"sid": "vm:100", "type": "vm", "state": "started", "comment": "web"},
                    {"sid": "ct:200", "type": "ct", "state": "started", "max_restart": 1, "max_relocate": 1, "failback": 1},
                    {"sid": "vm:1000", "type": "vm", "state": "stopped"},
                ],
                "total": 3, "limit": 100, "offset": 0,
            })
        );
        ok(&c.call("list_ha_resources", json!({"type": "ct"})));
        assert_eq!(
            c.error("list_ha_resources", json!({"type": "lxc"})),
            "invalid arguments: 'type' must be one of vm, ct, got 'lxc'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/resources",
            "GET /cluster/ha/resources?type=ct"
        ]
    );
}

#[test]
fn add_ha_resource_for_a_vm() {
    let mut fake = FakePve::with_resources(resources());
    fake.status(
        "pve1/qemu/100",
        json!({"status": "running", "vmid": 100, "ha": {"managed": 0}}),
    );
    fake.post("/cluster/ha/resources", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "add_ha_resource",
                json!({"vmid": 100, "state": "started", "max_restart": 2, "comment": "web front"})
            ),
            &json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/status/current",
            "POST /cluster/ha/resources sid=vm%3A100&state=started&max_restart=2&comment=web%20front",
        ]
    );
}

#[test]
fn add_ha_resource_for_a_container_dry_run() {
    let mut fake = FakePve::with_resources(resources());
    let status = json!({"status": "running", "vmid": 200, "name": "dns", "ha": {"managed": 0}});
    fake.get("/nodes/pve2/lxc/200/status/current", status.clone());
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok("add_ha_resource", json!({"vmid": 200, "dry_run": true})),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/cluster/ha/resources", "params": {"sid": "ct:200"}},
                "target": status,
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/status/current"
        ]
    );
}

#[test]
fn add_ha_resource_refusals() {
    let mut fake = FakePve::with_resources(resources());
    fake.status(
        "pve1/qemu/100",
        json!({"status": "running", "ha": {"managed": 1, "state": "started"}}),
    );
    fake.status(
        "pve1/qemu/101",
        json!({"status": "stopped", "ha": {"managed": 0}}),
    );
    fake.fail(
        "POST",
        "/cluster/ha/resources",
        500,
        "resource ID 'vm:101' already defined",
    );
    with(&fake, "operate", |c| {
        let r = c.call("add_ha_resource", json!({"vmid": 100}));
        assert_eq!(
            error_text(&r),
            "GET /nodes/pve1/qemu/100/status/current: vm:100 is already an HA resource (state started); list_ha_resources shows it"
        );
        let r = c.call("add_ha_resource", json!({"vmid": 999}));
        assert!(
            error_text(&r).starts_with("GET /cluster/resources: no guest with VMID 999"),
            "{r}"
        );
        assert_eq!(c.error("add_ha_resource", json!({"vmid": 100, "state": "on"})), "invalid arguments: 'state' must be one of started, stopped, enabled, disabled, ignored, got 'on'");
        // PVE's own refusal is passed through with method and path.
        assert_eq!(
            c.error("add_ha_resource", json!({"vmid": 101, "node": "pve1"})),
            "POST /cluster/ha/resources: resource ID 'vm:101' already defined"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/status/current",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/101/status/current",
            "POST /cluster/ha/resources sid=vm%3A101",
        ]
    );
}

#[test]
fn add_ha_resource_needs_operate() {
    let fake = FakePve::new();
    read_only(&fake, |c| {
        let r = c.call("add_ha_resource", json!({"vmid": 100}));
        assert!(error_text(&r).contains("operate"), "{r}");
    });
    assert!(fake.lines().is_empty());
}

#[test]
fn remove_ha_resource() {
    let mut fake = FakePve::new();
    fake.get("/cluster/ha/resources", ha_resources());
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve2/lxc/200/config", json!({"hostname": "dns"}));
    fake.ok("DELETE", "/cluster/ha/resources/ct:200", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok("remove_ha_resource", json!({"vmid": 200})),
            &json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/resources",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/config",
            "DELETE /cluster/ha/resources/ct:200?purge=0",
        ]
    );
}

#[test]
fn remove_ha_resource_dry_run_and_refusals() {
    let mut fake = FakePve::new();
    fake.get("/cluster/ha/resources", ha_resources());
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.config("pve1/qemu/1000", json!({"name": "big", "protection": 1}));
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "remove_ha_resource",
                json!({"vmid": 100, "node": "pve1", "dry_run": true})
            ),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/cluster/ha/resources/vm:100", "params": {"purge": "0"}},
                "target": {"sid": "vm:100", "type": "vm", "state": "started", "comment": "web"},
            })
        );
        let r = c.call("remove_ha_resource", json!({"vmid": 101, "node": "pve1"}));
        assert_eq!(
            error_text(&r),
            "GET /cluster/ha/resources: guest 101 is not an HA resource; list_ha_resources shows them"
        );
        let r = c.call("remove_ha_resource", json!({"vmid": 1000, "node": "pve1"}));
        assert!(
            error_text(&r).starts_with(
                "GET /nodes/pve1/qemu/1000/config: guest 1000 has PVE's protection flag set"
            ),
            "{r}"
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/ha/resources",
            "GET /nodes/pve1/qemu/100/config",
            "GET /cluster/ha/resources",
            "GET /cluster/ha/resources",
            "GET /nodes/pve1/qemu/1000/config",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Firewall.

fn rules() -> Value {
    json!([
        {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "enable": 1, "digest": "abc123", "ipversion": 4},
        {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "HTTPS", "enable": 1, "comment": "web", "digest": "abc123"},
        {"pos": 2, "type": "in", "action": "DROP", "enable": 0, "log": "nolog", "digest": "abc123"},
    ])
}

#[test]
fn list_firewall_rules_at_each_level() {
    let mut fake = FakePve::new();
    fake.get("/cluster/firewall/rules", rules());
    fake.get("/nodes/pve1/firewall/rules", json!([]));
    fake.get("/cluster/resources", resources());
    fake.get(
        "/nodes/pve2/lxc/200/firewall/rules",
        json!([{"pos": 0, "type": "out", "action": "REJECT", "digest": "ff"}]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_firewall_rules", json!({})),
            &json!({
                "data": [
                    {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "HTTPS", "enable": 1, "comment": "web"},
                    {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "enable": 1},
                    {"pos": 2, "type": "in", "action": "DROP", "enable": 0, "log": "nolog"},
                ],
                "total": 3, "limit": 100, "offset": 0, "digest": "abc123",
            })
        );
        assert_eq!(
            &c.ok("list_firewall_rules", json!({"node": "pve1"})),
            &json!({"data": [], "total": 0, "limit": 100, "offset": 0})
        );
        let r = c.call("list_firewall_rules", json!({"vmid": 200}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"pos": 0, "type": "out", "action": "REJECT"}])
        );
        assert_eq!(ok(&r)["digest"], "ff");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/rules",
            "GET /nodes/pve1/firewall/rules",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/firewall/rules",
        ]
    );
}

#[test]
fn add_firewall_rule_to_a_node() {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/firewall/rules", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("add_firewall_rule",
            json!({"node": "pve1", "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "10.0.0.0/24", "comment": "GUI"})), &json!({"data": null}));
    });
    assert_eq!(
        fake.lines(),
        ["POST /nodes/pve1/firewall/rules type=in&action=ACCEPT&source=10.0.0.0%2F24&proto=tcp&dport=8006&comment=GUI&enable=1"]
    );
}

#[test]
fn add_firewall_rule_to_a_vm_dry_run() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/nodes/pve1/qemu/100/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "digest": "d0"}]),
    );
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("add_firewall_rule",
            json!({"vmid": 100, "type": "in", "action": "DROP", "macro": "SMB", "enable": false, "dry_run": true})), &json!({
                "data": null, "dry_run": true,
                "request": {
                    "method": "POST", "path": "/nodes/pve1/qemu/100/firewall/rules",
                    "params": {"type": "in", "action": "DROP", "macro": "SMB", "enable": "0"},
                },
                "target": {"rules": [{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH"}], "digest": "d0"},
            }));
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/firewall/rules"
        ]
    );
}

#[test]
fn add_firewall_rule_failures() {
    let mut fake = FakePve::new();
    fake.fail(
        "POST",
        "/cluster/firewall/rules",
        500,
        "detected mixed ipv4/ipv6 addresses in rule",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            c.error(
                "add_firewall_rule",
                json!({"type": "inbound", "action": "ACCEPT"})
            ),
            "invalid arguments: 'type' must be one of in, out, forward, group, got 'inbound'"
        );
        let r = c.call("add_firewall_rule", json!({"type": "in", "action": "1x"}));
        assert!(
            error_text(&r).starts_with("invalid arguments: 'action' must be ACCEPT, DROP, REJECT"),
            "{r}"
        );
        let r = c.call("add_firewall_rule", json!({"type": "in"}));
        assert!(
            error_text(&r).starts_with("invalid arguments: missing required argument 'action'"),
            "{r}"
        );
        assert_eq!(
            c.error(
                "add_firewall_rule",
                json!({"type": "in", "action": "ACCEPT", "source": "10.0.0.1", "dest": "fe80::1"})
            ),
            "POST /cluster/firewall/rules: detected mixed ipv4/ipv6 addresses in rule"
        );
    });
    assert_eq!(
        fake.lines(),
        ["POST /cluster/firewall/rules type=in&action=ACCEPT&source=10.0.0.1&dest=fe80%3A%3A1&enable=1"]
    );
}

#[test]
fn delete_firewall_rule_checks_it_exists() {
    let mut fake = FakePve::new();
    fake.get("/cluster/firewall/rules", rules());
    fake.ok("DELETE", "/cluster/firewall/rules/1", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "delete_firewall_rule",
                json!({"pos": 1, "digest": "abc123"})
            ),
            &json!({"data": null})
        );
        let r = c.call("delete_firewall_rule", json!({"pos": 7}));
        assert_eq!(
            error_text(&r),
            "GET /cluster/firewall/rules: no firewall rule at position 7 (3 rules); list_firewall_rules shows them"
        );
        let r = c.call("delete_firewall_rule", json!({"pos": 1, "digest": "old"}));
        assert_eq!(
            error_text(&r),
            "GET /cluster/firewall/rules: the rules changed since digest old was read (now abc123); list_firewall_rules again and check position 1"
        );
        let r = c.call("delete_firewall_rule", json!({}));
        assert!(error_text(&r).starts_with("invalid arguments: missing required argument 'pos'"));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/rules",
            "DELETE /cluster/firewall/rules/1?digest=abc123",
            "GET /cluster/firewall/rules",
            "GET /cluster/firewall/rules",
        ]
    );
}

#[test]
fn delete_firewall_rule_of_a_guest_dry_run_and_protection() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.get(
        "/nodes/pve1/qemu/100/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "digest": "d0"}]),
    );
    fake.config("pve1/qemu/101", json!({"name": "db", "protection": 1}));
    fake.get("/cluster/resources", resources());
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "delete_firewall_rule",
                json!({"vmid": 100, "pos": 0, "dry_run": true})
            ),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/nodes/pve1/qemu/100/firewall/rules/0", "params": {"digest": "d0"}},
                "target": {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH"},
            })
        );
        let r = c.call("delete_firewall_rule", json!({"vmid": 101, "pos": 0}));
        assert!(
            error_text(&r).starts_with(
                "GET /nodes/pve1/qemu/101/config: guest 101 has PVE's protection flag set"
            ),
            "{r}"
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/firewall/rules",
            "GET /nodes/pve1/qemu/101/config",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Network, users, tokens, ACL.

#[test]
fn list_node_networks_sorted() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/network",
        json!([
            {"iface": "vmbr0", "type": "bridge", "active": 1, "autostart": 1, "method": "static", "cidr": "192.168.1.10/24", "address": "192.168.1.10", "netmask": "24", "gateway": "192.168.1.1", "bridge_ports": "eno1", "families": ["inet"], "priority": 3},
            {"iface": "eno1", "type": "eth", "active": 1, "exists": 1, "method": "manual", "priority": 1},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_node_networks", json!({"node": "pve1"})),
            &json!({
                "data": [
                    {"iface": "eno1", "type": "eth", "active": 1, "exists": 1, "method": "manual"},
                    {"iface": "vmbr0", "type": "bridge", "active": 1, "autostart": 1, "method": "static", "cidr": "192.168.1.10/24", "address": "192.168.1.10", "netmask": "24", "gateway": "192.168.1.1", "bridge_ports": "eno1"},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        ok(&c.call(
            "list_node_networks",
            json!({"node": "pve1", "type": "bridge"}),
        ));
        let r = c.call(
            "list_node_networks",
            json!({"node": "pve1", "type": "wifi"}),
        );
        assert!(error_text(&r).starts_with("invalid arguments: 'type' must be one of bridge,"));
        let r = c.call("list_node_networks", json!({}));
        assert!(error_text(&r).starts_with("invalid arguments: missing required argument 'node'"));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/network",
            "GET /nodes/pve1/network?type=bridge"
        ]
    );
}

#[test]
fn list_users_sorted_without_keys() {
    let mut fake = FakePve::new();
    fake.get("/access/users",
        json!([
            {"userid": "root@pam", "enable": 1, "expire": 0, "email": "root@example.com", "realm-type": "pam", "keys": "x!secret"},
            {"userid": "alice@pve", "enable": 0, "expire": 1800000000, "firstname": "Alice", "groups": "admins", "realm-type": "pve", "totp-locked": false},
        ]),
    );
    read_only(&fake, |c| {
        let r = c.call("list_users", json!({"limit": 1}));
        assert_eq!(
            ok(&r),
            &json!({
                "data": [
                    {"userid": "alice@pve", "enable": 0, "expire": 1800000000, "firstname": "Alice", "groups": "admins", "realm-type": "pve", "totp-locked": false},
                ],
                "total": 2, "limit": 1, "offset": 0,
                "hint": "1 more; call again with offset 1",
            })
        );
        let r = c.call("list_users", json!({"offset": 1}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"userid": "root@pam", "enable": 1, "expire": 0, "email": "root@example.com", "realm-type": "pam"}])
        );
    });
    assert_eq!(fake.lines(), ["GET /access/users"; 2]);
}

#[test]
fn list_api_tokens_of_all_users_and_of_one() {
    let mut fake = FakePve::new();
    fake.get("/access/users",
        json!([
            {"userid": "root@pam", "tokens": [{"tokenid": "mcp", "privsep": 1, "expire": 0}, {"tokenid": "backup", "privsep": 0, "comment": "pbs"}]},
            {"userid": "alice@pve"},
            {"userid": "bob@pve", "tokens": []},
        ]),
    );
    fake.get(
        "/access/users/alice@pve/token",
        json!([{"tokenid": "ci", "privsep": 1, "expire": 1900000000}]),
    );
    fake.fail(
        "GET",
        "/access/users/nobody@pve/token",
        500,
        "no such user ('nobody@pve')",
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_api_tokens", json!({})),
            &json!({
                "data": [
                    {"userid": "root@pam", "tokenid": "backup", "privsep": 0, "comment": "pbs"},
                    {"userid": "root@pam", "tokenid": "mcp", "privsep": 1, "expire": 0},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        let r = c.call("list_api_tokens", json!({"userid": "alice@pve"}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"userid": "alice@pve", "tokenid": "ci", "privsep": 1, "expire": 1900000000}])
        );
        assert_eq!(
            c.error("list_api_tokens", json!({"userid": "nobody@pve"})),
            "GET /access/users/nobody@pve/token: no such user ('nobody@pve')"
        );
        assert_eq!(
            c.error("list_api_tokens", json!({"userid": "alice"})),
            "invalid arguments: 'userid' must be a user such as admin@pve or root@pam, got 'alice'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /access/users?full=1",
            "GET /access/users/alice@pve/token",
            "GET /access/users/nobody@pve/token",
        ]
    );
}

#[test]
fn list_acl_sorted_by_path() {
    let mut fake = FakePve::new();
    fake.get("/access/acl",
        json!([
            {"path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser", "propagate": 1},
            {"path": "/", "type": "token", "ugid": "root@pam!mcp", "roleid": "PVEAuditor", "propagate": 1},
            {"path": "/", "type": "group", "ugid": "admins", "roleid": "Administrator", "propagate": 1},
        ]),
    );
    read_only(&fake, |c| {
        let r = c.call("list_acl", json!({}));
        assert_eq!(
            ok(&r)["data"],
            json!([
                {"path": "/", "type": "group", "ugid": "admins", "roleid": "Administrator", "propagate": 1},
                {"path": "/", "type": "token", "ugid": "root@pam!mcp", "roleid": "PVEAuditor", "propagate": 1},
                {"path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser", "propagate": 1},
            ])
        );
        assert_eq!(ok(&r)["total"], 3);
    });
    assert_eq!(fake.lines(), ["GET /access/acl"]);
}

// ---------------------------------------------------------------------------------------------
// The server's own permissions.

#[test]
fn get_my_permissions_says_which_tools_work() {
    let mut fake = FakePve::new();
    let perms = json!({
        "/vms": {"VM.Audit": 1},
        "/pool/prod": {"Pool.Audit": 1},
    });
    fake.get("/access/permissions", perms.clone());
    read_only(&fake, |c| {
        let r = c.call("get_my_permissions", json!({}));
        let d = &ok(&r)["data"];
        assert_eq!(d["identity"], "root@pam!mcp");
        assert_eq!(d["access"], "read-only");
        assert_eq!(d["permissions"], perms);
        let usable = crate::support::strings(&d["usable_tools"]);
        for tool in [
            "list_nodes",
            "get_vm_config",
            "list_vm_snapshots",
            "get_pool",
            "get_my_permissions",
        ] {
            assert!(
                usable.contains(&tool),
                "{tool} should be usable: {usable:?}"
            );
        }
        let lacking = d["lacking_tools"].as_array().unwrap();
        assert!(
            lacking.contains(
                &json!({"tool": "get_node_status", "needs": "Sys.Audit on /nodes/{node}"})
            ),
            "{lacking:?}"
        );
        assert!(
            lacking.contains(&json!({"tool": "get_ha_status", "needs": "Sys.Audit on /"})),
            "{lacking:?}"
        );
        // Only the tools offered at this access level are counted.
        assert!(!lacking.iter().any(|l| l["tool"] == "start_vm"));
        assert!(!usable.contains(&"start_vm"));
        assert_eq!(
            usable.len() + lacking.len(),
            c.tools.len(),
            "every listed tool is either usable or lacking"
        );
    });
    assert_eq!(fake.lines(), ["GET /access/permissions"]);
}

// ---------------------------------------------------------------------------------------------
// Certificates and backup jobs.

fn cert(filename: &str, notafter: u64) -> Value {
    json!({
        "filename": filename, "subject": "/CN=pve1.example.com", "issuer": "/CN=Proxmox Virtual Environment",
        "san": ["pve1.example.com", "192.168.1.10"], "notbefore": 1700000000, "notafter": notafter,
        "fingerprint": "AA:BB", "public-key-type": "rsaEncryption", "public-key-bits": 2048,
        "pem": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
    })
}

#[test]
fn list_node_certificates_of_one_node() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/certificates/info",
        json!([
            cert("pve-ssl.pem", 1795000000),
            cert("pve-root-ca.pem", 2000000000)
        ]),
    );
    read_only(&fake, |c| {
        let r = c.call("list_node_certificates", json!({"node": "pve1"}));
        let out = ok(&r);
        assert_eq!(out["total"], 2);
        assert_eq!(
            out["data"][1],
            json!({
                "node": "pve1", "filename": "pve-ssl.pem", "subject": "/CN=pve1.example.com",
                "issuer": "/CN=Proxmox Virtual Environment", "san": ["pve1.example.com", "192.168.1.10"],
                "notbefore": 1700000000, "notafter": 1795000000, "expires": "2026-11-18T11:06:40Z",
                "fingerprint": "AA:BB", "public-key-type": "rsaEncryption", "public-key-bits": 2048,
            })
        );
        assert_eq!(out["data"][0]["filename"], "pve-root-ca.pem");
        assert_eq!(out["data"][0]["expires"], "2033-05-18T03:33:20Z");
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/certificates/info"]);
}

#[test]
fn list_node_certificates_of_all_online_nodes() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes",
        json!([
            {"node": "pve2", "status": "online"},
            {"node": "pve3", "status": "offline"},
            {"node": "pve1", "status": "online"},
        ]),
    );
    fake.get(
        "/nodes/pve1/certificates/info",
        json!([cert("pve-ssl.pem", 1795000000)]),
    );
    fake.get(
        "/nodes/pve2/certificates/info",
        json!([cert("pveproxy-ssl.pem", 1795000000)]),
    );
    read_only(&fake, |c| {
        let r = c.call("list_node_certificates", json!({}));
        let out = ok(&r);
        let seen: Vec<(&str, &str)> = out["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["node"].as_str().unwrap(), c["filename"].as_str().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [("pve1", "pve-ssl.pem"), ("pve2", "pveproxy-ssl.pem")]
        );
        assert_eq!(out["hint"], "not online, not listed: pve3");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes",
            "GET /nodes/pve1/certificates/info",
            "GET /nodes/pve2/certificates/info",
        ]
    );
}

#[test]
fn list_backup_jobs_sorted() {
    let mut fake = FakePve::new();
    fake.get("/cluster/backup",
        json!([
            {"id": "backup-b", "type": "vzdump", "enabled": 0, "schedule": "sun 01:00", "storage": "pbs", "all": 1, "exclude": "101", "mode": "snapshot", "next-run": 1795000000, "prune-backups": {"keep-last": 3}},
            {"id": "backup-a", "type": "vzdump", "enabled": 1, "schedule": "daily", "storage": "local", "vmid": "100,200", "compress": "zstd", "mode": "stop", "repeat-missed": 0},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("list_backup_jobs", json!({})),
            &json!({
                "data": [
                    {"id": "backup-a", "enabled": 1, "schedule": "daily", "storage": "local", "vmid": "100,200", "compress": "zstd", "mode": "stop"},
                    {"id": "backup-b", "enabled": 0, "schedule": "sun 01:00", "storage": "pbs", "all": 1, "exclude": "101", "mode": "snapshot", "next-run": 1795000000, "prune-backups": {"keep-last": 3}},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
    });
    assert_eq!(fake.lines(), ["GET /cluster/backup"]);
}

// ---------------------------------------------------------------------------------------------
// Across the area.

#[test]
fn admin_write_tools_dry_run_sends_no_write() {
    let mut fake = FakePve::with_resources(resources());
    fake.status(
        "pve1/qemu/100",
        json!({"status": "running", "ha": {"managed": 0}}),
    );
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.get("/cluster/ha/resources", ha_resources());
    fake.get("/cluster/firewall/rules", rules());
    with(&fake, "full", |c| {
        for (name, args) in [
            ("add_ha_resource", json!({"vmid": 100})),
            ("remove_ha_resource", json!({"vmid": 100})),
            (
                "add_firewall_rule",
                json!({"type": "in", "action": "ACCEPT", "dport": "22", "proto": "tcp"}),
            ),
            ("delete_firewall_rule", json!({"pos": 2})),
        ] {
            let mut args = args;
            args["dry_run"] = json!(true);
            let r = c.call(name, args);
            let out = ok(&r);
            assert_eq!(out["dry_run"], true, "{name}");
            assert!(
                out["data"].is_null() && out["target"].is_object(),
                "{name}: {out}"
            );
        }
    });
    fake.assert_no_writes();
}
