//! Shared test helpers: a mocked PVE API that records what it is sent (and checks every request
//! against PVE's schema), and an MCP client that drives the server in-process.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mockito::{Matcher, Mock, ServerGuard};
use proxmox_mcp_server::config::Config;
use proxmox_mcp_server::mcp::Server;
use proxmox_mcp_server::policy::Policy;
use proxmox_mcp_server::pve::Pve;
use serde_json::{json, Value};

use crate::schema;

/// Settings: full access with host-level changes allowed.
pub const FULL_HOST: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "full"),
    ("PROXMOX_MCP_TOOLS", "all"),
    ("PROXMOX_MCP_ALLOW_HOST_CONFIG", "true"),
];
/// Settings: full access with exec (and the logins it can put into guests) allowed.
pub const FULL_EXEC: &[(&str, &str)] = &[
    ("PROXMOX_MCP_ACCESS", "full"),
    ("PROXMOX_MCP_TOOLS", "all"),
    ("PROXMOX_MCP_ALLOW_EXEC", "true"),
];

/// The API token secret the tests use; it must never show up in any output.
/// The task id the mocked PVE answers writes with (a VM start on pve1).
pub const UPID: &str = "UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:";

/// A guest as `/cluster/resources` lists it; `id` is `qemu/100` or `lxc/200`, `extra` adds fields
/// (tags, lock, pool, usage).
pub fn guest(id: &str, name: &str, node: &str, status: &str, extra: Value) -> Value {
    let (kind, vmid) = id.split_once('/').expect("kind/vmid");
    let vmid: u64 = vmid.parse().expect("a VMID");
    let mut entry =
        json!({"id": id, "type": kind, "vmid": vmid, "name": name, "node": node, "status": status});
    if let (Some(entry), Value::Object(extra)) = (entry.as_object_mut(), extra) {
        entry.extend(extra);
    }
    entry
}

/// A login ticket as `POST /access/ticket` answers it; `n` tells tickets apart.
pub fn ticket(n: u32) -> Value {
    json!({"ticket": format!("PVE:root@pam:6740A00{n}::c2lnbmF0dXJl"), "CSRFPreventionToken": format!("6740A00{n}:Y3NyZg"), "username": "root@pam"})
}

/// Where the task `UPID` is polled.
pub const STATUS: &str =
    "/nodes/pve1/tasks/UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:/status";

/// `first`, then `then`: the request lines a test expects (e.g. the write, then the task polls).
pub fn lines(first: &[&str], then: &[String]) -> Vec<String> {
    first
        .iter()
        .map(|s| s.to_string())
        .chain(then.iter().cloned())
        .collect()
}

/// `first`, then the two status polls of the task `UPID` that `FakePve::starts_task` mocks.
pub fn polled(first: &[&str]) -> Vec<String> {
    let poll = format!("GET /nodes/pve1/tasks/{UPID}/status");
    lines(first, &[poll.clone(), poll])
}

pub const TOKEN: &str = "5f2c1e4a-0b7d-4c1e-9a3f-7e6d5c4b3a21";

/// One HTTP request as the mocked PVE received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent (percent-encoded), e.g. `/api2/extjs/nodes/pve1/qemu?x=1`.
    pub path: String,
    pub body: String,
    pub headers: BTreeMap<String, String>,
}

impl Seen {
    /// `METHOD /path?query` without the `/api2/extjs` prefix, plus ` body` when there is one.
    pub fn line(&self) -> String {
        let path = self.path.strip_prefix("/api2/extjs").unwrap_or(&self.path);
        if self.body.is_empty() {
            format!("{} {path}", self.method)
        } else {
            format!("{} {path} {}", self.method, self.body)
        }
    }
}

/// A mocked PVE API (`/api2/extjs` envelope). Every request it sees is recorded and, when the
/// fake is dropped, checked against the PVE 9.1 schema.
pub struct FakePve {
    server: ServerGuard,
    log: Arc<Mutex<Vec<Seen>>>,
    mocks: Vec<Mock>,
}

impl FakePve {
    pub fn new() -> FakePve {
        FakePve {
            server: mockito::Server::new(),
            log: Arc::default(),
            mocks: Vec::new(),
        }
    }

