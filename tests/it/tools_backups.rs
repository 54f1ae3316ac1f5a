//! The snapshot, backup and storage-content tools against the mocked PVE: container snapshots
//! and rollbacks, vzdump, listing, restoring and deleting backups, storage content, downloads by
//! URL and appliance templates. Each test shows what PVE received and what the client read; dry
//! runs send no write.

use serde_json::{json, Value};

use crate::support::{
    assert_starts, error_text, guest, lines, mock_task as task, ok, session as with_settings,
    with_access as with, FakePve,
};

const UPID: &str = "UPID:pve1:000A1B2C:01234567:6740A000:qmrollback:100:root@pam!mcp:";
const VZDUMP: &str = "UPID:pve1:000B0001:01234567:6740A000:vzdump::root@pam!mcp:";

/// A qemu backup on `local` and the same in a request path (one percent-encoded segment).
const VM_BACKUP: &str = "local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst";
const VM_BACKUP_PATH: &str = "local:backup%2Fvzdump-qemu-100-2025_01_31-02_00_00.vma.zst";
const CT_BACKUP: &str = "pbs:backup/ct/200/2025-01-31T02:00:00Z";
const CT_BACKUP_PATH: &str = "pbs:backup%2Fct%2F200%2F2025-01-31T02:00:00Z";

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({"tags": "prod"})),
        guest("qemu/101", "db", "pve2", "stopped", json!({})),
        guest("lxc/200", "dns", "pve1", "running", json!({})),
        guest("qemu/102", "old", "pve1", "stopped", json!({"lock": "backup"})),
    ])
}

/// Storages as `/cluster/resources?type=storage` shows them: `local` on each node, a shared
/// PBS, storages without backups, and one that is not available.
fn storages() -> Value {
    json!([
        {"id": "storage/pve2/local", "type": "storage", "storage": "local", "node": "pve2", "content": "iso,vztmpl,backup", "plugintype": "dir", "shared": 0, "status": "available"},
        {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "content": "iso,vztmpl,backup", "plugintype": "dir", "shared": 0, "status": "available"},
        {"id": "storage/pve1/pbs", "type": "storage", "storage": "pbs", "node": "pve1", "content": "backup", "plugintype": "pbs", "shared": 1, "status": "available"},
        {"id": "storage/pve2/pbs", "type": "storage", "storage": "pbs", "node": "pve2", "content": "backup", "plugintype": "pbs", "shared": 1, "status": "available"},
        {"id": "storage/pve1/local-lvm", "type": "storage", "storage": "local-lvm", "node": "pve1", "content": "images,rootdir", "plugintype": "lvmthin", "shared": 0, "status": "available"},
        {"id": "storage/pve1/nfs", "type": "storage", "storage": "nfs", "node": "pve1", "content": "backup", "plugintype": "nfs", "shared": 1, "status": "unknown"},
        {"id": "storage/pve1/iso", "type": "storage", "storage": "iso", "node": "pve1", "content": "iso", "plugintype": "dir", "shared": 1, "status": "available"},
    ])
}

/// The two status polls `task` answers.
fn polls(upid: &str) -> [String; 2] {
    let line = format!("GET /nodes/pve1/tasks/{upid}/status");
    [line.clone(), line]
}

/// The result of a call whose task `task` mocked as OK.
fn done(upid: &str) -> Value {
    json!({"data": upid, "task": {"upid": upid, "status": "stopped", "exitstatus": "OK", "duration_s": 3}})
}

fn snapshots() -> Value {
    json!([
        {"name": "current", "description": "You are here!", "parent": "second", "running": 1},
        {"name": "second", "snaptime": 1732200000, "description": "", "parent": "first", "snapstate": "prepare"},
        {"name": "first", "snaptime": 1732100000, "description": "before upgrade"},
    ])
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

#[test]
fn rollback_vm_snapshot_checks_then_rolls_back() {
    let mut fake = FakePve::with_resources(resources());
    fake.config("pve1/qemu/100", json!({"name": "web", "protection": 0}));
    fake.get("/nodes/pve1/qemu/100/snapshot", snapshots());
    fake.post("/nodes/pve1/qemu/100/snapshot/first/rollback", json!(UPID));
    task(&mut fake, UPID, "OK");
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "rollback_vm_snapshot",
                json!({"vmid": 100, "snapname": "first", "confirm_name": "web", "start": true})
            ),
            &done(UPID)
        );
        assert_eq!(
            error_text(&c.call(
                "rollback_vm_snapshot",
                json!({"vmid": 100, "snapname": "frist", "confirm_name": "web"})
            )),
            "GET /nodes/pve1/qemu/100/snapshot: VM 100 has no snapshot named 'frist'; list_vm_snapshots shows its snapshots"
        );
        assert_eq!(
            error_text(&c.call(
                "rollback_vm_snapshot",
                json!({"vmid": 100, "snapname": "current", "confirm_name": "web"})
            )),
            "invalid arguments: 'snapname' must be 2 to 40 characters: a letter, then letters, digits, '_' and '-' (not 'current' or 'pending')"
        );
        assert_eq!(
            error_text(&c.call(
                "rollback_vm_snapshot",
                json!({"vmid": 200, "snapname": "first", "confirm_name": "dns"})
            )),
            "VMID 200 is a container (lxc), not a VM; use the *_container tools"
        );
    });
    assert_eq!(
        fake.lines(),
        lines(
            &[
                "GET /cluster/resources?type=vm",
                "GET /nodes/pve1/qemu/100/config",
                "GET /nodes/pve1/qemu/100/snapshot",
                "POST /nodes/pve1/qemu/100/snapshot/first/rollback start=1",
            ],
            &polls(UPID),
        )
        .into_iter()
        .chain([
            "GET /nodes/pve1/qemu/100/config".to_string(),
            "GET /nodes/pve1/qemu/100/snapshot".to_string(),
        ])
        .collect::<Vec<_>>()
    );
}

