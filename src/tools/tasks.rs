//! PVE tasks: listing them, their status and log, and waiting for one.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve;
use crate::pve::{bool01, path, Method, Params, Upid};

use super::change::{finish, follow};
use super::list::{data, number, page, paging, sort, text, trimmed};
use super::params::TASK_ROW;
use super::params::{LIMIT, NODE_FILTER, OFFSET, UPID};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

#[rustfmt::skip]
const TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "seconds to wait (default PROXMOX_TASK_WAIT, 120)");

#[rustfmt::skip]
const LOG_START: Param = Param::opt("start", Kind::Int { min: 0, max: 100_000_000 }, "first line to return, counting from 0 (default 0)");

#[rustfmt::skip]
const LOG_LIMIT: Param = Param::opt("limit", Kind::Int { min: 1, max: 5000 }, "at most this many lines (default 50)");

const TASK_VMID: Param = Param::opt("vmid", Kind::Vmid, "only tasks of this guest");

const ERRORS: Param = Param::opt("errors", Kind::Bool, "only tasks that ended in error");

/// Tasks.
pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_tasks",
        title: "List tasks",
        description: "Lists recent PVE tasks, newest first.",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&NODE_FILTER, &TASK_VMID, &ERRORS, &LIMIT, &OFFSET],
        output: Output::list(TASK_ROW),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: list_tasks,
    },
    Tool {
        name: "get_task_status",
        title: "Task status",
        description: "Returns a PVE task's status and, once stopped, its exit status.",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID],
        output: Output::object(TASK_ROW),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_task_status,
    },
    Tool {
        name: "wait_task",
        title: "Wait for task",
        description: "Waits until a PVE task stops or the timeout runs out, with progress (a failed task: an error with the log's end).",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID, &TIMEOUT],
        output: Output::task(),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: wait_task,
    },
    Tool {
        name: "get_task_log",
        title: "Task log",
        description: "Returns lines of a PVE task's log; the last is TASK OK, TASK WARNINGS: N or TASK ERROR: message.",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID, &LOG_START, &LOG_LIMIT],
        output: Output::list(&[f("n", Ty::Int, "line number"), f("t", Ty::Str, "text")]).with(&[f("start", Ty::Int, "first line")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_task_log,
    },
];

pub(super) fn list_tasks(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "upid",
        "node",
        "type",
        "id",
        "user",
        "starttime",
        "endtime",
        "status",
    ];
    let newest_first =
        |a: &Value, b: &Value| number(b, "starttime").total_cmp(&number(a, "starttime"));
    let (limit, offset) = paging(args);
    let vmid = args.int("vmid");
    let errors = args.flag("errors").unwrap_or(false);
    match args.str("node") {
        Some(node) => {
            // One node: PVE filters and pages itself.
            // PVE's default source is `archive`: running tasks would be left out.
            let mut params: Params = vec![
                ("start", offset.to_string()),
                ("limit", limit.to_string()),
                ("source", "all".to_string()),
            ];
            if let Some(v) = vmid {
                params.push(("vmid", v.to_string()));
            }
            if errors {
                params.push(("errors", bool01(true)));
            }
            let reply = ctx
                .pve
                .call(Method::Get, &path(&[&"nodes", &node, &"tasks"]), &params)?;
            let mut items = trimmed(reply.data, FIELDS);
            sort(&mut items, &newest_first);
            let total = reply.total.unwrap_or((offset + items.len()) as u64);
            let mut out = Map::new();
            out.insert("data".into(), Value::Array(items));
            out.insert("total".into(), json!(total));
            out.insert("limit".into(), json!(limit));
            out.insert("offset".into(), json!(offset));
            Ok(out)
        }
        None => {
            let all = ctx.pve.get("/cluster/tasks", &[])?;
            let items: Vec<Value> = trimmed(all, FIELDS)
                .into_iter()
                .filter(|t| vmid.is_none_or(|v| text(t, "id") == v.to_string()))
                .filter(|t| {
                    !errors
                        || t.get("status")
                            .and_then(Value::as_str)
                            .is_some_and(|s| s != "RUNNING" && !pve::task_ok(s))
                })
                .collect();
            Ok(page(args, items, &newest_first))
        }
    }
}

pub(super) fn get_task_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")?).map_err(Error::Args)?;
    data(ctx.pve.get(
        &path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"status"]),
        &[],
    )?)
}

pub(super) fn wait_task(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")?).map_err(Error::Args)?;
    let wait = args
        .int("timeout")
        .map(|w| w as u64)
        .unwrap_or(ctx.task_wait);
    let status = follow(ctx, &upid, Duration::from_secs(wait), false)?;
    let status_path = path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"status"]);
    finish(ctx, "GET", &status_path, &upid, &status, wait)
}

fn get_task_log(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")?).map_err(Error::Args)?;
    let start = args.int("start").unwrap_or(0);
    let limit = args.int("limit").unwrap_or(50);
    let log_path = path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"log"]);
    let reply = ctx.pve.call(
        Method::Get,
        &log_path,
        &[("start", start.to_string()), ("limit", limit.to_string())],
    )?;
    let lines = reply.data.as_array().map(Vec::len).unwrap_or(0) as i64;
    let total = reply.total.map(|t| t as i64).unwrap_or(start + lines);
    let mut out = Map::new();
    if start + lines < total {
        out.insert(
            "hint".into(),
            json!(format!(
                "{} more lines; call again with start {}",
                total - start - lines,
                start + lines
            )),
        );
    }
    out.insert("data".into(), reply.data);
    out.insert("total".into(), json!(total));
    out.insert("start".into(), json!(start));
    out.insert("limit".into(), json!(limit));
    Ok(out)
}
