//! The health tools against the mocked PVE: replication jobs with their state, pending updates,
//! ZFS pools, Ceph's health (and a cluster without Ceph).

use serde_json::json;

use crate::support::{assert_starts, guest, session as with, Client, FakePve};

/// At access read-only, every toolset loaded (most of these tools are outside the default set).
fn read_only(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    with(fake, &[("PROXMOX_MCP_TOOLS", "all")], f)
}

// ---------------------------------------------------------------------------------------------
// Replication.

#[rustfmt::skip]
fn replication_fake() -> FakePve {
    let mut fake = FakePve::with_resources(json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("lxc/200", "dns", "pve2", "running", json!({})),
    ]));
    fake.get("/cluster/replication", json!([
        {"id": "200-0", "guest": 200, "jobnum": 0, "target": "pve1", "schedule": "*/15", "type": "local", "source": "pve2"},
        {"id": "100-0", "guest": 100, "jobnum": 0, "target": "pve2", "type": "local"},
        {"id": "100-1", "guest": 100, "jobnum": 1, "target": "pve3", "type": "local", "disable": 1},
    ]));
    fake.get("/nodes/pve1/replication", json!([
        {"id": "100-0", "guest": 100, "last_sync": 1700000000, "last_try": 1700000900, "next_sync": 1700001800, "duration": 3.5, "fail_count": 2, "error": "storage 'local-zfs' is not available on node 'pve2'", "pid": 1234},
        {"id": "100-1", "guest": 100, "last_sync": 0, "fail_count": 0},
    ]));
    fake
}

