//! What this server allows: the access level, the tool selection, protected guests, and the
//! audit log of every call that may change something (written before the call runs).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::alerts::Rules;
use crate::error::Error;
use crate::time::rfc3339;

/// Which tools are listed and callable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    ReadOnly,
    Operate,
    Full,
}

impl Access {
    pub fn parse(s: &str) -> Option<Access> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read-only" | "readonly" | "read_only" => Some(Access::ReadOnly),
            "operate" => Some(Access::Operate),
            "full" => Some(Access::Full),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Access::ReadOnly => "read-only",
            Access::Operate => "operate",
            Access::Full => "full",
        }
    }
}

/// What a tool does to the cluster (section 4 of the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Changes nothing.
    Read,
    /// Changes state but loses no data.
    Operate,
    /// Can lose data or state.
    Destroy,
}

impl Effect {
    pub fn name(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Operate => "operate",
            Effect::Destroy => "destroy",
        }
    }
    /// The lowest access level that allows this effect.
    pub fn needs(self) -> Access {
        match self {
            Effect::Read => Access::ReadOnly,
            Effect::Operate => Access::Operate,
            Effect::Destroy => Access::Full,
        }
    }
}

/// The part of the cluster a tool is about: its toolset (tool groups, `tools --json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Nodes,
    Vms,
    Containers,
    Snapshots,
    Storage,
    Tasks,
    Cluster,
    Backups,
    Provisioning,
    Network,
    Sdn,
    Firewall,
    Access,
    Pools,
    Ha,
    Certificates,
    Metrics,
    Health,
    Notifications,
    Exec,
}

/// What an area declares about itself: its name and what it holds in a few words (the server's
/// instructions name the toolsets not loaded with it). Which of its tools the `default` set lists
/// is each tool's own row (`Mark::Everyday`).
pub struct AreaInfo {
    pub name: &'static str,
    pub holds: &'static str,
}

impl Area {
    /// Every area, in the order help texts and `tools --json` list them.
    pub const ALL: [Area; 20] = [
        Area::Nodes,
        Area::Vms,
        Area::Containers,
        Area::Snapshots,
        Area::Storage,
        Area::Tasks,
        Area::Cluster,
        Area::Backups,
        Area::Provisioning,
        Area::Network,
        Area::Sdn,
        Area::Firewall,
        Area::Access,
        Area::Pools,
        Area::Ha,
        Area::Certificates,
        Area::Metrics,
        Area::Health,
        Area::Notifications,
        Area::Exec,
    ];

    /// The one place an area is described (a new area adds one row here).
    pub const fn info(self) -> AreaInfo {
        const fn row(name: &'static str, holds: &'static str) -> AreaInfo {
            AreaInfo { name, holds }
        }
        match self {
            Area::Nodes => row("nodes", "nodes and their status"),
            Area::Vms => row("vms", "QEMU VMs: list, status, config, power"),
            Area::Containers => row("containers", "LXC containers: list, status, config, power",
            ),
            Area::Snapshots => row("snapshots", "guest snapshots: list, take, roll back, delete",
            ),
            Area::Storage => row("storage", "storages and their content"),
            Area::Tasks => row("tasks", "PVE tasks: list, status, log, wait"),
            Area::Cluster => row("cluster", "cluster status, resources and log, PVE version"),
            Area::Backups => row("backups", "backups (vzdump), restores, backup jobs"),
            Area::Provisioning => row("provisioning", "create, clone, provision, migrate, reconfigure, resize and delete guests; bulk start, shutdown, migrate; ISO and template downloads; next free VMID",
            ),
            Area::Network => row("network", "nodes' network interfaces: list, create, change, delete, apply or revert staged changes"),
            Area::Sdn => row("sdn", "software-defined networking: zones, vnets and subnets, applying SDN changes"),
            Area::Firewall => row("firewall", "firewall rules, IP sets, aliases, security groups and options of the cluster, nodes and guests",
            ),
            Area::Access => row("access", "users, API tokens, ACLs, this server's own permissions",
            ),
            Area::Pools => row("pools", "resource pools and their members"),
            Area::Ha => row("ha", "high availability: status, rules and the guests it manages",
            ),
            Area::Certificates => row("certificates", "nodes' TLS certificates and ACME"),
            Area::Metrics => row("metrics", "RRD metrics of nodes, guests and storages"),
            Area::Health => row("health", "alerts, replication, pending updates, syslog and journal, disks and SMART, ZFS pools, Ceph health",
            ),
            Area::Notifications => row("notifications", "PVE's notification targets (webhook, gotify, smtp, sendmail) and matchers",
            ),
            Area::Exec => row("exec", "commands run inside guests (a remote shell)"),
        }
    }

