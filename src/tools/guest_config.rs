//! Guest config: updating keys (`update_*_config`, each key checked by `keys` and typed as PVE 9 types it)
//! and resizing disks; the config checks creating, cloning and restoring share (`check_config`,
//! `check_backup_config`).

use std::sync::LazyLock;

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Access, Area, Effect};
use crate::pve::{as_u64, bool01, path, Params};

use super::change::Change;
use super::guest::{guest_path, refuse_if_pve_protected, Guest};
use super::keys;
use super::params::{DRY_RUN, NODE_OPT, STOP_ON_CANCEL, VMID, WAIT};
use super::run::protection;
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};
use super::validate::whole_number;

const SET: Param = Param::opt(
    "set",
    Kind::Object,
    "config keys to set, e.g. {\"cores\":4}",
);

#[rustfmt::skip]
const DELETE_KEYS: Param = Param::opt("delete", Kind::Strings { max_items: 64, max_len: 32 }, "config keys to remove");

#[rustfmt::skip]
const DIGEST: Param = Param::opt("digest", Kind::Text { max: 64 }, "digest of the config read (edit guard)");

const VM_DISK: Param = Param::req("disk", Kind::Text { max: 16 }, "e.g. scsi0");

const CT_DISK: Param = Param::req("disk", Kind::Text { max: 16 }, "rootfs or mpN");

#[rustfmt::skip]
const RESIZE_SIZE: Param = Param::req("size", Kind::Text { max: 32 }, "+10G (add) or 64G (new size)");

const UPDATE: &[&Param] = &[&VMID, &NODE_OPT, &SET, &DELETE_KEYS, &DIGEST, &DRY_RUN];

const RESIZE_VM: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &VM_DISK,
    &RESIZE_SIZE,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];

const RESIZE_CT: &[&Param] = &[
    &VMID,
    &NODE_OPT,
    &CT_DISK,
    &RESIZE_SIZE,
    &WAIT,
    &DRY_RUN,
    &STOP_ON_CANCEL,
];

const UPDATE_PRIVILEGE: &str =
    "VM.Config.Options on /vms/{vmid} (VM.Config.Disk, .CPU, .Memory, .Network as the keys need)";

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "update_vm_config",
        title: "Update VM config",
        description: "Sets and removes VM config keys (some apply at next boot); digest refuses a changed config; keys are checked by class (host keys, logins, disk removal need more than operate).",
        privilege: UPDATE_PRIVILEGE,
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: UPDATE,
        output: Output::done(),
        idempotent: true,
        marks: &[Mark::MayLoseData, Mark::Also(Area::Vms)],
        run: |c, a| update_config(c, a, Guest::Vm),
    },
    Tool {
        name: "update_container_config",
        title: "Update container config",
        description: "Sets and removes container config keys (some apply at next start); digest refuses a changed config; keys are checked by class (host keys, logins, disk removal need more than operate).",
        privilege: UPDATE_PRIVILEGE,
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: UPDATE,
        output: Output::done(),
        idempotent: true,
        marks: &[Mark::MayLoseData, Mark::Also(Area::Containers)],
        run: |c, a| update_config(c, a, Guest::Container),
    },
    Tool {
        name: "resize_vm_disk",
        title: "Grow VM disk",
        description: "Grows a VM disk by +N or to a larger size (shrinking is refused after reading the current size) and waits for the task.",
        privilege: "VM.Config.Disk on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: RESIZE_VM,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: |c, a| resize(c, a, Guest::Vm),
    },
    Tool {
        name: "resize_container_disk",
        title: "Grow container disk",
        description: "Grows a container's rootfs or mount point by +N or to a larger size (shrinking is refused) and waits for the task.",
        privilege: "VM.Config.Disk on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: RESIZE_CT,
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Containers)],
        run: |c, a| resize(c, a, Guest::Container),
    },
];

