//! Node networks and SDN: creating, changing and deleting a node's bridges, bonds and VLANs
//! (PVE stages them in `/etc/network/interfaces.new` until `apply_network_config` reloads the
//! node's network), and SDN zones, vnets and subnets (staged until `apply_sdn_config`).
//!
//! Every setting is checked here before anything is sent, and only the settings this file knows
//! are sent: an unknown key is refused by name. Changing or deleting the interface that carries
//! the address this server reaches PVE at (`PROXMOX_HOST`) is flagged in the dry run, as far as
//! the node's config can tell.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Method, Params};

use super::change::Change;
use super::list::text;
use super::params::{DRY_RUN, NODE, STOP_ON_CANCEL, WAIT};
use super::table::{f, Field, Ty};
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};
use super::validate::whole_number;

#[rustfmt::skip]
const IFACE: Param = Param::req("iface", Kind::Text { max: 20 }, "interface name, e.g. vmbr1, bond0, eno1.20");
const IFACE_TYPE: Param = Param::req("type", Kind::Text { max: 16 }, "bridge, bond or vlan");
#[rustfmt::skip]
const SETTINGS: Param = Param::opt("settings", Kind::Object, "PVE keys, e.g. {\"cidr\":\"10.0.0.2/24\",\"bridge_ports\":\"eno2\"}");
#[rustfmt::skip]
const UNSET: Param = Param::opt("delete", Kind::Strings { max_items: 16, max_len: 32 }, "settings to remove");

/// Beside `data` once a node's network config was changed.
#[rustfmt::skip]
pub(super) const STAGED: &[Field] = &[f("pending", Ty::Str, "staged, not active: what applies it")];

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "create_network_interface",
        title: "Create network interface",
        description: "Creates a bridge, bond or VLAN on a node, staged (inactive) until apply_network_config. settings: cidr, gateway, cidr6, gateway6, mtu, autostart, comments; bridge_ports, bridge_vlan_aware, bridge_vids; slaves, bond_mode, bond-primary, bond_xmit_hash_policy; vlan-id, vlan-raw-device.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Operate,
        area: Area::Network,
        params: &[&NODE, &IFACE, &IFACE_TYPE, &SETTINGS, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: false,
        marks: &[],
        run: create_network_interface,
    },
    Tool {
        name: "update_network_interface",
        title: "Update network interface",
        description: "Changes settings of a bridge, bond, VLAN or eth (keys as create_network_interface), staged until apply_network_config. Changing the interface this server reaches PVE through can cut it off: the dry run says what is known.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Operate,
        area: Area::Network,
        params: &[&NODE, &IFACE, &SETTINGS, &UNSET, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: true,
        marks: &[],
        run: update_network_interface,
    },
    Tool {
        name: "delete_network_interface",
        title: "Delete network interface",
        description: "Deletes a bridge, bond or VLAN no other interface uses, staged until apply_network_config; guests attached to it lose their network then. The dry run says whether it carries this server's connection.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Destroy,
        area: Area::Network,
        params: &[&NODE, &IFACE, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: false,
        marks: &[],
        run: delete_network_interface,
    },
    Tool {
        name: "revert_network_config",
        title: "Revert network changes",
        description: "Drops a node's staged network changes (the pending diff the dry run shows); the running network is untouched.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Operate,
        area: Area::Network,
        params: &[&NODE, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: revert_network_config,
    },
    Tool {
        name: "apply_network_config",
        title: "Apply network changes",
        description: "Reloads a node's network with its staged changes (a task). A wrong change can cut the node off, this server included: dry_run first, it shows PVE's pending diff and where this server's connection runs. Waits.",
        privilege: "Sys.Modify on /nodes/{node}",
        effect: Effect::Destroy,
        area: Area::Network,
        params: &[&NODE, &WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: false,
        marks: &[],
        run: apply_network_config,
    },
];

// ---------------------------------------------------------------------------------------------
// Addresses.

/// `a.b.c.d/n` or `x::y/n`: the address and the prefix length.
pub(super) fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let ok = !len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit());
    let len: u8 = len.parse().ok().filter(|l| ok && *l <= max)?;
    Some((addr, len))
}

/// The address as a 128-bit number and its width (32 or 128).
pub(super) fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// The host part of `ip` under a prefix of `len` bits.
pub(super) fn host_part(ip: IpAddr, len: u8) -> u128 {
    let (n, width) = bits(ip);
    let host_bits = width - u32::from(len);
    match host_bits {
        0 => 0,
        128 => n,
        b => n & ((1u128 << b) - 1),
    }
}

/// Whether `ip` lies in the network `net`/`len`.
pub(super) fn in_net(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4()
        && bits(net).0 - host_part(net, len) == bits(ip).0 - host_part(ip, len)
}

/// The addresses this server reaches PVE at (`PROXMOX_HOST` and its failover hosts) that are IP
/// literals, and the names it cannot map to an interface.
fn server_addresses(ctx: &Ctx) -> (Vec<IpAddr>, Vec<String>) {
    let mut ips = Vec::new();
    let mut names = Vec::new();
    for host in ctx.pve.hosts() {
        match host.host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => names.push(host.host.clone()),
        }
    }
    (ips, names)
}

