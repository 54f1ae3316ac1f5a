//! Guest config keys by what they touch: the one table that decides which access a config
//! change needs, for `update_*_config` and for the config that `create_*`, `clone_*` and
//! `restore_backup` send.
//!
//! - **guest**: changes the guest only (cores, memory, name, net*, a new disk `storage:SIZE`,
//!   cloud-init network settings…) → `operate`;
//! - **data**: can lose data or is one-way (`template`, removing a disk or `unusedN`, clearing
//!   the protection flag) → `full`;
//! - **exec**: puts a login or a command into the guest (cloud-init `cipassword`, `sshkeys`,
//!   `ciuser`; LXC `entrypoint`, `env`, a new container's password or SSH keys) → like the exec
//!   tools: `full` and `PROXMOX_MCP_ALLOW_EXEC=true`;
//! - **host**: acts on the host (`args`, `hookscript`, host devices, host paths, `features`, a
//!   privileged container…) → `full` and `PROXMOX_MCP_ALLOW_HOST_CONFIG=true`;
//! - **never**: only PVE sets it (`lock`).
//!
//! A volume in a value is checked for its owner: another guest's disk is refused at `operate`
//! (two running VMs on one disk corrupt it), and at `full` when that guest is protected.

use std::fmt::Write as _;

use crate::error::Error;
use crate::policy::{Access, Policy};

use super::guest::Guest;

/// What a config change touches, from least to most guarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Guest,
    Data,
    Exec,
    Host,
    Never,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Guest => "guest",
            Class::Data => "data",
            Class::Exec => "exec",
            Class::Host => "host",
            Class::Never => "never",
        }
    }
}

/// How a key's value decides its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// The class whatever the value, with why (empty for guest keys).
    Fixed(Class, &'static str),
    /// A QEMU drive (`scsi0`, `ide2`, `efidisk0`, `cdrom`…): a volume, a new disk or a host path.
    Drive,
    /// An LXC `rootfs` or `mpN`: a volume, a new volume or a host directory (bind mount).
    Mount,
    /// `usbN`: `spice` is the guest's own; `host=`/`mapping=` hands a host device over.
    Usb,
    /// `serialN`: `socket` is the guest's own; a `/dev/…` path is a host device.
    Serial,
    /// `rng0`: `/dev/hwrng` is the host's hardware generator.
    Rng,
    /// `protection`: setting it is harmless, clearing it lifts PVE's guard against deletion.
    Protection,
    /// LXC `unprivileged`: 0 makes root in the container root on the host.
    Unprivileged,
    /// LXC `features`: only `nesting=1` in an unprivileged container (what PVE itself sets).
    Features,
    /// `unusedN`: PVE records detached volumes there; removing one frees the volume.
    Unused,
}

const G: Rule = Rule::Fixed(Class::Guest, "");

/// A host-level key, with why.
const fn host(why: &'static str) -> Rule {
    Rule::Fixed(Class::Host, why)
}

/// A key that gets around the exec switch, with how.
const fn exec(how: &'static str) -> Rule {
    Rule::Fixed(Class::Exec, how)
}

