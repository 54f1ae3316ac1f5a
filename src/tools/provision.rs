//! Provisioning in one call, and bulk actions.
//!
//! `provision_vm` is a chain of steps: clone a template, set the clone's cloud-init network,
//! grow its boot disk, start it, wait until its guest agent reports an IP. Everything that can
//! be checked is checked before the first write (arguments, the template's config: cloud-init
//! drive, guest agent, the disk, its host-level keys; the key class of every setting; a free,
//! unprotected VMID); a dry run shows every request of the chain. Each step is reported as
//! progress; a failed step is named (`step 3/5 resize failed`) with what the steps before it
//! made, and a cancellation stops between steps and says the same.
//!
//! `bulk_{start,shutdown,migrate}_guests` send one request to PVE's
//! `/cluster/bulk-action/guest/*` for the guests listed (never for "all": `vms` is required),
//! after one read of `/cluster/resources`: every guest must exist, and a protected one refuses
//! the whole call before anything is sent.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, bool01, path, Method, Params};

use super::change::{finish, follow, shown_params, start, Change};
use super::exec::agent_enabled;
use super::guest::{cluster_guests, find_guest, locate_guest, Guest};
use super::guest_config::{check_config, check_source_config, parse_size, resizable_disk};
use super::guests::{dns_name, free_vmid};
use super::keys;
use super::list::{data, text};
use super::monitor::agent_error;
use super::params::{DRY_RUN, STOP_ON_CANCEL, WAIT};
use super::run::protection_in;
use super::table::{f, Args, Content, Ctx, Kind, Mark, Output, Param, Tool, Ty};

// ---------------------------------------------------------------------------------------------
// Parameters.

#[rustfmt::skip]
const TEMPLATE: Param = Param::req("template", Kind::Vmid, "template VMID");
#[rustfmt::skip]
const NEW_VMID: Param = Param::opt("vmid", Kind::Vmid, "default: next free");
#[rustfmt::skip]
const NAME: Param = Param::opt("name", Kind::Text { max: 128 }, "DNS name");
#[rustfmt::skip]
const STORAGE: Param = Param::opt("storage", Kind::Storage, "full copy to it (default: linked)");
#[rustfmt::skip]
const IPCONFIG: Param = Param::opt("ipconfig0", Kind::Text { max: 256 }, "ip=CIDR,gw=IP or ip=dhcp");
#[rustfmt::skip]
const NAMESERVER: Param = Param::opt("nameserver", Kind::Text { max: 256 }, "DNS server IPs");
#[rustfmt::skip]
const SEARCHDOMAIN: Param = Param::opt("searchdomain", Kind::Text { max: 256 }, "DNS domains");
#[rustfmt::skip]
const SSHKEYS: Param = Param::opt("sshkeys", Kind::Text { max: 16_384 }, "SSH public keys (exec class)");
#[rustfmt::skip]
const SIZE: Param = Param::opt("size", Kind::Text { max: 32 }, "grow boot disk: +10G or 64G");
#[rustfmt::skip]
const IP_WAIT: Param = Param::opt("ip_wait", Kind::Int { min: 0, max: 3600 }, "s to wait for an IP (0: skip; 300)");
#[rustfmt::skip]
const STEP_WAIT: Param = Param::opt("wait_seconds", Kind::Int { min: 1, max: 86_400 }, "max s per task step");
#[rustfmt::skip]
const PROVISION: &[&Param] = &[&TEMPLATE, &NEW_VMID, &NAME, &STORAGE, &IPCONFIG, &NAMESERVER, &SEARCHDOMAIN, &SSHKEYS, &SIZE, &IP_WAIT, &STEP_WAIT, &DRY_RUN];

