//! Guests of both kinds beyond the original tools: container config, the remaining power
//! actions, create, clone, migrate and delete (config updates and disk resize are in
//! `guest_config.rs`).
//!
//! Every change goes through `Change::send` (dry run, task wait). Checks a user relies on run
//! before any write, also in dry runs: a VMID to create must be free (`/cluster/nextid?vmid=`),
//! a migration must pass PVE's precondition check (`GET …/migrate`), a delete must name the
//! guest as it is called now (`confirm_name`) and find it stopped and without PVE's protection
//! flag.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, bool01, path, Params};

use super::change::Change;
use super::guest::{
    confirmed_status, guest_name, guest_path, next_vmid, refuse_if_pve_protected, Guest,
};
use super::guest_config::{check_clone_config, check_config, node_of, set_params, volume_id};
use super::keys;
use super::list::{data, text};
use super::params::{CONFIRM_NAME, DRY_RUN, GUEST, NODE_OPT, POWER, STOP_ON_CANCEL, VMID, WAIT};
use super::power::{power, shutdown, SHUTDOWN_TIMEOUT};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

// ---------------------------------------------------------------------------------------------
// Parameters.

const CT_FORCE_STOP: Param = Param::opt("force_stop", Kind::Bool, "stop it after the timeout");
const NEW_VMID: Param = Param::opt("vmid", Kind::Vmid, "default: next free");
const CREATE_NODE: Param = Param::req("node", Kind::Node, "its node");
const VM_NAME: Param = Param::opt("name", Kind::Text { max: 128 }, "DNS name");
#[rustfmt::skip]
const CT_HOSTNAME: Param = Param::opt("hostname", Kind::Text { max: 128 }, "DNS name");
#[rustfmt::skip]
const VM_SIZE: Param = Param::opt("size", Kind::Int { min: 1, max: 1_048_576 }, "GiB (default 32)");
#[rustfmt::skip]
const CT_SIZE: Param = Param::opt("size", Kind::Int { min: 1, max: 1_048_576 }, "GiB (default 8)");
const VM_STORAGE: Param = Param::opt("storage", Kind::Storage, "for the disk");
const CT_STORAGE: Param = Param::opt("storage", Kind::Storage, "for the rootfs");
const CDROM: Param = Param::opt("cdrom", Kind::Text { max: 255 }, "ISO volume");
const START: Param = Param::opt("start", Kind::Bool, "start it");
#[rustfmt::skip]
const OSTEMPLATE: Param = Param::req("ostemplate", Kind::Text { max: 255 }, "local:vztmpl/...");
#[rustfmt::skip]
const VM_SET: Param = Param::opt("set", Kind::Object, "config keys, e.g. {\"cores\":4}");
#[rustfmt::skip]
const CT_SET: Param = Param::opt("set", Kind::Object, "config keys, and ssh-public-keys");
const NEWID: Param = Param::opt("newid", Kind::Vmid, "new VMID (default: next free)");
const CLONE_NAME: Param = Param::opt("name", Kind::Text { max: 128 }, "name of the clone");
#[rustfmt::skip]
const CLONE_HOSTNAME: Param = Param::opt("hostname", Kind::Text { max: 128 }, "host name of the clone");
const FULL: Param = Param::opt("full", Kind::Bool, "full copy (templates: linked)");
const CLONE_TARGET: Param = Param::opt("target", Kind::Node, "node for it (shared storage)");
const CLONE_STORAGE: Param = Param::opt("storage", Kind::Storage, "storage for a full clone");
const MIGRATE_TARGET: Param = Param::req("target", Kind::Node, "target node");
#[rustfmt::skip]
const WITH_LOCAL_DISKS: Param = Param::opt("with-local-disks", Kind::Bool, "copy local disks (running VM)");
const PURGE: Param = Param::opt("purge", Kind::Bool, "also drop from jobs, HA, replication");

