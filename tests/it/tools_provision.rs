//! Provisioning in one call (`provision_vm`: clone, cloud-init, resize, start, agent IP) and
//! the bulk actions, against the mocked PVE: the requests of a whole chain in order, a failed
//! step naming what was made, a cancellation between steps, dry runs that send no write, and
//! protected guests refused before anything is sent.

use std::time::Duration;

use serde_json::{json, Value};

use crate::session::{with_session_as, Pipe};
use crate::support::{
    error_text, guest, mock_task, ok, session, with_access as with, FakePve, FULL_EXEC, UPID,
};

const CLONE: &str = "UPID:pve1:000A1B2D:01234568:6740A001:qmclone:9000:root@pam!mcp:";
const RESIZE: &str = "UPID:pve1:000A1B2E:01234569:6740A002:resize:123:root@pam!mcp:";
const START: &str = "UPID:pve1:000A1B2F:0123456A:6740A003:qmstart:123:root@pam!mcp:";
const AGENT: &str = "/nodes/pve1/qemu/123/agent/network-get-interfaces";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3 ops@example.org";

/// A cloud-init template with the guest agent on, its disk scsi0 of 8G.
#[rustfmt::skip]
fn template_config() -> Value {
    json!({"name": "debian-13", "template": 1, "agent": "enabled=1", "boot": "order=scsi0;ide2;net0",
           "scsi0": "local-lvm:base-9000-disk-0,size=8G", "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom",
           "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "memory": "2048", "digest": "8a1f"})
}

#[rustfmt::skip]
fn resources() -> Value {
    json!([
        guest("qemu/9000", "debian-13", "pve1", "stopped", json!({"template": 1})),
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest("qemu/101", "db", "pve2", "running", json!({})),
        guest("lxc/200", "dns", "pve1", "running", json!({"tags": "prod;dns"})),
    ])
}

/// PVE for a chain up to (and including) the clone: the template, the next free VMID 123.
fn template_pve() -> FakePve {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/cluster/nextid", json!(123))
        .config("pve1/qemu/9000", template_config())
        .ok("POST", "/nodes/pve1/qemu/9000/clone", json!(CLONE));
    mock_task(&mut fake, CLONE, "OK");
    fake
}

fn status(upid: &str) -> String {
    format!("GET /nodes/pve1/tasks/{upid}/status")
}

/// The arguments of a chain with every step.
fn everything() -> Value {
    json!({"template": 9000, "name": "web1", "ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1",
           "nameserver": "10.0.0.53", "searchdomain": "example.org", "sshkeys": KEY, "size": "+24G", "ip_wait": 30})
}

/// `sshkeys` as PVE wants it (percent-encoded), then form-encoded.
const KEY_ON_WIRE: &str = "ssh-ed25519%2520AAAAC3NzaC1lZDI1NTE5AAAAIB3%2520ops%2540example.org";

/// The reads every chain starts with.
const READS: [&str; 3] = [
    "GET /cluster/resources?type=vm",
    "GET /nodes/pve1/qemu/9000/config",
    "GET /cluster/nextid",
];

#[test]
fn provision_vm_runs_the_whole_chain_in_order() {
    let mut fake = template_pve();
    fake.ok("PUT", "/nodes/pve1/qemu/123/config", Value::Null)
        .ok("PUT", "/nodes/pve1/qemu/123/resize", json!(RESIZE))
        .ok("POST", "/nodes/pve1/qemu/123/status/start", json!(START));
    mock_task(&mut fake, RESIZE, "OK");
    mock_task(&mut fake, START, "OK");
    // The agent is not up at the first ask.
    let not_yet = json!({"success": 0, "status": 500, "message": "QEMU guest agent is not running\n", "data": null});
    fake.answer("GET", AGENT, 200, not_yet, Some(1));
    fake.get(AGENT, json!({"result": [
        {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
        {"name": "eth0", "hardware-address": "bc:24:11:00:00:02", "ip-addresses": [
            {"ip-address": "fe80::be24:11ff:fe00:2", "ip-address-type": "ipv6", "prefix": 64},
            {"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": 24}]}]}));
    session(&fake, FULL_EXEC, |c| {
        let data = c.ok("provision_vm", everything())["data"].clone();
        assert_eq!(data["vmid"], 123);
        assert_eq!(data["node"], "pve1");
        assert_eq!(data["ip"], "10.0.0.5");
        assert_eq!(data["ips"], json!(["10.0.0.5"]));
        let steps: Vec<&Value> = data["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["step"])
            .collect();
        assert_eq!(steps, ["clone", "cloud-init", "resize", "start", "ip"]);
        assert_eq!(data["steps"][0]["task"]["upid"], CLONE);
        assert_eq!(data["steps"][0]["task"]["exitstatus"], "OK");
        assert_eq!(
            data["steps"][1]["task"],
            Value::Null,
            "a config PUT is done at once"
        );
    });
    let mut expected: Vec<String> = READS.iter().map(|s| s.to_string()).collect();
    expected.extend([
        "POST /nodes/pve1/qemu/9000/clone newid=123&name=web1".to_string(),
        status(CLONE),
        status(CLONE),
        format!("PUT /nodes/pve1/qemu/123/config ipconfig0=ip%3D10.0.0.5%2F24%2Cgw%3D10.0.0.1&nameserver=10.0.0.53&searchdomain=example.org&sshkeys={KEY_ON_WIRE}"),
        "PUT /nodes/pve1/qemu/123/resize disk=scsi0&size=%2B24G".to_string(),
        status(RESIZE),
        status(RESIZE),
        "POST /nodes/pve1/qemu/123/status/start".to_string(),
        status(START),
        status(START),
        format!("GET {AGENT}"),
        format!("GET {AGENT}"),
    ]);
    assert_eq!(fake.lines(), expected);
}

#[test]
fn a_failed_step_is_named_with_what_was_made() {
    let mut fake = template_pve();
    fake.ok("PUT", "/nodes/pve1/qemu/123/config", Value::Null)
        .fail(
            "PUT",
            "/nodes/pve1/qemu/123/resize",
            500,
            "Could not determine current size of volume 'local-lvm:vm-123-disk-0'",
        );
    session(&fake, FULL_EXEC, |c| {
        assert_eq!(
            c.error("provision_vm", everything()),
            "step 3/5 resize failed: PUT /nodes/pve1/qemu/123/resize: Could not determine current size of volume 'local-lvm:vm-123-disk-0'; \
             made so far: VM 123 (cloned from 9000, cloud-init set) — delete it with delete_vm if unwanted"
        );
    });
    let writes = fake.writes();
    assert_eq!(writes.len(), 3, "nothing after the failed step: {writes:?}");
    assert!(writes[2].starts_with("PUT /nodes/pve1/qemu/123/resize"));
}

#[test]
fn a_failed_clone_task_made_nothing_and_a_later_failure_says_to_stop_first() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/cluster/nextid", json!(123))
        .config("pve1/qemu/9000", template_config())
        .ok("POST", "/nodes/pve1/qemu/9000/clone", json!(CLONE));
    mock_task(
        &mut fake,
        CLONE,
        "can't lock file '/var/lock/qemu-server/lock-9000.conf'",
    );
    with(&fake, "operate", |c| {
        let text = c.error("provision_vm", json!({"template": 9000, "ip_wait": 0}));
        assert!(text.starts_with("step 1/2 clone failed: POST /nodes/pve1/qemu/9000/clone: task failed: can't lock file"), "{text}");
        assert!(text.ends_with("\nmade so far: nothing"), "{text}");
    });
    let mut fake = template_pve();
    fake.ok("POST", "/nodes/pve1/qemu/123/status/start", json!(START));
    mock_task(&mut fake, START, "OK");
    fake.fail(
        "GET",
        AGENT,
        403,
        "Permission check failed (/vms/123, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted)",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            c.error("provision_vm", json!({"template": 9000})),
            format!("step 3/3 ip failed: GET {AGENT}: Permission check failed (/vms/123, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted) \
                (the credentials lack the privilege PVE names above; grant it with `pveum acl modify PATH --roles ROLE --users USER` (for a token, --tokens USER!NAME)); \
                made so far: VM 123 (cloned from 9000, started) — stop it with stop_vm and delete it with delete_vm if unwanted")
        );
    });
}

#[test]
fn provision_vm_dry_run_shows_every_request_and_sends_no_write() {
    let fake = template_pve();
    session(&fake, FULL_EXEC, |c| {
        let mut args = everything();
        args["dry_run"] = json!(true);
        args["storage"] = json!("ceph-vm");
        let out = c.ok("provision_vm", args);
        assert_eq!(out["data"], Value::Null);
        assert_eq!(out["dry_run"], true);
        assert_eq!(
            out["requests"],
            json!([
                {"step": "step 1/5 clone", "method": "POST", "path": "/nodes/pve1/qemu/9000/clone",
                 "params": {"newid": "123", "name": "web1", "full": "1", "storage": "ceph-vm"}},
                {"step": "step 2/5 cloud-init", "method": "PUT", "path": "/nodes/pve1/qemu/123/config",
                 "params": {"ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1", "nameserver": "10.0.0.53", "searchdomain": "example.org",
                            "sshkeys": "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB3%20ops%40example.org"}},
                {"step": "step 3/5 resize", "method": "PUT", "path": "/nodes/pve1/qemu/123/resize", "params": {"disk": "scsi0", "size": "+24G"}},
                {"step": "step 4/5 start", "method": "POST", "path": "/nodes/pve1/qemu/123/status/start", "params": {}},
                {"step": "step 5/5 ip", "method": "GET", "path": AGENT, "params": {}},
            ])
        );
        assert_eq!(
            out["target"],
            json!({"template": 9000, "node": "pve1", "vmid": 123, "vmid_free": true,
                                         "disk": {"disk": "scsi0", "size": "8G"}, "ip_wait_s": 30})
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), READS);
}

#[test]
fn provision_vm_refuses_before_any_write() {
    let fake = template_pve();
    with(&fake, "operate", |c| {
        // SSH keys are a login: the exec class, as update_vm_config has it.
        let text = c.error("provision_vm", json!({"template": 9000, "sshkeys": KEY}));
        assert!(
            text.starts_with(
                "provision_vm: setting 'sshkeys' puts a login into the guest through cloud-init"
            ),
            "{text}"
        );
        assert!(
            text.contains("(key class: exec)") && text.contains("PROXMOX_MCP_ALLOW_EXEC=true"),
            "{text}"
        );
        assert_eq!(
            c.error("provision_vm", json!({"template": 9000, "size": "4G", "ip_wait": 0})),
            "invalid arguments: size 4G is not larger than the template's scsi0 (8G); disks only grow: give a larger size, or +N to add N"
        );
        assert_eq!(
            c.error("provision_vm", json!({"template": 9000, "ipconfig0": "ip=10.0.0.5/24\nrm -rf /"})),
            "invalid arguments: 'ipconfig0' must be ip=CIDR or ip=dhcp, with gw=IP, ip6=CIDR|dhcp|auto, gw6=IP (comma-separated), got 'ip=10.0.0.5/24\nrm -rf /'"
        );
        assert!(c
            .error("provision_vm", json!({"template": 200}))
            .contains("VMID 200 is a container"));
        let text = c.error(
            "provision_vm",
            json!({"template": 9000, "sshkeys": "-----BEGIN OPENSSH PRIVATE KEY-----"}),
        );
        assert!(text.contains("never a private key"), "{text}");
    });
    fake.assert_no_writes();
    let mut fake = FakePve::with_resources(resources());
    let mut bare = template_config();
    bare.as_object_mut().unwrap().remove("ide2");
    bare["agent"] = json!("0");
    fake.config("pve1/qemu/9000", bare);
    with(&fake, "operate", |c| {
        let text = c.error(
            "provision_vm",
            json!({"template": 9000, "ipconfig0": "ip=dhcp"}),
        );
        assert!(text.starts_with("invalid arguments: GET /nodes/pve1/qemu/9000/config: template 9000 has no cloud-init drive"), "{text}");
        assert!(c
            .error("provision_vm", json!({"template": 9000}))
            .contains("no QEMU guest agent enabled"));
    });
    fake.assert_no_writes();
}

#[test]
fn provision_vm_never_takes_a_protected_vmid() {
    let fake = template_pve();
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "all"),
            ("PROXMOX_MCP_PROTECTED", "120-129"),
        ],
        |c| {
            let text = c.error("provision_vm", json!({"template": 9000, "ip_wait": 0}));
            assert!(text.starts_with("the next free VMID is 123: guest 123 is protected on this server (PROXMOX_MCP_PROTECTED names the range 120-129)"), "{text}");
            let text = c.error("provision_vm", json!({"template": 9000, "vmid": 125}));
            assert!(text.starts_with("guest 125 is protected"), "{text}");
        },
    );
    fake.assert_no_writes();
}

