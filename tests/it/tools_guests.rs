//! The guest tools beyond the original ones, against the mocked PVE: container config, the
//! remaining power actions, create, clone, migrate, config updates, disk resize and delete. Each
//! test shows what PVE received and what the client read; dry runs send no write.

use serde_json::{json, Value};

use crate::support::{
    assert_starts, error_text, guest, hint, ok, polled, with_access as with, FakePve, FULL_EXEC,
    FULL_HOST, UPID,
};

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("qemu/101", "db", "pve2", "stopped", json!({})),
        guest("lxc/200", "dns", "pve1", "running", json!({})),
        guest("lxc/201", "cache", "pve2", "stopped", json!({})),
    ])
}

/// Mocks the task `UPID`: running for one poll, then stopped with `exitstatus`.
fn task(fake: &mut FakePve, exitstatus: &str) {
    crate::support::mock_task(fake, UPID, exitstatus)
}

/// The `task` part of a result whose task `task` mocked.
fn task_ok() -> Value {
    json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "duration_s": 3})
}

/// A PVE 400 with per-parameter errors, as `/api2/extjs` sends it.
fn fail_400(fake: &mut FakePve, method: &str, path: &str, errors: Value) {
    fake.answer(
        method,
        path,
        200,
        json!({"success": 0, "status": 400, "message": "Parameter verification failed.\n", "errors": errors, "data": null}),
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// Container config and power.

#[test]
fn get_container_config_finds_the_node() {
    let mut fake = FakePve::new();
    let cfg = json!({"hostname": "dns", "cores": 1, "memory": 512, "swap": 512, "rootfs": "local-lvm:vm-200-disk-0,size=8G", "net0": "name=eth0,bridge=vmbr0,ip=dhcp", "unprivileged": 1, "digest": "1f2e3d"});
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve1/lxc/200/config", cfg.clone());
    with(&fake, "read-only", |c| {
        assert_eq!(
            ok(&c.call("get_container_config", json!({"vmid": 200}))),
            &json!({"data": cfg})
        );
        crate::support::assert_containers_only(c, "get_container_config");
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/lxc/200/config",
            "GET /cluster/resources?type=vm",
        ]
    );
}

#[test]
fn power_tools_send_the_right_calls() {
    let shutdown = json!({"timeout": 60, "force_stop": true});
    #[rustfmt::skip]
    let cases = [
        ("shutdown_container", 200, shutdown, "POST /nodes/pve1/lxc/200/status/shutdown timeout=60&forceStop=1"),
        ("reboot_container", 200, json!({}), "POST /nodes/pve1/lxc/200/status/reboot"),
        ("suspend_vm", 100, json!({}), "POST /nodes/pve1/qemu/100/status/suspend"),
        ("resume_vm", 100, json!({}), "POST /nodes/pve1/qemu/100/status/resume"),
        ("reset_vm", 100, json!({}), "POST /nodes/pve1/qemu/100/status/reset"),
        ("suspend_container", 200, json!({}), "POST /nodes/pve1/lxc/200/status/suspend"),
        ("resume_container", 200, json!({}), "POST /nodes/pve1/lxc/200/status/resume"),
    ];
    for (tool, vmid, mut args, expected) in cases {
        args["vmid"] = json!(vmid);
        args["node"] = json!("pve1");
        let mut fake = FakePve::new();
        let path = expected.split(' ').nth(1).unwrap();
        fake.starts_task("POST", path);
        with(&fake, "operate", |c| {
            assert_eq!(
                &c.ok(tool, args),
                &json!({"data": UPID, "task": task_ok()}),
                "{tool}"
            );
        });
        assert_eq!(fake.lines(), polled(&[expected]), "{tool}");
    }
}

#[test]
fn power_tools_find_the_node_and_dry_run() {
    let cases: &[(&str, u64, &str)] = &[
        (
            "shutdown_container",
            201,
            "/nodes/pve2/lxc/201/status/shutdown",
        ),
        ("reboot_container", 201, "/nodes/pve2/lxc/201/status/reboot"),
        ("suspend_vm", 101, "/nodes/pve2/qemu/101/status/suspend"),
        ("resume_vm", 101, "/nodes/pve2/qemu/101/status/resume"),
        ("reset_vm", 101, "/nodes/pve2/qemu/101/status/reset"),
        (
            "suspend_container",
            201,
            "/nodes/pve2/lxc/201/status/suspend",
        ),
        ("resume_container", 201, "/nodes/pve2/lxc/201/status/resume"),
    ];
    for (tool, vmid, path) in cases {
        let mut fake = FakePve::new();
        let current = path.replace(path.rsplit('/').next().unwrap(), "current");
        let state = json!({"vmid": vmid, "status": "running", "qmpstatus": "running"});
        fake.get("/cluster/resources", resources());
        fake.get(&current, state.clone());
        with(&fake, "operate", |c| {
            assert_eq!(
                &c.ok(tool, json!({"vmid": vmid, "dry_run": true})),
                &json!({"data": null, "dry_run": true, "request": {"method": "POST", "path": path, "params": {}}, "target": state}),
                "{tool}"
            );
        });
        fake.assert_no_writes();
        assert_eq!(
            fake.lines(),
            [
                "GET /cluster/resources?type=vm".to_string(),
                format!("GET {current}")
            ],
            "{tool}"
        );
    }
}

#[test]
fn a_failed_power_task_carries_its_log() {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/resume", json!(UPID));
    task(&mut fake, "VM 100 not running");
    fake.task_log(&["TASK ERROR: VM 100 not running"]);
    with(&fake, "operate", |c| {
        assert_eq!(c.error("resume_vm", json!({"vmid": 100, "node": "pve1"})), format!("POST /nodes/pve1/qemu/100/status/resume: task failed: VM 100 not running\ntask: {UPID}\nlast lines of the task log:\n  TASK ERROR: VM 100 not running"));
    });
}

// ---------------------------------------------------------------------------------------------
// Create.

fn image_storages() -> Value {
    json!([
        {"storage": "zfs", "type": "zfspool", "content": "images,rootdir", "active": 1, "enabled": 1},
        {"storage": "nfs", "type": "nfs", "content": "images", "active": 0, "enabled": 1},
        {"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir", "active": 1, "enabled": 1},
    ])
}

#[test]
fn create_vm_with_defaults_takes_the_next_vmid_and_first_storage() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!("105"));
    fake.get("/nodes/pve1/storage", image_storages());
    fake.starts_task("POST", "/nodes/pve1/qemu");
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok("create_vm", json!({"node": "pve1", "name": "web-2"})),
            &json!({"data": UPID, "task": task_ok(), "vmid": 105})
        );
    });
    assert_eq!(
        fake.lines(),
        polled(&[
                "GET /cluster/nextid",
                "GET /nodes/pve1/storage?content=images&enabled=1",
                "POST /nodes/pve1/qemu vmid=105&name=web-2&memory=2048&cores=2&ostype=l26&scsihw=virtio-scsi-single&scsi0=local-lvm%3A32&net0=virtio%2Cbridge%3Dvmbr0",
            ])
    );
}