const CT_SHUTDOWN: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &SHUTDOWN_TIMEOUT,
    &CT_FORCE_STOP,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const CREATE_VM: &[&Param] = &[
    &CREATE_NODE,
    &NEW_VMID,
    &VM_NAME,
    &VM_STORAGE,
    &VM_SIZE,
    &CDROM,
    &VM_SET,
    &START,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const CREATE_CT: &[&Param] = &[
    &CREATE_NODE,
    &OSTEMPLATE,
    &NEW_VMID,
    &CT_HOSTNAME,
    &CT_STORAGE,
    &CT_SIZE,
    &CT_SET,
    &START,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const CLONE_VM: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &NEWID,
    &CLONE_NAME,
    &FULL,
    &CLONE_TARGET,
    &CLONE_STORAGE,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const CLONE_CT: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &NEWID,
    &CLONE_HOSTNAME,
    &FULL,
    &CLONE_TARGET,
    &CLONE_STORAGE,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const MIGRATE_VM: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &MIGRATE_TARGET,
    &WITH_LOCAL_DISKS,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const MIGRATE_CT: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &MIGRATE_TARGET,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];
const DELETE_GUEST: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &CONFIRM_NAME,
    &PURGE,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "get_container_config",
        title: "Container configuration",
        description: "Returns a container's configuration as PVE stores it (rootfs, mount points mpN, NICs netN) with its digest.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Containers,
        params: GUEST,
        output: Output::object(&[f("hostname", Ty::Str, ""), f("cores", Ty::Int, ""), f("memory", Ty::Int, "MiB"), f("swap", Ty::Int, "MiB"), f("rootfs", Ty::Str, ""), f("net0", Ty::Str, ""), f("digest", Ty::Str, "for update_container_config")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_container_config,
    },
    Tool {
        name: "shutdown_container",
        title: "Shut down container",
        description: "Asks a container to shut down cleanly and waits for the task; with force_stop it is stopped after the timeout.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: CT_SHUTDOWN,
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: |c, a| shutdown(c, a, Guest::Container),
    },
    Tool {
        name: "reboot_container",
        title: "Reboot container",
        description: "Reboots a container cleanly (shutdown, then start) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Everyday],
        run: reboot_container,
    },
    Tool {
        name: "suspend_vm",
        title: "Suspend VM",
        description: "Pauses a running VM in RAM (qmpstatus becomes paused; resume_vm continues it) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[],
        run: suspend_vm,
    },
    Tool {
        name: "resume_vm",
        title: "Resume VM",
        description: "Resumes a paused (suspended) VM and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[],
        run: resume_vm,
    },
    Tool {
        name: "reset_vm",
        title: "Reset VM (hard)",
        description: "Resets a VM at once, like its reset button (the guest OS is not shut down; unsaved data is lost), and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::MayLoseData],
        run: reset_vm,
    },
    Tool {
        name: "suspend_container",
        title: "Suspend container",
        description: "Freezes all processes of a running container (resume_container thaws them) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[],
        run: suspend_container,
    },
    Tool {
        name: "resume_container",
        title: "Resume container",
        description: "Thaws a frozen (suspended) container and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::task(),
        idempotent: true,
        marks: &[],
        run: resume_container,
    },
    Tool {
        name: "create_vm",
        title: "Create VM",
        description: "Creates a VM, its disk on the first image storage; set's defaults: memory 2048, cores 2, ostype l26, scsihw virtio-scsi-single, net0 virtio,bridge=vmbr0.",
        privilege: "VM.Allocate on /vms/{vmid} (and Datastore.AllocateSpace)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: CREATE_VM,
        output: Output::task().with(&[f("vmid", Ty::Int, "")]),
        idempotent: false,
        marks: &[Mark::NewGuest, Mark::Also(Area::Vms)],
        run: create_vm,
    },
    Tool {
        name: "create_container",
        title: "Create container",
        description: "Creates a container, rootfs on the first rootdir storage; set's defaults: memory 512, cores 1, unprivileged 1 (with nesting), net0 name=eth0,bridge=vmbr0,ip=dhcp.",
        privilege: "VM.Allocate on /vms/{vmid} (and Datastore.AllocateSpace)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: CREATE_CT,
        output: Output::task().with(&[f("vmid", Ty::Int, "")]),
        idempotent: false,
        marks: &[Mark::NewGuest, Mark::Also(Area::Containers)],
        run: create_container,
    },
    Tool {
        name: "clone_vm",
        title: "Clone VM",
        description: "Clones a VM, full or linked, to a new VMID, another node or storage; waits.",
        privilege: "VM.Clone on /vms/{vmid} (and VM.Allocate on /vms/{newid})",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: CLONE_VM,
        output: Output::task().with(&[f("newid", Ty::Int, "the clone")]),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: |c, a| clone_guest(c, a, Guest::Vm),
    },
    Tool {
        name: "clone_container",
        title: "Clone container",
        description: "Clones a container, full or linked, to a new VMID, another node or storage; waits.",
        privilege: "VM.Clone on /vms/{vmid} (and VM.Allocate on /vms/{newid})",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: CLONE_CT,
        output: Output::task().with(&[f("newid", Ty::Int, "the clone")]),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers)],
        run: |c, a| clone_guest(c, a, Guest::Container),
    },
    Tool {
        name: "migrate_vm",
        title: "Migrate VM",
        description: "Moves a VM to another node, live if it runs, after PVE's precondition check (shown by a dry run); waits for the task.",
        privilege: "VM.Migrate on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: MIGRATE_VM,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: |c, a| migrate(c, a, Guest::Vm),
    },
    Tool {
        name: "migrate_container",
        title: "Migrate container",
        description: "Moves a container to another node, restarting it if it runs, after PVE's precondition check (shown by a dry run); waits.",
        privilege: "VM.Migrate on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: MIGRATE_CT,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers)],
        run: |c, a| migrate(c, a, Guest::Container),
    },
];