/// The rule of a QEMU config key (`PUT /nodes/{node}/qemu/{vmid}/config` in PVE 9.1); None for
/// a key this server does not know.
fn qemu_rule(key: &str) -> Option<Rule> {
    let rule = match key {
        "acpi" | "agent" | "allow-ksm" | "amd-sev" | "audio0" | "autostart" | "balloon"
        | "bios" | "boot" | "bootdisk" | "citype" | "ciupgrade" | "cores" | "cpu" | "cpulimit"
        | "cpuunits" | "description" | "freeze" | "hotplug" | "hugepages" | "intel-tdx"
        | "keephugepages" | "keyboard" | "kvm" | "localtime" | "machine" | "memory"
        | "migrate_downtime" | "migrate_speed" | "name" | "nameserver" | "numa" | "onboot"
        | "ostype" | "reboot" | "scsihw" | "searchdomain" | "shares" | "smbios1" | "smp"
        | "sockets" | "spice_enhancements" | "startdate" | "startup" | "tablet" | "tags"
        | "tdf" | "vcpus" | "vga" | "vmgenid" | "vmstatestorage" | "watchdog" => G,
        "cdrom" | "efidisk0" | "tpmstate0" => Rule::Drive,
        "cipassword" | "ciuser" | "sshkeys" => exec(
            "puts a login into the guest through cloud-init, which gets around the exec switch",
        ),
        "args" => {
            host("passes raw arguments to QEMU on the host (it can run host commands as root)")
        }
        "ivshmem" => host("shares host memory with the guest"),
        "affinity" => host("pins the guest to host CPU cores"),
        "arch" => {
            host("runs the guest under CPU emulation on the host, which PVE leaves to root@pam")
        }
        "cicustom" => host("feeds snippet files from the host's storage to cloud-init (user data runs commands in the guest)"),
        "rng0" => Rule::Rng,
        _ => {
            let (prefix, max) = indexed(key)?;
            let rule = match prefix {
                "ide" | "sata" | "scsi" | "virtio" => Rule::Drive,
                "ipconfig" | "net" | "numa" => G,
                "hostpci" => host("passes a host PCI device to the guest"),
                "parallel" => host("passes a host parallel port to the guest"),
                "virtiofs" => host("shares a host directory with the guest"),
                "serial" => Rule::Serial,
                "usb" => Rule::Usb,
                "unused" => Rule::Unused,
                _ => return None,
            };
            let highest = match prefix {
                "ide" => 3,
                "sata" => 5,
                "scsi" => 30,
                "virtio" | "hostpci" => 15,
                "ipconfig" | "net" => 31,
                "numa" => 7,
                "parallel" => 2,
                "serial" => 3,
                "usb" => 13,
                "virtiofs" => 9,
                _ => 255,
            };
            return (max <= highest).then_some(rule);
        }
    };
    Some(rule)
}

/// The rule of an LXC config key (`PUT /nodes/{node}/lxc/{vmid}/config` and the config keys of
/// `POST /nodes/{node}/lxc` in PVE 9.1).
fn lxc_rule(key: &str) -> Option<Rule> {
    if key.starts_with("lxc.") {
        return Some(host(
            "is a raw LXC setting applied by the host (devices, mounts, capabilities)",
        ));
    }
    let rule = match key {
        "arch" | "cmode" | "console" | "cores" | "cpulimit" | "cpuunits" | "debug"
        | "description" | "hostname" | "memory" | "nameserver" | "onboot" | "ostype"
        | "searchdomain" | "startup" | "swap" | "tags" | "timezone" | "tty" => G,
        "entrypoint" | "env" => {
            exec("decides what runs in the container, which gets around the exec switch")
        }
        "password" | "ssh-public-keys" => {
            exec("puts a login into the new container, which gets around the exec switch")
        }
        "features" => Rule::Features,
        "rootfs" => Rule::Mount,
        "unprivileged" => Rule::Unprivileged,
        _ => {
            let (prefix, max) = indexed(key)?;
            let rule = match prefix {
                "net" if max <= 31 => G,
                "mp" => Rule::Mount,
                "dev" => host("passes a host device to the container"),
                "unused" => Rule::Unused,
                _ => return None,
            };
            return (max <= 255).then_some(rule);
        }
    };
    Some(rule)
}

/// `net12` → ("net", 12); None unless the key is letters then a canonical number.
fn indexed(key: &str) -> Option<(&str, u32)> {
    let prefix = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = &key[prefix.len()..];
    if prefix.is_empty() || number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    Some((prefix, number.parse().ok()?))
}

fn rule(kind: Guest, key: &str) -> Option<Rule> {
    // The keys both kinds of guest have, with the same meaning.
    let rule = match key {
        "hookscript" => host("runs a script on the host at every start and stop of the guest"),
        "protection" => Rule::Protection,
        "template" => Rule::Fixed(
            Class::Data,
            "turns the guest into a template, which cannot be undone",
        ),
        "lock" => Rule::Fixed(
            Class::Never,
            "only PVE sets and clears locks (a lock guards a backup, migration or snapshot in progress)",
        ),
        _ => match kind {
            Guest::Vm => return qemu_rule(key),
            Guest::Container => return lxc_rule(key),
        },
    };
    Some(rule)
}

/// Whether `key` is a disk of this guest kind (a drive, `rootfs`, `mpN`), or `unusedN`.
pub fn is_volume_key(kind: Guest, key: &str) -> bool {
    matches!(
        rule(kind, key),
        Some(Rule::Drive | Rule::Mount | Rule::Unused)
    )
}

