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

use super::{
    Channel, Refusal, Server, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND,
};

/// What a check reports: one entry per thing that matters (e.g. `id=severity`), in a stable
/// order; a change of the list is a change of the resource.
pub type Check = Box<dyn Fn() -> Vec<String> + Send + Sync>;

/// Where notifications go: false once the session is gone.
pub type Sink = Arc<dyn Fn(Vec<Value>) -> bool + Send + Sync>;

/// Most open `subscriptions/listen` requests at once: each is remembered until cancelled.
pub const MAX_LISTENS: usize = 64;
/// Longest `subscriptions/listen` request id (a string) remembered.
pub const MAX_LISTEN_ID: usize = 256;

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
}

struct Inner {
    uri: &'static str,
    interval: Duration,
    check: Check,
    state: Mutex<State>,
    wake: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a check cannot poison this: checks run without the lock held.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
                }),
                wake: Condvar::new(),
            }),
        }
    }

    pub fn uri(&self) -> &'static str {
        self.inner.uri
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
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
            drop(state);
            self.inner.wake.notify_all();
        }
    }

    /// Of `out` (notifications made when the check saw a change), those whose subscriber is
    /// still subscribed: the session writes them later, maybe after an unsubscribe or a
    /// cancellation it handled meanwhile, which must end them.
    pub fn still_wanted(&self, out: Vec<Value>) -> Vec<Value> {
        let state = self.lock();
        out.into_iter()
            .filter(|m| {
                let sub = match m["params"]["_meta"].get(SUBSCRIPTION_ID) {
                    Some(id) => Sub::Listen(id.clone()),
                    None => Sub::Legacy,
                };
                state.subs.contains(&sub)
            })
            .collect()
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

/// What a check reports, or, when it panics, a state of its own (the panic is logged): the
/// thread keeps polling, and subscribers hear that something changed (reading the resource then
/// says what went wrong) rather than never hearing again.
fn checked(inner: &Inner) -> Vec<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (inner.check)())).unwrap_or_else(
        |_| {
            crate::warn!(
                "internal error while checking {}; it is checked again in {} s",
                inner.uri,
                inner.interval.as_secs()
            );
            vec!["the check failed".to_string()]
        },
    )
}

/// The polling thread: idle while nobody is subscribed; from the first subscription on, a
/// baseline check, then one check per interval, notifying every subscriber when it changed.
/// Subscribers coming and going do not move the next check (only the last one leaving stops it).
fn poll(inner: &Inner) {
    let lock = || inner.lock();
    loop {
        {
            let state = lock();
            let state = inner
                .wake
                .wait_while(state, |s| s.subs.is_empty())
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            drop(state);
        }
        let mut last = checked(inner);
        loop {
            let state = lock();
            let (state, _) = inner
                .wake
                .wait_timeout_while(state, inner.interval, |s| !s.subs.is_empty())
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.subs.is_empty() {
                break;
            }
            drop(state);
            let now = checked(inner);
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
        // The id is remembered while the stream is open: a short one, as ids go.
        if id.as_str().is_some_and(|s| s.len() > MAX_LISTEN_ID) {
            return Err(Refusal::new(
                INVALID_REQUEST,
                format!("subscriptions/listen: the request id is longer than {MAX_LISTEN_ID} characters; use a shorter one"),
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// A watch checked every 20 ms whose check gives `states` in turn (a panic for `None`),
    /// then the last one; its notifications arrive on the receiver.
    fn watch(states: Vec<Option<&'static str>>) -> (Watch, mpsc::Receiver<Vec<Value>>) {
        let calls = AtomicUsize::new(0);
        let check = move || {
            let n = calls.fetch_add(1, Ordering::SeqCst).min(states.len() - 1);
            match states[n] {
                Some(s) => vec![s.to_string()],
                None => panic!("check {n} panics"),
            }
        };
        let w = Watch::new(
            "proxmox://alerts",
            Duration::from_millis(20),
            Box::new(check),
        );
        let (tx, rx) = mpsc::channel();
        w.attach(Arc::new(move |out| tx.send(out).is_ok()));
        (w, rx)
    }

    #[test]
    fn a_check_that_panics_does_not_end_the_watch() {
        let (w, rx) = watch(vec![Some("ok"), None, None, Some("ok")]);
        w.subscribe();
        // The panic is a change (reading the resource tells what failed), and so is the recovery.
        for _ in 0..2 {
            let out = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("a notification after the panicking check");
            assert_eq!(
                out,
                [
                    json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "proxmox://alerts"}})
                ]
            );
        }
        w.unsubscribe();
    }

    #[test]
    fn subscribers_coming_and_going_do_not_hold_back_the_next_check() {
        let (w, rx) = watch(vec![Some("a"), Some("b")]);
        w.listen(&json!(1));
        // Listen requests opened and cancelled more often than the interval.
        let start = std::time::Instant::now();
        let mut n = 100;
        let out = loop {
            if let Ok(out) = rx.try_recv() {
                break out;
            }
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "no check while subscribers churn"
            );
            w.listen(&json!(n));
            std::thread::sleep(Duration::from_millis(5));
            w.cancel(&json!(n));
            n += 1;
        };
        assert_eq!(out[0]["params"]["_meta"][SUBSCRIPTION_ID], 1, "{out:?}");
        // Only what is still subscribed is written.
        w.cancel(&json!(1));
        assert!(w.still_wanted(out).is_empty());
    }
}
