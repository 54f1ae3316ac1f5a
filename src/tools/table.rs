//! The table's types: a tool's row (`Tool`), its parameters (`Param`, `Kind`), effect, area and
//! output shape, and the schemas `tools/list` shows, built from a row; and what a row's handler
//! gets (`Ctx`, `Args`).

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect, Policy, Subject};
use crate::pve::Pve;

/// A result's `structuredContent`: `{"data": …}` plus tool-specific keys.
pub type Content = Map<String, Value>;

/// The JSON type of a field of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    /// Any number (PVE gives fractions such as CPU use, and sizes as integers).
    Num,
    Bool,
    Obj,
    Arr,
    /// A string, or null when unknown.
    StrOrNull,
    /// A number, or null when unknown.
    NumOrNull,
    /// Whatever PVE gives (left untyped in the schema).
    Any,
}

impl Ty {
    fn schema(self) -> Value {
        match self {
            Ty::Str => json!({"type": "string"}),
            Ty::Int => json!({"type": "integer"}),
            Ty::Num => json!({"type": "number"}),
            Ty::Bool => json!({"type": "boolean"}),
            Ty::Obj => json!({"type": "object"}),
            Ty::Arr => json!({"type": "array"}),
            Ty::StrOrNull => json!({"type": ["string", "null"]}),
            Ty::NumOrNull => json!({"type": ["number", "null"]}),
            Ty::Any => json!({}),
        }
    }
}

/// One field of a result (of `data`'s items, of `data`, or beside `data`): name, type and a few
/// words (empty when the name says it all).
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub about: &'static str,
}

/// A field of a result.
pub const fn f(name: &'static str, ty: Ty, about: &'static str) -> Field {
    Field { name, ty, about }
}

/// The properties of an object schema made of `fields`.
fn properties(fields: &[Field]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| {
            let mut schema = f.ty.schema();
            if !f.about.is_empty() {
                schema["description"] = json!(f.about);
            }
            (f.name.to_string(), schema)
        })
        .collect()
}

/// The shape of a tool's `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A sorted, paged array of objects with `total`, `limit`, `offset`.
    List,
    /// An array of objects, whole.
    Array,
    /// One object.
    Object,
    /// The UPID of a started task (null in a dry run), with `task`.
    Task,
    /// Null: a change PVE makes at once (no task to wait for), or its dry run.
    Done,
}

/// What a tool returns, for its `outputSchema`: the shape of `data`, the fields of its objects
/// (a list's items, or the object), and other keys the result carries beside `data`. PVE
/// passes fields through that are not named here, so no object is closed and only the keys
/// every result has are required.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub shape: Shape,
    pub fields: &'static [Field],
    pub extra: &'static [Field],
}

impl Output {
    /// A paged list of objects with these fields.
    pub const fn list(fields: &'static [Field]) -> Output {
        Output {
            shape: Shape::List,
            fields,
            extra: &[],
        }
    }
    /// A whole array of objects with these fields.
    pub const fn array(fields: &'static [Field]) -> Output {
        Output {
            shape: Shape::Array,
            fields,
            extra: &[],
        }
    }
    /// One object with these fields.
    pub const fn object(fields: &'static [Field]) -> Output {
        Output {
            shape: Shape::Object,
            fields,
            extra: &[],
        }
    }
    /// A PVE task started (the UPID, null in a dry run), with its summary.
    pub const fn task() -> Output {
        Output {
            shape: Shape::Task,
            fields: &[],
            extra: &[],
        }
    }
    /// A change PVE makes at once.
    pub const fn done() -> Output {
        Output {
            shape: Shape::Done,
            fields: &[],
            extra: &[],
        }
    }
    /// The same, with these keys beside `data`.
    pub const fn with(self, extra: &'static [Field]) -> Output {
        Output { extra, ..self }
    }
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
    /// Guest IDs: one, or a non-empty array of them (numeric strings are taken too).
    Vmids {
        max_items: usize,
    },
    /// A non-empty array of strings (an argv, a list of keys).
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
    const fn new(
        name: &'static str,
        kind: Kind,
        required: bool,
        description: &'static str,
    ) -> Param {
        Param {
            name,
            kind,
            required,
            description,
        }
    }
    /// A parameter the call must give.
    pub const fn req(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param::new(name, kind, true, description)
    }
    /// A parameter the call may leave out.
    pub const fn opt(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param::new(name, kind, false, description)
    }
}