    /// A fake whose `/cluster/resources` answers `resources` (where the tools find guests).
    pub fn with_resources(resources: Value) -> FakePve {
        let mut fake = FakePve::new();
        fake.get("/cluster/resources", resources);
        fake
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answers `method path` (any query) with `body` and HTTP `status`; `times` = only that many
    /// times while a later mock for the same request waits (mockito prefers mocks still owed hits).
    pub fn answer(
        &mut self,
        method: &str,
        path: &str,
        status: usize,
        body: Value,
        times: Option<usize>,
    ) -> &mut Self {
        let pattern = format!("^/api2/extjs{}(\\?.*)?$", regex_escape(path));
        let log = Arc::clone(&self.log);
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let mut mock = self
            .server
            .mock(method, Matcher::Regex(pattern))
            .with_status(status)
            .with_header("content-type", "application/json;charset=UTF-8")
            .with_body_from_request(move |req| {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            v.to_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                let body = req
                    .utf8_lossy_body()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    method: req.method().to_string(),
                    path: req.path_and_query().to_string(),
                    body,
                    headers,
                });
                text.clone().into_bytes()
            });
        if let Some(n) = times {
            mock = mock.expect(n);
        }
        self.mocks.push(mock.create());
        self
    }

    /// `data` in a successful envelope.
    pub fn ok(&mut self, method: &str, path: &str, data: Value) -> &mut Self {
        self.answer(method, path, 200, json!({"success": 1, "data": data}), None)
    }

    /// `ok` for a GET.
    pub fn get(&mut self, path: &str, data: Value) -> &mut Self {
        self.ok("GET", path, data)
    }

    /// `ok` for a GET of a guest's config, `guest` being `NODE/qemu|lxc/VMID`.
    pub fn config(&mut self, guest: &str, config: Value) -> &mut Self {
        self.get(&format!("/nodes/{guest}/config"), config)
    }

    /// `ok` for a GET of a guest's current status, `guest` being `NODE/qemu|lxc/VMID`.
    pub fn status(&mut self, guest: &str, status: Value) -> &mut Self {
        self.get(&format!("/nodes/{guest}/status/current"), status)
    }

    /// `ok` for a POST.
    pub fn post(&mut self, path: &str, data: Value) -> &mut Self {
        self.ok("POST", path, data)
    }

    /// `method path` starts the task `UPID`, which runs for one poll and then ends OK.
    pub fn starts_task(&mut self, method: &str, path: &str) -> &mut Self {
        self.ok(method, path, json!(UPID));
        mock_task(self, UPID, "OK");
        self
    }

    /// The log of the task `UPID`: these lines, numbered from 1 (`total` as PVE counts them).
    pub fn task_log(&mut self, lines: &[&str]) -> &mut Self {
        let data: Vec<Value> = (1..)
            .zip(lines)
            .map(|(n, t)| json!({"n": n, "t": t}))
            .collect();
        let body = json!({"success": 1, "total": lines.len(), "data": data});
        self.answer("GET", &STATUS.replace("/status", "/log"), 200, body, None)
    }

    /// As `ok`, but only for the next `times` matching requests.
    pub fn ok_times(&mut self, method: &str, path: &str, data: Value, times: usize) -> &mut Self {
        self.answer(
            method,
            path,
            200,
            json!({"success": 1, "data": data}),
            Some(times),
        )
    }

    /// A PVE API error as `/api2/extjs` reports it: HTTP 200, `success: 0`, the status and message.
    pub fn fail(&mut self, method: &str, path: &str, status: u16, message: &str) -> &mut Self {
        let body = json!({"success": 0, "status": status, "message": format!("{message}\n"), "data": null});
        self.answer(method, path, 200, body, None)
    }

    /// Everything PVE was sent, in order, after checking each request against PVE's schema.
    pub fn requests(&self) -> Vec<Seen> {
        let seen = self.log.lock().unwrap().clone();
        let problems: Vec<String> = seen.iter().filter_map(schema_problem).collect();
        assert!(
            problems.is_empty(),
            "requests PVE would refuse:\n{}",
            problems.join("\n")
        );
        seen
    }

    /// `requests()` as `METHOD /path?query body` lines.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Seen::line).collect()
    }

    /// Fails the test if PVE was sent anything at all.
    pub fn assert_untouched(&self) {
        let lines = self.lines();
        assert!(lines.is_empty(), "PVE was asked: {lines:?}");
    }

    /// Fails the test if PVE was sent a write (anything but GET, login excluded).
    pub fn assert_no_writes(&self) {
        let writes = self.writes();
        assert!(writes.is_empty(), "PVE was sent a write: {writes:?}");
    }

    /// The requests that change something (anything but GET), login excluded.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/access/ticket"))
            .map(Seen::line)
            .collect()
    }
}