    pub const fn name(self) -> &'static str {
        self.info().name
    }
}

/// `PROXMOX_MCP_TOOLS` entry: the everyday tools, each marked so in its row (also what an unset
/// or empty `PROXMOX_MCP_TOOLS` means).
pub const DEFAULT_SET: &str = "default";
/// `PROXMOX_MCP_TOOLS` entry: every tool the access level allows.
pub const ALL_TOOLS: &str = "all";

/// The names of the areas, as groups in `PROXMOX_MCP_TOOLS`: from `Area::ALL`.
pub const AREAS: &[&str] = &{
    let mut names = [""; Area::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Area::ALL[i].name();
        i += 1;
    }
    names
};

/// A guest no tool may change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protect {
    Vmid(u64),
    Range(u64, u64),
    /// Every guest carrying this PVE tag.
    Tag(String),
}

impl Protect {
    /// `100`, `100-199` or `tag:NAME`.
    pub fn parse(item: &str) -> Result<Protect, String> {
        let item = item.trim();
        if let Some(tag) = item.strip_prefix("tag:") {
            let ok = !tag.is_empty()
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c));
            return ok
                .then(|| Protect::Tag(tag.to_ascii_lowercase()))
                .ok_or_else(|| {
                    format!("'{item}': a tag is letters, digits, '-', '_', '+' and '.'")
                });
        }
        let vmid = |s: &str| {
            s.trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (100..=999_999_999).contains(v))
        };
        match item.split_once('-') {
            Some((a, b)) => match (vmid(a), vmid(b)) {
                (Some(a), Some(b)) if a <= b => Ok(Protect::Range(a, b)),
                _ => Err(format!(
                    "'{item}': a range is FIRST-LAST, two VMIDs (100-999999999), FIRST <= LAST"
                )),
            },
            None => vmid(item).map(Protect::Vmid).ok_or_else(|| {
                format!(
                    "'{item}': expected a VMID (100-999999999), a range like 100-199, or tag:NAME"
                )
            }),
        }
    }
}

/// The decisions every tool call passes through.
#[derive(Debug)]
pub struct Policy {
    pub access: Access,
    /// `PROXMOX_MCP_TOOLS`: the toolsets (areas), effects, tool names, `default` and `all` whose
    /// tools are listed, a union (empty: `default`).
    pub allow: Vec<String>,
    /// Tool and group names refused.
    pub deny: Vec<String>,
    pub protected: Vec<Protect>,
    pub audit: Option<Audit>,
    /// PROXMOX_MCP_ALLOW_EXEC: the `exec` tools (a remote shell) may be offered.
    pub allow_exec: bool,
    /// PROXMOX_MCP_ALLOW_HOST_CONFIG: guest config keys that act on the host may be set.
    pub allow_host_config: bool,
    /// PROXMOX_MCP_ALLOW_ACCESS_ADMIN: the tools that change users, groups, API tokens and
    /// permissions (writes of the `access` toolset) may be offered.
    pub allow_access_admin: bool,
    /// PROXMOX_MCP_SECRETS_DIR: where a secret PVE shows once (a new API token's) is written;
    /// the tools that receive one are offered only with it.
    pub secrets_dir: Option<PathBuf>,
    /// The files the server's own settings name (its secrets' `*_FILE`s, the config file, the
    /// audit log): no tool sends one anywhere, even from inside `secrets_dir`.
    pub own_files: Vec<PathBuf>,
    /// PROXMOX_MCP_ALERTS: the alert rules' thresholds, which `get_alerts` evaluates.
    pub alerts: Rules,
}

/// What the policy weighs of a tool: its name, effect, areas (its own first), whether it is an
/// everyday tool (in the `default` set), and whether it can work where this server runs.
pub struct Subject<'a> {
    pub name: &'a str,
    pub effect: Effect,
    pub areas: &'a [Area],
    pub everyday: bool,
    pub present: bool,
}

