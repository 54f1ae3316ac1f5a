//! Resource pool changes: create a pool, add or remove guests and storages, delete an empty one.
//! (`list_pools` and `get_pool` live in `admin.rs`.)
//!
//! Decisions:
//! - Every write goes to `/pools` with `poolid` as a parameter: PVE 9 deprecates the
//!   `/pools/{poolid}` forms, which do not handle nested pools (`prod/web`).
//! - Guests `PROXMOX_MCP_PROTECTED` names are neither moved into a pool nor out of one (a pool
//!   carries permissions: its ACLs apply to its members), refused before anything is sent.
//! - `delete_pool` reads the pool first and refuses one that still has members, naming them:
//!   PVE only deletes empty pools, and its own refusal does not say what is left.
//! - A removal names members the pool has: one that is not a member is refused by name before
//!   anything is sent.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, Params};

use super::admin::{valid_poolid, POOLID};
use super::change::Change;
use super::guest::cluster_guests;
use super::list::{number, sort, text, trimmed};
use super::params::DRY_RUN;
use super::run::protection_in;
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

#[rustfmt::skip]
const COMMENT: Param = Param::opt("comment", Kind::Text { max: 4096 }, "a description of the pool");
#[rustfmt::skip]
const VMS: Param = Param::opt("vms", Kind::Vmids { max_items: 100 }, "guest IDs to add (or remove), e.g. [100, 101]");
#[rustfmt::skip]
const STORAGES: Param = Param::opt("storage", Kind::Strings { max_items: 100, max_len: 100 }, "storage ids to add (or remove)");
#[rustfmt::skip]
const REMOVE: Param = Param::opt("remove", Kind::Bool, "take vms/storage out of the pool instead of adding them");
#[rustfmt::skip]
const ALLOW_MOVE: Param = Param::opt("allow_move", Kind::Bool, "add guests that are in another pool (they leave it)");

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "create_pool",
        title: "Create pool",
        description: "Creates an empty resource pool (nested: parent/child); update_pool fills it.",
        privilege: "Pool.Allocate on /pool/{poolid}",
        effect: Effect::Operate,
        area: Area::Pools,
        params: &[&POOLID, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_pool,
    },
    Tool {
        name: "update_pool",
        title: "Update pool",
        description: "Adds guests and storages to a pool, or removes them (remove: true), or sets its comment. Protected guests are refused.",
        privilege: "Pool.Allocate on /pool/{poolid} (and Permissions.Modify on what is added or removed)",
        effect: Effect::Operate,
        area: Area::Pools,
        params: &[&POOLID, &VMS, &STORAGES, &REMOVE, &ALLOW_MOVE, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: update_pool,
    },
    Tool {
        name: "delete_pool",
        title: "Delete pool",
        description: "Deletes an empty resource pool; one with members is refused, naming them (update_pool with remove: true empties it).",
        privilege: "Pool.Allocate on /pool/{poolid}",
        effect: Effect::Destroy,
        area: Area::Pools,
        params: &[&POOLID, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_pool,
    },
];

/// The `poolid` argument, checked against PVE's `pve-poolid` format.
fn pool_id(args: &Args) -> Result<&str, Error> {
    let poolid = args.required_str("poolid")?;
    if !valid_poolid(poolid) {
        return Err(Error::Args(format!(
            "'poolid' must be letters, digits, '-' and '_' (nested pools joined by '/'), got '{poolid}'"
        )));
    }
    Ok(poolid)
}

/// A storage id as PVE's `pve-storage-id` format wants it.
fn valid_storage(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The VMIDs of a `Kind::Vmids` argument (one or several; validated already).
fn vmids(args: &Args, name: &str) -> Vec<u64> {
    match args.0.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
        Some(one) => one.as_u64().into_iter().collect(),
        None => Vec::new(),
    }
}

/// Refuses the call when any of `vmids` is a guest `PROXMOX_MCP_PROTECTED` names (tags read
/// once from `/cluster/resources` when tags are protected); `what` says what the call would do.
pub(super) fn refuse_protected(ctx: &Ctx, vmids: &[u64], what: &str) -> Result<(), Error> {
    if vmids.is_empty() {
        return Ok(());
    }
    let resources = match ctx.policy.protects_tags() {
        true => cluster_guests(ctx)?,
        false => Value::Null,
    };
    for &vmid in vmids {
        if let Some(why) = protection_in(ctx.policy, vmid, &resources) {
            return Err(Error::Denied(format!("{what} guest {vmid}, but {why}")));
        }
    }
    Ok(())
}

/// Pool `poolid` as `GET /pools?poolid=` gives it: id, comment and members (sorted: guests by
/// VMID, then storages).
fn read_pool(ctx: &Ctx, poolid: &str) -> Result<Value, Error> {
    let reply = ctx.pve.get("/pools", &[("poolid", poolid.to_string())])?;
    let Some(mut pool) = reply
        .as_array()
        .and_then(|a| a.iter().find(|p| text(p, "poolid") == poolid).cloned())
    else {
        return Err(Error::NotFound(format!(
            "GET /pools: no pool '{poolid}' (or the credentials lack Pool.Audit on /pool/{poolid}); list_pools shows the pools"
        )));
    };
    const MEMBER: &[&str] = &["id", "type", "vmid", "name", "node", "storage"];
    let mut members = trimmed(pool["members"].take(), MEMBER);
    sort(&mut members, &|a: &Value, b: &Value| {
        (text(a, "type") == "storage")
            .cmp(&(text(b, "type") == "storage"))
            .then_with(|| number(a, "vmid").total_cmp(&number(b, "vmid")))
            .then_with(|| text(a, "id").cmp(text(b, "id")))
    });
    let mut out = json!({"poolid": poolid, "members": members});
    if let Some(c) = pool.get("comment") {
        out["comment"] = c.clone();
    }
    Ok(out)
}

/// The guests (VMIDs) and storages (ids, once each: PVE lists a storage per node) of a pool.
fn members(pool: &Value) -> (Vec<u64>, Vec<String>) {
    let mut guests = Vec::new();
    let mut storages: Vec<String> = Vec::new();
    for m in pool["members"].as_array().into_iter().flatten() {
        if text(m, "type") == "storage" {
            let id = text(m, "storage").to_string();
            if !storages.contains(&id) {
                storages.push(id);
            }
        } else if let Some(vmid) = m.get("vmid").and_then(Value::as_u64) {
            guests.push(vmid);
        }
    }
    (guests, storages)
}

fn create_pool(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let poolid = pool_id(args)?;
    let mut params: Params = vec![("poolid", poolid.to_string())];
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    Change::post("/pools".into(), params).send(ctx, args, || {
        let pools = ctx.pve.get("/pools", &[])?;
        let ids: Vec<Value> = pools
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json!(text(p, "poolid")))
            .collect();
        Ok(json!({"pools": ids}))
    })
}

