//! The monitoring and guest-agent tools against the mocked PVE: metrics summaries, cluster
//! resources, version, next VMID, cluster log, agent info, container interfaces, and commands in
//! guests (exec_in_vm; exec_in_container's refusal off a PVE node).

use serde_json::{json, Value};

use crate::support::{
    assert_starts, error_text, guest, hint, ok, session as with, Client, FakePve,
};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({"tags": "prod;web", "pool": "prod", "netin": 5})),
        guest("lxc/200", "dns", "pve2", "running", json!({"tags": "infra"})),
        guest("qemu/1000", "big", "pve2", "stopped", json!({"tags": "Prod", "pool": "dev"})),
        guest("qemu/101", "db", "pve1", "stopped", json!({"pool": "dev"})),
    ])
}

/// At access read-only, every toolset loaded (most of these tools are outside the default set).
fn read_only(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    with(fake, &[("PROXMOX_MCP_TOOLS", "all")], f)
}

/// Where exec tools are allowed: access full and PROXMOX_MCP_ALLOW_EXEC, the exec toolset loaded.
fn exec_allowed(fake: &FakePve, f: impl FnOnce(&mut Client)) {
    with(
        fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_ALLOW_EXEC", "true"),
            ("PROXMOX_MCP_TOOLS", "default,exec"),
        ],
        f,
    )
}

/// The `command` argument: an argv array.
fn argv(items: &[&str]) -> Value {
    json!(items)
}

fn names(c: &Client) -> Vec<String> {
    c.tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Metrics.

#[test]
fn get_vm_metrics_summarises_rrddata() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve1/qemu/100/rrddata",
        json!([
            {"time": 1700000120, "cpu": 0.25, "maxcpu": 4, "mem": 2048, "maxmem": 8192, "netin": 10.5},
            {"time": 1700000000},
            {"time": 1700000060, "cpu": 0.0512345, "maxcpu": 4, "mem": "1024", "maxmem": 8192},
            {"time": 1700000180, "cpu": 0.1, "maxcpu": 4, "mem": 3072, "maxmem": 8192, "netin": 20.5},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("get_vm_metrics", json!({"vmid": 100, "points": 2})),
            &json!({"data": {
                "timeframe": "hour", "cf": "AVERAGE", "samples": 4,
                "start": 1700000000, "end": 1700000180,
                "series": {
                    "cpu": {"min": 0.05123, "mean": 0.1337, "max": 0.25, "last": 0.1},
                    "maxcpu": {"min": 4, "mean": 4, "max": 4, "last": 4},
                    "maxmem": {"min": 8192, "mean": 8192, "max": 8192, "last": 8192},
                    "mem": {"min": 1024, "mean": 2048, "max": 3072, "last": 3072},
                    "netin": {"min": 10.5, "mean": 15.5, "max": 20.5, "last": 20.5},
                },
                "points": [
                    {"time": 1700000060, "cpu": 0.05123, "maxcpu": 4, "mem": 1024, "maxmem": 8192},
                    {"time": 1700000180, "cpu": 0.175, "maxcpu": 4, "mem": 2560, "maxmem": 8192, "netin": 15.5},
                ],
            }})
        );
        // Bad choices are refused before anything is sent.
        assert_eq!(
            error_text(&c.call("get_vm_metrics", json!({"vmid": 100, "timeframe": "decade"}))),
            "invalid arguments: 'timeframe' must be one of hour, day, week, month, year, got 'decade'"
        );
        assert_eq!(
            error_text(&c.call("get_vm_metrics", json!({"vmid": 100, "cf": "MIN"}))),
            "invalid arguments: 'cf' must be one of AVERAGE, MAX, got 'MIN'"
        );
        assert!(
            error_text(&c.call("get_vm_metrics", json!({"vmid": 100, "points": 201})))
                .starts_with("invalid arguments: 'points' must be between 0 and 200")
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/rrddata?timeframe=hour&cf=AVERAGE",
        ]
    );
}

