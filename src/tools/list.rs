//! Lists and results: `data`, trimming PVE's objects, sorting and paging, reading fields, and the
//! 64 KiB cap on every result.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::pve::path;

use super::table::{Args, Content, Ctx};

/// No result text is longer than this; longer data is cut and marked `truncated`.
pub const MAX_RESULT: usize = 64 * 1024;

pub(super) fn data(value: Value) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), value);
    Ok(out)
}

/// The objects of a PVE list, each cut to `fields`.
pub(super) fn trimmed(list: Value, fields: &[&str]) -> Vec<Value> {
    let Value::Array(items) = list else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut m) => {
                m.retain(|k, _| fields.contains(&k.as_str()));
                Value::Object(m)
            }
            _ => Value::Null,
        })
        .filter(Value::is_object)
        .collect()
}

pub(super) fn paging(args: &Args) -> (usize, usize) {
    let limit = args.int("limit").unwrap_or(100).max(1) as usize;
    let offset = args.int("offset").unwrap_or(0).max(0) as usize;
    (limit, offset)
}

/// Sorts, then takes `limit` items from `offset`, saying `total`.
pub(super) fn page(
    args: &Args,
    mut items: Vec<Value>,
    order: &dyn Fn(&Value, &Value) -> Ordering,
) -> Map<String, Value> {
    sort(&mut items, order);
    let (limit, offset) = paging(args);
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut out = Map::new();
    if offset + shown.len() < total {
        out.insert(
            "hint".into(),
            json!(format!(
                "{} more; call again with offset {}",
                total - offset - shown.len(),
                offset + shown.len()
            )),
        );
    }
    out.insert("data".into(), Value::Array(shown));
    out.insert("total".into(), json!(total));
    out.insert("limit".into(), json!(limit));
    out.insert("offset".into(), json!(offset));
    out
}

/// A stable sort of PVE objects. Every list sorts through here: one copy of the sort's code
/// in the binary instead of one per comparison.
pub(super) fn sort(items: &mut [Value], order: &dyn Fn(&Value, &Value) -> Ordering) {
    items.sort_by(order);
}

pub(super) fn by_text(field: &'static str) -> impl Fn(&Value, &Value) -> Ordering {
    move |a, b| text(a, field).cmp(text(b, field))
}

pub(super) fn text<'v>(v: &'v Value, field: &str) -> &'v str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn number(v: &Value, field: &str) -> f64 {
    match v.get(field) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `GET /nodes/{node}/{what}` as a list of objects cut to `fields`, each marked with its node.
pub(super) fn node_list(
    ctx: &Ctx,
    node: &str,
    what: &str,
    fields: &[&str],
) -> Result<Vec<Value>, Error> {
    let mut list = trimmed(ctx.pve.get(&path(&[&"nodes", &node, &what]), &[])?, fields);
    for item in list.iter_mut().filter_map(Value::as_object_mut) {
        item.insert("node".into(), json!(node));
    }
    Ok(list)
}

/// Keeps the serialized result under `MAX_RESULT`: drops list items from the end, or an object's
/// largest fields, and says so.
pub fn cap(mut out: Map<String, Value>) -> Map<String, Value> {
    if json_bound(&out) <= MAX_RESULT || json_len(&out) <= MAX_RESULT {
        return out;
    }
    let budget = MAX_RESULT - 512;
    let hint = match out.get_mut("data") {
        Some(Value::Array(items)) => {
            let mut used = 0;
            let keep = items
                .iter()
                .take_while(|item| {
                    used += json_len(item) + 1;
                    used <= budget
                })
                .count();
            let dropped = items.len() - keep;
            items.truncate(keep);
            // Say how far this page really goes, so paging by offset + limit misses nothing.
            let offset = out.get("offset").and_then(Value::as_u64).unwrap_or(0);
            if out.contains_key("limit") {
                out.insert("limit".into(), json!(keep));
            }
            format!("output cut to 64 KiB after {keep} items ({dropped} more left out); call again with offset {}, or narrow the query", offset + keep as u64)
        }
        Some(Value::Object(fields)) => {
            let dropped = drop_largest(fields, budget, &[]);
            format!(
                "output cut to 64 KiB: fields left out: {}",
                dropped.join(", ")
            )
        }
        Some(Value::String(s)) => {
            // Escaping can make the JSON longer than the text: cut until the JSON fits.
            let mut end = budget.min(s.len());
            loop {
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                let len = Value::String(s[..end].to_string()).to_string().len();
                if len <= budget || end == 0 {
                    break;
                }
                end = (end * budget / len).min(end - 1);
            }
            s.truncate(end);
            "output cut to 64 KiB".to_string()
        }
        // A dry run (data null) or another shape: cut the largest other fields (e.g. `target`).
        _ => {
            let dropped = drop_largest(&mut out, budget, &["data", "dry_run", "request", "task"]);
            format!("output cut to 64 KiB: left out {}", dropped.join(", "))
        }
    };
    out.insert("truncated".into(), json!(true));
    out.insert("hint".into(), json!(hint));
    out
}