/// The entry of `list` that names the tool `t`, if one does. `default` names the everyday tools
/// (each marked so in its row); `all` names every tool.
fn entry_naming<'l>(list: &'l [String], t: &Subject) -> Option<&'l str> {
    list.iter().map(String::as_str).find(|&entry| {
        entry == t.name
            || entry == t.effect.name()
            || entry == ALL_TOOLS
            || (entry == DEFAULT_SET && t.everyday)
            || t.areas.iter().any(|a| a.name() == entry)
    })
}

impl Policy {
    /// Only an access level: the default set, nothing denied or protected.
    pub fn with_access(access: Access) -> Policy {
        Policy {
            access,
            allow: Vec::new(),
            deny: Vec::new(),
            protected: Vec::new(),
            audit: None,
            allow_exec: false,
            allow_host_config: false,
            allow_access_admin: false,
            secrets_dir: None,
            own_files: Vec::new(),
            alerts: Rules::default(),
        }
    }

    /// `PROXMOX_MCP_TOOLS` as it takes effect: `default` when unset or empty.
    pub fn selection(&self) -> String {
        if self.allow.is_empty() {
            DEFAULT_SET.to_string()
        } else {
            self.allow.join(",")
        }
    }

    /// Refuses the tool `t` outside the access level or the selection, or when it cannot work
    /// where this server runs, saying which setting decides.
    pub fn allows(&self, t: &Subject) -> Result<(), Error> {
        self.decide(t, true)
    }

    /// As `allows`, but as if `PROXMOX_MCP_TOOLS` were `all`: whether loading the tool's
    /// toolset would list it (the access level, the exec switch and `PROXMOX_MCP_DENY_TOOLS`
    /// still apply).
    pub fn allows_with_all(&self, t: &Subject) -> Result<(), Error> {
        self.decide(t, false)
    }

    fn decide(&self, t: &Subject, selected_only: bool) -> Result<(), Error> {
        if t.effect.needs() > self.access {
            let what = match t.effect {
                Effect::Destroy => "can lose data",
                _ => "changes the cluster",
            };
            let level = t.effect.needs().name();
            return Err(Error::Denied(format!(
                "{} {what} and needs access level {level}, but this server runs with PROXMOX_MCP_ACCESS={}; \
                 to allow it, restart the server with PROXMOX_MCP_ACCESS={level} (or --access {level})",
                t.name,
                self.access.name()
            )));
        }
        if t.areas.contains(&Area::Exec) && !self.allow_exec {
            return Err(Error::Denied(format!(
                "{} runs commands inside guests (a remote shell) and is off unless PROXMOX_MCP_ALLOW_EXEC=true is set, besides PROXMOX_MCP_ACCESS=full",
                t.name
            )));
        }
        if t.areas.contains(&Area::Access) && t.effect != Effect::Read && !self.allow_access_admin {
            return Err(Error::Denied(format!(
                "{} changes who may do what in the cluster (users, groups, API tokens, permissions) and is off unless PROXMOX_MCP_ALLOW_ACCESS_ADMIN=true is set, besides PROXMOX_MCP_ACCESS=full",
                t.name
            )));
        }
        if !t.present {
            return Err(Error::Denied(format!(
                "{} only works when this server runs on a PVE node",
                t.name
            )));
        }
        // The deny list first: a refusal must not advise loading a toolset that stays denied.
        if let Some(group) = entry_naming(&self.deny, t) {
            return Err(Error::Denied(format!(
                "{} is switched off on this server (PROXMOX_MCP_DENY_TOOLS names {group})",
                t.name
            )));
        }
        let default = [DEFAULT_SET.to_string()];
        let allow = if self.allow.is_empty() {
            &default[..]
        } else {
            &self.allow[..]
        };
        if selected_only && entry_naming(allow, t).is_none() {
            let (name, toolset) = (t.name, t.areas.first().map_or("", |a| a.name()));
            let current = self.selection();
            return Err(Error::Denied(format!(
                "{name} is not loaded on this server: it is in the toolset {toolset}, and PROXMOX_MCP_TOOLS={current} does not list it; \
                 to use it, restart the server with PROXMOX_MCP_TOOLS={current},{toolset} (or all, or add the tool's name)"
            )));
        }
        Ok(())
    }

    /// Whether tags must be looked up to decide protection.
    pub fn protects_tags(&self) -> bool {
        self.protected.iter().any(|p| matches!(p, Protect::Tag(_)))
    }

