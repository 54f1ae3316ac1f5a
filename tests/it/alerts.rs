//! The alert rules against the mocked PVE: `get_alerts` over MCP, and the `alerts` command
//! (the real binary) with its monitoring-plugin exit status, its thresholds file and `--watch`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxmox_mcp_server::time::{rfc3339, unix_time};
use proxmox_mcp_server::tools::alerts::max_requests;
use serde_json::{json, Value};

use crate::support::{
    guest, read_all, resolve, run, session, spawn, texts, wait_exit, FakePve, TempDir, TOKEN,
};

const GIB: u64 = 1 << 30;
const DAY: u64 = 86_400;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn time(secs: u64) -> String {
    rfc3339(unix_time(secs).unwrap())
}

fn node(name: &str, status: &str, mem: u64) -> Value {
    json!({"id": format!("node/{name}"), "type": "node", "node": name, "status": status, "mem": mem, "maxmem": 64 * GIB})
}

fn storage(node: &str, name: &str, content: &str, used: u64, extra: Value) -> Value {
    let mut s = json!({"id": format!("storage/{node}/{name}"), "type": "storage", "node": node, "storage": name,
                       "status": "available", "content": content, "disk": used * GIB, "maxdisk": 100 * GIB, "shared": 0});
    if let (Some(s), Value::Object(extra)) = (s.as_object_mut(), extra) {
        s.extend(extra);
    }
    s
}

/// What every rule asks of a healthy node `pve1`.
fn healthy_node(fake: &mut FakePve) {
    fake.get("/nodes/pve1/tasks", json!([]))
        .get("/nodes/pve1/disks/list", json!([{"devpath": "/dev/sda", "health": "PASSED", "model": "SSD"}]))
        .get("/nodes/pve1/disks/zfs", json!([]))
        .get(
            "/nodes/pve1/certificates/info",
            json!([{"filename": "pveproxy-ssl.pem", "subject": "/CN=pve1", "notafter": now() + 200 * DAY}]),
        )
        .get("/nodes/pve1/apt/update", json!([]));
}

/// Cluster-wide answers with nothing wrong: quorate, no replication (HA and Ceph: `ha_ok`,
/// `no_ceph`).
fn healthy_cluster(fake: &mut FakePve) {
    fake.get(
        "/cluster/status",
        json!([{"type": "cluster", "name": "lab", "quorate": 1, "nodes": 2},
               {"type": "node", "name": "pve1", "online": 1}, {"type": "node", "name": "pve2", "online": 1}]),
    )
    .get("/cluster/replication", json!([]));
}

fn ha_ok(fake: &mut FakePve) {
    fake.get(
        "/cluster/ha/status/current",
        json!([{"id": "quorum", "type": "quorum", "status": "OK", "quorate": 1}]),
    );
}

fn no_ceph(fake: &mut FakePve) {
    fake.fail(
        "GET",
        "/cluster/ceph/status",
        500,
        "binary not installed: /usr/bin/ceph-mon",
    );
}

