//! One happy path per tool, and the ways a call can fail: each test shows the requests PVE
//! received and the result the MCP client read.

use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::support::{
    column, config, error_text, hint, mock_task as task, ok, with_access as with_client, Client,
    FakePve, UPID,
};

fn resources() -> Value {
    json!([
        {"id": "qemu/101", "type": "qemu", "vmid": 101, "name": "db", "node": "pve2", "status": "stopped", "cpu": 0, "maxcpu": 2, "mem": 0, "maxmem": 4294967296u64, "disk": 0, "maxdisk": 34359738368u64, "uptime": 0, "template": 0, "netin": 0, "diskread": 0},
        {"id": "lxc/200", "type": "lxc", "vmid": 200, "name": "dns", "node": "pve1", "status": "running", "cpu": 0.01, "maxcpu": 1, "mem": 52428800, "maxmem": 536870912, "disk": 1073741824, "maxdisk": 8589934592u64, "uptime": 3600, "template": 0, "netout": 12},
        {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running", "cpu": 0.05, "maxcpu": 4, "mem": 2147483648u64, "maxmem": 8589934592u64, "disk": 0, "maxdisk": 68719476736u64, "uptime": 86400, "template": 0, "tags": "prod;web", "netin": 1000},
    ])
}

#[test]
fn list_nodes_sorted_and_trimmed() {
    let mut fake = FakePve::new();
    fake.get("/nodes", json!([
        {"node": "pve2", "status": "online", "cpu": 0.1, "maxcpu": 8, "mem": 1, "maxmem": 2, "disk": 3, "maxdisk": 4, "uptime": 5, "level": "", "id": "node/pve2", "type": "node", "ssl_fingerprint": "AA:BB"},
        {"node": "pve1", "status": "offline", "id": "node/pve1", "type": "node"},
    ]));
    with_client(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok("list_nodes", json!({})),
            &json!({
                "data": [
                    {"node": "pve1", "status": "offline"},
                    {"node": "pve2", "status": "online", "cpu": 0.1, "maxcpu": 8, "mem": 1, "maxmem": 2, "disk": 3, "maxdisk": 4, "uptime": 5, "level": ""},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
    });
    assert_eq!(fake.lines(), ["GET /nodes"]);
}

#[test]
fn get_node_status() {
    let mut fake = FakePve::new();
    let status = json!({"cpu": 0.02, "loadavg": ["0.10", "0.20", "0.30"], "memory": {"total": 100, "used": 50, "free": 50}, "pveversion": "pve-manager/9.1.2/abc", "kversion": "Linux 6.14", "uptime": 1000});
    fake.get("/nodes/pve1/status", status.clone());
    with_client(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok("get_node_status", json!({"node": "pve1"})),
            &json!({"data": status})
        );
        let r = c.call("get_node_status", json!({}));
        assert!(error_text(&r).starts_with("invalid arguments: missing required argument 'node'"));
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/status"]);
}

#[test]
fn list_vms_cluster_wide_is_one_request() {
    let fake = FakePve::with_resources(resources());
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_vms", json!({}));
        assert_eq!(
            ok(&r),
            &json!({
                "data": [
                    {"vmid": 100, "name": "web", "node": "pve1", "status": "running", "cpu": 0.05, "maxcpu": 4, "mem": 2147483648u64, "maxmem": 8589934592u64, "disk": 0, "maxdisk": 68719476736u64, "uptime": 86400, "template": 0, "tags": "prod;web"},
                    {"vmid": 101, "name": "db", "node": "pve2", "status": "stopped", "cpu": 0, "maxcpu": 2, "mem": 0, "maxmem": 4294967296u64, "disk": 0, "maxdisk": 34359738368u64, "uptime": 0, "template": 0},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        let r = c.call("list_vms", json!({"limit": 1, "offset": 1}));
        let page = ok(&r);
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        assert_eq!(page["data"][0]["vmid"], 101);
        assert_eq!(page["total"], 2);
        let r = c.call("list_vms", json!({"limit": 1}));
        assert_eq!(ok(&r)["hint"], "1 more; call again with offset 1");
    });
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"; 3]);
}

#[test]
fn list_vms_on_one_node() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu", json!([
        {"vmid": 102, "name": "b", "status": "stopped", "cpus": 1, "maxmem": 1024, "serial": 0},
        {"vmid": "100", "name": "a", "status": "running", "cpus": 2, "maxmem": 2048, "pid": 123},
    ]));
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_vms", json!({"node": "pve1"}));
        assert_eq!(
            ok(&r)["data"],
            json!([
                {"vmid": 100, "name": "a", "status": "running", "cpus": 2, "maxmem": 2048, "node": "pve1"},
                {"vmid": 102, "name": "b", "status": "stopped", "cpus": 1, "maxmem": 1024, "node": "pve1"},
            ])
        );
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/qemu"]);
}

#[test]
fn list_containers() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/nodes/pve1/lxc",
        json!([{"vmid": "200", "name": "dns", "status": "running", "type": "lxc"}]),
    );
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_containers", json!({}));
        let data = &ok(&r)["data"];
        assert_eq!(data.as_array().unwrap().len(), 1);
        assert_eq!(data[0]["vmid"], 200);
        assert_eq!(data[0]["name"], "dns");
        assert!(data[0].get("netout").is_none(), "trimmed to useful fields");
        // PVE's container list says "200": the VMID is a number here as everywhere.
        let r = c.call("list_containers", json!({"node": "pve1"}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"vmid": 200, "name": "dns", "status": "running", "node": "pve1"}])
        );
    });
    assert_eq!(
        fake.lines(),
        ["GET /cluster/resources?type=vm", "GET /nodes/pve1/lxc"]
    );
}

