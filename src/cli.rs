//! The command line: `serve` (default), `check`, `tools`, `call`, `alerts`, `agent-card`; flags from `config::SETTINGS`.

use std::io::{self, BufReader, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::alerts;
use crate::config::{Auth, Config, SETTINGS};
use crate::error::Error;
use crate::mcp::{self, Server};
use crate::policy::Policy;
use crate::pve::Pve;
use crate::resources;
use crate::tools::{self, Ctx};

const USAGE: &str = "\
usage: proxmox-mcp-server [FLAGS] [COMMAND]

commands:
  (none)                 serve MCP over stdin/stdout (what MCP hosts run)
  check                  test connection, TLS, login, PVE version and privileges (alias: test-connection); --json
  tools [--json]         list the tools offered (by access level and toolsets) and the toolsets
  call TOOL [key=value ...] [--json ARGS]
                         run one tool and print its result (values parse as JSON when they can)
  alerts [--json] [--watch SECONDS]
                         evaluate the alert rules once and print the alerts (a table, or JSON);
                         exit status 0 none or info only, 1 warning, 2 critical, 3 could not check
                         (a monitoring plugin's); --watch re-checks every SECONDS, printing changes
  agent-card             print the A2A agent card (agent-card.json)
  claude-config [--file PATH] [--name NAME]
                         add this server (with --config / PROXMOX_CONFIG) to Claude Desktop's
                         claude_desktop_config.json: merged, other servers kept, backup first
  --version, --help
";

#[derive(Debug, PartialEq)]
enum Command {
    Serve,
    Check {
        json: bool,
    },
    Tools {
        json: bool,
    },
    Call {
        tool: String,
        args: Map<String, Value>,
    },
    Alerts {
        json: bool,
        watch: Option<u64>,
    },
    AgentCard,
    ClaudeConfig {
        file: Option<String>,
        name: String,
    },
    Version,
    Help,
}

/// Parsed command line: the command and the settings given as flags.
#[derive(Debug)]
struct Cli {
    command: Command,
    flags: Vec<(&'static str, String)>,
}

fn help() -> String {
    let mut h = String::from(USAGE);
    h.push_str("\nsettings (environment variable, flag; a flag wins over the environment, which wins over PROXMOX_CONFIG):\n");
    for s in SETTINGS {
        let flag = s.flag.map(|f| format!(" / --{f}")).unwrap_or_default();
        let help = s.help_text();
        h.push_str(&format!("  {}{flag}\n      {help}\n", s.var));
        if s.secret {
            h.push_str(&format!(
                "  {}_FILE\n      read {} from this file\n",
                s.var, s.var
            ));
        }
    }
    h.push_str("  --insecure = PROXMOX_VERIFY_SSL=false\n");
    h
}

fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Cli, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut flags = Vec::new();
    let mut command: Option<String> = None;
    let mut json_switch = false;
    let mut json_args: Option<String> = None;
    let mut desktop_file: Option<String> = None;
    let mut desktop_name = "proxmox".to_string();
    let mut watch: Option<u64> = None;
    let mut positional: Vec<String> = Vec::new();
    let text = |v: std::ffi::OsString| {
        v.into_string()
            .map_err(|_| "arguments must be UTF-8".to_string())
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Cli {
                    command: Command::Help,
                    flags,
                })
            }
            Short('V') | Long("version") => {
                return Ok(Cli {
                    command: Command::Version,
                    flags,
                })
            }
            Long("insecure") => flags.push(("PROXMOX_VERIFY_SSL", "false".to_string())),
            Long("json") if command.as_deref() == Some("call") => {
                json_args = Some(text(parser.value().map_err(|e| e.to_string())?)?);
            }
            Long("json") => json_switch = true,
            Long("file") if command.as_deref() == Some("claude-config") => {
                desktop_file = Some(text(parser.value().map_err(|e| e.to_string())?)?);
            }
            Long("watch") if command.as_deref() == Some("alerts") => {
                let v = text(parser.value().map_err(|e| e.to_string())?)?;
                let seconds = v.parse::<u64>().ok().filter(|s| (1..=86_400).contains(s));
                watch = Some(seconds.ok_or_else(|| {
                    format!("--watch {v}: expected a number of seconds from 1 to 86400")
                })?);
            }
            Long("name") if command.as_deref() == Some("claude-config") => {
                desktop_name = text(parser.value().map_err(|e| e.to_string())?)?;
            }
            Long(name) => {
                let Some(setting) = SETTINGS.iter().find(|s| s.flag == Some(name)) else {
                    return Err(format!("unknown flag --{name}; see --help"));
                };
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                flags.push((setting.var, value));
            }
            Value(v) if command.is_none() => command = Some(text(v)?),
            Value(v) => positional.push(text(v)?),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let no_more = |what: &str| -> Result<(), String> {
        match positional.first() {
            Some(p) => Err(format!("unexpected argument '{p}' after {what}")),
            None => Ok(()),
        }
    };
    let command = match command.as_deref() {
        None | Some("serve") => {
            no_more("serve")?;
            Command::Serve
        }
        Some("check") | Some("test-connection") => {
            no_more("check")?;
            Command::Check { json: json_switch }
        }
        Some("tools") => {
            no_more("tools")?;
            Command::Tools { json: json_switch }
        }
        Some("alerts") => {
            no_more("alerts")?;
            Command::Alerts {
                json: json_switch,
                watch,
            }
        }
        Some("agent-card") => {
            no_more("agent-card")?;
            Command::AgentCard
        }
        Some("claude-config") => {
            no_more("claude-config")?;
            Command::ClaudeConfig {
                file: desktop_file,
                name: desktop_name,
            }
        }
        Some("call") => {
            let mut rest = positional.into_iter();
            let tool = rest
                .next()
                .ok_or("call needs a tool name: proxmox-mcp-server call TOOL [key=value ...]")?;
            let mut args = match json_args {
                None => Map::new(),
                Some(j) => match serde_json::from_str(&j) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => {
                        return Err(format!(
                            "--json {j}: expected a JSON object such as '{{\"vmid\": 100}}'"
                        ))
                    }
                },
            };
            for pair in rest {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("'{pair}': write arguments as key=value"))?;
                let value = serde_json::from_str(v)
                    .unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
                args.insert(k.to_string(), value);
            }
            Command::Call { tool, args }
        }
        Some(other) => return Err(format!("unknown command '{other}'; see --help")),
    };
    Ok(Cli { command, flags })
}