/// A fact about a tool that the other columns do not give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Can lose data although its effect is not `destroy`: a hard stop or reset (unsaved guest
    /// state is lost), or an effect that depends on the arguments (`destructiveHint`, spec §8:
    /// the stricter annotation when in doubt).
    MayLoseData,
    /// Runs PVE's `pct`, so it only works when this server runs on a PVE node.
    OnPveNode,
    /// Its `vmid` names a guest to create, which need not exist yet.
    NewGuest,
    /// It also acts on this area's kind of thing (a VM's snapshots: `Also(Area::Vms)`), so it
    /// belongs to that toolset too: `PROXMOX_MCP_TOOLS` and `PROXMOX_MCP_DENY_TOOLS` naming the
    /// area name it.
    Also(Area),
    /// An everyday tool: the `default` set (`PROXMOX_MCP_TOOLS` unset) lists it. The set is
    /// kept within what every host carries: at most 40 tools and 40 KB of `tools/list` at
    /// access `full` (`bench/run` prints both).
    Everyday,
    /// PVE answers it with a secret it shows only once (a new API token's), which goes to a new
    /// file in `PROXMOX_MCP_SECRETS_DIR`, never into the result: offered only with that setting.
    SecretToFile,
    /// It makes PVE send to an address outside the cluster (a notification endpoint, with the
    /// secret it needs), so it needs access `full`: its effect is `destroy` for that level
    /// though it loses nothing. The description says so instead of "Can lose data."; the
    /// `destructiveHint` stays true, the stricter annotation.
    Outward,
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
    /// Facts about the tool the other columns do not give.
    pub marks: &'static [Mark],
    pub run: fn(&Ctx, &Args) -> Result<Content, Error>,
}

impl Tool {
    /// Whether the tool can work where this server runs (one marked `OnPveNode` needs `pct`).
    pub fn present(&self) -> bool {
        !self.has(Mark::OnPveNode)
            || (cfg!(target_os = "linux") && std::path::Path::new("/usr/sbin/pct").exists())
    }

    /// The toolsets the tool belongs to: its own area first, then those it also acts on.
    pub fn areas(&self) -> Vec<Area> {
        let also = self.marks.iter().filter_map(|m| match m {
            Mark::Also(a) => Some(*a),
            _ => None,
        });
        std::iter::once(self.area).chain(also).collect()
    }

    /// Refuses the tool when the policy turns it off or it cannot work here, saying why.
    pub fn allowed(&self, policy: &Policy) -> Result<(), Error> {
        policy.allows(&self.subject(&self.areas()))?;
        self.has_secrets_dir(policy)
    }

    /// What the policy weighs of the tool, with its `areas`.
    fn subject<'a>(&'a self, areas: &'a [Area]) -> Subject<'a> {
        Subject {
            name: self.name,
            effect: self.effect,
            areas,
            everyday: self.has(Mark::Everyday),
            present: self.present(),
        }
    }

    /// Whether loading its toolset would list the tool (`PROXMOX_MCP_TOOLS=all`): the access
    /// level, the exec and access-admin switches and `PROXMOX_MCP_DENY_TOOLS` allow it, and it
    /// can work here.
    pub fn available(&self, policy: &Policy) -> bool {
        policy
            .allows_with_all(&self.subject(&self.areas()))
            .and_then(|()| self.has_secrets_dir(policy))
            .is_ok()
    }