// ---------------------------------------------------------------------------------------------
// A node's interfaces.

/// The node's interfaces as PVE has them with its staged changes, and the diff of those changes.
fn node_interfaces(ctx: &Ctx, node: &str) -> Result<(Vec<Value>, Option<String>), Error> {
    let reply = ctx
        .pve
        .call(Method::Get, &path(&[&"nodes", &node, &"network"]), &[])?;
    let list = match reply.data {
        Value::Array(list) => list,
        _ => Vec::new(),
    };
    Ok((list, reply.changes.filter(|c| !c.trim().is_empty())))
}

fn find<'l>(ifaces: &'l [Value], name: &str) -> Option<&'l Value> {
    ifaces.iter().find(|i| text(i, "iface") == name)
}

/// The names in a space- or comma-separated list of interfaces.
fn names(list: &str) -> Vec<&str> {
    list.split([' ', ',', ';'])
        .filter(|s| !s.is_empty())
        .collect()
}

/// The interfaces `name` rests on (itself, its bridge ports, bond slaves, a VLAN's raw device),
/// followed down.
fn below(ifaces: &[Value], name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let mut i = 0;
    while i < out.len() && out.len() < 64 {
        let iface = out[i].clone();
        i += 1;
        let Some(cfg) = find(ifaces, &iface) else {
            continue;
        };
        let mut lower: Vec<String> = names(text(cfg, "bridge_ports"))
            .into_iter()
            .chain(names(text(cfg, "slaves")))
            .map(str::to_string)
            .collect();
        match text(cfg, "vlan-raw-device") {
            "" => lower.extend(iface.rsplit_once('.').map(|(raw, _)| raw.to_string())),
            raw => lower.push(raw.to_string()),
        }
        for l in lower {
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    out
}

/// The interfaces that use `name`: as a bridge port, bond slave or VLAN raw device.
fn users(ifaces: &[Value], name: &str) -> Vec<String> {
    ifaces
        .iter()
        .filter(|i| text(i, "iface") != name)
        .filter_map(|i| {
            let iface = text(i, "iface");
            let how = if names(text(i, "bridge_ports")).contains(&name) {
                "bridge port"
            } else if names(text(i, "slaves")).contains(&name) {
                "bond slave"
            } else if text(i, "vlan-raw-device") == name
                || iface.rsplit_once('.').is_some_and(|(raw, _)| raw == name)
            {
                "VLAN raw device"
            } else {
                return None;
            };
            Some(format!("{iface} ({name} is its {how})"))
        })
        .collect()
}

/// The interface whose address is `ip`, if the config names one.
fn carrier(ifaces: &[Value], ip: IpAddr) -> Option<&str> {
    let has = |cfg: &Value| {
        let cidrs = ["cidr", "cidr6"]
            .iter()
            .filter_map(|k| parse_cidr(text(cfg, k)).map(|c| c.0));
        let addresses = ["address", "address6"]
            .iter()
            .filter_map(|k| text(cfg, k).parse::<IpAddr>().ok());
        cidrs.chain(addresses).any(|a| a == ip)
    };
    ifaces
        .iter()
        .find(|cfg| has(cfg))
        .map(|cfg| text(cfg, "iface"))
}

/// What the node's config says about this server's connection, for a change to `touched`
/// (empty: the whole staged config, when it is applied).
fn connection(ctx: &Ctx, node: &str, ifaces: &[Value], touched: &[&str]) -> String {
    let (ips, hosts) = server_addresses(ctx);
    let mut notes = Vec::new();
    for ip in ips {
        let Some(on) = carrier(ifaces, ip) else {
            notes.push(if touched.is_empty() {
                format!("no interface of {node} has {ip} (PROXMOX_HOST) in the staged config: if this server reaches {node} directly, applying cuts it off; if it goes through another node, NAT or a proxy, it does not")
            } else {
                format!("{ip} (PROXMOX_HOST) is not an address of {node}'s interfaces: this server reaches PVE through another node, NAT or a proxy")
            });
            continue;
        };
        let path = below(ifaces, on);
        let hit: Vec<&str> = touched
            .iter()
            .copied()
            .filter(|t| path.iter().any(|p| p == t))
            .collect();
        notes.push(if touched.is_empty() {
            format!("{ip} (PROXMOX_HOST) is on {} in the staged config; a mistake in the diff for these interfaces cuts this server off {node}", path.join(", "))
        } else if hit.is_empty() {
            let over = match &path[1..] {
                [] => String::new(),
                lower => format!(" (over {})", lower.join(", ")),
            };
            format!("{ip} (PROXMOX_HOST) is on {on}{over}, which this change leaves alone")
        } else {
            format!("WARNING: {ip}, the address this server reaches PVE at (PROXMOX_HOST), runs over {}; once applied, this change can cut this server off {node}: keep a console open", hit.join(", "))
        });
    }
    for host in hosts {
        let which = if touched.is_empty() {
            "the staged changes touch".to_string()
        } else {
            touched.join(", ")
        };
        notes.push(format!("PROXMOX_HOST is the name {host}: this server cannot tell which interface carries it; make sure it is not {which}"));
    }
    notes.join("; ")
}

// ---------------------------------------------------------------------------------------------
// Interface names and settings.

const TYPES: &[&str] = &["bridge", "bond", "vlan"];
const COMMON: &[&str] = &[
    "cidr",
    "gateway",
    "cidr6",
    "gateway6",
    "mtu",
    "autostart",
    "comments",
];
const BRIDGE: &[&str] = &["bridge_ports", "bridge_vlan_aware", "bridge_vids"];
const BOND: &[&str] = &[
    "slaves",
    "bond_mode",
    "bond-primary",
    "bond_xmit_hash_policy",
];
const VLAN: &[&str] = &["vlan-id", "vlan-raw-device"];
const BOND_MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
];
const HASH_POLICIES: &[&str] = &["layer2", "layer2+3", "layer3+4"];

/// The settings this server sends for an interface of type `kind`.
fn known_keys(kind: &str) -> Vec<&'static str> {
    let own: &[&str] = match kind {
        "bridge" => BRIDGE,
        "bond" => BOND,
        "vlan" => VLAN,
        _ => &[],
    };
    COMMON.iter().chain(own).copied().collect()
}