#[test]
fn rollback_dry_run_shows_what_is_lost_and_sends_nothing() {
    let mut fake = FakePve::new();
    let status = json!({"vmid": 200, "name": "dns", "status": "running"});
    fake.get("/nodes/pve1/lxc/200/config", json!({"hostname": "dns"}));
    fake.get("/nodes/pve1/lxc/200/snapshot", snapshots());
    fake.get("/nodes/pve1/lxc/200/status/current", status.clone());
    with(&fake, "full", |c| {
        assert_eq!(&c.ok("rollback_container_snapshot",
            json!({"vmid": 200, "node": "pve1", "snapname": "second", "confirm_name": "dns", "dry_run": true})), &json!({
                "data": null,
                "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/lxc/200/snapshot/second/rollback", "params": {}},
                "target": {
                    "snapshot": {"name": "second", "snaptime": 1732200000, "description": "", "parent": "first", "snapstate": "prepare"},
                    "guest": status,
                },
            }));
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/lxc/200/config",
            "GET /nodes/pve1/lxc/200/snapshot",
            "GET /nodes/pve1/lxc/200/status/current",
        ]
    );
}

#[test]
fn rollbacks_refuse_a_guest_with_pve_protection_and_need_full() {
    let mut fake = FakePve::new();
    fake.config("pve1/lxc/200", json!({"hostname": "dns", "protection": 1}));
    with(&fake, "full", |c| {
        assert_starts(&c.error("rollback_container_snapshot",
            json!({"vmid": 200, "node": "pve1", "snapname": "first", "confirm_name": "dns", "dry_run": true})), "GET /nodes/pve1/lxc/200/config: guest 200 has PVE's protection flag set");
        assert!(error_text(&c.call(
            "delete_container_snapshot",
            json!({"vmid": 200, "node": "pve1", "snapname": "first", "confirm_name": "dns"}),
        ))
        .contains("protection flag"));
    });
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("rollback_vm_snapshot", json!({"vmid": 100, "snapname": "first", "confirm_name": "web"}))),
            "rollback_vm_snapshot can lose data and needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; to allow it, restart the server with PROXMOX_MCP_ACCESS=full (or --access full)"
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /nodes/pve1/lxc/200/config"; 2]);
}

#[test]
fn rollback_container_task_failure_and_pve_errors_pass_through() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve1:000A1B2D:01234567:6740A000:vzrollback:200:root@pam!mcp:";
    fake.get("/nodes/pve1/lxc/200/config", json!({"hostname": "dns"}));
    fake.get("/nodes/pve1/lxc/200/snapshot", snapshots());
    fake.post("/nodes/pve1/lxc/200/snapshot/first/rollback", json!(upid));
    task(&mut fake, upid, "unable to rollback vm 200: vm is running");
    fake.fail(
        "POST",
        "/nodes/pve1/lxc/200/snapshot/second/rollback",
        500,
        "CT is locked (backup)",
    );
    with(&fake, "full", |c| {
        assert_starts(&c.error("rollback_container_snapshot",
            json!({"vmid": 200, "node": "pve1", "snapname": "first", "confirm_name": "dns"})), &format!(
                "POST /nodes/pve1/lxc/200/snapshot/first/rollback: task failed: unable to rollback vm 200: vm is running\ntask: {upid}"
            ));
        assert_eq!(
            error_text(&c.call(
                "rollback_container_snapshot",
                json!({"vmid": 200, "node": "pve1", "snapname": "second", "confirm_name": "dns"}),
            )),
            "POST /nodes/pve1/lxc/200/snapshot/second/rollback: CT is locked (backup)"
        );
    });
    assert_eq!(
        fake.writes(),
        [
            "POST /nodes/pve1/lxc/200/snapshot/first/rollback",
            "POST /nodes/pve1/lxc/200/snapshot/second/rollback",
        ]
    );
}

#[test]
fn list_container_snapshots_oldest_first_without_current() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve1/lxc/200/snapshot", snapshots());
    with(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok("list_container_snapshots", json!({"vmid": 200})),
            &json!({
                "data": [
                    {"name": "first", "snaptime": 1732100000, "description": "before upgrade"},
                    {"name": "second", "snaptime": 1732200000, "description": "", "parent": "first"},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        assert_eq!(
            error_text(&c.call("list_container_snapshots", json!({"vmid": 100}))),
            "VMID 100 is a VM (qemu), not a container; use the *_vm tools"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/lxc/200/snapshot"
        ]
    );
}

#[test]
fn create_container_snapshot_and_its_dry_run() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve1:000A1B2E:01234567:6740A000:vzsnapshot:200:root@pam!mcp:";
    let status = json!({"vmid": 200, "status": "running", "name": "dns"});
    fake.post("/nodes/pve1/lxc/200/snapshot", json!(upid));
    fake.get("/nodes/pve1/lxc/200/status/current", status.clone());
    task(&mut fake, upid, "OK");
    with(&fake, "operate", |c| {
        let args = json!({"vmid": 200, "node": "pve1", "snapname": "pre-upgrade", "description": "before 9.1 & co"});
        let mut dry = args.clone();
        dry["dry_run"] = json!(true);
        assert_eq!(
            ok(&c.call("create_container_snapshot", dry)),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/lxc/200/snapshot", "params": {"snapname": "pre-upgrade", "description": "before 9.1 & co"}},
                "target": status,
            })
        );
        fake.assert_no_writes();
        assert_eq!(ok(&c.call("create_container_snapshot", args)), &done(upid));
        assert_eq!(
            error_text(&c.call(
                "create_container_snapshot",
                json!({"vmid": 200, "snapname": "xy", "vmstate": true})
            )),
            "invalid arguments: unknown argument 'vmstate': create_container_snapshot takes vmid, snapname, node, description, wait_seconds, dry_run, stop_on_cancel"
        );
    });
    assert_eq!(
        fake.lines(),
        lines(
            &[
                "GET /nodes/pve1/lxc/200/status/current",
                "POST /nodes/pve1/lxc/200/snapshot snapname=pre-upgrade&description=before%209.1%20%26%20co",
            ],
            &polls(upid)
        )
    );
}