fn update_config(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let vmid = args.vmid();
    let mut params = set_params(kind, args, &[])?;
    let set_keys: Vec<&'static str> = params.iter().map(|(k, _)| *k).collect();
    let mut deletes: Vec<&'static str> = Vec::new();
    for item in args
        .0
        .get("delete")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = item.as_str().unwrap_or_default();
        let (key, _) = config_key(kind, key).map_err(|e| Error::Args(format!("'delete': {e}")))?;
        if set_keys.contains(&key) {
            return Err(Error::Args(format!(
                "'{key}' is both in set and in delete; name it in one of them"
            )));
        }
        if !deletes.contains(&key) {
            deletes.push(key);
        }
    }
    if params.is_empty() && deletes.is_empty() {
        return Err(Error::Args(
            "nothing to change: give set (keys to set) and/or delete (keys to remove)".into(),
        ));
    }
    let digest = args.str("digest");
    if let Some(d) = digest {
        if d.is_empty() || d.len() > 40 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Args(
                "'digest' must be the hex digest from get_vm_config or get_container_config".into(),
            ));
        }
    }
    let tool = match kind {
        Guest::Vm => "update_vm_config",
        Guest::Container => "update_container_config",
    };
    let base = guest_path(ctx, args, kind)?;
    let config_path = format!("{base}/config");
    // The current config, read only when a verdict depends on it.
    let mut current: Option<Value> = None;
    // `features` is guest-level only in an unprivileged container: read which this one is.
    let unprivileged = match kind {
        Guest::Container if set_keys.contains(&"features") => {
            let config = read_once(ctx, &config_path, &mut current)?;
            Some(config.get("unprivileged").and_then(as_u64) == Some(1))
        }
        _ => None,
    };
    let target = keys::Target {
        kind,
        vmid: vmid as u64,
        unprivileged,
    };
    check_config(ctx, tool, target, &params)?;
    let mut frees = false;
    for key in &deletes {
        let mut verdict =
            keys::classify_delete(kind, key).map_err(|e| Error::Args(format!("'delete': {e}")))?;
        let drive = keys::is_volume_key(kind, key) && !key.starts_with("unused");
        if verdict.class == keys::Class::Data && drive && ctx.policy.access < Access::Full {
            // Removing a CD drive loses nothing: look at what the key holds now.
            let config = read_once(ctx, &config_path, &mut current)?;
            let held = config.get(*key).and_then(Value::as_str).unwrap_or_default();
            if held.split(',').any(|p| p == "media=cdrom") {
                verdict.class = keys::Class::Guest;
            }
        }
        keys::permit(ctx.policy, tool, &format!("removing '{key}'"), &verdict)?;
        frees |= keys::is_volume_key(kind, key) && verdict.class == keys::Class::Data;
    }
    if frees {
        // A disk PVE's protection flag guards is not taken away either.
        refuse_if_pve_protected(ctx, &base, vmid)?;
    }
    if !deletes.is_empty() {
        params.push(("delete", deletes.join(",")));
    }
    if let Some(d) = digest {
        params.push(("digest", d.to_string()));
    }
    Change::put(config_path.clone(), params).send(ctx, args, || match current {
        Some(config) => Ok(config),
        None => ctx.pve.get(&config_path, &[]),
    })
}

/// The `set` argument as PVE parameters: each key one PVE 9.1 knows for `kind` (or one of
/// `create_only`, string keys a create call takes beside the config), its value in PVE's wire
/// form. The key classes are checked later, with the rest of the call (`check_config`).
pub(super) fn set_params(
    kind: Guest,
    args: &Args,
    create_only: &[&'static str],
) -> Result<Params, Error> {
    let mut params = Params::new();
    for (key, value) in args
        .0
        .get("set")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let (key, ty) = match create_only.iter().find(|k| **k == key) {
            Some(k) => (*k, KeyType::Str),
            None => config_key(kind, key).map_err(|e| Error::Args(format!("'set': {e}")))?,
        };
        if key.starts_with("unused") {
            return Err(Error::Args(format!(
                "'set': {key} cannot be set: PVE records detached volumes there itself; attach the volume under a disk key instead"
            )));
        }
        let wire =
            wire_value(key, ty, value).map_err(|e| Error::Args(format!("'set.{key}' {e}")))?;
        params.push((key, wire));
    }
    Ok(params)
}

