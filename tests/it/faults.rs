//! Faults: PVE, or the network in front of it, misbehaving. Every call must end in a clear
//! `isError` result (or a clean start-up error), and the server must go on answering afterwards.
//!
//! The misbehaving servers are [`Raw`] servers, plain `std::net` listeners (optionally TLS with the
//! test certificates), so each fault is exactly what the test writes on the socket. Every wait is
//! bounded: `PROXMOX_TIMEOUT` is 1 s, the servers give up after [`SERVER_PATIENCE`].

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proxmox_mcp_server::config::Config;
use serde_json::{json, Value};

use crate::raw::{answer, Conn, Raw, Request, Shared, Then, SERVER_PATIENCE};
use crate::support::{
    assert_starts, config_at, connected, error_text, leaf_fingerprint, ok, server_tls, session,
    ticket, tls_data, Client, FakePve, STATUS, TOKEN, UPID,
};

/// 512 MiB: the Content-Length of the huge answer (never allocated, only announced).
const HUGE: u64 = 512 << 20;
/// The server's cap on a PVE answer (`pve::MAX_BODY`).
const MAX_BODY: u64 = 16 << 20;

/// Holds the connection open without answering until the test ends (or [`SERVER_PATIENCE`]).
fn hang(shared: &Shared) -> Then {
    let until = Instant::now() + SERVER_PATIENCE;
    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Then::Close
}

/// Announces [`HUGE`] bytes and streams from a fixed buffer until the client stops reading.
fn stream_huge(conn: &mut dyn Conn, shared: &Shared) -> Then {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {HUGE}\r\n\r\n{{\"data\":\""
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return Then::Close;
    }
    let chunk = [b'x'; 64 * 1024];
    let mut sent = 0u64;
    while sent < HUGE && !shared.stop.load(Ordering::SeqCst) {
        if conn.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len() as u64;
        shared.streamed.store(sent, Ordering::SeqCst);
    }
    Then::Close
}

/// The misbehaviours, chosen by node name (`get_node_status` asks for `/nodes/{node}/status`).
fn misbehave(req: &Request, conn: &mut dyn Conn, shared: &Shared) -> Then {
    let node = req
        .path
        .strip_prefix("/nodes/")
        .and_then(|p| p.split('/').next())
        .unwrap_or_default();
    match node {
        "hang" => hang(shared),
        "huge" => stream_huge(conn, shared),
        // Content-Length says 1000; 40 bytes come, then the connection is cut.
        "cut" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"success\":1,\"data\":{\"cpu\":0.1,\"memory\"";
            let _ = conn.write_all(head.as_bytes());
            Then::Close
        }
        // Chunked, cut in the middle of a chunk.
        "chunks" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n{\"success\":1,\"data\":{";
            let _ = conn.write_all(head.as_bytes());
            Then::Close
        }
        // The head is cut: no blank line ever comes.
        "headcut" => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Len");
            Then::Close
        }
        // Accepts the request, closes without a byte.
        "close" => Then::Close,
        // Not HTTP at all (e.g. an SSH daemon on that port).
        "garbage" => {
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
            Then::Close
        }
        "html" => answer(
            conn,
            "200 OK",
            b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>",
        ),
        "empty" => answer(conn, "200 OK", b""),
        "array" => answer(conn, "200 OK", b"[1,2,3]"),
        "truncjson" => answer(conn, "200 OK", br#"{"success":1,"data":{"cpu":"#),
        "latin1" => answer(
            conn,
            "200 OK",
            b"{\"success\":1,\"data\":{\"name\":\"caf\xe9\"}}",
        ),
        "proxy502" => answer(
            conn,
            "502 Bad Gateway",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        // What pveproxy answers when it cannot reach the node that owns the resource.
        "n595" => answer(
            conn,
            "595 Errors during connection establishment, proxy handshake failed",
            b"",
        ),
        "n596" => answer(
            conn,
            "596 Connection timed out",
            br#"{"data":null,"message":"Connection timed out\n"}"#,
        ),
        _ => answer(
            conn,
            "200 OK",
            json!({"success": 1, "data": {"node": node, "cpu": 0.01, "uptime": 5}})
                .to_string()
                .as_bytes(),
        ),
    }
}

/// A configuration as the binary would resolve it: token login, `PROXMOX_TIMEOUT=1`, the test
/// CA, plus `extra` (an empty value removes a default).
fn config_for(host: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("PROXMOX_TIMEOUT", "1")];
    vars.extend_from_slice(extra);
    config_at(host, &vars)
}

