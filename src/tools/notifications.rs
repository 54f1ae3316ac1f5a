//! PVE's notification system: targets (endpoints that send: webhook, gotify, smtp, sendmail) and
//! matchers (which notifications go to which targets), so that PVE's own alerts reach people
//! when no assistant is connected.
//!
//! A secret an endpoint needs (a gotify token, an SMTP password, webhook secrets) never passes
//! through the model: the call names a file on this server's host (`secret_file`), which must be
//! a regular file that only its owner can read, and its contents appear in no result, dry run,
//! error, log line or audit line (a dry run shows "(from FILE)"; PVE's error texts have them cut
//! out).
//!
//! The call chooses where the endpoint sends, so the file must be one the operator put there for
//! this: directly in `PROXMOX_MCP_SECRETS_DIR` (after resolving `..` and links), never one of the
//! server's own files (its token, password or TOTP file, config file, audit log) nor a new API
//! token's secret (`*.token`, which `create_api_token` writes there). A secret goes only over
//! https (or smtp with TLS), and nothing is sent to a link-local address (cloud metadata).

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::Secret;
use crate::error::Error;
use crate::policy::{Area, Effect, Policy};
use crate::pve::{bool01, path, Params};

use super::access::secrets_dir;
use super::change::Change;
use super::list::{by_text, page, text, trimmed};
use super::params::{DRY_RUN, LIMIT, OFFSET};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

const PRIVILEGE_READ: &str =
    "Mapping.Audit or Mapping.Modify or Mapping.Use on /mapping/notifications";
const PRIVILEGE_MODIFY: &str = "Mapping.Modify on /mapping/notifications";