/// Removes the largest fields of `map` (never those named in `keep`) until its JSON fits in
/// `budget` bytes; the names removed, largest first.
fn drop_largest(map: &mut Map<String, Value>, budget: usize, keep: &[&str]) -> Vec<String> {
    let mut dropped = Vec::new();
    while json_len(map) > budget {
        let largest = map
            .iter()
            .filter(|(k, _)| !keep.contains(&k.as_str()))
            .max_by_key(|(_, v)| json_len(v))
            .map(|(k, _)| k.clone());
        let Some(k) = largest else { break };
        map.remove(&k);
        dropped.push(k);
    }
    dropped
}

/// The length of `value` as compact JSON (the rare case of a result near the cap).
fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    serde_json::to_string(value).map(|s| s.len()).unwrap_or(0)
}

/// At least the length of an object as compact JSON, found without serializing it: exact but
/// for numbers, which count as their longest form. Most results are far below the cap, and
/// this is cheaper than writing them out once more just to measure them.
fn json_bound(m: &Map<String, Value>) -> usize {
    fn text(s: &str) -> usize {
        let escapes: usize = s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                0..=0x1f => 5,
                _ => 0,
            })
            .sum();
        2 + s.len() + escapes
    }
    fn value(v: &Value) -> usize {
        match v {
            Value::Null | Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            // "-1.7976931348623157e308" and i64::MIN fit.
            Value::Number(_) => 24,
            Value::String(s) => text(s),
            Value::Array(a) => 2 + a.len().saturating_sub(1) + a.iter().map(value).sum::<usize>(),
            Value::Object(m) => json_bound(m),
        }
    }
    2 + m.len().saturating_sub(1) + m.iter().map(|(k, v)| text(k) + 1 + value(v)).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bound_is_never_below_the_length() {
        let mut m = Map::new();
        m.insert(
            "text".into(),
            json!("quote \" backslash \\ tab \t nul \u{0} bell \u{7} é ü 🦀"),
        );
        m.insert(
            "k\"ey\n".into(),
            json!([null, true, false, [], {}, {"a": "b"}]),
        );
        let exact = json_len(&m);
        assert_eq!(json_bound(&m), exact, "exact without numbers");
        for n in [
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-2.2250738585072014e-308),
            json!(1e300),
            json!(0.1),
        ] {
            m.insert("n".into(), n);
            assert!(json_bound(&m) >= json_len(&m), "{m:?}");
        }
    }

    #[test]
    fn large_results_are_cut_with_a_hint() {
        let items: Vec<Value> = (0..5000)
            .map(|i| json!({"vmid": 100 + i, "name": format!("guest-{i:0>20}")}))
            .collect();
        let mut m = Map::new();
        m.insert("data".into(), Value::Array(items));
        m.insert("total".into(), json!(5000));
        m.insert("limit".into(), json!(5000));
        m.insert("offset".into(), json!(0));
        let out = cap(m);
        let text = serde_json::to_string(&out).unwrap();
        assert!(text.len() <= MAX_RESULT, "{}", text.len());
        assert_eq!(out["truncated"], json!(true));
        assert_eq!(out["total"], json!(5000));
        let kept = out["data"].as_array().unwrap().len();
        assert_eq!(
            out["limit"],
            json!(kept),
            "limit says how far the page goes"
        );
        let hint = out["hint"].as_str().unwrap();
        assert!(
            hint.contains(&format!("call again with offset {kept}")),
            "{hint}"
        );
        // A string whose escaping doubles its length still fits.
        let mut quoted = Map::new();
        quoted.insert("data".into(), json!("\"".repeat(60_000)));
        assert!(serde_json::to_string(&cap(quoted)).unwrap().len() <= MAX_RESULT);
        let mut obj = Map::new();
        obj.insert(
            "data".into(),
            json!({"small": 1, "huge": "x".repeat(100_000)}),
        );
        let out = cap(obj);
        assert_eq!(out["data"], json!({"small": 1}));

        assert!(out["hint"].as_str().unwrap().contains("huge"));
        // A dry run's large target is cut too; the request stays.
        let mut dry = Map::new();
        dry.insert("data".into(), Value::Null);
        dry.insert("dry_run".into(), json!(true));
        dry.insert(
            "request".into(),
            json!({"method": "POST", "path": "/x", "params": {}}),
        );
        dry.insert("target".into(), json!({"rules": "r".repeat(100_000)}));
        let out = cap(dry);
        assert!(serde_json::to_string(&out).unwrap().len() <= MAX_RESULT);
        assert!(out.get("target").is_none() && out["request"]["path"] == "/x");
        assert_eq!(out["hint"], "output cut to 64 KiB: left out target");
    }
}
