//! Performance figures of the built binaries, against a local HTTPS server that answers like PVE.
//!
//! Run it through `bench/run` (which builds the binaries first), or:
//!
//! ```sh
//! cargo run --release --example bench -- --bin release=target/release/proxmox-mcp-server
//! ```
//!
//! Options: `--bin LABEL=PATH` (repeatable), `--spawns N` (cold starts per binary, default 50),
//! `--calls N` (tool calls per binary, default 10000), `--rustc TEXT` (shown in the header).
//! Measures binary size (and bytes per tool), cold start, per-call latency next to the same
//! HTTPS requests sent directly with one reused ureq agent, the static binary's calls against
//! the release binary's, requests sent to PVE per call, RSS, and `tools/list` size per access
//! level (and per tool). Loopback only. Prints measured figures and marks each target.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxmox_mcp_server::tls::{self, Trust};
use proxmox_mcp_server::tools::alerts::max_requests;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{json, Value};

const TOKEN: &str = "0b6d7c1e-8f2a-4e93-a5d4-3c9e1f7b2a60";
const UPID: &str = "UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:";
const PROTOCOL: &str = "2025-11-25";

// Targets (decimal units: 1 MB = 1,000,000 bytes).
const SIZE_TARGET: u64 = 2_500_000;
const COLD_START_TARGET: Duration = Duration::from_millis(10);
const OVERHEAD_TARGET: f64 = 1.2;
/// "The static binary no slower per call than the release one": the sum of its per-call
/// medians at most this much above the release binary's (what two runs of one binary differ by).
const STATIC_SLACK: f64 = 1.05;
const RSS_TARGET: u64 = 10_000_000;
/// `tools/list` at access `full` (exec on) for the default toolset, and for any one tool.
const DEFAULT_LIST_TARGET: usize = 40_000;
const ONE_TOOL_TARGET: usize = 1_500;
/// Tools in the default set at access `full`: within the 40 tools Cursor has capped a session at.
const DEFAULT_TOOLS_TARGET: usize = 40;
/// "No growth": RSS after all calls at most this much above RSS after the first 1,000.
const RSS_GROWTH_SLACK: u64 = 256 * 1024;
/// RSS is sampled after this many calls, and again after all of them.
const RSS_EARLY: usize = 1_000;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

struct Options {
    bins: Vec<(String, PathBuf)>,
    spawns: usize,
    calls: usize,
    rustc: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        bins: Vec::new(),
        spawns: 50,
        calls: 10_000,
        rustc: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--bin" => {
                let v = value();
                let (label, path) = v.split_once('=').unwrap_or(("release", v.as_str()));
                o.bins.push((label.to_string(), PathBuf::from(path)));
            }
            "--spawns" => o.spawns = value().parse().unwrap_or_else(|_| fail("--spawns N")),
            "--calls" => o.calls = value().parse().unwrap_or_else(|_| fail("--calls N")),
            "--rustc" => o.rustc = Some(value()),
            _ => fail(&format!("unknown argument {a}")),
        }
    }
    if o.bins.is_empty() {
        o.bins.push((
            "release".into(),
            PathBuf::from("target/release/proxmox-mcp-server"),
        ));
    }
    if o.spawns < 30 || o.calls < 5 * 500 {
        fail("at least 30 spawns and 2500 calls (500 per tool)");
    }
    o
}

fn fail(message: &str) -> ! {
    eprintln!("bench: {message}");
    std::process::exit(2)
}

// ---------------------------------------------------------------------------------------------
// The fake PVE: HTTPS with the test leaf certificate, keep-alive, one thread per connection.

/// A local HTTPS server answering the few PVE calls the benchmark makes; counts requests.
struct FakePve {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl FakePve {
    fn start() -> FakePve {
        let chain = vec![CertificateDer::from_pem_file(data("leaf.pem")).expect("leaf.pem")];
        let key = PrivateKeyDer::from_pem_file(data("leaf.key")).expect("leaf.key");
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Answers::new());
        {
            let requests = requests.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (config, requests, answers) =
                        (config.clone(), requests.clone(), answers.clone());
                    std::thread::spawn(move || serve(stream, config, &requests, &answers));
                }
            });
        }
        FakePve { port, requests }
    }

    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The answers, serialized once.
