//! Commands in guests: `exec_in_vm` through the QEMU guest agent, `exec_in_container` through
//! `pct exec` on the node this server runs on; argv checked, output and time bounded.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{as_u64, Method, Params};

use super::guest::{config_unless_protected, guest_path, Guest};
use super::list::data;
use super::monitor::agent_error;
use super::params::{DRY_RUN, NODE_OPT, VMID};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool, Waiter};

#[rustfmt::skip]
const COMMAND: Param = Param::req("command", Kind::Strings { max_items: MAX_ARGS, max_len: MAX_ARG }, "argv array, e.g. [\"df\", \"-h\"]");
#[rustfmt::skip]
const INPUT_DATA: Param = Param::opt("input_data", Kind::Text { max: 65_536 }, "text for the command's stdin");
#[rustfmt::skip]
const EXEC_TIMEOUT: Param = Param::opt("timeout", Kind::Int { min: 1, max: 3600 }, "seconds to wait (default 30)");

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "exec_in_vm",
        title: "Run command in VM",
        description: "Runs a command (argv, no shell) in a VM through the QEMU guest agent and waits for it.",
        privilege: "VM.GuestAgent.Unrestricted on /vms/{vmid}",
        effect: Effect::Destroy,
        area: Area::Exec,
        params: &[&VMID, &COMMAND, &NODE_OPT, &INPUT_DATA, &EXEC_TIMEOUT, &DRY_RUN],
        output: Output::object(&[f("pid", Ty::Int, ""), f("exited", Ty::Bool, ""), f("exitcode", Ty::Int, ""), f("stdout", Ty::Str, ""), f("stderr", Ty::Str, ""), f("stdout_truncated", Ty::Bool, ""), f("stderr_truncated", Ty::Bool, ""), f("timed_out", Ty::Bool, "")]),
        idempotent: false,
        marks: &[Mark::Also(Area::Vms)],
        run: exec_in_vm,
    },
    Tool {
        name: "exec_in_container",
        title: "Run command in container",
        description: "Runs a command (argv, no shell) in a container on this node with pct exec and waits for it.",
        privilege: "VM.Audit on /vms/{vmid} (to find the container; pct runs as this server's local user, root)",
        effect: Effect::Destroy,
        area: Area::Exec,
        params: &[&VMID, &COMMAND, &NODE_OPT, &EXEC_TIMEOUT, &DRY_RUN],
        output: Output::object(&[f("exitcode", Ty::Int, ""), f("stdout", Ty::Str, ""), f("stderr", Ty::Str, ""), f("stdout_truncated", Ty::Bool, ""), f("stderr_truncated", Ty::Bool, ""), f("timed_out", Ty::Bool, "")]),
        idempotent: false,
        marks: &[Mark::OnPveNode, Mark::Also(Area::Containers)],
        run: exec_in_container,
    },
];

/// At most this many argv items, each at most `MAX_ARG` characters.
const MAX_ARGS: usize = 1024;
const MAX_ARG: usize = 4096;
/// Bytes of stdout and of stderr a result carries (the rest is cut and flagged).
const MAX_STREAM: usize = 16 * 1024;
const DEFAULT_EXEC_TIMEOUT: u64 = 30;

/// Checks an argv array: a non-empty array of strings, each at most 4096 characters, without
/// NUL, the program not empty.
fn check_argv(value: &Value) -> Result<Vec<String>, String> {
    const SHAPE: &str = "must be an array of strings: the program and its arguments, e.g. [\"df\", \"-h\"] (no shell: for pipes use [\"sh\", \"-c\", \"...\"])";
    let Value::Array(items) = value else {
        return Err(SHAPE.into());
    };
    if items.is_empty() {
        return Err("must name at least the program, e.g. [\"uptime\"]".into());
    }
    if items.len() > MAX_ARGS {
        return Err(format!(
            "may have at most {MAX_ARGS} items, got {}",
            items.len()
        ));
    }
    let mut argv = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(s) = item.as_str() else {
            return Err(format!("item {i} must be a string, got {item}; {SHAPE}"));
        };
        if s.chars().count() > MAX_ARG {
            return Err(format!("item {i} may be at most {MAX_ARG} characters long"));
        }
        if s.contains('\0') {
            return Err(format!("item {i} contains a NUL character"));
        }
        argv.push(s.to_string());
    }
    if argv[0].trim().is_empty() {
        return Err("item 0 (the program) must not be empty".into());
    }
    Ok(argv)
}

