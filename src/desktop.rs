//! Adding this server to Claude Desktop's `claude_desktop_config.json`: merged, never
//! overwriting other servers, with a backup of the file first.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Where Claude Desktop keeps its configuration on this platform.
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return home
            .map(|h| h.join("Library/Application Support/Claude/claude_desktop_config.json"));
    }
    if cfg!(windows) {
        return env("APPDATA").map(|a| {
            PathBuf::from(a)
                .join("Claude")
                .join("claude_desktop_config.json")
        });
    }
    let config_home = env("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".config")));
    config_home.map(|c| c.join("Claude/claude_desktop_config.json"))
}

/// Adds (or updates) `mcpServers.<name>` in `file` to run `command` with `PROXMOX_CONFIG=settings`.
/// Other content is kept as it is; the previous file is copied to `<file>.bak` first. Returns
/// what was done, for the user.
pub fn add_server(
    file: &Path,
    name: &str,
    command: &Path,
    settings: &Path,
) -> Result<String, String> {
    let shown = file.display();
    let mut root = match std::fs::read_to_string(file) {
        Ok(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            format!("{shown} is not valid JSON ({e}); fix or move it, then run this again")
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let Some(top) = root.as_object_mut() else {
        return Err(format!(
            "{shown} does not hold a JSON object; fix or move it, then run this again"
        ));
    };
    let servers = top.entry("mcpServers").or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        return Err(format!(
            "{shown}: \"mcpServers\" is not an object; fix it, then run this again"
        ));
    };
    let entry = json!({
        "command": command.display().to_string(),
        "env": {"PROXMOX_CONFIG": settings.display().to_string()},
    });
    let action = match servers.get(name) {
        Some(old) if *old == entry => {
            return Ok(format!("{shown} already runs this server as \"{name}\""))
        }
        Some(_) => "updated",
        None => "added",
    };
    servers.insert(name.to_string(), entry);
    if file.exists() {
        let backup = PathBuf::from(format!("{}.bak", file.display()));
        std::fs::copy(file, &backup)
            .map_err(|e| format!("cannot back up {shown} to {}: {e}", backup.display()))?;
    } else if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())? + "\n";
    let temp = PathBuf::from(format!("{}.tmp", file.display()));
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, file))
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    Ok(format!(
        "{action} \"{name}\" in {shown}; restart Claude Desktop to load it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_without_touching_other_servers() {
        let dir = std::env::temp_dir().join(format!("pmcp-desktop-{}", std::process::id()));
        let file = dir.join("Claude/claude_desktop_config.json");
        let (cmd, cfg) = (
            Path::new("/usr/local/bin/proxmox-mcp-server"),
            Path::new("/home/u/.config/p.env"),
        );
        assert!(add_server(&file, "proxmox", cmd, cfg)
            .unwrap()
            .starts_with("added \"proxmox\""));
        std::fs::write(
            &file,
            r#"{"theme":"dark","mcpServers":{"other":{"command":"x"}}}"#,
        )
        .unwrap();
        assert!(add_server(&file, "proxmox", cmd, cfg)
            .unwrap()
            .starts_with("added"));
        let merged: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(merged["theme"], "dark");
        assert_eq!(merged["mcpServers"]["other"], json!({"command": "x"}));
        assert_eq!(
            merged["mcpServers"]["proxmox"],
            json!({"command": "/usr/local/bin/proxmox-mcp-server", "env": {"PROXMOX_CONFIG": "/home/u/.config/p.env"}})
        );
        let backup =
            std::fs::read_to_string(dir.join("Claude/claude_desktop_config.json.bak")).unwrap();
        assert!(backup.contains("\"theme\":\"dark\"") && !backup.contains("proxmox"));
        assert!(add_server(&file, "proxmox", cmd, cfg)
            .unwrap()
            .contains("already runs this server"));
        std::fs::write(&file, "[1]").unwrap();
        assert!(add_server(&file, "proxmox", cmd, cfg)
            .unwrap_err()
            .contains("does not hold a JSON object"));
        std::fs::write(&file, "{oops").unwrap();
        assert!(add_server(&file, "proxmox", cmd, cfg)
            .unwrap_err()
            .contains("is not valid JSON"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn platform_paths() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "APPDATA" => Some("C:\\Users\\u\\AppData\\Roaming".to_string()),
            _ => None,
        };
        let path = default_path(&env).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(
                path,
                PathBuf::from("/home/u/.config/Claude/claude_desktop_config.json")
            );
        }
        assert!(path.ends_with("claude_desktop_config.json"));
    }
}