/// Deleting guests (after the config tools in `tools/list`).
pub(super) static DELETE_TOOLS: &[Tool] = &[
    Tool {
        name: "delete_vm",
        title: "Delete VM",
        description: "Deletes a stopped VM and its disks if confirm_name is its current name (so a wrong VMID deletes nothing); purge: also from jobs, HA.",
        privilege: "VM.Allocate on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Provisioning,
        params: DELETE_GUEST,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: |c, a| delete_guest(c, a, Guest::Vm),
    },
    Tool {
        name: "delete_container",
        title: "Delete container",
        description: "Deletes a stopped container and its volumes if confirm_name is its current name (so a wrong VMID deletes nothing); purge as in delete_vm.",
        privilege: "VM.Allocate on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Provisioning,
        params: DELETE_GUEST,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers)],
        run: |c, a| delete_guest(c, a, Guest::Container),
    },
];

// ---------------------------------------------------------------------------------------------
// Handlers.

fn get_container_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Container)?;
    data(ctx.pve.get(&format!("{base}/config"), &[])?)
}

fn reboot_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "reboot", Vec::new())
}

fn suspend_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "suspend", Vec::new())
}

fn resume_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "resume", Vec::new())
}

fn reset_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "reset", Vec::new())
}

fn suspend_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "suspend", Vec::new())
}

fn resume_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "resume", Vec::new())
}

fn create_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    if let Some(name) = args.str("name") {
        dns_name("name", name)?;
    }
    let cdrom = args
        .str("cdrom")
        .map(|v| volume_id("cdrom", v))
        .transpose()?;
    let set = create_set(Guest::Vm, args, &[])?;
    if let Some((_, ostype)) = set.iter().find(|(k, _)| *k == "ostype") {
        if !OSTYPES.contains(&ostype.as_str()) {
            return Err(Error::Args(format!(
                "'set.ostype' must be one of {}, got '{ostype}'",
                OSTYPES.join(", ")
            )));
        }
    }
    let vmid = free_vmid(ctx, args.int("vmid"))?;
    let storage = match args.str("storage") {
        Some(s) => s.to_string(),
        None => first_storage(ctx, node, "images")?,
    };
    let mut params: Params = vec![("vmid", vmid.to_string())];
    if let Some(name) = args.str("name") {
        params.push(("name", name.to_string()));
    }
    params.extend([
        ("memory", "2048".to_string()),
        ("cores", "2".to_string()),
        ("ostype", "l26".to_string()),
        ("scsihw", "virtio-scsi-single".to_string()),
        (
            "scsi0",
            format!("{storage}:{}", args.int("size").unwrap_or(32)),
        ),
        ("net0", "virtio,bridge=vmbr0".to_string()),
    ]);
    if let Some(iso) = cdrom {
        params.push(("ide2", format!("{iso},media=cdrom")));
    }
    replace_defaults(&mut params, set);
    if let Some(start) = args.flag("start") {
        params.push(("start", bool01(start)));
    }
    let target = keys::Target {
        kind: Guest::Vm,
        vmid: vmid as u64,
        unprivileged: None,
    };
    check_config(ctx, "create_vm", target, &params)?;
    let target = json!({"node": node, "vmid": vmid, "vmid_free": true, "storage": storage});
    let mut out =
        Change::post(path(&[&"nodes", &node, &"qemu"]), params).send(ctx, args, || Ok(target))?;
    out.insert("vmid".into(), json!(vmid));
    Ok(out)
}