#[test]
fn create_vm_with_everything_given() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(300));
    fake.starts_task("POST", "/nodes/pve2/qemu");
    with(&fake, "operate", |c| {
        let r = c.call(
            "create_vm",
            json!({"node": "pve2", "vmid": 300, "name": "win.example.com", "size": 80, "storage": "ceph-vm",
                   "cdrom": "local:iso/Win11.iso", "start": true,
                   "set": {"memory": 8192, "cores": 4, "net0": "virtio,bridge=vmbr1", "ostype": "win11", "onboot": true, "tags": "lab"}}),
        );
        assert_eq!(ok(&r)["vmid"], 300);
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve2/qemu vmid=300&name=win.example.com&memory=8192&cores=4&ostype=win11&scsihw=virtio-scsi-single&scsi0=ceph-vm%3A80&net0=virtio%2Cbridge%3Dvmbr1&ide2=local%3Aiso%2FWin11.iso%2Cmedia%3Dcdrom&onboot=1&tags=lab&start=1"]
    );
    assert_eq!(fake.lines()[0], "GET /cluster/nextid?vmid=300");
}

#[test]
fn create_vm_refuses_a_used_vmid_and_bad_arguments() {
    let mut fake = FakePve::new();
    fail_400(
        &mut fake,
        "GET",
        "/cluster/nextid",
        json!({"vmid": "VM 100 already exists"}),
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("create_vm", json!({"node": "pve1", "vmid": 100}))),
            "invalid arguments: VMID 100 is already in use (GET /cluster/nextid: Parameter verification failed.; vmid: VM 100 already exists); choose another, or leave it out to take the next free one"
        );
        for (args, why) in [
            (
                json!({"node": "pve1", "set": {"ostype": "linux"}}),
                "invalid arguments: 'set.ostype' must be one of l26, l24, win11",
            ),
            (
                json!({"node": "pve1", "set": {"cores": "two"}}),
                "invalid arguments: 'set.cores' must be a whole number",
            ),
            (
                json!({"node": "pve1", "set": {"bridge": "vmbr1"}}),
                "invalid arguments: 'set': 'bridge' is not a VM config key PVE knows",
            ),
            (
                json!({"node": "pve1", "name": "a", "set": {"name": "b"}}),
                "invalid arguments: 'set.name' is made from the parameters of this call: give name instead",
            ),
            (
                json!({"node": "pve1", "set": {"scsi0": "local-lvm:8"}}),
                "invalid arguments: 'set.scsi0' is made from the parameters of this call: give storage and size instead",
            ),
            (
                json!({"node": "pve1", "memory": 4096}),
                "invalid arguments: unknown argument 'memory': create_vm takes node, vmid, name, storage, size, cdrom, set, start",
            ),
            (
                json!({"node": "pve1", "name": "web_1"}),
                "invalid arguments: 'name' must be a DNS name",
            ),
            (
                json!({"node": "pve1", "cdrom": "debian.iso"}),
                "invalid arguments: 'cdrom' must be a volume id",
            ),
            (
                json!({"name": "web"}),
                "invalid arguments: missing required argument 'node'",
            ),
        ] {
            assert_starts(&c.error("create_vm", args), why);
        }
    });
    // Only the VMID check reached PVE.
    assert_eq!(fake.lines(), ["GET /cluster/nextid?vmid=100"]);
}

#[test]
fn create_vm_dry_run_and_no_storage() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(105));
    fake.get("/nodes/pve1/storage", image_storages());
    fake.get("/nodes/pve3/storage", json!([]));
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok("create_vm", json!({"node": "pve1", "dry_run": true})),
            &json!({
                "data": null, "dry_run": true, "vmid": 105,
                "request": {"method": "POST", "path": "/nodes/pve1/qemu", "params": {
                    "vmid": "105", "memory": "2048", "cores": "2", "ostype": "l26", "scsihw": "virtio-scsi-single",
                    "scsi0": "local-lvm:32", "net0": "virtio,bridge=vmbr0"}},
                "target": {"node": "pve1", "vmid": 105, "vmid_free": true, "storage": "local-lvm"},
            })
        );
        assert_eq!(
            error_text(&c.call("create_vm", json!({"node": "pve3"}))),
            "GET /nodes/pve3/storage: no active storage on pve3 holds images; name one with storage (list_storage shows them)"
        );
    });
    fake.assert_no_writes();
}

#[test]
fn create_container_with_defaults() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(202));
    fake.get("/nodes/pve1/storage", image_storages());
    fake.starts_task("POST", "/nodes/pve1/lxc");
    // SSH keys put a login into the container: like exec, they need full and the exec switch.
    crate::support::session(&fake, FULL_EXEC, |c| {
        assert_eq!(&c.ok("create_container",
            json!({"node": "pve1", "ostemplate": "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst", "hostname": "dns-2",
                   "set": {"ssh-public-keys": "ssh-ed25519 AAAAC3Nz me@host"}})), &json!({"data": UPID, "task": task_ok(), "vmid": 202}));
    });
    assert_eq!(
        fake.lines(),
        polled(&[
                "GET /cluster/nextid",
                "GET /nodes/pve1/storage?content=rootdir&enabled=1",
                "POST /nodes/pve1/lxc vmid=202&ostemplate=local%3Avztmpl%2Fdebian-13-standard_13.1-2_amd64.tar.zst&hostname=dns-2&memory=512&cores=1&rootfs=local-lvm%3A8&net0=name%3Deth0%2Cbridge%3Dvmbr0%2Cip%3Ddhcp&unprivileged=1&ssh-public-keys=ssh-ed25519%20AAAAC3Nz%20me%40host&features=nesting%3D1",
            ])
    );
}