/// A cluster with a node offline, a failed backup, guests without backups, a storage above
/// the critical threshold, Ceph in HEALTH_WARN, and credentials without Sys.Modify (updates).
/// The fake and the time its answers were written for.
fn troubled() -> (FakePve, u64) {
    let t = now();
    let mut fake = FakePve::with_resources(json!([
        node("pve1", "online", 30 * GIB),
        node("pve2", "offline", 0),
        storage("pve1", "local-lvm", "images,rootdir", 91, json!({})),
        storage("pve1", "backup", "backup,iso", 10, json!({})),
        storage(
            "pve1",
            "pbs",
            "backup",
            40,
            json!({"plugintype": "pbs", "shared": 1})
        ),
        storage(
            "pve2",
            "pbs",
            "backup",
            40,
            json!({"plugintype": "pbs", "shared": 1})
        ),
        guest(
            "qemu/100",
            "web",
            "pve1",
            "running",
            json!({"tags": "prod"})
        ),
        guest("lxc/200", "dns", "pve1", "running", json!({})),
        guest("qemu/101", "db", "pve1", "running", json!({})),
        guest(
            "qemu/102",
            "scratch",
            "pve1",
            "stopped",
            json!({"tags": "lab;no-backup"})
        ),
        guest(
            "qemu/9000",
            "tmpl",
            "pve1",
            "stopped",
            json!({"template": 1})
        ),
    ]));
    healthy_cluster(&mut fake);
    ha_ok(&mut fake);
    fake.get(
        "/cluster/ceph/status",
        json!({"health": {"status": "HEALTH_WARN", "checks": {
            "OSD_DOWN": {"severity": "HEALTH_WARN", "summary": {"message": "1 osds down"}}}}}),
    );
    fake.get(
        "/nodes/pve1/tasks",
        json!([
            {"upid": "UPID:pve1:1:2:3:vzdump:101:root@pam:", "node": "pve1", "type": "vzdump", "id": "101",
             "user": "root@pam", "starttime": t - 7200, "endtime": t - 3600, "status": "job errors"},
            {"upid": "UPID:pve1:1:2:4:qmstart:100:root@pam:", "node": "pve1", "type": "qmstart", "id": "100",
             "user": "root@pam", "starttime": t - 600, "endtime": t - 590, "status": "WARNINGS: 1"},
        ]),
    );
    fake.get("/nodes/pve1/disks/list", json!([]))
        .get("/nodes/pve1/disks/zfs", json!([]))
        .get("/nodes/pve1/certificates/info", json!([]))
        .fail(
            "GET",
            "/nodes/pve1/apt/update",
            403,
            "Permission check failed (/nodes/pve1, Sys.Modify)",
        );
    fake.get(
        "/nodes/pve1/storage/backup/content",
        json!([{"volid": "backup:backup/vzdump-qemu-100.vma.zst", "vmid": 100, "ctime": t - DAY},
               {"volid": "backup:backup/vzdump-lxc-200.tar.zst", "vmid": 200, "ctime": t - 10 * DAY}]),
    );
    fake.get("/nodes/pve1/storage/pbs/content", json!([]));
    (fake, t)
}