pub(super) fn resize(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let vmid = args.vmid();
    let disk = args.required_str("disk")?;
    if !resizable_disk(kind, disk) {
        let which = match kind {
            Guest::Vm => {
                "a VM disk key: scsi0-30, virtio0-15, sata0-5, ide0-3, efidisk0 or tpmstate0"
            }
            Guest::Container => "rootfs or a mount point mp0-255",
        };
        return Err(Error::Args(format!("'disk' must be {which}, got '{disk}'")));
    }
    let size = args.required_str("size")?;
    let Some((grow, bytes)) = parse_size(size) else {
        return Err(Error::Args(format!(
            "'size' must be like +10G (grow by) or 64G (the new size), units K, M, G or T, got '{size}'"
        )));
    };
    if grow && bytes == 0 {
        return Err(Error::Args(
            "'size' must grow the disk: +0 changes nothing".into(),
        ));
    }
    let base = guest_path(ctx, args, kind)?;
    let config_path = format!("{base}/config");
    let config = ctx.pve.get(&config_path, &[])?;
    let Some(volume) = config.get(disk).and_then(Value::as_str) else {
        let mut disks: Vec<&str> = config
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .filter(|k| resizable_disk(kind, k))
            .collect();
        disks.sort();
        return Err(Error::NotFound(format!(
            "GET {config_path}: {} {vmid} has no disk {disk}; its disks: {}",
            kind.noun(),
            if disks.is_empty() {
                "none".to_string()
            } else {
                disks.join(", ")
            }
        )));
    };
    if volume.split(',').any(|p| p == "media=cdrom") {
        return Err(Error::Args(format!(
            "{disk} of VM {vmid} is a CD drive ({volume}), which cannot be resized"
        )));
    }
    // Growing another guest's disk through this one (a volume attached from elsewhere) is refused.
    let foreign = match keys::volume(keys::main_volume(volume)) {
        keys::Volume::Owned(owner) if owner != vmid as u64 => Some(format!("guest {owner}")),
        keys::Volume::HostPath(p) => Some(format!("the host ({p})")),
        keys::Volume::Unowned(_) if ctx.policy.access < Access::Full => {
            Some("a guest that cannot be told from its name".to_string())
        }
        _ => None,
    };
    if let Some(owner) = foreign {
        return Err(Error::Denied(format!(
            "GET {config_path}: {disk} of {} {vmid} is {volume}, which belongs to {owner}; resize_{}_disk grows only the guest's own disks; nothing was sent",
            kind.noun(),
            if kind == Guest::Vm { "vm" } else { "container" }
        )));
    }
    let current = volume
        .split(',')
        .find_map(|p| p.strip_prefix("size="))
        .map(|s| (s, parse_size(s).map(|(_, b)| b)));
    let new_bytes = match (grow, current) {
        (true, Some((_, Some(cur)))) => Some(cur + bytes),
        (false, _) => Some(bytes),
        _ => None,
    };
    if let (false, Some((shown, Some(cur)))) = (grow, current) {
        if bytes <= cur {
            return Err(Error::Args(format!(
                "size {size} is not larger than the current size of {disk} ({shown}); disks only grow: give a larger size, or +N to add N"
            )));
        }
    }
    let mut params: Params = vec![("disk", disk.to_string()), ("size", size.to_string())];
    if let Some(digest) = config.get("digest").and_then(Value::as_str) {
        // Nothing may change the disk between this check and the resize.
        params.push(("digest", digest.to_string()));
    }
    let target = json!({
        "disk": disk,
        "volume": volume,
        "size_bytes": current.and_then(|(_, b)| b),
        "new_size_bytes": new_bytes,
    });
    Change::put(format!("{base}/resize"), params).send(ctx, args, || Ok(target))
}

/// Arguments of the create, clone and restore calls that set no guest config.
const NOT_CONFIG: &[&str] = &[
    "vmid",
    "newid",
    "start",
    "storage",
    "ostemplate",
    "restore",
    "force",
    "unique",
    "pool",
    "archive",
    "full",
    "target",
    "snapname",
    "bwlimit",
    "format",
];