/// The class of a key whatever its value (the strictest value decides): what the README and
/// the classification test show. None for a key this server does not know.
#[cfg(test)]
pub fn key_class(kind: Guest, key: &str) -> Option<Class> {
    Some(match rule(kind, key)? {
        Rule::Fixed(class, _) => class,
        Rule::Drive | Rule::Mount | Rule::Usb | Rule::Serial | Rule::Rng => Class::Host,
        Rule::Unprivileged | Rule::Features => Class::Host,
        Rule::Protection | Rule::Unused => Class::Data,
    })
}

/// What a volume in a config value is, for its owner check.
#[derive(Debug, PartialEq, Eq)]
pub enum Volume<'a> {
    /// A new volume to allocate (`local-lvm:32`), or `none` (a CD drive without media).
    New,
    /// An ISO image or a container template: content shared by design.
    Image,
    /// An existing volume of guest N (from its name: `vm-N-…`, `base-N-…`, `subvol-N-…`, `N/…`).
    Owned(u64),
    /// An existing volume whose owner cannot be told from its name (e.g. an iSCSI LUN).
    Unowned(&'a str),
    /// A path on the host (a block device, a file, a directory).
    HostPath(&'a str),
}

/// What the volume part of a disk value (`local-lvm:vm-100-disk-0`, `/dev/sdb`, `local:iso/x.iso`)
/// is.
pub fn volume(value: &str) -> Volume<'_> {
    let value = value.trim();
    if value.is_empty() || value == "none" {
        return Volume::New;
    }
    if value == "cdrom" {
        // Not an empty CD drive (that is `none`): QEMU opens the host's own optical drive.
        return Volume::HostPath(value);
    }
    if value.starts_with('/') {
        return Volume::HostPath(value);
    }
    let Some((_storage, name)) = value.split_once(':') else {
        // Not `storage:name` nor a path: PVE would take it as a path relative to nothing.
        return Volume::HostPath(value);
    };
    // `storage:cloudinit` has PVE allocate the guest's cloud-init drive (`vm-N-cloudinit`).
    if name == "cloudinit"
        || !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Volume::New;
    }
    if name.starts_with("iso/") || name.starts_with("vztmpl/") {
        return Volume::Image;
    }
    // The last component that names a guest decides: a linked clone's `base-100-disk-0/vm-101-disk-0`
    // belongs to 101.
    let parts: Vec<&str> = name.split('/').collect();
    for part in parts.iter().rev() {
        for prefix in ["vm-", "base-", "subvol-", "basevol-"] {
            if let Some(rest) = part.strip_prefix(prefix) {
                let digits: &str = rest.split('-').next().unwrap_or_default();
                if let Ok(n) = digits.parse::<u64>() {
                    return Volume::Owned(n);
                }
            }
        }
    }
    // A directory storage's `100/vm-100-disk-0.qcow2` was handled above; a bare `N/…` also names N.
    if let Some(n) = parts.first().and_then(|p| p.parse::<u64>().ok()) {
        return Volume::Owned(n);
    }
    Volume::Unowned(value)
}

/// The main volume of a drive or mount value: its first item, or `file=` / `volume=`.
pub fn main_volume(value: &str) -> &str {
    volumes_of(value).into_iter().next().unwrap_or_default()
}

/// The parts of a property string as PVE's `parse_property_string` reads them: blank parts are
/// skipped, `key=value` splits at the first `=`, and a part without `=` is the default key's
/// value (key None) wherever it stands, not only first (`cache=none,/dev/sdb` is
/// `file=/dev/sdb`).
fn parts(value: &str) -> impl Iterator<Item = (Option<&str>, &str)> {
    value
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (Some(k), v),
            None => (None, p),
        })
}

/// The volumes a drive or mount value refers to: its main volume (the default key, or `file=` /
/// `volume=`) and an `import-from=` source.
fn volumes_of(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (key, v) in parts(value) {
        match key {
            None | Some("file" | "volume") => out.insert(0, v),
            Some("import-from") => out.push(v),
            Some(_) => {}
        }
    }
    out
}

