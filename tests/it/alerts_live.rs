//! `proxmox://alerts` live, through the real binary: subscribed clients (`resources/subscribe`,
//! and `subscriptions/listen` of 2026-07-28) are told within one interval when an alert appears,
//! never while nothing changes, and polling stops when they leave or stdin closes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::alerts::{healthy_then, one_node};
use crate::support::{read_all, spawn, wait_exit, FakePve, TOKEN};

const URI: &str = "proxmox://alerts";

/// The binary serving MCP on pipes, against `fake`, re-checking alerts every second.
struct Live {
    child: Child,
    input: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
}

impl Live {
    fn start(fake: &FakePve, vars: &[(&str, &str)]) -> Live {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
        let url = fake.url();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
        cmd.env_clear()
            .envs([
                ("PROXMOX_HOST", url.as_str()),
                ("PROXMOX_USER", "root@pam"),
                ("PROXMOX_TOKEN_NAME", "mcp"),
                ("PROXMOX_TOKEN_VALUE", TOKEN),
                ("PROXMOX_CA_FILE", ca),
                ("PROXMOX_MCP_ALERT_INTERVAL", "1"),
            ])
            .envs(vars.iter().copied());
        let mut child = spawn(&mut cmd, Stdio::piped());
        let input = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Live {
            child,
            input,
            lines,
        }
    }

    fn send(&mut self, message: Value) {
        let input = self.input.as_mut().expect("stdin open");
        writeln!(input, "{message}").unwrap();
        input.flush().unwrap();
    }

    /// The next line within `d`.
    fn next_within(&self, d: Duration) -> Value {
        self.lines
            .recv_timeout(d)
            .unwrap_or_else(|_| panic!("nothing from the server within {d:?}"))
    }

    /// Nothing arrives for `d`.
    fn quiet(&self, d: Duration) {
        if let Ok(line) = self.lines.recv_timeout(d) {
            panic!("unexpected line from the server: {line}");
        }
    }

    /// Sends request `id` and returns its response (notifications before it are returned too,
    /// in order, first).
    fn request(&mut self, id: u64, method: &str, params: Value) -> (Vec<Value>, Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut before = Vec::new();
        loop {
            let line = self.next_within(Duration::from_secs(10));
            if line.get("id") == Some(&json!(id)) {
                return (before, line);
            }
            before.push(line);
        }
    }

    fn initialize(&mut self) -> Value {
        let (_, reply) = self.request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        reply
    }

    /// Closes stdin; the server must exit promptly, with nothing on stderr but its log.
    fn close(mut self) -> String {
        let stderr = read_all(self.child.stderr.take().expect("stderr"));
        drop(self.input.take());
        let status = wait_exit(&mut self.child, Duration::from_secs(5));
        assert!(status.success(), "exit status {status}");
        stderr.join().unwrap()
    }
}

/// How many times PVE was asked for `/cluster/resources` (once per evaluation).
fn evaluations(fake: &FakePve) -> usize {
    fake.lines()
        .iter()
        .filter(|l| l.starts_with("GET /cluster/resources"))
        .count()
}

fn updated(line: &Value) -> bool {
    line["method"] == "notifications/resources/updated" && line["params"]["uri"] == URI
}

#[test]
fn a_subscriber_hears_of_a_new_alert_within_an_interval_and_nothing_while_nothing_changes() {
    // Two evaluations see a healthy cluster; from the third on, local is 93 % full.
    let fake = healthy_then(Some((one_node(50), 2)), Some(one_node(93)));
    let mut live = Live::start(&fake, &[]);
    let init = live.initialize();
    assert_eq!(
        init["result"]["capabilities"]["resources"]["subscribe"],
        true
    );
    let (_, list) = live.request(1, "resources/list", json!({}));
    let uris: Vec<&Value> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["uri"])
        .collect();
    assert!(uris.contains(&&json!(URI)), "{list}");

    let (_, reply) = live.request(2, "resources/subscribe", json!({"uri": URI}));
    assert_eq!(reply["result"], json!({}), "{reply}");
    let subscribed = Instant::now();
    // The baseline and the next check see the same alerts: no notification.
    live.quiet(Duration::from_millis(1500));
    let line = live.next_within(Duration::from_secs(8));
    assert!(updated(&line), "{line}");
    assert_eq!(
        line,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": URI}})
    );
    // The third evaluation is the second check after the baseline: each check is an interval
    // (1 s) after the previous one ended, so the alert is told one interval after PVE shows it.
    assert!(subscribed.elapsed() < Duration::from_secs(10));
    assert!((3..=4).contains(&evaluations(&fake)));

    // Reading it gives get_alerts' result.
    let (_, read) = live.request(3, "resources/read", json!({"uri": URI}));
    let text = read["result"]["contents"][0]["text"].as_str().unwrap();
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["data"][0]["id"], "storage_usage:pve1:local", "{doc}");
    assert_eq!(doc["data"][0]["severity"], "critical");
    assert_eq!(doc["counts"]["critical"], 1);

    // The alert stays: no further notification.
    live.quiet(Duration::from_millis(2500));

    // Unsubscribed: polling stops.
    let (_, reply) = live.request(4, "resources/unsubscribe", json!({"uri": URI}));
    assert_eq!(reply["result"], json!({}));
    std::thread::sleep(Duration::from_millis(300));
    let before = evaluations(&fake);
    live.quiet(Duration::from_millis(2500));
    assert_eq!(
        evaluations(&fake),
        before,
        "no evaluation after unsubscribing"
    );
    // Requests were answered all along, with no write to PVE.
    fake.assert_no_writes();
    let stderr = live.close();
    assert!(!stderr.contains(TOKEN));
}

