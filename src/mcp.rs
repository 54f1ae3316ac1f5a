//! MCP over stdio: a hand-written JSON-RPC 2.0 loop, one compact JSON object per line.
//!
//! Speaks the initialize handshake (2024-11-05 … 2025-11-25) and the stateless 2026-07-28 era
//! (`server/discover`, protocol version in each request's `_meta`). Knows nothing about HTTP:
//! tools are run through `tools::run`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::Policy;
use crate::pve::Pve;
use crate::resources;
use crate::tools::{self, Ctx, Effect, Tool};

/// Handshake versions, oldest first; the last is offered when the client asks for another.
pub const LEGACY_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Versions of the stateless era (protocol version in each request's `_meta`).
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
/// Longest request line read; a longer one is answered with an error and skipped.
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Most requests held back while a tool waits; beyond that the input is not read until it is done.
const MAX_QUEUED: usize = 1000;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const UNSUPPORTED_VERSION: i64 = -32022;
const RESOURCE_NOT_FOUND: i64 = -32002;

/// The protocol state of one stdio session.
pub struct Server<'a> {
    pve: &'a Pve,
    policy: &'a Policy,
    task_wait: u64,
    /// The version agreed by `initialize`, once it happened.
    negotiated: Option<&'static str>,
}

/// Reads requests from `input` until end of file, writing one line per response to `output`.
///
/// A reader thread feeds lines through a channel, so a tool that waits on a PVE task still sees
/// what arrives: it answers `ping` at once, stops on `notifications/cancelled` for its request or
/// on end of input, and leaves other requests queued to be answered after it, in order. A
/// cancellation for a queued request drops it: it never runs and is never answered.
pub fn serve(
    server: &mut Server,
    input: impl BufRead + Send + 'static,
    output: impl Write,
) -> io::Result<()> {
    // Few lines in flight: each may be up to MAX_LINE long.
    let (tx, rx) = mpsc::sync_channel(2);
    std::thread::spawn(move || read_lines(input, &tx));
    let io = Io {
        rx,
        out: RefCell::new(output),
        queue: RefCell::default(),
        eof: Cell::new(false),
        failed: RefCell::new(None),
        batches: Cell::new(false),
        cancelled: RefCell::default(),
    };
    loop {
        io.batches.set(server.negotiated == Some("2025-03-26"));
        if !io.queue.borrow().is_empty() {
            // Cancellations sent since the last wait still reach the queued requests.
            io.drain();
        }
        io.cancelled.borrow_mut().clear();
        let next = io.queue.borrow_mut().pop_front().map(|q| q.input);
        let next = match next {
            Some(input) => input,
            None if io.eof.get() => return Ok(()),
            None => io.rx.recv().unwrap_or(Input::Eof),
        };
        let reply = match next {
            Input::Eof => return Ok(()),
            Input::TooLong => Some(error(
                Value::Null,
                INVALID_REQUEST,
                &format!("request line longer than {} MiB", MAX_LINE >> 20),
            )),
            Input::Line(line) => server.handle_line_with(&line, &io),
        };
        if let Some(e) = io.failed.borrow_mut().take() {
            return Err(e);
        }
        if let Some(reply) = reply {
            io.write(&reply)?;
        }
        if io.eof.get() && io.queue.borrow().is_empty() {
            return Ok(());
        }
    }
}

/// What the reader thread hands over.
enum Input {
    Line(Vec<u8>),
    TooLong,
    Eof,
}

fn read_lines(mut input: impl BufRead, tx: &mpsc::SyncSender<Input>) {
    loop {
        let mut line = Vec::new();
        let item = match read_line(&mut input, &mut line, MAX_LINE) {
            Ok(Line::Ok) => Input::Line(line),
            Ok(Line::TooLong) => Input::TooLong,
            Ok(Line::Eof) => Input::Eof,
            Err(e) => {
                crate::warn!("reading stdin failed: {e}");
                Input::Eof
            }
        };
        let last = matches!(item, Input::Eof);
        if tx.send(item).is_err() || last {
            return;
        }
    }
}

/// A line held back while another request waits.
struct Queued {
    input: Input,
    /// The ids of the requests in it that a cancellation may drop.
    ids: Vec<Value>,
}

/// The session's input and output while a request is handled.
struct Io<W: Write> {
    rx: mpsc::Receiver<Input>,
    out: RefCell<W>,
    /// Requests that arrived while another one waited.
    queue: RefCell<VecDeque<Queued>>,
    eof: Cell<bool>,
    /// A write that failed during a wait (the main loop returns it).
    failed: RefCell<Option<io::Error>>,
    /// Whether batches are answered (2025-03-26 negotiated): only then do the requests and
    /// cancellations inside an array count one by one.
    batches: Cell<bool>,
    /// Ids cancelled during the current line that were neither waiting nor queued: later
    /// requests of the batch being handled (skipped when their turn comes).
    cancelled: RefCell<Vec<Value>>,
}

impl<W: Write> Io<W> {
    fn write(&self, message: &Value) -> io::Result<()> {
        let mut text = serde_json::to_vec(message).map_err(io::Error::other)?;
        text.push(b'\n');
        let mut out = self.out.borrow_mut();
        out.write_all(&text)?;
        out.flush()
    }