/// Runs `f` with a client of `host`, configured as `config_for` does.
fn client_at(host: &str, extra: &[(&str, &str)], f: impl FnOnce(&mut Client)) {
    connected(&config_for(host, extra), f)
}

/// The server still works: `ping` is answered and a good call succeeds.
fn still_serving(c: &mut Client) {
    c.assert_alive();
    let r = c.call("get_node_status", json!({"node": "pve1"}));
    assert_eq!(ok(&r)["data"]["node"], "pve1");
}

/// Runs `f` with a client of a misbehaving plain-http server; then the server must still serve.
fn against_misbehaving(f: impl FnOnce(&mut Client)) {
    let server = Raw::http(misbehave);
    client_at(&server.url("http"), &[], |c| {
        f(c);
        still_serving(c);
    });
}

/// Calls `get_node_status` for `node` and returns its error text; the call must end within
/// `limit`.
fn node_error(c: &mut Client, node: &str, limit: Duration) -> String {
    let started = Instant::now();
    let r = c.call("get_node_status", json!({"node": node}));
    let took = started.elapsed();
    assert!(took < limit, "{node}: took {took:?}");
    let text = error_text(&r).to_string();
    let prefix = format!("GET /nodes/{node}/status: ");
    assert!(text.starts_with(&prefix), "{node}: {text}");
    text
}

#[test]
fn connection_refused_is_an_error_and_the_server_goes_on() {
    // A port nothing listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    client_at(&format!("https://127.0.0.1:{port}"), &[], |c| {
        for (tool, args, path) in [
            ("list_vms", json!({}), "GET /cluster/resources"),
            (
                "get_vm_status",
                json!({"vmid": 100}),
                "GET /cluster/resources",
            ),
            (
                "get_vm_status",
                json!({"vmid": 100, "node": "pve1"}),
                "GET /nodes/pve1/qemu/100/status/current",
            ),
        ] {
            let started = Instant::now();
            let r = c.call(tool, args);
            assert!(started.elapsed() < Duration::from_secs(2));
            assert_eq!(
            error_text(&r),
            format!("{path}: cannot connect to 127.0.0.1:{port}: connection refused; check PROXMOX_HOST/PROXMOX_PORT and that pveproxy runs on the node")
        );
        }
        c.assert_alive();
    });
}

#[test]
fn an_answer_that_never_comes_times_out_and_the_server_goes_on() {
    let server = Raw::http(misbehave);
    client_at(&server.url("http"), &[("PROXMOX_TIMEOUT", "1")], |c| {
        let started = Instant::now();
        let text = node_error(c, "hang", Duration::from_secs(3));
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "gave up before PROXMOX_TIMEOUT: {:?}",
            started.elapsed()
        );
        assert_eq!(
        text,
        format!("GET /nodes/hang/status: no answer from 127.0.0.1:{} within 1 s (PROXMOX_TIMEOUT); the node may be down, overloaded or filtered", server.port)
    );
        still_serving(c);
    });
}

#[test]
fn a_body_cut_midway_is_an_error() {
    for scheme in ["http", "https"] {
        let server = if scheme == "http" {
            Raw::http(misbehave)
        } else {
            Raw::https(vec![server_tls("leaf.pem", "leaf.key")], misbehave)
        };
        client_at(&server.url(scheme), &[], |c| {
            let host = format!("127.0.0.1:{}", server.port);
            for node in ["cut", "chunks", "headcut", "close", "garbage"] {
                // The text names the host.
                let text = node_error(c, node, Duration::from_secs(3));
                assert!(text.contains(&host), "{scheme} {node}: {text}");
            }
            still_serving(c);
        });
    }
}

