//! The real binary over pipes.
//!
//! Every test runs the built `proxmox-mcp-server` with a clean environment, pointed at a mocked PVE
//! API (plain http on 127.0.0.1, which the server accepts for test servers with a warning), and
//! checks what a user or an MCP host sees: the lines on stdout and stderr and the exit status.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use mockito::{Matcher, Server, ServerGuard};
use serde_json::{json, Value};

use crate::support::{read_all, spawn, wait_exit, Output};

const BIN: &str = env!("CARGO_BIN_EXE_proxmox-mcp-server");
/// The API token secret; it must never show up in any output.
const TOKEN_VALUE: &str = "0b6d7c1e-8f2a-4e93-a5d4-3c9e1f7b2a60";
/// How long one response line may take.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the process may take to exit once its work is done.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a one-shot command may run in all.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

const NODES: &str = r#"{"success":1,"data":[{"node":"pve2","status":"online","cpu":0.1,"maxcpu":8,"mem":1,"maxmem":2,"uptime":5},{"node":"pve1","status":"online"}]}"#;

/// The nodes of [`NODES`] as `list_nodes` returns them: sorted by name.
fn sorted_nodes() -> Value {
    json!([
        {"node": "pve1", "status": "online"},
        {"node": "pve2", "status": "online", "cpu": 0.1, "maxcpu": 8, "mem": 1, "maxmem": 2, "uptime": 5},
    ])
}

/// The CA file the server is told to trust, so it needs no system CA bundle (it talks plain http).
fn ca_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem").to_string()
}

/// The binary with a clean environment: `PATH`, a token login, and `vars` (a var given with an
/// empty value is left out; `host` is `PROXMOX_HOST` unless `None`).
fn command(host: Option<&str>, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let ca = ca_file();
    let mut all = vec![
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN_VALUE),
        ("PROXMOX_CA_FILE", ca.as_str()),
        ("PROXMOX_TIMEOUT", "10"),
    ];
    if let Some(host) = host {
        all.push(("PROXMOX_HOST", host));
    }
    for (var, value) in vars {
        all.retain(|(v, _)| v != var);
        if !value.is_empty() {
            all.push((var, value));
        }
    }
    cmd.envs(all);
    cmd
}

/// Runs a one-shot command with stdin closed, bounded by [`RUN_TIMEOUT`].
fn run(cmd: Command) -> Output {
    crate::support::run(cmd, RUN_TIMEOUT)
}

/// A server process spoken to over its stdin and stdout.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Session {
    fn start(mut cmd: Command) -> Session {
        let mut child = spawn(&mut cmd, Stdio::piped());
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Some(read_all(child.stderr.take().expect("stderr")));
        let stdin = child.stdin.take();
        Session {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(line.as_bytes()).expect("write a request");
        stdin.write_all(b"\n").expect("write a newline");
        stdin.flush().expect("flush stdin");
    }

    /// The next stdout line, parsed; it must be one JSON-RPC message (an object, not a batch).
    fn receive(&self) -> Value {
        let line = match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no response within {LINE_TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed while a response was due"),
        };
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        let object = message
            .as_object()
            .unwrap_or_else(|| panic!("not one JSON-RPC message: {line}"));
        assert_eq!(object.get("jsonrpc"), Some(&json!("2.0")), "{line}");
        assert!(object.contains_key("id"), "{line}");
        assert!(
            object.contains_key("result") != object.contains_key("error"),
            "a response has either result or error: {line}"
        );
        message
    }

    /// Closes stdin and waits for the exit; stdout must hold nothing more. Returns the status and
    /// stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let status = wait_exit(&mut self.child, EXIT_TIMEOUT);
        match self.lines.recv_timeout(EXIT_TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {}
            Ok(line) => panic!("unexpected stdout line after the last response: {line}"),
            Err(RecvTimeoutError::Timeout) => panic!("stdout stayed open after the exit"),
        }
        let stderr = self
            .stderr
            .take()
            .expect("stderr reader")
            .join()
            .expect("stderr");
        (status, stderr)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test must not leave the process running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

fn initialize() -> String {
    request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "1"}}),
    )
}