    /// Why guest `vmid` (with PVE tags `tags`, `;`-separated) may not be changed, if it may not.
    pub fn protection(&self, vmid: u64, tags: &str) -> Option<String> {
        let tags: Vec<String> = tags
            .split([';', ',', ' '])
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        self.protected.iter().find_map(|p| {
            let why = match p {
                Protect::Vmid(v) if *v == vmid => format!("VMID {v}"),
                Protect::Range(a, b) if (*a..=*b).contains(&vmid) => format!("the range {a}-{b}"),
                Protect::Tag(t) if tags.contains(t) => format!("tag:{t}"),
                _ => return None,
            };
            Some(format!(
                "guest {vmid} is protected on this server (PROXMOX_MCP_PROTECTED names {why}); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"
            ))
        })
    }
}

/// The audit log: JSON lines, appended, each written with one `write` and flushed.
///
/// Every call of a tool that may change something leaves, in order (`call` numbers the lines of
/// one call):
/// - `{"phase": "intent", time, call, user, tool, arguments, dry_run}` before its handler runs;
///   when this line cannot be written the call is refused and nothing is sent to PVE;
/// - `{"phase": "started", time, call, user, tool, upid}` as soon as PVE answered a write with a
///   task id, before the task is followed (so a crash during the wait still leaves the UPID);
/// - `{"phase": "outcome", time, call, user, tool, arguments, dry_run, upid, outcome}` when it
///   ends, `outcome` being `ok`, `cancelled`, `refused: …` or `error: …`.
///
/// A call refused before its handler (access level, tool selection, arguments, protected guest)
/// leaves one `{"phase": "refused", time, user, tool, arguments, dry_run, outcome: "refused: …"}`.
/// Arguments are redacted: values of keys naming a secret (`password`, `secret`, `token`,
/// `input_data`), a URL's `user:password@`, and argv items such as `--password=…`,
/// `--password …` and `password=…`.
///
/// The file is created with mode 0600; an existing one readable by group or others is refused.
/// When the path no longer names the open file (logrotate renamed or deleted it), it is opened
/// again before the next line.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    state: Mutex<AuditState>,
}

#[derive(Debug)]
struct AuditState {
    file: File,
    /// Device and inode of `file`, to notice a rotated log.
    id: (u64, u64),
    /// The number of the last call begun.
    calls: u64,
    /// The call under way (calls are handled one at a time): its number, user, tool and the
    /// task it started.
    current: Option<Call>,
}

#[derive(Debug)]
struct Call {
    number: u64,
    user: String,
    tool: String,
    upid: Option<String>,
}

/// The phases of an audit line.
#[derive(Clone, Copy)]
enum Phase {
    Intent,
    Started,
    Outcome,
    Refused,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Started => "started",
            Phase::Outcome => "outcome",
            Phase::Refused => "refused",
        }
    }
}

/// Arguments larger than this (as JSON) are not copied into the log, only their size.
const MAX_LOGGED_ARGS: usize = 64 * 1024;

