//! `proxmox-mcp-server check`: can the server work with this configuration? One finding per
//! line, each failure with what to do about it.

use serde_json::{json, Map, Value};

use crate::config::{Auth, Config};
use crate::policy::Policy;
use crate::pve::Pve;
use crate::tls::Trust;
use crate::tools::{self, acl_base, granted, Effect, Mark, Tool};

/// One line of the report.
pub struct Finding {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    /// Commands to copy, each shown on its own line below the detail (`commands` in JSON).
    pub commands: Vec<String>,
    /// More for `--json` only, e.g. the tools line's usable and unusable tools.
    pub json: Map<String, Value>,
}

pub fn finding(check: impl Into<String>, ok: bool, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        ok,
        detail: detail.into(),
        commands: Vec::new(),
        json: Map::new(),
    }
}

/// How wide `render` wraps a line of text.
const WIDTH: usize = 100;

/// The report; `true` when the server could work: login works, some tool is usable, and so is
/// every everyday read tool (the default set's, `Mark::Everyday`) that the policy offers: without
/// them the server is of little use.
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
    let switches: Vec<&str> = [
        (policy.allow_exec, "PROXMOX_MCP_ALLOW_EXEC"),
        (policy.allow_host_config, "PROXMOX_MCP_ALLOW_HOST_CONFIG"),
        (policy.allow_access_admin, "PROXMOX_MCP_ALLOW_ACCESS_ADMIN"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !switches.is_empty() {
        let detail = format!("on: {}", switches.join(", "));
        out.push(finding("switches", true, detail));
    }
    // A secrets directory that is set but unusable fails the check (create_api_token would refuse).
    let mut secrets_ok = true;
    if policy.secrets_dir.is_some() {
        secrets_ok = tools::secrets_dir(policy).is_ok();
        out.push(match tools::secrets_dir(policy) {
            Ok(dir) => finding(
                "secrets directory",
                true,
                format!("{} (new API token secrets go there)", dir.display()),
            ),
            Err(e) => finding("secrets directory", false, e),
        });
    }

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
                // Not checked, so show what was presented: the value to pin instead.
                if let (Trust::Insecure, Some(fp)) = (&config.trust, pve.presented_fingerprint()) {
                    let text = format!(
                        "not verified (PROXMOX_VERIFY_SSL=false). If the certificate {} presented \
                         is the node's (compare its SHA-256 fingerprint: Node > System > \
                         Certificates), have it checked instead with:",
                        host.host
                    );
                    let mut f = finding("certificate", true, text);
                    f.commands.push(format!("PROXMOX_FINGERPRINT={fp}"));
                    out.push(f);
                }
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
    let (ok, findings) = privileges(config, &active, &permissions);
    out.extend(findings);
    (ok && secrets_ok, out)
}

/// Which of the `active` tools `permissions` allow: the tools line (usable and unusable tools in
/// JSON), one line per missing privilege, and one `pveum acl modify` per ACL path granting them.
fn privileges(
    config: &Config,
    active: &[&Tool],
    permissions: &Map<String, Value>,
) -> (bool, Vec<Finding>) {
    let mut usable = Vec::new();
    let mut unusable = Vec::new();
    // (privileges, any one of them; ACL path) → the tools that need it, in table order.
    type Need<'t> = (Vec<&'t str>, &'t str);
    let mut missing: Vec<(Need, Vec<&str>)> = Vec::new();
    let mut everyday_missing = Vec::new();
    for tool in active {
        let Some((privs, path)) = tool
            .requirement()
            .filter(|(privs, path)| !granted(permissions, privs, path))
        else {
            usable.push(json!(tool.name));
            continue;
        };
        let base = acl_base(path);
        let needs = privs.join(" or ");
        unusable.push(json!({"name": tool.name, "needs": format!("{needs} on {path}")}));
        if tool.effect == Effect::Read && tool.has(Mark::Everyday) {
            everyday_missing.push(tool.name);
        }
        let key = (privs, base);
        match missing.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(tool.name),
            None => missing.push((key, vec![tool.name])),
        }
    }
    let ok = !usable.is_empty() && everyday_missing.is_empty();
    let mut detail = format!(
        "{} of {} tools at access {} can be used",
        usable.len(),
        active.len(),
        config.access.name()
    );
    if !everyday_missing.is_empty() {
        detail.push_str(&format!(
            "; not the everyday reads: {}",
            everyday_missing.join(", ")
        ));
    }
    let mut tools_line = finding("tools", ok, detail);
    tools_line
        .json
        .insert("usable".into(), Value::Array(usable));
    tools_line
        .json
        .insert("unusable".into(), Value::Array(unusable));
    let mut out = vec![tools_line];
    // ACL path → the privileges missing there (each a list of alternatives).
    let mut by_path: Vec<(&str, Vec<Vec<&str>>)> = Vec::new();
    for ((alternatives, base), names) in &missing {
        match by_path.iter_mut().find(|(path, _)| path == base) {
            Some((_, all)) => all.push(alternatives.clone()),
            None => by_path.push((base, vec![alternatives.clone()])),
        }
        let needs = alternatives.join(" or ");
        let count = match names.len() {
            1 => String::new(),
            n => format!(" ({n} tools)"),
        };
        out.push(finding(
            "missing",
            false,
            format!("{needs} on {base}, for {}{count}", names.join(", ")),
        ));
    }
    let grants = grants(&by_path);
    if !grants.is_empty() {
        let who = match &config.auth {
            // A token never has more than its user, so the user needs the roles too (root@pam
            // has them all).
            Auth::Token { name, .. } if config.user == "root@pam" => {
                format!("--tokens '{}!{name}'", config.user)
            }
            Auth::Token { name, .. } => {
                format!("--users {} --tokens '{}!{name}'", config.user, config.user)
            }
            Auth::Password { .. } => format!("--users {}", config.user),
        };
        // The privileges only the custom role gives, created first with exactly those.
        let mut custom: Vec<&str> = by_path
            .iter()
            .flat_map(|(_, needs)| needs.iter())
            .map(|alternatives| alternatives[0])
            .filter(|p| role_for(p) == CUSTOM_ROLE)
            .collect();
        custom.sort_unstable();
        custom.dedup();
        let why = match custom.is_empty() {
            true => String::new(),
            false => format!(
                " ({} is held by no built-in role but Administrator, so a role {CUSTOM_ROLE} with only that is made)",
                custom.join(", ")
            ),
        };
        let detail = format!("to allow what is missing, run as root on a PVE node{why}:");
        let mut grant = finding("grant", false, detail);
        if !custom.is_empty() {
            grant.commands.push(format!(
                "pveum role add {CUSTOM_ROLE} --privs '{}'",
                custom.join(",")
            ));
        }
        grant.commands.extend(grants.iter().map(|(path, roles)| {
            format!("pveum acl modify {path} --roles {} {who}", roles.join(","))
        }));
        out.push(grant);
    }
    (ok, out)
}

