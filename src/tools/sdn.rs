//! SDN: zones, vnets and subnets, and applying them. PVE keeps SDN changes pending in the
//! cluster's SDN config until `apply_sdn_config` (`PUT /cluster/sdn`) regenerates and reloads every
//! node's network; the lists show what is pending (`state`), and so does the apply's dry run.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{bool01, path, Params};

use super::change::Change;
use super::list::{by_text, page, text, trimmed};
use super::network::{bits, host_part, in_net, parse_cidr, STAGED};
use super::params::{DRY_RUN, LIMIT, OFFSET, STOP_ON_CANCEL, WAIT};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Output, Param, Tool};

const ZONE: Param = Param::req("zone", Kind::Text { max: 8 }, "SDN zone id, e.g. lan");
const ZONE_FILTER: Param = Param::opt("zone", Kind::Text { max: 8 }, "only this zone's vnets");
const VNET: Param = Param::req("vnet", Kind::Text { max: 8 }, "vnet id, e.g. vnet10");
#[rustfmt::skip]
const TAG: Param = Param::opt("tag", Kind::Int { min: 1, max: 16_777_215 }, "VLAN tag (vlan, qinq zones) or VNI (vxlan, evpn)");
const ALIAS: Param = Param::opt("alias", Kind::Text { max: 256 }, "a description");
const VLANAWARE: Param = Param::opt("vlanaware", Kind::Bool, "let guests' VLANs pass");
const SUBNET: Param = Param::req(
    "subnet",
    Kind::Text { max: 43 },
    "network CIDR, e.g. 10.0.10.0/24",
);
const GATEWAY: Param = Param::opt(
    "gateway",
    Kind::Text { max: 39 },
    "gateway IP inside the subnet",
);
const SNAT: Param = Param::opt("snat", Kind::Bool, "masquerade outgoing traffic");
#[rustfmt::skip]
const DHCP_RANGE: Param = Param::opt("dhcp_range", Kind::Strings { max_items: 8, max_len: 80 }, "DHCP ranges FIRST-LAST");

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_sdn_zones",
        title: "List SDN zones",
        description: "Lists the SDN zones by id, with changes not applied yet.",
        privilege: "a valid login (only zones with SDN.Audit on /sdn/zones/{zone})",
        effect: Effect::Read,
        area: Area::Sdn,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("zone", Ty::Str, ""), f("type", Ty::Str, "simple, vlan, qinq, vxlan, evpn"), f("bridge", Ty::Str, ""), f("nodes", Ty::Str, ""), f("mtu", Ty::Int, ""), f("ipam", Ty::Str, ""), f("state", Ty::Str, "new, changed or deleted: not applied"), f("pending", Ty::Obj, "values not applied")]),
        idempotent: true,
        marks: &[],
        run: list_sdn_zones,
    },
    Tool {
        name: "list_sdn_vnets",
        title: "List SDN vnets",
        description: "Lists the SDN vnets by id with their subnets, and changes not applied yet.",
        privilege: "a valid login (only vnets with SDN.Audit on /sdn/zones/{zone})",
        effect: Effect::Read,
        area: Area::Sdn,
        params: &[&ZONE_FILTER, &LIMIT, &OFFSET],
        output: Output::list(&[f("vnet", Ty::Str, ""), f("zone", Ty::Str, ""), f("tag", Ty::Int, ""), f("alias", Ty::Str, ""), f("vlanaware", Ty::Int, ""), f("state", Ty::Str, "new, changed or deleted: not applied"), f("subnets", Ty::Arr, "cidr, gateway, snat, dhcp-range, state")]),
        idempotent: true,
        marks: &[],
        run: list_sdn_vnets,
    },
    Tool {
        name: "create_sdn_vnet",
        title: "Create SDN vnet",
        description: "Creates a vnet in an SDN zone, pending until apply_sdn_config.",
        privilege: "SDN.Allocate on /sdn/zones/{zone}",
        effect: Effect::Operate,
        area: Area::Sdn,
        params: &[&VNET, &ZONE, &TAG, &ALIAS, &VLANAWARE, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: false,
        marks: &[],
        run: create_sdn_vnet,
    },
    Tool {
        name: "create_sdn_subnet",
        title: "Create SDN subnet",
        description: "Adds a subnet (with gateway, SNAT, DHCP ranges) to a vnet, pending until apply_sdn_config.",
        privilege: "SDN.Allocate on /sdn/zones/{zone}",
        effect: Effect::Operate,
        area: Area::Sdn,
        params: &[&VNET, &SUBNET, &GATEWAY, &SNAT, &DHCP_RANGE, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: false,
        marks: &[],
        run: create_sdn_subnet,
    },
    Tool {
        name: "delete_sdn_vnet",
        title: "Delete SDN vnet",
        description: "Deletes a vnet, pending until apply_sdn_config; guests attached to it lose their network then. The dry run shows it and its subnets.",
        privilege: "SDN.Allocate on /sdn/zones/{zone}",
        effect: Effect::Destroy,
        area: Area::Sdn,
        params: &[&VNET, &DRY_RUN],
        output: Output::done().with(STAGED),
        idempotent: false,
        marks: &[],
        run: delete_sdn_vnet,
    },
    Tool {
        name: "apply_sdn_config",
        title: "Apply SDN changes",
        description: "Applies the pending SDN changes and reloads the network of every node (a task); guests on changed or deleted vnets can lose their network. The dry run lists what is pending. Waits.",
        privilege: "SDN.Allocate on /sdn",
        effect: Effect::Destroy,
        area: Area::Sdn,
        params: &[&WAIT, &DRY_RUN, &STOP_ON_CANCEL],
        output: Output::task(),
        idempotent: false,
        marks: &[],
        run: apply_sdn_config,
    },
];

// ---------------------------------------------------------------------------------------------
// SDN.

/// A zone or vnet id as PVE takes it: a letter, then letters and digits, 2 to 8 characters.
fn sdn_id<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, Error> {
    let Some(id) = args.str(name) else {
        return Ok(None);
    };
    let ok = (2..=8).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.bytes().all(|b| b.is_ascii_alphanumeric());
    match ok {
        true => Ok(Some(id)),
        false => Err(Error::Args(format!(
            "'{name}' must be a letter, then letters and digits, 2 to 8 characters; got '{id}'"
        ))),
    }
}

fn pending() -> Params {
    vec![("pending", bool01(true))]
}

fn zones(ctx: &Ctx) -> Result<Vec<Value>, Error> {
    const FIELDS: &[&str] = &[
        "zone",
        "type",
        "bridge",
        "nodes",
        "tag",
        "mtu",
        "ipam",
        "dhcp",
        "dns",
        "peers",
        "controller",
        "vrf-vxlan",
        "state",
        "pending",
    ];
    Ok(trimmed(
        ctx.pve.get("/cluster/sdn/zones", &pending())?,
        FIELDS,
    ))
}

fn vnets(ctx: &Ctx) -> Result<Vec<Value>, Error> {
    const FIELDS: &[&str] = &[
        "vnet",
        "zone",
        "tag",
        "alias",
        "vlanaware",
        "isolate-ports",
        "state",
        "pending",
    ];
    Ok(trimmed(
        ctx.pve.get("/cluster/sdn/vnets", &pending())?,
        FIELDS,
    ))
}

fn subnets(ctx: &Ctx, vnet: &str) -> Result<Vec<Value>, Error> {
    const FIELDS: &[&str] = &[
        "subnet",
        "cidr",
        "gateway",
        "snat",
        "dhcp-range",
        "dhcp-dns-server",
        "state",
        "pending",
    ];
    let list = ctx.pve.get(
        &path(&[&"cluster", &"sdn", &"vnets", &vnet, &"subnets"]),
        &pending(),
    )?;
    Ok(trimmed(list, FIELDS))
}

/// The vnet `id`, or an error saying it does not exist.
fn vnet_of(ctx: &Ctx, id: &str) -> Result<Value, Error> {
    vnets(ctx)?
        .into_iter()
        .find(|v| text(v, "vnet") == id)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "GET /cluster/sdn/vnets: no vnet {id} (or the credentials lack SDN.Audit on it); list_sdn_vnets shows them"
            ))
        })
}

