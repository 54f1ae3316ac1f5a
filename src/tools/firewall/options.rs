//! Firewall options, and the report of what a new enable flag or default policy would drop
//! (`lockout`): `set_firewall_options` reads the rules before it writes, because turning the
//! firewall on or a policy to DROP can cut every client off, this server included.

use serde_json::{json, Value};

use crate::error::Error;
use crate::pve::{bool01, path, Params};

use super::super::change::Change;
use super::super::list::{data, number, text, trimmed};
use super::super::table::{Args, Content, Ctx};
use super::super::validate::whole_number;
use super::{current_digest, level, read_entries, read_rules, strings, Level, ALIAS_FIELDS};

pub(super) fn get_firewall_options(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
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

pub(super) fn set_firewall_options(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
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
