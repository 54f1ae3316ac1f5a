//! The firewall tools beyond adding and deleting rules, against the mocked PVE: updating and
//! moving rules, IP sets, aliases, security groups and options at cluster, node and guest level,
//! and what `set_firewall_options` says a new enable flag or default policy would drop. Each test
//! shows the requests PVE received and the result the MCP client read; dry runs and refusals
//! send no write.

use serde_json::{json, Value};

use crate::support::{guest, session, with_access as with, FakePve};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("lxc/200", "dns", "pve2", "running", json!({})),
    ])
}

fn rules() -> Value {
    json!([
        {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 1, "digest": "r1"},
        {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80", "enable": 1, "digest": "r1"},
    ])
}

// ---------------------------------------------------------------------------------------------
// Rules.

#[test]
fn update_firewall_rule_changes_and_moves() {
    let mut fake = FakePve::new();
    fake.get("/cluster/firewall/rules", rules());
    fake.ok("PUT", "/cluster/firewall/rules/1", Value::Null);
    fake.get(
        "/nodes/pve1/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "DROP", "enable": 1, "digest": "n1"}]),
    );
    fake.ok("PUT", "/nodes/pve1/firewall/rules/0", Value::Null);
    with(&fake, "operate", |c| {
        let r = c.ok(
            "update_firewall_rule",
            json!({"pos": 1, "digest": "r1", "source": "10.0.0.0/24", "dport": "80,443", "enable": false, "delete": "comment"}),
        );
        assert_eq!(r, json!({"data": null}));
        let r = c.ok(
            "update_firewall_rule",
            json!({"node": "pve1", "pos": 0, "moveto": 3}),
        );
        assert_eq!(r, json!({"data": null}));
        assert_eq!(
            c.error("update_firewall_rule", json!({"pos": 1, "digest": "stale", "enable": true})),
            "GET /cluster/firewall/rules: the rules changed since digest stale was read (now r1); list_firewall_rules again and check position 1"
        );
        assert_eq!(
            c.error("update_firewall_rule", json!({"pos": 5, "enable": true})),
            "GET /cluster/firewall/rules: no firewall rule at position 5 (2 rules); list_firewall_rules shows them"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/rules",
            "PUT /cluster/firewall/rules/1 source=10.0.0.0%2F24&dport=80%2C443&enable=0&delete=comment&digest=r1",
            "GET /nodes/pve1/firewall/rules",
            "PUT /nodes/pve1/firewall/rules/0 moveto=3&digest=n1",
            "GET /cluster/firewall/rules",
            "GET /cluster/firewall/rules",
        ]
    );
}

#[test]
fn update_firewall_rule_dry_run_and_bad_arguments() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/nodes/pve2/lxc/200/firewall/rules",
        json!([{"pos": 0, "type": "out", "action": "REJECT", "enable": 1, "digest": "g2"}]),
    );
    with(&fake, "operate", |c| {
        let r = c.ok(
            "update_firewall_rule",
            json!({"vmid": 200, "pos": 0, "action": "ACCEPT", "dest": "+dc/dns-servers", "dry_run": true}),
        );
        assert_eq!(
            r,
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/nodes/pve2/lxc/200/firewall/rules/0",
                    "params": {"action": "ACCEPT", "dest": "+dc/dns-servers", "digest": "g2"}},
                "target": {"rule": {"pos": 0, "type": "out", "action": "REJECT", "enable": 1}, "digest": "g2"},
            })
        );
        let refusals = [
            (json!({"pos": 0, "source": "10.0.0.0/33"}), "invalid arguments: 'source' must be an IP, a CIDR (10.0.0.0/24), a range (10.0.0.1-10.0.0.9), a comma list of these, an alias or +ipset, got '10.0.0.0/33'"),
            (json!({"pos": 0, "dport": "70000"}), "invalid arguments: 'dport' must be ports, ranges (a:b) or service names, comma separated, got '70000'"),
            (json!({"pos": 0, "moveto": 2, "enable": true}), "invalid arguments: 'moveto' moves the rule and PVE ignores any other change sent with it: move it in one call, change it in another"),
            (json!({"pos": 0}), "invalid arguments: nothing to change: give moveto, or rule fields to set (type, action, source, …) or clear (delete)"),
            (json!({"pos": 0, "delete": "action"}), "invalid arguments: 'delete' may name source, dest, proto, dport, sport, macro, comment, iface, log, icmp-type, got 'action'"),
            (json!({"pos": 0, "dport": "22", "delete": "dport"}), "invalid arguments: 'dport' is both set and in 'delete'; do one"),
        ];
        for (args, message) in refusals {
            assert_eq!(c.error("update_firewall_rule", args), message);
        }
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/firewall/rules"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// IP sets.