#[test]
fn delete_container_snapshot_checks_it_exists() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve1:000A1B2F:01234567:6740A000:vzdelsnapshot:200:root@pam!mcp:";
    fake.get("/cluster/resources", resources());
    fake.config("pve1/lxc/200", json!({"hostname": "dns", "protection": 0}));
    fake.get("/nodes/pve1/lxc/200/snapshot", snapshots());
    fake.ok("DELETE", "/nodes/pve1/lxc/200/snapshot/first", json!(upid));
    task(&mut fake, upid, "OK");
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call(
                "delete_container_snapshot",
                json!({"vmid": 200, "snapname": "frist", "confirm_name": "dns"})
            )),
            "GET /nodes/pve1/lxc/200/snapshot: container 200 has no snapshot named 'frist'; list_container_snapshots shows its snapshots"
        );
        let dry = c.call(
            "delete_container_snapshot",
            json!({"vmid": 200, "snapname": "first", "confirm_name": "dns", "dry_run": true}),
        );
        assert_eq!(
            ok(&dry),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/nodes/pve1/lxc/200/snapshot/first", "params": {}},
                "target": {"name": "first", "snaptime": 1732100000, "description": "before upgrade"},
            })
        );
        fake.assert_no_writes();
        assert_eq!(
            ok(&c.call(
                "delete_container_snapshot",
                json!({"vmid": 200, "snapname": "first", "confirm_name": "dns"})
            )),
            &done(upid)
        );
    });
    assert_eq!(fake.writes(), ["DELETE /nodes/pve1/lxc/200/snapshot/first"]);
    assert_eq!(fake.lines()[0], "GET /cluster/resources?type=vm");
}

// ---------------------------------------------------------------------------------------------
// create_backup.

#[test]
fn create_backup_runs_one_vzdump_on_the_guests_node() {
    let mut fake = FakePve::with_resources(resources());
    fake.post("/nodes/pve1/vzdump", json!(VZDUMP));
    task(&mut fake, VZDUMP, "OK");
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("create_backup",
            json!({"vmid": [200, 100, 100], "storage": "pbs", "mode": "snapshot", "compress": "zstd", "protected": true})), &done(VZDUMP));
    });
    assert_eq!(
        fake.lines(),
        lines(
            &[
                "GET /cluster/resources?type=vm",
                "POST /nodes/pve1/vzdump vmid=100%2C200&storage=pbs&mode=snapshot&compress=zstd&protected=1&remove=0",
            ],
            &polls(VZDUMP)
        )
    );
}

#[test]
fn create_backup_dry_run_shows_the_guests() {
    let fake = FakePve::with_resources(resources());
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "create_backup",
                json!({"vmid": 102, "node": "pve1", "protected": false, "dry_run": true})
            ),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/vzdump", "params": {"vmid": "102", "remove": "0"}},
                "target": [{"vmid": 102, "name": "old", "type": "qemu", "node": "pve1", "status": "stopped", "lock": "backup"}],
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"]);
}

#[test]
fn create_backup_refuses_guests_on_several_nodes_and_bad_arguments() {
    let fake = FakePve::with_resources(resources());
    with(&fake, "operate", |c| {
        let mut refused = |args: Value| error_text(&c.call("create_backup", args)).to_string();
        assert_eq!(
            refused(json!({"vmid": [100, 101, 200]})),
            "invalid arguments: the guests are on different nodes (pve1: 100, 200; pve2: 101); vzdump backs up the guests of one node, so call create_backup once per node"
        );
        assert_eq!(
            refused(json!({"vmid": ["100", "101"], "node": "pve1"})),
            "invalid arguments: VMID 101 is on node pve2, not on pve1; leave node out, or call create_backup once per node"
        );
        assert_eq!(
            refused(json!({"vmid": ["100", "999"]})),
            "GET /cluster/resources: no guest with VMID 999 in the cluster (or the credentials lack VM.Audit on it); list_vms and list_containers show the guests"
        );
        // Refused before anything is sent.
        assert_eq!(
            refused(json!({"vmid": ["100"], "mode": "live"})),
            "invalid arguments: 'mode' must be one of snapshot, suspend, stop, got 'live'"
        );
        assert_eq!(
            refused(json!({"vmid": ["100"], "compress": "xz"})),
            "invalid arguments: 'compress' must be one of 0, 1, gzip, lzo, zstd, got 'xz'"
        );
        assert_eq!(
            refused(json!({"vmid": ["web"]})),
            "invalid arguments: 'vmid' must hold guest ids between 100 and 999999999, got \"web\""
        );
        assert_eq!(
            refused(json!({"vmid": []})),
            "invalid arguments: 'vmid' must hold 1 to 100 guest ids, got 0"
        );
        assert_eq!(
            refused(json!({"vmid": ["100"], "protected": true})),
            "invalid arguments: 'protected' needs 'storage': name the storage the backup goes to"
        );
    });
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"; 3]);
}

