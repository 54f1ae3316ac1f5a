//! The stdio transport: a reader thread that hands lines over a channel (`read_lines`, at most
//! `MAX_LINE` long), the session's input and output while a request runs (`Io`: pings answered,
//! other requests queued, cancellations applied), and the loop that feeds the server (`serve`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::watch::Watch;
use super::{error, request_id, response, Channel, Server, INVALID_REQUEST, META_VERSION};

/// Longest request line read; a longer one is answered with an error and skipped.
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Most requests held back while a tool waits; beyond that the input is not read until it is done.
const MAX_QUEUED: usize = 1000;

/// Reads requests from `input` until end of file, writing one line per response to `output`.
///
/// A reader thread feeds lines through a channel, so a tool that waits on a PVE task still sees
/// what arrives: it answers `ping` at once, stops on `notifications/cancelled` for its request or
/// on end of input, and leaves other requests queued to be answered after it, in order. A
/// cancellation for a queued request drops it: it never runs and is never answered.
pub fn serve(
    server: &mut Server,
    input: impl BufRead + Send + 'static,
    output: impl Write,
) -> io::Result<()> {
    // Few lines in flight: each may be up to MAX_LINE long.
    let (tx, rx) = mpsc::sync_channel(2);
    if let Some(watch) = &server.watch {
        // A watched resource's notifications come through the same channel, so they are
        // written between other messages, never into one.
        let tx = tx.clone();
        watch.attach(std::sync::Arc::new(move |out| {
            tx.send(Input::Notify(out)).is_ok()
        }));
    }
    std::thread::spawn(move || read_lines(input, &tx));
    let io = Io {
        watch: server.watch.clone(),
        rx,
        out: RefCell::new(output),
        queue: RefCell::default(),
        eof: Cell::new(false),
        failed: RefCell::new(None),
        batches: Cell::new(false),
        cancelled: RefCell::default(),
    };
    loop {
        io.batches
            .set(server.session.negotiated == Some("2025-03-26"));
        if !io.queue.borrow().is_empty() {
            // Cancellations sent since the last wait still reach the queued requests.
            io.drain();
        }
        io.cancelled.borrow_mut().clear();
        let next = io.queue.borrow_mut().pop_front().map(|q| q.input);
        let next = match next {
            Some(input) => input,
            None if io.eof.get() => return Ok(()),
            None => io.rx.recv().unwrap_or(Input::Eof),
        };
        let reply = match next {
            Input::Eof => return Ok(()),
            Input::Notify(out) => {
                io.notify_all(out);
                if let Some(e) = io.failed.borrow_mut().take() {
                    return Err(e);
                }
                continue;
            }
            Input::TooLong => Some(error(
                Value::Null,
                INVALID_REQUEST,
                &format!("request line longer than {} MiB", MAX_LINE >> 20),
            )),
            Input::Line(line) => server.handle_line_with(&line, &io),
        };
        if let Some(e) = io.failed.borrow_mut().take() {
            return Err(e);
        }
        if let Some(reply) = reply {
            io.write(&reply)?;
        }
        if io.eof.get() && io.queue.borrow().is_empty() {
            return Ok(());
        }
    }
}

/// What the reader thread (and a watched resource's thread) hands over.
enum Input {
    Line(Vec<u8>),
    TooLong,
    Eof,
    /// Notifications to write as they are.
    Notify(Vec<Value>),
}

fn read_lines(mut input: impl BufRead, tx: &mpsc::SyncSender<Input>) {
    loop {
        let mut line = Vec::new();
        let item = match read_line(&mut input, &mut line, MAX_LINE) {
            Ok(Line::Ok) => Input::Line(line),
            Ok(Line::TooLong) => Input::TooLong,
            Ok(Line::Eof) => Input::Eof,
            Err(e) => {
                crate::warn!("reading stdin failed: {e}");
                Input::Eof
            }
        };
        let last = matches!(item, Input::Eof);
        if tx.send(item).is_err() || last {
            return;
        }
    }
}

/// A line held back while another request waits.
struct Queued {
    input: Input,
    /// The ids of the requests in it that a cancellation may drop.
    ids: Vec<Value>,
}

