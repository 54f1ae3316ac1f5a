//! Monitoring (RRD metrics, cluster resources, version, next VMID, cluster log) and the guest
//! agent (agent info, container interfaces, commands in VMs and containers).
//!
//! The metrics tools summarise PVE's `rrddata` (tens to hundreds of points, each a flat object
//! of numbers that may lack any field) per series, with a few downsampled points. `exec_in_vm`
//! starts a command through the QEMU guest agent and polls `exec-status`; `exec_in_container`
//! runs `pct exec` on the node this server runs on. Both are `destroy` (a remote shell can do
//! anything) and in `Area::Exec`, which the policy switches off unless PROXMOX_MCP_ALLOW_EXEC.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, path, Method, Params};

use super::guest::{guest_path, Guest};
use super::list::{data, number, page, paging, text, trimmed};
use super::params::STORAGE;
use super::params::{DRY_RUN, LIMIT, NODE, NODE_FILTER, NODE_OPT, OFFSET, VMID};
use super::table::Args;
use super::table::{Content, Kind, Mark, Output, Param, Tool};
use super::table::{Ctx, Waiter};

// ---------------------------------------------------------------------------------------------
// Parameters.

#[rustfmt::skip]
const TIMEFRAME: Param = Param::opt("timeframe", Kind::Text { max: 16 }, "hour (default), day, week, month, year");
#[rustfmt::skip]
const NODE_TIMEFRAME: Param = Param::opt("timeframe", Kind::Text { max: 16 }, "hour (default), day, week, month, year, decade");
const CF: Param = Param::opt("cf", Kind::Text { max: 16 }, "AVERAGE (default) or MAX");
#[rustfmt::skip]
const POINTS: Param = Param::opt("points", Kind::Int { min: 0, max: 200 }, "points to return (default 12)");
#[rustfmt::skip]
const RESOURCE_TYPE: Param = Param::opt("type", Kind::Text { max: 16 }, "vm, qemu, lxc, node, storage, pool, sdn or network");
#[rustfmt::skip]
const STATUS: Param = Param::opt("status", Kind::Text { max: 64 }, "only this status, e.g. running, online");
const TAG: Param = Param::opt("tag", Kind::Text { max: 128 }, "only guests with this tag");
const POOL: Param = Param::opt("pool", Kind::Text { max: 128 }, "only members of this pool");
#[rustfmt::skip]
const LOG_MAX: Param = Param::opt("max", Kind::Int { min: 1, max: 10_000 }, "entries to read (default offset+limit)");
#[rustfmt::skip]
const COMMAND: Param = Param::req("command", Kind::Strings { max_items: MAX_ARGS, max_len: MAX_ARG }, "argv array, e.g. [\"df\", \"-h\"]");
#[rustfmt::skip]
const INPUT_DATA: Param = Param::opt("input_data", Kind::Text { max: 65_536 }, "text for the command's stdin");
#[rustfmt::skip]
const EXEC_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 1, max: 3600 }, "seconds to wait (default 30)");