/// A write whose answer breaks off (or never comes) was sent: it is not sent again, not even to
/// another configured host, and the call ends in an error.
#[test]
fn a_write_whose_answer_breaks_off_is_sent_once() {
    let first = Raw::http(misbehave);
    let second = Raw::http(misbehave);
    let hosts = format!("{},{}", first.url("http"), second.url("http"));
    client_at(&hosts, &[("PROXMOX_MCP_ACCESS", "operate")], |c| {
        for (i, node) in ["cut", "close", "hang"].into_iter().enumerate() {
            let started = Instant::now();
            let r = c.call("start_vm", json!({"vmid": 100, "node": node}));
            assert!(started.elapsed() < Duration::from_secs(3), "{node}");
            let text = error_text(&r);
            let prefix = format!("POST /nodes/{node}/qemu/100/status/start: ");
            assert_starts(text, &prefix);
            assert_eq!(first.requests(), i + 1, "{node}: sent once");
            assert_eq!(
                second.requests(),
                0,
                "{node}: not repeated on the next host"
            );
        }
        c.assert_alive();
    });
}

/// A POST whose answer breaks off may have run: the error says so and does not invite a repeat.
#[test]
fn a_write_whose_answer_breaks_off_says_it_may_have_run() {
    let server = Raw::http(misbehave);
    client_at(
        &server.url("http"),
        &[("PROXMOX_MCP_ACCESS", "operate")],
        |c| {
            for node in ["cut", "close"] {
                let r = c.call("start_vm", json!({"vmid": 100, "node": node}));
                let text = error_text(&r);
                assert!(!text.contains("cannot reach"), "{text}");
                assert!(text.contains("after the request was sent"), "{text}");
                assert!(text.contains("may have taken effect"), "{text}");
            }
        },
    );
}

#[test]
fn a_512_mib_answer_is_refused_without_reading_it() {
    let server = Raw::http(misbehave);
    client_at(&server.url("http"), &[("PROXMOX_TIMEOUT", "2")], |c| {
        let text = node_error(c, "huge", Duration::from_secs(4));
        assert_eq!(
            text,
            "GET /nodes/huge/status: the answer is larger than 16 MiB; narrow the query"
        );
        // The client stopped reading at its cap: what the server got out is the cap plus what the
        // sockets buffer, far from 512 MiB.
        std::thread::sleep(Duration::from_millis(100));
        let streamed = server.shared.streamed.load(Ordering::SeqCst);
        assert!(
            streamed < MAX_BODY + (32 << 20),
            "the server streamed {streamed} bytes"
        );
        still_serving(c);
    });
}

#[test]
fn answers_that_are_not_json_are_errors() {
    against_misbehaving(|c| {
        const NOT_JSON: &str =
            "the answer is not JSON; is PROXMOX_HOST a Proxmox VE node (port 8006)?";
        for node in ["html", "empty", "array", "truncjson"] {
            let text = node_error(c, node, Duration::from_secs(2));
            assert_eq!(text, format!("GET /nodes/{node}/status: {NOT_JSON}"));
        }
        // Not UTF-8 (PVE always sends UTF-8): answered either way, and the server goes on.
        c.call("get_node_status", json!({"node": "latin1"}));
        // A proxy in front of PVE answering with its own page.
        assert_eq!(
            node_error(c, "proxy502", Duration::from_secs(2)),
            "GET /nodes/proxy502/status: HTTP status 502"
        );
    });
}