#[rustfmt::skip]
const TYPE: Param = Param::req("type", Kind::Text { max: 16 }, "webhook, gotify, smtp or sendmail");
#[rustfmt::skip]
const NAME: Param = Param::req("name", Kind::Text { max: 64 }, "its name, e.g. ops-mail");
#[rustfmt::skip]
const TARGET_NAME: Param = Param::req("name", Kind::Text { max: 64 }, "the target's name (list_notification_targets)");
#[rustfmt::skip]
const MATCHER_NAME: Param = Param::req("name", Kind::Text { max: 64 }, "the matcher's name (list_notification_matchers)");
#[rustfmt::skip]
const BODY: Param = Param::opt("body", Kind::Text { max: 16_384 }, "webhook: POST body, e.g. {{ message }}");
#[rustfmt::skip]
const SERVER: Param = Param::opt("server", Kind::Text { max: 2048 }, "webhook, gotify: https URL; smtp: host");
#[rustfmt::skip]
const MAILTO: Param = Param::opt("mailto", Kind::Strings { max_items: 32, max_len: 254 }, "smtp, sendmail: recipients");
#[rustfmt::skip]
const FROM: Param = Param::opt("from_address", Kind::Text { max: 254 }, "smtp, sendmail: sender");
#[rustfmt::skip]
const USERNAME: Param = Param::opt("username", Kind::Text { max: 128 }, "smtp: login");
#[rustfmt::skip]
const SMTP_MODE: Param = Param::opt("mode", Kind::Text { max: 8 }, "smtp: tls (default), starttls or insecure");
#[rustfmt::skip]
const SECRET_FILE: Param = Param::opt("secret_file", Kind::Text { max: 4096 }, "file in PROXMOX_MCP_SECRETS_DIR: gotify token, smtp password, webhook NAME=value lines");
#[rustfmt::skip]
const COMMENT: Param = Param::opt("comment", Kind::Text { max: 256 }, "a note");
#[rustfmt::skip]
const TARGETS: Param = Param::req("target", Kind::Strings { max_items: 32, max_len: 64 }, "targets to notify");
#[rustfmt::skip]
const SEVERITY: Param = Param::opt("match_severity", Kind::Strings { max_items: 5, max_len: 8 }, "info, notice, warning, error, unknown");
#[rustfmt::skip]
const FIELD: Param = Param::opt("match_field", Kind::Strings { max_items: 16, max_len: 256 }, "exact:FIELD=VALUE or regex:FIELD=REGEX, e.g. exact:type=vzdump");
#[rustfmt::skip]
const CALENDAR: Param = Param::opt("match_calendar", Kind::Strings { max_items: 8, max_len: 128 }, "times, e.g. mon..fri 8-17");
#[rustfmt::skip]
const MATCH_MODE: Param = Param::opt("mode", Kind::Text { max: 3 }, "all (default) or any of the match rules");
#[rustfmt::skip]
const INVERT: Param = Param::opt("invert_match", Kind::Bool, "match what the rules do not");

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_notification_targets",
        title: "List notification targets",
        description: "Lists PVE's notification targets (endpoints) by name with their type and origin.",
        privilege: PRIVILEGE_READ,
        effect: Effect::Read,
        area: Area::Notifications,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("type", Ty::Str, "webhook, gotify, smtp or sendmail"), f("origin", Ty::Str, "user-created, builtin or modified-builtin"), f("disable", Ty::Any, "1: off"), f("comment", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_notification_targets,
    },
    Tool {
        name: "list_notification_matchers",
        title: "List notification matchers",
        description: "Lists PVE's notification matchers by name: which notifications go to which targets.",
        privilege: PRIVILEGE_READ,
        effect: Effect::Read,
        area: Area::Notifications,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("target", Ty::Arr, "target names"), f("match-severity", Ty::Arr, ""), f("match-field", Ty::Arr, ""), f("match-calendar", Ty::Arr, ""), f("mode", Ty::Str, "all or any"), f("invert-match", Ty::Any, ""), f("origin", Ty::Str, ""), f("disable", Ty::Any, "1: off")]),
        idempotent: true,
        marks: &[],
        run: list_notification_matchers,
    },
    Tool {
        name: "create_notification_endpoint",
        title: "Create notification endpoint",
        description: "Creates a notification endpoint; its secret is read from secret_file.",
        privilege: "Mapping.Modify on /mapping/notifications (and Sys.Modify or Sys.AccessNetwork on /)",
        effect: Effect::Destroy,
        area: Area::Notifications,
        params: &[&TYPE, &NAME, &SERVER, &BODY, &MAILTO, &FROM, &USERNAME, &SMTP_MODE, &SECRET_FILE, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[Mark::Outward],
        run: create_notification_endpoint,
    },
    Tool {
        name: "create_notification_matcher",
        title: "Create notification matcher",
        description: "Creates a matcher that sends the notifications it matches (by severity, field, time) to targets.",
        privilege: PRIVILEGE_MODIFY,
        effect: Effect::Operate,
        area: Area::Notifications,
        params: &[&NAME, &TARGETS, &SEVERITY, &FIELD, &CALENDAR, &MATCH_MODE, &INVERT, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_notification_matcher,
    },
    Tool {
        name: "test_notification_target",
        title: "Test notification target",
        description: "Sends a test notification through a target; an error says why it could not be delivered.",
        privilege: PRIVILEGE_READ,
        effect: Effect::Operate,
        area: Area::Notifications,
        params: &[&TARGET_NAME, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: test_notification_target,
    },
    Tool {
        name: "delete_notification_endpoint",
        title: "Delete notification endpoint",
        description: "Deletes a notification endpoint (its type is looked up); PVE refuses built-in ones.",
        privilege: PRIVILEGE_MODIFY,
        effect: Effect::Destroy,
        area: Area::Notifications,
        params: &[&TARGET_NAME, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_notification_endpoint,
    },
    Tool {
        name: "delete_notification_matcher",
        title: "Delete notification matcher",
        description: "Deletes a notification matcher; its targets stay.",
        privilege: PRIVILEGE_MODIFY,
        effect: Effect::Destroy,
        area: Area::Notifications,
        params: &[&MATCHER_NAME, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_notification_matcher,
    },
];

const TARGETS_PATH: &str = "/cluster/notifications/targets";
const MATCHERS_PATH: &str = "/cluster/notifications/matchers";

/// The endpoint types PVE 9.1 has, as `type` names them.
const TYPES: &[&str] = &["webhook", "gotify", "smtp", "sendmail"];

/// Fields PVE may hold secrets in; never shown, even where PVE would return them.
const SECRET_FIELDS: &[&str] = &["token", "password", "secret"];

// ---------------------------------------------------------------------------------------------
// Reads.

fn list_notification_targets(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &["name", "type", "origin", "disable", "comment"];
    let list = ctx.pve.get(TARGETS_PATH, &[])?;
    Ok(page(args, trimmed(list, FIELDS), &by_text("name")))
}

fn list_notification_matchers(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "name",
        "target",
        "match-severity",
        "match-field",
        "match-calendar",
        "mode",
        "invert-match",
        "origin",
        "disable",
        "comment",
    ];
    let list = ctx.pve.get(MATCHERS_PATH, &[])?;
    Ok(page(args, trimmed(list, FIELDS), &by_text("name")))
}

/// The entry of `list` (a PVE list) named `name`, without secret fields; None if there is none.
fn named(list: Value, name: &str) -> Option<Value> {
    let Value::Array(items) = list else {
        return None;
    };
    let mut found = items.into_iter().find(|i| text(i, "name") == name)?;
    if let Some(o) = found.as_object_mut() {
        o.retain(|k, _| !SECRET_FIELDS.contains(&k.as_str()));
    }
    Some(found)
}

/// PVE's `pve-configid`: a letter, then letters, digits, `-` and `_`.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(Error::Args(format!(
        "{what} '{name}' must be at least 2 characters: a letter, then letters, digits, '-' and '_'"
    )))
}

