//! Checks requests the server sent against the PVE API schema (tests/data/pve-api-paths.json).
//!
//! The schema is PVE 9.1's own (pve-docs `apidata.js`, flattened). [`check`] mirrors what pveproxy
//! and `PVE::JSONSchema` do with a request (pve-http-server `AnyEvent.pm`, pve-common
//! `RESTHandler.pm`/`JSONSchema.pm`), so a request it accepts is not refused by PVE for its shape:
//!
//! * path: `/api2/extjs/` or `/api2/json/` prefix; raw segments split on `/` (empty ones skipped,
//!   as PVE does), each percent-decoded on its own; matched against the schema templates, the
//!   template with the most literal segments wins; no match or a method the template lacks is
//!   PVE's 501;
//! * parameters: query only for GET/DELETE (a body there is PVE's 501); query merged over the body
//!   for POST/PUT; bodies are form-encoded (also when no content type is given) or JSON, anything
//!   else is PVE's 506; form data is decoded the way PVE decodes it (`&` and `;` separate pairs,
//!   `+` is a space, a repeated key becomes an array, an empty value counts as not given, an
//!   unescaped `=` in a value truncates it);
//! * a parameter repeating a path value must have the same value (PVE's 400 "duplicate parameter");
//! * every parameter is declared (`net0` matches `net[n]`, within the index range the description
//!   gives), unless `additionalProperties` is truthy; every non-optional property is present
//!   (path values count), `requires` is honoured;
//! * values: `integer` (`^[+-]?\d+$`), `number` (Perl number syntax), `boolean` (exactly `0`/`1`,
//!   JSON true/false in a JSON body), `array` (repeated key or JSON array; items checked),
//!   `minimum`/`maximum`, `minLength`/`maxLength`, `enum`; formats `pve-vmid`, `pve-node`,
//!   `pve-configid`, `pve-storage-id`, `pve-bridge-id`, `pve-iface`, `pve-tag`, `mac-addr`,
//!   `disk-size`, `ip`/`ipv4`/`ipv6`, `CIDR`/`CIDRv4`/`CIDRv6`, `pve-sdn-zone-id`/`pve-sdn-vnet-id`
//!   (and their `-list`/`-opt` forms); inline property-string formats
//!   (`net0=virtio,bridge=vmbr0`: keys, default key, aliases, and each value by its own schema).
//!
//! Not checked: `pattern` (Perl regexes; no regex crate here), other named formats (e.g.
//! `pve-qm-ipconfig`, `pve-volume-id`), `oneOf` parameters (SDN fabrics), the 512 KiB body limit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// One HTTP request as the mock PVE saw it.
pub struct Sent<'a> {
    /// "GET", "POST", "PUT", "DELETE".
    pub method: &'a str,
    /// e.g. "/api2/extjs/nodes/pve1/qemu/100/status/start?foo=1" (percent-encoded).
    pub path_and_query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Ok(()) when PVE's schema accepts the request; Err(text naming the request and every problem) otherwise.
pub fn check(req: &Sent) -> Result<(), String> {
    let mut problems = Vec::new();
    let template = check_into(req, &mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    let mut text = format!("{} {}", req.method, req.path_and_query);
    if let Some(t) = template {
        let _ = write!(text, " (schema: {} {t})", req.method);
    }
    if !req.body.is_empty() {
        let body = String::from_utf8_lossy(req.body);
        let shown: String = body.chars().take(300).collect();
        let more = if shown.len() < body.len() { "..." } else { "" };
        let _ = write!(text, " body {:?}{more}", shown);
    }
    text.push_str(" would be refused by PVE 9.1:");
    for p in problems {
        let _ = write!(text, "\n  - {p}");
    }
    Err(text)
}

// ---------------------------------------------------------------------------------------------
// The schema file

struct Api {
    paths: Map<String, Value>,
    /// (template, its segments), e.g. ("/nodes/{node}/qemu", ["nodes", "{node}", "qemu"]).
    templates: Vec<(String, Vec<String>)>,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pve-api-paths.json");
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let mut root: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let Some(Value::Object(paths)) = root.get_mut("paths").map(Value::take) else {
            panic!("{file} has no \"paths\" object");
        };
        let templates = paths
            .keys()
            .map(|t| {
                (
                    t.clone(),
                    t.split('/')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            })
            .collect();
        Api { paths, templates }
    })
}

// ---------------------------------------------------------------------------------------------
// Request → parameters

/// A parameter value as PVE's Perl code sees it.
#[derive(Clone, Debug)]
enum Val {
    /// Not given: a key without value, an empty form value, JSON null.
    Undef,
    /// Form/query text, a JSON string or a JSON number (as Perl would print it).
    Text(String),
    /// A JSON boolean.
    Bool(bool),
    /// Repeated form keys or a JSON array.
    List(Vec<Val>),
    /// A JSON object.
    Object,
}

impl Val {
    fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Undef,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Text(perl_number(n)),
            Value::String(s) => Val::Text(s.clone()),
            Value::Array(a) => Val::List(a.iter().map(Val::from_json).collect()),
            Value::Object(_) => Val::Object,
        }
    }

    fn defined(&self) -> bool {
        !matches!(self, Val::Undef)
    }

    /// Perl truthiness.
    fn truthy(&self) -> bool {
        match self {
            Val::Undef => false,
            Val::Text(s) => !s.is_empty() && s != "0",
            Val::Bool(b) => *b,
            Val::List(_) | Val::Object => true,
        }
    }

    /// Perl stringification (references never compare equal to text).
    fn perl_str(&self) -> String {
        match self {
            Val::Undef => String::new(),
            Val::Text(s) => s.clone(),
            Val::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Val::List(_) => "ARRAY(0x...)".to_string(),
            Val::Object => "HASH(0x...)".to_string(),
        }
    }

    fn show(&self) -> String {
        match self {
            Val::Undef => "(nothing)".to_string(),
            Val::Text(s) => format!("'{s}'"),
            Val::Bool(b) => format!("JSON {b}"),
            Val::List(items) => format!(
                "[{}]",
                items.iter().map(Val::show).collect::<Vec<_>>().join(", ")
            ),
            Val::Object => "a JSON object".to_string(),
        }
    }
}