/// A mocked PVE answering `GET /nodes` (once, with the token in the header).
fn pve_with_nodes() -> (ServerGuard, mockito::Mock) {
    let mut server = Server::new();
    let nodes = server
        .mock("GET", "/api2/extjs/nodes")
        .match_header(
            "authorization",
            format!("PVEAPIToken=root@pam!mcp={TOKEN_VALUE}").as_str(),
        )
        .with_header("content-type", "application/json")
        .with_body(NODES)
        .expect(1)
        .create();
    (server, nodes)
}

/// The one warning every run against the plain-http mock prints.
fn assert_only_http_warning(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("uses plain http"), "{stderr}");
}

#[test]
fn session_over_pipes() {
    let (server, nodes) = pve_with_nodes();
    let mut session = Session::start(command(Some(&server.url()), &[]));
    session.send(&initialize());
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    session.send(&request(2, "tools/list", json!({})));
    session.send(&request(
        3,
        "tools/call",
        json!({"name": "list_nodes", "arguments": {}}),
    ));
    session.send("{oops");
    session.send(&request(5, "ping", json!({})));

    let init = session.receive();
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(init["result"]["serverInfo"]["name"], "proxmox-mcp-server");

    // The notification is not answered: the next line is the tools/list response.
    let list = session.receive();
    assert_eq!(list["id"], 2);
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"list_nodes"), "{names:?}");
    assert!(
        !names.contains(&"start_vm"),
        "read-only lists start_vm: {names:?}"
    );

    let call = session.receive();
    assert_eq!(call["id"], 3);
    let result = &call["result"];
    assert_eq!(result["isError"], false, "{call}");
    let structured = &result["structuredContent"];
    assert_eq!(structured["data"], sorted_nodes());
    assert_eq!(structured["total"], 2);
    assert_eq!(
        result["content"][0]["text"].as_str(),
        Some(
            serde_json::to_string(structured)
                .expect("serialize")
                .as_str()
        )
    );

    let parse_error = session.receive();
    assert_eq!(parse_error["id"], Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700);

    let ping = session.receive();
    assert_eq!(ping, json!({"jsonrpc": "2.0", "id": 5, "result": {}}));

    let (status, stderr) = session.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_only_http_warning(&stderr);
    assert!(!stderr.contains(TOKEN_VALUE), "{stderr}");
    nodes.assert();
}

#[test]
fn a_one_mebibyte_request_is_answered_and_the_server_keeps_serving() {
    let mut server = Server::new();
    let untouched = server.mock("GET", Matcher::Any).expect(0).create();
    let mut session = Session::start(command(Some(&server.url()), &[]));
    session.send(&initialize());
    assert_eq!(session.receive()["id"], 1);

    let node = "a".repeat(1 << 20);
    session.send(&request(
        2,
        "tools/call",
        json!({"name": "get_node_status", "arguments": {"node": node}}),
    ));
    let call = session.receive();
    assert_eq!(call["id"], 2);
    assert_eq!(call["result"]["isError"], true, "{}", call["result"]);
    let text = call["result"]["content"][0]["text"].as_str().expect("text");
    assert_eq!(
        text,
        "invalid arguments: 'node' may be at most 63 characters long"
    );

    session.send(&request(3, "ping", json!({})));
    assert_eq!(
        session.receive(),
        json!({"jsonrpc": "2.0", "id": 3, "result": {}})
    );
    let (status, stderr) = session.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    untouched.assert();
}

