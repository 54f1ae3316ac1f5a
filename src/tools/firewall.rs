//! The firewall: rules, IP sets, aliases, security groups and options of the cluster, a node or a
//! guest (`vmid`; the node is found when not given), where PVE has them at each level.
//!
//! Every write here is synchronous in PVE (it answers `null`), so `Change::send` returns
//! `{"data": null}`. Writes that pick an item by position or name send the digest of the list
//! they read, so PVE refuses them when someone changed the list in between.
//! `set_firewall_options` can cut every client off, this server included: before it writes, it
//! reads the rules and says what the new enable flag and default policies would drop (`lockout`).

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Params};

use super::admin::{guest_kind, one_of};
use super::change::Change;
use super::guest::{guest_path, refuse_if_pve_protected};
use super::list::{by_text, data, number, page, sort, text, trimmed};
use super::params::{DRY_RUN, LIMIT, OFFSET};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};
use super::validate::whole_number;

// ---------------------------------------------------------------------------------------------
// Parameters.

const FW_VMID: Param = Param::opt("vmid", Kind::Vmid, "a guest's (else node or cluster)");
const FW_NODE: Param = Param::opt("node", Kind::Node, "a node's, or the guest's node");
/// IP sets and aliases exist at cluster and guest level only.
const SET_VMID: Param = Param::opt("vmid", Kind::Vmid, "a guest's (else the cluster's)");
const SET_NODE: Param = Param::opt("node", Kind::Node, "the guest's node (default: found)");
const FW_TYPE: Param = Param::req("type", Kind::Text { max: 8 }, "in, out, forward or group");
#[rustfmt::skip]
const FW_ACTION: Param = Param::req("action", Kind::Text { max: 20 }, "ACCEPT, DROP, REJECT or a security group");
#[rustfmt::skip]
const ACTION_OPT: Param = Param::opt("action", Kind::Text { max: 20 }, "ACCEPT, DROP, REJECT or a group");
#[rustfmt::skip]
const FW_SOURCE: Param = Param::opt("source", Kind::Text { max: 512 }, "IP, CIDR, range, alias or +ipset");
const FW_DEST: Param = Param::opt("dest", Kind::Text { max: 512 }, "like source");
const FW_PROTO: Param = Param::opt("proto", Kind::Text { max: 32 }, "tcp, udp, icmp, etc.");
const FW_DPORT: Param = Param::opt("dport", Kind::Text { max: 256 }, "ports, e.g. 22,80:90");
const FW_MACRO: Param = Param::opt("macro", Kind::Text { max: 128 }, "a PVE macro, e.g. SSH");
const FW_COMMENT: Param = Param::opt("comment", Kind::Text { max: 4096 }, "a comment");
const FW_ENABLE: Param = Param::opt("enable", Kind::Bool, "active (default true)");
const RULE_ENABLE: Param = Param::opt("enable", Kind::Bool, "active or not");
#[rustfmt::skip]
const FW_POS: Param = Param::req("pos", Kind::Int { min: 0, max: 100_000 }, "the rule's position (list_firewall_rules)");
#[rustfmt::skip]
const FW_DIGEST: Param = Param::opt("digest", Kind::Text { max: 64 }, "refuse if changed since this digest");
#[rustfmt::skip]
const MOVETO: Param = Param::opt("moveto", Kind::Int { min: 0, max: 100_000 }, "new position (nothing else changes)");
#[rustfmt::skip]
const RULE_DELETE: Param = Param::opt("delete", Kind::Text { max: 128 }, "fields to clear, e.g. dport,comment");
#[rustfmt::skip]
const SET_NAME: Param = Param::req("name", Kind::Text { max: 64 }, "the IP set's name");
#[rustfmt::skip]
const SET_CIDR: Param = Param::req("cidr", Kind::Text { max: 64 }, "IP, CIDR or alias name");
const NOMATCH: Param = Param::opt("nomatch", Kind::Bool, "exclude this entry from the set");
const FORCE: Param = Param::opt("force", Kind::Bool, "also delete its entries");
const ALIAS_NAME: Param = Param::req("name", Kind::Text { max: 64 }, "the alias name");
const ALIAS_CIDR: Param = Param::req("cidr", Kind::Text { max: 64 }, "IP or CIDR");
const OPTIONS: Param = Param::opt("options", Kind::Object, "key: value, e.g. {\"enable\": 1}");
#[rustfmt::skip]
const OPT_DELETE: Param = Param::opt("delete", Kind::Strings { max_items: 30, max_len: 64 }, "keys to reset to PVE's default");

