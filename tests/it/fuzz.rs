//! Hostile input: thousands of generated lines, each answered exactly as JSON-RPC says.
//!
//! A deterministic generator (splitmix64, fixed seeds) writes broken framing, invalid UTF-8, wrong
//! types in every field, odd ids, huge numbers, long strings, deep nesting, batches,
//! notifications, responses, and `tools/call` with every kind of invalid argument. An oracle
//! written from the JSON-RPC 2.0 and MCP rules (not from the server's code) says what each line
//! must get; the argument rules come from each tool's `inputSchema` as `tools/list` shows it,
//! and from PVE's own formats for the parameters PVE knows by name (vmid, node, snapname,
//! storage, upid).
//! PVE is a catch-all mock that records every request whatever its method and path: none may
//! arrive, as no generated call has valid arguments.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mockito::{Matcher, Mock, ServerGuard};
use proxmox_mcp_server::config::Config;
use proxmox_mcp_server::mcp::{serve, Server, MAX_LINE};
use proxmox_mcp_server::policy::Policy;
use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Map, Value};

use crate::support::{config, FakePve, TOKEN, UPID};

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const RESOURCE_NOT_FOUND: i64 = -32002;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
/// MCP's "Unsupported protocol version" (a `_meta` protocol version the server does not speak).
const UNSUPPORTED_VERSION: i64 = -32022;
/// The only error codes a response may carry (-32603 would mean a handler panicked).
const CODES: &[i64] = &[
    PARSE_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    INVALID_PARAMS,
    UNSUPPORTED_VERSION,
    RESOURCE_NOT_FOUND,
];

/// The version the session negotiates; the generator never asks for another handshake version.
const VERSION: &str = "2025-11-25";
const HANDSHAKE_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless era: the protocol version in each request's `_meta`.
const MODERN: &str = "2026-07-28";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}"#;

