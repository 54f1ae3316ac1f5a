//! The A2A Agent Card (`agent-card.json`), generated from the tool table.

use serde_json::{json, Value};

use crate::tools::TOOLS;

/// The card: one skill per tool, the stdio MCP transport named as what it is.
pub fn agent_card() -> Value {
    let skills: Vec<Value> = TOOLS
        .iter()
        .map(|t| {
            json!({
                "id": t.name,
                "name": t.title,
                "description": t.full_description(),
                "tags": ["proxmox", t.area.name(), t.effect.name()],
            })
        })
        .collect();
    json!({
        "name": env!("CARGO_PKG_NAME"),
        "description": "Inspect and operate a Proxmox VE cluster (nodes, VMs, containers, snapshots, storage, tasks) over the Model Context Protocol; \
                        access levels read-only, operate and full; verified HTTPS to the PVE API.",
        "version": env!("CARGO_PKG_VERSION"),
        "provider": {"organization": "proxmox-mcp-server contributors", "url": env!("CARGO_PKG_REPOSITORY")},
        "documentationUrl": env!("CARGO_PKG_REPOSITORY"),
        "supportedInterfaces": [{
            "url": "stdio:proxmox-mcp-server",
            "protocolBinding": "MCP-STDIO",
            "protocolVersion": "2025-11-25",
        }],
        "capabilities": {"streaming": false, "pushNotifications": false},
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["application/json", "text/plain"],
        "skills": skills,
    })
}