#[test]
fn get_container_metrics_with_timeframe_and_max() {
    let mut fake = FakePve::with_resources(resources());
    fake.get(
        "/nodes/pve2/lxc/200/rrddata",
        json!([
            {"time": 1700000000, "cpu": 0.5, "diskwrite": 100},
            {"time": 1700001800, "cpu": 0.7, "diskwrite": 300},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok(
                "get_container_metrics",
                json!({"vmid": 200, "node": "pve2", "timeframe": "Day", "cf": "max", "points": 0})
            ),
            &json!({"data": {
                "timeframe": "day", "cf": "MAX", "samples": 2,
                "start": 1700000000, "end": 1700001800,
                "series": {
                    "cpu": {"min": 0.5, "mean": 0.6, "max": 0.7, "last": 0.7},
                    "diskwrite": {"min": 100, "mean": 200, "max": 300, "last": 300},
                },
                "points": [],
            }})
        );
        // A VMID of the other kind is named as such.
        crate::support::assert_containers_only(c, "get_container_metrics");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve2/lxc/200/rrddata?timeframe=day&cf=MAX",
            "GET /cluster/resources?type=vm",
            "GET /cluster/resources?type=vm",
        ]
    );
}

#[test]
fn get_node_metrics_takes_decade() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/rrddata",
        json!([
            {"time": 1500000000, "loadavg": 0.4, "memused": 1000, "memtotal": 4000},
            {"time": 1600000000, "loadavg": 1.6, "memused": 3000, "memtotal": 4000},
            {"time": 1700000000, "loadavg": 1.0},
        ]),
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok(
                "get_node_metrics",
                json!({"node": "pve1", "timeframe": "decade"})
            ),
            &json!({"data": {
                "timeframe": "decade", "cf": "AVERAGE", "samples": 3,
                "start": 1500000000, "end": 1700000000,
                "series": {
                    "loadavg": {"min": 0.4, "mean": 1, "max": 1.6, "last": 1},
                    "memtotal": {"min": 4000, "mean": 4000, "max": 4000, "last": 4000},
                    "memused": {"min": 1000, "mean": 2000, "max": 3000, "last": 3000},
                },
                "points": [
                    {"time": 1500000000, "loadavg": 0.4, "memused": 1000, "memtotal": 4000},
                    {"time": 1600000000, "loadavg": 1.6, "memused": 3000, "memtotal": 4000},
                    {"time": 1700000000, "loadavg": 1},
                ],
            }})
        );
        assert!(error_text(&c.call("get_node_metrics", json!({})))
            .starts_with("invalid arguments: missing required argument 'node'"));
    });
    assert_eq!(
        fake.lines(),
        ["GET /nodes/pve1/rrddata?timeframe=decade&cf=AVERAGE"]
    );
}

