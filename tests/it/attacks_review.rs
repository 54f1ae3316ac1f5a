//! A second review of the config-key, volume and restore guards (issue 12's fixes), played as a
//! prompt-injected assistant: each test sends an attack that got past a guard, asserts the
//! refusal the client reads and that the mocked PVE received no write.

use serde_json::json;

use crate::attacks_config::{
    assert_host_level, refused_set, restore_fake, restore_refused, ARCHIVE, CT_ARCHIVE, OPERATE,
};
use crate::support::{error_text, ok, session, FakePve};

/// PVE's `parse_property_string` skips blank parts and takes a part without `=` as the default
/// key (`file` of a drive, `volume` of a mount point) wherever it stands, not only first:
/// `cache=none,/dev/sdb` is `file=/dev/sdb`, and `mp=/mnt/host,/` bind-mounts the host's `/`.
#[test]
fn a_volume_after_other_options_or_a_blank_part_is_still_checked() {
    let fake = FakePve::new();
    let vm = [
        (
            "scsi1",
            "cache=none,/dev/sdb",
            "hands the host path /dev/sdb",
            "host",
        ),
        ("scsi3", ",/dev/sdb", "hands the host path /dev/sdb", "host"),
        (
            "virtio1",
            " ,/dev/nvme0n1",
            "hands the host path /dev/nvme0n1",
            "host",
        ),
        (
            "efidisk0",
            "efitype=4m,/dev/sdc",
            "hands the host path /dev/sdc",
            "host",
        ),
        (
            "scsi2",
            "discard=on,local-lvm:vm-103-disk-0",
            "names local-lvm:vm-103-disk-0, a volume of guest 103",
            "data",
        ),
    ];
    for (key, value, why, class) in &vm {
        let text = refused_set(&fake, OPERATE, "vm", json!({ *key: value }));
        assert!(
            text.starts_with(&format!("update_vm_config: setting '{key}' {why}")),
            "{key}={value}: {text}"
        );
        assert!(text.contains(&format!("(key class: {class})")), "{text}");
    }
    let ct = [
        ("mp0", "mp=/mnt/host,/", "bind-mounts the host path /"),
        (
            "mp1",
            ",/etc/pve,mp=/mnt/pve",
            "bind-mounts the host path /etc/pve",
        ),
        (
            "rootfs",
            "size=8G,/var/lib/host-root",
            "bind-mounts the host path /var/lib/host-root",
        ),
    ];
    for (key, value, why) in ct {
        let text = refused_set(&fake, OPERATE, "container", json!({ key: value }));
        assert_host_level(
            &text,
            &format!("update_container_config: setting '{key}' {why}"),
        );
    }
    fake.assert_no_writes();
}

/// `cdrom` as a drive's volume is not an empty CD drive (that is `none`): QEMU opens the host's
/// own optical drive (`/dev/cdrom`), which PVE leaves to Sys.Console on `/`.
#[test]
fn the_hosts_cd_drive_is_host_level() {
    let fake = FakePve::new();
    for (key, value) in [
        ("ide2", "cdrom,media=cdrom"),
        ("cdrom", "cdrom"),
        ("sata1", "media=cdrom,cdrom"),
    ] {
        let text = refused_set(&fake, OPERATE, "vm", json!({ key: value }));
        assert_host_level(&text, &format!(
                "update_vm_config: setting '{key}' hands the host's CD/DVD drive (cdrom) to the guest"
            ));
    }
    fake.assert_no_writes();
}

/// A USB value that names SPICE and a host device mapping is not the guest's own SPICE port.
#[test]
fn usb_spice_with_a_mapping_is_host_level() {
    let fake = FakePve::new();
    for value in [
        "spice,mapping=token",
        "mapping=token,spice",
        "host=spice,mapping=token",
    ] {
        let text = refused_set(&fake, OPERATE, "vm", json!({ "usb0": value }));
        assert!(
            text.starts_with("update_vm_config: setting 'usb0' passes a host USB device"),
            "{value}: {text}"
        );
    }
    fake.assert_no_writes();
}