const GUEST_METRICS: &[&Param] = &[&VMID, &NODE_OPT, &TIMEFRAME, &CF, &POINTS];

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "get_vm_metrics",
        title: "VM metrics",
        description: "A VM's RRD metrics over a timeframe: min, mean, max and last per series (cpu, mem, netin, diskwrite, ...) and a few downsampled points.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: GUEST_METRICS,
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_vm_metrics,
    },
    Tool {
        name: "get_container_metrics",
        title: "Container metrics",
        description: "A container's RRD metrics over a timeframe: min, mean, max and last per series (cpu, mem, netin, diskwrite, ...) and a few downsampled points.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: GUEST_METRICS,
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_container_metrics,
    },
    Tool {
        name: "get_node_metrics",
        title: "Node metrics",
        description: "A node's RRD metrics over a timeframe: min, mean, max and last per series (cpu, loadavg, memused, netin, ...) and a few downsampled points.",
        privilege: "Sys.Audit on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: &[&NODE, &NODE_TIMEFRAME, &CF, &POINTS],
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_node_metrics,
    },
    Tool {
        name: "get_storage_metrics",
        title: "Storage metrics",
        description: "A storage's RRD metrics on one node over a timeframe: min, mean, max and last of total and used bytes, and a few downsampled points.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: &[&STORAGE, &NODE, &TIMEFRAME, &CF, &POINTS],
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_storage_metrics,
    },
    Tool {
        name: "get_cluster_resources",
        title: "Cluster resources",
        description: "Lists nodes, guests, storages, pools and SDN entries, filtered by type, node, status, tag and pool; sorted by type, vmid, id.",
        privilege: "a valid login (shows only what the credentials may see)",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[&RESOURCE_TYPE, &NODE_FILTER, &STATUS, &TAG, &POOL, &LIMIT, &OFFSET],
        output: Output::List,
        idempotent: true,
        marks: &[],
        run: get_cluster_resources,
    },
    Tool {
        name: "get_next_vmid",
        title: "Next free VMID",
        description: "Returns the next free VMID as {vmid}, for creating or restoring a guest (free at the time of the call).",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[],
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_next_vmid,
    },
    Tool {
        name: "get_version",
        title: "PVE version",
        description: "Returns the Proxmox VE version of the node the server talks to: version, release, repoid, console.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[],
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_version,
    },
    Tool {
        name: "get_cluster_log",
        title: "Cluster log",
        description: "Returns the cluster log newest first (time, node, user, tag, pri, pid, msg), paged from the last max entries.",
        privilege: "a valid login (all entries need Sys.Syslog on /)",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[&LOG_MAX, &LIMIT, &OFFSET],
        output: Output::List,
        idempotent: true,
        marks: &[],
        run: get_cluster_log,
    },
    Tool {
        name: "get_vm_agent_info",
        title: "VM guest agent info",
        description: "Asks a running VM's QEMU guest agent for its OS, hostname, network interfaces with IPs, and filesystems with their use.",
        privilege: "VM.GuestAgent.Audit or VM.GuestAgent.Unrestricted on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Vms,
        params: &[&VMID, &NODE_OPT],
        output: Output::Object,
        idempotent: true,
        marks: &[],
        run: get_vm_agent_info,
    },
    Tool {
        name: "get_container_interfaces",
        title: "Container interfaces",
        description: "Lists a running container's network interfaces: name, hwaddr (MAC), inet (IPv4/prefix), inet6.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Containers,
        params: &[&VMID, &NODE_OPT],
        output: Output::Array,
        idempotent: true,
        marks: &[],
        run: get_container_interfaces,
    },
    Tool {
        name: "exec_in_vm",
        title: "Run command in VM",
        description: "Runs a command (argv, no shell) in a VM through the QEMU guest agent and waits for it; returns exitcode, stdout, stderr and truncation flags.",
        privilege: "VM.GuestAgent.Unrestricted on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Exec,
        params: &[&VMID, &COMMAND, &NODE_OPT, &INPUT_DATA, &EXEC_TIMEOUT, &DRY_RUN],
        output: Output::Object,
        idempotent: false,
        marks: &[],
        run: exec_in_vm,
    },
    Tool {
        name: "exec_in_container",
        title: "Run command in container",
        description: "Runs a command (argv, no shell) in a container on this node with pct exec and waits for it; returns exitcode, stdout, stderr and truncation flags.",
        privilege: "VM.Audit on /vms/{vmid} (to find the container; pct runs as this server's local user, root)",
        effect: Effect::Destroy,
        area: Area::Exec,
        params: &[&VMID, &COMMAND, &NODE_OPT, &EXEC_TIMEOUT, &DRY_RUN],
        output: Output::Object,
        idempotent: false,
        marks: &[Mark::OnPveNode],
        run: exec_in_container,
    },
];

// ---------------------------------------------------------------------------------------------
// Metrics.

const TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year"];
const NODE_TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year", "decade"];

/// The validated `timeframe`, `cf` and `points` of a metrics call.
struct Window {
    timeframe: &'static str,
    cf: &'static str,
    points: usize,
}

impl Window {
    fn from(args: &Args, timeframes: &[&'static str]) -> Result<Window, Error> {
        Ok(Window {
            timeframe: choice(args, "timeframe", timeframes)?.unwrap_or("hour"),
            cf: choice(args, "cf", &["AVERAGE", "MAX"])?.unwrap_or("AVERAGE"),
            points: args.int("points").unwrap_or(12).max(0) as usize,
        })
    }

    /// GET `{base}/rrddata` and its summary.
    fn read(&self, ctx: &Ctx, base: &str) -> Result<Content, Error> {
        let rows = ctx.pve.get(
            &format!("{base}/rrddata"),
            &[
                ("timeframe", self.timeframe.to_string()),
                ("cf", self.cf.to_string()),
            ],
        )?;
        data(summarize(rows, self))
    }
}

/// An optional argument that must be one of `options` (any case); the option as spelt there.
fn choice(
    args: &Args,
    name: &str,
    options: &[&'static str],
) -> Result<Option<&'static str>, Error> {
    let Some(given) = args.str(name) else {
        return Ok(None);
    };
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(given.trim()))
        .map(|o| Some(*o))
        .ok_or_else(|| {
            Error::Args(format!(
                "'{name}' must be one of {}, got '{given}'",
                options.join(", ")
            ))
        })
}

fn get_vm_metrics(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let window = Window::from(args, TIMEFRAMES)?;
    let base = guest_path(ctx, args, Guest::Vm)?;
    window.read(ctx, &base)
}

fn get_container_metrics(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let window = Window::from(args, TIMEFRAMES)?;
    let base = guest_path(ctx, args, Guest::Container)?;
    window.read(ctx, &base)
}

fn get_node_metrics(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let window = Window::from(args, NODE_TIMEFRAMES)?;
    let node = args.required_str("node");
    window.read(ctx, &path(&[&"nodes", &node]))
}

fn get_storage_metrics(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let window = Window::from(args, TIMEFRAMES)?;
    let (node, storage) = (args.required_str("node"), args.required_str("storage"));
    window.read(ctx, &path(&[&"nodes", &node, &"storage", &storage]))
}