/// The `command` argument (an array of strings, checked by `Kind::Strings`; here also that
/// the program is named).
fn command(args: &Args) -> Result<Vec<String>, Error> {
    check_argv(args.0.get("command").unwrap_or(&Value::Null))
        .map_err(|why| Error::Args(format!("'command' {why}")))
}

/// `stdout`/`stderr` text cut to `MAX_STREAM` bytes at a character boundary; whether it was cut.
fn cut(s: &str) -> (String, bool) {
    if s.len() <= MAX_STREAM {
        return (s.to_string(), false);
    }
    let mut end = MAX_STREAM;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// Reads the guest's config once: refuses PVE's `protection` flag (as the destroy tools do),
/// and for VMs, a config without the guest agent enabled.
fn exec_preflight(ctx: &Ctx, base: &str, vmid: i64, kind: Guest) -> Result<(), Error> {
    let config = config_unless_protected(ctx, base, vmid, "run commands in it")?;
    let config_path = format!("{base}/config");
    if kind == Guest::Vm && !agent_enabled(config.get("agent")) {
        return Err(Error::NotFound(format!(
            "GET {config_path}: VM {vmid} has no QEMU guest agent configured (agent is not enabled in its config); \
             install and start qemu-guest-agent inside the VM, set agent: 1 (`qm set {vmid} --agent enabled=1`, \
             or Options > QEMU Guest Agent), then stop and start the VM"
        )));
    }
    Ok(())
}

/// Whether a VM config's `agent` property string (`1`, `enabled=1,fstrim_cloned_disks=1`, `0`)
/// enables the agent.
pub(super) fn agent_enabled(agent: Option<&Value>) -> bool {
    let text = match agent {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => u8::from(*b).to_string(),
        _ => return false,
    };
    let first = text.split(',').next().unwrap_or_default().trim();
    let value = first.strip_prefix("enabled=").unwrap_or(first);
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "yes" | "on" | "true"
    )
}

/// The dry-run result for a command: the request, and the guest's current state.
fn exec_dry_run(request: Value, target: Value) -> Result<Content, Error> {
    let mut out = Map::new();
    out.insert("data".into(), Value::Null);
    out.insert("dry_run".into(), json!(true));
    out.insert("request".into(), request);
    out.insert("target".into(), target);
    Ok(out)
}

/// The `timeout` argument in seconds, or the default.
fn timeout(args: &Args) -> u64 {
    args.int("timeout")
        .map_or(DEFAULT_EXEC_TIMEOUT, |t| t as u64)
}

