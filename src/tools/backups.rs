//! Backups (vzdump, list, restore, delete), and the volume helpers storage content shares
//! (snapshot rollbacks are in `snapshots.rs`, storage content in `storage.rs`).
//!
//! Every change goes through `Change::send` (dry run, task wait). Checks a user relies on run before
//! any write, also in dry runs: a snapshot or backup to delete or roll back to must exist; destroy
//! tools refuse a guest with PVE's `protection` flag and a backup with PVE's `protected` flag;
//! restoring over an existing guest needs access `full`, `force` and `confirm_name` equal to the
//! guest's current name, and the guest stopped.
//!
//! Decisions:
//! - `create_backup` runs one vzdump on one node: PVE's vzdump only backs up the guests of the
//!   node it runs on, so guests on several nodes are refused with the VMIDs per node (call once
//!   per node). It always sends `remove=0`, so a backup never prunes older ones (that would lose
//!   data in an `operate` tool). `PROXMOX_MCP_PROTECTED` guests are refused in modes `stop` and
//!   `suspend` (which change their state), not in `snapshot` mode (which does not).
//! - `delete_backup` refuses the backups of guests `PROXMOX_MCP_PROTECTED` names: they are how such
//!   a guest comes back.
//! - Where a volume's node is not given, it is found from `/cluster/resources?type=storage`: a
//!   shared storage is read on its first node (by name), a local one on each node that has it.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Access, Area, Effect};
use crate::pve::{as_u64, bool01, path, Params};

use super::change::Change;
use super::guest::{
    check_confirm_name, cluster_guests, find_guest, guest_name, next_vmid, refuse_if_pve_protected,
    Guest,
};
use super::guest_config::check_backup_config;
use super::list::{number, page, text, trimmed};
use super::params::UNREADABLE;
use super::params::{CONFIRM_NAME, DRY_RUN, LIMIT, NODE_FILTER, OFFSET, STOP_ON_CANCEL, WAIT};
use super::run::{protection, protection_in};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

// ---------------------------------------------------------------------------------------------
// Parameters.