/// The rule tools also belong to the guests' toolsets (as they always did); the others only to
/// `firewall`, so that loading `vms` does not list a dozen firewall tools. Every write with a
/// `vmid` is refused for a protected guest either way (`run::guard`).
const LEVEL: &[Mark] = &[Mark::Also(Area::Vms), Mark::Also(Area::Containers)];

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_firewall_rules",
        title: "List firewall rules",
        description: "Lists the firewall rules (by pos) of the cluster, a node or a guest, with their digest.",
        privilege: "Sys.Audit on / (node: on /nodes/{node}; guest: VM.Audit on /vms/{vmid})",
        effect: Effect::Read,
        area: Area::Firewall,
        params: &[&FW_VMID, &FW_NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("pos", Ty::Int, ""), f("type", Ty::Str, "in, out or group"), f("action", Ty::Str, ""), f("macro", Ty::Str, ""), f("proto", Ty::Str, ""), f("source", Ty::Str, ""), f("dest", Ty::Str, ""), f("sport", Ty::Str, ""), f("dport", Ty::Str, ""), f("enable", Ty::Int, ""), f("comment", Ty::Str, "")]).with(&[f("digest", Ty::Str, "of the rules")]),
        idempotent: true,
        marks: LEVEL,
        run: list_firewall_rules,
    },
    Tool {
        name: "add_firewall_rule",
        title: "Add firewall rule",
        description: "Adds a rule at pos 0 of the cluster's, a node's or a guest's firewall rules.",
        privilege: "Sys.Modify on / (node: on /nodes/{node}; guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Operate,
        area: Area::Firewall,
        params: &[
            &FW_VMID,
            &FW_NODE,
            &FW_TYPE,
            &FW_ACTION,
            &FW_SOURCE,
            &FW_DEST,
            &FW_PROTO,
            &FW_DPORT,
            &FW_MACRO,
            &FW_ENABLE,
            &FW_COMMENT,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: LEVEL,
        run: add_firewall_rule,
    },
    Tool {
        name: "update_firewall_rule",
        title: "Update firewall rule",
        description: "Changes or moves (moveto) the rule at pos; refused if the rules changed since read.",
        privilege: "Sys.Modify on / (node: on /nodes/{node}; guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Operate,
        area: Area::Firewall,
        params: &[
            &FW_VMID,
            &FW_NODE,
            &FW_POS,
            &FW_DIGEST,
            &MOVETO,
            &ACTION_OPT,
            &FW_SOURCE,
            &FW_DEST,
            &FW_PROTO,
            &FW_DPORT,
            &RULE_ENABLE,
            &RULE_DELETE,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: LEVEL,
        run: update_firewall_rule,
    },
    Tool {
        name: "delete_firewall_rule",
        title: "Delete firewall rule",
        description: "Deletes the firewall rule at pos (cluster, node or guest; checked first; PVE refuses it if the rules changed).",
        privilege: "Sys.Modify on / (node: on /nodes/{node}; guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Destroy,
        area: Area::Firewall,
        params: &[&FW_VMID, &FW_NODE, &FW_POS, &FW_DIGEST, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: LEVEL,
        run: delete_firewall_rule,
    },
    Tool {
        name: "list_firewall_ipsets",
        title: "List firewall IP sets",
        description: "Lists the cluster's or a guest's IP sets by name, each with its entries.",
        privilege: "Sys.Audit on / (guest: VM.Audit on /vms/{vmid})",
        effect: Effect::Read,
        area: Area::Firewall,
        params: &[&SET_VMID, &SET_NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("comment", Ty::Str, ""), f("entries", Ty::Arr, "cidr, nomatch, comment")]).with(&[f("digest", Ty::Str, "of the firewall config")]),
        idempotent: true,
        marks: &[],
        run: list_firewall_ipsets,
    },
    Tool {
        name: "create_firewall_ipset",
        title: "Create firewall IP set",
        description: "Creates an empty IP set in the cluster's or a guest's firewall; refuses a name in use.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Operate,
        area: Area::Firewall,
        params: &[&SET_VMID, &SET_NODE, &SET_NAME, &FW_COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_firewall_ipset,
    },
    Tool {
        name: "add_ipset_entry",
        title: "Add IP set entry",
        description: "Adds an address, network or alias to an IP set of the cluster or a guest.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Operate,
        area: Area::Firewall,
        params: &[
            &SET_VMID,
            &SET_NODE,
            &SET_NAME,
            &SET_CIDR,
            &NOMATCH,
            &FW_COMMENT,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: add_ipset_entry,
    },
    Tool {
        name: "remove_ipset_entry",
        title: "Remove IP set entry",
        description: "Removes an entry (checked first) from an IP set of the cluster or a guest; the cluster's management set is what PVE lets reach its GUI and API.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Destroy,
        area: Area::Firewall,
        params: &[
            &SET_VMID,
            &SET_NODE,
            &SET_NAME,
            &SET_CIDR,
            &FW_DIGEST,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: remove_ipset_entry,
    },
    Tool {
        name: "delete_firewall_ipset",
        title: "Delete firewall IP set",
        description: "Deletes an IP set of the cluster or a guest; one with entries only with force.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Destroy,
        area: Area::Firewall,
        params: &[&SET_VMID, &SET_NODE, &SET_NAME, &FORCE, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_firewall_ipset,
    },
    Tool {
        name: "list_firewall_aliases",
        title: "List firewall aliases",
        description: "Lists the cluster's or a guest's firewall aliases (named addresses) by name.",
        privilege: "Sys.Audit on / (guest: VM.Audit on /vms/{vmid})",
        effect: Effect::Read,
        area: Area::Firewall,
        params: &[&SET_VMID, &SET_NODE, &LIMIT, &OFFSET],
        output: Output::list(&[f("name", Ty::Str, ""), f("cidr", Ty::Str, ""), f("comment", Ty::Str, "")]).with(&[f("digest", Ty::Str, "of the firewall config")]),
        idempotent: true,
        marks: &[],
        run: list_firewall_aliases,
    },
    Tool {
        name: "create_firewall_alias",
        title: "Create firewall alias",
        description: "Names an address or network for firewall rules of the cluster or a guest; refuses a name in use.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Operate,
        area: Area::Firewall,
        params: &[
            &SET_VMID,
            &SET_NODE,
            &ALIAS_NAME,
            &ALIAS_CIDR,
            &FW_COMMENT,
            &DRY_RUN,
        ],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_firewall_alias,
    },
    Tool {
        name: "delete_firewall_alias",
        title: "Delete firewall alias",
        description: "Deletes a firewall alias (checked first) of the cluster or a guest; PVE refuses one a rule uses.",
        privilege: "Sys.Modify on / (guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Destroy,
        area: Area::Firewall,
        params: &[&SET_VMID, &SET_NODE, &ALIAS_NAME, &FW_DIGEST, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: delete_firewall_alias,
    },
    Tool {
        name: "list_security_groups",
        title: "List security groups",
        description: "Lists the cluster's security groups (rule sets that rules of type group use) by name, each with its rules.",
        privilege: "Sys.Audit on /",
        effect: Effect::Read,
        area: Area::Firewall,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("group", Ty::Str, ""), f("comment", Ty::Str, ""), f("rules", Ty::Arr, "as list_firewall_rules")]),
        idempotent: true,
        marks: &[],
        run: list_security_groups,
    },
    Tool {
        name: "get_firewall_options",
        title: "Firewall options",
        description: "Returns the firewall options of the cluster, a node or a guest: enable, default policies, logging, filters.",
        privilege: "Sys.Audit on / (node: on /nodes/{node}; guest: VM.Audit on /vms/{vmid})",
        effect: Effect::Read,
        area: Area::Firewall,
        params: &[&FW_VMID, &FW_NODE],
        output: Output::object(&[f("enable", Ty::Int, "1: on (unset: PVE's default)"), f("policy_in", Ty::Str, ""), f("policy_out", Ty::Str, ""), f("digest", Ty::Str, "")]),
        idempotent: true,
        marks: &[],
        run: get_firewall_options,
    },
    Tool {
        name: "set_firewall_options",
        title: "Set firewall options",
        description: "Sets or resets firewall options of the cluster, a node or a guest. Turning the firewall on or a default policy to DROP can cut every client off, this server too: see lockout (dry_run first).",
        privilege: "Sys.Modify on / (node: on /nodes/{node}; guest: VM.Config.Network on /vms/{vmid})",
        effect: Effect::Destroy,
        area: Area::Firewall,
        params: &[
            &FW_VMID,
            &FW_NODE,
            &OPTIONS,
            &OPT_DELETE,
            &FW_DIGEST,
            &DRY_RUN,
        ],
        output: Output::done().with(&[f("lockout", Ty::Obj, "risk: none, low, possible or high; findings")]),
        idempotent: true,
        marks: &[],
        run: set_firewall_options,
    },
];

// ---------------------------------------------------------------------------------------------
// Levels.

/// Where a call's firewall lives.
struct Level {
    /// `/cluster/firewall`, `/nodes/{node}/firewall` or `/nodes/{node}/{qemu|lxc}/{vmid}/firewall`.
    base: String,
    /// `/nodes/{node}/{qemu|lxc}/{vmid}` for a guest's firewall.
    guest: Option<String>,
    /// The node, for a node's firewall.
    node: Option<String>,
}

impl Level {
    fn at(&self, rest: &[&dyn std::fmt::Display]) -> String {
        format!("{}{}", self.base, path(rest))
    }
}

/// The guest's firewall (`vmid`, node found when not given), a node's, or the cluster's.
fn level(ctx: &Ctx, args: &Args) -> Result<Level, Error> {
    if args.int("vmid").is_some() {
        let kind = guest_kind(ctx, args.vmid())?;
        let base = guest_path(ctx, args, kind)?;
        return Ok(Level {
            base: format!("{base}/firewall"),
            guest: Some(base),
            node: None,
        });
    }
    Ok(match args.str("node") {
        Some(node) => Level {
            base: path(&[&"nodes", &node, &"firewall"]),
            guest: None,
            node: Some(node.to_string()),
        },
        None => Level {
            base: "/cluster/firewall".into(),
            guest: None,
            node: None,
        },
    })
}

/// IP sets and aliases: the cluster's or a guest's (a node has none). Checked before anything
/// is sent.
fn set_level_args(args: &Args, what: &str) -> Result<(), Error> {
    if args.int("vmid").is_none() && args.str("node").is_some() {
        return Err(Error::Args(format!(
            "PVE keeps {what} for the cluster and for guests, not for nodes: pass vmid (node is the guest's node) or neither (the cluster's)"
        )));
    }
    Ok(())
}

/// `[A-Za-z][A-Za-z0-9_-]+`, 2 to `max` characters: PVE's pattern for IP set, alias and group
/// names.
fn valid_name(name: &str, max: usize) -> bool {
    (2..=max).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_name(arg: &str, name: &str) -> Result<(), Error> {
    if valid_name(name, 64) {
        return Ok(());
    }
    Err(Error::Args(format!(
        "'{arg}' must be 2 to 64 characters: a letter, then letters, digits, '-' or '_', got '{name}'"
    )))
}

/// An IP address, or a network in CIDR notation (`10.0.0.0/24`, `fd00::/8`).
fn valid_cidr(s: &str) -> bool {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => true,
        Some(p) => p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u8>().is_ok_and(|n| n <= max),
    }
}

/// A reference to an alias or (after `+`) an IP set, optionally scoped (`dc/`, `guest/`).
fn valid_ref(s: &str) -> bool {
    let name = ["dc/", "guest/", "sdn/"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    valid_name(name, 64)
}

/// PVE's `pve-fw-addr-spec`: `+ipset`, an alias, or a comma list of IPs, CIDRs and ranges.
fn valid_addr_spec(s: &str) -> bool {
    if let Some(set) = s.strip_prefix('+') {
        return valid_ref(set);
    }
    if valid_ref(s) {
        return true;
    }
    s.split(',').all(|item| {
        valid_cidr(item)
            || item.split_once('-').is_some_and(|(a, b)| {
                match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
                    (Ok(a), Ok(b)) => a.is_ipv4() == b.is_ipv4(),
                    _ => false,
                }
            })
    })
}

/// PVE's port list: numbers (0-65535), ranges `a:b` and service names, comma separated.
fn valid_ports(s: &str) -> bool {
    let port = |p: &str| {
        p.parse::<u16>().is_ok()
            || (p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+')))
    };
    !s.is_empty()
        && s.split(',').all(|item| match item.split_once(':') {
            Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => a <= b,
                _ => false,
            },
            None => port(item),
        })
}

/// An action is ACCEPT, DROP, REJECT or a security group's name (PVE's pattern).
fn valid_action(a: &str) -> bool {
    valid_name(a, 20)
}

/// The rule fields a call gives, checked (`type`, `action`, addresses, ports), in PVE's names.
fn rule_params(args: &Args) -> Result<Params, Error> {
    let mut params = Params::new();
    if let Some(kind) = args.str("type") {
        let kind = one_of("type", kind, &["in", "out", "forward", "group"])?;
        params.push(("type", kind.to_string()));
    }
    if let Some(action) = args.str("action") {
        if !valid_action(action) {
            return Err(Error::Args(format!(
                "'action' must be ACCEPT, DROP, REJECT or a security group name (a letter, then letters, digits, '-', '_'), got '{action}'"
            )));
        }
        params.push(("action", action.to_string()));
    }
    for name in ["source", "dest"] {
        if let Some(v) = args.str(name) {
            if !valid_addr_spec(v) {
                return Err(Error::Args(format!(
                    "'{name}' must be an IP, a CIDR (10.0.0.0/24), a range (10.0.0.1-10.0.0.9), a comma list of these, an alias or +ipset, got '{v}'"
                )));
            }
            params.push((name, v.to_string()));
        }
    }
    if let Some(v) = args.str("proto") {
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Error::Args(format!(
                "'proto' must be a protocol name (tcp, udp, icmp, …) or number, got '{v}'"
            )));
        }
        params.push(("proto", v.to_string()));
    }
    if let Some(v) = args.str("dport") {
        if !valid_ports(v) {
            return Err(Error::Args(format!(
                "'dport' must be ports, ranges (a:b) or service names, comma separated, got '{v}'"
            )));
        }
        params.push(("dport", v.to_string()));
    }
    for name in ["macro", "comment"] {
        if let Some(v) = args.str(name) {
            params.push((name, v.to_string()));
        }
    }
    Ok(params)
}

// ---------------------------------------------------------------------------------------------
// Rules.

const RULE_FIELDS: &[&str] = &[
    "pos",
    "type",
    "action",
    "macro",
    "proto",
    "source",
    "dest",
    "sport",
    "dport",
    "iface",
    "icmp-type",
    "enable",
    "log",
    "comment",
];

/// The digest PVE gives each item of a firewall list (the config file's; the same for all).
fn digest_of(list: &Value) -> Option<String> {
    list.as_array()
        .and_then(|a| a.first())
        .and_then(|r| r.get("digest"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The rules (trimmed, in order) and their digest.
fn read_rules(ctx: &Ctx, rules_path: &str) -> Result<(Vec<Value>, Option<String>), Error> {
    let list = ctx.pve.get(rules_path, &[])?;
    let digest = digest_of(&list);
    let mut rules = trimmed(list, RULE_FIELDS);
    sort(&mut rules, &|a: &Value, b: &Value| {
        number(a, "pos").total_cmp(&number(b, "pos"))
    });
    Ok((rules, digest))
}

/// The digest a write by position or name sends: the one just read, after checking that the
/// caller's (if any) is still current. `what` names the list, `item` the thing the write acts on,
/// `verb` what the write would have done, `again` how to read the list again.
fn current_digest(
    read_path: &str,
    digest: Option<String>,
    args: &Args,
    what: &str,
    item: &str,
    verb: &str,
    again: &str,
) -> Result<String, Error> {
    let Some(current) = digest else {
        return Err(Error::Denied(format!(
            "GET {read_path}: PVE returned no digest with the {what}, so this server cannot make sure {item} is still the one it read; nothing was {verb}"
        )));
    };
    if let Some(wanted) = args.str("digest").filter(|w| *w != current) {
        return Err(Error::Denied(format!(
            "GET {read_path}: the {what} changed since digest {wanted} was read (now {current}); {again}"
        )));
    }
    Ok(current)
}

fn list_firewall_rules(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let rules_path = level(ctx, args)?.at(&[&"rules"]);
    let (list, digest) = read_rules(ctx, &rules_path)?;
    let mut out = page(args, list, &|a: &Value, b: &Value| {
        number(a, "pos").total_cmp(&number(b, "pos"))
    });
    if let Some(d) = digest {
        out.insert("digest".into(), json!(d));
    }
    Ok(out)
}

fn add_firewall_rule(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut params = rule_params(args)?;
    let rules_path = level(ctx, args)?.at(&[&"rules"]);
    // PVE adds a rule disabled when `enable` is not given, and always as the first rule.
    params.push(("enable", bool01(args.flag("enable").unwrap_or(true))));
    Change::post(rules_path.clone(), params).send(ctx, args, || {
        let (list, digest) = read_rules(ctx, &rules_path)?;
        Ok(json!({"rules": list, "digest": digest}))
    })
}

/// The rule at `pos` of `rules_path` and the digest to send with a change to it.
fn rule_at(ctx: &Ctx, args: &Args, rules_path: &str, verb: &str) -> Result<(Value, String), Error> {
    let pos = args.int("pos").unwrap_or_default();
    let (list, digest) = read_rules(ctx, rules_path)?;
    let count = list.len();
    let Some(rule) = list
        .into_iter()
        .find(|r| r.get("pos").and_then(Value::as_i64) == Some(pos))
    else {
        return Err(Error::NotFound(format!(
            "GET {rules_path}: no firewall rule at position {pos} ({count} rules); list_firewall_rules shows them"
        )));
    };
    // PVE acts by position: the digest of the list just read makes it refuse when the rules
    // changed in between (another rule would be at `pos`).
    let item = format!("the rule at position {pos}");
    let again = format!("list_firewall_rules again and check position {pos}");
    let digest = current_digest(rules_path, digest, args, "rules", &item, verb, &again)?;
    Ok((rule, digest))
}

/// Rule fields `delete` may clear.
const CLEARABLE: &[&str] = &[
    "source",
    "dest",
    "proto",
    "dport",
    "sport",
    "macro",
    "comment",
    "iface",
    "log",
    "icmp-type",
];

fn update_firewall_rule(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let mut params = rule_params(args)?;
    if let Some(enable) = args.flag("enable") {
        params.push(("enable", bool01(enable)));
    }
    let delete: Vec<&str> = args
        .str("delete")
        .map(|d| d.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if let Some(bad) = delete.iter().find(|k| !CLEARABLE.contains(k)) {
        return Err(Error::Args(format!(
            "'delete' may name {}, got '{bad}'",
            CLEARABLE.join(", ")
        )));
    }
    if let Some(both) = delete.iter().find(|k| params.iter().any(|(p, _)| p == *k)) {
        return Err(Error::Args(format!(
            "'{both}' is both set and in 'delete'; do one"
        )));
    }
    if !delete.is_empty() {
        params.push(("delete", delete.join(",")));
    }
    let moveto = args.int("moveto");
    match (moveto, params.is_empty()) {
        (Some(_), false) => {
            return Err(Error::Args(
                "'moveto' moves the rule and PVE ignores any other change sent with it: move it in one call, change it in another".into(),
            ))
        }
        (None, true) => {
            return Err(Error::Args(
                "nothing to change: give moveto, or rule fields to set (type, action, source, …) or clear (delete)".into(),
            ))
        }
        _ => {}
    }
    if let Some(to) = moveto {
        params.push(("moveto", to.to_string()));
    }
    let rules_path = level(ctx, args)?.at(&[&"rules"]);
    let (rule, digest) = rule_at(ctx, args, &rules_path, "changed")?;
    params.push(("digest", digest.clone()));
    let pos = args.int("pos").unwrap_or_default();
    Change::put(format!("{rules_path}/{pos}"), params)
        .send(ctx, args, || Ok(json!({"rule": rule, "digest": digest})))
}

fn delete_firewall_rule(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let pos = args.int("pos").unwrap_or_default();
    let level = level(ctx, args)?;
    if let Some(base) = &level.guest {
        refuse_if_pve_protected(ctx, base, args.vmid())?;
    }
    let rules_path = level.at(&[&"rules"]);
    let (rule, digest) = rule_at(ctx, args, &rules_path, "deleted")?;
    let params: Params = vec![("digest", digest)];
    Change::delete(format!("{rules_path}/{pos}"), params).send(ctx, args, || Ok(rule))
}

/// A `Kind::Strings` argument (validated), or none.
fn strings<'a>(args: &'a Args, name: &str) -> Vec<&'a str> {
    args.0
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// IP sets.

const ENTRY_FIELDS: &[&str] = &["cidr", "nomatch", "comment"];

fn list_firewall_ipsets(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "IP sets")?;
    let level = level(ctx, args)?;
    let sets = ctx.pve.get(&level.at(&[&"ipset"]), &[])?;
    let digest = digest_of(&sets);
    let mut out = page(args, trimmed(sets, &["name", "comment"]), &by_text("name"));
    // Entries only for the sets on this page: one request per set.
    if let Some(Value::Array(shown)) = out.get_mut("data") {
        for set in shown.iter_mut() {
            let name = text(set, "name").to_string();
            let entries = ctx.pve.get(&level.at(&[&"ipset", &name]), &[])?;
            let mut entries = trimmed(entries, ENTRY_FIELDS);
            sort(&mut entries, &by_text("cidr"));
            set["entries"] = Value::Array(entries);
        }
    }
    if let Some(d) = digest {
        out.insert("digest".into(), json!(d));
    }
    Ok(out)
}

/// The IP set's entries (trimmed) and their digest; PVE's error when there is no such set.
fn read_entries(ctx: &Ctx, set_path: &str) -> Result<(Vec<Value>, Option<String>), Error> {
    let entries = ctx.pve.get(set_path, &[])?;
    let digest = digest_of(&entries);
    Ok((trimmed(entries, ENTRY_FIELDS), digest))
}

fn create_firewall_ipset(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "IP sets")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let level = level(ctx, args)?;
    let list_path = level.at(&[&"ipset"]);
    let sets = trimmed(ctx.pve.get(&list_path, &[])?, &["name", "comment"]);
    if sets.iter().any(|s| text(s, "name") == name) {
        return Err(Error::Denied(format!(
            "GET {list_path}: an IP set '{name}' exists already; add_ipset_entry adds to it"
        )));
    }
    let mut params: Params = vec![("name", name.to_string())];
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    Change::post(list_path, params).send(ctx, args, || Ok(json!({"ipsets": sets})))
}

/// `cidr` as an IP set entry takes it: an IP, a CIDR or an alias name.
fn check_entry(cidr: &str) -> Result<(), Error> {
    if valid_cidr(cidr) || valid_ref(cidr) {
        return Ok(());
    }
    Err(Error::Args(format!(
        "'cidr' must be an IP (10.0.0.5), a network in CIDR notation (10.0.0.0/24, fd00::/8) or an alias name, got '{cidr}'"
    )))
}

fn add_ipset_entry(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "IP sets")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let cidr = args.required_str("cidr")?;
    check_entry(cidr)?;
    let level = level(ctx, args)?;
    let set_path = level.at(&[&"ipset", &name]);
    if level.guest.is_none()
        && name.eq_ignore_ascii_case("management")
        && args.flag("nomatch") != Some(true)
    {
        let at = format!("POST {set_path}");
        refuse_wide_management_source(&at, "the cluster's management IP set", cidr)?;
    }
    let mut params: Params = vec![("cidr", cidr.to_string())];
    if let Some(nomatch) = args.flag("nomatch") {
        params.push(("nomatch", bool01(nomatch)));
    }
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    Change::post(set_path.clone(), params).send(ctx, args, || {
        let (entries, digest) = read_entries(ctx, &set_path)?;
        Ok(json!({"entries": entries, "digest": digest}))
    })
}

/// Refuses a source of management access (the cluster's `management` IP set, its
/// `local_network` alias) that is an alias or IP set reference (which can later cover anything)
/// or a network wider than /8 (IPv4) or /16 (IPv6): PVE would let the whole internet, or most of
/// it, reach every node's GUI, API and SSH. Such a change is for the operator, in PVE itself.
fn refuse_wide_management_source(at: &str, what: &str, cidr: &str) -> Result<(), Error> {
    let refuse = |why: String| {
        Error::Denied(format!(
            "{at}: refused, nothing was sent: {what} decides who may reach every node's GUI, API (TCP 8006) and SSH; {why}"
        ))
    };
    if !valid_cidr(cidr) {
        return Err(refuse(format!(
            "name the addresses themselves, not '{cidr}' (an alias or IP set can be changed to cover any address)"
        )));
    }
    let (ip, prefix) = cidr.split_once('/').unwrap_or((cidr, ""));
    let v4 = ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_ipv4());
    let narrowest = if v4 { 8 } else { 16 };
    if prefix.parse::<u8>().is_ok_and(|p| p < narrowest) {
        return Err(refuse(format!(
            "'{cidr}' is wider than /{narrowest} and would open them to most of the internet; add narrower networks, or change this in PVE itself"
        )));
    }
    Ok(())
}

/// The cluster's `management` IP set is what PVE lets reach the GUI, API and SSH once the
/// firewall is on: changing it can cut clients off.
fn management_note(level: &Level, name: &str) -> Option<&'static str> {
    (level.guest.is_none() && name == "management").then_some(
        "the cluster's management IP set: PVE accepts the GUI/API (TCP 8006) and SSH from its entries when the firewall is on; removing the address this server connects from cuts it off",
    )
}

