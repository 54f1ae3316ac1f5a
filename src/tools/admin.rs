//! Cluster administration: pools, HA, node networks, users, API tokens, ACLs,
//! the server's own permissions, node certificates and backup jobs.
//!
//! The writes here (HA resources) are synchronous in PVE: it answers `null`, so
//! `Change::send` returns `{"data": null}`; their dry runs show the current state they would change.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, bool01, path, Params};

use super::change::Change;
use super::guest::{guest_path, locate_guest, refuse_if_pve_protected, Guest};
use super::list::{by_text, data, number, page, sort, text, trimmed};
use super::params::{DRY_RUN, LIMIT, NODE, NODE_FILTER, NODE_OPT, OFFSET, VMID};
use super::table::{f, Ty};
use super::table::{granted, Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

// ---------------------------------------------------------------------------------------------
// Parameters.

pub(super) const POOLID: Param =
    Param::req("poolid", Kind::Text { max: 256 }, "the pool id, e.g. prod");
#[rustfmt::skip]
const POOL_MEMBER_TYPE: Param = Param::opt("type", Kind::Text { max: 8 }, "only members of type qemu, lxc or storage");
const HA_TYPE: Param = Param::opt("type", Kind::Text { max: 8 }, "only vm or ct resources");
#[rustfmt::skip]
const HA_STATE: Param = Param::opt("state", Kind::Text { max: 16 }, "started (default), stopped, disabled, ignored");
#[rustfmt::skip]
const MAX_RESTART: Param = Param::opt("max_restart", Kind::Int { min: 0, max: 100 }, "restarts on a node before relocating (1)");
#[rustfmt::skip]
const MAX_RELOCATE: Param = Param::opt("max_relocate", Kind::Int { min: 0, max: 100 }, "relocations to other nodes (default 1)");
const HA_COMMENT: Param = Param::opt("comment", Kind::Text { max: 4096 }, "a description");
#[rustfmt::skip]
const NET_TYPE: Param = Param::opt("type", Kind::Text { max: 20 }, "only this type, e.g. bridge, bond, eth, vlan");
#[rustfmt::skip]
const USERID: Param = Param::opt("userid", Kind::Text { max: 64 }, "only this user, e.g. admin@pve (default: all)");

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_pools",
        title: "List pools",
        description: "Lists resource pools sorted by id; get_pool shows a pool's members.",
        privilege: "a valid login (only pools with Pool.Audit on /pool/{poolid} are listed)",
        effect: Effect::Read,
        area: Area::Pools,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("poolid", Ty::Str, ""), f("comment", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_pools,
    },
    Tool {
        name: "get_pool",
        title: "Pool",
        description: "Returns one resource pool and its members (guests, storages), optionally of one type.",
        privilege: "Pool.Audit on /pool/{poolid}",
        effect: Effect::Read,
        area: Area::Pools,
        params: &[&POOLID, &POOL_MEMBER_TYPE],
        output: Output::object(&[f("poolid", Ty::Str, ""), f("comment", Ty::Str, ""), f("members", Ty::Arr, "guests (vmid, name, node, status) and storages")]),
        idempotent: true,
        marks: &[],
        run: get_pool,
    },
    Tool {
        name: "get_ha_status",
        title: "HA status",
        description: "Returns the HA manager's status entries: quorum, master, each node's LRM and each resource's service.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Ha,
        params: &[],
        output: Output::array(&[f("id", Ty::Str, ""), f("type", Ty::Str, "quorum, master, lrm or service"), f("node", Ty::Str, ""), f("status", Ty::Str, ""), f("state", Ty::Str, ""), f("sid", Ty::Str, ""), f("crm_state", Ty::Str, ""), f("request_state", Ty::Str, ""), f("timestamp", Ty::Int, "Unix time")]),
        idempotent: true,
        marks: &[],
        run: get_ha_status,
    },
    Tool {
        name: "list_ha_resources",
        title: "List HA resources",
        description: "Lists the guests managed by HA sorted by VMID.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Ha,
        params: &[&HA_TYPE, &LIMIT, &OFFSET],
        output: Output::list(&[f("sid", Ty::Str, "vm:VMID or ct:VMID"), f("type", Ty::Str, ""), f("state", Ty::Str, "requested state"), f("max_restart", Ty::Int, ""), f("max_relocate", Ty::Int, ""), f("comment", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_ha_resources,
    },
    Tool {
        name: "add_ha_resource",
        title: "Add HA resource",
        description: "Puts a VM or container under HA management (sid vm:VMID or ct:VMID) with a requested state; refuses a guest HA already manages.",
        privilege: "Sys.Console on /",
        effect: Effect::Operate,
        area: Area::Ha,
        params: &[
            &VMID,
            &NODE_OPT,
            &HA_STATE,
            &MAX_RESTART,
            &MAX_RELOCATE,
            &HA_COMMENT,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: add_ha_resource,
    },
    Tool {
        name: "remove_ha_resource",
        title: "Remove HA resource",
        description: "Takes a guest out of HA management (checked to be an HA resource first); the guest itself keeps running or stays stopped.",
        privilege: "Sys.Console on /",
        effect: Effect::Destroy,
        area: Area::Ha,
        params: &[&VMID, &NODE_OPT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)],
        run: remove_ha_resource,
    },
    Tool {
        name: "list_node_networks",
        title: "List node networks",
        description: "Lists a node's network interfaces sorted by name.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Network,
        params: &[&NODE, &NET_TYPE, &LIMIT, &OFFSET],
        output: Output::list(&[f("iface", Ty::Str, ""), f("type", Ty::Str, ""), f("active", Ty::Int, ""), f("autostart", Ty::Int, ""), f("method", Ty::Str, ""), f("cidr", Ty::Str, ""), f("gateway", Ty::Str, ""), f("bridge_ports", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_node_networks,
    },
    Tool {
        name: "list_users",
        title: "List users",
        description: "Lists PVE users by userid.",
        privilege: "a valid login (others need User.Modify or Sys.Audit on /access/groups)",
        effect: Effect::Read,
        area: Area::Access,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("userid", Ty::Str, ""), f("enable", Ty::Int, ""), f("expire", Ty::Int, "Unix time, 0 = never"), f("firstname", Ty::Str, ""), f("lastname", Ty::Str, ""), f("email", Ty::Str, ""), f("groups", Ty::Str, ""), f("comment", Ty::Str, ""), f("realm-type", Ty::Str, ""), f("totp-locked", Ty::Bool, "")]),
        idempotent: true,
        marks: &[],
        run: list_users,
    },
    Tool {
        name: "list_api_tokens",
        title: "List API tokens",
        description: "Lists API tokens (never secrets) of one or all users.",
        privilege: "a valid login (others' tokens need User.Modify on /access/groups)",
        effect: Effect::Read,
        area: Area::Access,
        params: &[&USERID, &LIMIT, &OFFSET],
        output: Output::list(&[f("userid", Ty::Str, ""), f("tokenid", Ty::Str, ""), f("expire", Ty::Int, "Unix time, 0 = never"), f("privsep", Ty::Int, "1: own privileges"), f("comment", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_api_tokens,
    },
    Tool {
        name: "list_acl",
        title: "List ACL",
        description: "Lists the access control list sorted by path.",
        privilege: "a valid login (only paths where the credentials may change permissions)",
        effect: Effect::Read,
        area: Area::Access,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("path", Ty::Str, ""), f("type", Ty::Str, "user, group or token"), f("ugid", Ty::Str, ""), f("roleid", Ty::Str, ""), f("propagate", Ty::Int, "")]),
        idempotent: true,
        marks: &[],
        run: list_acl,
    },
    Tool {
        name: "get_my_permissions",
        title: "My permissions",
        description: "Returns who this server is logged in as, its privileges per ACL path, and which of the tools offered at this access level they allow or lack.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Access,
        params: &[],
        output: Output::object(&[f("identity", Ty::Str, ""), f("access", Ty::Str, "access level"), f("usable_tools", Ty::Arr, ""), f("lacking_tools", Ty::Arr, ""), f("permissions", Ty::Obj, "ACL path: privilege: 1")]),
        idempotent: true,
        marks: &[],
        run: get_my_permissions,
    },
    Tool {
        name: "list_node_certificates",
        title: "List node certificates",
        description: "Lists the TLS certificates of one node or all online nodes.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Certificates,
        params: &[&NODE_FILTER, &LIMIT, &OFFSET],
        output: Output::list(&[f("node", Ty::Str, ""), f("filename", Ty::Str, ""), f("subject", Ty::Str, ""), f("issuer", Ty::Str, ""), f("san", Ty::Arr, ""), f("notbefore", Ty::Int, "Unix time"), f("notafter", Ty::Any, "Unix time"), f("expires", Ty::StrOrNull, "UTC"), f("fingerprint", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_node_certificates,
    },
    Tool {
        name: "list_backup_jobs",
        title: "List backup jobs",
        description: "Lists scheduled backup jobs sorted by id.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Backups,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("id", Ty::Str, ""), f("enabled", Ty::Int, ""), f("schedule", Ty::Str, ""), f("next-run", Ty::Int, "Unix time"), f("node", Ty::Str, ""), f("storage", Ty::Str, ""), f("vmid", Ty::Str, "comma list"), f("all", Ty::Int, ""), f("pool", Ty::Str, ""), f("exclude", Ty::Str, ""), f("mode", Ty::Str, ""), f("compress", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: list_backup_jobs,
    },
];

// ---------------------------------------------------------------------------------------------
// Shared checks.

/// `value` when it is one of `allowed`, else an argument error naming them.
pub(super) fn one_of<'a>(name: &str, value: &'a str, allowed: &[&str]) -> Result<&'a str, Error> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(Error::Args(format!(
            "'{name}' must be one of {}, got '{value}'",
            allowed.join(", ")
        )))
    }
}

/// The optional text argument `name`, checked against `allowed`.
pub(super) fn choice_arg<'a>(
    args: &'a Args,
    name: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, Error> {
    args.str(name).map(|v| one_of(name, v, allowed)).transpose()
}

/// Whether a guest with `vmid` is a VM or a container: from the cache of recently seen guests,
/// else one `GET /cluster/resources` (which `guest_path` then finds in the cache).
pub(super) fn guest_kind(ctx: &Ctx, vmid: i64) -> Result<Guest, Error> {
    let Some((_, kind)) = locate_guest(ctx, vmid as u64)? else {
        return Err(Error::NotFound(format!(
            "GET /cluster/resources: no guest with VMID {vmid} in the cluster (or the credentials lack VM.Audit on /vms/{vmid}); list_vms and list_containers show the guests"
        )));
    };
    match kind.as_str() {
        "qemu" => Ok(Guest::Vm),
        "lxc" => Ok(Guest::Container),
        other => Err(Error::NotFound(format!(
            "GET /cluster/resources: VMID {vmid} is of type '{other}', neither a VM nor a container"
        ))),
    }
}

/// HA's name for a guest: `vm:100` or `ct:200`.
fn ha_sid(kind: Guest, vmid: i64) -> String {
    match kind {
        Guest::Vm => format!("vm:{vmid}"),
        Guest::Container => format!("ct:{vmid}"),
    }
}

/// The VMID in an HA sid (`vm:100` → 100), for sorting and matching.
fn sid_vmid(sid: &str) -> Option<i64> {
    sid.split_once(':').and_then(|(_, id)| id.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// Pools.

fn list_pools(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let pools = ctx.pve.get("/pools", &[])?;
    Ok(page(
        args,
        trimmed(pools, &["poolid", "comment"]),
        &by_text("poolid"),
    ))
}

pub(super) fn valid_poolid(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('/')
        && !id.ends_with('/')
        && !id.contains("//")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
}

fn get_pool(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let poolid = args.required_str("poolid")?;
    if !valid_poolid(poolid) {
        return Err(Error::Args(format!(
            "'poolid' must be letters, digits, '-' and '_' (nested pools joined by '/'), got '{poolid}'"
        )));
    }
    let mut params: Params = vec![("poolid", poolid.to_string())];
    if let Some(t) = choice_arg(args, "type", &["qemu", "lxc", "storage"])? {
        params.push(("type", t.to_string()));
    }
    // `GET /pools/{poolid}` is deprecated (no nested pools): PVE points to this form.
    let reply = ctx.pve.get("/pools", &params)?;
    let Some(mut pool) = reply
        .as_array()
        .and_then(|a| a.iter().find(|p| text(p, "poolid") == poolid).cloned())
    else {
        return Err(Error::NotFound(format!(
            "GET /pools: no pool '{poolid}' (or the credentials lack Pool.Audit on /pool/{poolid}); list_pools shows the pools"
        )));
    };
    const MEMBER: &[&str] = &[
        "id", "type", "vmid", "name", "node", "status", "storage", "template",
    ];
    let mut members = trimmed(pool["members"].take(), MEMBER);
    sort(&mut members, &|a: &Value, b: &Value| {
        (text(a, "type") == "storage")
            .cmp(&(text(b, "type") == "storage"))
            .then_with(|| number(a, "vmid").total_cmp(&number(b, "vmid")))
            .then_with(|| text(a, "id").cmp(text(b, "id")))
    });
    let mut out = Map::new();
    out.insert("poolid".into(), json!(poolid));
    if let Some(c) = pool.get("comment") {
        out.insert("comment".into(), c.clone());
    }
    out.insert("members".into(), Value::Array(members));
    data(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// HA.

fn get_ha_status(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let status = ctx.pve.get("/cluster/ha/status/current", &[])?;
    let items: Vec<Value> = match status {
        Value::Array(a) => a.into_iter().filter(Value::is_object).collect(),
        _ => Vec::new(),
    };
    data(Value::Array(items))
}

pub(super) const HA_FIELDS: &[&str] = &[
    "sid",
    "type",
    "state",
    "max_restart",
    "max_relocate",
    "failback",
    "comment",
];

fn by_sid(a: &Value, b: &Value) -> Ordering {
    let key = |v: &Value| sid_vmid(text(v, "sid")).unwrap_or(i64::MAX);
    key(a)
        .cmp(&key(b))
        .then_with(|| text(a, "sid").cmp(text(b, "sid")))
}

fn list_ha_resources(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut params = Params::new();
    if let Some(t) = choice_arg(args, "type", &["vm", "ct"])? {
        params.push(("type", t.to_string()));
    }
    let list = ctx.pve.get("/cluster/ha/resources", &params)?;
    Ok(page(args, trimmed(list, HA_FIELDS), &by_sid))
}

fn add_ha_resource(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vmid = args.vmid();
    let state = choice_arg(
        args,
        "state",
        &["started", "stopped", "enabled", "disabled", "ignored"],
    )?;
    let kind = guest_kind(ctx, vmid)?;
    let base = guest_path(ctx, args, kind)?;
    let sid = ha_sid(kind, vmid);
    // The guest's status says whether HA manages it already (`ha.managed`).
    let status_path = format!("{base}/status/current");
    let status = ctx.pve.get(&status_path, &[])?;
    if status.pointer("/ha/managed").and_then(as_u64) == Some(1) {
        let current = status
            .pointer("/ha/state")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return Err(Error::Denied(format!(
            "GET {status_path}: {sid} is already an HA resource (state {current}); list_ha_resources shows it"
        )));
    }
    let mut params: Params = vec![("sid", sid)];
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
    Change::post("/cluster/ha/resources".into(), params).send(ctx, args, || Ok(status))
}

fn remove_ha_resource(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vmid = args.vmid();
    let list_path = "/cluster/ha/resources";
    let list = ctx.pve.get(list_path, &[])?;
    let entry = list.as_array().into_iter().flatten().find(|r| {
        let sid = text(r, "sid");
        (sid.starts_with("vm:") || sid.starts_with("ct:")) && sid_vmid(sid) == Some(vmid)
    });
    let Some(entry) = entry.cloned() else {
        return Err(Error::NotFound(format!(
            "GET {list_path}: guest {vmid} is not an HA resource; list_ha_resources shows them"
        )));
    };
    let sid = text(&entry, "sid").to_string();
    let kind = if sid.starts_with("ct:") {
        Guest::Container
    } else {
        Guest::Vm
    };
    let base = guest_path(ctx, args, kind)?;
    refuse_if_pve_protected(ctx, &base, vmid)?;
    let target = trimmed(Value::Array(vec![entry]), HA_FIELDS)
        .pop()
        .unwrap_or(Value::Null);
    // Only take the guest out of HA; PVE's default (purge=1) would also edit or delete HA rules.
    let params = vec![("purge", bool01(false))];
    Change::delete(path(&[&"cluster", &"ha", &"resources", &sid]), params)
        .send(ctx, args, || Ok(target))
}

// ---------------------------------------------------------------------------------------------
// Network, users, tokens, ACL.

const NET_TYPES: &[&str] = &[
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "fabric",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "vnet",
    "any_bridge",
    "any_local_bridge",
    "include_sdn",
];

fn list_node_networks(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let mut params = Params::new();
    if let Some(t) = choice_arg(args, "type", NET_TYPES)? {
        params.push(("type", t.to_string()));
    }
    const FIELDS: &[&str] = &[
        "iface",
        "type",
        "active",
        "autostart",
        "exists",
        "method",
        "method6",
        "cidr",
        "address",
        "netmask",
        "gateway",
        "cidr6",
        "address6",
        "netmask6",
        "gateway6",
        "bridge_ports",
        "bridge_vlan_aware",
        "bridge_vids",
        "slaves",
        "bond_mode",
        "bond-primary",
        "vlan-id",
        "vlan-raw-device",
        "mtu",
        "comments",
    ];
    let list = ctx
        .pve
        .get(&path(&[&"nodes", &node, &"network"]), &params)?;
    Ok(page(args, trimmed(list, FIELDS), &by_text("iface")))
}

fn list_users(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "userid",
        "enable",
        "expire",
        "firstname",
        "lastname",
        "email",
        "groups",
        "comment",
        "realm-type",
        "tfa-locked-until",
        "totp-locked",
    ];
    let users = ctx.pve.get("/access/users", &[])?;
    Ok(page(args, trimmed(users, FIELDS), &by_text("userid")))
}

/// `name@realm`, as PVE's `pve-userid` format wants it (no token part).
pub(super) fn valid_userid(id: &str) -> bool {
    let Some((name, realm)) = id.rsplit_once('@') else {
        return false;
    };
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c == '/')
        && realm.len() >= 2
        && realm.starts_with(|c: char| c.is_ascii_alphabetic())
        && realm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

const TOKEN_FIELDS: &[&str] = &["userid", "tokenid", "expire", "privsep", "comment"];

fn list_api_tokens(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let tokens: Vec<Value> = match args.str("userid") {
        Some(userid) => {
            if !valid_userid(userid) {
                return Err(Error::Args(format!(
                    "'userid' must be a user such as admin@pve or root@pam, got '{userid}'"
                )));
            }
            let list = ctx
                .pve
                .get(&path(&[&"access", &"users", &userid, &"token"]), &[])?;
            let mut list = trimmed(list, TOKEN_FIELDS);
            for t in list.iter_mut().filter_map(Value::as_object_mut) {
                t.insert("userid".into(), json!(userid));
            }
            list
        }
        None => {
            let users = ctx.pve.get("/access/users", &[("full", bool01(true))])?;
            let mut all = Vec::new();
            for user in users.as_array().into_iter().flatten() {
                let userid = text(user, "userid");
                for token in user
                    .get("tokens")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut t = token.clone();
                    if let Some(m) = t.as_object_mut() {
                        m.insert("userid".into(), json!(userid));
                    }
                    all.push(t);
                }
            }
            trimmed(Value::Array(all), TOKEN_FIELDS)
        }
    };
    Ok(page(args, tokens, &|a: &Value, b: &Value| {
        text(a, "userid")
            .cmp(text(b, "userid"))
            .then_with(|| text(a, "tokenid").cmp(text(b, "tokenid")))
    }))
}

fn list_acl(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let acl = ctx.pve.get("/access/acl", &[])?;
    let fields = &["path", "type", "ugid", "roleid", "propagate"];
    Ok(page(args, trimmed(acl, fields), &|a: &Value, b: &Value| {
        text(a, "path")
            .cmp(text(b, "path"))
            .then_with(|| text(a, "ugid").cmp(text(b, "ugid")))
            .then_with(|| text(a, "roleid").cmp(text(b, "roleid")))
    }))
}

// ---------------------------------------------------------------------------------------------
// The server's own permissions.

fn get_my_permissions(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let permissions = match ctx.pve.get("/access/permissions", &[])? {
        Value::Object(p) => p,
        _ => Map::new(),
    };
    let mut usable = Vec::new();
    let mut lacking = Vec::new();
    for tool in ctx.tools.iter().filter(|t| t.allowed(ctx.policy).is_ok()) {
        match tool.requirement() {
            Some((privs, acl)) if !granted(&permissions, &privs, acl) => lacking.push(json!({
                "tool": tool.name,
                "needs": format!("{} on {acl}", privs.join(" or ")),
            })),
            _ => usable.push(json!(tool.name)),
        }
    }
    let mut out = Map::new();
    out.insert("identity".into(), json!(ctx.pve.identity()));
    out.insert("access".into(), json!(ctx.policy.access.name()));
    out.insert("usable_tools".into(), Value::Array(usable));
    out.insert("lacking_tools".into(), Value::Array(lacking));
    out.insert("permissions".into(), Value::Object(permissions));
    data(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// Certificates and backup jobs.

fn list_node_certificates(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "filename",
        "subject",
        "issuer",
        "san",
        "notbefore",
        "notafter",
        "fingerprint",
        "public-key-type",
        "public-key-bits",
    ];
    let mut skipped = Vec::new();
    let nodes: Vec<String> = match args.str("node") {
        Some(node) => vec![node.to_string()],
        None => {
            let nodes = ctx.pve.get("/nodes", &[])?;
            let mut names = Vec::new();
            for n in nodes.as_array().into_iter().flatten() {
                let name = text(n, "node");
                if text(n, "status") == "online" {
                    names.push(name.to_string());
                } else if !name.is_empty() {
                    skipped.push(name.to_string());
                }
            }
            names.sort();
            names
        }
    };
    let mut certs = Vec::new();
    let mut unreadable = Vec::new();
    for node in &nodes {
        let info = match ctx
            .pve
            .get(&path(&[&"nodes", node, &"certificates", &"info"]), &[])
        {
            Ok(info) => info,
            // One node is asked for and failed: that is the answer.
            Err(e) if args.str("node").is_some() => return Err(e),
            // One of several: list the others and say which could not be read.
            Err(e) => {
                unreadable.push(json!({"node": node, "error": e.to_string()}));
                continue;
            }
        };
        let mut list = trimmed(info, FIELDS);
        for cert in list.iter_mut() {
            cert["node"] = json!(node);
            if let Some(t) = cert.get("notafter").filter(|t| !t.is_null()) {
                // A time from PVE: negative, not a number, or past year 9999 is unknown (null).
                let expires = as_u64(t)
                    .and_then(crate::time::unix_time)
                    .map(crate::time::rfc3339);
                cert["expires"] = json!(expires);
            }
        }
        certs.append(&mut list);
    }
    let mut out = page(args, certs, &|a: &Value, b: &Value| {
        text(a, "node")
            .cmp(text(b, "node"))
            .then_with(|| text(a, "filename").cmp(text(b, "filename")))
    });
    if !unreadable.is_empty() {
        out.insert("unreadable".into(), Value::Array(unreadable));
    }
    if !skipped.is_empty() {
        skipped.sort();
        let note = format!("not online, not listed: {}", skipped.join(", "));
        let hint = match out.get("hint").and_then(Value::as_str) {
            Some(h) => format!("{h}; {note}"),
            None => note,
        };
        out.insert("hint".into(), json!(hint));
    }
    Ok(out)
}

fn list_backup_jobs(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    const FIELDS: &[&str] = &[
        "id",
        "enabled",
        "schedule",
        "next-run",
        "node",
        "storage",
        "vmid",
        "all",
        "pool",
        "exclude",
        "mode",
        "compress",
        "prune-backups",
        "protected",
        "notes-template",
        "notification-mode",
        "mailto",
        "comment",
    ];
    let jobs = ctx.pve.get("/cluster/backup", &[])?;
    Ok(page(args, trimmed(jobs, FIELDS), &by_text("id")))
}