/// Whether a `usbN` value is SPICE's USB redirection only: `host` (the default key) is `spice`
/// and no host device `mapping` is named beside it.
fn spice_usb(value: &str) -> bool {
    let mut spice = false;
    for (key, v) in parts(value) {
        match key {
            None | Some("host") if v.trim().eq_ignore_ascii_case("spice") => spice = true,
            None | Some("host" | "mapping") => return false,
            Some(_) => {}
        }
    }
    spice
}

/// One config key's verdict: its class and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub why: String,
    /// Another guest whose volume the value names (checked against protection at `full`).
    pub foreign: Option<u64>,
}

impl Verdict {
    fn of(class: Class, why: impl Into<String>) -> Verdict {
        Verdict {
            class,
            why: why.into(),
            foreign: None,
        }
    }
}

/// Facts about the guest a change is for.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub kind: Guest,
    pub vmid: u64,
    /// Whether a container is unprivileged (for `features`); None when not known.
    pub unprivileged: Option<bool>,
}

/// The verdict for setting `key` to `value` (in PVE's wire form) on `target`; Err for a key
/// this server does not know.
pub fn classify_set(target: Target, key: &str, value: &str) -> Result<Verdict, String> {
    let Some(rule) = rule(target.kind, key) else {
        return Err(unknown(target.kind, key));
    };
    Ok(match rule {
        Rule::Fixed(class, why) => Verdict::of(class, why),
        Rule::Drive | Rule::Mount => {
            let mut verdict = Verdict::of(Class::Guest, "");
            for v in volumes_of(value) {
                let this = match volume(v) {
                    Volume::New | Volume::Image => continue,
                    Volume::HostPath(p) => Verdict::of(
                        Class::Host,
                        match rule {
                            _ if p == "cdrom" => {
                                "hands the host's CD/DVD drive (cdrom) to the guest".to_string()
                            }
                            Rule::Mount => format!("bind-mounts the host path {p} into the container"),
                            _ => format!("hands the host path {p} to the guest"),
                        },
                    ),
                    Volume::Owned(n) if n == target.vmid => continue,
                    Volume::Owned(n) => Verdict {
                        class: Class::Data,
                        why: format!(
                            "names {v}, a volume of guest {n}: two guests on one disk corrupt it"
                        ),
                        foreign: Some(n),
                    },
                    Volume::Unowned(v) => Verdict::of(
                        Class::Data,
                        format!("names {v}, a volume whose owner cannot be told from its name (it may be another guest's disk)"),
                    ),
                };
                if this.class > verdict.class {
                    verdict = this;
                }
            }
            verdict
        }
        Rule::Usb if spice_usb(value) => Verdict::of(Class::Guest, ""),
        Rule::Usb => Verdict::of(Class::Host, "passes a host USB device to the guest"),
        Rule::Serial if value == "socket" => Verdict::of(Class::Guest, ""),
        Rule::Serial => Verdict::of(Class::Host, "passes a host serial device to the guest"),
        Rule::Rng if value.contains("/dev/hwrng") => Verdict::of(
            Class::Host,
            "hands the host's hardware random number generator to the guest",
        ),
        Rule::Rng => Verdict::of(Class::Guest, ""),
        Rule::Protection if value == "0" => Verdict::of(
            Class::Data,
            "clears the protection flag, which lifts PVE's guard against deleting the guest",
        ),
        Rule::Protection => Verdict::of(Class::Guest, ""),
        Rule::Unprivileged if value == "1" => Verdict::of(Class::Guest, ""),
        Rule::Unprivileged => Verdict::of(
            Class::Host,
            "makes a privileged container, whose root is root on the host",
        ),
        Rule::Features if value == "nesting=1" && target.unprivileged == Some(true) => {
            Verdict::of(Class::Guest, "")
        }
        Rule::Features => Verdict::of(
            Class::Host,
            "weakens the container's isolation from the host (only nesting=1 in an unprivileged container is guest-level)",
        ),
        Rule::Unused => Verdict::of(
            Class::Never,
            "cannot be set: PVE records detached volumes there itself; attach the volume under a disk key instead",
        ),
    })
}

