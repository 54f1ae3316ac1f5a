//! MCP resources (cluster resources, node status, guest config, as JSON documents) and prompts
//! (`health_check`, `safe_change`). Reading a resource runs the matching read tool through
//! `tools::run`, so it gets the same validation, policy and error texts.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::Policy;
use crate::pve::as_u64;
use crate::tools::{self, Ctx};

/// Fixed resources.
pub fn list() -> Value {
    json!([{
        "uri": "proxmox://cluster/resources",
        "name": "cluster-resources",
        "title": "Cluster resources",
        "description": "Every node, guest and storage of the cluster with status and usage (GET /cluster/resources).",
        "mimeType": "application/json",
    }])
}

/// Resource templates.
pub fn templates() -> Value {
    json!([
        {
            "uriTemplate": "proxmox://node/{node}/status",
            "name": "node-status",
            "title": "Node status",
            "description": "One node's CPU, memory, disk, load and versions (GET /nodes/{node}/status).",
            "mimeType": "application/json",
        },
        {
            "uriTemplate": "proxmox://guest/{vmid}/config",
            "name": "guest-config",
            "title": "Guest configuration",
            "description": "A VM's or container's configuration, found by VMID anywhere in the cluster.",
            "mimeType": "application/json",
        },
    ])
}

/// Why a resource read failed: an unknown URI (a protocol error) or a failed read (its text).
pub enum ReadError {
    NotFound(String),
    Failed(Error),
}

/// `resources/read`: the document for `uri`.
pub fn read(ctx: &Ctx, policy: &Policy, uri: &str) -> Result<Value, ReadError> {
    let run = |tool: &str, args: Value| -> Result<Value, ReadError> {
        let tool = tools::find(tool).ok_or_else(|| ReadError::NotFound(uri.to_string()))?;
        let args = args.as_object().cloned().unwrap_or_default();
        tools::run(ctx, policy, tool, &args)
            .map(|c| c.get("data").cloned().unwrap_or(Value::Null))
            .map_err(ReadError::Failed)
    };
    let rest = uri
        .strip_prefix("proxmox://")
        .ok_or_else(|| ReadError::NotFound(uri.to_string()))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let data = match parts[..] {
        ["cluster", "resources"] => ctx
            .pve
            .get("/cluster/resources", &[])
            .map_err(ReadError::Failed)?,
        ["node", node, "status"] => run("get_node_status", json!({"node": node}))?,
        ["guest", vmid, "config"] => {
            let vmid: u64 = vmid
                .parse()
                .map_err(|_| ReadError::NotFound(uri.to_string()))?;
            let resources = ctx
                .pve
                .get("/cluster/resources", &[("type", "vm".into())])
                .map_err(ReadError::Failed)?;
            let guest = resources
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r.get("vmid").and_then(as_u64) == Some(vmid));
            let Some(guest) = guest else {
                return Err(ReadError::NotFound(uri.to_string()));
            };
            let node = guest
                .get("node")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = guest
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let path = crate::pve::path(&[&"nodes", &node, &kind, &vmid, &"config"]);
            ctx.pve.get(&path, &[]).map_err(ReadError::Failed)?
        }
        _ => return Err(ReadError::NotFound(uri.to_string())),
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
            "description": "Check the cluster: quorum and nodes, storage fill, guests that should run, tasks that failed in the last day.",
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
             1. get_cluster_status: is the cluster quorate, are all nodes online?\n\
             2. list_nodes: CPU, memory and root disk use per node; flag anything above 85 %.\n\
             3. list_storage: flag storages above 80 % used or not available.\n\
             4. list_vms and list_containers: guests that are stopped or locked and may be expected to run (ask before starting any).\n\
             5. list_tasks with errors: true: tasks that failed in the last 24 hours (compare starttime with now), with get_task_log for the last lines of each.\n\
             Change nothing; end with a short list of what needs attention."
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
