//! Changes: a write to PVE (`Change`), its dry run, and following the task it starts.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::pve;
use crate::pve::{path, Method, Params, Upid};

use super::list::{data, text};
use super::table::{Args, Content, Ctx};

/// A request that changes something in PVE: method, path and form parameters. Some start a task
/// (PVE answers with its UPID), others take effect at once (PVE answers null).
pub(super) struct Change {
    method: Method,
    path: String,
    params: Params,
}

impl Change {
    fn new(method: Method, path: String, params: Params) -> Change {
        Change {
            method,
            path,
            params,
        }
    }
    pub(super) fn post(path: String, params: Params) -> Change {
        Change::new(Method::Post, path, params)
    }
    pub(super) fn put(path: String, params: Params) -> Change {
        Change::new(Method::Put, path, params)
    }
    pub(super) fn delete(path: String, params: Params) -> Change {
        Change::new(Method::Delete, path, params)
    }

    /// Sends the change and waits for the task it starts, if any; with `dry_run`, only reads
    /// `target` and shows the request. The tail of every handler that changes something.
    pub(super) fn send(
        self,
        ctx: &Ctx,
        args: &Args,
        target: impl FnOnce() -> Result<Value, Error>,
    ) -> Result<Content, Error> {
        // Only this part is generic (a copy per call site); the sending itself is shared code.
        let dry_target = match args.flag("dry_run").unwrap_or(false) {
            true => Some(target()?),
            false => None,
        };
        send_or_show(ctx, args, self, dry_target)
    }
}

/// `Change::send` past its closure: the dry-run answer (with the target's state), or the change
/// sent (and its task followed).
fn send_or_show(
    ctx: &Ctx,
    args: &Args,
    change: Change,
    dry_target: Option<Value>,
) -> Result<Content, Error> {
    if let Some(target) = dry_target {
        let params = shown_params(&change.params);
        let mut out = Map::new();
        out.insert("data".into(), Value::Null);
        out.insert("dry_run".into(), json!(true));
        out.insert(
            "request".into(),
            json!({"method": change.method.as_str(), "path": change.path, "params": params}),
        );
        out.insert("target".into(), target);
        return Ok(out);
    }
    let method = change.method.as_str();
    let Some(upid) = start(ctx, change.method, &change.path, &change.params)? else {
        // A synchronous write (e.g. a config PUT): done, no task to follow.
        return data(Value::Null);
    };
    let wait = args
        .int("wait_seconds")
        .map(|w| w as u64)
        .unwrap_or(ctx.task_wait);
    if wait == 0 {
        let mut out = Map::new();
        out.insert("data".into(), json!(upid.raw));
        out.insert(
            "task".into(),
            json!({"upid": upid.raw, "status": "running", "exitstatus": null, "duration_s": 0}),
        );
        out.insert(
            "hint".into(),
            json!("not waited for; follow it with wait_task or get_task_status"),
        );
        return Ok(out);
    }
    let stop_on_cancel = args.flag("stop_on_cancel").unwrap_or(false);
    match follow(ctx, &upid, Duration::from_secs(wait), stop_on_cancel) {
        Ok(status) => finish(ctx, method, &change.path, &upid, &status, wait),
        Err(Error::Cancelled) => Err(Error::Cancelled),
        // The write went through: say so, so that nobody repeats it blindly.
        Err(e) => Err(Error::Transport {
            method,
            path: change.path,
            message: format!(
                "PVE started task {} but following it failed ({e}); do not repeat the call, check the task with get_task_status",
                upid.raw
            ),
        }),
    }
}

/// Sends one write; the task it started (logged in the audit log before anyone follows it, so a
/// crash during the wait still leaves its UPID), or None when PVE answered null (a synchronous
/// write, done).
pub(super) fn start(
    ctx: &Ctx,
    method: Method,
    path: &str,
    params: &Params,
) -> Result<Option<Upid>, Error> {
    let reply = ctx.pve.call(method, path, params)?;
    if reply.data.is_null() {
        return Ok(None);
    }
    let upid = reply
        .data
        .as_str()
        .and_then(|u| Upid::parse(u).ok())
        .ok_or_else(|| Error::Transport {
            method: method.as_str(),
            path: path.to_string(),
            message: format!("PVE did not return a task id but {}", reply.data),
        })?;
    if let Some(audit) = &ctx.policy.audit {
        audit.started(&upid.raw);
    }
    Ok(Some(upid))
}