fn remove_ipset_entry(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "IP sets")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let cidr = args.required_str("cidr")?;
    check_entry(cidr)?;
    let level = level(ctx, args)?;
    if let Some(base) = &level.guest {
        refuse_if_pve_protected(ctx, base, args.vmid())?;
    }
    let set_path = level.at(&[&"ipset", &name]);
    let (entries, digest) = read_entries(ctx, &set_path)?;
    let Some(entry) = entries.into_iter().find(|e| text(e, "cidr") == cidr) else {
        return Err(Error::NotFound(format!(
            "GET {set_path}: IP set '{name}' has no entry '{cidr}'; list_firewall_ipsets shows its entries"
        )));
    };
    let item = format!("entry '{cidr}'");
    let again = "list_firewall_ipsets again and check the entry";
    let digest = current_digest(&set_path, digest, args, "IP set", &item, "removed", again)?;
    let mut target = json!({"entry": entry});
    if let Some(note) = management_note(&level, name) {
        target["warning"] = json!(note);
    }
    let params: Params = vec![("digest", digest)];
    Change::delete(level.at(&[&"ipset", &name, &cidr]), params).send(ctx, args, || Ok(target))
}

fn delete_firewall_ipset(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "IP sets")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let level = level(ctx, args)?;
    if let Some(base) = &level.guest {
        refuse_if_pve_protected(ctx, base, args.vmid())?;
    }
    let set_path = level.at(&[&"ipset", &name]);
    let (entries, _) = read_entries(ctx, &set_path)?;
    let force = args.flag("force").unwrap_or(false);
    if !entries.is_empty() && !force {
        return Err(Error::Denied(format!(
            "GET {set_path}: IP set '{name}' has {} entries; pass force: true to delete them with it; nothing was deleted",
            entries.len()
        )));
    }
    let mut target = json!({"name": name, "entries": entries});
    if let Some(note) = management_note(&level, name) {
        target["warning"] = json!(note);
    }
    let params: Params = if force {
        vec![("force", bool01(true))]
    } else {
        Vec::new()
    };
    Change::delete(set_path, params).send(ctx, args, || Ok(target))
}