#[test]
fn create_container_privileged_dry_run_and_refusals() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(210));
    // A privileged container's root is root on the host: full and the host-config switch.
    crate::support::session(&fake, FULL_HOST, |c| {
        let r = c.call(
            "create_container",
            json!({"node": "pve2", "vmid": 210, "ostemplate": "nfs:vztmpl/alpine.tar.xz", "storage": "zfs", "size": 4,
                   "set": {"memory": 256, "cores": 2, "unprivileged": false}, "start": true, "dry_run": true}),
        );
        assert_eq!(
            ok(&r)["request"],
            json!({"method": "POST", "path": "/nodes/pve2/lxc", "params": {
                "vmid": "210", "ostemplate": "nfs:vztmpl/alpine.tar.xz", "memory": "256", "cores": "2",
                "rootfs": "zfs:4", "net0": "name=eth0,bridge=vmbr0,ip=dhcp", "unprivileged": "0", "start": "1"}})
        );
        assert_eq!(
            ok(&r)["target"],
            json!({"node": "pve2", "vmid": 210, "vmid_free": true, "storage": "zfs"})
        );
        assert_starts(
            &c.error(
                "create_container",
                json!({"node": "pve2", "ostemplate": "alpine.tar.xz"}),
            ),
            "invalid arguments: 'ostemplate' must be a volume id",
        );
        assert!(
            error_text(&c.call("create_container", json!({"node": "pve2"})))
                .starts_with("invalid arguments: missing required argument 'ostemplate'")
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/nextid?vmid=210"]);
}

#[test]
fn create_container_set_replaces_defaults_and_adds_config_keys() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(211));
    with(&fake, "operate", |c| {
        let net0 = "name=eth0,bridge=vmbr1,ip=10.0.0.5/24,gw=10.0.0.1,tag=20";
        let r = c.call(
            "create_container",
            json!({"node": "pve1", "ostemplate": "local:vztmpl/alpine.tar.xz", "storage": "local-lvm", "hostname": "ns1",
                   "set": {"net0": net0, "memory": 1024, "swap": 0, "onboot": true, "nameserver": "10.0.0.53"}, "dry_run": true}),
        );
        // Defaults keep their place; new keys follow; an unprivileged container still gets nesting.
        assert_eq!(
            ok(&r)["request"]["params"],
            json!({"vmid": "211", "ostemplate": "local:vztmpl/alpine.tar.xz", "hostname": "ns1", "memory": "1024", "cores": "1",
                   "rootfs": "local-lvm:8", "net0": net0, "unprivileged": "1", "swap": "0", "onboot": "1",
                   "nameserver": "10.0.0.53", "features": "nesting=1"})
        );
        for (args, why) in [
            (
                json!({"set": {"hostname": "ns2"}}),
                "invalid arguments: 'set.hostname' is made from the parameters of this call: give hostname instead",
            ),
            (
                json!({"set": {"rootfs": "local-lvm:4"}}),
                "invalid arguments: 'set.rootfs' is made from the parameters of this call: give storage and size instead",
            ),
            (
                json!({"set": {"ostype": "win11", "sshkeys": "x"}}),
                "invalid arguments: 'set': 'sshkeys' is not a container config key PVE knows",
            ),
            (
                json!({"set": {"unprivileged": "maybe"}}),
                "invalid arguments: 'set.unprivileged' must be true or false",
            ),
            (
                json!({"unprivileged": false}),
                "invalid arguments: unknown argument 'unprivileged': create_container takes node, ostemplate, vmid, hostname, storage, size, set, start",
            ),
        ] {
            let mut args = args;
            args["node"] = json!("pve1");
            args["ostemplate"] = json!("local:vztmpl/alpine.tar.xz");
            assert_starts(&c.error("create_container", args), why);
        }
    });
    fake.assert_no_writes();
    // Refused arguments reach nothing: only the one dry run asked for a VMID.
    assert_eq!(fake.lines(), ["GET /cluster/nextid"]);
}

// ---------------------------------------------------------------------------------------------
// Clone.

#[test]
fn clone_vm_takes_the_next_vmid() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/cluster/nextid", json!(102));
    fake.config("pve1/qemu/100", json!({"name": "web", "cores": 2}));
    fake.starts_task("POST", "/nodes/pve1/qemu/100/clone");
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("clone_vm",
            json!({"vmid": 100, "name": "web-copy", "full": true, "target": "pve2", "storage": "ceph-vm"})), &json!({"data": UPID, "task": task_ok(), "newid": 102}));
    });
    assert_eq!(
        fake.lines(),
        polled(&[
                "GET /cluster/resources?type=vm",
                "GET /cluster/nextid",
                "GET /nodes/pve1/qemu/100/config",
                "POST /nodes/pve1/qemu/100/clone newid=102&name=web-copy&full=1&target=pve2&storage=ceph-vm",
            ])
    );
}

#[test]
fn clone_container_with_a_given_newid_and_dry_run() {
    let mut fake = FakePve::new();
    let state = json!({"vmid": 201, "status": "stopped", "name": "cache"});
    fake.get("/cluster/nextid", json!(250));
    fake.get("/nodes/pve2/lxc/201/status/current", state.clone());
    fake.config(
        "pve2/lxc/201",
        json!({"hostname": "cache", "unprivileged": 1}),
    );
    fake.starts_task("POST", "/nodes/pve2/lxc/201/clone");
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("clone_container",
            json!({"vmid": 201, "node": "pve2", "newid": 250, "hostname": "cache-2", "dry_run": true})), &json!({"data": null, "dry_run": true, "newid": 250,
                    "request": {"method": "POST", "path": "/nodes/pve2/lxc/201/clone", "params": {"newid": "250", "hostname": "cache-2"}},
                    "target": state}));
        assert!(ok(&c.call(
            "clone_container",
            json!({"vmid": 201, "node": "pve2", "newid": 250, "full": false})
        ))["task"]
            .is_object());
    });
    assert_eq!(
        fake.lines(),
        polled(&[
            "GET /cluster/nextid?vmid=250",
            "GET /nodes/pve2/lxc/201/config",
            "GET /nodes/pve2/lxc/201/status/current",
            "GET /cluster/nextid?vmid=250",
            "GET /nodes/pve2/lxc/201/config",
            "POST /nodes/pve2/lxc/201/clone newid=250&full=0",
        ])
    );
}