/// The report as text (`✓`/`✗` lines, wrapped at [`WIDTH`], commands on lines of their own)
/// or as one JSON object.
pub fn render(ok: bool, findings: &[Finding], as_json: bool) -> String {
    if as_json {
        let list: Vec<Value> = findings
            .iter()
            .map(|f| {
                let mut entry = json!({"check": f.check, "ok": f.ok, "detail": f.detail});
                if !f.commands.is_empty() {
                    entry["commands"] = json!(f.commands);
                }
                if let Value::Object(e) = &mut entry {
                    e.extend(f.json.clone());
                }
                entry
            })
            .collect();
        return format!("{}\n", json!({"ok": ok, "checks": list}));
    }
    let mut out = String::new();
    for f in findings {
        let mark = if f.ok { "✓" } else { "✗" };
        out.push_str(&wrap(&format!("{mark} {}: {}", f.check, f.detail)));
        for command in &f.commands {
            out.push_str(&format!("    {command}\n"));
        }
    }
    out
}

/// `text` broken at spaces into lines of at most [`WIDTH`] characters (a longer word, such as a
/// fingerprint, keeps a line of its own), continuation lines indented by two spaces.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let width = word.chars().count();
        if len > 0 && len + 1 + width > WIDTH {
            out.push_str("\n  ");
            len = 2;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(word);
        len += width;
    }
    out.push('\n');
    out
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