// ---------------------------------------------------------------------------------------------
// Aliases and security groups.

const ALIAS_FIELDS: &[&str] = &["name", "cidr", "comment"];

fn list_firewall_aliases(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "aliases")?;
    let aliases = ctx.pve.get(&level(ctx, args)?.at(&[&"aliases"]), &[])?;
    let digest = digest_of(&aliases);
    let mut out = page(args, trimmed(aliases, ALIAS_FIELDS), &by_text("name"));
    if let Some(d) = digest {
        out.insert("digest".into(), json!(d));
    }
    Ok(out)
}

fn create_firewall_alias(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "aliases")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let cidr = args.required_str("cidr")?;
    if !valid_cidr(cidr) {
        return Err(Error::Args(format!(
            "'cidr' must be an IP (10.0.0.5) or a network in CIDR notation (10.0.0.0/24, fd00::/8), got '{cidr}'"
        )));
    }
    let level = level(ctx, args)?;
    let list_path = level.at(&[&"aliases"]);
    if level.guest.is_none() && name.eq_ignore_ascii_case("local_network") {
        // Defined, it replaces the network PVE detects, from which its default rules accept
        // the GUI, API and SSH.
        let at = format!("POST {list_path}");
        refuse_wide_management_source(&at, "the cluster's local_network alias", cidr)?;
    }
    let aliases = trimmed(ctx.pve.get(&list_path, &[])?, ALIAS_FIELDS);
    if let Some(a) = aliases.iter().find(|a| text(a, "name") == name) {
        return Err(Error::Denied(format!(
            "GET {list_path}: an alias '{name}' exists already (for {})",
            text(a, "cidr")
        )));
    }
    let mut params: Params = vec![("name", name.to_string()), ("cidr", cidr.to_string())];
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    Change::post(list_path, params).send(ctx, args, || Ok(json!({"aliases": aliases})))
}

