//! MCP resources (cluster resources, node status, guest config, as JSON documents) and prompts
//! (`health_check`, `safe_change`). Each resource belongs to the read tool that reads the same
//! thing: it is listed only when that tool is listed, and reading it runs the tool through
//! `tools::run`, so it gets the same policy, validation, cap and error texts.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::Policy;
use crate::pve::as_u64;
use crate::tools::{self, Args, Content, Ctx, Tool};

/// The tool behind `proxmox://cluster/resources`.
const CLUSTER_TOOL: &str = "get_cluster_resources";
/// The tool behind `proxmox://node/{node}/status`.
const NODE_TOOL: &str = "get_node_status";
/// The tool behind `proxmox://alerts` (the one resource a client can subscribe to).
const ALERTS_TOOL: &str = "get_alerts";
/// The alerts resource: `get_alerts`' whole result, re-checked while subscribed.
pub const ALERTS_URI: &str = "proxmox://alerts";
/// The tools behind `proxmox://guest/{vmid}/config`: one per guest kind (`qemu`, `lxc`).
const GUEST_TOOLS: [(&str, &str); 2] = [("qemu", "get_vm_config"), ("lxc", "get_container_config")];

/// Whether the policy lists the tool `name` (and so offers the resources it reads).
fn offered(policy: &Policy, name: &str) -> bool {
    tools::find(name).is_some_and(|t| t.allowed(policy).is_ok())
}

/// Whether the policy offers the fixed resource `uri` (its tool is listed); the policy's
/// refusal, naming the setting, when it does not.
pub fn offered_uri(policy: &Policy, uri: &str) -> Result<(), String> {
    let tool = match uri {
        "proxmox://cluster/resources" => CLUSTER_TOOL,
        ALERTS_URI => ALERTS_TOOL,
        _ => return Err(format!("{uri} is not a resource of this server")),
    };
    match tools::find(tool).map(|t| t.allowed(policy)) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("{uri} is not a resource of this server")),
    }
}

/// Fixed resources, as far as the policy lists their tools.
pub fn list(policy: &Policy) -> Value {
    let mut out = Vec::new();
    if offered(policy, CLUSTER_TOOL) {
        out.push(json!({
            "uri": "proxmox://cluster/resources",
            "name": "cluster-resources",
            "title": "Cluster resources",
            "description": "Every node, guest and storage of the cluster with status and usage (GET /cluster/resources).",
            "mimeType": "application/json",
        }));
    }
    if offered(policy, ALERTS_TOOL) {
        out.push(json!({
            "uri": ALERTS_URI,
            "name": "alerts",
            "title": "Alerts",
            "description": "What is wrong in the cluster now, most severe first, each with the tool that looks closer (get_alerts). Subscribe to be told when an alert appears, clears or changes severity.",
            "mimeType": "application/json",
        }));
    }
    Value::Array(out)
}

/// Resource templates, as far as the policy lists their tools.
pub fn templates(policy: &Policy) -> Value {
    let mut out = Vec::new();
    if offered(policy, NODE_TOOL) {
        out.push(json!({
            "uriTemplate": "proxmox://node/{node}/status",
            "name": "node-status",
            "title": "Node status",
            "description": "One node's CPU, memory, disk, load and versions (GET /nodes/{node}/status).",
            "mimeType": "application/json",
        }));
    }
    if GUEST_TOOLS.iter().any(|(_, t)| offered(policy, t)) {
        out.push(json!({
            "uriTemplate": "proxmox://guest/{vmid}/config",
            "name": "guest-config",
            "title": "Guest configuration",
            "description": "A VM's or container's configuration, found by VMID anywhere in the cluster.",
            "mimeType": "application/json",
        }));
    }
    Value::Array(out)
}

/// Why a resource read failed: an unknown URI (a protocol error), a resource whose tool the
/// policy turned off (the policy's text, naming the setting), or a failed read (its text).
pub enum ReadError {
    NotFound(String),
    Denied(String),
    Failed(Error),
}

/// The whole of `GET /cluster/resources`, as PVE sends it (the resource's document, unlike the
/// tool's sorted, filtered pages).
fn whole_cluster_resources(ctx: &Ctx, _args: &Args) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), ctx.pve.get("/cluster/resources", &[])?);
    Ok(out)
}

