//! The configuration: one table of settings, read from a file, the environment and flags, in that order.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::alerts::Rules;
use crate::error::Error;
use crate::log::Level;
use crate::policy::{Access, Audit, Policy, Protect, AREAS};
use crate::tls::{Fingerprint, Trust};

/// One setting: its environment variable, its flag (if any) and what it means (for `--help` and the README).
pub struct Setting {
    pub var: &'static str,
    pub flag: Option<&'static str>,
    pub secret: bool,
    pub help: &'static str,
}

impl Setting {
    /// The help text as shown (`--help`, the registry entry): `{areas}` filled in from
    /// `Area::ALL`, so it never lists fewer toolsets than there are.
    pub fn help_text(&self) -> String {
        self.help.replace("{areas}", &AREAS.join(", "))
    }
}

/// Every setting the server reads. `*_FILE` variants of secrets are derived from `secret: true`.
pub const SETTINGS: &[Setting] = &[
    Setting { var: "PROXMOX_HOST", flag: Some("host"), secret: false, help: "PVE host: name/IP, host:port or https://host:port; comma list = nodes of one cluster (required)" },
    Setting { var: "PROXMOX_PORT", flag: Some("port"), secret: false, help: "port used where the host has none (default 8006)" },
    Setting { var: "PROXMOX_USER", flag: Some("user"), secret: false, help: "user@realm, e.g. root@pam or mcp@pve (required)" },
    Setting { var: "PROXMOX_TOKEN_NAME", flag: Some("token-name"), secret: false, help: "API token id, the part after '!'" },
    Setting { var: "PROXMOX_TOKEN_VALUE", flag: None, secret: true, help: "API token secret (UUID)" },
    Setting { var: "PROXMOX_PASSWORD", flag: None, secret: true, help: "password login (ticket renewed automatically); a token wins when both are set" },
    Setting { var: "PROXMOX_TOTP_SECRET", flag: None, secret: true, help: "base32 TOTP secret of a user with two-factor login (password login only); the server computes each code itself" },
    Setting { var: "PROXMOX_VERIFY_SSL", flag: None, secret: false, help: "false turns certificate checks off (warns at every start; prefer PROXMOX_FINGERPRINT); flag: --insecure" },
    Setting { var: "PROXMOX_CA_FILE", flag: Some("ca-file"), secret: false, help: "PEM file of the CA to trust, e.g. the cluster's pve-root-ca.pem" },
    Setting { var: "PROXMOX_FINGERPRINT", flag: Some("fingerprint"), secret: false, help: "SHA-256 fingerprint(s) of the node certificate (AB:CD:..., comma list); only a matching certificate is accepted" },
    Setting { var: "PROXMOX_MCP_ACCESS", flag: Some("access"), secret: false, help: "read-only (default), operate or full" },
    Setting { var: "PROXMOX_MCP_TOOLS", flag: Some("tools"), secret: false, help: "the tools listed, comma-separated, a union of: default (the everyday tools: at most 40, listed by `tools`; also when unset), all, toolsets ({areas}), effects (read, operate, destroy), tool names; the access level still decides what is allowed" },
    Setting { var: "PROXMOX_MCP_DENY_TOOLS", flag: Some("deny-tools"), secret: false, help: "never these tools, toolsets or effects, comma-separated, applied after PROXMOX_MCP_TOOLS (a toolset names every tool acting on it: containers also hides container snapshots and metrics)" },
    Setting { var: "PROXMOX_MCP_PROTECTED", flag: Some("protected"), secret: false, help: "guests no tool may change: VMIDs, ranges like 100-199, tag:NAME, comma-separated" },
    Setting { var: "PROXMOX_MCP_ALLOW_EXEC", flag: Some("allow-exec"), secret: false, help: "true enables exec_in_vm / exec_in_container (a remote shell) at access full" },
    Setting { var: "PROXMOX_MCP_ALLOW_HOST_CONFIG", flag: Some("allow-host-config"), secret: false, help: "true allows guest config keys that act on the host (args, hookscript, host devices and paths, privileged containers) at access full" },
    Setting { var: "PROXMOX_MCP_ALLOW_ACCESS_ADMIN", flag: Some("allow-access-admin"), secret: false, help: "true offers the tools that create, change and delete users, groups, API tokens and permissions (the access toolset's writes) at access full" },
    Setting { var: "PROXMOX_MCP_SECRETS_DIR", flag: Some("secrets-dir"), secret: false, help: "existing directory, writable only by its owner, where create_api_token writes each new token's secret to a new 0600 file (the secret never enters a result); create_api_token is offered only with it; the only place create_notification_endpoint reads a secret_file from (never the server's own secret files nor *.token)" },
    Setting { var: "PROXMOX_MCP_AUDIT_LOG", flag: Some("audit-log"), secret: false, help: "append JSON lines (intent before anything is sent, then the task and the outcome) for every operate/destroy call, and for refused ones, to this file (0600)" },
    Setting { var: "PROXMOX_MCP_ALERTS", flag: Some("alerts-file"), secret: false, help: "file of KEY=value lines changing the alert rules (get_alerts, the alerts command): thresholds such as STORAGE_WARNING=80, BACKUP_EXCLUDE_TAG, DISABLE=rule,...; unknown keys are refused" },
    Setting { var: "PROXMOX_TIMEOUT", flag: Some("timeout"), secret: false, help: "seconds per HTTP request (default 30)" },
    Setting { var: "PROXMOX_TASK_WAIT", flag: Some("task-wait"), secret: false, help: "default seconds a tool waits for the PVE task it started (default 120)" },
    Setting { var: "PROXMOX_MCP_ALERT_INTERVAL", flag: Some("alert-interval"), secret: false, help: "seconds between re-checks of the alert rules while a client is subscribed to proxmox://alerts (default 60, 1-86400)" },
    Setting { var: "PROXMOX_CONFIG", flag: Some("config"), secret: false, help: "file of KEY=value lines with these names, read first; must be 0600 when it holds a secret" },
    Setting { var: "PROXMOX_MCP_LOG", flag: Some("log"), secret: false, help: "stderr verbosity: error, warn (default), info, debug" },
];