fn delete_firewall_alias(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    set_level_args(args, "aliases")?;
    let name = args.required_str("name")?;
    check_name("name", name)?;
    let level = level(ctx, args)?;
    if let Some(base) = &level.guest {
        refuse_if_pve_protected(ctx, base, args.vmid())?;
    }
    let list_path = level.at(&[&"aliases"]);
    let list = ctx.pve.get(&list_path, &[])?;
    let digest = digest_of(&list);
    let Some(alias) = trimmed(list, ALIAS_FIELDS)
        .into_iter()
        .find(|a| text(a, "name") == name)
    else {
        return Err(Error::NotFound(format!(
            "GET {list_path}: no alias '{name}'; list_firewall_aliases shows them"
        )));
    };
    let item = format!("alias '{name}'");
    let again = "list_firewall_aliases again and check the alias";
    let digest = current_digest(&list_path, digest, args, "aliases", &item, "deleted", again)?;
    let params: Params = vec![("digest", digest)];
    Change::delete(level.at(&[&"aliases", &name]), params).send(ctx, args, || Ok(alias))
}

fn list_security_groups(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let groups = ctx.pve.get("/cluster/firewall/groups", &[])?;
    let mut out = page(
        args,
        trimmed(groups, &["group", "comment"]),
        &by_text("group"),
    );
    if let Some(Value::Array(shown)) = out.get_mut("data") {
        for group in shown.iter_mut() {
            let name = text(group, "group").to_string();
            let (rules, _) = read_rules(ctx, &path(&[&"cluster", &"firewall", &"groups", &name]))?;
            group["rules"] = Value::Array(rules);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Options.

fn get_firewall_options(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    data(ctx.pve.get(&level(ctx, args)?.at(&[&"options"]), &[])?)
}

/// What an option's value must be.
#[derive(Clone, Copy)]
enum Opt {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    OneOf(&'static [&'static str]),
    /// A comma list of these.
    ListOf(&'static [&'static str]),
    /// A property string PVE checks (`log_ratelimit`: `enable=1,rate=1/second,burst=5`).
    Text,
}

const POLICY: &[&str] = &["ACCEPT", "REJECT", "DROP"];
#[rustfmt::skip]
const LOG: &[&str] = &["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"];
const BIG: i64 = i64::MAX;

/// The options PVE 9.1 has at each level, and what their values must be.
const CLUSTER_OPTIONS: &[(&str, Opt)] = &[
    ("enable", Opt::Bool),
    ("ebtables", Opt::Bool),
    ("log_ratelimit", Opt::Text),
    ("policy_forward", Opt::OneOf(&["ACCEPT", "DROP"])),
    ("policy_in", Opt::OneOf(POLICY)),
    ("policy_out", Opt::OneOf(POLICY)),
];
#[rustfmt::skip]
const NODE_OPTIONS: &[(&str, Opt)] = &[
    ("enable", Opt::Bool),
    ("log_level_forward", Opt::OneOf(LOG)),
    ("log_level_in", Opt::OneOf(LOG)),
    ("log_level_out", Opt::OneOf(LOG)),
    ("log_nf_conntrack", Opt::Bool),
    ("ndp", Opt::Bool),
    ("nf_conntrack_allow_invalid", Opt::Bool),
    ("nf_conntrack_helpers", Opt::ListOf(&["amanda", "ftp", "irc", "netbios-ns", "pptp", "sane", "sip", "snmp", "tftp"])),
    ("nf_conntrack_max", Opt::Int { min: 32768, max: BIG }),
    ("nf_conntrack_tcp_timeout_established", Opt::Int { min: 7875, max: BIG }),
    ("nf_conntrack_tcp_timeout_syn_recv", Opt::Int { min: 30, max: 60 }),
    ("nftables", Opt::Bool),
    ("nosmurfs", Opt::Bool),
    ("protection_synflood", Opt::Bool),
    ("protection_synflood_burst", Opt::Int { min: 0, max: BIG }),
    ("protection_synflood_rate", Opt::Int { min: 0, max: BIG }),
    ("smurf_log_level", Opt::OneOf(LOG)),
    ("tcp_flags_log_level", Opt::OneOf(LOG)),
    ("tcpflags", Opt::Bool),
];
const GUEST_OPTIONS: &[(&str, Opt)] = &[
    ("dhcp", Opt::Bool),
    ("enable", Opt::Bool),
    ("ipfilter", Opt::Bool),
    ("log_level_in", Opt::OneOf(LOG)),
    ("log_level_out", Opt::OneOf(LOG)),
    ("macfilter", Opt::Bool),
    ("ndp", Opt::Bool),
    ("policy_in", Opt::OneOf(POLICY)),
    ("policy_out", Opt::OneOf(POLICY)),
    ("radv", Opt::Bool),
];

/// An option's value in PVE's wire form, or why not.
fn option_value(opt: Opt, value: &Value) -> Result<String, String> {
    match opt {
        Opt::Bool => match value {
            Value::Bool(b) => Ok(bool01(*b)),
            other => match whole_number(other) {
                Ok(n @ 0..=1) => Ok(n.to_string()),
                _ => Err(format!("must be true or false (or 1/0), got {other}")),
            },
        },
        Opt::Int { min, max } => {
            let n = whole_number(value)?;
            if n < min || n > max {
                return Err(match max {
                    BIG => format!("must be at least {min}, got {n}"),
                    _ => format!("must be between {min} and {max}, got {n}"),
                });
            }
            Ok(n.to_string())
        }
        Opt::OneOf(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.to_string()),
            _ => Err(format!(
                "must be one of {}, got {value}",
                allowed.join(", ")
            )),
        },
        Opt::ListOf(allowed) => match value.as_str() {
            Some(s) if s.split(',').all(|i| allowed.contains(&i)) => Ok(s.to_string()),
            _ => Err(format!(
                "must be a comma list of {}, got {value}",
                allowed.join(", ")
            )),
        },
        Opt::Text => match value.as_str() {
            Some(s) if s.len() <= 256 && !s.chars().any(char::is_control) => Ok(s.to_string()),
            _ => Err(format!(
                "must be text (at most 256 characters), got {value}"
            )),
        },
    }
}