/// A JSON number as Perl's JSON module would stringify it (1.0 → "1").
fn perl_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

/// Perl's `split(/$sep/, $s)`: trailing empty fields are dropped.
fn perl_split(s: &str, sep: impl Fn(char) -> bool) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// `%XX` → byte (invalid escapes are kept as they are), optionally `+` → space first.
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// pve-http-server's `decode_urlencoded`, adding its pairs to `into`.
fn decode_form(
    data: &str,
    origin: &str,
    into: &mut BTreeMap<String, Val>,
    problems: &mut Vec<String>,
) {
    if data.is_empty() {
        return;
    }
    if data.contains(';') {
        problems.push(format!(
            "{origin} contains an unescaped ';': PVE splits parameters on ';' as well as '&' (encode it as %3B)"
        ));
    }
    let mut res: BTreeMap<String, Val> = BTreeMap::new();
    for kv in perl_split(data, |c| c == '&' || c == ';') {
        let fields = perl_split(kv, |c| c == '=');
        let key = percent_decode(fields.first().copied().unwrap_or(""), true);
        if let Some((_, rest)) = kv.split_once('=') {
            if rest.contains('=') {
                problems.push(format!(
                    "{origin}: the value of '{key}' contains an unescaped '=': PVE keeps only the part before it \
                     ({:?}); encode it as %3D",
                    fields.get(1).map(|v| percent_decode(v, true)).unwrap_or_default()
                ));
            }
        }
        let value = match fields.get(1) {
            None => Val::Undef,
            Some(v) => {
                let v = Val::Text(percent_decode(v, true));
                match res.remove(&key) {
                    Some(Val::List(mut old)) => {
                        old.push(v);
                        Val::List(old)
                    }
                    Some(old @ Val::Text(_)) => Val::List(vec![old, v]),
                    _ => v,
                }
            }
        };
        res.insert(key, value);
    }
    into.extend(res);
}

// ---------------------------------------------------------------------------------------------
// The check

/// Runs every check, pushing problems; returns the schema template the path matched.
fn check_into(req: &Sent, problems: &mut Vec<String>) -> Option<String> {
    let api = api();
    let method = req.method;
    if !matches!(method, "GET" | "POST" | "PUT" | "DELETE") {
        problems.push(format!(
            "method {method}: PVE knows only GET, POST, PUT and DELETE (501)"
        ));
        return None;
    }
    let (path, query) = match req.path_and_query.split_once('?') {
        Some((p, q)) => (p, q.split('#').next().unwrap_or("")),
        None => (req.path_and_query, ""),
    };
    let Some(rel) = path
        .strip_prefix("/api2/extjs/")
        .or_else(|| path.strip_prefix("/api2/json/"))
    else {
        problems.push(format!(
            "path {path:?} does not start with /api2/extjs/ or /api2/json/ (PVE: 501 no such uri)"
        ));
        return None;
    };
    let segments: Vec<String> = rel
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();

    // Path → template: literal segments equal, {param} takes any segment; most literals wins
    // (then the leftmost literal, as PVE's router tries literal subdirectories first).
    let mut best: Option<(&str, &[String], Vec<bool>)> = None;
    for (template, tsegs) in &api.templates {
        if tsegs.len() != segments.len() {
            continue;
        }
        let fits = tsegs
            .iter()
            .zip(&segments)
            .all(|(t, s)| is_placeholder(t) || t == s);
        if !fits {
            continue;
        }
        let literal: Vec<bool> = tsegs.iter().map(|t| !is_placeholder(t)).collect();
        let better = match &best {
            None => true,
            Some((_, _, b)) => {
                let (n, bn) = (
                    literal.iter().filter(|l| **l).count(),
                    b.iter().filter(|l| **l).count(),
                );
                n > bn || (n == bn && literal > *b)
            }
        };
        if better {
            best = Some((template, tsegs, literal));
        }
    }
    let Some((template, tsegs, _)) = best else {
        problems.push(format!(
            "no such path /{} in the PVE API (PVE answers 501)",
            segments.join("/")
        ));
        return None;
    };
    let path_params: Vec<(String, String)> = tsegs
        .iter()
        .zip(&segments)
        .filter(|(t, _)| is_placeholder(t))
        .map(|(t, s)| (t[1..t.len() - 1].to_string(), s.clone()))
        .collect();

    let methods = api.paths.get(template).and_then(Value::as_object);
    let Some(info) = methods.and_then(|m| m.get(method)) else {
        let have: Vec<&str> = methods
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        problems.push(format!(
            "method {method} is not defined for {template} (it has: {}); PVE answers 501 not implemented",
            if have.is_empty() { "none, index only".to_string() } else { have.join(", ") }
        ));
        return Some(template.to_string());
    };

    // Parameters: the body (POST/PUT), then the query over it.
    let mut params: BTreeMap<String, Val> = BTreeMap::new();
    let ct = req
        .content_type
        .map(|c| c.split([';', ',']).next().unwrap_or("").trim());
    match method {
        "GET" | "DELETE" => {
            if !req.body.is_empty() {
                problems.push(format!(
                    "{} byte body on {method}: PVE refuses a body on GET/DELETE (501 Unexpected content for method)",
                    req.body.len()
                ));
            }
        }
        _ => match ct {
            Some("application/json") => {
                if req.body.is_empty() {
                    problems.push(
                        "empty body with Content-Type application/json: PVE's decode_json('') fails (500)".to_string(),
                    );
                } else {
                    match serde_json::from_slice::<Value>(req.body) {
                        Ok(Value::Object(obj)) => {
                            params.extend(obj.iter().map(|(k, v)| (k.clone(), Val::from_json(v))));
                        }
                        Ok(other) => problems.push(format!("JSON body is not an object: {other}")),
                        Err(e) => problems.push(format!("JSON body does not parse: {e}")),
                    }
                }
            }
            None | Some("application/x-www-form-urlencoded") => {
                decode_form(
                    &String::from_utf8_lossy(req.body),
                    "form body",
                    &mut params,
                    problems,
                );
            }
            Some(other) => {
                if !req.body.is_empty() {
                    problems.push(format!(
                        "body with Content-Type {other:?}: PVE takes only application/x-www-form-urlencoded or \
                         application/json (506)"
                    ));
                }
            }
        },
    }
    let mut query_params = BTreeMap::new();
    decode_form(query, "query string", &mut query_params, problems);
    params.extend(query_params);
    params.remove("_dc"); // pveproxy drops the cache buster

    for (name, value) in &path_params {
        if let Some(v) = params.get(name) {
            if v.defined() && v.perl_str() != *value {
                problems.push(format!(
                    "parameter '{name}' = {} repeats the path value '{value}' with a different value \
                     (PVE: 400 duplicate parameter (already defined in URI) with conflicting values)",
                    v.show()
                ));
            }
        }
        params.insert(name.clone(), Val::Text(value.clone()));
    }

    let empty = Map::new();
    let pschema = info
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    check_params(&mut params, pschema, problems);
    Some(template.to_string())
}

