//! Alerts without PVE: what an alert is (`Alert`, `Severity`), the rules' thresholds
//! (`Rules`, from the `PROXMOX_MCP_ALERTS` file), and how the `alerts` command shows them (the
//! table, the Nagios exit status, what changed between two checks). The rules themselves run in
//! `tools/alerts.rs` (`tools::alerts::evaluate`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::Error;

/// How bad an alert is; ordered, so `Critical` is the greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.name() == s)
    }
}

/// One thing that is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// `rule:subject…`, e.g. `storage_usage:pve1:local-lvm`: the same problem keeps its id
    /// from one evaluation to the next.
    pub id: String,
    pub severity: Severity,
    /// What it is about, e.g. `node pve1`, `storage local-lvm on pve1`, `guest 100 (web)`.
    pub subject: String,
    /// What is wrong, with the numbers.
    pub message: String,
    /// Since when (Unix time), where PVE says.
    pub since: Option<u64>,
    /// The tool that looks closer or fixes it, and its arguments.
    pub tool: &'static str,
    pub arguments: Value,
}

impl Alert {
    /// The alert as `get_alerts` and `alerts --json` show it.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("severity".into(), json!(self.severity.name()));
        m.insert("subject".into(), json!(self.subject));
        m.insert("message".into(), json!(self.message));
        if let Some(t) = self.since.and_then(crate::time::unix_time) {
            m.insert("since".into(), json!(crate::time::rfc3339(t)));
        }
        m.insert(
            "next".into(),
            json!({"tool": self.tool, "arguments": self.arguments}),
        );
        Value::Object(m)
    }
}

/// Sorts alerts most severe first, then by id.
pub fn sort(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
}

/// How many alerts of each severity.
pub fn counts(alerts: &[Alert]) -> Value {
    let n = |s: Severity| alerts.iter().filter(|a| a.severity == s).count();
    json!({"critical": n(Severity::Critical), "warning": n(Severity::Warning), "info": n(Severity::Info)})
}

/// The rules, by the name that starts their alerts' ids, with what they check.
pub const RULES: &[(&str, &str)] = &[
    ("node_offline", "a node is not online (critical)"),
    ("quorum", "the cluster lost quorum (critical)"),
    (
        "node_memory",
        "a node's memory use at or above NODE_MEMORY %",
    ),
    (
        "storage_usage",
        "a storage at or above STORAGE_WARNING / STORAGE_CRITICAL %",
    ),
    (
        "failed_task",
        "tasks failed within FAILED_TASK_HOURS (backups: critical)",
    ),
    (
        "backup_age",
        "a guest without a backup newer than BACKUP_MAX_AGE_DAYS",
    ),
    (
        "ha_error",
        "an HA resource in state error or fence (critical)",
    ),
    ("replication", "a replication job failing"),
    ("zfs_pool", "a ZFS pool not ONLINE, or with errors"),
    ("smart", "a disk failing its SMART check (critical)"),
    ("ceph", "Ceph in HEALTH_WARN or HEALTH_ERR"),
    (
        "certificate",
        "a node certificate expiring within CERT_WARNING_DAYS / CERT_CRITICAL_DAYS",
    ),
    ("updates", "pending package updates (info)"),
];

/// The thresholds the rules use, and the rules turned off. `Default` is what applies without
/// a `PROXMOX_MCP_ALERTS` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Storage use (%) that is a warning, and that is critical.
    pub storage_warning: u32,
    pub storage_critical: u32,
    /// Node memory use (%) that is a warning.
    pub node_memory: u32,
    /// How far back failed tasks count, in hours.
    pub failed_task_hours: u64,
    /// A guest's newest backup must be younger than this, in days.
    pub backup_max_age_days: u64,
    /// Guests with this tag need no backup.
    pub backup_exclude_tag: String,
    /// A certificate expiring within this many days is a warning, and critical.
    pub cert_warning_days: u64,
    pub cert_critical_days: u64,
    /// Rules (names from `RULES`) that are not evaluated.
    pub disabled: Vec<&'static str>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            storage_warning: 80,
            storage_critical: 90,
            node_memory: 90,
            failed_task_hours: 24,
            backup_max_age_days: 7,
            backup_exclude_tag: "no-backup".into(),
            cert_warning_days: 30,
            cert_critical_days: 7,
            disabled: Vec::new(),
        }
    }
}

