//! The agent card against the A2A v1.0 `AgentCard` JSON Schema in tests/data/a2a/ (how that file
//! was made: tests/data/a2a/README.md), and against the tool table.
//!
//! The validator below knows only the JSON Schema keywords that file uses. Every keyword in the
//! file is checked against that list before anything is validated, so a schema that grows a
//! keyword the validator does not apply fails here instead of passing unchecked.

use proxmox_mcp_server::card::agent_card;
use proxmox_mcp_server::mcp::{LEGACY_VERSIONS, MODERN_VERSIONS};
use proxmox_mcp_server::tools::TOOLS;
use serde_json::{json, Map, Value};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/a2a/agent-card.schema.json"
);
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Keywords applied by `Validator::check`.
const APPLIED: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "minLength",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
];
/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &["title", "description", "$comment"];
/// Keywords allowed at the document root only.
const ROOT: &[&str] = &["$schema", "$id", "$defs"];
const TYPES: &[&str] = &[
    "object", "array", "string", "boolean", "number", "integer", "null",
];

fn schema() -> Value {
    let text = std::fs::read_to_string(SCHEMA).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    vocabulary(&schema, true, "#");
    schema
}

/// Panics on any keyword outside the subset, or a keyword value of the wrong shape.
fn vocabulary(schema: &Value, root: bool, at: &str) {
    let Some(obj) = schema.as_object() else {
        panic!("{at}: a schema must be an object here (booleans are not supported), got {schema}");
    };
    for (key, value) in obj {
        let at = format!("{at}/{key}");
        let known = APPLIED.contains(&key.as_str())
            || ANNOTATIONS.contains(&key.as_str())
            || (root && ROOT.contains(&key.as_str()));
        assert!(
            known,
            "{at}: keyword {key:?} is not applied by this validator; extend tests/it/card.rs"
        );
        match key.as_str() {
            "$schema" => assert_eq!(value, DRAFT, "{at}"),
            "$id" | "$comment" | "title" | "description" => assert!(value.is_string(), "{at}"),
            "$ref" => assert!(
                value.as_str().is_some_and(|r| r.starts_with("#/$defs/")),
                "{at}: only #/$defs/ references are supported"
            ),
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(names) if !names.is_empty() => names.iter().collect(),
                    other => vec![other],
                };
                for name in names {
                    assert!(
                        name.as_str().is_some_and(|n| TYPES.contains(&n)),
                        "{at}: unknown type {name}"
                    );
                }
            }
            "enum" => assert!(value.as_array().is_some_and(|v| !v.is_empty()), "{at}"),
            "minLength" => assert!(value.is_u64(), "{at}"),
            "required" => assert!(
                value
                    .as_array()
                    .is_some_and(|v| v.iter().all(Value::is_string)),
                "{at}"
            ),
            "properties" | "$defs" => {
                let Some(map) = value.as_object() else {
                    panic!("{at}: must be an object");
                };
                for (name, sub) in map {
                    vocabulary(sub, false, &format!("{at}/{name}"));
                }
            }
            "additionalProperties" => {
                if !value.is_boolean() {
                    vocabulary(value, false, &at);
                }
            }
            "items" | "propertyNames" => vocabulary(value, false, &at),
            _ => unreachable!(),
        }
    }
}

struct Validator<'a> {
    root: &'a Value,
    errors: Vec<String>,
}

impl<'a> Validator<'a> {
    fn run(root: &'a Value, instance: &Value) -> Vec<String> {
        let mut v = Validator {
            root,
            errors: Vec::new(),
        };
        v.check(root, instance, "");
        v.errors
    }

    fn fail(&mut self, at: &str, msg: String) {
        self.errors
            .push(format!("{}: {msg}", if at.is_empty() { "/" } else { at }));
    }

