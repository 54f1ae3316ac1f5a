//! `setup.sh`, run non-interactively (stdin from /dev/null, `--yes`) in a temporary HOME with a
//! clean environment, installing the binary cargo built for these tests (`--binary`) and checking
//! it against a mocked PVE API.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{mode, FakePve, TempDir};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/setup.sh");
const BIN: &str = env!("CARGO_BIN_EXE_proxmox-mcp-server");
const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
/// The API token secret; it must show up in the settings file and nowhere else.
const SECRET: &str = "3d9b7c2e-5a41-4f6e-8b0d-1c2e3f4a5b6c";
/// setup.sh is killed after this long: it must never wait for input without a terminal.
const LIMIT: Duration = Duration::from_secs(60);

/// A temporary HOME, removed when dropped.
struct Home(TempDir);

impl Home {
    fn new(name: &str) -> Home {
        Home(TempDir::new(&format!("setup-{name}")))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.path(rel)
    }

    /// Where Claude Desktop keeps its configuration under this HOME (XDG_CONFIG_HOME unset).
    fn claude_config(&self) -> PathBuf {
        if cfg!(target_os = "macos") {
            self.path("Library/Application Support/Claude/claude_desktop_config.json")
        } else {
            self.path(".config/Claude/claude_desktop_config.json")
        }
    }

    fn settings(&self) -> PathBuf {
        self.path(".config/proxmox-mcp-server/config.env")
    }