#[rustfmt::skip]
const VMS: Param = Param::req("vms", Kind::Vmids { max_items: 500 }, "guest IDs, e.g. [100, 101]");
#[rustfmt::skip]
const WORKERS: Param = Param::opt("max-workers", Kind::Int { min: 1, max: 64 }, "tasks at once (1-64)");
#[rustfmt::skip]
const START_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "s per VM");
#[rustfmt::skip]
const DOWN_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "s per guest (180)");
#[rustfmt::skip]
const FORCE_STOP: Param = Param::opt("force_stop", Kind::Bool, "hard-stop guests up after timeout");
#[rustfmt::skip]
const TARGET: Param = Param::req("target", Kind::Node, "target node");
#[rustfmt::skip]
const ONLINE: Param = Param::opt("online", Kind::Bool, "live (VMs) or restart (containers) if running");
#[rustfmt::skip]
const LOCAL_DISKS: Param = Param::opt("with-local-disks", Kind::Bool, "copy local disks");
#[rustfmt::skip]
const BULK_START: &[&Param] = &[&VMS, &START_TIMEOUT, &WORKERS, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];
#[rustfmt::skip]
const BULK_SHUTDOWN: &[&Param] = &[&VMS, &DOWN_TIMEOUT, &FORCE_STOP, &WORKERS, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];
#[rustfmt::skip]
const BULK_MIGRATE: &[&Param] = &[&VMS, &TARGET, &ONLINE, &LOCAL_DISKS, &WORKERS, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];

const BULK_OUT: Output = Output::task().with(&[f("guests", Ty::Arr, "vmid, type, node, status")]);
const BOTH: &[Mark] = &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)];

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "provision_vm",
        title: "Provision VM",
        description: "Clones a template, sets cloud-init network, grows the disk, starts the VM, waits for its agent's IP; a failed step says what was made.",
        privilege: "VM.Clone on /vms/{template} (and VM.Allocate on the new VM)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: PROVISION,
        output: Output::object(&[f("vmid", Ty::Int, ""), f("ip", Ty::StrOrNull, "")]),
        idempotent: false,
        marks: &[Mark::NewGuest, Mark::Also(Area::Vms)],
        run: provision_vm,
    },
    Tool {
        name: "bulk_start_guests",
        title: "Start guests (bulk)",
        description: "Starts or resumes the listed VMs and containers in one PVE task; a protected guest refuses the call.",
        privilege: "VM.PowerMgmt on /vms/{vmid} (each guest)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: BULK_START,
        output: BULK_OUT,
        idempotent: true,
        marks: BOTH,
        run: |c, a| bulk(c, a, "start"),
    },
    Tool {
        name: "bulk_shutdown_guests",
        title: "Shut down guests (bulk)",
        description: "Shuts the listed VMs and containers down cleanly in one PVE task; a protected guest refuses the call.",
        privilege: "VM.PowerMgmt on /vms/{vmid} (each guest)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: BULK_SHUTDOWN,
        output: BULK_OUT,
        idempotent: true,
        marks: BOTH,
        run: |c, a| bulk(c, a, "shutdown"),
    },
    Tool {
        name: "bulk_migrate_guests",
        title: "Migrate guests (bulk)",
        description: "Migrates the listed VMs and containers to target in one PVE task; a protected guest refuses the call.",
        privilege: "VM.Migrate on /vms/{vmid} (each guest)",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: BULK_MIGRATE,
        output: BULK_OUT,
        idempotent: false,
        marks: BOTH,
        run: |c, a| bulk(c, a, "migrate"),
    },
];

const TOOL: &str = "provision_vm";

// ---------------------------------------------------------------------------------------------
// provision_vm.

/// One request of the chain.
struct Step {
    name: &'static str,
    method: Method,
    path: String,
    params: Params,
}

impl Step {
    fn new(name: &'static str, method: Method, path: String, params: Params) -> Step {
        Step {
            name,
            method,
            path,
            params,
        }
    }

    fn shown(&self, label: &str) -> Value {
        let params = shown_params(&self.params);
        json!({"step": label, "method": self.method.as_str(), "path": self.path, "params": params})
    }
}