struct Answers {
    resources: Vec<u8>,
    /// `/cluster/resources` without a type: the guests, 3 nodes and their storages.
    everything: Vec<u8>,
    /// An empty list: every other read the alert rules send (nothing wrong).
    empty: Vec<u8>,
    /// PVE's answer where Ceph is not installed.
    no_ceph: Vec<u8>,
    vm_status: Vec<u8>,
    started: Vec<u8>,
    task: Vec<u8>,
    version: Vec<u8>,
}

impl Answers {
    fn new() -> Answers {
        // A small cluster: 3 nodes, 30 VMs and 10 containers.
        let mut guests = Vec::new();
        for i in 0..40u64 {
            let (kind, vmid) = if i < 30 {
                ("qemu", 100 + i)
            } else {
                ("lxc", 200 + i)
            };
            let node = format!("pve{}", 1 + i % 3);
            guests.push(json!({
                "id": format!("{kind}/{vmid}"), "type": kind, "vmid": vmid, "node": node,
                "name": format!("guest-{vmid}"), "status": if i % 4 == 0 { "stopped" } else { "running" },
                "cpu": 0.0123, "maxcpu": 4, "mem": 1_073_741_824u64, "maxmem": 4_294_967_296u64,
                "disk": 0, "maxdisk": 34_359_738_368u64, "uptime": 86_400 + i, "template": 0,
                "netin": 123_456_789, "netout": 98_765_432, "diskread": 1_234_567, "diskwrite": 7_654_321,
                "tags": "bench;web",
            }));
        }
        let envelope = |data: Value| json!({"success": 1, "data": data}).to_string().into_bytes();
        let mut everything = guests.clone();
        for n in 1..=3 {
            let node = format!("pve{n}");
            everything.push(json!({"id": format!("node/{node}"), "type": "node", "node": node, "status": "online",
                                   "mem": 8_589_934_592u64, "maxmem": 68_719_476_736u64}));
            everything.push(json!({"id": format!("storage/{node}/local"), "type": "storage", "node": node, "storage": "local",
                                   "status": "available", "content": "backup,iso,vztmpl", "shared": 0,
                                   "disk": 10_737_418_240u64, "maxdisk": 107_374_182_400u64}));
            everything.push(json!({"id": format!("storage/{node}/pbs"), "type": "storage", "node": node, "storage": "pbs",
                                   "status": "available", "content": "backup", "plugintype": "pbs", "shared": 1,
                                   "disk": 10_737_418_240u64, "maxdisk": 107_374_182_400u64}));
        }
        Answers {
            resources: envelope(Value::Array(guests)),
            everything: envelope(Value::Array(everything)),
            empty: envelope(json!([])),
            no_ceph: json!({"success": 0, "status": 500, "message": "binary not installed: /usr/bin/ceph-mon\n", "data": null})
                .to_string()
                .into_bytes(),
            vm_status: envelope(json!({
                "vmid": 100, "name": "guest-100", "status": "running", "qmpstatus": "running",
                "cpu": 0.0123, "cpus": 4, "mem": 1_073_741_824u64, "maxmem": 4_294_967_296u64,
                "uptime": 86_400, "ha": {"managed": 0}, "pid": 4242, "agent": 1,
            })),
            started: envelope(json!(UPID)),
            task: envelope(json!({
                "upid": UPID, "node": "pve1", "status": "stopped", "exitstatus": "OK",
                "type": "qmstart", "id": "100", "user": "root@pam!mcp",
                "starttime": 1_732_288_512, "endtime": 1_732_288_512, "pid": 4242,
            })),
            version: envelope(json!({"version": "9.1.2", "release": "9.1", "repoid": "bench"})),
        }
    }

    fn route(&self, method: &str, path: &str) -> (&'static str, &[u8]) {
        let typed = path.contains('?');
        let path = path.split('?').next().unwrap_or_default();
        let path = path.strip_prefix("/api2/extjs").unwrap_or(path);
        let alert_read = |p: &str| {
            [
                "/cluster/status",
                "/cluster/ha/status/current",
                "/cluster/replication",
            ]
            .contains(&p)
                || [
                    "/tasks",
                    "/disks/list",
                    "/disks/zfs",
                    "/certificates/info",
                    "/apt/update",
                    "/content",
                ]
                .iter()
                .any(|end| p.starts_with("/nodes/pve") && p.ends_with(end))
        };
        match (method, path) {
            ("GET", "/cluster/resources") if !typed => ("200 OK", &self.everything),
            ("GET", "/cluster/resources") => ("200 OK", &self.resources),
            ("GET", "/cluster/ceph/status") => ("200 OK", &self.no_ceph),
            ("GET", p) if alert_read(p) => ("200 OK", &self.empty),
            ("GET", "/nodes/pve1/qemu/100/status/current") => ("200 OK", &self.vm_status),
            ("POST", "/nodes/pve1/qemu/100/status/start") => ("200 OK", &self.started),
            ("GET", "/version") => ("200 OK", &self.version),
            ("GET", p) if p.starts_with("/nodes/pve1/tasks/UPID:") && p.ends_with("/status") => {
                ("200 OK", &self.task)
            }
            _ => ("501 Not Implemented", b"{\"data\":null}"),
        }
    }
}