    fn installed(&self) -> PathBuf {
        self.path("bin-prefix/bin/proxmox-mcp-server")
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A token login for `host` as setup.sh reads it from the environment.
fn token_vars(host: &str) -> Vec<(&str, &str)> {
    vec![
        ("PROXMOX_HOST", host),
        ("PROXMOX_USER", "mcp@pve"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", SECRET),
    ]
}

/// `--yes --binary BIN --prefix PREFIX`, then `more`.
fn install_args<'a>(prefix: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--yes", "--binary", BIN, "--prefix", prefix];
    args.extend_from_slice(more);
    args
}

/// setup.sh given everything as flags: a token login for `host` (its secret in a file),
/// `access`, the test CA; nothing in the environment.
fn setup_with_flags(home: &Home, host: &str, access: &str) -> Run {
    let secret_file = home.path("token");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let prefix = home.path("bin-prefix").display().to_string();
    let more = [
        "--host",
        host,
        "--user",
        "mcp@pve",
        "--token-name",
        "mcp",
        "--token-value-file",
        secret_file.to_str().unwrap(),
        "--access",
        access,
        "--ca-file",
        CA,
    ];
    setup(home, &install_args(&prefix, &more), &[])
}

/// `bash setup.sh ARGS` with only PATH, HOME and `vars` in its environment and stdin from
/// /dev/null; killed (with everything it started) after [`LIMIT`].
fn setup(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("bash");
    cmd.arg(SCRIPT)
        .args(args)
        .env_clear()
        .env("HOME", &home.0 .0);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(vars.iter().copied())
        .current_dir(&home.0 .0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("run bash setup.sh");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("setup.sh {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A PVE that answers everything `check` asks, for a read-only token.
fn pve() -> FakePve {
    pve_granting(crate::support::all_privileges())
}

/// As [`pve`], with `permissions` as `GET /access/permissions`.
fn pve_granting(permissions: Value) -> FakePve {
    let mut fake = FakePve::new();
    fake.get(
        "/version",
        json!({"version": "9.1.2", "release": "9.1", "repoid": "abc"}),
    )
    .get(
        "/cluster/status",
        json!([
            {"type": "cluster", "name": "lab", "nodes": 2, "quorate": 1},
            {"type": "node", "name": "pve1", "online": 1},
            {"type": "node", "name": "pve2", "online": 1},
        ]),
    )
    .get("/access/permissions", permissions);
    fake
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn installs_configures_checks_and_merges_claude_desktop() {
    let home = Home::new("ok");
    let fake = pve();
    let claude = home.claude_config();
    std::fs::create_dir_all(claude.parent().unwrap()).unwrap();
    let other = json!({"command": "/opt/other/server", "args": ["--stdio"]});
    std::fs::write(
        &claude,
        json!({"mcpServers": {"other": other}, "theme": "dark"}).to_string(),
    )
    .unwrap();
    let prefix = home.path("bin-prefix").display().to_string();
    let url = fake.url();
    let mut vars = token_vars(&url);
    vars.push(("PROXMOX_SETUP_CLAUDE", "1"));
    let args = install_args(&prefix, &["--ca-file", CA]);
    let run = setup(&home, &args, &vars);
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");

    // The binary.
    let installed = home.installed();
    assert_eq!(mode(&installed), 0o755, "{}", installed.display());
    let version = Command::new(&installed).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!(
            "proxmox-mcp-server {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );

    // The settings: 0600, the given values, read-only by default; the secret only there.
    let settings = home.settings();
    assert_eq!(mode(&settings), 0o600);
    let text = std::fs::read_to_string(&settings).unwrap();
    for line in [
        format!("PROXMOX_HOST={url}"),
        "PROXMOX_USER=mcp@pve".to_string(),
        "PROXMOX_TOKEN_NAME=mcp".to_string(),
        format!("PROXMOX_TOKEN_VALUE='{SECRET}'"),
        "PROXMOX_MCP_ACCESS=read-only".to_string(),
        format!("PROXMOX_CA_FILE={CA}"),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
    }
    assert!(!all.contains(SECRET), "the secret was printed:\n{all}");

    // The check ran against the settings file and passed.
    for line in [
        "✓ connection and login: PVE 9.1.2",
        "✓ cluster: cluster lab, 2 node(s)",
    ] {
        assert!(all.lines().any(|l| l == line), "no {line:?} in:\n{all}");
    }
    assert!(!all.lines().any(|l| l.starts_with('✗')), "{all}");
    assert!(fake.lines().contains(&"GET /version".to_string()));

    // Claude Desktop: both servers, the rest kept, a backup of the old file.
    let merged = read_json(&claude);
    assert_eq!(merged["theme"], "dark");
    assert_eq!(merged["mcpServers"]["other"], other);
    let command = std::fs::canonicalize(&installed).unwrap();
    let settings_real = std::fs::canonicalize(&settings).unwrap();
    assert_eq!(
        merged["mcpServers"]["proxmox"],
        json!({"command": command.display().to_string(), "env": {"PROXMOX_CONFIG": settings_real.display().to_string()}})
    );
    let backup = read_json(&PathBuf::from(format!("{}.bak", claude.display())));
    assert_eq!(backup["mcpServers"], json!({"other": other}));
    assert!(!std::fs::read_to_string(&claude).unwrap().contains(SECRET));

    // What Claude Desktop needs is printed, as JSON, on stdout.
    let block = &run.stdout[run.stdout.find("{\n").expect("a JSON block")..];
    let printed: Value = serde_json::from_str(block).expect("the block is JSON");
    assert_eq!(
        printed["mcpServers"]["proxmox"]["command"],
        installed.display().to_string()
    );
    assert_eq!(
        printed["mcpServers"]["proxmox"]["env"]["PROXMOX_CONFIG"],
        settings.display().to_string()
    );

    // Run again with nothing given: the settings are kept (old copy in .bak), Claude Desktop is
    // already set up.
    let again = setup(
        &home,
        &install_args(&prefix, &[]),
        &[("PROXMOX_SETUP_CLAUDE", "1")],
    );
    assert_eq!(again.code, Some(0), "{}", again.all());
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), text);
    assert_eq!(mode(&settings), 0o600);
    let settings_bak = PathBuf::from(format!("{}.bak", settings.display()));
    assert_eq!(mode(&settings_bak), 0o600);
    assert!(
        again.all().contains("already runs this server"),
        "{}",
        again.all()
    );
    assert!(!again.all().contains(SECRET));
}

#[test]
fn unreachable_host_still_installs_and_says_what_to_fix() {
    let home = Home::new("unreachable");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let host = format!("http://127.0.0.1:{port}");
    let run = setup_with_flags(&home, &host, "operate");
    let all = run.all();
    // Exit 1 (documented in --help): installed and configured, but the check failed.
    assert_eq!(run.code, Some(1), "{all}");
    assert!(mode(&home.installed()) & 0o111 != 0);
    let text = std::fs::read_to_string(home.settings()).unwrap();
    assert!(text.contains("PROXMOX_MCP_ACCESS=operate"), "{text}");
    assert!(text.contains(SECRET), "{text}");
    assert_eq!(mode(&home.settings()), 0o600);
    assert!(
        all.lines()
            .any(|l| l.starts_with("✗ connection and login: ") && l.contains("connection refused")),
        "{all}"
    );
    assert!(
        all.contains("The check failed: fix what the ✗ lines say"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "then run: PROXMOX_CONFIG={} {} check",
            home.settings().display(),
            home.installed().display()
        )),
        "{all}"
    );
    assert!(!all.contains(SECRET), "the secret was printed:\n{all}");
    // Not asked for, so Claude Desktop is left alone; the block is printed instead.
    assert!(!home.claude_config().exists());
    assert!(run.stdout.contains("\"mcpServers\""), "{}", run.stdout);
}

#[test]
fn a_token_that_cannot_read_guests_fails_the_run() {
    let home = Home::new("no-privileges");
    let fake = pve_granting(json!({}));
    let prefix = home.path("bin-prefix").display().to_string();
    let url = fake.url();
    let mut vars = token_vars(&url);
    // With the health toolset, whose pending updates need a privilege no auditor role holds.
    vars.push(("PROXMOX_MCP_TOOLS", "default,health"));
    let args = install_args(&prefix, &["--ca-file", CA]);
    let run = setup(&home, &args, &vars);
    let all = run.all();
    assert_eq!(run.code, Some(1), "{all}");
    assert!(all.contains("✗ tools: "), "{all}");
    // Read-only: PVEAuditor on / grants every read privilege missing but the one PVE asks for
    // pending updates (Sys.Modify, which among the built-in roles only Administrator holds),
    // granted only there through a role made with just that privilege; the syslog and journal
    // (Sys.Syslog) come with PVESysAdmin there.
    assert!(
        all.contains("\n    pveum role add ProxmoxMCP --privs 'Sys.Modify'\n"),
        "{all}"
    );
    let grants: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("pveum acl modify"))
        .collect();
    assert_eq!(
        grants,
        [
            "    pveum acl modify /nodes --roles PVESysAdmin,ProxmoxMCP --users mcp@pve --tokens 'mcp@pve!mcp'",
            "    pveum acl modify / --roles PVEAuditor --users mcp@pve --tokens 'mcp@pve!mcp'"
        ],
        "{all}"
    );
    assert!(
        all.contains("The check failed: fix what the ✗ lines say"),
        "{all}"
    );
}

#[test]
fn bad_or_missing_values_stop_before_installing() {
    let home = Home::new("refused");
    let prefix = home.path("bin-prefix").display().to_string();
    let base = install_args(&prefix, &[]);

    // Nothing given and no terminal: no question, a list of what is missing, exit 2.
    let run = setup(&home, &base, &[]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    for what in [
        "--host or PROXMOX_HOST",
        "--user or PROXMOX_USER",
        "--token-value-file",
    ] {
        assert!(run.stderr.contains(what), "{what} not in:\n{}", run.stderr);
    }

    let vars = token_vars("pve1.example.com");
    let mut args = base.to_vec();
    args.extend(["--access", "admin"]);
    let run = setup(&home, &args, &vars);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("access level 'admin' is not read-only, operate or full"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains(SECRET));

    let mut args = base.to_vec();
    args.push("--bogus");
    let run = setup(&home, &args, &vars);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("unknown option --bogus"),
        "{}",
        run.stderr
    );

    assert!(!home.installed().exists());
    assert!(!home.settings().exists());
}

#[test]
fn help_lists_every_option_and_variable() {
    let home = Home::new("help");
    let run = setup(&home, &["--help"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let script = std::fs::read_to_string(SCRIPT).unwrap();
    // Every option the parser takes (`--name)`, `--yes | -y)`) and every variable it reads.
    let mut names: Vec<String> = Vec::new();
    for line in script.lines() {
        let pattern = line.trim();
        if let Some(head) = pattern.strip_suffix(')').or_else(|| {
            pattern
                .split_once(") ")
                .filter(|(h, _)| h.starts_with('-'))
                .map(|(h, _)| h)
        }) {
            let option_chars = |c: char| c.is_ascii_lowercase() || " -|".contains(c);
            if head.starts_with('-') && head.chars().all(option_chars) {
                names.extend(head.split('|').map(|o| o.trim().to_string()));
            }
        }
    }
    let mut rest = script.as_str();
    while let Some(i) = rest.find("PROXMOX_") {
        let var: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        if var.len() > "PROXMOX_".len() && !var.ends_with('_') {
            names.push(var);
        }
        rest = &rest[i + "PROXMOX_".len()..];
    }
    names.sort();
    names.dedup();
    for must in [
        "--binary",
        "--prefix",
        "--yes",
        "--claude-desktop",
        "PROXMOX_TOKEN_VALUE",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "parsed no {must}: {names:?}"
        );
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            !run.stdout
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .any(|w| w == n.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "--help lacks {missing:?}:\n{}",
        run.stdout
    );
}

#[test]
fn refused_credentials_say_run_again_and_readonly_is_an_access_level() {
    let home = Home::new("refused");
    let mut fake = FakePve::new();
    fake.fail("GET", "/version", 401, "authentication failure");
    let url = fake.url();
    let run = setup_with_flags(&home, &url, "readonly");
    let all = run.all();
    assert_eq!(run.code, Some(1), "{all}");
    // `readonly` is what the server accepts too; it is written in the server's own spelling.
    let text = std::fs::read_to_string(home.settings()).unwrap();
    assert!(text.contains("PROXMOX_MCP_ACCESS=read-only\n"), "{text}");
    assert!(
        all.contains("PVE refused the credentials of mcp@pve: check the user and token id in PVE"),
        "{all}"
    );
    assert!(
        all.contains("then run ./setup.sh again with the right secret"),
        "{all}"
    );
    // Never sends the user to edit the file that holds the secret.
    assert!(!all.contains("fix what the ✗ lines say (in"), "{all}");
    assert!(!all.contains(SECRET), "the secret was printed:\n{all}");
}

#[test]
fn toolsets_are_checked_by_the_binary_and_written_only_when_not_default() {
    let home = Home::new("toolsets");
    let fake = pve();
    let prefix = home.path("bin-prefix").display().to_string();
    let url = fake.url();
    let vars = token_vars(&url);
    let base = install_args(&prefix, &["--ca-file", CA]);

    // A name the binary does not know: its message, exit 2, nothing installed or written.
    let mut args = base.to_vec();
    args.extend(["--tools", "default,firewal"]);
    let run = setup(&home, &args, &vars);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains(
            "setup.sh: PROXMOX_MCP_TOOLS: 'firewal' is neither a tool nor a group; groups are default, all,"
        ),
        "{}",
        run.stderr
    );
    assert!(!home.installed().exists() && !home.settings().exists());

    // Toolsets beyond the default (from the environment, spaces allowed): written, and the check
    // shows them.
    let mut with_tools = vars.to_vec();
    with_tools.push(("PROXMOX_MCP_TOOLS", "default, firewall"));
    let run = setup(&home, &base, &with_tools);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let text = std::fs::read_to_string(home.settings()).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "PROXMOX_MCP_TOOLS=default,firewall"),
        "{text}"
    );
    assert!(
        run.all()
            .replace("\n  ", " ")
            .lines()
            .any(|l| l.starts_with("✓ toolsets: ")
                && l.contains(", firewall, ")
                && l.contains("(PROXMOX_MCP_TOOLS=default,firewall)")),
        "{}",
        run.all()
    );

    // Run again without toolsets: the file's choice is kept.
    let run = setup(&home, &base, &[]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let text = std::fs::read_to_string(home.settings()).unwrap();
    assert!(
        text.contains("PROXMOX_MCP_TOOLS=default,firewall"),
        "{text}"
    );

    // Back to the default: the line goes (the default is what an unset variable means).
    let mut args = base.to_vec();
    args.extend(["--tools", "default"]);
    let run = setup(&home, &args, &[]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    let text = std::fs::read_to_string(home.settings()).unwrap();
    assert!(!text.contains("PROXMOX_MCP_TOOLS"), "{text}");
    assert!(
        run.all().replace("\n  ", " ")
            .contains("✓ toolsets: nodes, vms, containers, snapshots, storage, tasks, cluster (partly), backups (partly), health (partly) (PROXMOX_MCP_TOOLS=default)"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(SECRET));
}
