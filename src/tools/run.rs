//! The run path every call takes (`run`): policy, validation, protected guests, the handler,
//! the cap, the audit log.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::policy::{Effect, Policy};

use super::guest::{cluster_guests, find_guest};
use super::list::{cap, text};
use super::table::{Args, Content, Ctx, Mark, Tool};
use super::validate::validate;

/// Runs `tool` for `raw` arguments under `ctx.policy`: the one path `tools/call` and the `call`
/// command share. Calls that may change something are checked against protected guests and
/// written to the audit log: refused ones with the reason; the others with an intent line before
/// the handler runs (a call whose intent cannot be written does not run) and an outcome line.
pub fn run(ctx: &Ctx, tool: &Tool, raw: &Map<String, Value>) -> Result<Content, Error> {
    let policy = ctx.policy;
    let audit = policy
        .audit
        .as_ref()
        .filter(|_| tool.effect != Effect::Read);
    let refused = |args: &Map<String, Value>, e: Error| {
        if let Some(audit) = audit {
            audit.refused(&ctx.pve.identity(), tool.name, args, &e);
        }
        Err(e)
    };
    if let Err(e) = tool.allowed(policy) {
        return refused(raw, e);
    }
    let args = match validate(tool, raw) {
        Ok(args) => args,
        Err(e) => return refused(raw, e),
    };
    let outcome = if tool.effect == Effect::Read {
        (tool.run)(ctx, &args).map(cap)
    } else {
        if let Err(e) = guard(ctx, policy, tool, &args) {
            return refused(&args.0, e);
        }
        if let Some(audit) = audit {
            audit.intent(&ctx.pve.identity(), tool.name, &args.0)?;
        }
        (tool.run)(ctx, &args).map(cap)
    };
    // Whatever PVE handed back (log lines above all) never shows this server's own secrets.
    let outcome = match outcome {
        Ok(mut content) => {
            content.values_mut().for_each(|v| hide_secrets(ctx, v));
            Ok(content)
        }
        Err(e) => Err(hide_secrets_in_error(ctx, e)),
    };
    if let (Err(_), Some(vmid), None) = (&outcome, args.int("vmid"), args.str("node")) {
        // The guest may have moved: find it again next time.
        ctx.pve.forget_guest(vmid as u64);
    }
    if let Some(audit) = audit {
        audit.outcome(&ctx.pve.identity(), tool.name, &args.0, &outcome);
    }
    outcome
}

/// Refuses a change to a guest `PROXMOX_MCP_PROTECTED` names (looking up its tags when needed).
/// For a tool whose `vmid` may name a guest to create (`Mark::NewGuest`), a VMID that is not in
/// `/cluster/resources` is that new guest: it has no tags yet, so only a protected VMID or range
/// refuses it.
pub(super) fn guard(ctx: &Ctx, policy: &Policy, tool: &Tool, args: &Args) -> Result<(), Error> {
    let Some(vmid) = args.int("vmid").map(|v| v as u64) else {
        return Ok(());
    };
    let why = if tool.has(Mark::NewGuest) {
        new_guest_protection(ctx, policy, vmid)?
    } else {
        protection(ctx, policy, vmid)?
    };
    why.map_or(Ok(()), |w| Err(Error::Denied(w)))
}

/// `protection` for a VMID that may name a guest to create: one not in `/cluster/resources`
/// counts as new (untagged) instead of as a guest whose tags cannot be read.
fn new_guest_protection(ctx: &Ctx, policy: &Policy, vmid: u64) -> Result<Option<String>, Error> {
    if policy.protection(vmid, "").is_none() && policy.protects_tags() {
        let resources = cluster_guests(ctx)?;
        let exists = find_guest(&resources, vmid).is_some();
        return Ok(exists
            .then(|| protection_in(policy, vmid, &resources))
            .flatten());
    }
    Ok(policy.protection(vmid, ""))
}

/// Why `PROXMOX_MCP_PROTECTED` keeps guest `vmid` from being changed, if it does: by VMID, or by
/// a tag (read from `/cluster/resources` only when tags are protected).
pub(super) fn protection(ctx: &Ctx, policy: &Policy, vmid: u64) -> Result<Option<String>, Error> {
    if policy.protection(vmid, "").is_none() && policy.protects_tags() {
        let resources = cluster_guests(ctx)?;
        return Ok(protection_in(policy, vmid, &resources));
    }
    Ok(policy.protection(vmid, ""))
}

/// `protection` with the guests of `/cluster/resources` already read. A guest whose tags cannot
/// be read (not in the list) counts as protected when tags are.
pub(super) fn protection_in(policy: &Policy, vmid: u64, resources: &Value) -> Option<String> {
    let guest = find_guest(resources, vmid);
    match guest {
        Some(g) => policy.protection(vmid, text(g, "tags")),
        // Tags that cannot be read cannot be ruled out: refuse rather than guess.
        None if policy.protects_tags() => policy.protection(vmid, "").or_else(|| Some(format!(
            "guest {vmid} is not in /cluster/resources, so the tags PROXMOX_MCP_PROTECTED names cannot be checked for it; grant VM.Audit on /vms/{vmid}, or change it in PVE itself"
        ))),
        None => policy.protection(vmid, ""),
    }
}

/// Cuts this server's own secrets out of every string in `value`.
fn hide_secrets(ctx: &Ctx, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(hidden) = ctx.pve.hide_own_secrets(text) {
                *text = hidden;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| hide_secrets(ctx, v)),
        Value::Object(map) => map.values_mut().for_each(|v| hide_secrets(ctx, v)),
        _ => {}
    }
}

/// `hide_secrets` for the texts of an error that PVE wrote (its message, a task's log).
fn hide_secrets_in_error(ctx: &Ctx, e: Error) -> Error {
    e.map_pve_texts(&|t| ctx.pve.hide_own_secrets(&t).unwrap_or(t))
}
