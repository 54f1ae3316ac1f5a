//! The wire output of `tools/list` per access level, kept in `tests/data/golden/`: any change to
//! what clients are shown is a reviewed diff. Run with `UPDATE_EXPECT=1` to rewrite the files.

use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::support::{config, Client, FakePve};

/// Compares `actual` (pretty-printed) with the golden file `name`, or rewrites it.
fn check(name: &str, actual: &Value) {
    let path = format!("{}/tests/data/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = format!("{}\n", serde_json::to_string_pretty(actual).unwrap());
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == text,
        "{path} differs from the server's tools/list; review, then: UPDATE_EXPECT=1 cargo test --test it golden"
    );
    // The file is the wire output: the compact form of its JSON is the line the server sent.
    let parsed: Value = serde_json::from_str(&golden).unwrap();
    assert_eq!(parsed.to_string(), actual.to_string());
}

/// The `tools/list` result under these settings: at 2025-11-25 (every field a tool has) and,
/// without a handshake, at 2026-07-28.
fn tools_list(settings: &[(&str, &str)]) -> (Value, Value) {
    let fake = FakePve::new();
    let config = config(&fake, settings);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    let legacy = c.request("tools/list", json!({}))["result"].clone();
    let modern = c.request(
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    )["result"]
        .clone();
    (legacy, modern)
}

/// The golden files hold every tool an access level allows (`PROXMOX_MCP_TOOLS=all`); the
/// default listing is those of them whose toolset is a default one, in the same order and form.
#[test]
fn tools_list_per_access_level_is_golden() {
    for (name, settings) in [
        ("read-only", &[("PROXMOX_MCP_ACCESS", "read-only")][..]),
        ("operate", &[("PROXMOX_MCP_ACCESS", "operate")][..]),
        ("full", &[("PROXMOX_MCP_ACCESS", "full")][..]),
        (
            "full-exec",
            // Everything on: exec, access admin and the secrets directory create_api_token needs.
            &[
                ("PROXMOX_MCP_ACCESS", "full"),
                ("PROXMOX_MCP_ALLOW_EXEC", "true"),
                ("PROXMOX_MCP_ALLOW_ACCESS_ADMIN", "true"),
                ("PROXMOX_MCP_SECRETS_DIR", "/nonexistent/secrets"),
            ][..],
        ),
    ] {
        let mut all = settings.to_vec();
        all.push(("PROXMOX_MCP_TOOLS", "all"));
        let (legacy, modern) = tools_list(&all);
        check(&format!("tools-list-{name}.json"), &legacy);
        if name == "full-exec" {
            check(&format!("tools-list-{name}-2026-07-28.json"), &modern);
        }
        let (default, _) = tools_list(settings);
        let in_default = |t: &&Value| {
            let tool = proxmox_mcp_server::tools::find(t["name"].as_str().unwrap()).unwrap();
            tool.has(proxmox_mcp_server::tools::Mark::Everyday)
        };
        let expected: Vec<Value> = legacy["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(in_default)
            .cloned()
            .collect();
        assert_eq!(default["tools"], Value::Array(expected), "{name}");
        let names = |v: &Value| -> Vec<String> {
            v["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (default, all) = (names(&default), names(&legacy));
        for opt_in in [
            "list_firewall_rules",
            "list_pools",
            "list_users",
            "get_ha_status",
            "exec_in_vm",
            "get_vm_metrics",
            "suspend_vm",
            "restore_backup",
            "list_zfs_pools",
        ] {
            assert!(!default.contains(&opt_in.to_string()), "{name}: {opt_in}");
        }
        assert!(all.contains(&"list_firewall_rules".to_string()), "{name}");
        assert_eq!(all.contains(&"exec_in_vm".to_string()), name == "full-exec");
        for access_admin in ["grant_permission", "create_api_token"] {
            let listed = all.contains(&access_admin.to_string());
            assert_eq!(listed, name == "full-exec", "{name}: {access_admin}");
        }
        for everyday in [
            "list_vms",
            "list_container_snapshots",
            "get_vm_agent_info",
            "list_backups",
        ] {
            assert!(
                default.contains(&everyday.to_string()),
                "{name}: {everyday}"
            );
        }
    }
}