#[test]
fn create_backup_of_a_protected_guest_only_in_snapshot_mode() {
    let mut fake = FakePve::with_resources(resources());
    fake.post("/nodes/pve1/vzdump", json!(VZDUMP));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_PROTECTED", "tag:prod"),
    ];
    with_settings(&fake, &settings, |c| {
        assert_eq!(
            error_text(&c.call("create_backup", json!({"vmid": ["100"], "mode": "stop"}))),
            "a backup in this mode may stop or suspend the guest, and guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names tag:prod); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED; for a protected VM use mode snapshot"
        );
        let r = c.call("create_backup", json!({"vmid": ["100"], "wait_seconds": 0}));
        assert_eq!(ok(&r)["data"], VZDUMP);
        assert_eq!(ok(&r)["task"]["status"], "running");
    });
    assert_eq!(fake.writes(), ["POST /nodes/pve1/vzdump vmid=100&remove=0"]);
}

#[test]
fn create_backup_passes_pve_errors_through() {
    let mut fake = FakePve::with_resources(resources());
    fake.fail(
        "POST",
        "/nodes/pve1/vzdump",
        500,
        "can't use storage 'local-lvm' for backups - wrong content type",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call(
                "create_backup",
                json!({"vmid": ["200"], "storage": "local-lvm"})
            )),
            "POST /nodes/pve1/vzdump: can't use storage 'local-lvm' for backups - wrong content type"
        );
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve1/vzdump vmid=200&storage=local-lvm&remove=0"]
    );
}

// ---------------------------------------------------------------------------------------------
// list_backups.

