//! Monitoring (RRD metrics, cluster resources, version, next VMID, cluster log) and the guest
//! agent (agent info, container interfaces; its commands are in `exec.rs`).
//!
//! The metrics tools summarise PVE's `rrddata` (tens to hundreds of points, each a flat object
//! of numbers that may lack any field) per series, with a few downsampled points.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, path, Params};

use super::guest::{guest_path, next_vmid, Guest};
use super::list::{by_text, data, number, page, paging, sort, text, trimmed};
use super::params::METRICS;
use super::params::{LIMIT, NODE, NODE_FILTER, NODE_OPT, OFFSET, STORAGE, VMID};
use super::table::{f, Mark, Ty};
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};
use super::validate::exact_integer;

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

const GUEST_METRICS: &[&Param] = &[&VMID, &NODE_OPT, &TIMEFRAME, &CF, &POINTS];

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "get_vm_metrics",
        title: "VM metrics",
        description: "A VM's RRD metrics over a timeframe, summarised per series, with a few downsampled points.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: GUEST_METRICS,
        output: Output::object(METRICS),
        idempotent: true,
        marks: &[Mark::Also(Area::Vms)],
        run: get_vm_metrics,
    },
    Tool {
        name: "get_container_metrics",
        title: "Container metrics",
        description: "A container's RRD metrics over a timeframe, summarised per series, with a few downsampled points.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: GUEST_METRICS,
        output: Output::object(METRICS),
        idempotent: true,
        marks: &[Mark::Also(Area::Containers)],
        run: get_container_metrics,
    },
    Tool {
        name: "get_node_metrics",
        title: "Node metrics",
        description: "A node's RRD metrics over a timeframe, summarised per series, with a few downsampled points.",
        privilege: "Sys.Audit on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: &[&NODE, &NODE_TIMEFRAME, &CF, &POINTS],
        output: Output::object(METRICS),
        idempotent: true,
        marks: &[Mark::Also(Area::Nodes)],
        run: get_node_metrics,
    },
    Tool {
        name: "get_storage_metrics",
        title: "Storage metrics",
        description: "A storage's RRD metrics on one node over a timeframe (total and used bytes), with a few downsampled points.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage}",
        effect: Effect::Read,
        area: Area::Metrics,
        params: &[&STORAGE, &NODE, &TIMEFRAME, &CF, &POINTS],
        output: Output::object(METRICS),
        idempotent: true,
        marks: &[Mark::Also(Area::Storage)],
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
        output: Output::list(&[f("type", Ty::Str, "node, qemu, lxc, storage, pool, sdn"), f("id", Ty::Str, ""), f("node", Ty::Str, ""), f("vmid", Ty::Int, ""), f("name", Ty::Str, ""), f("status", Ty::Str, ""), f("tags", Ty::Str, ""), f("pool", Ty::Str, ""), f("cpu", Ty::Num, "use, 0-1")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_cluster_resources,
    },
    Tool {
        name: "get_next_vmid",
        title: "Next free VMID",
        description: "Returns the next free VMID, for creating or restoring a guest (free at the time of the call).",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Provisioning,
        params: &[],
        output: Output::object(&[f("vmid", Ty::Int, "")]),
        idempotent: true,
        marks: &[Mark::Also(Area::Cluster)],
        run: get_next_vmid,
    },
    Tool {
        name: "get_version",
        title: "PVE version",
        description: "Returns the Proxmox VE version of the node the server talks to.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[],
        output: Output::object(&[f("version", Ty::Str, ""), f("release", Ty::Str, ""), f("repoid", Ty::Str, ""), f("console", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: get_version,
    },
    Tool {
        name: "get_cluster_log",
        title: "Cluster log",
        description: "Returns the cluster log newest first, paged from the last max entries.",
        privilege: "a valid login (all entries need Sys.Syslog on /)",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[&LOG_MAX, &LIMIT, &OFFSET],
        output: Output::list(&[f("time", Ty::Int, "Unix time"), f("node", Ty::Str, ""), f("user", Ty::Str, ""), f("tag", Ty::Str, ""), f("pri", Ty::Int, "syslog priority"), f("pid", Ty::Int, ""), f("msg", Ty::Str, "")]),
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
        output: Output::object(&[f("os", Ty::Obj, ""), f("hostname", Ty::Str, ""), f("interfaces", Ty::Arr, "with IPs"), f("filesystems", Ty::Arr, "with use"), f("unavailable", Ty::Obj, "what the agent did not answer")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_vm_agent_info,
    },
    Tool {
        name: "get_container_interfaces",
        title: "Container interfaces",
        description: "Lists a running container's network interfaces and addresses.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Containers,
        params: &[&VMID, &NODE_OPT],
        output: Output::array(&[f("name", Ty::Str, ""), f("hwaddr", Ty::Str, "MAC"), f("inet", Ty::Str, "IPv4/prefix"), f("inet6", Ty::Str, "")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_container_interfaces,
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
    let node = args.required_str("node")?;
    window.read(ctx, &path(&[&"nodes", &node]))
}

fn get_storage_metrics(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let window = Window::from(args, TIMEFRAMES)?;
    let (node, storage) = (args.required_str("node")?, args.required_str("storage")?);
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
    match exact_integer(y) {
        Some(n) => json!(n),
        None => json!(y),
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
    data(json!({ "vmid": next_vmid(ctx)? }))
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
pub(super) fn agent_error(e: Error, vmid: i64) -> Error {
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
            sort(&mut fs, &by_text("mountpoint"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