/// The process entry point.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cli = match parse(args.clone()) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("proxmox-mcp-server: {e}");
            // For the alerts command 2 means critical: anything that stops the check is 3.
            let alerts = args.iter().any(|a| a == "alerts");
            return ExitCode::from(if alerts { UNKNOWN } else { 2 });
        }
    };
    match cli.command {
        Command::Help => return print(&help()),
        Command::Version => return print(&format!("{}\n", version_line())),
        Command::AgentCard => {
            let card = serde_json::to_string_pretty(&crate::card::agent_card()).unwrap_or_default();
            return print(&format!("{card}\n"));
        }
        _ => {}
    }
    let env = |k: &str| std::env::var(k).ok();
    for warning in crate::config::unknown_variables(
        std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()),
    ) {
        eprintln!("proxmox-mcp-server: warning: {warning}");
    }
    if let Command::ClaudeConfig { file, name } = &cli.command {
        return claude_config(&env, &cli.flags, file.as_deref(), name);
    }
    if let Command::Tools { json } = cli.command {
        // Listing tools needs no connection, so no host or credentials either.
        let selection = Config::resolve_selection(&env, &cli.flags)
            .and_then(|p| tools::check_selection(&p.allow, &p.deny).map(|()| p));
        return match selection {
            Ok(policy) => list_tools(&policy, json),
            Err(e) => config_error(&e),
        };
    }
    // `check` reports a refused setting as its first finding (on stdout, JSON with --json).
    let refused = |e: &Error| match cli.command {
        Command::Check { json } => {
            let detail = match e {
                Error::Config(msg) => msg.clone(),
                other => other.to_string(),
            };
            let finding = crate::check::finding("configuration", false, detail);
            print(&crate::check::render(false, &[finding], json));
            ExitCode::from(2)
        }
        Command::Alerts { json, .. } => {
            print(&unknown_text(e, json));
            ExitCode::from(UNKNOWN)
        }
        _ => config_error(e),
    };
    let config = match Config::resolve(&env, &cli.flags)
        .and_then(|c| tools::check_selection(&c.tools, &c.deny_tools).map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return refused(&e),
    };
    crate::log::set_level(config.log);
    let pve = match Pve::new(&config) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    let policy = match Policy::new(&config) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    match cli.command {
        // The session and the alerts watch share one client and policy, for the process's life.
        Command::Serve => serve(
            &config,
            Box::leak(Box::new(pve)),
            Box::leak(Box::new(policy)),
        ),
        Command::Check { json } => check(&config, &policy, json),
        Command::Call { tool, args } => call(&config, &pve, &policy, &tool, &args),
        Command::Alerts { json, watch: None } => alerts_once(&pve, &policy, json),
        Command::Alerts {
            json,
            watch: Some(seconds),
        } => alerts_watch(&pve, &policy, json, seconds),
        _ => ExitCode::SUCCESS,
    }
}