fn serve(stream: TcpStream, config: Arc<ServerConfig>, requests: &AtomicUsize, answers: &Answers) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = BufReader::new(StreamOwned::new(conn, stream));
    let mut line = String::new();
    loop {
        // Request line, headers (Content-Length), body.
        line.clear();
        if tls.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut words = line.split_whitespace();
        let (method, path) = match (words.next(), words.next()) {
            (Some(m), Some(p)) => (m.to_string(), p.to_string()),
            _ => return,
        };
        let mut length = 0usize;
        loop {
            line.clear();
            if tls.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if tls.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let (status, answer) = answers.route(&method, &path);
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        )
        .into_bytes();
        out.extend_from_slice(answer);
        let tls = tls.get_mut();
        if tls.write_all(&out).and_then(|()| tls.flush()).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test, over its stdin and stdout.

struct Mcp {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
}

fn command(bin: &Path, port: u16, access: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PROXMOX_HOST", format!("https://127.0.0.1:{port}"))
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_TOKEN_NAME", "mcp")
        .env("PROXMOX_TOKEN_VALUE", TOKEN)
        .env("PROXMOX_CA_FILE", data("ca.pem"))
        .env("PROXMOX_MCP_ACCESS", access)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

impl Mcp {
    fn spawn(cmd: &mut Command) -> Mcp {
        let mut child = cmd.spawn().unwrap_or_else(|e| fail(&format!("spawn: {e}")));
        let stdin = BufWriter::new(child.stdin.take().expect("stdin"));
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Mcp {
            child,
            stdin,
            stdout,
            line: String::new(),
            next_id: 1,
        }
    }

    /// Sends one request and reads one answer line (kept in `self.line`).
    fn roundtrip(&mut self, method: &str, params: &Value) -> &str {
        let line = self.request_line(method, params);
        self.exchange(&line)
    }

    /// A request with the next id, as one line.
    fn request_line(&mut self, method: &str, params: &Value) -> Vec<u8> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        line.push('\n');
        line.into_bytes()
    }

    /// Writes a request line and reads the answer line: the only part that is timed.
    fn exchange(&mut self, line: &[u8]) -> &str {
        if self
            .stdin
            .write_all(line)
            .and_then(|()| self.stdin.flush())
            .is_err()
        {
            fail("the server closed stdin");
        }
        self.line.clear();
        if self.stdout.read_line(&mut self.line).unwrap_or(0) == 0 {
            fail("the server closed stdout instead of answering");
        }
        self.line.trim_end()
    }

    fn send(&mut self, message: &Value) {
        let ok = serde_json::to_writer(&mut self.stdin, message).is_ok()
            && self.stdin.write_all(b"\n").is_ok()
            && self.stdin.flush().is_ok();
        if !ok {
            fail("the server closed stdin");
        }
    }

    fn initialize(&mut self) -> &str {
        let params = json!({"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}});
        self.roundtrip("initialize", &params)
    }

    fn initialized(&mut self) {
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// Closes stdin and waits for the exit.
    fn finish(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                fail("the server did not exit when its input closed");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in bytes.
fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// Sorted samples.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut v: Vec<Duration>) -> Samples {
        v.sort();
        Samples(v)
    }
    fn quantile(&self, q: f64) -> Duration {
        let i = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[i]
    }
    fn median(&self) -> Duration {
        self.quantile(0.5)
    }
    fn max(&self) -> Duration {
        *self.0.last().expect("samples")
    }
}

struct ColdStart {
    initialize: Samples,
    tools_list: Samples,
}

fn cold_start(bin: &Path, port: u16, spawns: usize) -> ColdStart {
    let mut init = Vec::new();
    let mut list = Vec::new();
    // One start first, not counted, so the binary is in the page cache like for every later start.
    for i in 0..=spawns {
        let mut cmd = command(bin, port, "read-only");
        let started = Instant::now();
        let mut mcp = Mcp::spawn(&mut cmd);
        if !mcp.initialize().contains("\"protocolVersion\"") {
            fail(&format!("initialize failed: {}", mcp.line));
        }
        let t_init = started.elapsed();
        mcp.initialized();
        if !mcp
            .roundtrip("tools/list", &json!({}))
            .contains("\"tools\"")
        {
            fail(&format!("tools/list failed: {}", mcp.line));
        }
        let t_list = started.elapsed();
        mcp.finish();
        if i > 0 {
            init.push(t_init);
            list.push(t_list);
        }
    }
    ColdStart {
        initialize: Samples::new(init),
        tools_list: Samples::new(list),
    }
}

/// One measured tool call and the HTTPS requests that do the same directly.
struct Case {
    label: &'static str,
    tool: &'static str,
    args: Value,
    direct: &'static [(&'static str, &'static str)],
}

fn cases() -> Vec<Case> {
    const RESOURCES: (&str, &str) = ("GET", "/cluster/resources?type=vm");
    const STATUS: (&str, &str) = ("GET", "/nodes/pve1/qemu/100/status/current");
    const START: (&str, &str) = ("POST", "/nodes/pve1/qemu/100/status/start");
    const TASK: (&str, &str) = (
        "GET",
        "/nodes/pve1/tasks/UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:/status",
    );
    vec![
        Case {
            label: "list_vms",
            tool: "list_vms",
            args: json!({}),
            direct: &[RESOURCES],
        },
        Case {
            label: "list_containers",
            tool: "list_containers",
            args: json!({}),
            direct: &[RESOURCES],
        },
        Case {
            label: "get_vm_status (node)",
            tool: "get_vm_status",
            args: json!({"vmid": 100, "node": "pve1"}),
            direct: &[STATUS],
        },
        Case {
            label: "get_vm_status (no node)",
            tool: "get_vm_status",
            args: json!({"vmid": 100}),
            direct: &[RESOURCES, STATUS],
        },
        Case {
            label: "start_vm (node, task done)",
            tool: "start_vm",
            args: json!({"vmid": 100, "node": "pve1"}),
            direct: &[START, TASK],
        },
    ]
}

struct CaseResult {
    mcp: Samples,
    direct: Samples,
    /// HTTP requests PVE received per tool call.
    requests: f64,
}

struct Load {
    cases: Vec<CaseResult>,
    /// `ping` round trips: stdio and JSON-RPC without PVE.
    ping: Samples,
    calls: usize,
    rss_early: Option<(u64, u64)>,
    rss_late: Option<(u64, u64)>,
}

/// `calls` tool calls in one server process, the cases in turn; each call is followed by the
/// same requests sent directly with one reused agent.
fn load(bin: &Path, fake: &FakePve, calls: usize) -> Load {
    let cases = cases();
    let trust = Trust::Roots {
        ca_files: vec![data("ca.pem")],
        system: false,
    };
    let (agent, _) = tls::agent(&trust, Duration::from_secs(30)).expect("direct agent");
    let base = format!("https://127.0.0.1:{}/api2/extjs", fake.port);
    let auth = format!("PVEAPIToken=root@pam!mcp={TOKEN}");
    let direct = |method: &str, path: &str| {
        let url = format!("{base}{path}");
        let response = if method == "POST" {
            agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(&[][..])
        } else {
            agent.get(&url).header("Authorization", &auth).call()
        };
        let body = response
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| fail(&format!("direct {method} {path}: {e}")));
        if !body.contains("\"success\":1") {
            fail(&format!("direct {method} {path}: {body}"));
        }
    };

    let mut mcp = Mcp::spawn(&mut command(bin, fake.port, "operate"));
    mcp.initialize();
    mcp.initialized();
    let mut mcp_times: Vec<Vec<Duration>> = cases.iter().map(|_| Vec::new()).collect();
    let mut direct_times: Vec<Vec<Duration>> = cases.iter().map(|_| Vec::new()).collect();
    let mut ping_times = Vec::new();
    let mut requests = vec![0usize; cases.len()];
    let mut rss_early = None;
    for n in 0..calls {
        let i = n % cases.len();
        let case = &cases[i];
        if i == 0 {
            // The floor: a request that sends nothing to PVE.
            let line = mcp.request_line("ping", &json!({}));
            let started = Instant::now();
            mcp.exchange(&line);
            ping_times.push(started.elapsed());
        }
        let line = mcp.request_line(
            "tools/call",
            &json!({"name": case.tool, "arguments": case.args}),
        );
        let before = fake.count();
        let started = Instant::now();
        let answer = mcp.exchange(&line);
        mcp_times[i].push(started.elapsed());
        requests[i] += fake.count() - before;
        if !answer.contains("\"isError\":false") {
            fail(&format!("{} failed: {answer}", case.label));
        }
        let started = Instant::now();
        for (method, path) in case.direct {
            direct(method, path);
        }
        direct_times[i].push(started.elapsed());
        if n + 1 == RSS_EARLY {
            rss_early = rss(mcp.pid());
        }
    }
    let rss_late = rss(mcp.pid());
    mcp.finish();
    Load {
        cases: mcp_times
            .into_iter()
            .zip(direct_times)
            .zip(requests)
            .map(|((m, d), r)| CaseResult {
                requests: r as f64 / m.len() as f64,
                mcp: Samples::new(m),
                direct: Samples::new(d),
            })
            .collect(),
        ping: Samples::new(ping_times),
        calls,
        rss_early,
        rss_late,
    }
}

/// One `get_alerts` call against the fake: the requests PVE received and the alerts it returned.
fn alert_requests(bin: &Path, fake: &FakePve) -> (usize, usize) {
    let mut mcp = Mcp::spawn(&mut command(bin, fake.port, "read-only"));
    mcp.initialize();
    mcp.initialized();
    let before = fake.count();
    let answer = mcp.roundtrip(
        "tools/call",
        &json!({"name": "get_alerts", "arguments": {}}),
    );
    let reply: Value = serde_json::from_str(answer).unwrap_or_default();
    let result = &reply["result"];
    if result["isError"] != json!(false) {
        fail(&format!("get_alerts failed: {answer}"));
    }
    let alerts = result["structuredContent"]["data"]
        .as_array()
        .map_or(0, Vec::len);
    let sent = fake.count() - before;
    mcp.finish();
    (sent, alerts)
}

/// The `tools/list` answer line of a server at `access` (with exec allowed when `exec`), with
/// `PROXMOX_MCP_TOOLS` set to `tools` (unset for `None`: the default set).
fn tools_list_line(bin: &Path, port: u16, access: &str, exec: bool, tools: Option<&str>) -> String {
    let mut cmd = command(bin, port, access);
    if exec {
        cmd.env("PROXMOX_MCP_ALLOW_EXEC", "true");
    }
    if let Some(tools) = tools {
        cmd.env("PROXMOX_MCP_TOOLS", tools);
    }
    let mut mcp = Mcp::spawn(&mut cmd);
    mcp.initialize();
    mcp.initialized();
    let line = mcp.roundtrip("tools/list", &json!({})).to_string();
    mcp.finish();
    line
}

/// Bytes of the `tools/list` answer line and the number of tools at each access level, with
/// `PROXMOX_MCP_TOOLS` unset (the default set) and `all`.
fn tools_list_sizes(bin: &Path, port: u16) -> Vec<(&'static str, [(usize, usize); 2])> {
    let size = |access: &str, tools: Option<&str>| {
        let line = tools_list_line(bin, port, access, false, tools);
        let count = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["result"]["tools"].as_array().map(Vec::len))
            .unwrap_or(0);
        (line.len(), count)
    };
    ["read-only", "operate", "full"]
        .into_iter()
        .map(|access| (access, [size(access, None), size(access, Some("all"))]))
        .collect()
}

/// `tools/list` at `full` with exec on: (tools, bytes) for the default areas and for every tool,
/// and the largest tool (name, bytes of its compact JSON).
struct Budgets {
    default: (usize, usize),
    all: (usize, usize),
    largest: (String, usize),
}

fn tools_list_budgets(bin: &Path, port: u16) -> Budgets {
    let list = |areas: Option<&str>| -> Value {
        let line = tools_list_line(bin, port, "full", true, areas);
        serde_json::from_str(&line).unwrap_or_else(|e| fail(&format!("tools/list: {e}")))
    };
    let measure = |v: &Value| {
        let tools = v["result"]["tools"].as_array().map(Vec::len).unwrap_or(0);
        (tools, v.to_string().len())
    };
    let all = list(Some("all"));
    let largest = all["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("?").to_string(),
                t.to_string().len(),
            )
        })
        .max_by_key(|(_, bytes)| *bytes)
        .unwrap_or_default();
    Budgets {
        default: measure(&list(None)),
        all: measure(&all),
        largest,
    }
}