    /// Whether no more input is taken: a client that floods the server while a request waits
    /// is not read further (memory stays bounded).
    fn full(&self) -> bool {
        let queue = self.queue.borrow();
        let bytes: usize = queue
            .iter()
            .map(|q| match &q.input {
                Input::Line(l) => l.len(),
                _ => 0,
            })
            .sum();
        queue.len() >= MAX_QUEUED || bytes >= MAX_LINE
    }

    /// Takes a line that arrived while `waiting` waits (or, with None, while requests are
    /// queued): answers a ping at once (only during a wait), applies cancellations, queues the
    /// rest. True when it cancels the waiting request.
    fn accept(&self, line: Vec<u8>, waiting: Option<&Value>) -> bool {
        let m = serde_json::from_slice::<Value>(&line).unwrap_or(Value::Null);
        // Only a ping the normal path would answer with {} is answered early.
        if waiting.is_some()
            && m["method"] == "ping"
            && m["jsonrpc"] == "2.0"
            && (m["id"].is_string() || m["id"].is_i64() || m["id"].is_u64())
            && (m["params"].is_null()
                || m["params"]
                    .as_object()
                    .is_some_and(|p| p.get("_meta").and_then(|x| x.get(META_VERSION)).is_none()))
        {
            self.notify(&response(m["id"].clone(), json!({})));
            return false;
        }
        let batches = self.batches.get();
        let cancels: Vec<Value> = match &m {
            Value::Array(items) if batches => items.iter().filter_map(cancellation).collect(),
            single => cancellation(single).into_iter().collect(),
        };
        // A lone cancellation is done with here; anything else (a batch too, so that its own
        // cancellations reach its requests) is queued.
        if cancels.is_empty() || m.is_array() {
            let ids = request_ids(&m, batches);
            self.queue.borrow_mut().push_back(Queued {
                input: Input::Line(line),
                ids,
            });
        }
        let mut hit = false;
        for id in cancels {
            if waiting == Some(&id) {
                hit = true;
            } else if !self.drop_queued(&id) && waiting.is_some() {
                let mut cancelled = self.cancelled.borrow_mut();
                if cancelled.len() < MAX_QUEUED {
                    cancelled.push(id);
                }
            }
        }
        hit
    }

    /// Drops the queued request `id` (the whole line, or its element of a batch). False when
    /// no queued request has that id.
    fn drop_queued(&self, id: &Value) -> bool {
        let mut queue = self.queue.borrow_mut();
        let Some(at) = queue.iter().position(|q| q.ids.contains(id)) else {
            return false;
        };
        let rest = match &queue[at].input {
            Input::Line(line) => match serde_json::from_slice::<Value>(line) {
                Ok(Value::Array(mut items)) => {
                    if let Some(i) = items
                        .iter()
                        .position(|m| request_id(m).as_ref() == Some(id))
                    {
                        items.remove(i);
                    }
                    (!items.is_empty()).then_some(Value::Array(items))
                }
                _ => None,
            },
            _ => None,
        };
        match rest.and_then(|r| Some((serde_json::to_vec(&r).ok()?, r))) {
            // The batch's other messages stay queued.
            Some((line, rest)) => {
                queue[at].ids = request_ids(&rest, true);
                queue[at].input = Input::Line(line);
            }
            None => {
                queue.remove(at);
            }
        }
        true
    }

    /// Reads what already arrived, without waiting, so that cancellations reach the queue.
    fn drain(&self) {
        while !self.full() {
            match self.rx.try_recv() {
                Ok(Input::Line(line)) => {
                    self.accept(line, None);
                }
                Ok(Input::TooLong) => self.queue.borrow_mut().push_back(Queued {
                    input: Input::TooLong,
                    ids: Vec::new(),
                }),
                Ok(Input::Eof) | Err(mpsc::TryRecvError::Disconnected) => {
                    self.eof.set(true);
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
            }
        }
    }
}

/// The request id a `notifications/cancelled` names (a string or an integer), if `m` is one.
fn cancellation(m: &Value) -> Option<Value> {
    let id = &m["params"]["requestId"];
    (m["method"] == "notifications/cancelled"
        && m.get("id").is_none()
        && (id.is_string() || id.is_i64() || id.is_u64()))
    .then(|| id.clone())
}

/// The id of request `m`, if it is one a cancellation may drop (`initialize` must not be
/// cancelled, so it never is).
fn request_id(m: &Value) -> Option<Value> {
    let id = m.get("id")?;
    (m["method"].is_string()
        && m["method"] != "initialize"
        && (id.is_string() || id.is_i64() || id.is_u64()))
    .then(|| id.clone())
}

/// The ids of the requests in a line: one, or each of a batch's when batches are answered.
fn request_ids(m: &Value, batches: bool) -> Vec<Value> {
    match m {
        Value::Array(items) if batches => items.iter().filter_map(request_id).collect(),
        single => request_id(single).into_iter().collect(),
    }
}

/// What a waiting request can do with the session.
pub trait Channel {
    /// Writes a notification.
    fn notify(&self, message: &Value);
    /// Waits up to `d` for input, answering pings and queueing other requests. False when the
    /// request `id` was cancelled or the input ended.
    fn pause(&self, d: Duration, id: &Value) -> bool;
    /// Whether request `id`, not yet started, was cancelled while the current line was handled
    /// (a later request of the same batch).
    fn cancelled(&self, _id: &Value) -> bool {
        false
    }
}

impl<W: Write> Channel for Io<W> {
    fn notify(&self, message: &Value) {
        if let Err(e) = self.write(message) {
            self.failed.borrow_mut().get_or_insert(e);
        }
    }