#[test]
fn list_firewall_ipsets_with_their_entries() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/cluster/firewall/ipset",
        json!([
            {"name": "office", "comment": "HQ", "digest": "s1"},
            {"name": "management", "digest": "s1"},
        ]),
    );
    fake.get(
        "/cluster/firewall/ipset/management",
        json!([{"cidr": "10.0.0.0/24", "digest": "e1"}]),
    );
    fake.get(
        "/cluster/firewall/ipset/office",
        json!([
            {"cidr": "192.168.1.0/24", "comment": "LAN", "digest": "e2"},
            {"cidr": "192.168.1.13", "nomatch": 1, "digest": "e2"},
        ]),
    );
    fake.get("/nodes/pve1/qemu/100/firewall/ipset", json!([]));
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_firewall_ipsets", json!({})),
            json!({
                "data": [
                    {"name": "management", "entries": [{"cidr": "10.0.0.0/24"}]},
                    {"name": "office", "comment": "HQ", "entries": [
                        {"cidr": "192.168.1.0/24", "comment": "LAN"},
                        {"cidr": "192.168.1.13", "nomatch": 1},
                    ]},
                ],
                "total": 2, "limit": 100, "offset": 0, "digest": "s1",
            })
        );
        assert_eq!(
            c.ok("list_firewall_ipsets", json!({"vmid": 100, "limit": 5})),
            json!({"data": [], "total": 0, "limit": 5, "offset": 0})
        );
        // Only the sets on the page have their entries read.
        let r = c.ok("list_firewall_ipsets", json!({"limit": 1, "offset": 1}));
        assert_eq!(r["data"][0]["name"], "office");
        assert_eq!(
            c.error("list_firewall_ipsets", json!({"node": "pve1"})),
            "invalid arguments: PVE keeps IP sets for the cluster and for guests, not for nodes: pass vmid (node is the guest's node) or neither (the cluster's)"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/ipset",
            "GET /cluster/firewall/ipset/management",
            "GET /cluster/firewall/ipset/office",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/firewall/ipset",
            "GET /cluster/firewall/ipset",
            "GET /cluster/firewall/ipset/office",
        ]
    );
}

#[test]
fn create_firewall_ipset_and_its_dry_run() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/cluster/firewall/ipset",
        json!([{"name": "office", "digest": "s1"}]),
    );
    fake.post("/cluster/firewall/ipset", Value::Null);
    fake.get("/nodes/pve1/qemu/100/firewall/ipset", json!([]));
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "create_firewall_ipset",
                json!({"name": "backup-targets", "comment": "PBS"})
            ),
            json!({"data": null})
        );
        assert_eq!(
            c.ok(
                "create_firewall_ipset",
                json!({"vmid": 100, "name": "ipfilter-net0", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/qemu/100/firewall/ipset", "params": {"name": "ipfilter-net0"}},
                "target": {"ipsets": []},
            })
        );
        assert_eq!(
            c.error("create_firewall_ipset", json!({"name": "office"})),
            "GET /cluster/firewall/ipset: an IP set 'office' exists already; add_ipset_entry adds to it"
        );
        assert_eq!(
            c.error("create_firewall_ipset", json!({"name": "9lives"})),
            "invalid arguments: 'name' must be 2 to 64 characters: a letter, then letters, digits, '-' or '_', got '9lives'"
        );
    });
    assert_eq!(
        fake.writes(),
        ["POST /cluster/firewall/ipset name=backup-targets&comment=PBS"]
    );
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/ipset",
            "POST /cluster/firewall/ipset name=backup-targets&comment=PBS",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/firewall/ipset",
            "GET /cluster/firewall/ipset",
        ]
    );
}