impl Drop for FakePve {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.requests();
    }
}

fn schema_problem(r: &Seen) -> Option<String> {
    let sent = schema::Sent {
        method: &r.method,
        path_and_query: &r.path,
        content_type: r.headers.get("content-type").map(String::as_str),
        body: r.body.as_bytes(),
    };
    schema::check(&sent).err()
}

/// Ok when a dry run's shown request (`{"method", "path", "params"}`) is one PVE's schema accepts:
/// the parameters go in the query for GET and DELETE, else in a form body, as `pve.rs` sends them.
fn shown_request_problem(request: &Value) -> Result<(), String> {
    let method = request["method"].as_str().ok_or("no method")?;
    let path = request["path"].as_str().ok_or("no path")?;
    let mut pairs = Vec::new();
    for (k, v) in request["params"].as_object().into_iter().flatten() {
        let values: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            pairs.push(format!("{}={}", form_encode(k), form_encode(&text)));
        }
    }
    // The path is shown as sent: already percent-encoded by `pve::path`.
    let form = pairs.join("&");
    let (path_and_query, body) = match method {
        "GET" | "DELETE" if !form.is_empty() => {
            (format!("/api2/extjs{path}?{form}"), String::new())
        }
        _ => (format!("/api2/extjs{path}"), form),
    };
    let sent = schema::Sent {
        method,
        path_and_query: &path_and_query,
        content_type: (!body.is_empty()).then_some("application/x-www-form-urlencoded"),
        body: body.as_bytes(),
    };
    schema::check(&sent)
}

/// `application/x-www-form-urlencoded` encoding of `s`, as `pve.rs` encodes a form.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The configuration a test server runs with: token auth against `fake`, plus `extra`
/// (an empty value removes a default).
pub fn config(fake: &FakePve, extra: &[(&str, &str)]) -> Config {
    config_at(&fake.url(), extra)
}

/// As `config`, against whatever listens at `host`.
pub fn config_at(host: &str, extra: &[(&str, &str)]) -> Config {
    // The tests' own CA, so they do not depend on the machine having a CA bundle.
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let defaults = [
        ("PROXMOX_HOST", host),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN),
        ("PROXMOX_TIMEOUT", "5"),
        ("PROXMOX_CA_FILE", ca),
    ];
    let mut env: BTreeMap<&str, &str> = defaults.into_iter().collect();
    env.extend(extra.iter().copied());
    env.retain(|_, v| !v.is_empty());
    resolve(&env.into_iter().collect::<Vec<_>>()).expect("test configuration")
}

/// The configuration these variables alone give (no system CA bundle), or the error's text.
pub fn resolve(vars: &[(&str, &str)]) -> Result<Config, String> {
    let lookup = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    };
    let no_ca = Path::new("/nonexistent/pve-root-ca.pem");
    Config::resolve_with(&lookup, &[], no_ca).map_err(|e| e.to_string())
}

/// An MCP client talking to the server in-process, after the initialize handshake.
pub struct Client<'a> {
    server: Server<'a>,
    next_id: i64,
    /// `tools/list` as the client saw it, for output-schema checks.
    pub tools: Vec<Value>,
}

