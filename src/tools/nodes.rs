//! Nodes, storage and the cluster's status: the original read tools about the cluster itself.

use serde_json::{json, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, path};

use super::list::{by_text, data, node_list, page, sort, text, trimmed};
use super::params::NODE_ROW;
use super::params::{LIMIT, LIST, NODE, OFFSET, STORAGE};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Mark, Output, Tool};

/// Nodes.
pub(super) static NODE_TOOLS: &[Tool] = &[
    Tool {
        name: "list_nodes",
        title: "List nodes",
        description: "Lists the cluster's nodes with their status and use.",
        privilege: "a valid login (nodes without Sys.Audit show less)",
        effect: Effect::Read,
        area: Area::Nodes,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(NODE_ROW),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: list_nodes,
    },
    Tool {
        name: "get_node_status",
        title: "Node status",
        description:
            "Returns one node's status: CPU, load, memory, disk, uptime, kernel and PVE version.",
        privilege: "Sys.Audit on /nodes/{node}",
        effect: Effect::Read,
        area: Area::Nodes,
        params: &[&NODE],
        output: Output::object(&[
            f("cpu", Ty::Num, "use, 0-1"),
            f("loadavg", Ty::Arr, "1, 5, 15 min"),
            f("memory", Ty::Obj, "total, used, free bytes"),
            f("swap", Ty::Obj, ""),
            f("rootfs", Ty::Obj, "root filesystem bytes"),
            f("uptime", Ty::Int, "seconds"),
            f("kversion", Ty::Str, ""),
            f("pveversion", Ty::Str, ""),
            f("cpuinfo", Ty::Obj, ""),
        ]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_node_status,
    },
];

/// Storage.
pub(super) static STORAGE_TOOLS: &[Tool] = &[
    Tool {
        name: "list_storage",
        title: "List storage",
        description: "Lists storages by name (cluster-wide: one entry per node).",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage} (others are not listed)",
        effect: Effect::Read,
        area: Area::Storage,
        params: LIST,
        output: Output::list(&[f("storage", Ty::Str, ""), f("node", Ty::Str, ""), f("type", Ty::Str, ""), f("content", Ty::Str, "content types, comma list"), f("shared", Ty::Int, "1 if shared"), f("status", Ty::Str, ""), f("enabled", Ty::Int, ""), f("active", Ty::Int, ""), f("total", Ty::Num, "bytes"), f("used", Ty::Num, "bytes"), f("avail", Ty::Num, "bytes")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: list_storage,
    },
    Tool {
        name: "get_storage_status",
        title: "Storage status",
        description: "Returns one storage's status and use on one node.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage}",
        effect: Effect::Read,
        area: Area::Storage,
        params: &[&STORAGE, &NODE],
        output: Output::object(&[f("type", Ty::Str, ""), f("content", Ty::Str, "content types"), f("active", Ty::Int, ""), f("enabled", Ty::Int, ""), f("shared", Ty::Int, ""), f("total", Ty::Num, "bytes"), f("used", Ty::Num, "bytes"), f("avail", Ty::Num, "bytes")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: get_storage_status,
    },
];

/// The cluster.
pub(super) static CLUSTER_TOOLS: &[Tool] = &[Tool {
    name: "get_cluster_status",
    title: "Cluster status",
    description: "Returns the cluster entry (quorum) first, then one entry per node.",
    privilege: "Sys.Audit on /",
    effect: Effect::Read,
    area: Area::Cluster,
    params: &[],
    output: Output::array(&[
        f("type", Ty::Str, "cluster or node"),
        f("name", Ty::Str, ""),
        f("quorate", Ty::Int, ""),
        f("nodes", Ty::Int, ""),
        f("online", Ty::Int, ""),
        f("ip", Ty::Str, ""),
        f("local", Ty::Int, "1: the node answering"),
    ]),
    idempotent: true,
    marks: &[Mark::Everyday],
    run: get_cluster_status,
}];

pub(super) fn list_nodes(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let nodes = ctx.pve.get("/nodes", &[])?;
    const FIELDS: &[&str] = &[
        "node", "status", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime", "level",
    ];
    Ok(page(args, trimmed(nodes, FIELDS), &by_text("node")))
}

fn get_node_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    data(ctx.pve.get(&path(&[&"nodes", &node, &"status"]), &[])?)
}

pub(super) fn list_storage(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
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

pub(super) fn get_storage_status(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let (node, storage) = (args.required_str("node")?, args.required_str("storage")?);
    data(ctx.pve.get(
        &path(&[&"nodes", &node, &"storage", &storage, &"status"]),
        &[],
    )?)
}

pub(super) fn get_cluster_status(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let mut items: Vec<Value> = match ctx.pve.get("/cluster/status", &[])? {
        Value::Array(a) => a.into_iter().filter(Value::is_object).collect(),
        _ => Vec::new(),
    };
    sort(&mut items, &|a: &Value, b: &Value| {
        (text(a, "type") != "cluster")
            .cmp(&(text(b, "type") != "cluster"))
            .then_with(|| text(a, "name").cmp(text(b, "name")))
    });
    data(Value::Array(items))
}