/// The keys a `PROXMOX_MCP_ALERTS` file may set, with what they mean (for errors and the README).
pub const KEYS: &[(&str, &str)] = &[
    (
        "STORAGE_WARNING",
        "storage use in % that is a warning (default 80)",
    ),
    (
        "STORAGE_CRITICAL",
        "storage use in % that is critical (default 90)",
    ),
    (
        "NODE_MEMORY",
        "node memory use in % that is a warning (default 90)",
    ),
    (
        "FAILED_TASK_HOURS",
        "how far back failed tasks count, in hours (default 24)",
    ),
    (
        "BACKUP_MAX_AGE_DAYS",
        "the age in days a guest's newest backup may have (default 7)",
    ),
    (
        "BACKUP_EXCLUDE_TAG",
        "guests with this tag need no backup (default no-backup)",
    ),
    (
        "CERT_WARNING_DAYS",
        "a certificate expiring within this many days is a warning (default 30)",
    ),
    ("CERT_CRITICAL_DAYS", "... and critical (default 7)"),
    ("DISABLE", "rules not evaluated, comma-separated rule names"),
];

impl Rules {
    /// Whether `rule` is evaluated.
    pub fn on(&self, rule: &str) -> bool {
        !self.disabled.contains(&rule)
    }

    /// Reads a `PROXMOX_MCP_ALERTS` file.
    pub fn load(path: &Path) -> Result<Rules, Error> {
        let shown = format!("PROXMOX_MCP_ALERTS={}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{shown}: cannot read: {e}")))?;
        Rules::parse(&text, &shown)
    }

    /// Parses `KEY=value` lines (`#` comments, blank lines); `shown` names the file in errors.
    /// Unknown keys and bad values are refused, naming the line.
    pub fn parse(text: &str, shown: &str) -> Result<Rules, Error> {
        let mut values: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{shown} line {}", n + 1);
            let Some((key, value)) = line.split_once('=') else {
                return Err(Error::Config(format!("{at}: expected KEY=value")));
            };
            let key = key.trim();
            let Some((known, _)) = KEYS.iter().find(|(k, _)| *k == key) else {
                let names: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::Config(format!(
                    "{at}: unknown key {key}; the keys are {}",
                    names.join(", ")
                )));
            };
            let value = value.trim().trim_matches(['"', '\'']).to_string();
            values.insert(known, (n + 1, value));
        }
        let mut rules = Rules::default();
        let bad = |key: &str, why: &str| {
            let (line, value) = &values[key];
            Error::Config(format!("{shown} line {line}: {key}={value}: {why}"))
        };
        let number = |key: &str, min: u64, max: u64| -> Result<Option<u64>, Error> {
            let Some((_, v)) = values.get(key) else {
                return Ok(None);
            };
            match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(bad(
                    key,
                    &format!("expected a whole number from {min} to {max}"),
                )),
            }
        };
        let percent = |key: &str| number(key, 1, 100).map(|v| v.map(|n| n as u32));
        if let Some(v) = percent("STORAGE_WARNING")? {
            rules.storage_warning = v;
        }
        if let Some(v) = percent("STORAGE_CRITICAL")? {
            rules.storage_critical = v;
        }
        if let Some(v) = percent("NODE_MEMORY")? {
            rules.node_memory = v;
        }
        if let Some(v) = number("FAILED_TASK_HOURS", 1, 24 * 31)? {
            rules.failed_task_hours = v;
        }
        if let Some(v) = number("BACKUP_MAX_AGE_DAYS", 1, 366)? {
            rules.backup_max_age_days = v;
        }
        if let Some(v) = number("CERT_WARNING_DAYS", 0, 3650)? {
            rules.cert_warning_days = v;
        }
        if let Some(v) = number("CERT_CRITICAL_DAYS", 0, 3650)? {
            rules.cert_critical_days = v;
        }
        if let Some((_, tag)) = values.get("BACKUP_EXCLUDE_TAG") {
            let ok = !tag.is_empty()
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c));
            if !ok {
                return Err(bad(
                    "BACKUP_EXCLUDE_TAG",
                    "not a PVE tag (letters, digits, - _ + .)",
                ));
            }
            rules.backup_exclude_tag = tag.to_ascii_lowercase();
        }
        if let Some((_, list)) = values.get("DISABLE") {
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let Some((rule, _)) = RULES.iter().find(|(r, _)| *r == name) else {
                    let names: Vec<&str> = RULES.iter().map(|(r, _)| *r).collect();
                    let why = format!("unknown rule {name}; the rules are {}", names.join(", "));
                    return Err(bad("DISABLE", &why));
                };
                rules.disabled.push(rule);
            }
        }
        if rules.storage_critical < rules.storage_warning {
            let why = format!(
                "below STORAGE_WARNING={}; the critical level must be at least the warning level",
                rules.storage_warning
            );
            return Err(bad_pair(shown, "STORAGE_CRITICAL", &values, &why));
        }
        if rules.cert_critical_days > rules.cert_warning_days {
            let why = format!(
                "above CERT_WARNING_DAYS={}; the critical window must lie within the warning window",
                rules.cert_warning_days
            );
            return Err(bad_pair(shown, "CERT_CRITICAL_DAYS", &values, &why));
        }
        Ok(rules)
    }
}