pub(super) const START: Param = Param::opt("start", Kind::Bool, "start the guest afterwards");
#[rustfmt::skip]
const BACKUP_VMIDS: Param = Param::req("vmid", Kind::Vmids { max_items: 100 }, "guest ID, or an array of them, e.g. [100, 101]");
const BACKUP_NODE: Param = Param::opt("node", Kind::Node, "the guests' node (found if omitted)");
const BACKUP_STORAGE: Param = Param::opt("storage", Kind::Storage, "target storage");
#[rustfmt::skip]
const MODE: Param = Param::opt("mode", Kind::Text { max: 16 }, "snapshot (default), suspend or stop");
#[rustfmt::skip]
const COMPRESS: Param = Param::opt("compress", Kind::Text { max: 8 }, "zstd, gzip, lzo or 0 (none)");
#[rustfmt::skip]
const PROTECT_BACKUP: Param = Param::opt("protected", Kind::Bool, "protect the backup (needs storage)");
const STORAGE_FILTER: Param = Param::opt("storage", Kind::Storage, "only this storage");
pub(super) const VMID_FILTER: Param = Param::opt("vmid", Kind::Vmid, "only this guest's");
#[rustfmt::skip]
const ARCHIVE: Param = Param::req("archive", Kind::Text { max: 255 }, "volid (list_backups)");
const RESTORE_VMID: Param = Param::opt("vmid", Kind::Vmid, "default: next free");
const RESTORE_NODE: Param = Param::opt("node", Kind::Node, "default: the backup's");
const RESTORE_STORAGE: Param = Param::opt("storage", Kind::Storage, "for the disks");
const UNIQUE: Param = Param::opt("unique", Kind::Bool, "new MACs");
const FORCE: Param = Param::opt("force", Kind::Bool, "overwrite an existing guest");
#[rustfmt::skip]
const RESTORE_CONFIRM_NAME: Param = Param::opt("confirm_name", Kind::Text { max: 128 }, "that guest's name");
const VOLUME: Param = Param::req(
    "volume",
    Kind::Text { max: 255 },
    "backup volid (list_backups)",
);
const VOLUME_NODE: Param = Param::opt("node", Kind::Node, "default: found");
const MODES: &[&str] = &["snapshot", "suspend", "stop"];
const COMPRESSIONS: &[&str] = &["0", "1", "gzip", "lzo", "zstd"];
// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "create_backup",
        title: "Back up guests",
        description: "Backs up guests of one node with vzdump (call once per node), never pruning older backups; waits for the task.",
        privilege: "VM.Backup on /vms/{vmid} (and Datastore.AllocateSpace on the storage)",
        effect: Effect::Operate,
        area: Area::Backups,
        params: &[
            &BACKUP_VMIDS,
            &BACKUP_NODE,
            &BACKUP_STORAGE,
            &MODE,
            &COMPRESS,
            &PROTECT_BACKUP,
            &WAIT,
            &DRY_RUN,
            &STOP_ON_CANCEL,
        ],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers), Mark::Everyday],
        run: create_backup,
    },
    Tool {
        name: "list_backups",
        title: "List backups",
        description: "Lists backups on one or all storages by VMID, newest first.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage} (others are not listed)",
        effect: Effect::Read,
        area: Area::Backups,
        params: &[&STORAGE_FILTER, &NODE_FILTER, &VMID_FILTER, &LIMIT, &OFFSET],
        output: Output::list(&[f("volid", Ty::Str, ""), f("node", Ty::Str, ""), f("storage", Ty::Str, ""), f("vmid", Ty::Int, ""), f("subtype", Ty::Str, "qemu or lxc"), f("ctime", Ty::Int, "Unix time"), f("size", Ty::Num, "bytes"), f("notes", Ty::Str, ""), f("protected", Ty::Int, "")]).with(UNREADABLE),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: list_backups,
    },
    Tool {
        name: "restore_backup",
        title: "Restore backup",
        description: "Restores a backup to a new VMID; over a stopped guest only with force, confirm_name, access full.",
        privilege: "VM.Allocate on /vms/{vmid} (overwriting: VM.Backup) and Datastore.AllocateSpace on the storage",
        effect: Effect::Operate,
        area: Area::Backups,
        params: &[
            &ARCHIVE,
            &RESTORE_VMID,
            &RESTORE_NODE,
            &RESTORE_STORAGE,
            &START,
            &UNIQUE,
            &FORCE,
            &RESTORE_CONFIRM_NAME,
            &WAIT,
            &DRY_RUN,
            &STOP_ON_CANCEL,
        ],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::MayLoseData, Mark::NewGuest, Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: restore_backup,
    },
    Tool {
        name: "delete_backup",
        title: "Delete backup",
        description: "Deletes a backup volume (checked to exist; refused if protected in PVE) if confirm_name is its guest's name; waits.",
        privilege: "Datastore.Allocate on /storage/{storage} (or Datastore.AllocateSpace and VM.Backup)",
        effect: Effect::Destroy,
        area: Area::Backups,
        params: &[&VOLUME, &CONFIRM_NAME, &VOLUME_NODE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: false,
        marks: &[],
        run: delete_backup,
    },
];

// ---------------------------------------------------------------------------------------------
// Backups.

