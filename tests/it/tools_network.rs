//! The network and SDN tools against the mocked PVE: a node's bridges, bonds and VLANs (staged,
//! reverted, applied) and SDN zones, vnets and subnets. Each test shows the requests PVE received
//! and the result the MCP client read; dry runs and refusals send no write.
//!
//! The mocked PVE listens at 127.0.0.1, so that is the address this server reaches PVE at
//! (`PROXMOX_HOST`); the node's fixture puts it on vmbr0 to show the warning a change to that
//! interface gets.

use serde_json::{json, Value};

use crate::support::{polled, session, with_access as with, FakePve, UPID};

const DIFF: &str = "--- /etc/network/interfaces\t2026-11-24 10:00:00\n+++ /etc/network/interfaces.new\t2026-11-24 10:05:00\n@@ -12,3 +12,9 @@\n+auto vmbr2\n+iface vmbr2 inet static\n+\taddress 10.0.0.2/24\n+\tbridge-ports eno3\n";

/// pve1's interfaces as `GET /nodes/pve1/network` lists them (with its staged changes).
#[rustfmt::skip]
fn interfaces() -> Value {
    json!([
        {"iface": "eno1", "type": "eth", "active": 1, "exists": 1, "method": "manual", "families": ["inet"], "priority": 3},
        {"iface": "eno2", "type": "eth", "active": 1, "exists": 1, "method": "manual"},
        {"iface": "eno3", "type": "eth", "active": 1, "exists": 1, "method": "manual"},
        {"iface": "vmbr0", "type": "bridge", "active": 1, "autostart": 1, "method": "static", "cidr": "127.0.0.1/8", "address": "127.0.0.1", "netmask": "8", "gateway": "127.0.0.254", "bridge_ports": "eno1", "bridge_stp": "off", "bridge_fd": "0"},
        {"iface": "vmbr1", "type": "bridge", "active": 1, "autostart": 1, "method": "manual", "bridge_ports": "eno2", "bridge_vlan_aware": 1, "bridge_vids": "2-4094"},
    ])
}

fn vmbr(n: usize) -> Value {
    interfaces()[3 + n].clone()
}

/// A fake whose pve1 has `interfaces()`, with `changes` staged (None: nothing staged).
fn node(changes: Option<&str>) -> FakePve {
    let mut fake = FakePve::new();
    let mut body = json!({"success": 1, "data": interfaces()});
    if let Some(diff) = changes {
        body["changes"] = json!(diff);
    }
    fake.answer("GET", "/nodes/pve1/network", 200, body, None);
    fake
}

const STAGED: &str = "staged in pve1's /etc/network/interfaces.new, not active: apply_network_config applies it (dry_run shows the diff), revert_network_config drops it";
const UNTOUCHED: &str =
    "127.0.0.1 (PROXMOX_HOST) is on vmbr0 (over eno1), which this change leaves alone";
const LIST: &str = "GET /nodes/pve1/network";

fn task_ok() -> Value {
    json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "duration_s": 3})
}

// ---------------------------------------------------------------------------------------------
// Creating interfaces.

#[test]
fn create_bridge_bond_and_vlans() {
    #[rustfmt::skip]
    let cases = [
        (json!({"iface": "vmbr2", "type": "bridge", "settings": {"cidr": "10.0.0.2/24", "bridge_ports": "eno3", "autostart": true, "comments": "lab"}}),
         "POST /nodes/pve1/network iface=vmbr2&type=bridge&autostart=1&bridge_ports=eno3&cidr=10.0.0.2%2F24&comments=lab"),
        (json!({"iface": "bond0", "type": "bond", "settings": {"slaves": "eno3", "bond_mode": "active-backup", "bond-primary": "eno3", "mtu": 9000}}),
         "POST /nodes/pve1/network iface=bond0&type=bond&bond-primary=eno3&bond_mode=active-backup&mtu=9000&slaves=eno3"),
        (json!({"iface": "eno3.20", "type": "vlan", "settings": {"cidr6": "fd00::2/64"}}),
         "POST /nodes/pve1/network iface=eno3.20&type=vlan&cidr6=fd00%3A%3A2%2F64"),
        (json!({"iface": "vlan30", "type": "vlan", "settings": {"vlan-id": 30, "vlan-raw-device": "vmbr1"}}),
         "POST /nodes/pve1/network iface=vlan30&type=vlan&vlan-id=30&vlan-raw-device=vmbr1"),
    ];
    for (mut args, expected) in cases {
        let mut fake = node(None);
        fake.post("/nodes/pve1/network", Value::Null);
        args["node"] = json!("pve1");
        with(&fake, "operate", |c| {
            assert_eq!(
                c.ok("create_network_interface", args),
                json!({"data": null, "pending": STAGED})
            );
        });
        assert_eq!(fake.lines(), [LIST, expected]);
    }
}

