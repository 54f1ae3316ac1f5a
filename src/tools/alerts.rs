//! The alert engine: every rule of `crate::alerts::RULES` evaluated against PVE in one pass
//! (`evaluate`), and the `get_alerts` tool that shows the result. A rule whose data the
//! credentials cannot read becomes one `info` alert naming the privilege; any other failure
//! of a rule one `warning`; only an unreadable `/cluster/resources` fails the whole call.
//! The requests one evaluation sends are bounded (`max_requests`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::alerts::{counts, sort, Alert, Rules, Severity};
use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, path, Pve};

use super::health::{
    ceph_summary, node_get, replication_jobs, replication_states, zfs_pool, DISKS, UPDATES, ZFS,
};
use super::list::{number, text};
use super::table::{f, Args, Content, Ctx, Kind, Mark, Output, Param, Tool, Ty};

/// Requests every evaluation may send once: `/cluster/resources`, `/cluster/status`,
/// `/cluster/ha/status/current`, `/cluster/replication`, `/cluster/ceph/status`.
pub const CLUSTER_REQUESTS: usize = 5;
/// Requests per online node: its failed tasks, disks, ZFS pools, certificates, pending updates
/// and replication state, plus the details of up to `MAX_POOL_DETAILS` ONLINE pools.
pub const NODE_REQUESTS: usize = 6 + MAX_POOL_DETAILS;
/// ONLINE ZFS pools per node whose errors are read (`GET /nodes/{node}/disks/zfs/{name}`).
pub const MAX_POOL_DETAILS: usize = 4;
/// Backup storages whose contents are read (one request each); with more, the backup rule
/// reports that it did not check rather than raise alerts it cannot be sure of.
pub const MAX_BACKUP_STORAGES: usize = 16;

/// The most PVE requests one evaluation sends to a cluster of `nodes` nodes (a password
/// login's ticket request aside).
pub const fn max_requests(nodes: usize) -> usize {
    CLUSTER_REQUESTS + nodes * NODE_REQUESTS + MAX_BACKUP_STORAGES
}

#[rustfmt::skip]
const MIN_SEVERITY: Param = Param::opt("min_severity", Kind::Text { max: 8 }, "critical, warning or info (default: all)");

pub(super) static TOOLS: &[Tool] = &[Tool {
    name: "get_alerts",
    title: "Alerts",
    description: "Evaluates every alert rule (nodes, quorum, storage, memory, failed tasks, backup age, HA, replication, ZFS, SMART, Ceph, certificates, updates) and returns the alerts, most severe first.",
    privilege: "Sys.Audit on / (a rule it cannot read is an info alert)",
    effect: Effect::Read,
    area: Area::Health,
    params: &[&MIN_SEVERITY],
    output: Output::array(&[f("id", Ty::Str, "rule:subject, stable"), f("severity", Ty::Str, "critical, warning or info"), f("subject", Ty::Str, ""), f("message", Ty::Str, "what is wrong, with numbers"), f("since", Ty::Str, "RFC 3339, where PVE says"), f("next", Ty::Obj, "tool and arguments to look closer")]).with(&[f("counts", Ty::Obj, "alerts per severity")]),
    idempotent: true,
    marks: &[Mark::Everyday],
    run: get_alerts,
}];

fn get_alerts(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let min = match args.str("min_severity") {
        None => Severity::Info,
        Some(s) => Severity::parse(s).ok_or_else(|| {
            Error::Args(format!(
                "min_severity '{s}' is not a severity; use critical, warning or info"
            ))
        })?,
    };
    let mut alerts = evaluate(ctx.pve, &ctx.policy.alerts, SystemTime::now())?;
    alerts.retain(|a| a.severity >= min);
    let mut out = Content::new();
    out.insert(
        "data".into(),
        Value::Array(alerts.iter().map(Alert::to_json).collect()),
    );
    out.insert("counts".into(), counts(&alerts));
    Ok(out)
}

