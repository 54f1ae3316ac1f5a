use super::*;
use crate::config::Config;
use crate::policy::Access;

/// A policy of just an access level, alive for the whole test run.
fn policy(access: Access) -> &'static Policy {
    Box::leak(Box::new(Policy::with_access(access)))
}

fn pve() -> Pve {
    // Never contacted: these tests stop before any tool reaches PVE.
    let env = |k: &str| match k {
        "PROXMOX_HOST" => Some("http://127.0.0.1:9".to_string()),
        "PROXMOX_USER" => Some("root@pam".to_string()),
        "PROXMOX_TOKEN_NAME" => Some("t".to_string()),
        "PROXMOX_TOKEN_VALUE" => Some("secret".to_string()),
        _ => None,
    };
    Pve::new(&Config::resolve(&env, &[]).unwrap()).unwrap()
}

/// Feeds `input` lines to a fresh server; compares each answer with `expected` (exact JSON).
fn check(input: &[&str], expected: &[&str]) {
    let pve = pve();
    let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
    let mut got = Vec::new();
    for line in input {
        if let Some(reply) = server.handle_line(line.as_bytes()) {
            got.push(reply.to_string());
        }
    }
    let expected: Vec<String> = expected
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap().to_string())
        .collect();
    assert_eq!(got, expected);
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn init_reply(version: &str) -> String {
    let pve = pve();
    let server = Server::new(&pve, policy(Access::ReadOnly), 120);
    response(
        json!(0),
        json!({"protocolVersion": version, "capabilities": capabilities(false), "serverInfo": server_info(), "instructions": server.instructions()}),
    )
    .to_string()
}

#[test]
fn framing_errors() {
    let parse = |m: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32700,"message":"parse error: {m}"}}}}"#
        )
    };
    check(
        &["{", "\u{0}"],
        &[
            &parse("EOF while parsing an object at line 1 column 1"),
            &parse("expected value at line 1 column 1"),
        ],
    );
    let invalid = |id: &str, m: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32600,"message":"{m}"}}}}"#)
    };
    check(
        &[
            "42",
            "[]",
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":3}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"ping","params":"x"}"#,
            r#"{"jsonrpc":"2.0"}"#,
        ],
        &[
            &invalid("null", "a request must be a JSON object"),
            &invalid(
                "null",
                "batches are not supported in this protocol version; send one request per line",
            ),
            &invalid(
                "null",
                "batches are not supported in this protocol version; send one request per line",
            ),
            &invalid("null", "the id must be a string or an integer"),
            &invalid("null", "the id must be a string or an integer"),
            &invalid("null", "the id must be a string or an integer"),
            &invalid("7", "jsonrpc must be \\\"2.0\\\""),
            &invalid("\"a\"", "the method must be a string"),
            &invalid("8", "params must be an object"),
            &invalid("null", "a request needs a method"),
        ],
    );
}

#[test]
fn lifecycle_and_notifications() {
    check(
        &[
            r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            INIT,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}"#,
            r#"{"jsonrpc":"2.0","method":"no/such/notification"}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"abc"}}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_vm_status","arguments":[1]}}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"format_disk"}}"#,
        ],
        &[
            r#"{"jsonrpc":"2.0","id":"p","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not initialized: send initialize first (or give the protocol version 2026-07-28 in _meta)"}}"#,
            &init_reply("2025-11-25"),
            r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"method not found: completion/complete"}}"#,
            r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"invalid cursor: tools/list has a single page"}}"#,
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"tools/call: missing tool name"}}"#,
            r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"tools/call: arguments must be an object"}}"#,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool: format_disk"}}"#,
        ],
    );
}

#[test]
fn version_negotiation() {
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-10-07", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("banana", "2025-11-25"),
    ] {
        check(
            &[&INIT.replace("2025-11-25", asked)],
            &[&init_reply(answered)],
        );
    }
    check(
        &[r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#],
        &[
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"initialize needs protocolVersion (a string such as \"2025-11-25\")"}}"#,
        ],
    );
}

#[test]
fn batches_only_in_2025_03_26() {
    let init = INIT.replace("2025-11-25", "2025-03-26");
    let pve = pve();
    let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
    server.handle_line(init.as_bytes());
    let reply = server.handle_line(
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}]"#,
    );
    assert_eq!(
        reply.unwrap().to_string(),
        r#"[{"id":1,"jsonrpc":"2.0","result":{}},{"error":{"code":-32600,"message":"initialize must not be part of a batch"},"id":2,"jsonrpc":"2.0"}]"#
    );
    assert_eq!(
        server.handle_line(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#),
        None
    );
    assert!(server
        .handle_line(b"[]")
        .unwrap()
        .to_string()
        .contains("empty batch"));
}