#[test]
fn get_storage_metrics_and_pve_errors() {
    let mut fake = FakePve::new();
    fake.get(
        "/nodes/pve1/storage/local-lvm/rrddata",
        json!([{"time": 1700000000, "total": 1000, "used": 250}]),
    );
    fake.fail(
        "GET",
        "/nodes/pve2/storage/local/rrddata",
        500,
        "RRD error: opening '/var/lib/rrdcached/db/pve2-storage/pve2/local': No such file or directory",
    );
    read_only(&fake, |c| {
        let r = c.call(
            "get_storage_metrics",
            json!({"storage": "local-lvm", "node": "pve1", "timeframe": "week"}),
        );
        assert_eq!(
            ok(&r)["data"],
            json!({
                "timeframe": "week", "cf": "AVERAGE", "samples": 1,
                "start": 1700000000, "end": 1700000000,
                "series": {
                    "total": {"min": 1000, "mean": 1000, "max": 1000, "last": 1000},
                    "used": {"min": 250, "mean": 250, "max": 250, "last": 250},
                },
                "points": [{"time": 1700000000, "total": 1000, "used": 250}],
            })
        );
        assert_eq!(
            error_text(&c.call("get_storage_metrics", json!({"storage": "local", "node": "pve2"}))),
            "GET /nodes/pve2/storage/local/rrddata: RRD error: opening '/var/lib/rrdcached/db/pve2-storage/pve2/local': No such file or directory"
        );
        // Storage RRDs have no decade.
        assert!(error_text(&c.call(
            "get_storage_metrics",
            json!({"storage": "local", "node": "pve2", "timeframe": "decade"})
        ))
        .starts_with("invalid arguments: 'timeframe' must be one of hour, day, week, month, year"));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/storage/local-lvm/rrddata?timeframe=week&cf=AVERAGE",
            "GET /nodes/pve2/storage/local/rrddata?timeframe=hour&cf=AVERAGE",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Cluster.

#[test]
fn get_cluster_resources_filters_sorts_and_pages() {
    let mut fake = FakePve::new();
    let mut all = resources().as_array().unwrap().clone();
    all.extend([
        json!({"id": "node/pve2", "type": "node", "node": "pve2", "status": "online", "cpu": 0.1, "level": "", "cgroup-mode": 2}),
        json!({"id": "node/pve1", "type": "node", "node": "pve1", "status": "online"}),
        json!({"id": "storage/pve2/local", "type": "storage", "node": "pve2", "storage": "local", "status": "available", "plugintype": "dir", "shared": 0}),
        json!({"id": "storage/pve1/local", "type": "storage", "node": "pve1", "storage": "local", "status": "available", "plugintype": "dir", "shared": 0}),
        json!({"id": "/pool/dev", "type": "pool", "pool": "dev"}),
    ]);
    fake.get("/cluster/resources", Value::Array(all));
    read_only(&fake, |c| {
        let r = c.call("get_cluster_resources", json!({}));
        let ids = crate::support::texts(&ok(&r)["data"], "id");
        assert_eq!(
            ids,
            [
                "lxc/200",
                "node/pve1",
                "node/pve2",
                "/pool/dev",
                "qemu/100",
                "qemu/101",
                "qemu/1000",
                "storage/pve1/local",
                "storage/pve2/local",
            ]
        );
        assert_eq!(ok(&r)["total"], 9);
        // Trimmed: counters and internals are left out.
        assert_eq!(
            ok(&r)["data"][2],
            json!({"id": "node/pve2", "type": "node", "node": "pve2", "status": "online", "cpu": 0.1})
        );
        // Guests of both kinds with a tag (any case, one of several).
        let r = c.call(
            "get_cluster_resources",
            json!({"type": "vm", "tag": "prod"}),
        );
        assert_eq!(
            ok(&r),
            &json!({
                "data": [
                    {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running", "tags": "prod;web", "pool": "prod"},
                    {"id": "qemu/1000", "type": "qemu", "vmid": 1000, "name": "big", "node": "pve2", "status": "stopped", "tags": "Prod", "pool": "dev"},
                ],
                "total": 2, "limit": 100, "offset": 0,
            })
        );
        let r = c.call(
            "get_cluster_resources",
            json!({"type": "storage", "node": "pve2"}),
        );
        assert_eq!(
            ok(&r)["data"],
            json!([{"id": "storage/pve2/local", "type": "storage", "node": "pve2", "storage": "local", "status": "available", "plugintype": "dir", "shared": 0}])
        );
        let r = c.call(
            "get_cluster_resources",
            json!({"pool": "dev", "type": "qemu"}),
        );
        let vmids = crate::support::column(&ok(&r)["data"], "vmid");
        assert_eq!(vmids, [&json!(101), &json!(1000)]);
        let r = c.call(
            "get_cluster_resources",
            json!({"status": "running", "limit": 1, "offset": 1}),
        );
        assert_eq!(ok(&r)["data"][0]["id"], "qemu/100");
        assert_eq!(ok(&r)["total"], 2);
        let r = c.call("get_cluster_resources", json!({"type": "pool"}));
        assert_eq!(
            ok(&r)["data"],
            json!([{"id": "/pool/dev", "type": "pool", "pool": "dev"}])
        );
        assert_eq!(
            error_text(&c.call("get_cluster_resources", json!({"type": "vms"}))),
            "invalid arguments: 'type' must be one of vm, qemu, lxc, node, storage, pool, sdn, network, got 'vms'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources",
            "GET /cluster/resources?type=vm",
            "GET /cluster/resources?type=storage",
            "GET /cluster/resources?type=vm",
            "GET /cluster/resources",
            "GET /cluster/resources",
        ]
    );
}

#[test]
fn get_next_vmid_and_version() {
    let mut fake = FakePve::new();
    // The schema says integer; PVE sends a string.
    fake.get("/cluster/nextid", json!("104"));
    fake.get(
        "/version",
        json!({"version": "9.1.2", "release": "9.1", "repoid": "8c2a5e6b", "console": "html5"}),
    );
    let tools = [("PROXMOX_MCP_TOOLS", "default,provisioning,get_version")];
    with(&fake, &tools, |c| {
        assert_eq!(
            ok(&c.call("get_next_vmid", json!({}))),
            &json!({"data": {"vmid": 104}})
        );
        assert_eq!(
            ok(&c.call("get_version", json!({}))),
            &json!({"data": {"version": "9.1.2", "release": "9.1", "repoid": "8c2a5e6b", "console": "html5"}})
        );
        assert!(error_text(&c.call("get_version", json!({"node": "pve1"})))
            .contains("get_version takes no arguments"));
    });
    assert_eq!(fake.lines(), ["GET /cluster/nextid", "GET /version"]);
}

#[test]
fn get_next_vmid_says_when_none_is_free() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/cluster/nextid",
        500,
        "unable to get any free VMID in range [100, 999999999]",
    );
    with(&fake, &[("PROXMOX_MCP_TOOLS", "provisioning")], |c| {
        assert_eq!(
            error_text(&c.call("get_next_vmid", json!({}))),
            "GET /cluster/nextid: unable to get any free VMID in range [100, 999999999]"
        );
    });
}

#[test]
fn get_cluster_log_newest_first_and_paged() {
    let mut fake = FakePve::new();
    fake.get("/cluster/log",
        json!([
            {"uid": 3, "time": 1700000300, "node": "pve1", "user": "root@pam", "tag": "pvedaemon", "pri": 6, "pid": 100, "msg": "starting task qmstart"},
            {"uid": 1, "time": 1700000100, "node": "pve2", "user": "root@pam", "tag": "pveproxy", "pri": 3, "pid": 200, "msg": "oldest"},
            {"uid": 2, "time": 1700000200, "node": "pve1", "user": "mcp@pve", "tag": "pvedaemon", "pri": 6, "pid": 101, "msg": "middle"},
        ]),
    );
    read_only(&fake, |c| {
        let r = c.call("get_cluster_log", json!({"limit": 2, "offset": 1}));
        assert_eq!(
            ok(&r),
            &json!({
                "data": [
                    {"time": 1700000200, "node": "pve1", "user": "mcp@pve", "tag": "pvedaemon", "pri": 6, "pid": 101, "msg": "middle"},
                    {"time": 1700000100, "node": "pve2", "user": "root@pam", "tag": "pveproxy", "pri": 3, "pid": 200, "msg": "oldest"},
                ],
                "total": 3, "limit": 2, "offset": 1,
                "hint": "only the last 3 entries were read; older ones need a larger max",
            })
        );
        let r = c.call("get_cluster_log", json!({"max": 50}));
        assert_eq!(ok(&r)["data"][0]["msg"], "starting task qmstart");
        assert_eq!(ok(&r)["total"], 3);
        assert!(ok(&r).get("hint").is_none());
        assert!(error_text(&c.call("get_cluster_log", json!({"max": 0})))
            .starts_with("invalid arguments: 'max' must be between 1 and 10000"));
    });
    assert_eq!(
        fake.lines(),
        ["GET /cluster/log?max=3", "GET /cluster/log?max=50"]
    );
}

// ---------------------------------------------------------------------------------------------
// Guest agent.

fn agent_answers(fake: &mut FakePve) {
    fake.get("/nodes/pve1/qemu/100/agent/get-osinfo", json!({"result": {"id": "debian", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)", "version-id": "12", "kernel-release": "6.1.0-18-amd64", "machine": "x86_64"}}));
    fake.get(
        "/nodes/pve1/qemu/100/agent/get-host-name",
        json!({"result": {"host-name": "web01"}}),
    );
    fake.get("/nodes/pve1/qemu/100/agent/network-get-interfaces", json!({"result": [
        {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}], "statistics": {"rx-bytes": 1}},
        {"name": "eth0", "hardware-address": "bc:24:11:aa:bb:cc", "ip-addresses": [
            {"ip-address": "192.168.1.50", "ip-address-type": "ipv4", "prefix": 24},
            {"ip-address": "fe80::be24:11ff:feaa:bbcc", "ip-address-type": "ipv6", "prefix": 64},
        ], "statistics": {"rx-bytes": 2}},
        {"name": "eth1"},
    ]}));
}

#[test]
fn get_vm_agent_info_collects_os_hostname_network_and_filesystems() {
    let mut fake = FakePve::with_resources(resources());
    agent_answers(&mut fake);
    fake.get("/nodes/pve1/qemu/100/agent/get-fsinfo", json!({"result": [
        {"name": "sda1", "mountpoint": "/boot/efi", "type": "vfat", "total-bytes": 535805952u64, "used-bytes": 6084608, "disk": [{"serial": "x"}]},
        {"name": "sda2", "mountpoint": "/", "type": "ext4", "total-bytes": 33501757440u64, "used-bytes": 2401087488u64, "disk": []},
    ]}));
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("get_vm_agent_info", json!({"vmid": 100})),
            &json!({"data": {
                "os": {"id": "debian", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)", "version-id": "12", "kernel-release": "6.1.0-18-amd64", "machine": "x86_64"},
                "hostname": "web01",
                "interfaces": [
                    {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": ["127.0.0.1/8"]},
                    {"name": "eth0", "hardware-address": "bc:24:11:aa:bb:cc", "ip-addresses": ["192.168.1.50/24", "fe80::be24:11ff:feaa:bbcc/64"]},
                    {"name": "eth1", "ip-addresses": []},
                ],
                "filesystems": [
                    {"name": "sda2", "mountpoint": "/", "type": "ext4", "total-bytes": 33501757440u64, "used-bytes": 2401087488u64},
                    {"name": "sda1", "mountpoint": "/boot/efi", "type": "vfat", "total-bytes": 535805952u64, "used-bytes": 6084608},
                ],
            }})
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/agent/get-osinfo",
            "GET /nodes/pve1/qemu/100/agent/get-host-name",
            "GET /nodes/pve1/qemu/100/agent/network-get-interfaces",
            "GET /nodes/pve1/qemu/100/agent/get-fsinfo",
        ]
    );
}

#[test]
fn get_vm_agent_info_reports_a_part_that_fails() {
    let mut fake = FakePve::new();
    agent_answers(&mut fake);
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/100/agent/get-fsinfo",
        500,
        "agent command 'guest-get-fsinfo' failed - got timeout",
    );
    read_only(&fake, |c| {
        let r = c.call("get_vm_agent_info", json!({"vmid": 100, "node": "pve1"}));
        let data = &ok(&r)["data"];
        assert_eq!(data["hostname"], "web01");
        assert!(data.get("filesystems").is_none());
        assert_eq!(
            data["unavailable"],
            json!({"filesystems": "GET /nodes/pve1/qemu/100/agent/get-fsinfo: agent command 'guest-get-fsinfo' failed - got timeout"})
        );
    });
}

#[test]
fn get_vm_agent_info_without_agent_says_how_to_enable_it() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/100/agent/get-osinfo",
        500,
        "No QEMU guest agent configured",
    );
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/101/agent/get-osinfo",
        500,
        "VM 101 not running",
    );
    fake.fail(
        "GET",
        "/nodes/pve1/qemu/102/agent/get-osinfo",
        403,
        "Permission check failed (/vms/102, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted)",
    );
    read_only(&fake, |c| {
        assert_eq!(
            error_text(&c.call("get_vm_agent_info", json!({"vmid": 100, "node": "pve1"}))),
            "GET /nodes/pve1/qemu/100/agent/get-osinfo: No QEMU guest agent configured; the QEMU guest agent must be installed and running inside the VM \
             (package qemu-guest-agent) and enabled in its options (agent: 1, e.g. `qm set 100 --agent enabled=1`, then a full stop and start of the VM)"
        );
        assert_eq!(
            error_text(&c.call("get_vm_agent_info", json!({"vmid": 101, "node": "pve1"}))),
            "GET /nodes/pve1/qemu/101/agent/get-osinfo: VM 101 not running; start the VM first (get_vm_status shows its state)"
        );
        let text = error_text(&c.call("get_vm_agent_info", json!({"vmid": 102, "node": "pve1"})))
            .to_string();
        assert!(text.starts_with("GET /nodes/pve1/qemu/102/agent/get-osinfo: Permission check failed (/vms/102, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted) ("), "{text}");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/qemu/100/agent/get-osinfo",
            "GET /nodes/pve1/qemu/101/agent/get-osinfo",
            "GET /nodes/pve1/qemu/102/agent/get-osinfo",
        ]
    );
}