#[test]
fn node_unreachable_595_and_596_are_errors_with_a_hint() {
    against_misbehaving(|c| {
        const HINT: &str = " (the PVE node that owns this resource is unreachable from the node the server talks to; check that it is online (list_nodes) and retry)";
        assert_eq!(
            node_error(c, "n595", Duration::from_secs(2)),
            format!("GET /nodes/n595/status: node unreachable (595){HINT}")
        );
        assert_eq!(
            node_error(c, "n596", Duration::from_secs(2)),
            format!("GET /nodes/n596/status: Connection timed out{HINT}")
        );
    });
}

#[test]
fn the_real_binary_survives_every_fault() {
    let server = Raw::http(misbehave);
    let ca = tls_data("ca.pem").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"))
        .env_clear()
        .envs([
            ("PROXMOX_HOST", server.url("http").as_str()),
            ("PROXMOX_USER", "root@pam"),
            ("PROXMOX_TOKEN_NAME", "mcp"),
            ("PROXMOX_TOKEN_VALUE", TOKEN),
            ("PROXMOX_TIMEOUT", "1"),
            ("PROXMOX_CA_FILE", ca.as_str()),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the binary");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let value = serde_json::from_str(&line).unwrap_or(json!({"not json": line}));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    let mut send = |v: Value| {
        writeln!(stdin, "{v}")
            .and_then(|()| stdin.flush())
            .expect("write")
    };
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(4))
            .expect("an answer within 4 s")
    };
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "faults", "version": "1"}}}),
    );
    assert_eq!(next()["id"], 0);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let nodes = [
        "hang", "huge", "cut", "chunks", "headcut", "close", "garbage", "html", "latin1", "n595",
    ];
    for (i, node) in nodes.iter().enumerate() {
        let id = i as i64 + 1;
        send(
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "get_node_status", "arguments": {"node": node}}}),
        );
        // A ping sent while the call is under way is answered after it: nothing is lost.
        send(json!({"jsonrpc": "2.0", "id": format!("p{id}"), "method": "ping"}));
        let answer = next();
        assert_eq!(answer["id"], id, "{node}: {answer}");
        assert_eq!(answer["result"]["isError"], true, "{node}: {answer}");
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert_starts(text, &format!("GET /nodes/{node}/status: "));
        assert_eq!(
            next(),
            json!({"jsonrpc": "2.0", "id": format!("p{id}"), "result": {}})
        );
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "{node} killed the server"
        );
    }
    send(
        json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "get_node_status", "arguments": {"node": "pve1"}}}),
    );
    let answer = next();
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit when its input closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn a_ticket_that_expires_between_two_calls_means_one_new_login() {
    let mut fake = FakePve::new();
    fake.ok_times("POST", "/access/ticket", ticket(1), 1)
        .post("/access/ticket", ticket(2));
    let nodes = json!([{"node": "pve1", "status": "online"}]);
    fake.ok_times("GET", "/nodes", nodes.clone(), 1);
    // PVE forgot the first ticket (restarted with a new key, or it expired): one 401.
    fake.answer("GET", "/nodes", 401, Value::Null, Some(1));
    fake.get("/nodes", nodes);
    session(
        &fake,
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", ""),
            ("PROXMOX_PASSWORD", "hunter2-secret"),
        ],
        |c| {
            assert_eq!(ok(&c.call("list_nodes", json!({})))["total"], 1);
            assert_eq!(ok(&c.call("list_nodes", json!({})))["total"], 1);
            let seen = fake.requests();
            let lines: Vec<String> = seen.iter().map(|s| s.line()).collect();
            let login = "POST /access/ticket username=root%40pam&password=hunter2-secret";
            assert_eq!(
                lines,
                [login, "GET /nodes", "GET /nodes", login, "GET /nodes"]
            );
            let cookie = |i: usize| seen[i].headers.get("cookie").cloned().unwrap_or_default();
            assert!(cookie(2).contains("6740A001"), "{}", cookie(2));
            assert!(cookie(4).contains("6740A002"), "{}", cookie(4));
        },
    );
}