#[test]
fn clone_failures() {
    let mut fake = FakePve::new();
    fake.get("/cluster/nextid", json!(102));
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.fail(
        "POST",
        "/nodes/pve1/qemu/100/clone",
        500,
        "can't clone VM to node 'pve2' (VM uses local storage)",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call(
                "clone_vm",
                json!({"vmid": 100, "node": "pve1", "full": false, "storage": "ceph-vm"})
            )),
            "invalid arguments: 'storage' applies to full clones only: leave it out for a linked clone, or set full: true"
        );
        assert_eq!(
            error_text(&c.call(
                "clone_vm",
                json!({"vmid": 100, "node": "pve1", "target": "pve2"})
            )),
            "POST /nodes/pve1/qemu/100/clone: can't clone VM to node 'pve2' (VM uses local storage)"
        );
        assert!(error_text(&c.call(
            "clone_container",
            json!({"vmid": 200, "node": "pve1", "hostname": "a b"})
        ))
        .starts_with("invalid arguments: 'hostname' must be a DNS name"));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/nextid",
            "GET /nodes/pve1/qemu/100/config",
            "POST /nodes/pve1/qemu/100/clone newid=102&target=pve2"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Migrate.

#[test]
fn migrate_vm_live_when_it_runs() {
    let mut fake = FakePve::new();
    let pre = json!({"running": 1, "local_disks": [{"volid": "local:iso/debian.iso", "cdrom": 1, "is_unused": 0, "size": 1}], "local_resources": [], "has-dbus-vmstate": 1});
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve1/qemu/100/migrate", pre.clone());
    fake.starts_task("POST", "/nodes/pve1/qemu/100/migrate");
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "migrate_vm",
                json!({"vmid": 100, "target": "pve2", "dry_run": true})
            ),
            &json!({"data": null, "dry_run": true,
                    "request": {"method": "POST", "path": "/nodes/pve1/qemu/100/migrate", "params": {"target": "pve2", "online": "1"}},
                    "target": {"node": "pve1", "running": true, "precondition": pre}})
        );
        assert_eq!(
            &c.ok("migrate_vm", json!({"vmid": 100, "target": "pve2"})),
            &json!({"data": UPID, "task": task_ok()})
        );
        // The guest moved: the next call looks up its node again.
        assert!(
            ok(&c.call(
                "migrate_vm",
                json!({"vmid": 100, "target": "pve2", "dry_run": true})
            ))["dry_run"]
                == true
        );
    });
    let mut expected = polled(&[
        "GET /cluster/resources?type=vm",
        "GET /nodes/pve1/qemu/100/migrate?target=pve2",
        "GET /nodes/pve1/qemu/100/migrate?target=pve2",
        "POST /nodes/pve1/qemu/100/migrate target=pve2&online=1",
    ]);
    expected.extend([
        "GET /cluster/resources?type=vm".to_string(),
        "GET /nodes/pve1/qemu/100/migrate?target=pve2".to_string(),
    ]);
    assert_eq!(fake.lines(), expected);
}

#[test]
fn migrate_vm_with_local_disks() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/migrate",
        json!({"running": 1, "local_disks": [{"volid": "local-lvm:vm-100-disk-0", "size": 34359738368u64}], "local_resources": []}),
    );
    fake.starts_task("POST", "/nodes/pve1/qemu/100/migrate");
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("migrate_vm", json!({"vmid": 100, "node": "pve1", "target": "pve2"}))),
            "invalid arguments: VM 100 runs and has disks on local storage (local-lvm:vm-100-disk-0); a live migration must copy them: call again with with-local-disks: true, or shut the VM down first (GET /nodes/pve1/qemu/100/migrate)"
        );
        let r = c.call(
            "migrate_vm",
            json!({"vmid": 100, "node": "pve1", "target": "pve2", "with-local-disks": true}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve1/qemu/100/migrate target=pve2&online=1&with-local-disks=1"]
    );
}

#[test]
fn migrate_vm_refused_by_the_precondition() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve2/qemu/101/migrate",
        json!({"running": 0, "allowed_nodes": ["pve1"], "not_allowed_nodes": {"pve3": {"unavailable_storages": ["local-zfs"]}, "pve1": {}}, "local_disks": [], "local_resources": []}),
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call("migrate_vm", json!({"vmid": 101, "node": "pve2", "target": "pve3"}))),
            "GET /nodes/pve2/qemu/101/migrate: PVE reports that VM 101 cannot migrate to pve3 ({\"unavailable_storages\":[\"local-zfs\"]}); nodes it can migrate to: pve1"
        );
        assert_eq!(
            error_text(&c.call("migrate_vm", json!({"vmid": 101, "node": "pve2", "target": "pve2"}))),
            "invalid arguments: VM 101 is already on pve2; name another node as target (list_nodes shows them)"
        );
        assert!(
            error_text(&c.call("migrate_vm", json!({"vmid": 101, "node": "pve2"})))
                .starts_with("invalid arguments: missing required argument 'target'")
        );
    });
    assert_eq!(
        fake.lines(),
        ["GET /nodes/pve2/qemu/101/migrate?target=pve3"]
    );
}