/// A number in a PVE answer (numbers may arrive as strings); None when absent or not a number.
fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A number made short for a summary: whole above 1000, else 4 significant digits; integers
/// are written without a fraction.
fn compact(x: f64) -> Value {
    let y = if x == 0.0 || x.abs() >= 1000.0 {
        x.round()
    } else {
        let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
        (x * scale).round() / scale
    };
    if y.fract() == 0.0 && y.abs() < 9e15 {
        json!(y as i64)
    } else {
        json!(y)
    }
}

/// rrddata rows → `{timeframe, cf, samples, start, end, series: {name: {min, mean, max, last}},
/// points: [...]}`. Rows may lack any field (the start of a window often has only `time`).
fn summarize(rows: Value, window: &Window) -> Value {
    let mut rows: Vec<Map<String, Value>> = match rows {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    rows.sort_by(|a, b| {
        let t = |r: &Map<String, Value>| num(r.get("time")).unwrap_or(f64::MIN);
        t(a).total_cmp(&t(b))
    });
    struct Acc {
        min: f64,
        max: f64,
        sum: f64,
        n: usize,
        last: f64,
    }
    let mut acc: std::collections::BTreeMap<&str, Acc> = std::collections::BTreeMap::new();
    for row in &rows {
        for (k, v) in row {
            let Some(x) = num(Some(v)).filter(|_| k != "time") else {
                continue;
            };
            let a = acc.entry(k.as_str()).or_insert(Acc {
                min: x,
                max: x,
                sum: 0.0,
                n: 0,
                last: x,
            });
            a.min = a.min.min(x);
            a.max = a.max.max(x);
            a.sum += x;
            a.n += 1;
            a.last = x;
        }
    }
    let series: Map<String, Value> = acc
        .iter()
        .map(|(k, a)| {
            let s = json!({"min": compact(a.min), "mean": compact(a.sum / a.n as f64), "max": compact(a.max), "last": compact(a.last)});
            (k.to_string(), s)
        })
        .collect();
    let times: Vec<f64> = rows.iter().filter_map(|r| num(r.get("time"))).collect();
    // Downsampling: contiguous buckets of rows, each one point at the bucket's last time with
    // every field's mean (AVERAGE) or maximum (MAX) over the rows that have it.
    let buckets = window.points.min(rows.len());
    let mut points = Vec::with_capacity(buckets);
    for i in 0..buckets {
        let bucket = &rows[i * rows.len() / buckets..(i + 1) * rows.len() / buckets];
        let mut point = Map::new();
        if let Some(t) = bucket.iter().rev().find_map(|r| num(r.get("time"))) {
            point.insert("time".into(), compact(t));
        }
        for name in acc.keys() {
            let values: Vec<f64> = bucket.iter().filter_map(|r| num(r.get(*name))).collect();
            if values.is_empty() {
                continue;
            }
            let v = if window.cf == "MAX" {
                values.iter().copied().fold(f64::MIN, f64::max)
            } else {
                values.iter().sum::<f64>() / values.len() as f64
            };
            point.insert(name.to_string(), compact(v));
        }
        points.push(Value::Object(point));
    }
    let mut out = json!({
        "timeframe": window.timeframe,
        "cf": window.cf,
        "samples": rows.len(),
        "series": series,
        "points": points,
    });
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        out["start"] = compact(*first);
        out["end"] = compact(*last);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cluster.

/// `type` argument → PVE's own `type` filter (None: filtered here only).
const RESOURCE_TYPES: &[(&str, Option<&str>)] = &[
    ("vm", Some("vm")),
    ("qemu", Some("vm")),
    ("lxc", Some("vm")),
    ("node", Some("node")),
    ("storage", Some("storage")),
    ("pool", None),
    ("sdn", Some("sdn")),
    ("network", None),
];

fn get_cluster_resources(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let names: Vec<&'static str> = RESOURCE_TYPES.iter().map(|(n, _)| *n).collect();
    let wanted = choice(args, "type", &names)?;
    let query: Params = RESOURCE_TYPES
        .iter()
        .find(|(n, _)| Some(*n) == wanted)
        .and_then(|(_, q)| *q)
        .map(|q| vec![("type", q.to_string())])
        .unwrap_or_default();
    let all = ctx.pve.get("/cluster/resources", &query)?;
    let eq = |field: &str, arg: &str, r: &Value| {
        args.str(arg)
            .is_none_or(|want| text(r, field).eq_ignore_ascii_case(want.trim()))
    };
    let tagged = |r: &Value| {
        args.str("tag").is_none_or(|want| {
            text(r, "tags")
                .split([';', ',', ' '])
                .any(|t| !t.is_empty() && t.eq_ignore_ascii_case(want.trim()))
        })
    };
    let of_type = |r: &Value| match wanted {
        None => true,
        Some("vm") => matches!(text(r, "type"), "qemu" | "lxc"),
        Some(t) => text(r, "type") == t,
    };
    let matching: Vec<Value> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| of_type(r) && eq("node", "node", r) && eq("status", "status", r) && tagged(r))
        .filter(|r| eq("pool", "pool", r))
        .cloned()
        .collect();
    const FIELDS: &[&str] = &[
        "id",
        "type",
        "node",
        "vmid",
        "name",
        "status",
        "cpu",
        "maxcpu",
        "mem",
        "maxmem",
        "disk",
        "maxdisk",
        "uptime",
        "template",
        "tags",
        "lock",
        "pool",
        "hastate",
        "storage",
        "plugintype",
        "content",
        "shared",
        "sdn",
        "network",
    ];
    Ok(page(
        args,
        trimmed(Value::Array(matching), FIELDS),
        &|a: &Value, b: &Value| {
            text(a, "type")
                .cmp(text(b, "type"))
                .then_with(|| number(a, "vmid").total_cmp(&number(b, "vmid")))
                .then_with(|| text(a, "id").cmp(text(b, "id")))
        },
    ))
}

fn get_next_vmid(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let reply = ctx.pve.get("/cluster/nextid", &[])?;
    let vmid = as_u64(&reply).ok_or_else(|| Error::Transport {
        method: "GET",
        path: "/cluster/nextid".into(),
        message: format!("PVE did not return a VMID but {reply}"),
    })?;
    data(json!({ "vmid": vmid }))
}

fn get_version(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    data(ctx.pve.get("/version", &[])?)
}

fn get_cluster_log(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (limit, offset) = paging(args);
    let max = args
        .int("max")
        .map(|m| m as usize)
        .unwrap_or((offset + limit).min(10_000));
    let entries = ctx.pve.get("/cluster/log", &[("max", max.to_string())])?;
    const FIELDS: &[&str] = &["time", "node", "user", "tag", "pri", "pid", "msg"];
    let items = trimmed(entries, FIELDS);
    let read = items.len();
    // A stable sort: entries of the same second keep PVE's order (newest first).
    let mut out = page(args, items, &|a: &Value, b: &Value| {
        number(b, "time").total_cmp(&number(a, "time"))
    });
    if read >= max && !out.contains_key("hint") {
        out.insert(
            "hint".into(),
            json!(format!(
                "only the last {max} entries were read; older ones need a larger max"
            )),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Guest agent.

/// PVE's error for a VM whose agent cannot answer, with what to do about it.
fn agent_error(e: Error, vmid: i64) -> Error {
    let Error::Api {
        method,
        path,
        status,
        message,
    } = e
    else {
        return e;
    };
    let lower = message.to_ascii_lowercase();
    let advice = if lower.contains("guest agent") || lower.contains("guest-ping") {
        format!(
            "; the QEMU guest agent must be installed and running inside the VM (package qemu-guest-agent) \
             and enabled in its options (agent: 1, e.g. `qm set {vmid} --agent enabled=1`, then a full stop and start of the VM)"
        )
    } else if lower.contains("not running") {
        "; start the VM first (get_vm_status shows its state)".to_string()
    } else {
        String::new()
    };
    Error::Api {
        method,
        path,
        status,
        message: message + &advice,
    }
}

/// `GET {base}/agent/{command}`'s `result`.
fn agent_get(ctx: &Ctx, base: &str, command: &str, vmid: i64) -> Result<Value, Error> {
    let reply = ctx
        .pve
        .get(&format!("{base}/agent/{command}"), &[])
        .map_err(|e| agent_error(e, vmid))?;
    Ok(match reply {
        Value::Object(mut m) if m.contains_key("result") => m.remove("result").unwrap_or_default(),
        other => other,
    })
}

fn get_vm_agent_info(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vmid = args.vmid();
    let base = guest_path(ctx, args, Guest::Vm)?;
    // The first answer tells whether the agent works at all; later ones may fail on their own
    // (an old agent, a Windows guest refusing get-fsinfo): those are reported, not fatal.
    let os = agent_get(ctx, &base, "get-osinfo", vmid)?;
    let mut info = json!({"os": os});
    let mut failed = Map::new();
    match agent_get(ctx, &base, "get-host-name", vmid) {
        Ok(h) => info["hostname"] = h.get("host-name").cloned().unwrap_or(h),
        Err(e) => {
            failed.insert("hostname".into(), json!(e.to_string()));
        }
    }
    match agent_get(ctx, &base, "network-get-interfaces", vmid) {
        Ok(list) => info["interfaces"] = Value::Array(interfaces(list)),
        Err(e) => {
            failed.insert("interfaces".into(), json!(e.to_string()));
        }
    }
    match agent_get(ctx, &base, "get-fsinfo", vmid) {
        Ok(list) => {
            const FIELDS: &[&str] = &["mountpoint", "name", "type", "total-bytes", "used-bytes"];
            let mut fs = trimmed(list, FIELDS);
            fs.sort_by(|a, b| text(a, "mountpoint").cmp(text(b, "mountpoint")));
            info["filesystems"] = Value::Array(fs);
        }
        Err(e) => {
            failed.insert("filesystems".into(), json!(e.to_string()));
        }
    }
    if !failed.is_empty() {
        info["unavailable"] = Value::Object(failed);
    }
    data(info)
}

/// The agent's interfaces as `{name, hardware-address, ip-addresses: ["addr/prefix", ...]}`.
fn interfaces(list: Value) -> Vec<Value> {
    let Value::Array(items) = list else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| i.is_object())
        .map(|i| {
            let ips: Vec<Value> = i
                .get("ip-addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let ip = a.get("ip-address").and_then(Value::as_str)?;
                    Some(match a.get("prefix").and_then(as_u64) {
                        Some(p) => json!(format!("{ip}/{p}")),
                        None => json!(ip),
                    })
                })
                .collect();
            let mut out = json!({"name": i.get("name"), "hardware-address": i.get("hardware-address"), "ip-addresses": ips});
            if let Some(m) = out.as_object_mut() {
                m.retain(|_, v| !v.is_null());
            }
            out
        })
        .collect()
}

fn get_container_interfaces(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Container)?;
    let list = ctx.pve.get(&format!("{base}/interfaces"), &[])?;
    const FIELDS: &[&str] = &[
        "name",
        "hwaddr",
        "hardware-address",
        "inet",
        "inet6",
        "ip-addresses",
    ];
    data(Value::Array(trimmed(list, FIELDS)))
}

// ---------------------------------------------------------------------------------------------
// Commands in guests.

/// At most this many argv items, each at most `MAX_ARG` characters.
const MAX_ARGS: usize = 1024;
const MAX_ARG: usize = 4096;
/// Bytes of stdout and of stderr a result carries (the rest is cut and flagged).
const MAX_STREAM: usize = 16 * 1024;
const DEFAULT_EXEC_TIMEOUT: u64 = 30;

/// Checks an argv array: a non-empty array of strings, each at most 4096 characters, without
/// NUL, the program not empty.
pub(super) fn check_argv(value: &Value) -> Result<Vec<String>, String> {
    const SHAPE: &str = "must be an array of strings: the program and its arguments, e.g. [\"df\", \"-h\"] (no shell: for pipes use [\"sh\", \"-c\", \"...\"])";
    let Value::Array(items) = value else {
        return Err(SHAPE.into());
    };
    if items.is_empty() {
        return Err("must name at least the program, e.g. [\"uptime\"]".into());
    }
    if items.len() > MAX_ARGS {
        return Err(format!(
            "may have at most {MAX_ARGS} items, got {}",
            items.len()
        ));
    }
    let mut argv = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(s) = item.as_str() else {
            return Err(format!("item {i} must be a string, got {item}; {SHAPE}"));
        };
        if s.chars().count() > MAX_ARG {
            return Err(format!("item {i} may be at most {MAX_ARG} characters long"));
        }
        if s.contains('\0') {
            return Err(format!("item {i} contains a NUL character"));
        }
        argv.push(s.to_string());
    }
    if argv[0].trim().is_empty() {
        return Err("item 0 (the program) must not be empty".into());
    }
    Ok(argv)
}