fn create_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let ostemplate = volume_id("ostemplate", args.required_str("ostemplate")?)?;
    if let Some(name) = args.str("hostname") {
        dns_name("hostname", name)?;
    }
    // SSH keys for root are an argument of the create call only, not a config key.
    let set = create_set(Guest::Container, args, &["ssh-public-keys"])?;
    let vmid = free_vmid(ctx, args.int("vmid"))?;
    let storage = match args.str("storage") {
        Some(s) => s.to_string(),
        None => first_storage(ctx, node, "rootdir")?,
    };
    let mut params: Params = vec![
        ("vmid", vmid.to_string()),
        ("ostemplate", ostemplate.to_string()),
    ];
    if let Some(name) = args.str("hostname") {
        params.push(("hostname", name.to_string()));
    }
    params.extend([
        ("memory", "512".to_string()),
        ("cores", "1".to_string()),
        (
            "rootfs",
            format!("{storage}:{}", args.int("size").unwrap_or(8)),
        ),
        ("net0", "name=eth0,bridge=vmbr0,ip=dhcp".to_string()),
        ("unprivileged", bool01(true)),
    ]);
    replace_defaults(&mut params, set);
    let unprivileged = params.contains(&("unprivileged", bool01(true)));
    if unprivileged && !params.iter().any(|(k, _)| *k == "features") {
        // What PVE's own wizard sets: current systemd needs nesting in an unprivileged container.
        params.push(("features", "nesting=1".to_string()));
    }
    if let Some(start) = args.flag("start") {
        params.push(("start", bool01(start)));
    }
    let target = keys::Target {
        kind: Guest::Container,
        vmid: vmid as u64,
        unprivileged: Some(unprivileged),
    };
    check_config(ctx, "create_container", target, &params)?;
    let target = json!({"node": node, "vmid": vmid, "vmid_free": true, "storage": storage});
    let mut out =
        Change::post(path(&[&"nodes", &node, &"lxc"]), params).send(ctx, args, || Ok(target))?;
    out.insert("vmid".into(), json!(vmid));
    Ok(out)
}

