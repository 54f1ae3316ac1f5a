//! Health reads: replication jobs with their last and next sync, pending updates (and PVE's
//! `apt update` that refreshes them), a node's syslog and journal (newest first), disks and their
//! SMART data, ZFS pools, Ceph's health. What an operator (or an alert rule) looks at to tell
//! whether anything is wrong.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, path, Method, Params, Pve};

use super::change::Change;
use super::guest::{cluster_guests, find_guest};
use super::list::{by_text, data, page, paging, sort, text, trimmed, MAX_RESULT};
use super::params::{DRY_RUN, LIMIT, NODE, NODE_FILTER, OFFSET, STOP_ON_CANCEL, UNREADABLE, WAIT};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};

#[rustfmt::skip]
const DISK: Param = Param::req("disk", Kind::Text { max: 128 }, "device path, e.g. /dev/sda");

const POOL_NAME: Param = Param::req("name", Kind::Text { max: 100 }, "the pool's name");

#[rustfmt::skip]
const SYSLOG_SINCE: Param = Param::opt("since", Kind::Text { max: 19 }, "from this node-local time, YYYY-MM-DD[ HH:MM[:SS]]");
#[rustfmt::skip]
const SYSLOG_UNTIL: Param = Param::opt("until", Kind::Text { max: 19 }, "up to this node-local time, same form");
#[rustfmt::skip]
const SERVICE: Param = Param::opt("service", Kind::Text { max: 128 }, "only this systemd unit, e.g. pveproxy");
#[rustfmt::skip]
const JOURNAL_SINCE: Param = Param::opt("since", Kind::Int { min: 0, max: 253_402_300_799 }, "from this Unix time");
#[rustfmt::skip]
const JOURNAL_UNTIL: Param = Param::opt("until", Kind::Int { min: 0, max: 253_402_300_799 }, "before this Unix time");
#[rustfmt::skip]
const LASTENTRIES: Param = Param::opt("lastentries", Kind::Int { min: 1, max: 1000 }, "newest entries returned (default 100)");
#[rustfmt::skip]
const BEFORE: Param = Param::opt("before", Kind::Text { max: 512 }, "start_cursor of an earlier answer: the entries before it");

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_replication_jobs",
        title: "List replication jobs",
        description: "Lists replication jobs by id with their last and next sync, fail count and error.",
        privilege: "VM.Audit on /vms/{vmid} (other jobs are not listed)",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE_FILTER, &LIMIT, &OFFSET],
        output: Output::list(&[f("id", Ty::Str, ""), f("guest", Ty::Int, ""), f("node", Ty::Str, "where the guest is"), f("target", Ty::Str, "node"), f("last_sync", Ty::Int, "Unix time, 0: never"), f("next_sync", Ty::Int, "Unix time"), f("fail_count", Ty::Int, ""), f("error", Ty::Str, "the last failure")]).with(UNREADABLE),
        idempotent: true,
        marks: &[],
        run: list_replication_jobs,
    },
    Tool {
        name: "list_node_updates",
        title: "List node updates",
        description: "Lists a node's pending package updates by package, from PVE's apt cache.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("Package", Ty::Str, ""), f("Title", Ty::Str, ""), f("OldVersion", Ty::Str, "installed"), f("Version", Ty::Str, "available"), f("Origin", Ty::Str, "e.g. Proxmox, Debian"), f("Priority", Ty::Str, ""), f("Section", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_node_updates,
    },
    Tool {
        name: "get_node_syslog",
        title: "Node syslog",
        description: "Returns a node's system log lines, newest first, of a time window and one service if given.",
        privilege: "Sys.Syslog on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &SYSLOG_SINCE, &SYSLOG_UNTIL, &SERVICE, &LIMIT, &OFFSET],
        output: Output::list(&[f("n", Ty::Int, "line number, 1: the window's oldest"), f("t", Ty::Str, "text")]),
        idempotent: true,
        marks: &[],
        run: get_node_syslog,
    },
    Tool {
        name: "get_node_journal",
        title: "Node journal",
        description: "Returns a node's newest systemd journal entries, newest first, of a time window if given.",
        privilege: "Sys.Syslog on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &JOURNAL_SINCE, &JOURNAL_UNTIL, &LASTENTRIES, &BEFORE],
        output: Output::array(&[f("t", Ty::Str, "time host unit[pid]: message")]).with(&[f("start_cursor", Ty::Str, "the oldest entry's: pass as before for older ones"), f("end_cursor", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: get_node_journal,
    },
    Tool {
        name: "refresh_node_updates",
        title: "Refresh node updates",
        description: "Starts PVE's apt update on a node (refreshing what list_node_updates shows) and waits for it.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Operate,
        area: Area::Health,
        params: &[&NODE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: true,
        marks: &[],
        run: refresh_node_updates,
    },
    Tool {
        name: "list_node_disks",
        title: "List node disks",
        description: "Lists a node's disks by device path with their SMART health and SSD wearout.",
        privilege: "Sys.Audit on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("devpath", Ty::Str, ""), f("type", Ty::Str, "hdd, ssd, nvme…"), f("model", Ty::Str, ""), f("serial", Ty::Str, ""), f("size", Ty::Num, "bytes"), f("health", Ty::Str, "PASSED, OK, FAILED or UNKNOWN"), f("wearout", Ty::Any, "% life left (SSDs), N/A otherwise"), f("used", Ty::Str, "e.g. LVM, ZFS, partitions")]),
        idempotent: true,
        marks: &[],
        run: list_node_disks,
    },
    Tool {
        name: "get_disk_smart",
        title: "Disk SMART data",
        description: "Returns one disk's SMART health and attributes.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &DISK],
        output: Output::object(&[f("health", Ty::Str, "PASSED, OK, FAILED or UNKNOWN"), f("type", Ty::Str, "ata or text"), f("attributes", Ty::Arr, "id, name, value, worst, threshold, raw, flags"), f("text", Ty::Str, "smartctl's output (NVMe, SAS)")]),
        idempotent: true,
        marks: &[],
        run: get_disk_smart,
    },
    Tool {
        name: "list_zfs_pools",
        title: "List ZFS pools",
        description: "Lists a node's ZFS pools by name with their health and use.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("health", Ty::Str, "ONLINE, DEGRADED, FAULTED…"), f("size", Ty::Num, "bytes"), f("alloc", Ty::Num, "bytes"), f("free", Ty::Num, "bytes"), f("frag", Ty::Int, "%"), f("dedup", Ty::Num, "ratio")]),
        idempotent: true,
        marks: &[],
        run: list_zfs_pools,
    },
    Tool {
        name: "get_zfs_pool",
        title: "ZFS pool",
        description: "Returns one ZFS pool's state, errors, last scrub and vdevs.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Health,
        params: &[&NODE, &POOL_NAME],
        output: Output::object(&[f("name", Ty::Str, ""), f("state", Ty::Str, "ONLINE, DEGRADED…"), f("status", Ty::Str, "what is wrong"), f("action", Ty::Str, "how to fix it"), f("scan", Ty::Str, "last or current scrub"), f("errors", Ty::Str, ""), f("children", Ty::Arr, "vdevs: name, state, read, write, cksum, children")]),
        idempotent: true,
        marks: &[],
        run: get_zfs_pool,
    },
    Tool {
        name: "get_ceph_status",
        title: "Ceph status",
        description: "Returns Ceph's health with its checks, OSD, PG and monitor counts; without Ceph, configured false.",
        privilege: "Sys.Audit or Datastore.Audit on /",
        effect: Effect::Read,
        area: Area::Health,
        params: &[],
        output: Output::object(&[f("configured", Ty::Bool, "false: no Ceph here"), f("reason", Ty::Str, "why not configured"), f("health", Ty::Str, "HEALTH_OK, HEALTH_WARN or HEALTH_ERR"), f("checks", Ty::Arr, "most severe first: name, severity, message"), f("fsid", Ty::Str, ""), f("osds", Ty::Obj, "total, up, in"), f("pgs", Ty::Obj, "total, by state, bytes used and total"), f("monitors", Ty::Obj, "total, in quorum")]),
        idempotent: true,
        marks: &[],
        run: get_ceph_status,
    },
];

// ---------------------------------------------------------------------------------------------
// Replication.

/// The jobs (`/cluster/replication`), each with its state from the node its guest is on
/// (`/nodes/{node}/replication`): one request per node that runs jobs, none without jobs.
fn list_replication_jobs(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut jobs = replication_jobs(ctx.pve, || cluster_guests(ctx))?;
    if let Some(only) = args.str("node") {
        jobs.retain(|j| text(j, "node") == only);
    }
    let unreadable: Vec<Value> = replication_states(ctx.pve, &mut jobs)
        .into_iter()
        .map(|(node, e)| json!({"node": node, "error": e.to_string()}))
        .collect();
    let mut out = page(args, jobs, &by_text("id"));
    if !unreadable.is_empty() {
        out.insert("unreadable".into(), Value::Array(unreadable));
    }
    Ok(out)
}

/// The replication jobs (`/cluster/replication`), each with the node its guest is on, from
/// `guests` (a `/cluster/resources` answer, asked for only when there are jobs).
pub(super) fn replication_jobs(
    pve: &Pve,
    guests: impl FnOnce() -> Result<Value, Error>,
) -> Result<Vec<Value>, Error> {
    const JOB: &[&str] = &["id", "guest", "target", "schedule", "disable", "comment"];
    let mut jobs = trimmed(pve.get("/cluster/replication", &[])?, JOB);
    if jobs.is_empty() {
        return Ok(jobs);
    }
    let guests = guests()?;
    for job in &mut jobs {
        if let Some(guest) = job
            .get("guest")
            .and_then(as_u64)
            .and_then(|g| find_guest(&guests, g))
        {
            job["node"] = json!(text(guest, "node"));
        }
    }
    Ok(jobs)
}

/// Adds to each job its state (last and next sync, fail count, error) from the node its guest
/// is on: one request per node. The nodes that could not be read, with the error.
pub(super) fn replication_states(pve: &Pve, jobs: &mut [Value]) -> Vec<(String, Error)> {
    const STATE: &[&str] = &[
        "last_sync",
        "last_try",
        "next_sync",
        "duration",
        "fail_count",
        "error",
    ];
    let nodes: BTreeSet<String> = jobs
        .iter()
        .map(|j| text(j, "node").to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let mut unreadable = Vec::new();
    let mut states: BTreeMap<String, Value> = BTreeMap::new();
    for node in &nodes {
        match node_get(pve, node, &["replication"]) {
            Ok(list) => {
                for s in trimmed(list, &[&["id"], STATE].concat()) {
                    states.insert(text(&s, "id").to_string(), s);
                }
            }
            Err(e) => unreadable.push((node.clone(), e)),
        }
    }
    for job in jobs {
        let Some(state) = states.get(text(job, "id")).and_then(Value::as_object) else {
            continue;
        };
        for key in STATE {
            if let Some(v) = state.get(*key) {
                job[*key] = v.clone();
            }
        }
    }
    unreadable
}

// ---------------------------------------------------------------------------------------------
// Logs.

/// Whether `s` is a time as PVE's syslog takes it: `YYYY-MM-DD[ HH:MM[:SS]]`.
fn local_time(s: &str) -> bool {
    const FORM: &[u8] = b"0000-00-00 00:00:00";
    [10, 16, 19].contains(&s.len())
        && s.bytes().zip(FORM).all(|(c, f)| match f {
            b'0' => c.is_ascii_digit(),
            _ => c == *f,
        })
}

/// PVE's syslog is `journalctl -o short` oldest first, `start` counted from the window's oldest
/// line and `total` its length; an empty window is one line saying so. The newest
/// `offset + limit` lines are read in one request when the window is that small, else its
/// length is learned first and only the page is read.
fn get_node_syslog(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIRST: usize = 1000;
    let node = args.required_str("node")?;
    let mut window: Params = Vec::new();
    for key in ["since", "until"] {
        if let Some(t) = args.str(key) {
            if !local_time(t) {
                return Err(Error::Args(format!(
                    "'{key}' must be a node-local time YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS, got '{t}'"
                )));
            }
            window.push((key, t.to_string()));
        }
    }
    if let Some(unit) = args.str("service") {
        let ok = !unit.starts_with('-')
            && unit
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._:-\\".contains(c));
        if !ok || unit.is_empty() {
            return Err(Error::Args(format!(
                "'service' must be a systemd unit name such as pveproxy or pve-cluster.service, got '{unit}'"
            )));
        }
        window.push(("service", unit.to_string()));
    }
    let (limit, offset) = paging(args);
    let syslog = path(&[&"nodes", &node, &"syslog"]);
    let read = |start: usize, count: usize| -> Result<(Vec<Value>, usize), Error> {
        let mut params = window.clone();
        params.push(("start", start.to_string()));
        params.push(("limit", count.to_string()));
        let reply = ctx.pve.call(Method::Get, &syslog, &params)?;
        let lines = match reply.data {
            Value::Array(lines) => lines,
            _ => Vec::new(),
        };
        let total = reply
            .total
            .map(|t| t as usize)
            .unwrap_or(start + lines.len());
        Ok((lines, total))
    };
    let (mut lines, mut total) = read(0, (offset + limit).min(FIRST))?;
    let empty = |t: &str| t == "no content" || t == "-- No entries --";
    if total == 1 && lines.len() == 1 && empty(text(&lines[0], "t")) {
        (lines, total) = (Vec::new(), 0);
    }
    let end = total.saturating_sub(offset);
    let start = end.saturating_sub(limit);
    let mut shown = if lines.len() >= total {
        lines
            .get(start..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default()
    } else if end > start {
        let (lines, now) = read(start, end - start)?;
        total = total.max(now);
        lines
    } else {
        Vec::new()
    };
    shown.reverse();
    let mut out = Map::new();
    if start > 0 {
        out.insert(
            "hint".into(),
            json!(format!(
                "{start} older lines; call again with offset {}",
                offset + shown.len()
            )),
        );
    }
    out.insert("data".into(), Value::Array(shown));
    out.insert("total".into(), json!(total));
    out.insert("limit".into(), json!(limit));
    out.insert("offset".into(), json!(offset));
    Ok(out)
}

/// A journal cursor as PVE's mini-journalreader prints it (`s=…;i=…;b=…;m=…;t=…;x=…`).
fn cursor(line: &str) -> bool {
    line.starts_with("s=") && line.contains(";i=")
}

/// PVE's journal: the first line is the cursor of the oldest entry shown, the last the cursor
/// after the newest, the entries between them oldest first. `lastentries` counts back from
/// `until` (or now); with `since` PVE returns the whole window and the newest are kept here.
fn get_node_journal(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let keep = args.int("lastentries").unwrap_or(100) as usize;
    let (since, until, before) = (args.int("since"), args.int("until"), args.str("before"));
    if until.is_some() && before.is_some() {
        return Err(Error::Args(
            "give 'until' or 'before', not both: each says where the entries end".into(),
        ));
    }
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(Error::Args(format!(
                "'since' ({s}) must be before 'until' ({u})"
            )));
        }
    }
    if before.is_some_and(|b| !cursor(b)) {
        return Err(Error::Args(
            "'before' must be a start_cursor from an earlier get_node_journal answer".into(),
        ));
    }
    let mut params: Params = match since {
        Some(s) => vec![("since", s.to_string())],
        None => vec![("lastentries", keep.to_string())],
    };
    if let Some(u) = until {
        params.push(("until", u.to_string()));
    }
    if let Some(b) = before {
        params.push(("endcursor", b.to_string()));
    }
    let journal = path(&[&"nodes", &node, &"journal"]);
    let mut lines: Vec<String> = match ctx.pve.get(&journal, &params)? {
        Value::Array(lines) => lines
            .into_iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let end_cursor = lines.pop_if(|l| cursor(l));
    let mut start_cursor = match lines.first() {
        Some(first) if cursor(first) => Some(lines.remove(0)),
        _ => None,
    };
    let mut hint = None;
    let older = lines.len().saturating_sub(keep);
    if older > 0 {
        lines.drain(..older);
        start_cursor = None;
        hint = Some(format!(
            "{older} older entries of the window left out; raise lastentries (up to 1000) or narrow the window"
        ));
    }
    // Newest first, as many as fit in an answer (the oldest are the ones left out).
    lines.reverse();
    let mut used = 0;
    let fits = lines
        .iter()
        .take_while(|l| {
            used += l.len() + 12;
            used <= MAX_RESULT - 2048
        })
        .count();
    if fits < lines.len() {
        let cut = lines.len() - fits;
        lines.truncate(fits);
        start_cursor = None;
        hint = Some(format!(
            "{cut} older entries left out to keep the answer under 64 KiB; ask for fewer (lastentries) or a narrower window"
        ));
    }
    let mut out = Map::new();
    let entries = lines.into_iter().map(|t| json!({"t": t})).collect();
    out.insert("data".into(), Value::Array(entries));
    if let Some(c) = start_cursor {
        out.insert("start_cursor".into(), json!(c));
    }
    if let Some(c) = end_cursor {
        out.insert("end_cursor".into(), json!(c));
    }
    if let Some(h) = hint {
        out.insert("hint".into(), json!(h));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Updates and ZFS.

/// PVE's apt cache of pending updates, below `/nodes/{node}`.
pub(super) const UPDATES: &[&str] = &["apt", "update"];
/// A node's disks with their SMART health.
pub(super) const DISKS: &[&str] = &["disks", "list"];
/// A node's ZFS pools.
pub(super) const ZFS: &[&str] = &["disks", "zfs"];

/// `GET /nodes/{node}/{what…}`.
pub(super) fn node_get(pve: &Pve, node: &str, what: &[&str]) -> Result<Value, Error> {
    let mut parts: Vec<&dyn std::fmt::Display> = vec![&"nodes", &node];
    parts.extend(what.iter().map(|w| w as &dyn std::fmt::Display));
    pve.get(&path(&parts), &[])
}

/// `GET /nodes/{node}/{what…}` for the `node` argument, cut to `fields`, sorted by `key` and
/// paged.
fn node_page(
    ctx: &Ctx,
    args: &Args,
    what: &[&str],
    fields: &[&str],
    key: &'static str,
) -> Result<Content, Error> {
    let list = node_get(ctx.pve, args.required_str("node")?, what)?;
    Ok(page(args, trimmed(list, fields), &by_text(key)))
}

fn list_node_updates(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "Package",
        "Title",
        "OldVersion",
        "Version",
        "Origin",
        "Priority",
        "Section",
    ];
    node_page(ctx, args, UPDATES, FIELDS, "Package")
}

/// `POST /nodes/{node}/apt/update`: PVE's `apt update` task; a dry run shows how many updates
/// the cache lists now.
fn refresh_node_updates(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let update = path(&[&"nodes", &node, &"apt", &"update"]);
    Change::post(update.clone(), Vec::new()).send(ctx, args, || {
        let pending = ctx.pve.get(&update, &[])?;
        let count = pending.as_array().map(Vec::len).unwrap_or(0);
        Ok(json!({"node": node, "pending_updates": count}))
    })
}

fn list_node_disks(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "devpath", "type", "model", "serial", "vendor", "size", "health", "wearout", "used",
        "mounted", "osdid",
    ];
    node_page(ctx, args, DISKS, FIELDS, "devpath")
}

fn get_disk_smart(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (node, disk) = (args.required_str("node")?, args.required_str("disk")?);
    let rest = disk.strip_prefix("/dev/").unwrap_or_default();
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '/') {
        return Err(Error::Args(format!(
            "'disk' must be a device path such as /dev/sda or /dev/nvme0n1 (list_node_disks shows them), got '{disk}'"
        )));
    }
    let smart = path(&[&"nodes", &node, &"disks", &"smart"]);
    data(ctx.pve.get(&smart, &[("disk", disk.to_string())])?)
}

fn list_zfs_pools(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &["name", "health", "size", "alloc", "free", "frag", "dedup"];
    node_page(ctx, args, ZFS, FIELDS, "name")
}

fn get_zfs_pool(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (node, name) = (args.required_str("node")?, args.required_str("name")?);
    data(zfs_pool(ctx.pve, node, name)?)
}

/// One ZFS pool's state, errors and vdevs.
pub(super) fn zfs_pool(pve: &Pve, node: &str, name: &str) -> Result<Value, Error> {
    pve.get(&path(&[&"nodes", &node, &"disks", &"zfs", &name]), &[])
}

// ---------------------------------------------------------------------------------------------
// Ceph.

/// What PVE answers where Ceph is not installed ("binary not installed: /usr/bin/ceph-mon") or
/// installed but not set up ("pveceph configuration not initialized").
fn not_configured(message: &str) -> bool {
    [
        "binary not installed",
        "not initialized",
        "no ceph configuration",
    ]
    .iter()
    .any(|m| message.contains(m))
}

fn get_ceph_status(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    data(ceph_summary(ctx.pve)?)
}

/// Ceph's health with its checks (most severe first), OSD, PG and monitor counts; where Ceph
/// is not set up, `configured: false` and the reason.
pub(super) fn ceph_summary(pve: &Pve) -> Result<Value, Error> {
    let status = match pve.get("/cluster/ceph/status", &[]) {
        Ok(status) => status,
        Err(Error::Api { message, .. }) if not_configured(&message) => {
            let reason = format!("Ceph is not set up on this cluster ({})", message.trim());
            return Ok(json!({"configured": false, "reason": reason}));
        }
        Err(e) => return Err(e),
    };
    let health = &status["health"];
    let mut checks: Vec<Value> = health["checks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, c)| {
            let mut check = json!({
                "name": name,
                "severity": c["severity"],
                "message": c["summary"]["message"],
            });
            if c["muted"].as_bool() == Some(true) {
                check["muted"] = json!(true);
            }
            check
        })
        .collect();
    // The most severe first: HEALTH_ERR, then HEALTH_WARN, then by name.
    let rank = |c: &Value| match text(c, "severity") {
        "HEALTH_ERR" => 0,
        "HEALTH_WARN" => 1,
        _ => 2,
    };
    sort(&mut checks, &|a: &Value, b: &Value| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| text(a, "name").cmp(text(b, "name")))
    });
    let osd = &status["osdmap"];
    let pg = &status["pgmap"];
    let mut out = Map::new();
    out.insert("configured".into(), json!(true));
    out.insert("health".into(), health["status"].clone());
    out.insert("checks".into(), Value::Array(checks));
    out.insert("fsid".into(), status["fsid"].clone());
    out.insert(
        "osds".into(),
        json!({"total": osd["num_osds"], "up": osd["num_up_osds"], "in": osd["num_in_osds"]}),
    );
    out.insert(
        "pgs".into(),
        json!({"total": pg["num_pgs"], "by_state": pg["pgs_by_state"], "bytes_used": pg["bytes_used"], "bytes_total": pg["bytes_total"]}),
    );
    let quorum = status["quorum_names"].as_array().map(Vec::len);
    out.insert(
        "monitors".into(),
        json!({"total": status["monmap"]["num_mons"], "in_quorum": quorum}),
    );
    out.retain(|_, v| !v.is_null());
    Ok(Value::Object(out))
}