/// The `command` argument (an array of strings, checked by `Kind::Strings`; here also that
/// the program is named).
fn command(args: &Args) -> Result<Vec<String>, Error> {
    check_argv(args.0.get("command").unwrap_or(&Value::Null))
        .map_err(|why| Error::Args(format!("'command' {why}")))
}

/// `stdout`/`stderr` text cut to `MAX_STREAM` bytes at a character boundary; whether it was cut.
fn cut(s: &str) -> (String, bool) {
    if s.len() <= MAX_STREAM {
        return (s.to_string(), false);
    }
    let mut end = MAX_STREAM;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// Reads the guest's config once: refuses PVE's `protection` flag (as the destroy tools do),
/// and for VMs, a config without the guest agent enabled.
fn exec_preflight(ctx: &Ctx, base: &str, vmid: i64, kind: Guest) -> Result<(), Error> {
    let config_path = format!("{base}/config");
    let config = ctx.pve.get(&config_path, &[])?;
    if config.get("protection").and_then(as_u64) == Some(1) {
        return Err(Error::Denied(format!(
            "GET {config_path}: guest {vmid} has PVE's protection flag set (protection: 1), so this server will not run commands in it; \
             if this is intended, clear the flag in PVE first (Options > Protection)"
        )));
    }
    if kind == Guest::Vm && !agent_enabled(config.get("agent")) {
        return Err(Error::NotFound(format!(
            "GET {config_path}: VM {vmid} has no QEMU guest agent configured (agent is not enabled in its config); \
             install and start qemu-guest-agent inside the VM, set agent: 1 (`qm set {vmid} --agent enabled=1`, \
             or Options > QEMU Guest Agent), then stop and start the VM"
        )));
    }
    Ok(())
}

/// Whether a VM config's `agent` property string (`1`, `enabled=1,fstrim_cloned_disks=1`, `0`)
/// enables the agent.
fn agent_enabled(agent: Option<&Value>) -> bool {
    let text = match agent {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => u8::from(*b).to_string(),
        _ => return false,
    };
    let first = text.split(',').next().unwrap_or_default().trim();
    let value = first.strip_prefix("enabled=").unwrap_or(first);
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "yes" | "on" | "true"
    )
}

