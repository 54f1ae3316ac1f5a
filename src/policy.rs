//! What this server allows: the access level, the tool selection, protected guests, and the
//! audit log of every call that may change something.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::config::{Access, Config};
use crate::error::Error;
use crate::tools::{Area, Effect, Tool, AREAS, TOOLS};

/// A guest no tool may change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protect {
    Vmid(u64),
    Range(u64, u64),
    /// Every guest carrying this PVE tag.
    Tag(String),
}

impl Protect {
    /// `100`, `100-199` or `tag:NAME`.
    pub fn parse(item: &str) -> Result<Protect, String> {
        let item = item.trim();
        if let Some(tag) = item.strip_prefix("tag:") {
            let ok = !tag.is_empty()
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c));
            return ok
                .then(|| Protect::Tag(tag.to_ascii_lowercase()))
                .ok_or_else(|| {
                    format!("'{item}': a tag is letters, digits, '-', '_', '+' and '.'")
                });
        }
        let vmid = |s: &str| {
            s.trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (100..=999_999_999).contains(v))
        };
        match item.split_once('-') {
            Some((a, b)) => match (vmid(a), vmid(b)) {
                (Some(a), Some(b)) if a <= b => Ok(Protect::Range(a, b)),
                _ => Err(format!(
                    "'{item}': a range is FIRST-LAST, two VMIDs (100-999999999), FIRST <= LAST"
                )),
            },
            None => vmid(item).map(Protect::Vmid).ok_or_else(|| {
                format!(
                    "'{item}': expected a VMID (100-999999999), a range like 100-199, or tag:NAME"
                )
            }),
        }
    }
}

/// The decisions every tool call passes through.
#[derive(Debug)]
pub struct Policy {
    pub access: Access,
    /// Tool and group names allowed (empty: all the access level allows).
    pub allow: Vec<String>,
    /// Tool and group names refused.
    pub deny: Vec<String>,
    pub protected: Vec<Protect>,
    pub audit: Option<Audit>,
    /// PROXMOX_MCP_ALLOW_EXEC: the `exec` tools (a remote shell) may be offered.
    pub allow_exec: bool,
}

/// The group names a tool belongs to: its name, its effect and its area.
fn groups(tool: &Tool) -> [&'static str; 3] {
    [tool.name, tool.effect.name(), tool.area.name()]
}

/// Checks a `PROXMOX_MCP_TOOLS`-style list: every entry must be a tool or a group name.
pub fn check_names(var: &str, names: &[String]) -> Result<(), Error> {
    for n in names {
        let known = TOOLS.iter().any(|t| t.name == n)
            || ["read", "operate", "destroy"].contains(&n.as_str())
            || AREAS.contains(&n.as_str());
        if !known {
            return Err(Error::Config(format!(
                "{var}: '{n}' is neither a tool nor a group; groups are read, operate, destroy, {} (tools: proxmox-mcp-server tools)",
                AREAS.join(", ")
            )));
        }
    }
    Ok(())
}

impl Policy {
    /// The policy of `config`, opening the audit log (an unwritable path is a start-up error).
    pub fn new(config: &Config) -> Result<Policy, Error> {
        let audit = match &config.audit_log {
            Some(path) => Some(Audit::open(path)?),
            None => None,
        };
        Ok(Policy {
            access: config.access,
            allow: config.tools.clone(),
            deny: config.deny_tools.clone(),
            protected: config.protected.clone(),
            audit,
            allow_exec: config.allow_exec,
        })
    }

    /// Only an access level: nothing selected, denied or protected.
    pub fn with_access(access: Access) -> Policy {
        Policy {
            access,
            allow: Vec::new(),
            deny: Vec::new(),
            protected: Vec::new(),
            audit: None,
            allow_exec: false,
        }
    }

    /// Whether `tools/list` shows the tool.
    pub fn listed(&self, tool: &Tool) -> bool {
        self.check(tool).is_ok()
    }

