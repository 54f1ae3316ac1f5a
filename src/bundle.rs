//! The MCP Bundle manifest (`dist/manifest.json`), generated from the tool table and the settings.
//!
//! A `.mcpb` is a zip of this manifest and the binaries (modelcontextprotocol/mcpb, manifest
//! version 0.3, `server.type: "binary"`). `dist/build` packs it with `mcpb pack`; Claude Desktop
//! installs it with one click and asks for the `user_config` values in a form, then starts the
//! binary with `mcp_config`: `${__dirname}` is where the bundle was unpacked, `${user_config.KEY}`
//! the value entered. The host substitutes a value it does not have by leaving the placeholder
//! as it is, so every optional entry has a default (`""`, which the server reads as unset).
//!
//! Layout inside the bundle: `server/proxmox-mcp-server` (macOS, universal: x86_64 and arm64),
//! `server/proxmox-mcp-server.exe` (Windows x86_64), `server/linux/proxmox-mcp-server` (Linux
//! x86_64, static).

use serde_json::{json, Map, Value};

use crate::tools::TOOLS;

/// One form field of the bundle: its key, the environment variable it fills, and how it is asked.
pub struct Field {
    pub key: &'static str,
    pub var: &'static str,
    pub kind: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub required: bool,
    pub sensitive: bool,
    pub default: Option<&'static str>,
}

/// The settings the bundle asks for, in form order. Everything else keeps the server's default.
pub const FIELDS: &[Field] = &[
    Field {
        key: "host",
        var: "PROXMOX_HOST",
        kind: "string",
        title: "Proxmox VE host",
        description: "Host name or IP of a PVE node, optionally with :port (default 8006); several nodes of one cluster comma-separated.",
        required: true,
        sensitive: false,
        default: None,
    },
    Field {
        key: "user",
        var: "PROXMOX_USER",
        kind: "string",
        title: "User",
        description: "The PVE user the API token belongs to, as user@realm, e.g. mcp@pve.",
        required: true,
        sensitive: false,
        default: None,
    },
    Field {
        key: "token_name",
        var: "PROXMOX_TOKEN_NAME",
        kind: "string",
        title: "API token name",
        description: "The token id (the part after '!'), e.g. mcp for mcp@pve!mcp.",
        required: true,
        sensitive: false,
        default: None,
    },
    Field {
        key: "token_value",
        var: "PROXMOX_TOKEN_VALUE",
        kind: "string",
        title: "API token secret",
        description: "The token's secret (a UUID), shown once by 'pveum user token add'. Stored by Claude Desktop in the system's secret store.",
        required: true,
        sensitive: true,
        default: None,
    },
    Field {
        key: "fingerprint",
        var: "PROXMOX_FINGERPRINT",
        kind: "string",
        title: "Certificate fingerprint",
        description: "SHA-256 fingerprint of the node's certificate (AB:CD:...), for PVE's self-signed certificates: only that certificate is accepted. Shown by 'pvenode cert info' on the node. Leave empty to use the CA file or the public CAs.",
        required: false,
        sensitive: false,
        default: Some(""),
    },
    Field {
        key: "ca_file",
        var: "PROXMOX_CA_FILE",
        kind: "file",
        title: "CA certificate file",
        description: "PEM file of the CA that signed the node's certificate, e.g. a copy of the cluster's /etc/pve/pve-root-ca.pem. Leave empty when a fingerprint is set or the certificate is from a public CA.",
        required: false,
        sensitive: false,
        default: Some(""),
    },
    Field {
        key: "access",
        var: "PROXMOX_MCP_ACCESS",
        kind: "string",
        title: "Access level",
        description: "read-only (default: nothing is changed), operate (power and snapshots) or full (also deletions). Tools above the level are not offered at all.",
        required: false,
        sensitive: false,
        default: Some("read-only"),
    },
    Field {
        key: "protected",
        var: "PROXMOX_MCP_PROTECTED",
        kind: "string",
        title: "Protected guests",
        description: "Guests no tool may change, even at full access: VMIDs, ranges like 100-199, tag:NAME, comma-separated. Empty: none.",
        required: false,
        sensitive: false,
        default: Some(""),
    },
    Field {
        key: "toolsets",
        var: "PROXMOX_MCP_TOOLS",
        kind: "string",
        title: "Toolsets",
        description: "The tools listed, comma-separated, a union of: default (the everyday tools), all, toolsets such as firewall or ha, effects such as read, tool names. Empty: default. The access level still decides what is allowed; fewer tools keep the chat's context small.",
        required: false,
        sensitive: false,
        default: Some(""),
    },
];