#[test]
fn add_ipset_entry_checks_the_address() {
    let mut fake = FakePve::with_resources(resources());
    fake.post("/cluster/firewall/ipset/office", Value::Null);
    fake.get(
        "/nodes/pve2/lxc/200/firewall/ipset/allowed",
        json!([{"cidr": "fd00::/8", "digest": "e3"}]),
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "add_ipset_entry",
                json!({"name": "office", "cidr": "192.168.1.13", "nomatch": true, "comment": "printer"})
            ),
            json!({"data": null})
        );
        assert_eq!(
            c.ok(
                "add_ipset_entry",
                json!({"vmid": 200, "name": "allowed", "cidr": "office_gw", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve2/lxc/200/firewall/ipset/allowed", "params": {"cidr": "office_gw"}},
                "target": {"entries": [{"cidr": "fd00::/8"}], "digest": "e3"},
            })
        );
        for bad in ["10.0.0.0/40", "300.1.1.1", "10.0.0.0/24 ", "-x"] {
            assert_eq!(
                c.error("add_ipset_entry", json!({"name": "office", "cidr": bad})),
                format!("invalid arguments: 'cidr' must be an IP (10.0.0.5), a network in CIDR notation (10.0.0.0/24, fd00::/8) or an alias name, got '{bad}'")
            );
        }
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /cluster/firewall/ipset/office cidr=192.168.1.13&nomatch=1&comment=printer",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/firewall/ipset/allowed",
        ]
    );
}

#[test]
fn remove_ipset_entry_sends_the_digest_it_read() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/firewall/ipset/management",
        json!([
            {"cidr": "10.0.0.0/24", "digest": "m1"},
            {"cidr": "fd00::/8", "comment": "v6", "digest": "m1"},
        ]),
    );
    fake.ok(
        "DELETE",
        "/cluster/firewall/ipset/management/fd00::%2F8",
        Value::Null,
    );
    with(&fake, "full", |c| {
        let r = c.ok(
            "remove_ipset_entry",
            json!({"name": "management", "cidr": "10.0.0.0/24", "dry_run": true}),
        );
        assert_eq!(
            r,
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/cluster/firewall/ipset/management/10.0.0.0%2F24", "params": {"digest": "m1"}},
                "target": {
                    "entry": {"cidr": "10.0.0.0/24"},
                    "warning": "the cluster's management IP set: PVE accepts the GUI/API (TCP 8006) and SSH from its entries when the firewall is on; removing the address this server connects from cuts it off",
                },
            })
        );
        assert_eq!(
            c.ok(
                "remove_ipset_entry",
                json!({"name": "management", "cidr": "fd00::/8", "digest": "m1"})
            ),
            json!({"data": null})
        );
        assert_eq!(
            c.error("remove_ipset_entry", json!({"name": "management", "cidr": "10.9.9.9"})),
            "GET /cluster/firewall/ipset/management: IP set 'management' has no entry '10.9.9.9'; list_firewall_ipsets shows its entries"
        );
        assert_eq!(
            c.error("remove_ipset_entry", json!({"name": "management", "cidr": "10.0.0.0/24", "digest": "old"})),
            "GET /cluster/firewall/ipset/management: the IP set changed since digest old was read (now m1); list_firewall_ipsets again and check the entry"
        );
    });
    assert_eq!(
        fake.writes(),
        ["DELETE /cluster/firewall/ipset/management/fd00::%2F8?digest=m1"]
    );
    assert_eq!(fake.lines().len(), 5);
}

