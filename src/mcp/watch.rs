//! A resource watched in the background while a client is subscribed to it: a thread re-checks it
//! every interval and, when what it reports changes, hands `notifications/resources/updated` to
//! the session's writer (`Sink`). The session never waits on it: the thread has its own PVE
//! requests, and its notifications are written between other messages.
//!
//! Subscriptions come two ways: `resources/subscribe` (handshake versions; one per session) and
//! `subscriptions/listen` (2026-07-28; each open listen request is one, its id carried in every
//! notification's `_meta`). Polling stops when the last one ends (unsubscribe, a cancelled listen)
//! and with the session (the sink fails once the session's reader is gone).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use super::{Channel, Refusal, Server, INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND};

/// What a check reports: one entry per thing that matters (e.g. `id=severity`), in a stable
/// order; a change of the list is a change of the resource.
pub type Check = Box<dyn Fn() -> Vec<String> + Send + Sync>;

/// Where notifications go: false once the session is gone.
pub type Sink = Arc<dyn Fn(Vec<Value>) -> bool + Send + Sync>;

/// Most open `subscriptions/listen` requests at once: each is remembered until cancelled.
pub const MAX_LISTENS: usize = 64;

/// `_meta` key of notifications sent on a `subscriptions/listen` stream (2026-07-28).
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// One subscriber.
#[derive(Clone, Debug, PartialEq)]
enum Sub {
    /// `resources/subscribe` in a handshake session.
    Legacy,
    /// An open `subscriptions/listen` request, by its id.
    Listen(Value),
}

struct State {
    subs: Vec<Sub>,
    sink: Option<Sink>,
    /// Whether the polling thread was started (it lives as long as the session).
    started: bool,
    /// Bumped by every change of `subs`, so a sleeping poll notices at once.
    generation: u64,
}

struct Inner {
    uri: &'static str,
    interval: Duration,
    check: Check,
    state: Mutex<State>,
    wake: Condvar,
}

/// The watched resource `uri` (cheap to clone: one shared state).
#[derive(Clone)]
pub struct Watch {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("uri", &self.inner.uri)
            .field("interval", &self.inner.interval)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// Watches `uri` with `check`, every `interval` while subscribed.
    pub fn new(uri: &'static str, interval: Duration, check: Check) -> Watch {
        Watch {
            inner: Arc::new(Inner {
                uri,
                interval,
                check,
                state: Mutex::new(State {
                    subs: Vec::new(),
                    sink: None,
                    started: false,
                    generation: 0,
                }),
                wake: Condvar::new(),
            }),
        }
    }

    pub fn uri(&self) -> &'static str {
        self.inner.uri
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a check cannot poison this: checks run without the lock held.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives the watch the session's writer (the stdio loop does, before the first request).
    pub fn attach(&self, sink: Sink) {
        self.lock().sink = Some(sink);
    }

    /// `resources/subscribe` of the watched resource (again: nothing more).
    pub fn subscribe(&self) {
        self.add(Sub::Legacy);
    }

    /// `resources/unsubscribe`.
    pub fn unsubscribe(&self) {
        self.remove(&Sub::Legacy);
    }

    /// An open `subscriptions/listen` request `id` that asked for the watched resource; false
    /// when `MAX_LISTENS` are open already.
    pub fn listen(&self, id: &Value) -> bool {
        let open = self
            .lock()
            .subs
            .iter()
            .filter(|s| matches!(s, Sub::Listen(_)))
            .count();
        if open >= MAX_LISTENS {
            return false;
        }
        self.add(Sub::Listen(id.clone()));
        true
    }

    /// `notifications/cancelled` for request `id`: ends the listen request of that id, if any.
    pub fn cancel(&self, id: &Value) {
        self.remove(&Sub::Listen(id.clone()));
    }

    fn add(&self, sub: Sub) {
        let mut state = self.lock();
        if state.sink.is_none() {
            // Not on a stdio session (a single line handled alone): nothing could be sent.
            return;
        }
        if !state.subs.contains(&sub) {
            state.subs.push(sub);
            state.generation += 1;
        }
        if !state.started {
            state.started = true;
            let inner = Arc::clone(&self.inner);
            std::thread::spawn(move || poll(&inner));
        }
        drop(state);
        self.inner.wake.notify_all();
    }

    fn remove(&self, sub: &Sub) {
        let mut state = self.lock();
        let before = state.subs.len();
        state.subs.retain(|s| s != sub);
        if state.subs.len() != before {
            state.generation += 1;
            drop(state);
            self.inner.wake.notify_all();
        }
    }
}

/// The notification for each subscriber of `uri`.
fn notifications(uri: &str, subs: &[Sub]) -> Vec<Value> {
    subs.iter()
        .map(|s| {
            let mut params = json!({ "uri": uri });
            if let Sub::Listen(id) = s {
                params["_meta"] = json!({ SUBSCRIPTION_ID: id });
            }
            json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": params})
        })
        .collect()
}