#[test]
fn create_network_interface_dry_run() {
    let fake = node(Some(DIFF));
    with(&fake, "operate", |c| {
        let args = json!({"node": "pve1", "iface": "vmbr2", "type": "bridge", "settings": {"bridge_ports": "eno3 ", "bridge_vlan_aware": 1}, "dry_run": true});
        assert_eq!(
            c.ok("create_network_interface", args),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/network", "params": {"iface": "vmbr2", "type": "bridge", "bridge_ports": "eno3", "bridge_vlan_aware": "1"}},
                "target": {"interface": null, "connection": UNTOUCHED, "pending_changes": DIFF},
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), [LIST]);
}

#[test]
fn create_network_interface_refusals() {
    let fake = node(None);
    let create = |settings: Value| json!({"node": "pve1", "iface": "vmbr2", "type": "bridge", "settings": settings});
    #[rustfmt::skip]
    let cases = [
        (create(json!({"address": "10.0.0.2", "bridge_stp": "on", "mtu": 1500})),
         "invalid arguments: settings: address, bridge_stp not known for a bridge (this server sets cidr, gateway, cidr6, gateway6, mtu, autostart, comments, bridge_ports, bridge_vlan_aware, bridge_vids); nothing was sent"),
        (create(json!({"slaves": "eno3"})), "invalid arguments: settings: slaves not known for a bridge"),
        (create(json!({"cidr": "10.0.0.300/24"})), "invalid arguments: settings.cidr must be an IPv4 address with its prefix, e.g. 10.0.0.2/24, got '10.0.0.300/24'"),
        (create(json!({"cidr": "fd00::1/64"})), "invalid arguments: settings.cidr must be an IPv4 address"),
        (create(json!({"mtu": 100})), "invalid arguments: settings.mtu must be between 1280 and 65520, got 100"),
        (create(json!({"bridge_vids": "0 5000"})), "invalid arguments: settings.bridge_vids must be VLAN ids (1-4094) or ranges"),
        (create(json!({"comments": "a\nauto eno1"})), "invalid arguments: settings.comments must be one line"),
        (create(json!({"bridge_ports": "eno1"})), "GET /nodes/pve1/network: eno1 (bridge_ports) is already used by vmbr0 (eno1 is its bridge port); nothing was sent"),
        (create(json!({"bridge_ports": "eno9"})), "GET /nodes/pve1/network: eno9 (bridge_ports) is not an interface of pve1; list_node_networks shows them"),
        (create(json!({"bridge_ports": "vmbr2"})), "GET /nodes/pve1/network: vmbr2 cannot be its own bridge_ports"),
        (create(json!({"cidr": "10.0.0.2/24", "gateway": "10.0.0.1"})), "GET /nodes/pve1/network: pve1 already has a default gateway on vmbr0 (127.0.0.254); PVE allows one per node"),
        (json!({"node": "pve1", "iface": "vmbr1", "type": "bridge"}), "GET /nodes/pve1/network: vmbr1 already exists on pve1 (type bridge); update_network_interface changes it"),
        (json!({"node": "pve1", "iface": "ovs0", "type": "OVSBridge"}), "invalid arguments: 'type' must be one of bridge, bond, vlan, got 'OVSBridge'"),
        (json!({"node": "pve1", "iface": "uplink", "type": "bond"}), "invalid arguments: a bond's name is bondN, e.g. bond0; got 'uplink'"),
        (json!({"node": "pve1", "iface": "vmbr-2", "type": "bridge"}), "invalid arguments: 'iface' must be an interface name"),
        (json!({"node": "pve1", "iface": "averyverylongnam", "type": "bridge"}), "invalid arguments: 'iface' must be an interface name"),
        (json!({"node": "pve1", "iface": "bond1", "type": "bond", "settings": {"slaves": "eno3", "bond-primary": "eno2"}}), "GET /nodes/pve1/network: bond-primary eno2 is not one of the slaves"),
        (json!({"node": "pve1", "iface": "bond1", "type": "bond", "settings": {"bond_mode": "balance-slb"}}), "invalid arguments: settings.bond_mode must be one of balance-rr, active-backup"),
        (json!({"node": "pve1", "iface": "vlan40", "type": "vlan"}), "GET /nodes/pve1/network: a VLAN named vlan40 needs vlan-id and vlan-raw-device (or a name like eno1.20)"),
        (json!({"node": "pve1", "iface": "eno3.40", "type": "vlan", "settings": {"vlan-id": 40}}), "GET /nodes/pve1/network: eno3.40 names its raw device and VLAN id; leave out vlan-id and vlan-raw-device"),
        (json!({"node": "pve1", "iface": "eno3.5000", "type": "vlan"}), "GET /nodes/pve1/network: eno3.5000: the VLAN id after '.' must be 1 to 4094"),
        (json!({"node": "pve1", "iface": "eno7.20", "type": "vlan"}), "GET /nodes/pve1/network: the VLAN's raw device eno7 is not an interface of pve1"),
    ];
    with(&fake, "operate", |c| {
        for (args, expected) in cases {
            let got = c.error("create_network_interface", args.clone());
            assert!(got.starts_with(expected), "{args}: {got}");
        }
    });
    fake.assert_no_writes();
    // Nothing is asked at read-only.
    let fake = node(None);
    with(&fake, "read-only", |c| {
        let got = c.error(
            "create_network_interface",
            json!({"node": "pve1", "iface": "vmbr2", "type": "bridge"}),
        );
        assert!(
            got.starts_with(
                "create_network_interface changes the cluster and needs access level operate"
            ),
            "{got}"
        );
    });
    fake.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// Updating and deleting.

#[test]
fn update_network_interface_sends_the_type_and_deletions() {
    let mut fake = node(None);
    fake.ok("PUT", "/nodes/pve1/network/vmbr1", Value::Null);
    with(&fake, "operate", |c| {
        let args = json!({"node": "pve1", "iface": "vmbr1", "settings": {"mtu": 9000, "comments": "guests"}, "delete": ["bridge_vids"]});
        assert_eq!(
            c.ok("update_network_interface", args),
            json!({"data": null, "pending": STAGED})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            LIST,
            "PUT /nodes/pve1/network/vmbr1 type=bridge&comments=guests&mtu=9000&delete=bridge_vids"
        ]
    );
}

#[test]
fn update_of_the_servers_interface_warns_in_the_dry_run() {
    let fake = node(None);
    with(&fake, "operate", |c| {
        let args = json!({"node": "pve1", "iface": "vmbr0", "settings": {"cidr": "10.0.0.5/24"}, "dry_run": true});
        assert_eq!(
            c.ok("update_network_interface", args),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/nodes/pve1/network/vmbr0", "params": {"type": "bridge", "cidr": "10.0.0.5/24"}},
                "target": {
                    "interface": vmbr(0),
                    "connection": "WARNING: 127.0.0.1, the address this server reaches PVE at (PROXMOX_HOST), runs over vmbr0, eno1; once applied, this change can cut this server off pve1: keep a console open",
                    "pending_changes": null,
                },
            })
        );
        // A port under it counts too.
        let args =
            json!({"node": "pve1", "iface": "eno1", "settings": {"mtu": 9000}, "dry_run": true});
        let target = &c.ok("update_network_interface", args)["target"];
        assert!(target["connection"].as_str().unwrap().starts_with("WARNING: 127.0.0.1, the address this server reaches PVE at (PROXMOX_HOST), runs over eno1;"), "{target}");
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), [LIST, LIST]);
}

#[test]
fn a_host_name_cannot_be_mapped_to_an_interface() {
    let fake = node(None);
    let host = fake.url().replace("127.0.0.1", "localhost");
    let settings = [
        ("PROXMOX_HOST", host.as_str()),
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "network"),
    ];
    session(&fake, &settings, |c| {
        let args = json!({"node": "pve1", "iface": "vmbr0", "dry_run": true});
        let out = c.ok("delete_network_interface", args);
        assert_eq!(
            out["target"]["connection"],
            "PROXMOX_HOST is the name localhost: this server cannot tell which interface carries it; make sure it is not vmbr0"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn update_network_interface_refusals() {
    let fake = node(None);
    #[rustfmt::skip]
    let cases = [
        (json!({"node": "pve1", "iface": "vmbr9", "settings": {"mtu": 9000}}), "GET /nodes/pve1/network: no interface vmbr9 on pve1; list_node_networks shows them"),
        (json!({"node": "pve1", "iface": "vmbr1", "delete": ["bridge_stp"]}), "invalid arguments: delete: 'bridge_stp' is not a setting of a bridge this server knows"),
        (json!({"node": "pve1", "iface": "vmbr1", "settings": {"mtu": 9000}, "delete": ["mtu"]}), "invalid arguments: 'mtu' is both set and deleted"),
        (json!({"node": "pve1", "iface": "vmbr1"}), "invalid arguments: give settings to change or delete; nothing was sent"),
        (json!({"node": "pve1", "iface": "eno3", "settings": {"bridge_ports": "eno2"}}), "invalid arguments: settings: bridge_ports not known for a eth"),
        (json!({"node": "pve1", "iface": "vmbr1", "settings": {"bridge_ports": "eno2 eno1"}}), "GET /nodes/pve1/network: eno1 (bridge_ports) is already used by vmbr0"),
        (json!({"node": "pve1", "iface": "vmbr1", "settings": {"gateway": "10.0.0.1"}}), "GET /nodes/pve1/network: pve1 already has a default gateway on vmbr0"),
    ];
    with(&fake, "operate", |c| {
        for (args, expected) in cases {
            let got = c.error("update_network_interface", args.clone());
            assert!(got.starts_with(expected), "{args}: {got}");
        }
    });
    fake.assert_no_writes();
}

#[test]
fn delete_network_interface() {
    let mut fake = node(None);
    fake.ok("DELETE", "/nodes/pve1/network/vmbr1", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "delete_network_interface",
                json!({"node": "pve1", "iface": "vmbr1"})
            ),
            json!({"data": null, "pending": STAGED})
        );
    });
    assert_eq!(fake.lines(), [LIST, "DELETE /nodes/pve1/network/vmbr1"]);
}

#[test]
fn delete_network_interface_dry_run_and_refusals() {
    let fake = node(Some(DIFF));
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "delete_network_interface",
                json!({"node": "pve1", "iface": "vmbr1", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/nodes/pve1/network/vmbr1", "params": {}},
                "target": {"interface": vmbr(1), "connection": UNTOUCHED, "pending_changes": DIFF},
            })
        );
        let out = c.ok(
            "delete_network_interface",
            json!({"node": "pve1", "iface": "vmbr0", "dry_run": true}),
        );
        assert!(
            out["target"]["connection"]
                .as_str()
                .unwrap()
                .starts_with("WARNING: 127.0.0.1"),
            "{out}"
        );
        assert_eq!(
            c.error("delete_network_interface", json!({"node": "pve1", "iface": "eno2"})),
            "GET /nodes/pve1/network: eno2 is of type 'eth'; this server deletes only bridges, bonds and VLANs"
        );
    });
    fake.assert_no_writes();

    // An interface another one rests on.
    let mut fake = FakePve::new();
    let mut list = interfaces();
    list.as_array_mut()
        .unwrap()
        .push(json!({"iface": "bond0", "type": "bond", "slaves": "eno3"}));
    list[4]["bridge_ports"] = json!("eno2 bond0");
    fake.get("/nodes/pve1/network", list);
    with(&fake, "full", |c| {
        assert_eq!(
            c.error("delete_network_interface", json!({"node": "pve1", "iface": "bond0"})),
            "GET /nodes/pve1/network: bond0 is in use by vmbr1 (bond0 is its bridge port); change or delete that first; nothing was sent"
        );
    });
    fake.assert_no_writes();

    // At operate it is not offered.
    let fake = node(None);
    with(&fake, "operate", |c| {
        let got = c.error(
            "delete_network_interface",
            json!({"node": "pve1", "iface": "vmbr1"}),
        );
        assert!(
            got.contains("can lose data and needs access level full"),
            "{got}"
        );
    });
    fake.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// Reverting and applying.

