//! The repository's generated files and documents stay true to the code.

use proxmox_mcp_server::config::SETTINGS;
use proxmox_mcp_server::tools::TOOLS;

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn agent_card_json_is_the_generated_card() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&proxmox_mcp_server::card::agent_card()).unwrap()
    );
    assert!(
        read("agent-card.json") == generated,
        "agent-card.json is stale; regenerate it: cargo run -- agent-card > agent-card.json"
    );
    let card: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let skills: Vec<&str> = card["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let tools: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(skills, tools, "one skill per tool");
}

#[test]
fn readme_lists_every_tool_and_setting() {
    let readme = read("README.md");
    for t in TOOLS {
        let row = format!("| `{}` | {} |", t.name, t.effect.name());
        assert!(
            readme.contains(&row),
            "README's tool table lacks the row {row}"
        );
    }
    for s in SETTINGS {
        assert!(
            readme.contains(&format!("| `{}`", s.var)),
            "README's settings table lacks {}",
            s.var
        );
    }
    for command in [
        "./setup.sh",
        "cargo test --locked",
        "x86_64-unknown-linux-musl",
    ] {
        assert!(
            readme.contains(command),
            "README does not mention {command}"
        );
    }
}