/// The session's input and output while a request is handled.
struct Io<W: Write> {
    rx: mpsc::Receiver<Input>,
    /// The watched resource, whose listen requests a lone cancellation ends.
    watch: Option<Watch>,
    out: RefCell<W>,
    /// Requests that arrived while another one waited.
    queue: RefCell<VecDeque<Queued>>,
    eof: Cell<bool>,
    /// A write that failed during a wait (the main loop returns it).
    failed: RefCell<Option<io::Error>>,
    /// Whether batches are answered (2025-03-26 negotiated): only then do the requests and
    /// cancellations inside an array count one by one.
    batches: Cell<bool>,
    /// Ids cancelled during the current line that were neither waiting nor queued: later
    /// requests of the batch being handled (skipped when their turn comes).
    cancelled: RefCell<Vec<Value>>,
}

impl<W: Write> Io<W> {
    fn write(&self, message: &Value) -> io::Result<()> {
        let mut text = serde_json::to_vec(message).map_err(io::Error::other)?;
        text.push(b'\n');
        let mut out = self.out.borrow_mut();
        out.write_all(&text)?;
        out.flush()
    }

    /// Whether no more input is taken: a client that floods the server while a request waits
    /// is not read further (memory stays bounded).
    fn full(&self) -> bool {
        let queue = self.queue.borrow();
        let bytes: usize = queue
            .iter()
            .map(|q| match &q.input {
                Input::Line(l) => l.len(),
                _ => 0,
            })
            .sum();
        queue.len() >= MAX_QUEUED || bytes >= MAX_LINE
    }

    /// Takes a line that arrived while `waiting` waits (or, with None, while requests are
    /// queued): answers a ping at once (only during a wait), applies cancellations, queues the
    /// rest. True when it cancels the waiting request.
    fn accept(&self, line: Vec<u8>, waiting: Option<&Value>) -> bool {
        let m = serde_json::from_slice::<Value>(&line).unwrap_or(Value::Null);
        // Only a ping the normal path would answer with {} is answered early.
        if waiting.is_some()
            && m["method"] == "ping"
            && m["jsonrpc"] == "2.0"
            && (m["id"].is_string() || m["id"].is_i64() || m["id"].is_u64())
            && (m["params"].is_null()
                || m["params"]
                    .as_object()
                    .is_some_and(|p| p.get("_meta").and_then(|x| x.get(META_VERSION)).is_none()))
        {
            self.notify(&response(m["id"].clone(), json!({})));
            return false;
        }
        let batches = self.batches.get();
        let cancels: Vec<Value> = match &m {
            Value::Array(items) if batches => items.iter().filter_map(cancellation).collect(),
            single => cancellation(single).into_iter().collect(),
        };
        // A lone cancellation is done with here; anything else (a batch too, so that its own
        // cancellations reach its requests) is queued.
        if cancels.is_empty() || m.is_array() {
            let ids = request_ids(&m, batches);
            self.queue.borrow_mut().push_back(Queued {
                input: Input::Line(line),
                ids,
            });
        }
        let mut hit = false;
        for id in cancels {
            if let Some(watch) = &self.watch {
                watch.cancel(&id);
            }
            if waiting == Some(&id) {
                hit = true;
            } else if !self.drop_queued(&id) && waiting.is_some() {
                let mut cancelled = self.cancelled.borrow_mut();
                if cancelled.len() < MAX_QUEUED {
                    cancelled.push(id);
                }
            }
        }
        hit
    }

    /// Drops the queued request `id` (the whole line, or its element of a batch). False when
    /// no queued request has that id.
    fn drop_queued(&self, id: &Value) -> bool {
        let mut queue = self.queue.borrow_mut();
        let Some(at) = queue.iter().position(|q| q.ids.contains(id)) else {
            return false;
        };
        let rest = match &queue[at].input {
            Input::Line(line) => match serde_json::from_slice::<Value>(line) {
                Ok(Value::Array(mut items)) => {
                    if let Some(i) = items
                        .iter()
                        .position(|m| request_id(m).as_ref() == Some(id))
                    {
                        items.remove(i);
                    }
                    (!items.is_empty()).then_some(Value::Array(items))
                }
                _ => None,
            },
            _ => None,
        };
        match rest.and_then(|r| Some((serde_json::to_vec(&r).ok()?, r))) {
            // The batch's other messages stay queued.
            Some((line, rest)) => {
                queue[at].ids = request_ids(&rest, true);
                queue[at].input = Input::Line(line);
            }
            None => {
                queue.remove(at);
            }
        }
        true
    }