fn is_placeholder(seg: &str) -> bool {
    seg.len() > 2 && seg.starts_with('{') && seg.ends_with('}')
}

/// `optional`, `default_key`, `additionalProperties`...: 1, "1", true.
fn flag(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        Some(_) => true,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The schema entry for a parameter name: exact, or `net[n]` for `net0`.
fn find_prop<'s>(
    props: &'s Map<String, Value>,
    key: &str,
) -> Result<Option<(&'s str, &'s Value)>, String> {
    if let Some((k, s)) = props.get_key_value(key) {
        return Ok(Some((k.as_str(), s)));
    }
    let digits_at = key.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, digits) = key.split_at(digits_at);
    if digits.is_empty() || prefix.is_empty() {
        return Ok(None);
    }
    let Some((k, s)) = props.get_key_value(&format!("{prefix}[n]")) else {
        return Ok(None);
    };
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!(
            "parameter '{key}': PVE names it without leading zeros ({k})"
        ));
    }
    if let (Some(max), Ok(n)) = (index_max(s, prefix), digits.parse::<u64>()) {
        if n > max {
            return Err(format!("parameter '{key}' is not defined in schema: {k} goes from {prefix}0 to {prefix}{max}"));
        }
    }
    Ok(Some((k.as_str(), s)))
}

/// The highest index of an `x[n]` option, when its description says: "(n is 0 to 30)",
/// "(n is 0 to 4, for machine version >= 7.1 ..., n can be up to 14)", "link0..link7".
fn index_max(schema: &Value, prefix: &str) -> Option<u64> {
    let desc = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let leading_number = |s: &str| -> Option<u64> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    if let Some(at) = desc.find("(n is 0 to ") {
        let inner = &desc[at..];
        let inner = &inner[..inner.find(')').unwrap_or(inner.len())];
        return inner
            .match_indices("to ")
            .filter_map(|(i, _)| leading_number(&inner[i + 3..]))
            .max();
    }
    let marker = format!("{prefix}0..{prefix}");
    desc.find(&marker)
        .and_then(|at| leading_number(&desc[at + marker.len()..]))
}