/// Where each platform's binary sits inside the bundle.
pub const MACOS_BINARY: &str = "server/proxmox-mcp-server";
pub const WINDOWS_BINARY: &str = "server/proxmox-mcp-server.exe";
pub const LINUX_BINARY: &str = "server/linux/proxmox-mcp-server";

/// The bundle's `manifest.json` as a value (keys sorted; see [`mcpb_manifest_text`] for the file).
pub fn mcpb_manifest() -> Value {
    let entries = manifest_entries();
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_value()))
            .collect(),
    )
}

/// The bundle's `manifest.json` as written: pretty JSON with the top-level keys in a reading
/// order and the form fields (`user_config`) in the order the host shows them.
pub fn mcpb_manifest_text() -> String {
    let pairs: Vec<(String, String)> = manifest_entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.text()))
        .collect();
    format!("{}\n", object_text(&pairs))
}

/// A manifest value: plain JSON, or an object whose keys keep their order.
enum Entry {
    Plain(Value),
    Ordered(Vec<(String, Value)>),
}

impl Entry {
    fn into_value(self) -> Value {
        match self {
            Entry::Plain(v) => v,
            Entry::Ordered(pairs) => Value::Object(pairs.into_iter().collect()),
        }
    }

    fn text(&self) -> String {
        match self {
            Entry::Plain(v) => pretty(v),
            Entry::Ordered(pairs) => object_text(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), pretty(v)))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Pretty JSON of an object from (key, pretty value) pairs, in that order.
fn object_text(pairs: &[(String, String)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("  {}: {}", Value::from(k.as_str()), v.replace('\n', "\n  ")))
        .collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

fn manifest_entries() -> Vec<(&'static str, Entry)> {
    let repo = env!("CARGO_PKG_REPOSITORY");
    let mut user_config = Vec::new();
    let mut env = Map::new();
    for f in FIELDS {
        let mut entry = json!({
            "type": f.kind,
            "title": f.title,
            "description": f.description,
            "required": f.required,
        });
        if f.sensitive {
            entry["sensitive"] = json!(true);
        }
        if let Some(d) = f.default {
            entry["default"] = json!(d);
        }
        user_config.push((f.key.to_string(), entry));
        env.insert(
            f.var.to_string(),
            json!(format!("${{user_config.{}}}", f.key)),
        );
    }
    let command = |path: &str| json!({ "command": format!("${{__dirname}}/{path}") });
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description}))
        .collect();
    let plain = Entry::Plain;
    vec![
        ("manifest_version", plain(json!("0.3"))),
        ("name", plain(json!(env!("CARGO_PKG_NAME")))),
        ("display_name", plain(json!("Proxmox VE"))),
        ("version", plain(json!(env!("CARGO_PKG_VERSION")))),
        (
            "description",
            plain(json!("Inspect and operate a Proxmox VE cluster: nodes, VMs, containers, snapshots, storage, tasks, backups.")),
        ),
        (
            "long_description",
            plain(json!("One static binary that speaks MCP over stdio and the Proxmox VE API over verified HTTPS \
(a certificate fingerprint, a CA file, or the public CAs). Access levels: read-only (the default), operate \
(power and snapshots), full (also deletions); tools above the level are not offered. Protected guests are \
never changed. Changes wait for PVE's task and report its exit status; dry_run shows a request without \
sending it. The tools listed are all the server has: which are offered depends on the access level and the \
toolsets chosen (by default the everyday ones: nodes, guests, snapshots, storage, tasks, cluster, backups, metrics).")),
        ),
        (
            "author",
            plain(json!({"name": "proxmox-mcp-server contributors", "url": repo})),
        ),
        ("repository", plain(json!({"type": "git", "url": repo}))),
        ("homepage", plain(json!(repo))),
        ("documentation", plain(json!(format!("{repo}#readme")))),
        ("support", plain(json!(format!("{repo}/issues")))),
        ("license", plain(json!(env!("CARGO_PKG_LICENSE")))),
        (
            "keywords",
            plain(json!(["proxmox", "pve", "virtualization", "homelab", "infrastructure"])),
        ),
        (
            "compatibility",
            plain(json!({"platforms": ["darwin", "win32", "linux"]})),
        ),
        (
            "server",
            plain(json!({
                "type": "binary",
                "entry_point": MACOS_BINARY,
                "mcp_config": {
                    "command": format!("${{__dirname}}/{MACOS_BINARY}"),
                    "args": [],
                    "env": env,
                    "platform_overrides": {
                        "darwin": command(MACOS_BINARY),
                        "win32": command(WINDOWS_BINARY),
                        "linux": command(LINUX_BINARY),
                    },
                },
            })),
        ),
        ("user_config", Entry::Ordered(user_config)),
        ("tools", plain(Value::Array(tools))),
        ("tools_generated", plain(json!(false))),
    ]
}

