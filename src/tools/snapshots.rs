//! Snapshots of VMs and containers: create, list, delete, roll back.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Params};

use super::backups::START;
use super::change::Change;
use super::guest::{check_confirm_name, config_name, guest_path, refuse_if_pve_protected, Guest};
use super::list::{number, page, text, trimmed};
use super::params::SNAPSHOT_ROW;
use super::params::{
    CONFIRM_NAME, DRY_RUN, LIMIT, NODE_OPT, OFFSET, SNAPNAME, STOP_ON_CANCEL, VMID, WAIT,
};
use super::table::Mark;
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};

#[rustfmt::skip]
const DESCRIPTION: Param = Param::opt("description", Kind::Text { max: 8192 }, "a note stored with the snapshot");

#[rustfmt::skip]
const VMSTATE: Param = Param::opt("vmstate", Kind::Bool, "also save the VM's RAM, so a rollback resumes the running VM");

/// VM snapshots.
pub(super) static VM_TOOLS: &[Tool] = &[
    Tool {
        name: "create_vm_snapshot",
        title: "Create VM snapshot",
        description: "Takes a snapshot of a VM's disks (and RAM with vmstate) and waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Snapshots,
        params: &[&VMID, &SNAPNAME, &NODE_OPT, &DESCRIPTION, &VMSTATE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Everyday],
        run: |c, a| create_snapshot(c, a, Guest::Vm),
    },
    Tool {
        name: "list_vm_snapshots",
        title: "List VM snapshots",
        description: "Lists a VM's snapshots, oldest first.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Snapshots,
        params: &[&VMID, &NODE_OPT, &LIMIT, &OFFSET],
        output: Output::list(SNAPSHOT_ROW),
        idempotent: true,
        marks: &[Mark::Also(Area::Vms), Mark::Everyday],
        run: |c, a| list_snapshots(c, a, Guest::Vm),
    },
    Tool {
        name: "delete_vm_snapshot",
        title: "Delete VM snapshot",
        description: "Deletes a VM snapshot (checked to exist) if confirm_name is the VM's name; waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Snapshots,
        params: &[&VMID, &SNAPNAME, &CONFIRM_NAME, &NODE_OPT, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Everyday],
        run: |c, a| delete_snapshot(c, a, Guest::Vm),
    },
];

/// The snapshot tools added after the original ones: rollbacks and containers' snapshots.
pub(super) static MORE_TOOLS: &[Tool] = &[
    Tool {
        name: "rollback_vm_snapshot",
        title: "Roll back VM",
        description: "Rolls a VM back to a snapshot (checked to exist) if confirm_name is its name; changes made since are lost. Waits.",
        privilege: "VM.Snapshot or VM.Snapshot.Rollback on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Snapshots,
        params: SNAP_ROLLBACK,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: |c, a| rollback_snapshot(c, a, Guest::Vm),
    },
    Tool {
        name: "list_container_snapshots",
        title: "List container snapshots",
        description: "Lists a container's snapshots, oldest first.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Snapshots,
        params: &[&VMID, &NODE_OPT, &LIMIT, &OFFSET],
        output: Output::list(SNAPSHOT_ROW),
        idempotent: true,
        marks: &[Mark::Also(Area::Containers), Mark::Everyday],
        run: |c, a| list_snapshots(c, a, Guest::Container),
    },
    Tool {
        name: "create_container_snapshot",
        title: "Create container snapshot",
        description: "Takes a snapshot of a container's volumes and waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Snapshots,
        params: &[
            &VMID,
            &SNAPNAME,
            &NODE_OPT,
            &CT_SNAP_DESCRIPTION,
            &WAIT,
            &DRY_RUN,
            &STOP_ON_CANCEL,
        ],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers), Mark::Everyday],
        run: |c, a| create_snapshot(c, a, Guest::Container),
    },
    Tool {
        name: "delete_container_snapshot",
        title: "Delete container snapshot",
        description: "Deletes a container snapshot (checked to exist) if confirm_name is the container's name; waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Snapshots,
        params: SNAP_CHANGE,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers), Mark::Everyday],
        run: |c, a| delete_snapshot(c, a, Guest::Container),
    },
    Tool {
        name: "rollback_container_snapshot",
        title: "Roll back container",
        description: "Rolls a container back to a snapshot (checked to exist) if confirm_name is its name; changes since are lost. Waits.",
        privilege: "VM.Snapshot or VM.Snapshot.Rollback on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Snapshots,
        params: SNAP_ROLLBACK,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers)],
        run: |c, a| rollback_snapshot(c, a, Guest::Container),
    },
];