/// The dry-run result for a command: the request, and the guest's current state.
fn exec_dry_run(request: Value, target: Value) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), Value::Null);
    out.insert("dry_run".into(), json!(true));
    out.insert("request".into(), request);
    out.insert("target".into(), target);
    Ok(out)
}

fn exec_in_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let argv = command(args)?;
    let timeout = args
        .int("timeout")
        .map(|t| t as u64)
        .unwrap_or(DEFAULT_EXEC_TIMEOUT);
    let vmid = args.vmid();
    let base = guest_path(ctx, args, Guest::Vm)?;
    exec_preflight(ctx, &base, vmid, Guest::Vm)?;
    let exec_path = format!("{base}/agent/exec");
    let mut params: Params = argv.iter().map(|a| ("command", a.clone())).collect();
    if let Some(input) = args.str("input_data") {
        params.push(("input-data", input.to_string()));
    }
    if args.flag("dry_run").unwrap_or(false) {
        let mut shown = json!({"command": argv});
        if let Some(input) = args.str("input_data") {
            shown["input-data"] = json!(input);
        }
        let target = ctx.pve.get(&format!("{base}/status/current"), &[])?;
        return exec_dry_run(
            json!({"method": "POST", "path": exec_path, "params": shown}),
            target,
        );
    }
    let started = ctx
        .pve
        .call(Method::Post, &exec_path, &params)
        .map_err(|e| agent_error(e, vmid))?;
    let pid = started
        .data
        .get("pid")
        .and_then(as_u64)
        .ok_or_else(|| Error::Transport {
            method: "POST",
            path: exec_path.clone(),
            message: format!("PVE did not return a process id but {}", started.data),
        })?;
    let status_path = format!("{base}/agent/exec-status");
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut delay = Duration::from_millis(200);
    let mut failures = 0;
    loop {
        let status = match ctx.pve.get(&status_path, &[("pid", pid.to_string())]) {
            Ok(status) => status,
            Err(e) if failures < 2 && Instant::now() < deadline => {
                failures += 1;
                crate::info!("reading the status of pid {pid} in VM {vmid} failed ({e}); trying again");
                if !ctx.waiter.pause(delay) {
                    return Err(Error::Cancelled);
                }
                continue;
            }
            // The command runs: say so, so that nobody starts it again blindly.
            Err(e) => {
                return Err(Error::Transport {
                    method: "POST",
                    path: exec_path,
                    message: format!(
                        "the guest agent started the command (pid {pid}) but reading its status failed ({e}); do not repeat the call blindly"
                    ),
                })
            }
        };
        failures = 0;
        let exited = status.get("exited").and_then(as_u64) == Some(1);
        if exited {
            return data(vm_result(pid, &status));
        }
        let now = Instant::now();
        if now >= deadline {
            let mut out = Map::new();
            out.insert(
                "data".into(),
                json!({"pid": pid, "exited": false, "timed_out": true}),
            );
            out.insert(
                "hint".into(),
                json!(format!(
                    "the command still runs in the VM after {timeout} s (pid {pid}) and its output is lost to this call; \
                     call again with a larger timeout, or start it in the background (e.g. [\"sh\", \"-c\", \"nohup ... >/tmp/out 2>&1 &\"])"
                )),
            );
            return Ok(out);
        }
        if ctx.waiter.wants_progress() {
            ctx.waiter
                .progress(&format!("VM {vmid}: pid {pid} ({}) still running", argv[0]));
        }
        if !ctx.waiter.pause(delay.min(deadline - now)) {
            return Err(Error::Cancelled);
        }
        delay = (delay * 3 / 2).min(Duration::from_secs(1));
    }
}