    fn pause(&self, d: Duration, id: &Value) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            if self.full() {
                std::thread::sleep(left);
                return true;
            }
            match self.rx.recv_timeout(left) {
                Ok(Input::Line(line)) => {
                    if self.accept(line, Some(id)) {
                        return false;
                    }
                }
                Ok(Input::TooLong) => self.queue.borrow_mut().push_back(Queued {
                    input: Input::TooLong,
                    ids: Vec::new(),
                }),
                Ok(Input::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.eof.set(true);
                    return false;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return true,
            }
        }
    }

    fn cancelled(&self, id: &Value) -> bool {
        self.cancelled.borrow().contains(id)
    }
}

/// No session around (a line handled on its own): waiting is sleeping, nobody listens.
struct Alone;

impl Channel for Alone {
    fn notify(&self, _message: &Value) {}
    fn pause(&self, d: Duration, _id: &Value) -> bool {
        std::thread::sleep(d);
        true
    }
}

/// The `tools::Waiter` of one `tools/call`: progress for its token, cancellation for its id.
struct Waiting<'c> {
    channel: &'c dyn Channel,
    id: Value,
    token: Option<Value>,
    sent: Cell<u64>,
}

impl tools::Waiter for Waiting<'_> {
    fn wants_progress(&self) -> bool {
        self.token.is_some()
    }
    fn progress(&self, message: &str) {
        if let Some(token) = &self.token {
            self.sent.set(self.sent.get() + 1);
            self.channel.notify(&json!({
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": self.sent.get(), "message": message},
            }));
        }
    }
    fn pause(&self, d: Duration) -> bool {
        self.channel.pause(d, &self.id)
    }
}

enum Line {
    Ok,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `buf` without ever holding more than `max` bytes of it.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Ok
            });
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = done.unwrap_or(chunk.len());
        input.consume(used);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Ok });
        }
    }
}

fn response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn error_data(id: Value, code: i64, message: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": data}})
}

/// The protocol a request is handled under.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(usize);

impl Version {
    const MODERN: Version = Version(LEGACY_VERSIONS.len());
    fn of(v: &str) -> Option<Version> {
        LEGACY_VERSIONS.iter().position(|x| *x == v).map(Version)
    }
    fn at_least(self, v: &str) -> bool {
        Version::of(v).is_some_and(|o| self >= o)
    }
}