/// A secret value: never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How the server logs in to PVE.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// `Authorization: PVEAPIToken=USER@REALM!NAME=SECRET`.
    Token { name: String, value: Secret },
    /// `POST /access/ticket`, then a cookie and a CSRF header; renewed before it expires.
    /// `totp` is the base32 TOTP secret of a user with two-factor login.
    Password {
        password: Secret,
        totp: Option<Secret>,
    },
}

/// One PVE endpoint to talk to.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// `https` (or `http`, for local test servers only).
    pub scheme: &'static str,
    pub host: String,
    pub port: u16,
}

impl Host {
    /// `https://pve1:8006`.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub hosts: Vec<Host>,
    pub user: String,
    pub auth: Auth,
    pub trust: Trust,
    pub access: Access,
    pub timeout: Duration,
    pub task_wait: u64,
    /// PROXMOX_MCP_ALERT_INTERVAL: seconds between re-checks of `proxmox://alerts` while a
    /// client is subscribed.
    pub alert_interval: u64,
    pub log: Level,
    /// PROXMOX_MCP_TOOLS: toolsets, `default`, `all`, effects and tool names (empty = `default`).
    pub tools: Vec<String>,
    /// PROXMOX_MCP_DENY_TOOLS.
    pub deny_tools: Vec<String>,
    pub protected: Vec<Protect>,
    pub audit_log: Option<PathBuf>,
    /// PROXMOX_MCP_ALLOW_EXEC: the exec tools may be offered (at `full`).
    pub allow_exec: bool,
    /// PROXMOX_MCP_ALLOW_HOST_CONFIG: host-level guest config keys may be set (at `full`).
    pub allow_host_config: bool,
    /// PROXMOX_MCP_ALLOW_ACCESS_ADMIN: users, groups, tokens and ACLs may be changed (at `full`).
    pub allow_access_admin: bool,
    /// PROXMOX_MCP_SECRETS_DIR: where new API token secrets are written (checked when used).
    pub secrets_dir: Option<PathBuf>,
    /// The files this server's own settings name (`own_files`): never a notification secret.
    pub own_files: Vec<PathBuf>,
    /// PROXMOX_MCP_ALERTS: the alert rules' thresholds (defaults without the file).
    pub alerts: Rules,
}

/// The CA that a PVE node's own certificate is signed by, present on every cluster node.
pub const PVE_HOST_CA: &str = "/etc/pve/pve-root-ca.pem";