#[test]
fn list_replication_jobs_joins_each_job_with_its_state() {
    let mut fake = replication_fake();
    fake.fail("GET", "/nodes/pve2/replication", 595, "no route to host");
    read_only(&fake, |c| {
        assert_eq!(
            c.ok("list_replication_jobs", json!({})),
            json!({
                "data": [
                    {"id": "100-0", "guest": 100, "node": "pve1", "target": "pve2",
                     "last_sync": 1700000000, "last_try": 1700000900, "next_sync": 1700001800,
                     "duration": 3.5, "fail_count": 2,
                     "error": "storage 'local-zfs' is not available on node 'pve2'"},
                    {"id": "100-1", "guest": 100, "node": "pve1", "target": "pve3", "disable": 1,
                     "last_sync": 0, "fail_count": 0},
                    {"id": "200-0", "guest": 200, "node": "pve2", "target": "pve1", "schedule": "*/15"},
                ],
                "total": 3, "limit": 100, "offset": 0,
                "unreadable": [{"node": "pve2", "error": "GET /nodes/pve2/replication: no route to host (the PVE node that owns this resource is unreachable from the node the server talks to; check that it is online (list_nodes) and retry)"}],
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/replication",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/replication",
            "GET /nodes/pve2/replication",
        ]
    );
}

#[test]
fn list_replication_jobs_of_one_node_asks_only_that_node() {
    let fake = replication_fake();
    read_only(&fake, |c| {
        let out = c.ok("list_replication_jobs", json!({"node": "pve1", "limit": 1}));
        assert_eq!(out["data"][0]["id"], "100-0");
        assert_eq!(out["data"][0]["fail_count"], 2);
        assert_eq!(out["total"], 2);
        assert_eq!(out["hint"], "1 more; call again with offset 1");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/replication",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/replication",
        ]
    );
}

#[test]
fn no_replication_jobs_is_one_request() {
    let mut fake = FakePve::new();
    fake.get("/cluster/replication", json!([]));
    read_only(&fake, |c| {
        assert_eq!(
            c.ok("list_replication_jobs", json!({})),
            json!({"data": [], "total": 0, "limit": 100, "offset": 0})
        );
    });
    assert_eq!(fake.lines(), ["GET /cluster/replication"]);
}

// ---------------------------------------------------------------------------------------------
// Updates.

#[test]
fn list_node_updates_pages_pves_cache_by_package() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/apt/update",
        json!([
            {"Package": "pve-manager", "Title": "Proxmox VE manager", "OldVersion": "9.1.1", "Version": "9.1.2",
             "Origin": "Proxmox", "Priority": "optional", "Section": "admin", "Arch": "amd64",
             "Description": "a long text", "NotifyStatus": "9.1.2"},
            {"Package": "libc6", "Title": "GNU C Library", "OldVersion": "2.41-11", "Version": "2.41-12",
             "Origin": "Debian", "Priority": "required", "Section": "libs", "Arch": "amd64", "Description": "…"},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            c.ok(
                "list_node_updates",
                json!({"node": "pve1", "limit": 1, "offset": 1})
            ),
            json!({
                "data": [{"Package": "pve-manager", "Title": "Proxmox VE manager", "OldVersion": "9.1.1",
                          "Version": "9.1.2", "Origin": "Proxmox", "Priority": "optional", "Section": "admin"}],
                "total": 2, "limit": 1, "offset": 1,
            })
        );
        assert_starts(
            &c.error("list_node_updates", json!({})),
            "invalid arguments: missing required argument 'node'",
        );
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/apt/update"]);
}

#[test]
fn list_node_updates_without_sys_modify_says_so() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/nodes/pve1/apt/update",
        403,
        "Permission check failed (/nodes/pve1, Sys.Modify)",
    );
    read_only(&fake, |c| {
        assert_eq!(
            c.error("list_node_updates", json!({"node": "pve1"})),
            "GET /nodes/pve1/apt/update: Permission check failed (/nodes/pve1, Sys.Modify) (the credentials lack the privilege PVE names above; grant it with `pveum acl modify PATH --roles ROLE --users USER` (for a token, --tokens USER!NAME))"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Disks.

#[test]
fn list_node_disks_and_get_disk_smart() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/disks/list",
        json!([
            {"devpath": "/dev/sdb", "type": "hdd", "model": "WDC WD40", "serial": "WD-1", "size": 4000787030016u64,
             "health": "FAILED", "wearout": "N/A", "used": "ZFS", "gpt": 1, "mounted": 0, "osdid": -1, "wwn": "0x5"},
            {"devpath": "/dev/nvme0n1", "type": "nvme", "model": "Samsung 980", "serial": "S6", "size": 1000204886016u64,
             "health": "PASSED", "wearout": 97, "used": "LVM", "gpt": 1, "mounted": 0, "osdid": -1},
        ]),
    );
    let smart = json!({
        "health": "FAILED", "type": "ata",
        "attributes": [{"id": "  5", "name": "Reallocated_Sector_Ct", "value": 1, "worst": 1, "threshold": 36, "raw": "8392", "flags": "PO--CK", "fail": "FAILING_NOW"}],
    });
    fake.get("/nodes/pve1/disks/smart", smart.clone());
    read_only(&fake, |c| {
        assert_eq!(
            c.ok("list_node_disks", json!({"node": "pve1"}))["data"],
            json!([
                {"devpath": "/dev/nvme0n1", "type": "nvme", "model": "Samsung 980", "serial": "S6", "size": 1000204886016u64,
                 "health": "PASSED", "wearout": 97, "used": "LVM", "mounted": 0, "osdid": -1},
                {"devpath": "/dev/sdb", "type": "hdd", "model": "WDC WD40", "serial": "WD-1", "size": 4000787030016u64,
                 "health": "FAILED", "wearout": "N/A", "used": "ZFS", "mounted": 0, "osdid": -1},
            ])
        );
        assert_eq!(
            c.ok(
                "get_disk_smart",
                json!({"node": "pve1", "disk": "/dev/sdb"})
            ),
            json!({ "data": smart })
        );
        // Not a device path: refused before anything is sent.
        for disk in ["sdb", "/dev/", "/dev/../etc/passwd", "/dev/sd b"] {
            assert_eq!(
                c.error("get_disk_smart", json!({"node": "pve1", "disk": disk})),
                format!("invalid arguments: 'disk' must be a device path such as /dev/sda or /dev/nvme0n1 (list_node_disks shows them), got '{disk}'")
            );
        }
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/disks/list",
            "GET /nodes/pve1/disks/smart?disk=%2Fdev%2Fsdb",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// ZFS.

#[test]
fn list_zfs_pools_and_get_zfs_pool() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/disks/zfs",
        json!([
            {"name": "tank", "health": "DEGRADED", "size": 4000, "alloc": 3000, "free": 1000, "frag": 12, "dedup": 1.0},
            {"name": "rpool", "health": "ONLINE", "size": 1000, "alloc": 100, "free": 900, "frag": 1, "dedup": 1.0},
        ]),
    );
    let detail = json!({
        "name": "tank", "state": "DEGRADED",
        "status": "One or more devices could not be used because the label is missing or invalid.",
        "action": "Replace the device using 'zpool replace'.",
        "scan": "scrub repaired 0B in 00:10:02 with 0 errors on Sun Nov  9 00:34:03 2025",
        "errors": "No known data errors",
        "children": [{"name": "tank", "state": "DEGRADED", "read": 0, "write": 0, "cksum": 0, "msg": "",
                      "children": [{"name": "sdb", "state": "UNAVAIL", "read": 0, "write": 0, "cksum": 0, "msg": "cannot open"}]}],
    });
    fake.get("/nodes/pve1/disks/zfs/tank", detail.clone());
    read_only(&fake, |c| {
        let pools = c.ok("list_zfs_pools", json!({"node": "pve1"}));
        assert_eq!(pools["data"][0]["name"], "rpool");
        assert_eq!(
            pools["data"][1],
            json!({"name": "tank", "health": "DEGRADED", "size": 4000, "alloc": 3000, "free": 1000, "frag": 12, "dedup": 1.0})
        );
        assert_eq!(
            c.ok("get_zfs_pool", json!({"node": "pve1", "name": "tank"})),
            json!({ "data": detail })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/disks/zfs",
            "GET /nodes/pve1/disks/zfs/tank"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Ceph.

#[test]
fn get_ceph_status_summarises_health_checks() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/ceph/status",
        json!({
            "fsid": "0f1e-aa",
            "health": {"status": "HEALTH_ERR", "checks": {
                "OSD_DOWN": {"severity": "HEALTH_WARN", "summary": {"message": "1 osds down", "count": 1}, "muted": false},
                "MON_CLOCK_SKEW": {"severity": "HEALTH_WARN", "summary": {"message": "clock skew detected on mon.pve2"}, "muted": true},
                "PG_DAMAGED": {"severity": "HEALTH_ERR", "summary": {"message": "Possible data damage: 1 pg inconsistent"}},
            }},
            "osdmap": {"num_osds": 3, "num_up_osds": 2, "num_in_osds": 3, "epoch": 42},
            "pgmap": {"num_pgs": 128, "pgs_by_state": [{"state_name": "active+clean", "count": 128}],
                      "bytes_used": 100, "bytes_total": 1000, "bytes_avail": 900},
            "monmap": {"num_mons": 3},
            "quorum_names": ["pve1", "pve2"],
            "servicemap": {"services": {}},
        }),
    );
    read_only(&fake, |c| {
        assert_eq!(
            c.ok("get_ceph_status", json!({})),
            json!({"data": {
                "configured": true,
                "health": "HEALTH_ERR",
                "checks": [
                    {"name": "PG_DAMAGED", "severity": "HEALTH_ERR", "message": "Possible data damage: 1 pg inconsistent"},
                    {"name": "MON_CLOCK_SKEW", "severity": "HEALTH_WARN", "message": "clock skew detected on mon.pve2", "muted": true},
                    {"name": "OSD_DOWN", "severity": "HEALTH_WARN", "message": "1 osds down"},
                ],
                "fsid": "0f1e-aa",
                "osds": {"total": 3, "up": 2, "in": 3},
                "pgs": {"total": 128, "by_state": [{"state_name": "active+clean", "count": 128}], "bytes_used": 100, "bytes_total": 1000},
                "monitors": {"total": 3, "in_quorum": 2},
            }})
        );
    });
    assert_eq!(fake.lines(), ["GET /cluster/ceph/status"]);
}

#[test]
fn a_cluster_without_ceph_is_not_configured_not_an_error() {
    for message in [
        "binary not installed: /usr/bin/ceph-mon",
        "pveceph configuration not initialized",
    ] {
        let mut fake = FakePve::new();
        fake.fail("GET", "/cluster/ceph/status", 500, message);
        read_only(&fake, |c| {
            let reason = format!("Ceph is not set up on this cluster ({message})");
            assert_eq!(
                c.ok("get_ceph_status", json!({})),
                json!({"data": {"configured": false, "reason": reason}})
            );
        });
        assert_eq!(fake.lines(), ["GET /cluster/ceph/status"]);
    }
    // Any other failure is an error.
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/cluster/ceph/status",
        403,
        "Permission check failed (/, Sys.Audit|Datastore.Audit)",
    );
    read_only(&fake, |c| {
        assert_eq!(
            c.error("get_ceph_status", json!({})),
            "GET /cluster/ceph/status: Permission check failed (/, Sys.Audit|Datastore.Audit) (the credentials lack the privilege PVE names above; grant it with `pveum acl modify PATH --roles ROLE --users USER` (for a token, --tokens USER!NAME))"
        );
    });
}

#[test]
fn health_tools_are_in_the_default_set() {
    let fake = FakePve::new();
    read_only(&fake, |c| {
        let names = c.tool_names();
        for tool in [
            "list_replication_jobs",
            "list_node_updates",
            "list_node_disks",
            "get_disk_smart",
            "list_zfs_pools",
            "get_zfs_pool",
            "get_ceph_status",
        ] {
            assert!(names.contains(&tool), "{tool} not listed");
        }
    });
    fake.assert_untouched();
}