/// Checks every config key `params` set on `target` against the key classes (`keys.rs`): the
/// access level and switches its class needs, and no volume of a protected guest.
pub(super) fn check_config(
    ctx: &Ctx,
    tool: &str,
    target: keys::Target,
    params: &Params,
) -> Result<(), Error> {
    for (key, value) in params.iter().filter(|(k, _)| !NOT_CONFIG.contains(k)) {
        let verdict = keys::classify_set(target, key, value)
            .map_err(|e| Error::Args(format!("'set': {e}")))?;
        let change = format!("setting '{key}'");
        keys::permit(ctx.policy, tool, &change, &verdict)?;
        if let Some(owner) = verdict.foreign {
            if let Some(why) = protection(ctx, ctx.policy, owner)? {
                return Err(Error::Denied(format!(
                    "{tool}: {change} {}; {why}",
                    verdict.why
                )));
            }
        }
    }
    Ok(())
}

/// `GET path`, read at most once into `slot` (a config several checks may need).
fn read_once<'s>(ctx: &Ctx, path: &str, slot: &'s mut Option<Value>) -> Result<&'s Value, Error> {
    if slot.is_none() {
        *slot = Some(ctx.pve.get(path, &[])?);
    }
    Ok(slot.as_ref().unwrap_or(&Value::Null))
}

/// Checks the guest config a backup would restore (read with PVE's `extractconfig`) for keys
/// that act on the host, which a restore would bring back: a backup of a VM with `args` or a
/// privileged container restores as one. Unknown keys are refused below `full`. Skipped when
/// the policy allows host config anyway. Returns a container backup's rootfs storage.
pub(super) fn check_backup_config(
    ctx: &Ctx,
    kind: Guest,
    vmid: u64,
    node: &str,
    archive: &str,
) -> Result<Option<String>, Error> {
    let policy = ctx.policy;
    let checks = !(policy.access >= Access::Full && policy.allow_host_config);
    if !checks && kind == Guest::Vm {
        return Ok(None);
    }
    let extract = path(&[&"nodes", &node, &"vzdump", &"extractconfig"]);
    let text = match ctx.pve.get(&extract, &[("volume", archive.to_string())]) {
        Ok(text) => text,
        Err(e) if checks => {
            return Err(Error::Denied(format!(
                "restore_backup: the backup's configuration could not be read to check it for host-level keys ({e}); nothing was restored"
            )))
        }
        // Only the storage was wanted: PVE's default it is.
        Err(_) => return Ok(None),
    };
    let text = text.as_str().unwrap_or_default();
    // The current config only: snapshot sections (`[name]`) follow it. A key ends at the first
    // ':' or, as PVE's LXC parser also reads raw keys (`lxc.mount.entry = …`), at a '='.
    let lines: Vec<(&str, &str)> = text
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once([':', '=']))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    // A container restore without a storage goes to PVE's default, not where the container was:
    // its rootfs storage is the one to ask for (a VM restore keeps its storages by itself).
    let rootfs_storage = lines
        .iter()
        .find(|(k, _)| *k == "rootfs")
        .and_then(|(_, v)| keys::main_volume(v).split_once(':'))
        .map(|(storage, _)| storage.to_string())
        .filter(|_| kind == Guest::Container);
    if checks {
        let source = format!("the backup {archive}");
        check_copied_config(policy, "restore_backup", &source, kind, vmid, lines)?;
    }
    Ok(rootfs_storage)
}

/// Checks the config a clone copies from its source (PVE copies every key but disks, NICs and
/// snapshots, `args`, `hookscript`, host devices and raw LXC keys included) for keys that act on
/// the host, as a restore is checked: a clone of a privileged container is privileged too.
pub(super) fn check_clone_config(
    ctx: &Ctx,
    tool: &str,
    kind: Guest,
    base: &str,
    newid: u64,
) -> Result<(), Error> {
    let policy = ctx.policy;
    if policy.access >= Access::Full && policy.allow_host_config {
        return Ok(());
    }
    let config = ctx.pve.get(&format!("{base}/config"), &[])?;
    let source = format!(
        "{} {}",
        kind.noun(),
        base.rsplit('/').next().unwrap_or_default()
    );
    check_source_config(policy, tool, kind, &source, newid, &config)
}