/// A create call's `set` (`create_only`: keys the call takes beside the config), refusing the
/// keys its own parameters make.
fn create_set(kind: Guest, args: &Args, create_only: &[&'static str]) -> Result<Params, Error> {
    let own: &[(&str, &str)] = match kind {
        Guest::Vm => &[
            ("name", "name"),
            ("scsi0", "storage and size"),
            ("ide2", "cdrom"),
        ],
        Guest::Container => &[("hostname", "hostname"), ("rootfs", "storage and size")],
    };
    let set = set_params(kind, args, create_only)?;
    for (key, _) in &set {
        if let Some((_, given)) = own.iter().find(|(k, _)| k == key) {
            return Err(Error::Args(format!(
                "'set.{key}' is made from the parameters of this call: give {given} instead"
            )));
        }
    }
    Ok(set)
}

/// Puts `set`'s keys into `params`: a key already there (a default) takes the new value, others
/// are added.
fn replace_defaults(params: &mut Params, set: Params) {
    for (key, value) in set {
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The shared work.

fn clone_guest(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let name_arg = match kind {
        Guest::Vm => "name",
        Guest::Container => "hostname",
    };
    if let Some(name) = args.str(name_arg) {
        dns_name(name_arg, name)?;
    }
    if args.str("storage").is_some() && args.flag("full") == Some(false) {
        return Err(Error::Args(
            "'storage' applies to full clones only: leave it out for a linked clone, or set full: true".into(),
        ));
    }
    let base = guest_path(ctx, args, kind)?;
    let newid = free_vmid(ctx, args.int("newid"))?;
    // A new guest has no tags yet: only a protected VMID (or range) can name it.
    if let Some(why) = ctx.policy.protection(newid as u64, "") {
        let tool = match kind {
            Guest::Vm => "clone_vm",
            Guest::Container => "clone_container",
        };
        return Err(Error::Denied(format!(
            "{tool}: refused, nothing was sent: the clone would be VMID {newid}, but {why}; give another newid"
        )));
    }
    let mut params: Params = vec![("newid", newid.to_string())];
    if let Some(name) = args.str(name_arg) {
        params.push((name_arg, name.to_string()));
    }
    if let Some(full) = args.flag("full") {
        params.push(("full", bool01(full)));
    }
    if let Some(target) = args.str("target") {
        params.push(("target", target.to_string()));
    }
    if let Some(storage) = args.str("storage") {
        params.push(("storage", storage.to_string()));
    }
    let tool = match kind {
        Guest::Vm => "clone_vm",
        Guest::Container => "clone_container",
    };
    let target = keys::Target {
        kind,
        vmid: newid as u64,
        unprivileged: None,
    };
    check_config(ctx, tool, target, &params)?;
    check_clone_config(ctx, tool, kind, &base, newid as u64)?;
    let mut out = Change::post(format!("{base}/clone"), params).send(ctx, args, || {
        ctx.pve.get(&format!("{base}/status/current"), &[])
    })?;
    out.insert("newid".into(), json!(newid));
    Ok(out)
}

fn migrate(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let vmid = args.vmid();
    let target = args.required_str("target")?;
    let base = guest_path(ctx, args, kind)?;
    let node = node_of(&base);
    if node == target {
        return Err(Error::Args(format!(
            "{} {vmid} is already on {target}; name another node as target (list_nodes shows them)",
            kind.noun()
        )));
    }
    let check_path = format!("{base}/migrate");
    // PVE's precondition check (for containers since PVE 9; older ones answer 501).
    let precondition = match ctx.pve.get(&check_path, &[("target", target.to_string())]) {
        Ok(pre) => Some(pre),
        Err(Error::Api { status: 501, .. }) if kind == Guest::Container => None,
        Err(e) => return Err(e),
    };
    let running = match &precondition {
        Some(pre) => pre.get("running").and_then(as_u64) == Some(1),
        None => {
            let status = ctx.pve.get(&format!("{base}/status/current"), &[])?;
            text(&status, "status") == "running"
        }
    };
    if let Some(pre) = &precondition {
        let field = |a: &str, b: &str| pre.get(a).or_else(|| pre.get(b)).cloned();
        if let Some(Value::Array(allowed)) = field("allowed_nodes", "allowed-nodes") {
            if !allowed.iter().any(|n| n.as_str() == Some(target)) {
                let why = field("not_allowed_nodes", "not-allowed-nodes")
                    .and_then(|n| n.get(target).cloned())
                    .filter(|w| !w.is_null() && w != &json!({}))
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                return Err(Error::Denied(format!(
                    "GET {check_path}: PVE reports that {} {vmid} cannot migrate to {target}{why}; nodes it can migrate to: {}",
                    kind.noun(),
                    if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
                )));
            }
        }
        if kind == Guest::Vm && running && args.flag("with-local-disks") != Some(true) {
            let local: Vec<&str> = pre
                .get("local_disks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|d| {
                    d.get("cdrom").and_then(as_u64) != Some(1)
                        && d.get("is_unused").and_then(as_u64) != Some(1)
                })
                .map(|d| text(d, "volid"))
                .collect();
            if !local.is_empty() {
                return Err(Error::Args(format!(
                    "VM {vmid} runs and has disks on local storage ({}); a live migration must copy them: call again with with-local-disks: true, or shut the VM down first (GET {check_path})",
                    local.join(", ")
                )));
            }
        }
    }
    let mut params: Params = vec![("target", target.to_string())];
    match kind {
        Guest::Vm => {
            if running {
                params.push(("online", bool01(true)));
            }
            if let Some(w) = args.flag("with-local-disks") {
                params.push(("with-local-disks", bool01(w)));
            }
        }
        Guest::Container => {
            if running {
                params.push(("restart", bool01(true)));
            }
        }
    }
    let out = Change::post(check_path, params).send(ctx, args, || {
        Ok(json!({"node": node, "running": running, "precondition": precondition}))
    })?;
    if !args.flag("dry_run").unwrap_or(false) {
        // The guest lives elsewhere now: find it again next time.
        ctx.pve.forget_guest(vmid as u64);
    }
    Ok(out)
}

fn delete_guest(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let vmid = args.vmid();
    let base = guest_path(ctx, args, kind)?;
    refuse_if_pve_protected(ctx, &base, vmid)?;
    let status_path = format!("{base}/status/current");
    let status = confirmed_status(ctx, args, &base, kind, "nothing was deleted")?;
    let name = guest_name(text(&status, "name"), vmid);
    let stop_tools = match kind {
        Guest::Vm => "shutdown_vm or stop_vm",
        Guest::Container => "shutdown_container or stop_container",
    };
    let state = text(&status, "status");
    if state != "stopped" {
        return Err(Error::Denied(format!(
            "GET {status_path}: {} {vmid} ({name}) is {}; it must be stopped before it can be deleted ({stop_tools})",
            kind.noun(),
            if state.is_empty() { "not stopped" } else { state }
        )));
    }
    // Never remove disks elsewhere that merely carry this VMID: only what the config names.
    let mut params: Params = vec![("destroy-unreferenced-disks", bool01(false))];
    if let Some(purge) = args.flag("purge") {
        params.push(("purge", bool01(purge)));
    }
    let out = Change::delete(base, params).send(ctx, args, || Ok(status))?;
    if !args.flag("dry_run").unwrap_or(false) {
        ctx.pve.forget_guest(vmid as u64);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// PVE's `ostype` values for QEMU guests.
const OSTYPES: &[&str] = &[
    "l26", "l24", "win11", "win10", "win8", "win7", "wvista", "w2k8", "w2k3", "w2k", "wxp",
    "solaris", "other",
];

/// The VMID to create: `wanted` if it is free, else the next free one (`/cluster/nextid`).
pub(super) fn free_vmid(ctx: &Ctx, wanted: Option<i64>) -> Result<i64, Error> {
    match wanted {
        Some(vmid) => match ctx
            .pve
            .get("/cluster/nextid", &[("vmid", vmid.to_string())])
        {
            Ok(_) => Ok(vmid),
            // PVE answers a used VMID with 400 "vmid: VM 100 already exists".
            Err(Error::Api {
                status: 400,
                message,
                ..
            }) => Err(Error::Args(format!(
                "VMID {vmid} is already in use (GET /cluster/nextid: {message}); choose another, or leave it out to take the next free one"
            ))),
            Err(e) => Err(e),
        },
        None => next_vmid(ctx).map(|n| n as i64),
    }
}

/// The first active storage (by name) on `node` that holds `content` (images, rootdir).
fn first_storage(ctx: &Ctx, node: &str, content: &str) -> Result<String, Error> {
    let list_path = path(&[&"nodes", &node, &"storage"]);
    let list = ctx.pve.get(
        &list_path,
        &[("content", content.to_string()), ("enabled", bool01(true))],
    )?;
    let mut ids: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s.get("active").and_then(as_u64) != Some(0))
        .map(|s| text(s, "storage"))
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort();
    ids.first().map(|s| s.to_string()).ok_or_else(|| {
        Error::NotFound(format!(
            "GET {list_path}: no active storage on {node} holds {content}; name one with storage (list_storage shows them)"
        ))
    })
}

/// PVE's `dns-name` format: labels of letters, digits and inner '-', joined by '.'.
pub(super) fn dns_name(arg: &str, s: &str) -> Result<(), Error> {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.split('.').all(label) {
        Ok(())
    } else {
        Err(Error::Args(format!(
            "'{arg}' must be a DNS name (letters, digits and '-', parts joined by '.'), got '{s}'"
        )))
    }
}
