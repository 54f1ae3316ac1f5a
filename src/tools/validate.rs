//! Argument validation: a call's raw arguments checked against its tool's parameters, before
//! anything is sent.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::pve::{self, Upid};

use super::table::{Args, Kind, Param, Tool};

/// Arguments MCP hosts add to every tool's schema on their own and pass through with the call,
/// accepted and dropped (only these: any other unknown name is refused). Gemini CLI adds
/// `wait_for_previous` (a boolean) to order parallel calls.
const HOST_INJECTED: &[&str] = &["wait_for_previous"];

/// Checks `raw` against the tool's parameters: unknown names, missing ones, types, ranges, formats.
pub fn validate(tool: &Tool, raw: &Map<String, Value>) -> Result<Args, Error> {
    let mut out = Map::new();
    for (name, value) in raw {
        if HOST_INJECTED.contains(&name.as_str()) && tool.params.iter().all(|p| p.name != name) {
            continue;
        }
        let Some(param) = tool.params.iter().find(|p| p.name == name) else {
            if name.to_ascii_lowercase().contains("password") {
                return Err(Error::Args(format!(
                    "'{name}': {} never takes a password (a model's context is no place for one); set passwords in PVE itself, e.g. pveum passwd USER",
                    tool.name
                )));
            }
            let known: Vec<&str> = tool.params.iter().map(|p| p.name).collect();
            return Err(Error::Args(if known.is_empty() {
                format!(
                    "unknown argument '{name}': {} takes no arguments",
                    tool.name
                )
            } else {
                format!(
                    "unknown argument '{name}': {} takes {}",
                    tool.name,
                    known.join(", ")
                )
            }));
        };
        if value.is_null() && !param.required {
            continue;
        }
        out.insert(
            name.clone(),
            check_value(param, value).map_err(|why| Error::Args(format!("'{name}' {why}")))?,
        );
    }
    for p in tool.params.iter().filter(|p| p.required) {
        if !out.contains_key(p.name) {
            return Err(Error::Args(format!(
                "missing required argument '{}' ({})",
                p.name, p.description
            )));
        }
    }
    Ok(Args(out))
}

/// `f` as an integer when it has no fraction and is small enough to be exact (|f| < 9e15).
pub(super) fn exact_integer(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9e15).then_some(f as i64)
}

/// A whole number given as a JSON number (JSON Schema counts 100.0 as an integer too) or as
/// text: the one rule for every integer argument and config value.
pub(super) fn whole_number(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(exact_integer))
            .ok_or_else(|| format!("must be a whole number, got {n}")),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("must be a whole number, got {value}")),
        other => Err(format!("must be a whole number, got {other}")),
    }
}