fn update_pool(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let poolid = pool_id(args)?;
    let vms = vmids(args, "vms");
    let storages: Vec<&str> = match args.0.get("storage") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if let Some(bad) = storages.iter().find(|s| !valid_storage(s)) {
        return Err(Error::Args(format!(
            "'storage' must hold storage ids such as local or local-lvm, got '{bad}'; list_storage shows them"
        )));
    }
    let remove = args.flag("remove").unwrap_or(false);
    let comment = args.str("comment");
    if vms.is_empty() && storages.is_empty() && comment.is_none() {
        return Err(Error::Args(
            "nothing to change: give vms, storage or comment".into(),
        ));
    }
    if remove && args.flag("allow_move") == Some(true) {
        return Err(Error::Args(
            "allow_move only applies when adding guests, not with remove: true".into(),
        ));
    }
    if remove && vms.is_empty() && storages.is_empty() {
        return Err(Error::Args(
            "remove: true needs vms or storage to take out of the pool".into(),
        ));
    }
    let verb = match remove {
        true => format!("update_pool would take out of pool '{poolid}'"),
        false => format!("update_pool would put into pool '{poolid}'"),
    };
    refuse_protected(ctx, &vms, &verb)?;
    let pool = read_pool(ctx, poolid)?;
    if remove {
        let (guests, stores) = members(&pool);
        let absent_vms: Vec<String> = vms
            .iter()
            .filter(|v| !guests.contains(v))
            .map(u64::to_string)
            .collect();
        let absent_stores: Vec<&str> = storages
            .iter()
            .copied()
            .filter(|s| !stores.iter().any(|m| m == s))
            .collect();
        if !absent_vms.is_empty() || !absent_stores.is_empty() {
            let mut what = Vec::new();
            if !absent_vms.is_empty() {
                what.push(format!("guests {}", absent_vms.join(", ")));
            }
            if !absent_stores.is_empty() {
                what.push(format!("storages {}", absent_stores.join(", ")));
            }
            let message = format!(
                "GET /pools: pool '{poolid}' does not hold {}; get_pool shows its members, nothing was changed",
                what.join(" or ")
            );
            return Err(Error::NotFound(message));
        }
    }
    let mut params: Params = vec![("poolid", poolid.to_string())];
    if !vms.is_empty() {
        let list: Vec<String> = vms.iter().map(u64::to_string).collect();
        params.push(("vms", list.join(",")));
    }
    if !storages.is_empty() {
        params.push(("storage", storages.join(",")));
    }
    if let Some(c) = comment {
        params.push(("comment", c.to_string()));
    }
    if remove {
        params.push(("delete", bool01(true)));
    }
    if args.flag("allow_move") == Some(true) {
        params.push(("allow-move", bool01(true)));
    }
    Change::put("/pools".into(), params).send(ctx, args, || Ok(pool))
}

fn delete_pool(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let poolid = pool_id(args)?;
    let pool = read_pool(ctx, poolid)?;
    let (guests, storages) = members(&pool);
    if !guests.is_empty() || !storages.is_empty() {
        let mut held = Vec::new();
        if !guests.is_empty() {
            let list: Vec<String> = guests.iter().map(u64::to_string).collect();
            held.push(format!("guests {}", list.join(", ")));
        }
        if !storages.is_empty() {
            held.push(format!("storages {}", storages.join(", ")));
        }
        let message = format!(
            "GET /pools: pool '{poolid}' is not empty: it holds {}. PVE only deletes empty pools; take them out with update_pool (remove: true) first. Nothing was deleted",
            held.join(" and ")
        );
        return Err(Error::Denied(message));
    }
    let params: Params = vec![("poolid", poolid.to_string())];
    Change::delete("/pools".into(), params).send(ctx, args, || Ok(pool))
}