#[test]
fn modern_era() {
    let pve = pve();
    let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
    let discover = server
        .handle_line(
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{{meta}}}}}"#)
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        discover["result"]["supportedVersions"],
        json!(["2026-07-28"])
    );
    assert_eq!(discover["result"]["resultType"], "complete");
    assert_eq!(
        discover["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "proxmox-mcp-server"
    );
    let list = server
        .handle_line(
            format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{{meta}}}}}"#)
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(list["result"]["resultType"], "complete");
    assert_eq!(list["result"]["ttlMs"], 3_600_000);
    assert_eq!(list["result"]["cacheScope"], "private");
    assert!(list["result"]["tools"][0]["outputSchema"].is_object());
    let ping = server
        .handle_line(
            format!(r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{{meta}}}}}"#).as_bytes(),
        )
        .unwrap();
    assert_eq!(ping["error"]["code"], -32601);
    let old = server.handle_line(br#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}}"#).unwrap();
    assert_eq!(
        old["error"],
        json!({"code": -32022, "message": "Unsupported protocol version", "data": {"supported": ["2026-07-28"], "requested": "1900-01-01"}})
    );
    // The same process still accepts the handshake afterwards.
    assert_eq!(
        server.handle_line(INIT.as_bytes()).unwrap()["result"]["protocolVersion"],
        "2025-11-25"
    );
    let list = server
        .handle_line(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#)
        .unwrap();
    assert!(list["result"].get("resultType").is_none());
}

/// Hints are listed only where they differ from the spec's defaults; a host that reads a
/// missing one as its default sees every tool as the table marks it.
#[test]
fn annotations_list_what_differs_from_the_defaults() {
    let pve = pve();
    let annotations = |version: &str| -> Vec<(String, Value)> {
        let mut server = Server::new(&pve, policy(Access::Full), 120);
        server.handle_line(INIT.replace("2025-11-25", version).as_bytes());
        let list = server
            .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .unwrap();
        let wanted = [
            "list_vms",
            "start_vm",
            "stop_vm",
            "create_vm_snapshot",
            "delete_vm_snapshot",
        ];
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| wanted.contains(&t["name"].as_str().unwrap()))
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["annotations"].clone(),
                )
            })
            .collect()
    };
    let closed = |more: Value| {
        let mut a = json!({"openWorldHint": false});
        a.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        a
    };
    let mut got = annotations("2025-11-25");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                "create_vm_snapshot".to_string(),
                closed(json!({"destructiveHint": false}))
            ),
            ("delete_vm_snapshot".to_string(), closed(json!({}))),
            (
                "list_vms".to_string(),
                closed(json!({"readOnlyHint": true}))
            ),
            (
                "start_vm".to_string(),
                closed(json!({"destructiveHint": false, "idempotentHint": true}))
            ),
            // May lose data: destructive, the default.
            (
                "stop_vm".to_string(),
                closed(json!({"idempotentHint": true}))
            ),
        ]
    );
    // Before 2025-06-18 the title is one of them.
    let old = annotations("2025-03-26");
    let stop = &old.iter().find(|(n, _)| n == "stop_vm").unwrap().1;
    assert_eq!(
        *stop,
        closed(json!({"idempotentHint": true, "title": "Stop VM (hard)"}))
    );
}

#[test]
fn tools_list_follows_version_and_access() {
    let pve = pve();
    let names = |access: Access| -> Vec<String> {
        let mut server = Server::new(&pve, policy(access), 120);
        server.handle_line(INIT.as_bytes());
        let list = server
            .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .unwrap();
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (ro, op, full) = (
        names(Access::ReadOnly),
        names(Access::Operate),
        names(Access::Full),
    );
    let count = |effects: &[Effect]| {
        tools::TOOLS
            .iter()
            .filter(|t| {
                // Unset PROXMOX_MCP_TOOLS: the everyday tools (exec is not among them).
                effects.contains(&t.effect) && t.has(tools::Mark::Everyday) && t.present()
            })
            .count()
    };
    assert_eq!(ro.len(), count(&[Effect::Read]));
    assert!(!ro.contains(&"start_vm".to_string()));
    assert!(
        op.contains(&"start_vm".to_string()) && !op.contains(&"delete_vm_snapshot".to_string())
    );
    assert_eq!(op.len(), count(&[Effect::Read, Effect::Operate]));
    assert_eq!(
        full.len(),
        count(&[Effect::Read, Effect::Operate, Effect::Destroy])
    );
    assert!(full.contains(&"delete_vm_snapshot".to_string()));

    let mut server = Server::new(&pve, policy(Access::Full), 120);
    server.handle_line(INIT.replace("2025-11-25", "2024-11-05").as_bytes());
    let list = server
        .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .unwrap();
    let tool = &list["result"]["tools"][0];
    assert!(
        tool.get("annotations").is_none()
            && tool.get("outputSchema").is_none()
            && tool.get("title").is_none()
    );
    let stop = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "stop_vm")
        .unwrap();
    assert_eq!(stop["inputSchema"]["additionalProperties"], false);
}

#[test]
fn access_level_refusal_is_a_tool_error() {
    let pve = pve();
    let mut server = Server::new(&pve, policy(Access::Operate), 120);
    server.handle_line(INIT.as_bytes());
    let reply = server
        .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_vm_snapshot","arguments":{"vmid":100,"snapname":"a"}}}"#)
        .unwrap();
    assert_eq!(reply["result"]["isError"], true);
    assert_eq!(
        reply["result"]["content"][0]["text"],
        "delete_vm_snapshot can lose data and needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; to allow it, restart the server with PROXMOX_MCP_ACCESS=full (or --access full)"
    );
}