/// `check_clone_config` with the source's config already read (`source` names it: `VM 9000`).
pub(super) fn check_source_config(
    policy: &crate::policy::Policy,
    tool: &str,
    kind: Guest,
    source: &str,
    newid: u64,
    config: &Value,
) -> Result<(), Error> {
    if policy.access >= Access::Full && policy.allow_host_config {
        return Ok(());
    }
    let mut lines: Vec<(&str, String)> = Vec::new();
    for (key, value) in config.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("digest", _) => {}
            // Raw LXC keys come as a list of [key, value] pairs.
            ("lxc", Value::Array(pairs)) => {
                for pair in pairs {
                    let key = pair.get(0).and_then(Value::as_str).unwrap_or("lxc");
                    let value = pair.get(1).map(value_text).unwrap_or_default();
                    lines.push((key, value));
                }
            }
            (key, value) => lines.push((key, value_text(value))),
        }
    }
    let lines = lines.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check_copied_config(policy, tool, source, kind, newid, lines)
}

/// A config value from PVE's JSON as its text in the config file.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keys PVE writes into a guest's config itself and that no config call sets: what a guest was
/// created with (`meta`), snapshot bookkeeping, a hibernated VM's machine and CPU.
const WRITTEN_BY_PVE: &[&str] = &[
    "meta",
    "parent",
    "snaptime",
    "snapstate",
    "vmstate",
    "runningmachine",
    "runningcpu",
];

/// Refuses config `lines` that `source` would bring to guest `vmid` (a restore, a clone) when
/// they hold a host-level key the policy does not allow, or below `full` a key this server does
/// not know. The source's own disks are copied as new volumes and its logins are the guest's
/// own, so only the host class is checked.
fn check_copied_config(
    policy: &crate::policy::Policy,
    tool: &str,
    source: &str,
    kind: Guest,
    vmid: u64,
    lines: Vec<(&str, &str)>,
) -> Result<(), Error> {
    let unprivileged = lines.iter().any(|(k, v)| *k == "unprivileged" && *v == "1");
    let target = keys::Target {
        kind,
        vmid,
        unprivileged: Some(unprivileged),
    };
    let mut changes: Vec<(&str, &str)> = lines;
    changes.retain(|(k, _)| !WRITTEN_BY_PVE.contains(k));
    if kind == Guest::Container && !unprivileged {
        changes.push(("unprivileged", "0"));
    }
    for (key, value) in changes {
        let change = format!("{source} sets '{key}', which");
        let verdict = match keys::classify_set(target, key, value) {
            Ok(v) => v,
            Err(_) if policy.access >= Access::Full => continue,
            Err(e) => {
                let why = format!("{tool}: {source} holds {e}; copying it needs access level full");
                return Err(Error::Denied(format!("{why}; nothing was sent")));
            }
        };
        if verdict.class == keys::Class::Host {
            keys::permit(policy, tool, &change, &verdict)?;
        }
    }
    Ok(())
}

/// `/nodes/{node}/…` → node.
pub(super) fn node_of(base: &str) -> &str {
    base.split('/').nth(2).unwrap_or_default()
}

/// A volume id `storage:rest` (an ISO, a template).
pub(super) fn volume_id<'a>(arg: &str, s: &'a str) -> Result<&'a str, Error> {
    let ok = s.split_once(':').is_some_and(|(storage, rest)| {
        storage.len() >= 2
            && storage.starts_with(|c: char| c.is_ascii_alphabetic())
            && storage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !rest.is_empty()
            && !rest.contains([',', '\n', '\r', '\0'])
    });
    if ok {
        Ok(s)
    } else {
        Err(Error::Args(format!(
            "'{arg}' must be a volume id like local:iso/x.iso or local:vztmpl/x.tar.zst, got '{s}'"
        )))
    }
}