#[test]
fn missing_host_is_one_line_and_exit_status_2() {
    let out = run(command(None, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("PROXMOX_HOST is not set"),
        "{}",
        out.stderr
    );
}

#[test]
fn token_value_without_token_name_is_refused_without_showing_it() {
    let out = run(command(
        Some("pve1.example.com"),
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", "supersecret-123"),
        ],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("PROXMOX_TOKEN_NAME is not"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("supersecret-123"), "{}", out.stdout);
    assert!(!out.stderr.contains("supersecret-123"), "{}", out.stderr);
}

#[test]
fn version_flag() {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().arg("--version");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    // "proxmox-mcp-server VERSION (commit HASH, target TRIPLE)": what a bug report needs.
    let line = out
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let rest = line
        .strip_prefix(&format!(
            "proxmox-mcp-server {} (commit ",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", target "))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(
        target.starts_with(std::env::consts::ARCH) && !target.contains(' '),
        "{line}"
    );
    assert!(!line.contains('\n'), "one line: {line}");
    assert_eq!(out.stderr, "");
}

#[test]
fn tools_json_follows_the_access_level() {
    let mut cmd = command(
        Some("pve1.example.com"),
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "all"),
        ],
    );
    cmd.args(["tools", "--json"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let tools: Value = serde_json::from_str(&out.stdout).expect("a JSON array");
    let tools = tools.as_array().expect("a JSON array");
    let mut names = Vec::new();
    for tool in tools {
        let object = tool.as_object().expect("each tool is an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "area",
                "default",
                "description",
                "effect",
                "name",
                "title",
                "toolsets"
            ],
            "{tool}"
        );
        // Its toolsets: its own area first, then what it also acts on.
        assert_eq!(object["toolsets"][0], object["area"], "{tool}");
        names.push(object["name"].as_str().expect("name"));
    }
    assert!(names.contains(&"start_vm"), "{names:?}");
    assert!(!names.contains(&"delete_vm_snapshot"), "{names:?}");
    let snapshot = tools
        .iter()
        .find(|t| t["name"] == "create_container_snapshot")
        .unwrap();
    assert_eq!(snapshot["toolsets"], json!(["snapshots", "containers"]));
    assert_eq!(snapshot["default"], true);
    let suspend = tools.iter().find(|t| t["name"] == "suspend_vm").unwrap();
    assert_eq!(suspend["default"], false);
}

#[test]
fn call_prints_the_tool_result() {
    let (server, nodes) = pve_with_nodes();
    let mut cmd = command(Some(&server.url()), &[]);
    cmd.args(["call", "list_nodes"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let printed: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        printed,
        json!({"data": sorted_nodes(), "total": 2, "limit": 100, "offset": 0})
    );
    assert_only_http_warning(&out.stderr);
    nodes.assert();
}

#[test]
fn call_with_a_bad_argument_fails_before_any_request() {
    let mut server = Server::new();
    let untouched = server.mock("GET", Matcher::Any).expect(0).create();
    let mut cmd = command(Some(&server.url()), &[]);
    cmd.args(["call", "get_vm_status", "vmid=abc"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("'vmid'"), "{}", out.stderr);
    untouched.assert();
}

#[test]
fn check_reports_the_pve_version() {
    let mut server = Server::new();
    let version = server
        .mock("GET", "/api2/extjs/version")
        .with_body(r#"{"success":1,"data":{"version":"9.1.2","release":"9.1","repoid":"abc"}}"#)
        .create();
    let cluster = server
        .mock("GET", "/api2/extjs/cluster/status")
        .with_body(
            r#"{"success":1,"data":[{"type":"cluster","name":"lab","nodes":2,"quorate":1},{"type":"node","name":"pve1","online":1},{"type":"node","name":"pve2","online":1}]}"#,
        )
        .create();
    let permissions = server
        .mock("GET", "/api2/extjs/access/permissions")
        .with_body(json!({"success": 1, "data": crate::support::all_privileges()}).to_string())
        .create();
    let mut cmd = command(Some(&server.url()), &[]);
    cmd.arg("check");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"✓ connection and login: PVE 9.1.2"),
        "{}",
        out.stdout
    );
    assert!(
        lines.contains(&"✓ cluster: cluster lab, 2 node(s)"),
        "{}",
        out.stdout
    );
    let n = crate::support::tool_count(proxmox_mcp_server::policy::Access::ReadOnly);
    let all_usable = format!("✓ tools: {n} of {n} tools at access read-only can be used");
    assert!(lines.contains(&all_usable.as_str()), "{}", out.stdout);
    assert!(!lines.iter().any(|l| l.starts_with('✗')), "{}", out.stdout);
    version.assert();
    cluster.assert();
    permissions.assert();
}

/// `check` (with `args`) at access operate against a PVE granting `permissions`.
fn check_with(permissions: Value, args: &[&str]) -> Output {
    let mut server = Server::new();
    server
        .mock("GET", "/api2/extjs/version")
        .with_body(r#"{"success":1,"data":{"version":"9.1.2"}}"#)
        .create();
    server
        .mock("GET", "/api2/extjs/cluster/status")
        .with_body(
            r#"{"success":0,"status":403,"message":"Permission check failed (/, Sys.Audit)\n"}"#,
        )
        .create();
    server
        .mock("GET", "/api2/extjs/access/permissions")
        .with_body(json!({"success": 1, "data": permissions}).to_string())
        .create();
    // Every toolset: the HA and cluster firewall tools bring the privileges on `/`.
    let mut cmd = command(
        Some(&server.url()),
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "all"),
        ],
    );
    cmd.arg("check").args(args);
    run(cmd)
}

#[test]
fn check_names_each_tool_and_groups_the_missing_privileges_into_grants() {
    // VM.Audit and VM.PowerMgmt on one guest only: no node, storage or other guest to read.
    let vm_only = json!({"/vms/100": {"VM.Audit": 1, "VM.PowerMgmt": 1}});
    let out = check_with(vm_only.clone(), &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(report["ok"], false, "{report}");
    let checks = report["checks"].as_array().unwrap();
    let named = |name: &'static str| checks.iter().filter(move |c| c["check"] == name);
    let tools = named("tools").next().expect("a tools line");
    let mut policy = proxmox_mcp_server::policy::Policy::with_access(
        proxmox_mcp_server::policy::Access::Operate,
    );
    policy.allow = vec!["all".into()];
    let (usable, unusable): (Vec<_>, Vec<_>) = proxmox_mcp_server::tools::active(&policy)
        .partition(|t| {
            t.requirement().is_none_or(|(p, path)| {
                path.starts_with("/vms")
                    && p.iter().any(|p| *p == "VM.Audit" || *p == "VM.PowerMgmt")
            })
        });
    let names = |v: &[&proxmox_mcp_server::tools::Tool]| -> Vec<Value> {
        v.iter().map(|t| json!(t.name)).collect()
    };
    assert_eq!(tools["usable"], Value::Array(names(&usable)));
    assert_eq!(
        tools["unusable"].as_array().unwrap().len(),
        unusable.len(),
        "{tools}"
    );
    assert!(tools["unusable"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "create_vm_snapshot", "needs": "VM.Snapshot on /vms/{vmid}"})));
    let detail = tools["detail"].as_str().unwrap();
    assert!(
        detail.contains("; not the everyday reads: ")
            && detail.contains("get_node_status")
            && detail.contains("list_storage")
            && detail.contains("get_alerts")
            && !detail.contains("list_pools"),
        "{detail}"
    );
    // One line per missing privilege, not per tool; one command per ACL path.
    let missing: Vec<&str> = named("missing")
        .map(|c| c["detail"].as_str().unwrap())
        .collect();
    assert!(missing
        .iter()
        .any(|d| d.starts_with("Sys.Audit on /nodes, for get_node_status, ")));
    assert_eq!(
        missing
            .iter()
            .filter(|d| d.starts_with("VM.Snapshot on /vms,"))
            .count(),
        1,
        "{missing:?}"
    );
    assert!(checks.iter().all(|c| c["check"] != "create_vm_snapshot"));
    let commands = &named("grant").next().expect("a grant line")["commands"];
    let commands: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    // Sys.Audit on / (PVESysAdmin, also for Sys.Console) covers /nodes below it. Sys.Modify
    // (the firewall tools on /, list_node_updates on /nodes), which among the built-in roles
    // only Administrator holds, comes from a role made for it and granted on /, which covers
    // /nodes too: Administrator itself is never suggested. So does Mapping.Modify (the
    // notification endpoints and matchers), which no built-in role below Administrator holds
    // without also Permissions.Modify.
    assert_eq!(
        commands[0], "pveum role add ProxmoxMCP --privs 'Mapping.Modify,Sys.Modify'",
        "{commands:?}"
    );
    assert!(
        commands
            .contains(&"pveum acl modify / --roles PVESysAdmin,ProxmoxMCP --tokens 'root@pam!mcp'"),
        "{commands:?}"
    );
    // SDN.Allocate (creating vnets and subnets) is PVESDNAdmin's, on the zones.
    assert!(
        commands
            .contains(&"pveum acl modify /sdn/zones --roles PVESDNAdmin --tokens 'root@pam!mcp'"),
        "{commands:?}"
    );
    assert!(
        commands.iter().all(|c| !c.contains("Administrator")),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .all(|c| !c.starts_with("pveum acl modify /nodes ")),
        "{commands:?}"
    );
    let vms: Vec<&&str> = commands
        .iter()
        .filter(|c| c.starts_with("pveum acl modify /vms "))
        .collect();
    assert_eq!(vms.len(), 1, "{commands:?}");
    assert!(vms[0].contains("PVEVMAdmin"), "{commands:?}");

    // As text: the same, one line each, the commands on lines of their own.
    let text = check_with(vm_only, &[]).stdout;
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("✗ missing: "))
            .count(),
        missing.len()
    );
    assert!(
        text.contains(
            "\n    pveum acl modify /storage --roles PVEDatastoreAdmin --tokens 'root@pam!mcp'\n"
        ),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");

    // The read privileges everywhere: the everyday reads work, so the check passes.
    let audit = json!({"/": {"Sys.Audit": 1, "VM.Audit": 1, "Datastore.Audit": 1, "VM.GuestAgent.Audit": 1}});
    let out = check_with(audit, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true);
}

