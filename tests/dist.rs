//! The release files kept in the repository stay true to the code: `dist/manifest.json` (the MCP
//! Bundle manifest) is the one `bundle::mcpb_manifest` generates from the tool table and the
//! settings, `dist/registry-env.json` (the registry entry's environment variables) the one
//! `bundle::registry_environment` generates from the settings. Run with `UPDATE_EXPECT=1` to
//! rewrite them, then review the diff.

use std::collections::BTreeSet;

use proxmox_mcp_server::bundle::{mcpb_manifest, mcpb_manifest_text, registry_environment, FIELDS};
use proxmox_mcp_server::config::SETTINGS;
use proxmox_mcp_server::tools::TOOLS;
use serde_json::Value;

fn path(file: &str) -> String {
    format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> Value {
    mcpb_manifest()
}

/// `file` holds `generated` (rewritten first with UPDATE_EXPECT=1).
fn kept_current(file: &str, generated: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path(file), generated).unwrap();
    }
    let kept = std::fs::read_to_string(path(file)).unwrap_or_default();
    assert!(
        kept == generated,
        "{file} is stale; regenerate it: UPDATE_EXPECT=1 cargo test --test dist"
    );
}

#[test]
fn dist_manifest_json_is_the_generated_manifest() {
    let text = mcpb_manifest_text();
    kept_current("dist/manifest.json", &text);
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        parsed,
        manifest(),
        "the file is the manifest, keys in reading order"
    );
    // The form asks in this order: connection first, then trust, then what the server may do.
    let order: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
    let mut at = 0;
    for key in &order {
        let found = text[at..]
            .find(&format!("\n    \"{key}\": {{"))
            .unwrap_or_else(|| panic!("user_config.{key} out of order"));
        at += found + 1;
    }
}

#[test]
fn dist_registry_env_json_is_every_setting_with_secrets_marked() {
    let env = registry_environment();
    kept_current(
        "dist/registry-env.json",
        &format!("{}\n", serde_json::to_string_pretty(&env).unwrap()),
    );
    let list = env.as_array().unwrap();
    assert_eq!(list.len(), SETTINGS.len());
    let secret = |name: &str| {
        list.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["isSecret"]
            == true
    };
    assert!(secret("PROXMOX_TOKEN_VALUE"));
    assert!(secret("PROXMOX_PASSWORD"));
    assert!(!secret("PROXMOX_TOKEN_NAME"));
    assert!(!secret("PROXMOX_HOST"));
    for v in list {
        assert!(!v["description"].as_str().unwrap().is_empty(), "{v}");
    }
}

#[test]
fn manifest_lists_every_tool_of_the_table_once() {
    let m = manifest();
    let listed: Vec<&str> = m["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let table: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(listed, table);
    for t in m["tools"].as_array().unwrap() {
        assert!(
            !t["description"].as_str().unwrap().is_empty(),
            "{t} has no description"
        );
    }
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["server"]["type"], "binary");
}

#[test]
fn every_form_field_fills_a_real_setting() {
    let m = manifest();
    let env = m["server"]["mcp_config"]["env"].as_object().unwrap();
    let config = m["user_config"].as_object().unwrap();
    assert_eq!(env.len(), FIELDS.len());
    assert_eq!(config.len(), FIELDS.len());
    for f in FIELDS {
        let setting = SETTINGS
            .iter()
            .find(|s| s.var == f.var)
            .unwrap_or_else(|| panic!("{} is not a setting of the server", f.var));
        assert_eq!(
            env[f.var],
            format!("${{user_config.{}}}", f.key),
            "{} is filled from the form field {}",
            f.var,
            f.key
        );
        let entry = &config[f.key];
        // A secret is masked in the form and kept in the system's secret store.
        assert_eq!(
            entry["sensitive"].as_bool().unwrap_or(false),
            setting.secret,
            "{}",
            f.var
        );
        // The host leaves "${user_config.KEY}" in place when it has no value: every optional
        // field needs a default, or the server would read the placeholder as the value.
        if !entry["required"].as_bool().unwrap() {
            assert!(entry["default"].is_string(), "{} has no default", f.key);
        }
    }
    let keys: BTreeSet<&str> = config.keys().map(String::as_str).collect();
    for key in [
        "host",
        "user",
        "token_name",
        "token_value",
        "fingerprint",
        "ca_file",
        "access",
        "protected",
    ] {
        assert!(keys.contains(key), "the form asks for {key}");
    }
    assert_eq!(config["token_value"]["sensitive"], true);
    assert_eq!(config["ca_file"]["type"], "file");
    assert_eq!(config["access"]["default"], "read-only");
}