/// The `environmentVariables` of the MCP Registry entry (`server.json`, schema 2025-12-11): every
/// setting, its help text, and what a registry client needs to ask for it (kept as
/// `dist/registry-env.json`; `dist/build` adds name, version, package and hash).
pub fn registry_environment() -> Value {
    crate::config::SETTINGS
        .iter()
        .map(|s| {
            let mut v = json!({
                "name": s.var,
                "description": s.help_text(),
                "isRequired": matches!(s.var, "PROXMOX_HOST" | "PROXMOX_USER"),
                "isSecret": s.secret,
            });
            let format = match s.var {
                "PROXMOX_PORT" | "PROXMOX_TIMEOUT" | "PROXMOX_TASK_WAIT" => "number",
                "PROXMOX_VERIFY_SSL"
                | "PROXMOX_MCP_ALLOW_EXEC"
                | "PROXMOX_MCP_ALLOW_HOST_CONFIG"
                | "PROXMOX_MCP_ALLOW_ACCESS_ADMIN" => "boolean",
                "PROXMOX_CA_FILE"
                | "PROXMOX_MCP_AUDIT_LOG"
                | "PROXMOX_MCP_SECRETS_DIR"
                | "PROXMOX_CONFIG" => "filepath",
                _ => "string",
            };
            v["format"] = json!(format);
            let default = match s.var {
                "PROXMOX_PORT" => Some("8006"),
                "PROXMOX_VERIFY_SSL" => Some("true"),
                "PROXMOX_MCP_ACCESS" => Some("read-only"),
                "PROXMOX_MCP_TOOLS" => Some("default"),
                "PROXMOX_MCP_ALLOW_EXEC"
                | "PROXMOX_MCP_ALLOW_HOST_CONFIG"
                | "PROXMOX_MCP_ALLOW_ACCESS_ADMIN" => Some("false"),
                "PROXMOX_TIMEOUT" => Some("30"),
                "PROXMOX_TASK_WAIT" => Some("120"),
                "PROXMOX_MCP_LOG" => Some("warn"),
                _ => None,
            };
            if let Some(d) = default {
                v["default"] = json!(d);
            }
            let choices: &[&str] = match s.var {
                "PROXMOX_MCP_ACCESS" => &["read-only", "operate", "full"],
                "PROXMOX_MCP_LOG" => &["error", "warn", "info", "debug"],
                _ => &[],
            };
            if !choices.is_empty() {
                v["choices"] = json!(choices);
            }
            v
        })
        .collect()
}