#[test]
fn check_json_reports_a_refused_setting_on_stdout() {
    let mut cmd = command(Some("pve1"), &[("PROXMOX_PORT", "99999")]);
    cmd.args(["check", "--json"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(
        report,
        json!({"ok": false, "checks": [{"check": "configuration", "ok": false,
            "detail": "PROXMOX_PORT=99999 is not a port number (1-65535)"}]})
    );
}

#[test]
fn check_against_a_closed_port_fails() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("local address").port()
    };
    let mut cmd = command(Some(&format!("http://127.0.0.1:{port}")), &[]);
    cmd.arg("check");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    let failed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("✗ connection and login: "))
        .collect();
    assert_eq!(failed.len(), 1, "{}", out.stdout);
    assert!(failed[0].contains("connection refused"), "{}", out.stdout);
}

#[test]
fn call_gives_what_tools_call_gives() {
    let mut fake = crate::support::FakePve::new();
    fake.get("/cluster/resources",
        json!([
            {"type": "qemu", "vmid": 101, "node": "pve2", "name": "db", "status": "stopped", "netin": 5},
            {"type": "qemu", "vmid": 100, "node": "pve1", "name": "web", "status": "running"},
        ]),
    );
    let args = json!({"limit": 1, "offset": 1});
    let config = crate::support::config(&fake, &[]);
    let pve = proxmox_mcp_server::pve::Pve::new(&config).unwrap();
    let mut client = crate::support::Client::new(&pve, &config);
    let mcp = client.call("list_vms", args.clone())["structuredContent"].clone();
    let mut cmd = command(Some(&fake.url()), &[]);
    cmd.args(["call", "list_vms", "limit=1", "--json", r#"{"offset": 1}"#]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let cli: Value = serde_json::from_str(out.stdout.trim_end()).expect("one line of JSON");
    assert_eq!(cli, mcp);
    assert_eq!(cli["data"][0]["vmid"], 101);
}

#[test]
fn tools_lists_exec_only_when_allowed_at_full() {
    let listed = |vars: &[(&str, &str)]| -> Vec<String> {
        let mut cmd = command(None, vars);
        cmd.args(["tools", "--json"]);
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
        let list: Value = serde_json::from_str(&out.stdout).unwrap();
        let names = crate::support::texts(&list, "name");
        names.into_iter().map(String::from).collect()
    };
    let full = listed(&[("PROXMOX_MCP_ACCESS", "full"), ("PROXMOX_MCP_TOOLS", "all")]);
    assert!(!full.contains(&"exec_in_vm".to_string()));
    let exec = listed(&[
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_ALLOW_EXEC", "true"),
        ("PROXMOX_MCP_TOOLS", "all"),
    ]);
    assert!(exec.contains(&"exec_in_vm".to_string()));
    assert_eq!(
        exec.len(),
        full.len() + 1 + usize::from(std::path::Path::new("/usr/sbin/pct").exists())
    );
}

/// With `PROXMOX_MCP_LOG=debug` the server used to ask PVE for its version before reading
/// stdin, so against a PVE that never answers `initialize` waited for the HTTP timeout (30 s
/// here). Start-up never waits on PVE: the answer comes at once, before PVE would time out.
#[test]
fn initialize_never_waits_on_a_hanging_pve() {
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", hanging.local_addr().unwrap());
    let cmd = command(
        Some(&host),
        &[("PROXMOX_MCP_LOG", "debug"), ("PROXMOX_TIMEOUT", "30")],
    );
    let mut session = Session::start(cmd);
    session.send(&initialize());
    // `receive` gives up after LINE_TIMEOUT (10 s), well before the 30 s HTTP timeout.
    let init = session.receive();
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "proxmox-mcp-server");
    drop(hanging);
}

/// PVE's extjs envelope answers a refused token with HTTP 200 and `status: 401` inside: the
/// debug log shows PVE's status, not the HTTP one.
#[test]
fn the_debug_log_shows_pves_status_from_the_envelope() {
    let mut server = mockito::Server::new();
    let _refused = server
        .mock("GET", mockito::Matcher::Regex("^/api2/extjs/nodes".into()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"success":0,"status":401,"message":"authentication failure"}"#)
        .create();
    let mut cmd = command(Some(&server.url()), &[("PROXMOX_MCP_LOG", "debug")]);
    cmd.args(["call", "list_nodes"]);
    let out = run(cmd);
    assert!(
        out.stderr.contains("GET /nodes -> 401 in "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("-> 200"), "{}", out.stderr);
    assert!(!out.stderr.contains(TOKEN_VALUE), "{}", out.stderr);
}

/// A mistyped setting is not ignored without a word: stderr names it and the setting it may mean.
#[test]
fn an_unknown_proxmox_variable_is_warned_about() {
    let mut cmd = command(None, &[("PROXMOX_ACCESS", "operate")]);
    cmd.args(["tools"]);
    let out = run(cmd);
    assert!(
        out.stderr.contains("proxmox-mcp-server: warning: PROXMOX_ACCESS is not a setting of this server and is ignored (did you mean PROXMOX_MCP_ACCESS?)"),
        "{}",
        out.stderr
    );
    // Known variables, secret files and setup.sh's own are not warned about.
    let mut cmd = command(
        None,
        &[
            ("PROXMOX_TOKEN_VALUE_FILE", "/nonexistent"),
            ("PROXMOX_SETUP_CLAUDE", "1"),
        ],
    );
    cmd.args(["tools"]);
    let out = run(cmd);
    assert!(!out.stderr.contains("is not a setting"), "{}", out.stderr);
}