#[test]
fn revert_network_config() {
    let mut fake = node(Some(DIFF));
    fake.ok("DELETE", "/nodes/pve1/network", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "revert_network_config",
                json!({"node": "pve1", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/nodes/pve1/network", "params": {}},
                "target": {"pending_changes": DIFF},
            })
        );
        assert_eq!(fake.writes(), Vec::<String>::new());
        assert_eq!(
            c.ok("revert_network_config", json!({"node": "pve1"})),
            json!({"data": null})
        );
    });
    assert_eq!(fake.lines(), [LIST, "DELETE /nodes/pve1/network"]);
}

#[test]
fn apply_network_config_dry_run_shows_the_pending_diff() {
    let fake = node(Some(DIFF));
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "apply_network_config",
                json!({"node": "pve1", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/nodes/pve1/network", "params": {}},
                "target": {
                    "pending_changes": DIFF,
                    "note": "the diff is what PVE reports between /etc/network/interfaces and interfaces.new",
                    "connection": "127.0.0.1 (PROXMOX_HOST) is on vmbr0, eno1 in the staged config; a mistake in the diff for these interfaces cuts this server off pve1",
                },
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), [LIST]);

    // Staged changes that take the server's address away.
    let mut fake = FakePve::new();
    let mut list = interfaces();
    list[3]["cidr"] = json!("10.0.0.5/24");
    list[3]["address"] = json!("10.0.0.5");
    fake.answer(
        "GET",
        "/nodes/pve1/network",
        200,
        json!({"success": 1, "data": list}),
        None,
    );
    with(&fake, "full", |c| {
        let out = c.ok(
            "apply_network_config",
            json!({"node": "pve1", "dry_run": true}),
        );
        assert_eq!(out["target"]["pending_changes"], Value::Null);
        assert_eq!(
            out["target"]["note"],
            "nothing is staged: the reload re-applies /etc/network/interfaces as it is"
        );
        assert_eq!(
            out["target"]["connection"],
            "no interface of pve1 has 127.0.0.1 (PROXMOX_HOST) in the staged config: if this server reaches pve1 directly, applying cuts it off; if it goes through another node, NAT or a proxy, it does not"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn apply_network_config_waits_for_the_reload() {
    let mut fake = FakePve::new();
    fake.starts_task("PUT", "/nodes/pve1/network");
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("apply_network_config", json!({"node": "pve1"})),
            json!({"data": UPID, "task": task_ok()})
        );
    });
    assert_eq!(fake.lines(), polled(&["PUT /nodes/pve1/network"]));

    let fake = FakePve::new();
    with(&fake, "operate", |c| {
        let got = c.error("apply_network_config", json!({"node": "pve1"}));
        assert!(got.contains("needs access level full"), "{got}");
    });
    fake.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// SDN.

#[rustfmt::skip]
fn sdn() -> FakePve {
    let mut fake = FakePve::new();
    fake.get("/cluster/sdn/zones", json!([
        {"zone": "vlans", "type": "vlan", "bridge": "vmbr1", "ipam": "pve", "digest": "z1"},
        {"zone": "lan", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq", "digest": "z1"},
        {"zone": "overlay", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2", "state": "new", "digest": "z1"},
    ]));
    fake.get("/cluster/sdn/vnets", json!([
        {"vnet": "vnet10", "zone": "vlans", "tag": 10, "type": "vnet", "digest": "v1"},
        {"vnet": "lan1", "zone": "lan", "type": "vnet", "alias": "lab", "digest": "v1"},
        {"vnet": "vnet20", "zone": "vlans", "type": "vnet", "state": "new", "pending": {"tag": 20, "zone": "vlans"}, "digest": "v1"},
    ]));
    fake.get("/cluster/sdn/vnets/lan1/subnets", json!([
        {"subnet": "lan-10.1.0.0-24", "cidr": "10.1.0.0/24", "gateway": "10.1.0.1", "snat": 1, "type": "subnet", "vnet": "lan1", "zone": "lan", "network": "10.1.0.0", "mask": "24", "dhcp-range": [{"start-address": "10.1.0.100", "end-address": "10.1.0.200"}]},
    ]));
    fake.get("/cluster/sdn/vnets/vnet10/subnets", json!([]));
    fake.get("/cluster/sdn/vnets/vnet20/subnets", json!([
        {"subnet": "vlans-10.20.0.0-24", "cidr": "10.20.0.0/24", "type": "subnet", "vnet": "vnet20", "state": "new"},
    ]));
    fake
}

const ZONES: &str = "GET /cluster/sdn/zones?pending=1";
const VNETS: &str = "GET /cluster/sdn/vnets?pending=1";

fn subnets_of(vnet: &str) -> String {
    format!("GET /cluster/sdn/vnets/{vnet}/subnets?pending=1")
}

const SDN_STAGED: &str = "pending in the SDN config, not active: apply_sdn_config applies it (dry_run lists what is pending)";

#[test]
fn list_sdn_zones_by_id() {
    let fake = sdn();
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_sdn_zones", json!({})),
            json!({
                "data": [
                    {"zone": "lan", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq"},
                    {"zone": "overlay", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2", "state": "new"},
                    {"zone": "vlans", "type": "vlan", "bridge": "vmbr1", "ipam": "pve"},
                ],
                "total": 3, "limit": 100, "offset": 0,
            })
        );
    });
    assert_eq!(fake.lines(), [ZONES]);
}

#[test]
fn list_sdn_vnets_with_their_subnets() {
    let fake = sdn();
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_sdn_vnets", json!({})),
            json!({
                "data": [
                    {"vnet": "lan1", "zone": "lan", "alias": "lab", "subnets": [
                        {"subnet": "lan-10.1.0.0-24", "cidr": "10.1.0.0/24", "gateway": "10.1.0.1", "snat": 1, "dhcp-range": [{"start-address": "10.1.0.100", "end-address": "10.1.0.200"}]},
                    ]},
                    {"vnet": "vnet10", "zone": "vlans", "tag": 10, "subnets": []},
                    {"vnet": "vnet20", "zone": "vlans", "state": "new", "pending": {"tag": 20, "zone": "vlans"}, "subnets": [
                        {"subnet": "vlans-10.20.0.0-24", "cidr": "10.20.0.0/24", "state": "new"},
                    ]},
                ],
                "total": 3, "limit": 100, "offset": 0,
            })
        );
        let one = c.ok("list_sdn_vnets", json!({"zone": "vlans", "limit": 1}));
        assert_eq!(one["data"][0]["vnet"], "vnet10");
        assert_eq!(one["total"], 2);
        assert_eq!(
            c.error("list_sdn_vnets", json!({"zone": "../x"})),
            "invalid arguments: 'zone' must be a letter, then letters and digits, 2 to 8 characters; got '../x'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            VNETS.to_string(),
            subnets_of("lan1"),
            subnets_of("vnet10"),
            subnets_of("vnet20"),
            VNETS.to_string(),
            subnets_of("vnet10"),
        ]
    );
}

#[test]
fn create_sdn_vnet() {
    let mut fake = sdn();
    fake.post("/cluster/sdn/vnets", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok("create_sdn_vnet", json!({"vnet": "vnet30", "zone": "vlans", "tag": 30, "alias": "guests (30)", "vlanaware": false})),
            json!({"data": null, "pending": SDN_STAGED})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            ZONES,
            VNETS,
            "POST /cluster/sdn/vnets vnet=vnet30&zone=vlans&tag=30&alias=guests%20%2830%29&vlanaware=0"
        ]
    );
}