const SEED: u64 = 0x5EED_2025_1125_F022;
const RANDOM_LINES: usize = 10_000;
const STREAM_SEED: u64 = 0x0005_7D10_1000_0001;

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn ten_thousand_hostile_lines_each_get_what_json_rpc_prescribes() {
    // Runs on the test harness's thread (2 MiB stack): deep nesting must not overflow it.
    let trap = Trap::new();
    with_server(&trap, |server, tools| {
        let started = Instant::now();
        let mut gen = Gen::new(SEED, tools);
        let mut lines = gen.systematic();
        let systematic = lines.len();
        lines.extend((0..RANDOM_LINES).map(|_| gen.random_line()));
        let generated = started.elapsed();

        let mut stats = Stats::default();
        for (i, line) in lines.iter().enumerate() {
            let expected = expect(&line.bytes, tools);
            line.check_intent(&expected, i);
            let reply = server.handle_line(&line.bytes);
            if let Err(e) = check(&expected, reply.as_ref(), tools.len()) {
                panic!(
                    "line {i} ({}): {e}\n  line: {}\n  reply: {}",
                    line.kind,
                    show(&line.bytes),
                    reply.map_or("none".to_string(), |r| show(r.to_string().as_bytes()))
                );
            }
            stats.count(line, reply.as_ref());
        }
        let elapsed = started.elapsed();

        assert!(lines.len() >= 10_000, "only {} lines", lines.len());
        let reached = trap.seen();
        assert!(
            reached.is_empty(),
            "invalid arguments reached PVE ({} requests), e.g. {:?}",
            reached.len(),
            &reached[..reached.len().min(5)]
        );

        // The trap does see what reaches PVE: a valid call is sent there (and fails on its HTTP 500).
        let canary = server
        .handle_line(br#"{"jsonrpc":"2.0","id":"canary","method":"tools/call","params":{"name":"get_cluster_status","arguments":{}}}"#)
        .expect("an answer");
        assert_eq!(canary["result"]["isError"], true, "{canary}");
        let reached = trap.seen();
        assert!(
            !reached.is_empty()
                && reached
                    .iter()
                    .all(|r| r.starts_with("GET /api2/extjs/cluster/status")),
            "{reached:?}"
        );

        eprintln!(
        "fuzz: {} lines ({systematic} systematic tools/call, {RANDOM_LINES} random; {:.1} MiB) \
         generated in {generated:.2?} ({} valid calls or renegotiations left out), all checked \
         in {elapsed:.2?}",
        stats.lines,
        stats.bytes as f64 / (1 << 20) as f64,
        gen.dropped,
    );
        eprintln!("{stats}");
    });
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_stack_overflow() {
    // On the test harness's thread (2 MiB stack), like the whole fuzz run.
    let trap = Trap::new();
    with_server(&trap, |server, tools| {
        for depth in [100, 126, 127, 128, 129, 1000, 100_000, 1_000_000] {
            for (shape, line) in deep_lines(depth) {
                let expected = expect(&line, tools);
                if depth >= 1000 {
                    assert!(
                        matches!(&expected, Expect::Error(Value::Null, c) if *c == [PARSE_ERROR]),
                        "{shape} at depth {depth}: the oracle says {expected:?}"
                    );
                }
                let reply = server.handle_line(&line);
                if let Err(e) = check(&expected, reply.as_ref(), tools.len()) {
                    panic!("{shape} at depth {depth}: {e}");
                }
            }
        }
        // Depth 100 is fine JSON: a request with deeply nested params is answered as usual.
        let ping = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(
            server.handle_line(ping.as_bytes()),
            Some(json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
        );
        assert!(trap.seen().is_empty());
    });
}

#[test]
fn a_hostile_stream_through_the_stdio_loop_gets_one_answer_per_request_in_order() {
    let trap = Trap::new();
    let fake = FakePve::new();
    let config = full_access(&fake, &trap);
    let pve = Pve::new(&config).unwrap();
    let tools = {
        let policy = Policy::new(&config).unwrap();
        handshake(&mut Server::new(&pve, &policy, config.task_wait))
    };

    // What the client writes, and what each item must get.
    let mut writes = vec![Out::Line(INIT.as_bytes().to_vec())];
    let mut expects = vec![Expect::Result(json!(0), Answer::Initialized)];
    let mut gen = Gen::new(STREAM_SEED, &tools);
    let pad = "x".repeat(1 << 20);
    while writes.len() < 500 {
        match writes.len() {
            100 => {
                let ping = json!({"jsonrpc": "2.0", "id": "big-ping", "method": "ping", "params": {"pad": pad}});
                writes.push(Out::Line(ping.to_string().into_bytes()));
                expects.push(Expect::Result(json!("big-ping"), Answer::Empty));
            }
            200 => {
                writes.push(Out::Huge(20 << 20));
                expects.push(Expect::Error(Value::Null, &[INVALID_REQUEST]));
            }
            300 => {
                let call = json!({"jsonrpc": "2.0", "id": "big-call", "method": "tools/call", "params": {"name": "create_vm_snapshot", "arguments": {"node": "pve1", "vmid": 100, "snapname": "s", "description": pad}}});
                let line = call.to_string().into_bytes();
                let expected = expect(&line, &tools);
                assert!(matches!(
                    expected,
                    Expect::Result(_, Answer::ToolError { .. })
                ));
                writes.push(Out::Line(line));
                expects.push(expected);
            }
            _ => {
                let line = gen.random_line();
                let expected = expect(&line.bytes, &tools);
                if matches!(expected, Expect::SilenceOrParseError) {
                    continue; // either way is right, which would make the order ambiguous
                }
                writes.push(Out::Line(line.bytes));
                expects.push(expected);
            }
        }
    }
    // The last line has no newline: it is still a line.
    writes.push(Out::Last(
        br#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#.to_vec(),
    ));
    expects.push(Expect::Result(json!("last"), Answer::Empty));
    let huge_at = writes
        .iter()
        .position(|w| matches!(w, Out::Huge(_)))
        .unwrap();

    let (in_r, mut in_w) = std::io::pipe().unwrap();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let started = Instant::now();
    let (pve, config) = (&pve, &config);
    let (replies, served) = std::thread::scope(|s| {
        let server = s.spawn(move || {
            let policy = Policy::new(config).unwrap();
            let mut server = Server::new(pve, &policy, config.task_wait);
            serve(&mut server, BufReader::new(in_r), out_w)
        });
        s.spawn(move || {
            for w in writes {
                match w {
                    Out::Line(mut line) => {
                        line.push(b'\n');
                        in_w.write_all(&line).unwrap();
                    }
                    Out::Last(line) => in_w.write_all(&line).unwrap(),
                    Out::Huge(len) => {
                        // Written in pieces: the test never holds the whole line either.
                        in_w.write_all(
                            br#"{"jsonrpc":"2.0","id":"huge","method":"ping","params":{"pad":""#,
                        )
                        .unwrap();
                        let chunk = vec![b'x'; 64 << 10];
                        for _ in 0..len / chunk.len() {
                            in_w.write_all(&chunk).unwrap();
                        }
                        in_w.write_all(b"\"}}\n").unwrap();
                    }
                }
            }
            // Dropping the writer closes the server's input.
        });
        let mut out = BufReader::new(out_r);
        let mut replies = Vec::new();
        loop {
            let mut line = Vec::new();
            if out.read_until(b'\n', &mut line).unwrap() == 0 {
                break;
            }
            assert_eq!(line.pop(), Some(b'\n'), "an unterminated output line");
            let reply: Value = serde_json::from_slice(&line)
                .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {}", show(&line)));
            replies.push(reply);
        }
        (replies, server.join().unwrap())
    });
    assert!(served.is_ok(), "serve ended with {served:?}");

    let answered: Vec<(usize, &Expect)> = expects
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Expect::Silence))
        .collect();
    for (n, ((i, expected), reply)) in answered.iter().zip(&replies).enumerate() {
        if let Err(e) = check(expected, Some(reply), tools.len()) {
            panic!(
                "answer {n} (to line {i}): {e}\n  reply: {}",
                show(reply.to_string().as_bytes())
            );
        }
        if *i == huge_at {
            let message = reply["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("longer than {} MiB", MAX_LINE >> 20)),
                "{message}"
            );
        }
    }
    assert_eq!(
        replies.len(),
        answered.len(),
        "one answer per request line ({} lines written)",
        expects.len()
    );
    assert!(trap.seen().is_empty(), "{:?}", trap.seen());
    eprintln!(
        "fuzz stream: {} lines (one of 20 MiB, two of 1 MiB), {} answers, in {:.2?}",
        expects.len(),
        replies.len(),
        started.elapsed()
    );
}

/// One write of the stream test.
enum Out {
    Line(Vec<u8>),
    /// Without the final newline.
    Last(Vec<u8>),
    /// A `ping` line padded to this many bytes.
    Huge(usize),
}

// ---------------------------------------------------------------------------------------------
// The server under test, and PVE.

/// A PVE that answers every request, any method and path, with HTTP 500, and records it.
/// (`FakePve` records only requests that match a registered mock, so with no mocks it would
/// not see a request that reached it.)
struct Trap {
    server: ServerGuard,
    _mocks: Vec<Mock>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Trap {
    fn new() -> Trap {
        let mut server = mockito::Server::new();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let mocks = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
            .iter()
            .map(|method| {
                let seen = Arc::clone(&seen);
                server
                    .mock(method, Matcher::Any)
                    .with_status(500)
                    .with_body_from_request(move |r| {
                        let line = format!("{} {}", r.method(), r.path_and_query());
                        seen.lock().unwrap().push(line);
                        b"{\"data\":null}".to_vec()
                    })
                    .create()
            })
            .collect();
        Trap {
            server,
            _mocks: mocks,
            seen,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Access level full (every tool callable), PVE at `trap`.
fn full_access(fake: &FakePve, trap: &Trap) -> Config {
    config(
        fake,
        &[
            ("PROXMOX_HOST", &trap.server.url()),
            ("PROXMOX_MCP_ACCESS", "full"),
            ("PROXMOX_TASK_WAIT", "0"),
        ],
    )
}

/// Name → `inputSchema` of every tool `tools/list` shows.
type Tools = BTreeMap<String, Value>;

/// `initialize` (2025-11-25), `notifications/initialized`, `tools/list`.
/// Runs `f` with a server at full access against a PVE that answers nothing (`trap` records any
/// request), after the handshake; `f` gets the server and the tools it listed. PVE must not have
/// been asked anything by the end.
fn with_server(trap: &Trap, f: impl FnOnce(&mut Server, &Tools)) {
    let fake = FakePve::new();
    let config = full_access(&fake, trap);
    let pve = Pve::new(&config).unwrap();
    let policy = Policy::new(&config).unwrap();
    let mut server = Server::new(&pve, &policy, config.task_wait);
    let tools = handshake(&mut server);
    f(&mut server, &tools);
    fake.assert_untouched();
}

fn handshake(server: &mut Server) -> Tools {
    let init = server.handle_line(INIT.as_bytes()).expect("an answer");
    assert_eq!(init["result"]["protocolVersion"], VERSION, "{init}");
    assert_eq!(
        server.handle_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        None
    );
    let list = server
        .handle_line(br#"{"jsonrpc":"2.0","id":"list","method":"tools/list"}"#)
        .expect("an answer");
    let tools: Tools = list["result"]["tools"]
        .as_array()
        .expect("a tool list")
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap().to_string();
            let schema = t["inputSchema"].clone();
            assert_eq!(schema["type"], "object", "{name}");
            (name, schema)
        })
        .collect();
    assert!(tools.contains_key("start_vm") && tools.contains_key("delete_vm_snapshot"));
    tools
}

// ---------------------------------------------------------------------------------------------
// The oracle.

/// What a line must get.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// No answer: an empty line, a notification, a response.
    Silence,
    /// No answer, or a parse error: ASCII whitespace JSON does not count as whitespace (form
    /// feed). Skipping it as a blank line and refusing it as JSON are both reasonable.
    SilenceOrParseError,
    /// An error with this id and one of these codes.
    Error(Value, &'static [i64]),
    /// A result with this id.
    Result(Value, Answer),
    /// Any result object, or an error with one of these codes (resources and prompts, whose
    /// answer depends on what the URI or prompt names).
    ResultOrError(Value, &'static [i64]),
    /// A tools/call of a tool `tools/list` does not show: -32602 (unknown tool), or a tool
    /// error when the server has the tool but does not enable it (access level, selection).
    Unlisted(Value, bool),
    /// A tools/call with acceptable arguments: it would reach PVE. Never generated.
    ReachesPve,
    /// An initialize that negotiates another version (which changes later answers). Never generated.
    Renegotiates,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    /// `{}` (ping).
    Empty,
    Initialized,
    Discovery,
    ToolList {
        modern: bool,
    },
    /// `isError: true` with a text block: the arguments were refused.
    ToolError {
        modern: bool,
    },
}

/// What `line` must get from a server initialized with 2025-11-25, at access level full.
fn expect(line: &[u8], tools: &Tools) -> Expect {
    if line
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Expect::Silence;
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Expect::SilenceOrParseError;
    }
    match serde_json::from_slice::<Value>(line) {
        Err(_) => Expect::Error(Value::Null, &[PARSE_ERROR]),
        Ok(Value::Object(message)) => expect_message(&message, tools),
        // A batch (2025-11-25 has none), or not a request object at all.
        Ok(_) => Expect::Error(Value::Null, &[INVALID_REQUEST]),
    }
}

fn expect_message(m: &Map<String, Value>, tools: &Tools) -> Expect {
    let method = m.get("method").and_then(Value::as_str);
    if method.is_some() && !m.contains_key("id") {
        return Expect::Silence; // a notification
    }
    if !m.contains_key("method") && (m.contains_key("result") || m.contains_key("error")) {
        return Expect::Silence; // a response (to nothing this server asked)
    }
    let id = match m.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(id @ Value::Number(n)) if n.is_i64() || n.is_u64() => id.clone(),
        _ => return Expect::Error(Value::Null, &[INVALID_REQUEST]),
    };
    if m.get("jsonrpc") != Some(&json!("2.0")) {
        return Expect::Error(id, &[INVALID_REQUEST]);
    }
    let Some(method) = method else {
        return Expect::Error(id, &[INVALID_REQUEST]);
    };
    let empty = Map::new();
    let params = match m.get("params") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => return Expect::Error(id, &[INVALID_REQUEST, INVALID_PARAMS]),
    };
    let modern = match params.get("_meta").and_then(|meta| meta.get(META_VERSION)) {
        None => false,
        Some(_) if method == "initialize" => false,
        Some(v) if v == MODERN => true,
        Some(_) => return Expect::Error(id, &[UNSUPPORTED_VERSION]),
    };
    match method {
        "initialize" => match params.get("protocolVersion").and_then(Value::as_str) {
            None => Expect::Error(id, &[INVALID_PARAMS]),
            Some(v) if HANDSHAKE_VERSIONS.contains(&v) && v != VERSION => Expect::Renegotiates,
            // Ours, or one the server does not know: it offers its newest, 2025-11-25.
            Some(_) => Expect::Result(id, Answer::Initialized),
        },
        "server/discover" => Expect::Result(id, Answer::Discovery),
        "ping" if !modern => Expect::Result(id, Answer::Empty),
        "tools/list" if params.get("cursor").is_some_and(|c| !c.is_null()) => {
            Expect::Error(id, &[INVALID_PARAMS])
        }
        "tools/list" => Expect::Result(id, Answer::ToolList { modern }),
        "tools/call" => expect_call(id, params, modern, tools),
        "resources/list" | "resources/templates/list" | "prompts/list" => {
            if params.get("cursor").is_some_and(|c| !c.is_null()) {
                Expect::Error(id, &[INVALID_PARAMS])
            } else {
                Expect::ResultOrError(id, &[])
            }
        }
        "resources/read" => match params.get("uri") {
            Some(Value::String(uri)) if uri.starts_with("proxmox://") => {
                Expect::ResultOrError(id, &[RESOURCE_NOT_FOUND, INVALID_PARAMS])
            }
            // An unknown URI: -32002 (2025-11-25), -32602 in 2026-07-28.
            Some(Value::String(_)) => Expect::Error(id, &[RESOURCE_NOT_FOUND, INVALID_PARAMS]),
            _ => Expect::Error(id, &[INVALID_PARAMS]),
        },
        "prompts/get" => Expect::ResultOrError(id, &[INVALID_PARAMS]),
        _ => Expect::Error(id, &[METHOD_NOT_FOUND]),
    }
}

fn expect_call(id: Value, params: &Map<String, Value>, modern: bool, tools: &Tools) -> Expect {
    let Some(Value::String(name)) = params.get("name") else {
        return Expect::Error(id, &[INVALID_PARAMS]);
    };
    let empty = Map::new();
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(_) => return Expect::Error(id, &[INVALID_PARAMS]),
    };
    let Some(schema) = tools.get(name) else {
        return Expect::Unlisted(id, modern);
    };
    if acceptable(schema, args) {
        Expect::ReachesPve
    } else {
        Expect::Result(id, Answer::ToolError { modern })
    }
}

/// Whether `args` may be accepted for a tool with input schema `schema`: every key a property
/// (unless the schema allows more), every value acceptable, every required one there. A null
/// optional argument counts as omitted. Doubtful cases count as acceptable (the generator then
/// leaves them out), so "not acceptable" means surely invalid.
fn acceptable(schema: &Value, args: &Map<String, Value>) -> bool {
    let empty = Map::new();
    let props = schema["properties"].as_object().unwrap_or(&empty);
    let closed = schema["additionalProperties"] == false;
    let required = required(schema);
    args.iter().all(|(k, v)| match props.get(k) {
        None => !closed,
        Some(_) if v.is_null() => !required.contains(&k.as_str()),
        Some(p) => accepts(k, p, v),
    }) && required
        .iter()
        .all(|r| args.get(*r).is_some_and(|v| !v.is_null()))
}

fn required(schema: &Value) -> Vec<&str> {
    schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether the argument `name` may be `value`: its JSON Schema `prop` and PVE's own rules.
fn accepts(name: &str, prop: &Value, value: &Value) -> bool {
    schema_accepts(prop, value) && pve_accepts(name, value)
}

/// JSON Schema, for the keywords the input schemas use (others are ignored: doubtful values
/// pass), plus the coercions for hand-typed arguments: a numeric string for an integer or a
/// number; 0/1 and true/false/yes/no/on/off strings for a boolean.
fn schema_accepts(prop: &Value, value: &Value) -> bool {
    if let Some(choices) = prop["anyOf"].as_array() {
        if !choices.iter().any(|c| schema_accepts(c, value)) {
            return false;
        }
    }
    if let Some(options) = prop["enum"].as_array() {
        if !options.contains(value) {
            return false;
        }
    }
    match &prop["type"] {
        Value::String(t) => type_accepts(t, prop, value),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .any(|t| type_accepts(t, prop, value)),
        _ => true,
    }
}

fn type_accepts(t: &str, prop: &Value, value: &Value) -> bool {
    match t {
        "integer" => integer(value).is_some_and(|n| {
            let n = n as f64;
            prop["minimum"].as_f64().is_none_or(|m| n >= m)
                && prop["maximum"].as_f64().is_none_or(|m| n <= m)
        }),
        "number" => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            n.is_some_and(|n| {
                prop["minimum"].as_f64().is_none_or(|m| n >= m)
                    && prop["maximum"].as_f64().is_none_or(|m| n <= m)
            })
        }
        "boolean" => match value {
            Value::Bool(_) => true,
            Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 || f == 1.0),
            Value::String(s) => matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "0" | "1" | "true" | "false" | "yes" | "no" | "on" | "off"
            ),
            _ => false,
        },
        "string" => {
            let Some(s) = value.as_str() else {
                return false;
            };
            let len = s.chars().count() as u64;
            prop["minLength"].as_u64().is_none_or(|m| len >= m)
                && prop["maxLength"].as_u64().is_none_or(|m| len <= m)
                && prop["pattern"]
                    .as_str()
                    .is_none_or(|p| matches_pattern(p, s))
        }
        "array" => value.as_array().is_some_and(|items| {
            prop["minItems"]
                .as_u64()
                .is_none_or(|m| items.len() as u64 >= m)
                && prop["maxItems"]
                    .as_u64()
                    .is_none_or(|m| items.len() as u64 <= m)
                && prop
                    .get("items")
                    .is_none_or(|s| items.iter().all(|i| schema_accepts(s, i)))
        }),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// An integer, or what counts as one: an integral float (as JSON Schema says), a numeric string.
fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

/// Patterns, where known (ECMA-262: `$` is the end of the string); an unknown one matches.
fn matches_pattern(pattern: &str, s: &str) -> bool {
    match pattern {
        "^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$" => pve_node(s),
        "^[a-zA-Z][a-zA-Z0-9_-]+$" => pve_configid(s),
        "^[a-zA-Z][a-zA-Z0-9._-]*[a-zA-Z0-9]$" => pve_storage_id(s),
        "^UPID:" => s.starts_with("UPID:"),
        _ => true,
    }
}

/// PVE's own rules for the arguments it knows by name, whatever a tool's schema states: the
/// formats `pve-vmid`, `pve-node` (a host name label, RFC 1123), `pve-configid` (snapshot names,
/// at most 40 characters), `pve-storage-id` (pve-common's JSONSchema.pm) and a task id as
/// `PVE::Tools::upid_decode` reads it. Values of the wrong type are the schema's business.
fn pve_accepts(name: &str, value: &Value) -> bool {
    if name == "vmid" {
        return integer(value).is_none_or(|n| (100..=999_999_999).contains(&n));
    }
    let Some(s) = value.as_str() else {
        return true;
    };
    match name {
        "node" => pve_node(s) && s.len() <= 63,
        "snapname" => pve_configid(s) && s.len() <= 40,
        "storage" => pve_storage_id(s),
        "upid" => pve_upid(s),
        _ => true,
    }
}

fn pve_node(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn pve_configid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

fn pve_storage_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `UPID:node:pid:pstart:starttime:type:id:user:` (pid, starttime 8 hex digits, pstart 8 or 9).
fn pve_upid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("UPID:").and_then(|r| r.strip_suffix(':')) else {
        return false;
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [node, pid, pstart, starttime, kind, id, user] = parts[..] else {
        return false;
    };
    let hex = |v: &str, lens: &[usize]| {
        lens.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let plain = |v: &str| !v.bytes().any(|b| b.is_ascii_whitespace());
    pve_node(node)
        && hex(pid, &[8])
        && hex(pstart, &[8, 9])
        && hex(starttime, &[8])
        && !kind.is_empty()
        && plain(kind)
        && plain(id)
        && !user.is_empty()
        && plain(user)
}

/// Checks `reply` against `expected`, and what every response must be.
fn check(expected: &Expect, reply: Option<&Value>, tool_count: usize) -> Result<(), String> {
    let reply = match (expected, reply) {
        (Expect::Silence | Expect::SilenceOrParseError, None) => return Ok(()),
        (Expect::Silence, Some(_)) => return Err("expected no answer, got one".into()),
        (_, None) => return Err(format!("expected {expected:?}, got no answer")),
        (_, Some(r)) => r,
    };
    well_formed(reply)?;
    let (id, codes) = match expected {
        Expect::Silence => unreachable!(),
        Expect::SilenceOrParseError => (&Value::Null, &[PARSE_ERROR][..]),
        Expect::Error(id, codes) => (id, *codes),
        Expect::Result(id, answer) => {
            if reply["id"] != *id {
                return Err(format!("id {} answered with id {}", id, reply["id"]));
            }
            return check_result(reply.get("result"), *answer, tool_count);
        }
        Expect::Unlisted(id, modern) if reply.get("result").is_some() => {
            if reply["id"] != *id {
                return Err(format!("id {} answered with id {}", id, reply["id"]));
            }
            let answer = Answer::ToolError { modern: *modern };
            return check_result(reply.get("result"), answer, tool_count);
        }
        Expect::Unlisted(id, _) => (id, &[INVALID_PARAMS][..]),
        Expect::ResultOrError(id, _) if reply.get("result").is_some() => {
            if reply["id"] != *id {
                return Err(format!("id {} answered with id {}", id, reply["id"]));
            }
            return match reply["result"].is_object() {
                true => Ok(()),
                false => Err("a result that is not an object".into()),
            };
        }
        Expect::ResultOrError(id, codes) => (id, *codes),
        Expect::ReachesPve | Expect::Renegotiates => {
            return Err(format!("the generator must not send this ({expected:?})"))
        }
    };
    if reply["id"] != *id {
        return Err(format!("expected id {id}, got {}", reply["id"]));
    }
    let Some(error) = reply.get("error") else {
        return Err(format!("expected an error {codes:?}, got a result"));
    };
    if !codes.contains(&error["code"].as_i64().unwrap_or(0)) {
        return Err(format!("expected code {codes:?}, got {}", error["code"]));
    }
    Ok(())
}

/// One JSON-RPC response: `jsonrpc`, `id`, one of `result` and `error`; a known error code
/// with a message; one line when serialized; no secret in it.
fn well_formed(reply: &Value) -> Result<(), String> {
    let Some(obj) = reply.as_object() else {
        return Err("a response that is not an object".into());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["jsonrpc", "id", "result", "error"].contains(&k.as_str()))
    {
        return Err(format!("unexpected member {k:?} in a response"));
    }
    if reply["jsonrpc"] != "2.0" {
        return Err("jsonrpc is not \"2.0\"".into());
    }
    match obj.get("id") {
        Some(Value::String(_) | Value::Null) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        other => return Err(format!("bad response id {other:?}")),
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            let code = error["code"].as_i64();
            if code == Some(INTERNAL_ERROR) {
                return Err(format!("-32603: a handler panicked: {error}"));
            }
            if !code.is_some_and(|c| CODES.contains(&c)) {
                return Err(format!("unexpected error code {}", error["code"]));
            }
            if error["message"].as_str().is_none_or(str::is_empty) {
                return Err("an error without a message".into());
            }
        }
        _ => return Err("a response needs exactly one of result and error".into()),
    }
    let text = serde_json::to_string(reply).map_err(|e| e.to_string())?;
    if text.contains('\n') {
        return Err("a response that is not one line".into());
    }
    if text.contains(TOKEN) {
        return Err("the API token leaked into a response".into());
    }
    Ok(())
}

fn check_result(result: Option<&Value>, answer: Answer, tool_count: usize) -> Result<(), String> {
    let Some(r) = result else {
        return Err(format!("expected a result ({answer:?}), got an error"));
    };
    let ok = match answer {
        Answer::Empty => *r == json!({}),
        Answer::Initialized => {
            r["protocolVersion"] == VERSION
                && r["serverInfo"]["name"].is_string()
                && r["capabilities"]["tools"].is_object()
        }
        Answer::Discovery => r["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(MODERN))),
        Answer::ToolList { modern } => {
            r["tools"]
                .as_array()
                .is_some_and(|t| t.len() == tool_count && t.iter().all(|t| t["name"].is_string()))
                && (!modern || r["resultType"] == "complete")
        }
        Answer::ToolError { modern } => {
            r["isError"] == true
                && r["content"].as_array().is_some_and(|c| {
                    !c.is_empty()
                        && c[0]["type"] == "text"
                        && c[0]["text"].as_str().is_some_and(|t| !t.is_empty())
                })
                && r.get("structuredContent").is_none()
                && (!modern || r["resultType"] == "complete")
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {answer:?}, got result {}",
            show(r.to_string().as_bytes())
        ))
    }
}

/// A line for a failure message: lossy, at most 300 characters.
fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= 300 {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(300).collect();
        format!("{head:?}… ({} bytes)", bytes.len())
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// splitmix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a line was built to get, checked against the oracle (so the generator is tested too).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Intent {
    Any,
    Silence,
    ParseError,
}

struct Line {
    bytes: Vec<u8>,
    kind: &'static str,
    intent: Intent,
}

impl Line {
    fn check_intent(&self, expected: &Expect, i: usize) {
        let fits = match self.intent {
            Intent::Any => true,
            Intent::Silence => *expected == Expect::Silence,
            Intent::ParseError => {
                matches!(expected, Expect::Error(Value::Null, c) if *c == [PARSE_ERROR])
            }
        };
        assert!(
            fits,
            "generator: line {i} ({}) was built to get {:?}, the oracle says {expected:?}: {}",
            self.kind,
            self.intent,
            show(&self.bytes)
        );
    }
}

const ODD_METHODS: &[&str] = &[
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "resources/list",
    "resources/read",
    "prompts/list",
    "completion/complete",
    "logging/setLevel",
    "sampling/createMessage",
    "",
    "PING",
    " ping",
    "ping ",
    "tools/call\u{0}",
    "Tools/Call",
    "tools/",
    "tools",
    "/",
    "rpc.discover",
    "pïng",
    "tools\\/call",
    "$/cancelRequest",
    "../tools/call",
];

/// Strings with path, query and fragment characters, traversal, whitespace, control and
/// unicode characters: for names, ids, keys and string arguments.
const HOSTILE: &[&str] = &[
    "",
    "-",
    ".",
    "..",
    "a/b",
    "../..",
    "../../../../etc/passwd",
    "pve1/../../access/users",
    "pve1?x=1",
    "pve1#frag",
    "pve1%2F..",
    "%2e%2e%2f",
    "%00",
    "a..b",
    "pve 1",
    " pve1",
    "pve1\n",
    "pve1\r",
    "pve1\t",
    "\u{0}",
    "pve1\u{0}",
    "ünïcödé",
    "😀",
    "\u{202e}1evp",
    "\u{feff}pve1",
    "a\\b",
    "-pve1",
    "pve1-",
    "_snap",
    "1snap",
    "current",
    "pve1;reboot",
    "$(reboot)",
    "${HOME}",
    "'; DROP TABLE vms; --",
    "upid:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam:",
    "UPID",
    " UPID:pve1",
    "../UPID:",
    "\u{feff}UPID:x",
    "local-lvm/../../x",
    "local?lvm",
];

const UNKNOWN_KEYS: &[&str] = &[
    "VMID",
    "Node",
    "vmid ",
    " node",
    "",
    "__proto__",
    "constructor",
    "node\u{0}",
    "nöde",
    "dry-run",
    "dryRun",
    "wait",
    "../vmid",
    "arguments",
    "name",
    "_meta",
    "vmid\u{200b}",
];

const UNKNOWN_TOOLS: &[&str] = &[
    "",
    "list_nodes ",
    " list_nodes",
    "LIST_NODES",
    "list-nodes",
    "list_nodes\u{0}",
    "../list_nodes",
    "tools/list",
    "format_disk",
    "exec",
    "shell",
    "🦀",
    "get_vm_status;rm -rf /",
    "start_vm\r",
    "delete_vm",
];

/// Number literals as text (what a `Value` cannot carry: huge, out of range, not JSON).
const RAW_NUMBERS: &[&str] = &[
    "1e300",
    "18446744073709551616",
    "-9223372036854775809",
    "18446744073709551615",
    "-9223372036854775808",
    "1.5",
    "-0",
    "0",
    "1E2",
    "1e309",
    "-1e309",
    "00",
    "01",
    "+1",
    ".5",
    "1.",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "9007199254740993",
    "1e-400",
    "123456789012345678901234567890",
    "99999999999999999999",
    "-1",
    "99",
    "100.0",
    "1e2",
    "100",
    "1_000",
];

/// Invalid UTF-8, and raw control characters (invalid inside JSON strings).
const BAD_BYTES: &[&[u8]] = &[
    b"\xff\xfe",
    b"ab\xffcd",
    b"\x80",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98",
    b"\xf8\x88\x80\x80\x80",
    b"\xc3x",
    b"\xfe",
    b"\x00",
    b"a\x00b",
    b"\x01",
    b"\x1f",
    b"\t",
    b"\r",
    b"\x1b[31m",
];

/// Lines with one string to corrupt (`MARK`).
const MARKED: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":"MARK","method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":1,"method":"piMARKng"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_node_status","arguments":{"node":"pveMARK"}}}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_node_status","arguments":{"MARK":"pve1"}}}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_nodesMARK"}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/MARK"}"#,
    r#"{"jsonrpc":"2.0MARK","id":5,"method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_task_status","arguments":{"upid":"UPID:MARK"}}}"#,
];