fn provision_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let template = args.int("template").unwrap_or_default() as u64;
    // The arguments first: nothing is read before they are known to be usable.
    if let Some(name) = args.str("name") {
        dns_name("name", name)?;
    }
    let cloud = cloud_init(args)?;
    let size = match args.str("size") {
        Some(s) => match parse_size(s) {
            Some((grow, bytes)) if !(grow && bytes == 0) => Some((s, grow, bytes)),
            _ => {
                return Err(Error::Args(format!(
                    "'size' must be +N to add or N for the new size, N in bytes or with K, M, G or T (e.g. +10G, 64G), got '{s}'"
                )))
            }
        },
        None => None,
    };
    let ip_wait = args.int("ip_wait").unwrap_or(300) as u64;

    // The template, read once: what the clone will be.
    let Some((node, kind)) = locate_guest(ctx, template)? else {
        return Err(Error::NotFound(format!(
            "GET /cluster/resources: no guest with VMID {template} in the cluster (or the credentials lack VM.Audit on /vms/{template}); list_vms shows the VMs"
        )));
    };
    if kind != Guest::Vm.api() {
        return Err(Error::Args(format!(
            "VMID {template} is a container; provision_vm clones VM templates (clone_container clones containers)"
        )));
    }
    let source = path(&[&"nodes", &node, &"qemu", &template]);
    let config_path = format!("{source}/config");
    let config = ctx.pve.get(&config_path, &[])?;
    if !cloud.is_empty() && !has_cloudinit_drive(&config) {
        return Err(Error::Args(format!(
            "GET {config_path}: template {template} has no cloud-init drive, so ipconfig0, nameserver, searchdomain and sshkeys would have no effect; \
             add one to the template (update_vm_config set ide2: STORAGE:cloudinit) or leave them out"
        )));
    }
    if ip_wait > 0 && !agent_enabled(config.get("agent")) {
        return Err(Error::Args(format!(
            "GET {config_path}: template {template} has no QEMU guest agent enabled (agent: 1), so no IP can be waited for; \
             enable it in the template, or pass ip_wait: 0"
        )));
    }
    let resize = match size {
        Some((s, grow, bytes)) => Some(boot_disk_resize(&config, &config_path, s, grow, bytes)?),
        None => None,
    };
    let newid = free_vmid(ctx, args.int("vmid"))? as u64;
    if args.int("vmid").is_none() {
        // A given VMID was checked before the handler ran; a new guest has no tags yet.
        if let Some(why) = ctx.policy.protection(newid, "") {
            return Err(Error::Denied(format!(
                "the next free VMID is {newid}: {why}; give another vmid"
            )));
        }
    }

    let mut clone: Params = vec![("newid", newid.to_string())];
    if let Some(name) = args.str("name") {
        clone.push(("name", name.to_string()));
    }
    if let Some(storage) = args.str("storage") {
        // A storage means a full copy (PVE refuses one for a linked clone).
        clone.extend([("full", bool01(true)), ("storage", storage.to_string())]);
    }
    let target = keys::Target {
        kind: Guest::Vm,
        vmid: newid,
        unprivileged: None,
    };
    check_config(ctx, TOOL, target, &clone)?;
    check_config(ctx, TOOL, target, &cloud)?;
    let from = format!("VM {template}");
    check_source_config(ctx.policy, TOOL, Guest::Vm, &from, newid, &config)?;

    let base = path(&[&"nodes", &node, &"qemu", &newid]);
    let mut steps = vec![Step::new(
        "clone",
        Method::Post,
        format!("{source}/clone"),
        clone,
    )];
    if !cloud.is_empty() {
        let config = format!("{base}/config");
        steps.push(Step::new("cloud-init", Method::Put, config, cloud));
    }
    if let Some((disk, size, _)) = &resize {
        let params = vec![("disk", disk.clone()), ("size", size.to_string())];
        steps.push(Step::new(
            "resize",
            Method::Put,
            format!("{base}/resize"),
            params,
        ));
    }
    let start = format!("{base}/status/start");
    steps.push(Step::new("start", Method::Post, start, Vec::new()));
    if ip_wait > 0 {
        let agent = format!("{base}/agent/network-get-interfaces");
        steps.push(Step::new("ip", Method::Get, agent, Vec::new()));
    }
    let total = steps.len();
    let label = |i: usize, step: &Step| format!("step {}/{total} {}", i + 1, step.name);

    if args.flag("dry_run").unwrap_or(false) {
        let requests: Vec<Value> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.shown(&label(i, s)))
            .collect();
        let disk = resize
            .as_ref()
            .map(|(d, _, current)| json!({"disk": d, "size": current}));
        let mut out = Map::new();
        out.insert("data".into(), Value::Null);
        out.insert("dry_run".into(), json!(true));
        out.insert("requests".into(), Value::Array(requests));
        out.insert(
            "target".into(),
            json!({"template": template, "node": node, "vmid": newid, "vmid_free": true, "disk": disk, "ip_wait_s": ip_wait}),
        );
        return Ok(out);
    }

    let wait = args
        .int("wait_seconds")
        .map(|w| w as u64)
        .unwrap_or(ctx.task_wait)
        .max(1);
    let mut made = Made {
        vmid: newid,
        template,
        done: Vec::new(),
        running_task: None,
    };
    let mut done: Vec<Value> = Vec::new();
    let mut ips: Vec<String> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let label = label(i, step);
        // A cancellation that arrived since the last step stops the chain here.
        if i > 0 && !ctx.waiter.pause(Duration::from_millis(1)) {
            return Err(cancelled(ctx, &label, &made));
        }
        if ctx.waiter.wants_progress() {
            let method = step.method.as_str();
            ctx.waiter
                .progress(&format!("{label}: {method} {}", step.path));
        }
        let outcome = match step.method {
            Method::Get => wait_for_ip(ctx, &step.path, ip_wait, newid).map(|found| {
                ips = found;
                json!({"step": step.name, "ips": ips})
            }),
            _ => send_step(ctx, step, wait, &mut made.running_task)
                .map(|task| json!({"step": step.name, "task": task})),
        };
        match outcome {
            Ok(summary) => {
                done.push(summary);
                made.running_task = None;
                made.done.push(step.name);
            }
            Err(Error::Cancelled) => return Err(cancelled(ctx, &label, &made)),
            Err(e) => {
                if matches!(e, Error::Task { .. }) {
                    // The step's task ended (and PVE undid what it had begun).
                    made.running_task = None;
                }
                return Err(Error::Step {
                    step: label,
                    cause: Box::new(e),
                    made: made.text(),
                });
            }
        }
    }
    data(json!({
        "vmid": newid,
        "node": node,
        "name": args.str("name"),
        "template": template,
        "ip": ips.first(),
        "ips": ips,
        "steps": done,
    }))
}