impl<'a> Client<'a> {
    pub fn new(pve: &'a Pve, config: &Config) -> Client<'a> {
        // The policy lives as long as the test run (the server borrows it).
        let policy: &'static Policy =
            Box::leak(Box::new(Policy::new(config).expect("test policy")));
        let mut c = Client {
            server: Server::new(pve, policy, config.task_wait),
            next_id: 1,
            tools: Vec::new(),
        };
        let init = c.request("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}));
        assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(
            c.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
        c.tools = c.request("tools/list", json!({}))["result"]["tools"]
            .as_array()
            .unwrap()
            .clone();
        c
    }

    /// The names of the tools `tools/list` gave, in its order.
    pub fn tool_names(&self) -> Vec<&str> {
        self.tools
            .iter()
            .map(|t| t["name"].as_str().expect("a name"))
            .collect()
    }

    /// One raw line in, the answer (if any) out.
    pub fn send(&mut self, line: &str) -> Option<Value> {
        self.server.handle_line(line.as_bytes())
    }

    /// A request with the next id; the whole response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let reply = self.send(&line).expect("a request gets an answer");
        assert_eq!(reply["id"], json!(id));
        assert_eq!(reply["jsonrpc"], "2.0");
        reply
    }

    /// Fails the test unless the server still answers `ping`.
    pub fn assert_alive(&mut self) {
        assert_eq!(self.request("ping", json!({}))["result"], json!({}));
    }

    /// `tools/call` of a call that must succeed; its structured content.
    pub fn ok(&mut self, name: &str, args: Value) -> Value {
        ok(&self.call(name, args)).clone()
    }

    /// `tools/call` of a call that must fail; its error text.
    pub fn error(&mut self, name: &str, args: Value) -> String {
        error_text(&self.call(name, args)).to_string()
    }

    /// `tools/call`; returns the `result`, after checking what every result must hold:
    /// one text block, equal to the structured content on success, matching the output schema.
    pub fn call(&mut self, name: &str, args: Value) -> Value {
        let reply = self.request("tools/call", json!({"name": name, "arguments": args}));
        let result = reply
            .get("result")
            .unwrap_or_else(|| panic!("tools/call {name} gave a JSON-RPC error: {reply}"))
            .clone();
        let content = result["content"].as_array().expect("content is an array");
        assert_eq!(content.len(), 1, "{result}");
        assert_eq!(content[0]["type"], "text");
        let text = content[0]["text"].as_str().unwrap();
        assert!(
            !text.contains(TOKEN),
            "the token leaked into a result: {text}"
        );
        if result["isError"] == json!(false) {
            let structured = &result["structuredContent"];
            assert_eq!(
                text,
                structured.to_string(),
                "text and structuredContent differ"
            );
            assert!(
                text.len() <= 64 * 1024,
                "result text over 64 KiB: {}",
                text.len()
            );
            let tool = self
                .tools
                .iter()
                .find(|t| t["name"] == name)
                .expect("called tool is listed");
            if let Err(e) = conforms(&tool["outputSchema"], structured, "structuredContent") {
                panic!("{name}: result does not match its outputSchema: {e}\n{structured}");
            }
            // A dry run shows the request(s) it would send: each one PVE's schema accepts.
            if structured["dry_run"] == json!(true) {
                let shown = structured.get("requests").and_then(Value::as_array);
                let one = structured.get("request").filter(|r| r.is_object());
                for request in shown.into_iter().flatten().chain(one) {
                    if let Err(e) = shown_request_problem(request) {
                        panic!("{name}: its dry run shows a request PVE would refuse: {e}");
                    }
                }
            }
        } else {
            assert_eq!(result["isError"], json!(true));
            assert!(result.get("structuredContent").is_none());
        }
        result
    }
}

/// The structured content of a successful result (fails the test with the error text otherwise).
pub fn ok(result: &Value) -> &Value {
    assert_eq!(
        result["isError"], false,
        "expected success, got: {}",
        result["content"][0]["text"]
    );
    &result["structuredContent"]
}

/// The `key` field of each object in the array `list` (null where it is missing).
pub fn column<'a>(list: &'a Value, key: &str) -> Vec<&'a Value> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"));
    items.iter().map(|item| &item[key]).collect()
}

/// The text `key` of each object in the array `list`, e.g. the names of listed tools.
pub fn texts<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    let strings = column(list, key).into_iter().map(Value::as_str);
    strings
        .map(|s| s.unwrap_or_else(|| panic!("{key} is not text in {list}")))
        .collect()
}

/// The array of strings `list` as `&str`s.
pub fn strings(list: &Value) -> Vec<&str> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"));
    items
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

/// The text of an `isError` result.
/// A tool's hint as a host reads it: the value listed, or the spec's default when it is left out
/// (readOnlyHint false, destructiveHint true, idempotentHint false, openWorldHint true).
pub fn hint(tool: &Value, name: &str) -> bool {
    let default = matches!(name, "destructiveHint" | "openWorldHint");
    match &tool["annotations"][name] {
        Value::Null => default,
        v => v
            .as_bool()
            .unwrap_or_else(|| panic!("{name} is not a boolean: {v}")),
    }
}

pub fn error_text(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "expected an error, got: {result}");
    result["content"][0]["text"].as_str().unwrap()
}

/// The container tool `tool` refuses VM 100 (naming its kind) and a VMID no guest has.
pub fn assert_containers_only(c: &mut Client, tool: &str) {
    assert_eq!(
        c.error(tool, json!({"vmid": 100})),
        "VMID 100 is a VM (qemu), not a container; use the *_vm tools"
    );
    let unknown = c.error(tool, json!({"vmid": 999}));
    assert_starts(
        &unknown,
        "GET /cluster/resources: no guest with VMID 999 in the cluster",
    );
}