/// An exited `exec-status` as the result's `data`.
fn vm_result(pid: u64, status: &Value) -> Value {
    let stream = |name: &str, flag: &str| {
        let (text, cut_here) = cut(status.get(name).and_then(Value::as_str).unwrap_or_default());
        let by_agent = status.get(flag).and_then(as_u64) == Some(1);
        (text, cut_here || by_agent)
    };
    let (stdout, out_cut) = stream("out-data", "out-truncated");
    let (stderr, err_cut) = stream("err-data", "err-truncated");
    let mut out = json!({
        "pid": pid,
        "exited": true,
        "exitcode": status.get("exitcode"),
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": out_cut,
        "stderr_truncated": err_cut,
    });
    if let Some(signal) = status.get("signal") {
        out["signal"] = signal.clone();
    }
    out
}

/// Where `pct` lives on a PVE node (`present()` in mod.rs hides `exec_in_container` elsewhere).
const PCT: &str = "/usr/sbin/pct";

/// The name PVE gives this machine: its short host name.
fn local_node() -> Option<String> {
    let name = std::fs::read_to_string("/etc/hostname").ok()?;
    let short = name.trim().split('.').next()?.to_string();
    (!short.is_empty()).then_some(short)
}

fn exec_in_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let argv = command(args)?;
    let timeout = args
        .int("timeout")
        .map(|t| t as u64)
        .unwrap_or(DEFAULT_EXEC_TIMEOUT);
    let vmid = args.vmid();
    let base = guest_path(ctx, args, Guest::Container)?;
    // `/nodes/{node}/lxc/{vmid}`: node names need no percent-encoding.
    let node = base.split('/').nth(2).unwrap_or_default().to_string();
    if let Some(here) = local_node() {
        if !here.eq_ignore_ascii_case(&node) {
            return Err(Error::NotFound(format!(
                "container {vmid} is on node {node}, but this server runs on {here}: pct exec reaches only the containers of its own node; \
                 run the server on {node} (or migrate the container)"
            )));
        }
    }
    exec_preflight(ctx, &base, vmid, Guest::Container)?;
    let mut pct_args = vec!["exec".to_string(), vmid.to_string(), "--".to_string()];
    pct_args.extend(argv);
    if args.flag("dry_run").unwrap_or(false) {
        let mut shown = vec![PCT.to_string()];
        shown.extend(pct_args);
        let target = ctx.pve.get(&format!("{base}/status/current"), &[])?;
        return exec_dry_run(json!({"command": shown, "timeout": timeout}), target);
    }
    let ran = run_bounded(
        Path::new(PCT),
        &pct_args,
        Duration::from_secs(timeout),
        MAX_STREAM,
        ctx.waiter,
    )
    .map_err(|message| match message.as_str() {
        CANCELLED => Error::Cancelled,
        _ => Error::Transport {
            method: "pct",
            path: format!("exec {vmid}"),
            message,
        },
    })?;
    let mut out = Map::new();
    if ran.timed_out {
        out.insert(
            "hint".into(),
            json!(format!(
                "the command did not finish within {timeout} s and was killed; call again with a larger timeout"
            )),
        );
    }
    out.insert(
        "data".into(),
        json!({
            "exitcode": ran.code,
            "stdout": String::from_utf8_lossy(&ran.stdout),
            "stderr": String::from_utf8_lossy(&ran.stderr),
            "stdout_truncated": ran.stdout_truncated,
            "stderr_truncated": ran.stderr_truncated,
            "timed_out": ran.timed_out,
        }),
    );
    if let (Some(signal), Some(Value::Object(d))) = (ran.signal, out.get_mut("data")) {
        d.insert("signal".into(), json!(signal));
    }
    Ok(out)
}