    /// Reads what already arrived, without waiting, so that cancellations reach the queue.
    fn drain(&self) {
        while !self.full() {
            match self.rx.try_recv() {
                Ok(Input::Line(line)) => {
                    self.accept(line, None);
                }
                Ok(Input::TooLong) => self.queue.borrow_mut().push_back(Queued {
                    input: Input::TooLong,
                    ids: Vec::new(),
                }),
                Ok(Input::Notify(out)) => self.notify_all(out),
                Ok(Input::Eof) | Err(mpsc::TryRecvError::Disconnected) => {
                    self.eof.set(true);
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
            }
        }
    }
}

/// The request id a `notifications/cancelled` names (a string or an integer), if `m` is one.
fn cancellation(m: &Value) -> Option<Value> {
    let id = &m["params"]["requestId"];
    (m["method"] == "notifications/cancelled"
        && m.get("id").is_none()
        && (id.is_string() || id.is_i64() || id.is_u64()))
    .then(|| id.clone())
}

/// The ids of the requests in a line: one, or each of a batch's when batches are answered.
fn request_ids(m: &Value, batches: bool) -> Vec<Value> {
    match m {
        Value::Array(items) if batches => items.iter().filter_map(request_id).collect(),
        single => request_id(single).into_iter().collect(),
    }
}

impl<W: Write> Io<W> {
    /// A watched resource's notifications, as far as their subscribers are still subscribed
    /// (an unsubscribe or a cancellation handled since they were made ends them).
    fn notify_all(&self, messages: Vec<Value>) {
        let messages = match &self.watch {
            Some(watch) => watch.still_wanted(messages),
            None => messages,
        };
        messages.iter().for_each(|m| self.notify(m));
    }
}

impl<W: Write> Channel for Io<W> {
    fn notify(&self, message: &Value) {
        if let Err(e) = self.write(message) {
            self.failed.borrow_mut().get_or_insert(e);
        }
    }

    fn pause(&self, d: Duration, id: &Value) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            if self.full() {
                std::thread::sleep(left);
                return true;
            }
            match self.rx.recv_timeout(left) {
                Ok(Input::Line(line)) => {
                    if self.accept(line, Some(id)) {
                        return false;
                    }
                }
                Ok(Input::TooLong) => self.queue.borrow_mut().push_back(Queued {
                    input: Input::TooLong,
                    ids: Vec::new(),
                }),
                Ok(Input::Notify(out)) => self.notify_all(out),
                Ok(Input::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.eof.set(true);
                    return false;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return true,
            }
        }
    }

    fn cancelled(&self, id: &Value) -> bool {
        self.cancelled.borrow().contains(id)
    }
}