/// Fails the test unless `text` starts with `prefix`.
pub fn assert_starts(text: &str, prefix: &str) {
    assert!(text.starts_with(prefix), "expected {prefix:?}, got: {text}");
}

/// Checks `value` against the JSON Schema subset the server's schemas use: `type` (one or
/// several, `null` among them), `enum`, `minimum`/`maximum`, `anyOf`/`oneOf`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `minItems`/`maxItems`. The error names
/// the path of the value that does not fit.
pub fn conforms(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(Value::Array(choices)) = schema.get("anyOf") {
        if !choices.iter().any(|c| conforms(c, value, at).is_ok()) {
            return Err(format!(
                "{at}: matches none of {}",
                Value::Array(choices.clone())
            ));
        }
    }
    if let Some(Value::Array(choices)) = schema.get("oneOf") {
        let fitting = choices
            .iter()
            .filter(|c| conforms(c, value, at).is_ok())
            .count();
        if fitting != 1 {
            return Err(format!("{at}: matches {fitting} of oneOf, not exactly one"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad schema type {t}")),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !fits {
            return Err(format!("{at}: expected {types:?}, got {actual} {value}"));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            return Err(format!(
                "{at}: {value} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .filter(|m| n < *m)
        {
            return Err(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .filter(|m| n > *m)
        {
            return Err(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Value::Object(obj) = value {
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => conforms(sub, v, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&json!(false)) => {
                    return Err(format!(
                        "{at}: {k} is not allowed (additionalProperties: false)"
                    ));
                }
                None => {}
            }
        }
        if let Some(Value::Array(required)) = schema.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at}: missing required {r}"));
                }
            }
        }
    }
    if let Value::Array(arr) = value {
        let count = |k: &str| schema.get(k).and_then(Value::as_u64).map(|n| n as usize);
        if count("minItems").is_some_and(|m| arr.len() < m)
            || count("maxItems").is_some_and(|m| arr.len() > m)
        {
            return Err(format!(
                "{at}: {} items, outside minItems/maxItems",
                arr.len()
            ));
        }
        if let Some(items) = schema.get("items") {
            for (i, v) in arr.iter().enumerate() {
                conforms(items, v, &format!("{at}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// `GET /access/permissions` data granting, on `/`, every privilege any tool needs.
pub fn all_privileges() -> Value {
    let mut privs = serde_json::Map::new();
    for tool in proxmox_mcp_server::tools::TOOLS.iter() {
        for p in tool.requirement().map(|(p, _)| p).unwrap_or_default() {
            privs.insert(p.to_string(), json!(1));
        }
    }
    json!({"/": privs})
}

/// How many tools are listed at `access` (exec tools off).
pub fn tool_count(access: proxmox_mcp_server::policy::Access) -> usize {
    let policy = proxmox_mcp_server::policy::Policy::with_access(access);
    proxmox_mcp_server::tools::active(&policy).count()
}

/// Runs `f` with an initialized client against `fake`, under these settings.
pub fn session(fake: &FakePve, settings: &[(&str, &str)], f: impl FnOnce(&mut Client)) {
    connected(&config(fake, settings), f)
}

/// Runs `f` with a client initialized under `config` (whatever PVE it names).
pub fn connected(config: &Config, f: impl FnOnce(&mut Client)) {
    let pve = Pve::new(config).unwrap();
    f(&mut Client::new(&pve, config));
}

/// Runs `f` with an initialized client at access level `access`, every toolset loaded
/// (`PROXMOX_MCP_TOOLS=all`, so tools outside the default set can be called; `toolsets.rs`
/// tests the default set itself).
pub fn with_access(fake: &FakePve, access: &str, f: impl FnOnce(&mut Client)) {
    session(
        fake,
        &[("PROXMOX_MCP_ACCESS", access), ("PROXMOX_MCP_TOOLS", "all")],
        f,
    )
}

/// Mocks the task `upid` on its node: running for one poll, then stopped with `exitstatus`.
pub fn mock_task(fake: &mut FakePve, upid: &str, exitstatus: &str) {
    let node = upid.split(':').nth(1).unwrap_or("pve1");
    let status = format!("/nodes/{node}/tasks/{upid}/status");
    let base = json!({"upid": upid, "node": node, "type": "qmstart", "id": "100", "user": "root@pam!mcp", "pid": 662316, "starttime": 1732288512});
    let mut running = base.clone();
    running["status"] = json!("running");
    let mut stopped = base;
    stopped["status"] = json!("stopped");
    stopped["exitstatus"] = json!(exitstatus);
    stopped["endtime"] = json!(1732288515);
    fake.ok_times("GET", &status, running, 1)
        .ok("GET", &status, stopped);
}

/// A file of the TLS test data (`tests/data/tls`).
pub fn tls_data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

/// The leaf fingerprint as `leaf.sha256` holds it (upper-case hex bytes joined by colons).
pub fn leaf_fingerprint() -> String {
    std::fs::read_to_string(tls_data("leaf.sha256"))
        .expect("leaf.sha256")
        .trim()
        .to_string()
}

/// A rustls server configuration presenting the test certificate `cert` with `key`.
pub fn server_tls(cert: &str, key: &str) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_file(tls_data(cert)).expect("test certificate")];
    let key = PrivateKeyDer::from_pem_file(tls_data(key)).expect("test key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    Arc::new(config)
}

/// The check every call's result goes through fails on what a strict client rejects.
#[test]
fn the_output_schema_check_refuses_what_does_not_fit() {
    let schema = json!({"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": {"type": "object", "properties": {
            "vmid": {"type": "integer", "minimum": 100}, "status": {"enum": ["running", "stopped"]},
            "cpu": {"type": ["number", "null"]}}}},
        "total": {"type": "integer"}}});
    let fits = json!({"data": [{"vmid": 100, "status": "running", "cpu": 0.5, "extra": 1}, {"cpu": null}], "total": 2});
    assert_eq!(conforms(&schema, &fits, "r"), Ok(()));
    let wrong = |v: Value| conforms(&schema, &v, "r").unwrap_err();
    assert_eq!(wrong(json!({"total": 1})), "r: missing required data");
    assert_eq!(
        wrong(json!({"data": [{}, {"vmid": "100"}]})),
        "r.data[1].vmid: expected [\"integer\"], got string \"100\""
    );
    assert_eq!(
        wrong(json!({"data": [{"vmid": 99}]})),
        "r.data[0].vmid: 99 is below the minimum 100"
    );
    assert!(wrong(json!({"data": [{"status": "paused"}]}))
        .starts_with("r.data[0].status: \"paused\" is not one of"));
    assert_eq!(
        wrong(json!({"data": [{"cpu": "1"}]})),
        "r.data[0].cpu: expected [\"number\", \"null\"], got string \"1\""
    );
    let closed = json!({"type": "object", "additionalProperties": false, "properties": {}});
    assert!(conforms(&closed, &json!({"x": 1}), "r")
        .unwrap_err()
        .contains("x is not allowed"));
}

/// Starts `cmd` (the binary under test) with this stdin and its stdout and stderr piped.
pub fn spawn(cmd: &mut Command, stdin: Stdio) -> Child {
    let cmd = cmd.stdin(stdin).stdout(Stdio::piped());
    cmd.stderr(Stdio::piped())
        .spawn()
        .expect("spawn the binary")
}

/// Reads a pipe to its end on a thread.
pub fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Waits up to `limit` for the process to exit; kills it and fails the test otherwise.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a one-shot command left behind.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a one-shot command with stdin closed; it must end within `limit`.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let mut child = spawn(&mut cmd, Stdio::null());
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let status = wait_exit(&mut child, limit);
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A fresh, empty temporary directory `pmcp-NAME-PID`, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("pmcp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `rel` inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh [`TempDir`] for `name`'s test, and the audit log path in it.
pub fn audit_dir(name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let log = dir.path("audit.jsonl");
    (dir, log)
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn shown_requests_are_checked_against_the_schema() {
    let ok = json!({"method": "POST", "path": "/nodes/pve1/qemu/100/status/start", "params": {"skiplock": 1}});
    assert_eq!(shown_request_problem(&ok), Ok(()));
    let unknown = json!({"method": "POST", "path": "/nodes/pve1/qemu/100/status/start", "params": {"bogus": "1"}});
    assert!(shown_request_problem(&unknown).is_err());
    let repeated = json!({"method": "DELETE", "path": "/cluster/notifications/matchers/backups", "params": {}});
    assert_eq!(shown_request_problem(&repeated), Ok(()));
    let wrong_method = json!({"method": "PATCH", "path": "/nodes", "params": {}});
    assert!(shown_request_problem(&wrong_method).is_err());
}
