//! Replayed attacks on the session layer: resources read past the tool selection, a cancelled
//! request that still ran after waiting in the queue, and `claude-config` leaving other servers'
//! tokens readable (or writing through a planted symlink).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::session::{ended_ok, starting, with_session_at, Pipe};
use crate::support::{
    assert_starts, config, connected, mode, session, texts, Client, FakePve, TempDir, STATUS,
};

// ---------------------------------------------------------------------------------------------
// Resources follow the tool selection.

/// A PVE that would answer every resource read (so any request that slips through is recorded).
fn resource_pve() -> FakePve {
    let mut fake = FakePve::new();
    fake.get("/cluster/resources",
        json!([{"type": "qemu", "vmid": 100, "node": "pve1", "name": "web"}, {"type": "lxc", "vmid": 200, "node": "pve2", "name": "dns"}]),
    )
    .get("/nodes/pve1/status", json!({"uptime": 5}))
    .get("/nodes/pve1/qemu/100/config",
        json!({"name": "web", "memory": 2048}),
    )
    .get("/nodes/pve2/lxc/200/config",
        json!({"hostname": "dns", "memory": 512}),
    );
    fake
}

/// What `resources/list` and `resources/templates/list` offer: the URIs and URI templates.
fn offered(c: &mut Client) -> (Vec<String>, Vec<String>) {
    let uris = |v: &Value, key: &str| -> Vec<String> {
        texts(v, key).into_iter().map(String::from).collect()
    };
    let list = c.request("resources/list", json!({}));
    let templates = c.request("resources/templates/list", json!({}));
    (
        uris(&list["result"]["resources"], "uri"),
        uris(&templates["result"]["resourceTemplates"], "uriTemplate"),
    )
}

const URIS: [&str; 3] = [
    "proxmox://cluster/resources",
    "proxmox://node/pve1/status",
    "proxmox://guest/200/config",
];