/// The verdict for removing `key` (the config PUT's `delete`).
pub fn classify_delete(kind: Guest, key: &str) -> Result<Verdict, String> {
    let Some(rule) = rule(kind, key) else {
        return Err(unknown(kind, key));
    };
    Ok(match rule {
        Rule::Fixed(Class::Never, why) => Verdict::of(Class::Never, why),
        Rule::Drive | Rule::Mount => Verdict::of(
            Class::Data,
            "detaches a disk from the guest (a mount point's volume is freed)",
        ),
        Rule::Unused => Verdict::of(Class::Data, "frees that disk volume (its data is lost)"),
        Rule::Protection => Verdict::of(
            Class::Data,
            "clears the protection flag, which lifts PVE's guard against deleting the guest",
        ),
        Rule::Unprivileged => Verdict::of(
            Class::Host,
            "makes the container privileged (PVE's default), whose root is root on the host",
        ),
        Rule::Fixed(Class::Data, why) => Verdict::of(Class::Data, why),
        _ => Verdict::of(Class::Guest, ""),
    })
}

fn unknown(kind: Guest, key: &str) -> String {
    let noun = kind.noun();
    format!(
        "'{key}' is not a {noun} config key this server knows (PVE 9.1's), so it is refused rather than passed through; set it in PVE itself"
    )
}