fn create_backup(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    // `validate` made this a non-empty array of guest ids.
    let mut vmids: Vec<u64> = args
        .0
        .get("vmid")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    vmids.sort_unstable();
    vmids.dedup();
    let mode = one_of(args, "mode", MODES)?;
    let compress = one_of(args, "compress", COMPRESSIONS)?;
    let storage = args.str("storage");
    let protect = args.flag("protected");
    if protect == Some(true) && storage.is_none() {
        return Err(Error::Args(
            "'protected' needs 'storage': name the storage the backup goes to".into(),
        ));
    }

    let resources = cluster_guests(ctx)?;
    ctx.pve.remember_guests(&resources);
    let mut guests = Vec::new();
    let mut missing = Vec::new();
    for vmid in &vmids {
        match find_guest(&resources, *vmid) {
            Some(g) => guests.push(g),
            None => missing.push(vmid.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "GET /cluster/resources: no guest with VMID {} in the cluster (or the credentials lack VM.Audit on it); list_vms and list_containers show the guests",
            missing.join(", ")
        )));
    }
    let mut by_node: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for g in &guests {
        by_node
            .entry(text(g, "node"))
            .or_default()
            .push(text_of(g, "vmid"));
    }
    let node = match args.str("node") {
        Some(node) => {
            if let Some((other, ids)) = by_node.iter().find(|(n, _)| **n != node) {
                return Err(Error::Args(format!(
                    "VMID {} {} on node {other}, not on {node}; leave node out, or call create_backup once per node",
                    ids.join(", "),
                    if ids.len() == 1 { "is" } else { "are" }
                )));
            }
            node.to_string()
        }
        None if by_node.len() > 1 => {
            let per_node: Vec<String> = by_node
                .iter()
                .map(|(n, ids)| format!("{n}: {}", ids.join(", ")))
                .collect();
            return Err(Error::Args(format!(
                "the guests are on different nodes ({}); vzdump backs up the guests of one node, so call create_backup once per node",
                per_node.join("; ")
            )));
        }
        None => by_node
            .keys()
            .next()
            .copied()
            .unwrap_or_default()
            .to_string(),
    };
    // A backup may stop or suspend a guest (modes stop and suspend; a container whose storage
    // cannot snapshot falls back to suspend): for guests this server protects only a VM in
    // snapshot mode (PVE's default) is backed up.
    for g in &guests {
        let vmid = g.get("vmid").and_then(as_u64).unwrap_or_default();
        let safe = text(g, "type") == "qemu" && matches!(mode, None | Some("snapshot"));
        if let (false, Some(why)) = (safe, ctx.policy.protection(vmid, text(g, "tags"))) {
            return Err(Error::Denied(format!(
                "a backup in this mode may stop or suspend the guest, and {why}; for a protected VM use mode snapshot"
            )));
        }
    }

    let mut params: Params = vec![(
        "vmid",
        vmids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    )];
    if let Some(s) = storage {
        params.push(("storage", s.to_string()));
    }
    if let Some(m) = mode {
        params.push(("mode", m.to_string()));
    }
    if let Some(c) = compress {
        params.push(("compress", c.to_string()));
    }
    // PVE takes `protected` only together with `storage`; not protecting is its default.
    if protect == Some(true) {
        params.push(("protected", bool01(true)));
    }
    // Never prune older backups as a side effect (PVE's default is to prune by the storage's
    // retention settings).
    params.push(("remove", bool01(false)));
    let target: Vec<Value> = trimmed(
        Value::Array(guests.into_iter().cloned().collect()),
        &["vmid", "name", "type", "node", "status", "lock"],
    );
    Change::post(path(&[&"nodes", &node, &"vzdump"]), params)
        .send(ctx, args, || Ok(Value::Array(target)))
}

fn list_backups(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let places = storage_places(ctx, args.str("storage"), args.str("node"), Some("backup"))?;
    let mut params: Params = vec![("content", "backup".into())];
    if let Some(vmid) = args.int("vmid") {
        params.push(("vmid", vmid.to_string()));
    }
    const FIELDS: &[&str] = &[
        "volid",
        "vmid",
        "subtype",
        "ctime",
        "size",
        "format",
        "notes",
        "protected",
        "encrypted",
        "verification",
    ];
    let (mut items, unreadable) = read_places(ctx, &places, &params, FIELDS)?;
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if !item.contains_key("subtype") {
            let volid = item.get("volid").and_then(Value::as_str).unwrap_or("");
            let name = volid.split_once(':').map(|(_, n)| n).unwrap_or("");
            if let Some(kind) = backup_kind(name) {
                item.insert("subtype".into(), json!(kind.api()));
            }
        }
        // The verification's state is what matters; its UPID is noise here.
        if let Some(Value::Object(v)) = item.get_mut("verification") {
            v.retain(|k, _| k == "state");
        }
    }
    let mut out = page(args, items, &|a: &Value, b: &Value| {
        number(a, "vmid")
            .total_cmp(&number(b, "vmid"))
            .then_with(|| number(b, "ctime").total_cmp(&number(a, "ctime")))
            .then_with(|| text(a, "volid").cmp(text(b, "volid")))
            .then_with(|| text(a, "node").cmp(text(b, "node")))
    });
    if !unreadable.is_empty() {
        out.insert("unreadable".into(), Value::Array(unreadable));
    }
    Ok(out)
}

