//! The catalogue of tools: every area's table chained into `TOOLS`, in the order `tools/list`
//! shows them, and the invariants every row keeps.
//!
//! `tools/list`, argument validation, access levels, the `tools` and `call` commands and the agent
//! card are all generated from `TOOLS`. A handler takes `(&Ctx, &Args)` and returns the result's
//! `structuredContent` object (`{"data": …, …}`) or an `Error`. The machinery the areas share
//! lives in its own files: `table` (row types, schemas), `params` (shared parameters), `args`
//! (validation), `run` (the run path), `change` (writes, dry runs, task following), `list`
//! (lists, paging, the cap), `guest` (finding and naming guests), `keys` (guest config keys).

use std::sync::LazyLock;

use crate::error::Error;
use crate::policy::Policy;

mod change;
mod guest;
mod keys;
mod list;
mod params;
mod run;
mod table;
mod validate;

mod admin;
mod backups;
mod exec;
mod guest_config;
mod guests;
mod monitor;
mod nodes;
mod power;
mod snapshots;
mod storage;
mod tasks;

pub use crate::policy::{Area, Effect, AREAS};
pub use list::{cap, MAX_RESULT};
pub use run::run;
pub use table::{
    acl_base, granted, Args, Content, Ctx, Kind, Mark, Output, Param, Sleep, Tool, Waiter,
    COMMON_PARAMS,
};
pub use validate::validate;

/// Every tool, in the order `tools/list` shows them (the original tools first, as they always
/// were): the areas' tables, chained.
pub static TOOLS: LazyLock<Vec<&'static Tool>> = LazyLock::new(|| {
    let tables: [&[Tool]; 16] = [
        nodes::NODE_TOOLS,
        power::VM_TOOLS,
        snapshots::VM_TOOLS,
        power::CONTAINER_TOOLS,
        nodes::STORAGE_TOOLS,
        tasks::TOOLS,
        nodes::CLUSTER_TOOLS,
        guests::TOOLS,
        guest_config::TOOLS,
        guests::DELETE_TOOLS,
        snapshots::MORE_TOOLS,
        backups::TOOLS,
        storage::TOOLS,
        monitor::TOOLS,
        exec::TOOLS,
        admin::TOOLS,
    ];
    tables.into_iter().flatten().collect()
});

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name).copied()
}

/// The tools `policy` offers, in table order: what `tools/list` shows.
pub fn active(policy: &Policy) -> impl Iterator<Item = &'static Tool> + '_ {
    TOOLS.iter().copied().filter(|t| t.allowed(policy).is_ok())
}