/// Refuses a change whose verdict the policy does not allow. `tool` names the call and `change`
/// what it does (`setting 'args'`, `removing 'scsi1'`); the text names the class and the settings
/// that would allow it.
pub fn permit(policy: &Policy, tool: &str, change: &str, verdict: &Verdict) -> Result<(), Error> {
    let access = policy.access;
    let full = access >= Access::Full;
    let allowed = match verdict.class {
        Class::Guest => true,
        Class::Data => full,
        Class::Exec => full && policy.allow_exec,
        Class::Host => full && policy.allow_host_config,
        Class::Never => false,
    };
    if allowed {
        return Ok(());
    }
    let class = verdict.class.name();
    let mut m = format!("{tool}: {change} {} (key class: {class}); ", verdict.why);
    if verdict.class == Class::Never {
        m.push_str("no tool may change it; nothing was sent");
        return Err(Error::Denied(m));
    }
    let (needs, fix) = match verdict.class {
        Class::Exec => (
            "access level full and PROXMOX_MCP_ALLOW_EXEC=true",
            "PROXMOX_MCP_ACCESS=full and PROXMOX_MCP_ALLOW_EXEC=true",
        ),
        Class::Host => (
            "access level full and PROXMOX_MCP_ALLOW_HOST_CONFIG=true",
            "PROXMOX_MCP_ACCESS=full and PROXMOX_MCP_ALLOW_HOST_CONFIG=true",
        ),
        _ => ("access level full", "PROXMOX_MCP_ACCESS=full"),
    };
    let _ = write!(
        m,
        "it needs {needs}, but this server runs with PROXMOX_MCP_ACCESS={}",
        access.name()
    );
    match verdict.class {
        Class::Exec if !policy.allow_exec => m.push_str(" and without PROXMOX_MCP_ALLOW_EXEC"),
        Class::Host if !policy.allow_host_config => {
            m.push_str(" and without PROXMOX_MCP_ALLOW_HOST_CONFIG")
        }
        _ => {}
    }
    let _ = write!(
        m,
        "; nothing was sent. Change it in PVE itself, or restart the server with {fix}"
    );
    Err(Error::Denied(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VM: Target = Target {
        kind: Guest::Vm,
        vmid: 104,
        unprivileged: None,
    };
    const CT: Target = Target {
        kind: Guest::Container,
        vmid: 104,
        unprivileged: Some(true),
    };

    fn class(target: Target, key: &str, value: &str) -> Class {
        classify_set(target, key, value).unwrap().class
    }

    /// Every config key of PVE 9.1's QEMU and LXC schemas (PUT config, and POST create for
    /// containers) has a class, and the class is the one written here: a key cannot slip in
    /// unclassified, and a new PVE key fails this test until it is classified.
    #[test]
    fn every_schema_key_is_classified() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pve-api-paths.json"
        ))
        .unwrap();
        let api: Value = serde_json::from_str(&text).unwrap();
        let keys = |path: &str, method: &str| -> Vec<String> {
            api["paths"][path][method]["parameters"]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        // Arguments of the calls that are not config keys.
        const CALL: &[&str] = &[
            "node",
            "vmid",
            "delete",
            "digest",
            "revert",
            "skiplock",
            "force",
            "archive",
            "bwlimit",
            "ha-managed",
            "import-working-storage",
            "live-restore",
            "pool",
            "start",
            "storage",
            "unique",
            "ostemplate",
            "restore",
            "ignore-unpack-errors",
        ];
        const QEMU_HOST: &[&str] = &[
            "affinity",
            "args",
            "arch",
            "cicustom",
            "hookscript",
            "ivshmem",
            "hostpci",
            "parallel",
            "virtiofs",
        ];
        // Value-dependent keys: the strictest value is what key_class reports.
        const QEMU_BY_VALUE: &[&str] = &[
            "cdrom",
            "efidisk0",
            "tpmstate0",
            "ide",
            "sata",
            "scsi",
            "virtio",
            "serial",
            "usb",
            "rng0",
        ];
        const QEMU_EXEC: &[&str] = &["cipassword", "ciuser", "sshkeys"];
        const LXC_HOST: &[&str] = &[
            "dev",
            "features",
            "hookscript",
            "mp",
            "rootfs",
            "unprivileged",
        ];
        const LXC_EXEC: &[&str] = &["entrypoint", "env", "password", "ssh-public-keys"];
        let mut seen = 0;
        for (kind, paths, host, exec) in [
            (
                Guest::Vm,
                ["/nodes/{node}/qemu/{vmid}/config", "/nodes/{node}/qemu"],
                [QEMU_HOST, QEMU_BY_VALUE].concat(),
                QEMU_EXEC,
            ),
            (
                Guest::Container,
                ["/nodes/{node}/lxc/{vmid}/config", "/nodes/{node}/lxc"],
                LXC_HOST.to_vec(),
                LXC_EXEC,
            ),
        ] {
            for (path, method) in [(paths[0], "PUT"), (paths[1], "POST")] {
                for key in keys(path, method) {
                    if CALL.contains(&key.as_str()) {
                        continue;
                    }
                    let base = key.trim_end_matches("[n]");
                    let real = if base.len() < key.len() {
                        format!("{base}0")
                    } else {
                        key.clone()
                    };
                    let expected = match base {
                        "lock" => Class::Never,
                        "template" | "protection" | "unused" => Class::Data,
                        b if host.contains(&b) => Class::Host,
                        b if exec.contains(&b) => Class::Exec,
                        _ => Class::Guest,
                    };
                    assert_eq!(
                        key_class(kind, &real),
                        Some(expected),
                        "{path} {method} key {key}"
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen > 150, "only {seen} keys walked");
    }

    #[test]
    fn values_decide_drives_devices_and_mounts() {
        use Class::{Data, Guest, Host};
        let privileged = Target {
            unprivileged: Some(false),
            ..CT
        };
        for (target, key, value, expected) in [
            (VM, "scsi1", "local-lvm:32", Guest),
            (VM, "scsi1", "local-lvm:vm-104-disk-1,size=32G", Guest),
            (VM, "ide2", "local:iso/debian.iso,media=cdrom", Guest),
            (VM, "ide2", "none,media=cdrom", Guest),
            (VM, "scsi1", "/dev/sdb", Host),
            (VM, "scsi1", "file=/dev/sdb,cache=none", Host),
            (
                VM,
                "scsi1",
                "local-lvm:0,import-from=/var/lib/vz/x.qcow2",
                Host,
            ),
            (VM, "scsi1", "lun:0.0.1.scsi-36001", Data),
            (VM, "usb0", "spice", Guest),
            (VM, "usb0", "host=1234:5678", Host),
            (VM, "usb0", "mapping=stick", Host),
            (VM, "usb0", "usb3=1,spice", Guest),
            (VM, "usb0", "spice,mapping=stick", Host),
            (VM, "ide2", "cdrom,media=cdrom", Host),
            (VM, "ide2", "local-lvm:cloudinit,media=cdrom", Guest),
            (VM, "serial0", "socket", Guest),
            (VM, "serial0", "/dev/ttyS0", Host),
            (VM, "rng0", "source=/dev/urandom", Guest),
            (VM, "rng0", "source=/dev/hwrng", Host),
            (VM, "protection", "1", Guest),
            (VM, "protection", "0", Data),
            (CT, "rootfs", "local-lvm:8", Guest),
            (CT, "mp0", "/srv/data,mp=/data", Host),
            (CT, "mp0", "local-lvm:subvol-103-disk-0,mp=/x", Data),
            (CT, "mp0", "local:104/vm-104-disk-1.raw,mp=/x", Guest),
            (CT, "features", "nesting=1", Guest),
            (privileged, "features", "nesting=1", Host),
            (CT, "features", "nesting=1,keyctl=1", Host),
            (CT, "unprivileged", "0", Host),
            (CT, "lxc.apparmor.profile", "unconfined", Host),
        ] {
            assert_eq!(class(target, key, value), expected, "{key}: {value}");
        }
        let foreign = classify_set(VM, "scsi1", "local-lvm:vm-103-disk-0").unwrap();
        assert_eq!((foreign.class, foreign.foreign), (Class::Data, Some(103)));
        assert_eq!(
            classify_set(
                VM,
                "scsi1",
                "local-lvm:0,import-from=local-lvm:vm-103-disk-0"
            )
            .unwrap()
            .foreign,
            Some(103)
        );
        assert!(classify_set(VM, "frobnicate", "1")
            .unwrap_err()
            .contains("'frobnicate' is not a VM config key this server knows"));
    }

    #[test]
    fn volumes_name_their_owner() {
        assert_eq!(volume("local-lvm:vm-103-disk-0"), Volume::Owned(103));
        assert_eq!(
            volume("rbd:base-100-disk-0/vm-101-disk-0"),
            Volume::Owned(101)
        );
        assert_eq!(
            volume("local:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2"),
            Volume::Owned(101)
        );
        assert_eq!(volume("local:105/vm-105-disk-0.qcow2"), Volume::Owned(105));
        assert_eq!(volume("tank:subvol-107-disk-0"), Volume::Owned(107));
        assert_eq!(volume("local:iso/x.iso"), Volume::Image);
        assert_eq!(volume("local-lvm:4"), Volume::New);
        assert_eq!(volume("/dev/sdb"), Volume::HostPath("/dev/sdb"));
    }

    #[test]
    fn deletes_by_class() {
        let del = |kind, key| classify_delete(kind, key).unwrap().class;
        assert_eq!(del(Guest::Vm, "net1"), Class::Guest);
        assert_eq!(del(Guest::Vm, "args"), Class::Guest);
        assert_eq!(del(Guest::Vm, "scsi1"), Class::Data);
        assert_eq!(del(Guest::Vm, "unused0"), Class::Data);
        assert_eq!(del(Guest::Vm, "protection"), Class::Data);
        assert_eq!(del(Guest::Vm, "lock"), Class::Never);
        assert_eq!(del(Guest::Container, "mp3"), Class::Data);
        assert_eq!(del(Guest::Container, "unprivileged"), Class::Host);
    }

    #[test]
    fn refusals_name_the_key_class_and_the_settings() {
        let operate = Policy::with_access(Access::Operate);
        let host = classify_set(VM, "args", "-foo").unwrap();
        let text = permit(&operate, "update_vm_config", "setting 'args'", &host)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("update_vm_config: setting 'args' passes raw arguments to QEMU"),
            "{text}"
        );
        assert!(text.contains("(key class: host)"), "{text}");
        assert!(
            text.contains("PROXMOX_MCP_ALLOW_HOST_CONFIG=true"),
            "{text}"
        );
        let full = Policy::with_access(Access::Full);
        assert!(permit(&full, "t", "setting 'args'", &host).is_err());
        let full_host = Policy {
            allow_host_config: true,
            ..Policy::with_access(Access::Full)
        };
        assert!(permit(&full_host, "t", "setting 'args'", &host).is_ok());
        let lock = classify_set(VM, "lock", "backup").unwrap();
        assert!(permit(&full_host, "t", "setting 'lock'", &lock)
            .unwrap_err()
            .to_string()
            .contains("no tool may change"));
        let exec = classify_set(VM, "cipassword", "x").unwrap();
        assert!(permit(&full_host, "t", "setting 'cipassword'", &exec).is_err());
        let full_exec = Policy {
            allow_exec: true,
            ..Policy::with_access(Access::Full)
        };
        assert!(permit(&full_exec, "t", "setting 'cipassword'", &exec).is_ok());
    }
}