/// `claude-config`: points Claude Desktop at this binary and the settings file.
fn claude_config(
    env: &dyn Fn(&str) -> Option<String>,
    flags: &[(&'static str, String)],
    file: Option<&str>,
    name: &str,
) -> ExitCode {
    let settings = flags
        .iter()
        .rev()
        .find(|(k, _)| *k == "PROXMOX_CONFIG")
        .map(|(_, v)| v.clone())
        .or_else(|| env("PROXMOX_CONFIG"));
    let Some(settings) = settings.filter(|s| !s.is_empty()) else {
        eprintln!("proxmox-mcp-server: claude-config needs the settings file the server should read: pass --config FILE (setup.sh writes one)");
        return ExitCode::from(2);
    };
    let settings = match std::fs::canonicalize(&settings) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("proxmox-mcp-server: --config {settings}: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(file) = file
        .map(std::path::PathBuf::from)
        .or_else(|| crate::desktop::default_path(env))
    else {
        eprintln!("proxmox-mcp-server: cannot tell where Claude Desktop keeps its configuration here; pass --file PATH");
        return ExitCode::from(2);
    };
    let command = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .unwrap_or_else(|_| "proxmox-mcp-server".into());
    match crate::desktop::add_server(&file, name, &command, &settings) {
        Ok(done) => print(&format!("{done}\n")),
        Err(e) => {
            eprintln!("proxmox-mcp-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What `--version` prints: version, the git commit built from (build.rs; "unknown" without
/// git) and the target triple.
pub fn version_line() -> String {
    format!(
        "proxmox-mcp-server {} (commit {}, target {})",
        env!("CARGO_PKG_VERSION"),
        env!("PROXMOX_MCP_GIT_COMMIT"),
        env!("PROXMOX_MCP_TARGET")
    )
}

fn config_error(e: &Error) -> ExitCode {
    eprintln!("proxmox-mcp-server: {e}");
    ExitCode::from(2)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn serve(config: &Config, pve: &'static Pve, policy: &'static Policy) -> ExitCode {
    crate::info!(
        "serving MCP on stdio for {} as {} ({}), access {}",
        pve.host().base_url(),
        pve.identity(),
        auth_name(&config.auth),
        config.access.name()
    );
    // Start-up never waits on PVE: the first request is the client's (`check` tests the connection).
    let mut server = Server::new(pve, policy, config.task_wait).with_watch(alerts_resource(
        pve,
        policy,
        Duration::from_secs(config.alert_interval),
    ));
    let stdin = BufReader::with_capacity(64 * 1024, io::stdin());
    match mcp::serve(&mut server, stdin, io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxmox-mcp-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `proxmox://alerts`, re-checked every `interval` while a client is subscribed: what changes it
/// is an alert appearing or clearing, or a severity changing (not a message's numbers).
fn alerts_resource(pve: &'static Pve, policy: &'static Policy, interval: Duration) -> mcp::Watch {
    let check = move || match tools::alerts::evaluate(pve, &policy.alerts, SystemTime::now()) {
        Ok(found) => {
            let mut state: Vec<String> = found
                .iter()
                .map(|a| format!("{}={}", a.id, a.severity.name()))
                .collect();
            state.sort();
            state
        }
        Err(_) => vec!["could not check".to_string()],
    };
    mcp::Watch::new(resources::ALERTS_URI, interval, Box::new(check))
}

fn auth_name(auth: &Auth) -> &'static str {
    match auth {
        Auth::Token { .. } => "API token",
        Auth::Password { .. } => "password login",
    }
}

fn list_tools(policy: &Policy, json_out: bool) -> ExitCode {
    let active: Vec<_> = tools::active(policy).collect();
    if json_out {
        let list: Vec<Value> = active
            .iter()
            .map(|t| {
                let toolsets: Vec<&str> = t.areas().iter().map(|a| a.name()).collect();
                json!({"name": t.name, "title": t.title, "effect": t.effect.name(), "area": t.area.name(), "toolsets": toolsets, "default": t.has(tools::Mark::Everyday), "description": t.full_description()})
            })
            .collect();
        return print(&format!("{}\n", Value::Array(list)));
    }
    let mut out = format!("toolsets: {}\n", tools::toolsets_line(policy));
    for t in active {
        out.push_str(&format!(
            "{:<22} {:<8} {}\n",
            t.name,
            t.effect.name(),
            t.description
        ));
    }
    print(&out)
}

fn call(
    config: &Config,
    pve: &Pve,
    policy: &Policy,
    name: &str,
    args: &Map<String, Value>,
) -> ExitCode {
    let Some(tool) = tools::find(name) else {
        eprintln!(
            "proxmox-mcp-server: unknown tool '{name}'; `proxmox-mcp-server tools` lists them"
        );
        return ExitCode::from(2);
    };
    let ctx = Ctx::new(pve, policy, &tools::TOOLS, config.task_wait, &tools::Sleep);
    match tools::run(&ctx, tool, args) {
        Ok(content) => print(&format!("{}\n", Value::Object(content))),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a monitoring plugin that could not check.
const UNKNOWN: u8 = 3;

/// What `alerts` prints when it could not check: the monitoring plugin's first line, or JSON.
fn unknown_text(e: &Error, json_out: bool) -> String {
    if json_out {
        format!("{}\n", json!({"error": e.to_string()}))
    } else {
        format!("ALERTS UNKNOWN - {e}\n")
    }
}

/// `alerts`: one evaluation, printed; the exit status says the worst severity.
fn alerts_once(pve: &Pve, policy: &Policy, json_out: bool) -> ExitCode {
    match tools::alerts::evaluate(pve, &policy.alerts, std::time::SystemTime::now()) {
        Ok(found) => {
            let text = if json_out {
                let list: Vec<Value> = found.iter().map(alerts::Alert::to_json).collect();
                format!(
                    "{}\n",
                    json!({"data": list, "counts": alerts::counts(&found)})
                )
            } else {
                alerts::table(&found)
            };
            print(&text);
            ExitCode::from(alerts::exit_status(&found))
        }
        Err(e) => {
            print(&unknown_text(&e, json_out));
            ExitCode::from(UNKNOWN)
        }
    }
}

/// `alerts --watch SECONDS`: the alerts, then every SECONDS what changed (new, cleared,
/// severity), each line stamped with the time; a failed check is said once, when it starts.
/// Runs until interrupted or stdout closes.
fn alerts_watch(pve: &Pve, policy: &Policy, json_out: bool, seconds: u64) -> ExitCode {
    let mut last: Option<Vec<alerts::Alert>> = None;
    let mut failing = false;
    loop {
        let now = std::time::SystemTime::now();
        let stamp = crate::time::rfc3339(now);
        let mut out = String::new();
        match tools::alerts::evaluate(pve, &policy.alerts, now) {
            Ok(found) => {
                failing = false;
                match &last {
                    None if json_out => {
                        let list: Vec<Value> = found.iter().map(alerts::Alert::to_json).collect();
                        out = format!("{}\n", json!({"time": stamp, "data": list}));
                    }
                    None => out = format!("{stamp} {}", alerts::table(&found)),
                    Some(before) => {
                        for change in alerts::changes(before, &found) {
                            if json_out {
                                let mut c = change.to_json();
                                c["time"] = json!(stamp);
                                out.push_str(&format!("{c}\n"));
                            } else {
                                out.push_str(&format!("{stamp} {}\n", change.line()));
                            }
                        }
                    }
                }
                last = Some(found);
            }
            Err(e) if !failing => {
                failing = true;
                out = unknown_text(&e, json_out);
                if !json_out {
                    out = format!("{stamp} {out}");
                }
            }
            Err(_) => {}
        }
        if !out.is_empty() {
            let mut stdout = io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return ExitCode::SUCCESS;
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
}

fn check(config: &Config, policy: &Policy, json_out: bool) -> ExitCode {
    let (ok, findings) = crate::check::run(config, policy);
    print(&crate::check::render(ok, &findings, json_out));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = Result<(Command, &'a [(&'a str, &'a str)]), &'a str>;

    fn check_parse(args: &[&str], expected: Expected) {
        let got = parse(args.iter().map(std::ffi::OsString::from));
        match (got, expected) {
            (Ok(cli), Ok((command, flags))) => {
                assert_eq!(cli.command, command);
                let flags: Vec<(&str, String)> =
                    flags.iter().map(|(k, v)| (*k, v.to_string())).collect();
                assert_eq!(cli.flags, flags);
            }
            (Err(e), Err(want)) => assert!(e.contains(want), "{e:?} does not contain {want:?}"),
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn command_lines() {
        check_parse(&[], Ok((Command::Serve, &[])));
        check_parse(
            &["--host", "pve1", "--access=operate"],
            Ok((
                Command::Serve,
                &[("PROXMOX_HOST", "pve1"), ("PROXMOX_MCP_ACCESS", "operate")],
            )),
        );
        check_parse(
            &["test-connection", "--json", "--insecure"],
            Ok((
                Command::Check { json: true },
                &[("PROXMOX_VERIFY_SSL", "false")],
            )),
        );
        check_parse(
            &["tools", "--json"],
            Ok((Command::Tools { json: true }, &[])),
        );
        let mut args = Map::new();
        args.insert("vmid".into(), json!(100));
        args.insert("node".into(), json!("pve1"));
        args.insert("force_stop".into(), json!(true));
        check_parse(
            &[
                "call",
                "shutdown_vm",
                "vmid=100",
                "--json",
                r#"{"node":"pve1"}"#,
                "force_stop=true",
            ],
            Ok((
                Command::Call {
                    tool: "shutdown_vm".into(),
                    args,
                },
                &[],
            )),
        );
        check_parse(&["call"], Err("call needs a tool name"));
        check_parse(&["call", "x", "vmid"], Err("write arguments as key=value"));
        check_parse(
            &["call", "x", "--json", "[1]"],
            Err("expected a JSON object"),
        );
        check_parse(
            &["alerts", "--json", "--watch", "60"],
            Ok((
                Command::Alerts {
                    json: true,
                    watch: Some(60),
                },
                &[],
            )),
        );
        check_parse(
            &["alerts", "--watch", "0"],
            Err("--watch 0: expected a number of seconds"),
        );
        check_parse(&["tools", "--watch", "5"], Err("unknown flag --watch"));
        check_parse(&["frobnicate"], Err("unknown command 'frobnicate'"));
        check_parse(&["--token-value", "x"], Err("unknown flag --token-value"));
        check_parse(
            &["tools", "extra"],
            Err("unexpected argument 'extra' after tools"),
        );
    }

    #[test]
    fn help_names_every_setting() {
        let h = help();
        for s in SETTINGS {
            assert!(h.contains(s.var), "{}", s.var);
        }
        assert!(h.contains("PROXMOX_TOKEN_VALUE_FILE"));
    }
}