#[test]
fn get_vm_config_finds_the_node() {
    let mut fake = FakePve::new();
    let cfg = json!({"name": "web", "cores": 4, "memory": "8192", "scsi0": "local-lvm:vm-100-disk-0,size=64G", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "digest": "0123abcd"});
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve1/qemu/100/config", cfg.clone());
    with_client(&fake, "read-only", |c| {
        assert_eq!(
            ok(&c.call("get_vm_config", json!({"vmid": 100})))["data"],
            cfg
        );
        assert_eq!(
            ok(&c.call("get_vm_config", json!({"vmid": 100, "node": "pve1"})))["data"],
            cfg
        );
        assert_eq!(
            error_text(&c.call("get_vm_config", json!({"vmid": 200}))),
            "VMID 200 is a container (lxc), not a VM; use the *_container tools"
        );
        assert_eq!(
            error_text(&c.call("get_vm_config", json!({"vmid": 999}))),
            "GET /cluster/resources: no guest with VMID 999 in the cluster (or the credentials lack VM.Audit on /vms/999); list_vms shows the VMs"
        );
    });
    // VMID 200 was seen in the first answer (no request); 999 was not (asked again).
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/config",
            "GET /cluster/resources?type=vm",
        ]
    );
}

#[test]
fn get_vm_status_and_container_status() {
    let mut fake = FakePve::new();
    let vm = json!({"vmid": 100, "name": "web", "status": "running", "qmpstatus": "running", "cpu": 0.05, "mem": 1, "maxmem": 2, "uptime": 10, "ha": {"managed": 0}});
    let ct = json!({"vmid": 200, "name": "dns", "status": "running", "type": "lxc", "swap": 0, "maxswap": 512});
    fake.get("/nodes/pve2/qemu/100/status/current", vm.clone());
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve1/lxc/200/status/current", ct.clone());
    with_client(&fake, "read-only", |c| {
        assert_eq!(
            ok(&c.call("get_vm_status", json!({"vmid": 100, "node": "pve2"})))["data"],
            vm
        );
        assert_eq!(
            ok(&c.call("get_container_status", json!({"vmid": "200"})))["data"],
            ct
        );
        assert_eq!(
            error_text(&c.call("get_container_status", json!({"vmid": 100}))),
            "VMID 100 is a VM (qemu), not a container; use the *_vm tools"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve2/qemu/100/status/current",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/lxc/200/status/current",
        ]
    );
}

#[test]
fn start_vm_waits_for_the_task() {
    let mut fake = FakePve::with_resources(resources());
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    task(&mut fake, UPID, "OK");
    with_client(&fake, "operate", |c| {
        assert_eq!(
            &c.ok("start_vm", json!({"vmid": 100})),
            &json!({"data": UPID, "task": {"upid": UPID, "status": "stopped", "exitstatus": "OK", "duration_s": 3}})
        );
    });
    let status = format!("GET /nodes/pve1/tasks/{UPID}/status");
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "POST /nodes/pve1/qemu/100/status/start",
            &status,
            &status
        ]
    );
    assert_eq!(
        fake.requests()[1]
            .headers
            .get("authorization")
            .map(String::as_str),
        Some(format!("PVEAPIToken=root@pam!mcp={}", crate::support::TOKEN).as_str())
    );
}

