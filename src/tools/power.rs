//! The original guest tools: listing VMs and containers, their status and config, and power.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, Params};

use super::change::Change;
use super::guest::{cluster_guests, guest_path, Guest};
use super::list::{data, node_list, number, page, text, trimmed};
use super::params::GUEST_ROW;
use super::params::{DRY_RUN, GUEST, LIST, NODE_OPT, POWER, STOP_ON_CANCEL, VMID, WAIT};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

#[rustfmt::skip]
pub(super) const SHUTDOWN_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "seconds the guest may take to shut down (PVE's own timeout)");

#[rustfmt::skip]
const FORCE_STOP: Param = Param::opt("force_stop", Kind::Bool, "hard-stop the VM when it has not shut down after the timeout");

/// VMs.
pub(super) static VM_TOOLS: &[Tool] = &[
    Tool {
        name: "list_vms",
        title: "List VMs",
        description: "Lists QEMU VMs by VMID.",
        privilege: "VM.Audit on /vms/{vmid} (guests without it are not listed)",
        effect: Effect::Read,
        area: Area::Vms,
        params: LIST,
        output: Output::list(GUEST_ROW),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: |c, a| list_guests(c, a, Guest::Vm),
    },
    Tool {
        name: "get_vm_config",
        title: "VM configuration",
        description: "Returns a VM's configuration as PVE stores it (disks scsi0, virtio0, ...; NICs net0, ...) with its digest.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Vms,
        params: GUEST,
        output: Output::object(&[f("name", Ty::Str, ""), f("cores", Ty::Int, ""), f("memory", Ty::Any, "MiB"), f("net0", Ty::Str, ""), f("scsi0", Ty::Str, "a disk"), f("digest", Ty::Str, "for update_vm_config")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_vm_config,
    },
    Tool {
        name: "get_vm_status",
        title: "VM status",
        description: "Returns a VM's current state (running, stopped or paused), use and HA state.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Vms,
        params: GUEST,
        output: Output::object(&[f("status", Ty::Str, "running or stopped"), f("qmpstatus", Ty::Str, "paused = suspended"), f("cpu", Ty::Num, "use, 0-1"), f("mem", Ty::Num, "bytes"), f("maxmem", Ty::Num, "bytes"), f("uptime", Ty::Int, "seconds"), f("lock", Ty::Str, ""), f("ha", Ty::Obj, "")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_vm_status,
    },
    Tool {
        name: "start_vm",
        title: "Start VM",
        description: "Starts a VM and waits for PVE's start task (a VM that already runs is an error).",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: start_vm,
    },
    Tool {
        name: "stop_vm",
        title: "Stop VM (hard)",
        description: "Stops a VM at once, like pulling the power plug (unsaved data in the guest is lost; prefer shutdown_vm), and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::MayLoseData, Mark::Everyday],
        run: stop_vm,
    },
    Tool {
        name: "shutdown_vm",
        title: "Shut down VM",
        description: "Asks a VM's OS to shut down cleanly (ACPI) and waits for the task; with force_stop the VM is hard-stopped after the timeout.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: &[&VMID, &NODE_OPT, &SHUTDOWN_TIMEOUT, &FORCE_STOP, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: |c, a| shutdown(c, a, Guest::Vm),
    },
    Tool {
        name: "reboot_vm",
        title: "Reboot VM",
        description: "Reboots a VM cleanly (ACPI shutdown, then start) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Everyday],
        run: reboot_vm,
    },
];

/// Containers.
pub(super) static CONTAINER_TOOLS: &[Tool] = &[
    Tool {
        name: "list_containers",
        title: "List containers",
        description: "Lists LXC containers by VMID.",
        privilege: "VM.Audit on /vms/{vmid} (guests without it are not listed)",
        effect: Effect::Read,
        area: Area::Containers,
        params: LIST,
        output: Output::list(GUEST_ROW),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: |c, a| list_guests(c, a, Guest::Container),
    },
    Tool {
        name: "get_container_status",
        title: "Container status",
        description: "Returns a container's current state (running or stopped) and use.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Containers,
        params: GUEST,
        output: Output::object(&[f("status", Ty::Str, "running or stopped"), f("cpu", Ty::Num, "use, 0-1"), f("mem", Ty::Num, "bytes"), f("maxmem", Ty::Num, "bytes"), f("swap", Ty::Num, "bytes"), f("disk", Ty::Num, "bytes"), f("uptime", Ty::Int, "seconds"), f("lock", Ty::Str, "")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_container_status,
    },
    Tool {
        name: "start_container",
        title: "Start container",
        description: "Starts an LXC container and waits for PVE's start task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: start_container,
    },
    Tool {
        name: "stop_container",
        title: "Stop container (hard)",
        description: "Stops an LXC container at once (processes are killed, not shut down cleanly) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::MayLoseData, Mark::Everyday],
        run: stop_container,
    },
];

fn list_guests(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "vmid", "name", "node", "status", "cpu", "maxcpu", "cpus", "mem", "maxmem", "disk",
        "maxdisk", "uptime", "template", "tags", "lock", "hastate", "pool",
    ];
    let mut items = match args.str("node") {
        Some(node) => node_list(ctx, node, kind.api(), FIELDS)?,
        None => {
            let mut all = cluster_guests(ctx)?;
            if let Value::Array(items) = &mut all {
                items.retain(|r| text(r, "type") == kind.api());
            }
            trimmed(all, FIELDS)
        }
    };
    // PVE's container list gives the VMID as a string ("200"): a VMID is a number everywhere.
    for item in items.iter_mut() {
        if let Some(n) = item["vmid"].as_str().and_then(|v| v.parse::<u64>().ok()) {
            item["vmid"] = json!(n);
        }
    }
    Ok(page(args, items, &|a: &Value, b: &Value| {
        number(a, "vmid").total_cmp(&number(b, "vmid"))
    }))
}

pub(super) fn get_vm_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Vm)?;
    data(ctx.pve.get(&format!("{base}/config"), &[])?)
}

pub(super) fn get_vm_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Vm)?;
    data(ctx.pve.get(&format!("{base}/status/current"), &[])?)
}

pub(super) fn get_container_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Container)?;
    data(ctx.pve.get(&format!("{base}/status/current"), &[])?)
}

pub(super) fn start_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "start", Vec::new())
}

pub(super) fn stop_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "stop", Vec::new())
}

/// A clean shutdown of a VM or container: PVE's own `timeout`, `forceStop` after it.
pub(super) fn shutdown(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let mut params = Params::new();
    if let Some(t) = args.int("timeout") {
        params.push(("timeout", t.to_string()));
    }
    if let Some(f) = args.flag("force_stop") {
        params.push(("forceStop", bool01(f)));
    }
    power(ctx, args, kind, "shutdown", params)
}

fn reboot_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "reboot", Vec::new())
}

fn start_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "start", Vec::new())
}

pub(super) fn stop_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "stop", Vec::new())
}

/// POST `…/status/{action}` on a guest, then wait for the task.
pub(super) fn power(
    ctx: &Ctx,
    args: &Args,
    kind: Guest,
    action: &str,
    params: Params,
) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    Change::post(format!("{base}/status/{action}"), params).send(ctx, args, || {
        ctx.pve.get(&format!("{base}/status/current"), &[])
    })
}