/// Disks `resize` accepts: PVE's enumeration of `disk` for each guest kind.
pub(super) fn resizable_disk(kind: Guest, key: &str) -> bool {
    let indexed = |prefix: &str, max: u32| {
        key.strip_prefix(prefix)
            .filter(|n| !n.is_empty() && (n.len() == 1 || !n.starts_with('0')))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n <= max)
    };
    match kind {
        Guest::Vm => {
            matches!(key, "efidisk0" | "tpmstate0")
                || indexed("ide", 3)
                || indexed("sata", 5)
                || indexed("scsi", 30)
                || indexed("virtio", 15)
        }
        Guest::Container => key == "rootfs" || indexed("mp", 255),
    }
}

/// PVE's disk size: `[+]N[.N][K|M|G|T]` (no unit: bytes) → (grow, bytes).
pub(super) fn parse_size(s: &str) -> Option<(bool, u64)> {
    let (grow, rest) = match s.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (number, unit) = match rest.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&rest[..i], c),
        _ => (rest, 'B'),
    };
    let factor: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        'T' => 1 << 40,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let bytes = value * factor as f64;
    (bytes < 9.0e18).then_some((grow, bytes as u64))
}

/// The type PVE declares for a config key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Bool,
    Int,
    Num,
    Str,
}

use KeyType::{Bool as B, Int as I, Num as N, Str as S};

/// The keys of `PUT /nodes/{node}/qemu/{vmid}/config` in PVE 9.1, without the call's own
/// arguments (node, vmid, delete, digest, revert, skiplock, force).
#[rustfmt::skip]
const QEMU_KEYS: &[(&str, KeyType)] = &[
    ("acpi", B), ("affinity", S), ("agent", S), ("allow-ksm", B), ("amd-sev", S), ("arch", S),
    ("args", S), ("audio0", S), ("autostart", B), ("balloon", I), ("bios", S), ("boot", S),
    ("bootdisk", S), ("cdrom", S), ("cicustom", S), ("cipassword", S), ("citype", S),
    ("ciupgrade", B), ("ciuser", S), ("cores", I), ("cpu", S), ("cpulimit", N), ("cpuunits", I),
    ("description", S), ("efidisk0", S), ("freeze", B), ("hookscript", S), ("hotplug", S),
    ("hugepages", S), ("intel-tdx", S), ("ivshmem", S), ("keephugepages", B), ("keyboard", S),
    ("kvm", B), ("localtime", B), ("lock", S), ("machine", S), ("memory", S),
    ("migrate_downtime", N), ("migrate_speed", I), ("name", S), ("nameserver", S), ("numa", B),
    ("onboot", B), ("ostype", S), ("protection", B), ("reboot", B), ("rng0", S), ("scsihw", S),
    ("searchdomain", S), ("shares", I), ("smbios1", S), ("smp", I), ("sockets", I),
    ("spice_enhancements", S), ("sshkeys", S), ("startdate", S), ("startup", S), ("tablet", B),
    ("tags", S), ("tdf", B), ("template", B), ("tpmstate0", S), ("vcpus", I), ("vga", S),
    ("vmgenid", S), ("vmstatestorage", S), ("watchdog", S),
];

/// Indexed keys (`net0`…) and their highest index, as qemu-server defines them.
#[rustfmt::skip]
const QEMU_INDEXED: &[(&str, KeyType, u32)] = &[
    ("hostpci", S, 15), ("ide", S, 3), ("ipconfig", S, 31), ("net", S, 31), ("numa", S, 7),
    ("parallel", S, 2), ("sata", S, 5), ("scsi", S, 30), ("serial", S, 3), ("unused", S, 255),
    ("usb", S, 13), ("virtio", S, 15), ("virtiofs", S, 9),
];