#[test]
fn power_tools_send_the_right_calls() {
    let cases: &[(&str, Value, &str)] = &[
        ("stop_vm", json!({"vmid": 100, "node": "pve1"}), "POST /nodes/pve1/qemu/100/status/stop"),
        ("shutdown_vm", json!({"vmid": 100, "node": "pve1", "timeout": 60, "force_stop": true}), "POST /nodes/pve1/qemu/100/status/shutdown timeout=60&forceStop=1"),
        ("reboot_vm", json!({"vmid": 100, "node": "pve1"}), "POST /nodes/pve1/qemu/100/status/reboot"),
        ("start_container", json!({"vmid": 200, "node": "pve1"}), "POST /nodes/pve1/lxc/200/status/start"),
        ("stop_container", json!({"vmid": 200, "node": "pve1"}), "POST /nodes/pve1/lxc/200/status/stop"),
        ("create_vm_snapshot", json!({"vmid": 100, "node": "pve1", "snapname": "before-upgrade", "description": "pre 9.1 & co", "vmstate": true}), "POST /nodes/pve1/qemu/100/snapshot snapname=before-upgrade&description=pre%209.1%20%26%20co&vmstate=1"),
    ];
    for (tool, args, expected) in cases {
        let mut fake = FakePve::new();
        let (method, rest) = expected.split_once(' ').unwrap();
        let path = rest.split(' ').next().unwrap();
        fake.ok(method, path, json!(UPID));
        task(&mut fake, UPID, "OK");
        with_client(&fake, "operate", |c| {
            let r = c.call(tool, args.clone());
            assert_eq!(ok(&r)["task"]["exitstatus"], "OK", "{tool}");
        });
        assert_eq!(fake.writes(), [expected.to_string()], "{tool}");
        assert_eq!(
            fake.requests()[0]
                .headers
                .get("content-type")
                .map(String::as_str),
            Some("application/x-www-form-urlencoded")
        );
    }
}