/// PVE's LXC config parser also takes `lxc.key = value` (no colon): a backup holding
/// `lxc.mount.entry = /dev/sda …` was let through at operate, and root@pam restores raw LXC keys.
#[test]
fn a_raw_lxc_key_written_with_equals_in_a_backup_is_refused() {
    let fake = restore_fake(Some(
        "arch: amd64\nhostname: ct\nrootfs: local-lvm:vm-200-disk-0,size=8G\nunprivileged: 1\nlxc.mount.entry = /dev/sda dev/sda none bind,create=file\n",
    ));
    let text = restore_refused(&fake, OPERATE, CT_ARCHIVE);
    let raw = format!(
        "restore_backup: the backup {CT_ARCHIVE} sets 'lxc.mount.entry', which is a raw LXC setting"
    );
    assert_host_level(&text, &raw);
}

/// A clone copies its source's config (PVE copies every key but disks, NICs and snapshots): a
/// clone of a VM with a host PCI device or `args`, or of a privileged container, made at operate
/// what a restore of its backup is refused for.
#[test]
fn cloning_a_guest_with_host_level_config_is_refused() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/105/config",
        json!({"name": "gpu", "cores": 4, "hostpci0": "0000:01:00.0,pcie=1", "scsi0": "local-lvm:vm-105-disk-0,size=32G", "meta": "creation-qemu=9.2.0,ctime=1740000000", "digest": "ab12"}),
    );
    fake.config(
        "pve1/lxc/205",
        json!({"hostname": "priv", "rootfs": "local-lvm:vm-205-disk-0,size=8G", "digest": "cd34"}),
    );
    fake.get("/nodes/pve1/lxc/206/config",
        json!({"hostname": "raw", "unprivileged": 1, "rootfs": "local-lvm:vm-206-disk-0,size=8G", "lxc": [["lxc.apparmor.profile", "unconfined"]], "digest": "ef56"}),
    );
    fake.get("/cluster/nextid", json!(300));
    session(&fake, OPERATE, |c| {
        let cases = [
            (
                "clone_vm",
                105,
                "VM 105 sets 'hostpci0', which passes a host PCI device",
            ),
            (
                "clone_container",
                205,
                "container 205 sets 'unprivileged', which makes a privileged container",
            ),
            (
                "clone_container",
                206,
                "container 206 sets 'lxc.apparmor.profile', which is a raw LXC setting",
            ),
        ];
        for (tool, vmid, why) in cases {
            for dry_run in [false, true] {
                let r = c.call(
                    tool,
                    json!({"vmid": vmid, "node": "pve1", "dry_run": dry_run}),
                );
                let text = error_text(&r);
                assert_host_level(text, &format!("{tool}: {why}"));
                assert!(
                    text.contains("PROXMOX_MCP_ALLOW_HOST_CONFIG=true"),
                    "{text}"
                );
            }
        }
    });
    fake.assert_no_writes();
}

/// PVE writes `meta` (what a VM was created with) into every VM config and backup itself; it
/// is not a key to refuse a restore or a clone for.
#[test]
fn a_backup_or_clone_with_pves_own_meta_key_goes_through_at_operate() {
    let mut fake = restore_fake(Some(
        "boot: order=scsi0\ncores: 2\nmeta: creation-qemu=9.2.0,ctime=1740000000\nname: web\nscsi0: local-lvm:vm-100-disk-0,size=32G\nvmgenid: 5a1c2d4e-0000-4000-8000-000000000000\n#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n",
    ));
    fake.get("/nodes/pve1/qemu/100/config",
        json!({"name": "web", "cores": 2, "meta": "creation-qemu=9.2.0,ctime=1740000000", "scsi0": "local-lvm:vm-100-disk-0,size=32G", "digest": "ab12"}),
    );
    fake.status(
        "pve1/qemu/100",
        json!({"vmid": 100, "name": "web", "status": "stopped"}),
    );
    session(&fake, OPERATE, |c| {
        let r = c.call(
            "restore_backup",
            json!({"archive": ARCHIVE, "node": "pve1", "dry_run": true}),
        );
        assert_eq!(ok(&r)["dry_run"], json!(true), "{r}");
        let r = c.call(
            "clone_vm",
            json!({"vmid": 100, "node": "pve1", "dry_run": true}),
        );
        assert_eq!(ok(&r)["dry_run"], json!(true), "{r}");
    });
    fake.assert_no_writes();
}
