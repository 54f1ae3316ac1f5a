//! Parameters shared by several tools, defined once.

use super::table::{Kind, Param};

pub(super) const NODE: Param = Param::req("node", Kind::Node, "node name, e.g. pve1");

#[rustfmt::skip]
pub(super) const NODE_OPT: Param = Param::opt("node", Kind::Node, "node name (found from the vmid if omitted)");

pub(super) const NODE_FILTER: Param =
    Param::opt("node", Kind::Node, "only this node (default: all)");

pub(super) const VMID: Param = Param::req("vmid", Kind::Vmid, "guest id (VMID)").explained_once();

pub(super) const SNAPNAME: Param = Param::req("snapname", Kind::Snapname, "the snapshot name");

/// Binds a call that loses a guest's data to the guest the caller means (one shared text, to
/// keep `tools/list` small).
#[rustfmt::skip]
pub(super) const CONFIRM_NAME: Param = Param::req("confirm_name", Kind::Text { max: 128 }, "the guest's current name, or its VMID if it has none");

pub(super) const STORAGE: Param =
    Param::req("storage", Kind::Storage, "the storage id, e.g. local-lvm");

pub(super) const UPID: Param = Param::req("upid", Kind::Upid, "task id (UPID:...)");

#[rustfmt::skip]
pub(super) const WAIT: Param = Param::opt("wait_seconds", Kind::Int { min: 0, max: 86_400 }, "seconds to wait for the task (default 120; 0: return at once)");

#[rustfmt::skip]
pub(super) const DRY_RUN: Param = Param::opt("dry_run", Kind::Bool, "only show the request and the target's state");

#[rustfmt::skip]
pub(super) const LIMIT: Param = Param::opt("limit", Kind::Int { min: 1, max: 1000 }, "max items (default 100)");

#[rustfmt::skip]
pub(super) const OFFSET: Param = Param::opt("offset", Kind::Int { min: 0, max: 1_000_000 }, "items to skip (default 0)");

#[rustfmt::skip]
pub(super) const STOP_ON_CANCEL: Param = Param::opt("stop_on_cancel", Kind::Bool, "if the call is cancelled, stop the task too");

pub(super) const GUEST: &[&Param] = &[&VMID, &NODE_OPT];

pub(super) const POWER: &[&Param] = &[&VMID, &NODE_OPT, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];

pub(super) const LIST: &[&Param] = &[&NODE_FILTER, &LIMIT, &OFFSET];