// ---------------------------------------------------------------------------------------------
// Secret files.

/// At most this many bytes are read from a secret file.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Where a secret file may be: directly in `PROXMOX_MCP_SECRETS_DIR`, once `..` and links are
/// resolved (a directory nobody else can write to: what is there the operator put there), and
/// neither one of this server's own files (`Policy::own_files`, compared by path and by inode,
/// so a link or a second name of one is refused too) nor a new API token's secret (`*.token`).
/// Returns the resolved path; refusals name the file and the directory, never contents.
fn secret_place(policy: &Policy, at: &str, name: &str) -> Result<PathBuf, Error> {
    let path = Path::new(name);
    if !path.is_absolute() {
        return Err(Error::Args(format!(
            "secret_file {name}: must be an absolute path on the host this server runs on"
        )));
    }
    let denied =
        |why: String| Error::Denied(format!("POST {at}: refused, nothing was sent: {why}"));
    let dir = secrets_dir(policy).map_err(|e| {
        denied(format!(
            "a secret_file must be a file in PROXMOX_MCP_SECRETS_DIR, a directory only its owner can write to, where the operator puts the secrets notification endpoints may send ({e})"
        ))
    })?;
    let shown = dir.display().to_string();
    let dir = std::fs::canonicalize(dir).map_err(|e| {
        denied(format!(
            "PROXMOX_MCP_SECRETS_DIR={shown}: {}",
            io_reason(&e)
        ))
    })?;
    let resolved = std::fs::canonicalize(path).map_err(|e| {
        Error::Args(format!(
            "secret_file {name}: cannot be read ({}); create it in PROXMOX_MCP_SECRETS_DIR={shown}, readable by this server's user only (chmod 600)",
            io_reason(&e)
        ))
    })?;
    if resolved.parent() != Some(dir.as_path()) {
        return Err(denied(format!(
            "secret_file {name} is not a file directly in PROXMOX_MCP_SECRETS_DIR={shown} (it resolves to {}); only files the operator put there may be sent to a notification endpoint",
            resolved.display()
        )));
    }
    let meta = std::fs::metadata(&resolved).ok();
    let own = policy.own_files.iter().find(|own| {
        std::fs::canonicalize(own).is_ok_and(|o| o == resolved)
            || std::fs::metadata(own)
                .ok()
                .zip(meta.as_ref())
                .is_some_and(|(o, m)| same_file(&o, m))
    });
    if let Some(own) = own {
        return Err(denied(format!(
            "secret_file {name} is {}, a file of this server's own settings (its credentials, config or audit log), which is never sent anywhere",
            own.display()
        )));
    }
    if resolved.extension().is_some_and(|e| e == "token") {
        return Err(denied(format!(
            "secret_file {name} is an API token's secret (*.token, as create_api_token writes them), which is never sent to a notification endpoint; name the endpoint's secret file otherwise"
        )));
    }
    Ok(resolved)
}

