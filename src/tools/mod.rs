//! The tool table (one row per tool: name, description, parameters, effect, handler) and the handlers.
//!
//! `tools/list`, argument validation, access levels, the `tools` and `call` commands and the agent
//! card are all generated from `TOOLS`. A handler takes `(&Ctx, &Args)` and returns the result's
//! `structuredContent` object (`{"data": …, …}`) or an `Error`.

use std::cmp::Ordering;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::config::Access;
use crate::error::Error;
use crate::policy::Policy;
use crate::pve::{self, as_u64, bool01, path, Method, Params, Pve, Upid};

/// A result's `structuredContent`: `{"data": …}` plus tool-specific keys.
pub type Content = Map<String, Value>;

/// Parameters shared by many tools, described once in the server's instructions (`mcp.rs`)
/// instead of in every tool's schema, to keep `tools/list` small.
pub const COMMON_PARAMS: &[&str] = &[
    "wait_seconds",
    "dry_run",
    "stop_on_cancel",
    "limit",
    "offset",
];

/// No result text is longer than this; longer data is cut and marked `truncated`.
pub const MAX_RESULT: usize = 64 * 1024;

/// What a tool does to the cluster (section 4 of the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Changes nothing.
    Read,
    /// Changes state but loses no data.
    Operate,
    /// Can lose data or state.
    Destroy,
}

impl Effect {
    pub fn name(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Operate => "operate",
            Effect::Destroy => "destroy",
        }
    }
    /// The lowest access level that allows this effect.
    pub fn needs(self) -> Access {
        match self {
            Effect::Read => Access::ReadOnly,
            Effect::Operate => Access::Operate,
            Effect::Destroy => Access::Full,
        }
    }
}

mod admin;
mod backups;
mod guests;
mod keys;
mod monitor;

/// Every tool, in the order `tools/list` shows them: one table per file, chained.
pub static TOOLS: LazyLock<Vec<&'static Tool>> = LazyLock::new(|| {
    BASE.iter()
        .chain(guests::TOOLS)
        .chain(backups::TOOLS)
        .chain(monitor::TOOLS)
        .chain(admin::TOOLS)
        .collect()
});

/// The names of the areas, as groups in `PROXMOX_MCP_TOOLS`.
pub const AREAS: &[&str] = &[
    "nodes",
    "vms",
    "containers",
    "snapshots",
    "storage",
    "tasks",
    "cluster",
    "backups",
    "network",
    "firewall",
    "access",
    "pools",
    "ha",
    "certificates",
    "metrics",
    "exec",
];

/// The part of the cluster a tool is about (tool groups, `tools --json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Nodes,
    Vms,
    Containers,
    Snapshots,
    Storage,
    Tasks,
    Cluster,
    Backups,
    Network,
    Firewall,
    Access,
    Pools,
    Ha,
    Certificates,
    Metrics,
    Exec,
}

impl Area {
    pub fn name(self) -> &'static str {
        match self {
            Area::Nodes => "nodes",
            Area::Vms => "vms",
            Area::Containers => "containers",
            Area::Snapshots => "snapshots",
            Area::Storage => "storage",
            Area::Tasks => "tasks",
            Area::Cluster => "cluster",
            Area::Backups => "backups",
            Area::Network => "network",
            Area::Firewall => "firewall",
            Area::Access => "access",
            Area::Pools => "pools",
            Area::Ha => "ha",
            Area::Certificates => "certificates",
            Area::Metrics => "metrics",
            Area::Exec => "exec",
        }
    }
}

/// The shape of a tool's `data`, which decides its `outputSchema`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A sorted, paged array of objects with `total`, `limit`, `offset`.
    List,
    /// An array of objects, whole.
    Array,
    /// One object.
    Object,
    /// The UPID of a started task (or null in a dry run), with `task`.
    Task,
}

/// The type of a parameter, checked before any request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vmid,
    Node,
    Snapname,
    Storage,
    Upid,
    Text {
        max: usize,
    },
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// A non-empty array of strings (an argv, a list of keys or VMIDs as text).
    Strings {
        max_items: usize,
        max_len: usize,
    },
    /// A JSON object (e.g. PVE config keys to set); the handler checks its members.
    Object,
}

/// One tool parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

impl Param {
    /// A parameter the call must give.
    pub const fn req(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param {
            name,
            kind,
            required: true,
            description,
        }
    }
    /// A parameter the call may leave out.
    pub const fn opt(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param {
            name,
            kind,
            required: false,
            description,
        }
    }
}

/// One tool: a row of the table.
pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    /// What it does and what it returns; the privilege sentence is added from `privilege`.
    pub description: &'static str,
    /// The PVE privilege the call needs, as PVE names it.
    pub privilege: &'static str,
    pub effect: Effect,
    pub area: Area,
    pub params: &'static [&'static Param],
    pub output: Output,
    /// Repeating the call with the same arguments has no further effect.
    pub idempotent: bool,
    pub run: fn(&Ctx, &Args) -> Result<Content, Error>,
}

impl Tool {
    /// The description shown to models: what the tool does, returns and needs.
    pub fn full_description(&self) -> String {
        let mut d = format!("{} Needs {}.", self.description, self.privilege);
        if self.effect == Effect::Destroy {
            d.push_str(" Can lose data.");
        }
        d
    }

    /// The privileges (any one of them) and the ACL path the call needs, read from `privilege`
    /// (`VM.Audit on /vms/{vmid}`, `A or B on /storage/{storage}`); None for "a valid login".
    pub fn requirement(&self) -> Option<(Vec<&'static str>, &'static str)> {
        if self.privilege.starts_with("a valid login") {
            return None;
        }
        let (privs, rest) = self.privilege.split_once(" on ")?;
        let path = rest.split(' ').next().unwrap_or(rest);
        Some((privs.split(" or ").collect(), path))
    }

    /// `destructiveHint`: destroy tools; a hard stop or reset (unsaved guest state is lost); and
    /// tools whose effect depends on their arguments and can lose data (spec §8: the stricter
    /// annotation when in doubt).
    pub fn destructive(&self) -> bool {
        self.effect == Effect::Destroy
            || self.name.starts_with("stop_")
            || matches!(
                self.name,
                "reset_vm" | "update_vm_config" | "update_container_config" | "restore_backup"
            )
    }