#[test]
fn get_alerts_reports_each_problem_with_its_severity_and_next_step() {
    let (fake, t) = troubled();
    session(&fake, &[], |c| {
        let out = c.ok("get_alerts", json!({}));
        let alerts = out["data"].as_array().unwrap();
        assert_eq!(
            texts(&out["data"], "id"),
            [
                "failed_task:pve1:vzdump:101",
                "node_offline:pve2",
                "storage_usage:pve1:local-lvm",
                "backup_age:101",
                "backup_age:200",
                "ceph:OSD_DOWN",
                "unreadable:updates",
            ]
        );
        assert_eq!(
            texts(&out["data"], "severity"),
            ["critical", "critical", "critical", "warning", "warning", "warning", "info"]
        );
        assert_eq!(
            out["counts"],
            json!({"critical": 3, "warning": 3, "info": 1})
        );
        assert_eq!(
            alerts[0]["message"],
            "backup of guest 101 failed 1 time(s) on pve1 in the last 24 h; last: job errors"
        );
        assert_eq!(
            alerts[0]["next"],
            json!({"tool": "get_task_log", "arguments": {"upid": "UPID:pve1:1:2:3:vzdump:101:root@pam:"}})
        );
        assert_eq!(alerts[0]["subject"], "guest 101");
        assert_eq!(alerts[0]["since"], time(t - 3600), "the failure's end");
        assert_eq!(
            alerts[1],
            json!({"id": "node_offline:pve2", "severity": "critical", "subject": "node pve2",
                   "message": "node pve2 is offline: its guests, disks and tasks are not checked",
                   "next": {"tool": "get_cluster_status", "arguments": {}}})
        );
        assert_eq!(
            alerts[2],
            json!({"id": "storage_usage:pve1:local-lvm", "severity": "critical", "subject": "storage local-lvm on pve1",
                   "message": "storage local-lvm on pve1 is 91% full (91.0 of 100.0 GiB used; warning at 80%, critical at 90%)",
                   "next": {"tool": "get_storage_status", "arguments": {"node": "pve1", "storage": "local-lvm"}}})
        );
        assert_eq!(
            alerts[3]["message"],
            "guest 101 (db) has no backup newer than 7 days: none found on 2 backup storage(s); tag it no-backup if it needs none"
        );
        assert_eq!(
            alerts[3]["next"],
            json!({"tool": "list_backups", "arguments": {"vmid": 101}})
        );
        let message = alerts[4]["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "guest 200 (dns) has no backup newer than 7 days: the newest is from "
            ) && message.contains("(10 days old)"),
            "{message}"
        );
        assert_eq!(
            alerts[5],
            json!({"id": "ceph:OSD_DOWN", "severity": "warning", "subject": "Ceph",
                   "message": "Ceph HEALTH_WARN: OSD_DOWN: 1 osds down",
                   "next": {"tool": "get_ceph_status", "arguments": {}}})
        );
        assert_eq!(
            alerts[6],
            json!({"id": "unreadable:updates", "severity": "info", "subject": "rule updates",
                   "message": "rule updates not checked: the credentials lack Sys.Modify on /nodes/pve1 (PVE answered 403); grant it, or turn the rule off with DISABLE=updates in PROXMOX_MCP_ALERTS",
                   "next": {"tool": "get_my_permissions", "arguments": {}}})
        );
        let critical = c.ok("get_alerts", json!({"min_severity": "critical"}));
        assert_eq!(critical["data"].as_array().unwrap().len(), 3);
        assert_eq!(
            c.error("get_alerts", json!({"min_severity": "high"})),
            "invalid arguments: min_severity 'high' is not a severity; use critical, warning or info"
        );
    });
    // Offline pve2 is not asked; the shared PBS storage is read once; nothing is written.
    let lines = fake.lines();
    let first_call: Vec<&str> = lines[..12]
        .iter()
        .map(|l| l.split('?').next().unwrap())
        .collect();
    assert_eq!(
        first_call,
        [
            "GET /cluster/resources",
            "GET /cluster/status",
            "GET /cluster/ha/status/current",
            "GET /cluster/replication",
            "GET /cluster/ceph/status",
            "GET /nodes/pve1/tasks",
            "GET /nodes/pve1/disks/list",
            "GET /nodes/pve1/disks/zfs",
            "GET /nodes/pve1/certificates/info",
            "GET /nodes/pve1/apt/update",
            "GET /nodes/pve1/storage/backup/content",
            "GET /nodes/pve1/storage/pbs/content",
        ]
    );
    assert!(
        lines[5].starts_with("GET /nodes/pve1/tasks?errors=1&since="),
        "{}",
        lines[5]
    );
    assert!(lines[5].ends_with("&limit=500"), "{}", lines[5]);
    assert_eq!(
        lines[10],
        "GET /nodes/pve1/storage/backup/content?content=backup"
    );
    assert!(12 <= max_requests(2));
    fake.assert_no_writes();
}

/// The alerts command of the real binary against `fake`, with `vars` added.
fn alerts_command(fake: &FakePve, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
    cmd.env_clear();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let url = fake.url();
    let base = [
        ("PROXMOX_HOST", url.as_str()),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN),
        ("PROXMOX_CA_FILE", ca),
        ("PROXMOX_TIMEOUT", "10"),
    ];
    cmd.envs(base).envs(vars.iter().copied());
    cmd.arg("alerts").args(args);
    cmd
}

const RUN_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn the_alerts_command_exits_2_on_critical_alerts_and_prints_a_table() {
    let (fake, _) = troubled();
    let out = run(alerts_command(&fake, &[], &[]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "ALERTS CRITICAL - 3 critical, 3 warning, 1 info");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["SEVERITY", "ID", "MESSAGE"]
    );
    assert!(
        lines[2].starts_with("critical  failed_task:pve1:vzdump:101   backup of guest 101 failed"),
        "{}",
        out.stdout
    );
    assert_eq!(lines.len(), 9, "{}", out.stdout);
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));

    let json_out = run(alerts_command(&fake, &["--json"], &[]), RUN_LIMIT);
    assert_eq!(json_out.status.code(), Some(2));
    let parsed: Value = serde_json::from_str(&json_out.stdout).expect("one JSON object");
    assert_eq!(
        parsed["counts"],
        json!({"critical": 3, "warning": 3, "info": 1})
    );
    assert_eq!(parsed["data"][2]["id"], "storage_usage:pve1:local-lvm");
}