/// Whether two metadata describe the same file (device and inode; on other systems never).
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// The contents of the secret file the call names (`secret_place` checks where it is): a
/// regular file that only its owner can read (mode 600 or 400), not empty, at most 64 KiB of
/// UTF-8. Errors name the file and never any of its contents.
fn read_secret_file(policy: &Policy, at: &str, name: &str) -> Result<Secret, Error> {
    let path = secret_place(policy, at, name)?;
    let refuse = |why: String| Error::Args(format!("secret_file {name}: {why}"));
    let meta = std::fs::metadata(&path).map_err(|e| {
        refuse(format!(
            "cannot be read ({}); create it on the host this server runs on, readable by its user only (chmod 600)",
            io_reason(&e)
        ))
    })?;
    check_regular(&meta, &refuse)?;
    if meta.len() == 0 {
        return Err(refuse("is empty".into()));
    }
    if meta.len() > MAX_SECRET_FILE {
        return Err(refuse(format!(
            "is {} bytes, more than a secret file may hold (64 KiB)",
            meta.len()
        )));
    }
    check_private(&meta, name, &refuse)?;
    let file = std::fs::File::open(&path)
        .map_err(|e| refuse(format!("cannot be opened ({})", io_reason(&e))))?;
    // The file opened may not be the one checked (replaced in between): check it again.
    let opened = file
        .metadata()
        .map_err(|e| refuse(format!("cannot be read ({})", io_reason(&e))))?;
    check_regular(&opened, &refuse)?;
    if cfg!(unix) && !same_file(&meta, &opened) {
        return Err(refuse("was replaced while it was read; try again".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot be read ({})", io_reason(&e))))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(refuse(
            "is more than a secret file may hold (64 KiB)".into(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| refuse("is not UTF-8 text".into()))?;
    if text.contains('\0') {
        return Err(refuse("holds a NUL byte".into()));
    }
    Ok(Secret::new(text))
}

/// An I/O error's kind in words, without the path (the caller names the file).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn check_regular(meta: &std::fs::Metadata, refuse: &dyn Fn(String) -> Error) -> Result<(), Error> {
    if meta.is_file() {
        return Ok(());
    }
    let what = if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device, FIFO or socket)"
    };
    Err(refuse(format!("is {what}; name a regular file")))
}

#[cfg(unix)]
fn check_private(
    meta: &std::fs::Metadata,
    name: &str,
    refuse: &dyn Fn(String) -> Error,
) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "is readable or writable by group or others (mode {mode:o}); run: chmod 600 {name}"
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(
    _meta: &std::fs::Metadata,
    _name: &str,
    _refuse: &dyn Fn(String) -> Error,
) -> Result<(), Error> {
    Ok(())
}

/// A one-line secret (a token, a password): the file's text without its final line break.
fn one_line(name: &str, secret: &Secret) -> Result<Secret, Error> {
    let value = secret.expose();
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(value);
    if value.is_empty() || value.contains(['\n', '\r']) {
        return Err(Error::Args(format!(
            "secret_file {name}: must hold the secret on one line (a final line break is fine)"
        )));
    }
    Ok(Secret::new(value.to_string()))
}

/// Webhook secrets: `NAME=value` lines (empty lines and `#` comments skipped), each sent as PVE's
/// `name=NAME,value=<base64>` and used in the URL, body or headers as `{{ secrets.NAME }}`.
fn webhook_secrets(name: &str, secret: &Secret) -> Result<Vec<(String, Secret)>, Error> {
    let mut out = Vec::new();
    for (i, line) in secret.expose().lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map(|(k, _)| k).unwrap_or_default();
        let value = line.split_once('=').map(|(_, v)| v).unwrap_or_default();
        let ok = !key.is_empty()
            && key.len() <= 64
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !value.is_empty();
        if !ok {
            return Err(Error::Args(format!(
                "secret_file {name}: line {} is not NAME=value (NAME: letters, digits, - and _; the value not empty)",
                i + 1
            )));
        }
        out.push((key.to_string(), Secret::new(value.to_string())));
    }
    if out.is_empty() {
        return Err(Error::Args(format!(
            "secret_file {name}: holds no NAME=value line"
        )));
    }
    Ok(out)
}

/// Standard base64 with padding (PVE's webhook headers, secrets and body).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` with each of `secrets` (and its base64 form) cut out: for PVE's error texts, which
/// may quote a value they refuse.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s.as_str(), "(secret)");
    }
    out
}

fn scrub_error(e: Error, secrets: &[String]) -> Error {
    e.map_pve_texts(&|t| scrub(&t, secrets))
}

// ---------------------------------------------------------------------------------------------
// Endpoints.

/// Which arguments an endpoint type takes (besides type, name, comment and dry_run) and which
/// of them it needs.
fn endpoint_args(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "webhook" => (&["server", "body", "secret_file"], &["server"]),
        "gotify" => (&["server", "secret_file"], &["server", "secret_file"]),
        "smtp" => (
            &[
                "server",
                "from_address",
                "mailto",
                "username",
                "mode",
                "secret_file",
            ],
            &["server", "from_address", "mailto"],
        ),
        _ => (&["mailto", "from_address"], &["mailto"]),
    }
}