fn sdn_staged(mut out: Content, args: &Args) -> Content {
    if !args.flag("dry_run").unwrap_or(false) {
        out.insert("pending".into(), json!("pending in the SDN config, not active: apply_sdn_config applies it (dry_run lists what is pending)"));
    }
    out
}

fn list_sdn_zones(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    Ok(page(args, zones(ctx)?, &by_text("zone")))
}

fn list_sdn_vnets(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let zone = sdn_id(args, "zone")?;
    let mut list = vnets(ctx)?;
    if let Some(zone) = zone {
        list.retain(|v| text(v, "zone") == zone);
    }
    let mut out = page(args, list, &by_text("vnet"));
    // The subnets of the vnets shown (one request each).
    if let Some(Value::Array(shown)) = out.get_mut("data") {
        for vnet in shown.iter_mut() {
            let id = text(vnet, "vnet").to_string();
            vnet["subnets"] = Value::Array(subnets(ctx, &id)?);
        }
    }
    Ok(out)
}

fn create_sdn_vnet(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vnet = sdn_id(args, "vnet")?.unwrap_or_default();
    let zone_id = sdn_id(args, "zone")?.unwrap_or_default();
    // PVE's pattern: [\(\)-_.\w\d\s]{0,256} (the range ')'..'_' holds digits, capitals and
    // most punctuation).
    let alias_char =
        |c: char| c.is_alphanumeric() || c == ' ' || c == '(' || (')'..='_').contains(&c);
    if let Some(bad) = args
        .str("alias")
        .and_then(|a| a.chars().find(|c| !alias_char(*c)))
    {
        return Err(Error::Args(format!(
            "'alias' may hold letters, digits, spaces and ( ) * + , - . / : ; < = > ? @ [ ] ^ _, not {bad:?}"
        )));
    }
    let Some(zone) = zones(ctx)?.into_iter().find(|z| text(z, "zone") == zone_id) else {
        return Err(Error::NotFound(format!(
            "GET /cluster/sdn/zones: no zone {zone_id} (or the credentials lack SDN.Audit on it); list_sdn_zones shows them"
        )));
    };
    let kind = text(&zone, "type");
    let tag = args.int("tag");
    match (kind, tag) {
        ("simple", Some(_)) => {
            return Err(Error::Args(format!(
                "zone {zone_id} is a simple zone, which takes no tag"
            )))
        }
        ("vlan" | "qinq", None) => {
            return Err(Error::Args(format!(
                "zone {zone_id} is a {kind} zone: give the vnet's VLAN tag"
            )))
        }
        ("vlan" | "qinq", Some(t)) if t > 4094 => {
            return Err(Error::Args(format!(
                "zone {zone_id} is a {kind} zone: the tag is a VLAN id, 1 to 4094"
            )))
        }
        ("vxlan" | "evpn", None) => {
            return Err(Error::Args(format!(
                "zone {zone_id} is a {kind} zone: give the vnet's VNI as tag"
            )))
        }
        _ => {}
    }
    let all = vnets(ctx)?;
    if all.iter().any(|v| text(v, "vnet") == vnet) {
        return Err(Error::Denied(format!(
            "GET /cluster/sdn/vnets: vnet {vnet} already exists; list_sdn_vnets shows it"
        )));
    }
    let in_zone: Vec<Value> = all
        .into_iter()
        .filter(|v| text(v, "zone") == zone_id)
        .collect();
    let mut params: Params = vec![("vnet", vnet.to_string()), ("zone", zone_id.to_string())];
    if let Some(t) = tag {
        params.push(("tag", t.to_string()));
    }
    if let Some(a) = args.str("alias") {
        params.push(("alias", a.to_string()));
    }
    if let Some(v) = args.flag("vlanaware") {
        params.push(("vlanaware", bool01(v)));
    }
    let target = json!({"zone": zone, "vnets_in_zone": in_zone});
    let out = Change::post("/cluster/sdn/vnets".into(), params).send(ctx, args, || Ok(target))?;
    Ok(sdn_staged(out, args))
}

