//! HA rules (PVE 9's node- and resource-affinity rules, which replace HA groups) and changes to
//! HA resources: their requested state and limits, migration and relocation. (`get_ha_status`,
//! `list_ha_resources`, `add_ha_resource` and `remove_ha_resource` live in `admin.rs`.)
//!
//! Decisions:
//! - A resource is named as HA names it, `vm:100` or `ct:101`; guests `PROXMOX_MCP_PROTECTED`
//!   names are refused before anything is sent, in a resource's own tools and in the rules that
//!   would place them (creating or deleting a rule moves its guests).
//! - `create_ha_rule` checks what PVE 9 checks per rule type before sending: a node-affinity rule
//!   takes `nodes` (and `strict`), a resource-affinity rule takes `affinity` and two or more
//!   resources.
//! - Migration and relocation are requests to the HA manager: PVE answers at once with what it
//!   will move along (positive affinity) or what blocks it, not with a task; the move itself
//!   follows (`get_ha_status` shows it).
//! - Updates send the digest of the resource just read, so a concurrent change is refused.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Method, Params};

use super::admin::{choice_arg, one_of, HA_FIELDS};
use super::change::Change;
use super::list::{by_text, data, page, text, trimmed};
use super::params::{DRY_RUN, LIMIT, OFFSET};
use super::pools::refuse_protected;
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

#[rustfmt::skip]
const SID: Param = Param::req("sid", Kind::Text { max: 32 }, "the HA resource: vm:VMID or ct:VMID");
#[rustfmt::skip]
const RULE: Param = Param::req("rule", Kind::Text { max: 128 }, "the rule id, e.g. db-apart");
#[rustfmt::skip]
const RULE_TYPE: Param = Param::req("type", Kind::Text { max: 20 }, "node-affinity or resource-affinity");
#[rustfmt::skip]
const TYPE_FILTER: Param = Param::opt("type", Kind::Text { max: 20 }, "only node-affinity or resource-affinity rules");
#[rustfmt::skip]
const RESOURCE_FILTER: Param = Param::opt("resource", Kind::Text { max: 32 }, "only rules naming this resource, e.g. vm:100");
#[rustfmt::skip]
const RESOURCES: Param = Param::req("resources", Kind::Strings { max_items: 100, max_len: 32 }, "HA resources, e.g. [\"vm:100\", \"ct:101\"]");
#[rustfmt::skip]
const NODES: Param = Param::opt("nodes", Kind::Strings { max_items: 64, max_len: 72 }, "node-affinity: nodes, each NODE or NODE:PRIORITY");
#[rustfmt::skip]
const STRICT: Param = Param::opt("strict", Kind::Bool, "node-affinity: only these nodes (else preferred)");
#[rustfmt::skip]
const AFFINITY: Param = Param::opt("affinity", Kind::Text { max: 10 }, "resource-affinity: positive (together) or negative (apart)");
const COMMENT: Param = Param::opt("comment", Kind::Text { max: 4096 }, "a description");
#[rustfmt::skip]
const STATE: Param = Param::opt("state", Kind::Text { max: 16 }, "requested state: started, stopped, disabled or ignored");
#[rustfmt::skip]
const MAX_RESTART: Param = Param::opt("max_restart", Kind::Int { min: 0, max: 100 }, "restarts on a node before relocating");
#[rustfmt::skip]
const MAX_RELOCATE: Param = Param::opt("max_relocate", Kind::Int { min: 0, max: 100 }, "relocations to other nodes");
const TARGET: Param = Param::req("node", Kind::Node, "the target node");