/// The roles to grant on each ACL path for the privileges missing there: the fewest built-in
/// roles that hold them, and no path whose privileges a role on an ancestor path (which PVE
/// propagates) already grants.
fn grants<'a>(by_path: &[(&'a str, Vec<Vec<&str>>)]) -> Vec<(&'a str, Vec<&'static str>)> {
    let chosen: Vec<(&str, Vec<&'static str>)> = by_path
        .iter()
        .map(|(path, needs)| (*path, roles_for(needs.iter())))
        .collect();
    // What a grant on a path above already gives is not granted again below it.
    let covered = |path: &str, alternatives: &[&str]| {
        chosen.iter().any(|(above, roles)| {
            (*above == "/" || path.starts_with(&format!("{above}/")))
                && *above != path
                && grant_any(roles, alternatives)
        })
    };
    by_path
        .iter()
        .filter_map(|(path, needs)| {
            let left: Vec<&Vec<&str>> = needs.iter().filter(|a| !covered(path, a)).collect();
            (!left.is_empty()).then(|| (*path, roles_for(left.into_iter())))
        })
        .collect()
}

/// The roles that grant every one of `needs` (each a list of alternatives), the broadest first.
fn roles_for<'n>(needs: impl Iterator<Item = &'n Vec<&'n str>>) -> Vec<&'static str> {
    let mut needs: Vec<&Vec<&str>> = needs.collect();
    // The broadest role first, so that it covers what a narrower one would.
    needs.sort_by_key(|alternatives| RANK.iter().position(|r| *r == role_for(alternatives[0])));
    let mut roles: Vec<&'static str> = Vec::new();
    for alternatives in needs {
        if !grant_any(&roles, alternatives) {
            roles.push(role_for(alternatives[0]));
        }
    }
    roles
}

/// Whether `roles` grant one of `alternatives`.
fn grant_any(roles: &[&str], alternatives: &[&str]) -> bool {
    roles
        .iter()
        .any(|r| alternatives.iter().any(|p| holds(r, p)))
}

/// The role `check` suggests creating for the privileges that among the built-in roles only
/// Administrator holds (Sys.Modify, for instance): granting Administrator would give the token
/// every privilege, root-equivalent, for the sake of one.
pub const CUSTOM_ROLE: &str = "ProxmoxMCP";

/// The roles `role_for` names, broadest first (the custom role last: it is named only for what
/// no built-in role below Administrator holds).
const RANK: [&str; 10] = [
    "PVEVMAdmin",
    "PVEDatastoreAdmin",
    "PVESysAdmin",
    "PVEPoolAdmin",
    "PVEUserAdmin",
    "PVESDNAdmin",
    "PVEVMUser",
    "PVEDatastoreUser",
    "PVEAuditor",
    CUSTOM_ROLE,
];

/// A role that holds `privilege`: the narrowest built-in one that does, else the custom role.
fn role_for(privilege: &str) -> &'static str {
    RANK[..RANK.len() - 1]
        .iter()
        .rev()
        .find(|r| holds(r, privilege))
        .copied()
        .unwrap_or(CUSTOM_ROLE)
}

/// Whether the role holds `privilege` (the built-in ones as PVE 9 defines them, for the
/// privileges tools need; Sys.Modify, Sys.PowerMgmt, Permissions.Modify and Realm.* only
/// Administrator, so the custom role is made of those).
fn holds(role: &str, privilege: &str) -> bool {
    let p = privilege;
    match role {
        CUSTOM_ROLE => !RANK[..RANK.len() - 1].iter().any(|r| holds(r, p)),
        "PVEVMAdmin" => p.starts_with("VM."),
        "PVEDatastoreAdmin" => p.starts_with("Datastore."),
        "PVESysAdmin" => matches!(p, "Sys.Audit" | "Sys.Console" | "Sys.Syslog"),
        "PVEPoolAdmin" => p.starts_with("Pool."),
        "PVEUserAdmin" => matches!(p, "User.Modify" | "Group.Allocate"),
        "PVESDNAdmin" => p.starts_with("SDN."),
        "PVEVMUser" => matches!(
            p,
            "VM.Audit" | "VM.PowerMgmt" | "VM.Backup" | "VM.Console" | "VM.Config.CDROM"
        ),
        "PVEDatastoreUser" => matches!(p, "Datastore.AllocateSpace" | "Datastore.Audit"),
        "PVEAuditor" => p.ends_with(".Audit"),
        _ => false,
    }
}