/// One healthy node; `first` is what `/cluster/resources` answers the first time, if given.
fn healthy(first: Option<Value>) -> FakePve {
    healthy_then(first.map(|f| (f, 1)), None)
}

/// `/cluster/resources` of the healthy node, its storage `local` `used` % full.
pub(crate) fn one_node(used: u64) -> Value {
    json!([
        node("pve1", "online", 20 * GIB),
        storage("pve1", "local", "backup,iso,vztmpl", used, json!({})),
        guest("qemu/100", "web", "pve1", "running", json!({})),
    ])
}

/// One healthy node: `/cluster/resources` answers `first` that many times, if given, then the
/// healthy list, or `then` when given.
pub(crate) fn healthy_then(first: Option<(Value, usize)>, then: Option<Value>) -> FakePve {
    let t = now();
    let mut fake = FakePve::new();
    if let Some((first, times)) = first {
        fake.ok_times("GET", "/cluster/resources", first, times);
    }
    fake.get("/cluster/resources", then.unwrap_or_else(|| one_node(50)));
    healthy_cluster(&mut fake);
    ha_ok(&mut fake);
    no_ceph(&mut fake);
    healthy_node(&mut fake);
    fake.get(
        "/nodes/pve1/storage/local/content",
        json!([{"volid": "local:backup/vzdump-qemu-100.vma.zst", "vmid": 100, "ctime": t - DAY}]),
    );
    fake
}

#[test]
fn a_healthy_cluster_exits_0() {
    let fake = healthy(None);
    let out = run(alerts_command(&fake, &[], &[]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "ALERTS OK - 0 critical, 0 warning, 0 info\n");
    session(&fake, &[], |c| {
        assert_eq!(
            c.ok("get_alerts", json!({})),
            json!({"data": [], "counts": {"critical": 0, "warning": 0, "info": 0}})
        );
    });
}

#[test]
fn a_rule_pve_refuses_is_one_info_alert_naming_the_privilege() {
    let mut fake = FakePve::with_resources(json!([
        node("pve1", "online", GIB),
        node("pve2", "online", GIB),
    ]));
    healthy_cluster(&mut fake);
    no_ceph(&mut fake);
    fake.fail(
        "GET",
        "/cluster/ha/status/current",
        403,
        "Permission check failed (/, Sys.Audit)",
    );
    for n in ["pve1", "pve2"] {
        fake.get(&format!("/nodes/{n}/tasks"), json!([]))
            .get(&format!("/nodes/{n}/disks/list"), json!([]))
            .get(&format!("/nodes/{n}/disks/zfs"), json!([]))
            .get(&format!("/nodes/{n}/certificates/info"), json!([]))
            .fail(
                "GET",
                &format!("/nodes/{n}/apt/update"),
                403,
                &format!("Permission check failed (/nodes/{n}, Sys.Modify)"),
            );
    }
    session(&fake, &[], |c| {
        let out = c.ok("get_alerts", json!({}));
        assert_eq!(
            texts(&out["data"], "id"),
            ["unreadable:ha_error", "unreadable:updates"]
        );
        assert_eq!(texts(&out["data"], "severity"), ["info", "info"]);
        assert_eq!(
            out["data"][1]["message"],
            "rule updates not checked: the credentials lack Sys.Modify on /nodes/pve1, Sys.Modify on /nodes/pve2 (PVE answered 403); grant it, or turn the rule off with DISABLE=updates in PROXMOX_MCP_ALERTS"
        );
    });
    // Info alone is OK for a monitoring system.
    let out = run(alerts_command(&fake, &[], &[]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout.lines().next(),
        Some("ALERTS OK - 0 critical, 0 warning, 2 info")
    );
}

#[test]
fn the_thresholds_file_changes_the_rules_and_refuses_unknown_keys() {
    let dir = TempDir::new("alerts-rules");
    let rules = dir.path("alerts.conf");
    std::fs::write(
        &rules,
        "# ours\nSTORAGE_CRITICAL=95\nDISABLE=ceph,backup_age,updates\n",
    )
    .unwrap();
    let (fake, _) = troubled();
    let path = rules.to_str().unwrap();
    session(&fake, &[("PROXMOX_MCP_ALERTS", path)], |c| {
        let out = c.ok("get_alerts", json!({}));
        assert_eq!(
            texts(&out["data"], "id"),
            [
                "failed_task:pve1:vzdump:101",
                "node_offline:pve2",
                "storage_usage:pve1:local-lvm"
            ]
        );
        assert_eq!(out["data"][2]["severity"], "warning", "91% is below 95%");
    });
    let asked = fake.lines().join("\n");
    assert!(
        !asked.contains("ceph") && !asked.contains("apt/update") && !asked.contains("/content"),
        "{asked}"
    );

    std::fs::write(&rules, "STORAGE_CRITICAL=95\nSTORAGE_CRIT=99\n").unwrap();
    let expected = format!(
        "configuration: PROXMOX_MCP_ALERTS={path} line 2: unknown key STORAGE_CRIT; the keys are STORAGE_WARNING, STORAGE_CRITICAL, NODE_MEMORY, FAILED_TASK_HOURS, BACKUP_MAX_AGE_DAYS, BACKUP_EXCLUDE_TAG, CERT_WARNING_DAYS, CERT_CRITICAL_DAYS, DISABLE"
    );
    let vars = [
        ("PROXMOX_HOST", "https://pve1"),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN),
        ("PROXMOX_MCP_ALERTS", path),
    ];
    assert_eq!(resolve(&vars).unwrap_err(), expected);
    // The alerts command could not check: 3, with the reason on stdout for the monitoring system.
    let unused = FakePve::new();
    let out = run(
        alerts_command(&unused, &[], &[("PROXMOX_MCP_ALERTS", path)]),
        RUN_LIMIT,
    );
    assert_eq!(out.status.code(), Some(3), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, format!("ALERTS UNKNOWN - {expected}\n"));
    unused.assert_untouched();
}

#[test]
fn the_alerts_command_exits_3_when_pve_cannot_be_read() {
    let mut fake = FakePve::new();
    fake.fail(
        "GET",
        "/cluster/resources",
        500,
        "cluster not ready - no quorum?",
    );
    let out = run(alerts_command(&fake, &["--json"], &[]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"error": "GET /cluster/resources: cluster not ready - no quorum?"})
    );
    let bad = run(alerts_command(&fake, &["--watch", "soon"], &[]), RUN_LIMIT);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        bad.stderr
            .contains("--watch soon: expected a number of seconds"),
        "{}",
        bad.stderr
    );
}