/// Checks a `PROXMOX_MCP_TOOLS`-style list: every entry must be a tool or a group name.
pub fn check_names(var: &str, names: &[String]) -> Result<(), Error> {
    for n in names {
        let known = find(n).is_some()
            || ["read", "operate", "destroy"].contains(&n.as_str())
            || AREAS.contains(&n.as_str());
        if !known {
            return Err(Error::Config(format!(
                "{var}: '{n}' is neither a tool nor a group; groups are read, operate, destroy, {} (tools: proxmox-mcp-server tools)",
                AREAS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks the names `PROXMOX_MCP_TOOLS` (`allow`) and `PROXMOX_MCP_DENY_TOOLS` (`deny`) give.
pub fn check_selection(allow: &[String], deny: &[String]) -> Result<(), Error> {
    check_names("PROXMOX_MCP_TOOLS", allow)?;
    check_names("PROXMOX_MCP_DENY_TOOLS", deny)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Access;

    #[test]
    fn table_invariants() {
        let mut names = std::collections::HashSet::new();
        for t in TOOLS.iter() {
            assert!(names.insert(t.name), "duplicate tool {}", t.name);
            assert!(
                t.name.len() <= 128 && t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                t.name
            );
            assert!(
                t.description.ends_with('.') && t.description.len() > 40,
                "{}: description",
                t.name
            );
            assert!(!t.title.is_empty() && !t.privilege.is_empty());
            // `check` reads the privilege text: it is "a valid login …" or "PRIV[ or PRIV] on /PATH …".
            match t.requirement() {
                None => assert!(t.privilege.starts_with("a valid login"), "{}", t.name),
                Some((privs, path)) => {
                    assert!(path.starts_with('/'), "{}: {path}", t.name);
                    assert!(
                        privs.iter().all(|p| p.contains('.') && !p.contains(' ')),
                        "{}: {privs:?}",
                        t.name
                    );
                }
            }
            for p in t.params {
                assert!(!p.description.is_empty(), "{}.{}", t.name, p.name);
            }
            // The effect follows from the name.
            let verb = t.name.split('_').next().unwrap_or_default();
            let expected = match verb {
                "list" | "get" | "wait" => Effect::Read,
                "delete" | "remove" | "rollback" | "exec" => Effect::Destroy,
                _ => Effect::Operate,
            };
            assert_eq!(t.effect, expected, "{}", t.name);
            // Tools that start tasks wait and can be dry-run; nothing else takes those arguments.
            let has = |n: &str| t.params.iter().any(|p| p.name == n);
            let starts_task = t.output == Output::Task && t.effect != Effect::Read;
            let task_args = has("wait_seconds") && has("dry_run") && has("stop_on_cancel");
            assert_eq!(starts_task, task_args, "{}", t.name);
            assert_eq!(t.output == Output::List, has("limit"), "{}", t.name);
            if t.name.starts_with("list_") {
                assert!(has("limit") && has("offset"), "{}", t.name);
            }
            // A hard stop loses the guest's unsaved state; exec needs pct only in a container.
            if t.name.starts_with("stop_") || t.name == "reset_vm" {
                assert!(t.has(Mark::MayLoseData), "{}", t.name);
            }
            assert_eq!(t.has(Mark::OnPveNode), t.name == "exec_in_container");
            // Only a tool whose vmid is optional (the next free one by default) creates a guest.
            if t.has(Mark::NewGuest) {
                assert!(
                    t.params.iter().any(|p| p.name == "vmid" && !p.required),
                    "{}",
                    t.name
                );
            }
            // node is optional wherever vmid identifies a guest.
            if t.params.iter().any(|p| p.name == "vmid" && p.required) {
                assert!(
                    t.params.iter().any(|p| p.name == "node" && !p.required),
                    "{}",
                    t.name
                );
            }
        }
        assert!(TOOLS.len() >= 23);
        // Every area, in the order help texts and `tools --json` list them.
        assert_eq!(
            AREAS.join(" "),
            "nodes vms containers snapshots storage tasks cluster backups network firewall access pools ha certificates metrics exec"
        );
    }

    #[test]
    fn selection() {
        let find = |n: &str| find(n).unwrap();
        let p = Policy {
            allow: vec!["read".into(), "start_vm".into()],
            deny: vec!["tasks".into()],
            ..Policy::with_access(Access::Full)
        };
        assert!(find("list_vms").allowed(&p).is_ok());
        assert!(find("start_vm").allowed(&p).is_ok());
        assert!(find("stop_vm").allowed(&p).is_err());
        assert!(find("list_tasks").allowed(&p).is_err());
        assert!(find("list_tasks")
            .allowed(&p)
            .unwrap_err()
            .to_string()
            .contains("PROXMOX_MCP_DENY_TOOLS names tasks"));
        assert!(find("stop_vm")
            .allowed(&p)
            .unwrap_err()
            .to_string()
            .contains("PROXMOX_MCP_TOOLS=read,start_vm"));
        assert!(check_names("PROXMOX_MCP_TOOLS", &["vms".into(), "get_vm_status".into()]).is_ok());
        assert!(check_names("PROXMOX_MCP_TOOLS", &["vm".into()])
            .unwrap_err()
            .to_string()
            .contains("'vm' is neither a tool nor a group"));
    }
}
