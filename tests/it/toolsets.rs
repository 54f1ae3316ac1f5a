//! Toolsets: what `PROXMOX_MCP_TOOLS` lists (unset: the default set of everyday tools; `all`; toolsets,
//! effects and names as a union), `PROXMOX_MCP_DENY_TOOLS` after it, the server's instructions
//! naming the toolsets not loaded, and the `tools` and `check` commands showing them.

use proxmox_mcp_server::mcp::Server;
use proxmox_mcp_server::policy::{Access, Policy};
use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::support::{config, error_text, session, FakePve};

/// The names `tools/list` shows under these settings.
fn listed(settings: &[(&str, &str)]) -> Vec<String> {
    let fake = FakePve::new();
    let mut names = Vec::new();
    session(&fake, settings, |c| {
        names = c
            .tools
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
    });
    assert!(fake.requests().is_empty(), "listing asks PVE nothing");
    names
}

/// The `instructions` of the initialize result under these settings.
fn instructions(settings: &[(&str, &str)]) -> String {
    let fake = FakePve::new();
    let config = config(&fake, settings);
    let pve = Pve::new(&config).unwrap();
    let policy: &'static Policy = Box::leak(Box::new(Policy::new(&config).unwrap()));
    let mut server = Server::new(&pve, policy, config.task_wait);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}});
    let reply = server.handle_line(init.to_string().as_bytes()).unwrap();
    reply["result"]["instructions"]
        .as_str()
        .expect("instructions")
        .to_string()
}

fn has(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == name)
}

/// The lines of the instructions that name a toolset not loaded (`- NAME: what it holds`).
fn unloaded_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("- ")).collect()
}

#[test]
fn unset_lists_the_default_toolsets_and_the_instructions_name_the_others() {
    let names = listed(&[("PROXMOX_MCP_ACCESS", "full")]);
    for everyday in [
        "list_nodes",
        "list_vms",
        "start_vm",
        "list_containers",
        "create_vm_snapshot",
        "delete_container_snapshot",
        "list_storage",
        "list_tasks",
        "get_cluster_status",
        "create_backup",
        "get_vm_agent_info",
        "get_alerts",
    ] {
        assert!(has(&names, everyday), "{everyday}: {names:?}");
    }
    for opt_in in [
        "rollback_container_snapshot",
        "suspend_vm",
        "restore_backup",
        "list_backup_jobs",
        "get_vm_metrics",
        "list_zfs_pools",
        "list_node_networks",
        "list_firewall_rules",
        "add_firewall_rule",
        "list_users",
        "get_my_permissions",
        "list_pools",
        "get_ha_status",
        "list_node_certificates",
        "create_vm",
        "clone_container",
        "delete_vm",
        "download_to_storage",
        "get_next_vmid",
    ] {
        assert!(!has(&names, opt_in), "{opt_in}");
    }
    // Within what every host carries (Cursor has capped a session at 40 tools).
    assert_eq!(names.len(), 36, "{names:?}");

    let text = instructions(&[("PROXMOX_MCP_ACCESS", "full")]);
    assert_eq!(
        unloaded_lines(&text),
        [
            "- vms: QEMU VMs: list, status, config, power (not listed: suspend_vm, resume_vm, reset_vm)",
            "- containers: LXC containers: list, status, config, power (not listed: suspend_container, resume_container)",
            "- snapshots: guest snapshots: list, take, roll back, delete (not listed: rollback_vm_snapshot, rollback_container_snapshot)",
            "- cluster: cluster status, resources and log, PVE version (not listed: get_version, get_cluster_log)",
            "- backups: backups (vzdump), restores, backup jobs (not listed: restore_backup, delete_backup, list_backup_jobs)",
            "- provisioning: create, clone, provision, migrate, reconfigure, resize and delete guests; bulk start, shutdown, migrate; ISO and template downloads; next free VMID",
            "- network: nodes' network interfaces: list, create, change, delete, apply or revert staged changes",
            "- sdn: software-defined networking: zones, vnets and subnets, applying SDN changes",
            "- firewall: firewall rules, IP sets, aliases, security groups and options of the cluster, nodes and guests",
            "- access: users, API tokens, ACLs, this server's own permissions",
            "- pools: resource pools and their members",
            "- ha: high availability: status, rules and the guests it manages",
            "- certificates: nodes' TLS certificates and ACME",
            "- metrics: RRD metrics of nodes, guests and storages",
            "- health: alerts, replication, pending updates, syslog and journal, disks and SMART, ZFS pools, Ceph health (not listed: list_replication_jobs, list_node_updates, get_node_syslog, get_node_journal, refresh_node_updates, list_node_disks, get_disk_smart, list_zfs_pools, get_zfs_pool, get_ceph_status)",
            "- notifications: PVE's notification targets (webhook, gotify, smtp, sendmail) and matchers",
        ],
        "{text}"
    );
    assert!(
        text.contains("The user loads them by setting PROXMOX_MCP_TOOLS (e.g. PROXMOX_MCP_TOOLS=default,vms or PROXMOX_MCP_TOOLS=all) and restarting the server."),
        "{text}"
    );
    // exec is off (PROXMOX_MCP_ALLOW_EXEC): loading its toolset would list nothing, so it is not
    // offered; with the switch on it is named too.
    assert!(!text.contains("- exec"), "{text}");
    let text = instructions(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_ALLOW_EXEC", "true"),
    ]);
    assert!(
        text.contains("\n- exec: commands run inside guests (a remote shell)"),
        "{text}"
    );
}