/// The keys of `PUT /nodes/{node}/lxc/{vmid}/config` in PVE 9.1 (without the call's own).
#[rustfmt::skip]
const LXC_KEYS: &[(&str, KeyType)] = &[
    ("arch", S), ("cmode", S), ("console", B), ("cores", I), ("cpulimit", N), ("cpuunits", I),
    ("debug", B), ("description", S), ("entrypoint", S), ("env", S), ("features", S),
    ("hookscript", S), ("hostname", S), ("lock", S), ("memory", I), ("nameserver", S),
    ("onboot", B), ("ostype", S), ("protection", B), ("rootfs", S), ("searchdomain", S),
    ("startup", S), ("swap", I), ("tags", S), ("template", B), ("timezone", S), ("tty", I),
    ("unprivileged", B),
];

#[rustfmt::skip]
const LXC_INDEXED: &[(&str, KeyType, u32)] = &[
    ("dev", S, 255), ("mp", S, 255), ("net", S, 31), ("unused", S, 255),
];

/// Arguments of the config PUT that are not config keys.
const CALL_ARGS: &[&str] = &[
    "node", "vmid", "delete", "digest", "revert", "skiplock", "force",
];

/// Every config key of a guest kind, indexed ones spelled out (so each has a `'static` name).
fn config_keys(kind: Guest) -> &'static [(String, KeyType)] {
    fn expand(
        plain: &[(&str, KeyType)],
        indexed: &[(&str, KeyType, u32)],
    ) -> Vec<(String, KeyType)> {
        let mut keys: Vec<(String, KeyType)> =
            plain.iter().map(|(k, t)| (k.to_string(), *t)).collect();
        for (prefix, ty, max) in indexed {
            keys.extend((0..=*max).map(|i| (format!("{prefix}{i}"), *ty)));
        }
        keys
    }
    static QEMU: LazyLock<Vec<(String, KeyType)>> =
        LazyLock::new(|| expand(QEMU_KEYS, QEMU_INDEXED));
    static LXC: LazyLock<Vec<(String, KeyType)>> = LazyLock::new(|| expand(LXC_KEYS, LXC_INDEXED));
    match kind {
        Guest::Vm => &QEMU,
        Guest::Container => &LXC,
    }
}

/// A config key PVE accepts for this guest kind, with its type; or why not.
fn config_key(kind: Guest, key: &str) -> Result<(&'static str, KeyType), String> {
    if let Some((k, ty)) = config_keys(kind).iter().find(|(k, _)| k == key) {
        return Ok((k.as_str(), *ty));
    }
    let syntax = !key.is_empty()
        && key.len() <= 32
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !syntax {
        return Err(format!(
            "'{key}' is not a PVE config key (lower-case letters, digits, '-' and '_'; indexed ones like net0)"
        ));
    }
    if CALL_ARGS.contains(&key) {
        return Err(format!(
            "'{key}' is not a config key; it cannot be set or removed here"
        ));
    }
    let (indexed, tool) = match kind {
        Guest::Vm => (QEMU_INDEXED, "get_vm_config"),
        Guest::Container => (LXC_INDEXED, "get_container_config"),
    };
    let prefix = key.trim_end_matches(|c: char| c.is_ascii_digit());
    if let Some((p, _, max)) = indexed.iter().find(|(p, _, _)| *p == prefix) {
        return Err(format!(
            "'{key}' is not a {} config key: PVE has {p}0 to {p}{max}",
            kind.noun()
        ));
    }
    Err(format!(
        "'{key}' is not a {} config key PVE knows ({tool} shows the keys in use)",
        kind.noun()
    ))
}