#[test]
fn delete_firewall_ipset_needs_force_for_entries() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/cluster/firewall/ipset/office",
        json!([{"cidr": "192.168.1.0/24", "digest": "e2"}]),
    );
    fake.ok("DELETE", "/cluster/firewall/ipset/office", Value::Null);
    fake.config("pve1/qemu/100", json!({"name": "web"}));
    fake.get("/nodes/pve1/qemu/100/firewall/ipset/empty", json!([]));
    with(&fake, "full", |c| {
        assert_eq!(
            c.error("delete_firewall_ipset", json!({"name": "office"})),
            "GET /cluster/firewall/ipset/office: IP set 'office' has 1 entries; pass force: true to delete them with it; nothing was deleted"
        );
        assert_eq!(
            c.ok(
                "delete_firewall_ipset",
                json!({"vmid": 100, "name": "empty", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/nodes/pve1/qemu/100/firewall/ipset/empty", "params": {}},
                "target": {"name": "empty", "entries": []},
            })
        );
        assert_eq!(
            c.ok(
                "delete_firewall_ipset",
                json!({"name": "office", "force": true})
            ),
            json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/ipset/office",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/firewall/ipset/empty",
            "GET /cluster/firewall/ipset/office",
            "DELETE /cluster/firewall/ipset/office?force=1",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Aliases and security groups.

#[test]
fn firewall_aliases_listed_created_and_deleted() {
    let mut fake = FakePve::with_resources(resources());
    let aliases = json!([
        {"name": "office_gw", "cidr": "192.168.1.1", "digest": "a1"},
        {"name": "backup", "cidr": "10.0.5.0/24", "comment": "PBS", "digest": "a1"},
    ]);
    fake.get("/cluster/firewall/aliases", aliases);
    fake.post("/cluster/firewall/aliases", Value::Null);
    fake.ok("DELETE", "/cluster/firewall/aliases/backup", Value::Null);
    fake.get("/nodes/pve2/lxc/200/firewall/aliases", json!([]));
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("list_firewall_aliases", json!({})),
            json!({
                "data": [
                    {"name": "backup", "cidr": "10.0.5.0/24", "comment": "PBS"},
                    {"name": "office_gw", "cidr": "192.168.1.1"},
                ],
                "total": 2, "limit": 100, "offset": 0, "digest": "a1",
            })
        );
        assert_eq!(
            c.ok(
                "create_firewall_alias",
                json!({"name": "dns", "cidr": "10.0.0.53"})
            ),
            json!({"data": null})
        );
        assert_eq!(
            c.ok(
                "create_firewall_alias",
                json!({"vmid": 200, "name": "upstream", "cidr": "2001:db8::/32", "comment": "ISP", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve2/lxc/200/firewall/aliases",
                    "params": {"name": "upstream", "cidr": "2001:db8::/32", "comment": "ISP"}},
                "target": {"aliases": []},
            })
        );
        assert_eq!(
            c.error(
                "create_firewall_alias",
                json!({"name": "backup", "cidr": "10.0.6.0/24"})
            ),
            "GET /cluster/firewall/aliases: an alias 'backup' exists already (for 10.0.5.0/24)"
        );
        assert_eq!(
            c.error("create_firewall_alias", json!({"name": "x2", "cidr": "office_gw"})),
            "invalid arguments: 'cidr' must be an IP (10.0.0.5) or a network in CIDR notation (10.0.0.0/24, fd00::/8), got 'office_gw'"
        );
        assert_eq!(
            c.ok(
                "delete_firewall_alias",
                json!({"name": "backup", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/cluster/firewall/aliases/backup", "params": {"digest": "a1"}},
                "target": {"name": "backup", "cidr": "10.0.5.0/24", "comment": "PBS"},
            })
        );
        assert_eq!(
            c.ok("delete_firewall_alias", json!({"name": "backup"})),
            json!({"data": null})
        );
        assert_eq!(
            c.error("delete_firewall_alias", json!({"name": "nope"})),
            "GET /cluster/firewall/aliases: no alias 'nope'; list_firewall_aliases shows them"
        );
    });
    assert_eq!(
        fake.writes(),
        [
            "POST /cluster/firewall/aliases name=dns&cidr=10.0.0.53",
            "DELETE /cluster/firewall/aliases/backup?digest=a1",
        ]
    );
}

#[test]
fn list_security_groups_with_their_rules() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/firewall/groups",
        json!([
            {"group": "webserver", "comment": "HTTP(S)", "digest": "x"},
            {"group": "admin", "digest": "x"},
        ]),
    );
    fake.get(
        "/cluster/firewall/groups/admin",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 1, "digest": "y"}]),
    );
    fake.get(
        "/cluster/firewall/groups/webserver",
        json!([
            {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "443", "enable": 1, "digest": "z"},
            {"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80", "enable": 1, "digest": "z"},
        ]),
    );
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_security_groups", json!({})),
            json!({
                "data": [
                    {"group": "admin", "rules": [{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 1}]},
                    {"group": "webserver", "comment": "HTTP(S)", "rules": [
                        {"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80", "enable": 1},
                        {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "443", "enable": 1},
                    ]},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/groups",
            "GET /cluster/firewall/groups/admin",
            "GET /cluster/firewall/groups/webserver",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Options.

#[test]
fn get_firewall_options_at_each_level() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/cluster/firewall/options",
        json!({"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT", "ebtables": 1, "digest": "o1"}),
    );
    fake.get(
        "/nodes/pve1/firewall/options",
        json!({"enable": 1, "nosmurfs": 1, "digest": "o2"}),
    );
    fake.get(
        "/nodes/pve2/lxc/200/firewall/options",
        json!({"enable": 0, "policy_in": "ACCEPT", "digest": "o3"}),
    );
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("get_firewall_options", json!({})),
            json!({"data": {"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT", "ebtables": 1, "digest": "o1"}})
        );
        assert_eq!(
            c.ok("get_firewall_options", json!({"node": "pve1"}))["data"]["nosmurfs"],
            1
        );
        assert_eq!(
            c.ok("get_firewall_options", json!({"vmid": 200}))["data"]["policy_in"],
            "ACCEPT"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/options",
            "GET /nodes/pve1/firewall/options",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/firewall/options",
        ]
    );
}