#[test]
fn create_sdn_vnet_dry_run_and_refusals() {
    let fake = sdn();
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "create_sdn_vnet",
                json!({"vnet": "lan2", "zone": "lan", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/cluster/sdn/vnets", "params": {"vnet": "lan2", "zone": "lan"}},
                "target": {
                    "zone": {"zone": "lan", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq"},
                    "vnets_in_zone": [{"vnet": "lan1", "zone": "lan", "alias": "lab"}],
                },
            })
        );
        #[rustfmt::skip]
        let cases = [
            (json!({"vnet": "vnet30", "zone": "vlans"}), "invalid arguments: zone vlans is a vlan zone: give the vnet's VLAN tag"),
            (json!({"vnet": "vnet30", "zone": "vlans", "tag": 5000}), "invalid arguments: zone vlans is a vlan zone: the tag is a VLAN id, 1 to 4094"),
            (json!({"vnet": "lan2", "zone": "lan", "tag": 5}), "invalid arguments: zone lan is a simple zone, which takes no tag"),
            (json!({"vnet": "ov1", "zone": "overlay"}), "invalid arguments: zone overlay is a vxlan zone: give the vnet's VNI as tag"),
            (json!({"vnet": "x1", "zone": "nope"}), "GET /cluster/sdn/zones: no zone nope (or the credentials lack SDN.Audit on it); list_sdn_zones shows them"),
            (json!({"vnet": "vnet10", "zone": "vlans", "tag": 11}), "GET /cluster/sdn/vnets: vnet vnet10 already exists; list_sdn_vnets shows it"),
            (json!({"vnet": "vnet_30", "zone": "vlans"}), "invalid arguments: 'vnet' must be a letter, then letters and digits, 2 to 8 characters; got 'vnet_30'"),
            (json!({"vnet": "averylongname", "zone": "vlans"}), "invalid arguments: 'vnet' may be at most 8 characters long"),
            (json!({"vnet": "v3", "zone": "lan", "alias": "web & db"}), "invalid arguments: 'alias' may hold letters, digits, spaces and ( ) * + , - . / : ; < = > ? @ [ ] ^ _, not '&'"),
            (json!({"vnet": "v3", "zone": "lan", "alias": "a\u{7}b"}), "invalid arguments: 'alias' may hold letters, digits, spaces and ( ) * + , - . / : ; < = > ? @ [ ] ^ _, not '\\u{7}'"),
        ];
        for (args, expected) in cases {
            let got = c.error("create_sdn_vnet", args.clone());
            assert!(got.starts_with(expected), "{args}: {got}");
        }
    });
    fake.assert_no_writes();
}