/// Options to set (name, wire value) and to reset.
type Changes = (Vec<(String, String)>, Vec<String>);

/// The options to set (wire form, in the order given) and to reset, checked against the
/// level's keys: unknown keys are refused, all of them named.
fn option_changes(args: &Args, known: &[(&str, Opt)], at: &str) -> Result<Changes, Error> {
    let given = args.0.get("options").and_then(Value::as_object);
    let delete = strings(args, "delete");
    let unknown: Vec<&str> = given
        .into_iter()
        .flat_map(|o| o.keys().map(String::as_str))
        .chain(delete.iter().copied())
        .filter(|k| !known.iter().any(|(n, _)| n == k))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
        return Err(Error::Args(format!(
            "PVE's {at} firewall options have no {}; {at} options are: {}",
            unknown
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        )));
    }
    let mut set = Vec::new();
    for (key, value) in given.into_iter().flatten() {
        let opt = known.iter().find(|(n, _)| n == key).map(|(_, o)| *o);
        let wire = option_value(opt.unwrap_or(Opt::Text), value)
            .map_err(|why| Error::Args(format!("option '{key}' {why}")))?;
        if delete.contains(&key.as_str()) {
            return Err(Error::Args(format!(
                "option '{key}' is both set and in 'delete'; do one"
            )));
        }
        set.push((key.clone(), wire));
    }
    if set.is_empty() && delete.is_empty() {
        return Err(Error::Args(
            "nothing to change: give options to set, or delete to reset keys to PVE's default"
                .into(),
        ));
    }
    Ok((set, delete.into_iter().map(str::to_string).collect()))
}