#[test]
fn set_firewall_options_dry_run_says_what_turning_the_firewall_on_would_drop() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/firewall/options",
        json!({"enable": 0, "policy_in": "ACCEPT", "digest": "o1"}),
    );
    fake.get(
        "/cluster/firewall/rules",
        json!([
            {"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 1, "digest": "r1"},
            {"pos": 1, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "192.168.1.5", "enable": 1, "digest": "r1"},
            {"pos": 2, "type": "group", "action": "webadmin", "enable": 1, "digest": "r1"},
            {"pos": 3, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "enable": 0, "digest": "r1"},
        ]),
    );
    fake.get(
        "/cluster/firewall/groups/webadmin",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8000:8010", "source": "+office", "enable": 1, "digest": "g"}]),
    );
    fake.get(
        "/cluster/firewall/ipset",
        json!([{"name": "management", "digest": "s"}]),
    );
    fake.get(
        "/cluster/firewall/ipset/management",
        json!([{"cidr": "10.0.0.0/24", "digest": "m"}]),
    );
    fake.get("/cluster/firewall/aliases", json!([]));
    with(&fake, "full", |c| {
        let r = c.ok(
            "set_firewall_options",
            json!({"options": {"enable": true, "policy_in": "DROP"}, "dry_run": true}),
        );
        assert_eq!(
            r["request"],
            json!({"method": "PUT", "path": "/cluster/firewall/options", "params": {"enable": "1", "policy_in": "DROP", "digest": "o1"}})
        );
        assert_eq!(
            r["target"]["options"],
            json!({"enable": 0, "policy_in": "ACCEPT", "digest": "o1"})
        );
        assert_eq!(
            r["target"]["lockout"],
            json!({
                "risk": "possible",
                "findings": [
                    "the cluster firewall is off now: this turns it on for every node within seconds",
                    "policy_in DROP: TCP 8006 (the API and GUI) would be accepted only from the management IP set (10.0.0.0/24); local_network (each node's own network, detected by PVE); 192.168.1.5 (cluster rule 1); +office (cluster rule 2 (group webadmin rule 0)). This server cannot see its own address as PVE sees it (NAT, proxies): unless that address is among these, policy_in DROP with no rule accepting TCP 8006 from this server would cut this server off",
                    "node rules not checked here can change this; list_firewall_rules shows each node's",
                ],
            })
        );
        // Only logging: nothing to check.
        let r = c.ok(
            "set_firewall_options",
            json!({"options": {"ebtables": 0}, "delete": ["log_ratelimit"], "dry_run": true}),
        );
        assert_eq!(
            r["target"]["lockout"],
            json!({"risk": "none", "findings": ["this change touches neither enable nor a default policy: what the firewall lets through stays as it is"]})
        );
        assert_eq!(
            r["request"]["params"],
            json!({"ebtables": "0", "delete": "log_ratelimit", "digest": "o1"})
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/options",
            "GET /cluster/firewall/rules",
            "GET /cluster/firewall/groups/webadmin",
            "GET /cluster/firewall/ipset",
            "GET /cluster/firewall/ipset/management",
            "GET /cluster/firewall/aliases",
            "GET /cluster/firewall/options",
        ]
    );
}

#[test]
fn set_firewall_options_sends_the_change_with_its_lockout_report() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/firewall/options",
        json!({"enable": 1, "policy_in": "ACCEPT", "digest": "o1"}),
    );
    fake.get(
        "/cluster/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22,8006", "enable": 1, "digest": "r1"}]),
    );
    fake.ok("PUT", "/cluster/firewall/options", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "set_firewall_options",
                json!({"options": {"policy_in": "DROP", "policy_out": "REJECT"}, "digest": "o1"})
            ),
            json!({
                "data": null,
                "lockout": {"risk": "low", "findings": [
                    "policy_in DROP, but cluster rule 0 accepts TCP 8006 (the API this server uses) from anywhere",
                    "policy_out REJECT: replies on connections to the nodes (the API included) still pass, but connections the nodes open (updates, DNS, NTP, storage, backups) need out rules",
                    "node rules not checked here can change this; list_firewall_rules shows each node's",
                ]},
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/firewall/options",
            "GET /cluster/firewall/rules",
            "PUT /cluster/firewall/options policy_in=DROP&policy_out=REJECT&digest=o1",
        ]
    );
}