fn restore_backup(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let archive = args.required_str("archive")?;
    let (_, name) = backup_volid("archive", archive)?;
    let Some(kind) = backup_kind(name) else {
        return Err(Error::Args(format!(
            "cannot tell from '{archive}' whether it is a VM or a container backup (vzdump-qemu-…, vzdump-lxc-…, backup/vm/…, backup/ct/…); list_backups shows the backups"
        )));
    };
    // A protected guest's data stays where it is: no copy of it to a new guest either (as
    // clone_vm of it is refused).
    let source = backup_source("archive", archive, name)?;
    if let Some(why) = protection(ctx, ctx.policy, source)? {
        return Err(Error::Denied(format!(
            "{archive} is a backup of guest {source}, and {why}; restoring it would copy its data to another guest, so it is refused too"
        )));
    }
    let node_arg = args.str("node");
    // The guest the restore would replace, if the VMID is taken.
    let (vmid, existing) = match args.int("vmid") {
        Some(vmid) => {
            let resources = cluster_guests(ctx)?;
            ctx.pve.remember_guests(&resources);
            let found = find_guest(&resources, vmid as u64).cloned();
            (vmid, found)
        }
        None => (next_vmid(ctx)? as i64, None),
    };

    let mut params: Params = vec![("vmid", vmid.to_string())];
    // Over an existing guest the restore runs on its node; the archive must be readable there.
    let (node, overwritten) = match existing {
        Some(guest) => {
            let (node, status) = check_overwrite(ctx, args, kind, vmid, &guest)?;
            (Some(node), Some(status))
        }
        None => (node_arg.map(str::to_string), None),
    };
    let (node, volume) = find_volume(ctx, archive, node.as_deref())?;
    let original_storage = check_backup_config(ctx, kind, vmid as u64, &node, archive)?;
    let volume = described(volume, archive, &node);
    match kind {
        Guest::Vm => params.push(("archive", archive.to_string())),
        Guest::Container => {
            params.push(("ostemplate", archive.to_string()));
            params.push(("restore", bool01(true)));
        }
    }
    if let Some(s) = args.str("storage").map(str::to_string).or(original_storage) {
        params.push(("storage", s));
    }
    if overwritten.is_some() {
        params.push(("force", bool01(true)));
    }
    if let Some(start) = args.flag("start") {
        params.push(("start", bool01(start)));
    }
    if let Some(unique) = args.flag("unique") {
        params.push(("unique", bool01(unique)));
    }
    let target = json!({
        "archive": volume,
        "vmid": vmid,
        "type": kind.api(),
        "node": node,
        "overwrites": overwritten,
    });
    Change::post(path(&[&"nodes", &node, &kind.api()]), params).send(ctx, args, || Ok(target))
}

/// Checks a restore over the existing `guest` may go ahead: access full, `force`, `confirm_name`,
/// the same guest type, no PVE protection flag, stopped. Returns its node and status.
fn check_overwrite(
    ctx: &Ctx,
    args: &Args,
    kind: Guest,
    vmid: i64,
    guest: &Value,
) -> Result<(String, Value), Error> {
    let noun = match text(guest, "type") {
        "qemu" => "VM",
        "lxc" => "container",
        _ => "guest",
    };
    if ctx.policy.access < Access::Full {
        return Err(Error::Denied(format!(
            "restore_backup over the existing {noun} {vmid} replaces its disks and configuration (its current data is lost) and needs access level full, \
             but this server runs with PROXMOX_MCP_ACCESS={}; leave vmid out to restore to a new guest, or restart the server with PROXMOX_MCP_ACCESS=full (or --access full)",
            ctx.policy.access.name()
        )));
    }
    if args.flag("force") != Some(true) {
        return Err(Error::Denied(format!(
            "VMID {vmid} is an existing {noun}; restoring over it replaces it (its current data is lost). Pass force: true and confirm_name (its current name), \
             or leave vmid out to restore to a new guest; nothing was changed"
        )));
    }
    let name = match text(guest, "name") {
        "" => vmid.to_string(),
        n => n.to_string(),
    };
    let confirm = args.str("confirm_name").unwrap_or_default();
    if confirm != name {
        let status_tool = if noun == "container" {
            "get_container_status"
        } else {
            "get_vm_status"
        };
        return Err(Error::Denied(format!(
            "confirm_name '{confirm}' is not the name of {noun} {vmid}, which is '{name}'; nothing was changed. Check the VMID ({status_tool} shows its name) and pass its current name"
        )));
    }
    if text(guest, "type") != kind.api() {
        return Err(Error::Args(format!(
            "the backup is of a {} but VMID {vmid} is a {noun}; restore it to another VMID",
            kind.noun()
        )));
    }
    let node = text(guest, "node").to_string();
    if let Some(given) = args.str("node") {
        if given != node {
            return Err(Error::Args(format!(
                "{noun} {vmid} is on node {node}, not {given}; a restore over it runs there (leave node out)"
            )));
        }
    }
    let base = path(&[&"nodes", &node, &kind.api(), &vmid]);
    refuse_if_pve_protected(ctx, &base, vmid)?;
    let status_path = format!("{base}/status/current");
    let status = ctx.pve.get(&status_path, &[])?;
    let state = text(&status, "status");
    if state != "stopped" {
        let stop = match kind {
            Guest::Vm => "shutdown_vm or stop_vm",
            Guest::Container => "shutdown_container or stop_container",
        };
        return Err(Error::Denied(format!(
            "GET {status_path}: {noun} {vmid} ({name}) is {}; it must be stopped before a backup is restored over it ({stop})",
            if state.is_empty() { "not stopped" } else { state }
        )));
    }
    Ok((node, status))
}