/// A session with a progress token: progress until `stop` says to cancel, then the lines
/// that follow for a while.
fn progress_until(p: &mut Pipe, stop: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = p.next();
        assert_eq!(line["method"], "notifications/progress", "{line}");
        let message = line["params"]["message"].as_str().unwrap().to_string();
        let done = message.contains(stop);
        seen.push(message);
        if done {
            return seen;
        }
    }
}

#[test]
fn progress_per_step_and_a_cancel_stops_the_chain_saying_what_was_made() {
    let mut fake = FakePve::with_resources(resources());
    fake.get("/cluster/nextid", json!(123))
        .config("pve1/qemu/9000", template_config())
        .ok("POST", "/nodes/pve1/qemu/9000/clone", json!(CLONE));
    // The clone runs on and on.
    fake.get(
        &format!("/nodes/pve1/tasks/{CLONE}/status"),
        json!({"upid": CLONE, "status": "running", "node": "pve1", "type": "qmclone", "id": "9000", "user": "root@pam!mcp", "starttime": 1732288512}),
    );
    fake.answer("GET", &format!("/nodes/pve1/tasks/{CLONE}/log"), 200, json!({"success": 1, "total": 1, "data": [{"n": 1, "t": "create full clone of drive scsi0"}]}), None);
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "all"),
    ];
    with_session_as(&fake, "2025-11-25", &settings, |p| {
        let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "provision_vm", "arguments": {"template": 9000, "ip_wait": 0, "wait_seconds": 600},
            "_meta": {"progressToken": "prov"}}});
        p.send(call);
        let seen = progress_until(p, "qmclone 9000: running");
        assert_eq!(seen[0], "step 1/2 clone: POST /nodes/pve1/qemu/9000/clone");
        p.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}));
        let seen = progress_until(p, "cancelled");
        assert_eq!(
            seen.last().unwrap(),
            &format!("provision_vm cancelled at step 1/2 clone; nothing more is sent; made so far: VM 123 may exist: its clone task {CLONE} was started (get_task_status shows it) — delete it with delete_vm if unwanted")
        );
        p.send(json!({"jsonrpc": "2.0", "id": 8, "method": "ping"}));
        assert_eq!(
            p.next(),
            json!({"jsonrpc": "2.0", "id": 8, "result": {}}),
            "no answer to the cancelled call"
        );
        p.quiet(Duration::from_millis(300));
    });
    assert_eq!(
        fake.writes(),
        ["POST /nodes/pve1/qemu/9000/clone newid=123"]
    );
}