#[test]
fn list_backups_across_backup_storages_by_vmid_newest_first() {
    let mut fake = FakePve::with_resources(storages());
    fake.get("/nodes/pve1/storage/local/content", json!([
        {"volid": "local:backup/vzdump-qemu-100-2025_01_30-02_00_00.vma.zst", "content": "backup", "format": "vma.zst", "size": 1000, "ctime": 1738202400, "vmid": 100, "subtype": "qemu", "notes": "web", "used": 1000},
        {"volid": "local:backup/vzdump-lxc-200-2025_01_31-02_00_00.tar.zst", "content": "backup", "format": "tar.zst", "size": 300, "ctime": 1738288800, "vmid": 200, "protected": 1},
    ]));
    fake.get("/nodes/pve1/storage/pbs/content", json!([
        {"volid": "pbs:backup/vm/100/2025-01-31T02:00:00Z", "content": "backup", "format": "pbs-vm", "size": 2000, "ctime": 1738288800, "vmid": 100, "verification": {"state": "ok", "upid": "UPID:x"}},
    ]));
    fake.fail(
        "GET",
        "/nodes/pve2/storage/local/content",
        596,
        "Broken pipe",
    );
    with(&fake, "read-only", |c| {
        let r = c.call("list_backups", json!({}));
        assert_eq!(
            ok(&r),
            &json!({
                "data": [
                    {"volid": "pbs:backup/vm/100/2025-01-31T02:00:00Z", "format": "pbs-vm", "size": 2000, "ctime": 1738288800, "vmid": 100, "verification": {"state": "ok"}, "storage": "pbs", "node": "pve1", "subtype": "qemu"},
                    {"volid": "local:backup/vzdump-qemu-100-2025_01_30-02_00_00.vma.zst", "format": "vma.zst", "size": 1000, "ctime": 1738202400, "vmid": 100, "subtype": "qemu", "notes": "web", "storage": "local", "node": "pve1"},
                    {"volid": "local:backup/vzdump-lxc-200-2025_01_31-02_00_00.tar.zst", "format": "tar.zst", "size": 300, "ctime": 1738288800, "vmid": 200, "protected": 1, "storage": "local", "node": "pve1", "subtype": "lxc"},
                ],
                "total": 3, "limit": 100, "offset": 0,
                "unreadable": [{"storage": "local", "node": "pve2", "error": "GET /nodes/pve2/storage/local/content: Broken pipe (the PVE node that owns this resource is unreachable from the node the server talks to; check that it is online (list_nodes) and retry)"}],
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=storage",
            "GET /nodes/pve1/storage/local/content?content=backup",
            "GET /nodes/pve2/storage/local/content?content=backup",
            "GET /nodes/pve1/storage/pbs/content?content=backup",
        ]
    );
}

#[test]
fn list_backups_of_one_guest_on_one_storage() {
    let mut fake = FakePve::with_resources(storages());
    fake.get("/nodes/pve1/storage/pbs/content", json!([]));
    fake.fail(
        "GET",
        "/nodes/pve1/storage/local/content",
        500,
        "storage 'local' is not online",
    );
    with(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok("list_backups", json!({"storage": "pbs", "vmid": 100})),
            &json!({"data": [], "total": 0, "limit": 100, "offset": 0})
        );
        assert_eq!(
            error_text(&c.call("list_backups", json!({"storage": "local-lvm"}))),
            "GET /cluster/resources: no available storage 'local-lvm' holding backup; list_storage shows the storages, their nodes and content types"
        );
        // One storage that cannot be read is an error, with PVE's message.
        assert_eq!(
            error_text(&c.call("list_backups", json!({"storage": "local", "node": "pve1"}))),
            "GET /nodes/pve1/storage/local/content: storage 'local' is not online"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=storage",
            "GET /nodes/pve1/storage/pbs/content?content=backup&vmid=100",
            "GET /cluster/resources?type=storage",
            "GET /nodes/pve1/storage/local/content?content=backup",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// restore_backup.

/// What `extractconfig` answers for the VM backup: guest-level keys only.
const VM_BACKUP_CONFIG: &str = "boot: order=scsi0\ncores: 2\nmemory: 2048\nname: web\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\nscsi0: local-lvm:vm-100-disk-0,size=32G\n";
/// The VM backup's volume id as a query value.
const VM_BACKUP_QUERY: &str = "local%3Abackup%2Fvzdump-qemu-100-2025_01_31-02_00_00.vma.zst";

fn volume_attrs() -> Value {
    json!({"format": "vma.zst", "size": 1000, "used": 1000, "path": "/var/lib/vz/dump/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst", "notes": "web"})
}

#[test]
fn restore_backup_to_the_next_free_vmid() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve2:000A1B30:01234567:6740A000:qmrestore:105:root@pam!mcp:";
    fake.get("/cluster/nextid", json!("105"));
    fake.get("/cluster/resources", storages());
    // `local` is on both nodes: the backup is found on pve2.
    fake.fail(
        "GET",
        &format!("/nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"),
        500,
        "volume_size_info on 'local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst' failed - no format",
    );
    fake.get(
        &format!("/nodes/pve2/storage/local/content/{VM_BACKUP_PATH}"),
        volume_attrs(),
    );
    fake.get("/nodes/pve2/vzdump/extractconfig", json!(VM_BACKUP_CONFIG));
    fake.post("/nodes/pve2/qemu", json!(upid));
    let status = format!("/nodes/pve2/tasks/{upid}/status");
    fake.get(&status,
        json!({"status": "stopped", "exitstatus": "OK", "starttime": 1732288512, "endtime": 1732288600}),
    );
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("restore_backup",
            json!({"archive": VM_BACKUP, "storage": "local-lvm", "unique": true, "start": false})), &json!({"data": upid, "task": {"upid": upid, "status": "stopped", "exitstatus": "OK", "duration_s": 88}}));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/nextid".to_string(),
            "GET /cluster/resources?type=storage".to_string(),
            format!("GET /nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"),
            format!("GET /nodes/pve2/storage/local/content/{VM_BACKUP_PATH}"),
            format!("GET /nodes/pve2/vzdump/extractconfig?volume={VM_BACKUP_QUERY}"),
            "POST /nodes/pve2/qemu vmid=105&archive=local%3Abackup%2Fvzdump-qemu-100-2025_01_31-02_00_00.vma.zst&storage=local-lvm&start=0&unique=1".to_string(),
            format!("GET /nodes/pve2/tasks/{upid}/status"),
        ]
    );
}

#[test]
fn restore_container_backup_dry_run_to_a_chosen_vmid() {
    let mut fake = FakePve::with_resources(resources());
    let attrs = json!({"format": "pbs-ct", "size": 300, "notes": "dns"});
    fake.get(
        &format!("/nodes/pve1/storage/pbs/content/{CT_BACKUP_PATH}"),
        attrs,
    );
    fake.get("/nodes/pve1/vzdump/extractconfig",
        json!("arch: amd64\nhostname: dns\nmemory: 512\nrootfs: local-lvm:vm-200-disk-0,size=8G\nunprivileged: 1\n"),
    );
    with(&fake, "operate", |c| {
        // Without storage, a container goes back to the storage its rootfs was on (from the
        // backup's config), as a VM restore does by itself, not to PVE's default.
        assert_eq!(
            &c.ok(
                "restore_backup",
                json!({"archive": CT_BACKUP, "vmid": 300, "node": "pve1", "dry_run": true})
            ),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/lxc", "params": {"vmid": "300", "ostemplate": CT_BACKUP, "restore": "1", "storage": "local-lvm"}},
                "target": {
                    "archive": {"format": "pbs-ct", "size": 300, "notes": "dns", "volid": CT_BACKUP, "node": "pve1"},
                    "vmid": 300, "type": "lxc", "node": "pve1", "overwrites": null,
                },
            })
        );
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": "local:iso/debian.iso"}))),
            "invalid arguments: 'archive' must name a backup (storage:backup/…), got 'local:iso/debian.iso'; list_backups shows the backups"
        );
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": "local:backup/mystery.tar"}))),
            "invalid arguments: cannot tell from 'local:backup/mystery.tar' whether it is a VM or a container backup (vzdump-qemu-…, vzdump-lxc-…, backup/vm/…, backup/ct/…); list_backups shows the backups"
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm".to_string(),
            format!("GET /nodes/pve1/storage/pbs/content/{CT_BACKUP_PATH}"),
            format!(
                "GET /nodes/pve1/vzdump/extractconfig?volume={}",
                CT_BACKUP.replace(':', "%3A").replace('/', "%2F")
            ),
        ]
    );
}

#[test]
fn restore_over_an_existing_guest_needs_full_force_and_its_name() {
    let fake = FakePve::with_resources(resources());
    let args = json!({"archive": VM_BACKUP, "vmid": 101, "force": true, "confirm_name": "db"});
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("restore_backup", args.clone())),
            "restore_backup over the existing VM 101 replaces its disks and configuration (its current data is lost) and needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; leave vmid out to restore to a new guest, or restart the server with PROXMOX_MCP_ACCESS=full (or --access full)"
        );
    });
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": VM_BACKUP, "vmid": 101, "dry_run": true}))),
            "VMID 101 is an existing VM; restoring over it replaces it (its current data is lost). Pass force: true and confirm_name (its current name), or leave vmid out to restore to a new guest; nothing was changed"
        );
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": VM_BACKUP, "vmid": 101, "force": true, "confirm_name": "web", "dry_run": true}))),
            "confirm_name 'web' is not the name of VM 101, which is 'db'; nothing was changed. Check the VMID (get_vm_status shows its name) and pass its current name"
        );
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": CT_BACKUP, "vmid": 101, "force": true, "confirm_name": "db"}))),
            "invalid arguments: the backup is of a container but VMID 101 is a VM; restore it to another VMID"
        );
        assert_eq!(
            error_text(&c.call("restore_backup", json!({"archive": VM_BACKUP, "vmid": 101, "node": "pve1", "force": true, "confirm_name": "db"}))),
            "invalid arguments: VM 101 is on node pve2, not pve1; a restore over it runs there (leave node out)"
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"; 5]);
}