fn delete_backup(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let volid = args.required_str("volume")?;
    let (storage, name) = backup_volid("volume", volid)?;
    let owner = backup_source("volume", volid, name)?;
    let resources = cluster_guests(ctx)?;
    ctx.pve.remember_guests(&resources);
    if let Some(why) = protection_in(ctx.policy, owner, &resources) {
        return Err(Error::Denied(format!(
            "{volid} is a backup of guest {owner}, and {why}; its backups are kept too"
        )));
    }
    // confirm_name binds the call to the guest the backup is of: its current name, or its VMID
    // when it has none or no longer exists.
    let guest = find_guest(&resources, owner);
    match guest {
        Some(g) => {
            let kind = match text(g, "type") {
                "lxc" => Guest::Container,
                _ => Guest::Vm,
            };
            let name = guest_name(text(g, "name"), owner as i64);
            check_confirm_name(args, kind, owner as i64, &name, "nothing was deleted")?;
        }
        None => {
            let confirm = args.required_str("confirm_name")?;
            if confirm != owner.to_string() {
                return Err(Error::Denied(format!(
                    "confirm_name '{confirm}' does not match: {volid} is a backup of guest {owner}, which is not in /cluster/resources (deleted, or the credentials lack VM.Audit on /vms/{owner}), so confirm_name is its VMID, '{owner}'; nothing was deleted"
                )));
            }
        }
    }
    let (node, volume) = find_volume(ctx, volid, args.str("node"))?;
    let content_path = path(&[&"nodes", &node, &"storage", &storage, &"content", &volid]);
    if truthy(volume.get("protected")) {
        return Err(Error::Denied(format!(
            "GET {content_path}: backup {volid} is protected in PVE (protected: 1), so this server will not delete it; \
             if this is intended, remove the protection in PVE first (Backups > Change Protection)"
        )));
    }
    let target = described(volume, volid, &node);
    Change::delete(content_path, Vec::new()).send(ctx, args, || Ok(target))
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The value of the text argument `name` if it is one of `allowed`.
pub(super) fn one_of(
    args: &Args,
    name: &str,
    allowed: &'static [&'static str],
) -> Result<Option<&'static str>, Error> {
    match args.str(name) {
        None => Ok(None),
        Some(v) => allowed
            .iter()
            .find(|a| **a == v)
            .map(|a| Some(*a))
            .ok_or_else(|| {
                Error::Args(format!(
                    "'{name}' must be one of {}, got '{v}'",
                    allowed.join(", ")
                ))
            }),
    }
}

/// A field as text, whether PVE sent it as a string or a number.
fn text_of(v: &Value, field: &str) -> String {
    match v.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// PVE booleans arrive as 1, true or "1".
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => s == "1",
        _ => false,
    }
}