fn exec_in_vm(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let argv = command(args)?;
    let timeout = timeout(args);
    let vmid = args.vmid();
    let base = guest_path(ctx, args, Guest::Vm)?;
    exec_preflight(ctx, &base, vmid, Guest::Vm)?;
    let exec_path = format!("{base}/agent/exec");
    let mut params: Params = argv.iter().map(|a| ("command", a.clone())).collect();
    if let Some(input) = args.str("input_data") {
        params.push(("input-data", input.to_string()));
    }
    if args.flag("dry_run").unwrap_or(false) {
        let mut shown = json!({"command": argv});
        if let Some(input) = args.str("input_data") {
            shown["input-data"] = json!(input);
        }
        let target = ctx.pve.get(&format!("{base}/status/current"), &[])?;
        return exec_dry_run(
            json!({"method": "POST", "path": exec_path, "params": shown}),
            target,
        );
    }
    let started = ctx
        .pve
        .call(Method::Post, &exec_path, &params)
        .map_err(|e| agent_error(e, vmid))?;
    let pid = started
        .data
        .get("pid")
        .and_then(as_u64)
        .ok_or_else(|| Error::Transport {
            method: "POST",
            path: exec_path.clone(),
            message: format!("PVE did not return a process id but {}", started.data),
        })?;
    let status_path = format!("{base}/agent/exec-status");
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut delay = Duration::from_millis(200);
    let mut failures = 0;
    loop {
        let status = match ctx.pve.get(&status_path, &[("pid", pid.to_string())]) {
            Ok(status) => status,
            Err(e) if failures < 2 && Instant::now() < deadline => {
                failures += 1;
                crate::info!("reading the status of pid {pid} in VM {vmid} failed ({e}); trying again");
                if !ctx.waiter.pause(delay) {
                    return Err(Error::Cancelled);
                }
                continue;
            }
            // The command runs: say so, so that nobody starts it again blindly.
            Err(e) => {
                return Err(Error::Transport {
                    method: "POST",
                    path: exec_path,
                    message: format!(
                        "the guest agent started the command (pid {pid}) but reading its status failed ({e}); do not repeat the call blindly"
                    ),
                })
            }
        };
        failures = 0;
        let exited = status.get("exited").and_then(as_u64) == Some(1);
        if exited {
            return data(vm_result(pid, &status));
        }
        let now = Instant::now();
        if now >= deadline {
            let mut out = Map::new();
            out.insert(
                "data".into(),
                json!({"pid": pid, "exited": false, "timed_out": true}),
            );
            out.insert(
                "hint".into(),
                json!(format!(
                    "the command still runs in the VM after {timeout} s (pid {pid}) and its output is lost to this call; \
                     call again with a larger timeout, or start it in the background (e.g. [\"sh\", \"-c\", \"nohup ... >/tmp/out 2>&1 &\"])"
                )),
            );
            return Ok(out);
        }
        if ctx.waiter.wants_progress() {
            ctx.waiter
                .progress(&format!("VM {vmid}: pid {pid} ({}) still running", argv[0]));
        }
        if !ctx.waiter.pause(delay.min(deadline - now)) {
            return Err(Error::Cancelled);
        }
        delay = (delay * 3 / 2).min(Duration::from_secs(1));
    }
}

/// An exited `exec-status` as the result's `data`.
fn vm_result(pid: u64, status: &Value) -> Value {
    let stream = |name: &str, flag: &str| {
        let (text, cut_here) = cut(status.get(name).and_then(Value::as_str).unwrap_or_default());
        let by_agent = status.get(flag).and_then(as_u64) == Some(1);
        (text, cut_here || by_agent)
    };
    let (stdout, out_cut) = stream("out-data", "out-truncated");
    let (stderr, err_cut) = stream("err-data", "err-truncated");
    let mut out = json!({
        "pid": pid,
        "exited": true,
        "exitcode": status.get("exitcode"),
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": out_cut,
        "stderr_truncated": err_cut,
    });
    if let Some(signal) = status.get("signal") {
        out["signal"] = signal.clone();
    }
    out
}

/// Where `pct` lives on a PVE node (`Tool::present` hides a tool marked `OnPveNode` elsewhere).
const PCT: &str = "/usr/sbin/pct";

/// The name PVE gives this machine: its short host name.
fn local_node() -> Option<String> {
    let name = std::fs::read_to_string("/etc/hostname").ok()?;
    let short = name.trim().split('.').next()?.to_string();
    (!short.is_empty()).then_some(short)
}