#[test]
fn each_platform_starts_its_own_binary_from_the_bundle() {
    let m = manifest();
    let mcp = &m["server"]["mcp_config"];
    let overrides = mcp["platform_overrides"].as_object().unwrap();
    let platforms: Vec<&str> = m["compatibility"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["darwin", "win32", "linux"]);
    let mut commands = BTreeSet::new();
    for platform in platforms {
        let command = overrides[platform]["command"].as_str().unwrap();
        assert!(
            command.starts_with("${__dirname}/server/"),
            "{platform}: {command}"
        );
        assert_eq!(command.ends_with(".exe"), platform == "win32", "{command}");
        commands.insert(command);
    }
    assert_eq!(commands.len(), 3, "one binary per platform");
    assert_eq!(
        mcp["command"], overrides["darwin"]["command"],
        "the default command is the macOS one, which entry_point names"
    );
    assert_eq!(
        format!(
            "${{__dirname}}/{}",
            m["server"]["entry_point"].as_str().unwrap()
        ),
        mcp["command"].as_str().unwrap()
    );
}

#[test]
fn cargo_binstall_finds_the_release_archives() {
    let toml = std::fs::read_to_string(path("Cargo.toml")).unwrap();
    let build = std::fs::read_to_string(path("dist/build")).unwrap();
    // dist/build names the archives NAME-VERSION-TARGET; binstall must look for the same.
    assert!(toml.contains(
        r#"pkg-url = "{ repo }/releases/download/v{ version }/{ name }-{ version }-{ target }{ archive-suffix }""#
    ));
    assert!(
        build.contains(r#"stem="$NAME-$VERSION-$target""#),
        "dist/build's archive names"
    );
    assert!(
        build.contains(r#"tag="v$VERSION""#),
        "dist/build's release tag"
    );
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "universal-apple-darwin",
        "x86_64-pc-windows-gnu",
    ] {
        assert!(build.contains(target), "dist/build makes {target}");
    }
    assert!(toml.contains("[package.metadata.binstall.overrides.aarch64-apple-darwin]"));
    assert!(toml.contains("[package.metadata.binstall.overrides.x86_64-apple-darwin]"));
}

#[test]
fn readme_install_leads_with_what_needs_no_compiler() {
    let readme = std::fs::read_to_string(path("README.md")).unwrap();
    let install = readme
        .split_once("\n## Install\n")
        .and_then(|(_, rest)| rest.split_once("\n## "))
        .map(|(section, _)| section)
        .expect("README has an Install section");
    // In this order: the bundle, the archive with its checksum, Docker, the other hosts, source.
    let mut at = 0;
    for step in [
        ".mcpb",
        "sha256sum --check",
        "docker run",
        "claude mcp add",
        "\"servers\"",
        "~/.cursor/mcp.json",
        "[mcp_servers.proxmox]",
        "%APPDATA%\\Claude",
        "./setup.sh",
    ] {
        let found = install[at..]
            .find(step)
            .unwrap_or_else(|| panic!("Install lacks {step:?} after what comes before it"));
        at += found + step.len();
    }
    for command in [
        "dist/build",
        "dist/check",
        "cargo install --locked --path .",
    ] {
        assert!(
            readme.contains(command),
            "README does not say how to run {command}"
        );
    }
}