#[test]
fn set_firewall_options_of_a_node_sees_a_rule_dropping_the_api() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/firewall/options",
        json!({"enable": 0, "digest": "n1"}),
    );
    fake.get(
        "/cluster/firewall/options",
        json!({"enable": 1, "digest": "o1"}),
    );
    fake.get(
        "/nodes/pve1/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "REJECT", "proto": "tcp", "dport": "8000:9000", "enable": 1, "digest": "n2"}]),
    );
    fake.get("/cluster/firewall/rules", json!([]));
    with(&fake, "full", |c| {
        let r = c.ok(
            "set_firewall_options",
            json!({"node": "pve1", "options": {"enable": 1, "nf_conntrack_max": 65536}, "dry_run": true}),
        );
        assert_eq!(
            r["request"],
            json!({"method": "PUT", "path": "/nodes/pve1/firewall/options", "params": {"enable": "1", "nf_conntrack_max": "65536", "digest": "n1"}})
        );
        assert_eq!(
            r["target"]["lockout"]["findings"][0],
            "node pve1 rule 0 (REJECT, any source) stops TCP 8006 (the API and GUI) before any rule accepts it: this server and every other client would be cut off"
        );
        assert_eq!(r["target"]["lockout"]["risk"], "high");
    });
    fake.assert_no_writes();
}

#[test]
fn set_firewall_options_of_a_guest_warns_about_policy_out() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/nodes/pve1/qemu/100/firewall/options",
        json!({"enable": 0, "digest": "g1"}),
    );
    fake.get("/cluster/firewall/options", json!({"enable": 1}));
    fake.get(
        "/nodes/pve1/qemu/100/firewall/rules",
        json!([{"pos": 0, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 1, "digest": "r"}]),
    );
    with(&fake, "full", |c| {
        let r = c.ok(
            "set_firewall_options",
            json!({"vmid": 100, "options": {"enable": true, "policy_out": "DROP"}, "dry_run": true}),
        );
        assert_eq!(
            r["target"]["lockout"],
            json!({"risk": "possible", "findings": [
                "policy_in DROP: connections into guest 100 (SSH, its services) are dropped unless a rule accepts them; 1 enabled rules accept incoming traffic",
                "policy_out DROP with no rule accepting outgoing TCP 8006: if this server runs inside guest 100, it would be cut off from the PVE API (this server cannot tell where it runs)",
                "a guest's firewall filters only the network devices with firewall=1 in guest 100's config",
            ]})
        );
    });
    fake.assert_no_writes();
}