enum Line {
    Ok,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `buf` without ever holding more than `max` bytes of it.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Ok
            });
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = done.unwrap_or(chunk.len());
        input.consume(used);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Ok });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's input and output with nothing read yet; `tx` feeds its input.
    fn io(batches: bool) -> (Io<Vec<u8>>, mpsc::SyncSender<Input>) {
        let (tx, rx) = mpsc::sync_channel(16);
        let io = Io {
            rx,
            watch: None,
            out: RefCell::new(Vec::new()),
            queue: RefCell::default(),
            eof: Cell::new(false),
            failed: RefCell::new(None),
            batches: Cell::new(batches),
            cancelled: RefCell::default(),
        };
        (io, tx)
    }

    /// The queued lines, as text.
    fn queued(io: &Io<Vec<u8>>) -> Vec<String> {
        io.queue
            .borrow()
            .iter()
            .map(|q| match &q.input {
                Input::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Input::TooLong => "too long".into(),
                Input::Eof => "eof".into(),
                Input::Notify(_) => "notify".into(),
            })
            .collect()
    }

    fn cancel(id: &str) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#).into_bytes()
    }

    #[test]
    fn cancellations_drop_queued_requests() {
        let (io, _tx) = io(true);
        let waiting = json!(1);
        let stop = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"stop_vm"}}"#;
        assert!(!io.accept(stop.to_vec(), Some(&waiting)));
        let init = br#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{}}"#;
        assert!(!io.accept(init.to_vec(), Some(&waiting)));
        let batch = br#"[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":"9","method":"ping"}]"#;
        assert!(!io.accept(batch.to_vec(), Some(&waiting)));
        assert_eq!(queued(&io).len(), 3);
        // A string id is not the number, an unknown id changes nothing, initialize stays.
        for other in [r#""7""#, "9", "70", r#""i""#] {
            assert!(!io.accept(cancel(other), Some(&waiting)));
        }
        assert_eq!(queued(&io).len(), 3, "{:?}", queued(&io));
        // A malformed one is no cancellation: queued like any notification (and ignored there).
        assert!(!io.accept(cancel("7.0"), Some(&waiting)));
        assert_eq!(queued(&io).len(), 4);
        assert_eq!(queued(&io)[0], String::from_utf8_lossy(stop));
        io.queue.borrow_mut().pop_back();
        assert!(!io.accept(cancel("7"), Some(&waiting)));
        assert_eq!(
            queued(&io),
            [
                String::from_utf8_lossy(init),
                String::from_utf8_lossy(batch)
            ]
        );
        // One request of a queued batch goes; the batch goes once it is empty.
        assert!(!io.accept(cancel(r#""9""#), Some(&waiting)));
        assert_eq!(
            queued(&io)[1],
            r#"[{"id":8,"jsonrpc":"2.0","method":"ping"}]"#
        );
        assert!(!io.accept(cancel("8"), Some(&waiting)));
        assert_eq!(queued(&io).len(), 1);
        // Cancellations that matched nothing queued are remembered for the batch being handled.
        assert!(io.cancelled(&json!("7")) && io.cancelled(&json!(70)));
        assert!(!io.cancelled(&json!(7)) && !io.cancelled(&json!("9")));
        // The waiting request's own cancellation, also inside a batch.
        assert!(io.accept(cancel("1"), Some(&waiting)));
        assert!(io.accept(
            format!("[{}]", String::from_utf8_lossy(&cancel("1"))).into_bytes(),
            Some(&waiting)
        ));
        assert!(
            io.out.borrow().is_empty(),
            "cancellations are never answered"
        );
    }

    #[test]
    fn arrays_count_one_by_one_only_when_batches_are_answered() {
        let (io, _tx) = io(false);
        let waiting = json!(1);
        let batch = br#"[{"jsonrpc":"2.0","id":5,"method":"ping"}]"#;
        assert!(!io.accept(batch.to_vec(), Some(&waiting)));
        // An array is refused as a whole in this version: nothing in it is a request or a cancellation.
        assert!(!io.accept(cancel("5"), Some(&waiting)));
        let wrapped = format!("[{}]", String::from_utf8_lossy(&cancel("1")));
        assert!(!io.accept(wrapped.clone().into_bytes(), Some(&waiting)));
        assert_eq!(
            queued(&io),
            [String::from_utf8_lossy(batch).into_owned(), wrapped]
        );
    }

    #[test]
    fn cancellations_that_arrive_after_a_wait_reach_the_queue() {
        let (io, tx) = io(false);
        let stop = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"stop_vm"}}"#;
        assert!(!io.accept(stop.to_vec(), Some(&json!(1))));
        let ping = br#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#;
        tx.send(Input::Line(ping.to_vec())).unwrap();
        tx.send(Input::Line(cancel("7"))).unwrap();
        io.drain();
        // Without a wait, a ping keeps its place in the queue.
        assert_eq!(queued(&io), [String::from_utf8_lossy(ping)]);
        assert!(!io.eof.get());
        tx.send(Input::Eof).unwrap();
        drop(tx);
        io.drain();
        assert!(io.eof.get());
        assert!(io.out.borrow().is_empty());
    }

    #[test]
    fn no_notification_is_written_for_a_listen_request_cancelled_before_it_goes_out() {
        let (mut io, tx) = io(false);
        let watch = Watch::new(
            "proxmox://alerts",
            Duration::from_secs(3600),
            Box::new(Vec::new),
        );
        watch.attach(std::sync::Arc::new(|_| true));
        assert!(watch.listen(&json!(7)) && watch.listen(&json!(8)));
        io.watch = Some(watch);
        // The check saw a change while both were open; its notifications wait in the channel
        // while the session handles the cancellation of 7 (it arrived first).
        let updated = |id: u64| {
            json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {
                "uri": "proxmox://alerts", "_meta": {"io.modelcontextprotocol/subscriptionId": id},
            }})
        };
        tx.send(Input::Notify(vec![updated(7), updated(8)]))
            .unwrap();
        assert!(!io.accept(cancel("7"), None));
        io.drain();
        let written = String::from_utf8(io.out.borrow().clone()).unwrap();
        assert_eq!(written, format!("{}\n", updated(8)));
    }

    #[test]
    fn long_lines_are_refused_without_holding_them() {
        let mut input = io::Cursor::new([vec![b'x'; 100], b"\n{\"a\":1}\n".to_vec()].concat());
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::TooLong
        ));
        assert!(buf.len() <= 50);
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::Ok
        ));
        assert_eq!(buf, b"{\"a\":1}");
        buf.clear();
        assert!(matches!(
            read_line(&mut input, &mut buf, 50).unwrap(),
            Line::Eof
        ));
    }
}