/// What PVE answers a migration or relocation request with.
#[rustfmt::skip]
const MOVE: &[crate::tools::Field] = &[f("sid", Ty::Str, ""), f("requested-node", Ty::Str, ""), f("comigrated-resources", Ty::Arr, "moved along (positive affinity)"), f("blocking-resources", Ty::Arr, "{sid, cause} keeping it from moving")];

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_ha_rules",
        title: "List HA rules",
        description: "Lists HA rules (node affinity, resource affinity) sorted by id.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Ha,
        params: &[&TYPE_FILTER, &RESOURCE_FILTER, &LIMIT, &OFFSET],
        output: Output::list(&[f("rule", Ty::Str, ""), f("type", Ty::Str, ""), f("resources", Ty::Str, "comma list"), f("nodes", Ty::Str, "node[:priority] list"), f("strict", Ty::Int, ""), f("affinity", Ty::Str, "positive or negative"), f("disable", Ty::Int, ""), f("comment", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_ha_rules,
    },
    Tool {
        name: "create_ha_rule",
        title: "Create HA rule",
        description: "Creates an HA rule: node-affinity keeps resources on nodes (nodes, strict); resource-affinity keeps them together or apart (affinity).",
        privilege: "Sys.Console on /",
        effect: Effect::Operate,
        area: Area::Ha,
        params: &[&RULE, &RULE_TYPE, &RESOURCES, &NODES, &STRICT, &AFFINITY, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_ha_rule,
    },
    Tool {
        name: "delete_ha_rule",
        title: "Delete HA rule",
        description: "Deletes an HA rule (read first; the dry run shows it); its resources stay under HA.",
        privilege: "Sys.Console on /",
        effect: Effect::Destroy,
        area: Area::Ha,
        params: &[&RULE, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_ha_rule,
    },
    Tool {
        name: "update_ha_resource",
        title: "Update HA resource",
        description: "Changes an HA resource's requested state (stopped stops the guest), restart and relocate limits or comment.",
        privilege: "Sys.Console on /",
        effect: Effect::Operate,
        area: Area::Ha,
        params: &[&SID, &STATE, &MAX_RESTART, &MAX_RELOCATE, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: update_ha_resource,
    },
    Tool {
        name: "migrate_ha_resource",
        title: "Migrate HA resource",
        description: "Asks the HA manager to live-migrate a resource to a node; returns what moves along or blocks it.",
        privilege: "Sys.Console on /",
        effect: Effect::Operate,
        area: Area::Ha,
        params: &[&SID, &TARGET, &DRY_RUN],
        output: Output::object(MOVE),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: migrate_ha_resource,
    },
    Tool {
        name: "relocate_ha_resource",
        title: "Relocate HA resource",
        description: "Asks the HA manager to stop a resource and start it on a node; returns what moves along or blocks it.",
        privilege: "Sys.Console on /",
        effect: Effect::Operate,
        area: Area::Ha,
        params: &[&SID, &TARGET, &DRY_RUN],
        output: Output::object(MOVE),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: relocate_ha_resource,
    },
];

/// The VMID of an HA resource id `vm:N` or `ct:N`; an error naming `name` otherwise.
fn sid_vmid(name: &str, sid: &str) -> Result<u64, Error> {
    sid.split_once(':')
        .filter(|(kind, _)| matches!(*kind, "vm" | "ct"))
        .and_then(|(_, id)| id.parse::<u64>().ok())
        .filter(|id| (100..=999_999_999).contains(id))
        .ok_or_else(|| {
            Error::Args(format!(
                "'{name}' must name HA resources as vm:VMID or ct:VMID (e.g. vm:100), got '{sid}'"
            ))
        })
}

/// A rule id as PVE's `pve-configid` format wants it.
fn valid_rule_id(id: &str) -> bool {
    id.len() >= 2
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn rule_id(args: &Args) -> Result<&str, Error> {
    let rule = args.required_str("rule")?;
    if !valid_rule_id(rule) {
        return Err(Error::Args(format!(
            "'rule' must be a letter, then letters, digits, '-' and '_' (2 or more), got '{rule}'"
        )));
    }
    Ok(rule)
}

/// The strings of a `Kind::Strings` argument (validated already).
fn strings<'a>(args: &'a Args, name: &str) -> Vec<&'a str> {
    match args.0.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

const RULE_FIELDS: &[&str] = &[
    "rule",
    "type",
    "resources",
    "nodes",
    "strict",
    "affinity",
    "disable",
    "comment",
    "order",
];

fn list_ha_rules(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut params = Params::new();
    if let Some(t) = choice_arg(args, "type", &["node-affinity", "resource-affinity"])? {
        params.push(("type", t.to_string()));
    }
    if let Some(r) = args.str("resource") {
        sid_vmid("resource", r)?;
        params.push(("resource", r.to_string()));
    }
    let rules = ctx.pve.get("/cluster/ha/rules", &params)?;
    Ok(page(args, trimmed(rules, RULE_FIELDS), &by_text("rule")))
}

/// The VMIDs a rule's `resources` (`vm:100,ct:101`) names.
fn rule_vmids(rule: &Value) -> Vec<u64> {
    text(rule, "resources")
        .split(',')
        // PVE also takes a bare VMID for `vm:VMID`.
        .filter_map(|sid| sid.trim().rsplit(':').next())
        .filter_map(|id| id.parse().ok())
        .collect()
}

fn create_ha_rule(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let rule = rule_id(args)?;
    let kind = one_of(
        "type",
        args.required_str("type")?,
        &["node-affinity", "resource-affinity"],
    )?;
    let resources = strings(args, "resources");
    let mut vmids = Vec::new();
    for sid in &resources {
        let vmid = sid_vmid("resources", sid)?;
        if vmids.contains(&vmid) {
            return Err(Error::Args(format!("'resources' names guest {vmid} twice")));
        }
        vmids.push(vmid);
    }
    let nodes = strings(args, "nodes");
    let affinity = choice_arg(args, "affinity", &["positive", "negative"])?;
    let mut params: Params = vec![
        ("rule", rule.to_string()),
        ("type", kind.to_string()),
        ("resources", resources.join(",")),
    ];
    if kind == "node-affinity" {
        if affinity.is_some() {
            return Err(Error::Args(
                "'affinity' belongs to resource-affinity rules; a node-affinity rule takes nodes (and strict)".into(),
            ));
        }
        if nodes.is_empty() {
            return Err(Error::Args(
                "a node-affinity rule needs 'nodes', e.g. [\"pve1\", \"pve2:2\"]".into(),
            ));
        }
        for n in &nodes {
            let (name, priority) = match n.split_once(':') {
                Some((name, p)) => (name, Some(p)),
                None => (*n, None),
            };
            let priority_ok = priority.is_none_or(|p| p.parse::<u32>().is_ok());
            if !crate::pve::valid_node_name(name) || !priority_ok {
                return Err(Error::Args(format!(
                    "'nodes' items must be NODE or NODE:PRIORITY (a whole number), got '{n}'"
                )));
            }
        }
        params.push(("nodes", nodes.join(",")));
        if let Some(s) = args.flag("strict") {
            params.push(("strict", bool01(s)));
        }
    } else {
        if !nodes.is_empty() || args.flag("strict").is_some() {
            return Err(Error::Args(
                "'nodes' and 'strict' belong to node-affinity rules; a resource-affinity rule takes affinity".into(),
            ));
        }
        let Some(affinity) = affinity else {
            return Err(Error::Args(
                "a resource-affinity rule needs 'affinity': positive (keep together) or negative (keep apart)".into(),
            ));
        };
        if resources.len() < 2 {
            return Err(Error::Args(
                "a resource-affinity rule relates two or more resources; 'resources' names one"
                    .into(),
            ));
        }
        params.push(("affinity", affinity.to_string()));
    }
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    refuse_protected(ctx, &vmids, "the rule would place")?;
    Change::post("/cluster/ha/rules".into(), params).send(ctx, args, || {
        // What already governs these resources.
        let rules = ctx.pve.get("/cluster/ha/rules", &[])?;
        let touching: Vec<Value> = trimmed(rules, RULE_FIELDS)
            .into_iter()
            .filter(|r| rule_vmids(r).iter().any(|v| vmids.contains(v)))
            .collect();
        Ok(json!({"rules_with_these_resources": touching}))
    })
}

fn delete_ha_rule(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let rule = rule_id(args)?;
    let rule_path = path(&[&"cluster", &"ha", &"rules", &rule]);
    let current = ctx.pve.get(&rule_path, &[])?;
    refuse_protected(
        ctx,
        &rule_vmids(&current),
        "deleting the rule would release",
    )?;
    let target = trimmed(Value::Array(vec![current]), RULE_FIELDS)
        .pop()
        .unwrap_or(Value::Null);
    Change::delete(rule_path, Params::new()).send(ctx, args, || Ok(target))
}

/// The `sid` argument, checked, with its guest refused when protected.
fn checked_sid<'a>(ctx: &Ctx, args: &'a Args, what: &str) -> Result<&'a str, Error> {
    let sid = args.required_str("sid")?;
    let vmid = sid_vmid("sid", sid)?;
    refuse_protected(ctx, &[vmid], what)?;
    Ok(sid)
}

fn update_ha_resource(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let state = choice_arg(
        args,
        "state",
        &["started", "stopped", "disabled", "ignored"],
    )?;
    let mut params = Params::new();
    if let Some(s) = state {
        params.push(("state", s.to_string()));
    }
    for name in ["max_restart", "max_relocate"] {
        if let Some(n) = args.int(name) {
            params.push((name, n.to_string()));
        }
    }
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    if params.is_empty() {
        return Err(Error::Args(
            "nothing to change: give state, max_restart, max_relocate or comment".into(),
        ));
    }
    let sid = checked_sid(ctx, args, "update_ha_resource would change")?;
    let res_path = path(&[&"cluster", &"ha", &"resources", &sid]);
    let current = ctx.pve.get(&res_path, &[])?;
    // Refused by PVE when the resource changed since it was read.
    if let Some(digest) = current.get("digest").and_then(Value::as_str) {
        params.push(("digest", digest.to_string()));
    }
    let mut fields = HA_FIELDS.to_vec();
    fields.push("digest");
    let target = trimmed(Value::Array(vec![current]), &fields)
        .pop()
        .unwrap_or(Value::Null);
    Change::put(res_path, params).send(ctx, args, || Ok(target))
}

fn migrate_ha_resource(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    move_resource(ctx, args, "migrate")
}

fn relocate_ha_resource(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    move_resource(ctx, args, "relocate")
}

/// A migration or relocation request: PVE answers at once with an object, so the dry run goes
/// through `Change::send` and the request itself returns PVE's answer as `data`.
fn move_resource(ctx: &Ctx, args: &Args, how: &'static str) -> Result<Content, Error> {
    let sid = checked_sid(ctx, args, &format!("{how}_ha_resource would move"))?;
    let node = args.required_str("node")?;
    let move_path = path(&[&"cluster", &"ha", &"resources", &sid, &how]);
    let params: Params = vec![("node", node.to_string())];
    if args.flag("dry_run") == Some(true) {
        return Change::post(move_path, params).send(ctx, args, || {
            // Where the HA manager has the resource now.
            let status = ctx.pve.get("/cluster/ha/status/current", &[])?;
            let entry = status
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| text(e, "sid") == sid)
                .cloned();
            entry.ok_or_else(|| {
                Error::NotFound(format!(
                    "GET /cluster/ha/status/current: {sid} is not an HA resource; list_ha_resources shows them"
                ))
            })
        });
    }
    let reply = ctx.pve.call(Method::Post, &move_path, &params)?;
    data(reply.data)
}
