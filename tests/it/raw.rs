//! A raw local HTTP(S) test server: every answer is exactly what a handler writes on the socket
//! (optionally over TLS with the test certificates, chosen per connection). Used where mockito
//! cannot misbehave or present certificates: `faults.rs` and `tls.rs`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How long a misbehaving server holds a connection at most (so no thread outlives a test long).
pub const SERVER_PATIENCE: Duration = Duration::from_secs(5);

/// One request as the raw server read it.
pub struct Request {
    /// Path and query without the `/api2/extjs` prefix.
    pub path: String,
}

/// The connection a handler writes its (mis)behaviour to.
pub trait Conn: Read + Write {
    /// Closes the connection at once (no TLS close_notify: like a crash or a cut cable).
    fn cut(&mut self);
}

impl Conn for TcpStream {
    fn cut(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn cut(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// What the connection does after a handler ran.
#[derive(PartialEq)]
pub enum Then {
    KeepAlive,
    Close,
}

pub type Handler = dyn Fn(&Request, &mut dyn Conn, &Shared) -> Then + Send + Sync;

/// State the test and the server share.
#[derive(Default)]
pub struct Shared {
    /// Connections accepted (a refused TLS handshake counts too).
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    /// Body bytes the huge answer managed to write before the client stopped reading.
    pub streamed: AtomicU64,
    pub stop: AtomicBool,
    /// Index into the TLS configurations: which certificate the next connection gets.
    pub present: AtomicUsize,
}

/// A local HTTP(S) server whose every answer is written by `handler`. Stops when dropped.
pub struct Raw {
    pub port: u16,
    pub shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Raw {
    pub fn http(
        handler: impl Fn(&Request, &mut dyn Conn, &Shared) -> Then + Send + Sync + 'static,
    ) -> Raw {
        Raw::start(Vec::new(), Arc::new(handler))
    }

    pub fn https(
        certs: Vec<Arc<ServerConfig>>,
        handler: impl Fn(&Request, &mut dyn Conn, &Shared) -> Then + Send + Sync + 'static,
    ) -> Raw {
        Raw::start(certs, Arc::new(handler))
    }

    fn start(certs: Vec<Arc<ServerConfig>>, handler: Arc<Handler>) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.set_read_timeout(Some(SERVER_PATIENCE));
                    let _ = stream.set_write_timeout(Some(SERVER_PATIENCE));
                    let (shared, handler) = (shared.clone(), handler.clone());
                    let tls = certs.get(shared.present.load(Ordering::SeqCst)).cloned();
                    std::thread::spawn(move || match tls {
                        None => serve(stream, &*handler, &shared),
                        Some(config) => {
                            let Ok(conn) = ServerConnection::new(config) else {
                                return;
                            };
                            serve(StreamOwned::new(conn, stream), &*handler, &shared)
                        }
                    });
                }
            })
        };
        Raw {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // A connection wakes the accept loop so that it sees the stop flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads request after request on one connection and lets `handler` answer each.
fn serve(mut conn: impl Conn, handler: &Handler, shared: &Shared) {
    loop {
        let Some(request) = read_request(&mut conn) else {
            return;
        };
        shared.requests.fetch_add(1, Ordering::SeqCst);
        if handler(&request, &mut conn, shared) == Then::Close {
            let _ = conn.flush();
            conn.cut();
            return;
        }
    }
}

/// The request head (and body, which is skipped); None when the client went away.
fn read_request(conn: &mut impl Read) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let _method = words.next()?;
    let target = words.next()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    conn.read_exact(&mut body).ok()?;
    Some(Request {
        path: target
            .strip_prefix("/api2/extjs")
            .unwrap_or(target)
            .to_string(),
    })
}

/// Writes a whole answer: status line, JSON content type, length, body.
pub fn answer(conn: &mut dyn Conn, status: &str, body: &[u8]) -> Then {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    match conn.write_all(&out).and_then(|()| conn.flush()) {
        Ok(()) => Then::KeepAlive,
        Err(_) => Then::Close,
    }
}