/// Size, whether the symbol table is gone, and whether it is statically linked (no interpreter).
struct Binary {
    size: u64,
    stripped: Option<bool>,
    static_: Option<bool>,
}

fn inspect(bin: &Path) -> Binary {
    let bytes = std::fs::read(bin).unwrap_or_else(|e| fail(&format!("{}: {e}", bin.display())));
    let (stripped, static_) = elf_facts(&bytes).unzip();
    Binary {
        size: bytes.len() as u64,
        stripped,
        static_,
    }
}

/// (no SHT_SYMTAB section, no PT_INTERP segment) for a little-endian ELF64 file.
fn elf_facts(b: &[u8]) -> Option<(bool, bool)> {
    if b.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    let (phoff, shoff) = (u64_at(0x20)?, u64_at(0x28)?);
    let (phentsize, phnum) = (u16_at(0x36)?, u16_at(0x38)?);
    let (shentsize, shnum) = (u16_at(0x3A)?, u16_at(0x3C)?);
    let mut interp = false;
    for i in 0..phnum {
        interp |= u32_at(phoff + i * phentsize)? == 3; // PT_INTERP
    }
    let mut symtab = false;
    for i in 0..shnum {
        symtab |= u32_at(shoff + i * shentsize + 4)? == 2; // SHT_SYMTAB
    }
    Some((!symtab, !interp))
}