    fn check(&mut self, schema: &Value, instance: &Value, at: &str) {
        let schema = schema.as_object().unwrap();
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/$defs/").unwrap();
            let target = self.root["$defs"]
                .get(name)
                .unwrap_or_else(|| panic!("unresolved $ref {r}"));
            self.check(target, instance, at);
        }
        if let Some(t) = schema.get("type") {
            let allowed: Vec<&str> = match t {
                Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                other => vec![other.as_str().unwrap()],
            };
            if !allowed.iter().any(|name| is_type(instance, name)) {
                self.fail(at, format!("expected type {t}, got {instance}"));
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.contains(instance) {
                self.fail(at, format!("{instance} is not one of {values:?}"));
            }
        }
        if let (Some(min), Some(s)) = (
            schema.get("minLength").and_then(Value::as_u64),
            instance.as_str(),
        ) {
            if (s.chars().count() as u64) < min {
                self.fail(at, format!("shorter than {min} characters"));
            }
        }
        if let Some(items) = instance.as_array() {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check(item_schema, item, &format!("{at}/{i}"));
                }
            }
        }
        if let Some(obj) = instance.as_object() {
            self.object(schema, obj, at);
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, obj: &Map<String, Value>, at: &str) {
        let empty = Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                self.fail(at, format!("missing required property {name:?}"));
            }
        }
        for (key, value) in obj {
            let here = format!("{at}/{key}");
            if let Some(names) = schema.get("propertyNames") {
                self.check(names, &Value::String(key.clone()), &here);
            }
            match (props.get(key), schema.get("additionalProperties")) {
                (Some(sub), _) => self.check(sub, value, &here),
                (None, Some(Value::Bool(false))) => {
                    self.fail(at, format!("property {key:?} is not allowed"))
                }
                (None, Some(Value::Bool(true)) | None) => {}
                (None, Some(sub)) => self.check(sub, value, &here),
            }
        }
    }
}

fn is_type(v: &Value, name: &str) -> bool {
    match name {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => unreachable!(),
    }
}

#[test]
fn card_validates_against_the_a2a_v1_agent_card_schema() {
    let schema = schema();
    let errors = Validator::run(&schema, &agent_card());
    assert!(
        errors.is_empty(),
        "agent card fails the A2A schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn schema_is_the_a2a_v1_0_0_agent_card() {
    let schema = schema();
    assert_eq!(
        schema["$ref"],
        "#/$defs/lf.a2a.v1.AgentCard.jsonschema.json"
    );
    let comment = schema["$comment"].as_str().unwrap();
    assert!(
        comment.contains("v1.0.0") && comment.contains("173695755607e884aa9acf8ce4feed90e32727a1")
    );
    let card = &schema["$defs"]["lf.a2a.v1.AgentCard.jsonschema.json"];
    assert_eq!(
        card["required"],
        json!([
            "name",
            "description",
            "supportedInterfaces",
            "version",
            "capabilities",
            "defaultInputModes",
            "defaultOutputModes",
            "skills"
        ])
    );
    assert_eq!(card["additionalProperties"], false);
}

/// The specification's own sample card (§8.5, copied verbatim) passes but for the two fields it
/// still has from before v1.0 (`security`, now `securityRequirements`, and
/// `capabilities.stateTransitionHistory`), which the v1.0.0 proto no longer has.
#[test]
fn spec_sample_card_fails_only_on_its_pre_v1_fields() {
    let schema = schema();
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/a2a/spec-sample-agent-card.json"
    ))
    .unwrap();
    let sample: Value = serde_json::from_str(&sample).unwrap();
    assert_eq!(
        Validator::run(&schema, &sample),
        [
            "/capabilities: property \"stateTransitionHistory\" is not allowed",
            "/: property \"security\" is not allowed",
        ]
    );
}

/// Changes a good card into a bad one.
type Breaker = fn(&mut Value);