// ---------------------------------------------------------------------------------------------
// Bulk actions.

fn bulk_pve(action: &str) -> FakePve {
    let mut fake = FakePve::with_resources(resources());
    fake.starts_task("POST", &format!("/cluster/bulk-action/guest/{action}"));
    fake
}

fn polled_after(first: &[&str]) -> Vec<String> {
    crate::support::polled(first)
}

#[test]
fn bulk_start_shutdown_and_migrate_send_one_request_for_the_listed_guests() {
    let fake = bulk_pve("start");
    with(&fake, "operate", |c| {
        let out = c.ok(
            "bulk_start_guests",
            json!({"vms": [200, 100, 100], "timeout": 60}),
        );
        assert_eq!(out["data"], UPID);
        assert_eq!(out["task"]["exitstatus"], "OK");
        assert_eq!(
            out["guests"],
            json!([
                {"vmid": 100, "type": "qemu", "node": "pve1", "name": "web", "status": "running"},
                {"vmid": 200, "type": "lxc", "node": "pve1", "name": "dns", "status": "running"},
            ])
        );
    });
    assert_eq!(
        fake.lines(),
        polled_after(&[
            "GET /cluster/resources?type=vm",
            "POST /cluster/bulk-action/guest/start vms=100&vms=200&timeout=60"
        ])
    );

    let fake = bulk_pve("shutdown");
    with(&fake, "operate", |c| {
        ok(&c.call(
            "bulk_shutdown_guests",
            json!({"vms": 101, "max-workers": 2}),
        ));
        ok(&c.call(
            "bulk_shutdown_guests",
            json!({"vms": [101], "force_stop": true, "timeout": 300, "wait_seconds": 0}),
        ));
    });
    let writes = fake.writes();
    assert_eq!(
        writes,
        [
            // PVE would hard-stop after the timeout by default: only when asked.
            "POST /cluster/bulk-action/guest/shutdown vms=101&force-stop=0&max-workers=2",
            "POST /cluster/bulk-action/guest/shutdown vms=101&force-stop=1&timeout=300",
        ]
    );

    let fake = bulk_pve("migrate");
    with(&fake, "operate", |c| {
        ok(&c.call(
            "bulk_migrate_guests",
            json!({"vms": [100, 200], "target": "pve2", "online": true}),
        ));
        assert_eq!(
            c.error(
                "bulk_migrate_guests",
                json!({"vms": [100, 101], "target": "pve2"})
            ),
            "invalid arguments: guests 101 are already on pve2; leave them out of vms"
        );
        let out = c.ok(
            "bulk_migrate_guests",
            json!({"vms": [100, 200], "target": "pve2", "dry_run": true}),
        );
        assert_eq!(
            out["request"]["params"],
            json!({"vms": ["100", "200"], "target": "pve2"})
        );
    });
    assert_eq!(
        fake.writes(),
        ["POST /cluster/bulk-action/guest/migrate vms=100&vms=200&target=pve2&online=1"]
    );
}

