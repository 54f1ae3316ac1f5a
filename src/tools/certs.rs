//! ACME certificates of nodes: the cluster's ACME accounts and plugins, a node's ACME domains,
//! and ordering, renewing and revoking its certificate. (`list_node_certificates` lives in
//! `admin.rs`.)
//!
//! Decisions:
//! - `list_acme_plugins` never returns a plugin's `data`: it holds the DNS provider's API
//!   credentials.
//! - `configure_node_acme` sends only the ACME keys of the node config (`acme`, `acmedomain0`
//!   to `acmedomain5`, their `delete`) with the digest of the config just read; domains and
//!   plugin ids are checked before sending, so no value can carry another property-string key.
//! - A new (or revoked) certificate changes the fingerprint pveproxy presents. When
//!   `PROXMOX_FINGERPRINT` pins the node's current one, the result says so in `pin`, with the new
//!   fingerprint (read from `/nodes/{node}/certificates/info` after the task) and the setting
//!   that would trust it. The server keeps its pins: it does not start trusting the new
//!   certificate by itself.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Params};
use crate::tls::Fingerprint;

use super::admin::choice_arg;
use super::change::Change;
use super::list::{by_text, page, text, trimmed};
use super::params::{DRY_RUN, LIMIT, NODE, OFFSET, STOP_ON_CANCEL, UNREADABLE, WAIT};
use super::table::{f, Field, Ty};
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};

#[rustfmt::skip]
const PLUGIN_TYPE: Param = Param::opt("type", Kind::Text { max: 12 }, "only dns or standalone plugins");
#[rustfmt::skip]
const DOMAINS: Param = Param::req("domains", Kind::Strings { max_items: 6, max_len: 253 }, "the certificate's domains (1 to 6), e.g. [\"pve1.example.com\"]");
#[rustfmt::skip]
const PLUGIN: Param = Param::opt("plugin", Kind::Text { max: 64 }, "ACME plugin id for the domains (default: standalone, port 80)");
#[rustfmt::skip]
const ACCOUNT: Param = Param::opt("account", Kind::Text { max: 64 }, "ACME account name (default: default)");
#[rustfmt::skip]
const FORCE_ORDER: Param = Param::opt("force", Kind::Bool, "replace a custom (non-ACME) certificate");
#[rustfmt::skip]
const FORCE_RENEW: Param = Param::opt("force", Kind::Bool, "renew even if it expires in more than 30 days");

/// Beside a certificate change's task: the pinned fingerprint it affects.
#[rustfmt::skip]
const PIN: &[Field] = &[f("pin", Ty::Obj, "when PROXMOX_FINGERPRINT pins the node's certificate: node, old, new, setting, note")];