/// `start_vm` of VM 100 waiting at most `wait_seconds`: its result, which must come within 4 s.
fn start_vm_100(c: &mut Client, wait_seconds: u64) -> Value {
    let started = Instant::now();
    let r = c.call(
        "start_vm",
        json!({"vmid": 100, "node": "pve1", "wait_seconds": wait_seconds}),
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    r
}

/// A started task whose status cannot be read at all (the poll is retried, then given up): the
/// answer is an error that names the task and says not to repeat the call, after one POST only.
#[test]
fn a_task_whose_status_cannot_be_read_is_named_in_the_error() {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    fake.fail("GET", STATUS, 500, "unable to read task status");
    session(&fake, &[("PROXMOX_MCP_ACCESS", "operate")], |c| {
        let r = start_vm_100(c, 1);
        let text = error_text(&r);
        assert!(
        text.starts_with(&format!(
            "POST /nodes/pve1/qemu/100/status/start: PVE started task {UPID} but following it failed ("
        )),
        "{text}"
    );
        assert!(text.contains("unable to read task status"), "{text}");
        assert!(text.contains("do not repeat the call"), "{text}");
        assert_eq!(
            fake.writes(),
            ["POST /nodes/pve1/qemu/100/status/start"],
            "the start is sent once"
        );
        c.assert_alive();
    });
}

/// A status poll that fails for a moment (pveproxy restarting, a busy node) does not lose the
/// task's result: the poll is repeated and the call answers with the exit status.
#[test]
fn a_task_status_that_errors_twice_then_answers_is_followed_to_its_end() {
    let mut fake = FakePve::new();
    fake.post("/nodes/pve1/qemu/100/status/start", json!(UPID));
    fake.answer(
        "GET",
        STATUS,
        200,
        json!({"success": 0, "status": 500, "message": "unable to read task status\n", "data": null}),
        Some(2),
    );
    fake.get(STATUS, json!({"upid": UPID, "status": "stopped", "exitstatus": "OK", "starttime": 1732288512, "endtime": 1732288514}));
    session(&fake, &[("PROXMOX_MCP_ACCESS", "operate")], |c| {
        let r = start_vm_100(c, 3);
        assert_eq!(ok(&r)["task"]["exitstatus"], "OK");
        assert_eq!(fake.writes(), ["POST /nodes/pve1/qemu/100/status/start"]);
        let polls = fake
            .lines()
            .iter()
            .filter(|l| l.ends_with("/status"))
            .count();
        assert_eq!(polls, 3);
    });
}

#[test]
fn a_certificate_that_changes_between_calls_is_refused() {
    let leaf = server_tls("leaf.pem", "leaf.key");
    let other = server_tls("other.pem", "other.key");
    let fp = leaf_fingerprint();
    for (trust, refusal) in [
        (
            ("PROXMOX_FINGERPRINT", fp.as_str()),
            "does not match PROXMOX_FINGERPRINT",
        ),
        (("PROXMOX_VERIFY_SSL", "true"), "is not trusted"),
    ] {
        // Each answer closes its connection, so every call makes a new handshake.
        let server = Raw::https(vec![leaf.clone(), other.clone()], |req, conn, shared| {
            misbehave(req, conn, shared);
            Then::Close
        });
        client_at(&server.url("https"), &[trust], |c| {
            let r = c.call("get_node_status", json!({"node": "pve1"}));
            assert_eq!(ok(&r)["data"]["node"], "pve1");

            // The node now presents another certificate (replaced, or someone in between).
            server.shared.present.store(1, Ordering::SeqCst);
            let text = node_error(c, "pve1", Duration::from_secs(2));
            assert!(text.contains(refusal), "{text}");
            assert!(
                text.contains("34:6B:60:A2:EF:A6:53:C7"),
                "the presented fingerprint is shown: {text}"
            );
            assert_eq!(
                server.requests(),
                1,
                "nothing was sent over the refused connection"
            );

            // The right certificate again: the same server process carries on.
            server.shared.present.store(0, Ordering::SeqCst);
            still_serving(c);
            assert_eq!(server.requests(), 2);
        });
    }
}
