//! The repository's generated files and documents stay true to the code. Run with
//! `UPDATE_EXPECT=1` to rewrite them from the code, then review the diff.

use proxmox_mcp_server::config::SETTINGS;
use proxmox_mcp_server::tools::{AREAS, TOOLS};

/// Parameters many tools share, which the README explains once below its table.
const SHARED: &[&str] = &[
    "wait_seconds",
    "dry_run",
    "stop_on_cancel",
    "limit",
    "offset",
];

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
            .filter(|p| !SHARED.contains(&p.name) || t.name == "get_task_log")
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

/// Checks that README's section between the `MARKER:begin` and `MARKER:end` comments is
/// `table` (the `what` table), or writes it there under UPDATE_EXPECT=1; returns the README.
fn readme_section(marker: &str, what: &str, table: &str) -> String {
    let begin =
        format!("<!-- {marker}:begin (generated: UPDATE_EXPECT=1 cargo test --test it repo) -->\n");
    let end = format!("<!-- {marker}:end -->");
    let mut readme = std::fs::read_to_string(path("README.md")).unwrap();
    let (Some(b), Some(e)) = (readme.find(&begin), readme.find(&end)) else {
        panic!("README.md lacks the {what} table markers");
    };
    if update() {
        readme.replace_range(b + begin.len()..e, table);
        std::fs::write(path("README.md"), &readme).unwrap();
    }
    assert!(
        readme[b + begin.len()..e] == *table,
        "README's {what} table is stale; regenerate it: UPDATE_EXPECT=1 cargo test --test it repo"
    );
    readme
}

#[test]
fn readme_tool_table_is_generated_and_settings_listed() {
    let readme = readme_section("tools", "tool", &tool_table());
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

/// The tool counts the README gives per access level are the server's: every tool the level
/// allows (`PROXMOX_MCP_TOOLS=all`) and those the default set lists.
#[test]
fn readme_tool_counts_per_access_level_are_true() {
    use proxmox_mcp_server::policy::{Access, Policy};
    let readme = std::fs::read_to_string(path("README.md")).unwrap();
    let mut defaults = Vec::new();
    for (access, name) in [
        (Access::ReadOnly, "read-only"),
        (Access::Operate, "operate"),
        (Access::Full, "full"),
    ] {
        let all = Policy {
            allow: vec!["all".into()],
            ..Policy::with_access(access)
        };
        let count = proxmox_mcp_server::tools::active(&all).count();
        let default = crate::support::tool_count(access);
        assert!(default < count, "{name}: the default set lists fewer");
        let suffix = if access == Access::ReadOnly {
            " (default)"
        } else {
            ""
        };
        let row = format!("| `{name}`{suffix} | {count} | {default} |");
        assert!(readme.contains(&row), "README's access table lacks {row}");
        let intro = format!("{count} at `{name}`");
        assert!(
            readme.contains(&intro),
            "README's introduction lacks {intro}"
        );
        defaults.push(default.to_string());
    }
    let intro = format!(
        "{}, {} and {} of them in the default set",
        defaults[0], defaults[1], defaults[2]
    );
    assert!(
        readme.contains(&intro),
        "README's introduction lacks {intro}"
    );
}

/// The README's toolset table, from `Area::ALL` and the tool table: each toolset with its
/// everyday tools (the `default` set), the rest of its own tools, and those that also act on it.
fn toolset_table() -> String {
    use proxmox_mcp_server::tools::{Area, Mark};
    let mut out = String::from(
        "| toolset | what it holds | in `default` | more with the toolset |\n|---|---|---|---|\n",
    );
    let names = |tools: Vec<&str>| -> String {
        tools
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for area in Area::ALL {
        let info = area.info();
        let own = || TOOLS.iter().filter(|t| t.area == area);
        let everyday: Vec<&str> = own()
            .filter(|t| t.has(Mark::Everyday))
            .map(|t| t.name)
            .collect();
        let rest: Vec<&str> = own()
            .filter(|t| !t.has(Mark::Everyday))
            .map(|t| t.name)
            .collect();
        let also: Vec<&str> = TOOLS
            .iter()
            .filter(|t| t.area != area && t.areas().contains(&area))
            .map(|t| t.name)
            .collect();
        let mut more = names(rest);
        if !also.is_empty() {
            let sep = if more.is_empty() { "" } else { "; " };
            more.push_str(&format!("{sep}also {}", names(also)));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {more} |\n",
            info.name,
            info.holds,
            names(everyday)
        ));
    }
    out
}

#[test]
fn readme_toolset_table_is_generated() {
    readme_section("toolsets", "toolset", &toolset_table());
}