/// `PVE::JSONSchema::validate` of the merged parameters against a method's `parameters`.
fn check_params(
    params: &mut BTreeMap<String, Val>,
    pschema: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let empty = Map::new();
    let props = pschema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let additional = flag(pschema.get("additionalProperties"));

    // Which schema entry each parameter falls under.
    let mut assigned: BTreeMap<String, (&str, &Value)> = BTreeMap::new();
    for key in params.keys() {
        match find_prop(props, key) {
            Ok(Some(found)) => {
                assigned.insert(key.clone(), found);
            }
            Ok(None) if additional => {}
            Ok(None) => problems.push(format!(
                "unknown parameter '{key}': property is not defined in schema and the schema does not allow \
                 additional properties (PVE: 400)"
            )),
            Err(e) => problems.push(e),
        }
    }

    // RESTHandler's legacy normalisation: arrays for `*-list` strings are joined, scalars for arrays wrapped.
    for (key, (_, schema)) in &assigned {
        let Some(value) = params.get_mut(key) else {
            continue;
        };
        if !value.truthy() {
            continue;
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        let normalised = match &*value {
            Val::List(items) if ty == "string" && format.ends_with("-list") => Val::Text(
                items
                    .iter()
                    .map(Val::perl_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Val::List(_) => continue,
            other if ty == "array" => Val::List(vec![other.clone()]),
            _ => continue,
        };
        *value = normalised;
    }

    let instance = |schema: &Value| -> Option<String> {
        let tp = schema.get("type-property").and_then(Value::as_str)?;
        params.get(tp).filter(|v| v.defined()).map(Val::perl_str)
    };
    for (name, schema) in props {
        if name.ends_with("[n]") {
            let mine: Vec<&String> = assigned
                .iter()
                .filter(|(_, (k, _))| k == name)
                .map(|(key, _)| key)
                .collect();
            if mine.is_empty() && !flag(schema.get("optional")) {
                problems.push(format!(
                    "parameter '{name}': property is missing and it is not optional"
                ));
            }
            for key in mine {
                check_prop(
                    key,
                    &params[key],
                    schema,
                    instance(schema).as_deref(),
                    problems,
                );
            }
        } else {
            let value = params.get(name).unwrap_or(&Val::Undef);
            check_prop(name, value, schema, instance(schema).as_deref(), problems);
        }
    }
    for (key, (_, schema)) in &assigned {
        if let Some(req) = schema.get("requires").and_then(Value::as_str) {
            if !params.get(req).is_some_and(Val::defined) {
                problems.push(format!(
                    "parameter '{req}': missing property required by '{key}'"
                ));
            }
        }
    }
}

/// `PVE::JSONSchema::check_prop` for one value; `path` names it in messages.
fn check_prop(
    path: &str,
    value: &Val,
    schema: &Value,
    instance_type: Option<&str>,
    problems: &mut Vec<String>,
) {
    let mut err = |msg: String| problems.push(format!("parameter '{path}': {msg}"));
    if schema.get("alias").is_some() || schema.get("oneOf").is_some() {
        return; // aliases are remapped; oneOf (SDN fabrics) is not modelled
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    if !value.defined() {
        let for_other_type = match (
            instance_type,
            schema.get("instance-types").and_then(Value::as_array),
        ) {
            (Some(it), Some(types)) => !types.iter().any(|t| t.as_str() == Some(it)),
            _ => false,
        };
        if ty != "null"
            && !flag(schema.get("optional"))
            && !flag(schema.get("group"))
            && !for_other_type
        {
            err("property is missing and it is not optional".to_string());
        }
        return;
    }

    // check_type
    let type_failed = |what: &str| format!("type check ('{ty}') failed - got {what}");
    match (ty, value) {
        ("array", Val::List(_)) | ("object", Val::Object) | ("" | "any", _) => {}
        ("array" | "object", v) => {
            return err(format!("type check ('{ty}') failed - got {}", v.show()))
        }
        (_, Val::List(_)) => return err(type_failed("ARRAY (a repeated key or a JSON array)")),
        (_, Val::Object) => return err(type_failed("HASH (a JSON object)")),
        ("boolean", Val::Bool(_)) => {}
        (_, Val::Bool(_)) => return err(type_failed("JSON::PP::Boolean (a JSON true/false)")),
        ("boolean", Val::Text(s)) if s != "0" && s != "1" => {
            return err(format!(
                "type check ('boolean') failed - got '{s}' (only 0 or 1)"
            ));
        }
        ("integer", Val::Text(s)) if !is_integer(s) => {
            return err(format!("type check ('integer') failed - got '{s}'"))
        }
        ("number", Val::Text(s)) if !is_number(s) => {
            return err(format!("type check ('number') failed - got '{s}'"))
        }
        _ => {}
    }

    let text = match value {
        Val::List(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    check_prop(&format!("{path}[{i}]"), item, item_schema, None, problems);
                }
            }
            return;
        }
        Val::Text(s) => s,
        _ => return,
    };

    if let Some(format) = schema.get("format") {
        if let Err(e) = check_format(format, text) {
            return err(format!("invalid format - {e} (value '{text}')"));
        }
    }
    let limit = |key: &str| schema.get(key).and_then(num_of);
    let chars = text.chars().count() as f64;
    let number = is_number(text).then(|| text.parse().unwrap_or(f64::NAN));
    // PVE's bounds in the order it checks them, each with its own wording.
    type Message<'m> = &'m dyn Fn(f64) -> String;
    let bounds: [(&str, Option<f64>, bool, Message); 4] = [
        ("maxLength", Some(chars), true, &|max| {
            format!("value may only be {max} characters long (got {chars})")
        }),
        ("minLength", Some(chars), false, &|min| {
            format!("value must be at least {min} characters long (got '{text}')")
        }),
        ("maximum", number, true, &|max| {
            format!("value must have a maximum value of {max} (got {text})")
        }),
        ("minimum", number, false, &|min| {
            format!("value must have a minimum value of {min} (got {text})")
        }),
    ];
    for (key, value, above, message) in bounds {
        if let (Some(value), Some(bound)) = (value, limit(key)) {
            if (above && value > bound) || (!above && value < bound) {
                return err(message(bound));
            }
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.iter().any(|o| text_of(o) == *text) {
            let list: Vec<String> = options.iter().map(text_of).collect();
            err(format!(
                "value '{text}' does not have a value in the enumeration '{}'",
                list.join(", ")
            ));
        }
    }
}

/// Perl `m/^[+-]?\d+$/`.
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Perl `/^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/`.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa
        .split_once('.')
        .map_or((mantissa, None), |(i, f)| (i, Some(f)));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int)
        && frac.is_none_or(all_digits)
        && !(int.is_empty() && frac.unwrap_or("").is_empty());
    let exponent_ok = exponent.is_none_or(is_integer);
    mantissa_ok && exponent_ok
}

/// `PVE::JSONSchema::check_format`: inline property-string formats and the few named formats
/// implemented here (others pass).
fn check_format(format: &Value, value: &str) -> Result<(), String> {
    let name = match format {
        Value::Object(dict) => return parse_property_string(dict, value),
        Value::String(name) => name.as_str(),
        _ => return Ok(()),
    };
    let (base, kind) = if let Some(base) = name.strip_suffix("-list") {
        (base, "list")
    } else if let Some(base) = name.strip_suffix("-opt") {
        (base, "opt")
    } else {
        (name, "")
    };
    let Some(verify) = named_format(base) else {
        return Ok(());
    };
    match kind {
        "list" => split_list(value).into_iter().try_for_each(verify),
        "opt" if value.is_empty() || value == "0" => Ok(()),
        _ => verify(value),
    }
}

/// `PVE::Tools::split_list`.
fn split_list(s: &str) -> Vec<&str> {
    if s.contains('\0') {
        return perl_split(s, |c| c == '\0');
    }
    s.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect()
}

type Verify = fn(&str) -> Result<(), String>;

/// `pve_verify_ip`/`ipv4`/`ipv6`: an address of the family (`v6`), or either.
fn ip_format(v: &str, v6: Option<bool>) -> Result<(), String> {
    match v.parse::<std::net::IpAddr>() {
        Ok(ip) if v6.is_none_or(|six| ip.is_ipv6() == six) => Ok(()),
        _ => Err(format!("value does not look like a valid IP address: {v}")),
    }
}

/// `pve_verify_cidr`/`cidrv4`/`cidrv6`: an address of the family, '/', a prefix it allows.
fn cidr_format(v: &str, v6: Option<bool>) -> Result<(), String> {
    let ok = v.split_once('/').is_some_and(|(ip, len)| {
        let max = if ip.contains(':') { 128 } else { 32 };
        ip_format(ip, v6).is_ok() && len.parse::<u8>().is_ok_and(|l| l <= max)
    });
    ok.then_some(())
        .ok_or_else(|| format!("value does not look like a valid CIDR network: {v}"))
}

/// The registered formats implemented here, after pve-common's `JSONSchema.pm`.
fn named_format(name: &str) -> Option<Verify> {
    let f: Verify = match name {
        "pve-vmid" => |v| {
            let ok = (3..=9).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_digit())
                && !v.starts_with('0');
            ok.then_some(())
                .ok_or_else(|| "value does not look like a valid VM ID".to_string())
        },
        "pve-node" => |v| {
            let b = v.as_bytes();
            let ok = !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
            ok.then_some(())
                .ok_or_else(|| "value does not look like a valid node name".to_string())
        },
        "pve-configid" => |v| {
            let b = v.as_bytes();
            let ok = b.len() >= 2
                && b[0].is_ascii_alphabetic()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-');
            ok.then_some(())
                .ok_or_else(|| format!("invalid configuration ID '{v}'"))
        },
        "pve-storage-id" => |v| {
            let b = v.as_bytes();
            let ok = b.len() >= 2
                && b[0].is_ascii_alphabetic()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
            ok.then_some(())
                .ok_or_else(|| format!("storage ID '{v}' contains illegal characters"))
        },
        "pve-bridge-id" => |v| {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
            ok.then_some(())
                .ok_or_else(|| format!("invalid bridge ID '{v}'"))
        },
        "pve-iface" => |v| {
            // m/^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$/i
            let (name, suffix) = match v.find([':', '.']) {
                Some(at) => (&v[..at], Some(&v[at + 1..])),
                None => (v, None),
            };
            let b = name.as_bytes();
            let ok = (2..=21).contains(&b.len())
                && b[0].is_ascii_alphabetic()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()));
            ok.then_some(())
                .ok_or_else(|| format!("invalid network interface name '{v}'"))
        },
        "pve-tag" => |v| {
            let b = v.as_bytes();
            let ok = !b.is_empty()
                && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'.'));
            ok.then_some(())
                .ok_or_else(|| "invalid characters in tag".to_string())
        },
        "mac-addr" => |v| {
            // m/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i
            let parts: Vec<&str> = v.split(':').collect();
            let ok = parts.len() == 6
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
                && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0);
            ok.then_some(())
                .ok_or_else(|| "value does not look like a valid unicast MAC address".to_string())
        },
        "disk-size" => |v| {
            // m/^(\d+(\.\d+)?)([KMGT])?$/
            let n = v.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(v);
            let (int, frac) = n.split_once('.').map_or((n, None), |(i, f)| (i, Some(f)));
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
            let ok = digits(int) && frac.is_none_or(digits);
            ok.then_some(())
                .ok_or_else(|| format!("value does not look like a valid disk size: {v}"))
        },
        "ip" => |v| ip_format(v, None),
        "ipv4" => |v| ip_format(v, Some(false)),
        "ipv6" => |v| ip_format(v, Some(true)),
        "CIDR" => |v| cidr_format(v, None),
        "CIDRv4" => |v| cidr_format(v, Some(false)),
        "CIDRv6" => |v| cidr_format(v, Some(true)),
        "pve-sdn-zone-id" | "pve-sdn-vnet-id" => |v| {
            // m/^[a-z][a-z0-9]*[a-z0-9]$/i, at most 8 characters.
            let b = v.as_bytes();
            let ok = (2..=8).contains(&b.len())
                && b[0].is_ascii_alphabetic()
                && b.iter().all(|c| c.is_ascii_alphanumeric());
            ok.then_some(())
                .ok_or_else(|| format!("SDN ID '{v}' contains illegal characters or is too long"))
        },
        _ => return None,
    };
    Some(f)
}