/// The polling thread: idle while nobody is subscribed; from the first subscription on, a
/// baseline check, then one check per interval, notifying every subscriber when it changed.
fn poll(inner: &Inner) {
    let lock = || {
        inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    loop {
        {
            let state = lock();
            let state = inner
                .wake
                .wait_while(state, |s| s.subs.is_empty())
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            drop(state);
        }
        let mut last = (inner.check)();
        loop {
            let state = lock();
            let generation = state.generation;
            let (state, _) = inner
                .wake
                .wait_timeout_while(state, inner.interval, |s| {
                    s.generation == generation && !s.subs.is_empty()
                })
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.subs.is_empty() {
                break;
            }
            if state.generation != generation {
                // Someone subscribed or left: the interval starts again, the baseline stays.
                continue;
            }
            drop(state);
            let now = (inner.check)();
            if now == last {
                continue;
            }
            last = now;
            let (out, sink) = {
                let state = lock();
                (notifications(inner.uri, &state.subs), state.sink.clone())
            };
            // Sent without the lock: the writer may be busy with a request that subscribes.
            if !sink.is_some_and(|sink| sink(out)) {
                // The session is gone: so is the reason to poll.
                return;
            }
        }
    }
}

impl Server<'_> {
    /// The watched resource `uri` if `method`'s `uri` names it and the tool selection offers
    /// it; a refusal saying what to do otherwise.
    fn watched(&self, method: &str, uri: Option<&Value>) -> Result<&Watch, Refusal> {
        let Some(watch) = &self.watch else {
            return Err(Refusal::new(
                METHOD_NOT_FOUND,
                format!("{method}: this server offers no resource to subscribe to"),
            ));
        };
        let Some(uri) = uri.and_then(Value::as_str) else {
            return Err(Refusal::new(
                INVALID_PARAMS,
                format!("{method} needs a uri (a string)"),
            ));
        };
        if uri != watch.uri() {
            return Err(Refusal::new(
                INVALID_PARAMS,
                format!(
                    "{method}: only {} can be subscribed to (it is re-checked every {} s); read {uri} with resources/read instead",
                    watch.uri(),
                    watch.inner.interval.as_secs()
                ),
            ));
        }
        if let Err(why) = crate::resources::offered_uri(self.policy, uri) {
            return Err(Refusal::with_data(
                RESOURCE_NOT_FOUND,
                why,
                json!({ "uri": uri }),
            ));
        }
        Ok(watch)
    }

    /// `resources/subscribe` (`on`) and `resources/unsubscribe`.
    pub(super) fn subscribe(
        &self,
        method: &str,
        params: &serde_json::Map<String, Value>,
        on: bool,
    ) -> Result<Value, Refusal> {
        let watch = self.watched(method, params.get("uri"))?;
        if on {
            watch.subscribe();
        } else {
            watch.unsubscribe();
        }
        Ok(json!({}))
    }

    /// `subscriptions/listen` (2026-07-28): acknowledges the resources it will report on and
    /// keeps the request open (no response) until the client cancels it; with nothing to report
    /// on, answers at once (the stream ends).
    pub(super) fn listen(
        &self,
        id: &Value,
        params: &serde_json::Map<String, Value>,
        channel: &dyn Channel,
    ) -> Result<Option<Value>, Refusal> {
        let Some(wanted) = params.get("notifications").and_then(Value::as_object) else {
            return Err(Refusal::new(
                INVALID_PARAMS,
                "subscriptions/listen needs notifications (an object, e.g. {\"resourceSubscriptions\": [\"proxmox://alerts\"]})".into(),
            ));
        };
        let uris = match wanted.get("resourceSubscriptions") {
            None => Vec::new(),
            Some(Value::Array(uris)) if uris.iter().all(Value::is_string) => uris.clone(),
            Some(_) => {
                return Err(Refusal::new(
                    INVALID_PARAMS,
                    "subscriptions/listen: resourceSubscriptions must be an array of URIs".into(),
                ))
            }
        };
        // Only what this server can report on is acknowledged (list changes never happen here).
        let watch = uris
            .iter()
            .find_map(|u| self.watched("subscriptions/listen", Some(u)).ok());
        if let Some(watch) = watch {
            if !watch.listen(id) {
                return Err(Refusal::new(
                    INVALID_PARAMS,
                    format!(
                        "subscriptions/listen: {MAX_LISTENS} listen requests are open already; cancel one (notifications/cancelled) first"
                    ),
                ));
            }
        }
        let mut agreed = json!({});
        if let Some(watch) = watch {
            agreed["resourceSubscriptions"] = json!([watch.uri()]);
        }
        channel.notify(&json!({
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": {SUBSCRIPTION_ID: id}, "notifications": agreed},
        }));
        match watch {
            Some(_) => Ok(None),
            None => Ok(Some(json!({"_meta": {SUBSCRIPTION_ID: id}}))),
        }
    }
}