/// PVE's parameter name for an argument (`from_address` → `from-address`).
fn wire(arg: &'static str) -> &'static str {
    match arg {
        "from_address" => "from-address",
        "match_severity" => "match-severity",
        "match_field" => "match-field",
        "match_calendar" => "match-calendar",
        "invert_match" => "invert-match",
        other => other,
    }
}

/// The strings of an array argument (validated as `Kind::Strings`).
fn strings<'a>(args: &'a Args, name: &str) -> Vec<&'a str> {
    args.0
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn create_notification_endpoint(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let kind = args.required_str("type")?;
    if !TYPES.contains(&kind) {
        return Err(Error::Args(format!(
            "'type' must be one of {}, got '{kind}'",
            TYPES.join(", ")
        )));
    }
    let name = args.required_str("name")?;
    check_name("the endpoint name", name)?;
    let (takes, needs) = endpoint_args(kind);
    const ALWAYS: &[&str] = &["type", "name", "dry_run"];
    for given in args.0.keys() {
        if !ALWAYS.contains(&given.as_str()) && !takes.contains(&given.as_str()) {
            return Err(Error::Args(format!(
                "'{given}' does not apply to a {kind} endpoint; it takes {}",
                takes.join(", ")
            )));
        }
    }
    for needed in needs {
        if !args.0.contains_key(*needed) {
            return Err(Error::Args(format!("a {kind} endpoint needs '{needed}'")));
        }
    }
    if kind == "smtp" && args.str("secret_file").is_some() && args.str("username").is_none() {
        return Err(Error::Args(
            "the smtp password in secret_file needs 'username' to log in with".into(),
        ));
    }
    let dry_run = args.flag("dry_run").unwrap_or(false);
    let endpoints = path(&[&"cluster", &"notifications", &"endpoints", &kind]);
    let given = args.str("secret_file");
    check_destination(&endpoints, kind, args, given.is_some())?;
    let mut params: Params = vec![("name", name.to_string())];
    // What the request carries in place of a secret in a dry run.
    let file = given.unwrap_or_default();
    let shown = format!("(from {file})");
    let mut secrets: Vec<String> = Vec::new();
    match kind {
        "webhook" => {
            params.push(("url", args.required_str("server")?.to_string()));
            params.push(("method", "post".to_string()));
            if let Some(body) = args.str("body") {
                params.push(("body", base64(body.as_bytes())));
                // A JSON body (e.g. a chat service's `{"text": "{{ escape message }}"}`) says so.
                if body.trim_start().starts_with(['{', '[']) {
                    let json = base64(b"application/json");
                    params.push(("header", format!("name=Content-Type,value={json}")));
                }
            }
            if given.is_some() {
                for (key, value) in
                    webhook_secrets(file, &read_secret_file(ctx.policy, &endpoints, file)?)?
                {
                    let encoded = base64(value.expose().as_bytes());
                    let sent = if dry_run {
                        shown.clone()
                    } else {
                        encoded.clone()
                    };
                    params.push(("secret", format!("name={key},value={sent}")));
                    secrets.push(value.expose().to_string());
                    secrets.push(encoded);
                }
            }
        }
        "gotify" => {
            params.push(("server", args.required_str("server")?.to_string()));
            let token = one_line(file, &read_secret_file(ctx.policy, &endpoints, file)?)?;
            let sent = if dry_run {
                shown.clone()
            } else {
                token.expose().to_string()
            };
            params.push(("token", sent));
            secrets.push(token.expose().to_string());
        }
        _ => {
            if let Some(mode) = args.str("mode") {
                if !["tls", "starttls", "insecure"].contains(&mode) {
                    return Err(Error::Args(format!(
                        "'mode' must be tls, starttls or insecure, got '{mode}'"
                    )));
                }
            }
            for arg in ["server", "from_address", "username", "mode"] {
                if let Some(v) = args.str(arg) {
                    params.push((wire(arg), v.to_string()));
                }
            }
            for v in strings(args, "mailto") {
                params.push(("mailto", v.to_string()));
            }
            if given.is_some() {
                let password = one_line(file, &read_secret_file(ctx.policy, &endpoints, file)?)?;
                let sent = if dry_run {
                    shown.clone()
                } else {
                    password.expose().to_string()
                };
                params.push(("password", sent));
                secrets.push(password.expose().to_string());
            }
        }
    }
    let result = Change::post(endpoints, params).send(ctx, args, || {
        let existing = named(ctx.pve.get(TARGETS_PATH, &[])?, name);
        Ok(json!({"name": name, "exists": existing.is_some(), "current": existing}))
    });
    result.map_err(|e| scrub_error(e, &secrets))
}