#[test]
fn set_firewall_options_refuses_unknown_keys_and_bad_values() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/cluster/firewall/options",
        json!({"enable": 1, "digest": "o1"}),
    );
    with(&fake, "full", |c| {
        let refusals = [
            (json!({"options": {"policy_in": "DROP", "ipfilter": 1, "nftables": 1}}), "invalid arguments: PVE's cluster firewall options have no 'ipfilter', 'nftables'; cluster options are: enable, ebtables, log_ratelimit, policy_forward, policy_in, policy_out"),
            (json!({"node": "pve1", "delete": ["policy_in"]}), "invalid arguments: PVE's node firewall options have no 'policy_in'; node options are: enable, log_level_forward, log_level_in, log_level_out, log_nf_conntrack, ndp, nf_conntrack_allow_invalid, nf_conntrack_helpers, nf_conntrack_max, nf_conntrack_tcp_timeout_established, nf_conntrack_tcp_timeout_syn_recv, nftables, nosmurfs, protection_synflood, protection_synflood_burst, protection_synflood_rate, smurf_log_level, tcp_flags_log_level, tcpflags"),
            (json!({"vmid": 100, "options": {"policy_forward": "DROP"}}), "invalid arguments: PVE's guest firewall options have no 'policy_forward'; guest options are: dhcp, enable, ipfilter, log_level_in, log_level_out, macfilter, ndp, policy_in, policy_out, radv"),
            (json!({"options": {"policy_in": "drop"}}), "invalid arguments: option 'policy_in' must be one of ACCEPT, REJECT, DROP, got \"drop\""),
            (json!({"options": {"enable": 2}}), "invalid arguments: option 'enable' must be true or false (or 1/0), got 2"),
            (json!({"node": "pve1", "options": {"nf_conntrack_tcp_timeout_syn_recv": 90}}), "invalid arguments: option 'nf_conntrack_tcp_timeout_syn_recv' must be between 30 and 60, got 90"),
            (json!({"options": {"enable": 1}, "delete": ["enable"]}), "invalid arguments: option 'enable' is both set and in 'delete'; do one"),
            (json!({}), "invalid arguments: nothing to change: give options to set, or delete to reset keys to PVE's default"),
            (json!({"options": {"enable": 0}, "digest": "old"}), "GET /cluster/firewall/options: the options changed since digest old was read (now o1); get_firewall_options again and check them"),
        ];
        for (args, message) in refusals {
            assert_eq!(c.error("set_firewall_options", args), message);
        }
    });
    fake.assert_no_writes();
    // Only the stale digest got as far as reading the options.
    assert_eq!(fake.lines(), ["GET /cluster/firewall/options"]);
    // Options can lock everyone out: access full only.
    let fake = FakePve::new();
    with(&fake, "operate", |c| {
        assert_eq!(
            c.error("set_firewall_options", json!({"options": {"enable": 1}})),
            "set_firewall_options can lose data and needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; to allow it, restart the server with PROXMOX_MCP_ACCESS=full (or --access full)"
        );
    });
    fake.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// Protected guests.

#[test]
fn protected_guests_firewall_is_left_alone() {
    let fake = FakePve::with_resources(resources());
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "100"),
    ];
    session(&fake, &settings, |c| {
        let calls = [
            (
                "update_firewall_rule",
                json!({"vmid": 100, "pos": 0, "enable": false}),
            ),
            ("create_firewall_ipset", json!({"vmid": 100, "name": "x1"})),
            (
                "add_ipset_entry",
                json!({"vmid": 100, "name": "x1", "cidr": "10.0.0.1"}),
            ),
            (
                "remove_ipset_entry",
                json!({"vmid": 100, "name": "x1", "cidr": "10.0.0.1"}),
            ),
            ("delete_firewall_ipset", json!({"vmid": 100, "name": "x1"})),
            (
                "create_firewall_alias",
                json!({"vmid": 100, "name": "gw", "cidr": "10.0.0.1"}),
            ),
            ("delete_firewall_alias", json!({"vmid": 100, "name": "gw"})),
            (
                "set_firewall_options",
                json!({"vmid": 100, "options": {"enable": 0}, "dry_run": true}),
            ),
        ];
        for (tool, args) in calls {
            assert_eq!(
                c.error(tool, args),
                "guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 100); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED",
                "{tool}"
            );
        }
    });
    fake.assert_untouched();
}

#[test]
fn the_firewall_tools_need_the_firewall_toolset() {
    let fake = FakePve::new();
    session(&fake, &[("PROXMOX_MCP_ACCESS", "full")], |c| {
        let names = c.tool_names();
        assert!(!names.contains(&"set_firewall_options"), "{names:?}");
        assert!(!names.contains(&"list_firewall_ipsets"), "{names:?}");
    });
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "firewall"),
    ];
    session(&fake, &settings, |c| {
        let mut names = c.tool_names();
        names.sort();
        assert_eq!(
            names,
            [
                "add_firewall_rule",
                "add_ipset_entry",
                "create_firewall_alias",
                "create_firewall_ipset",
                "delete_firewall_alias",
                "delete_firewall_ipset",
                "delete_firewall_rule",
                "get_firewall_options",
                "list_firewall_aliases",
                "list_firewall_ipsets",
                "list_firewall_rules",
                "list_security_groups",
                "remove_ipset_entry",
                "set_firewall_options",
                "update_firewall_rule",
            ]
        );
    });
    fake.assert_untouched();
}