/// POST `…/snapshot` for a VM or container (`vmstate` only exists for VMs).
fn create_snapshot(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let mut params: Params = vec![("snapname", args.required_str("snapname")?.to_string())];
    if let Some(d) = args.str("description") {
        params.push(("description", d.to_string()));
    }
    if let Some(v) = args.flag("vmstate") {
        params.push(("vmstate", bool01(v)));
    }
    Change::post(format!("{base}/snapshot"), params).send(ctx, args, || {
        ctx.pve.get(&format!("{base}/status/current"), &[])
    })
}

/// A guest's snapshots oldest first, without PVE's `current` pseudo-entry.
fn list_snapshots(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let snaps = real_snapshots(ctx.pve.get(&format!("{base}/snapshot"), &[])?);
    const FIELDS: &[&str] = &["name", "snaptime", "description", "parent", "vmstate"];
    Ok(page(
        args,
        trimmed(Value::Array(snaps), FIELDS),
        &|a: &Value, b: &Value| {
            number(a, "snaptime")
                .total_cmp(&number(b, "snaptime"))
                .then_with(|| text(a, "name").cmp(text(b, "name")))
        },
    ))
}

/// DELETE `…/snapshot/{snapname}` of a VM or container, after the protection and existence checks.
fn delete_snapshot(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let snapname = args.required_str("snapname")?;
    let config = refuse_if_pve_protected(ctx, &base, args.vmid())?;
    let name = config_name(&config, kind, args.vmid());
    check_confirm_name(args, kind, args.vmid(), &name, "nothing was deleted")?;
    // Check the snapshot exists first, so a typo is reported as such and not as a failed task.
    let target = existing_snapshot(ctx, &base, kind, args.vmid(), snapname)?;
    Change::delete(
        format!("{base}{}", path(&[&"snapshot", &snapname])),
        Vec::new(),
    )
    .send(ctx, args, || Ok(target))
}

/// The snapshot `snapname` of a guest, or an error naming the tool that lists them.
fn existing_snapshot(
    ctx: &Ctx,
    base: &str,
    kind: Guest,
    vmid: i64,
    snapname: &str,
) -> Result<Value, Error> {
    let list_path = format!("{base}/snapshot");
    let snaps = real_snapshots(ctx.pve.get(&list_path, &[])?);
    snaps.into_iter().find(|s| text(s, "name") == snapname).ok_or_else(|| {
        let tool = match kind {
            Guest::Vm => "list_vm_snapshots",
            Guest::Container => "list_container_snapshots",
        };
        Error::NotFound(format!(
            "GET {list_path}: {} {vmid} has no snapshot named '{snapname}'; {tool} shows its snapshots",
            kind.noun()
        ))
    })
}

/// Snapshots without PVE's `current` pseudo-entry ("You are here!").
fn real_snapshots(list: Value) -> Vec<Value> {
    match list {
        Value::Array(a) => a
            .into_iter()
            .filter(|s| text(s, "name") != "current")
            .collect(),
        _ => Vec::new(),
    }
}

#[rustfmt::skip]
const CT_SNAP_DESCRIPTION: Param = Param::opt("description", Kind::Text { max: 8192 }, "a note stored with the snapshot");

const SNAP_CHANGE: &[&Param] = &[
    &VMID,
    &SNAPNAME,
    &CONFIRM_NAME,
    &NODE_OPT,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];

const SNAP_ROLLBACK: &[&Param] = &[
    &VMID,
    &SNAPNAME,
    &CONFIRM_NAME,
    &NODE_OPT,
    &START,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];

fn rollback_snapshot(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let config = refuse_if_pve_protected(ctx, &base, args.vmid())?;
    let name = config_name(&config, kind, args.vmid());
    check_confirm_name(args, kind, args.vmid(), &name, "nothing was rolled back")?;
    let snapname = args.required_str("snapname")?;
    let snapshot = existing_snapshot(ctx, &base, kind, args.vmid(), snapname)?;
    let mut params = Params::new();
    if let Some(start) = args.flag("start") {
        params.push(("start", bool01(start)));
    }
    // What is lost: the guest as it is now.
    Change::post(
        format!("{base}{}", path(&[&"snapshot", &snapname, &"rollback"])),
        params,
    )
    .send(ctx, args, || {
        let guest = ctx.pve.get(&format!("{base}/status/current"), &[])?;
        Ok(json!({"snapshot": snapshot, "guest": guest}))
    })
}