#[test]
fn all_lists_every_tool_the_access_level_allows_and_names_no_toolset() {
    for access in ["read-only", "operate", "full"] {
        let names = listed(&[("PROXMOX_MCP_ACCESS", access), ("PROXMOX_MCP_TOOLS", "all")]);
        let level = Access::parse(access).unwrap();
        let allowed: Vec<&str> = proxmox_mcp_server::tools::TOOLS
            .iter()
            // Not exec, nor the access writes: each behind a switch of its own.
            .filter(|t| t.effect.needs() <= level && t.area.name() != "exec")
            .filter(|t| t.area.name() != "access" || t.effect.needs() == Access::ReadOnly)
            .map(|t| t.name)
            .collect();
        assert_eq!(names, allowed, "{access}");
        assert!(has(&names, "list_firewall_rules") && has(&names, "list_node_certificates"));
        let text = instructions(&[("PROXMOX_MCP_ACCESS", access), ("PROXMOX_MCP_TOOLS", "all")]);
        assert!(unloaded_lines(&text).is_empty(), "{text}");
        assert!(!text.contains("PROXMOX_MCP_TOOLS"), "{text}");
    }
    // The access level still decides: `all` at read-only lists no write tool.
    let names = listed(&[("PROXMOX_MCP_TOOLS", "all")]);
    assert!(!has(&names, "add_firewall_rule") && !has(&names, "start_vm"));
}

#[test]
fn default_plus_a_toolset_adds_its_tools() {
    let default = listed(&[("PROXMOX_MCP_ACCESS", "full")]);
    let names = listed(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "default,firewall"),
    ]);
    let added: Vec<&String> = names.iter().filter(|n| !default.contains(n)).collect();
    assert_eq!(
        added,
        [
            "list_firewall_rules",
            "add_firewall_rule",
            "update_firewall_rule",
            "delete_firewall_rule",
            "list_firewall_ipsets",
            "create_firewall_ipset",
            "add_ipset_entry",
            "remove_ipset_entry",
            "delete_firewall_ipset",
            "list_firewall_aliases",
            "create_firewall_alias",
            "delete_firewall_alias",
            "list_security_groups",
            "get_firewall_options",
            "set_firewall_options",
        ]
    );
    assert_eq!(names.len(), default.len() + 15);
    let text = instructions(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "default,firewall"),
    ]);
    assert!(!text.contains("- firewall"), "{text}");
    assert!(text.contains("- ha: "), "{text}");
    assert!(
        text.contains("PROXMOX_MCP_TOOLS=default,firewall,vms"),
        "{text}"
    );
}