#[test]
fn create_sdn_subnet() {
    let mut fake = sdn();
    fake.post("/cluster/sdn/vnets/vnet10/subnets", Value::Null);
    with(&fake, "operate", |c| {
        let args = json!({"vnet": "vnet10", "subnet": "10.10.0.0/24", "gateway": "10.10.0.1", "snat": true, "dhcp_range": ["10.10.0.100-10.10.0.150", "10.10.0.200 - 10.10.0.210"]});
        assert_eq!(
            c.ok("create_sdn_subnet", args),
            json!({"data": null, "pending": SDN_STAGED})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            VNETS.to_string(),
            subnets_of("vnet10"),
            "POST /cluster/sdn/vnets/vnet10/subnets type=subnet&subnet=10.10.0.0%2F24&gateway=10.10.0.1&snat=1&dhcp-range=start-address%3D10.10.0.100%2Cend-address%3D10.10.0.150&dhcp-range=start-address%3D10.10.0.200%2Cend-address%3D10.10.0.210".to_string(),
        ]
    );
}

#[test]
fn create_sdn_subnet_dry_run_and_refusals() {
    let fake = sdn();
    with(&fake, "operate", |c| {
        assert_eq!(
            c.ok(
                "create_sdn_subnet",
                json!({"vnet": "lan1", "subnet": "fd00:1::/64", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/cluster/sdn/vnets/lan1/subnets", "params": {"type": "subnet", "subnet": "fd00:1::/64"}},
                "target": {
                    "vnet": {"vnet": "lan1", "zone": "lan", "alias": "lab"},
                    "subnets": [{"subnet": "lan-10.1.0.0-24", "cidr": "10.1.0.0/24", "gateway": "10.1.0.1", "snat": 1, "dhcp-range": [{"start-address": "10.1.0.100", "end-address": "10.1.0.200"}]}],
                },
            })
        );
        #[rustfmt::skip]
        let cases = [
            (json!({"vnet": "lan1", "subnet": "10.1.0.0/24"}), "GET /cluster/sdn/vnets/lan1/subnets: vnet lan1 already has subnet 10.1.0.0/24 (lan-10.1.0.0-24)"),
            (json!({"vnet": "lan1", "subnet": "10.2.0.5/24"}), "invalid arguments: 'subnet' 10.2.0.5/24 has host bits set; give the network address (the gateway goes in 'gateway')"),
            (json!({"vnet": "lan1", "subnet": "10.2.0.0/33"}), "invalid arguments: 'subnet' must be a network with its prefix"),
            (json!({"vnet": "lan1", "subnet": "10.2.0.0/24", "gateway": "10.3.0.1"}), "invalid arguments: 'gateway' must be an address inside 10.2.0.0/24 other than the network's, got '10.3.0.1'"),
            (json!({"vnet": "lan1", "subnet": "10.2.0.0/24", "dhcp_range": ["10.2.0.200-10.2.0.100"]}), "invalid arguments: dhcp_range '10.2.0.200-10.2.0.100' must be FIRST-LAST, two addresses in the subnet, FIRST <= LAST"),
            (json!({"vnet": "lan1", "subnet": "10.2.0.0/24", "dhcp_range": ["10.2.0.10-10.2.1.10"]}), "invalid arguments: dhcp_range '10.2.0.10-10.2.1.10' must be FIRST-LAST"),
            (json!({"vnet": "nope", "subnet": "10.2.0.0/24"}), "GET /cluster/sdn/vnets: no vnet nope (or the credentials lack SDN.Audit on it); list_sdn_vnets shows them"),
        ];
        for (args, expected) in cases {
            let got = c.error("create_sdn_subnet", args.clone());
            assert!(got.starts_with(expected), "{args}: {got}");
        }
    });
    fake.assert_no_writes();
}

#[test]
fn delete_sdn_vnet() {
    let mut fake = sdn();
    fake.ok("DELETE", "/cluster/sdn/vnets/vnet10", Value::Null);
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("delete_sdn_vnet", json!({"vnet": "vnet10"})),
            json!({"data": null, "pending": SDN_STAGED})
        );
    });
    assert_eq!(fake.lines(), [VNETS, "DELETE /cluster/sdn/vnets/vnet10"]);
}