#[test]
fn resources_are_off_when_deny_tools_turns_reads_off() {
    let fake = resource_pve();
    session(&fake, &[("PROXMOX_MCP_DENY_TOOLS", "read")], |c| {
        assert_eq!(offered(c), (vec![], vec![]), "nothing is offered");
        let expected = [
        "get_cluster_resources is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
        "get_node_status is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
        "get_vm_config is switched off on this server (PROXMOX_MCP_DENY_TOOLS names read)",
    ];
        for (uri, message) in URIS.iter().zip(expected) {
            let reply = c.request("resources/read", json!({"uri": uri}));
            assert_eq!(
                reply["error"],
                json!({"code": -32002, "message": message, "data": {"uri": uri}}),
                "{reply}"
            );
            assert!(reply.get("result").is_none());
        }
        // 2026-07-28 says "not found" with -32602.
        let modern = c
        .send(r#"{"jsonrpc":"2.0","id":"m","method":"resources/read","params":{"uri":"proxmox://node/pve1/status","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#)
        .unwrap();
        assert_eq!(
            modern["error"],
            json!({"code": -32602, "message": expected[1], "data": {"uri": "proxmox://node/pve1/status"}})
        );
        fake.assert_untouched();
    });
}

#[test]
fn resources_are_off_when_the_tool_list_leaves_their_tools_out() {
    let fake = resource_pve();
    let config = config(&fake, &[("PROXMOX_MCP_TOOLS", "list_nodes")]);
    connected(&config, |c| {
        assert_eq!(offered(c), (vec![], vec![]), "nothing is offered");
        for (uri, tool, group) in [
            (URIS[0], "get_cluster_resources", "cluster"),
            (URIS[1], "get_node_status", "nodes"),
            (URIS[2], "get_vm_config", "vms"),
            ("proxmox://guest/100/config", "get_vm_config", "vms"),
        ] {
            let reply = c.request("resources/read", json!({"uri": uri}));
            assert_eq!(
                reply["error"],
                json!({"code": -32002, "message": format!("{tool} is not loaded on this server: it is in the toolset {group}, and PROXMOX_MCP_TOOLS=list_nodes does not list it; to use it, restart the server with PROXMOX_MCP_TOOLS=list_nodes,{group} (or all, or add the tool's name)"), "data": {"uri": uri}}),
            );
        }
        fake.assert_untouched();
    });
}

#[test]
fn each_resource_follows_its_own_tool() {
    let fake = resource_pve();
    let config = config(
        &fake,
        &[(
            "PROXMOX_MCP_DENY_TOOLS",
            "get_cluster_resources,get_container_config,get_alerts",
        )],
    );
    connected(&config, |c| {
        // Guest configs stay offered: VMs can still be read.
        assert_eq!(
            offered(c),
            (
                vec![],
                vec![
                    "proxmox://node/{node}/status".to_string(),
                    "proxmox://guest/{vmid}/config".to_string()
                ]
            )
        );
        let cluster = c.request("resources/read", json!({"uri": URIS[0]}));
        assert_eq!(cluster["error"]["code"], -32002);
        assert_eq!(
        cluster["error"]["message"],
        "get_cluster_resources is switched off on this server (PROXMOX_MCP_DENY_TOOLS names get_cluster_resources)"
    );
        let node = c.request("resources/read", json!({"uri": URIS[1]}));
        assert_eq!(node["result"]["contents"][0]["text"], r#"{"uptime":5}"#);
        let vm = c.request(
            "resources/read",
            json!({"uri": "proxmox://guest/100/config"}),
        );
        assert_eq!(
            vm["result"]["contents"][0]["text"],
            r#"{"memory":2048,"name":"web"}"#
        );
        // Guest 200 is a container: found, then refused by the container tool's setting.
        let ct = c.request("resources/read", json!({"uri": URIS[2]}));
        assert_eq!(
            ct["error"],
            json!({"code": -32002, "message": "get_container_config is switched off on this server (PROXMOX_MCP_DENY_TOOLS names get_container_config)", "data": {"uri": URIS[2]}})
        );
        assert_eq!(
            fake.lines(),
            [
                "GET /nodes/pve1/status",
                "GET /cluster/resources?type=vm",
                "GET /nodes/pve1/qemu/100/config",
                "GET /cluster/resources?type=vm",
            ],
            "the container's config was never fetched"
        );
    });
}

#[test]
fn a_huge_cluster_resource_is_cut_like_the_tools_and_says_so() {
    let mut fake = FakePve::new();
    let many: Vec<Value> = (100..1100)
        .map(|vmid| json!({"type": "qemu", "vmid": vmid, "node": "pve1", "name": format!("guest-{vmid}-with-a-long-name"), "status": "running"}))
        .collect();
    fake.get("/cluster/resources", Value::Array(many));
    session(&fake, &[], |c| {
        let reply = c.request(
            "resources/read",
            json!({"uri": "proxmox://cluster/resources"}),
        );
        let text = reply["result"]["contents"][0]["text"].as_str().unwrap();
        assert!(text.len() <= 64 * 1024, "{} bytes", text.len());
        let doc: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc["truncated"], true);
        let kept = doc["data"].as_array().unwrap().len();
        assert!(kept > 0 && kept < 1000, "{kept}");
        assert!(
            doc["hint"]
                .as_str()
                .unwrap()
                .starts_with(&format!("output cut to 64 KiB after {kept} items")),
            "{doc}"
        );
        assert_eq!(doc["data"][0]["vmid"], 100, "PVE's order is kept");
    });
}

// ---------------------------------------------------------------------------------------------
// A cancelled request that waits in the queue never runs.

const STOP_UPID: &str = "UPID:pve1:000A1B2D:01234568:6740A001:qmstop:100:root@pam!mcp:";

/// PVE for a start_vm whose task runs for three polls (about a second), and a stop_vm whose
/// task ends at once (mocked in both cases, so a stop that slips through is recorded).
fn queue_pve() -> FakePve {
    let mut fake = starting(Some(3));
    fake.get(STATUS, ended_ok());
    fake.post("/nodes/pve1/qemu/100/status/stop", json!(STOP_UPID));
    fake.get(&format!("/nodes/pve1/tasks/{STOP_UPID}/status"),
        json!({"upid": STOP_UPID, "status": "stopped", "exitstatus": "OK", "starttime": 1732288513}),
    );
    fake
}

fn tool_call(id: Value, name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}})
}

/// `tools/call` of start_vm on VM 100 (on pve1).
fn start_100(id: Value) -> Value {
    tool_call(id, "start_vm", json!({"vmid": 100, "node": "pve1"}))
}

/// `tools/call` of stop_vm on VM 100 (on pve1).
fn stop_100(id: Value) -> Value {
    tool_call(id, "stop_vm", json!({"vmid": 100, "node": "pve1"}))
}

/// Request 1 starts VM 100, whose task then keeps the session waiting for about a second.
fn start_and_wait(p: &mut Pipe) {
    p.send(start_100(json!(1)));
    std::thread::sleep(Duration::from_millis(100));
}

/// PVE got as many writes as `starts` has entries, each starting with its entry.
fn assert_writes(fake: &FakePve, starts: &[&str]) {
    let writes = fake.writes();
    assert_eq!(writes.len(), starts.len(), "{writes:?}");
    for (write, start) in writes.iter().zip(starts) {
        assert!(write.starts_with(start), "{writes:?}");
    }
}

fn cancel(id: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id, "reason": "user changed their mind"}})
}

/// The next line that is not a progress notification.
fn answer(p: &Pipe) -> Value {
    loop {
        let line = p.next();
        if line["method"] != "notifications/progress" {
            return line;
        }
    }
}

