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
use super::list::{by_text, number, page, sort, text, trimmed};
use super::params::{DRY_RUN, LIMIT, OFFSET};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

mod options;
use options::{get_firewall_options, set_firewall_options};

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

#[cfg(test)]
mod tests;
