//! A whole stdio session in-process (reader thread, channel, waits): progress while a task runs,
//! cancellation, pings and queued requests during a wait, end of input during a wait.

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proxmox_mcp_server::mcp::{serve, Server};
use proxmox_mcp_server::policy::Policy;
use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::support::{config, FakePve, STATUS, UPID};

/// The client's end of a running session.
pub(crate) struct Pipe {
    input: Option<std::io::PipeWriter>,
    lines: mpsc::Receiver<Value>,
}

impl Pipe {
    pub(crate) fn send(&mut self, message: Value) {
        let input = self.input.as_mut().expect("input still open");
        writeln!(input, "{message}").unwrap();
    }

    /// The next line the server writes (each must be one JSON object).
    pub(crate) fn next(&self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the server answers within 10 s")
    }

    /// Nothing more arrives within `d`.
    pub(crate) fn quiet(&self, d: Duration) {
        if let Ok(line) = self.lines.recv_timeout(d) {
            panic!("unexpected line from the server: {line}");
        }
    }
}

/// Runs `f` against a server serving a pipe, then closes the input and checks the server ends
/// within two seconds.
fn with_session(fake: &FakePve, f: impl FnOnce(&mut Pipe)) {
    with_session_at(fake, "2025-11-25", f)
}

/// `with_session`, with the handshake at protocol `version`.
pub(crate) fn with_session_at(fake: &FakePve, version: &str, f: impl FnOnce(&mut Pipe)) {
    with_session_as(fake, version, &[("PROXMOX_MCP_ACCESS", "operate")], f)
}

/// `with_session_at`, the server running with `settings`.
pub(crate) fn with_session_as(
    fake: &FakePve,
    version: &str,
    settings: &[(&str, &str)],
    f: impl FnOnce(&mut Pipe),
) {
    let config = config(fake, settings);
    let pve = Pve::new(&config).unwrap();
    let (in_r, in_w) = std::io::pipe().unwrap();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (line_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out_r).lines() {
            let Ok(line) = line else { return };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"));
            if line_tx.send(value).is_err() {
                return;
            }
        }
    });
    let (done_tx, done) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let policy = Policy::new(&config).unwrap();
            let mut server = Server::new(&pve, &policy, config.task_wait);
            let result = serve(&mut server, BufReader::new(in_r), out_w);
            done_tx.send(result.is_ok()).unwrap();
        });
        let mut pipe = Pipe {
            input: Some(in_w),
            lines,
        };
        pipe.send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}}));
        assert_eq!(pipe.next()["id"], 0);
        pipe.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        f(&mut pipe);
        let closed = Instant::now();
        pipe.input = None;
        assert_eq!(
            done.recv_timeout(Duration::from_secs(2)),
            Ok(true),
            "the server ends when its input closes"
        );
        assert!(closed.elapsed() < Duration::from_secs(2));
    });
}

pub(crate) fn call(id: i64, args: Value, token: Option<&str>) -> Value {
    let mut params = json!({"name": "start_vm", "arguments": args});
    if let Some(t) = token {
        params["_meta"] = json!({"progressToken": t});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// PVE for a start_vm whose task runs for `polls` status polls (None: for as long as asked).
pub(crate) fn starting(polls: Option<usize>) -> FakePve {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    running(&mut fake, polls);
    fake
}

/// The status of the task `UPID` once it ended OK.
pub(crate) fn ended_ok() -> Value {
    json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "starttime": 1732288512})
}

pub(crate) fn running(fake: &mut FakePve, times: Option<usize>) {
    let status = json!({"upid": UPID, "status": "running", "node": "pve1", "type": "qmstart", "id": "100", "user": "root@pam!mcp", "starttime": 1732288512});
    match times {
        Some(n) => fake.ok_times("GET", STATUS, status, n),
        None => fake.get(STATUS, status),
    };
}

#[test]
fn progress_while_the_task_runs_then_the_result() {
    let mut fake = starting(Some(3));
    fake.get(STATUS, json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "starttime": 1732288512, "endtime": 1732288514}));
    fake.task_log(&["starting VM 100"]);
    with_session(&fake, |p| {
        p.send(call(1, json!({"vmid": 100, "node": "pve1"}), Some("tok-1")));
        let mut progress = Vec::new();
        let result = loop {
            let line = p.next();
            if line["method"] == "notifications/progress" {
                assert_eq!(line["params"]["progressToken"], "tok-1");
                progress.push(line["params"]["progress"].as_u64().unwrap());
                let message = line["params"]["message"].as_str().unwrap();
                assert!(
                    message.starts_with("qmstart 100: running: starting VM 100")
                        || message.starts_with("qmstart 100: stopped"),
                    "{message}"
                );
            } else {
                break line;
            }
        };
        assert_eq!(
            progress,
            [1, 2, 3, 4],
            "one report per poll, strictly increasing"
        );
        assert_eq!(result["id"], 1);
        assert_eq!(
            result["result"]["structuredContent"]["task"]["exitstatus"],
            "OK"
        );
        p.quiet(Duration::from_millis(300));
    });
}

#[test]
fn cancel_stops_the_wait_without_an_answer() {
    let mut fake = starting(None);
    fake.task_log(&[]);
    fake.ok("DELETE", &STATUS.replace("/status", ""), Value::Null);
    with_session(&fake, |p| {
        p.send(call(
            5,
            json!({"vmid": 100, "node": "pve1", "wait_seconds": 600, "stop_on_cancel": true}),
            Some("t"),
        ));
        assert_eq!(p.next()["method"], "notifications/progress");
        p.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5, "reason": "user pressed stop"}}));
        let started = Instant::now();
        p.send(json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}));
        // Progress may still be on its way; the next answer must be the ping's, not request 5's.
        let answer = loop {
            let line = p.next();
            if line["method"] != "notifications/progress" {
                break line;
            }
        };
        assert_eq!(answer, json!({"jsonrpc": "2.0", "id": 6, "result": {}}));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered at once after the cancel"
        );
        p.quiet(Duration::from_millis(500));
    });
    let writes = fake.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(
        writes[1],
        format!("DELETE {}", STATUS.replace("/status", "")),
        "stop_on_cancel stops the PVE task"
    );
}

#[test]
fn ping_is_answered_during_a_wait_and_requests_queue() {
    let mut fake = starting(Some(4));
    fake.get(STATUS, ended_ok());
    with_session(&fake, |p| {
        p.send(call(1, json!({"vmid": 100, "node": "pve1"}), None));
        std::thread::sleep(Duration::from_millis(100));
        p.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
        p.send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
        assert_eq!(
            p.next(),
            json!({"jsonrpc": "2.0", "id": 3, "result": {}}),
            "the ping is answered first"
        );
        assert_eq!(p.next()["id"], 1, "then the waiting call");
        assert_eq!(p.next()["id"], 2, "then the queued request");
    });
}

#[test]
fn end_of_input_during_a_wait_ends_the_server() {
    let fake = starting(None);
    with_session(&fake, |p| {
        p.send(call(
            1,
            json!({"vmid": 100, "node": "pve1", "wait_seconds": 3600}),
            None,
        ));
        std::thread::sleep(Duration::from_millis(300));
        // with_session closes the input now and checks the server is gone within 2 s.
    });
}