#[test]
fn list_vm_snapshots_without_current() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/snapshot", json!([
        {"name": "current", "digest": "x", "running": 1, "description": "You are here!", "parent": "second"},
        {"name": "second", "snaptime": 1700000200, "description": "", "parent": "first", "vmstate": 0},
        {"name": "first", "snaptime": 1700000100, "description": "clean install"},
    ]));
    with_client(&fake, "read-only", |c| {
        assert_eq!(
            &c.ok("list_vm_snapshots", json!({"vmid": 100, "node": "pve1"})),
            &json!({
                "data": [
                    {"name": "first", "snaptime": 1700000100, "description": "clean install"},
                    {"name": "second", "snaptime": 1700000200, "description": "", "parent": "first", "vmstate": 0},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
    });
}

#[test]
fn delete_vm_snapshot_checks_it_exists() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/qemu/100/snapshot",
        json!([{"name": "first", "snaptime": 1700000100}, {"name": "current"}]),
    );
    fake.config("pve1/qemu/100", json!({"name": "web", "protection": 0}));
    fake.ok("DELETE", "/nodes/pve1/qemu/100/snapshot/first", json!(UPID));
    task(&mut fake, UPID, "OK");
    with_client(&fake, "full", |c| {
        let r = c.call(
            "delete_vm_snapshot",
            json!({"vmid": 100, "node": "pve1", "snapname": "frist", "confirm_name": "web"}),
        );
        assert_eq!(
            error_text(&r),
            "GET /nodes/pve1/qemu/100/snapshot: VM 100 has no snapshot named 'frist'; list_vm_snapshots shows its snapshots"
        );
        let r = c.call(
            "delete_vm_snapshot",
            json!({"vmid": 100, "node": "pve1", "snapname": "first", "confirm_name": "web"}),
        );
        assert_eq!(ok(&r)["task"]["status"], "stopped");
    });
    assert_eq!(
        fake.writes(),
        ["DELETE /nodes/pve1/qemu/100/snapshot/first"]
    );
}

#[test]
fn storage_tools() {
    let mut fake = FakePve::new();
    fake.get("/cluster/resources", json!([
        {"id": "storage/pve2/local", "type": "storage", "storage": "local", "node": "pve2", "plugintype": "dir", "content": "iso,vztmpl,backup", "shared": 0, "status": "available", "disk": 10, "maxdisk": 100},
        {"id": "storage/pve1/local-lvm", "type": "storage", "storage": "local-lvm", "node": "pve1", "plugintype": "lvmthin", "content": "images,rootdir", "shared": 0, "status": "available", "disk": 5, "maxdisk": 50},
        {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "plugintype": "dir", "content": "iso", "shared": 0, "status": "available", "disk": 1, "maxdisk": 100},
    ]));
    fake.get("/nodes/pve1/storage", json!([
        {"storage": "local", "type": "dir", "content": "iso", "active": 1, "enabled": 1, "shared": 0, "total": 100, "used": 1, "avail": 99, "used_fraction": 0.01, "select_existing": 1},
    ]));
    let status = json!({"type": "dir", "content": "iso", "active": 1, "enabled": 1, "shared": 0, "total": 100, "used": 1, "avail": 99});
    fake.get("/nodes/pve1/storage/local/status", status.clone());
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_storage", json!({}));
        assert_eq!(
            ok(&r)["data"],
            json!([
                {"storage": "local", "node": "pve1", "type": "dir", "content": "iso", "shared": 0, "status": "available", "total": 100, "used": 1, "avail": 99},
                {"storage": "local", "node": "pve2", "type": "dir", "content": "iso,vztmpl,backup", "shared": 0, "status": "available", "total": 100, "used": 10, "avail": 90},
                {"storage": "local-lvm", "node": "pve1", "type": "lvmthin", "content": "images,rootdir", "shared": 0, "status": "available", "total": 50, "used": 5, "avail": 45},
            ])
        );
        let r = c.call("list_storage", json!({"node": "pve1"}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"storage": "local", "type": "dir", "content": "iso", "active": 1, "enabled": 1, "shared": 0, "total": 100, "used": 1, "avail": 99, "used_fraction": 0.01, "node": "pve1"}])
        );
        assert_eq!(
            ok(&c.call(
                "get_storage_status",
                json!({"storage": "local", "node": "pve1"})
            ))["data"],
            status
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=storage",
            "GET /nodes/pve1/storage",
            "GET /nodes/pve1/storage/local/status"
        ]
    );
}

#[test]
fn task_tools() {
    let mut fake = FakePve::new();
    let t = |upid: &str, start: u64, id: &str, status: &str| json!({"upid": upid, "node": "pve1", "type": "qmstart", "id": id, "user": "root@pam", "starttime": start, "endtime": start + 2, "status": status, "pid": 1, "pstart": 2, "saved": "1"});
    fake.get(
        "/cluster/tasks",
        json!([
            t(
                "UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam:",
                100,
                "100",
                "OK"
            ),
            t(
                "UPID:pve1:00000002:00000002:00000002:qmstart:101:root@pam:",
                300,
                "101",
                "VM 101 already running"
            ),
            t(
                "UPID:pve1:00000003:00000003:00000003:qmstart:100:root@pam:",
                200,
                "100",
                "WARNINGS: 1"
            ),
        ]),
    );
    fake.answer("GET", "/nodes/pve1/tasks", 200, json!({"success": 1, "total": 7, "data": [t("UPID:pve1:00000004:00000004:00000004:qmstart:100:root@pam:", 50, "100", "OK")]}), None);
    let status = json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "type": "qmstart", "id": "100", "node": "pve1", "user": "root@pam!mcp", "starttime": 1732288512});
    fake.get(&format!("/nodes/pve1/tasks/{UPID}/status"), status.clone());
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_tasks", json!({}));
        let starts = column(&ok(&r)["data"], "starttime");
        assert_eq!(starts, [300, 200, 100], "newest first");
        assert!(ok(&r)["data"][0].get("saved").is_none());
        let r = c.call("list_tasks", json!({"vmid": 100}));
        assert_eq!(ok(&r)["total"], 2);
        let r = c.call("list_tasks", json!({"errors": true}));
        assert_eq!(ok(&r)["data"][0]["status"], "VM 101 already running");
        assert_eq!(ok(&r)["total"], 1);
        let r = c.call(
            "list_tasks",
            json!({"node": "pve1", "vmid": 100, "errors": true, "limit": 5, "offset": 10}),
        );
        assert_eq!(ok(&r)["total"], 7);
        assert_eq!(ok(&r)["offset"], 10);
        assert_eq!(
            ok(&c.call("get_task_status", json!({"upid": UPID})))["data"],
            status
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/tasks".to_string(),
            "GET /cluster/tasks".to_string(),
            "GET /cluster/tasks".to_string(),
            "GET /nodes/pve1/tasks?start=10&limit=5&source=all&vmid=100&errors=1".to_string(),
            format!("GET /nodes/pve1/tasks/{UPID}/status"),
        ]
    );
}