#[test]
fn bulk_refuses_protected_and_unknown_guests_before_sending_anything() {
    let fake = bulk_pve("shutdown");
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_PROTECTED", "101,tag:prod"),
    ];
    session(&fake, &settings, |c| {
        let text = c.error("bulk_shutdown_guests", json!({"vms": [100, 101, 200]}));
        assert!(text.starts_with("bulk_shutdown_guests: refused, nothing was sent: protected guests in vms: 101, 200 (guest 101 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 101)"), "{text}");
        assert!(text.ends_with("; leave them out of vms"), "{text}");
        assert_eq!(
            c.error("bulk_start_guests", json!({"vms": [100, 555, 556]})),
            "GET /cluster/resources: no guest with VMID 555, 556 in the cluster (or the credentials lack VM.Audit on it); nothing was sent. list_vms and list_containers show the guests"
        );
        // A dry run shows the request and the guests, and sends nothing.
        let out = c.ok(
            "bulk_shutdown_guests",
            json!({"vms": [100], "dry_run": true}),
        );
        assert_eq!(
            out["request"],
            json!({"method": "POST", "path": "/cluster/bulk-action/guest/shutdown", "params": {"vms": "100", "force-stop": "0"}})
        );
        assert_eq!(out["target"]["guests"][0]["status"], "running");
    });
    fake.assert_no_writes();
}