/// Lines with a number literal to put in (`NUM`).
const NUMBERED: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":NUM,"method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":NUM,"method":"tools/list"}"#,
    r#"{"jsonrpc":NUM,"id":1,"method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":NUM}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"ping","params":NUM}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_vm_status","arguments":{"node":"pve1","vmid":NUM}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"stop_container","arguments":{"node":"pve1","vmid":NUM,"wait_seconds":0}}}"#,
    r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":NUM,"offset":NUM}}}"#,
    r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_task_log","arguments":{"upid":"UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:","start":NUM}}}"#,
    r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"start_vm","arguments":{"node":"pve1","vmid":100,"dry_run":NUM}}}"#,
    r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":NUM,"arguments":{}}}"#,
    r#"{"jsonrpc":"2.0","method":"tools/call","id":NUM}"#,
];

/// Lines nested `depth` deep in several shapes.
fn deep_lines(depth: usize) -> Vec<(&'static str, Vec<u8>)> {
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let mixed = format!(
        "{}0{}",
        r#"[{"a":"#.repeat(depth / 2),
        "}]".repeat(depth / 2)
    );
    // The request's own levels count too.
    let inner = depth.saturating_sub(3);
    let nested = format!("{}{}", "[".repeat(inner), "]".repeat(inner));
    vec![
        ("arrays", arrays.into_bytes()),
        ("objects", objects.into_bytes()),
        ("mixed", mixed.into_bytes()),
        ("unclosed", "[".repeat(depth).into_bytes()),
        (
            "unclosed objects",
            r#"{"a":"#.repeat(depth).into_bytes(),
        ),
        (
            "in params",
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{nested}}}}}"#)
                .into_bytes(),
        ),
        (
            "in arguments",
            format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"get_vm_status","arguments":{{"node":"pve1","vmid":{nested}}}}}}}"#)
                .into_bytes(),
        ),
        (
            "as id",
            format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{nested}}}"#).into_bytes(),
        ),
    ]
}