/// The validator is not vacuous: each broken card is rejected with the reason expected.
#[test]
fn validator_rejects_broken_cards() {
    let schema = schema();
    let cases: &[(&str, Breaker, &str)] = &[
        (
            "missing name",
            |c| {
                c.as_object_mut().unwrap().remove("name");
            },
            "missing required property \"name\"",
        ),
        (
            "unknown field",
            |c| c["transport"] = json!("stdio"),
            "property \"transport\" is not allowed",
        ),
        (
            "snake_case name",
            |c| {
                let modes = c
                    .as_object_mut()
                    .unwrap()
                    .remove("defaultInputModes")
                    .unwrap();
                c["default_input_modes"] = modes;
            },
            "property \"default_input_modes\" is not allowed",
        ),
        (
            "empty required string",
            |c| c["version"] = json!(""),
            "/version: shorter than 1 characters",
        ),
        (
            "interface without version",
            |c| {
                c["supportedInterfaces"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("protocolVersion");
            },
            "/supportedInterfaces/0: missing required property \"protocolVersion\"",
        ),
        (
            "tags not a list",
            |c| c["skills"][0]["tags"] = json!("proxmox"),
            "/skills/0/tags: expected type \"array\"",
        ),
        (
            "tag not a string",
            |c| c["skills"][1]["tags"][0] = json!(7),
            "/skills/1/tags/0: expected type \"string\"",
        ),
        (
            "capability not a boolean",
            |c| c["capabilities"]["streaming"] = json!("no"),
            "/capabilities/streaming: expected type \"boolean\"",
        ),
        (
            "provider without url",
            |c| {
                c["provider"].as_object_mut().unwrap().remove("url");
            },
            "/provider: missing required property \"url\"",
        ),
        (
            "security scheme of an unknown kind",
            |c| c["securitySchemes"] = json!({"pve": {"pveTicket": {}}}),
            "/securitySchemes/pve: property \"pveTicket\" is not allowed",
        ),
    ];
    for (what, break_it, expected) in cases {
        let mut card = agent_card();
        break_it(&mut card);
        let errors = Validator::run(&schema, &card);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
}

#[test]
fn validator_applies_type_lists_and_enums() {
    let schema = json!({
        "$defs": {"e": {"enum": ["A", 1]}},
        "type": "object",
        "properties": {
            "n": {"type": ["string", "null"]},
            "i": {"type": "integer"},
            "e": {"$ref": "#/$defs/e"},
        },
    });
    vocabulary(&schema, true, "#");
    let ok = json!({"n": null, "i": 3, "e": "A"});
    assert_eq!(Validator::run(&schema, &ok), Vec::<String>::new());
    let bad = json!({"n": 1, "i": 1.5, "e": "B"});
    assert_eq!(Validator::run(&schema, &bad).len(), 3);
}

#[test]
#[should_panic(expected = "keyword \"pattern\" is not applied")]
fn validator_refuses_keywords_it_does_not_apply() {
    vocabulary(
        &json!({"properties": {"url": {"type": "string", "pattern": "^https:"}}}),
        true,
        "#",
    );
}

#[test]
fn card_has_one_skill_per_tool_tagged_with_area_and_effect() {
    let card = agent_card();
    let skills = card["skills"].as_array().unwrap();
    let ids: Vec<&str> = skills.iter().map(|s| s["id"].as_str().unwrap()).collect();
    let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(ids, names, "skills in tool-table order");
    for (skill, tool) in skills.iter().zip(TOOLS.iter()) {
        assert_eq!(skill["name"], tool.title, "{}", tool.name);
        assert_eq!(
            skill["description"],
            tool.full_description(),
            "{}",
            tool.name
        );
        let tags = crate::support::strings(&skill["tags"]);
        for tag in ["proxmox", tool.area.name(), tool.effect.name()] {
            assert!(tags.contains(&tag), "{}: tag {tag} missing", tool.name);
        }
    }
}

#[test]
fn card_names_the_stdio_mcp_transport_and_the_crate_version() {
    let card = agent_card();
    assert_eq!(card["name"], env!("CARGO_PKG_NAME"));
    assert_eq!(card["version"], env!("CARGO_PKG_VERSION"));
    let interfaces = card["supportedInterfaces"].as_array().unwrap();
    assert!(!interfaces.is_empty());
    for i in interfaces {
        // Not an A2A binding: an A2A client must not be sent to this as if it were one.
        assert_eq!(i["protocolBinding"], "MCP-STDIO", "{i}");
        assert_eq!(i["url"], concat!("stdio:", env!("CARGO_PKG_NAME")), "{i}");
        let version = i["protocolVersion"].as_str().unwrap();
        assert!(
            LEGACY_VERSIONS.contains(&version) || MODERN_VERSIONS.contains(&version),
            "{version} is not an MCP version the server speaks"
        );
    }
    assert_eq!(
        interfaces[0]["protocolVersion"],
        *MODERN_VERSIONS.last().unwrap(),
        "the newest MCP version is preferred"
    );
}