/// What the chain has made so far, for an error or a cancellation.
struct Made {
    vmid: u64,
    template: u64,
    /// The steps that ended well.
    done: Vec<&'static str>,
    /// The task of the step under way, if it started one.
    running_task: Option<String>,
}

impl Made {
    fn text(&self) -> String {
        let vmid = self.vmid;
        let mut out = match (self.done.first(), &self.running_task) {
            (Some(_), _) => {
                let mut what = vec![format!("cloned from {}", self.template)];
                for step in &self.done[1..] {
                    what.push(
                        match *step {
                            "cloud-init" => "cloud-init set",
                            "resize" => "disk grown",
                            "start" => "started",
                            _ => "IP seen",
                        }
                        .to_string(),
                    );
                }
                format!("VM {vmid} ({})", what.join(", "))
            }
            (None, Some(upid)) => format!(
                "VM {vmid} may exist: its clone task {upid} was started (get_task_status shows it)"
            ),
            (None, None) => return "nothing".to_string(),
        };
        if let (Some(_), Some(upid)) = (self.done.first(), &self.running_task) {
            out.push_str(&format!(
                "; the step's task {upid} was started (get_task_status shows it)"
            ));
        }
        let tidy = if self.done.contains(&"start") {
            "stop it with stop_vm and delete it with delete_vm if unwanted"
        } else {
            "delete it with delete_vm if unwanted"
        };
        format!("{out} — {tidy}")
    }
}