    /// The tools listed, in table order.
    pub fn active(&self) -> impl Iterator<Item = &'static Tool> + '_ {
        TOOLS.iter().copied().filter(|t| self.listed(t))
    }

    /// Refuses a tool outside the access level or the selection, saying which setting decides.
    pub fn check(&self, tool: &Tool) -> Result<(), Error> {
        if tool.effect.needs() > self.access {
            let what = match tool.effect {
                Effect::Destroy => "can lose data",
                _ => "changes the cluster",
            };
            let level = tool.effect.needs().name();
            return Err(Error::Denied(format!(
                "{} {what} and needs access level {level}, but this server runs with PROXMOX_MCP_ACCESS={}; \
                 to allow it, restart the server with PROXMOX_MCP_ACCESS={level} (or --access {level})",
                tool.name,
                self.access.name()
            )));
        }
        if tool.area == Area::Exec && !self.allow_exec {
            return Err(Error::Denied(format!(
                "{} runs commands inside guests (a remote shell) and is off unless PROXMOX_MCP_ALLOW_EXEC=true is set, besides PROXMOX_MCP_ACCESS=full",
                tool.name
            )));
        }
        if !crate::tools::present(tool) {
            return Err(Error::Denied(format!(
                "{} only works when this server runs on a PVE node",
                tool.name
            )));
        }
        let in_list = |list: &[String]| {
            groups(tool)
                .iter()
                .find(|g| list.iter().any(|n| n == *g))
                .copied()
        };
        if !self.allow.is_empty() && in_list(&self.allow).is_none() {
            return Err(Error::Denied(format!(
                "{} is not among the tools this server offers (PROXMOX_MCP_TOOLS={}); add it or its group ({}, {}) to use it",
                tool.name,
                self.allow.join(","),
                tool.effect.name(),
                tool.area.name()
            )));
        }
        if let Some(group) = in_list(&self.deny) {
            return Err(Error::Denied(format!(
                "{} is switched off on this server (PROXMOX_MCP_DENY_TOOLS names {group})",
                tool.name
            )));
        }
        Ok(())
    }

    /// Whether tags must be looked up to decide protection.
    pub fn protects_tags(&self) -> bool {
        self.protected.iter().any(|p| matches!(p, Protect::Tag(_)))
    }

    /// Why guest `vmid` (with PVE tags `tags`, `;`-separated) may not be changed, if it may not.
    pub fn protection(&self, vmid: u64, tags: &str) -> Option<String> {
        let tags: Vec<String> = tags
            .split([';', ',', ' '])
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        self.protected.iter().find_map(|p| {
            let why = match p {
                Protect::Vmid(v) if *v == vmid => format!("VMID {v}"),
                Protect::Range(a, b) if (*a..=*b).contains(&vmid) => format!("the range {a}-{b}"),
                Protect::Tag(t) if tags.contains(t) => format!("tag:{t}"),
                _ => return None,
            };
            Some(format!(
                "guest {vmid} is protected on this server (PROXMOX_MCP_PROTECTED names {why}); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"
            ))
        })
    }
}

/// The audit log: one JSON line per `operate`/`destroy` call, appended and flushed before the
/// answer is sent.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    file: Mutex<File>,
}

