//! Resources (cluster resources, node status, guest config) and prompts (health_check, safe_change).

use serde_json::{json, Value};

use crate::support::{assert_starts, config, connected, session, texts, FakePve};

fn text_of(reply: &Value) -> Value {
    let contents = &reply["result"]["contents"];
    assert_eq!(contents[0]["mimeType"], "application/json");
    serde_json::from_str(contents[0]["text"].as_str().unwrap()).unwrap()
}

#[test]
fn resources_are_listed_and_read() {
    let mut fake = FakePve::new();
    let resources = json!([{"type": "qemu", "vmid": 100, "node": "pve1", "name": "web"}, {"type": "lxc", "vmid": 200, "node": "pve2", "name": "dns"}]);
    fake.get("/cluster/resources", resources.clone());
    fake.get("/nodes/pve1/status", json!({"uptime": 5}));
    fake.config("pve2/lxc/200", json!({"hostname": "dns", "memory": 512}));
    let config = config(&fake, &[]);
    connected(&config, |c| {
        let list = c.request("resources/list", json!({}));
        assert_eq!(
            list["result"]["resources"][0]["uri"],
            "proxmox://cluster/resources"
        );
        let templates = c.request("resources/templates/list", json!({}));
        let uris = texts(&templates["result"]["resourceTemplates"], "uriTemplate");
        assert_eq!(
            uris,
            [
                "proxmox://node/{node}/status",
                "proxmox://guest/{vmid}/config"
            ]
        );

        assert_eq!(
            text_of(&c.request(
                "resources/read",
                json!({"uri": "proxmox://cluster/resources"})
            )),
            resources
        );
        assert_eq!(
            text_of(&c.request(
                "resources/read",
                json!({"uri": "proxmox://node/pve1/status"})
            )),
            json!({"uptime": 5})
        );
        let read = c.request(
            "resources/read",
            json!({"uri": "proxmox://guest/200/config"}),
        );
        assert_eq!(
            read["result"]["contents"][0]["uri"],
            "proxmox://guest/200/config"
        );
        assert_eq!(text_of(&read), json!({"hostname": "dns", "memory": 512}));
        for missing in [
            "proxmox://guest/999/config",
            "proxmox://nowhere",
            "https://example.com/",
        ] {
            let r = c.request("resources/read", json!({"uri": missing}));
            assert_eq!(
                r["error"],
                json!({"code": -32002, "message": "Resource not found", "data": {"uri": missing}})
            );
        }
        assert_eq!(
            fake.lines(),
            [
                "GET /cluster/resources",
                "GET /nodes/pve1/status",
                "GET /cluster/resources?type=vm",
                "GET /nodes/pve2/lxc/200/config",
                "GET /cluster/resources?type=vm",
            ]
        );
    });
}

#[test]
fn prompts_are_listed_and_filled_in() {
    let fake = FakePve::new();
    session(&fake, &[], |c| {
        let list = c.request("prompts/list", json!({}));
        let names = texts(&list["result"]["prompts"], "name");
        assert_eq!(names, ["health_check", "safe_change"]);
        let health = c.request("prompts/get", json!({"name": "health_check"}));
        let text = health["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert_starts(
            text.lines().nth(1).unwrap_or_default(),
            "1. get_alerts: every rule at once",
        );
        assert!(text.contains("the tool its next field names"), "{text}");
        let change = c.request("prompts/get", json!({"name": "safe_change", "arguments": {"vmid": "100", "change": "give it 4 GiB of memory"}}));
        let text = change["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert_starts(
            text,
            "Make this change to VM 100 safely: give it 4 GiB of memory",
        );
        assert!(text.contains("create_vm_snapshot") && text.contains("rollback_vm_snapshot"));
        let missing = c.request(
            "prompts/get",
            json!({"name": "safe_change", "arguments": {"vmid": "100"}}),
        );
        assert_eq!(
            missing["error"],
            json!({"code": -32602, "message": "prompt safe_change needs the argument 'change'"})
        );
        let unknown = c.request("prompts/get", json!({"name": "fix_everything"}));
        assert_eq!(unknown["error"]["code"], -32602);
        fake.assert_untouched();
    });
}

#[test]
fn every_tool_a_prompt_names_exists() {
    use proxmox_mcp_server::resources::prompt;
    use proxmox_mcp_server::tools::find;
    let args = serde_json::json!({"vmid": "100", "change": "more memory"});
    for name in ["health_check", "safe_change"] {
        let text = prompt(name, args.as_object().unwrap()).unwrap()["messages"][0]["content"]
            ["text"]
            .as_str()
            .unwrap()
            .to_string();
        // Tool names are lowercase words joined by '_' with a known verb first.
        let named: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .filter(|w| {
                w.contains('_')
                    && [
                        "list_",
                        "get_",
                        "create_",
                        "delete_",
                        "rollback_",
                        "wait_",
                        "start_",
                        "stop_",
                    ]
                    .iter()
                    .any(|v| w.starts_with(v))
            })
            .collect();
        assert!(!named.is_empty(), "{name} names no tool");
        for tool in named {
            assert!(
                find(tool).is_some(),
                "prompt {name} names {tool}, which is no tool"
            );
        }
    }
}