#[test]
fn get_container_interfaces() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve2/lxc/200/interfaces", json!([
        {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"},
        {"name": "eth0", "hwaddr": "bc:24:11:00:00:01", "inet": "10.0.0.53/24", "ip-addresses": [{"ip-address": "10.0.0.53", "ip-address-type": "inet", "prefix": 24}], "extra": 1},
    ]));
    fake.fail(
        "GET",
        "/nodes/pve1/lxc/201/interfaces",
        500,
        "CT 201 not running",
    );
    read_only(&fake, |c| {
        assert_eq!(
            &c.ok("get_container_interfaces", json!({"vmid": 200})),
            &json!({"data": [
                {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"},
                {"name": "eth0", "hwaddr": "bc:24:11:00:00:01", "inet": "10.0.0.53/24", "ip-addresses": [{"ip-address": "10.0.0.53", "ip-address-type": "inet", "prefix": 24}]},
            ]})
        );
        assert_eq!(
            error_text(&c.call(
                "get_container_interfaces",
                json!({"vmid": 201, "node": "pve1"})
            )),
            "GET /nodes/pve1/lxc/201/interfaces: CT 201 not running"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/lxc/200/interfaces",
            "GET /nodes/pve1/lxc/201/interfaces",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Commands in guests.

#[test]
fn exec_tools_need_full_access_and_allow_exec() {
    let fake = FakePve::new();
    with(&fake, &[("PROXMOX_MCP_ACCESS", "full")], |c| {
        assert!(!names(c).contains(&"exec_in_vm".to_string()));
        assert_eq!(
            error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])}))),
            "exec_in_vm runs commands inside guests (a remote shell) and is off unless PROXMOX_MCP_ALLOW_EXEC=true is set, besides PROXMOX_MCP_ACCESS=full"
        );
    });
    with(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_ALLOW_EXEC", "true"),
            ("PROXMOX_MCP_TOOLS", "all"),
        ],
        |c| {
            assert!(!names(c).contains(&"exec_in_vm".to_string()));
            assert!(error_text(
                &c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])}))
            )
            .starts_with("exec_in_vm can lose data and needs access level full"));
        },
    );
    // Allowed, but exec is not in the default set (though its tools act on VMs and containers):
    // not listed, and a call says which setting loads it.
    with(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_ALLOW_EXEC", "true"),
        ],
        |c| {
            assert!(!names(c).iter().any(|n| n.starts_with("exec_")));
            assert_eq!(
                error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])}))),
                "exec_in_vm is not loaded on this server: it is in the toolset exec, and PROXMOX_MCP_TOOLS=default does not list it; \
                 to use it, restart the server with PROXMOX_MCP_TOOLS=default,exec (or all, or add the tool's name)"
            );
        },
    );
    exec_allowed(&fake, |c| {
        let tool = c.tools.iter().find(|t| t["name"] == "exec_in_vm").unwrap();
        assert!(hint(tool, "destructiveHint"));
        assert!(!hint(tool, "readOnlyHint"));
    });
    assert!(fake.lines().is_empty());
}