impl Audit {
    /// Opens (or creates, mode 0600) the audit log at `path`.
    pub fn open(path: &Path) -> Result<Audit, Error> {
        let (file, id) = open_log(path)
            .map_err(|e| Error::Config(format!("PROXMOX_MCP_AUDIT_LOG={}: {e}", path.display())))?;
        Ok(Audit {
            path: path.to_path_buf(),
            state: Mutex::new(AuditState {
                file,
                id,
                calls: 0,
                current: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuditState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the intent line of a call about to run. An error (the line is not in the log)
    /// means the call must not run.
    pub fn intent(&self, user: &str, tool: &str, args: &Map<String, Value>) -> Result<(), Error> {
        let mut state = self.lock();
        state.calls += 1;
        let number = state.calls;
        state.current = Some(Call {
            number,
            user: user.to_string(),
            tool: tool.to_string(),
            upid: None,
        });
        let mut entry = self.entry(Phase::Intent, Some(number), user, tool);
        entry.insert("arguments".into(), logged_arguments(args));
        entry.insert("dry_run".into(), json!(dry_run(args)));
        self.write(&mut state, entry).map_err(|e| {
            state.current = None;
            Error::Denied(format!(
                "the audit log {} could not be written ({e}), so {tool} was refused and nothing was sent to PVE; \
                 make the file writable (or free space), or change PROXMOX_MCP_AUDIT_LOG",
                self.path.display()
            ))
        })
    }

    /// Notes that the call under way started PVE task `upid` (before it is followed).
    pub fn started(&self, upid: &str) {
        let mut state = self.lock();
        let Some(call) = state.current.as_mut() else {
            return;
        };
        call.upid = Some(upid.to_string());
        let (number, user, tool) = (call.number, call.user.clone(), call.tool.clone());
        let mut entry = self.entry(Phase::Started, Some(number), &user, &tool);
        entry.insert("upid".into(), json!(upid));
        self.write_or_warn(&mut state, entry);
    }

    /// Writes the outcome line of the call under way. A failure is reported on stderr (the call
    /// itself already happened).
    pub fn outcome(
        &self,
        user: &str,
        tool: &str,
        args: &Map<String, Value>,
        outcome: &Result<Map<String, Value>, Error>,
    ) {
        let mut state = self.lock();
        let call = state.current.take();
        let upid = match outcome {
            Ok(content) => content
                .get("task")
                .and_then(|t| t.get("upid"))
                .and_then(Value::as_str)
                .map(str::to_string),
            Err(Error::Task { upid, .. }) => Some(upid.clone()),
            Err(_) => None,
        }
        .or_else(|| call.as_ref().and_then(|c| c.upid.clone()));
        let result = match outcome {
            Ok(_) => "ok".to_string(),
            Err(Error::Cancelled) => "cancelled".to_string(),
            Err(e @ Error::Denied(_)) => format!("refused: {e}"),
            Err(e) => format!("error: {e}"),
        };
        let mut entry = self.entry(Phase::Outcome, call.map(|c| c.number), user, tool);
        entry.insert("arguments".into(), logged_arguments(args));
        entry.insert("dry_run".into(), json!(dry_run(args)));
        entry.insert("upid".into(), json!(upid));
        entry.insert("outcome".into(), json!(result));
        self.write_or_warn(&mut state, entry);
    }

    /// Records a call refused before its handler ran (nothing was sent to PVE), with the reason.
    pub fn refused(&self, user: &str, tool: &str, args: &Map<String, Value>, reason: &Error) {
        let mut state = self.lock();
        let mut entry = self.entry(Phase::Refused, None, user, tool);
        entry.insert("arguments".into(), logged_arguments(args));
        entry.insert("dry_run".into(), json!(dry_run(args)));
        entry.insert("outcome".into(), json!(format!("refused: {reason}")));
        self.write_or_warn(&mut state, entry);
    }

    fn entry(&self, phase: Phase, call: Option<u64>, user: &str, tool: &str) -> Map<String, Value> {
        let mut entry = Map::new();
        entry.insert("time".into(), json!(rfc3339(SystemTime::now())));
        entry.insert("phase".into(), json!(phase.name()));
        if let Some(n) = call {
            entry.insert("call".into(), json!(n));
        }
        entry.insert("user".into(), json!(user));
        entry.insert("tool".into(), json!(tool));
        entry
    }

    fn write_or_warn(&self, state: &mut AuditState, entry: Map<String, Value>) {
        if let Err(e) = self.write(state, entry) {
            eprintln!(
                "proxmox-mcp-server: error: cannot write the audit log {}: {e}",
                self.path.display()
            );
        }
    }

    /// Appends one line (one `write`), first opening the file again if the path no longer
    /// names it (rotated away).
    fn write(&self, state: &mut AuditState, entry: Map<String, Value>) -> Result<(), String> {
        if log_id(&self.path) != Some(state.id) {
            let (file, id) = open_log(&self.path)?;
            state.file = file;
            state.id = id;
        }
        let mut line = Value::Object(entry).to_string();
        line.push('\n');
        state
            .file
            .write_all(line.as_bytes())
            .and_then(|()| state.file.flush())
            .map_err(|e| e.to_string())
    }
}

/// Opens (creating with mode 0600) the log for appending; refuses a regular file that group or
/// others may read or write. Returns the file and its device and inode.
fn open_log(path: &Path) -> Result<(File, (u64, u64)), String> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("cannot open for appending: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read its metadata: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode();
        // A device (/dev/full, a terminal) holds nothing others could read back later.
        if meta.is_file() && mode & 0o077 != 0 {
            return Err(format!(
                "the audit log is readable or writable by group or others (mode {:o}); run: chmod 600 {}",
                mode & 0o777,
                path.display()
            ));
        }
        Ok((file, (meta.dev(), meta.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok((file, (0, 0)))
    }
}

/// Device and inode of the file `path` names now (None when it names none).
fn log_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        // No inode to compare: keep writing to the file opened at start.
        let _ = path;
        Some((0, 0))
    }
}

fn dry_run(args: &Map<String, Value>) -> bool {
    args.get("dry_run")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The arguments as the log shows them: redacted, and not more than `MAX_LOGGED_ARGS`.
fn logged_arguments(args: &Map<String, Value>) -> Value {
    let mut arguments = Value::Object(args.clone());
    redact(&mut arguments);
    let size = arguments.to_string().len();
    if size > MAX_LOGGED_ARGS {
        return json!({"omitted": format!("{size} bytes of arguments")});
    }
    arguments
}

/// Hides secrets at any depth: the values of keys that name one (`cipassword` in a config
/// update's `set`, an exec's `input_data`), URL userinfo in any text, and password options in
/// argv arrays and texts (`--password=x`, `--password x`, `password=x`).
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if secret_key(k) {
                    *v = json!(REDACTED);
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => {
            // `["--password", "x"]`: the value is the next item.
            let mut hide_next = false;
            for item in items.iter_mut() {
                if std::mem::take(&mut hide_next) {
                    *item = json!(REDACTED);
                    continue;
                }
                match item {
                    Value::String(s) => {
                        let (shown, pending) = redact_text(s);
                        *s = shown;
                        hide_next = pending;
                    }
                    other => redact(other),
                }
            }
        }
        Value::String(s) => *s = redact_text(s).0,
        _ => {}
    }
}

const REDACTED: &str = "<redacted>";

fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "input_data", "input-data"]
        .iter()
        .any(|s| key.contains(s))
}

/// Whether an option or `name=` names a secret (`--password`, `-passwd`, `db_password`, `--token`).
fn secret_option(name: &str) -> bool {
    let name = name.trim_start_matches('-').to_ascii_lowercase();
    name == "pass"
        || name == "pw"
        || ["password", "passwd", "passphrase", "secret", "token"]
            .iter()
            .any(|s| name.contains(s))
}

/// `text` with URL userinfo and password options hidden, and whether it ends in a bare password
/// option whose value is the next argv item.
fn redact_text(text: &str) -> (String, bool) {
    let text = redact_userinfo(text);
    let mut hide_next = false;
    let words: Vec<String> = text
        .split(' ')
        .map(|word| {
            if word.is_empty() {
                return String::new();
            }
            if std::mem::take(&mut hide_next) {
                return REDACTED.to_string();
            }
            match word.split_once('=') {
                Some((name, _)) if secret_option(name) => format!("{name}={REDACTED}"),
                Some(_) => word.to_string(),
                None => {
                    hide_next = word.starts_with('-') && secret_option(word);
                    word.to_string()
                }
            }
        })
        .collect();
    (words.join(" "), hide_next)
}

/// `scheme://user:password@host…` → `scheme://<redacted>@host…`, for every URL in `text`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protect_items() {
        assert_eq!(Protect::parse("100"), Ok(Protect::Vmid(100)));
        assert_eq!(Protect::parse(" 100-199 "), Ok(Protect::Range(100, 199)));
        assert_eq!(Protect::parse("tag:Prod"), Ok(Protect::Tag("prod".into())));
        for bad in ["99", "200-100", "abc", "tag:", "tag:a b", "100-"] {
            assert!(Protect::parse(bad).is_err(), "{bad}");
        }
        let p = Policy {
            protected: vec![
                Protect::Vmid(100),
                Protect::Range(200, 299),
                Protect::Tag("prod".into()),
            ],
            ..Policy::with_access(Access::Full)
        };
        assert!(p
            .protection(100, "")
            .unwrap()
            .contains("PROXMOX_MCP_PROTECTED names VMID 100"));
        assert!(p.protection(250, "").unwrap().contains("the range 200-299"));
        assert!(p.protection(300, "web;Prod").unwrap().contains("tag:prod"));
        assert_eq!(p.protection(300, "web;production"), None);
    }
}