#[test]
fn delete_sdn_vnet_dry_run_and_refusals() {
    let fake = sdn();
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("delete_sdn_vnet", json!({"vnet": "lan1", "dry_run": true})),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/cluster/sdn/vnets/lan1", "params": {}},
                "target": {
                    "vnet": {"vnet": "lan1", "zone": "lan", "alias": "lab"},
                    "subnets": [{"subnet": "lan-10.1.0.0-24", "cidr": "10.1.0.0/24", "gateway": "10.1.0.1", "snat": 1, "dhcp-range": [{"start-address": "10.1.0.100", "end-address": "10.1.0.200"}]}],
                },
            })
        );
        assert_eq!(
            c.error("delete_sdn_vnet", json!({"vnet": "gone"})),
            "GET /cluster/sdn/vnets: no vnet gone (or the credentials lack SDN.Audit on it); list_sdn_vnets shows them"
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [VNETS.to_string(), subnets_of("lan1"), VNETS.to_string()]
    );

    let fake = sdn();
    with(&fake, "operate", |c| {
        let got = c.error("delete_sdn_vnet", json!({"vnet": "lan1"}));
        assert!(got.contains("needs access level full"), "{got}");
    });
    fake.assert_untouched();
}

#[test]
fn apply_sdn_config_dry_run_lists_what_is_pending() {
    let fake = sdn();
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("apply_sdn_config", json!({"dry_run": true})),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/cluster/sdn", "params": {}},
                "target": {
                    "zones": [{"zone": "overlay", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2", "state": "new"}],
                    "vnets": [{"vnet": "vnet20", "zone": "vlans", "state": "new", "pending": {"tag": 20, "zone": "vlans"}}],
                    "subnets": [{"subnet": "vlans-10.20.0.0-24", "cidr": "10.20.0.0/24", "state": "new", "vnet": "vnet20"}],
                },
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            ZONES.to_string(),
            VNETS.to_string(),
            subnets_of("vnet10"),
            subnets_of("lan1"),
            subnets_of("vnet20"),
        ]
    );
}