/// What a local command did.
#[derive(Debug)]
struct Ran {
    /// None when it was killed by a signal.
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    timed_out: bool,
}

/// A stream read to its end on a thread, keeping the first `max` bytes.
struct Capture {
    kept: Arc<Mutex<(Vec<u8>, bool)>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(mut stream: impl Read + Send + 'static, max: usize) -> Capture {
        let kept = Arc::new(Mutex::new((Vec::new(), false)));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut k = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let room = max.saturating_sub(k.0.len());
                        if n > room {
                            k.1 = true;
                        }
                        k.0.extend_from_slice(&chunk[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
        Capture { kept, done }
    }

    /// What was read, after waiting up to `grace` for the end of the stream (a process the
    /// command left behind may hold it open).
    fn finish(self, grace: Duration) -> (Vec<u8>, bool) {
        let _ = self.done.recv_timeout(grace);
        let mut k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut k.0), k.1)
    }
}

/// Kills the child and, on Unix, its process group (it was started as the group's leader).
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `program args…` without a shell and with no stdin, capturing at most `max` bytes of
/// stdout and of stderr, killing it (and its process group) after `timeout` or when the caller
/// cancels (then the error is `CANCELLED`).
fn run_bounded(
    program: &Path,
    args: &[String],
    timeout: Duration,
    max: usize,
    waiter: &dyn Waiter,
) -> Result<Ran, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let out = child.stdout.take().map(|s| Capture::start(s, max));
    let err = child.stderr.take().map(|s| Capture::start(s, max));
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                kill_tree(&mut child);
                return Err(format!("waiting for {} failed: {e}", program.display()));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            kill_tree(&mut child);
            break None;
        }
        if !waiter.pause(delay.min(deadline - now)) {
            kill_tree(&mut child);
            return Err(CANCELLED.into());
        }
        delay = (delay * 2).min(Duration::from_millis(250));
    };
    let grace = Duration::from_secs(1);
    let (stdout, stdout_truncated) = out.map(|c| c.finish(grace)).unwrap_or_default();
    let (stderr, stderr_truncated) = err.map(|c| c.finish(grace)).unwrap_or_default();
    #[cfg(unix)]
    let signal = {
        use std::os::unix::process::ExitStatusExt;
        status.and_then(|s| s.signal())
    };
    #[cfg(not(unix))]
    let signal = None;
    Ok(Ran {
        code: status.and_then(|s| s.code()),
        signal: if timed_out { None } else { signal },
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        timed_out,
    })
}