/// Evaluates every rule `rules` leaves on against the cluster, as of `now`: the alerts, most
/// severe first. Fails only when `/cluster/resources`, which every rule starts from, cannot be
/// read.
pub fn evaluate(pve: &Pve, rules: &Rules, now: SystemTime) -> Result<Vec<Alert>, Error> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let resources = pve.get("/cluster/resources", &[])?;
    let items: Vec<&Value> = resources.as_array().into_iter().flatten().collect();
    let of = |kind: &str| -> Vec<&Value> {
        items
            .iter()
            .copied()
            .filter(|r| text(r, "type") == kind)
            .collect()
    };
    let mut nodes = of("node");
    nodes.sort_by(|a, b| text(a, "node").cmp(text(b, "node")));
    let online: Vec<&str> = nodes
        .iter()
        .filter(|n| text(n, "status") == "online")
        .map(|n| text(n, "node"))
        .collect();
    let mut run = Run {
        pve,
        rules,
        now,
        alerts: Vec::new(),
        denied: BTreeMap::new(),
        failed: BTreeMap::new(),
    };
    run.nodes(&nodes);
    run.quorum();
    run.storage(&of("storage"));
    run.ha();
    run.replication(&resources);
    run.ceph();
    for node in &online {
        run.failed_tasks(node);
        run.disks(node);
        run.zfs(node);
        run.certificates(node);
        run.updates(node);
    }
    let guests: Vec<&Value> = items
        .iter()
        .copied()
        .filter(|r| matches!(text(r, "type"), "qemu" | "lxc"))
        .collect();
    run.backups(&of("storage"), &guests, &online);
    Ok(run.finish())
}

/// One evaluation: the alerts so far, and the rules PVE refused (403) or failed.
struct Run<'a> {
    pve: &'a Pve,
    rules: &'a Rules,
    now: u64,
    alerts: Vec<Alert>,
    /// Rule → the privileges (`Sys.Modify on /nodes/pve1`) PVE said are missing.
    denied: BTreeMap<&'static str, Vec<String>>,
    /// Rule → what failed, and the arguments of its `next` tool.
    failed: BTreeMap<&'static str, Vec<(String, Value)>>,
}

/// The tool that looks at a rule's data, for an alert saying the rule could not be checked.
fn rule_tool(rule: &str) -> &'static str {
    match rule {
        "node_offline" | "quorum" => "get_cluster_status",
        "node_memory" => "get_node_status",
        "storage_usage" | "backup_age" => "list_storage",
        "failed_task" => "list_tasks",
        "ha_error" => "get_ha_status",
        "replication" => "list_replication_jobs",
        "zfs_pool" => "list_zfs_pools",
        "smart" => "list_node_disks",
        "ceph" => "get_ceph_status",
        "certificate" => "list_node_certificates",
        _ => "list_node_updates",
    }
}

/// `Sys.Modify on /nodes/pve1` from PVE's "Permission check failed (/nodes/pve1, Sys.Modify)".
fn missing_privilege(message: &str) -> Option<String> {
    let inner = message.split_once('(')?.1.split_once(')')?.0;
    let (path, privilege) = inner.split_once(", ")?;
    Some(format!("{} on {}", privilege.trim(), path.trim()))
}