fn set_firewall_options(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (known, at) = match (args.int("vmid"), args.str("node")) {
        (Some(_), _) => (GUEST_OPTIONS, "guest"),
        (None, Some(_)) => (NODE_OPTIONS, "node"),
        (None, None) => (CLUSTER_OPTIONS, "cluster"),
    };
    let (set, delete) = option_changes(args, known, at)?;
    let level = level(ctx, args)?;
    let options_path = level.at(&[&"options"]);
    let current = ctx.pve.get(&options_path, &[])?;
    let digest = current_digest(
        &options_path,
        current
            .get("digest")
            .and_then(Value::as_str)
            .map(str::to_string),
        args,
        "options",
        "the configuration",
        "changed",
        "get_firewall_options again and check them",
    )?;
    let change = NewOptions {
        current: &current,
        set: &set,
        delete: &delete,
    };
    let lockout = lockout(ctx, &level, &change)?;
    // PVE's form wants `&'static str` names: the keys are the table's.
    let mut params: Params = set
        .iter()
        .filter_map(|(k, v)| {
            let key = known.iter().find(|(n, _)| n == k)?.0;
            Some((key, v.clone()))
        })
        .collect();
    if !delete.is_empty() {
        params.push(("delete", delete.join(",")));
    }
    params.push(("digest", digest));
    let lockout_target = lockout.clone();
    let mut out = Change::put(options_path, params).send(ctx, args, || {
        Ok(json!({"options": current, "lockout": lockout_target}))
    })?;
    if !out.contains_key("target") {
        out.insert("lockout".into(), lockout);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// What new options would drop.

/// Options as they would be after a change.
struct NewOptions<'a> {
    current: &'a Value,
    set: &'a [(String, String)],
    delete: &'a [String],
}

impl NewOptions<'_> {
    /// `key` after the change, `default` when unset (PVE's default).
    fn value(&self, key: &str, default: &str) -> String {
        if self.delete.iter().any(|d| d == key) {
            return default.to_string();
        }
        if let Some((_, v)) = self.set.iter().find(|(k, _)| k == key) {
            return v.clone();
        }
        match self.current.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => bool01(*b),
            _ => default.to_string(),
        }
    }
    fn touches(&self, keys: &[&str]) -> bool {
        self.set.iter().any(|(k, _)| keys.contains(&k.as_str()))
            || self.delete.iter().any(|k| keys.contains(&k.as_str()))
    }
}

/// A finding and how much it risks: 0 none, 1 low, 2 possible, 3 high.
struct Findings {
    risk: u8,
    lines: Vec<String>,
}

impl Findings {
    fn add(&mut self, risk: u8, line: String) {
        self.risk = self.risk.max(risk);
        self.lines.push(line);
    }
    fn json(self) -> Value {
        let risk = ["none", "low", "possible", "high"][usize::from(self.risk.min(3))];
        json!({"risk": risk, "findings": self.lines})
    }
}

/// Whether an enabled rule of direction `dir` may match TCP port 8006 (the API and GUI) from
/// some source: no macro (none of PVE's covers 8006), protocol tcp or any, the port listed or
/// no port given.
fn matches_8006(rule: &Value, dir: &str) -> bool {
    let enabled = rule.get("enable").and_then(Value::as_i64) == Some(1);
    let proto = text(rule, "proto");
    let dport = text(rule, "dport");
    let port_listed = dport.split(',').any(|p| match p.split_once(':') {
        Some((a, b)) => {
            matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= 8006 && 8006 <= b)
        }
        None => p == "8006",
    });
    enabled
        && text(rule, "type") == dir
        && text(rule, "macro").is_empty()
        && matches!(proto, "" | "tcp" | "6")
        && (dport.is_empty() || port_listed)
}

/// The rules of `where_` that apply, in order, with security groups (`type: group`) expanded
/// into their rules; each named by where it is.
fn expand_groups(ctx: &Ctx, rules: &[Value], where_: &str) -> Result<Vec<(String, Value)>, Error> {
    let mut out = Vec::new();
    for rule in rules {
        let pos = number(rule, "pos");
        if text(rule, "type") == "group" {
            if rule.get("enable").and_then(Value::as_i64) != Some(1) {
                continue;
            }
            let group = text(rule, "action");
            let (members, _) =
                read_rules(ctx, &path(&[&"cluster", &"firewall", &"groups", &group]))?;
            for m in members {
                let at = format!(
                    "{where_} rule {pos} (group {group} rule {})",
                    number(&m, "pos")
                );
                out.push((at, m));
            }
        } else {
            out.push((format!("{where_} rule {pos}"), rule.clone()));
        }
    }
    Ok(out)
}

/// How TCP 8006 fares under these rules: sources accepted before the first rule for any source,
/// and that rule (where, action) if there is one.
fn first_for_8006(rules: &[(String, Value)], dir: &str) -> (Vec<String>, Option<(String, String)>) {
    let mut accepted_from = Vec::new();
    for (at, rule) in rules.iter().filter(|(_, r)| matches_8006(r, dir)) {
        let action = text(rule, "action");
        let source = text(rule, if dir == "in" { "source" } else { "dest" });
        if source.is_empty() {
            return (accepted_from, Some((at.clone(), action.to_string())));
        }
        if action == "ACCEPT" {
            accepted_from.push(format!("{source} ({at})"));
        }
    }
    (accepted_from, None)
}

/// What the change would drop, as far as the configuration tells: only touched when the change
/// concerns `enable` or a default policy.
fn lockout(ctx: &Ctx, level: &Level, new: &NewOptions) -> Result<Value, Error> {
    let mut found = Findings {
        risk: 0,
        lines: Vec::new(),
    };
    let keys = ["enable", "policy_in", "policy_out", "policy_forward"];
    if !new.touches(&keys) {
        found.lines.push(
            "this change touches neither enable nor a default policy: what the firewall lets through stays as it is".into(),
        );
        return Ok(found.json());
    }
    if let Some(guest) = &level.guest {
        guest_lockout(ctx, level, guest, new, &mut found)?;
        return Ok(found.json());
    }
    // The hosts: the cluster's enable and default policies, the node's enable, the rules of
    // the node (if one) and of the cluster.
    let cluster_options;
    let cluster = match level.node {
        Some(_) => {
            cluster_options = ctx.pve.get("/cluster/firewall/options", &[])?;
            NewOptions {
                current: &cluster_options,
                set: &[],
                delete: &[],
            }
        }
        None => NewOptions {
            current: new.current,
            set: new.set,
            delete: new.delete,
        },
    };
    let was_on = text_or_number(new.current, "enable");
    let on = cluster.value("enable", "0") == "1";
    if !on {
        found.add(0, "the cluster firewall is off (enable 0) after this change: the nodes' traffic is not filtered".into());
        return Ok(found.json());
    }
    if let Some(node) = &level.node {
        if new.value("enable", "1") != "1" {
            found.add(0, format!("the host firewall of {node} is off (enable 0) after this change: its traffic is not filtered"));
            return Ok(found.json());
        }
    } else if was_on != "1" {
        found.add(
            1,
            "the cluster firewall is off now: this turns it on for every node within seconds"
                .into(),
        );
    }
    let policy_in = cluster.value("policy_in", "DROP");
    let policy_out = cluster.value("policy_out", "ACCEPT");
    let mut rules = Vec::new();
    if let Some(node) = &level.node {
        let (node_rules, _) = read_rules(ctx, &path(&[&"nodes", node, &"firewall", &"rules"]))?;
        rules.extend(expand_groups(ctx, &node_rules, &format!("node {node}"))?);
    }
    let (cluster_rules, _) = read_rules(ctx, "/cluster/firewall/rules")?;
    rules.extend(expand_groups(ctx, &cluster_rules, "cluster")?);
    let (accepted_from, first) = first_for_8006(&rules, "in");
    match (policy_in.as_str(), first) {
        (_, Some((at, action))) if action == "DROP" || action == "REJECT" => found.add(3, format!(
            "{at} ({action}, any source) stops TCP 8006 (the API and GUI) before any rule accepts it: this server and every other client would be cut off"
        )),
        ("ACCEPT", _) => found.add(1, "policy_in ACCEPT: incoming traffic no rule drops is accepted, TCP 8006 (the API this server uses) included".into()),
        (_, Some((at, _))) => found.add(1, format!("policy_in {policy_in}, but {at} accepts TCP 8006 (the API this server uses) from anywhere")),
        (_, None) => {
            let management = management_sources(ctx)?;
            let mut from = vec![management];
            from.extend(accepted_from);
            found.add(2, format!(
                "policy_in {policy_in}: TCP 8006 (the API and GUI) would be accepted only from {}. This server cannot see its own address as PVE sees it (NAT, proxies): unless that address is among these, policy_in {policy_in} with no rule accepting TCP 8006 from this server would cut this server off",
                from.join("; ")
            ));
        }
    }
    if policy_out != "ACCEPT" {
        found.add(1, format!("policy_out {policy_out}: replies on connections to the nodes (the API included) still pass, but connections the nodes open (updates, DNS, NTP, storage, backups) need out rules"));
    }
    let forward = cluster.value("policy_forward", "ACCEPT");
    if forward != "ACCEPT" {
        found.add(1, format!("policy_forward {forward}: only traffic routed through the nodes (nftables firewall, SDN) is affected, not connections to the API"));
    }
    found.lines.push(
        "node rules not checked here can change this; list_firewall_rules shows each node's"
            .to_string(),
    );
    Ok(found.json())
}