const CERT_TASK: &[&Param] = &[&NODE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_acme_accounts",
        title: "List ACME accounts",
        description: "Lists the cluster's ACME accounts sorted by name, with directory, contact and status.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Certificates,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("directory", Ty::Str, "the CA's URL"), f("contact", Ty::Arr, ""), f("status", Ty::Str, ""), f("tos", Ty::Str, "terms of service URL")]).with(UNREADABLE),
        idempotent: true,
        marks: &[],
        run: list_acme_accounts,
    },
    Tool {
        name: "list_acme_plugins",
        title: "List ACME plugins",
        description: "Lists the cluster's ACME challenge plugins sorted by id, without their credentials.",
        privilege: "Sys.Modify on /",
        effect: Effect::Read,
        area: Area::Certificates,
        params: &[&PLUGIN_TYPE, &LIMIT, &OFFSET],
        output: Output::list(&[f("plugin", Ty::Str, ""), f("type", Ty::Str, "dns or standalone"), f("api", Ty::Str, "DNS provider"), f("nodes", Ty::Str, ""), f("disable", Ty::Int, ""), f("validation-delay", Ty::Int, "seconds")]),
        idempotent: true,
        marks: &[],
        run: list_acme_plugins,
    },
    Tool {
        name: "configure_node_acme",
        title: "Configure node ACME",
        description: "Sets a node's ACME domains (replacing the current ones), their plugin and the account; order_node_certificate then uses them.",
        privilege: "Sys.Modify on /",
        effect: Effect::Destroy,
        area: Area::Certificates,
        params: &[&NODE, &DOMAINS, &PLUGIN, &ACCOUNT, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: configure_node_acme,
    },
    Tool {
        name: "order_node_certificate",
        title: "Order node certificate",
        description: "Orders a certificate for a node's ACME domains and installs it (pveproxy restarts); says when PROXMOX_FINGERPRINT must change.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Destroy,
        area: Area::Certificates,
        params: &[&NODE, &FORCE_ORDER, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task().with(PIN),
        idempotent: false,
        marks: &[],
        run: order_node_certificate,
    },
    Tool {
        name: "renew_node_certificate",
        title: "Renew node certificate",
        description: "Renews a node's ACME certificate (pveproxy restarts); says when PROXMOX_FINGERPRINT must change.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Destroy,
        area: Area::Certificates,
        params: &[&NODE, &FORCE_RENEW, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task().with(PIN),
        idempotent: false,
        marks: &[],
        run: renew_node_certificate,
    },
    Tool {
        name: "revoke_node_certificate",
        title: "Revoke node certificate",
        description: "Revokes a node's ACME certificate at the CA and removes it; pveproxy falls back to the self-signed one.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Destroy,
        area: Area::Certificates,
        params: CERT_TASK,
        output: Output::task().with(PIN),
        idempotent: false,
        marks: &[],
        run: revoke_node_certificate,
    },
];

// ---------------------------------------------------------------------------------------------
// Accounts and plugins.

fn list_acme_accounts(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let index = ctx.pve.get("/cluster/acme/account", &[])?;
    let mut accounts = Vec::new();
    let mut unreadable = Vec::new();
    for entry in index.as_array().into_iter().flatten() {
        let name = text(entry, "name");
        if name.is_empty() {
            continue;
        }
        let account_path = path(&[&"cluster", &"acme", &"account", &name]);
        match ctx.pve.get(&account_path, &[]) {
            Ok(detail) => {
                let mut row = json!({"name": name});
                for key in ["directory", "tos"] {
                    if let Some(v) = detail.get(key).filter(|v| !v.is_null()) {
                        row[key] = v.clone();
                    }
                }
                // The account object also holds the CA's view of it; contact and status only.
                for key in ["contact", "status"] {
                    if let Some(v) = detail.pointer(&format!("/account/{key}")) {
                        row[key] = v.clone();
                    }
                }
                accounts.push(row);
            }
            Err(e) => {
                unreadable.push(json!({"name": name, "error": e.to_string()}));
                accounts.push(json!({"name": name}));
            }
        }
    }
    let mut out = page(args, accounts, &by_text("name"));
    if !unreadable.is_empty() {
        out.insert("unreadable".into(), Value::Array(unreadable));
    }
    Ok(out)
}

fn list_acme_plugins(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut params = Params::new();
    if let Some(t) = choice_arg(args, "type", &["dns", "standalone"])? {
        params.push(("type", t.to_string()));
    }
    // Never `data`: the DNS provider's credentials.
    const FIELDS: &[&str] = &[
        "plugin",
        "type",
        "api",
        "nodes",
        "disable",
        "validation-delay",
    ];
    let plugins = ctx.pve.get("/cluster/acme/plugins", &params)?;
    Ok(page(args, trimmed(plugins, FIELDS), &by_text("plugin")))
}

// ---------------------------------------------------------------------------------------------
// A node's ACME domains.

/// The node config keys that hold ACME domains (PVE has six).
const DOMAIN_KEYS: [&str; 6] = [
    "acmedomain0",
    "acmedomain1",
    "acmedomain2",
    "acmedomain3",
    "acmedomain4",
    "acmedomain5",
];

/// A DNS name: labels of letters, digits and inner '-', 1 to 63 long, joined by '.'.
fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A plugin or account name as PVE's `pve-configid` format wants it.
fn valid_configid(id: &str) -> bool {
    id.len() >= 2
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn configid_arg<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, Error> {
    match args.str(name) {
        Some(v) if !valid_configid(v) => Err(Error::Args(format!(
            "'{name}' must be a letter, then letters, digits, '-' and '_' (2 or more), got '{v}'"
        ))),
        other => Ok(other),
    }
}

/// The `account=` part of a node's `acme` property, if any.
fn acme_account(acme: &str) -> Option<&str> {
    acme.split(',')
        .find_map(|part| part.trim().strip_prefix("account="))
}

fn configure_node_acme(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let domains: Vec<&str> = match args.0.get("domains") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for (i, d) in domains.iter().enumerate() {
        if !valid_domain(d) {
            return Err(Error::Args(format!(
                "'domains' must hold DNS names such as pve1.example.com, got '{d}'"
            )));
        }
        if domains[..i].iter().any(|e| e.eq_ignore_ascii_case(d)) {
            return Err(Error::Args(format!("'domains' names {d} twice")));
        }
    }
    let plugin = configid_arg(args, "plugin")?;
    let account = configid_arg(args, "account")?;
    let config_path = path(&[&"nodes", &node, &"config"]);
    let config = ctx.pve.get(&config_path, &[])?;
    let mut params = Params::new();
    for (key, domain) in DOMAIN_KEYS.iter().zip(&domains) {
        let mut value = format!("domain={domain}");
        if let Some(p) = plugin {
            value.push_str(&format!(",plugin={p}"));
        }
        params.push((key, value));
    }
    // Domains beyond the new ones go; so do domains in the `acme` property itself (the older
    // form, which PVE refuses to mix with acmedomainN), keeping its account.
    let mut delete: Vec<&str> = DOMAIN_KEYS[domains.len()..]
        .iter()
        .copied()
        .filter(|k| config.get(*k).is_some())
        .collect();
    let current_acme = config.get("acme").and_then(Value::as_str).unwrap_or("");
    let keep_account = account.or_else(|| acme_account(current_acme));
    match keep_account {
        Some(a) => params.push(("acme", format!("account={a}"))),
        None if !current_acme.is_empty() => delete.push("acme"),
        None => {}
    }
    if !delete.is_empty() {
        params.push(("delete", delete.join(",")));
    }
    if let Some(digest) = config.get("digest").and_then(Value::as_str) {
        params.push(("digest", digest.to_string()));
    }
    let mut target = Map::new();
    for key in std::iter::once("acme").chain(DOMAIN_KEYS).chain(["digest"]) {
        if let Some(v) = config.get(key) {
            target.insert(key.into(), v.clone());
        }
    }
    Change::put(config_path, params).send(ctx, args, || Ok(Value::Object(target)))
}

// ---------------------------------------------------------------------------------------------
// Ordering, renewing, revoking.

/// The fingerprint pveproxy presents, from `/nodes/{node}/certificates/info`: its custom
/// certificate (`pveproxy-ssl.pem`) when there is one, else the cluster-signed `pve-ssl.pem`.
fn proxy_fingerprint(info: &Value) -> Option<Fingerprint> {
    let certs = info.as_array()?;
    let of = |file: &str| {
        certs
            .iter()
            .find(|c| text(c, "filename") == file)
            .and_then(|c| Fingerprint::parse(text(c, "fingerprint")).ok())
    };
    of("pveproxy-ssl.pem").or_else(|| of("pve-ssl.pem"))
}

const CERT_FIELDS: &[&str] = &[
    "filename",
    "subject",
    "issuer",
    "san",
    "notbefore",
    "notafter",
    "fingerprint",
];

fn order_node_certificate(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    certificate_change(ctx, args, Change::post)
}

fn renew_node_certificate(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    certificate_change(ctx, args, Change::put)
}

fn revoke_node_certificate(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    certificate_change(ctx, args, Change::delete)
}

/// Sends a certificate change (`make` builds the POST, PUT or DELETE) and follows its task;
/// when `PROXMOX_FINGERPRINT` pins the node's certificate, adds `pin` to the result.
fn certificate_change(
    ctx: &Ctx,
    args: &Args,
    make: fn(String, Params) -> Change,
) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let info_path = path(&[&"nodes", &node, &"certificates", &"info"]);
    let cert_path = path(&[&"nodes", &node, &"certificates", &"acme", &"certificate"]);
    let before = ctx.pve.get(&info_path, &[])?;
    let pins = ctx.pve.pinned();
    let old = proxy_fingerprint(&before).filter(|fp| pins.contains(fp));
    let mut params = Params::new();
    if let Some(force) = args.flag("force") {
        params.push(("force", bool01(force)));
    }
    let shown = trimmed(before, CERT_FIELDS);
    let sent = make(cert_path, params).send(ctx, args, || Ok(json!({"certificates": shown})));
    let Some(old) = old else {
        return sent;
    };
    let mut out = match sent {
        Ok(out) => out,
        // Following the task failed: when pveproxy restarted with the new certificate on the
        // host this server talks to, the pin refused it, and the handshake showed it.
        Err(Error::Transport {
            method,
            path,
            mut message,
        }) => {
            if let Some(new) = ctx
                .pve
                .presented_fingerprint()
                .filter(|fp| !pins.contains(fp))
            {
                message.push_str(". ");
                message.push_str(&changed(node, &old, &new, pins).1);
            }
            return Err(Error::Transport {
                method,
                path,
                message,
            });
        }
        Err(e) => return Err(e),
    };
    let mut pin = json!({"node": node, "old": old.to_string(), "new": null});
    let ended = out
        .get("task")
        .and_then(|t| t.get("status"))
        .and_then(Value::as_str)
        == Some("stopped");
    let note = if args.flag("dry_run") == Some(true) {
        format!("PROXMOX_FINGERPRINT pins {node}'s current certificate; once it is replaced this server refuses {node} until PROXMOX_FINGERPRINT holds the new fingerprint (the result will give it)")
    } else if !ended {
        format!("PROXMOX_FINGERPRINT pins {node}'s current certificate; when the task ends, read the new fingerprint with list_node_certificates and set PROXMOX_FINGERPRINT to it: this server does not trust it by itself")
    } else {
        let new = match ctx.pve.get(&info_path, &[]) {
            Ok(info) => proxy_fingerprint(&info),
            // pveproxy restarted with the new certificate, which the pin refuses: the
            // handshake still showed it.
            Err(_) => ctx
                .pve
                .presented_fingerprint()
                .filter(|fp| !pins.contains(fp)),
        };
        match new {
            Some(new) if new == old => format!(
                "{node} still presents the pinned certificate {old}; PROXMOX_FINGERPRINT needs no change"
            ),
            Some(new) => {
                let (line, note) = changed(node, &old, &new, pins);
                pin["new"] = json!(new.to_string());
                pin["setting"] = json!(line);
                note
            }
            None => format!("PROXMOX_FINGERPRINT pins {node}'s old certificate ({old}) and the new fingerprint could not be read; this server refuses {node} until PROXMOX_FINGERPRINT holds it (`proxmox-mcp-server check` shows it)"),
        }
    };
    pin["note"] = json!(note);
    out.insert("pin".into(), pin);
    Ok(out)
}

/// The setting that trusts `new` in place of `old` (the other pins kept), and the note saying
/// this server does not trust it by itself.
fn changed(
    node: &str,
    old: &Fingerprint,
    new: &Fingerprint,
    pins: &[Fingerprint],
) -> (String, String) {
    let setting: Vec<String> = pins
        .iter()
        .map(|p| if p == old { new } else { p })
        .map(Fingerprint::to_string)
        .collect();
    let line = format!("PROXMOX_FINGERPRINT={}", setting.join(","));
    let note = format!("{node} now presents a new certificate ({new}), which this server does not trust: PROXMOX_FINGERPRINT pins the old one ({old}). Compare it with the node's (Node > System > Certificates), then set {line} and restart the server");
    (line, note)
}