fn exec_fake(config: Value) -> FakePve {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve1/qemu/100/config", config);
    fake.status(
        "pve1/qemu/100",
        json!({"vmid": 100, "name": "web", "status": "running", "agent": 1}),
    );
    fake
}

#[test]
fn exec_in_vm_runs_and_waits_for_the_command() {
    let mut fake = exec_fake(
        json!({"name": "web", "agent": "enabled=1,fstrim_cloned_disks=1", "digest": "abc"}),
    );
    fake.post("/nodes/pve1/qemu/100/agent/exec", json!({"pid": 4242}));
    fake.ok_times(
        "GET",
        "/nodes/pve1/qemu/100/agent/exec-status",
        json!({"exited": 0}),
        1,
    );
    fake.get("/nodes/pve1/qemu/100/agent/exec-status",
        json!({"exited": 1, "exitcode": 0, "out-data": "Filesystem  Size\n/dev/sda2   32G\n", "err-data": "df: warning\n"}),
    );
    exec_allowed(&fake, |c| {
        assert_eq!(&c.ok("exec_in_vm",
            json!({"vmid": 100, "command": argv(&["df", "-h", "/ tmp&x"]), "input_data": "a=b\n"})), &json!({"data": {
                "pid": 4242, "exited": true, "exitcode": 0,
                "stdout": "Filesystem  Size\n/dev/sda2   32G\n", "stderr": "df: warning\n",
                "stdout_truncated": false, "stderr_truncated": false,
            }}));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "POST /nodes/pve1/qemu/100/agent/exec command=df&command=-h&command=%2F%20tmp%26x&input-data=a%3Db%0A",
            "GET /nodes/pve1/qemu/100/agent/exec-status?pid=4242",
            "GET /nodes/pve1/qemu/100/agent/exec-status?pid=4242",
        ]
    );
}