/// A volume's attributes as PVE returned them, with its volid and node.
pub(super) fn described(attrs: Value, volid: &str, node: &str) -> Value {
    let mut out = match attrs {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    out.insert("volid".into(), json!(volid));
    out.insert("node".into(), json!(node));
    Value::Object(out)
}

/// `storage:name` split, with the storage id checked.
fn split_volid<'a>(arg: &str, volid: &'a str) -> Result<(&'a str, &'a str), Error> {
    let parts = volid.split_once(':').filter(|(storage, name)| {
        storage.len() >= 2
            && storage.starts_with(|c: char| c.is_ascii_alphabetic())
            && storage.ends_with(|c: char| c.is_ascii_alphanumeric())
            && storage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.is_empty()
            && !name.chars().any(char::is_control)
            && !name.split('/').any(|part| part == "..")
    });
    parts.ok_or_else(|| {
        Error::Args(format!(
            "'{arg}' must be a volume id such as local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst, got '{volid}'; list_backups shows them"
        ))
    })
}

/// A volume id that names a backup (`storage:backup/…`).
fn backup_volid<'a>(arg: &str, volid: &'a str) -> Result<(&'a str, &'a str), Error> {
    let (storage, name) = split_volid(arg, volid)?;
    if !name.starts_with("backup/") || name.len() <= "backup/".len() {
        return Err(Error::Args(format!(
            "'{arg}' must name a backup (storage:backup/…), got '{volid}'; list_backups shows the backups"
        )));
    }
    Ok((storage, name))
}

/// Whether a backup volume (the part after `storage:`) holds a VM or a container.
fn backup_kind(name: &str) -> Option<Guest> {
    let file = name.strip_prefix("backup/")?;
    if file.starts_with("vzdump-qemu-") || file.starts_with("vm/") {
        Some(Guest::Vm)
    } else if file.starts_with("vzdump-lxc-")
        || file.starts_with("vzdump-openvz-")
        || file.starts_with("ct/")
    {
        Some(Guest::Container)
    } else {
        None
    }
}

/// The VMID backup `volid` (`name` after `storage:`) was made of, or an error for `arg` when its
/// name does not say (then neither protection nor confirm_name could be checked).
fn backup_source(arg: &str, volid: &str, name: &str) -> Result<u64, Error> {
    backup_owner(name).ok_or_else(|| {
        Error::Args(format!(
            "cannot tell from '{arg}' {volid} which guest it is a backup of (vzdump-qemu-VMID-…, vzdump-lxc-VMID-…, backup/vm/VMID/…, backup/ct/VMID/…); list_backups shows the backups"
        ))
    })
}

/// The VMID a backup volume was made of, from its name.
fn backup_owner(name: &str) -> Option<u64> {
    let file = name.strip_prefix("backup/")?;
    let rest = [
        "vzdump-qemu-",
        "vzdump-lxc-",
        "vzdump-openvz-",
        "vm/",
        "ct/",
    ]
    .iter()
    .find_map(|p| file.strip_prefix(p))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The (storage, node) pairs to read: both given, or the available storages from
/// `/cluster/resources` that match `storage`, `node` and hold `content`; a shared storage once
/// (on its first node by name), a local one on each of its nodes. Sorted by storage, then node.
pub(super) fn storage_places(
    ctx: &Ctx,
    storage: Option<&str>,
    node: Option<&str>,
    content: Option<&str>,
) -> Result<Vec<(String, String)>, Error> {
    if let (Some(s), Some(n)) = (storage, node) {
        return Ok(vec![(s.to_string(), n.to_string())]);
    }
    let all = ctx
        .pve
        .get("/cluster/resources", &[("type", "storage".into())])?;
    let mut found: Vec<(String, String, bool)> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| text(r, "type") == "storage" && text(r, "status") == "available")
        .filter(|r| storage.is_none_or(|s| text(r, "storage") == s))
        .filter(|r| node.is_none_or(|n| text(r, "node") == n))
        .filter(|r| content.is_none_or(|c| text(r, "content").split(',').any(|x| x == c)))
        .map(|r| {
            (
                text(r, "storage").to_string(),
                text(r, "node").to_string(),
                truthy(r.get("shared")),
            )
        })
        .collect();
    found.sort();
    let mut seen_shared = HashSet::new();
    let places: Vec<(String, String)> = found
        .into_iter()
        .filter(|(s, _, shared)| !shared || seen_shared.insert(s.clone()))
        .map(|(s, n, _)| (s, n))
        .collect();
    if let (Some(s), true) = (storage, places.is_empty()) {
        let on = node.map(|n| format!(" on node {n}")).unwrap_or_default();
        let holding = content.map(|c| format!(" holding {c}")).unwrap_or_default();
        return Err(Error::NotFound(format!(
            "GET /cluster/resources: no available storage '{s}'{holding}{on}; list_storage shows the storages, their nodes and content types"
        )));
    }
    Ok(places)
}