    pub fn input_schema(&self) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in self.params {
            let mut schema = match p.kind {
                Kind::Vmid => json!({"type": "integer", "minimum": 100}),
                Kind::Node => {
                    json!({"type": "string"})
                }
                Kind::Snapname => {
                    json!({"type": "string", "minLength": 2, "maxLength": 40})
                }
                Kind::Storage => {
                    json!({"type": "string"})
                }
                Kind::Upid => json!({"type": "string"}),
                // Lengths and ranges are checked here (with a clear error), not repeated in
                // every schema: tools/list has to stay small.
                Kind::Text { .. } => json!({"type": "string"}),
                Kind::Int { min, .. } if COMMON_PARAMS.contains(&p.name) || min < 0 => {
                    json!({"type": "integer"})
                }
                Kind::Int { min, .. } => json!({"type": "integer", "minimum": min}),
                Kind::Bool => json!({"type": "boolean"}),
                Kind::Strings { max_items, .. } => {
                    json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": max_items})
                }
                Kind::Object => json!({"type": "object"}),
            };
            // Parameters every such tool has are described once, in the server's instructions
            // (so is an optional node beside a vmid).
            let optional_node =
                p.name == "node" && !p.required && self.params.iter().any(|q| q.name == "vmid");
            let the_guest = p.name == "vmid" && p.required && p.description == VMID.description;
            if !COMMON_PARAMS.contains(&p.name) && !optional_node && !the_guest {
                schema["description"] = json!(p.description);
            }
            props.insert(p.name.to_string(), schema);
            if p.required {
                required.push(json!(p.name));
            }
        }
        let mut schema =
            json!({"type": "object", "properties": props, "additionalProperties": false});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        schema
    }

    /// Kept minimal on purpose (every tool carries one, and `tools/list` must stay under 60 KB):
    /// the keys every result has; the description and the instructions say the rest.
    pub fn output_schema(&self) -> Value {
        match self.output {
            Output::List => json!({"type": "object", "required": ["data", "total"]}),
            _ => json!({"type": "object", "required": ["data"]}),
        }
    }
}

/// What a handler may use.
pub struct Ctx<'a> {
    pub pve: &'a Pve,
    /// Default seconds to wait for a task (`PROXMOX_TASK_WAIT`).
    pub task_wait: u64,
    /// How the call waits between polls of a PVE task, and where its progress goes.
    pub waiter: &'a dyn Waiter,
    /// What the server allows (for tools whose effect depends on their arguments).
    pub policy: &'a Policy,
}

/// What a tool can do while it waits on a PVE task.
pub trait Waiter {
    /// Whether anyone listens to progress reports (so no work is spent on them otherwise).
    fn wants_progress(&self) -> bool;
    /// Reports progress of the current call.
    fn progress(&self, message: &str);
    /// Waits up to `d`; false when the caller cancelled the call or went away.
    fn pause(&self, d: Duration) -> bool;
}

/// Waiting with nobody to report to and nothing to cancel: the `call` command.
pub struct Sleep;

impl Waiter for Sleep {
    fn wants_progress(&self) -> bool {
        false
    }
    fn progress(&self, _message: &str) {}
    fn pause(&self, d: Duration) -> bool {
        std::thread::sleep(d);
        true
    }
}

/// Validated tool arguments (integers normalised from numeric strings).
#[derive(Debug, Default)]
pub struct Args(Map<String, Value>);

impl Args {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }
    fn vmid(&self) -> i64 {
        self.int("vmid").unwrap_or_default()
    }
    fn required_str(&self, name: &str) -> &str {
        self.str(name).unwrap_or_default()
    }
}

/// Checks `raw` against the tool's parameters: unknown names, missing ones, types, ranges, formats.
pub fn validate(tool: &Tool, raw: &Map<String, Value>) -> Result<Args, Error> {
    let mut out = Map::new();
    for (name, value) in raw {
        let Some(param) = tool.params.iter().find(|p| p.name == name) else {
            let known: Vec<&str> = tool.params.iter().map(|p| p.name).collect();
            return Err(Error::Args(if known.is_empty() {
                format!(
                    "unknown argument '{name}': {} takes no arguments",
                    tool.name
                )
            } else {
                format!(
                    "unknown argument '{name}': {} takes {}",
                    tool.name,
                    known.join(", ")
                )
            }));
        };
        if value.is_null() && !param.required {
            continue;
        }
        out.insert(
            name.clone(),
            check_value(param, value).map_err(|why| Error::Args(format!("'{name}' {why}")))?,
        );
    }
    for p in tool.params.iter().filter(|p| p.required) {
        if !out.contains_key(p.name) {
            return Err(Error::Args(format!(
                "missing required argument '{}' ({})",
                p.name, p.description
            )));
        }
    }
    Ok(Args(out))
}

fn check_value(param: &Param, value: &Value) -> Result<Value, String> {
    let int = |min: i64, max: i64| -> Result<Value, String> {
        let n = match value {
            // JSON Schema counts 100.0 as an integer too.
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| format!("must be a whole number, got {n}"))?,
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("must be a whole number, got {value}"))?,
            other => return Err(format!("must be a whole number, got {other}")),
        };
        if n < min || n > max {
            return Err(format!("must be between {min} and {max}, got {n}"));
        }
        Ok(json!(n))
    };
    let text = |max: usize| -> Result<String, String> {
        let s = value
            .as_str()
            .ok_or_else(|| format!("must be a string, got {value}"))?;
        if s.chars().count() > max {
            return Err(format!("may be at most {max} characters long"));
        }
        Ok(s.to_string())
    };
    match param.kind {
        Kind::Vmid => int(100, 999_999_999),
        Kind::Int { min, max } => int(min, max),
        Kind::Bool => match value {
            Value::Bool(b) => Ok(json!(b)),
            Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(json!(n.as_u64() == Some(1)))
            }
            Value::String(s) => crate::config::parse_bool(s)
                .map(Value::Bool)
                .ok_or_else(|| format!("must be true or false, got {value}")),
            other => Err(format!("must be true or false, got {other}")),
        },
        Kind::Text { max } => text(max).map(Value::String),
        Kind::Node => {
            let s = text(63)?;
            pve::valid_node_name(&s)
                .then_some(Value::String(s))
                .ok_or_else(|| {
                    "must be a node name (letters, digits and '-'); list_nodes shows them".into()
                })
        }
        Kind::Snapname => {
            let s = text(40)?;
            let mut chars = s.chars();
            let ok = s.len() >= 2
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !s.eq_ignore_ascii_case("current")
                && !s.eq_ignore_ascii_case("pending");
            ok.then_some(Value::String(s)).ok_or_else(|| {
                "must be 2 to 40 characters: a letter, then letters, digits, '_' and '-' (not 'current' or 'pending')".into()
            })
        }
        Kind::Storage => {
            let s = text(100)?;
            let ok = s.len() >= 2
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            ok.then_some(Value::String(s)).ok_or_else(|| {
                "must be a storage id such as local or local-lvm; list_storage shows them".into()
            })
        }
        Kind::Upid => {
            let s = text(512)?;
            Upid::parse(&s).map(|_| Value::String(s))
        }
        Kind::Strings { max_items, max_len } => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("must be an array of strings, got {value}"))?;
            if items.is_empty() || items.len() > max_items {
                return Err(format!(
                    "must hold 1 to {max_items} strings, got {}",
                    items.len()
                ));
            }
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| format!("must hold only strings, got {item}"))?;
                if s.chars().count() > max_len || s.contains('\0') {
                    return Err(format!(
                        "items may be at most {max_len} characters long, without NUL"
                    ));
                }
            }
            Ok(value.clone())
        }
        Kind::Object => match value {
            Value::Object(_) => Ok(value.clone()),
            other => Err(format!("must be an object, got {other}")),
        },
    }
}