#[test]
fn restore_over_an_existing_stopped_guest() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve2:000A1B31:01234567:6740A000:qmrestore:101:root@pam!mcp:";
    let status = json!({"vmid": 101, "name": "db", "status": "stopped"});
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve2/qemu/101/config", json!({"name": "db"}));
    fake.get("/nodes/pve2/qemu/101/status/current", status.clone());
    fake.get(
        &format!("/nodes/pve2/storage/local/content/{VM_BACKUP_PATH}"),
        volume_attrs(),
    );
    fake.get("/nodes/pve2/vzdump/extractconfig", json!(VM_BACKUP_CONFIG));
    fake.post("/nodes/pve2/qemu", json!(upid));
    with(&fake, "full", |c| {
        let args = json!({"archive": VM_BACKUP, "vmid": 101, "force": true, "confirm_name": "db"});
        let mut dry = args.clone();
        dry["dry_run"] = json!(true);
        let r = c.call("restore_backup", dry);
        let mut archive = volume_attrs();
        archive["volid"] = json!(VM_BACKUP);
        archive["node"] = json!("pve2");
        assert_eq!(
            ok(&r),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve2/qemu", "params": {"vmid": "101", "archive": VM_BACKUP, "force": "1"}},
                "target": {"archive": archive, "vmid": 101, "type": "qemu", "node": "pve2", "overwrites": status},
            })
        );
        fake.assert_no_writes();
        let mut now = args;
        now["wait_seconds"] = json!(0);
        assert_eq!(ok(&c.call("restore_backup", now))["data"], upid);
    });
    let one_pass = [
        "GET /cluster/resources?type=vm".to_string(),
        "GET /nodes/pve2/qemu/101/config".to_string(),
        "GET /nodes/pve2/qemu/101/status/current".to_string(),
        format!("GET /nodes/pve2/storage/local/content/{VM_BACKUP_PATH}"),
        format!("GET /nodes/pve2/vzdump/extractconfig?volume={VM_BACKUP_QUERY}"),
    ];
    let mut expected: Vec<String> = one_pass.iter().chain(one_pass.iter()).cloned().collect();
    expected.push("POST /nodes/pve2/qemu vmid=101&archive=local%3Abackup%2Fvzdump-qemu-100-2025_01_31-02_00_00.vma.zst&force=1".into());
    assert_eq!(fake.lines(), expected);
}

#[test]
fn restore_refuses_a_running_or_pve_protected_guest() {
    let mut fake = FakePve::with_resources(resources());
    fake.ok_times(
        "GET",
        "/nodes/pve1/lxc/200/config",
        json!({"hostname": "dns", "protection": 1}),
        1,
    );
    fake.get("/nodes/pve1/lxc/200/config", json!({"hostname": "dns"}));
    fake.status("pve1/lxc/200", json!({"status": "running", "name": "dns"}));
    with(&fake, "full", |c| {
        let args = json!({"archive": CT_BACKUP, "vmid": 200, "force": true, "confirm_name": "dns", "dry_run": true});
        assert!(
            error_text(&c.call("restore_backup", args.clone())).starts_with(
                "GET /nodes/pve1/lxc/200/config: guest 200 has PVE's protection flag set"
            )
        );
        assert_eq!(
            error_text(&c.call("restore_backup", args)),
            "GET /nodes/pve1/lxc/200/status/current: container 200 (dns) is running; it must be stopped before a backup is restored over it (shutdown_container or stop_container)"
        );
    });
    fake.assert_no_writes();
}

// ---------------------------------------------------------------------------------------------
// delete_backup.

#[test]
fn delete_backup_checks_it_exists_and_is_not_protected() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve1:000A1B32:01234567:6740A000:imgdel::root@pam!mcp:";
    let protected_volid = "local:backup/vzdump-lxc-200-2025_01_31-02_00_00.tar.zst";
    let protected_path = "local:backup%2Fvzdump-lxc-200-2025_01_31-02_00_00.tar.zst";
    fake.get("/cluster/resources", resources());
    fake.get(
        &format!("/nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"),
        volume_attrs(),
    );
    fake.get(
        &format!("/nodes/pve1/storage/local/content/{protected_path}"),
        json!({"format": "tar.zst", "size": 300, "protected": true}),
    );
    fake.ok(
        "DELETE",
        &format!("/nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"),
        json!(upid),
    );
    task(&mut fake, upid, "OK");
    with(&fake, "full", |c| {
        let dry = c.call(
            "delete_backup",
            json!({"volume": VM_BACKUP, "node": "pve1", "confirm_name": "web", "dry_run": true}),
        );
        let mut target = volume_attrs();
        target["volid"] = json!(VM_BACKUP);
        target["node"] = json!("pve1");
        assert_eq!(
            ok(&dry),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": format!("/nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"), "params": {}},
                "target": target,
            })
        );
        fake.assert_no_writes();
        assert_eq!(
            ok(&c.call(
                "delete_backup",
                json!({"volume": VM_BACKUP, "node": "pve1", "confirm_name": "web"})
            )),
            &done(upid)
        );
        assert_eq!(
            error_text(&c.call("delete_backup", json!({"volume": protected_volid, "node": "pve1", "confirm_name": "dns"}))),
            format!("GET /nodes/pve1/storage/local/content/{protected_path}: backup {protected_volid} is protected in PVE (protected: 1), so this server will not delete it; if this is intended, remove the protection in PVE first (Backups > Change Protection)")
        );
        assert_eq!(
            error_text(&c.call("delete_backup", json!({"volume": "local-lvm:vm-100-disk-0", "confirm_name": "web"}))),
            "invalid arguments: 'volume' must name a backup (storage:backup/…), got 'local-lvm:vm-100-disk-0'; list_backups shows the backups"
        );
    });
    assert_eq!(
        fake.writes(),
        [format!(
            "DELETE /nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"
        )]
    );
}

