//! PVE tasks as the client sees them: the task id (`Upid`) and a task's summary.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{as_u64, valid_node_name};

/// A PVE task id: `UPID:node:pid:pstart:starttime:type:id:user:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Upid {
    pub raw: String,
    pub node: String,
    pub kind: String,
    pub id: String,
    pub user: String,
    pub starttime: u64,
}

impl Upid {
    pub fn parse(s: &str) -> Result<Upid, String> {
        let bad = |why: &str| {
            format!(
                "'{s}' is not a PVE task id (UPID:node:pid:pstart:starttime:type:id:user:): {why}"
            )
        };
        let rest = s
            .strip_prefix("UPID:")
            .ok_or_else(|| bad("it must start with UPID:"))?;
        let rest = rest
            .strip_suffix(':')
            .ok_or_else(|| bad("it must end with ':'"))?;
        let parts: Vec<&str> = rest.split(':').collect();
        let [node, pid, pstart, starttime, kind, id, user] = parts[..] else {
            return Err(bad(&format!(
                "expected 8 fields, found {}",
                parts.len() + 1
            )));
        };
        let hex = |v: &str, lens: &[usize]| {
            lens.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if !valid_node_name(node) {
            return Err(bad("bad node name"));
        }
        if !hex(pid, &[8]) || !hex(pstart, &[8, 9]) || !hex(starttime, &[8]) {
            return Err(bad("pid, pstart and starttime must be hex"));
        }
        let plain = |v: &str| !v.bytes().any(|b| b.is_ascii_whitespace() || b == b'/');
        if kind.is_empty() || !plain(kind) || !plain(id) || user.is_empty() || !plain(user) {
            return Err(bad("bad type, id or user"));
        }
        Ok(Upid {
            raw: s.to_string(),
            node: node.to_string(),
            kind: kind.to_string(),
            id: id.to_string(),
            user: user.to_string(),
            starttime: u64::from_str_radix(starttime, 16).unwrap_or(0),
        })
    }
}

/// Whether a task's exit status means success: `OK` or `WARNINGS: N`.
pub fn task_ok(exitstatus: &str) -> bool {
    exitstatus == "OK" || exitstatus.starts_with("WARNINGS")
}

/// The `task` object of a tool result.
pub fn task_summary(upid: &Upid, status: &Value) -> Value {
    let state = status
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let start = status
        .get("starttime")
        .and_then(as_u64)
        .unwrap_or(upid.starttime);
    let end = status.get("endtime").and_then(as_u64).unwrap_or(now);
    json!({
        "upid": upid.raw,
        "status": state,
        "exitstatus": status.get("exitstatus").cloned().unwrap_or(Value::Null),
        "duration_s": end.saturating_sub(start),
    })
}