const START: &str = "POST /nodes/pve1/qemu/100/status/start";
const STOP: &str = "POST /nodes/pve1/qemu/100/status/stop";

#[test]
fn a_queued_stop_vm_cancelled_before_its_turn_never_reaches_pve() {
    let fake = queue_pve();
    with_session_at(&fake, "2025-11-25", |p| {
        start_and_wait(p);
        p.send(stop_100(json!("stop-7")));
        p.send(cancel(json!("stop-7")));
        p.send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
        assert_eq!(p.next(), json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
        let first = answer(p);
        assert_eq!(first["id"], 1);
        assert_eq!(
            first["result"]["structuredContent"]["task"]["exitstatus"],
            "OK"
        );
        // No answer for the cancelled request, ever.
        p.quiet(Duration::from_millis(800));
    });
    assert_writes(&fake, &[START]);
}

#[test]
fn a_queued_request_runs_when_the_cancellation_names_another_id() {
    let fake = queue_pve();
    with_session_at(&fake, "2025-11-25", |p| {
        start_and_wait(p);
        p.send(stop_100(json!(7)));
        // The string "7" is not the number 7.
        p.send(cancel(json!("7")));
        p.send(cancel(json!(99)));
        assert_eq!(answer(p)["id"], 1);
        let stop = answer(p);
        assert_eq!(stop["id"], 7, "the queued request runs after the wait");
        assert_eq!(stop["result"]["isError"], false, "{stop}");
        assert_eq!(
            stop["result"]["structuredContent"]["task"]["upid"],
            STOP_UPID
        );
        p.quiet(Duration::from_millis(300));
    });
    assert_writes(&fake, &[START, STOP]);
}

#[test]
fn a_cancelled_request_of_a_queued_batch_is_left_out_of_its_answer() {
    let fake = queue_pve();
    with_session_at(&fake, "2025-03-26", |p| {
        start_and_wait(p);
        p.send(json!([
            stop_100(json!(2)),
            {"jsonrpc": "2.0", "id": 3, "method": "ping"},
        ]));
        p.send(cancel(json!(2)));
        assert_eq!(answer(p)["id"], 1);
        assert_eq!(
            p.next(),
            json!([{"jsonrpc": "2.0", "id": 3, "result": {}}]),
            "the batch is answered without the cancelled request"
        );
        p.quiet(Duration::from_millis(500));
    });
    assert_writes(&fake, &[START]);
}

#[test]
fn a_cancellation_in_a_batch_reaches_a_later_request_of_the_waiting_batch() {
    let fake = queue_pve();
    with_session_at(&fake, "2025-03-26", |p| {
        // One batch: the start waits, the stop would run after it.
        p.send(json!([start_100(json!(1)), stop_100(json!(2)),]));
        std::thread::sleep(Duration::from_millis(100));
        // The cancellation itself comes in a batch.
        p.send(json!([cancel(json!(2))]));
        let reply = answer(p);
        let items = reply.as_array().expect("a batch answer");
        assert_eq!(items.len(), 1, "{reply}");
        assert_eq!(items[0]["id"], 1);
        // 2025-03-26 knows no structuredContent: the result is in the text.
        let text: Value =
            serde_json::from_str(items[0]["result"]["content"][0]["text"].as_str().unwrap())
                .unwrap();
        assert_eq!(text["task"]["exitstatus"], "OK");
        p.quiet(Duration::from_millis(500));
    });
    assert_writes(&fake, &[START]);
}

#[test]
fn a_queued_request_cancelled_in_the_2026_era_never_runs() {
    let fake = queue_pve();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    with_session_at(&fake, "2025-11-25", |p| {
        let mut start = start_100(json!(1));
        start["params"]["_meta"] = meta.clone();
        p.send(start);
        std::thread::sleep(Duration::from_millis(100));
        let mut stop = stop_100(json!(2));
        stop["params"]["_meta"] = meta.clone();
        p.send(stop);
        let mut cancelled = cancel(json!(2));
        cancelled["params"]["_meta"] = meta.clone();
        p.send(cancelled);
        let first = answer(p);
        assert_eq!(first["id"], 1);
        assert_eq!(first["result"]["resultType"], "complete");
        p.quiet(Duration::from_millis(800));
    });
    assert_writes(&fake, &[START]);
}

// ---------------------------------------------------------------------------------------------
// claude-config keeps the file private and never writes through a planted path.

const BIN: &str = env!("CARGO_BIN_EXE_proxmox-mcp-server");
/// Another server's token in the Claude Desktop configuration.
const OTHER_TOKEN: &str = "ghp_OtherServersSecretToken0123456789";

/// A temporary directory holding a settings file, removed when dropped.
fn settings_dir(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("attack-{name}"));
    std::fs::write(dir.path("settings.env"), "PROXMOX_HOST=pve.example\n").unwrap();
    dir
}