#[test]
fn delete_backup_finds_its_node_or_says_where_it_looked() {
    let mut fake = FakePve::with_resources(storages());
    for node in ["pve1", "pve2"] {
        fake.fail(
            "GET",
            &format!("/nodes/{node}/storage/local/content/{VM_BACKUP_PATH}"),
            500,
            "volume_size_info on 'local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst' failed - no format",
        );
    }
    fake.fail(
        "GET",
        &format!("/nodes/pve1/storage/pbs/content/{CT_BACKUP_PATH}"),
        500,
        "connection check for storage 'pbs' failed - timeout",
    );
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call("delete_backup", json!({"volume": VM_BACKUP, "confirm_name": "100", "dry_run": true}))),
            "GET /nodes/{node}/storage/local/content/local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst: none of the nodes with storage 'local' (pve1, pve2) holds local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst; list_backups shows the backups and their nodes"
        );
        // A shared storage is asked once; its error is PVE's.
        assert_eq!(
            error_text(&c.call("delete_backup", json!({"volume": CT_BACKUP, "confirm_name": "200"}))),
            format!("GET /nodes/pve1/storage/pbs/content/{CT_BACKUP_PATH}: connection check for storage 'pbs' failed - timeout")
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            // The backup's guest (for confirm_name; this mock lists no guests).
            "GET /cluster/resources?type=vm".to_string(),
            "GET /cluster/resources?type=storage".to_string(),
            format!("GET /nodes/pve1/storage/local/content/{VM_BACKUP_PATH}"),
            format!("GET /nodes/pve2/storage/local/content/{VM_BACKUP_PATH}"),
            "GET /cluster/resources?type=vm".to_string(),
            "GET /cluster/resources?type=storage".to_string(),
            format!("GET /nodes/pve1/storage/pbs/content/{CT_BACKUP_PATH}"),
        ]
    );
}

#[test]
fn delete_backup_keeps_the_backups_of_protected_guests() {
    let fake = FakePve::with_resources(resources());
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "tag:prod"),
    ];
    with_settings(&fake, &settings, |c| {
        assert_eq!(
            error_text(&c.call("delete_backup", json!({"volume": VM_BACKUP, "node": "pve1", "confirm_name": "web"}))),
            "local:backup/vzdump-qemu-100-2025_01_31-02_00_00.vma.zst is a backup of guest 100, and guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names tag:prod); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED; its backups are kept too"
        );
    });
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"]);
}

// ---------------------------------------------------------------------------------------------
// Storage content.