#[test]
fn migrate_stopped_vm_is_offline() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve2/qemu/101/migrate",
        json!({"running": 0, "allowed_nodes": ["pve1", "pve3"], "not_allowed_nodes": {}, "local_disks": [], "local_resources": []}),
    );
    fake.starts_task("POST", "/nodes/pve2/qemu/101/migrate");
    with(&fake, "operate", |c| {
        let r = c.call(
            "migrate_vm",
            json!({"vmid": 101, "node": "pve2", "target": "pve1"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve2/qemu/101/migrate target=pve1"]
    );
}

#[test]
fn migrate_container_restarts_a_running_one() {
    let mut fake = FakePve::new();
    let pre = json!({"running": true, "allowed-nodes": ["pve2"], "not-allowed-nodes": {}});
    fake.get("/nodes/pve1/lxc/200/migrate", pre.clone());
    fake.starts_task("POST", "/nodes/pve1/lxc/200/migrate");
    with(&fake, "operate", |c| {
        let r = c.call(
            "migrate_container",
            json!({"vmid": 200, "node": "pve1", "target": "pve2", "dry_run": true}),
        );
        assert_eq!(
            ok(&r)["request"],
            json!({"method": "POST", "path": "/nodes/pve1/lxc/200/migrate", "params": {"target": "pve2", "restart": "1"}})
        );
        assert_eq!(
            ok(&r)["target"],
            json!({"node": "pve1", "running": true, "precondition": pre})
        );
        let r = c.call(
            "migrate_container",
            json!({"vmid": 200, "node": "pve1", "target": "pve2"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    assert_eq!(
        fake.lines(),
        polled(&[
            "GET /nodes/pve1/lxc/200/migrate?target=pve2",
            "GET /nodes/pve1/lxc/200/migrate?target=pve2",
            "POST /nodes/pve1/lxc/200/migrate target=pve2&restart=1",
        ])
    );
}

#[test]
fn migrate_container_on_a_pve_without_the_check() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/nodes/pve2/lxc/201/migrate",
        501,
        "Method 'GET /nodes/pve2/lxc/201/migrate' not implemented",
    );
    fake.status("pve2/lxc/201", json!({"status": "stopped", "vmid": 201}));
    fake.starts_task("POST", "/nodes/pve2/lxc/201/migrate");
    with(&fake, "operate", |c| {
        let r = c.call(
            "migrate_container",
            json!({"vmid": 201, "node": "pve2", "target": "pve1"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    assert_eq!(
        fake.lines(),
        polled(&[
            "GET /nodes/pve2/lxc/201/migrate?target=pve1",
            "GET /nodes/pve2/lxc/201/status/current",
            "POST /nodes/pve2/lxc/201/migrate target=pve1",
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Config updates.

#[test]
fn update_vm_config_sets_and_deletes() {
    let mut fake = FakePve::with_resources(resources());
    fake.config(
        "pve1/qemu/100",
        json!({"ide2": "local:iso/debian.iso,media=cdrom,size=600M", "digest": "8f2e"}),
    );
    fake.ok("PUT", "/nodes/pve1/qemu/100/config", Value::Null);
    with(&fake, "operate", |c| {
        // Removing a CD drive loses no data: operate may (the config says it is one).
        assert_eq!(&c.ok("update_vm_config",
            json!({"vmid": 100, "set": {"cores": 4, "onboot": true, "memory": 4096, "net1": "virtio,bridge=vmbr1", "agent": "enabled=1", "cpulimit": 1.5, "description": "web\nfront end"},
                   "delete": ["ide2", "tablet"], "digest": "8f2e0c9b1a7d6e5f4c3b2a190817263544536271"})), &json!({"data": null}));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "PUT /nodes/pve1/qemu/100/config agent=enabled%3D1&cores=4&cpulimit=1.5&description=web%0Afront%20end&memory=4096&net1=virtio%2Cbridge%3Dvmbr1&onboot=1&delete=ide2%2Ctablet&digest=8f2e0c9b1a7d6e5f4c3b2a190817263544536271",
        ]
    );
}

#[test]
fn update_vm_config_dry_run_shows_the_config() {
    let mut fake = FakePve::new();
    let cfg = json!({"name": "web", "cores": 2, "memory": "2048", "digest": "0123abcd"});
    fake.get("/nodes/pve1/qemu/100/config", cfg.clone());
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("update_vm_config",
            json!({"vmid": 100, "node": "pve1", "set": {"cores": "4", "numa": false}, "dry_run": true})), &json!({"data": null, "dry_run": true,
                    "request": {"method": "PUT", "path": "/nodes/pve1/qemu/100/config", "params": {"cores": "4", "numa": "0"}},
                    "target": cfg}));
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /nodes/pve1/qemu/100/config"]);
}

#[test]
fn update_config_rejects_what_pve_would() {
    let fake = FakePve::new();
    with(&fake, "full", |c| {
        let cases: &[(&str, Value, &str)] = &[
            ("update_vm_config", json!({"vmid": 100, "node": "pve1"}), "invalid arguments: nothing to change: give set (keys to set) and/or delete (keys to remove)"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {}}), "invalid arguments: nothing to change"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"bogus": 1}}), "invalid arguments: 'set': 'bogus' is not a VM config key PVE knows (get_vm_config shows the keys in use)"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"net32": "virtio"}}), "invalid arguments: 'set': 'net32' is not a VM config key: PVE has net0 to net31"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"Cores": 2}}), "invalid arguments: 'set': 'Cores' is not a PVE config key"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"digest": "ab"}}), "invalid arguments: 'set': 'digest' is not a config key; it cannot be set or removed here"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"cores": "many"}}), "invalid arguments: 'set.cores' must be a whole number, got \"many\""),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"onboot": "maybe"}}), "invalid arguments: 'set.onboot' must be true or false"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"name": null}}), "invalid arguments: 'set.name' must be a string, number or boolean, got null"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"name": "a\nb"}}), "invalid arguments: 'set.name' may not contain line breaks or NUL"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"unused0": "local-lvm:vm-100-disk-1"}}), "invalid arguments: 'set': unused0 cannot be set"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"cores": 2}, "delete": ["cores"]}), "invalid arguments: 'cores' is both in set and in delete"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "delete": []}), "invalid arguments: 'delete' must hold 1 to 64 strings"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "delete": "net1"}), "invalid arguments: 'delete' must be an array of strings"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": "cores=2"}), "invalid arguments: 'set' must be an object"),
            ("update_vm_config", json!({"vmid": 100, "node": "pve1", "set": {"cores": 2}, "digest": "not hex"}), "invalid arguments: 'digest' must be the hex digest"),
            ("update_container_config", json!({"vmid": 200, "node": "pve1", "set": {"scsi0": "x"}}), "invalid arguments: 'set': 'scsi0' is not a container config key PVE knows (get_container_config shows the keys in use)"),
            ("update_container_config", json!({"vmid": 200, "node": "pve1", "delete": ["mp256"]}), "invalid arguments: 'delete': 'mp256' is not a container config key: PVE has mp0 to mp255"),
        ];
        for (tool, args, why) in cases {
            let text = error_text(&c.call(tool, args.clone())).to_string();
            assert!(text.starts_with(why), "{args}: {text}");
        }
    });
    fake.assert_untouched();
}