impl Audit {
    fn open(path: &Path) -> Result<Audit, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::Config(format!(
                    "PROXMOX_MCP_AUDIT_LOG={}: cannot open for appending: {e}",
                    path.display()
                ))
            })?;
        Ok(Audit {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends one entry. A failure is reported on stderr (the call itself already happened).
    pub fn record(
        &self,
        user: &str,
        tool: &str,
        args: &Map<String, Value>,
        outcome: &Result<Map<String, Value>, Error>,
    ) {
        let mut arguments = Value::Object(args.clone());
        redact(&mut arguments);
        let dry_run = args
            .get("dry_run")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let upid = match outcome {
            Ok(content) => content
                .get("task")
                .and_then(|t| t.get("upid"))
                .cloned()
                .unwrap_or(Value::Null),
            Err(Error::Task { upid, .. }) => json!(upid),
            Err(_) => Value::Null,
        };
        let result = match outcome {
            Ok(_) => "ok".to_string(),
            Err(Error::Cancelled) => "cancelled".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let entry = json!({
            "time": rfc3339(SystemTime::now()),
            "user": user,
            "tool": tool,
            "arguments": arguments,
            "dry_run": dry_run,
            "upid": upid,
            "outcome": result,
        });
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let written = writeln!(file, "{entry}").and_then(|_| file.flush());
        if let Err(e) = written {
            eprintln!(
                "proxmox-mcp-server: error: cannot write the audit log {}: {e}",
                self.path.display()
            );
        }
    }
}

/// Replaces, at any depth, the values of keys that name a secret (`cipassword` in a config
/// update's `set`, say).
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.to_ascii_lowercase();
                if ["password", "secret", "token"]
                    .iter()
                    .any(|s| key.contains(s))
                {
                    *v = json!("<redacted>");
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The last second of year 9999, the latest time `rfc3339` writes with four digits.
const LAST_PLAUSIBLE_SECOND: u64 = 253_402_300_799;

/// A Unix time from outside (PVE, a ticket) as a `SystemTime`; None when it is not plausible
/// (after year 9999), so a hostile or broken value never overflows `UNIX_EPOCH + Duration`.
pub fn unix_time(secs: u64) -> Option<SystemTime> {
    if secs > LAST_PLAUSIBLE_SECOND {
        return None;
    }
    UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// `2026-11-25T20:06:16Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn protect_items() {
        assert_eq!(Protect::parse("100"), Ok(Protect::Vmid(100)));
        assert_eq!(Protect::parse(" 100-199 "), Ok(Protect::Range(100, 199)));
        assert_eq!(Protect::parse("tag:Prod"), Ok(Protect::Tag("prod".into())));
        for bad in ["99", "200-100", "abc", "tag:", "tag:a b", "100-"] {
            assert!(Protect::parse(bad).is_err(), "{bad}");
        }
        let p = Policy {
            protected: vec![
                Protect::Vmid(100),
                Protect::Range(200, 299),
                Protect::Tag("prod".into()),
            ],
            ..Policy::with_access(Access::Full)
        };
        assert!(p
            .protection(100, "")
            .unwrap()
            .contains("PROXMOX_MCP_PROTECTED names VMID 100"));
        assert!(p.protection(250, "").unwrap().contains("the range 200-299"));
        assert!(p.protection(300, "web;Prod").unwrap().contains("tag:prod"));
        assert_eq!(p.protection(300, "web;production"), None);
    }

    #[test]
    fn selection() {
        let find = |n: &str| TOOLS.iter().find(|t| t.name == n).unwrap();
        let p = Policy {
            allow: vec!["read".into(), "start_vm".into()],
            deny: vec!["tasks".into()],
            ..Policy::with_access(Access::Full)
        };
        assert!(p.listed(find("list_vms")));
        assert!(p.listed(find("start_vm")));
        assert!(!p.listed(find("stop_vm")));
        assert!(!p.listed(find("list_tasks")));
        assert!(p
            .check(find("list_tasks"))
            .unwrap_err()
            .to_string()
            .contains("PROXMOX_MCP_DENY_TOOLS names tasks"));
        assert!(p
            .check(find("stop_vm"))
            .unwrap_err()
            .to_string()
            .contains("PROXMOX_MCP_TOOLS=read,start_vm"));
        assert!(check_names("PROXMOX_MCP_TOOLS", &["vms".into(), "get_vm_status".into()]).is_ok());
        assert!(check_names("PROXMOX_MCP_TOOLS", &["vm".into()])
            .unwrap_err()
            .to_string()
            .contains("'vm' is neither a tool nor a group"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            unix_time(LAST_PLAUSIBLE_SECOND).map(rfc3339).as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
        for implausible in [LAST_PLAUSIBLE_SECOND + 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(unix_time(implausible), None, "{implausible}");
        }
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_637_176)),
            "2026-11-25T20:06:16Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