/// Refuses an endpoint that would send somewhere a careful operator would not: a webhook or
/// gotify URL that is not http(s), plain http or smtp without TLS carrying a secret (readable on
/// the way), and a link-local address (169.254.0.0/16, fe80::/10: a cloud's metadata service,
/// which answers the node itself).
fn check_destination(at: &str, kind: &str, args: &Args, secret: bool) -> Result<(), Error> {
    let denied =
        |why: String| Error::Denied(format!("POST {at}: refused, nothing was sent: {why}"));
    let server = args.str("server").unwrap_or_default();
    let host = match kind {
        "webhook" | "gotify" => {
            let (scheme, rest) = server.split_once("://").unwrap_or(("", server));
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "https" && scheme != "http" {
                return Err(Error::Args(format!(
                    "'server' must be an https:// URL for a {kind} endpoint, got '{server}'"
                )));
            }
            if scheme == "http" && secret {
                return Err(denied(format!(
                    "a {kind} endpoint with a secret_file sends the secret, so its URL must be https://, not '{server}'"
                )));
            }
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            url_host(host_port)
        }
        "smtp" => {
            if secret && args.str("mode") == Some("insecure") {
                return Err(denied(
                    "an smtp endpoint with mode insecure would send the password from secret_file unencrypted; use tls or starttls".into(),
                ));
            }
            url_host(server)
        }
        _ => return Ok(()),
    };
    if link_local(host) {
        return Err(denied(format!(
            "'{server}' is a link-local address (where clouds answer metadata requests with the node's own credentials); notifications go to a service outside the node"
        )));
    }
    Ok(())
}

/// Whether a URL's host is a link-local address, read as URL parsers read hosts: IPv4 also as
/// one number or with hex and octal parts (`2852039166`, `0xa9.0xfe.0xa9.0xfe`), a final dot,
/// IPv6 also with an IPv4 inside. A host holding `%` (percent-encoded, or a zone) counts as one:
/// it is refused rather than decoded.
fn link_local(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.contains('%') {
        return true;
    }
    let v4 = |a: std::net::Ipv4Addr| a.is_link_local();
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => v4(a),
        Ok(IpAddr::V6(a)) => {
            (a.segments()[0] & 0xffc0) == 0xfe80 || a.to_ipv4_mapped().is_some_and(v4)
        }
        Err(_) => loose_ipv4(host).is_some_and(v4),
    }
}

/// An IPv4 address as the WHATWG URL standard reads a host: up to four dot-separated numbers,
/// each decimal, `0x` hex or `0` octal, the last filling the remaining bytes.
fn loose_ipv4(host: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = match p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            Some(hex) => (hex, 16),
            None if p.len() > 1 && p.starts_with('0') => (&p[1..], 8),
            None => (*p, 10),
        };
        if p.is_empty() {
            return None;
        }
        let n = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        numbers.push(n);
    }
    let (last, first) = numbers.split_last()?;
    if first.iter().any(|n| *n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let mut value = *last;
    for (i, n) in first.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    u32::try_from(value).ok().map(std::net::Ipv4Addr::from)
}

/// The host of `host[:port]` or `[v6]:port`, without brackets and port.
fn url_host(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host_port.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    }
}

/// The target named `name` from PVE's list: its type says which endpoint path it lives under.
fn target(ctx: &Ctx, name: &str) -> Result<Value, Error> {
    check_name("the target name", name)?;
    named(ctx.pve.get(TARGETS_PATH, &[])?, name).ok_or_else(|| {
        Error::NotFound(format!(
            "GET {TARGETS_PATH}: no notification target named '{name}' (list_notification_targets shows them); nothing was sent"
        ))
    })
}