#[test]
fn a_listen_stream_is_acknowledged_carries_its_id_and_ends_when_cancelled() {
    let fake = healthy_then(Some((one_node(50), 2)), Some(one_node(85)));
    let mut live = Live::start(&fake, &[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    live.send(json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": {
        "_meta": meta,
        "notifications": {"resourceSubscriptions": [URI, "proxmox://cluster/resources"], "toolsListChanged": true},
    }}));
    // Acknowledged first, with what the server agreed to: only the alerts.
    let ack = live.next_within(Duration::from_secs(5));
    assert_eq!(
        ack,
        json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": {
            "_meta": {"io.modelcontextprotocol/subscriptionId": 7},
            "notifications": {"resourceSubscriptions": [URI]},
        }})
    );
    // Other requests are answered while the listen request stays open.
    live.send(
        json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list", "params": {"_meta": meta}}),
    );
    let list = live.next_within(Duration::from_secs(5));
    assert_eq!(list["id"], 8, "{list}");
    // A warning appears (85 %): one notification on the stream, with its id.
    let line = live.next_within(Duration::from_secs(10));
    assert_eq!(
        line,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {
            "uri": URI, "_meta": {"io.modelcontextprotocol/subscriptionId": 7},
        }})
    );
    // Cancelled: the stream ends without a response, and polling stops.
    live.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let before = evaluations(&fake);
    live.quiet(Duration::from_millis(2500));
    assert_eq!(evaluations(&fake), before);
    fake.assert_no_writes();
    live.close();
}

#[test]
fn only_the_alerts_can_be_subscribed_to_and_only_where_get_alerts_is_listed() {
    let fake = FakePve::new();
    let mut live = Live::start(&fake, &[]);
    live.initialize();
    let (_, reply) = live.request(
        1,
        "resources/subscribe",
        json!({"uri": "proxmox://cluster/resources"}),
    );
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert_eq!(
        reply["error"]["message"],
        "resources/subscribe: only proxmox://alerts can be subscribed to (it is re-checked every 1 s); read proxmox://cluster/resources with resources/read instead"
    );
    let (_, reply) = live.request(2, "resources/subscribe", json!({}));
    assert_eq!(
        reply["error"]["message"],
        "resources/subscribe needs a uri (a string)"
    );
    live.close();
    fake.assert_untouched();

    // A tool selection without get_alerts offers no alerts resource to subscribe to.
    let mut live = Live::start(&fake, &[("PROXMOX_MCP_TOOLS", "vms")]);
    let init = live.initialize();
    assert_eq!(
        init["result"]["capabilities"]["resources"]["subscribe"], false,
        "{init}"
    );
    let (_, reply) = live.request(1, "resources/subscribe", json!({"uri": URI}));
    assert_eq!(reply["error"]["code"], -32002, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("get_alerts is not loaded on this server"),
        "{reply}"
    );
    live.quiet(Duration::from_millis(1500));
    live.close();
    fake.assert_untouched();
}

#[test]
fn closing_stdin_ends_a_subscribed_session_at_once() {
    let fake = healthy_then(None, None);
    let mut live = Live::start(&fake, &[]);
    live.initialize();
    let (_, reply) = live.request(1, "resources/subscribe", json!({"uri": URI}));
    assert_eq!(reply["result"], json!({}));
    let start = Instant::now();
    live.close();
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn open_listen_requests_are_bounded() {
    let fake = healthy_then(None, None);
    let mut live = Live::start(&fake, &[("PROXMOX_MCP_ALERT_INTERVAL", "3600")]);
    let listen = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen", "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
            "notifications": {"resourceSubscriptions": [URI]},
        }})
    };
    for id in 1..=64 {
        live.send(listen(id));
        let ack = live.next_within(Duration::from_secs(5));
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            id
        );
    }
    // A long string id is not remembered at all.
    let mut long = listen(0);
    long["id"] = json!("x".repeat(257));
    live.send(long);
    let refused = live.next_within(Duration::from_secs(5));
    assert_eq!(
        refused["error"]["message"],
        "subscriptions/listen: the request id is longer than 256 characters; use a shorter one"
    );
    live.send(listen(65));
    let refused = live.next_within(Duration::from_secs(5));
    assert_eq!(refused["id"], 65, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "subscriptions/listen: 64 listen requests are open already; cancel one (notifications/cancelled) first"
    );
    // One cancelled makes room again.
    live.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}),
    );
    live.send(listen(66));
    let ack = live.next_within(Duration::from_secs(5));
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        66
    );
    fake.assert_no_writes();
    live.close();
}