/// `proxmox-mcp-server claude-config --file FILE --config settings.env`: exit code, stdout, stderr.
fn claude_config(dir: &TempDir, file: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .arg("claude-config")
        .arg("--file")
        .arg(file)
        .arg("--config")
        .arg(dir.path("settings.env"))
        .env_clear()
        .env("HOME", &dir.0)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn original() -> String {
    json!({"theme": "dark", "mcpServers": {"github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": OTHER_TOKEN}}}}).to_string()
}

#[test]
fn claude_config_keeps_a_private_config_private() {
    let dir = settings_dir("private");
    let file = dir.path("claude_desktop_config.json");
    std::fs::write(&file, original()).unwrap();
    set_mode(&file, 0o600);
    // A backup left by an older run, readable by everyone.
    let backup = dir.path("claude_desktop_config.json.bak");
    std::fs::write(&backup, "{}").unwrap();
    set_mode(&backup, 0o644);
    let (code, stdout, stderr) = claude_config(&dir, &file);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "added \"proxmox\" in {}; restart Claude Desktop to load it\n",
            file.display()
        )
    );
    assert_eq!(mode(&file), 0o600, "the merged file stays private");
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(merged["theme"], "dark");
    assert_eq!(
        merged["mcpServers"]["github"]["env"]["GITHUB_TOKEN"],
        OTHER_TOKEN
    );
    assert_eq!(merged["mcpServers"]["proxmox"]["command"], command_path());
    assert_eq!(mode(&backup), 0o600, "the backup is as private as the file");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original());
    assert!(!dir.path("claude_desktop_config.json.tmp").exists());
    assert!(!dir.path("claude_desktop_config.json.bak.tmp").exists());

    // A file others may read keeps its mode too (nothing is made more readable than it was).
    set_mode(&file, 0o640);
    std::fs::write(
        &file,
        json!({"mcpServers": {"github": {"command": "gh-mcp"}}}).to_string(),
    )
    .unwrap();
    assert_eq!(claude_config(&dir, &file).0, Some(0));
    assert_eq!(mode(&file), 0o640);
    assert_eq!(mode(&backup), 0o640);
}

#[allow(non_snake_case)]
fn command_path() -> String {
    std::fs::canonicalize(BIN).unwrap().display().to_string()
}

#[test]
fn claude_config_creates_a_new_config_readable_by_its_owner_only() {
    let dir = settings_dir("new");
    let file = dir.path("Claude/claude_desktop_config.json");
    let (code, stdout, stderr) = claude_config(&dir, &file);
    assert_eq!(code, Some(0), "{stderr}");
    assert_starts(&stdout, "added \"proxmox\"");
    assert_eq!(mode(&file), 0o600);
    assert!(
        !dir.path("Claude/claude_desktop_config.json.bak").exists(),
        "nothing to back up"
    );
}

#[test]
fn claude_config_refuses_a_symlink_planted_at_its_temp_path() {
    let dir = settings_dir("symlink");
    let file = dir.path("claude_desktop_config.json");
    std::fs::write(&file, original()).unwrap();
    set_mode(&file, 0o600);
    let temp = dir.path("claude_desktop_config.json.tmp");

    // A dangling link: following it would create a file where the attacker can read it.
    let loot = dir.path("loot.json");
    std::os::unix::fs::symlink(&loot, &temp).unwrap();
    let (code, stdout, stderr) = claude_config(&dir, &file);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "proxmox-mcp-server: cannot write {}: {} already exists (left by an interrupted run, or put there by someone else); it is not followed or overwritten: check it, remove it, then run this again\n",
            file.display(),
            temp.display()
        )
    );
    assert!(
        std::fs::symlink_metadata(&loot).is_err(),
        "nothing was created through the link"
    );

    // A link to an existing file: the file stays as it was.
    std::fs::write(&loot, "attacker's file").unwrap();
    set_mode(&loot, 0o644);
    let (code, _, stderr) = claude_config(&dir, &file);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&loot).unwrap(), "attacker's file");
    assert_eq!(mode(&loot), 0o644);
    // The configuration was left alone, and no backup was made.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original());
    assert_eq!(mode(&file), 0o600);
    assert!(!dir.path("claude_desktop_config.json.bak").exists());
    assert!(std::fs::symlink_metadata(&temp)
        .unwrap()
        .file_type()
        .is_symlink());

    // A link planted at the backup path is replaced, not written through.
    std::fs::remove_file(&temp).unwrap();
    let backup = dir.path("claude_desktop_config.json.bak");
    std::os::unix::fs::symlink(&loot, &backup).unwrap();
    let (code, _, stderr) = claude_config(&dir, &file);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read_to_string(&loot).unwrap(), "attacker's file");
    assert!(std::fs::symlink_metadata(&backup)
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original());
}