#[test]
fn exec_in_vm_reports_a_failing_command_and_cut_output() {
    let mut fake = exec_fake(json!({"agent": "1"}));
    fake.post("/nodes/pve1/qemu/100/agent/exec", json!({"pid": 7}));
    let long = "é".repeat(10_000); // 20000 bytes
    fake.get("/nodes/pve1/qemu/100/agent/exec-status",
        json!({"exited": true, "exitcode": 2, "out-data": long, "err-data": "ls: cannot access", "err-truncated": true}),
    );
    exec_allowed(&fake, |c| {
        let r = c.call(
            "exec_in_vm",
            json!({"vmid": 100, "node": "pve1", "command": argv(&["ls", "/nope"])}),
        );
        let data = &ok(&r)["data"];
        assert_eq!(data["exitcode"], 2);
        assert_eq!(data["stdout"].as_str().unwrap().len(), 16 * 1024);
        assert_eq!(data["stdout_truncated"], true);
        assert_eq!(data["stderr"], "ls: cannot access");
        assert_eq!(data["stderr_truncated"], true, "the agent's own flag");
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve1/qemu/100/agent/exec command=ls&command=%2Fnope"]
    );
}

#[test]
fn exec_in_vm_dry_run_sends_no_write() {
    let fake = exec_fake(json!({"agent": "1"}));
    exec_allowed(&fake, |c| {
        let r = c.call(
            "exec_in_vm",
            json!({"vmid": 100, "command": argv(&["systemctl", "restart", "nginx"]), "input_data": "y", "dry_run": true}),
        );
        assert_eq!(r["isError"], false, "{r}");
        assert_eq!(
            r["structuredContent"],
            json!({
                "data": null,
                "dry_run": true,
                "request": {"method": "POST", "path": "/nodes/pve1/qemu/100/agent/exec", "params": {"command": ["systemctl", "restart", "nginx"], "input-data": "y"}},
                "target": {"vmid": 100, "name": "web", "status": "running", "agent": 1},
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/status/current",
        ]
    );
}

#[test]
fn exec_in_vm_refuses_bad_commands_before_sending() {
    let fake = FakePve::new();
    exec_allowed(&fake, |c| {
        let cases = [
            (
                json!([]),
                "invalid arguments: 'command' must hold 1 to 1024 strings, got 0",
            ),
            (
                json!("df -h"),
                "invalid arguments: 'command' must be an array of strings, got \"df -h\"",
            ),
            (
                json!(["ls", 5]),
                "invalid arguments: 'command' must hold only strings, got 5",
            ),
            (
                argv(&["echo", &"x".repeat(4097)]),
                "invalid arguments: 'command' items may be at most 4096 characters long",
            ),
            (
                argv(&[""]),
                "invalid arguments: 'command' item 0 (the program) must not be empty",
            ),
        ];
        for (command, want) in cases {
            assert_starts(
                &c.error("exec_in_vm", json!({"vmid": 100, "command": command})),
                want,
            );
        }
        assert!(error_text(&c.call("exec_in_vm", json!({"vmid": 100})))
            .starts_with("invalid arguments: missing required argument 'command'"));
        assert!(error_text(&c.call(
            "exec_in_vm",
            json!({"vmid": 100, "command": argv(&["id"]), "timeout": 0})
        ))
        .starts_with("invalid arguments: 'timeout' must be between 1 and 3600"));
    });
    assert!(fake.lines().is_empty());
}

#[test]
fn exec_in_vm_needs_the_agent_and_respects_protection() {
    let fake = exec_fake(json!({"name": "web"}));
    exec_allowed(&fake, |c| {
        assert_eq!(
            error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"]), "dry_run": true}))),
            "GET /nodes/pve1/qemu/100/config: VM 100 has no QEMU guest agent configured (agent is not enabled in its config); \
             install and start qemu-guest-agent inside the VM, set agent: 1 (`qm set 100 --agent enabled=1`, or Options > QEMU Guest Agent), \
             then stop and start the VM"
        );
    });
    fake.assert_no_writes();
    let fake = exec_fake(json!({"name": "web", "agent": "1", "protection": 1}));
    exec_allowed(&fake, |c| {
        let text =
            error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])})))
                .to_string();
        assert_starts(&text, "GET /nodes/pve1/qemu/100/config: guest 100 has PVE's protection flag set (protection: 1), so this server will not run commands in it");
    });
    fake.assert_no_writes();
    // The server's own protected list applies too (before any handler read).
    let fake = FakePve::new();
    with(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_ALLOW_EXEC", "true"),
            ("PROXMOX_MCP_TOOLS", "exec"),
            ("PROXMOX_MCP_PROTECTED", "100"),
        ],
        |c| {
            let text =
                error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])})))
                    .to_string();
            assert_starts(
                &text,
                "guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 100)",
            );
        },
    );
    assert!(fake.lines().is_empty());
}