#[test]
fn the_bulk_tools_are_in_the_vms_and_containers_toolsets() {
    let fake = FakePve::new();
    for toolset in ["vms", "containers", "provisioning"] {
        session(
            &fake,
            &[
                ("PROXMOX_MCP_ACCESS", "operate"),
                ("PROXMOX_MCP_TOOLS", toolset),
            ],
            |c| {
                let names = c.tool_names();
                for tool in [
                    "bulk_start_guests",
                    "bulk_shutdown_guests",
                    "bulk_migrate_guests",
                ] {
                    assert!(names.contains(&tool), "{toolset}: {tool}");
                }
                assert_eq!(
                    names.contains(&"provision_vm"),
                    toolset != "containers",
                    "{toolset}"
                );
            },
        );
    }
    session(&fake, &[("PROXMOX_MCP_ACCESS", "operate")], |c| {
        assert!(
            !c.tool_names()
                .iter()
                .any(|n| n.starts_with("bulk_") || *n == "provision_vm"),
            "not in the default set"
        );
    });
    fake.assert_untouched();
}

#[test]
fn bulk_errors_keep_pve_s_words() {
    let mut fake = FakePve::with_resources(resources());
    fake.fail(
        "POST",
        "/cluster/bulk-action/guest/start",
        403,
        "Permission check failed (/, VM.PowerMgmt)",
    );
    with(&fake, "operate", |c| {
        let text = error_text(&c.call("bulk_start_guests", json!({"vms": [100]}))).to_string();
        assert!(
            text.starts_with(
                "POST /cluster/bulk-action/guest/start: Permission check failed (/, VM.PowerMgmt)"
            ),
            "{text}"
        );
    });
}