fn exec_in_container(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let argv = command(args)?;
    let timeout = timeout(args);
    let vmid = args.vmid();
    let base = guest_path(ctx, args, Guest::Container)?;
    // `/nodes/{node}/lxc/{vmid}`: node names need no percent-encoding.
    let node = base.split('/').nth(2).unwrap_or_default().to_string();
    if let Some(here) = local_node() {
        if !here.eq_ignore_ascii_case(&node) {
            return Err(Error::NotFound(format!(
                "container {vmid} is on node {node}, but this server runs on {here}: pct exec reaches only the containers of its own node; \
                 run the server on {node} (or migrate the container)"
            )));
        }
    }
    exec_preflight(ctx, &base, vmid, Guest::Container)?;
    let mut pct_args = vec!["exec".to_string(), vmid.to_string(), "--".to_string()];
    pct_args.extend(argv);
    if args.flag("dry_run").unwrap_or(false) {
        let mut shown = vec![PCT.to_string()];
        shown.extend(pct_args);
        let target = ctx.pve.get(&format!("{base}/status/current"), &[])?;
        return exec_dry_run(json!({"command": shown, "timeout": timeout}), target);
    }
    let ran = run_bounded(
        Path::new(PCT),
        &pct_args,
        Duration::from_secs(timeout),
        MAX_STREAM,
        ctx.waiter,
    )
    .map_err(|message| match message.as_str() {
        CANCELLED => Error::Cancelled,
        _ => Error::Transport {
            method: "pct",
            path: format!("exec {vmid}"),
            message,
        },
    })?;
    let mut out = Map::new();
    if ran.timed_out {
        out.insert(
            "hint".into(),
            json!(format!(
                "the command did not finish within {timeout} s and was killed; call again with a larger timeout"
            )),
        );
    }
    out.insert(
        "data".into(),
        json!({
            "exitcode": ran.code,
            "stdout": String::from_utf8_lossy(&ran.stdout),
            "stderr": String::from_utf8_lossy(&ran.stderr),
            "stdout_truncated": ran.stdout_truncated,
            "stderr_truncated": ran.stderr_truncated,
            "timed_out": ran.timed_out,
        }),
    );
    if let (Some(signal), Some(Value::Object(d))) = (ran.signal, out.get_mut("data")) {
        d.insert("signal".into(), json!(signal));
    }
    Ok(out)
}

/// What a local command did.
#[derive(Debug)]
struct Ran {
    /// None when it was killed by a signal.
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    timed_out: bool,
}

/// A stream read to its end on a thread, keeping the first `max` bytes.
struct Capture {
    kept: Arc<Mutex<(Vec<u8>, bool)>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(mut stream: impl Read + Send + 'static, max: usize) -> Capture {
        let kept = Arc::new(Mutex::new((Vec::new(), false)));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut k = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let room = max.saturating_sub(k.0.len());
                        if n > room {
                            k.1 = true;
                        }
                        k.0.extend_from_slice(&chunk[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
        Capture { kept, done }
    }

    /// What was read, after waiting up to `grace` for the end of the stream (a process the
    /// command left behind may hold it open).
    fn finish(self, grace: Duration) -> (Vec<u8>, bool) {
        let _ = self.done.recv_timeout(grace);
        let mut k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut k.0), k.1)
    }
}

/// Kills the child and, on Unix, its process group (it was started as the group's leader).
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `program args…` without a shell and with no stdin, capturing at most `max` bytes of
/// stdout and of stderr, killing it (and its process group) after `timeout` or when the caller
/// cancels (then the error is `CANCELLED`).
fn run_bounded(
    program: &Path,
    args: &[String],
    timeout: Duration,
    max: usize,
    waiter: &dyn Waiter,
) -> Result<Ran, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let out = child.stdout.take().map(|s| Capture::start(s, max));
    let err = child.stderr.take().map(|s| Capture::start(s, max));
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                kill_tree(&mut child);
                return Err(format!("waiting for {} failed: {e}", program.display()));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            kill_tree(&mut child);
            break None;
        }
        if !waiter.pause(delay.min(deadline - now)) {
            kill_tree(&mut child);
            return Err(CANCELLED.into());
        }
        delay = (delay * 2).min(Duration::from_millis(250));
    };
    let grace = Duration::from_secs(1);
    let (stdout, stdout_truncated) = out.map(|c| c.finish(grace)).unwrap_or_default();
    let (stderr, stderr_truncated) = err.map(|c| c.finish(grace)).unwrap_or_default();
    #[cfg(unix)]
    let signal = {
        use std::os::unix::process::ExitStatusExt;
        status.and_then(|s| s.signal())
    };
    #[cfg(not(unix))]
    let signal = None;
    Ok(Ran {
        code: status.and_then(|s| s.code()),
        signal: if timed_out { None } else { signal },
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        timed_out,
    })
}