/// A Linux interface name as PVE takes it: a letter, then letters, digits and '_' (at most 15
/// characters in all), a VLAN's `.ID` suffix included.
fn valid_iface(name: &str) -> bool {
    let base = name.split_once('.').map_or(name, |(b, _)| b);
    let suffix_ok = name
        .split_once('.')
        .is_none_or(|(_, id)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    (2..=15).contains(&name.len())
        && base.starts_with(|c: char| c.is_ascii_alphabetic())
        && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && suffix_ok
}

fn iface_arg(args: &Args) -> Result<&str, Error> {
    let iface = args.required_str("iface")?;
    if !valid_iface(iface) {
        return Err(Error::Args(format!(
            "'iface' must be an interface name: a letter, then letters, digits and '_' (a VLAN may end in .ID), 2 to 15 characters; got '{iface}'"
        )));
    }
    Ok(iface)
}

/// One setting in PVE's wire form, checked.
fn setting(key: &str, value: &Value) -> Result<String, String> {
    let s = || {
        value
            .as_str()
            .map(str::trim)
            .ok_or_else(|| format!("must be a string, got {value}"))
    };
    let ip = |v6: bool| -> Result<String, String> {
        let text = s()?;
        match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 => Ok(text.to_string()),
            _ => Err(format!(
                "must be an {} address, got '{text}'",
                if v6 { "IPv6" } else { "IPv4" }
            )),
        }
    };
    match key {
        "cidr" | "cidr6" => {
            let text = s()?;
            match parse_cidr(text) {
                Some((ip, _)) if ip.is_ipv6() == (key == "cidr6") => Ok(text.to_string()),
                _ => Err(format!(
                    "must be an {} address with its prefix, e.g. {}, got '{text}'",
                    if key == "cidr6" { "IPv6" } else { "IPv4" },
                    if key == "cidr6" {
                        "fd00::2/64"
                    } else {
                        "10.0.0.2/24"
                    }
                )),
            }
        }
        "gateway" => ip(false),
        "gateway6" => ip(true),
        "mtu" => match whole_number(value)? {
            n @ 1280..=65520 => Ok(n.to_string()),
            n => Err(format!("must be between 1280 and 65520, got {n}")),
        },
        "vlan-id" => match whole_number(value)? {
            n @ 1..=4094 => Ok(n.to_string()),
            n => Err(format!("must be a VLAN id between 1 and 4094, got {n}")),
        },
        "autostart" | "bridge_vlan_aware" => match value {
            Value::Bool(b) => Ok(bool01(*b)),
            Value::Number(n) if matches!(n.as_u64(), Some(0 | 1)) => Ok(n.to_string()),
            _ => Err(format!("must be true or false, got {value}")),
        },
        "comments" => {
            let text = s()?;
            if text.contains(['\n', '\r', '\0']) || text.chars().count() > 1024 {
                return Err("must be one line of at most 1024 characters".into());
            }
            Ok(text.to_string())
        }
        "bridge_ports" | "slaves" => {
            let list = names(s()?);
            match list.iter().find(|n| !valid_iface(n)) {
                Some(bad) => Err(format!("'{bad}' is not an interface name")),
                None => Ok(list.join(" ")),
            }
        }
        "bond-primary" | "vlan-raw-device" => {
            let text = s()?;
            match valid_iface(text) {
                true => Ok(text.to_string()),
                false => Err(format!("'{text}' is not an interface name")),
            }
        }
        "bridge_vids" => {
            let list = names(s()?);
            let vid = |v: &str| v.parse::<u16>().ok().filter(|n| (1..=4094).contains(n));
            let ok = !list.is_empty()
                && list.iter().all(|item| match item.split_once('-') {
                    Some((a, b)) => vid(a).zip(vid(b)).is_some_and(|(a, b)| a <= b),
                    None => vid(item).is_some(),
                });
            match ok {
                true => Ok(list.join(" ")),
                false => Err("must be VLAN ids (1-4094) or ranges, e.g. '2 4 100-200'".into()),
            }
        }
        "bond_mode" | "bond_xmit_hash_policy" => {
            let allowed = if key == "bond_mode" {
                BOND_MODES
            } else {
                HASH_POLICIES
            };
            let text = s()?;
            match allowed.contains(&text) {
                true => Ok(text.to_string()),
                false => Err(format!("must be one of {}", allowed.join(", "))),
            }
        }
        _ => Err("is not a setting this server knows".into()),
    }
}