#[test]
fn get_cluster_status_cluster_first() {
    let mut fake = FakePve::new();
    fake.get("/cluster/status", json!([
        {"type": "node", "name": "pve2", "online": 1, "ip": "10.0.0.2", "local": 0, "nodeid": 2},
        {"type": "cluster", "name": "lab", "quorate": 1, "nodes": 2, "version": 4},
        {"type": "node", "name": "pve1", "online": 1, "ip": "10.0.0.1", "local": 1, "nodeid": 1},
    ]));
    with_client(&fake, "read-only", |c| {
        let r = c.call("get_cluster_status", json!({}));
        let names = column(&ok(&r)["data"], "name");
        assert_eq!(names, ["lab", "pve1", "pve2"]);
    });
}

#[test]
fn pve_errors_read_as_what_to_do() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/999/config",
        500,
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    );
    fake.fail(
        "POST",
        "/nodes/pve1/qemu/100/status/start",
        403,
        "Permission check failed (/vms/100, VM.PowerMgmt)",
    );
    fake.fail(
        "POST",
        "/nodes/pve1/qemu/101/status/start",
        500,
        "VM is locked (backup)",
    );
    fake.answer("GET", "/nodes/pve3/qemu", 595, Value::Null, None);
    fake.answer("POST", "/nodes/pve1/qemu/100/snapshot", 200, json!({"success": 0, "status": 400, "message": "Parameter verification failed.\n", "errors": {"snapname": "invalid format - invalid configuration ID 'x'\n"}}), None);
    with_client(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("get_vm_config", json!({"vmid": 999, "node": "pve1"}))),
            "GET /nodes/pve1/qemu/999/config: Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
        );
        let text =
            error_text(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"}))).to_string();
        assert!(text.starts_with("POST /nodes/pve1/qemu/100/status/start: Permission check failed (/vms/100, VM.PowerMgmt) ("), "{text}");
        assert!(text.contains("pveum acl modify"), "{text}");
        assert_eq!(
            error_text(&c.call("start_vm", json!({"vmid": 101, "node": "pve1"}))),
            "POST /nodes/pve1/qemu/101/status/start: VM is locked (backup)"
        );
        let text = error_text(&c.call("list_vms", json!({"node": "pve3"}))).to_string();
        assert!(text.starts_with("GET /nodes/pve3/qemu: node unreachable (595) (the PVE node that owns this resource is unreachable"), "{text}");
        assert_eq!(
            error_text(&c.call("create_vm_snapshot", json!({"vmid": 100, "node": "pve1", "snapname": "xy"}))),
            "POST /nodes/pve1/qemu/100/snapshot: Parameter verification failed.; snapname: invalid format - invalid configuration ID 'x'"
        );
        // The server keeps answering.
        c.assert_alive();
    });
}

