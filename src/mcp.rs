//! MCP over stdio: a hand-written JSON-RPC 2.0 loop, one compact JSON object per line.
//!
//! Speaks the initialize handshake (2024-11-05 … 2025-11-25) and the stateless 2026-07-28 era
//! (`server/discover`, protocol version in each request's `_meta`). Knows nothing about HTTP:
//! tools are run through `tools::run`.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::Policy;
use crate::pve::Pve;
use crate::resources;
use crate::tools::{self, Ctx, Effect, Tool};

mod stdio;
mod watch;
pub use stdio::{serve, MAX_LINE};
pub use watch::{Check, Watch};

/// Handshake versions, oldest first; the last is offered when the client asks for another.
pub const LEGACY_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Versions of the stateless era (protocol version in each request's `_meta`).
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
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
    session: Session,
    /// The resource re-checked in the background while subscribed (`proxmox://alerts`).
    watch: Option<Watch>,
}

/// What one client's session has agreed or asked for so far: the place for per-session state
/// (toolsets loaded, resource subscriptions).
#[derive(Debug, Default)]
struct Session {
    /// The version agreed by `initialize`, once it happened.
    negotiated: Option<&'static str>,
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

impl<'c> Waiting<'c> {
    fn new(channel: &'c dyn Channel, id: &Value, token: Option<Value>) -> Waiting<'c> {
        Waiting {
            channel,
            id: id.clone(),
            token,
            sent: Cell::new(0),
        }
    }
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

/// The id of request `m`, if it is one a cancellation may drop (`initialize` must not be
/// cancelled, so it never is).
fn request_id(m: &Value) -> Option<Value> {
    let id = m.get("id")?;
    (m["method"].is_string()
        && m["method"] != "initialize"
        && (id.is_string() || id.is_i64() || id.is_u64()))
    .then(|| id.clone())
}

/// A JSON-RPC error a method answers with (the request cannot be routed or is malformed).
struct Refusal {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl Refusal {
    fn new(code: i64, message: String) -> Refusal {
        Refusal {
            code,
            message,
            data: None,
        }
    }
    fn with_data(code: i64, message: String, data: Value) -> Refusal {
        Refusal {
            code,
            message,
            data: Some(data),
        }
    }
    fn answer(self, id: Value) -> Value {
        match self.data {
            Some(data) => error_data(id, self.code, &self.message, data),
            None => error(id, self.code, &self.message),
        }
    }
}

/// What a request's method is answered in.
enum Era {
    /// `initialize`.
    Handshake,
    /// `server/discover`.
    Discover,
    /// A `ping` before `initialize`.
    BeforeHandshake,
    /// Every other method, in this version (2026-07-28 when true).
    Speaking(Version, bool),
}

/// Lists have a single page: any cursor is invalid.
fn single_page(method: &str, params: &Map<String, Value>) -> Result<(), Refusal> {
    match params.get("cursor") {
        Some(c) if !c.is_null() => Err(Refusal::new(
            INVALID_PARAMS,
            format!("invalid cursor: {method} has a single page"),
        )),
        _ => Ok(()),
    }
}

/// A result in 2026-07-28: marked complete, and lists say how long they may be cached.
fn complete(mut result: Value, method: &str, modern: bool) -> Value {
    if modern {
        if method.ends_with("/list") {
            result["ttlMs"] = json!(3_600_000);
            result["cacheScope"] = json!("private");
        }
        result["resultType"] = json!("complete");
    }
    result
}

fn response(id: Value, result: Value) -> Value {
    // Built by moving: `json!` would copy `result` (a tool's whole answer) through `to_value`.
    let mut m = Map::new();
    m.insert("jsonrpc".into(), Value::from("2.0"));
    m.insert("id".into(), id);
    m.insert("result".into(), result);
    Value::Object(m)
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
            session: Session::default(),
            watch: None,
        }
    }

    /// Offers `watch` to subscribers (`resources/subscribe`, `subscriptions/listen`).
    pub fn with_watch(mut self, watch: Watch) -> Server<'a> {
        self.watch = Some(watch);
        self
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
            Value::Array(items) if self.session.negotiated == Some("2025-03-26") => {
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
                // A cancelled listen request ends its subscription.
                if let (Some("notifications/cancelled"), Some(watch)) =
                    (method.as_deref(), &self.watch)
                {
                    if let Some(id) = msg.get("params").and_then(|p| p.get("requestId")) {
                        watch.cancel(id);
                    }
                }
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
            self.route(&id, &method, &params, in_batch, channel)
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

    /// The response to one request; `None` for a cancelled call, which gets none.
    fn route(
        &mut self,
        id: &Value,
        method: &str,
        params: &Map<String, Value>,
        in_batch: bool,
        channel: &dyn Channel,
    ) -> Option<Value> {
        let answer = match self.version(method, params, in_batch) {
            Err(e) => Err(e),
            Ok(Era::Handshake) => self.initialize(params).map(Some),
            Ok(Era::Discover) => Ok(Some(self.discover())),
            Ok(Era::BeforeHandshake) => Ok(Some(json!({}))),
            Ok(Era::Speaking(version, modern)) => {
                let answer = match method {
                    "ping" if !modern => Ok(Some(json!({}))),
                    "tools/list" => self.list_tools(params, version).map(Some),
                    "resources/list" => self.list_resources(params).map(Some),
                    "resources/templates/list" => self.list_templates(params).map(Some),
                    "prompts/list" => self.list_prompts(params).map(Some),
                    "resources/read" => self.read_resource(id, params, modern, channel).map(Some),
                    "prompts/get" => self.get_prompt(params).map(Some),
                    "tools/call" => self.call(id, params, version, channel),
                    "resources/subscribe" if !modern => {
                        self.subscribe(method, params, true).map(Some)
                    }
                    "resources/unsubscribe" if !modern => {
                        self.subscribe(method, params, false).map(Some)
                    }
                    "subscriptions/listen" if modern => self.listen(id, params, channel),
                    _ => Err(Refusal::new(
                        METHOD_NOT_FOUND,
                        format!("method not found: {method}"),
                    )),
                };
                answer.map(|result| result.map(|r| complete(r, method, modern)))
            }
        };
        match answer {
            Ok(Some(result)) => Some(response(id.clone(), result)),
            // A cancelled call: no response is sent for it.
            Ok(None) => None,
            Err(refusal) => Some(refusal.answer(id.clone())),
        }
    }

    /// The version a request is handled in: 2026-07-28 when its `_meta` says so, else the one
    /// `initialize` agreed; `initialize` and `server/discover` need none.
    fn version(
        &self,
        method: &str,
        params: &Map<String, Value>,
        in_batch: bool,
    ) -> Result<Era, Refusal> {
        let requested = params.get("_meta").and_then(|m| m.get(META_VERSION));
        let modern = match requested {
            None => false,
            Some(Value::String(v)) if MODERN_VERSIONS.contains(&v.as_str()) => true,
            Some(v) if method != "initialize" => {
                return Err(Refusal::with_data(
                    UNSUPPORTED_VERSION,
                    "Unsupported protocol version".into(),
                    json!({"supported": MODERN_VERSIONS, "requested": v}),
                ));
            }
            Some(_) => false,
        };
        match method {
            "initialize" if in_batch => Err(Refusal::new(
                INVALID_REQUEST,
                "initialize must not be part of a batch".into(),
            )),
            "initialize" => Ok(Era::Handshake),
            "server/discover" => Ok(Era::Discover),
            _ if modern => Ok(Era::Speaking(Version::MODERN, true)),
            _ => match self.session.negotiated.and_then(Version::of) {
                Some(v) => Ok(Era::Speaking(v, false)),
                None if method == "ping" => Ok(Era::BeforeHandshake),
                None if ["tools/", "resources/", "prompts/"].iter().any(|p| method.starts_with(p)) => {
                    Err(Refusal::new(
                        INVALID_REQUEST,
                        "not initialized: send initialize first (or give the protocol version 2026-07-28 in _meta)".into(),
                    ))
                }
                None => Ok(Era::Speaking(Version(0), false)),
            },
        }
    }

    /// What a tool run by this server gets.
    fn ctx<'s>(&'s self, waiting: &'s Waiting) -> Ctx<'s> {
        Ctx::new(
            self.pve,
            self.policy,
            &tools::TOOLS,
            self.task_wait,
            waiting,
        )
    }

    fn list_tools(&self, params: &Map<String, Value>, version: Version) -> Result<Value, Refusal> {
        single_page("tools/list", params)?;
        let tools: Vec<Value> = tools::active(self.policy)
            .map(|t| describe(t, version))
            .collect();
        Ok(json!({ "tools": tools }))
    }

    fn list_resources(&self, params: &Map<String, Value>) -> Result<Value, Refusal> {
        single_page("resources/list", params)?;
        Ok(json!({"resources": resources::list(self.policy)}))
    }

    fn list_templates(&self, params: &Map<String, Value>) -> Result<Value, Refusal> {
        single_page("resources/templates/list", params)?;
        Ok(json!({"resourceTemplates": resources::templates(self.policy)}))
    }

    fn list_prompts(&self, params: &Map<String, Value>) -> Result<Value, Refusal> {
        single_page("prompts/list", params)?;
        Ok(json!({"prompts": resources::prompts()}))
    }

    fn read_resource(
        &self,
        id: &Value,
        params: &Map<String, Value>,
        modern: bool,
        channel: &dyn Channel,
    ) -> Result<Value, Refusal> {
        let Some(uri) = params.get("uri").and_then(Value::as_str) else {
            return Err(Refusal::new(
                INVALID_PARAMS,
                "resources/read needs a uri".into(),
            ));
        };
        let waiting = Waiting::new(channel, id, None);
        let ctx = self.ctx(&waiting);
        // The code for "resource not found" changed from -32002 to -32602 in 2026-07-28.
        let not_found = if modern {
            INVALID_PARAMS
        } else {
            RESOURCE_NOT_FOUND
        };
        match resources::read(&ctx, self.policy, uri) {
            Ok(r) => Ok(r),
            Err(resources::ReadError::NotFound(u)) => Err(Refusal::with_data(
                not_found,
                "Resource not found".into(),
                json!({"uri": u}),
            )),
            // Not offered by this server (resources/list leaves it out): not found, with the
            // policy's text naming the setting that turned it off.
            Err(resources::ReadError::Denied(why)) => {
                Err(Refusal::with_data(not_found, why, json!({"uri": uri})))
            }
            Err(resources::ReadError::Failed(e)) => {
                Err(Refusal::new(INTERNAL_ERROR, e.to_string()))
            }
        }
    }

    fn get_prompt(&self, params: &Map<String, Value>) -> Result<Value, Refusal> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(Refusal::new(
                INVALID_PARAMS,
                "prompts/get needs a name".into(),
            ));
        };
        let args = params
            .get("arguments")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        resources::prompt(name, &args).map_err(|message| Refusal::new(INVALID_PARAMS, message))
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Result<Value, Refusal> {
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return Err(Refusal::new(
                INVALID_PARAMS,
                "initialize needs protocolVersion (a string such as \"2025-11-25\")".into(),
            ));
        };
        // Echo a version we speak; counter-offer the newest otherwise.
        let version = LEGACY_VERSIONS
            .iter()
            .find(|v| **v == requested)
            .copied()
            .unwrap_or(LEGACY_VERSIONS[LEGACY_VERSIONS.len() - 1]);
        self.session.negotiated = Some(version);
        Ok(json!({
            "protocolVersion": version,
            "capabilities": capabilities(self.subscribable()),
            "serverInfo": server_info(),
            "instructions": self.instructions(),
        }))
    }