#[test]
fn exec_in_vm_passes_pve_errors_through() {
    let mut fake = exec_fake(json!({"agent": "1"}));
    fake.fail(
        "POST",
        "/nodes/pve1/qemu/100/agent/exec",
        500,
        "QEMU guest agent is not running",
    );
    exec_allowed(&fake, |c| {
        assert_eq!(
            error_text(&c.call("exec_in_vm", json!({"vmid": 100, "command": argv(&["id"])}))),
            "POST /nodes/pve1/qemu/100/agent/exec: QEMU guest agent is not running; the QEMU guest agent must be installed and running inside the VM \
             (package qemu-guest-agent) and enabled in its options (agent: 1, e.g. `qm set 100 --agent enabled=1`, then a full stop and start of the VM)"
        );
        assert!(
            error_text(&c.call("exec_in_vm", json!({"vmid": 555, "command": argv(&["id"])})))
                .starts_with("GET /cluster/resources: no guest with VMID 555 in the cluster")
        );
    });
}

#[test]
fn exec_in_vm_stops_waiting_after_its_timeout() {
    let mut fake = exec_fake(json!({"agent": "1"}));
    fake.post("/nodes/pve1/qemu/100/agent/exec", json!({"pid": 99}));
    fake.get(
        "/nodes/pve1/qemu/100/agent/exec-status",
        json!({"exited": false}),
    );
    exec_allowed(&fake, |c| {
        let started = std::time::Instant::now();
        let r = c.call(
            "exec_in_vm",
            json!({"vmid": 100, "command": argv(&["sleep", "600"]), "timeout": 1}),
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        let out = ok(&r);
        assert_eq!(
            out["data"],
            json!({"pid": 99, "exited": false, "timed_out": true})
        );
        assert!(out["hint"]
            .as_str()
            .unwrap()
            .starts_with("the command still runs in the VM after 1 s (pid 99)"));
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve1/qemu/100/agent/exec command=sleep&command=600"]
    );
    assert!(
        fake.lines()
            .iter()
            .filter(|l| l.contains("exec-status?pid=99"))
            .count()
            >= 2
    );
}

#[test]
fn exec_in_container_is_absent_off_a_pve_node() {
    if std::path::Path::new("/usr/sbin/pct").exists() {
        return; // On a PVE node the tool is present; its runner has unit tests in monitor.rs.
    }
    let fake = FakePve::new();
    exec_allowed(&fake, |c| {
        assert!(!names(c).contains(&"exec_in_container".to_string()));
        assert!(names(c).contains(&"exec_in_vm".to_string()));
        assert_eq!(
            error_text(&c.call(
                "exec_in_container",
                json!({"vmid": 200, "command": argv(&["id"]), "dry_run": true})
            )),
            "exec_in_container only works when this server runs on a PVE node"
        );
    });
    with(&fake, &[("PROXMOX_MCP_ACCESS", "full")], |c| {
        assert!(error_text(&c.call(
            "exec_in_container",
            json!({"vmid": 200, "command": argv(&["id"])})
        ))
        .contains("PROXMOX_MCP_ALLOW_EXEC=true"));
    });
    assert!(fake.lines().is_empty());
}