#[test]
fn watch_prints_the_alerts_then_only_what_changed() {
    // The first check sees local at 93 % full; later ones at 50 %.
    let fake = healthy(Some(json!([
        node("pve1", "online", 20 * GIB),
        storage("pve1", "local", "backup,iso,vztmpl", 93, json!({})),
        guest("qemu/100", "web", "pve1", "running", json!({})),
    ])));
    let mut child = spawn(
        &mut alerts_command(&fake, &["--watch", "1"], &[]),
        Stdio::null(),
    );
    let stderr = read_all(child.stderr.take().unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < 4 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        lines.push(line);
    }
    child.kill().unwrap();
    wait_exit(&mut child, Duration::from_secs(5));
    let stderr = stderr.join().unwrap();
    // Stamped lines: the time each was seen, then the text.
    let text = |i: usize| lines[i].split_once(' ').map_or("", |(_, t)| t);
    assert_eq!(
        text(0),
        "ALERTS CRITICAL - 1 critical, 0 warning, 0 info\n",
        "{lines:?}{stderr}"
    );
    assert!(
        lines[2]
            .starts_with("critical  storage_usage:pve1:local  storage local on pve1 is 93% full"),
        "{lines:?}"
    );
    assert_eq!(
        text(3),
        "- cleared storage_usage:pve1:local storage local on pve1 is 93% full (93.0 of 100.0 GiB used; warning at 80%, critical at 90%)\n",
        "{lines:?}"
    );
    let stamp = lines[3].split(' ').next().unwrap();
    assert!(stamp.len() == 20 && stamp.ends_with('Z'), "{lines:?}");
}