/// `run_bounded`'s error text when the caller cancelled (turned into `Error::Cancelled`).
const CANCELLED: &str = "cancelled by the client";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Sleep;

    #[test]
    fn argv_is_checked() {
        assert_eq!(
            check_argv(&json!(["df", "-h"])).unwrap(),
            vec!["df".to_string(), "-h".to_string()]
        );
        assert!(check_argv(&json!("df -h"))
            .unwrap_err()
            .starts_with("must be an array of strings"));
        assert!(check_argv(&json!([]))
            .unwrap_err()
            .contains("at least the program"));
        assert!(check_argv(&json!(["ls", 1]))
            .unwrap_err()
            .starts_with("item 1 must be a string, got 1"));
        assert_eq!(
            check_argv(&json!(["echo", "x".repeat(4097)])).unwrap_err(),
            "item 1 may be at most 4096 characters long"
        );
        assert!(check_argv(&json!(["echo", "x".repeat(4096)])).is_ok());
        assert_eq!(
            check_argv(&json!(["echo", "a\u{0}b"])).unwrap_err(),
            "item 1 contains a NUL character"
        );
        assert_eq!(
            check_argv(&json!([" "])).unwrap_err(),
            "item 0 (the program) must not be empty"
        );
        let many: Vec<&str> = vec!["x"; MAX_ARGS + 1];
        assert!(check_argv(&json!(many))
            .unwrap_err()
            .contains("at most 1024 items"));
    }

    #[test]
    fn agent_property_strings() {
        for on in [
            json!("1"),
            json!("enabled=1,fstrim_cloned_disks=1"),
            json!(1),
            json!("1,type=virtio"),
        ] {
            assert!(agent_enabled(Some(&on)), "{on}");
        }
        for off in [json!("0"), json!("enabled=0"), json!(0), Value::Null] {
            assert!(!agent_enabled(Some(&off)), "{off}");
        }
        assert!(!agent_enabled(None));
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0123456), json!(0.01235));
        assert_eq!(compact(2147483648.4), json!(2147483648u64));
        assert_eq!(compact(12.0), json!(12));
        assert_eq!(compact(999.96), json!(1000));
        assert_eq!(compact(-0.5), json!(-0.5));
        assert_eq!(compact(0.0), json!(0));
    }

    #[test]
    fn summary_of_sparse_rows() {
        let rows = json!([
            {"time": 300, "cpu": 0.3, "mem": "300"},
            {"time": 100},
            {"time": 200, "cpu": 0.1, "mem": 100},
            {"time": 400, "cpu": 0.2},
            "garbage",
        ]);
        let w = Window {
            timeframe: "hour",
            cf: "AVERAGE",
            points: 2,
        };
        assert_eq!(
            summarize(rows.clone(), &w),
            json!({
                "timeframe": "hour", "cf": "AVERAGE", "samples": 4, "start": 100, "end": 400,
                "series": {
                    "cpu": {"min": 0.1, "mean": 0.2, "max": 0.3, "last": 0.2},
                    "mem": {"min": 100, "mean": 200, "max": 300, "last": 300},
                },
                "points": [
                    {"time": 200, "cpu": 0.1, "mem": 100},
                    {"time": 400, "cpu": 0.25, "mem": 300},
                ],
            })
        );
        let max = Window {
            cf: "MAX",
            points: 10,
            ..w
        };
        let s = summarize(rows, &max);
        assert_eq!(
            s["points"].as_array().unwrap().len(),
            4,
            "no more points than rows"
        );
        assert_eq!(s["points"][0], json!({"time": 100}));
        let empty = summarize(json!(null), &max);
        assert_eq!(
            empty,
            json!({"timeframe": "hour", "cf": "MAX", "samples": 0, "series": {}, "points": []})
        );
    }

    /// A waiter whose caller has gone away.
    struct Gone;
    impl Waiter for Gone {
        fn wants_progress(&self) -> bool {
            false
        }
        fn progress(&self, _message: &str) {}
        fn pause(&self, _d: Duration) -> bool {
            false
        }
    }

    fn sh(script: &str, timeout_ms: u64, max: usize, waiter: &dyn Waiter) -> Result<Ran, String> {
        let args = vec!["-c".to_string(), script.to_string()];
        run_bounded(
            Path::new("/bin/sh"),
            &args,
            Duration::from_millis(timeout_ms),
            max,
            waiter,
        )
    }

    #[cfg(unix)]
    #[test]
    fn runner_captures_exit_code_and_streams() {
        let ran = sh("echo out; echo err >&2; exit 3", 10_000, 1024, &Sleep).unwrap();
        assert_eq!(ran.code, Some(3));
        assert_eq!(ran.stdout, b"out\n");
        assert_eq!(ran.stderr, b"err\n");
        assert!(!ran.timed_out && !ran.stdout_truncated && !ran.stderr_truncated);
        assert_eq!(ran.signal, None);
    }

    #[cfg(unix)]
    #[test]
    fn runner_bounds_output() {
        let ran = sh(
            "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done",
            20_000,
            1000,
            &Sleep,
        )
        .unwrap();
        assert_eq!(ran.code, Some(0));
        assert_eq!(ran.stdout.len(), 1000);
        assert!(ran.stdout_truncated);
        assert!(!ran.stderr_truncated);
    }

    #[cfg(unix)]
    #[test]
    fn runner_kills_on_timeout_with_children() {
        let started = Instant::now();
        // The child's own child holds the pipes open: the group kill ends it too.
        let ran = sh("echo begun; sleep 30 & sleep 30", 300, 1024, &Sleep).unwrap();
        assert!(ran.timed_out);
        assert_eq!(ran.code, None);
        assert_eq!(ran.stdout, b"begun\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[cfg(unix)]
    #[test]
    fn runner_stops_when_cancelled() {
        let started = Instant::now();
        assert_eq!(sh("sleep 30", 10_000, 1024, &Gone).unwrap_err(), CANCELLED);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn runner_reports_a_missing_program() {
        let err = run_bounded(
            Path::new("/nonexistent/pct"),
            &[],
            Duration::from_secs(1),
            10,
            &Sleep,
        )
        .unwrap_err();
        assert!(
            err.starts_with("could not start /nonexistent/pct: "),
            "{err}"
        );
    }
}
