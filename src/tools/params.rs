//! Parameters shared by several tools, defined once.

use super::table::{f, Field, Kind, Param, Ty};

pub(super) const NODE: Param = Param::req("node", Kind::Node, "node name, e.g. pve1");

#[rustfmt::skip]
pub(super) const NODE_OPT: Param = Param::opt("node", Kind::Node, "node (default: the guest's)");

pub(super) const NODE_FILTER: Param =
    Param::opt("node", Kind::Node, "only this node (default: all)");

pub(super) const VMID: Param = Param::req("vmid", Kind::Vmid, "guest ID");

pub(super) const SNAPNAME: Param = Param::req("snapname", Kind::Snapname, "the snapshot name");

/// Binds a call that loses a guest's data to the guest the caller means (one shared text, to
/// keep `tools/list` small).
#[rustfmt::skip]
pub(super) const CONFIRM_NAME: Param = Param::req("confirm_name", Kind::Text { max: 128 }, "the guest's current name, or its VMID if it has none");

pub(super) const STORAGE: Param =
    Param::req("storage", Kind::Storage, "the storage id, e.g. local-lvm");

pub(super) const UPID: Param = Param::req("upid", Kind::Upid, "task id (UPID:...)");

#[rustfmt::skip]
pub(super) const WAIT: Param = Param::opt("wait_seconds", Kind::Int { min: 0, max: 86_400 }, "max seconds to wait (0: don't)");

#[rustfmt::skip]
pub(super) const DRY_RUN: Param = Param::opt("dry_run", Kind::Bool, "show the request, send nothing");

#[rustfmt::skip]
pub(super) const LIMIT: Param = Param::opt("limit", Kind::Int { min: 1, max: 1000 }, "max items (default 100)");

#[rustfmt::skip]
pub(super) const OFFSET: Param = Param::opt("offset", Kind::Int { min: 0, max: 1_000_000 }, "items to skip (default 0)");

#[rustfmt::skip]
pub(super) const STOP_ON_CANCEL: Param = Param::opt("stop_on_cancel", Kind::Bool, "stop the task if cancelled");

pub(super) const GUEST: &[&Param] = &[&VMID, &NODE_OPT];

pub(super) const POWER: &[&Param] = &[&VMID, &NODE_OPT, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];

pub(super) const LIST: &[&Param] = &[&NODE_FILTER, &LIMIT, &OFFSET];

/// A guest in `list_vms` and `list_containers`.
#[rustfmt::skip]
pub(super) const GUEST_ROW: &[Field] = &[f("vmid", Ty::Int, ""), f("name", Ty::Str, ""), f("node", Ty::Str, ""), f("status", Ty::Str, "running or stopped"), f("cpu", Ty::Num, "use, 0-1"), f("mem", Ty::Num, "bytes"), f("maxmem", Ty::Num, "bytes"), f("uptime", Ty::Int, "seconds"), f("tags", Ty::Str, ""), f("lock", Ty::Str, "")];

/// A node in `list_nodes`.
#[rustfmt::skip]
pub(super) const NODE_ROW: &[Field] = &[f("node", Ty::Str, ""), f("status", Ty::Str, "online or offline"), f("cpu", Ty::Num, "use, 0-1"), f("maxcpu", Ty::Int, ""), f("mem", Ty::Num, "bytes"), f("maxmem", Ty::Num, "bytes"), f("disk", Ty::Num, "root disk bytes"), f("maxdisk", Ty::Num, "bytes"), f("uptime", Ty::Int, "seconds")];

/// A snapshot of a guest.
#[rustfmt::skip]
pub(super) const SNAPSHOT_ROW: &[Field] = &[f("name", Ty::Str, ""), f("snaptime", Ty::Int, "Unix time"), f("description", Ty::Str, ""), f("parent", Ty::Str, ""), f("vmstate", Ty::Int, "1: with RAM")];

/// A PVE task (`list_tasks`, `get_task_status`).
#[rustfmt::skip]
pub(super) const TASK_ROW: &[Field] = &[f("upid", Ty::Str, ""), f("node", Ty::Str, ""), f("type", Ty::Str, ""), f("id", Ty::Str, "VMID, if any"), f("user", Ty::Str, ""), f("starttime", Ty::Int, "Unix time"), f("endtime", Ty::Int, "Unix time"), f("status", Ty::Str, "running, OK or the error"), f("exitstatus", Ty::Str, "once stopped: OK, WARNINGS: N or the error")];

/// RRD metrics (`get_*_metrics`).
#[rustfmt::skip]
pub(super) const METRICS: &[Field] = &[f("timeframe", Ty::Str, ""), f("cf", Ty::Str, ""), f("samples", Ty::Int, ""), f("start", Ty::Int, "Unix time"), f("end", Ty::Int, "Unix time"), f("series", Ty::Obj, "name: {min, mean, max, last}"), f("points", Ty::Arr, "downsampled rows with time")];

/// Beside a list that some storages or nodes did not answer.
#[rustfmt::skip]
pub(super) const UNREADABLE: &[Field] = &[f("unreadable", Ty::Arr, "what could not be read, and why")];