/// `resources/read`: the document for `uri`.
pub fn read(ctx: &Ctx, policy: &Policy, uri: &str) -> Result<Value, ReadError> {
    let not_found = || ReadError::NotFound(uri.to_string());
    // The tool's whole result.
    let whole = |tool: &Tool, args: Value| -> Result<Content, ReadError> {
        let args = args.as_object().cloned().unwrap_or_default();
        tools::run(ctx, tool, &args).map_err(|e| match e {
            Error::Denied(why) => ReadError::Denied(why),
            e => ReadError::Failed(e),
        })
    };
    // Its `data`, or the whole result when cut to 64 KiB, so the cut and its hint stay visible.
    let run = |tool: &Tool, args: Value| -> Result<Value, ReadError> {
        let c = whole(tool, args)?;
        Ok(match c.get("truncated") == Some(&Value::Bool(true)) {
            true => Value::Object(c),
            false => c.get("data").cloned().unwrap_or(Value::Null),
        })
    };
    let tool = |name: &str| tools::find(name).ok_or_else(not_found);
    let rest = uri.strip_prefix("proxmox://").ok_or_else(not_found)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let data = match parts[..] {
        ["cluster", "resources"] => {
            // The tool's row (name, effect, area: the same policy decision) with a handler
            // that keeps PVE's whole list.
            let whole = Tool {
                run: whole_cluster_resources,
                ..*tool(CLUSTER_TOOL)?
            };
            run(&whole, json!({}))?
        }
        // The whole result (alerts and counts): what get_alerts returns.
        ["alerts"] => Value::Object(whole(tool(ALERTS_TOOL)?, json!({}))?),
        ["node", node, "status"] => run(tool(NODE_TOOL)?, json!({"node": node}))?,
        ["guest", vmid, "config"] => {
            let vmid: u64 = vmid.parse().map_err(|_| not_found())?;
            // Nothing is looked up when the policy turned off both kinds.
            let mut refusals = Vec::new();
            for (_, name) in GUEST_TOOLS {
                match tool(name)?.allowed(policy) {
                    Ok(()) => break,
                    Err(e) => refusals.push(e),
                }
            }
            if refusals.len() == GUEST_TOOLS.len() {
                return Err(ReadError::Denied(refusals.swap_remove(0).to_string()));
            }
            let resources = ctx
                .pve
                .get("/cluster/resources", &[("type", "vm".into())])
                .map_err(ReadError::Failed)?;
            let guest = resources
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r.get("vmid").and_then(as_u64) == Some(vmid))
                .ok_or_else(not_found)?;
            let node = guest
                .get("node")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = guest
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (_, name) = GUEST_TOOLS
                .iter()
                .find(|(k, _)| *k == kind)
                .ok_or_else(not_found)?;
            run(tool(name)?, json!({"vmid": vmid, "node": node}))?
        }
        _ => return Err(not_found()),
    };
    Ok(
        json!({"contents": [{"uri": uri, "mimeType": "application/json", "text": data.to_string()}]}),
    )
}

/// The prompts: name, title, description, arguments.
pub fn prompts() -> Value {
    json!([
        {
            "name": "health_check",
            "title": "Cluster health check",
            "description": "Check the cluster: the alerts (nodes, quorum, storage, failed tasks, backups, disks, Ceph, certificates), each looked at closer, and guests that should run.",
            "arguments": [],
        },
        {
            "name": "safe_change",
            "title": "Safe change with rollback",
            "description": "Change a VM safely: snapshot first, make the change, verify it, roll back to the snapshot if it went wrong.",
            "arguments": [
                {"name": "vmid", "description": "the VM to change", "required": true},
                {"name": "change", "description": "what to change, in words", "required": true},
            ],
        },
    ])
}

/// `prompts/get`: Err(message) for an unknown prompt or missing arguments (-32602).
pub fn prompt(name: &str, args: &Map<String, Value>) -> Result<Value, String> {
    let arg = |key: &str| -> Result<String, String> {
        match args.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!("prompt {name} needs the argument '{key}'")),
        }
    };
    let (description, text) = match name {
        "health_check" => (
            "Cluster health check",
            "Check the health of this Proxmox VE cluster and report briefly, worst first:\n\
             1. get_alerts: every rule at once (nodes and quorum, storage fill, memory, failed tasks, backup age, HA, replication, ZFS, SMART, Ceph, certificates, updates), most severe first.\n\
             2. For each critical or warning alert, call the tool its next field names with those arguments to see the details; an info alert naming a missing privilege means that rule was not checked: say so.\n\
             3. list_vms and list_containers: guests that are stopped or locked and may be expected to run (ask before starting any).\n\
             Change nothing; end with a short list of what needs attention, worst first, each with the alert id and what to do."
                .to_string(),
        ),
        "safe_change" => {
            let vmid = arg("vmid")?;
            let change = arg("change")?;
            if vmid.parse::<u64>().map_or(true, |v| !(100..=999_999_999).contains(&v)) {
                return Err(format!("prompt safe_change: vmid '{vmid}' is not a VMID (100-999999999)"));
            }
            (
                "Safe change with rollback",
                format!(
                    "Make this change to VM {vmid} safely: {change}\n\
                     1. get_vm_status and get_vm_config for VM {vmid}: note its state and config digest.\n\
                     2. create_vm_snapshot with vmid {vmid} and snapname pre-change (add a short description); stop if it fails.\n\
                     3. Make the change with the fitting tool, first with dry_run: true to show the exact request, then for real.\n\
                     4. Verify: get_vm_status (and get_vm_config) show the intended result; the VM runs if it ran before.\n\
                     5. If the change failed or the check does not pass, rollback_vm_snapshot to pre-change and report what happened.\n\
                     6. Otherwise tell the user the change worked and that the snapshot pre-change can be deleted with delete_vm_snapshot once they are sure.\n\
                     Ask the user before any step that can lose data."
                ),
            )
        }
        _ => return Err(format!("unknown prompt: {name}")),
    };
    Ok(json!({
        "description": description,
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    }))
}