// ---------------------------------------------------------------------------------------------
// Report.

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A target outcome: the verdict and a short name for the summary.
struct Verdicts(Vec<(String, bool)>);

impl Verdicts {
    fn mark(&mut self, name: String, met: bool) -> &'static str {
        self.0.push((name, met));
        if met {
            "met"
        } else {
            "MISSED"
        }
    }
}

fn row(cells: &[&str]) {
    println!("| {} |", cells.join(" | "));
}

fn machine(rustc: Option<&str>) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "- machine: {cores} cores (nproc), {cpu}, {os}, Linux {}{}",
        kernel.trim(),
        rustc.map(|r| format!(", {r}")).unwrap_or_default()
    );
}

fn main() {
    let o = options();
    let fake = FakePve::start();
    machine(o.rustc.as_deref());
    println!(
        "- server: proxmox-mcp-server {} against a local HTTPS fake PVE on 127.0.0.1 (TLS 1.3, keep-alive, test CA)",
        env!("CARGO_PKG_VERSION")
    );
    println!();

    let mut verdicts = Verdicts(Vec::new());
    let started = Instant::now();

    // Binary size.
    println!("### binary");
    println!();
    row(&[
        "binary",
        "bytes",
        "stripped",
        "static",
        "bytes per tool (full)",
        "target ≤ 2.5 MB (static)",
    ]);
    row(&["---", "---:", "---", "---", "---:", "---"]);
    // Every tool is listed at `full`: the table's size is what grows the binary.
    let lists = tools_list_sizes(&o.bins[0].1, fake.port);
    let all_tools = lists.last().map_or(0, |&(_, [_, (_, tools)])| tools);
    for (label, bin) in &o.bins {
        let b = inspect(bin);
        let yn = |v: Option<bool>| match v {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let verdict = if b.static_ == Some(true) {
            let met = b.size <= SIZE_TARGET && b.stripped == Some(true);
            format!(
                "{} ({})",
                mb(b.size),
                verdicts.mark(format!("{label} size"), met)
            )
        } else {
            "n/a (dynamic)".to_string()
        };
        row(&[
            &format!("{label} ({})", bin.display()),
            &thousands(b.size),
            yn(b.stripped),
            yn(b.static_),
            &thousands(b.size / all_tools.max(1) as u64),
            &verdict,
        ]);
    }
    if !o.bins.iter().any(|(_, b)| inspect(b).static_ == Some(true)) {
        verdicts.mark("static size (no static build)".into(), false);
        println!("\nno static binary was built: the size target is not measured (see bench/run)");
    }
    println!();

    // Cold start.
    println!(
        "### cold start ({} spawns each, after one uncounted start)",
        o.spawns
    );
    println!();
    row(&[
        "binary",
        "→ initialize median",
        "max",
        "→ tools/list median",
        "max",
        "target: initialize median < 10 ms",
    ]);
    row(&["---", "---:", "---:", "---:", "---:", "---"]);
    let mut starts = Vec::new();
    for (label, bin) in &o.bins {
        let c = cold_start(bin, fake.port, o.spawns);
        let met = c.initialize.median() < COLD_START_TARGET;
        starts.push(format!("{} {label}", ms(c.initialize.median())));
        row(&[
            label,
            &ms(c.initialize.median()),
            &ms(c.initialize.max()),
            &ms(c.tools_list.median()),
            &ms(c.tools_list.max()),
            verdicts.mark(format!("{label} cold start"), met),
        ]);
    }
    println!();

    // Per-call latency, requests per call, RSS.
    let mut loads = Vec::new();
    for (label, bin) in &o.bins {
        let l = load(bin, &fake, o.calls);
        println!(
            "### per call: {label} ({} calls in one process, {} per tool; each next to the same HTTPS requests sent directly with one reused ureq agent)",
            thousands(l.calls as u64),
            thousands((l.calls / l.cases.len()) as u64)
        );
        println!();
        row(&[
            "tool call",
            "PVE requests",
            "MCP median",
            "p99",
            "direct median",
            "p99",
            "added (median)",
            "overhead (median ratio)",
            "target ≤ 1.2x",
        ]);
        row(&[
            "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---",
        ]);
        for (case, r) in cases().iter().zip(&l.cases) {
            let ratio = r.mcp.median().as_secs_f64() / r.direct.median().as_secs_f64();
            row(&[
                case.label,
                &format!("{:.2}", r.requests),
                &us(r.mcp.median()),
                &us(r.mcp.quantile(0.99)),
                &us(r.direct.median()),
                &us(r.direct.quantile(0.99)),
                &format!(
                    "{:+.0} µs",
                    (r.mcp.median().as_secs_f64() - r.direct.median().as_secs_f64()) * 1e6
                ),
                &format!("{ratio:.2}x"),
                verdicts.mark(
                    format!("{label} overhead {}", case.label),
                    ratio <= OVERHEAD_TARGET,
                ),
            ]);
        }
        row(&[
            "ping (no PVE request: the stdio floor)",
            "0",
            &us(l.ping.median()),
            &us(l.ping.quantile(0.99)),
            "",
            "",
            "",
            "",
            "",
        ]);
        println!();
        loads.push((label.clone(), l));
    }

    // The static binary against the release one, call for call.
    let total = |label: &str| {
        loads.iter().find(|(l, _)| l == label).map(|(_, l)| {
            l.cases
                .iter()
                .map(|r| r.mcp.median().as_secs_f64())
                .sum::<f64>()
        })
    };
    if let (Some(release), Some(static_)) = (total("release"), total("static")) {
        let ratio = static_ / release;
        println!("### static against release (sum of the per-call medians above)");
        println!();
        row(&[
            "release",
            "static",
            "ratio",
            "target ≤ 1.05x (no slower, within noise)",
        ]);
        row(&["---:", "---:", "---:", "---"]);
        row(&[
            &us(Duration::from_secs_f64(release)),
            &us(Duration::from_secs_f64(static_)),
            &format!("{ratio:.2}x"),
            verdicts.mark(
                "static no slower than release".into(),
                ratio <= STATIC_SLACK,
            ),
        ]);
        println!();
    }

    println!("### PVE requests per call (counted by the fake PVE)");
    println!();
    row(&["check", "measured", "target", "verdict"]);
    row(&["---", "---", "---", "---"]);
    let (_, first) = &loads[0];
    for (i, name) in [(0, "list_vms"), (1, "list_containers")] {
        let n = first.cases[i].requests;
        row(&[
            &format!("{name} cluster-wide"),
            &format!("{n} request(s)"),
            "1",
            verdicts.mark(format!("{name} requests"), n == 1.0),
        ]);
    }
    let extra = first.cases[3].requests - first.cases[2].requests;
    row(&[
        "get_vm_status without node",
        &format!("+{extra:.2} request(s)"),
        "at most +1",
        verdicts.mark("vmid without node".into(), extra <= 1.0),
    ]);
    let (sent, alerts) = alert_requests(&o.bins[0].1, &fake);
    let bound = max_requests(3);
    row(&[
        "get_alerts, 3 nodes, 4 backup storages (1 shared)",
        &format!("{sent} request(s) ({alerts} alerts: its guests have no backups)"),
        &format!("at most {bound} (max_requests(3))"),
        verdicts.mark("get_alerts requests".into(), sent <= bound),
    ]);
    println!();

    println!("### memory (RSS of the server process)");
    println!();
    row(&[
        "binary",
        &format!("after {}", thousands(RSS_EARLY as u64)),
        &format!("after {}", thousands(o.calls as u64)),
        "growth",
        "peak (VmHWM)",
        "target: peak < 10 MB",
        "target: no growth (< 256 KiB)",
    ]);
    row(&["---", "---:", "---:", "---:", "---:", "---", "---"]);
    for (label, l) in &loads {
        match (l.rss_early, l.rss_late) {
            (Some((early, _)), Some((late, peak))) => {
                let growth = late as i64 - early as i64;
                row(&[
                    label,
                    &mb(early),
                    &mb(late),
                    &format!("{:+} KiB", growth / 1024),
                    &mb(peak),
                    verdicts.mark(format!("{label} peak RSS"), peak < RSS_TARGET),
                    verdicts.mark(
                        format!("{label} RSS growth"),
                        late <= early + RSS_GROWTH_SLACK,
                    ),
                ]);
            }
            _ => row(&[label, "?", "?", "?", "?", "not measured (no /proc)", ""]),
        }
    }
    println!();

    println!("### tools/list (protocol {PROTOCOL})");
    println!();
    row(&[
        "access level",
        "default set: tools",
        "bytes",
        "PROXMOX_MCP_TOOLS=all: tools",
        "bytes",
        "bytes per tool (all)",
    ]);
    row(&["---", "---:", "---:", "---:", "---:", "---:"]);
    for &(access, [(bytes, tools), (all_bytes, all_tools)]) in &lists {
        row(&[
            access,
            &tools.to_string(),
            &thousands(bytes as u64),
            &all_tools.to_string(),
            &thousands(all_bytes as u64),
            &thousands((all_bytes / all_tools.max(1)) as u64),
        ]);
    }
    println!();
    let b = tools_list_budgets(&o.bins[0].1, fake.port);
    row(&["at full, exec on", "tools", "bytes", "target"]);
    row(&["---", "---:", "---:", "---"]);
    let (tools, bytes) = b.default;
    row(&[
        "default set (PROXMOX_MCP_TOOLS unset)",
        &format!(
            "{tools} (≤ {DEFAULT_TOOLS_TARGET}: {})",
            verdicts.mark(
                "default set tool count".into(),
                tools <= DEFAULT_TOOLS_TARGET
            )
        ),
        &thousands(bytes as u64),
        &format!(
            "≤ {} B: {}",
            thousands(DEFAULT_LIST_TARGET as u64),
            verdicts.mark(
                "default tools/list size".into(),
                bytes <= DEFAULT_LIST_TARGET
            )
        ),
    ]);
    let (tools, bytes) = b.all;
    row(&[
        "all tools",
        &tools.to_string(),
        &thousands(bytes as u64),
        "(printed only)",
    ]);
    let (name, bytes) = &b.largest;
    row(&[
        &format!("largest tool ({name})"),
        "1",
        &thousands(*bytes as u64),
        &format!(
            "≤ {} B: {}",
            thousands(ONE_TOOL_TARGET as u64),
            verdicts.mark("largest tool size".into(), *bytes <= ONE_TOOL_TARGET)
        ),
    ]);
    println!();

    let missed: Vec<&str> = verdicts
        .0
        .iter()
        .filter(|(_, met)| !met)
        .map(|(n, _)| n.as_str())
        .collect();
    let sizes: Vec<String> = o
        .bins
        .iter()
        .map(|(label, bin)| format!("{} B {label}", thousands(inspect(bin).size)))
        .collect();
    let overheads: Vec<String> = loads
        .iter()
        .map(|(label, l)| {
            let ratios = l
                .cases
                .iter()
                .map(|r| r.mcp.median().as_secs_f64() / r.direct.median().as_secs_f64());
            let (lo, hi) = ratios.fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
            format!("{lo:.2}-{hi:.2}x {label}")
        })
        .collect();
    let peaks: Vec<String> = loads
        .iter()
        .filter_map(|(label, l)| l.rss_late.map(|(_, p)| format!("{} {label}", mb(p))))
        .collect();
    println!(
        "summary: {}/{} targets met{}; size {}; cold start to initialize {}; overhead {}; peak RSS {}; {} s",
        verdicts.0.len() - missed.len(),
        verdicts.0.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!(" (missed: {})", missed.join(", "))
        },
        sizes.join(", "),
        starts.join(", "),
        overheads.join(", "),
        peaks.join(", "),
        started.elapsed().as_secs_f64().round()
    );
}