/// Where PVE's built-in rules accept TCP 8006 from when the firewall is on: the cluster's
/// `management` IP set and `local_network` (the cluster's alias, else each node's network).
fn management_sources(ctx: &Ctx) -> Result<String, Error> {
    let sets = ctx.pve.get("/cluster/firewall/ipset", &[])?;
    let management = match trimmed(sets, &["name"])
        .iter()
        .any(|s| text(s, "name") == "management")
    {
        true => {
            let (entries, _) = read_entries(ctx, "/cluster/firewall/ipset/management")?;
            let cidrs: Vec<&str> = entries.iter().map(|e| text(e, "cidr")).collect();
            match cidrs.is_empty() {
                true => "the management IP set (empty)".to_string(),
                false => format!("the management IP set ({})", cidrs.join(", ")),
            }
        }
        false => "no management IP set (not defined)".to_string(),
    };
    let aliases = ctx.pve.get("/cluster/firewall/aliases", &[])?;
    let local = trimmed(aliases, ALIAS_FIELDS)
        .into_iter()
        .find(|a| text(a, "name").eq_ignore_ascii_case("local_network"))
        .map(|a| format!("local_network ({})", text(&a, "cidr")))
        .unwrap_or_else(|| "local_network (each node's own network, detected by PVE)".into());
    Ok(format!("{management}; {local}"))
}

/// A guest's firewall cuts this server off only if it runs inside that guest (its connections to
/// the API go out of it); the guest's own users are cut off by a default policy_in.
fn guest_lockout(
    ctx: &Ctx,
    level: &Level,
    guest: &str,
    new: &NewOptions,
    found: &mut Findings,
) -> Result<(), Error> {
    let vmid = guest.rsplit('/').next().unwrap_or_default();
    if new.value("enable", "0") != "1" {
        found.add(0, format!("the firewall of guest {vmid} is off (enable 0) after this change: its traffic is not filtered"));
        return Ok(());
    }
    let cluster = ctx.pve.get("/cluster/firewall/options", &[])?;
    if text_or_number(&cluster, "enable") != "1" {
        found.add(0, format!("the cluster firewall is off (enable 0): guest {vmid}'s rules and policies filter nothing until it is turned on"));
        return Ok(());
    }
    let (rules, _) = read_rules(ctx, &level.at(&[&"rules"]))?;
    let rules = expand_groups(ctx, &rules, "guest")?;
    let policy_in = new.value("policy_in", "DROP");
    let policy_out = new.value("policy_out", "ACCEPT");
    if policy_in != "ACCEPT" {
        let accepting = rules
            .iter()
            .filter(|(_, r)| {
                text(r, "type") == "in"
                    && text(r, "action") == "ACCEPT"
                    && r.get("enable").and_then(Value::as_i64) == Some(1)
            })
            .count();
        let risk = if accepting == 0 { 2 } else { 1 };
        found.add(risk, format!(
            "policy_in {policy_in}: connections into guest {vmid} (SSH, its services) are dropped unless a rule accepts them; {accepting} enabled rules accept incoming traffic"
        ));
    }
    if policy_out != "ACCEPT" {
        let (_, first) = first_for_8006(&rules, "out");
        match first {
            Some((at, action)) if action == "ACCEPT" => found.add(1, format!(
                "policy_out {policy_out}: {at} accepts outgoing TCP 8006, so a server like this one inside guest {vmid} still reaches the API"
            )),
            _ => found.add(2, format!(
                "policy_out {policy_out} with no rule accepting outgoing TCP 8006: if this server runs inside guest {vmid}, it would be cut off from the PVE API (this server cannot tell where it runs)"
            )),
        }
    }
    found.lines.push(format!(
        "a guest's firewall filters only the network devices with firewall=1 in guest {vmid}'s config"
    ));
    Ok(())
}

/// A field that PVE gives as a number or a string, as text.
fn text_or_number(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => bool01(*b),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ports() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/24",
            "fd00::/8",
            "10.0.0.1-10.0.0.9",
            "10.0.0.1,10.0.0.0/8",
            "+management",
            "+dc/office",
            "local_network",
            "guest/web",
        ] {
            assert!(valid_addr_spec(ok), "{ok}");
        }
        for bad in [
            "10.0.0.0/33",
            "10.0.0.300",
            "fd00::/129",
            "10.0.0.1-fd00::1",
            "+",
            "1abc",
            "10.0.0.0/24;rm",
            "",
        ] {
            assert!(!valid_addr_spec(bad), "{bad}");
        }
        for ok in ["22", "80,443", "8000:9000", "https", "0"] {
            assert!(valid_ports(ok), "{ok}");
        }
        for bad in ["", "70000", "90:80", "22;", "a b"] {
            assert!(!valid_ports(bad), "{bad}");
        }
    }

    #[test]
    fn port_8006() {
        let rule = |v: Value| {
            let mut r = json!({"type": "in", "action": "ACCEPT", "enable": 1});
            r.as_object_mut()
                .unwrap()
                .extend(v.as_object().unwrap().clone());
            r
        };
        assert!(matches_8006(&rule(json!({})), "in"));
        assert!(matches_8006(
            &rule(json!({"proto": "tcp", "dport": "22,8000:8010"})),
            "in"
        ));
        assert!(!matches_8006(&rule(json!({"proto": "udp"})), "in"));
        assert!(!matches_8006(
            &rule(json!({"proto": "tcp", "dport": "80,443"})),
            "in"
        ));
        assert!(!matches_8006(&rule(json!({"macro": "HTTPS"})), "in"));
        assert!(!matches_8006(&rule(json!({"enable": 0})), "in"));
        assert!(!matches_8006(&rule(json!({})), "out"));
    }
}