#[test]
fn list_storage_content_filters_and_sorts() {
    let mut fake = FakePve::with_resources(storages());
    fake.get("/nodes/pve1/storage/local-lvm/content", json!([
        {"volid": "local-lvm:vm-100-disk-1", "content": "images", "format": "raw", "size": 2, "vmid": 100, "used": 0},
        {"volid": "local-lvm:vm-100-disk-0", "content": "images", "format": "raw", "size": 1, "vmid": 100, "parent": "base-900-disk-0"},
    ]));
    fake.get("/nodes/pve1/storage/iso/content", json!([
        {"volid": "iso:iso/debian-13.iso", "content": "iso", "format": "iso", "size": 700, "ctime": 1738288800},
    ]));
    with(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok(
                "list_storage_content",
                json!({"storage": "local-lvm", "node": "pve1", "content": "images", "vmid": 100})
            ),
            &json!({
                "data": [
                    {"volid": "local-lvm:vm-100-disk-0", "content": "images", "format": "raw", "size": 1, "vmid": 100, "parent": "base-900-disk-0", "storage": "local-lvm", "node": "pve1"},
                    {"volid": "local-lvm:vm-100-disk-1", "content": "images", "format": "raw", "size": 2, "vmid": 100, "storage": "local-lvm", "node": "pve1"},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        let r = c.call("list_storage_content", json!({"storage": "iso"}));
        assert_eq!(ok(&r)["data"][0]["volid"], "iso:iso/debian-13.iso");
        assert_eq!(
            error_text(&c.call("list_storage_content", json!({"storage": "iso", "content": "isos"}))),
            "invalid arguments: 'content' must be one of images, rootdir, vztmpl, iso, backup, snippets, import, got 'isos'"
        );
        assert_eq!(
            error_text(&c.call("list_storage_content", json!({"storage": "nfs"}))),
            "GET /cluster/resources: no available storage 'nfs'; list_storage shows the storages, their nodes and content types"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/storage/local-lvm/content?content=images&vmid=100",
            "GET /cluster/resources?type=storage",
            "GET /nodes/pve1/storage/iso/content",
            "GET /cluster/resources?type=storage",
        ]
    );
}

#[test]
fn download_to_storage_names_the_file_from_the_url() {
    let mut fake = FakePve::new();
    let upid = "UPID:pve1:000A1B33:01234567:6740A000:download:debian-13.iso:root@pam!mcp:";
    fake.get("/cluster/resources", storages());
    fake.post("/nodes/pve1/storage/iso/download-url", json!(upid));
    task(&mut fake, upid, "OK");
    let sum = "A".repeat(64);
    crate::support::with_access(&fake, "operate", |c| {
        assert_eq!(&c.ok("download_to_storage",
            json!({"storage": "iso", "url": "https://cdimage.debian.org/debian-13.iso?mirror=1", "checksum": sum, "checksum-algorithm": "sha256"})), &done(upid));
    });
    assert_eq!(
        fake.lines(),
        lines(
            &[
                "GET /cluster/resources?type=storage",
                &format!("POST /nodes/pve1/storage/iso/download-url content=iso&filename=debian-13.iso&url=https%3A%2F%2Fcdimage.debian.org%2Fdebian-13.iso%3Fmirror%3D1&checksum={}&checksum-algorithm=sha256", "a".repeat(64)),
            ],
            &polls(upid)
        )
    );
}

#[test]
fn download_to_storage_dry_run_and_refusals() {
    let mut fake = FakePve::new();
    let status = json!({"type": "dir", "content": "iso,vztmpl,backup", "active": 1, "enabled": 1, "shared": 0, "total": 100, "used": 10, "avail": 90});
    fake.get("/cluster/resources", storages());
    fake.get("/nodes/pve2/storage/local/status", status.clone());
    fake.answer(
        "POST",
        "/nodes/pve2/storage/local/download-url",
        200,
        json!({"success": 0, "status": 400, "message": "Parameter verification failed.\n", "errors": {"filename": "wrong file extension"}, "data": null}),
        None,
    );
    crate::support::with_access(&fake, "operate", |c| {
        let url =
            "http://download.proxmox.com/images/system/alpine-3.22-default_20250617_amd64.tar.xz";
        assert_eq!(
            &c.ok(
                "download_to_storage",
                json!({"storage": "local", "node": "pve2", "url": url, "dry_run": true})
            ),
            &json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve2/storage/local/download-url", "params": {"content": "vztmpl", "filename": "alpine-3.22-default_20250617_amd64.tar.xz", "url": url}},
                "target": status,
            })
        );
        fake.assert_no_writes();
        let mut refused =
            |args: Value| error_text(&c.call("download_to_storage", args)).to_string();
        assert_eq!(
            refused(json!({"storage": "local", "url": url})),
            "invalid arguments: storage 'local' is local to each of pve1, pve2: give node"
        );
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": "ftp://example.org/x.iso"})),
            "invalid arguments: 'url' must be an http:// or https:// URL, got 'ftp://example.org/x.iso'"
        );
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": "https://example.org/disk.qcow2"})),
            "invalid arguments: cannot tell from 'disk.qcow2' whether it is an ISO image (.iso, .img) or a container template (.tar.gz, .tar.xz, .tar.zst, .tar.bz2): give content"
        );
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": "https://example.org/"})),
            "invalid arguments: cannot take a file name from 'https://example.org/': give filename"
        );
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": url, "checksum": "abc"})),
            "invalid arguments: 'checksum' and 'checksum-algorithm' go together: give both or neither"
        );
        assert_eq!(
            refused(
                json!({"storage": "local", "node": "pve2", "url": url, "checksum": "xyz", "checksum-algorithm": "sha1"})
            ),
            "invalid arguments: 'checksum' must be hexadecimal, got 'xyz'"
        );
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": url, "filename": "../x.iso"})),
            "invalid arguments: 'filename' must be a plain file name (no '/', not starting with '.'), got '../x.iso'"
        );
        // PVE's own refusal, with method and path.
        assert_eq!(
            refused(json!({"storage": "local", "node": "pve2", "url": url, "content": "iso"})),
            "POST /nodes/pve2/storage/local/download-url: Parameter verification failed.; filename: wrong file extension"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve2/storage/local/status".to_string(),
            "GET /cluster/resources?type=storage".to_string(),
            "POST /nodes/pve2/storage/local/download-url content=iso&filename=alpine-3.22-default_20250617_amd64.tar.xz&url=http%3A%2F%2Fdownload.proxmox.com%2Fimages%2Fsystem%2Falpine-3.22-default_20250617_amd64.tar.xz".to_string(),
        ]
    );
}

#[test]
fn list_appliance_templates_sorted_trimmed_and_filtered() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/aplinfo", json!([
        {"template": "debian-13-standard_13.1-2_amd64.tar.zst", "package": "debian-13-standard", "headline": "Debian 13 (standard)", "os": "debian-13", "section": "system", "version": "13.1-2", "type": "lxc", "location": "http://x", "sha512sum": "abc", "description": "long text"},
        {"template": "alpine-3.22-default_20250617_amd64.tar.xz", "package": "alpine-3.22-default", "headline": "Alpine Linux 3.22", "os": "alpine", "section": "system", "version": "3.22-1", "type": "lxc", "infopage": "http://y"},
        {"template": "turnkey-nextcloud_18.0-1_amd64.tar.gz", "package": "turnkey-nextcloud", "headline": "TurnKey Nextcloud", "os": "debian-12", "section": "turnkeylinux", "version": "18.0-1", "type": "lxc"},
    ]));
    crate::support::with_access(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok(
                "list_appliance_templates",
                json!({"node": "pve1", "section": "system"})
            ),
            &json!({
                "data": [
                    {"template": "alpine-3.22-default_20250617_amd64.tar.xz", "package": "alpine-3.22-default", "headline": "Alpine Linux 3.22", "os": "alpine", "section": "system", "version": "3.22-1", "type": "lxc"},
                    {"template": "debian-13-standard_13.1-2_amd64.tar.zst", "package": "debian-13-standard", "headline": "Debian 13 (standard)", "os": "debian-13", "section": "system", "version": "13.1-2", "type": "lxc"},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        let r = c.call(
            "list_appliance_templates",
            json!({"node": "pve1", "limit": 1, "offset": 2}),
        );
        assert_eq!(ok(&r)["data"][0]["package"], "turnkey-nextcloud");
        assert_eq!(ok(&r)["total"], 3);
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/aplinfo"; 2]);
}