/// A `set` value in PVE's wire form: booleans as 0/1, numbers as text.
fn wire_value(key: &str, ty: KeyType, value: &Value) -> Result<String, String> {
    match (ty, value) {
        (KeyType::Bool | KeyType::Str, Value::Bool(b)) => Ok(bool01(*b)),
        (KeyType::Bool, Value::Number(n)) if matches!(n.as_u64(), Some(0 | 1)) => Ok(n.to_string()),
        (KeyType::Bool, Value::String(s)) => crate::config::parse_bool(s)
            .map(bool01)
            .ok_or_else(|| format!("must be true or false, got {value}")),
        (KeyType::Bool, _) => Err(format!("must be true or false, got {value}")),
        (KeyType::Int, _) => whole_number(value).map(|i| i.to_string()),
        (KeyType::Num, Value::Number(n)) => Ok(n.to_string()),
        (KeyType::Num, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|_| s.trim().to_string())
            .ok_or_else(|| format!("must be a number, got {value}")),
        (KeyType::Num, _) => Err(format!("must be a number, got {value}")),
        (KeyType::Str, Value::Number(n)) => Ok(n.to_string()),
        (KeyType::Str, Value::String(s)) => {
            // Only the description may span lines (PVE keeps it as comment lines).
            if s.contains('\0') || (key != "description" && s.contains(['\n', '\r'])) {
                Err("may not contain line breaks or NUL".into())
            } else {
                Ok(s.clone())
            }
        }
        (KeyType::Str, _) => Err(format!("must be a string, number or boolean, got {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_follow_pve() {
        assert_eq!(config_key(Guest::Vm, "net0"), Ok(("net0", KeyType::Str)));
        assert_eq!(
            config_key(Guest::Vm, "onboot"),
            Ok(("onboot", KeyType::Bool))
        );
        assert_eq!(
            config_key(Guest::Container, "mp255").map(|k| k.0),
            Ok("mp255")
        );
        assert!(config_key(Guest::Vm, "net32")
            .unwrap_err()
            .contains("net0 to net31"));
        assert!(config_key(Guest::Vm, "Net0")
            .unwrap_err()
            .contains("not a PVE config key"));
        assert!(config_key(Guest::Vm, "digest")
            .unwrap_err()
            .contains("not a config key"));
        assert!(config_key(Guest::Container, "scsi0")
            .unwrap_err()
            .contains("container config key PVE knows"));
        assert!(config_key(Guest::Vm, "net01").is_err());
    }

    #[test]
    fn values_go_out_in_pve_form() {
        assert_eq!(
            wire_value("onboot", KeyType::Bool, &json!(true)),
            Ok("1".into())
        );
        assert_eq!(
            wire_value("onboot", KeyType::Bool, &json!("no")),
            Ok("0".into())
        );
        assert_eq!(
            wire_value("agent", KeyType::Str, &json!(false)),
            Ok("0".into())
        );
        assert_eq!(
            wire_value("cores", KeyType::Int, &json!(4.0)),
            Ok("4".into())
        );
        assert_eq!(
            wire_value("memory", KeyType::Str, &json!(4096)),
            Ok("4096".into())
        );
        assert!(wire_value("cores", KeyType::Int, &json!(true)).is_err());
        assert!(wire_value("cores", KeyType::Int, &json!(1.5)).is_err());
        assert!(wire_value("name", KeyType::Str, &json!(null)).is_err());
        assert!(wire_value("name", KeyType::Str, &json!("a\nb")).is_err());
        assert!(wire_value("description", KeyType::Str, &json!("a\nb")).is_ok());
    }

    #[test]
    fn sizes_parse_like_pve() {
        assert_eq!(parse_size("+10G"), Some((true, 10 << 30)));
        assert_eq!(parse_size("32G"), Some((false, 32 << 30)));
        assert_eq!(parse_size("1.5T"), Some((false, 3 << 39)));
        assert_eq!(parse_size("528K"), Some((false, 528 << 10)));
        assert_eq!(parse_size("1024"), Some((false, 1024)));
        for bad in ["", "+", "G", "10X", "-5G", "1.G", ".5G", "10 G", "10g"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn resizable_disks() {
        assert!(resizable_disk(Guest::Vm, "scsi30"));
        assert!(!resizable_disk(Guest::Vm, "scsi31"));
        assert!(!resizable_disk(Guest::Vm, "scsi01"));
        assert!(!resizable_disk(Guest::Vm, "net0"));
        assert!(resizable_disk(Guest::Container, "rootfs"));
        assert!(resizable_disk(Guest::Container, "mp0"));
        assert!(!resizable_disk(Guest::Container, "scsi0"));
    }
}