#[test]
fn apply_sdn_config_waits_for_the_reload() {
    let mut fake = FakePve::new();
    fake.starts_task("PUT", "/cluster/sdn");
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok("apply_sdn_config", json!({})),
            json!({"data": UPID, "task": task_ok()})
        );
    });
    assert_eq!(fake.lines(), polled(&["PUT /cluster/sdn"]));
}

#[test]
fn sdn_is_opt_in() {
    let fake = FakePve::new();
    session(&fake, &[("PROXMOX_MCP_ACCESS", "full")], |c| {
        assert!(!c
            .tool_names()
            .iter()
            .any(|n| n.contains("sdn") || n.contains("network_")));
        let got = c.error("list_sdn_zones", json!({}));
        assert!(
            got.starts_with(
                "list_sdn_zones is not loaded on this server: it is in the toolset sdn"
            ),
            "{got}"
        );
    });
    session(
        &fake,
        &[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "sdn")],
        |c| {
            assert_eq!(
                c.tool_names(),
                [
                    "list_sdn_zones",
                    "list_sdn_vnets",
                    "create_sdn_vnet",
                    "create_sdn_subnet",
                    "delete_sdn_vnet",
                    "apply_sdn_config"
                ]
            );
        },
    );
    fake.assert_untouched();
}
