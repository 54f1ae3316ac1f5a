//! Replayed attacks on the session layer: resources read past the tool selection.

use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::support::{config, Client, FakePve};

// ---------------------------------------------------------------------------------------------
// Resources follow the tool selection.

/// A PVE that would answer every resource read (so any request that slips through is recorded).
fn resource_pve() -> FakePve {
    let mut fake = FakePve::new();
    fake.ok(
        "GET",
        "/cluster/resources",
        json!([{"type": "qemu", "vmid": 100, "node": "pve1", "name": "web"}, {"type": "lxc", "vmid": 200, "node": "pve2", "name": "dns"}]),
    )
    .ok("GET", "/nodes/pve1/status", json!({"uptime": 5}))
    .ok(
        "GET",
        "/nodes/pve1/qemu/100/config",
        json!({"name": "web", "memory": 2048}),
    )
    .ok(
        "GET",
        "/nodes/pve2/lxc/200/config",
        json!({"hostname": "dns", "memory": 512}),
    );
    fake
}

/// What `resources/list` and `resources/templates/list` offer: the URIs and URI templates.
fn offered(c: &mut Client) -> (Vec<String>, Vec<String>) {
    let uris = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r[key].as_str().unwrap().to_string())
            .collect()
    };
    let list = c.request("resources/list", json!({}));
    let templates = c.request("resources/templates/list", json!({}));
    (
        uris(&list["result"]["resources"], "uri"),
        uris(&templates["result"]["resourceTemplates"], "uriTemplate"),
    )
}

const URIS: [&str; 3] = [
    "proxmox://cluster/resources",
    "proxmox://node/pve1/status",
    "proxmox://guest/200/config",
];

#[test]
fn resources_are_off_when_deny_tools_turns_reads_off() {
    let fake = resource_pve();
    let config = config(&fake, &[("PROXMOX_MCP_DENY_TOOLS", "read")]);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    assert_eq!(offered(&mut c), (vec![], vec![]), "nothing is offered");
    let expected = [
        "get_cluster_resources is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
        "get_node_status is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
        "get_vm_config is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
    ];
    for (uri, message) in URIS.iter().zip(expected) {
        let reply = c.request("resources/read", json!({"uri": uri}));
        assert_eq!(
            reply["error"],
            json!({"code": -32002, "message": message, "data": {"uri": uri}}),
            "{reply}"
        );
        assert!(reply.get("result").is_none());
    }
    // 2026-07-28 says "not found" with -32602.
    let modern = c
        .send(r#"{"jsonrpc":"2.0","id":"m","method":"resources/read","params":{"uri":"proxmox://node/pve1/status","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#)
        .unwrap();
    assert_eq!(
        modern["error"],
        json!({"code": -32602, "message": expected[1], "data": {"uri": "proxmox://node/pve1/status"}})
    );
    assert!(
        fake.requests().is_empty(),
        "PVE was asked: {:?}",
        fake.lines()
    );
}

#[test]
fn resources_are_off_when_the_tool_list_leaves_their_tools_out() {
    let fake = resource_pve();
    let config = config(&fake, &[("PROXMOX_MCP_TOOLS", "list_nodes")]);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    assert_eq!(offered(&mut c), (vec![], vec![]), "nothing is offered");
    for (uri, tool, group) in [
        (URIS[0], "get_cluster_resources", "cluster"),
        (URIS[1], "get_node_status", "nodes"),
        (URIS[2], "get_vm_config", "vms"),
        ("proxmox://guest/100/config", "get_vm_config", "vms"),
    ] {
        let reply = c.request("resources/read", json!({"uri": uri}));
        assert_eq!(
            reply["error"],
            json!({"code": -32002, "message": format!("{tool} is not among the tools this server offers (PROXMOX_MCP_TOOLS=list_nodes); add it or its group (read, {group}) to use it"), "data": {"uri": uri}}),
        );
    }
    assert!(
        fake.requests().is_empty(),
        "PVE was asked: {:?}",
        fake.lines()
    );
}

#[test]
fn each_resource_follows_its_own_tool() {
    let fake = resource_pve();
    let config = config(
        &fake,
        &[(
            "PROXMOX_MCP_DENY_TOOLS",
            "get_cluster_resources,get_container_config",
        )],
    );
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    // Guest configs stay offered: VMs can still be read.
    assert_eq!(
        offered(&mut c),
        (
            vec![],
            vec![
                "proxmox://node/{node}/status".to_string(),
                "proxmox://guest/{vmid}/config".to_string()
            ]
        )
    );
    let cluster = c.request("resources/read", json!({"uri": URIS[0]}));
    assert_eq!(cluster["error"]["code"], -32002);
    assert_eq!(
        cluster["error"]["message"],
        "get_cluster_resources is switched off on this server (PROXMOX_MCP_DENY_TOOLS names get_cluster_resources)"
    );
    let node = c.request("resources/read", json!({"uri": URIS[1]}));
    assert_eq!(node["result"]["contents"][0]["text"], r#"{"uptime":5}"#);
    let vm = c.request(
        "resources/read",
        json!({"uri": "proxmox://guest/100/config"}),
    );
    assert_eq!(
        vm["result"]["contents"][0]["text"],
        r#"{"memory":2048,"name":"web"}"#
    );
    // Guest 200 is a container: found, then refused by the container tool's setting.
    let ct = c.request("resources/read", json!({"uri": URIS[2]}));
    assert_eq!(
        ct["error"],
        json!({"code": -32002, "message": "get_container_config is switched off on this server (PROXMOX_MCP_DENY_TOOLS names get_container_config)", "data": {"uri": URIS[2]}})
    );
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/status",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "GET /cluster/resources?type=vm",
        ],
        "the container's config was never fetched"
    );
}

#[test]
fn a_huge_cluster_resource_is_cut_like_the_tools_and_says_so() {
    let mut fake = FakePve::new();
    let many: Vec<Value> = (100..1100)
        .map(|vmid| json!({"type": "qemu", "vmid": vmid, "node": "pve1", "name": format!("guest-{vmid}-with-a-long-name"), "status": "running"}))
        .collect();
    fake.ok("GET", "/cluster/resources", Value::Array(many));
    let config = config(&fake, &[]);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    let reply = c.request(
        "resources/read",
        json!({"uri": "proxmox://cluster/resources"}),
    );
    let text = reply["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.len() <= 64 * 1024, "{} bytes", text.len());
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["truncated"], true);
    let kept = doc["data"].as_array().unwrap().len();
    assert!(kept > 0 && kept < 1000, "{kept}");
    assert!(
        doc["hint"]
            .as_str()
            .unwrap()
            .starts_with(&format!("output cut to 64 KiB after {kept} items")),
        "{doc}"
    );
    assert_eq!(doc["data"][0]["vmid"], 100, "PVE's order is kept");
}