#[test]
fn a_guest_kind_names_everything_acting_on_it() {
    let containers = listed(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "containers"),
    ]);
    for name in [
        "list_containers",
        "start_container",
        "list_container_snapshots",
        "create_container_snapshot",
        "rollback_container_snapshot",
        "delete_container_snapshot",
        "get_container_metrics",
        "create_container",
        "update_container_config",
        "delete_container",
    ] {
        assert!(has(&containers, name), "{name}: {containers:?}");
    }
    assert!(
        !containers.iter().any(|n| n.contains("vm")),
        "{containers:?}"
    );

    let vms = listed(&[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "vms")]);
    for name in [
        "list_vms",
        "create_vm_snapshot",
        "list_vm_snapshots",
        "rollback_vm_snapshot",
        "delete_vm_snapshot",
        "get_vm_metrics",
        "create_vm",
        "clone_vm",
        "migrate_vm",
        "resize_vm_disk",
        "delete_vm",
    ] {
        assert!(has(&vms, name), "{name}: {vms:?}");
    }
    assert!(!vms.iter().any(|n| n.contains("container")), "{vms:?}");
    // The snapshots toolset, half loaded through vms, is named as partly listed.
    let text = instructions(&[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "vms")]);
    assert!(
        text.contains(
            "\n- snapshots: guest snapshots: list, take, roll back, delete (not listed: list_container_snapshots, create_container_snapshot, delete_container_snapshot, rollback_container_snapshot)"
        ),
        "{text}"
    );
    // Names, toolsets and effects add up: the union.
    let union = listed(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "vms,read,list_pools"),
    ]);
    assert!(has(&union, "delete_vm") && has(&union, "list_containers"));
    assert!(has(&union, "list_firewall_rules") && has(&union, "list_pools"));
    assert!(!has(&union, "start_container") && !has(&union, "download_to_storage"));
    // Tools that act on a guest of either kind (backups, restores, HA, firewall) count for vms.
    assert!(has(&union, "restore_backup") && has(&union, "add_ha_resource"));
}

#[test]
fn deny_containers_hides_their_snapshots_metrics_and_exec() {
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_ALLOW_EXEC", "true"),
        ("PROXMOX_MCP_TOOLS", "all"),
        ("PROXMOX_MCP_DENY_TOOLS", "containers"),
    ];
    let names = listed(&settings);
    assert!(!names.iter().any(|n| n.contains("container")), "{names:?}");
    for kept in [
        "list_vms",
        "create_vm_snapshot",
        "rollback_vm_snapshot",
        "get_vm_metrics",
        "exec_in_vm",
        "list_backups",
    ] {
        assert!(has(&names, kept), "{kept}");
    }
    // What acts on a guest of either kind goes too: a container could be restored over, backed
    // up with a stop, stopped through HA or cut off by a firewall rule.
    for gone in [
        "create_backup",
        "restore_backup",
        "add_ha_resource",
        "remove_ha_resource",
        "add_firewall_rule",
        "delete_firewall_rule",
        "list_firewall_rules",
    ] {
        assert!(!has(&names, gone), "{gone}");
    }
    let fake = FakePve::new();
    session(&fake, &settings, |c| {
        assert_eq!(
            error_text(&c.call(
                "rollback_container_snapshot",
                json!({"vmid": 200, "snapname": "before", "confirm_name": "dns"})
            )),
            "rollback_container_snapshot is switched off on this server (PROXMOX_MCP_DENY_TOOLS names containers)"
        );
        assert_eq!(
            error_text(&c.call(
                "restore_backup",
                json!({"archive": "local:backup/vzdump-lxc-201-2026_01_01-00_00_00.tar.zst", "vmid": 200, "force": true, "confirm_name": "dns"})
            )),
            "restore_backup is switched off on this server (PROXMOX_MCP_DENY_TOOLS names containers)"
        );
    });
    // The deny list is applied before the toolset selection, so a denied tool outside the
    // loaded toolsets is refused for what it is, not with advice to load its toolset.
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_MCP_DENY_TOOLS", "containers"),
        ],
        |c| {
            assert_eq!(
                error_text(&c.call("delete_container", json!({"vmid": 200, "confirm_name": "dns"}))),
                "delete_container is switched off on this server (PROXMOX_MCP_DENY_TOOLS names containers)"
            );
        },
    );
    assert!(fake.requests().is_empty());
    // Denied toolsets are not offered in the instructions: loading them would list nothing.
    let text = instructions(&[("PROXMOX_MCP_DENY_TOOLS", "firewall,ha")]);
    assert!(
        !text.contains("- firewall") && !text.contains("- ha"),
        "{text}"
    );
    assert!(text.contains("- pools"), "{text}");
}

#[test]
fn an_unloaded_tool_is_refused_with_the_setting_and_nothing_is_sent() {
    let fake = FakePve::new();
    session(&fake, &[("PROXMOX_MCP_ACCESS", "operate")], |c| {
        let r = c.call(
            "add_firewall_rule",
            json!({"action": "ACCEPT", "type": "in", "node": "pve1"}),
        );
        assert_eq!(r["isError"], true);
        assert_eq!(
            error_text(&r),
            "add_firewall_rule is not loaded on this server: it is in the toolset firewall, and PROXMOX_MCP_TOOLS=default does not list it; \
             to use it, restart the server with PROXMOX_MCP_TOOLS=default,firewall (or all, or add the tool's name)"
        );
        assert!(error_text(&c.call("list_users", json!({})))
            .contains("PROXMOX_MCP_TOOLS=default,access"));
    });
    assert!(fake.requests().is_empty(), "{:?}", fake.lines());
}