impl Run<'_> {
    fn push(
        &mut self,
        id: String,
        severity: Severity,
        subject: String,
        message: String,
        next: (&'static str, Value),
    ) {
        self.alerts.push(Alert {
            id,
            severity,
            subject,
            message,
            since: None,
            tool: next.0,
            arguments: next.1,
        });
    }

    /// The answer, or None after noting why `rule` could not read it (`node`: where).
    fn read(
        &mut self,
        rule: &'static str,
        node: Option<&str>,
        answer: Result<Value, Error>,
    ) -> Option<Value> {
        match answer {
            Ok(v) => Some(v),
            Err(e) => {
                self.note(rule, node, e);
                None
            }
        }
    }

    fn note(&mut self, rule: &'static str, node: Option<&str>, e: Error) {
        match &e {
            Error::Api {
                status: 403,
                message,
                ..
            } => {
                let privilege = missing_privilege(message)
                    .unwrap_or_else(|| format!("the privilege of {}", rule_tool(rule)));
                let list = self.denied.entry(rule).or_default();
                if !list.contains(&privilege) {
                    list.push(privilege);
                }
            }
            _ => {
                let args = node.map_or(json!({}), |n| json!({"node": n}));
                self.failed
                    .entry(rule)
                    .or_default()
                    .push((e.to_string(), args));
            }
        }
    }

    /// The alerts, with one per rule that could not be read, most severe first.
    fn finish(mut self) -> Vec<Alert> {
        for (rule, privileges) in std::mem::take(&mut self.denied) {
            let message = format!(
                "rule {rule} not checked: the credentials lack {} (PVE answered 403); grant it, or turn the rule off with DISABLE={rule} in PROXMOX_MCP_ALERTS",
                privileges.join(", ")
            );
            self.push(
                format!("unreadable:{rule}"),
                Severity::Info,
                format!("rule {rule}"),
                message,
                ("get_my_permissions", json!({})),
            );
        }
        for (rule, failures) in std::mem::take(&mut self.failed) {
            let texts: Vec<&str> = failures.iter().map(|(t, _)| t.as_str()).collect();
            let message = format!("rule {rule} could not be checked: {}", texts.join("; "));
            let args = failures[0].1.clone();
            self.push(
                format!("check_failed:{rule}"),
                Severity::Warning,
                format!("rule {rule}"),
                message,
                (rule_tool(rule), args),
            );
        }
        sort(&mut self.alerts);
        self.alerts
    }

    fn nodes(&mut self, nodes: &[&Value]) {
        for n in nodes {
            let name = text(n, "node");
            let status = text(n, "status");
            if status != "online" && self.rules.on("node_offline") {
                self.push(
                    format!("node_offline:{name}"),
                    Severity::Critical,
                    format!("node {name}"),
                    format!("node {name} is {status}: its guests, disks and tasks are not checked"),
                    ("get_cluster_status", json!({})),
                );
            }
            let (mem, max) = (number(n, "mem"), number(n, "maxmem"));
            if status == "online" && max > 0.0 && self.rules.on("node_memory") {
                let pct = mem / max * 100.0;
                if pct >= f64::from(self.rules.node_memory) {
                    let message = format!(
                        "node {name} uses {pct:.0}% of its memory ({} of {} GiB; the threshold is {}%)",
                        gib(mem),
                        gib(max),
                        self.rules.node_memory
                    );
                    self.push(
                        format!("node_memory:{name}"),
                        Severity::Warning,
                        format!("node {name}"),
                        message,
                        ("get_node_status", json!({"node": name})),
                    );
                }
            }
        }
    }

    fn quorum(&mut self) {
        if !self.rules.on("quorum") {
            return;
        }
        let answer = self.pve.get("/cluster/status", &[]);
        let Some(status) = self.read("quorum", None, answer) else {
            return;
        };
        let entries: Vec<&Value> = status.as_array().into_iter().flatten().collect();
        let Some(cluster) = entries.iter().find(|e| text(e, "type") == "cluster") else {
            return; // A single node, no cluster: nothing to lose.
        };
        if cluster.get("quorate").and_then(as_u64) == Some(0) {
            let members = entries.iter().filter(|e| text(e, "type") == "node");
            let (total, up) = members.fold((0, 0), |(t, u), e| {
                (
                    t + 1,
                    u + usize::from(e.get("online").and_then(as_u64) == Some(1)),
                )
            });
            let name = text(cluster, "name");
            let message = format!(
                "cluster {name} has lost quorum ({up} of {total} nodes online): guests cannot be started or changed until it is back"
            );
            self.push(
                format!("quorum:{name}"),
                Severity::Critical,
                format!("cluster {name}"),
                message,
                ("get_cluster_status", json!({})),
            );
        }
    }

    fn storage(&mut self, storages: &[&Value]) {
        if !self.rules.on("storage_usage") {
            return;
        }
        // A shared storage is listed once per node: checked once, on the first node by name.
        let mut seen: Vec<&str> = Vec::new();
        let mut sorted = storages.to_vec();
        sorted.sort_by(|a, b| text(a, "node").cmp(text(b, "node")));
        for s in sorted {
            let (name, node) = (text(s, "storage"), text(s, "node"));
            if text(s, "status") != "available" {
                continue;
            }
            if s.get("shared").and_then(as_u64) == Some(1) {
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name);
            }
            let (used, total) = (number(s, "disk"), number(s, "maxdisk"));
            if total <= 0.0 {
                continue;
            }
            let pct = used / total * 100.0;
            let severity = if pct >= f64::from(self.rules.storage_critical) {
                Severity::Critical
            } else if pct >= f64::from(self.rules.storage_warning) {
                Severity::Warning
            } else {
                continue;
            };
            let message = format!(
                "storage {name} on {node} is {pct:.0}% full ({} of {} GiB used; warning at {}%, critical at {}%)",
                gib(used),
                gib(total),
                self.rules.storage_warning,
                self.rules.storage_critical
            );
            self.push(
                format!("storage_usage:{node}:{name}"),
                severity,
                format!("storage {name} on {node}"),
                message,
                ("get_storage_status", json!({"node": node, "storage": name})),
            );
        }
    }

    fn ha(&mut self) {
        if !self.rules.on("ha_error") {
            return;
        }
        let answer = self.pve.get("/cluster/ha/status/current", &[]);
        let Some(status) = self.read("ha_error", None, answer) else {
            return;
        };
        for e in status.as_array().into_iter().flatten() {
            let state = text(e, "state");
            if text(e, "type") != "service" || !matches!(state, "error" | "fence") {
                continue;
            }
            let (sid, node) = (text(e, "sid"), text(e, "node"));
            let detail = match text(e, "status") {
                "" => String::new(),
                s => format!(" ({s})"),
            };
            self.push(
                format!("ha_error:{sid}"),
                Severity::Critical,
                format!("HA resource {sid}"),
                format!("HA resource {sid} on {node} is in state {state}{detail}"),
                ("get_ha_status", json!({})),
            );
        }
    }

    fn replication(&mut self, resources: &Value) {
        if !self.rules.on("replication") {
            return;
        }
        let answer = replication_jobs(self.pve, || Ok(resources.clone()));
        let mut jobs = match answer {
            Ok(jobs) => jobs,
            Err(e) => return self.note("replication", None, e),
        };
        for (node, e) in replication_states(self.pve, &mut jobs) {
            self.note("replication", Some(&node), e);
        }
        for job in &jobs {
            let fails = job.get("fail_count").and_then(as_u64).unwrap_or(0);
            let error = text(job, "error");
            if fails == 0 && error.is_empty() {
                continue;
            }
            let (id, node) = (text(job, "id"), text(job, "node"));
            let guest = job.get("guest").and_then(as_u64).unwrap_or(0);
            let last = match job.get("last_sync").and_then(as_u64) {
                Some(t) if t > 0 => format!("last sync {}", time(t)),
                _ => "never synced".into(),
            };
            let message = format!(
                "replication job {id} (guest {guest}, {node} → {}) failed {fails} time(s), {last}: {}",
                text(job, "target"),
                if error.is_empty() { "no error text" } else { error }
            );
            self.push(
                format!("replication:{id}"),
                Severity::Warning,
                format!("job {id}"),
                message,
                ("list_replication_jobs", json!({"node": node})),
            );
        }
    }

    fn ceph(&mut self) {
        if !self.rules.on("ceph") {
            return;
        }
        let answer = ceph_summary(self.pve);
        let Some(status) = self.read("ceph", None, answer) else {
            return;
        };
        let health = text(&status, "health");
        if status["configured"] == json!(false) || !matches!(health, "HEALTH_WARN" | "HEALTH_ERR") {
            return;
        }
        let severity = |s: &str| match s {
            "HEALTH_ERR" => Severity::Critical,
            _ => Severity::Warning,
        };
        let checks: Vec<&Value> = status["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["muted"] != json!(true))
            .collect();
        if checks.is_empty() {
            self.push(
                "ceph:health".into(),
                severity(health),
                "Ceph".into(),
                format!("Ceph reports {health}"),
                ("get_ceph_status", json!({})),
            );
        }
        for c in checks {
            let name = text(c, "name");
            self.push(
                format!("ceph:{name}"),
                severity(text(c, "severity")),
                "Ceph".into(),
                format!(
                    "Ceph {}: {name}: {}",
                    text(c, "severity"),
                    text(c, "message")
                ),
                ("get_ceph_status", json!({})),
            );
        }
    }

    fn failed_tasks(&mut self, node: &str) {
        if !self.rules.on("failed_task") {
            return;
        }
        let hours = self.rules.failed_task_hours;
        let since = self.now.saturating_sub(hours * 3600);
        let params = [
            ("errors", "1".to_string()),
            ("since", since.to_string()),
            ("limit", "500".to_string()),
        ];
        let answer = self.pve.get(&path(&[&"nodes", &node, &"tasks"]), &params);
        let Some(tasks) = self.read("failed_task", Some(node), answer) else {
            return;
        };
        // Grouped by what failed (type and guest), so the id stays while failures repeat.
        let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
        for t in tasks.as_array().into_iter().flatten() {
            let status = text(t, "status");
            let ended = t.get("endtime").and_then(as_u64).unwrap_or(0);
            if status.is_empty()
                || status == "OK"
                || status.starts_with("WARNINGS")
                || ended < since
            {
                continue;
            }
            let key = (text(t, "type").to_string(), text(t, "id").to_string());
            groups.entry(key).or_default().push(t);
        }
        for ((kind, id), list) in groups {
            let latest = list
                .iter()
                .max_by_key(|t| t.get("endtime").and_then(as_u64).unwrap_or(0))
                .copied()
                .unwrap_or(&Value::Null);
            let first = list
                .iter()
                .filter_map(|t| t.get("endtime").and_then(as_u64))
                .min();
            let backup = kind == "vzdump";
            let what = match (backup, id.as_str()) {
                (true, "") => "backup".to_string(),
                (true, id) => format!("backup of guest {id}"),
                (false, "") => format!("task {kind}"),
                (false, id) => format!("task {kind} {id}"),
            };
            let message = format!(
                "{what} failed {} time(s) on {node} in the last {hours} h; last: {}",
                list.len(),
                text(latest, "status")
            );
            self.alerts.push(Alert {
                id: format!("failed_task:{node}:{kind}:{id}"),
                severity: if backup {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                subject: match id.as_str() {
                    "" => format!("node {node}"),
                    id => format!("guest {id}"),
                },
                message,
                since: first,
                tool: "get_task_log",
                arguments: json!({"upid": text(latest, "upid")}),
            });
        }
    }

    fn disks(&mut self, node: &str) {
        if !self.rules.on("smart") {
            return;
        }
        let answer = node_get(self.pve, node, DISKS);
        let Some(disks) = self.read("smart", Some(node), answer) else {
            return;
        };
        for d in disks.as_array().into_iter().flatten() {
            if text(d, "health") != "FAILED" {
                continue;
            }
            let dev = text(d, "devpath");
            let message = format!(
                "disk {dev} ({} {}, serial {}) on {node} fails its SMART health check",
                text(d, "vendor"),
                text(d, "model"),
                text(d, "serial")
            )
            .replace("( ", "(");
            self.push(
                format!("smart:{node}:{dev}"),
                Severity::Critical,
                format!("disk {dev} on {node}"),
                message,
                ("get_disk_smart", json!({"node": node, "disk": dev})),
            );
        }
    }

    fn zfs(&mut self, node: &str) {
        if !self.rules.on("zfs_pool") {
            return;
        }
        let pools = match node_get(self.pve, node, ZFS) {
            Ok(p) => p,
            // No ZFS on this node: nothing to check.
            Err(Error::Api { message, .. }) if message.contains("not installed") => return,
            Err(e) => return self.note("zfs_pool", Some(node), e),
        };
        let mut details = 0;
        for p in pools.as_array().into_iter().flatten() {
            let (name, health) = (text(p, "name"), text(p, "health"));
            let next = ("get_zfs_pool", json!({"node": node, "name": name}));
            let id = format!("zfs_pool:{node}:{name}");
            let subject = format!("ZFS pool {name} on {node}");
            if health != "ONLINE" {
                let severity = if health == "DEGRADED" {
                    Severity::Warning
                } else {
                    Severity::Critical
                };
                let message = format!("ZFS pool {name} on {node} is {health}");
                self.push(id, severity, subject, message, next);
                continue;
            }
            if details == MAX_POOL_DETAILS {
                continue;
            }
            details += 1;
            let answer = zfs_pool(self.pve, node, name);
            let Some(pool) = self.read("zfs_pool", Some(node), answer) else {
                continue;
            };
            let errors = text(&pool, "errors");
            let (read, write, cksum) = vdev_errors(&pool["children"]);
            let data_errors = !errors.is_empty() && !errors.starts_with("No known data errors");
            if data_errors || read + write + cksum > 0 {
                let message = format!(
                    "ZFS pool {name} on {node} is ONLINE but reports errors: {read} read, {write} write, {cksum} checksum on its devices; {}",
                    if errors.is_empty() { "no data error text" } else { errors }
                );
                self.push(id, Severity::Warning, subject, message, next);
            }
        }
    }

    fn certificates(&mut self, node: &str) {
        if !self.rules.on("certificate") {
            return;
        }
        let answer = node_get(self.pve, node, &["certificates", "info"]);
        let Some(certs) = self.read("certificate", Some(node), answer) else {
            return;
        };
        for c in certs.as_array().into_iter().flatten() {
            let Some(notafter) = c.get("notafter").and_then(as_u64) else {
                continue;
            };
            let left = (notafter as i64 - self.now as i64).div_euclid(86_400);
            let severity = if left <= self.rules.cert_critical_days as i64 {
                Severity::Critical
            } else if left <= self.rules.cert_warning_days as i64 {
                Severity::Warning
            } else {
                continue;
            };
            let file = text(c, "filename");
            let when = if notafter <= self.now {
                format!("expired on {}", time(notafter))
            } else {
                format!("expires on {} (in {left} days)", time(notafter))
            };
            self.push(
                format!("certificate:{node}:{file}"),
                severity,
                format!("certificate {file} on {node}"),
                format!(
                    "certificate {file} on {node} ({}) {when}",
                    text(c, "subject")
                ),
                ("list_node_certificates", json!({"node": node})),
            );
        }
    }

    fn updates(&mut self, node: &str) {
        if !self.rules.on("updates") {
            return;
        }
        let answer = node_get(self.pve, node, UPDATES);
        let Some(list) = self.read("updates", Some(node), answer) else {
            return;
        };
        let packages: Vec<&Value> = list.as_array().into_iter().flatten().collect();
        if packages.is_empty() {
            return;
        }
        let proxmox = packages
            .iter()
            .filter(|p| text(p, "Origin") == "Proxmox")
            .count();
        self.push(
            format!("updates:{node}"),
            Severity::Info,
            format!("node {node}"),
            format!(
                "{} package update(s) pending on {node} ({proxmox} from Proxmox), as of PVE's last apt update",
                packages.len()
            ),
            ("list_node_updates", json!({"node": node})),
        );
    }

    /// Guests without a backup newer than `backup_max_age_days` on any backup storage (PBS
    /// included), templates and guests tagged `backup_exclude_tag` aside.
    fn backups(&mut self, storages: &[&Value], guests: &[&Value], online: &[&str]) {
        if !self.rules.on("backup_age") {
            return;
        }
        // Each backup storage once: a shared one on the first online node that has it.
        let mut targets: Vec<(&str, &str)> = Vec::new();
        for s in storages {
            let (name, node) = (text(s, "storage"), text(s, "node"));
            let holds_backups = text(s, "content").split(',').any(|c| c == "backup")
                || text(s, "plugintype") == "pbs";
            if !holds_backups || text(s, "status") != "available" || !online.contains(&node) {
                continue;
            }
            let shared = s.get("shared").and_then(as_u64) == Some(1);
            if shared && targets.iter().any(|(_, n)| *n == name) {
                continue;
            }
            targets.push((node, name));
        }
        targets.sort();
        if targets.len() > MAX_BACKUP_STORAGES {
            let message = format!(
                "rule backup_age not checked: {} backup storages, more than the {MAX_BACKUP_STORAGES} one check reads",
                targets.len()
            );
            self.push(
                "unchecked:backup_age".into(),
                Severity::Info,
                "rule backup_age".into(),
                message,
                ("list_backups", json!({})),
            );
            return;
        }
        let mut newest: BTreeMap<u64, u64> = BTreeMap::new();
        let mut complete = true;
        for (node, storage) in &targets {
            let content = path(&[&"nodes", node, &"storage", storage, &"content"]);
            let answer = self.pve.get(&content, &[("content", "backup".to_string())]);
            let Some(list) = self.read("backup_age", Some(node), answer) else {
                complete = false;
                continue;
            };
            for b in list.as_array().into_iter().flatten() {
                let (Some(vmid), Some(ctime)) = (
                    b.get("vmid").and_then(as_u64),
                    b.get("ctime").and_then(as_u64),
                ) else {
                    continue;
                };
                let t = newest.entry(vmid).or_default();
                *t = (*t).max(ctime);
            }
        }
        // A storage that could not be read may hold the backups: no guess about any guest.
        if !complete {
            return;
        }
        let days = self.rules.backup_max_age_days;
        let limit = self.now.saturating_sub(days * 86_400);
        let tag = &self.rules.backup_exclude_tag;
        for g in guests {
            let excluded = text(g, "tags")
                .split([';', ',', ' '])
                .any(|t| t.eq_ignore_ascii_case(tag));
            let template = g.get("template").and_then(as_u64) == Some(1);
            let Some(vmid) = g.get("vmid").and_then(as_u64) else {
                continue;
            };
            let last = newest.get(&vmid).copied();
            if excluded || template || last.is_some_and(|t| t >= limit) {
                continue;
            }
            let name = text(g, "name");
            let found = match last {
                Some(t) => format!(
                    "the newest is from {} ({} days old)",
                    time(t),
                    (self.now.saturating_sub(t)) / 86_400
                ),
                None if targets.is_empty() => "there is no backup storage".to_string(),
                None => format!("none found on {} backup storage(s)", targets.len()),
            };
            let message = format!(
                "guest {vmid} ({name}) has no backup newer than {days} days: {found}; tag it {tag} if it needs none"
            );
            self.push(
                format!("backup_age:{vmid}"),
                Severity::Warning,
                format!("guest {vmid} ({name})"),
                message,
                ("list_backups", json!({"vmid": vmid})),
            );
        }
    }
}

/// The read, write and checksum error counts of a pool's devices, summed over the tree.
fn vdev_errors(children: &Value) -> (u64, u64, u64) {
    children
        .as_array()
        .into_iter()
        .flatten()
        .fold((0, 0, 0), |(r, w, c), v| {
            let n = |k: &str| v.get(k).and_then(as_u64).unwrap_or(0);
            let (cr, cw, cc) = vdev_errors(&v["children"]);
            (r + n("read") + cr, w + n("write") + cw, c + n("cksum") + cc)
        })
}

fn gib(bytes: f64) -> String {
    format!("{:.1}", bytes / 1_073_741_824.0)
}

fn time(secs: u64) -> String {
    crate::time::unix_time(secs)
        .map(crate::time::rfc3339)
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_from_pves_refusals() {
        assert_eq!(
            missing_privilege("Permission check failed (/nodes/pve1, Sys.Modify)\n").as_deref(),
            Some("Sys.Modify on /nodes/pve1")
        );
        assert_eq!(missing_privilege("Permission check failed"), None);
        assert_eq!(max_requests(3), 5 + 3 * 10 + 16);
    }

    #[test]
    fn vdev_errors_add_up_over_the_tree() {
        let tree = json!([{"name": "mirror-0", "read": 0, "write": 0, "cksum": 0, "children": [
            {"name": "sda", "read": 1, "write": 0, "cksum": 3}, {"name": "sdb", "read": 0, "write": 2, "cksum": 0}]}]);
        assert_eq!(vdev_errors(&tree), (1, 2, 3));
    }
}