/// A cancelled chain: says what was made (as progress when the caller listens, and in the log),
/// and gives no answer.
fn cancelled(ctx: &Ctx, label: &str, made: &Made) -> Error {
    let message = format!(
        "{TOOL} cancelled at {label}; nothing more is sent; made so far: {}",
        made.text()
    );
    crate::warn!("{message}");
    if ctx.waiter.wants_progress() {
        ctx.waiter.progress(&message);
    }
    Error::Cancelled
}

/// Sends one write of the chain and follows its task to the end; the task's summary (null for a
/// change PVE made at once). `running` holds the task while it is followed.
fn send_step(
    ctx: &Ctx,
    step: &Step,
    wait: u64,
    running: &mut Option<String>,
) -> Result<Value, Error> {
    let method = step.method.as_str();
    let Some(upid) = start(ctx, step.method, &step.path, &step.params)? else {
        return Ok(Value::Null);
    };
    *running = Some(upid.raw.clone());
    let status = follow(ctx, &upid, Duration::from_secs(wait), false)?;
    if text(&status, "status") == "running" {
        return Err(Error::Transport {
            method,
            path: step.path.clone(),
            message: format!(
                "task {} still runs after {wait} s (wait_seconds); the chain stops here: follow it with wait_task",
                upid.raw
            ),
        });
    }
    let mut out = finish(ctx, method, &step.path, &upid, &status, wait)?;
    Ok(out.remove("task").unwrap_or_default())
}

/// Polls the guest agent until it reports an address (loopback and link-local ones left out),
/// for at most `wait_s` seconds; IPv4 addresses first.
fn wait_for_ip(ctx: &Ctx, path: &str, wait_s: u64, vmid: u64) -> Result<Vec<String>, Error> {
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    let mut delay = Duration::from_millis(500);
    loop {
        let last = match ctx.pve.get(path, &[]) {
            Ok(reply) => {
                let ips = addresses(&reply);
                if !ips.is_empty() {
                    return Ok(ips);
                }
                "the agent reports no address yet".to_string()
            }
            // The agent starts some time after the VM: "QEMU guest agent is not running",
            // "guest-ping failed - got timeout". A missing agent config is final.
            Err(Error::Api {
                status: 500,
                message,
                ..
            }) if !message.contains("No QEMU guest agent configured") => message,
            Err(e) => return Err(agent_error(e, vmid as i64)),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Transport {
                method: "GET",
                path: path.to_string(),
                message: format!(
                    "no IP address from the guest agent within {wait_s} s (last: {last}); the VM runs: get_vm_agent_info shows what its agent says"
                ),
            });
        }
        if ctx.waiter.wants_progress() {
            ctx.waiter.progress(&format!("waiting for an IP: {last}"));
        }
        if !ctx.waiter.pause(delay.min(deadline - now)) {
            return Err(Error::Cancelled);
        }
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    }
}

/// The addresses in an agent's `network-get-interfaces` answer, IPv4 first; none of loopback
/// or link-local.
fn addresses(reply: &Value) -> Vec<String> {
    let list = reply.get("result").unwrap_or(reply);
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for iface in list.as_array().into_iter().flatten() {
        for a in iface
            .get("ip-addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(ip) = a
                .get("ip-address")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
            else {
                continue;
            };
            match ip {
                std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_link_local() => {
                    v4.push(ip.to_string())
                }
                std::net::IpAddr::V6(ip)
                    if !ip.is_loopback() && (ip.segments()[0] & 0xffc0) != 0xfe80 =>
                {
                    v6.push(ip.to_string())
                }
                _ => {}
            }
        }
    }
    v4.extend(v6);
    v4
}