/// `run_bounded`'s error text when the caller cancelled (turned into `Error::Cancelled`).
const CANCELLED: &str = "cancelled by the client";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Sleep;

    #[test]
    fn agent_property_strings() {
        for on in [
            json!("1"),
            json!("enabled=1,fstrim_cloned_disks=1"),
            json!(1),
            json!("1,type=virtio"),
        ] {
            assert!(agent_enabled(Some(&on)), "{on}");
        }
        for off in [json!("0"), json!("enabled=0"), json!(0), Value::Null] {
            assert!(!agent_enabled(Some(&off)), "{off}");
        }
        assert!(!agent_enabled(None));
    }

    #[test]
    fn argv_is_checked() {
        assert_eq!(
            check_argv(&json!(["df", "-h"])).unwrap(),
            vec!["df".to_string(), "-h".to_string()]
        );
        assert!(check_argv(&json!("df -h"))
            .unwrap_err()
            .starts_with("must be an array of strings"));
        assert!(check_argv(&json!([]))
            .unwrap_err()
            .contains("at least the program"));
        assert!(check_argv(&json!(["ls", 1]))
            .unwrap_err()
            .starts_with("item 1 must be a string, got 1"));
        assert_eq!(
            check_argv(&json!(["echo", "x".repeat(4097)])).unwrap_err(),
            "item 1 may be at most 4096 characters long"
        );
        assert!(check_argv(&json!(["echo", "x".repeat(4096)])).is_ok());
        assert_eq!(
            check_argv(&json!(["echo", "a\u{0}b"])).unwrap_err(),
            "item 1 contains a NUL character"
        );
        assert_eq!(
            check_argv(&json!([" "])).unwrap_err(),
            "item 0 (the program) must not be empty"
        );
        let many: Vec<&str> = vec!["x"; MAX_ARGS + 1];
        assert!(check_argv(&json!(many))
            .unwrap_err()
            .contains("at most 1024 items"));
    }

    /// A waiter whose caller has gone away.
    struct Gone;
    impl Waiter for Gone {
        fn wants_progress(&self) -> bool {
            false
        }
        fn progress(&self, _message: &str) {}
        fn pause(&self, _d: Duration) -> bool {
            false
        }
    }

    fn sh(script: &str, timeout_ms: u64, max: usize, waiter: &dyn Waiter) -> Result<Ran, String> {
        let args = vec!["-c".to_string(), script.to_string()];
        run_bounded(
            Path::new("/bin/sh"),
            &args,
            Duration::from_millis(timeout_ms),
            max,
            waiter,
        )
    }

    #[cfg(unix)]
    #[test]
    fn runner_captures_exit_code_and_streams() {
        let ran = sh("echo out; echo err >&2; exit 3", 10_000, 1024, &Sleep).unwrap();
        assert_eq!(ran.code, Some(3));
        assert_eq!(ran.stdout, b"out\n");
        assert_eq!(ran.stderr, b"err\n");
        assert!(!ran.timed_out && !ran.stdout_truncated && !ran.stderr_truncated);
        assert_eq!(ran.signal, None);
    }

    #[cfg(unix)]
    #[test]
    fn runner_bounds_output() {
        let ran = sh(
            "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done",
            20_000,
            1000,
            &Sleep,
        )
        .unwrap();
        assert_eq!(ran.code, Some(0));
        assert_eq!(ran.stdout.len(), 1000);
        assert!(ran.stdout_truncated);
        assert!(!ran.stderr_truncated);
    }

    #[cfg(unix)]
    #[test]
    fn runner_kills_on_timeout_with_children() {
        let started = Instant::now();
        // The child's own child holds the pipes open: the group kill ends it too.
        let ran = sh("echo begun; sleep 30 & sleep 30", 300, 1024, &Sleep).unwrap();
        assert!(ran.timed_out);
        assert_eq!(ran.code, None);
        assert_eq!(ran.stdout, b"begun\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[cfg(unix)]
    #[test]
    fn runner_stops_when_cancelled() {
        let started = Instant::now();
        assert_eq!(sh("sleep 30", 10_000, 1024, &Gone).unwrap_err(), CANCELLED);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn runner_reports_a_missing_program() {
        let err = run_bounded(
            Path::new("/nonexistent/pct"),
            &[],
            Duration::from_secs(1),
            10,
            &Sleep,
        )
        .unwrap_err();
        assert!(
            err.starts_with("could not start /nonexistent/pct: "),
            "{err}"
        );
    }
}