#[test]
fn deleting_an_unused_volume_needs_full() {
    let mut fake = FakePve::new();
    fake.config(
        "pve1/qemu/100",
        json!({"name": "web", "unused0": "local-lvm:vm-100-disk-1", "digest": "aa"}),
    );
    fake.ok("PUT", "/nodes/pve1/qemu/100/config", Value::Null);
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call(
                "update_vm_config",
                json!({"vmid": 100, "node": "pve1", "delete": ["unused0"], "dry_run": true})
            )),
            "update_vm_config: removing 'unused0' frees that disk volume (its data is lost) (key class: data); it needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; nothing was sent. Change it in PVE itself, or restart the server with PROXMOX_MCP_ACCESS=full"
        );
        // Detaching a disk is a data change too (the "delete of a disk key").
        assert_starts(
            &c.error(
                "update_vm_config",
                json!({"vmid": 100, "node": "pve1", "delete": ["scsi1"]}),
            ),
            "update_vm_config: removing 'scsi1' detaches a disk from the guest",
        );
    });
    // The config is read to tell a CD drive from a disk; nothing is written.
    assert_eq!(fake.lines(), ["GET /nodes/pve1/qemu/100/config"]);
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "update_vm_config",
                json!({"vmid": 100, "node": "pve1", "delete": ["unused0", "unused0"]})
            ),
            &json!({"data": null})
        );
    });
    assert_eq!(
        fake.lines()[1..],
        [
            "GET /nodes/pve1/qemu/100/config",
            "PUT /nodes/pve1/qemu/100/config delete=unused0"
        ]
    );
}

#[test]
fn deleting_an_unused_volume_respects_pve_protection() {
    let mut fake = FakePve::new();
    fake.config(
        "pve1/lxc/200",
        json!({"hostname": "dns", "protection": 1, "unused1": "local-lvm:vm-200-disk-1"}),
    );
    with(&fake, "full", |c| {
        assert_starts(
            &c.error(
                "update_container_config",
                json!({"vmid": 200, "node": "pve1", "delete": ["unused1"]}),
            ),
            "GET /nodes/pve1/lxc/200/config: guest 200 has PVE's protection flag set",
        );
    });
    fake.assert_no_writes();
}