impl<'a> Server<'a> {
    pub fn new(pve: &'a Pve, policy: &'a Policy, task_wait: u64) -> Server<'a> {
        Server {
            pve,
            policy,
            task_wait,
            negotiated: None,
        }
    }

    /// Answers one line on its own: `None` for notifications and responses, else the response
    /// (or batch). Waits inside it sleep; nothing can cancel them.
    pub fn handle_line(&mut self, line: &[u8]) -> Option<Value> {
        self.handle_line_with(line, &Alone)
    }

    /// Answers one line within a session whose `channel` carries progress and cancellation.
    fn handle_line_with(&mut self, line: &[u8], channel: &dyn Channel) -> Option<Value> {
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        // Blank as JSON sees it (a form feed is not JSON whitespace).
        if trimmed
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return None;
        }
        let message: Value = match serde_json::from_slice(trimmed) {
            Ok(v) => v,
            Err(e) => {
                return Some(error(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("parse error: {e}"),
                ))
            }
        };
        match message {
            Value::Array(items) if self.negotiated == Some("2025-03-26") => {
                if items.is_empty() {
                    return Some(error(Value::Null, INVALID_REQUEST, "empty batch"));
                }
                let replies: Vec<Value> = items
                    .into_iter()
                    // A request cancelled while an earlier one of the batch waited never runs.
                    .filter(|m| request_id(m).is_none_or(|id| !channel.cancelled(&id)))
                    .filter_map(|m| self.handle_message(m, true, channel))
                    .collect();
                (!replies.is_empty()).then_some(Value::Array(replies))
            }
            Value::Array(_) => Some(error(
                Value::Null,
                INVALID_REQUEST,
                "batches are not supported in this protocol version; send one request per line",
            )),
            other => self.handle_message(other, false, channel),
        }
    }

    fn handle_message(
        &mut self,
        message: Value,
        in_batch: bool,
        channel: &dyn Channel,
    ) -> Option<Value> {
        let Value::Object(mut msg) = message else {
            return Some(error(
                Value::Null,
                INVALID_REQUEST,
                "a request must be a JSON object",
            ));
        };
        let method = msg
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        if !msg.contains_key("method") && (msg.contains_key("result") || msg.contains_key("error"))
        {
            // A response to a request this server never sends: nothing to answer.
            return None;
        }
        let Some(raw_id) = msg.remove("id") else {
            // A notification (answered never) or a response to a request we never send.
            if method.is_some() {
                return None;
            }
            return Some(error(
                Value::Null,
                INVALID_REQUEST,
                "a request needs a method",
            ));
        };
        let id = match &raw_id {
            Value::String(_) => raw_id,
            Value::Number(n) if n.is_i64() || n.is_u64() => raw_id,
            _ => {
                return Some(error(
                    Value::Null,
                    INVALID_REQUEST,
                    "the id must be a string or an integer",
                ))
            }
        };
        if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(error(id, INVALID_REQUEST, "jsonrpc must be \"2.0\""));
        }
        let Some(method) = method else {
            return Some(error(id, INVALID_REQUEST, "the method must be a string"));
        };
        let params = match msg.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Some(error(id, INVALID_REQUEST, "params must be an object")),
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            self.dispatch(&id, &method, &params, in_batch, channel)
        }));
        outcome.unwrap_or_else(|_| {
            crate::warn!("internal error while handling {method}; the server keeps running");
            Some(error(
                id.clone(),
                INTERNAL_ERROR,
                &format!(
                    "internal error while handling {method}; this is a bug in proxmox-mcp-server"
                ),
            ))
        })
    }

    fn dispatch(
        &mut self,
        id: &Value,
        method: &str,
        params: &Map<String, Value>,
        in_batch: bool,
        channel: &dyn Channel,
    ) -> Option<Value> {
        // `route` answers Null for a cancelled call: no response is sent for it.
        let reply = self.route(id, method, params, in_batch, channel);
        (!reply.is_null()).then_some(reply)
    }

    fn route(
        &mut self,
        id: &Value,
        method: &str,
        params: &Map<String, Value>,
        in_batch: bool,
        channel: &dyn Channel,
    ) -> Value {
        let id = id.clone();
        let requested = params.get("_meta").and_then(|m| m.get(META_VERSION));
        let modern = match requested {
            None => false,
            Some(Value::String(v)) if MODERN_VERSIONS.contains(&v.as_str()) => true,
            Some(v) if method != "initialize" => {
                return error_data(
                    id,
                    UNSUPPORTED_VERSION,
                    "Unsupported protocol version",
                    json!({"supported": MODERN_VERSIONS, "requested": v}),
                );
            }
            Some(_) => false,
        };
        if method == "initialize" {
            if in_batch {
                return error(
                    id,
                    INVALID_REQUEST,
                    "initialize must not be part of a batch",
                );
            }
            return self.initialize(id, params);
        }
        if method == "server/discover" {
            return response(id, self.discover());
        }
        let version = if modern {
            Version::MODERN
        } else {
            match self.negotiated.and_then(Version::of) {
                Some(v) => v,
                None if method == "ping" => return response(id, json!({})),
                None if ["tools/", "resources/", "prompts/"].iter().any(|p| method.starts_with(p)) => {
                    return error(
                        id,
                        INVALID_REQUEST,
                        "not initialized: send initialize first (or give the protocol version 2026-07-28 in _meta)",
                    )
                }
                None => Version(0),
            }
        };
        let mut result = match method {
            "ping" if !modern => json!({}),
            "tools/list" => {
                if params.contains_key("cursor") && !params["cursor"].is_null() {
                    return error(
                        id,
                        INVALID_PARAMS,
                        "invalid cursor: tools/list has a single page",
                    );
                }
                let tools: Vec<Value> = tools::active(self.policy)
                    .map(|t| describe(t, version))
                    .collect();
                let mut r = json!({ "tools": tools });
                if modern {
                    r["ttlMs"] = json!(3_600_000);
                    r["cacheScope"] = json!("private");
                }
                r
            }
            "resources/list" | "resources/templates/list" | "prompts/list" => {
                if params.get("cursor").is_some_and(|c| !c.is_null()) {
                    return error(
                        id,
                        INVALID_PARAMS,
                        &format!("invalid cursor: {method} has a single page"),
                    );
                }
                let mut r = match method {
                    "resources/list" => json!({"resources": resources::list(self.policy)}),
                    "resources/templates/list" => {
                        json!({"resourceTemplates": resources::templates(self.policy)})
                    }
                    _ => json!({"prompts": resources::prompts()}),
                };
                if modern {
                    r["ttlMs"] = json!(3_600_000);
                    r["cacheScope"] = json!("private");
                }
                r
            }
            "resources/read" => {
                let Some(uri) = params.get("uri").and_then(Value::as_str) else {
                    return error(id, INVALID_PARAMS, "resources/read needs a uri");
                };
                let waiting = Waiting {
                    channel,
                    id: id.clone(),
                    token: None,
                    sent: Cell::new(0),
                };
                let ctx = Ctx::new(
                    self.pve,
                    self.policy,
                    &tools::TOOLS,
                    self.task_wait,
                    &waiting,
                );
                // The code for "resource not found" changed from -32002 to -32602 in 2026-07-28.
                let not_found = if modern {
                    INVALID_PARAMS
                } else {
                    RESOURCE_NOT_FOUND
                };
                match resources::read(&ctx, self.policy, uri) {
                    Ok(r) => r,
                    Err(resources::ReadError::NotFound(u)) => {
                        return error_data(id, not_found, "Resource not found", json!({"uri": u}));
                    }
                    // Not offered by this server (resources/list leaves it out): not found,
                    // with the policy's text naming the setting that turned it off.
                    Err(resources::ReadError::Denied(why)) => {
                        return error_data(id, not_found, &why, json!({"uri": uri}));
                    }
                    Err(resources::ReadError::Failed(e)) => {
                        return error(id, INTERNAL_ERROR, &e.to_string())
                    }
                }
            }
            "prompts/get" => {
                let Some(name) = params.get("name").and_then(Value::as_str) else {
                    return error(id, INVALID_PARAMS, "prompts/get needs a name");
                };
                let args = params
                    .get("arguments")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                match resources::prompt(name, &args) {
                    Ok(r) => r,
                    Err(message) => return error(id, INVALID_PARAMS, &message),
                }
            }
            "tools/call" => match self.call(&id, params, version, channel) {
                Ok(Some(r)) => r,
                Ok(None) => return Value::Null,
                Err(message) => return error(id, INVALID_PARAMS, &message),
            },
            _ => return error(id, METHOD_NOT_FOUND, &format!("method not found: {method}")),
        };
        if modern {
            result["resultType"] = json!("complete");
        }
        response(id, result)
    }

    fn initialize(&mut self, id: Value, params: &Map<String, Value>) -> Value {
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return error(
                id,
                INVALID_PARAMS,
                "initialize needs protocolVersion (a string such as \"2025-11-25\")",
            );
        };
        // Echo a version we speak; counter-offer the newest otherwise.
        let version = LEGACY_VERSIONS
            .iter()
            .find(|v| **v == requested)
            .copied()
            .unwrap_or(LEGACY_VERSIONS[LEGACY_VERSIONS.len() - 1]);
        self.negotiated = Some(version);
        response(
            id,
            json!({
                "protocolVersion": version,
                "capabilities": capabilities(),
                "serverInfo": server_info(),
                "instructions": self.instructions(),
            }),
        )
    }

    fn discover(&self) -> Value {
        json!({
            "resultType": "complete",
            "supportedVersions": MODERN_VERSIONS,
            "capabilities": capabilities(),
            "instructions": self.instructions(),
            "_meta": {"io.modelcontextprotocol/serverInfo": server_info()},
            "ttlMs": 3_600_000,
            "cacheScope": "private",
        })
    }

    fn instructions(&self) -> String {
        format!(
            "Tools for one Proxmox VE cluster, at access level {}. Arguments use PVE's names (node, vmid, snapname, storage, upid); \
             where a vmid is given the node is optional. Lists are sorted and paged: limit (default 100), offset, and the result says total. \
             Tools that change something start a PVE task and wait for it: wait_seconds (default {} s; 0 returns at once with the task id), \
             dry_run: true (send nothing, show the request and the target's current state), stop_on_cancel: true (cancelling the call also stops the task). \
             Results are {{\"data\": ...}}; a failed task is an error with the end of its log.",
            self.policy.access.name(),
            self.task_wait
        )
    }

    /// `tools/call`: Err(message) only when the call cannot be routed (-32602); Ok(None) when
    /// the client cancelled it.
    fn call(
        &self,
        id: &Value,
        params: &Map<String, Value>,
        version: Version,
        channel: &dyn Channel,
    ) -> Result<Option<Value>, String> {
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            Some(_) => return Err("tools/call: name must be a string".into()),
            None => return Err("tools/call: missing tool name".into()),
        };
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(a)) => a,
            Some(_) => return Err("tools/call: arguments must be an object".into()),
        };
        let tool = tools::find(name).ok_or_else(|| format!("unknown tool: {name}"))?;
        let waiting = Waiting {
            channel,
            id: id.clone(),
            token: params
                .get("_meta")
                .and_then(|m| m.get("progressToken"))
                .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
                .cloned(),
            sent: Cell::new(0),
        };
        let ctx = Ctx::new(
            self.pve,
            self.policy,
            &tools::TOOLS,
            self.task_wait,
            &waiting,
        );
        match tools::run(&ctx, tool, args) {
            Err(Error::Cancelled) => Ok(None),
            outcome => Ok(Some(call_result(outcome, version.at_least("2025-06-18")))),
        }
    }
}