fn delete_notification_endpoint(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let name = args.required_str("name")?;
    let found = target(ctx, name)?;
    let kind = text(&found, "type").to_string();
    if !TYPES.contains(&kind.as_str()) {
        return Err(Error::NotFound(format!(
            "GET {TARGETS_PATH}: target '{name}' has type '{kind}', which this server does not know; nothing was sent"
        )));
    }
    let endpoint = path(&[&"cluster", &"notifications", &"endpoints", &kind, &name]);
    Change::delete(endpoint, Vec::new()).send(ctx, args, || Ok(found))
}

fn test_notification_target(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let name = args.required_str("name")?;
    let found = target(ctx, name)?;
    let test = path(&[&"cluster", &"notifications", &"targets", &name, &"test"]);
    Change::post(test, Vec::new()).send(ctx, args, || Ok(found))
}

// ---------------------------------------------------------------------------------------------
// Matchers.

fn create_notification_matcher(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let name = args.required_str("name")?;
    check_name("the matcher name", name)?;
    let mut params: Params = vec![("name", name.to_string())];
    for t in strings(args, "target") {
        check_name("the target name", t)?;
        params.push(("target", t.to_string()));
    }
    const SEVERITIES: &[&str] = &["info", "notice", "warning", "error", "unknown"];
    for s in strings(args, "match_severity") {
        if !SEVERITIES.contains(&s) {
            return Err(Error::Args(format!(
                "'match_severity' items must be {}, got '{s}'",
                SEVERITIES.join(", ")
            )));
        }
        params.push(("match-severity", s.to_string()));
    }
    for rule in strings(args, "match_field") {
        let (how, what) = rule.split_once(':').unwrap_or_default();
        if !["exact", "regex"].contains(&how) || !what.contains('=') {
            return Err(Error::Args(format!(
                "'match_field' items must be exact:FIELD=VALUE or regex:FIELD=REGEX, got '{rule}'"
            )));
        }
        params.push(("match-field", rule.to_string()));
    }
    for c in strings(args, "match_calendar") {
        params.push(("match-calendar", c.to_string()));
    }
    if let Some(mode) = args.str("mode") {
        if !["all", "any"].contains(&mode) {
            return Err(Error::Args(format!(
                "'mode' must be all or any, got '{mode}'"
            )));
        }
        params.push(("mode", mode.to_string()));
    }
    if let Some(invert) = args.flag("invert_match") {
        params.push(("invert-match", bool01(invert)));
    }
    if let Some(comment) = args.str("comment") {
        params.push(("comment", comment.to_string()));
    }
    Change::post(MATCHERS_PATH.to_string(), params).send(ctx, args, || {
        let existing = named(ctx.pve.get(MATCHERS_PATH, &[])?, name);
        Ok(json!({"name": name, "exists": existing.is_some(), "current": existing}))
    })
}

fn delete_notification_matcher(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let name = args.required_str("name")?;
    check_name("the matcher name", name)?;
    let matcher = path(&[&"cluster", &"notifications", &"matchers", &name]);
    Change::delete(matcher.clone(), Vec::new()).send(ctx, args, || {
        let current = ctx.pve.get(&matcher, &[])?;
        Ok(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn link_local_hosts_in_every_spelling() {
        for host in [
            "169.254.169.254",
            "169.254.169.254.",
            "2852039166",
            "0xa9fea9fe",
            "0xa9.0xfe.0xa9.0xfe",
            "0251.0376.0251.0376",
            "169.254.43518",
            "fe80::1",
            "::ffff:169.254.169.254",
            "%31%36%39.254.169.254",
        ] {
            assert!(link_local(host), "{host}");
        }
        for host in [
            "chat.example.org",
            "10.0.0.5",
            "192.168.1.1",
            "2001:db8::1",
            "1.2.3.4.5",
        ] {
            assert!(!link_local(host), "{host}");
        }
        assert_eq!(url_host("[fe80::1]:443"), "fe80::1");
        assert_eq!(url_host("hook.example.org:8443"), "hook.example.org");
        assert_eq!(url_host("fe80::1"), "fe80::1");
    }

    #[test]
    fn errors_lose_the_secrets_they_quote() {
        let e = Error::Api {
            method: "POST",
            path: "/cluster/notifications/endpoints/gotify".into(),
            status: 400,
            message: "token: value 'hunter2-token' is invalid".into(),
        };
        let text = scrub_error(e, &["hunter2-token".into()]).to_string();
        assert_eq!(
            text,
            "POST /cluster/notifications/endpoints/gotify: token: value '(secret)' is invalid"
        );
    }
}
