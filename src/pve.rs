//! The PVE REST client: the only module that knows HTTP (TLS itself lives in `tls.rs`).
//!
//! Calls go to `/api2/extjs/...` (errors come back as JSON with a message), GET/DELETE parameters
//! in the query, POST/PUT parameters as a form body, booleans as 0/1. One `ureq::Agent` is reused,
//! so connections are kept alive. Password logins keep a ticket, renewed before it expires.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::config::{Auth, Config, Host, Secret};
use crate::error::Error;
use crate::tls::{self, Trust};

mod task;
pub use task::{task_ok, task_summary, Upid};

/// Largest PVE answer read into memory.
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// Most JSON objects and arrays one answer may hold, counted in its text before parsing (see
/// `json_cost`). A parsed object costs far more than its text: a 14 MiB answer of `{"a":1}`
/// takes over 1 GB as `serde_json::Value`, about 670 bytes per small object. 100,000 bounds an
/// answer to about 70 MB, and is ten times what a 10,000-guest cluster's `/cluster/resources`
/// holds.
const MAX_CONTAINERS: usize = 100_000;
/// Most values (array items and object members, counted by their commas) one answer may hold:
/// about 32 bytes each once parsed, so about 30 MB at most.
const MAX_ITEMS: usize = 1_000_000;
/// Most guest locations kept in the cache; when full, expired ones go, then all of them.
const MAX_GUESTS: usize = 10_000;
/// A ticket is valid 2 hours; it is renewed once it is older than this (as PVE's own client does).
const TICKET_RENEW_AFTER: Duration = Duration::from_secs(3600);
/// How long a guest's node is taken from the cache instead of asking `/cluster/resources`.
const GUEST_TTL: Duration = Duration::from_secs(30);
/// PVE's ticket lifetime.
const TICKET_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// An HTTP method of the PVE API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Request parameters, already in PVE's wire form (booleans as "0"/"1").
pub type Params = Vec<(&'static str, String)>;

/// `true` → "1", as PVE's form encoding wants.
pub fn bool01(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

/// Builds an API path from segments, percent-encoding each one: `path(&["nodes", &node, "qemu"])`.
pub fn path(segments: &[&dyn fmt::Display]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        encode_into(&mut out, &s.to_string(), b":@!");
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `keep`.
fn encode_into(out: &mut String, s: &str, keep: &[u8]) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn form_encode(params: &[(&'static str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, k, b"");
        out.push('=');
        encode_into(&mut out, v, b"");
    }
    out
}

/// What PVE answered: `data`, `total` where a list reports it, and `changes` where PVE reports
/// staged changes beside the data (a node's network list: the diff of its pending config).
#[derive(Debug)]
pub struct Reply {
    pub data: Value,
    pub total: Option<u64>,
    pub changes: Option<String>,
}

struct Session {
    ticket: Secret,
    csrf: Secret,
    /// When PVE issued the ticket (wall clock, so a suspended laptop still sees it age).
    issued: SystemTime,
}

impl Session {
    fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.issued)
            .unwrap_or_default()
    }
}

/// When PVE issued `ticket` (`PVE:user@realm:HEXTIME::signature`), if that is plausible for this
/// machine's clock; otherwise now (clock skew, or a time too large to represent: checked, never
/// `UNIX_EPOCH + Duration`, which panics on overflow). A ticket taken as new too long is
/// answered with 401 by PVE, and `call` then logs in again.
fn ticket_issued(ticket: &str) -> SystemTime {
    let now = SystemTime::now();
    let stamp = ticket
        .split(':')
        .nth(2)
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    match stamp.and_then(crate::time::unix_time) {
        Some(t)
            if t <= now + Duration::from_secs(300)
                && now.duration_since(t).unwrap_or_default() < TICKET_LIFETIME =>
        {
            t
        }
        _ => now,
    }
}

/// A connection to one PVE cluster.
pub struct Pve {
    agent: ureq::Agent,
    seen: tls::Seen,
    trust: Trust,
    /// The cluster's nodes as configured; `current` is the one that answered last.
    hosts: Vec<Host>,
    current: AtomicUsize,
    user: String,
    auth: Auth,
    session: Mutex<Option<Session>>,
    timeout: Duration,
    /// Where guests were last seen (VMID → node, type), from `/cluster/resources`.
    guests: Mutex<HashMap<u64, (String, String, Instant)>>,
}

impl fmt::Debug for Pve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pve")
            .field("hosts", &self.hosts)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Pve {
    /// Prepares the client (TLS roots, agent). Sends nothing yet.
    pub fn new(config: &Config) -> Result<Pve, Error> {
        let (agent, seen) = tls::agent(&config.trust, config.timeout).map_err(Error::Config)?;
        for host in config.hosts.iter().filter(|h| h.scheme == "http") {
            crate::warn!(
                "{} uses plain http: nothing is encrypted (PVE itself only serves https)",
                host.base_url()
            );
        }
        if config.trust == Trust::Insecure {
            // Always shown, whatever PROXMOX_MCP_LOG says.
            eprintln!(
                "proxmox-mcp-server: warning: PROXMOX_VERIFY_SSL=false: the PVE certificate is not checked, so anyone on the network path can read the credentials; pin it instead with PROXMOX_FINGERPRINT (run `proxmox-mcp-server check` to see it)"
            );
        }
        Ok(Pve {
            agent,
            seen,
            trust: config.trust.clone(),
            hosts: config.hosts.clone(),
            current: AtomicUsize::new(0),
            guests: Mutex::default(),
            user: config.user.clone(),
            auth: config.auth.clone(),
            session: Mutex::new(None),
            timeout: config.timeout,
        })
    }

    /// The user this server logs in as (`PROXMOX_USER`, without a token part).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The API token this server logs in with (the part after `!`), if it uses one.
    pub fn token_name(&self) -> Option<&str> {
        match &self.auth {
            Auth::Token { name, .. } => Some(name),
            Auth::Password { .. } => None,
        }
    }

    /// `text` with this server's own secrets (token value, password, TOTP secret) cut out, for
    /// what PVE hands back from elsewhere (a syslog or task log line may hold anything).
    /// Secrets shorter than 6 characters are left alone: they would cut out ordinary words.
    pub fn hide_own_secrets(&self, text: &str) -> Option<String> {
        let secrets: Vec<&str> = match &self.auth {
            Auth::Token { value, .. } => vec![value.expose()],
            Auth::Password { password, totp } => std::iter::once(password.expose())
                .chain(totp.iter().map(|t| t.expose()))
                .collect(),
        };
        let mut out: Option<String> = None;
        for secret in secrets.into_iter().filter(|s| s.len() >= 6) {
            if out.as_deref().unwrap_or(text).contains(secret) {
                out = Some(out.as_deref().unwrap_or(text).replace(secret, "<redacted>"));
            }
        }
        out
    }

    /// `user@realm` or `user@realm!token`, as PVE records it.
    pub fn identity(&self) -> String {
        match &self.auth {
            Auth::Token { name, .. } => format!("{}!{name}", self.user),
            Auth::Password { .. } => self.user.clone(),
        }
    }

    /// The host that answered last (the first configured one before any call).
    pub fn host(&self) -> &Host {
        &self.hosts[self.current.load(Ordering::Relaxed) % self.hosts.len()]
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Remembers where the guests in a `/cluster/resources` answer live, for `GUEST_TTL`.
    /// Expired entries are dropped here, and the cache never holds more than `MAX_GUESTS`
    /// (answers naming new VMIDs each time would otherwise grow it without end).
    pub fn remember_guests(&self, resources: &Value) {
        let now = Instant::now();
        let mut guests = self.guests.lock().unwrap_or_else(|e| e.into_inner());
        guests.retain(|_, (_, _, seen)| now.duration_since(*seen) < GUEST_TTL);
        for r in resources.as_array().into_iter().flatten() {
            let (Some(vmid), Some(node), Some(kind)) = (
                r.get("vmid").and_then(as_u64),
                r.get("node").and_then(Value::as_str),
                r.get("type").and_then(Value::as_str),
            ) else {
                continue;
            };
            if guests.len() >= MAX_GUESTS && !guests.contains_key(&vmid) {
                // Full of fresh entries: one answer named more guests than that. The cache is
                // only a shortcut, so start over rather than track ages.
                guests.clear();
            }
            guests.insert(vmid, (node.to_string(), kind.to_string(), now));
        }
    }

    /// The node and type (`qemu`/`lxc`) guest `vmid` was last seen on, if that was recent.
    pub fn cached_guest(&self, vmid: u64) -> Option<(String, String)> {
        let guests = self.guests.lock().unwrap_or_else(|e| e.into_inner());
        guests
            .get(&vmid)
            .filter(|(_, _, seen)| seen.elapsed() < GUEST_TTL)
            .map(|(n, k, _)| (n.clone(), k.clone()))
    }

    /// Forgets where guest `vmid` lives (a call about it failed: it may have moved).
    pub fn forget_guest(&self, vmid: u64) {
        self.guests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&vmid);
    }

    /// GET, returning `data`.
    pub fn get(&self, path: &str, params: &[(&'static str, String)]) -> Result<Value, Error> {
        Ok(self.call(Method::Get, path, params)?.data)
    }

    /// Any call; the reply's `data` and `total`.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(&'static str, String)],
    ) -> Result<Reply, Error> {
        match self.call_once(method, path, params) {
            // A ticket may have expired or been revoked: log in again once, then retry.
            // PVE refuses an unauthenticated request before running it, so a retry cannot repeat a write.
            // A failed login is not retried: that would only double the failed attempts.
            Err(Error::Api {
                status: 401,
                path: failed,
                ..
            }) if matches!(self.auth, Auth::Password { .. }) && failed != "/access/ticket" => {
                crate::info!("PVE answered 401; logging in again");
                self.lock_session().take();
                self.call_once(method, path, params)
            }
            other => other,
        }
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call_once(
        &self,
        method: Method,
        path: &str,
        params: &[(&'static str, String)],
    ) -> Result<Reply, Error> {
        let auth_headers = self.auth_headers(method)?;
        self.send(method, path, params, &auth_headers)
    }

    /// The headers that authenticate a request, logging in first when needed.
    fn auth_headers(&self, method: Method) -> Result<Vec<(&'static str, String)>, Error> {
        match &self.auth {
            Auth::Token { name, value } => Ok(vec![(
                "Authorization",
                format!("PVEAPIToken={}!{name}={}", self.user, value.expose()),
            )]),
            Auth::Password { password, .. } => {
                let mut session = self.lock_session();
                let age = session.as_ref().map(Session::age);
                if age.is_none_or(|a| a >= TICKET_RENEW_AFTER) {
                    // Renew with the ticket while it is still valid; otherwise log in with the password.
                    let renewed = match session.as_ref() {
                        Some(old) if old.age() < TICKET_LIFETIME => self.login(&old.ticket).ok(),
                        _ => None,
                    };
                    *session = Some(match renewed {
                        Some(s) => s,
                        None => self.login(password)?,
                    });
                }
                let s = session
                    .as_ref()
                    .ok_or_else(|| Error::Config("no PVE session".into()))?;
                let mut headers = vec![(
                    "Cookie",
                    format!("PVEAuthCookie={}", cookie_escape(s.ticket.expose())),
                )];
                if method != Method::Get {
                    headers.push(("CSRFPreventionToken", s.csrf.expose().to_string()));
                }
                Ok(headers)
            }
        }
    }

    /// `POST /access/ticket`; `secret` is the password or a still valid ticket. Answers PVE's
    /// two-factor challenge with a TOTP code when the user has one.
    fn login(&self, secret: &Secret) -> Result<Session, Error> {
        let first = self.post_ticket(
            vec![
                ("username", self.user.clone()),
                ("password", secret.expose().to_string()),
            ],
            "login",
        )?;
        let reply = if first.data.get("NeedTFA").and_then(as_u64).unwrap_or(0) == 1 {
            self.answer_tfa(&first.data)?
        } else {
            first
        };
        let data = &reply.data;
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        match (text("ticket"), text("CSRFPreventionToken")) {
            (Some(ticket), Some(csrf)) => {
                crate::info!("logged in to {} as {}", self.host().base_url(), self.user);
                Ok(Session {
                    issued: ticket_issued(&ticket),
                    ticket: Secret::new(ticket),
                    csrf: Secret::new(csrf),
                })
            }
            _ => Err(Error::Transport {
                method: "POST",
                path: "/access/ticket".into(),
                message: "the answer holds no ticket; is this a Proxmox VE API?".into(),
            }),
        }
    }

    /// `POST /access/ticket` with `params`; a 401 becomes a clear "`what` failed" error.
    fn post_ticket(&self, params: Params, what: &str) -> Result<Reply, Error> {
        match self.send(Method::Post, "/access/ticket", &params, &[]) {
            Err(Error::Api {
                method,
                path,
                status: 401,
                ..
            }) => Err(Error::Api {
                method,
                path,
                status: 401,
                message: format!(
                    "{what} as {} failed: PVE refused the credentials. Check PROXMOX_PASSWORD, and \
                     the realm in PROXMOX_USER (root@pam is the node's Linux root, NAME@pve a user \
                     of PVE's own realm); PVE also refuses a disabled or expired user. An API token \
                     (PROXMOX_TOKEN_NAME and PROXMOX_TOKEN_VALUE) needs no password",
                    self.user
                ),
            }),
            other => other,
        }
    }

    /// The second step of a two-factor login: the challenge ticket and `totp:CODE`.
    fn answer_tfa(&self, challenge: &Value) -> Result<Reply, Error> {
        let refuse = |message: String| Error::Api {
            method: "POST",
            path: "/access/ticket".into(),
            status: 401,
            message,
        };
        let Auth::Password {
            totp: Some(secret), ..
        } = &self.auth
        else {
            return Err(refuse(format!(
                "{} has two-factor login enabled: set PROXMOX_TOTP_SECRET to the user's TOTP secret (base32), or use an API token (pveum user token add {} mcp)",
                self.user, self.user
            )));
        };
        let ticket = challenge
            .get("ticket")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = crate::totp::decode_base32(secret.expose())
            .map_err(|e| refuse(format!("PROXMOX_TOTP_SECRET: {e}")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let params: Params = vec![
            ("username", self.user.clone()),
            ("tfa-challenge", ticket),
            ("password", format!("totp:{}", crate::totp::code(&key, now))),
        ];
        self.post_ticket(params, "two-factor login").map_err(|e| match e {
            Error::Api { status: 401, .. } => refuse(format!(
                "PVE refused the two-factor code for {}: check PROXMOX_TOTP_SECRET and that this machine's clock is right",
                self.user
            )),
            other => other,
        })
    }

    /// Sends a request to the current host; when that host cannot be reached (and the request
    /// cannot have run there), the next host is tried, and the one that answers is kept.
    fn send(
        &self,
        method: Method,
        path: &str,
        params: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<Reply, Error> {
        let first = self.current.load(Ordering::Relaxed);
        let mut failed: Vec<String> = Vec::new();
        for i in 0..self.hosts.len() {
            let index = (first + i) % self.hosts.len();
            let host = &self.hosts[index];
            match self.send_to(host, method, path, params, headers) {
                Ok(reply) => {
                    if index != first % self.hosts.len() {
                        crate::warn!(
                            "{} did not answer; now using {}",
                            self.hosts[first % self.hosts.len()].base_url(),
                            host.base_url()
                        );
                        self.current.store(index, Ordering::Relaxed);
                    }
                    return Ok(reply);
                }
                Err(Failure {
                    error,
                    elsewhere: true,
                }) if self.hosts.len() > 1 => {
                    let reason = match &error {
                        Error::Transport { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    failed.push(reason);
                }
                Err(Failure { error, .. }) => return Err(error),
            }
        }
        Err(Error::Transport {
            method: method.as_str(),
            path: path.to_string(),
            message: format!("no PVE host could be reached: {}", failed.join("; ")),
        })
    }

    fn send_to(
        &self,
        host: &Host,
        method: Method,
        path: &str,
        params: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<Reply, Failure> {
        let started = Instant::now();
        let mut url = format!("{}/api2/extjs{path}", host.base_url());
        let form = form_encode(params);
        let transport = |message: String| Error::Transport {
            method: method.as_str(),
            path: path.to_string(),
            message,
        };
        self.seen.clear();
        let result = match method {
            Method::Get | Method::Delete => {
                if !form.is_empty() {
                    url.push('?');
                    url.push_str(&form);
                }
                let req = if method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                with_headers(req, headers).call()
            }
            Method::Post | Method::Put => {
                let req = if method == Method::Post {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                with_headers(req, headers)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(form.as_bytes())
            }
        };
        let mut response = result.map_err(|e| Failure {
            // Safe to try elsewhere: nothing reached PVE, or the request only reads.
            elsewhere: not_sent(&e) || method == Method::Get,
            error: transport(self.describe(host, method, !not_sent(&e), &e)),
        })?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            // The agent follows no redirect (tls.rs); nothing is sent to the Location, and no
            // other host is tried: the request reached this one.
            let location = response
                .headers()
                .get("location")
                .map(|l| self.shown_location(l.as_bytes(), params, headers));
            return Err(transport(redirected(host, method, status, location)).into());
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| transport(self.describe(host, method, true, &e)));
        let body = body?;
        let api = |status: u16, message: String| Error::Api {
            method: method.as_str(),
            path: path.to_string(),
            status,
            message,
        };
        if let Some(what) = json_cost(body.as_bytes()) {
            let may_have_run = if method == Method::Get {
                ""
            } else {
                "; the request was sent and may have taken effect: check before repeating it"
            };
            return Err(transport(format!(
                "the answer holds more than {what}, more than this server parses (a bound on memory); \
                 narrow the query, e.g. to one node, one type or one storage{may_have_run}"
            ))
            .into());
        }
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        // The extjs envelope carries PVE's own status (a refused token is HTTP 200 with 401 in it).
        let pve_status = parsed
            .as_ref()
            .and_then(|v| v.get("status"))
            .and_then(as_u64)
            .unwrap_or(u64::from(status));
        crate::debug!(
            "{} {path} -> {pve_status} in {} ms",
            method.as_str(),
            started.elapsed().as_millis()
        );
        if status != 200 {
            let message = parsed
                .as_ref()
                .and_then(|v| v.get("message"))
                .and_then(Value::as_str)
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| match status {
                    401 => "authentication failed (401)".to_string(),
                    595..=599 => format!("node unreachable ({status})"),
                    _ => format!("HTTP status {status}"),
                });
            return Err(api(status, message).into());
        }
        let Some(Value::Object(mut body)) = parsed else {
            return Err(transport(
                "the answer is not JSON; is PROXMOX_HOST a Proxmox VE node (port 8006)?".into(),
            )
            .into());
        };
        let success = body
            .get("success")
            .map(|s| s.as_bool().unwrap_or(as_u64(s) == Some(1)))
            .unwrap_or(true);
        if !success {
            let status = body
                .get("status")
                .and_then(as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500);
            let mut message = body
                .get("message")
                .and_then(Value::as_str)
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("PVE reported failure (status {status})"));
            if let Some(Value::Object(errors)) = body.get("errors") {
                for (param, reason) in errors {
                    let reason = reason
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| reason.to_string());
                    let _ = write!(message, "; {param}: {}", reason.trim());
                }
            }
            return Err(api(status, message).into());
        }
        Ok(Reply {
            data: body.remove("data").unwrap_or(Value::Null),
            total: body.get("total").and_then(as_u64),
            changes: body
                .get("changes")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// A redirect's `Location` as shown in an error: scheme, host and path only (no user info,
    /// query or fragment), control characters escaped, at most 200 characters, and any secret
    /// this request carried (token, password, ticket, CSRF token) cut out, should a hostile
    /// server echo it back.
    fn shown_location(
        &self,
        raw: &[u8],
        params: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> String {
        let text = String::from_utf8_lossy(raw);
        let mut shown = match text.split_once("://") {
            Some((scheme, rest)) => {
                let end = rest.find(['?', '#']).unwrap_or(rest.len());
                let (kept, cut) = rest.split_at(end);
                let kept = match kept.split_once('/') {
                    Some((authority, path)) => {
                        let host = authority.rsplit('@').next().unwrap_or_default();
                        format!("{scheme}://{host}/{path}")
                    }
                    None => format!("{scheme}://{}", kept.rsplit('@').next().unwrap_or_default()),
                };
                if cut.is_empty() {
                    kept
                } else {
                    format!("{kept}?…")
                }
            }
            None => text
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let mut secrets: Vec<String> = Vec::new();
        match &self.auth {
            Auth::Token { value, .. } => secrets.push(value.expose().to_string()),
            Auth::Password { password, totp } => {
                secrets.push(password.expose().to_string());
                secrets.extend(totp.iter().map(|t| t.expose().to_string()));
            }
        }
        for (name, value) in headers {
            let value = match *name {
                "Cookie" => value.strip_prefix("PVEAuthCookie=").unwrap_or(value),
                "Authorization" => value.rsplit('=').next().unwrap_or(value),
                _ => value,
            };
            secrets.push(value.to_string());
        }
        for (name, value) in params {
            if matches!(*name, "password" | "tfa-challenge") {
                secrets.push(value.clone());
            }
        }
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            let mut encoded = String::new();
            encode_into(&mut encoded, secret, b"");
            for form in [secret.as_str(), encoded.as_str(), &percent_decode(secret)] {
                if form.len() >= 4 {
                    shown = shown.replace(form, "<redacted>");
                }
            }
        }
        let mut out: String = shown
            .chars()
            .take(200)
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        if shown.chars().count() > 200 {
            out.push('…');
        }
        out
    }

    /// Turns a transport failure into text that says what to do (and never shows a secret).
    /// `sent`: the request may have reached PVE (so a write may have taken effect).
    fn describe(&self, target: &Host, method: Method, sent: bool, err: &ureq::Error) -> String {
        let host = format!("{}:{}", target.host, target.port);
        let may_have_run = if sent && method != Method::Get {
            "; it may have taken effect: check before repeating it"
        } else {
            ""
        };
        if tls::is_cert_error(err) {
            return self.describe_certificate(&host, err);
        }
        match err {
            ureq::Error::Timeout(_) => format!(
                "no answer from {host} within {} s (PROXMOX_TIMEOUT); the node may be down, overloaded or filtered{may_have_run}",
                self.timeout.as_secs()
            ),
            ureq::Error::HostNotFound => format!(
                "could not resolve {}: nothing was sent; check PROXMOX_HOST and this machine's DNS",
                target.host
            ),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => format!(
                "cannot connect to {host}: connection refused; check PROXMOX_HOST/PROXMOX_PORT and that pveproxy runs on the node"
            ),
            ureq::Error::BodyExceedsLimit(_) => format!("the answer is larger than {} MiB; narrow the query", MAX_BODY >> 20),
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => format!("TLS handshake with {host} failed: {err}"),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                format!("the answer from {host} is not valid text ({e}); is PROXMOX_HOST a Proxmox VE node?")
            }
            other if sent => format!("the connection to {host} broke off after the request was sent ({other}){may_have_run}"),
            other => format!("cannot reach {host}: {other}"),
        }
    }

    /// A refused certificate: what it presented (its fingerprint, once), why it was refused,
    /// and what to do about it.
    fn describe_certificate(&self, host: &str, err: &ureq::Error) -> String {
        let Some(fp) = self.seen.get() else {
            return format!("TLS handshake with {host} failed: {err}");
        };
        let date = |d: &Option<String>| d.clone().unwrap_or_else(|| "an unknown date".into());
        match (tls::date_error(err), &self.trust) {
            (Some(tls::Dates::Expired(end)), _) => format!(
                "the TLS certificate of {host} expired on {} (SHA-256 fingerprint {fp}); renew it on \
                 the node: `pvecm updatecerts --force` for PVE's own certificate, or Node > System > Certificates",
                date(&end)
            ),
            (Some(tls::Dates::NotYetValid(start)), _) => format!(
                "the TLS certificate of {host} is valid only from {} (SHA-256 fingerprint {fp}); \
                 check the clock of this machine and of the node",
                date(&start)
            ),
            (None, Trust::Pinned(_)) => format!(
                "the TLS certificate of {host} does not match PROXMOX_FINGERPRINT. If the node's \
                 certificate was replaced on purpose (compare: Node > System > Certificates), trust \
                 the new one with PROXMOX_FINGERPRINT={fp}"
            ),
            (None, trust) => {
                let ca_files = match trust {
                    Trust::Roots { ca_files, system: false } => ca_files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                let or_ca = if ca_files.is_empty() {
                    " or with PROXMOX_CA_FILE=/path/to/pve-root-ca.pem (from /etc/pve on any node)".to_string()
                } else {
                    format!(
                        " (PROXMOX_CA_FILE={} did not sign it: is that the cluster's pve-root-ca.pem?)",
                        ca_files.join(",")
                    )
                };
                format!(
                    "the TLS certificate of {host} is not trusted ({err}). If it is your PVE node's \
                     certificate (compare its SHA-256 fingerprint: Node > System > Certificates), \
                     trust it with PROXMOX_FINGERPRINT={fp}{or_ca}"
                )
            }
        }
    }

    /// The fingerprints `PROXMOX_FINGERPRINT` pins (empty when certificates are checked otherwise).
    pub fn pinned(&self) -> &[tls::Fingerprint] {
        match &self.trust {
            Trust::Pinned(pins) => pins,
            _ => &[],
        }
    }

    /// The SHA-256 fingerprint of the certificate presented in the last request's handshake
    /// (none when that request reused a connection or used plain http).
    pub fn presented_fingerprint(&self) -> Option<tls::Fingerprint> {
        self.seen.get()
    }

    /// The last `lines` lines of a task's log (empty when the log cannot be read).
    pub fn task_log_tail(&self, upid: &Upid, lines: u64) -> Vec<String> {
        let log_path = path(&[&"nodes", &upid.node, &"tasks", &upid.raw, &"log"]);
        let read = |start: u64, limit: u64| {
            self.call(
                Method::Get,
                &log_path,
                &[("start", start.to_string()), ("limit", limit.to_string())],
            )
        };
        let Ok(first) = read(0, 50) else {
            return Vec::new();
        };
        let reply = match first.total {
            Some(total) if total > 50 => read(total.saturating_sub(lines), lines).unwrap_or(first),
            _ => first,
        };
        let mut out: Vec<String> = reply
            .data
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.get("t").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let skip = out.len().saturating_sub(lines as usize);
        out.drain(..skip);
        out
    }
}

/// A request that failed; `elsewhere` when another host may be tried with it.
struct Failure {
    error: Error,
    elsewhere: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            elsewhere: false,
        }
    }
}

/// The error text for a 3xx answer from `host`: PVE's API never redirects, so this is not PVE
/// (a proxy, a web server, an attacker), and the redirect was not followed. For a write, the
/// request did reach `host`, so it is not called harmless.
fn redirected(host: &Host, method: Method, status: u16, location: Option<String>) -> String {
    let target = format!("{}:{}", host.host, host.port);
    let to = match location {
        Some(l) => format!("to {l}"),
        None => "without a Location".to_string(),
    };
    let mut message = format!(
        "{target} answered with a redirect (HTTP {status}) {to}; it was not followed: the Proxmox VE API never redirects, \
         so PROXMOX_HOST may name a proxy or another web server instead of a PVE node (https, port 8006)"
    );
    if method != Method::Get {
        message.push_str(&format!(
            "; the request reached {target} and may have taken effect: check before repeating it"
        ));
    }
    message
}

/// What makes a JSON text too costly to parse, if anything: more than `MAX_CONTAINERS` objects
/// and arrays or more than `MAX_ITEMS` values. A single pass over the bytes, skipping strings
/// (so `{`, `[` and `,` inside them do not count); it does not check that the text is JSON.
fn json_cost(body: &[u8]) -> Option<String> {
    let (mut containers, mut items) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => containers += 1,
            b',' => items += 1,
            _ => {}
        }
        if containers > MAX_CONTAINERS {
            return Some(format!("{MAX_CONTAINERS} JSON objects and arrays"));
        }
        if items > MAX_ITEMS {
            return Some(format!("{MAX_ITEMS} JSON values"));
        }
    }
    None
}

/// Undoes percent-encoding (`%3A` → `:`); anything malformed is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the request cannot have reached PVE: name resolution, connection and TLS handshake
/// failures.
fn not_sent(err: &ureq::Error) -> bool {
    use std::io::ErrorKind::*;
    match err {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_) => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ureq::Error::Io(e) => {
            matches!(
                e.kind(),
                ConnectionRefused
                    | NotConnected
                    | AddrNotAvailable
                    | NetworkUnreachable
                    | HostUnreachable
            ) || tls::is_cert_error(err)
        }
        _ => false,
    }
}

/// The ticket as a cookie value: PVE's tickets hold `:` and `=`, which cookies carry escaped.
fn cookie_escape(ticket: &str) -> String {
    let mut out = String::new();
    encode_into(&mut out, ticket, b"");
    out
}

/// A number PVE may send as a number, a numeric string or a boolean.
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

/// PVE's node name format (`pve-node`): letters, digits and inner '-'.
pub fn valid_node_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `req` with `headers` added.
fn with_headers<B>(
    req: ureq::RequestBuilder<B>,
    headers: &[(&'static str, String)],
) -> ureq::RequestBuilder<B> {
    headers.iter().fold(req, |req, (k, v)| req.header(*k, v))
}

#[cfg(test)]
mod tests;