#[test]
fn failed_task_is_an_error_with_the_log() {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    task(&mut fake, UPID, "VM 100 already running");
    fake.task_log(&[
        "VM 100 already running",
        "TASK ERROR: VM 100 already running",
    ]);
    with_client(&fake, "operate", |c| {
        assert_eq!(c.error("start_vm", json!({"vmid": 100, "node": "pve1"})), format!("POST /nodes/pve1/qemu/100/status/start: task failed: VM 100 already running\ntask: {UPID}\nlast lines of the task log:\n  VM 100 already running\n  TASK ERROR: VM 100 already running"));
    });
    assert!(fake
        .lines()
        .last()
        .unwrap()
        .ends_with("/log?start=0&limit=50"));
}

#[test]
fn wait_seconds_zero_and_dry_run() {
    let mut fake = FakePve::with_resources(resources());
    fake.status("pve1/qemu/100", json!({"status": "running", "vmid": 100}));
    fake.post("/nodes/pve1/qemu/100/status/shutdown", json!(UPID));
    with_client(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "shutdown_vm",
                json!({"vmid": 100, "timeout": 30, "dry_run": true})
            ),
            &json!({
                "data": null,
                "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/qemu/100/status/shutdown", "params": {"timeout": "30"}},
                "target": {"status": "running", "vmid": 100},
            })
        );
        fake.assert_no_writes();
        let r = c.call(
            "shutdown_vm",
            json!({"vmid": 100, "node": "pve1", "wait_seconds": 0}),
        );
        assert_eq!(
            ok(&r)["task"],
            json!({"upid": UPID, "status": "running", "exitstatus": null, "duration_s": 0})
        );
    });
    assert_eq!(fake.writes(), ["POST /nodes/pve1/qemu/100/status/shutdown"]);
    assert!(
        !fake.lines().iter().any(|l| l.contains("/tasks/")),
        "wait_seconds 0 does not poll"
    );
}

#[test]
fn bad_arguments_and_access_send_nothing() {
    let fake = FakePve::new();
    with_client(&fake, "read-only", |c| {
        let cases = [
            ("get_vm_status", json!({"vmid": "abc"}), "invalid arguments: 'vmid' must be a whole number, got \"abc\""),
            ("get_vm_status", json!({"vmid": 5}), "invalid arguments: 'vmid' must be between 100 and 999999999, got 5"),
            ("get_vm_status", json!({"vmid": 100, "node": "pve1/../x"}), "invalid arguments: 'node' must be a node name"),
            ("list_vms", json!({"limit": -1}), "invalid arguments: 'limit' must be between 1 and 1000, got -1"),
            ("get_task_status", json!({"upid": "nope"}), "invalid arguments: 'upid' 'nope' is not a PVE task id"),
            ("get_cluster_status", json!({"verbose": true}), "invalid arguments: unknown argument 'verbose': get_cluster_status takes no arguments"),
            ("start_vm", json!({"vmid": 100}), "start_vm changes the cluster and needs access level operate, but this server runs with PROXMOX_MCP_ACCESS=read-only; to allow it, restart the server with PROXMOX_MCP_ACCESS=operate (or --access operate)"),
            ("start_vm", json!({"vmid": 100, "dry_run": true}), "start_vm changes the cluster and needs access level operate"),
        ];
        for (tool, args, expected) in cases {
            let text = error_text(&c.call(tool, args)).to_string();
            assert!(text.starts_with(expected), "{tool}: {text}");
        }
        // Requests that cannot be routed are JSON-RPC errors.
        let r = c.request(
            "tools/call",
            json!({"name": "delete_everything", "arguments": {}}),
        );
        assert_eq!(
            r["error"],
            json!({"code": -32602, "message": "unknown tool: delete_everything"})
        );
        let r = c
            .send("{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tools/call\",\"params\":{\"name\":")
            .unwrap();
        assert_eq!(r["error"]["code"], -32700);
        assert_eq!(r["id"], Value::Null);
        assert_eq!(
            c.send(
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#
            ),
            None
        );
    });
    fake.assert_untouched();
}