fn check_value(param: &Param, value: &Value) -> Result<Value, String> {
    let int = |min: i64, max: i64| -> Result<Value, String> {
        let n = whole_number(value)?;
        if n < min || n > max {
            return Err(format!("must be between {min} and {max}, got {n}"));
        }
        Ok(json!(n))
    };
    let text = |max: usize| -> Result<String, String> {
        let s = value
            .as_str()
            .ok_or_else(|| format!("must be a string, got {value}"))?;
        if s.chars().count() > max {
            return Err(format!("may be at most {max} characters long"));
        }
        Ok(s.to_string())
    };
    match param.kind {
        Kind::Vmid => int(100, 999_999_999),
        Kind::Int { min, max } => int(min, max),
        Kind::Bool => match value {
            Value::Bool(b) => Ok(json!(b)),
            Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(json!(n.as_u64() == Some(1)))
            }
            Value::String(s) => crate::config::parse_bool(s)
                .map(Value::Bool)
                .ok_or_else(|| format!("must be true or false, got {value}")),
            other => Err(format!("must be true or false, got {other}")),
        },
        Kind::Text { max } => text(max).map(Value::String),
        Kind::Node => {
            let s = text(63)?;
            pve::valid_node_name(&s)
                .then_some(Value::String(s))
                .ok_or_else(|| {
                    "must be a node name (letters, digits and '-'); list_nodes shows them".into()
                })
        }
        Kind::Snapname => {
            let s = text(40)?;
            let mut chars = s.chars();
            let ok = s.len() >= 2
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !s.eq_ignore_ascii_case("current")
                && !s.eq_ignore_ascii_case("pending");
            ok.then_some(Value::String(s)).ok_or_else(|| {
                "must be 2 to 40 characters: a letter, then letters, digits, '_' and '-' (not 'current' or 'pending')".into()
            })
        }
        Kind::Storage => {
            let s = text(100)?;
            let ok = s.len() >= 2
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            ok.then_some(Value::String(s)).ok_or_else(|| {
                "must be a storage id such as local or local-lvm; list_storage shows them".into()
            })
        }
        Kind::Upid => {
            let s = text(512)?;
            Upid::parse(&s).map(|_| Value::String(s))
        }
        Kind::Vmids { max_items } => {
            // One guest, or several; each a whole number (a numeric string is taken too).
            let items = match value {
                Value::Array(items) => items.as_slice(),
                one => std::slice::from_ref(one),
            };
            if items.is_empty() || items.len() > max_items {
                return Err(format!(
                    "must hold 1 to {max_items} guest ids, got {}",
                    items.len()
                ));
            }
            let mut vmids = Vec::new();
            for item in items {
                let n = whole_number(item)
                    .ok()
                    .filter(|n| (100..=999_999_999).contains(n))
                    .ok_or_else(|| {
                        format!("must hold guest ids between 100 and 999999999, got {item}")
                    })?;
                vmids.push(json!(n));
            }
            Ok(Value::Array(vmids))
        }
        Kind::Strings { max_items, max_len } => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("must be an array of strings, got {value}"))?;
            if items.is_empty() || items.len() > max_items {
                return Err(format!(
                    "must hold 1 to {max_items} strings, got {}",
                    items.len()
                ));
            }
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| format!("must hold only strings, got {item}"))?;
                if s.chars().count() > max_len || s.contains('\0') {
                    return Err(format!(
                        "items may be at most {max_len} characters long, without NUL"
                    ));
                }
            }
            Ok(value.clone())
        }
        Kind::Object => match value {
            Value::Object(_) => Ok(value.clone()),
            other => Err(format!("must be an object, got {other}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::find;

    fn check_args(tool: &str, args: Value, expected: Result<Value, &str>) {
        let tool = find(tool).unwrap();
        let got = validate(tool, args.as_object().unwrap())
            .map(|a| Value::Object(a.0))
            .map_err(|e| e.to_string());
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => {
                assert!(got.contains(want), "{got:?} does not contain {want:?}")
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn argument_validation() {
        #[rustfmt::skip]
        let cases = [
            ("get_vm_status", json!({"vmid": 100}), Ok(json!({"vmid": 100}))),
            ("get_vm_status", json!({"vmid": "101", "node": "pve-2"}), Ok(json!({"vmid": 101, "node": "pve-2"}))),
            ("get_vm_status", json!({}), Err("missing required argument 'vmid'")),
            ("get_vm_status", json!({"vmid": 99}), Err("'vmid' must be between 100 and 999999999, got 99")),
            ("get_vm_status", json!({"vmid": 1.5}), Err("'vmid' must be a whole number")),
            ("get_vm_status", json!({"vmid": true}), Err("'vmid' must be a whole number")),
            ("get_vm_status", json!({"vmid": 100, "node": "../etc"}), Err("'node' must be a node name")),
            ("get_vm_status", json!({"vmid": 100, "nodes": "pve1"}), Err("unknown argument 'nodes': get_vm_status takes vmid, node")),
            ("get_cluster_status", json!({"x": 1}), Err("takes no arguments")),
            ("create_vm_snapshot", json!({"vmid": 100, "snapname": "1st"}), Err("'snapname' must be 2 to 40 characters")),
            ("create_vm_snapshot", json!({"vmid": 100, "snapname": "current"}), Err("not 'current'")),
            ("create_vm_snapshot", json!({"vmid": 100, "snapname": "pre-upgrade", "vmstate": "yes"}), Ok(json!({"vmid": 100, "snapname": "pre-upgrade", "vmstate": true}))),
            ("shutdown_vm", json!({"vmid": 100, "force_stop": "maybe"}), Err("'force_stop' must be true or false")),
            ("get_task_status", json!({"upid": "UPID:nope"}), Err("is not a PVE task id")),
            ("list_vms", json!({"limit": 0}), Err("'limit' must be between 1 and 1000")),
            ("list_vms", json!({"node": null}), Ok(json!({}))),
            ("get_storage_status", json!({"storage": "local lvm", "node": "pve1"}), Err("'storage' must be a storage id")),
        ];
        for (tool, args, expected) in cases {
            check_args(tool, args, expected);
        }
    }
}