#[test]
fn update_container_config_and_pve_errors() {
    let mut fake = FakePve::new();
    fake.ok("PUT", "/nodes/pve1/lxc/200/config", Value::Null);
    fake.fail(
        "PUT",
        "/nodes/pve2/lxc/201/config",
        500,
        "checksum mismatch (file change by other user?)",
    );
    with(&fake, "operate", |c| {
        assert_eq!(&c.ok("update_container_config",
            json!({"vmid": 200, "node": "pve1", "set": {"memory": 1024, "swap": 0, "onboot": "yes", "hostname": "dns-2", "net1": "name=eth1,bridge=vmbr1,ip=dhcp"}, "delete": ["tty"]})), &json!({"data": null}));
        assert_eq!(
            error_text(&c.call(
                "update_container_config",
                json!({"vmid": 201, "node": "pve2", "set": {"cores": 2}, "digest": "0123abcd"})
            )),
            "PUT /nodes/pve2/lxc/201/config: checksum mismatch (file change by other user?)"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "PUT /nodes/pve1/lxc/200/config hostname=dns-2&memory=1024&net1=name%3Deth1%2Cbridge%3Dvmbr1%2Cip%3Ddhcp&onboot=1&swap=0&delete=tty",
            "PUT /nodes/pve2/lxc/201/config cores=2&digest=0123abcd",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Resize.

fn vm_config() -> Value {
    json!({"name": "web", "scsi0": "local-lvm:vm-100-disk-0,iothread=1,size=32G", "ide2": "local:iso/debian.iso,media=cdrom,size=600M",
           "efidisk0": "local-lvm:vm-100-disk-1,efitype=4m,size=4M", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "digest": "5e8a7b6c"})
}

#[test]
fn resize_vm_disk_grows() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/nodes/pve1/qemu/100/config", vm_config());
    fake.starts_task("PUT", "/nodes/pve1/qemu/100/resize");
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "resize_vm_disk",
                json!({"vmid": 100, "disk": "scsi0", "size": "+10G"})
            ),
            &json!({"data": UPID, "task": task_ok()})
        );
        let r = c.call(
            "resize_vm_disk",
            json!({"vmid": 100, "disk": "scsi0", "size": "64G"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    let status = polled(&[]);
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve1/qemu/100/config",
            "PUT /nodes/pve1/qemu/100/resize disk=scsi0&size=%2B10G&digest=5e8a7b6c",
            &status[0],
            &status[1],
            "GET /nodes/pve1/qemu/100/config",
            "PUT /nodes/pve1/qemu/100/resize disk=scsi0&size=64G&digest=5e8a7b6c",
            &status[1],
        ]
    );
}

#[test]
fn resize_vm_disk_refuses_shrinking_and_other_mistakes() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/config", vm_config());
    with(&fake, "operate", |c| {
        let cases: &[(Value, &str)] = &[
            (json!({"disk": "scsi0", "size": "20G"}), "invalid arguments: size 20G is not larger than the current size of scsi0 (32G); disks only grow: give a larger size, or +N to add N"),
            (json!({"disk": "scsi0", "size": "32G"}), "invalid arguments: size 32G is not larger than the current size of scsi0 (32G)"),
            (json!({"disk": "scsi0", "size": "34359738368"}), "invalid arguments: size 34359738368 is not larger"),
            (json!({"disk": "scsi1", "size": "+1G"}), "GET /nodes/pve1/qemu/100/config: VM 100 has no disk scsi1; its disks: efidisk0, ide2, scsi0"),
            (json!({"disk": "ide2", "size": "+1G"}), "invalid arguments: ide2 of VM 100 is a CD drive (local:iso/debian.iso,media=cdrom,size=600M), which cannot be resized"),
            // Arguments refused before any request.
            (json!({"disk": "net0", "size": "+1G"}), "invalid arguments: 'disk' must be a VM disk key: scsi0-30, virtio0-15, sata0-5, ide0-3, efidisk0 or tpmstate0, got 'net0'"),
            (json!({"disk": "scsi0", "size": "-1G"}), "invalid arguments: 'size' must be like +10G (grow by) or 64G (the new size), units K, M, G or T, got '-1G'"),
            (json!({"disk": "scsi0", "size": "10GB"}), "invalid arguments: 'size' must be like"),
            (json!({"disk": "scsi0", "size": "+0G"}), "invalid arguments: 'size' must grow the disk: +0 changes nothing"),
        ];
        for (args, why) in cases {
            let mut args = args.clone();
            args["vmid"] = json!(100);
            args["node"] = json!("pve1");
            let text = error_text(&c.call("resize_vm_disk", args.clone())).to_string();
            assert!(text.starts_with(why), "{args}: {text}");
        }
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /nodes/pve1/qemu/100/config"; 5]);
}

#[test]
fn resize_container_disk_and_dry_run() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/lxc/200/config",
        json!({"hostname": "dns", "rootfs": "local-lvm:vm-200-disk-0,size=8G", "mp0": "local-lvm:vm-200-disk-1,mp=/srv,size=512M"}),
    );
    fake.starts_task("PUT", "/nodes/pve1/lxc/200/resize");
    with(&fake, "operate", |c| {
        assert_eq!(
            &c.ok(
                "resize_container_disk",
                json!({"vmid": 200, "node": "pve1", "disk": "mp0", "size": "1.5G", "dry_run": true})
            ),
            &json!({"data": null, "dry_run": true,
                    "request": {"method": "PUT", "path": "/nodes/pve1/lxc/200/resize", "params": {"disk": "mp0", "size": "1.5G"}},
                    "target": {"disk": "mp0", "volume": "local-lvm:vm-200-disk-1,mp=/srv,size=512M", "size_bytes": 536870912, "new_size_bytes": 1610612736u64}})
        );
        let r = c.call(
            "resize_container_disk",
            json!({"vmid": 200, "node": "pve1", "disk": "rootfs", "size": "+2G"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
        assert!(error_text(&c.call(
            "resize_container_disk",
            json!({"vmid": 200, "node": "pve1", "disk": "scsi0", "size": "+2G"})
        ))
        .starts_with("invalid arguments: 'disk' must be rootfs or a mount point mp0-255"));
    });
    assert_eq!(
        fake.lines(),
        polled(&[
            "GET /nodes/pve1/lxc/200/config",
            "GET /nodes/pve1/lxc/200/config",
            "PUT /nodes/pve1/lxc/200/resize disk=rootfs&size=%2B2G",
        ])
    );
}

#[test]
fn resize_failure_from_pve_is_passed_through() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/config", vm_config());
    fake.fail(
        "PUT",
        "/nodes/pve1/qemu/100/resize",
        500,
        "VM is locked (backup)",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            error_text(&c.call(
                "resize_vm_disk",
                json!({"vmid": 100, "node": "pve1", "disk": "efidisk0", "size": "+1M"})
            )),
            "PUT /nodes/pve1/qemu/100/resize: VM is locked (backup)"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Delete.

#[test]
fn delete_vm_checks_name_state_and_protection() {
    let mut fake = FakePve::with_resources(resources());
    fake.config("pve2/qemu/101", json!({"name": "db", "protection": 0}));
    fake.status(
        "pve2/qemu/101",
        json!({"vmid": 101, "name": "db", "status": "stopped", "qmpstatus": "stopped"}),
    );
    fake.starts_task("DELETE", "/nodes/pve2/qemu/101");
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call("delete_vm", json!({"vmid": 101, "confirm_name": "web"}))),
            "confirm_name 'web' is not the name of VM 101, which is 'db'; nothing was deleted. Check the VMID (get_vm_status shows its name) and pass its current name"
        );
        assert!(error_text(&c.call("delete_vm", json!({"vmid": 101})))
            .starts_with("invalid arguments: missing required argument 'confirm_name'"));
        assert_eq!(
            &c.ok(
                "delete_vm",
                json!({"vmid": 101, "confirm_name": "db", "purge": true})
            ),
            &json!({"data": UPID, "task": task_ok()})
        );
    });
    assert_eq!(
        fake.lines(),
        polled(&[
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/qemu/101/config",
            "GET /nodes/pve2/qemu/101/status/current",
            // A failed call forgets where the guest lives.
            "GET /cluster/resources?type=vm",
            "GET /nodes/pve2/qemu/101/config",
            "GET /nodes/pve2/qemu/101/status/current",
            "DELETE /nodes/pve2/qemu/101?destroy-unreferenced-disks=0&purge=1",
        ])
    );
}

#[test]
fn delete_vm_refuses_a_running_or_protected_guest() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/qemu/100/config", json!({"name": "web"}));
    fake.status(
        "pve1/qemu/100",
        json!({"vmid": 100, "name": "web", "status": "running"}),
    );
    fake.config("pve2/qemu/101", json!({"name": "db", "protection": 1}));
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call("delete_vm", json!({"vmid": 100, "node": "pve1", "confirm_name": "web"}))),
            "GET /nodes/pve1/qemu/100/status/current: VM 100 (web) is running; it must be stopped before it can be deleted (shutdown_vm or stop_vm)"
        );
        assert_starts(&c.error("delete_vm",
            json!({"vmid": 101, "node": "pve2", "confirm_name": "db", "dry_run": true})), "GET /nodes/pve2/qemu/101/config: guest 101 has PVE's protection flag set (protection: 1)");
        // A wrong name is refused in a dry run too.
        assert!(error_text(&c.call(
            "delete_vm",
            json!({"vmid": 100, "node": "pve1", "confirm_name": "WEB", "dry_run": true})
        ))
        .starts_with("confirm_name 'WEB' is not the name of VM 100"));
    });
    fake.assert_no_writes();
}

