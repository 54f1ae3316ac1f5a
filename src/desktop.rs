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
/// Other content is kept as it is; the previous file is copied to `<file>.bak` first. Both are
/// written to a new temporary file (never one already there) and renamed into place, keeping the
/// file's mode (0600 for a new file). Returns what was done, for the user.
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
    // The file holds other servers' tokens: it keeps its mode (0600 for a new one), and so does
    // the backup.
    let mode = match std::fs::metadata(file) {
        Ok(meta) => Some(mode_of(&meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    if mode.is_none() {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())? + "\n";
    let temp = sibling(file, ".tmp");
    write_new(&temp, text.as_bytes(), mode.unwrap_or(0o600))
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    if let Some(mode) = mode {
        let backup = sibling(file, ".bak");
        let copied = std::fs::read(file).and_then(|old| {
            let backup_temp = sibling(file, ".bak.tmp");
            write_new(&backup_temp, &old, mode)?;
            std::fs::rename(&backup_temp, &backup).inspect_err(|_| {
                let _ = std::fs::remove_file(&backup_temp);
            })
        });
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&temp);
            return Err(format!(
                "cannot back up {shown} to {}: {e}",
                backup.display()
            ));
        }
    }
    std::fs::rename(&temp, file).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {shown}: {e}")
    })?;
    Ok(format!(
        "{action} \"{name}\" in {shown}; restart Claude Desktop to load it"
    ))
}

/// `file` with `suffix` added to its name.
fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o600
}

/// Writes `bytes` to `path`, which must not exist yet: a file or symlink already there (planted
/// by someone else, or left by an interrupted run) is refused, never followed. The file is
/// created readable by its owner only and gets `mode` once written; it is removed again when
/// writing fails.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{} already exists (left by an interrupted run, or put there by someone else); it is not followed or overwritten: check it, remove it, then run this again",
                    path.display()
                ),
            )
        } else {
            std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        }
    })?;
    let written = f.write_all(bytes).and_then(|()| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        f.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
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

    #[cfg(unix)]
    #[test]
    fn new_files_only_never_through_what_is_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pmcp-write-new-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.tmp");
        let _ = std::fs::remove_file(&path);
        write_new(&path, b"secret", 0o640).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let e = write_new(&path, b"other", 0o600).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(
            sibling(Path::new("/a/b.json"), ".bak"),
            Path::new("/a/b.json.bak")
        );
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