/// `GET …/storage/{storage}/content` at each place, cut to `fields` and marked with storage and
/// node. With several places, one that cannot be read is reported in the second list instead.
pub(super) fn read_places(
    ctx: &Ctx,
    places: &[(String, String)],
    params: &[(&'static str, String)],
    fields: &[&str],
) -> Result<(Vec<Value>, Vec<Value>), Error> {
    let mut items = Vec::new();
    let mut unreadable = Vec::new();
    for (storage, node) in places {
        let content_path = path(&[&"nodes", &node, &"storage", &storage, &"content"]);
        match ctx.pve.get(&content_path, params) {
            Ok(list) => {
                for mut item in trimmed(list, fields) {
                    item["storage"] = json!(storage);
                    item["node"] = json!(node);
                    items.push(item);
                }
            }
            Err(e) if places.len() == 1 => return Err(e),
            Err(e) => {
                unreadable.push(json!({"storage": storage, "node": node, "error": e.to_string()}))
            }
        }
    }
    Ok((items, unreadable))
}

/// The node holding volume `volid` and its attributes (`GET …/content/{volume}`). Without
/// `node`, the nodes where its storage is available are asked in turn.
fn find_volume(ctx: &Ctx, volid: &str, node: Option<&str>) -> Result<(String, Value), Error> {
    let (storage, _) = split_volid("volume", volid)?;
    let volume_path =
        |node: &str| path(&[&"nodes", &node, &"storage", &storage, &"content", &volid]);
    if let Some(node) = node {
        return Ok((node.to_string(), ctx.pve.get(&volume_path(node), &[])?));
    }
    let places = storage_places(ctx, Some(storage), None, None)?;
    if let [(_, node)] = places.as_slice() {
        return Ok((node.clone(), ctx.pve.get(&volume_path(node), &[])?));
    }
    let mut tried = Vec::new();
    for (_, node) in &places {
        match ctx.pve.get(&volume_path(node), &[]) {
            Ok(attrs) => return Ok((node.clone(), attrs)),
            // Not on this node (PVE cannot size it there): try the next.
            Err(Error::Api { .. }) => tried.push(node.as_str()),
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotFound(format!(
        "GET /nodes/{{node}}/storage/{storage}/content/{volid}: none of the nodes with storage '{storage}' ({}) holds {volid}; list_backups shows the backups and their nodes",
        tried.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names() {
        let qemu = "backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst";
        assert!(backup_kind(qemu) == Some(Guest::Vm));
        assert_eq!(backup_owner(qemu), Some(100));
        let lxc = "backup/vzdump-lxc-2001-2025_01_31-02_00_00.tar.zst";
        assert!(backup_kind(lxc) == Some(Guest::Container));
        assert_eq!(backup_owner(lxc), Some(2001));
        let pbs = "backup/ct/200/2025-01-31T02:00:00Z";
        assert!(backup_kind(pbs) == Some(Guest::Container));
        assert_eq!(backup_owner(pbs), Some(200));
        assert!(backup_kind("backup/vm/101/2025-01-31T02:00:00Z") == Some(Guest::Vm));
        assert!(backup_kind("backup/other.tar").is_none());
        assert_eq!(backup_owner("backup/other.tar"), None);
        assert!(backup_volid("volume", "local:iso/x.iso").is_err());
        assert!(backup_volid("volume", "local:backup/").is_err());
        assert!(backup_volid("volume", "local:backup/../../etc").is_err());
        assert!(split_volid("volume", "no-colon").is_err());
        assert!(split_volid("volume", "x:backup/a").is_err());
        assert_eq!(
            split_volid("volume", "local-lvm:vm-100-disk-0").unwrap(),
            ("local-lvm", "vm-100-disk-0")
        );
    }
}