#[test]
fn delete_container_dry_run_and_missing_guest() {
    let mut fake = FakePve::new();
    let state = json!({"vmid": 201, "name": "cache", "status": "stopped", "type": "lxc"});
    fake.get("/cluster/resources", resources());
    fake.get("/nodes/pve2/lxc/201/config", json!({"hostname": "cache"}));
    fake.get("/nodes/pve2/lxc/201/status/current", state.clone());
    fake.starts_task("DELETE", "/nodes/pve2/lxc/201");
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "delete_container",
                json!({"vmid": 201, "confirm_name": "cache", "dry_run": true})
            ),
            &json!({"data": null, "dry_run": true,
                    "request": {"method": "DELETE", "path": "/nodes/pve2/lxc/201", "params": {"destroy-unreferenced-disks": "0"}},
                    "target": state})
        );
        assert_eq!(
            error_text(&c.call("delete_container", json!({"vmid": 299, "confirm_name": "x"}))),
            "GET /cluster/resources: no guest with VMID 299 in the cluster (or the credentials lack VM.Audit on /vms/299); list_containers shows the containers"
        );
        let r = c.call(
            "delete_container",
            json!({"vmid": 201, "confirm_name": "cache"}),
        );
        assert_eq!(ok(&r)["task"], task_ok());
    });
    assert_eq!(
        fake.writes(),
        ["DELETE /nodes/pve2/lxc/201?destroy-unreferenced-disks=0"]
    );
}

#[test]
fn delete_container_failure_from_pve() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/lxc/200/config", json!({"hostname": "dns"}));
    fake.status(
        "pve1/lxc/200",
        json!({"vmid": 200, "name": "dns", "status": "stopped"}),
    );
    fake.fail(
        "DELETE",
        "/nodes/pve1/lxc/200",
        500,
        "unable to remove CT 200 - used in HA resources and purge parameter not set.",
    );
    with(&fake, "full", |c| {
        assert_eq!(
            error_text(&c.call("delete_container", json!({"vmid": 200, "node": "pve1", "confirm_name": "dns"}))),
            "DELETE /nodes/pve1/lxc/200: unable to remove CT 200 - used in HA resources and purge parameter not set."
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Access levels and annotations.

#[test]
fn access_levels_and_annotations() {
    let fake = FakePve::new();
    with(&fake, "operate", |c| {
        let names = c.tool_names();
        for tool in [
            "create_vm",
            "migrate_container",
            "update_vm_config",
            "resize_container_disk",
        ] {
            assert!(names.contains(&tool), "{tool}");
        }
        assert!(!names.contains(&"delete_vm") && !names.contains(&"delete_container"));
        assert!(
            error_text(&c.call("delete_vm", json!({"vmid": 101, "confirm_name": "db"})))
                .starts_with("delete_vm can lose data and needs access level full")
        );
    });
    with(&fake, "read-only", |c| {
        let names = c.tool_names();
        assert!(names.contains(&"get_container_config"));
        assert!(!names.contains(&"create_vm"));
        assert!(error_text(&c.call("create_vm", json!({"node": "pve1"})))
            .starts_with("create_vm changes the cluster and needs access level operate"));
    });
    with(&fake, "full", |c| {
        let tool = |name: &str| c.tools.iter().find(|t| t["name"] == name).unwrap().clone();
        assert!(hint(&tool("delete_vm"), "destructiveHint"));
        assert!(!hint(&tool("create_vm"), "destructiveHint"));
        assert!(hint(&tool("get_container_config"), "readOnlyHint"));
        let schema = &tool("update_vm_config")["inputSchema"];
        assert_eq!(schema["properties"]["set"]["type"], "object");
        assert_eq!(schema["properties"]["delete"]["items"]["type"], "string");
        assert!(tool("delete_container")["description"]
            .as_str()
            .unwrap()
            .ends_with("Needs VM.Allocate on /vms/{vmid}. Can lose data."));
    });
    fake.assert_untouched();
}

#[test]
fn more_dry_runs_send_no_write() {
    let mut fake = FakePve::new();
    let vm_state = json!({"vmid": 100, "name": "web", "status": "stopped"});
    let ct_config = json!({"hostname": "dns", "memory": 512, "digest": "abc123"});
    fake.get("/cluster/nextid", json!(102));
    fake.get("/nodes/pve1/qemu/100/status/current", vm_state.clone());
    fake.get("/nodes/pve1/qemu/100/config", vm_config());
    fake.get("/nodes/pve1/lxc/200/config", ct_config.clone());
    with(&fake, "full", |c| {
        assert_eq!(
            &c.ok(
                "clone_vm",
                json!({"vmid": 100, "node": "pve1", "name": "web-copy", "dry_run": true})
            ),
            &json!({"data": null, "dry_run": true, "newid": 102,
                    "request": {"method": "POST", "path": "/nodes/pve1/qemu/100/clone", "params": {"newid": "102", "name": "web-copy"}},
                    "target": vm_state})
        );
        assert_eq!(&c.ok("resize_vm_disk",
            json!({"vmid": 100, "node": "pve1", "disk": "scsi0", "size": "+8G", "dry_run": true})), &json!({"data": null, "dry_run": true,
                    "request": {"method": "PUT", "path": "/nodes/pve1/qemu/100/resize", "params": {"disk": "scsi0", "size": "+8G", "digest": "5e8a7b6c"}},
                    "target": {"disk": "scsi0", "volume": "local-lvm:vm-100-disk-0,iothread=1,size=32G", "size_bytes": 34359738368u64, "new_size_bytes": 42949672960u64}}));
        assert_eq!(&c.ok("delete_vm",
            json!({"vmid": 100, "node": "pve1", "confirm_name": "web", "purge": true, "dry_run": true})), &json!({"data": null, "dry_run": true,
                    "request": {"method": "DELETE", "path": "/nodes/pve1/qemu/100", "params": {"destroy-unreferenced-disks": "0", "purge": "1"}},
                    "target": vm_state}));
        assert_eq!(&c.ok("update_container_config",
            json!({"vmid": 200, "node": "pve1", "set": {"memory": 1024}, "delete": ["unused0"], "digest": "abc123", "dry_run": true})), &json!({"data": null, "dry_run": true,
                    "request": {"method": "PUT", "path": "/nodes/pve1/lxc/200/config", "params": {"memory": "1024", "delete": "unused0", "digest": "abc123"}},
                    "target": ct_config}));
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/nextid",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/status/current",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/config",
            "GET /nodes/pve1/qemu/100/status/current",
            // unused0 frees a volume: PVE's protection flag is checked first.
            "GET /nodes/pve1/lxc/200/config",
            "GET /nodes/pve1/lxc/200/config",
        ]
    );
}