#[test]
fn default_and_all_are_refused_in_the_deny_list() {
    let fake = FakePve::new();
    let env = |k: &str| match k {
        "PROXMOX_HOST" => Some(fake.url()),
        "PROXMOX_USER" => Some("root@pam".into()),
        "PROXMOX_TOKEN_NAME" => Some("t".into()),
        "PROXMOX_TOKEN_VALUE" => Some("v".into()),
        "PROXMOX_MCP_DENY_TOOLS" => Some("all".into()),
        _ => None,
    };
    let config = proxmox_mcp_server::config::Config::resolve(&env, &[]).unwrap();
    let err = proxmox_mcp_server::tools::check_selection(&config.tools, &config.deny_tools)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PROXMOX_MCP_DENY_TOOLS: 'all' names a set of toolsets, which only PROXMOX_MCP_TOOLS takes"),
        "{err}"
    );
    assert!(proxmox_mcp_server::tools::check_selection(
        &["default".into(), "firewall".into(), "all".into()],
        &[]
    )
    .is_ok());
}

/// Runs the binary with a clean environment (a token login at `host`, plus `vars`) and `args`;
/// its exit status, stdout and stderr.
fn binary(host: &str, vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
    cmd.env_clear()
        .env("PROXMOX_HOST", host)
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_TOKEN_NAME", "mcp")
        .env(
            "PROXMOX_TOKEN_VALUE",
            "0b6d7c1e-8f2a-4e93-a5d4-3c9e1f7b2a60",
        )
        .env("PROXMOX_TIMEOUT", "10")
        .env(
            "PROXMOX_CA_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem"),
        )
        .envs(vars.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run the binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tools_and_check_show_the_toolsets() {
    let (status, stdout, stderr) = binary(
        "https://pve1.example.com",
        &[
            ("PROXMOX_MCP_TOOLS", "default,firewall"),
            ("PROXMOX_MCP_ACCESS", "operate"),
        ],
        &["tools"],
    );
    assert_eq!(status, Some(0), "{stderr}");
    let tools = (stdout, ());
    assert_eq!(
        tools.0.lines().next().unwrap(),
        "toolsets: nodes, vms (partly), containers (partly), snapshots, storage, tasks, cluster (partly), backups (partly), \
         firewall, health (partly) (PROXMOX_MCP_TOOLS=default,firewall); not loaded: provisioning, network, sdn, access, pools, ha, certificates, metrics, notifications"
    );
    assert!(tools.0.contains("\nadd_firewall_rule "), "{}", tools.0);

    let mut fake = FakePve::new();
    fake.ok(
        "GET",
        "/version",
        json!({"version": "9.1.2", "release": "9.1", "repoid": "abc"}),
    )
    .ok(
        "GET",
        "/cluster/status",
        json!([{"type": "node", "name": "pve1", "online": 1}]),
    )
    .ok(
        "GET",
        "/access/permissions",
        crate::support::all_privileges(),
    );
    let (_, stdout, stderr) = binary(
        &fake.url(),
        &[("PROXMOX_MCP_TOOLS", "vms")],
        &["check", "--json"],
    );
    let report: Value = serde_json::from_str(&stdout).expect(&stderr);
    let toolsets = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "toolsets")
        .unwrap_or_else(|| panic!("no toolsets in {report}"));
    assert_eq!(toolsets["ok"], true);
    assert_eq!(
        toolsets["detail"],
        "vms, snapshots (partly), firewall (partly), metrics (partly) (PROXMOX_MCP_TOOLS=vms); \
         not loaded: nodes, containers, storage, tasks, cluster, backups, provisioning, network, sdn, access, pools, ha, certificates, health, notifications"
    );
    // As text, wrapped at 100 columns: the finding and its continuation lines read as one.
    let (_, stdout, _) = binary(&fake.url(), &[], &["check"]);
    assert!(
        stdout.replace("\n  ", " ").lines().any(|l| l
            == "✓ toolsets: nodes, vms, containers, snapshots, storage, tasks, cluster (partly), backups (partly), \
                health (partly) (PROXMOX_MCP_TOOLS=default); not loaded: provisioning, network, sdn, firewall, access, pools, ha, certificates, metrics, notifications"),
        "{stdout}"
    );
}