/// `FIRST-LAST` inside the subnet, as PVE's `start-address=…,end-address=…`.
fn dhcp_range(item: &str, net: IpAddr, len: u8) -> Result<String, Error> {
    let bad = || {
        Error::Args(format!(
            "dhcp_range '{item}' must be FIRST-LAST, two addresses in the subnet, FIRST <= LAST"
        ))
    };
    let (a, b) = item.split_once('-').ok_or_else(bad)?;
    let (a, b): (IpAddr, IpAddr) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if !in_net(net, len, a) || !in_net(net, len, b) || bits(a).0 > bits(b).0 {
        return Err(bad());
    }
    Ok(format!("start-address={a},end-address={b}"))
}

fn create_sdn_subnet(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vnet = sdn_id(args, "vnet")?.unwrap_or_default();
    let cidr = args.required_str("subnet")?;
    let Some((net, len)) = parse_cidr(cidr) else {
        return Err(Error::Args(format!(
            "'subnet' must be a network with its prefix, e.g. 10.0.10.0/24; got '{cidr}'"
        )));
    };
    if host_part(net, len) != 0 {
        return Err(Error::Args(format!(
            "'subnet' {cidr} has host bits set; give the network address (the gateway goes in 'gateway')"
        )));
    }
    let mut params: Params = vec![("type", "subnet".into()), ("subnet", cidr.to_string())];
    if let Some(gw) = args.str("gateway") {
        let ok = gw
            .parse::<IpAddr>()
            .is_ok_and(|ip| in_net(net, len, ip) && ip != net);
        if !ok {
            return Err(Error::Args(format!(
                "'gateway' must be an address inside {cidr} other than the network's, got '{gw}'"
            )));
        }
        params.push(("gateway", gw.to_string()));
    }
    if let Some(snat) = args.flag("snat") {
        params.push(("snat", bool01(snat)));
    }
    for item in args
        .0
        .get("dhcp_range")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        params.push((
            "dhcp-range",
            dhcp_range(item.as_str().unwrap_or_default(), net, len)?,
        ));
    }
    let current = vnet_of(ctx, vnet)?;
    let existing = subnets(ctx, vnet)?;
    if let Some(same) = existing.iter().find(|s| text(s, "cidr") == cidr) {
        return Err(Error::Denied(format!(
            "GET /cluster/sdn/vnets/{vnet}/subnets: vnet {vnet} already has subnet {cidr} ({})",
            text(same, "subnet")
        )));
    }
    let target = json!({"vnet": current, "subnets": existing});
    let out = Change::post(
        path(&[&"cluster", &"sdn", &"vnets", &vnet, &"subnets"]),
        params,
    )
    .send(ctx, args, || Ok(target))?;
    Ok(sdn_staged(out, args))
}