/// `PVE::JSONSchema::parse_property_string` with an inline format, then `check_object` of the result.
fn parse_property_string(format: &Map<String, Value>, data: &str) -> Result<(), String> {
    let mut res: BTreeMap<String, Val> = BTreeMap::new();
    let mut default_key: Option<&str> = None;
    let is_bool = |s: Option<&Value>| {
        s.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("boolean")
    };
    for part in perl_split(data, |c| c == ',') {
        if part.trim().is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                if res.get(k).is_some_and(Val::defined) {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {k}"
                    ));
                }
                let mut key = k.to_string();
                let mut schema = format.get(k);
                if let Some(alias) = schema.and_then(|s| s.get("alias")).and_then(Value::as_str) {
                    if let Some(key_alias) = schema
                        .and_then(|s| s.get("keyAlias"))
                        .and_then(Value::as_str)
                    {
                        if res.contains_key(key_alias) {
                            return Err(format!("key alias '{key_alias}' is already defined"));
                        }
                        res.insert(key_alias.to_string(), Val::Text(k.to_string()));
                    }
                    key = alias.to_string();
                    schema = format.get(alias);
                    if res.contains_key(alias) {
                        return Err(format!("key '{alias}' is already defined (via alias)"));
                    }
                }
                if schema.is_none() {
                    return Err(format!(
                        "invalid key in comma-separated list property: {key}"
                    ));
                }
                let v = if is_bool(schema) {
                    parse_boolean(v).unwrap_or(v)
                } else {
                    v
                };
                res.insert(key, Val::Text(v.to_string()));
            }
            None => {
                if let Some(dk) = default_key {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {dk}"
                    ));
                }
                let Some((dk, schema)) = format.iter().find(|(_, s)| flag(s.get("default_key")))
                else {
                    return Err(
                        "value without key, but schema does not define a default key".to_string(),
                    );
                };
                default_key = Some(dk);
                if res.get(dk).is_some_and(Val::truthy) {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {dk}"
                    ));
                }
                let v = if is_bool(Some(schema)) {
                    parse_boolean(part).unwrap_or(part)
                } else {
                    part
                };
                res.insert(dk.clone(), Val::Text(v.to_string()));
            }
            Some(_) => {
                return Err(format!(
                    "missing key in comma-separated list property ('{part}')"
                ))
            }
        }
    }
    let mut problems = Vec::new();
    for (name, schema) in format {
        check_prop(
            name,
            res.get(name).unwrap_or(&Val::Undef),
            schema,
            None,
            &mut problems,
        );
    }
    for key in res.keys() {
        if let Some(req) = format
            .get(key)
            .and_then(|s| s.get("requires"))
            .and_then(Value::as_str)
        {
            if !res.get(req).is_some_and(Val::defined) {
                problems.push(format!("'{req}': missing property required by '{key}'"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("format error: {}", problems.join("; ")))
    }
}

/// `PVE::JSONSchema::parse_boolean` (used inside property strings only).
fn parse_boolean(v: &str) -> Option<&'static str> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some("1"),
        "0" | "off" | "no" | "false" => Some("0"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests of the checker itself

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

#[track_caller]
fn ok(method: &str, pq: &str, ct: Option<&str>, body: &str) {
    let sent = Sent {
        method,
        path_and_query: pq,
        content_type: ct,
        body: body.as_bytes(),
    };
    if let Err(e) = check(&sent) {
        panic!("expected {method} {pq} {body:?} to pass, got:\n{e}");
    }
}

#[track_caller]
fn bad(method: &str, pq: &str, ct: Option<&str>, body: &str, expected: &str) {
    let sent = Sent {
        method,
        path_and_query: pq,
        content_type: ct,
        body: body.as_bytes(),
    };
    match check(&sent) {
        Ok(()) => {
            panic!("expected {method} {pq} {body:?} to be refused ({expected:?}), but it passed")
        }
        Err(e) => assert!(
            e.contains(expected),
            "expected {expected:?} in the error for {method} {pq} {body:?}:\n{e}"
        ),
    }
}

const VM: &str = "/api2/extjs/nodes/pve1/qemu/100";

#[test]
fn schema_paths_and_methods() {
    ok("GET", "/api2/extjs/nodes", None, "");
    ok("GET", "/api2/json/nodes", None, "");
    ok("GET", "/api2/extjs/version", None, "");
    ok("GET", "/api2/extjs/nodes/pve1/qemu", None, "");
    ok(
        "GET",
        "/api2/extjs/nodes/pve1/qemu/100/status/current",
        None,
        "",
    );
    ok(
        "GET",
        "/api2/extjs/nodes/pve1/qemu/100/status/current?_dc=12345",
        None,
        "",
    );
    bad(
        "GET",
        "/nodes",
        None,
        "",
        "does not start with /api2/extjs/",
    );
    bad(
        "GET",
        "/api2/extjs/nodes/pve1/qemu/100/statu/current",
        None,
        "",
        "no such path",
    );
    bad("GET", "/api2/extjs/bogus", None, "", "no such path");
    bad(
        "PUT",
        &format!("{VM}/status/start"),
        FORM,
        "",
        "method PUT is not defined",
    );
    bad(
        "PATCH",
        &format!("{VM}/config"),
        FORM,
        "",
        "only GET, POST, PUT and DELETE",
    );
    bad(
        "POST",
        "/api2/extjs/nodes/pve1/qemu/100/status",
        FORM,
        "",
        "not defined",
    );
    // The literal template wins over a {param} one.
    ok("GET", "/api2/extjs/cluster/ha/status/current", None, "");
}

/// The address formats a node's network and SDN use.
#[test]
fn schema_address_formats() {
    let net = "/api2/extjs/nodes/pve1/network";
    ok(
        "POST",
        net,
        FORM,
        "iface=vmbr2&type=bridge&cidr=10.0.0.2%2F24&gateway=10.0.0.1",
    );
    ok(
        "POST",
        net,
        FORM,
        "iface=vmbr2&type=bridge&cidr6=fd00%3A%3A2%2F64&gateway6=fd00%3A%3A1",
    );
    bad(
        "POST",
        net,
        FORM,
        "iface=vmbr2&type=bridge&cidr=10.0.0.2%2F33",
        "'cidr': invalid format",
    );
    bad(
        "POST",
        net,
        FORM,
        "iface=vmbr2&type=bridge&cidr=fd00%3A%3A2%2F64",
        "'cidr': invalid format",
    );
    bad(
        "POST",
        net,
        FORM,
        "iface=vmbr2&type=bridge&gateway=fd00%3A%3A1",
        "'gateway': invalid format",
    );
    let vnets = "/api2/extjs/cluster/sdn/vnets";
    ok("POST", vnets, FORM, "vnet=vnet10&zone=lan");
    bad(
        "POST",
        vnets,
        FORM,
        "vnet=vnet_10&zone=lan",
        "'vnet': invalid format",
    );
    bad(
        "POST",
        vnets,
        FORM,
        "vnet=vnet12345&zone=lan",
        "'vnet': invalid format",
    );
    let subnets = "/api2/extjs/cluster/sdn/vnets/vnet10/subnets";
    ok(
        "POST",
        subnets,
        FORM,
        "type=subnet&subnet=10.1.0.0%2F24&gateway=10.1.0.1",
    );
    bad(
        "POST",
        subnets,
        FORM,
        "type=subnet&subnet=10.1.0.0%2F24&gateway=10.1.0",
        "'gateway': invalid format",
    );
}

#[test]
fn schema_path_values() {
    ok("POST", &format!("{VM}/status/start"), FORM, "");
    // PVE checks the pve-vmid format (100..=999999999) before minimum/maximum.
    bad(
        "POST",
        "/api2/extjs/nodes/pve1/qemu/99/status/start",
        FORM,
        "",
        "'vmid': invalid format - value does not look like a valid VM ID",
    );
    bad(
        "POST",
        "/api2/extjs/nodes/pve1/qemu/1000000000/status/start",
        FORM,
        "",
        "valid VM ID",
    );
    bad(
        "POST",
        "/api2/extjs/nodes/pve1/qemu/0100/status/start",
        FORM,
        "",
        "valid VM ID",
    );
    bad(
        "POST",
        "/api2/extjs/nodes/pve1/qemu/abc/status/start",
        FORM,
        "",
        "type check ('integer')",
    );
    bad(
        "GET",
        "/api2/extjs/nodes/-pve/qemu",
        None,
        "",
        "valid node name",
    );
    bad(
        "GET",
        "/api2/extjs/nodes/pve_1/qemu",
        None,
        "",
        "valid node name",
    );
    ok(
        "GET",
        "/api2/extjs/nodes/pve1/tasks/UPID%3Apve1%3A00001234%3A00ABCDEF%3A65000000%3Aqmstart%3A100%3Aroot%40pam%21mcp%3A/status",
        None,
        "",
    );
    ok("GET", "/api2/extjs/nodes/pve1/tasks/UPID:pve1:00001234:00ABCDEF:65000000:qmstart:100:root@pam!mcp:/log?start=0&limit=50", None, "");
    ok(
        "GET",
        "/api2/extjs/nodes/pve1/storage/local/content/local%3Aiso%2Fdebian.iso",
        None,
        "",
    );
}

#[test]
fn schema_parameters() {
    ok("GET", "/api2/extjs/cluster/resources?type=vm", None, "");
    bad(
        "GET",
        "/api2/extjs/cluster/resources?type=qemu",
        None,
        "",
        "enumeration",
    );
    bad(
        "GET",
        "/api2/extjs/cluster/resources?foo=1",
        None,
        "",
        "unknown parameter 'foo'",
    );
    bad(
        "GET",
        "/api2/extjs/cluster/resources?type=vm;foo=1",
        None,
        "",
        "';'",
    );

    ok(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "forceStop=1&timeout=30",
    );
    ok(
        "POST",
        &format!("{VM}/status/shutdown?timeout=30"),
        FORM,
        "forceStop=0",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "forceStop=true",
        "type check ('boolean')",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "timeout=abc",
        "type check ('integer')",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "timeout=-1",
        "minimum",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "timeout=1&timeout=2",
        "ARRAY",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        FORM,
        "foo=1",
        "unknown parameter 'foo'",
    );
    ok(
        "POST",
        &format!("{VM}/status/shutdown"),
        None,
        "forceStop=1",
    );

    bad(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "",
        "'snapname': property is missing",
    );
    bad(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "snapname=",
        "'snapname': property is missing",
    );
    ok(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "snapname=before-upgrade&vmstate=1",
    );
    ok(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "snapname=before-upgrade&description=a+b%2Cc%3D1",
    );
    bad(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "snapname=1st",
        "invalid configuration ID",
    );
    bad(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        &format!("snapname=s{}", "x".repeat(40)),
        "characters long",
    );
    bad(
        "POST",
        &format!("{VM}/snapshot"),
        FORM,
        "snapname=a&description=x=y",
        "unescaped '='",
    );

    bad(
        "POST",
        &format!("{VM}/status/start"),
        FORM,
        "node=pve2",
        "duplicate parameter",
    );
    ok(
        "POST",
        &format!("{VM}/status/start"),
        FORM,
        "node=pve1&vmid=100",
    );
    bad(
        "POST",
        &format!("{VM}/status/start"),
        FORM,
        "vmid=101",
        "duplicate parameter",
    );

    // requires: 'statestorage' needs 'todisk'
    bad(
        "POST",
        &format!("{VM}/status/suspend"),
        FORM,
        "statestorage=local",
        "required by 'statestorage'",
    );
    ok(
        "POST",
        &format!("{VM}/status/suspend"),
        FORM,
        "todisk=1&statestorage=local",
    );
}

#[test]
fn schema_bodies() {
    bad(
        "DELETE",
        &format!("{VM}/snapshot/snap1"),
        FORM,
        "force=1",
        "PVE refuses a body on GET/DELETE",
    );
    ok("DELETE", &format!("{VM}/snapshot/snap1?force=1"), None, "");
    bad(
        "GET",
        "/api2/extjs/nodes",
        FORM,
        "x=1",
        "PVE refuses a body on GET/DELETE",
    );
    ok(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        r#"{"forceStop": true}"#,
    );
    ok(
        "POST",
        &format!("{VM}/status/shutdown"),
        Some("application/json; charset=utf-8"),
        r#"{"forceStop": 1, "timeout": 30}"#,
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        r#"{"forceStop": "true"}"#,
        "type check ('boolean')",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        r#"{"timeout": true}"#,
        "JSON::PP::Boolean",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        r#"{"timeout": 1.5}"#,
        "type check ('integer')",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        "[1]",
        "not an object",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        "{",
        "does not parse",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        JSON,
        "",
        "decode_json",
    );
    bad(
        "POST",
        &format!("{VM}/status/shutdown"),
        Some("text/plain"),
        "forceStop=1",
        "506",
    );
    ok(
        "POST",
        &format!("{VM}/status/shutdown"),
        Some("text/plain"),
        "",
    );
}

#[test]
fn schema_arrays_and_lists() {
    ok(
        "POST",
        &format!("{VM}/agent/exec"),
        FORM,
        "command=ls&command=-l",
    );
    ok("POST", &format!("{VM}/agent/exec"), FORM, "command=uptime");
    ok(
        "POST",
        &format!("{VM}/agent/exec"),
        JSON,
        r#"{"command": ["ls", "-l"]}"#,
    );
    bad(
        "POST",
        &format!("{VM}/agent/exec"),
        FORM,
        "",
        "'command': property is missing",
    );
    // pve-configid-list: repeated keys are joined with ','
    ok("PUT", &format!("{VM}/config"), FORM, "delete=net1,scsi2");
    ok(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "delete=net1&delete=scsi2",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "delete=net1,2x",
        "invalid configuration ID '2x'",
    );
}

#[test]
fn schema_indexed_and_property_strings() {
    ok(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio,bridge%3Dvmbr0",
    );
    // Unescaped, PVE would read net0 as "virtio,bridge" (it splits each pair on every '=').
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio,bridge=vmbr0",
        "unescaped '='",
    );
    ok(
        "PUT",
        &format!("{VM}/config"),
        JSON,
        r#"{"net0": "virtio,bridge=vmbr0", "onboot": true}"#,
    );
    ok(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio%3DBC%3A24%3A11%3A00%3A00%3A01%2Cbridge%3Dvmbr0%2Cfirewall%3Don",
    );
    ok(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "scsi30=local-lvm%3A32&ipconfig0=ip%3Ddhcp&memory=2048",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "scsi31=local-lvm%3A32",
        "scsi0 to scsi30",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net01=virtio",
        "leading zeros",
    );
    ok("PUT", &format!("{VM}/config"), FORM, "usb14=host%3Dspice");
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "usb15=host%3Dspice",
        "usb0 to usb14",
    );
    bad(
        "POST",
        "/api2/extjs/cluster/config/join",
        FORM,
        "hostname=pve1&fingerprint=x&password=p&link8=10.0.0.1",
        "link0 to link7",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "netx=virtio",
        "unknown parameter 'netx'",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio%2Cbridge%3Dvmbr0%2Cspeed%3D1",
        "invalid key",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio9",
        "enumeration",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio%2Ctag%3D5000",
        "maximum",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=bridge%3Dvmbr0",
        "'model': property is missing",
    );
    bad(
        "PUT",
        &format!("{VM}/config"),
        FORM,
        "net0=virtio%2Cmacaddr%3D01%3A00%3A00%3A00%3A00%3A01",
        "unicast MAC",
    );
    bad("PUT", &format!("{VM}/config"), FORM, "cores=0", "minimum");
    ok(
        "PUT",
        "/api2/extjs/nodes/pve1/lxc/100/config",
        FORM,
        "mp0=local-lvm%3A8%2Cmp%3D%2Fdata&net0=name%3Deth0%2Cbridge%3Dvmbr0",
    );
}

#[test]
fn schema_helpers() {
    for n in ["1", "-1", "+1.5", "1.", ".5", "1e5", "1.5E-3"] {
        assert!(is_number(n), "{n}");
    }
    for n in ["", ".", "e5", "1e", "abc", "1.5.2", "inf", "NaN", "0x10"] {
        assert!(!is_number(n), "{n}");
    }
    assert_eq!(percent_decode("a+b%2B%3a%zz%", true), "a b+:%zz%");
    assert_eq!(percent_decode("a+b", false), "a+b");
    assert_eq!(split_list(" a, b;c  d "), ["a", "b", "c", "d"]);
}

/// A plausible value for a parameter schema (None when this file cannot make one up).
fn sample(schema: &Value) -> Option<String> {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(text_of(first));
    }
    let min = schema.get("minimum").and_then(num_of);
    let format = schema.get("format");
    if format.is_some_and(Value::is_object) || schema.get("pattern").is_some() {
        return None;
    }
    let value = match (
        schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string"),
        format.and_then(Value::as_str),
    ) {
        ("boolean", _) => "1".to_string(),
        ("integer" | "number", _) => format!("{}", min.unwrap_or(1.0).max(1.0)),
        ("string", Some("pve-node" | "pve-node-list")) => "pve1".to_string(),
        ("string", Some("pve-vmid" | "pve-vmid-list")) => "100".to_string(),
        ("string", Some("pve-storage-id" | "pve-configid" | "pve-configid-list")) => {
            "local".to_string()
        }
        ("string", Some("pve-iface")) => "eth0".to_string(),
        ("string", Some("pve-sdn-zone-id" | "pve-sdn-vnet-id")) => "zone1".to_string(),
        ("string", Some("ip" | "ipv4")) => "10.0.0.1".to_string(),
        ("string", Some("ipv6")) => "fd00::1".to_string(),
        ("string", Some("CIDR" | "CIDRv4")) => "10.0.0.0/24".to_string(),
        ("string", Some("CIDRv6")) => "fd00::/64".to_string(),
        ("string", Some(f))
            if named_format(f.trim_end_matches("-list").trim_end_matches("-opt")).is_some() =>
        {
            return None
        }
        ("string", _) => "sample".to_string(),
        _ => return None,
    };
    let min_len = schema.get("minLength").and_then(num_of).unwrap_or(0.0) as usize;
    Some(if value.len() < min_len {
        value.repeat(min_len)
    } else {
        value
    })
}