/// The cloud-init settings to set, checked and in PVE's wire form.
fn cloud_init(args: &Args) -> Result<Params, Error> {
    let mut out = Params::new();
    if let Some(v) = args.str("ipconfig0") {
        let ok = v.split(',').all(|part| {
            part.split_once('=').is_some_and(|(k, val)| {
                ["ip", "gw", "ip6", "gw6"].contains(&k)
                    && !val.is_empty()
                    && val
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:/".contains(c))
            })
        });
        if !ok {
            return Err(Error::Args(format!(
                "'ipconfig0' must be ip=CIDR or ip=dhcp, with gw=IP, ip6=CIDR|dhcp|auto, gw6=IP (comma-separated), got '{v}'"
            )));
        }
        out.push(("ipconfig0", v.to_string()));
    }
    if let Some(v) = args.str("nameserver") {
        let items: Vec<&str> = v.split([' ', ',', ';']).filter(|s| !s.is_empty()).collect();
        if items.is_empty() || items.iter().any(|s| s.parse::<std::net::IpAddr>().is_err()) {
            return Err(Error::Args(format!(
                "'nameserver' must be IP addresses separated by spaces, got '{v}'"
            )));
        }
        out.push(("nameserver", items.join(" ")));
    }
    if let Some(v) = args.str("searchdomain") {
        let items: Vec<&str> = v.split([' ', ',', ';']).filter(|s| !s.is_empty()).collect();
        if items.is_empty() {
            return Err(Error::Args("'searchdomain' is empty".into()));
        }
        for item in &items {
            dns_name("searchdomain", item)?;
        }
        out.push(("searchdomain", items.join(" ")));
    }
    if let Some(v) = args.str("sshkeys") {
        let keys: Vec<&str> = v.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let public = |k: &&str| {
            ["ssh-", "ecdsa-", "sk-"].iter().any(|p| k.starts_with(p)) && !k.contains('\0')
        };
        if keys.is_empty() || !keys.iter().all(public) {
            return Err(Error::Args(
                "'sshkeys' must be OpenSSH public keys, one a line (ssh-ed25519 AAAA… user@host); never a private key".into(),
            ));
        }
        // PVE takes this one value percent-encoded (its `urlencoded` format).
        out.push(("sshkeys", urlencode(&keys.join("\n"))));
    }
    Ok(out)
}

/// Percent-encodes all but letters, digits and `-_.~`.
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a VM config has a cloud-init drive (`ide2: local-lvm:vm-9000-cloudinit,media=cdrom`).
fn has_cloudinit_drive(config: &Value) -> bool {
    config.as_object().into_iter().flatten().any(|(k, v)| {
        resizable_disk(Guest::Vm, k)
            && v.as_str()
                .is_some_and(|s| keys::main_volume(s).ends_with("cloudinit"))
    })
}