fn delete_sdn_vnet(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let vnet = sdn_id(args, "vnet")?.unwrap_or_default();
    let current = vnet_of(ctx, vnet)?;
    let target = || Ok(json!({"vnet": current, "subnets": subnets(ctx, vnet)?}));
    let out = Change::delete(path(&[&"cluster", &"sdn", &"vnets", &vnet]), Params::new())
        .send(ctx, args, target)?;
    Ok(sdn_staged(out, args))
}

fn apply_sdn_config(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    Change::put("/cluster/sdn".into(), Params::new()).send(ctx, args, || {
        let is_pending = |v: &Value| !text(v, "state").is_empty();
        let zones: Vec<Value> = zones(ctx)?.into_iter().filter(is_pending).collect();
        let all = vnets(ctx)?;
        let mut subnet_changes = Vec::new();
        for v in &all {
            let id = text(v, "vnet");
            for mut s in subnets(ctx, id)?.into_iter().filter(is_pending) {
                s["vnet"] = json!(id);
                subnet_changes.push(s);
            }
        }
        let vnets: Vec<Value> = all.into_iter().filter(is_pending).collect();
        let nothing = zones.is_empty() && vnets.is_empty() && subnet_changes.is_empty();
        let mut target = json!({"zones": zones, "vnets": vnets, "subnets": subnet_changes});
        if nothing {
            target["note"] = json!("nothing is pending: applying regenerates and reloads every node's SDN network config as it is");
        }
        Ok(target)
    })
}