/// Runs `tool` for `raw` arguments under `policy`: the one path `tools/call` and the `call`
/// command share. Calls that may change something are checked against protected guests and
/// written to the audit log: refused ones with the reason; the others with an intent line before
/// the handler runs (a call whose intent cannot be written does not run) and an outcome line.
pub fn run(
    ctx: &Ctx,
    policy: &Policy,
    tool: &Tool,
    raw: &Map<String, Value>,
) -> Result<Content, Error> {
    let audit = policy
        .audit
        .as_ref()
        .filter(|_| tool.effect != Effect::Read);
    let refused = |args: &Map<String, Value>, e: Error| {
        if let Some(audit) = audit {
            audit.refused(&ctx.pve.identity(), tool.name, args, &e);
        }
        Err(e)
    };
    if let Err(e) = policy.check(tool) {
        return refused(raw, e);
    }
    let args = match validate(tool, raw) {
        Ok(args) => args,
        Err(e) => return refused(raw, e),
    };
    let outcome = if tool.effect == Effect::Read {
        (tool.run)(ctx, &args).map(cap)
    } else {
        if let Err(e) = guard(ctx, policy, &args) {
            return refused(&args.0, e);
        }
        if let Some(audit) = audit {
            audit.intent(&ctx.pve.identity(), tool.name, &args.0)?;
        }
        (tool.run)(ctx, &args).map(cap)
    };
    if let (Err(_), Some(vmid), None) = (&outcome, args.int("vmid"), args.str("node")) {
        // The guest may have moved: find it again next time.
        ctx.pve.forget_guest(vmid as u64);
    }
    if let Some(audit) = audit {
        audit.outcome(&ctx.pve.identity(), tool.name, &args.0, &outcome);
    }
    outcome
}

/// Refuses a change to a guest `PROXMOX_MCP_PROTECTED` names (looking up its tags when needed).
fn guard(ctx: &Ctx, policy: &Policy, args: &Args) -> Result<(), Error> {
    let Some(vmid) = args.int("vmid").map(|v| v as u64) else {
        return Ok(());
    };
    protection(ctx, policy, vmid)?.map_or(Ok(()), |w| Err(Error::Denied(w)))
}

/// Why `PROXMOX_MCP_PROTECTED` keeps guest `vmid` from being changed, if it does: by VMID, or by
/// a tag (read from `/cluster/resources` only when tags are protected).
fn protection(ctx: &Ctx, policy: &Policy, vmid: u64) -> Result<Option<String>, Error> {
    if policy.protection(vmid, "").is_none() && policy.protects_tags() {
        let resources = ctx
            .pve
            .get("/cluster/resources", &[("type", "vm".into())])?;
        return Ok(protection_in(policy, vmid, &resources));
    }
    Ok(policy.protection(vmid, ""))
}

/// `protection` with the guests of `/cluster/resources` already read. A guest whose tags cannot
/// be read (not in the list) counts as protected when tags are.
fn protection_in(policy: &Policy, vmid: u64, resources: &Value) -> Option<String> {
    let guest = resources
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r.get("vmid").and_then(as_u64) == Some(vmid));
    match guest {
        Some(g) => policy.protection(vmid, text(g, "tags")),
        // Tags that cannot be read cannot be ruled out: refuse rather than guess.
        None if policy.protects_tags() => policy.protection(vmid, "").or_else(|| Some(format!(
            "guest {vmid} is not in /cluster/resources, so the tags PROXMOX_MCP_PROTECTED names cannot be checked for it; grant VM.Audit on /vms/{vmid}, or change it in PVE itself"
        ))),
        None => policy.protection(vmid, ""),
    }
}

/// Whether a tool can work where this server runs (`exec_in_container` needs `pct`, so a PVE node).
pub fn present(tool: &Tool) -> bool {
    tool.name != "exec_in_container" || std::path::Path::new("/usr/sbin/pct").exists()
}

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name).copied()
}

// ---------------------------------------------------------------------------------------------
// Parameters shared by several tools.

const NODE: Param = Param::req("node", Kind::Node, "node name, e.g. pve1");
#[rustfmt::skip]
const NODE_OPT: Param = Param::opt("node", Kind::Node, "node name (found from the vmid if omitted)");
const NODE_FILTER: Param = Param::opt("node", Kind::Node, "only this node (default: all)");
const VMID: Param = Param::req("vmid", Kind::Vmid, "guest id (VMID)");
const SNAPNAME: Param = Param::req("snapname", Kind::Snapname, "the snapshot name");
/// Binds a call that loses a guest's data to the guest the caller means (one shared text, to
/// keep `tools/list` small).
#[rustfmt::skip]
const CONFIRM_NAME: Param = Param::req("confirm_name", Kind::Text { max: 128 }, "the guest's current name, or its VMID if it has none");
const STORAGE: Param = Param::req("storage", Kind::Storage, "the storage id, e.g. local-lvm");
const UPID: Param = Param::req("upid", Kind::Upid, "task id (UPID:...)");
#[rustfmt::skip]
const WAIT: Param = Param::opt("wait_seconds", Kind::Int { min: 0, max: 86_400 }, "seconds to wait for the task (default 120; 0: return at once)");
#[rustfmt::skip]
const DRY_RUN: Param = Param::opt("dry_run", Kind::Bool, "only show the request and the target's state");
#[rustfmt::skip]
const LIMIT: Param = Param::opt("limit", Kind::Int { min: 1, max: 1000 }, "max items (default 100)");
#[rustfmt::skip]
const OFFSET: Param = Param::opt("offset", Kind::Int { min: 0, max: 1_000_000 }, "items to skip (default 0)");

#[rustfmt::skip]
const STOP_ON_CANCEL: Param = Param::opt("stop_on_cancel", Kind::Bool, "if the call is cancelled, stop the task too");
#[rustfmt::skip]
const TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "seconds to wait (default PROXMOX_TASK_WAIT, 120)");
#[rustfmt::skip]
const LOG_START: Param = Param::opt("start", Kind::Int { min: 0, max: 100_000_000 }, "first line to return, counting from 0 (default 0)");
#[rustfmt::skip]
const LOG_LIMIT: Param = Param::opt("limit", Kind::Int { min: 1, max: 5000 }, "at most this many lines (default 50)");

const GUEST: &[&Param] = &[&VMID, &NODE_OPT];
const POWER: &[&Param] = &[&VMID, &NODE_OPT, &WAIT, &DRY_RUN, &STOP_ON_CANCEL];
const LIST: &[&Param] = &[&NODE_FILTER, &LIMIT, &OFFSET];

#[rustfmt::skip]
const SHUTDOWN_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 0, max: 86_400 }, "seconds the guest may take to shut down (PVE's own timeout)");
#[rustfmt::skip]
const FORCE_STOP: Param = Param::opt("force_stop", Kind::Bool, "hard-stop the VM when it has not shut down after the timeout");
#[rustfmt::skip]
const DESCRIPTION: Param = Param::opt("description", Kind::Text { max: 8192 }, "a note stored with the snapshot");
#[rustfmt::skip]
const VMSTATE: Param = Param::opt("vmstate", Kind::Bool, "also save the VM's RAM, so a rollback resumes the running VM");
const TASK_VMID: Param = Param::opt("vmid", Kind::Vmid, "only tasks of this guest");
const ERRORS: Param = Param::opt("errors", Kind::Bool, "only tasks that ended in error");

// ---------------------------------------------------------------------------------------------
// The table.