/// A `CallToolResult`: the structured content and the same JSON as text, or the error as text.
fn call_result(outcome: Result<tools::Content, Error>, structured: bool) -> Value {
    match outcome {
        Ok(content) => {
            let text = Value::Object(content.clone()).to_string();
            let mut r = json!({"content": [{"type": "text", "text": text}], "isError": false});
            if structured {
                r["structuredContent"] = Value::Object(content);
            }
            r
        }
        Err(e) => json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true}),
    }
}

/// What this server offers: tools, resources (no subscriptions) and prompts.
fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}, "resources": {"subscribe": false, "listChanged": false}, "prompts": {"listChanged": false}})
}

pub fn server_info() -> Value {
    json!({
        "name": env!("CARGO_PKG_NAME"),
        "title": "Proxmox VE",
        "version": env!("CARGO_PKG_VERSION"),
        "description": env!("CARGO_PKG_DESCRIPTION"),
    })
}

/// A tool as `tools/list` shows it to a client of `version`.
fn describe(tool: &Tool, version: Version) -> Value {
    let mut t = json!({
        "name": tool.name,
        "description": tool.full_description(),
        "inputSchema": tool.input_schema(),
    });
    if version.at_least("2025-03-26") {
        t["annotations"] = json!({
            "readOnlyHint": tool.effect == Effect::Read,
            "idempotentHint": tool.idempotent,
            "openWorldHint": false,
        });
        // destructiveHint means something only for a tool that is not read-only.
        if tool.effect != Effect::Read {
            t["annotations"]["destructiveHint"] = json!(tool.destructive());
        }
    }
    if version.at_least("2025-06-18") {
        t["title"] = json!(tool.title);
        t["outputSchema"] = tool.output_schema();
    } else if version.at_least("2025-03-26") {
        // Before 2025-06-18 the display title lives in the annotations.
        t["annotations"]["title"] = json!(tool.title);
    }
    if tool.effect == Effect::Destroy {
        // A hint for hosts that confirm calls: this one can lose data.
        t["_meta"] = json!({"proxmox-mcp-server/confirm": true});
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::policy::Access;

    /// A policy of just an access level, alive for the whole test run.
    fn policy(access: Access) -> &'static Policy {
        Box::leak(Box::new(Policy::with_access(access)))
    }

    fn pve() -> Pve {
        // Never contacted: these tests stop before any tool reaches PVE.
        let env = |k: &str| match k {
            "PROXMOX_HOST" => Some("http://127.0.0.1:9".to_string()),
            "PROXMOX_USER" => Some("root@pam".to_string()),
            "PROXMOX_TOKEN_NAME" => Some("t".to_string()),
            "PROXMOX_TOKEN_VALUE" => Some("secret".to_string()),
            _ => None,
        };
        Pve::new(&Config::resolve(&env, &[]).unwrap()).unwrap()
    }

    /// Feeds `input` lines to a fresh server; compares each answer with `expected` (exact JSON).
    fn check(input: &[&str], expected: &[&str]) {
        let pve = pve();
        let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
        let mut got = Vec::new();
        for line in input {
            if let Some(reply) = server.handle_line(line.as_bytes()) {
                got.push(reply.to_string());
            }
        }
        let expected: Vec<String> = expected
            .iter()
            .map(|e| serde_json::from_str::<Value>(e).unwrap().to_string())
            .collect();
        assert_eq!(got, expected);
    }

    const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

    fn init_reply(version: &str) -> String {
        let pve = pve();
        let server = Server::new(&pve, policy(Access::ReadOnly), 120);
        response(
            json!(0),
            json!({"protocolVersion": version, "capabilities": capabilities(), "serverInfo": server_info(), "instructions": server.instructions()}),
        )
        .to_string()
    }

    #[test]
    fn framing_errors() {
        let parse = |m: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32700,"message":"parse error: {m}"}}}}"#
            )
        };
        check(
            &["{", "\u{0}"],
            &[
                &parse("EOF while parsing an object at line 1 column 1"),
                &parse("expected value at line 1 column 1"),
            ],
        );
        let invalid = |id: &str, m: &str| {
            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32600,"message":"{m}"}}}}"#)
        };
        check(
            &[
                "42",
                "[]",
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":"a","method":3}"#,
                r#"{"jsonrpc":"2.0","id":8,"method":"ping","params":"x"}"#,
                r#"{"jsonrpc":"2.0"}"#,
            ],
            &[
                &invalid("null", "a request must be a JSON object"),
                &invalid(
                    "null",
                    "batches are not supported in this protocol version; send one request per line",
                ),
                &invalid(
                    "null",
                    "batches are not supported in this protocol version; send one request per line",
                ),
                &invalid("null", "the id must be a string or an integer"),
                &invalid("null", "the id must be a string or an integer"),
                &invalid("null", "the id must be a string or an integer"),
                &invalid("7", "jsonrpc must be \\\"2.0\\\""),
                &invalid("\"a\"", "the method must be a string"),
                &invalid("8", "params must be an object"),
                &invalid("null", "a request needs a method"),
            ],
        );
    }

    #[test]
    fn lifecycle_and_notifications() {
        check(
            &[
                r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                INIT,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}"#,
                r#"{"jsonrpc":"2.0","method":"no/such/notification"}"#,
                r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
                r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete"}"#,
                r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"abc"}}"#,
                r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{}}}"#,
                r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_vm_status","arguments":[1]}}"#,
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"format_disk"}}"#,
            ],
            &[
                r#"{"jsonrpc":"2.0","id":"p","result":{}}"#,
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"not initialized: send initialize first (or give the protocol version 2026-07-28 in _meta)"}}"#,
                &init_reply("2025-11-25"),
                r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"method not found: completion/complete"}}"#,
                r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"invalid cursor: tools/list has a single page"}}"#,
                r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"tools/call: missing tool name"}}"#,
                r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"tools/call: arguments must be an object"}}"#,
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool: format_disk"}}"#,
            ],
        );
    }

    #[test]
    fn version_negotiation() {
        for (asked, answered) in [
            ("2024-11-05", "2024-11-05"),
            ("2025-03-26", "2025-03-26"),
            ("2025-06-18", "2025-06-18"),
            ("2025-11-25", "2025-11-25"),
            ("2024-10-07", "2025-11-25"),
            ("2026-07-28", "2025-11-25"),
            ("banana", "2025-11-25"),
        ] {
            check(
                &[&INIT.replace("2025-11-25", asked)],
                &[&init_reply(answered)],
            );
        }
        check(
            &[r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#],
            &[
                r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"initialize needs protocolVersion (a string such as \"2025-11-25\")"}}"#,
            ],
        );
    }

    #[test]
    fn batches_only_in_2025_03_26() {
        let init = INIT.replace("2025-11-25", "2025-03-26");
        let pve = pve();
        let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
        server.handle_line(init.as_bytes());
        let reply = server.handle_line(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}]"#,
        );
        assert_eq!(
            reply.unwrap().to_string(),
            r#"[{"id":1,"jsonrpc":"2.0","result":{}},{"error":{"code":-32600,"message":"initialize must not be part of a batch"},"id":2,"jsonrpc":"2.0"}]"#
        );
        assert_eq!(
            server.handle_line(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#),
            None
        );
        assert!(server
            .handle_line(b"[]")
            .unwrap()
            .to_string()
            .contains("empty batch"));
    }

    #[test]
    fn modern_era() {
        let pve = pve();
        let mut server = Server::new(&pve, policy(Access::ReadOnly), 120);
        let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
        let discover = server
            .handle_line(
                format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{{meta}}}}}"#
                )
                .as_bytes(),
            )
            .unwrap();
        assert_eq!(
            discover["result"]["supportedVersions"],
            json!(["2026-07-28"])
        );
        assert_eq!(discover["result"]["resultType"], "complete");
        assert_eq!(
            discover["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "proxmox-mcp-server"
        );
        let list = server
            .handle_line(
                format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{{meta}}}}}"#)
                    .as_bytes(),
            )
            .unwrap();
        assert_eq!(list["result"]["resultType"], "complete");
        assert_eq!(list["result"]["ttlMs"], 3_600_000);
        assert_eq!(list["result"]["cacheScope"], "private");
        assert!(list["result"]["tools"][0]["outputSchema"].is_object());
        let ping = server
            .handle_line(
                format!(r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{{meta}}}}}"#)
                    .as_bytes(),
            )
            .unwrap();
        assert_eq!(ping["error"]["code"], -32601);
        let old = server.handle_line(br#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}}"#).unwrap();
        assert_eq!(
            old["error"],
            json!({"code": -32022, "message": "Unsupported protocol version", "data": {"supported": ["2026-07-28"], "requested": "1900-01-01"}})
        );
        // The same process still accepts the handshake afterwards.
        assert_eq!(
            server.handle_line(INIT.as_bytes()).unwrap()["result"]["protocolVersion"],
            "2025-11-25"
        );
        let list = server
            .handle_line(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#)
            .unwrap();
        assert!(list["result"].get("resultType").is_none());
    }

    #[test]
    fn tools_list_follows_version_and_access() {
        let pve = pve();
        let names = |access: Access| -> Vec<String> {
            let mut server = Server::new(&pve, policy(access), 120);
            server.handle_line(INIT.as_bytes());
            let list = server
                .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
                .unwrap();
            list["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (ro, op, full) = (
            names(Access::ReadOnly),
            names(Access::Operate),
            names(Access::Full),
        );
        let count = |effects: &[Effect]| {
            tools::TOOLS
                .iter()
                .filter(|t| {
                    effects.contains(&t.effect) && t.area != tools::Area::Exec && t.present()
                })
                .count()
        };
        assert_eq!(ro.len(), count(&[Effect::Read]));
        assert!(!ro.contains(&"start_vm".to_string()));
        assert!(
            op.contains(&"start_vm".to_string()) && !op.contains(&"delete_vm_snapshot".to_string())
        );
        assert_eq!(op.len(), count(&[Effect::Read, Effect::Operate]));
        assert_eq!(
            full.len(),
            count(&[Effect::Read, Effect::Operate, Effect::Destroy])
        );
        assert!(full.contains(&"delete_vm_snapshot".to_string()));

        let mut server = Server::new(&pve, policy(Access::Full), 120);
        server.handle_line(INIT.replace("2025-11-25", "2024-11-05").as_bytes());
        let list = server
            .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .unwrap();
        let tool = &list["result"]["tools"][0];
        assert!(
            tool.get("annotations").is_none()
                && tool.get("outputSchema").is_none()
                && tool.get("title").is_none()
        );
        let stop = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "stop_vm")
            .unwrap();
        assert_eq!(stop["inputSchema"]["additionalProperties"], false);
    }

    #[test]
    fn access_level_refusal_is_a_tool_error() {
        let pve = pve();
        let mut server = Server::new(&pve, policy(Access::Operate), 120);
        server.handle_line(INIT.as_bytes());
        let reply = server
            .handle_line(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_vm_snapshot","arguments":{"vmid":100,"snapname":"a"}}}"#)
            .unwrap();
        assert_eq!(reply["result"]["isError"], true);
        assert_eq!(
            reply["result"]["content"][0]["text"],
            "delete_vm_snapshot can lose data and needs access level full, but this server runs with PROXMOX_MCP_ACCESS=operate; to allow it, restart the server with PROXMOX_MCP_ACCESS=full (or --access full)"
        );
    }

    /// A session's input and output with nothing read yet; `tx` feeds its input.
    fn io(batches: bool) -> (Io<Vec<u8>>, mpsc::SyncSender<Input>) {
        let (tx, rx) = mpsc::sync_channel(16);
        let io = Io {
            rx,
            out: RefCell::new(Vec::new()),
            queue: RefCell::default(),
            eof: Cell::new(false),
            failed: RefCell::new(None),
            batches: Cell::new(batches),
            cancelled: RefCell::default(),
        };
        (io, tx)
    }

    /// The queued lines, as text.
    fn queued(io: &Io<Vec<u8>>) -> Vec<String> {
        io.queue
            .borrow()
            .iter()
            .map(|q| match &q.input {
                Input::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Input::TooLong => "too long".into(),
                Input::Eof => "eof".into(),
            })
            .collect()
    }

    fn cancel(id: &str) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#).into_bytes()
    }

    #[test]
    fn cancellations_drop_queued_requests() {
        let (io, _tx) = io(true);
        let waiting = json!(1);
        let stop = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"stop_vm"}}"#;
        assert!(!io.accept(stop.to_vec(), Some(&waiting)));
        let init = br#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{}}"#;
        assert!(!io.accept(init.to_vec(), Some(&waiting)));
        let batch = br#"[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":"9","method":"ping"}]"#;
        assert!(!io.accept(batch.to_vec(), Some(&waiting)));
        assert_eq!(queued(&io).len(), 3);
        // A string id is not the number, an unknown id changes nothing, initialize stays.
        for other in [r#""7""#, "9", "70", r#""i""#] {
            assert!(!io.accept(cancel(other), Some(&waiting)));
        }
        assert_eq!(queued(&io).len(), 3, "{:?}", queued(&io));
        // A malformed one is no cancellation: queued like any notification (and ignored there).
        assert!(!io.accept(cancel("7.0"), Some(&waiting)));
        assert_eq!(queued(&io).len(), 4);
        assert_eq!(queued(&io)[0], String::from_utf8_lossy(stop));
        io.queue.borrow_mut().pop_back();
        assert!(!io.accept(cancel("7"), Some(&waiting)));
        assert_eq!(
            queued(&io),
            [
                String::from_utf8_lossy(init),
                String::from_utf8_lossy(batch)
            ]
        );
        // One request of a queued batch goes; the batch goes once it is empty.
        assert!(!io.accept(cancel(r#""9""#), Some(&waiting)));
        assert_eq!(
            queued(&io)[1],
            r#"[{"id":8,"jsonrpc":"2.0","method":"ping"}]"#
        );
        assert!(!io.accept(cancel("8"), Some(&waiting)));
        assert_eq!(queued(&io).len(), 1);
        // Cancellations that matched nothing queued are remembered for the batch being handled.
        assert!(io.cancelled(&json!("7")) && io.cancelled(&json!(70)));
        assert!(!io.cancelled(&json!(7)) && !io.cancelled(&json!("9")));
        // The waiting request's own cancellation, also inside a batch.
        assert!(io.accept(cancel("1"), Some(&waiting)));
        assert!(io.accept(
            format!("[{}]", String::from_utf8_lossy(&cancel("1"))).into_bytes(),
            Some(&waiting)
        ));
        assert!(
            io.out.borrow().is_empty(),
            "cancellations are never answered"
        );
    }

    #[test]
    fn arrays_count_one_by_one_only_when_batches_are_answered() {
        let (io, _tx) = io(false);
        let waiting = json!(1);
        let batch = br#"[{"jsonrpc":"2.0","id":5,"method":"ping"}]"#;
        assert!(!io.accept(batch.to_vec(), Some(&waiting)));
        // An array is refused as a whole in this version: nothing in it is a request or a cancellation.
        assert!(!io.accept(cancel("5"), Some(&waiting)));
        let wrapped = format!("[{}]", String::from_utf8_lossy(&cancel("1")));
        assert!(!io.accept(wrapped.clone().into_bytes(), Some(&waiting)));
        assert_eq!(
            queued(&io),
            [String::from_utf8_lossy(batch).into_owned(), wrapped]
        );
    }

    #[test]
    fn cancellations_that_arrive_after_a_wait_reach_the_queue() {
        let (io, tx) = io(false);
        let stop = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"stop_vm"}}"#;
        assert!(!io.accept(stop.to_vec(), Some(&json!(1))));
        let ping = br#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#;
        tx.send(Input::Line(ping.to_vec())).unwrap();
        tx.send(Input::Line(cancel("7"))).unwrap();
        io.drain();
        // Without a wait, a ping keeps its place in the queue.
        assert_eq!(queued(&io), [String::from_utf8_lossy(ping)]);
        assert!(!io.eof.get());
        tx.send(Input::Eof).unwrap();
        drop(tx);
        io.drain();
        assert!(io.eof.get());
        assert!(io.out.borrow().is_empty());
    }

    #[test]
    fn long_lines_are_refused_without_holding_them() {
        let mut input = io::Cursor::new([vec![b'x'; 100], b"\n{\"a\":1}\n".to_vec()].concat());
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::TooLong
        ));
        assert!(buf.len() <= 50);
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::Ok
        ));
        assert_eq!(buf, b"{\"a\":1}");
        buf.clear();
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::Eof
        ));
    }
}