struct Gen<'t> {
    rng: Rng,
    tools: &'t Tools,
    names: Vec<&'t str>,
    next_id: u64,
    /// Candidates left out: valid calls (they would reach PVE) and renegotiations.
    dropped: usize,
}

impl<'t> Gen<'t> {
    fn new(seed: u64, tools: &'t Tools) -> Gen<'t> {
        Gen {
            rng: Rng(seed),
            tools,
            names: tools.keys().map(String::as_str).collect(),
            next_id: 1000,
            dropped: 0,
        }
    }

    /// For every tool: each parameter given each value the oracle calls wrong for it (the
    /// others valid, `node` always given so nothing needs a VMID lookup), each required one left
    /// out, unknown keys, `{}`, null and non-object arguments.
    fn systematic(&mut self) -> Vec<Line> {
        let tools = self.tools;
        let mut lines = Vec::new();
        for (name, schema) in tools {
            let props = schema["properties"].as_object().unwrap();
            let required = required(schema);
            let mut base = Map::new();
            for (p, prop) in props {
                if required.contains(&p.as_str()) || p == "node" {
                    base.insert(p.clone(), self.valid_value(p, prop));
                }
            }
            let mut call = |gen: &mut Gen, arguments: Value| {
                let id = gen.good_id();
                let line = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
                lines.push(Line {
                    bytes: line.to_string().into_bytes(),
                    kind: "tools/call systematic",
                    intent: Intent::Any,
                });
            };
            for (p, prop) in props {
                for wrong in self.wrong_values(p, prop, required.contains(&p.as_str()), true) {
                    let mut args = base.clone();
                    args.insert(p.clone(), wrong);
                    call(self, Value::Object(args));
                }
            }
            for r in &required {
                let mut args = base.clone();
                args.remove(*r);
                call(self, Value::Object(args));
            }
            for key in UNKNOWN_KEYS.iter().filter(|k| !props.contains_key(**k)) {
                let mut args = base.clone();
                args.insert(key.to_string(), json!(1));
                call(self, Value::Object(args));
            }
            if !required.is_empty() {
                call(self, json!({}));
                call(self, Value::Null);
            }
            for odd in [
                json!([]),
                json!([base.clone()]),
                json!("x"),
                json!(5),
                json!(true),
            ] {
                call(self, odd);
            }
        }
        lines
    }

    /// One random line the oracle can judge (never a valid call, never a renegotiation).
    fn random_line(&mut self) -> Line {
        loop {
            let line = self.candidate();
            assert!(
                !line.bytes.contains(&b'\n'),
                "generator: a newline inside a line"
            );
            match expect(&line.bytes, self.tools) {
                Expect::ReachesPve | Expect::Renegotiates => self.dropped += 1,
                _ => return line,
            }
        }
    }

    fn candidate(&mut self) -> Line {
        let any = |kind, bytes: Vec<u8>| Line {
            bytes,
            kind,
            intent: Intent::Any,
        };
        let broken = |kind, bytes: Vec<u8>| Line {
            bytes,
            kind,
            intent: Intent::ParseError,
        };
        match self.rng.below(100) {
            0..=21 => any("request", self.request().to_string().into_bytes()),
            22..=46 => any("tools/call", self.call().to_string().into_bytes()),
            47..=54 => any("notification", self.notification().to_string().into_bytes()),
            55..=58 => any("response", self.response().to_string().into_bytes()),
            59..=62 => any("batch", self.batch().to_string().into_bytes()),
            63..=64 => any("scalar", self.scalar().to_string().into_bytes()),
            65..=72 => {
                let mut bytes = self.some_request().to_string().into_bytes();
                let cut = self.rng.below(bytes.len());
                bytes.truncate(cut);
                let intent = if cut == 0 {
                    Intent::Silence
                } else {
                    Intent::ParseError
                };
                Line {
                    bytes,
                    kind: "truncated",
                    intent,
                }
            }
            73..=76 => {
                let template = self.rng.pick(MARKED).as_bytes();
                let bad = self.rng.pick(BAD_BYTES);
                let at = template.windows(4).position(|w| w == b"MARK").unwrap();
                let bytes = [&template[..at], bad, &template[at + 4..]].concat();
                broken("invalid utf-8 or control byte in a string", bytes)
            }
            77..=79 => {
                let mut bytes = self.some_request().to_string().into_bytes();
                let at = self.rng.below(bytes.len() + 1);
                bytes.insert(at, 0);
                broken("NUL byte", bytes)
            }
            80..=85 => any("mutated", self.mutated()),
            86..=89 => any("random bytes", self.random_bytes()),
            90..=92 => self.blank(),
            93..=95 => self.framing(),
            96..=97 => {
                let template = self.rng.pick(NUMBERED);
                let number = self.rng.pick(RAW_NUMBERS);
                any("raw number", template.replace("NUM", number).into_bytes())
            }
            98 => {
                let depth = *self.rng.pick(&[100, 127, 128, 129, 1000, 100_000]);
                let mut shapes = deep_lines(depth);
                let (_, bytes) = shapes.swap_remove(self.rng.below(shapes.len()));
                let intent = if depth >= 1000 {
                    Intent::ParseError
                } else {
                    Intent::Any
                };
                Line {
                    bytes,
                    kind: "deep nesting",
                    intent,
                }
            }
            _ => any("100 KB string", self.huge_string().to_string().into_bytes()),
        }
    }

    fn good_id(&mut self) -> Value {
        self.next_id += 1;
        if self.rng.percent(70) {
            json!(self.next_id)
        } else {
            json!(format!("req-{}", self.next_id))
        }
    }

    /// Ids of every type and size.
    fn odd_id(&mut self) -> Value {
        match self.rng.below(24) {
            0 => json!("a"),
            1 => json!(""),
            2 => json!("🦀 \u{0} \u{202e} ü"),
            3 => json!("x".repeat(300)),
            4 => json!(0),
            5 => json!(-1),
            6 => json!(i64::MAX),
            7 => json!(i64::MIN),
            8 => json!(u64::MAX),
            9 => json!(1.5),
            10 => json!(1e300),
            11 => json!(true),
            12 => Value::Null,
            13 => json!({}),
            14 => json!({"id": 1}),
            15 => json!([]),
            16 => json!([1]),
            17 => json!(-0.0),
            18 | 19 => json!(self.rng.next()),
            20 => json!(self.rng.next() as i64),
            21 => json!(*self.rng.pick(HOSTILE)),
            22 => json!(false),
            _ => json!(self.rng.below(10)),
        }
    }

    fn id(&mut self) -> Value {
        if self.rng.percent(75) {
            self.good_id()
        } else {
            self.odd_id()
        }
    }

    fn jsonrpc(&mut self) -> Option<Value> {
        if self.rng.percent(85) {
            return Some(json!("2.0"));
        }
        Some(match self.rng.below(11) {
            0 => return None,
            1 => json!("1.0"),
            2 => json!(2),
            3 => json!(2.0),
            4 => Value::Null,
            5 => json!("2"),
            6 => json!("2.0 "),
            7 => json!(""),
            8 => json!([]),
            9 => json!({"version": "2.0"}),
            _ => json!("2.00"),
        })
    }

    fn method(&mut self) -> Value {
        match self.rng.below(100) {
            0..=34 => json!("tools/call"),
            35..=46 => json!("ping"),
            47..=56 => json!("tools/list"),
            57..=60 => json!("initialize"),
            61..=63 => json!("server/discover"),
            64..=85 => json!(*self.rng.pick(ODD_METHODS)),
            86..=87 => json!("m".repeat(5000)),
            _ => match self.rng.below(8) {
                0 => json!(1),
                1 => Value::Null,
                2 => json!(true),
                3 => json!([]),
                4 => json!({}),
                5 => json!(["ping"]),
                6 => json!({"name": "ping"}),
                _ => json!(1.5),
            },
        }
    }

    fn odd_params(&mut self) -> Option<Value> {
        Some(match self.rng.below(10) {
            0 => return None,
            1 => Value::Null,
            2 => json!("x"),
            3 => json!(1),
            4 => json!([]),
            5 => json!([1, "a"]),
            6 => json!(true),
            7 => json!({}),
            8 => json!({"x": 1}),
            _ => json!(-1.5),
        })
    }

    fn params(&mut self, method: &Value) -> Option<Value> {
        if self.rng.percent(10) {
            return self.odd_params();
        }
        let mut p = match method.as_str() {
            Some("tools/call") => self.call_params(),
            Some("initialize") => self.init_params(),
            Some("tools/list") => match self.rng.below(8) {
                0 => json!({"cursor": null}),
                1 => json!({"cursor": "abc"}),
                2 => json!({"cursor": 1}),
                3 => json!({"cursor": ""}),
                _ => json!({}),
            },
            _ if self.rng.percent(50) => return None,
            _ => json!({}),
        };
        if self.rng.percent(10) {
            p["_meta"] = self.meta();
        }
        Some(p)
    }

    fn meta(&mut self) -> Value {
        match self.rng.below(12) {
            0 => json!({"progressToken": self.good_id()}),
            1 => json!({"progressToken": self.odd_id()}),
            2 => json!({META_VERSION: MODERN}),
            3 => json!({META_VERSION: MODERN, "progressToken": "t"}),
            4 => json!({META_VERSION: "1900-01-01"}),
            5 => json!({META_VERSION: null}),
            6 => json!({META_VERSION: 20260728}),
            7 => json!("not an object"),
            8 => json!([META_VERSION, MODERN]),
            9 => json!({META_VERSION: VERSION}),
            10 => json!({META_VERSION: [MODERN]}),
            _ => json!({}),
        }
    }

    fn init_params(&mut self) -> Value {
        let version = match self.rng.below(10) {
            0..=2 => json!(VERSION),
            3 => json!("banana"),
            4 => json!(""),
            5 => json!(MODERN),
            6 => json!("2025-11-25 "),
            7 => json!(20251125),
            8 => Value::Null,
            _ => return json!({"capabilities": {}}),
        };
        json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}})
    }

    fn call_params(&mut self) -> Value {
        let tools = self.tools;
        let mut p = Map::new();
        match self.rng.below(100) {
            0..=3 => {}
            4..=8 => {
                let name = match self.rng.below(6) {
                    0 => json!(1),
                    1 => Value::Null,
                    2 => json!(true),
                    3 => json!(["start_vm"]),
                    4 => json!({"name": "start_vm"}),
                    _ => json!(1.5),
                };
                p.insert("name".into(), name);
            }
            9..=16 => {
                let name = *self.rng.pick(UNKNOWN_TOOLS);
                p.insert("name".into(), json!(name));
            }
            _ => {
                let name = *self.rng.pick(&self.names);
                p.insert("name".into(), json!(name));
            }
        }
        let schema = p
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| tools.get(n));
        match schema {
            Some(schema) if self.rng.percent(85) => {
                let args = self.bad_args(schema);
                p.insert("arguments".into(), args);
            }
            _ => {
                let args = match self.rng.below(9) {
                    0 => None,
                    1 => Some(Value::Null),
                    2 => Some(json!([])),
                    3 => Some(json!("x")),
                    4 => Some(json!(5)),
                    5 => Some(json!(true)),
                    6 => Some(json!([{"vmid": 100}])),
                    7 => Some(json!({})),
                    _ => Some(json!({"vmid": 100, "node": "pve1"})),
                };
                if let Some(args) = args {
                    p.insert("arguments".into(), args);
                }
            }
        }
        Value::Object(p)
    }

    /// Arguments for a tool with input schema `schema` that break at least one of its rules.
    fn bad_args(&mut self, schema: &Value) -> Value {
        let props = schema["properties"].as_object().unwrap();
        let required = required(schema);
        if !required.is_empty() && self.rng.percent(4) {
            return Value::Null;
        }
        let mut args = Map::new();
        for (name, prop) in props {
            let req = required.contains(&name.as_str());
            let r = self.rng.below(100);
            if r < if req { 85 } else { 35 } {
                args.insert(name.clone(), self.valid_value(name, prop));
            } else if r < if req { 93 } else { 50 } {
                let wrong = self.wrong_values(name, prop, req, false);
                args.insert(name.clone(), self.rng.pick(&wrong).clone());
            }
        }
        match self.rng.below(4) {
            0 => self.add_unknown_key(props, &mut args),
            1 if !required.is_empty() => {
                args.remove(*self.rng.pick(&required));
            }
            2 if !props.is_empty() => {
                let (name, prop) = props.iter().nth(self.rng.below(props.len())).unwrap();
                let wrong = self.wrong_values(name, prop, required.contains(&name.as_str()), false);
                args.insert(name.clone(), self.rng.pick(&wrong).clone());
            }
            _ => {}
        }
        if acceptable(schema, &args) {
            self.add_unknown_key(props, &mut args);
        }
        assert!(!acceptable(schema, &args));
        Value::Object(args)
    }

    fn add_unknown_key(&mut self, props: &Map<String, Value>, args: &mut Map<String, Value>) {
        let key = loop {
            let k = *self.rng.pick(UNKNOWN_KEYS);
            if !props.contains_key(k) {
                break k;
            }
        };
        let value = self.any_value(0);
        args.insert(key.to_string(), value);
    }

    /// A value the argument `name` accepts, as far as its schema and PVE's rules tell.
    fn valid_value(&mut self, name: &str, prop: &Value) -> Value {
        match name {
            "node" => return json!(*self.rng.pick(&["pve1", "pve-2", "a", "N0DE"])),
            "snapname" => return json!(*self.rng.pick(&["snap1", "before-upgrade", "a_b"])),
            "storage" => return json!(*self.rng.pick(&["local", "local-lvm", "nfs.backup"])),
            "upid" => return json!(UPID),
            "vmid" => return json!(*self.rng.pick(&[100, 101, 4242, 999_999_999])),
            _ => {}
        }
        if let Some(options) = prop["enum"].as_array().filter(|o| !o.is_empty()) {
            return self.rng.pick(options).clone();
        }
        let first = match &prop["type"] {
            Value::Array(types) => types.first().and_then(Value::as_str),
            t => t.as_str(),
        };
        match first {
            Some("integer" | "number") => {
                let min = prop["minimum"].as_i64().unwrap_or(0);
                let max = prop["maximum"].as_i64().unwrap_or(min.saturating_add(1000));
                match self.rng.below(4) {
                    0 => json!(min),
                    1 => json!(max),
                    2 => json!(100.clamp(min, max)),
                    _ => json!(min + (self.rng.next() % (max - min + 1) as u64) as i64),
                }
            }
            Some("boolean") => json!(self.rng.percent(50)),
            Some("string") => {
                let min = prop["minLength"].as_u64().unwrap_or(0) as usize;
                let max = prop["maxLength"].as_u64().unwrap_or(100) as usize;
                let s = *self.rng.pick(&["note", "ünïcode ✓", "", "a b/c?d#e%f"]);
                let n = s.chars().count();
                if n < min {
                    json!(format!("{s}{}", "a".repeat(min - n)))
                } else {
                    json!(s.chars().take(max).collect::<String>())
                }
            }
            Some("array") => json!([]),
            Some("object") => json!({}),
            Some("null") => Value::Null,
            _ => json!("x"),
        }
    }

    /// Values the argument `name` refuses: wrong types, out of range, too long, hostile strings,
    /// and what PVE refuses for the names it knows (`big`: with a 100 KB string). At most 60,
    /// chosen by the oracle from one list for every parameter.
    fn wrong_values(&mut self, name: &str, prop: &Value, required: bool, big: bool) -> Vec<Value> {
        let valid = self.valid_value(name, prop);
        let mut v = vec![
            json!([]),
            json!({}),
            json!([valid.clone()]),
            json!({"value": valid}),
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(99),
            json!(2),
            json!(1_000_000_000),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e20),
            json!(1e300),
            json!(-1e300),
            json!(1.5),
            json!(-0.5),
            json!(0.5),
            json!("abc"),
            json!(" "),
            json!("1e3"),
            json!("0x10"),
            json!("١٢٣"),
            json!("12abc"),
            json!("NaN"),
            json!("∞"),
            json!("-1"),
            json!("99"),
            json!("1000000000"),
            json!("99999999999999999999"),
            json!("100.5"),
            json!("100 200"),
            json!("maybe"),
            json!("tru"),
            json!("null"),
            json!("1.0"),
            json!("true\u{0}"),
            json!("a".repeat(41)),
            json!("a".repeat(64)),
        ];
        v.extend(HOSTILE.iter().map(|s| json!(s)));
        for key in ["minimum", "maximum"] {
            if let Some(n) = prop[key].as_i64() {
                let n = if key == "minimum" { n - 1 } else { n + 1 };
                v.extend([json!(n), json!(n.to_string())]);
            }
        }
        if let Some(max) = prop["maxLength"].as_u64() {
            v.push(json!("a".repeat(max as usize + 1)));
            v.push(json!("ü".repeat(max as usize + 1)));
        }
        if required {
            v.push(Value::Null);
        }
        v.retain(|x| !x.is_null() && !accepts(name, prop, x) || x.is_null() && required);
        while v.len() > 60 {
            v.swap_remove(self.rng.below(v.len()));
        }
        if big {
            let long = json!("a".repeat(100 * 1024));
            if !accepts(name, prop, &long) {
                v.push(long);
            }
        }
        v
    }

    /// A small random JSON value.
    fn any_value(&mut self, depth: usize) -> Value {
        match self.rng.below(if depth > 2 { 7 } else { 9 }) {
            0 => Value::Null,
            1 => json!(self.rng.percent(50)),
            2 => json!((self.rng.next() as i64) >> self.rng.below(64)),
            3 => json!(f64::from_bits(self.rng.next() >> 2)),
            4 => json!(*self.rng.pick(HOSTILE)),
            5 => json!(self.rng.below(1000)),
            6 => self.odd_id(),
            7 => Value::Array(
                (0..self.rng.below(4))
                    .map(|_| self.any_value(depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..self.rng.below(4))
                    .map(|_| {
                        let key = self.rng.pick(HOSTILE).to_string();
                        (key, self.any_value(depth + 1))
                    })
                    .collect(),
            ),
        }
    }

    fn request(&mut self) -> Value {
        let mut m = Map::new();
        if let Some(v) = self.jsonrpc() {
            m.insert("jsonrpc".into(), v);
        }
        if self.rng.percent(85) {
            m.insert("id".into(), self.id());
        }
        let method = self.method();
        if self.rng.percent(95) {
            m.insert("method".into(), method.clone());
        }
        if let Some(p) = self.params(&method) {
            m.insert("params".into(), p);
        }
        if self.rng.percent(5) {
            let key = *self
                .rng
                .pick(&["result", "error", "extra", "ID", "Method", "params "]);
            m.insert(key.into(), self.any_value(0));
        }
        Value::Object(m)
    }

    fn call(&mut self) -> Value {
        let id = if self.rng.percent(90) {
            self.good_id()
        } else {
            self.odd_id()
        };
        let mut params = self.call_params();
        if self.rng.percent(10) {
            params["_meta"] = self.meta();
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    }

    fn some_request(&mut self) -> Value {
        if self.rng.percent(50) {
            self.call()
        } else {
            self.request()
        }
    }

    fn notification(&mut self) -> Value {
        let mut m = self.request().as_object().unwrap().clone();
        m.remove("id");
        if self.rng.percent(60) {
            let method = match self.rng.below(4) {
                0 => "notifications/initialized",
                1 => "notifications/cancelled",
                2 => "notifications/progress",
                _ => "notifications/roots/list_changed",
            };
            m.insert("method".into(), json!(method));
            if method == "notifications/cancelled" {
                m.insert("params".into(), json!({"requestId": self.id()}));
            }
        }
        Value::Object(m)
    }

    fn response(&mut self) -> Value {
        let mut m = Map::new();
        m.insert("jsonrpc".into(), json!("2.0"));
        if self.rng.percent(90) {
            m.insert("id".into(), self.id());
        }
        match self.rng.below(5) {
            0 => {
                m.insert("error".into(), json!({"code": -32000, "message": "no"}));
            }
            1 => {
                m.insert("result".into(), json!({}));
                m.insert("error".into(), json!({"code": 1, "message": "both"}));
            }
            2 => {
                m.insert("result".into(), Value::Null);
            }
            3 => {
                // With a method it is a request after all.
                m.insert("result".into(), json!({}));
                m.insert("method".into(), self.method());
            }
            _ => {
                m.insert("result".into(), self.any_value(0));
            }
        }
        Value::Object(m)
    }

    fn batch(&mut self) -> Value {
        let n = self.rng.below(5);
        Value::Array(
            (0..n)
                .map(|_| match self.rng.below(6) {
                    0 => self.notification(),
                    1 => self.response(),
                    2 => json!([]),
                    3 => self.scalar(),
                    _ => self.some_request(),
                })
                .collect(),
        )
    }

    fn scalar(&mut self) -> Value {
        match self.rng.below(8) {
            0 => json!(42),
            1 => json!("{}"),
            2 => Value::Null,
            3 => json!(true),
            4 => json!(-1.5),
            5 => json!(*self.rng.pick(HOSTILE)),
            6 => json!(u64::MAX),
            _ => json!(INIT),
        }
    }

    /// A request with one to four random byte edits.
    fn mutated(&mut self) -> Vec<u8> {
        const SIGNIFICANT: &[u8] = b"{}[]\":,\\ 0a-.eE";
        let mut bytes = self.some_request().to_string().into_bytes();
        for _ in 0..1 + self.rng.below(4) {
            let at = self.rng.below(bytes.len());
            match self.rng.below(4) {
                0 => bytes[at] ^= 1 << self.rng.below(8),
                1 => {
                    let b = *self.rng.pick(SIGNIFICANT);
                    bytes.insert(at, b);
                }
                2 if bytes.len() > 1 => {
                    bytes.remove(at);
                }
                _ => bytes[at] = self.rng.next() as u8,
            }
        }
        for b in &mut bytes {
            if *b == b'\n' {
                *b = 0x0b;
            }
        }
        bytes
    }

    fn random_bytes(&mut self) -> Vec<u8> {
        const JSONISH: &[u8] = b"{}[]\":,0123456789.-+eE truefalsnul\\\t\r";
        (0..self.rng.below(120))
            .map(|_| {
                if self.rng.percent(50) {
                    *self.rng.pick(JSONISH)
                } else {
                    match self.rng.next() as u8 {
                        b'\n' => 0,
                        b => b,
                    }
                }
            })
            .collect()
    }

    fn blank(&mut self) -> Line {
        let (bytes, intent): (&[u8], Intent) = match self.rng.below(10) {
            0 => (b"", Intent::Silence),
            1 => (b" ", Intent::Silence),
            2 => (b"\t", Intent::Silence),
            3 => (b"\r", Intent::Silence),
            4 => (b"  \t \r", Intent::Silence),
            5 => (b"\r\r", Intent::Silence),
            6 => (b"\x0b", Intent::ParseError),
            7 => (b"\x0c", Intent::Any),
            8 => (b" \x00 ", Intent::ParseError),
            _ => (b"\xc2\xa0", Intent::ParseError), // a no-break space is no JSON whitespace
        };
        Line {
            bytes: bytes.to_vec(),
            kind: "blank",
            intent,
        }
    }

    /// A request with odd framing around it.
    fn framing(&mut self) -> Line {
        let request = self.some_request().to_string().into_bytes();
        let (bytes, intent) = match self.rng.below(9) {
            0 => ([&request[..], b"\r"].concat(), Intent::Any),
            1 => ([b"  \t", &request[..], b"   "].concat(), Intent::Any),
            2 => ([&request[..], b" \r"].concat(), Intent::Any),
            3 => ([b"\xef\xbb\xbf", &request[..]].concat(), Intent::ParseError),
            4 => ([&request[..], b"x"].concat(), Intent::ParseError),
            5 => ([&request[..], &request[..]].concat(), Intent::ParseError),
            6 => (
                [&request[..], b" ", &request[..]].concat(),
                Intent::ParseError,
            ),
            7 => ([&request[..], b"\0"].concat(), Intent::ParseError),
            _ => ([&request[..], b"\r\r"].concat(), Intent::Any),
        };
        Line {
            bytes,
            kind: "framing",
            intent,
        }
    }

    /// A request with a 100 KB string somewhere.
    fn huge_string(&mut self) -> Value {
        let long = "ä".repeat(50 * 1024);
        let mut request = self.call();
        match self.rng.below(5) {
            0 => request["id"] = json!(long),
            1 => request["method"] = json!(long),
            2 => request["params"]["name"] = json!(long),
            3 => {
                if let Some(args) = request["params"]["arguments"].as_object_mut() {
                    args.insert(long, json!(1));
                }
            }
            _ => {
                if let Some(args) = request["params"]["arguments"].as_object_mut() {
                    if let Some(k) = args.keys().next().cloned() {
                        args.insert(k, json!(long));
                    }
                }
            }
        }
        request
    }
}

// ---------------------------------------------------------------------------------------------
// The summary.

#[derive(Default)]
struct Stats {
    lines: usize,
    bytes: usize,
    silent: usize,
    results: usize,
    tool_errors: usize,
    codes: BTreeMap<i64, usize>,
    kinds: BTreeMap<&'static str, usize>,
}

impl Stats {
    fn count(&mut self, line: &Line, reply: Option<&Value>) {
        self.lines += 1;
        self.bytes += line.bytes.len();
        *self.kinds.entry(line.kind).or_default() += 1;
        match reply {
            None => self.silent += 1,
            Some(r) => match r["error"]["code"].as_i64() {
                Some(code) => *self.codes.entry(code).or_default() += 1,
                None if r["result"]["isError"] == true => self.tool_errors += 1,
                None => self.results += 1,
            },
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let answers = self.lines - self.silent;
        writeln!(
            f,
            "  answers: {answers} ({} results, {} tool errors (isError), {} JSON-RPC errors); no answer: {}",
            self.results,
            self.tool_errors,
            self.codes.values().sum::<usize>(),
            self.silent
        )?;
        let codes: Vec<String> = self
            .codes
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        writeln!(f, "  error codes: {}", codes.join(", "))?;
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        write!(f, "  lines by kind: {}", kinds.join(", "))
    }
}