    fn discover(&self) -> Value {
        json!({
            "resultType": "complete",
            "supportedVersions": MODERN_VERSIONS,
            "capabilities": capabilities(self.subscribable()),
            "instructions": self.instructions(),
            "_meta": {"io.modelcontextprotocol/serverInfo": server_info()},
            "ttlMs": 3_600_000,
            "cacheScope": "private",
        })
    }

    /// Whether a resource can be subscribed to: one is watched and the tool selection offers it.
    fn subscribable(&self) -> bool {
        self.watch
            .as_ref()
            .is_some_and(|w| resources::offered_uri(self.policy, w.uri()).is_ok())
    }

    /// What the model always has in context: how the tools work, and the toolsets not loaded.
    fn instructions(&self) -> String {
        let mut text = self.usage();
        text.push_str(&tools::unloaded_note(self.policy));
        text
    }

    fn usage(&self) -> String {
        format!(
            "Tools for one Proxmox VE cluster, at access level {}. Arguments use PVE's names (node, vmid, snapname, storage, upid); \
             where a vmid is given the node is optional. Lists are sorted and paged (limit, offset; the result says total). \
             Tools that start a PVE task wait for it (wait_seconds, default {} s); changes can be previewed with dry_run. \
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
    ) -> Result<Option<Value>, Refusal> {
        let refuse = |message: String| Refusal::new(INVALID_PARAMS, message);
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            Some(_) => return Err(refuse("tools/call: name must be a string".into())),
            None => return Err(refuse("tools/call: missing tool name".into())),
        };
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(a)) => a,
            Some(_) => return Err(refuse("tools/call: arguments must be an object".into())),
        };
        let tool = tools::find(name).ok_or_else(|| refuse(format!("unknown tool: {name}")))?;
        let token = params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
            .cloned();
        let waiting = Waiting::new(channel, id, token);
        let ctx = self.ctx(&waiting);
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
            // Serialized once for the text; the map itself is moved, never copied.
            let text = serde_json::to_string(&content).unwrap_or_default();
            let mut item = Map::new();
            item.insert("type".into(), Value::from("text"));
            item.insert("text".into(), Value::String(text));
            let mut r = Map::new();
            r.insert("content".into(), Value::Array(vec![Value::Object(item)]));
            r.insert("isError".into(), Value::Bool(false));
            if structured {
                r.insert("structuredContent".into(), Value::Object(content));
            }
            Value::Object(r)
        }
        Err(e) => json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true}),
    }
}

/// What this server offers; `subscribe` when a resource is watched for subscribers.
fn capabilities(subscribe: bool) -> Value {
    json!({"tools": {"listChanged": false}, "resources": {"subscribe": subscribe, "listChanged": false}, "prompts": {"listChanged": false}})
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
        t["annotations"] = annotations(tool);
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

/// A tool's hints (spec: ToolAnnotations), each only where it differs from the default a host
/// assumes for a missing one (readOnlyHint false, destructiveHint true, idempotentHint false,
/// openWorldHint true): `tools/list` stays small and says the same. destructiveHint and
/// idempotentHint mean something only for a tool that is not read-only, so a read tool leaves
/// them out.
fn annotations(tool: &Tool) -> Value {
    let mut a = json!({"openWorldHint": false});
    if tool.effect == Effect::Read {
        a["readOnlyHint"] = json!(true);
    } else {
        if !tool.destructive() {
            a["destructiveHint"] = json!(false);
        }
        if tool.idempotent {
            a["idempotentHint"] = json!(true);
        }
    }
    a
}

#[cfg(test)]
mod tests;