#[test]
fn write_tools_are_listed_by_access_level() {
    let fake = FakePve::new();
    use proxmox_mcp_server::policy::Access;
    for (access, level, has_start, has_delete) in [
        ("read-only", Access::ReadOnly, false, false),
        ("operate", Access::Operate, true, false),
        ("full", Access::Full, true, true),
    ] {
        // Every toolset loaded (with_client): every tool the level allows.
        let all = proxmox_mcp_server::policy::Policy {
            allow: vec!["all".into()],
            ..proxmox_mcp_server::policy::Policy::with_access(level)
        };
        let count = proxmox_mcp_server::tools::active(&all).count();
        with_client(&fake, access, |c| {
            let names = c.tool_names();
            assert_eq!(names.len(), count, "{access}");
            assert_eq!(names.contains(&"start_vm"), has_start);
            assert_eq!(names.contains(&"delete_vm_snapshot"), has_delete);
            for t in &c.tools {
                assert_eq!(t["inputSchema"]["additionalProperties"], false);
                assert_eq!(t["annotations"]["openWorldHint"], false);
                let read = hint(t, "readOnlyHint");
                let name = t["name"].as_str().unwrap();
                let verb = name.split('_').next().unwrap();
                assert_eq!(read, ["list", "get", "wait"].contains(&verb), "{name}");
            }
        });
    }
    with_client(&fake, "full", |c| {
        let stop = c.tools.iter().find(|t| t["name"] == "stop_vm").unwrap();
        assert!(hint(stop, "destructiveHint"));
        let start = c.tools.iter().find(|t| t["name"] == "start_vm").unwrap();
        assert!(!hint(start, "destructiveHint"));
        assert!(start["description"]
            .as_str()
            .unwrap()
            .contains("Needs VM.PowerMgmt on /vms/{vmid}."));
    });
}

#[test]
fn big_lists_are_cut_to_64_kib() {
    let mut fake = FakePve::new();
    let many: Vec<Value> = (0..3000).map(|i| json!({"type": "qemu", "vmid": 1000 + i, "node": "pve1", "name": format!("a-rather-long-guest-name-number-{i:05}"), "status": "running", "tags": "alpha;beta;gamma"})).collect();
    fake.get("/cluster/resources", Value::Array(many));
    with_client(&fake, "read-only", |c| {
        let r = c.call("list_vms", json!({"limit": 1000}));
        let out = ok(&r);
        assert_eq!(out["truncated"], true);
        assert_eq!(out["total"], 3000);
        let kept = out["data"].as_array().unwrap().len();
        assert!(kept > 100 && kept < 1000, "{kept}");
        assert_eq!(out["limit"], kept);
        assert!(out["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("call again with offset {kept}")));
        assert_eq!(out["data"][0]["vmid"], 1000);
    });
}

/// The sizes of `tools/list` are figures of `bench/run`; here only the tool count per area.
#[test]
fn every_area_fits_a_host_with_a_40_tool_limit() {
    let fake = FakePve::new();
    // A host with a 40-tool limit can load the read-only tools of any area group.
    for group in proxmox_mcp_server::tools::AREAS {
        let config = config(&fake, &[("PROXMOX_MCP_TOOLS", group)]);
        let pve = Pve::new(&config).unwrap();
        let c = Client::new(&pve, &config);
        assert!(c.tools.len() <= 40, "{group}: {}", c.tools.len());
    }
}

#[test]
fn a_guests_node_is_remembered_and_found_again_after_it_moved() {
    let mut fake = FakePve::new();
    let on = |node: &str| json!([{"type": "qemu", "vmid": 100, "node": node, "name": "web"}]);
    fake.ok_times("GET", "/cluster/resources", on("pve1"), 1);
    fake.get("/cluster/resources", on("pve2"));
    fake.ok_times(
        "GET",
        "/nodes/pve1/qemu/100/status/current",
        json!({"status": "running"}),
        1,
    );
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/100/status/current",
        500,
        "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist",
    );
    fake.status("pve2/qemu/100", json!({"status": "running"}));
    with_client(&fake, "read-only", |c| {
        ok(&c.call("get_vm_status", json!({"vmid": 100})));
        // Migrated meanwhile: the remembered node answers that it does not have the VM...
        error_text(&c.call("get_vm_status", json!({"vmid": 100})));
        // ...so the next call looks the guest up again.
        ok(&c.call("get_vm_status", json!({"vmid": 100})));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/status/current",
            "GET /nodes/pve1/qemu/100/status/current",
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/qemu/100/status/current",
        ]
    );
}