/// A request's parameters as a dry run shows them: a repeated key (`vms=100&vms=101`) as an
/// array of its values.
pub(super) fn shown_params(params: &Params) -> Map<String, Value> {
    let mut shown = Map::new();
    for (k, v) in params {
        match shown.get_mut(*k) {
            None => {
                shown.insert(k.to_string(), json!(v));
            }
            Some(Value::Array(values)) => values.push(json!(v)),
            Some(first) => *first = json!([first.take(), v]),
        }
    }
    shown
}

/// Polls a task's status with a short backoff until it stops or `wait` runs out, reporting
/// progress and stopping early (`Error::Cancelled`) when the caller cancels.
pub(super) fn follow(
    ctx: &Ctx,
    upid: &Upid,
    wait: Duration,
    stop_on_cancel: bool,
) -> Result<Value, Error> {
    let deadline = Instant::now() + wait;
    let task_path = path(&[&"nodes", &upid.node, &"tasks", &upid.raw]);
    let status_path = format!("{task_path}/status");
    let mut delay = Duration::from_millis(200);
    let mut failures = 0;
    loop {
        // A status read can fail for a moment (pveproxy restarting, a 596 on a busy node):
        // try again before giving up on following the task.
        let status = match ctx.pve.get(&status_path, &[]) {
            Ok(status) => status,
            Err(e) if failures < 2 && Instant::now() < deadline => {
                failures += 1;
                crate::info!(
                    "reading the status of {} failed ({e}); trying again",
                    upid.raw
                );
                if !ctx.waiter.pause(delay) {
                    return Err(Error::Cancelled);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        failures = 0;
        let state = text(&status, "status");
        if ctx.waiter.wants_progress() {
            let last = ctx.pve.task_log_tail(upid, 1).pop().unwrap_or_default();
            let mut message = format!("{} {}: {state}", upid.kind, upid.id);
            if !last.is_empty() {
                message.push_str(": ");
                message.push_str(&last);
            }
            ctx.waiter.progress(&message);
        }
        let now = Instant::now();
        if state != "running" || now >= deadline {
            return Ok(status);
        }
        if !ctx.waiter.pause(delay.min(deadline - now)) {
            if stop_on_cancel {
                match ctx.pve.call(Method::Delete, &task_path, &[]) {
                    Ok(_) => {
                        crate::info!("stopped task {} after the request was cancelled", upid.raw)
                    }
                    Err(e) => crate::warn!(
                        "could not stop task {} after the request was cancelled: {e}",
                        upid.raw
                    ),
                }
            }
            return Err(Error::Cancelled);
        }
        delay = (delay * 3 / 2).min(Duration::from_secs(2));
    }
}

/// The result for a task that was waited on: its summary, or an error with the log's last lines.
pub(super) fn finish(
    ctx: &Ctx,
    method: &'static str,
    path: &str,
    upid: &Upid,
    status: &Value,
    waited: u64,
) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), json!(upid.raw));
    if text(status, "status") == "stopped" {
        let exitstatus = status
            .get("exitstatus")
            .and_then(Value::as_str)
            .unwrap_or("unexpected status")
            .to_string();
        if !pve::task_ok(&exitstatus) {
            return Err(Error::Task {
                method,
                path: path.to_string(),
                upid: upid.raw.clone(),
                log: ctx.pve.task_log_tail(upid, 10),
                exitstatus,
            });
        }
    } else {
        out.insert(
            "hint".into(),
            json!(format!(
                "the task still runs after {waited} s; follow it with wait_task"
            )),
        );
    }
    out.insert("task".into(), pve::task_summary(upid, status));
    Ok(out)
}