/// The original server's tools (and `wait_task`, `get_task_log`).
static BASE: &[Tool] = &[
    Tool {
        name: "list_nodes",
        title: "List nodes",
        description: "Lists the cluster's nodes with status (online/offline), CPU use (0-1), memory and root disk use in bytes, and uptime in seconds.",
        privilege: "a valid login (nodes without Sys.Audit show less)",
        effect: Effect::Read,
        area: Area::Nodes,
        params: &[&LIMIT, &OFFSET],
        output: Output::List,
        idempotent: true,
        run: list_nodes,
    },
    Tool {
        name: "get_node_status",
        title: "Node status",
        description: "Returns one node's status: CPU model and use, load average, memory, swap, root filesystem, uptime, kernel and PVE version.",
        privilege: "Sys.Audit on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Nodes,
        params: &[&NODE],
        output: Output::Object,
        idempotent: true,
        run: get_node_status,
    },
    Tool {
        name: "list_vms",
        title: "List VMs",
        description: "Lists QEMU VMs by VMID: vmid, name, node, status, CPU and memory use, uptime, tags, lock.",
        privilege: "VM.Audit on /vms/{vmid} (guests without it are not listed)",
        effect: Effect::Read,
        area: Area::Vms,
        params: LIST,
        output: Output::List,
        idempotent: true,
        run: list_vms,
    },
    Tool {
        name: "get_vm_config",
        title: "VM configuration",
        description: "Returns a VM's configuration as PVE stores it: name, cores, memory, disks (scsi0, virtio0, ...), network (net0, ...), boot order, agent, and a digest.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Vms,
        params: GUEST,
        output: Output::Object,
        idempotent: true,
        run: get_vm_config,
    },
    Tool {
        name: "get_vm_status",
        title: "VM status",
        description: "Returns a VM's current state: status (running/stopped), qmpstatus (paused = suspended), CPU and memory use, uptime, lock, HA state.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Vms,
        params: GUEST,
        output: Output::Object,
        idempotent: true,
        run: get_vm_status,
    },
    Tool {
        name: "start_vm",
        title: "Start VM",
        description: "Starts a VM and waits for PVE's start task; returns the task with its exit status (a VM that already runs is reported as an error).",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::Task,
        idempotent: true,
        run: start_vm,
    },
    Tool {
        name: "stop_vm",
        title: "Stop VM (hard)",
        description: "Stops a VM at once, like pulling the power plug (unsaved data in the guest is lost; prefer shutdown_vm), and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::Task,
        idempotent: true,
        run: stop_vm,
    },
    Tool {
        name: "shutdown_vm",
        title: "Shut down VM",
        description: "Asks a VM's OS to shut down cleanly (ACPI) and waits for the task; with force_stop the VM is hard-stopped after the timeout.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: &[&VMID, &NODE_OPT, &SHUTDOWN_TIMEOUT, &FORCE_STOP, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::Task,
        idempotent: true,
        run: shutdown_vm,
    },
    Tool {
        name: "reboot_vm",
        title: "Reboot VM",
        description: "Reboots a VM cleanly (ACPI shutdown, then start) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Vms,
        params: POWER,
        output: Output::Task,
        idempotent: false,
        run: reboot_vm,
    },
    Tool {
        name: "create_vm_snapshot",
        title: "Create VM snapshot",
        description: "Takes a snapshot of a VM's disks (and RAM with vmstate) and waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Snapshots,
        params: &[&VMID, &SNAPNAME, &NODE_OPT, &DESCRIPTION, &VMSTATE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::Task,
        idempotent: false,
        run: create_vm_snapshot,
    },
    Tool {
        name: "list_vm_snapshots",
        title: "List VM snapshots",
        description: "Lists a VM's snapshots oldest first: name, snaptime (Unix time), description, parent, vmstate.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Snapshots,
        params: &[&VMID, &NODE_OPT, &LIMIT, &OFFSET],
        output: Output::List,
        idempotent: true,
        run: list_vm_snapshots,
    },
    Tool {
        name: "delete_vm_snapshot",
        title: "Delete VM snapshot",
        description: "Deletes a VM snapshot (checked to exist) if confirm_name is the VM's name; waits for the task.",
        privilege: "VM.Snapshot on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Snapshots,
        params: &[&VMID, &SNAPNAME, &CONFIRM_NAME, &NODE_OPT, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::Task,
        idempotent: false,
        run: delete_vm_snapshot,
    },
    Tool {
        name: "list_containers",
        title: "List containers",
        description: "Lists LXC containers by VMID: vmid, name, node, status, CPU and memory use, uptime, tags, lock.",
        privilege: "VM.Audit on /vms/{vmid} (guests without it are not listed)",
        effect: Effect::Read,
        area: Area::Containers,
        params: LIST,
        output: Output::List,
        idempotent: true,
        run: list_containers,
    },
    Tool {
        name: "get_container_status",
        title: "Container status",
        description: "Returns a container's current state: status (running/stopped), CPU, memory, swap and disk use, uptime, lock.",
        privilege: "VM.Audit on /vms/{vmid}",
        effect: Effect::Read,
        area: Area::Containers,
        params: GUEST,
        output: Output::Object,
        idempotent: true,
        run: get_container_status,
    },
    Tool {
        name: "start_container",
        title: "Start container",
        description: "Starts an LXC container and waits for PVE's start task; returns the task with its exit status.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::Task,
        idempotent: true,
        run: start_container,
    },
    Tool {
        name: "stop_container",
        title: "Stop container (hard)",
        description: "Stops an LXC container at once (processes are killed, not shut down cleanly) and waits for the task.",
        privilege: "VM.PowerMgmt on /vms/{vmid}",
        effect: Effect::Operate,
        area: Area::Containers,
        params: POWER,
        output: Output::Task,
        idempotent: true,
        run: stop_container,
    },
    Tool {
        name: "list_storage",
        title: "List storage",
        description: "Lists storages by name (cluster-wide: one entry per node): type, content types, shared, status or enabled/active, total/used/avail bytes.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage} (others are not listed)",
        effect: Effect::Read,
        area: Area::Storage,
        params: LIST,
        output: Output::List,
        idempotent: true,
        run: list_storage,
    },
    Tool {
        name: "get_storage_status",
        title: "Storage status",
        description: "Returns one storage's status on one node: type, content types, active, enabled, shared, total/used/available bytes.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage}",
        effect: Effect::Read,
        area: Area::Storage,
        params: &[&STORAGE, &NODE],
        output: Output::Object,
        idempotent: true,
        run: get_storage_status,
    },
    Tool {
        name: "list_tasks",
        title: "List tasks",
        description: "Lists recent PVE tasks newest first: upid, node, type, id (VMID), user, starttime, endtime, status (OK or the error).",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&NODE_FILTER, &TASK_VMID, &ERRORS, &LIMIT, &OFFSET],
        output: Output::List,
        idempotent: true,
        run: list_tasks,
    },
    Tool {
        name: "get_task_status",
        title: "Task status",
        description: "Returns a PVE task's status (running/stopped), exitstatus (OK, WARNINGS: N or the error), type, id, user, starttime.",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID],
        output: Output::Object,
        idempotent: true,
        run: get_task_status,
    },
    Tool {
        name: "wait_task",
        title: "Wait for task",
        description: "Waits until a PVE task stops or the timeout runs out, with progress; returns its exit status (a failed task: an error with the log's end).",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID, &TIMEOUT],
        output: Output::Task,
        idempotent: true,
        run: wait_task,
    },
    Tool {
        name: "get_task_log",
        title: "Task log",
        description: "Returns lines of a PVE task's log as {n, t} with total; the last line is TASK OK, TASK WARNINGS: N or TASK ERROR: message.",
        privilege: "a valid login (others' tasks: Sys.Audit on /nodes/{node})",
        effect: Effect::Read,
        area: Area::Tasks,
        params: &[&UPID, &LOG_START, &LOG_LIMIT],
        output: Output::List,
        idempotent: true,
        run: get_task_log,
    },
    Tool {
        name: "get_cluster_status",
        title: "Cluster status",
        description: "Returns the cluster entry (name, quorate, node count) and one entry per node (name, online, ip, local), the cluster first.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Cluster,
        params: &[],
        output: Output::Array,
        idempotent: true,
        run: get_cluster_status,
    },
];

