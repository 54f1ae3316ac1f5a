//! `proxmox-mcp-server check`: can the server work with this configuration? One finding per
//! line, each failure with what to do about it.

use serde_json::{json, Map, Value};

use crate::config::{Auth, Config};
use crate::policy::Policy;
use crate::pve::Pve;
use crate::tls::Trust;
use crate::tools::{self, acl_base, granted, Tool};

/// One line of the report.
pub struct Finding {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

fn finding(check: impl Into<String>, ok: bool, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        ok,
        detail: detail.into(),
    }
}

/// The report; `true` when the server could work (login works and at least one tool is usable).
pub fn run(config: &Config, policy: &Policy) -> (bool, Vec<Finding>) {
    let mut out = Vec::new();
    let auth = match &config.auth {
        Auth::Token { name, .. } => format!("{}!{name} (API token)", config.user),
        Auth::Password { totp: Some(_), .. } => {
            format!("{} (password login with two-factor code)", config.user)
        }
        Auth::Password { .. } => format!("{} (password login)", config.user),
    };
    out.push(finding(
        "configuration",
        true,
        format!(
            "{auth}, access {}; TLS trust: {}",
            config.access.name(),
            trust(&config.trust)
        ),
    ));
    out.push(finding("toolsets", true, tools::toolsets_line(policy)));

    // Each host on its own: reachable, TLS accepted, credentials accepted.
    let mut working = None;
    for host in &config.hosts {
        let single = Config {
            hosts: vec![host.clone()],
            ..config.clone()
        };
        let pve = match Pve::new(&single) {
            Ok(p) => p,
            Err(e) => {
                out.push(finding("connection and login", false, e.to_string()));
                continue;
            }
        };
        let at = if config.hosts.len() > 1 {
            format!(" at {}", host.base_url())
        } else {
            String::new()
        };
        match pve.get("/version", &[]) {
            Ok(v) => {
                let version = v
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                out.push(finding(
                    "connection and login",
                    true,
                    format!("PVE {version}{at}"),
                ));
                working.get_or_insert(pve);
            }
            Err(e) => out.push(finding("connection and login", false, e.to_string())),
        }
    }
    let Some(pve) = working else {
        return (false, out);
    };

    match pve.get("/cluster/status", &[]) {
        Ok(status) => {
            let entries = status.as_array().cloned().unwrap_or_default();
            let kind = |e: &&Value| e.get("type").and_then(Value::as_str).map(str::to_string);
            let nodes = entries
                .iter()
                .filter(|e| kind(e).as_deref() == Some("node"))
                .count();
            let cluster = entries
                .iter()
                .find(|e| kind(e).as_deref() == Some("cluster"));
            let detail = match cluster.and_then(|c| c.get("name")).and_then(Value::as_str) {
                Some(name) => format!("cluster {name}, {nodes} node(s)"),
                None => format!("standalone node ({nodes} node)"),
            };
            out.push(finding("cluster", true, detail));
        }
        Err(e) => out.push(finding("cluster", false, e.to_string())),
    }

    let permissions = match pve.get("/access/permissions", &[]) {
        Ok(Value::Object(p)) => p,
        Ok(_) => Map::new(),
        Err(e) => {
            out.push(finding("privileges", false, e.to_string()));
            return (false, out);
        }
    };
    let active: Vec<&Tool> = tools::active(policy).collect();
    let mut usable = 0;
    let mut missing = Vec::new();
    for tool in &active {
        match tool.requirement() {
            Some((privs, path)) if !granted(&permissions, &privs, path) => {
                let (base, role) = (acl_base(path), role_for(privs[0]));
                let who = match &config.auth {
                    Auth::Token { name, .. } => format!("--tokens '{}!{name}'", config.user),
                    Auth::Password { .. } => format!("--users {}", config.user),
                };
                missing.push(finding(
                    tool.name,
                    false,
                    format!("needs {} on {path}; grant it, e.g.: pveum acl modify {base} --roles {role} {who}", privs.join(" or ")),
                ));
            }
            _ => usable += 1,
        }
    }
    out.push(finding(
        "tools",
        usable > 0,
        format!(
            "{usable} of {} tools at access {} can be used",
            active.len(),
            config.access.name()
        ),
    ));
    out.extend(missing);
    (usable > 0, out)
}

/// The report as text (`✓`/`✗` lines) or as one JSON object.
pub fn render(ok: bool, findings: &[Finding], as_json: bool) -> String {
    if as_json {
        let list: Vec<Value> = findings
            .iter()
            .map(|f| json!({"check": f.check, "ok": f.ok, "detail": f.detail}))
            .collect();
        return format!("{}\n", json!({"ok": ok, "checks": list}));
    }
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {}: {}\n",
                if f.ok { "✓" } else { "✗" },
                f.check,
                f.detail
            )
        })
        .collect()
}

fn trust(trust: &Trust) -> String {
    match trust {
        Trust::Insecure => "not checked (PROXMOX_VERIFY_SSL=false)".to_string(),
        Trust::Pinned(_) => "pinned by PROXMOX_FINGERPRINT".to_string(),
        Trust::Roots { ca_files, system } => {
            let files: Vec<String> = ca_files.iter().map(|f| f.display().to_string()).collect();
            match (files.is_empty(), system) {
                (true, _) => "system CA roots".to_string(),
                (false, true) => format!("system CA roots and {}", files.join(", ")),
                (false, false) => format!("CA file {}", files.join(", ")),
            }
        }
    }
}

/// A built-in PVE role that holds `privilege`.
fn role_for(privilege: &str) -> &'static str {
    match privilege {
        "VM.PowerMgmt" => "PVEVMUser",
        p if p.starts_with("VM.Snapshot") || p.starts_with("VM.Config") || p == "VM.Allocate" => {
            "PVEVMAdmin"
        }
        p if p.starts_with("Datastore.Allocate") => "PVEDatastoreUser",
        _ => "PVEAuditor",
    }
}
