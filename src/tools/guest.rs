//! One guest: its kind, where it lives (`guest_path`, from `/cluster/resources` when no node is
//! given), its name as `confirm_name` must repeat it, and PVE's protection flag.

use serde_json::Value;

use crate::error::Error;
use crate::pve::{as_u64, path};

use super::list::text;
use super::table::{Args, Ctx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Guest {
    Vm,
    Container,
}

impl Guest {
    /// The PVE path segment and resource type.
    pub(super) fn api(self) -> &'static str {
        match self {
            Guest::Vm => "qemu",
            Guest::Container => "lxc",
        }
    }
    pub(super) fn noun(self) -> &'static str {
        match self {
            Guest::Vm => "VM",
            Guest::Container => "container",
        }
    }
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}`, finding the node from `/cluster/resources` when not given.
pub(super) fn guest_path(ctx: &Ctx, args: &Args, kind: Guest) -> Result<String, Error> {
    let vmid = args.vmid();
    let node = match args.str("node") {
        Some(node) => node.to_string(),
        None => {
            let Some((node, found_kind)) = locate_guest(ctx, vmid as u64)? else {
                return Err(Error::NotFound(format!(
                    "GET /cluster/resources: no guest with VMID {vmid} in the cluster (or the credentials lack VM.Audit on /vms/{vmid}); list_{}s shows the {}s",
                    if kind == Guest::Vm { "vm" } else { "container" },
                    kind.noun()
                )));
            };
            if found_kind != kind.api() {
                let (is, tools) = match kind {
                    Guest::Vm => ("a container (lxc), not a VM", "the *_container tools"),
                    Guest::Container => ("a VM (qemu), not a container", "the *_vm tools"),
                };
                return Err(Error::NotFound(format!("VMID {vmid} is {is}; use {tools}")));
            }
            node
        }
    };
    Ok(path(&[&"nodes", &node, &kind.api(), &vmid]))
}

/// Where guest `vmid` lives and what it is (`qemu`/`lxc`): from the short-lived cache, else
/// from `/cluster/resources` (remembering every guest in it). None when it cannot be seen.
/// `run` forgets a guest whose call failed, so a moved guest is found again.
pub(super) fn locate_guest(ctx: &Ctx, vmid: u64) -> Result<Option<(String, String)>, Error> {
    if let Some(seen) = ctx.pve.cached_guest(vmid) {
        return Ok(Some(seen));
    }
    let resources = cluster_guests(ctx)?;
    ctx.pve.remember_guests(&resources);
    let found = find_guest(&resources, vmid);
    Ok(found.map(|r| (text(r, "node").to_string(), text(r, "type").to_string())))
}

/// The name `confirm_name` must repeat for a guest: its name, or its VMID when it has none.
pub(super) fn guest_name(name: &str, vmid: i64) -> String {
    match name {
        "" => vmid.to_string(),
        n => n.to_string(),
    }
}

/// Refuses the call unless `confirm_name` is `name`, the current name of guest `vmid` (so a
/// wrong VMID loses nothing); `unchanged` says what was not done.
pub(super) fn check_confirm_name(
    args: &Args,
    kind: Guest,
    vmid: i64,
    name: &str,
    unchanged: &str,
) -> Result<(), Error> {
    let confirm = args.required_str("confirm_name")?;
    if confirm == name {
        return Ok(());
    }
    let status_tool = match kind {
        Guest::Vm => "get_vm_status",
        Guest::Container => "get_container_status",
    };
    Err(Error::Denied(format!(
        "confirm_name '{confirm}' is not the name of {} {vmid}, which is '{name}'; {unchanged}. Check the VMID ({status_tool} shows its name) and pass its current name",
        kind.noun()
    )))
}

/// The guest's current status (`{base}/status/current`), once `confirm_name` matched its name.
pub(super) fn confirmed_status(
    ctx: &Ctx,
    args: &Args,
    base: &str,
    kind: Guest,
    unchanged: &str,
) -> Result<Value, Error> {
    let status = ctx.pve.get(&format!("{base}/status/current"), &[])?;
    let vmid = args.vmid();
    let name = guest_name(text(&status, "name"), vmid);
    check_confirm_name(args, kind, vmid, &name, unchanged)?;
    Ok(status)
}

/// The name `confirm_name` must repeat, from a guest's config (`name` of a VM, `hostname` of a
/// container).
pub(super) fn config_name(config: &Value, kind: Guest, vmid: i64) -> String {
    let key = match kind {
        Guest::Vm => "name",
        Guest::Container => "hostname",
    };
    guest_name(text(config, key), vmid)
}

/// Destroy tools refuse a guest with PVE's own `protection` flag: it is there to stop exactly
/// this. Returns the guest's config.
pub(super) fn refuse_if_pve_protected(ctx: &Ctx, base: &str, vmid: i64) -> Result<Value, Error> {
    config_unless_protected(ctx, base, vmid, "delete anything of it")
}

/// The guest's config, or a refusal when PVE's `protection` flag is set: this server will not
/// `what` (`delete anything of it`, `run commands in it`).
pub(super) fn config_unless_protected(
    ctx: &Ctx,
    base: &str,
    vmid: i64,
    what: &str,
) -> Result<Value, Error> {
    let config_path = format!("{base}/config");
    let config = ctx.pve.get(&config_path, &[])?;
    if config.get("protection").and_then(as_u64) == Some(1) {
        return Err(Error::Denied(format!(
            "GET {config_path}: guest {vmid} has PVE's protection flag set (protection: 1), so this server will not {what}; \
             if this is intended, clear the flag in PVE first (Options > Protection)"
        )));
    }
    Ok(config)
}

/// The next free VMID, as PVE's `/cluster/nextid` gives it.
pub(super) fn next_vmid(ctx: &Ctx) -> Result<u64, Error> {
    let next = ctx.pve.get("/cluster/nextid", &[])?;
    as_u64(&next).ok_or_else(|| Error::Transport {
        method: "GET",
        path: "/cluster/nextid".into(),
        message: format!("PVE did not return a VMID but {next}"),
    })
}

/// The guests of `/cluster/resources` (`type=vm`): every VM and container the credentials see.
pub(super) fn cluster_guests(ctx: &Ctx) -> Result<Value, Error> {
    ctx.pve.get("/cluster/resources", &[("type", "vm".into())])
}

/// Guest `vmid`'s entry in a `/cluster/resources` answer.
pub(super) fn find_guest(resources: &Value, vmid: u64) -> Option<&Value> {
    resources
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r.get("vmid").and_then(as_u64) == Some(vmid))
}