// ---------------------------------------------------------------------------------------------
// Handlers.

fn list_nodes(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let nodes = ctx.pve.get("/nodes", &[])?;
    const FIELDS: &[&str] = &[
        "node", "status", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime", "level",
    ];
    Ok(page(args, trimmed(nodes, FIELDS), &by_text("node")))
}

fn get_node_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node");
    data(ctx.pve.get(&path(&[&"nodes", &node, &"status"]), &[])?)
}

fn list_vms(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    list_guests(ctx, args, Guest::Vm)
}

fn list_containers(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    list_guests(ctx, args, Guest::Container)
}

fn get_vm_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Vm)?;
    data(ctx.pve.get(&format!("{base}/config"), &[])?)
}

fn get_vm_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Vm)?;
    data(ctx.pve.get(&format!("{base}/status/current"), &[])?)
}

fn get_container_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let base = guest_path(ctx, args, Guest::Container)?;
    data(ctx.pve.get(&format!("{base}/status/current"), &[])?)
}

fn start_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "start", Vec::new())
}

fn stop_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "stop", Vec::new())
}

fn shutdown_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    shutdown(ctx, args, Guest::Vm)
}

/// A clean shutdown of a VM or container: PVE's own `timeout`, `forceStop` after it.
fn shutdown(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let mut params = Params::new();
    if let Some(t) = args.int("timeout") {
        params.push(("timeout", t.to_string()));
    }
    if let Some(f) = args.flag("force_stop") {
        params.push(("forceStop", bool01(f)));
    }
    power(ctx, args, kind, "shutdown", params)
}

fn reboot_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Vm, "reboot", Vec::new())
}

fn start_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "start", Vec::new())
}

fn stop_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    power(ctx, args, Guest::Container, "stop", Vec::new())
}

fn create_vm_snapshot(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    create_snapshot(ctx, args, Guest::Vm)
}

/// POST `…/snapshot` for a VM or container (`vmstate` only exists for VMs).
fn create_snapshot(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let mut params: Params = vec![("snapname", args.required_str("snapname").to_string())];
    if let Some(d) = args.str("description") {
        params.push(("description", d.to_string()));
    }
    if let Some(v) = args.flag("vmstate") {
        params.push(("vmstate", bool01(v)));
    }
    Change::post(format!("{base}/snapshot"), params).send(ctx, args, || {
        ctx.pve.get(&format!("{base}/status/current"), &[])
    })
}

fn list_vm_snapshots(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    list_snapshots(ctx, args, Guest::Vm)
}

/// A guest's snapshots oldest first, without PVE's `current` pseudo-entry.
fn list_snapshots(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let snaps = real_snapshots(ctx.pve.get(&format!("{base}/snapshot"), &[])?);
    const FIELDS: &[&str] = &["name", "snaptime", "description", "parent", "vmstate"];
    Ok(page(
        args,
        trimmed(Value::Array(snaps), FIELDS),
        &|a: &Value, b: &Value| {
            number(a, "snaptime")
                .total_cmp(&number(b, "snaptime"))
                .then_with(|| text(a, "name").cmp(text(b, "name")))
        },
    ))
}

fn delete_vm_snapshot(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    delete_snapshot(ctx, args, Guest::Vm)
}

/// DELETE `…/snapshot/{snapname}` of a VM or container, after the protection and existence checks.
fn delete_snapshot(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    let snapname = args.required_str("snapname");
    let config = refuse_if_pve_protected(ctx, &base, args.vmid())?;
    let name = config_name(&config, kind, args.vmid());
    check_confirm_name(args, kind, args.vmid(), &name, "nothing was deleted")?;
    // Check the snapshot exists first, so a typo is reported as such and not as a failed task.
    let target = existing_snapshot(ctx, &base, kind, args.vmid(), snapname)?;
    Change::delete(
        format!("{base}{}", path(&[&"snapshot", &snapname])),
        Vec::new(),
    )
    .send(ctx, args, || Ok(target))
}

/// The snapshot `snapname` of a guest, or an error naming the tool that lists them.
fn existing_snapshot(
    ctx: &Ctx,
    base: &str,
    kind: Guest,
    vmid: i64,
    snapname: &str,
) -> Result<Value, Error> {
    let list_path = format!("{base}/snapshot");
    let snaps = real_snapshots(ctx.pve.get(&list_path, &[])?);
    snaps.into_iter().find(|s| text(s, "name") == snapname).ok_or_else(|| {
        let tool = match kind {
            Guest::Vm => "list_vm_snapshots",
            Guest::Container => "list_container_snapshots",
        };
        Error::NotFound(format!(
            "GET {list_path}: {} {vmid} has no snapshot named '{snapname}'; {tool} shows its snapshots",
            kind.noun()
        ))
    })
}

/// The name `confirm_name` must repeat for a guest: its name, or its VMID when it has none.
fn guest_name(name: &str, vmid: i64) -> String {
    match name {
        "" => vmid.to_string(),
        n => n.to_string(),
    }
}

/// Refuses the call unless `confirm_name` is `name`, the current name of guest `vmid` (so a
/// wrong VMID loses nothing); `unchanged` says what was not done.
fn check_confirm_name(
    args: &Args,
    kind: Guest,
    vmid: i64,
    name: &str,
    unchanged: &str,
) -> Result<(), Error> {
    let confirm = args.required_str("confirm_name");
    if confirm == name {
        return Ok(());
    }
    let status_tool = match kind {
        Guest::Vm => "get_vm_status",
        Guest::Container => "get_container_status",
    };
    Err(Error::Denied(format!(
        "confirm_name '{confirm}' is not the name of {} {vmid}, which is '{name}'; {unchanged}. Check the VMID ({status_tool} shows its name) and pass its current name",
        kind.noun()
    )))
}

/// The guest's current status (`{base}/status/current`), once `confirm_name` matched its name.
fn confirmed_status(
    ctx: &Ctx,
    args: &Args,
    base: &str,
    kind: Guest,
    unchanged: &str,
) -> Result<Value, Error> {
    let status = ctx.pve.get(&format!("{base}/status/current"), &[])?;
    let vmid = args.vmid();
    let name = guest_name(text(&status, "name"), vmid);
    check_confirm_name(args, kind, vmid, &name, unchanged)?;
    Ok(status)
}