    /// Refuses a tool marked `SecretToFile` when `PROXMOX_MCP_SECRETS_DIR` is not set.
    fn has_secrets_dir(&self, policy: &Policy) -> Result<(), Error> {
        if self.has(Mark::SecretToFile) && policy.secrets_dir.is_none() {
            return Err(Error::Denied(format!(
                "{} receives a secret from PVE, which this server only writes to a file, and is off unless PROXMOX_MCP_SECRETS_DIR names a directory for it (existing, writable only by its owner)",
                self.name
            )));
        }
        Ok(())
    }

    /// The description shown to models: what the tool does, returns and needs.
    pub fn full_description(&self) -> String {
        let mut d = format!("{} Needs {}.", self.description, self.privilege);
        if self.has(Mark::Outward) {
            d.push_str(" Needs access full: PVE sends to outside addresses.");
        } else if self.effect == Effect::Destroy {
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

    /// Whether the row carries `mark`.
    pub fn has(&self, mark: Mark) -> bool {
        self.marks.contains(&mark)
    }

    /// `destructiveHint`: destroy tools, and those marked `MayLoseData`.
    pub fn destructive(&self) -> bool {
        self.effect == Effect::Destroy || self.has(Mark::MayLoseData)
    }

    /// The `inputSchema`: every parameter typed and described (a host that loads one tool's
    /// schema on demand has nothing else to go by); lengths and ranges are checked by
    /// `validate`, with a clear error, rather than repeated here.
    pub fn input_schema(&self) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in self.params {
            let mut schema = match p.kind {
                Kind::Vmid => json!({"type": "integer", "minimum": 100}),
                Kind::Vmids { max_items } => {
                    json!({"type": ["integer", "array"], "items": {"type": "integer"}, "minimum": 100, "minItems": 1, "maxItems": max_items})
                }
                Kind::Snapname => json!({"type": "string", "minLength": 2, "maxLength": 40}),
                Kind::Node | Kind::Storage | Kind::Upid | Kind::Text { .. } => {
                    json!({"type": "string"})
                }
                Kind::Int { min, .. } if min > 0 => json!({"type": "integer", "minimum": min}),
                Kind::Int { .. } => json!({"type": "integer"}),
                Kind::Bool => json!({"type": "boolean"}),
                Kind::Strings { max_items, .. } => {
                    json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": max_items})
                }
                Kind::Object => json!({"type": "object"}),
            };
            schema["description"] = json!(p.description);
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

    /// The `outputSchema`: `data` as the row's `output` describes it, and the keys beside it
    /// (paging, the task, a dry run's request). Objects stay open: PVE adds fields.
    pub fn output_schema(&self) -> Value {
        let out = &self.output;
        let object = || {
            let mut o = json!({"type": "object"});
            if !out.fields.is_empty() {
                o["properties"] = Value::Object(properties(out.fields));
            }
            o
        };
        let dry_run = self.params.iter().any(|p| p.name == "dry_run");
        let mut props = Map::new();
        let mut required = vec![json!("data")];
        match out.shape {
            Shape::List | Shape::Array => {
                props.insert("data".into(), json!({"type": "array", "items": object()}));
            }
            Shape::Object => {
                let mut o = object();
                if dry_run {
                    o["type"] = json!(["object", "null"]);
                }
                props.insert("data".into(), o);
            }
            Shape::Done => {
                props.insert("data".into(), json!({"type": "null"}));
            }
            Shape::Task => {
                props.insert("data".into(), json!({"type": ["string", "null"]}));
                props.insert(
                    "task".into(),
                    json!({"type": "object", "properties": properties(TASK)}),
                );
            }
        }
        if out.shape == Shape::List {
            props.extend(properties(PAGE));
            required.push(json!("total"));
        }
        // A dry run's `request` and `target` and a `hint` are left to the parameter's and the
        // tool's descriptions: every tool would carry them, and `tools/list` must stay small.
        props.extend(properties(out.extra));
        json!({"type": "object", "properties": props, "required": required})
    }
}

/// A task's summary (`pve::task_summary`).
const TASK: &[Field] = &[
    f("upid", Ty::Str, ""),
    f("status", Ty::Str, ""),
    f("exitstatus", Ty::StrOrNull, ""),
    f("duration_s", Ty::Int, ""),
];

/// Beside a page of a list.
const PAGE: &[Field] = &[
    f("total", Ty::Int, ""),
    f("limit", Ty::Int, ""),
    f("offset", Ty::Int, ""),
];

/// The ACL path a grant goes on: the template up to its first placeholder (`/vms/{vmid}` → `/vms`).
pub fn acl_base(path: &str) -> &str {
    match path.find('{') {
        Some(i) => path[..i].trim_end_matches('/').max("/"),
        None => path,
    }
}

/// Whether `permissions` (`GET /access/permissions`: path → privilege → 1) grants any of
/// `privs` somewhere the template `path` can match: on an ancestor, or on a path below its base.
pub fn granted(permissions: &Map<String, Value>, privs: &[&str], path: &str) -> bool {
    let base = acl_base(path);
    permissions.iter().any(|(acl, held)| {
        let applies = acl == "/"
            || base.starts_with(&format!("{acl}/"))
            || acl == base
            || acl.starts_with(&format!("{base}/"));
        applies
            && privs.iter().any(|p| {
                held.get(*p)
                    .is_some_and(|v| v.as_u64() != Some(0) && !v.is_null())
            })
    })
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
    /// Every tool (`TOOLS`), for tools that report on the others.
    pub tools: &'a [&'static Tool],
}

impl<'a> Ctx<'a> {
    pub fn new(
        pve: &'a Pve,
        policy: &'a Policy,
        tools: &'a [&'static Tool],
        task_wait: u64,
        waiter: &'a dyn Waiter,
    ) -> Ctx<'a> {
        Ctx {
            pve,
            task_wait,
            waiter,
            policy,
            tools,
        }
    }
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
pub struct Args(pub(super) Map<String, Value>);

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
    pub(super) fn vmid(&self) -> i64 {
        self.int("vmid").unwrap_or_default()
    }
    /// A string argument the tool's row marks required: `validate` has made sure it is there,
    /// so an error here means the row and its handler disagree (a bug, reported as such).
    pub(super) fn required_str(&self, name: &str) -> Result<&str, Error> {
        self.str(name).ok_or_else(|| {
            Error::Args(format!(
                "missing required argument '{name}' (the tool's table row does not require it; this is a bug)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn privileges_match_acl_paths() {
        let perms: Map<String, Value> = serde_json::from_value(json!({
            "/vms/100": {"VM.Audit": 1, "VM.PowerMgmt": 1},
            "/nodes": {"Sys.Audit": 1},
            "/storage/local": {"Datastore.AllocateSpace": 1},
        }))
        .unwrap();
        assert!(granted(&perms, &["VM.PowerMgmt"], "/vms/{vmid}"));
        assert!(!granted(&perms, &["VM.Snapshot"], "/vms/{vmid}"));
        assert!(granted(&perms, &["Sys.Audit"], "/nodes/{node}"));
        assert!(!granted(&perms, &["Sys.Audit"], "/"));
        assert!(granted(
            &perms,
            &["Datastore.Audit", "Datastore.AllocateSpace"],
            "/storage/{storage}"
        ));
        let root: Map<String, Value> =
            serde_json::from_value(json!({"/": {"Sys.Audit": 1}})).unwrap();
        assert!(
            granted(&root, &["Sys.Audit"], "/nodes/{node}") && granted(&root, &["Sys.Audit"], "/")
        );
        assert_eq!(acl_base("/vms/{vmid}"), "/vms");
        assert_eq!(acl_base("/"), "/");
    }
}