/// The disk to grow (the first disk of the boot order, else scsi0, virtio0, sata0 or ide0),
/// checked against its current size: (disk, size as given, current size).
fn boot_disk_resize(
    config: &Value,
    config_path: &str,
    size: &str,
    grow: bool,
    bytes: u64,
) -> Result<(String, String, String), Error> {
    let disk_value = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .filter(|_| resizable_disk(Guest::Vm, k))
            .filter(|v| !v.split(',').any(|p| p == "media=cdrom"))
            .filter(|v| !keys::main_volume(v).ends_with("cloudinit"))
    };
    let boot = text(config, "boot");
    let order = boot
        .split(',')
        .find_map(|p| p.strip_prefix("order="))
        .unwrap_or_default();
    let disk = order
        .split(';')
        .chain([text(config, "bootdisk"), "scsi0", "virtio0", "sata0", "ide0"])
        .find(|k| disk_value(k).is_some())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "GET {config_path}: the template has no disk to grow (no boot disk, scsi0, virtio0, sata0 or ide0); leave size out"
            ))
        })?;
    let value = disk_value(disk).unwrap_or_default();
    let current = value
        .split(',')
        .find_map(|p| p.strip_prefix("size="))
        .unwrap_or_default();
    if let (false, Some((_, cur))) = (grow, parse_size(current)) {
        if bytes <= cur {
            return Err(Error::Args(format!(
                "size {size} is not larger than the template's {disk} ({current}); disks only grow: give a larger size, or +N to add N"
            )));
        }
    }
    Ok((disk.to_string(), size.to_string(), current.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Bulk actions.

fn bulk(ctx: &Ctx, args: &Args, action: &str) -> Result<Content, Error> {
    let tool = format!("bulk_{action}_guests");
    // `validate` made this a non-empty array of guest ids.
    let mut vms: Vec<u64> = args
        .0
        .get("vms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(as_u64)
        .collect();
    vms.sort_unstable();
    vms.dedup();
    let target = args.str("target");
    let resources = cluster_guests(ctx)?;
    let mut guests = Vec::new();
    let mut missing = Vec::new();
    for &vmid in &vms {
        match find_guest(&resources, vmid) {
            Some(g) => guests.push(json!({
                "vmid": vmid,
                "type": text(g, "type"),
                "node": text(g, "node"),
                "name": text(g, "name"),
                "status": text(g, "status"),
            })),
            None => missing.push(vmid.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "GET /cluster/resources: no guest with VMID {} in the cluster (or the credentials lack VM.Audit on it); nothing was sent. list_vms and list_containers show the guests",
            missing.join(", ")
        )));
    }
    let protected: Vec<(u64, String)> = vms
        .iter()
        .filter_map(|&v| protection_in(ctx.policy, v, &resources).map(|why| (v, why)))
        .collect();
    if let Some((_, why)) = protected.first() {
        let ids: Vec<String> = protected.iter().map(|(v, _)| v.to_string()).collect();
        return Err(Error::Denied(format!(
            "{tool}: refused, nothing was sent: protected guests in vms: {} ({why}); leave them out of vms",
            ids.join(", ")
        )));
    }
    if let Some(target) = target {
        let there: Vec<String> = guests
            .iter()
            .filter(|g| g["node"] == target)
            .map(|g| g["vmid"].to_string())
            .collect();
        if !there.is_empty() {
            return Err(Error::Args(format!(
                "guests {} are already on {target}; leave them out of vms",
                there.join(", ")
            )));
        }
    }
    let mut params: Params = vms.iter().map(|v| ("vms", v.to_string())).collect();
    match action {
        "shutdown" => {
            // PVE's default is to hard-stop after the timeout: only when asked here.
            let force = args.flag("force_stop").unwrap_or(false);
            params.push(("force-stop", bool01(force)));
        }
        "migrate" => {
            params.push(("target", target.unwrap_or_default().to_string()));
            for key in ["online", "with-local-disks"] {
                if let Some(v) = args.flag(key) {
                    params.push((key, bool01(v)));
                }
            }
        }
        _ => {}
    }
    if let Some(t) = args.int("timeout") {
        params.push(("timeout", t.to_string()));
    }
    if let Some(w) = args.int("max-workers") {
        params.push(("max-workers", w.to_string()));
    }
    let guests = Value::Array(guests);
    let shown = guests.clone();
    let change = Change::post(
        path(&[&"cluster", &"bulk-action", &"guest", &action]),
        params,
    );
    let mut out = change.send(ctx, args, || Ok(json!({"guests": shown})))?;
    out.insert("guests".into(), guests);
    if !args.flag("dry_run").unwrap_or(false) && action == "migrate" {
        for v in &vms {
            ctx.pve.forget_guest(*v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_addresses_leave_out_loopback_and_link_local() {
        let reply = json!({"result": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1"}, {"ip-address": "::1"}]},
            {"name": "eth0", "ip-addresses": [{"ip-address": "fe80::1"}, {"ip-address": "2001:db8::5"}, {"ip-address": "10.0.0.5"}, {"ip-address": "169.254.1.1"}]},
        ]});
        assert_eq!(addresses(&reply), ["10.0.0.5", "2001:db8::5"]);
        assert!(addresses(&json!({"result": []})).is_empty());
    }

    #[test]
    fn ssh_keys_are_percent_encoded() {
        assert_eq!(
            urlencode("ssh-ed25519 AAAA a@b\nssh-rsa B"),
            "ssh-ed25519%20AAAA%20a%40b%0Assh-rsa%20B"
        );
    }
}