/// The name `confirm_name` must repeat, from a guest's config (`name` of a VM, `hostname` of a
/// container).
fn config_name(config: &Value, kind: Guest, vmid: i64) -> String {
    let key = match kind {
        Guest::Vm => "name",
        Guest::Container => "hostname",
    };
    guest_name(text(config, key), vmid)
}

/// Destroy tools refuse a guest with PVE's own `protection` flag: it is there to stop exactly
/// this. Returns the guest's config.
fn refuse_if_pve_protected(ctx: &Ctx, base: &str, vmid: i64) -> Result<Value, Error> {
    let config_path = format!("{base}/config");
    let config = ctx.pve.get(&config_path, &[])?;
    if config.get("protection").and_then(as_u64) == Some(1) {
        return Err(Error::Denied(format!(
            "GET {config_path}: guest {vmid} has PVE's protection flag set (protection: 1), so this server will not delete anything of it; \
             if this is intended, clear the flag in PVE first (Options > Protection)"
        )));
    }
    Ok(config)
}

fn list_storage(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let items = match args.str("node") {
        Some(node) => node_list(
            ctx,
            node,
            "storage",
            &[
                "storage",
                "node",
                "type",
                "content",
                "shared",
                "enabled",
                "active",
                "total",
                "used",
                "avail",
                "used_fraction",
            ],
        )?,
        None => {
            let all = ctx
                .pve
                .get("/cluster/resources", &[("type", "storage".into())])?;
            let storages = all.as_array().into_iter().flatten().filter(|r| text(r, "type") == "storage").map(|r| {
                let mut s = json!({"storage": r.get("storage"), "node": r.get("node"), "type": r.get("plugintype"), "content": r.get("content"), "shared": r.get("shared"), "status": r.get("status"), "total": r.get("maxdisk"), "used": r.get("disk")});
                if let (Some(total), Some(used)) = (r.get("maxdisk").and_then(as_u64), r.get("disk").and_then(as_u64)) {
                    s["avail"] = json!(total.saturating_sub(used));
                }
                if let Some(m) = s.as_object_mut() {
                    m.retain(|_, v| !v.is_null());
                }
                s
            });
            storages.collect()
        }
    };
    Ok(page(args, items, &|a: &Value, b: &Value| {
        text(a, "storage")
            .cmp(text(b, "storage"))
            .then_with(|| text(a, "node").cmp(text(b, "node")))
    }))
}

fn get_storage_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (node, storage) = (args.required_str("node"), args.required_str("storage"));
    data(ctx.pve.get(
        &path(&[&"nodes", &node, &"storage", &storage, &"status"]),
        &[],
    )?)
}

fn list_tasks(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
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
            let mut params: Params =
                vec![("start", offset.to_string()), ("limit", limit.to_string())];
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
            items.sort_by(newest_first);
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

fn get_task_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")).map_err(Error::Args)?;
    data(ctx.pve.get(
        &path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"status"]),
        &[],
    )?)
}