/// Every method of the schema is reachable, and a request with its required parameters passes.
#[test]
fn schema_every_method() {
    let api = api();
    let mut checked = 0;
    for (template, segs) in &api.templates {
        for (method, info) in api.paths[template].as_object().into_iter().flatten() {
            let props = info
                .pointer("/parameters/properties")
                .and_then(Value::as_object);
            let prop = |name: &str| props.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
            let mut path = "/api2/extjs".to_string();
            let mut skip = false;
            for seg in segs {
                path.push('/');
                if is_placeholder(seg) {
                    match sample(prop(&seg[1..seg.len() - 1])) {
                        Some(v) => path.push_str(&v),
                        None => skip = true,
                    }
                } else {
                    path.push_str(seg);
                }
            }
            let mut form = Vec::new();
            for (name, schema) in props.into_iter().flatten() {
                let in_path = segs
                    .iter()
                    .any(|s| s[1..].strip_suffix('}') == Some(name.as_str()));
                if in_path
                    || flag(schema.get("optional"))
                    || name.ends_with("[n]")
                    || schema.get("oneOf").is_some()
                {
                    continue;
                }
                match sample(schema) {
                    Some(v) => form.push(format!("{name}={v}")),
                    None => skip = true,
                }
            }
            if skip {
                continue;
            }
            let form = form.join("&");
            let (pq, body) = match method.as_str() {
                "GET" | "DELETE" if form.is_empty() => (path, String::new()),
                "GET" | "DELETE" => (format!("{path}?{form}"), String::new()),
                _ => (path, form),
            };
            let sent = Sent {
                method,
                path_and_query: &pq,
                content_type: FORM,
                body: body.as_bytes(),
            };
            let mut problems = Vec::new();
            let matched = check_into(&sent, &mut problems);
            assert_eq!(
                matched.as_deref(),
                Some(template.as_str()),
                "{method} {pq} resolves to another template"
            );
            assert!(problems.is_empty(), "{method} {pq} {body}: {problems:?}");
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} methods could be exercised");
}
