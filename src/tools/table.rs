//! The table's types: a tool's row (`Tool`), its parameters (`Param`, `Kind`), effect, area and
//! output shape, and the schemas `tools/list` shows, built from a row; and what a row's handler
//! gets (`Ctx`, `Args`).

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect, Policy};
use crate::pve::Pve;

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
    /// Described once in the server's instructions (the guest's `vmid`), not in each schema.
    pub explained_once: bool,
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
            explained_once: false,
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
    /// The same parameter, described once in the server's instructions instead of its schema.
    pub const fn explained_once(self) -> Param {
        Param {
            explained_once: true,
            ..self
        }
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
    /// area name it. The `default` set goes by a tool's own area only.
    Also(Area),
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
        policy.allows(self.name, self.effect, &self.areas(), self.present())
    }

    /// Whether loading its toolset would list the tool (`PROXMOX_MCP_TOOLS=all`): the access
    /// level, the exec switch and `PROXMOX_MCP_DENY_TOOLS` allow it, and it can work here.
    pub fn available(&self, policy: &Policy) -> bool {
        policy
            .allows_with_all(self.name, self.effect, &self.areas(), self.present())
            .is_ok()
    }

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

    /// Whether the row carries `mark`.
    pub fn has(&self, mark: Mark) -> bool {
        self.marks.contains(&mark)
    }

    /// `destructiveHint`: destroy tools, and those marked `MayLoseData`.
    pub fn destructive(&self) -> bool {
        self.effect == Effect::Destroy || self.has(Mark::MayLoseData)
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
            if !COMMON_PARAMS.contains(&p.name) && !optional_node && !p.explained_once {
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