fn get_cluster_status(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let mut items: Vec<Value> = match ctx.pve.get("/cluster/status", &[])? {
        Value::Array(a) => a.into_iter().filter(Value::is_object).collect(),
        _ => Vec::new(),
    };
    items.sort_by(|a, b| {
        (text(a, "type") != "cluster")
            .cmp(&(text(b, "type") != "cluster"))
            .then_with(|| text(a, "name").cmp(text(b, "name")))
    });
    data(Value::Array(items))
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the handlers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guest {
    Vm,
    Container,
}

impl Guest {
    /// The PVE path segment and resource type.
    fn api(self) -> &'static str {
        match self {
            Guest::Vm => "qemu",
            Guest::Container => "lxc",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Guest::Vm => "VM",
            Guest::Container => "container",
        }
    }
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}`, finding the node from `/cluster/resources` when not given.
fn guest_path(ctx: &Ctx, args: &Args, kind: Guest) -> Result<String, Error> {
    let vmid = args.vmid();
    let node = match args.str("node") {
        Some(node) => node.to_string(),
        None => {
            let Some((node, found_kind)) = locate_guest(ctx, vmid as u64)? else {
                return Err(Error::NotFound(format!(
                    "GET /cluster/resources: no guest with VMID {vmid} in the cluster (or the credentials lack VM.Audit on /vms/{vmid}); list_{}s shows the {}s",
                    if kind == Guest::Vm { "vm" } else { "container" },
                    kind.noun()
                )));
            };
            if found_kind != kind.api() {
                let (is, tools) = match kind {
                    Guest::Vm => ("a container (lxc), not a VM", "the *_container tools"),
                    Guest::Container => ("a VM (qemu), not a container", "the *_vm tools"),
                };
                return Err(Error::NotFound(format!("VMID {vmid} is {is}; use {tools}")));
            }
            node
        }
    };
    Ok(path(&[&"nodes", &node, &kind.api(), &vmid]))
}

/// Where guest `vmid` lives and what it is (`qemu`/`lxc`): from the short-lived cache, else
/// from `/cluster/resources` (remembering every guest in it). None when it cannot be seen.
/// `run` forgets a guest whose call failed, so a moved guest is found again.
fn locate_guest(ctx: &Ctx, vmid: u64) -> Result<Option<(String, String)>, Error> {
    if let Some(seen) = ctx.pve.cached_guest(vmid) {
        return Ok(Some(seen));
    }
    let resources = ctx
        .pve
        .get("/cluster/resources", &[("type", "vm".into())])?;
    ctx.pve.remember_guests(&resources);
    let found = resources
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r.get("vmid").and_then(as_u64) == Some(vmid));
    Ok(found.map(|r| (text(r, "node").to_string(), text(r, "type").to_string())))
}

/// `GET /nodes/{node}/{what}` as a list of objects cut to `fields`, each marked with its node.
fn node_list(ctx: &Ctx, node: &str, what: &str, fields: &[&str]) -> Result<Vec<Value>, Error> {
    let mut list = trimmed(ctx.pve.get(&path(&[&"nodes", &node, &what]), &[])?, fields);
    for item in list.iter_mut().filter_map(Value::as_object_mut) {
        item.insert("node".into(), json!(node));
    }
    Ok(list)
}

fn list_guests(ctx: &Ctx, args: &Args, kind: Guest) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "vmid", "name", "node", "status", "cpu", "maxcpu", "cpus", "mem", "maxmem", "disk",
        "maxdisk", "uptime", "template", "tags", "lock", "hastate", "pool",
    ];
    let items = match args.str("node") {
        Some(node) => node_list(ctx, node, kind.api(), FIELDS)?,
        None => {
            let all = ctx
                .pve
                .get("/cluster/resources", &[("type", "vm".into())])?;
            let of_kind: Vec<Value> = all
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| text(r, "type") == kind.api())
                .cloned()
                .collect();
            trimmed(Value::Array(of_kind), FIELDS)
        }
    };
    Ok(page(args, items, &|a: &Value, b: &Value| {
        number(a, "vmid").total_cmp(&number(b, "vmid"))
    }))
}

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

/// POST `…/status/{action}` on a guest, then wait for the task.
fn power(
    ctx: &Ctx,
    args: &Args,
    kind: Guest,
    action: &str,
    params: Params,
) -> Result<Content, Error> {
    let base = guest_path(ctx, args, kind)?;
    Change::post(format!("{base}/status/{action}"), params).send(ctx, args, || {
        ctx.pve.get(&format!("{base}/status/current"), &[])
    })
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
        let params: Map<String, Value> = change
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
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
    let reply = ctx.pve.call(change.method, &change.path, &change.params)?;
    let method = change.method.as_str();
    if reply.data.is_null() {
        // A synchronous write (e.g. a config PUT): done, no task to follow.
        return data(Value::Null);
    }
    let upid = reply
        .data
        .as_str()
        .and_then(|u| Upid::parse(u).ok())
        .ok_or_else(|| Error::Transport {
            method,
            path: change.path.clone(),
            message: format!("PVE did not return a task id but {}", reply.data),
        })?;
    // Logged before the task is followed, so a crash during the wait still leaves its UPID.
    if let Some(audit) = &ctx.policy.audit {
        audit.started(&upid.raw);
    }
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

/// Polls a task's status with a short backoff until it stops or `wait` runs out, reporting
/// progress and stopping early (`Error::Cancelled`) when the caller cancels.
fn follow(ctx: &Ctx, upid: &Upid, wait: Duration, stop_on_cancel: bool) -> Result<Value, Error> {
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
fn finish(
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

fn wait_task(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")).map_err(Error::Args)?;
    let wait = args
        .int("timeout")
        .map(|w| w as u64)
        .unwrap_or(ctx.task_wait);
    let status = follow(ctx, &upid, Duration::from_secs(wait), false)?;
    let status_path = path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"status"]);
    finish(ctx, "GET", &status_path, &upid, &status, wait)
}

fn get_task_log(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let upid = Upid::parse(args.required_str("upid")).map_err(Error::Args)?;
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

fn data(value: Value) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), value);
    Ok(out)
}

/// Snapshots without PVE's `current` pseudo-entry ("You are here!").
fn real_snapshots(list: Value) -> Vec<Value> {
    match list {
        Value::Array(a) => a
            .into_iter()
            .filter(|s| text(s, "name") != "current")
            .collect(),
        _ => Vec::new(),
    }
}

/// The objects of a PVE list, each cut to `fields`.
fn trimmed(list: Value, fields: &[&str]) -> Vec<Value> {
    let Value::Array(items) = list else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut m) => {
                m.retain(|k, _| fields.contains(&k.as_str()));
                Value::Object(m)
            }
            _ => Value::Null,
        })
        .filter(Value::is_object)
        .collect()
}

fn paging(args: &Args) -> (usize, usize) {
    let limit = args.int("limit").unwrap_or(100).max(1) as usize;
    let offset = args.int("offset").unwrap_or(0).max(0) as usize;
    (limit, offset)
}

/// Sorts, then takes `limit` items from `offset`, saying `total`.
fn page(
    args: &Args,
    mut items: Vec<Value>,
    order: &dyn Fn(&Value, &Value) -> Ordering,
) -> Map<String, Value> {
    items.sort_by(order);
    let (limit, offset) = paging(args);
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut out = Map::new();
    if offset + shown.len() < total {
        out.insert(
            "hint".into(),
            json!(format!(
                "{} more; call again with offset {}",
                total - offset - shown.len(),
                offset + shown.len()
            )),
        );
    }
    out.insert("data".into(), Value::Array(shown));
    out.insert("total".into(), json!(total));
    out.insert("limit".into(), json!(limit));
    out.insert("offset".into(), json!(offset));
    out
}

fn by_text(field: &'static str) -> impl Fn(&Value, &Value) -> Ordering {
    move |a, b| text(a, field).cmp(text(b, field))
}

fn text<'v>(v: &'v Value, field: &str) -> &'v str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn number(v: &Value, field: &str) -> f64 {
    match v.get(field) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Keeps the serialized result under `MAX_RESULT`: drops list items from the end, or an object's
/// largest fields, and says so.
pub fn cap(mut out: Map<String, Value>) -> Map<String, Value> {
    let size = |m: &Map<String, Value>| serde_json::to_string(m).map(|s| s.len()).unwrap_or(0);
    if size(&out) <= MAX_RESULT {
        return out;
    }
    let budget = MAX_RESULT - 512;
    let hint = match out.get_mut("data") {
        Some(Value::Array(items)) => {
            let mut used = 0;
            let keep = items
                .iter()
                .take_while(|item| {
                    used += serde_json::to_string(item)
                        .map(|s| s.len() + 1)
                        .unwrap_or(0);
                    used <= budget
                })
                .count();
            let dropped = items.len() - keep;
            items.truncate(keep);
            // Say how far this page really goes, so paging by offset + limit misses nothing.
            let offset = out.get("offset").and_then(Value::as_u64).unwrap_or(0);
            if out.contains_key("limit") {
                out.insert("limit".into(), json!(keep));
            }
            format!("output cut to 64 KiB after {keep} items ({dropped} more left out); call again with offset {}, or narrow the query", offset + keep as u64)
        }
        Some(Value::Object(fields)) => {
            let mut dropped = Vec::new();
            while serde_json::to_string(fields).map(|s| s.len()).unwrap_or(0) > budget {
                let largest = fields
                    .iter()
                    .max_by_key(|(_, v)| serde_json::to_string(v).map(|s| s.len()).unwrap_or(0))
                    .map(|(k, _)| k.clone());
                match largest {
                    Some(k) => {
                        fields.remove(&k);
                        dropped.push(k);
                    }
                    None => break,
                }
            }
            format!(
                "output cut to 64 KiB: fields left out: {}",
                dropped.join(", ")
            )
        }
        Some(Value::String(s)) => {
            // Escaping can make the JSON longer than the text: cut until the JSON fits.
            let mut end = budget.min(s.len());
            loop {
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                let len = Value::String(s[..end].to_string()).to_string().len();
                if len <= budget || end == 0 {
                    break;
                }
                end = (end * budget / len).min(end - 1);
            }
            s.truncate(end);
            "output cut to 64 KiB".to_string()
        }
        // A dry run (data null) or another shape: cut the largest other fields (e.g. `target`).
        _ => {
            let mut dropped = Vec::new();
            while serde_json::to_string(&out).map(|s| s.len()).unwrap_or(0) > budget {
                let largest = out
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "data" | "dry_run" | "request" | "task"))
                    .max_by_key(|(_, v)| serde_json::to_string(v).map(|s| s.len()).unwrap_or(0))
                    .map(|(k, _)| k.clone());
                match largest {
                    Some(k) => {
                        out.remove(&k);
                        dropped.push(k);
                    }
                    None => break,
                }
            }
            format!("output cut to 64 KiB: left out {}", dropped.join(", "))
        }
    };
    out.insert("truncated".into(), json!(true));
    out.insert("hint".into(), json!(hint));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_invariants() {
        let mut names = std::collections::HashSet::new();
        for t in TOOLS.iter() {
            assert!(names.insert(t.name), "duplicate tool {}", t.name);
            assert!(
                t.name.len() <= 128 && t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                t.name
            );
            assert!(
                t.description.ends_with('.') && t.description.len() > 40,
                "{}: description",
                t.name
            );
            assert!(!t.title.is_empty() && !t.privilege.is_empty());
            // `check` reads the privilege text: it is "a valid login …" or "PRIV[ or PRIV] on /PATH …".
            match t.requirement() {
                None => assert!(t.privilege.starts_with("a valid login"), "{}", t.name),
                Some((privs, path)) => {
                    assert!(path.starts_with('/'), "{}: {path}", t.name);
                    assert!(
                        privs.iter().all(|p| p.contains('.') && !p.contains(' ')),
                        "{}: {privs:?}",
                        t.name
                    );
                }
            }
            for p in t.params {
                assert!(!p.description.is_empty(), "{}.{}", t.name, p.name);
            }
            // The effect follows from the name.
            let verb = t.name.split('_').next().unwrap_or_default();
            let expected = match verb {
                "list" | "get" | "wait" => Effect::Read,
                "delete" | "remove" | "rollback" | "exec" => Effect::Destroy,
                _ => Effect::Operate,
            };
            assert_eq!(t.effect, expected, "{}", t.name);
            // Tools that start tasks wait and can be dry-run; nothing else takes those arguments.
            let has = |n: &str| t.params.iter().any(|p| p.name == n);
            let starts_task = t.output == Output::Task && t.effect != Effect::Read;
            let task_args = has("wait_seconds") && has("dry_run") && has("stop_on_cancel");
            assert_eq!(starts_task, task_args, "{}", t.name);
            assert_eq!(t.output == Output::List, has("limit"), "{}", t.name);
            if t.name.starts_with("list_") {
                assert!(has("limit") && has("offset"), "{}", t.name);
            }
            // node is optional wherever vmid identifies a guest.
            if t.params.iter().any(|p| p.name == "vmid" && p.required) {
                assert!(
                    t.params.iter().any(|p| p.name == "node" && !p.required),
                    "{}",
                    t.name
                );
            }
        }
        assert!(TOOLS.len() >= 23);
        let areas = [
            Area::Nodes,
            Area::Vms,
            Area::Containers,
            Area::Snapshots,
            Area::Storage,
            Area::Tasks,
            Area::Cluster,
            Area::Backups,
            Area::Network,
            Area::Firewall,
            Area::Access,
            Area::Pools,
            Area::Ha,
            Area::Certificates,
            Area::Metrics,
            Area::Exec,
        ];
        assert_eq!(
            AREAS.to_vec(),
            areas.iter().map(|a| a.name()).collect::<Vec<_>>()
        );
    }

    fn check_args(tool: &str, args: Value, expected: Result<Value, &str>) {
        let tool = find(tool).unwrap();
        let got = validate(tool, args.as_object().unwrap())
            .map(|a| Value::Object(a.0))
            .map_err(|e| e.to_string());
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => {
                assert!(got.contains(want), "{got:?} does not contain {want:?}")
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn argument_validation() {
        check_args(
            "get_vm_status",
            json!({"vmid": 100}),
            Ok(json!({"vmid": 100})),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": "101", "node": "pve-2"}),
            Ok(json!({"vmid": 101, "node": "pve-2"})),
        );
        check_args(
            "get_vm_status",
            json!({}),
            Err("missing required argument 'vmid'"),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": 99}),
            Err("'vmid' must be between 100 and 999999999, got 99"),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": 1.5}),
            Err("'vmid' must be a whole number"),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": true}),
            Err("'vmid' must be a whole number"),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": 100, "node": "../etc"}),
            Err("'node' must be a node name"),
        );
        check_args(
            "get_vm_status",
            json!({"vmid": 100, "nodes": "pve1"}),
            Err("unknown argument 'nodes': get_vm_status takes vmid, node"),
        );
        check_args(
            "get_cluster_status",
            json!({"x": 1}),
            Err("takes no arguments"),
        );
        check_args(
            "create_vm_snapshot",
            json!({"vmid": 100, "snapname": "1st"}),
            Err("'snapname' must be 2 to 40 characters"),
        );
        check_args(
            "create_vm_snapshot",
            json!({"vmid": 100, "snapname": "current"}),
            Err("not 'current'"),
        );
        check_args(
            "create_vm_snapshot",
            json!({"vmid": 100, "snapname": "pre-upgrade", "vmstate": "yes"}),
            Ok(json!({"vmid": 100, "snapname": "pre-upgrade", "vmstate": true})),
        );
        check_args(
            "shutdown_vm",
            json!({"vmid": 100, "force_stop": "maybe"}),
            Err("'force_stop' must be true or false"),
        );
        check_args(
            "get_task_status",
            json!({"upid": "UPID:nope"}),
            Err("is not a PVE task id"),
        );
        check_args(
            "list_vms",
            json!({"limit": 0}),
            Err("'limit' must be between 1 and 1000"),
        );
        check_args("list_vms", json!({"node": null}), Ok(json!({})));
        check_args(
            "get_storage_status",
            json!({"storage": "local lvm", "node": "pve1"}),
            Err("'storage' must be a storage id"),
        );
    }

    #[test]
    fn large_results_are_cut_with_a_hint() {
        let items: Vec<Value> = (0..5000)
            .map(|i| json!({"vmid": 100 + i, "name": format!("guest-{i:0>20}")}))
            .collect();
        let mut m = Map::new();
        m.insert("data".into(), Value::Array(items));
        m.insert("total".into(), json!(5000));
        m.insert("limit".into(), json!(5000));
        m.insert("offset".into(), json!(0));
        let out = cap(m);
        let text = serde_json::to_string(&out).unwrap();
        assert!(text.len() <= MAX_RESULT, "{}", text.len());
        assert_eq!(out["truncated"], json!(true));
        assert_eq!(out["total"], json!(5000));
        let kept = out["data"].as_array().unwrap().len();
        assert_eq!(
            out["limit"],
            json!(kept),
            "limit says how far the page goes"
        );
        let hint = out["hint"].as_str().unwrap();
        assert!(
            hint.contains(&format!("call again with offset {kept}")),
            "{hint}"
        );
        // A string whose escaping doubles its length still fits.
        let mut quoted = Map::new();
        quoted.insert("data".into(), json!("\"".repeat(60_000)));
        assert!(serde_json::to_string(&cap(quoted)).unwrap().len() <= MAX_RESULT);
        let mut obj = Map::new();
        obj.insert(
            "data".into(),
            json!({"small": 1, "huge": "x".repeat(100_000)}),
        );
        let out = cap(obj);
        assert_eq!(out["data"], json!({"small": 1}));

        assert!(out["hint"].as_str().unwrap().contains("huge"));
        // A dry run's large target is cut too; the request stays.
        let mut dry = Map::new();
        dry.insert("data".into(), Value::Null);
        dry.insert("dry_run".into(), json!(true));
        dry.insert(
            "request".into(),
            json!({"method": "POST", "path": "/x", "params": {}}),
        );
        dry.insert("target".into(), json!({"rules": "r".repeat(100_000)}));
        let out = cap(dry);
        assert!(serde_json::to_string(&out).unwrap().len() <= MAX_RESULT);
        assert!(out.get("target").is_none() && out["request"]["path"] == "/x");
        assert_eq!(out["hint"], "output cut to 64 KiB: left out target");
    }
}