impl Config {
    /// Resolves the configuration from the config file, the environment (`env`) and `flags`
    /// (pairs of variable name and value, as the command line gave them), later sources winning.
    pub fn resolve(
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[(&'static str, String)],
    ) -> Result<Config, Error> {
        Config::resolve_with(env, flags, Path::new(PVE_HOST_CA))
    }

    /// As `resolve`, with the on-host CA path given (so tests can point it elsewhere).
    pub fn resolve_with(
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[(&'static str, String)],
        host_ca: &Path,
    ) -> Result<Config, Error> {
        Config::from_values(&gather(env, flags)?, host_ca)
    }

    /// Only which tools are on (access level and selection), for commands that never contact PVE.
    pub fn resolve_selection(
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[(&'static str, String)],
    ) -> Result<Policy, Error> {
        let values = gather(env, flags)?;
        let (access, allow, deny) = selection(&values)?;
        Ok(Policy {
            allow,
            deny,
            allow_exec: allow_exec(&values)?,
            allow_host_config: switch(&values, "PROXMOX_MCP_ALLOW_HOST_CONFIG")?,
            allow_access_admin: switch(&values, "PROXMOX_MCP_ALLOW_ACCESS_ADMIN")?,
            secrets_dir: value(&values, "PROXMOX_MCP_SECRETS_DIR").map(PathBuf::from),
            ..Policy::with_access(access)
        })
    }

    fn from_values(values: &BTreeMap<String, String>, host_ca: &Path) -> Result<Config, Error> {
        let log = log_level(values)?;
        let hosts = hosts(values)?;
        let (user, auth) = credentials(values)?;
        refuse_plain_http(&hosts)?;
        let trust = trust(values, host_ca)?;
        let (access, tools, deny_tools) = selection(values)?;
        let protected = protected(values)?;
        let audit_log = value(values, "PROXMOX_MCP_AUDIT_LOG").map(PathBuf::from);
        let allow_exec = allow_exec(values)?;
        let allow_host_config = switch(values, "PROXMOX_MCP_ALLOW_HOST_CONFIG")?;
        let allow_access_admin = switch(values, "PROXMOX_MCP_ALLOW_ACCESS_ADMIN")?;
        let secrets_dir = value(values, "PROXMOX_MCP_SECRETS_DIR").map(PathBuf::from);
        let own_files = own_files(values);
        let (timeout, task_wait) = limits(values)?;
        let alert_interval = alert_interval(values)?;
        let alerts = match value(values, "PROXMOX_MCP_ALERTS") {
            Some(path) => Rules::load(Path::new(path))?,
            None => Rules::default(),
        };
        Ok(Config {
            hosts,
            user,
            auth,
            trust,
            access,
            timeout: Duration::from_secs(timeout),
            task_wait,
            alert_interval,
            log,
            tools,
            deny_tools,
            protected,
            audit_log,
            allow_exec,
            allow_host_config,
            allow_access_admin,
            secrets_dir,
            own_files,
            alerts,
        })
    }
}

/// The settings decide the policy.
impl Policy {
    /// The policy of `config`, opening the audit log (an unwritable path is a start-up error).
    pub fn new(config: &Config) -> Result<Policy, Error> {
        let audit = match &config.audit_log {
            Some(path) => Some(Audit::open(path)?),
            None => None,
        };
        Ok(Policy {
            access: config.access,
            allow: config.tools.clone(),
            deny: config.deny_tools.clone(),
            protected: config.protected.clone(),
            audit,
            allow_exec: config.allow_exec,
            allow_host_config: config.allow_host_config,
            allow_access_admin: config.allow_access_admin,
            secrets_dir: config.secrets_dir.clone(),
            own_files: config.own_files.clone(),
            alerts: config.alerts.clone(),
        })
    }
}
/// The files the server's own settings name: its secrets' `*_FILE`s (token value, password, TOTP
/// secret), the config file and the audit log. No tool may send one of them anywhere (a
/// notification endpoint's `secret_file`).
fn own_files(values: &BTreeMap<String, String>) -> Vec<PathBuf> {
    let secret_files = SETTINGS
        .iter()
        .filter(|s| s.secret)
        .map(|s| format!("{}_FILE", s.var));
    let others = ["PROXMOX_CONFIG", "PROXMOX_MCP_AUDIT_LOG"].map(String::from);
    secret_files
        .chain(others)
        .filter_map(|var| value(values, &var).map(PathBuf::from))
        .collect()
}

/// PROXMOX_MCP_LOG.
fn log_level(values: &BTreeMap<String, String>) -> Result<Level, Error> {
    let get = |var: &str| value(values, var).map(str::to_string);
    Ok(match get("PROXMOX_MCP_LOG") {
        None => Level::Warn,
        Some(v) => Level::parse(&v).ok_or_else(|| {
            Error::Config(format!(
                "PROXMOX_MCP_LOG={v} is not a log level; use error, warn, info or debug"
            ))
        })?,
    })
}

/// PROXMOX_HOST (one or several, comma-separated) and PROXMOX_PORT.
fn hosts(values: &BTreeMap<String, String>) -> Result<Vec<Host>, Error> {
    let get = |var: &str| value(values, var).map(str::to_string);
    let port = match get("PROXMOX_PORT") {
        None => 8006,
        Some(v) => v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            Error::Config(format!("PROXMOX_PORT={v} is not a port number (1-65535)"))
        })?,
    };
    let host_list = get("PROXMOX_HOST").ok_or_else(|| {
        Error::Config("PROXMOX_HOST is not set; set it to the PVE node's name or address, e.g. PROXMOX_HOST=pve1.example.com".into())
    })?;
    let hosts = host_list
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| parse_host(h, port))
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(Error::Config("PROXMOX_HOST names no host".into()));
    }
    Ok(hosts)
}

/// PROXMOX_USER and either an API token or a password (with a TOTP secret).
fn credentials(values: &BTreeMap<String, String>) -> Result<(String, Auth), Error> {
    let get = |var: &str| value(values, var).map(str::to_string);
    let mut user = get("PROXMOX_USER").ok_or_else(|| {
        Error::Config(
            "PROXMOX_USER is not set; set it to user@realm, e.g. PROXMOX_USER=root@pam".into(),
        )
    })?;
    let mut token_name = get("PROXMOX_TOKEN_NAME");
    if let Some((u, t)) = user.clone().split_once('!') {
        if token_name.as_deref().is_some_and(|n| n != t) {
            return Err(Error::Config(format!(
                "PROXMOX_USER={user} names token '{t}' but PROXMOX_TOKEN_NAME={}; give the token name once",
                token_name.unwrap_or_default()
            )));
        }
        token_name = Some(t.to_string());
        user = u.to_string();
    }
    if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
        return Err(Error::Config(format!(
            "PROXMOX_USER={user} has no realm; write user@realm, e.g. root@pam or mcp@pve"
        )));
    }
    let token_value = secret(values, "PROXMOX_TOKEN_VALUE")?;
    let password = secret(values, "PROXMOX_PASSWORD")?;
    let totp = secret(values, "PROXMOX_TOTP_SECRET")?;
    let auth = match (token_name, token_value, password) {
        (Some(name), Some(value), _) => {
            if !valid_token_name(&name) {
                return Err(Error::Config(format!(
                    "PROXMOX_TOKEN_NAME={name} is not a token id (a letter, then letters, digits, '.', '-' or '_')"
                )));
            }
            Auth::Token { name, value }
        }
        (Some(_), None, None) => {
            return Err(Error::Config(
                "PROXMOX_TOKEN_NAME is set but PROXMOX_TOKEN_VALUE is not; set the token secret (or PROXMOX_TOKEN_VALUE_FILE)".into(),
            ))
        }
        (None, Some(_), None) => {
            return Err(Error::Config(
                "PROXMOX_TOKEN_VALUE is set but PROXMOX_TOKEN_NAME is not; set the token id (the part after '!')".into(),
            ))
        }
        (_, _, Some(password)) => {
            if let Some(secret) = &totp {
                crate::totp::decode_base32(secret.expose()).map_err(|e| Error::Config(format!("PROXMOX_TOTP_SECRET: {e}")))?;
            }
            Auth::Password { password, totp }
        }
        (None, None, None) => {
            return Err(Error::Config(
                "no credentials: set PROXMOX_TOKEN_NAME and PROXMOX_TOKEN_VALUE (an API token, recommended) or PROXMOX_PASSWORD".into(),
            ))
        }
    };
    Ok((user, auth))
}

/// Plain http would carry the token or password (and then the ticket) in clear text, so it is
/// refused, except to a loopback address (127.0.0.0/8, ::1, localhost): nothing leaves this
/// machine there, and the test suite's mocked PVE listens on http://127.0.0.1:PORT.
fn refuse_plain_http(hosts: &[Host]) -> Result<(), Error> {
    if let Some(host) = hosts
        .iter()
        .find(|h| h.scheme == "http" && !is_loopback(&h.host))
    {
        return Err(Error::Config(format!(
            "PROXMOX_HOST={} uses plain http, which would send the credentials unencrypted; use https://{}:{} \
             (PVE serves https on port 8006). Plain http is allowed only to a loopback address \
             (127.0.0.0/8, ::1, localhost), where nothing leaves this machine",
            host.base_url(),
            host.host,
            host.port
        )));
    }
    Ok(())
}

/// How the PVE certificate is checked: PROXMOX_FINGERPRINT, PROXMOX_VERIFY_SSL, PROXMOX_CA_FILE,
/// else the node's own CA (`host_ca`) when readable, and the system roots.
fn trust(values: &BTreeMap<String, String>, host_ca: &Path) -> Result<Trust, Error> {
    let get = |var: &str| value(values, var).map(str::to_string);
    let verify = match get("PROXMOX_VERIFY_SSL") {
        None => true,
        Some(v) => parse_bool(&v)
            .ok_or_else(|| Error::Config(format!("PROXMOX_VERIFY_SSL={v} is not true or false")))?,
    };
    let fingerprints = match get("PROXMOX_FINGERPRINT") {
        None => Vec::new(),
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                Fingerprint::parse(f).map_err(|e| {
                    Error::Config(format!("PROXMOX_FINGERPRINT: {e}; copy it from the node's certificate view (AB:CD:...)"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let ca_file = get("PROXMOX_CA_FILE").map(PathBuf::from);
    // A pin is stronger than "do not verify": when both are given, the pin wins.
    Ok(if !fingerprints.is_empty() {
        if !verify {
            crate::warn!(
                "PROXMOX_VERIFY_SSL=false is ignored: PROXMOX_FINGERPRINT pins the certificate"
            );
        }
        Trust::Pinned(fingerprints)
    } else if !verify {
        Trust::Insecure
    } else if let Some(ca) = ca_file {
        if let Err(e) = std::fs::metadata(&ca) {
            return Err(Error::Config(format!(
                "PROXMOX_CA_FILE={}: {e}",
                ca.display()
            )));
        }
        Trust::Roots {
            ca_files: vec![ca],
            system: false,
        }
    } else if std::fs::File::open(host_ca).is_ok() {
        // Readable only as root or www-data on a PVE node; elsewhere the system roots.

        Trust::Roots {
            ca_files: vec![host_ca.to_path_buf()],
            system: true,
        }
    } else {
        Trust::Roots {
            ca_files: Vec::new(),
            system: true,
        }
    })
}

/// PROXMOX_MCP_PROTECTED.
fn protected(values: &BTreeMap<String, String>) -> Result<Vec<Protect>, Error> {
    list(values, "PROXMOX_MCP_PROTECTED")
        .iter()
        .map(|item| {
            Protect::parse(item).map_err(|e| Error::Config(format!("PROXMOX_MCP_PROTECTED: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
}

/// PROXMOX_MCP_ALERT_INTERVAL, in seconds (default 60).
fn alert_interval(values: &BTreeMap<String, String>) -> Result<u64, Error> {
    match value(values, "PROXMOX_MCP_ALERT_INTERVAL") {
        None => Ok(60),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|t| (1..=86400).contains(t))
            .ok_or_else(|| {
                Error::Config(format!(
                    "PROXMOX_MCP_ALERT_INTERVAL={v} is not a number of seconds between 1 and 86400"
                ))
            }),
    }
}

/// PROXMOX_TIMEOUT and PROXMOX_TASK_WAIT, in seconds.
fn limits(values: &BTreeMap<String, String>) -> Result<(u64, u64), Error> {
    let get = |var: &str| value(values, var).map(str::to_string);
    let timeout = match get("PROXMOX_TIMEOUT") {
        None => 30,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|t| (1..=3600).contains(t))
            .ok_or_else(|| {
                Error::Config(format!(
                    "PROXMOX_TIMEOUT={v} is not a number of seconds between 1 and 3600"
                ))
            })?,
    };
    let task_wait = match get("PROXMOX_TASK_WAIT") {
        None => 120,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|t| *t <= 86400)
            .ok_or_else(|| {
                Error::Config(format!(
                    "PROXMOX_TASK_WAIT={v} is not a number of seconds between 0 and 86400"
                ))
            })?,
    };
    Ok((timeout, task_wait))
}

/// The settings as KEY → value: the config file first, then the environment, then flags.
fn gather(
    env: &dyn Fn(&str) -> Option<String>,
    flags: &[(&'static str, String)],
) -> Result<BTreeMap<String, String>, Error> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let flag_value = |var: &str| {
        flags
            .iter()
            .rev()
            .find(|(v, _)| *v == var)
            .map(|(_, x)| x.clone())
    };
    let config_file = flag_value("PROXMOX_CONFIG").or_else(|| env("PROXMOX_CONFIG"));
    if let Some(path) = config_file.filter(|p| !p.is_empty()) {
        values.extend(read_config_file(Path::new(&path))?);
    }
    for setting in SETTINGS {
        if setting.secret {
            // A secret set here replaces both forms (X and X_FILE) from the config file.
            let file_var = format!("{}_FILE", setting.var);
            let (direct, file) = (env(setting.var), env(&file_var));
            if direct.is_some() || file.is_some() {
                values.remove(setting.var);
                values.remove(&file_var);
            }
            if let Some(v) = file {
                values.insert(file_var, v);
            }
            if let Some(v) = direct {
                values.insert(setting.var.to_string(), v);
            }
        } else if let Some(v) = env(setting.var) {
            values.insert(setting.var.to_string(), v);
        }
    }
    for (var, value) in flags {
        values.insert(var.to_string(), value.clone());
    }
    Ok(values)
}

fn value<'v>(values: &'v BTreeMap<String, String>, var: &str) -> Option<&'v str> {
    values.get(var).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A comma-separated list, without empty items.
fn list(values: &BTreeMap<String, String>, var: &str) -> Vec<String> {
    value(values, var)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The access level and the tool selection (whose names the catalogue checks:
/// `tools::check_selection`).
fn selection(
    values: &BTreeMap<String, String>,
) -> Result<(Access, Vec<String>, Vec<String>), Error> {
    let access = parse_access(value(values, "PROXMOX_MCP_ACCESS"))?;
    let allow = list(values, "PROXMOX_MCP_TOOLS");
    let deny = list(values, "PROXMOX_MCP_DENY_TOOLS");
    Ok((access, allow, deny))
}

/// PROXMOX_MCP_ALLOW_EXEC.
fn allow_exec(values: &BTreeMap<String, String>) -> Result<bool, Error> {
    switch(values, "PROXMOX_MCP_ALLOW_EXEC")
}

/// A true/false setting that is off unless set.
fn switch(values: &BTreeMap<String, String>, var: &str) -> Result<bool, Error> {
    match value(values, var) {
        None => Ok(false),
        Some(v) => {
            parse_bool(v).ok_or_else(|| Error::Config(format!("{var}={v} is not true or false")))
        }
    }
}

fn parse_access(value: Option<&str>) -> Result<Access, Error> {
    match value {
        None => Ok(Access::ReadOnly),
        Some(v) => Access::parse(v).ok_or_else(|| {
            Error::Config(format!(
                "PROXMOX_MCP_ACCESS={v} is not an access level; use read-only, operate or full"
            ))
        }),
    }
}

/// `PROXMOX_X` or `PROXMOX_X_FILE` (the file's content without the trailing newline).
fn secret(values: &BTreeMap<String, String>, var: &str) -> Result<Option<Secret>, Error> {
    if let Some(v) = values.get(var).filter(|v| !v.is_empty()) {
        return Ok(Some(Secret(v.trim().to_string())));
    }
    let file_var = format!("{var}_FILE");
    match values
        .get(&file_var)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(path) => {
            let content = std::fs::read_to_string(path)
                .map_err(|e| Error::Config(format!("{file_var}={path}: cannot read: {e}")))?;
            // Checked like the config file: a secret others may read is no secret.
            refuse_if_shared(Path::new(path), &format!("{file_var}={path}"))?;
            let value = content.trim_end_matches(['\n', '\r']).trim().to_string();
            if value.is_empty() {
                return Err(Error::Config(format!(
                    "{file_var}={path}: the file is empty"
                )));
            }
            Ok(Some(Secret(value)))
        }
    }
}

fn valid_token_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `pve1`, `pve1:8006`, `https://pve1:8006/`, `[fd00::1]:8006`, `http://127.0.0.1:9` (test servers).
fn parse_host(text: &str, default_port: u16) -> Result<Host, Error> {
    let bad = |why: &str| Error::Config(format!("PROXMOX_HOST={text}: {why}"));
    let (scheme, rest) = match text.split_once("://") {
        None => ("https", text),
        Some((s, rest)) => match s.to_ascii_lowercase().as_str() {
            "https" => ("https", rest),
            "http" => ("http", rest),
            _ => return Err(bad("only https:// is supported")),
        },
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed '[' in IPv6 address"))?;
        match after.strip_prefix(':') {
            Some(p) => (format!("[{h}]"), Some(p)),
            None if after.is_empty() => (format!("[{h}]"), None),
            None => return Err(bad("unexpected text after the IPv6 address")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
            Some(_) => {
                return Err(bad(
                    "write an IPv6 address in brackets, e.g. [fd00::1]:8006",
                ))
            }
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
        return Err(bad("not a host name or address"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port is not a number between 1 and 65535"))?,
    };
    Ok(Host { scheme, host, port })
}

/// Reads `KEY=value` lines (`#` comments, optional `export`, optional quotes).
fn read_config_file(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("PROXMOX_CONFIG={shown}: cannot read: {e}")))?;
    let mut values = BTreeMap::new();
    let mut holds_secret = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::Config(format!(
                "{shown} line {}: expected KEY=value",
                n + 1
            )));
        };
        let key = key.trim();
        let known = SETTINGS
            .iter()
            .find(|s| s.var == key || (s.secret && key.strip_suffix("_FILE") == Some(s.var)));
        let Some(setting) = known else {
            return Err(Error::Config(format!(
                "{shown} line {}: unknown setting {key}; see proxmox-mcp-server --help for the names",
                n + 1
            )));
        };
        if setting.var == "PROXMOX_CONFIG" {
            return Err(Error::Config(format!(
                "{shown} line {}: a config file cannot name another",
                n + 1
            )));
        }
        holds_secret |= setting.secret && setting.var == key;
        let value = value.trim();
        let value = match (value.chars().next(), value.chars().last()) {
            (Some('"'), Some('"')) | (Some('\''), Some('\'')) if value.len() >= 2 => {
                &value[1..value.len() - 1]
            }
            _ => value,
        };
        values.insert(key.to_string(), value.to_string());
    }
    if holds_secret {
        refuse_if_shared(path, &format!("PROXMOX_CONFIG={shown} holds a secret but"))?;
    }
    Ok(values)
}

/// Refuses a file holding a secret that group or others may read (unix only; elsewhere the
/// mode bits do not say). `what` names the file in the error.
fn refuse_if_shared(path: &Path, what: &str) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(Error::Config(format!(
                "{what} is readable by group or others (mode {:o}); run: chmod 600 {}",
                mode & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// Whether `host` (as in `Host::host`, IPv6 in brackets) is this machine: an IP literal in
/// 127.0.0.0/8, `::1`, or the name `localhost`.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A warning for each `PROXMOX_*` variable in `names` that is no setting (a typo such as
/// `PROXMOX_ACCESS` would otherwise be ignored without a word), naming the setting it may mean.
/// `PROXMOX_SETUP_*` are `setup.sh`'s own.
pub fn unknown_variables(names: impl Iterator<Item = String>) -> Vec<String> {
    let known = |name: &str| {
        SETTINGS
            .iter()
            .any(|s| s.var == name || (s.secret && name.strip_suffix("_FILE") == Some(s.var)))
            || name.starts_with("PROXMOX_SETUP_")
    };
    let mut out = Vec::new();
    for name in names.filter(|n| n.starts_with("PROXMOX_")) {
        if known(&name) {
            continue;
        }
        let tail = &name["PROXMOX_".len()..];
        let guess = SETTINGS
            .iter()
            .find(|s| !tail.is_empty() && s.var.ends_with(&format!("_{tail}")))
            .map(|s| format!(" (did you mean {}?)", s.var))
            .unwrap_or_default();
        out.push(format!(
            "{name} is not a setting of this server and is ignored{guess}; `proxmox-mcp-server --help` lists them"
        ));
    }
    out
}

#[cfg(test)]
mod tests;
