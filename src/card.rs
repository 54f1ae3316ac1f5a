//! The A2A Agent Card (`agent-card.json`), generated from the tool table.
//!
//! The card follows the `AgentCard` message of the A2A protocol v1.0 (a2aproject/A2A tag v1.0.0,
//! `specification/a2a.proto`) in its ProtoJSON form (camelCase names); tests/it/card.rs checks it
//! against the JSON Schema in tests/data/a2a/. It describes this server for agent directories
//! and catalogues. The server is not an A2A agent: it speaks MCP over stdio, and the card's
//! interfaces say exactly that (see [`interfaces`]).

use serde_json::{json, Value};

use crate::mcp::{LEGACY_VERSIONS, MODERN_VERSIONS};
use crate::tools::{AREAS, TOOLS};

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
        "description": format!(
            "Inspect and operate a Proxmox VE cluster ({}) from an AI assistant; access levels \
             read-only, operate and full; verified HTTPS to the PVE API. This is an MCP server \
             started as a local process and spoken to over stdin/stdout (MCP-STDIO), not an A2A \
             endpoint: it answers no A2A requests.",
            AREAS.join(", ")
        ),
        "version": env!("CARGO_PKG_VERSION"),
        "provider": {
            "organization": "proxmox-mcp-server contributors",
            "url": env!("CARGO_PKG_REPOSITORY"),
        },
        "documentationUrl": env!("CARGO_PKG_REPOSITORY"),
        "supportedInterfaces": interfaces(),
        // A2A capabilities, none of which an MCP stdio server has.
        "capabilities": {"streaming": false, "pushNotifications": false, "extendedAgentCard": false},
        // Tool arguments are JSON objects; results are text and structured JSON content.
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["application/json", "text/plain"],
        "skills": skills,
    })
}

/// The ways to reach the server, preferred first.
///
/// A2A 1.0 requires `url`, `protocolBinding` and `protocolVersion` on each interface, and
/// defines them for A2A bindings (`JSONRPC`, `GRPC`, `HTTP+JSON`). None applies: there is no
/// network endpoint and no A2A method is served. So, rather than a URL or a version that would
/// send an A2A client to something that cannot answer it:
/// - `protocolBinding` is `MCP-STDIO`. The field is an open-form string; an A2A client that does
///   not know this binding skips the interface instead of speaking A2A to it.
/// - `url` is `stdio:proxmox-mcp-server`: an absolute URI (RFC 3986 `scheme:path`) that names the
///   program to start, with its stdin/stdout as the channel, as an MCP host's `command` does.
///   No registered scheme says that, and an `https:` URL would be false.
/// - `protocolVersion` is the MCP revision, one entry per generation the server speaks, newest
///   of each (the proto asks for "the latest supported minor version per major version"): the
///   stateless era (`2026-07-28`, version in each request's `_meta`) first, then the
///   initialize-handshake era (newest `2025-11-25`, which also negotiates down to `2024-11-05`).
///   There is no A2A version to name; the binding says which protocol the version belongs to.
fn interfaces() -> Vec<Value> {
    let url = concat!("stdio:", env!("CARGO_PKG_NAME"));
    [MODERN_VERSIONS.last(), LEGACY_VERSIONS.last()]
        .into_iter()
        .flatten()
        .map(|version| {
            json!({
                "url": url,
                "protocolBinding": "MCP-STDIO",
                "protocolVersion": version,
            })
        })
        .collect()
}