/// `settings` checked for an interface of type `kind`: every key known (else refused by name),
/// every value valid; in the order given.
fn settings(args: &Args, kind: &str) -> Result<Vec<(&'static str, String)>, Error> {
    let known = known_keys(kind);
    let given: Map<String, Value> = match args.0.get("settings") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let unknown: Vec<&str> = given
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Args(format!(
            "settings: {} not known for a {kind} (this server sets {}); nothing was sent",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    let mut out = Vec::new();
    for (key, value) in &given {
        let key = known.iter().copied().find(|k| k == key).unwrap_or_default();
        let wire =
            setting(key, value).map_err(|why| Error::Args(format!("settings.{key} {why}")))?;
        out.push((key, wire));
    }
    Ok(out)
}

/// Checks an interface's settings against the node's other interfaces: ports and slaves exist
/// and are free, one default gateway per node, a bond's primary is one of its slaves, a VLAN
/// names its raw device and id once. `merged` is the interface as it would be, `given` the
/// settings this call sets.
fn check_against_node(
    node: &str,
    ifaces: &[Value],
    iface: &str,
    kind: &str,
    merged: &Map<String, Value>,
    given: &[&str],
) -> Result<(), Error> {
    let at = |msg: String| {
        Error::Denied(format!(
            "GET /nodes/{node}/network: {msg}; nothing was sent"
        ))
    };
    let get = |k: &str| merged.get(k).and_then(Value::as_str).unwrap_or_default();
    for key in ["bridge_ports", "slaves"] {
        for port in names(get(key)) {
            let user = users(ifaces, port)
                .into_iter()
                .find(|u| !u.starts_with(&format!("{iface} ")));
            let why = if port == iface {
                format!("{iface} cannot be its own {key}")
            } else if find(ifaces, port).is_none() {
                format!(
                    "{port} ({key}) is not an interface of {node}; list_node_networks shows them"
                )
            } else if let Some(user) = user {
                format!("{port} ({key}) is already used by {user}")
            } else {
                continue;
            };
            return Err(at(why));
        }
    }
    for key in ["gateway", "gateway6"] {
        let other = ifaces
            .iter()
            .find(|i| text(i, "iface") != iface && !text(i, key).is_empty());
        if let (true, Some(other)) = (given.contains(&key), other) {
            let why = format!(
                "{node} already has a default {key} on {} ({}); PVE allows one per node",
                text(other, "iface"),
                text(other, key)
            );
            return Err(at(why));
        }
    }
    let primary = get("bond-primary");
    if !primary.is_empty() && !names(get("slaves")).contains(&primary) {
        return Err(at(format!(
            "bond-primary {primary} is not one of the slaves"
        )));
    }
    if kind != "vlan" {
        return Ok(());
    }
    let raw = match iface.split_once('.') {
        Some((raw, tag)) => {
            let why = if given.contains(&"vlan-id") || given.contains(&"vlan-raw-device") {
                format!("{iface} names its raw device and VLAN id; leave out vlan-id and vlan-raw-device")
            } else if !tag.parse::<u16>().is_ok_and(|t| (1..=4094).contains(&t)) {
                format!("{iface}: the VLAN id after '.' must be 1 to 4094")
            } else {
                String::new()
            };
            if !why.is_empty() {
                return Err(at(why));
            }
            raw
        }
        None if merged.get("vlan-id").is_some() && !get("vlan-raw-device").is_empty() => {
            get("vlan-raw-device")
        }
        None => {
            let why = format!(
                "a VLAN named {iface} needs vlan-id and vlan-raw-device (or a name like eno1.20)"
            );
            return Err(at(why));
        }
    };
    if find(ifaces, raw).is_none() {
        return Err(at(format!(
            "the VLAN's raw device {raw} is not an interface of {node}"
        )));
    }
    Ok(())
}

/// The note a staged change's result carries.
fn staged(mut out: Content, args: &Args, node: &str) -> Content {
    if !args.flag("dry_run").unwrap_or(false) {
        let note = format!("staged in {node}'s /etc/network/interfaces.new, not active: apply_network_config applies it (dry_run shows the diff), revert_network_config drops it");
        out.insert("pending".into(), json!(note));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Network handlers.

fn create_network_interface(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let iface = iface_arg(args)?;
    let kind = args.required_str("type")?;
    if !TYPES.contains(&kind) {
        return Err(Error::Args(format!(
            "'type' must be one of bridge, bond, vlan, got '{kind}'"
        )));
    }
    let bond_name = iface
        .strip_prefix("bond")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if kind == "bond" && !bond_name {
        return Err(Error::Args(format!(
            "a bond's name is bondN, e.g. bond0; got '{iface}'"
        )));
    }
    let set = settings(args, kind)?;
    let given: Vec<&str> = set.iter().map(|(k, _)| *k).collect();
    let (ifaces, changes) = node_interfaces(ctx, node)?;
    if let Some(existing) = find(&ifaces, iface) {
        return Err(Error::Denied(format!(
            "GET /nodes/{node}/network: {iface} already exists on {node} (type {}); update_network_interface changes it",
            text(existing, "type")
        )));
    }
    let merged: Map<String, Value> = set.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    check_against_node(node, &ifaces, iface, kind, &merged, &given)?;
    let mut touched = vec![iface];
    for key in ["bridge_ports", "slaves"] {
        touched.extend(names(
            merged.get(key).and_then(Value::as_str).unwrap_or_default(),
        ));
    }
    let target = json!({"interface": null, "connection": connection(ctx, node, &ifaces, &touched), "pending_changes": changes});
    let mut params: Params = vec![("iface", iface.to_string()), ("type", kind.to_string())];
    params.extend(set);
    let out = Change::post(path(&[&"nodes", &node, &"network"]), params)
        .send(ctx, args, || Ok(target))?;
    Ok(staged(out, args, node))
}

fn update_network_interface(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let iface = iface_arg(args)?;
    let (ifaces, changes) = node_interfaces(ctx, node)?;
    let Some(current) = find(&ifaces, iface).cloned() else {
        return Err(Error::NotFound(format!(
            "GET /nodes/{node}/network: no interface {iface} on {node}; list_node_networks shows them"
        )));
    };
    let kind = text(&current, "type").to_string();
    if !["bridge", "bond", "vlan", "eth"].contains(&kind.as_str()) {
        return Err(Error::Denied(format!(
            "GET /nodes/{node}/network: {iface} is of type '{kind}'; this server changes only bridge, bond, vlan and eth interfaces"
        )));
    }
    let set = settings(args, &kind)?;
    let known = known_keys(&kind);
    let mut unset = Vec::new();
    for key in args
        .0
        .get("delete")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = key.as_str().unwrap_or_default();
        let Some(k) = known.iter().find(|k| **k == key) else {
            return Err(Error::Args(format!(
                "delete: '{key}' is not a setting of a {kind} this server knows ({}); nothing was sent",
                known.join(", ")
            )));
        };
        if set.iter().any(|(s, _)| s == k) {
            return Err(Error::Args(format!("'{key}' is both set and deleted")));
        }
        unset.push(*k);
    }
    if set.is_empty() && unset.is_empty() {
        return Err(Error::Args(
            "give settings to change or delete; nothing was sent".into(),
        ));
    }
    let mut merged = current.as_object().cloned().unwrap_or_default();
    for k in &unset {
        merged.remove(*k);
    }
    merged.extend(set.iter().map(|(k, v)| (k.to_string(), json!(v))));
    let mut others: Vec<Value> = ifaces
        .iter()
        .filter(|i| text(i, "iface") != iface)
        .cloned()
        .collect();
    others.push(Value::Object(merged.clone()));
    let given: Vec<&str> = set.iter().map(|(k, _)| *k).collect();
    check_against_node(node, &others, iface, &kind, &merged, &given)?;
    let mut touched = vec![iface];
    for key in ["bridge_ports", "slaves"] {
        touched.extend(names(
            merged.get(key).and_then(Value::as_str).unwrap_or_default(),
        ));
    }
    let target = json!({"interface": current, "connection": connection(ctx, node, &ifaces, &touched), "pending_changes": changes});
    // PVE wants the type with every update.
    let mut params: Params = vec![("type", kind.clone())];
    params.extend(set);
    if !unset.is_empty() {
        params.push(("delete", unset.join(",")));
    }
    let out = Change::put(path(&[&"nodes", &node, &"network", &iface]), params).send(
        ctx,
        args,
        || Ok(target),
    )?;
    Ok(staged(out, args, node))
}

fn delete_network_interface(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let iface = iface_arg(args)?;
    let (ifaces, changes) = node_interfaces(ctx, node)?;
    let Some(current) = find(&ifaces, iface).cloned() else {
        return Err(Error::NotFound(format!(
            "GET /nodes/{node}/network: no interface {iface} on {node}; list_node_networks shows them"
        )));
    };
    let kind = text(&current, "type");
    if !TYPES.contains(&kind) {
        return Err(Error::Denied(format!(
            "GET /nodes/{node}/network: {iface} is of type '{kind}'; this server deletes only bridges, bonds and VLANs"
        )));
    }
    let used = users(&ifaces, iface);
    if !used.is_empty() {
        return Err(Error::Denied(format!(
            "GET /nodes/{node}/network: {iface} is in use by {}; change or delete that first; nothing was sent",
            used.join(", ")
        )));
    }
    let target = json!({"interface": current, "connection": connection(ctx, node, &ifaces, &[iface]), "pending_changes": changes});
    let out = Change::delete(path(&[&"nodes", &node, &"network", &iface]), Params::new()).send(
        ctx,
        args,
        || Ok(target),
    )?;
    Ok(staged(out, args, node))
}

fn revert_network_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let network = path(&[&"nodes", &node, &"network"]);
    Change::delete(network, Params::new()).send(ctx, args, || {
        let (_, changes) = node_interfaces(ctx, node)?;
        Ok(json!({"pending_changes": changes}))
    })
}

fn apply_network_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let network = path(&[&"nodes", &node, &"network"]);
    Change::put(network, Params::new()).send(ctx, args, || {
        let (ifaces, changes) = node_interfaces(ctx, node)?;
        let note = match &changes {
            Some(_) => "the diff is what PVE reports between /etc/network/interfaces and interfaces.new",
            None => "nothing is staged: the reload re-applies /etc/network/interfaces as it is",
        };
        Ok(json!({"pending_changes": changes, "note": note, "connection": connection(ctx, node, &ifaces, &[])}))
    })
}
