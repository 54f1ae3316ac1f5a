//! The repository's generated files and documents stay true to the code. Run with
//! `UPDATE_EXPECT=1` to rewrite them from the code, then review the diff.

use proxmox_mcp_server::config::SETTINGS;
use proxmox_mcp_server::tools::{AREAS, COMMON_PARAMS, TOOLS};

fn path(file: &str) -> String {
    format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn update() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some()
}

#[test]
fn agent_card_json_is_the_generated_card() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&proxmox_mcp_server::card::agent_card()).unwrap()
    );
    if update() {
        std::fs::write(path("agent-card.json"), &generated).unwrap();
    }
    assert!(
        std::fs::read_to_string(path("agent-card.json")).unwrap() == generated,
        "agent-card.json is stale; regenerate it: UPDATE_EXPECT=1 cargo test --test it repo"
    );
    let card: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let skills = crate::support::texts(&card["skills"], "id");
    let tools: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(skills, tools, "one skill per tool");
}

/// The README's tool table, from the tool table.
fn tool_table() -> String {
    let mut out = String::from(
        "| tool | effect | arguments (`?` = optional) | what it does | PVE privilege |\n|---|---|---|---|---|\n",
    );
    for t in TOOLS.iter() {
        let args: Vec<String> = t
            .params
            .iter()
            .filter(|p| !COMMON_PARAMS.contains(&p.name) || t.name == "get_task_log")
            .map(|p| format!("`{}{}`", p.name, if p.required { "" } else { "?" }))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            t.name,
            t.effect.name(),
            args.join(", "),
            t.description,
            t.privilege.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn readme_tool_table_is_generated_and_settings_listed() {
    const BEGIN: &str =
        "<!-- tools:begin (generated: UPDATE_EXPECT=1 cargo test --test it repo) -->\n";
    const END: &str = "<!-- tools:end -->";
    let mut readme = std::fs::read_to_string(path("README.md")).unwrap();
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the tool table markers");
    };
    let table = tool_table();
    if update() {
        readme.replace_range(b + BEGIN.len()..e, &table);
        std::fs::write(path("README.md"), &readme).unwrap();
    }
    assert!(
        readme[b + BEGIN.len()..e] == table,
        "README's tool table is stale; regenerate it: UPDATE_EXPECT=1 cargo test --test it repo"
    );
    for s in SETTINGS {
        assert!(
            readme.contains(&format!("| `{}`", s.var)),
            "README's settings table lacks {}",
            s.var
        );
    }
    let groups = readme
        .lines()
        .find(|l| l.starts_with("| `PROXMOX_MCP_TOOLS`"))
        .unwrap_or_default();
    for area in AREAS {
        assert!(
            groups.contains(&format!("`{area}`")),
            "README's PROXMOX_MCP_TOOLS row lacks the area {area}"
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

/// The tool counts the README gives per access level are the server's.
#[test]
fn readme_tool_counts_per_access_level_are_true() {
    use proxmox_mcp_server::policy::Access;
    let readme = std::fs::read_to_string(path("README.md")).unwrap();
    for (access, name) in [
        (Access::ReadOnly, "read-only"),
        (Access::Operate, "operate"),
        (Access::Full, "full"),
    ] {
        let count = crate::support::tool_count(access);
        let suffix = if access == Access::ReadOnly {
            " (default)"
        } else {
            ""
        };
        let row = format!("| `{name}`{suffix} | {count} |");
        assert!(readme.contains(&row), "README's access table lacks {row}");
        let intro = format!("{count} at `{name}`");
        assert!(
            readme.contains(&intro),
            "README's introduction lacks {intro}"
        );
    }
}
