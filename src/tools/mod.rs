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

mod access;
mod admin;
pub mod alerts;
mod backups;
mod certs;
mod exec;
mod firewall;
mod guest_config;
mod guests;
mod ha;
mod health;
mod monitor;
mod network;
mod nodes;
mod notifications;
mod pools;
mod power;
mod provision;
mod sdn;
mod snapshots;
mod storage;
mod tasks;

pub use crate::policy::{Area, Effect, ALL_TOOLS, AREAS, DEFAULT_SET};
pub use access::secrets_dir;
pub use list::{cap, MAX_RESULT};
pub use run::run;
pub use table::{
    acl_base, granted, Args, Content, Ctx, Field, Kind, Mark, Output, Param, Shape, Sleep, Tool,
    Ty, Waiter,
};
pub use validate::validate;

/// Every tool, in the order `tools/list` shows them (the original tools first, as they always
/// were): the areas' tables, chained.
pub static TOOLS: LazyLock<Vec<&'static Tool>> = LazyLock::new(|| {
    let tables: [&[Tool]; 27] = [
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
        alerts::TOOLS,
        health::TOOLS,
        notifications::TOOLS,
        exec::TOOLS,
        admin::TOOLS,
        provision::TOOLS,
        access::TOOLS,
        pools::TOOLS,
        ha::TOOLS,
        certs::TOOLS,
        firewall::TOOLS,
        network::TOOLS,
        sdn::TOOLS,
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

/// Checks a `PROXMOX_MCP_TOOLS`-style list: every entry must be a tool or a group name (and
/// `default` or `all` where `sets` allows them).
pub fn check_names(var: &str, names: &[String], sets: bool) -> Result<(), Error> {
    for n in names {
        let set = [DEFAULT_SET, ALL_TOOLS].contains(&n.as_str());
        if set && !sets {
            return Err(Error::Config(format!(
                "{var}: '{n}' names a set of toolsets, which only PROXMOX_MCP_TOOLS takes; name tools, toolsets ({}) or effects (read, operate, destroy) here",
                AREAS.join(", ")
            )));
        }
        let known = set
            || find(n).is_some()
            || ["read", "operate", "destroy"].contains(&n.as_str())
            || AREAS.contains(&n.as_str());
        if !known {
            return Err(Error::Config(format!(
                "{var}: '{n}' is neither a tool nor a group; groups are default, all, read, operate, destroy and the toolsets {} (tools: proxmox-mcp-server tools)",
                AREAS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks the names `PROXMOX_MCP_TOOLS` (`allow`) and `PROXMOX_MCP_DENY_TOOLS` (`deny`) give.
pub fn check_selection(allow: &[String], deny: &[String]) -> Result<(), Error> {
    check_names("PROXMOX_MCP_TOOLS", allow, true)?;
    check_names("PROXMOX_MCP_DENY_TOOLS", deny, false)
}

/// One toolset as a policy has it: how many of the tools whose own area it is are listed, of
/// those that loading it would list (`available`; 0 when the access level, the exec switch or
/// `PROXMOX_MCP_DENY_TOOLS` leave none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toolset {
    pub area: Area,
    pub listed: usize,
    pub available: usize,
}

impl Toolset {
    /// Every tool it could list is listed.
    pub fn loaded(&self) -> bool {
        self.available > 0 && self.listed == self.available
    }
    /// It has tools to list, but none is listed.
    pub fn unloaded(&self) -> bool {
        self.available > 0 && self.listed == 0
    }
}

/// Every toolset, in `Area::ALL` order, with what `policy` lists of it.
pub fn toolsets(policy: &Policy) -> Vec<Toolset> {
    Area::ALL
        .iter()
        .map(|&area| {
            let own = TOOLS.iter().filter(|t| t.area == area);
            Toolset {
                area,
                listed: own.clone().filter(|t| t.allowed(policy).is_ok()).count(),
                available: own.filter(|t| t.available(policy)).count(),
            }
        })
        .collect()
}

/// The toolsets in one line, for `check` and `tools`: those listed (`(partly)` when some of
/// their tools are not), then those not loaded.
pub fn toolsets_line(policy: &Policy) -> String {
    let sets = toolsets(policy);
    let listed: Vec<String> = sets
        .iter()
        .filter(|s| s.listed > 0)
        .map(|s| match s.loaded() {
            true => s.area.name().to_string(),
            false => format!("{} (partly)", s.area.name()),
        })
        .collect();
    let unloaded: Vec<&str> = sets
        .iter()
        .filter(|s| s.unloaded())
        .map(|s| s.area.name())
        .collect();
    let mut line = format!(
        "{} (PROXMOX_MCP_TOOLS={})",
        if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join(", ")
        },
        policy.selection()
    );
    if !unloaded.is_empty() {
        line.push_str(&format!("; not loaded: {}", unloaded.join(", ")));
    }
    line
}

/// For the server's instructions: the toolsets with tools this server does not list, one line
/// each with what it holds, and the setting that loads them; empty when every toolset is loaded.
pub fn unloaded_note(policy: &Policy) -> String {
    let missing: Vec<Toolset> = toolsets(policy)
        .into_iter()
        .filter(|s| s.available > s.listed)
        .collect();
    let Some(first) = missing.first() else {
        return String::new();
    };
    let mut note = String::from(
        "\nToolsets not (fully) loaded on this server (their tools are not listed; tell the user if one is needed):",
    );
    for s in &missing {
        let info = s.area.info();
        // A toolset the default set lists in part names the tools it leaves out.
        let partly = if s.listed > 0 {
            let left: Vec<&str> = TOOLS
                .iter()
                .filter(|t| t.area == s.area && t.available(policy) && t.allowed(policy).is_err())
                .map(|t| t.name)
                .collect();
            format!(" (not listed: {})", left.join(", "))
        } else {
            String::new()
        };
        note.push_str(&format!("\n- {}: {}{partly}", info.name, info.holds));
    }
    note.push_str(&format!(
        "\nThe user loads them by setting PROXMOX_MCP_TOOLS (e.g. PROXMOX_MCP_TOOLS={},{} or PROXMOX_MCP_TOOLS=all) and restarting the server.",
        policy.selection(),
        first.area.name()
    ));
    note
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
            // A sentence of what it does; the fields it returns are the outputSchema's.
            assert!(
                t.description.ends_with('.') && t.description.len() > 20,
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
                // Applying staged network changes can cut nodes and guests off.
                "delete" | "remove" | "rollback" | "exec" | "revoke" | "apply" => Effect::Destroy,
                // Needs access full without losing anything (`Mark::Outward`).
                _ if t.has(Mark::Outward) => Effect::Destroy,
                _ => Effect::Operate,
            };
            match (t.area, expected) {
                // Changing users, groups, tokens or permissions changes who may do what, and a
                // node's certificate is what browsers and this server's pin trust: access full,
                // whatever the verb.
                (Area::Access | Area::Certificates, Effect::Operate) => {
                    assert_eq!(t.effect, Effect::Destroy, "{}", t.name)
                }
                // A change that can cut every client off (firewall options) needs `full`
                // although its verb does not say so.
                (_, Effect::Operate) => assert_ne!(t.effect, Effect::Read, "{}", t.name),
                _ => assert_eq!(t.effect, expected, "{}", t.name),
            }
            // Tools that start tasks wait and can be dry-run; nothing else waits.
            let has = |n: &str| t.params.iter().any(|p| p.name == n);
            let starts_task = t.output.shape == Shape::Task && t.effect != Effect::Read;
            let task_args = has("wait_seconds") && has("dry_run") && has("stop_on_cancel");
            assert_eq!(starts_task, task_args, "{}", t.name);
            // A change PVE makes at once has no task to wait for or stop.
            if t.output.shape == Shape::Done {
                assert!(has("dry_run") && !has("wait_seconds"), "{}", t.name);
                assert!(
                    !has("stop_on_cancel") && t.effect != Effect::Read,
                    "{}",
                    t.name
                );
            }
            assert_eq!(t.output.shape == Shape::List, has("limit"), "{}", t.name);
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
            // A tool's toolsets: its own area first, each other one once.
            let areas = t.areas();
            assert_eq!(areas[0], t.area, "{}", t.name);
            for (i, a) in areas.iter().enumerate() {
                assert!(
                    !areas[i + 1..].contains(a),
                    "{}: {} twice",
                    t.name,
                    a.name()
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
            "nodes vms containers snapshots storage tasks cluster backups provisioning network sdn firewall access pools ha certificates metrics health notifications exec"
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
        // `default` goes by a tool's own row: exec_in_vm acts on VMs but is not an everyday
        // tool, so only `exec`, `vms`, `all` or its name list it.
        let exec = |allow: &[&str]| Policy {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            allow_exec: true,
            ..Policy::with_access(Access::Full)
        };
        let exec_in_vm = find("exec_in_vm");
        assert!(exec_in_vm.allowed(&exec(&[])).is_err());
        assert!(exec_in_vm.allowed(&exec(&["default"])).is_err());
        for loads in ["exec", "vms", "all", "exec_in_vm", "destroy"] {
            assert!(exec_in_vm.allowed(&exec(&[loads])).is_ok(), "{loads}");
        }
        assert!(exec_in_vm.available(&exec(&[])));
        assert!(check_names(
            "PROXMOX_MCP_TOOLS",
            &["vms".into(), "get_vm_status".into(), "all".into()],
            true
        )
        .is_ok());
        assert!(
            check_names("PROXMOX_MCP_DENY_TOOLS", &["default".into()], false)
                .unwrap_err()
                .to_string()
                .contains("only PROXMOX_MCP_TOOLS takes")
        );
        assert!(check_names("PROXMOX_MCP_TOOLS", &["vm".into()], true)
            .unwrap_err()
            .to_string()
            .contains("'vm' is neither a tool nor a group"));
    }
}