/// The error for a value that contradicts another (named by its line when the file set it).
fn bad_pair(shown: &str, key: &str, values: &BTreeMap<&str, (usize, String)>, why: &str) -> Error {
    match values.get(key) {
        Some((line, value)) => Error::Config(format!("{shown} line {line}: {key}={value}: {why}")),
        None => Error::Config(format!("{shown}: the default {key} is {why}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The `alerts` command's output.

/// The exit status of a monitoring plugin: 0 nothing (or only info), 1 warning, 2 critical.
pub fn exit_status(alerts: &[Alert]) -> u8 {
    match alerts.iter().map(|a| a.severity).max() {
        Some(Severity::Critical) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }
}

/// The first line a monitoring system shows: `ALERTS CRITICAL - 2 critical, 1 warning, 0 info`.
pub fn summary(alerts: &[Alert]) -> String {
    let state = match exit_status(alerts) {
        2 => "CRITICAL",
        1 => "WARNING",
        _ => "OK",
    };
    let n = |s: Severity| alerts.iter().filter(|a| a.severity == s).count();
    format!(
        "ALERTS {state} - {} critical, {} warning, {} info",
        n(Severity::Critical),
        n(Severity::Warning),
        n(Severity::Info)
    )
}

/// The summary line, then one row per alert: severity, id, message.
pub fn table(alerts: &[Alert]) -> String {
    let mut out = summary(alerts);
    out.push('\n');
    if alerts.is_empty() {
        return out;
    }
    let width = alerts.iter().map(|a| a.id.len()).max().unwrap_or(2).max(2);
    out.push_str(&format!("{:<8}  {:<width$}  MESSAGE\n", "SEVERITY", "ID"));
    for a in alerts {
        out.push_str(&format!(
            "{:<8}  {:<width$}  {}\n",
            a.severity.name(),
            a.id,
            a.message
        ));
    }
    out
}

/// One difference between two evaluations.
#[derive(Debug, PartialEq)]
pub enum Change<'a> {
    New(&'a Alert),
    Cleared(&'a Alert),
    Severity { was: Severity, alert: &'a Alert },
}

impl Change<'_> {
    /// `+ critical ID message`, `- cleared ID message`, `~ critical ID (was warning) message`.
    pub fn line(&self) -> String {
        match self {
            Change::New(a) => format!("+ {} {} {}", a.severity.name(), a.id, a.message),
            Change::Cleared(a) => format!("- cleared {} {}", a.id, a.message),
            Change::Severity { was, alert: a } => format!(
                "~ {} {} (was {}) {}",
                a.severity.name(),
                a.id,
                was.name(),
                a.message
            ),
        }
    }

    /// `{"change": "new" | "cleared" | "severity", "alert": {...}}` (`was` for a severity change).
    pub fn to_json(&self) -> Value {
        match self {
            Change::New(a) => json!({"change": "new", "alert": a.to_json()}),
            Change::Cleared(a) => json!({"change": "cleared", "alert": a.to_json()}),
            Change::Severity { was, alert } => {
                json!({"change": "severity", "was": was.name(), "alert": alert.to_json()})
            }
        }
    }
}

/// What changed from `before` to `after`: new alerts and severity changes in `after`'s order,
/// then the cleared ones.
pub fn changes<'a>(before: &'a [Alert], after: &'a [Alert]) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    for a in after {
        match before.iter().find(|b| b.id == a.id) {
            None => out.push(Change::New(a)),
            Some(b) if b.severity != a.severity => out.push(Change::Severity {
                was: b.severity,
                alert: a,
            }),
            Some(_) => {}
        }
    }
    for b in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
    {
        out.push(Change::Cleared(b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, severity: Severity) -> Alert {
        Alert {
            id: id.into(),
            severity,
            subject: "node pve1".into(),
            message: format!("{id} is wrong"),
            since: None,
            tool: "get_node_status",
            arguments: json!({"node": "pve1"}),
        }
    }

    #[test]
    fn a_file_sets_thresholds_and_refuses_what_it_does_not_know() {
        let rules = Rules::parse(
            "# thresholds\nSTORAGE_WARNING=70\nSTORAGE_CRITICAL = 85\nBACKUP_EXCLUDE_TAG=\"Skip-Backup\"\nDISABLE=updates, smart\n",
            "f",
        )
        .unwrap();
        assert_eq!((rules.storage_warning, rules.storage_critical), (70, 85));
        assert_eq!(rules.backup_exclude_tag, "skip-backup");
        assert_eq!(rules.disabled, ["updates", "smart"]);
        assert!(!rules.on("updates") && rules.on("ceph"));
        let err = |text: &str| {
            Rules::parse(text, "PROXMOX_MCP_ALERTS=/etc/a")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("\nSTORAGE_WARN=70"),
            "configuration: PROXMOX_MCP_ALERTS=/etc/a line 2: unknown key STORAGE_WARN; the keys are STORAGE_WARNING, STORAGE_CRITICAL, NODE_MEMORY, FAILED_TASK_HOURS, BACKUP_MAX_AGE_DAYS, BACKUP_EXCLUDE_TAG, CERT_WARNING_DAYS, CERT_CRITICAL_DAYS, DISABLE"
        );
        assert_eq!(
            err("STORAGE_WARNING=80%"),
            "configuration: PROXMOX_MCP_ALERTS=/etc/a line 1: STORAGE_WARNING=80%: expected a whole number from 1 to 100"
        );
        assert!(err("DISABLE=updates,cpu")
            .contains("DISABLE=updates,cpu: unknown rule cpu; the rules are node_offline,"));
        assert!(err("STORAGE_WARNING").contains("line 1: expected KEY=value"));
        assert_eq!(
            err("STORAGE_WARNING=95"),
            "configuration: PROXMOX_MCP_ALERTS=/etc/a: the default STORAGE_CRITICAL is below STORAGE_WARNING=95; the critical level must be at least the warning level"
        );
        assert!(err("CERT_CRITICAL_DAYS=40")
            .contains("line 1: CERT_CRITICAL_DAYS=40: above CERT_WARNING_DAYS=30"));
        assert!(err("BACKUP_EXCLUDE_TAG=a b").contains("not a PVE tag"));
        assert_eq!(Rules::parse("", "f").unwrap(), Rules::default());
    }

    #[test]
    fn exit_status_table_and_changes() {
        let mut alerts = vec![
            alert("updates:pve1", Severity::Info),
            alert("storage_usage:pve1:local", Severity::Critical),
            alert("node_memory:pve1", Severity::Warning),
        ];
        sort(&mut alerts);
        assert_eq!(alerts[0].id, "storage_usage:pve1:local");
        assert_eq!(exit_status(&alerts), 2);
        assert_eq!(exit_status(&alerts[1..]), 1);
        assert_eq!(exit_status(&alerts[2..]), 0, "info alone is OK");
        assert_eq!(exit_status(&[]), 0);
        assert_eq!(
            table(&alerts[1..]),
            "ALERTS WARNING - 0 critical, 1 warning, 1 info\n\
             SEVERITY  ID                MESSAGE\n\
             warning   node_memory:pve1  node_memory:pve1 is wrong\n\
             info      updates:pve1      updates:pve1 is wrong\n"
        );
        let mut later = alerts.clone();
        later.remove(0);
        later[0].severity = Severity::Critical;
        later.push(alert("smart:pve1:/dev/sda", Severity::Critical));
        let lines: Vec<String> = changes(&alerts, &later).iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                "~ critical node_memory:pve1 (was warning) node_memory:pve1 is wrong",
                "+ critical smart:pve1:/dev/sda smart:pve1:/dev/sda is wrong",
                "- cleared storage_usage:pve1:local storage_usage:pve1:local is wrong",
            ]
        );
        assert!(changes(&later, &later).is_empty());
        assert_eq!(
            changes(&alerts, &later)[0].to_json()["was"],
            json!("warning")
        );
        assert_eq!(
            alerts[0].to_json(),
            json!({"id": "storage_usage:pve1:local", "severity": "critical", "subject": "node pve1",
                   "message": "storage_usage:pve1:local is wrong",
                   "next": {"tool": "get_node_status", "arguments": {"node": "pve1"}}})
        );
    }
}
