//! Unit tests of `tls`: trust from CA files and pins, the verifier, certificate dates.

use super::*;
use rustls::pki_types::PrivateKeyDer;
use rustls::{ServerConfig, ServerConnection};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/");
const BODY: &str = r#"{"data":{"ok":1}}"#;
/// The test server stops accepting after this many connections.
const MAX_CONNECTIONS: usize = 16;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn data(name: &str) -> PathBuf {
    PathBuf::from(format!("{DIR}{name}"))
}

fn der(name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(data(name)).expect("test certificate")
}

fn leaf_fingerprint() -> Fingerprint {
    let text = std::fs::read_to_string(data("leaf.sha256")).expect("leaf.sha256");
    Fingerprint::parse(&text).expect("fingerprint in leaf.sha256")
}

/// A local server answering every request with `200` and [`BODY`], over TLS when given a
/// certificate. It counts accepted connections and stops when dropped.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn https(cert: &str, key: &str) -> Server {
        Server::https_with(cert, key, rustls::ALL_VERSIONS)
    }

    fn https_with(
        cert: &str,
        key: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Server {
        let key = PrivateKeyDer::from_pem_file(data(key)).expect("test key");
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![der(cert)], key)
                .expect("server certificate");
        Server::start(Some(Arc::new(config)))
    }

    fn http() -> Server {
        Server::start(None)
    }

    fn start(tls: Option<Arc<ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let tls = tls.clone();
                    std::thread::spawn(move || serve(stream, tls));
                }
            })
        };
        Server {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}:{}/api2/json/version", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, tls: Option<Arc<ServerConfig>>) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    match tls {
        Some(config) => {
            let Ok(conn) = ServerConnection::new(config) else {
                return;
            };
            answer_requests(StreamOwned::new(conn, stream));
        }
        None => answer_requests(stream),
    }
}

/// Answers each request head on the connection until the client goes away.
fn answer_requests(mut stream: impl Read + Write) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            head.clear();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
                BODY.len()
            );
            if stream.write_all(response.as_bytes()).is_err() || stream.flush().is_err() {
                return;
            }
        }
    }
}

fn roots_with_ca() -> Trust {
    Trust::Roots {
        ca_files: vec![data("ca.pem")],
        system: false,
    }
}

fn make_agent(trust: &Trust) -> (ureq::Agent, Seen) {
    agent(trust, Duration::from_secs(10)).expect("agent")
}

/// GETs `url` and returns the status and body.
fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.get(url).call()?;
    let body = response.body_mut().read_to_string()?;
    Ok((response.status().as_u16(), body))
}

#[test]
fn fingerprint_parse_and_display() {
    let openssl = std::fs::read_to_string(data("leaf.sha256")).expect("leaf.sha256");
    let openssl = openssl.trim();
    assert_eq!(openssl.len(), 95);

    let fp = Fingerprint::parse(openssl).expect("openssl form");
    assert_eq!(fp.to_string(), openssl);
    assert_eq!(format!("{fp:?}"), openssl);
    assert_eq!(Fingerprint::of_der(&der("leaf.pem")), fp);

    let bare = openssl.replace(':', "");
    assert_eq!(Fingerprint::parse(&bare), Ok(fp));
    assert_eq!(Fingerprint::parse(&bare.to_lowercase()), Ok(fp));
    assert_eq!(Fingerprint::parse(&openssl.to_lowercase()), Ok(fp));
    assert_eq!(Fingerprint::parse(&format!("  {openssl}\n")), Ok(fp));
    assert_eq!(
        Fingerprint::parse(&format!("sha256 Fingerprint={openssl}")),
        Ok(fp)
    );

    assert_eq!(
        Fingerprint::parse(&openssl[..92]),
        Err("expected 32 bytes of hex (64 digits, colons optional), got 31".to_string())
    );
    assert_eq!(
        Fingerprint::parse(&bare[..62]),
        Err("expected 32 bytes of hex (64 digits, colons optional), got 62 digits".to_string())
    );
    assert_eq!(
        Fingerprint::parse(""),
        Err("expected 32 bytes of hex (64 digits, colons optional), got nothing".to_string())
    );
    let not_hex = format!("G{}", &bare[1..]);
    assert_eq!(
        Fingerprint::parse(&not_hex),
        Err(
            "expected 32 bytes of hex (64 digits, colons optional), got the character 'G'"
                .to_string()
        )
    );
    let bad_group = format!("{}:ABC", &openssl[..92]);
    let err = Fingerprint::parse(&bad_group).expect_err("three-digit group");
    assert!(err.contains("\"ABC\""), "{err}");
    assert!(Fingerprint::parse(&format!("{openssl}:")).is_err());
    assert!(Fingerprint::parse("é").is_err());
}

#[test]
fn roots_with_ca_file_trust_the_leaf_by_ip_and_name() {
    let server = Server::https("leaf.pem", "leaf.key");
    let (agent, seen) = make_agent(&roots_with_ca());
    for host in ["127.0.0.1", "localhost"] {
        let url = server.url("https", host);
        assert_eq!(get(&agent, &url).expect(&url), (200, BODY.to_string()));
    }
    assert_eq!(seen.get(), Some(leaf_fingerprint()));
    seen.clear();
    assert_eq!(seen.get(), None);
}

#[test]
fn roots_with_ca_file_reject_a_changed_certificate() {
    let server = Server::https("other.pem", "other.key");
    let (agent, seen) = make_agent(&roots_with_ca());
    let err = get(&agent, &server.url("https", "127.0.0.1")).expect_err("untrusted");
    assert!(is_cert_error(&err), "{err:?}");
    assert_eq!(seen.get(), Some(Fingerprint::of_der(&der("other.pem"))));
}

#[test]
fn system_roots_reject_a_private_ca_and_show_the_fingerprint() {
    let server = Server::https("leaf.pem", "leaf.key");
    let trust = Trust::Roots {
        ca_files: vec![],
        system: true,
    };
    // A stand-in system bundle (the self-signed `other.pem`), so the test does not depend on
    // the machine's.
    let (agent, seen) = agent_with_bundles(
        &trust,
        Duration::from_secs(10),
        &[data("missing.pem"), data("other.pem")],
    )
    .expect("agent");
    let err = get(&agent, &server.url("https", "localhost")).expect_err("untrusted");
    assert_refused(&err, CertificateError::UnknownIssuer);
    assert_eq!(seen.get(), Some(leaf_fingerprint()));
}

/// `err` is rustls refusing the certificate for `why`.
fn assert_refused(err: &ureq::Error, why: CertificateError) {
    assert!(is_cert_error(err), "{err:?}");
    let refused =
        matches!(err, ureq::Error::Rustls(rustls::Error::InvalidCertificate(e)) if *e == why);
    assert!(refused, "{err:?}");
}

#[test]
fn machine_system_roots_reject_a_private_ca() {
    let trust = Trust::Roots {
        ca_files: vec![],
        system: true,
    };
    let (agent, seen) = match agent(&trust, Duration::from_secs(10)) {
        Ok(parts) => parts,
        // This machine has no CA bundle; the error must say what to do.
        Err(e) => {
            assert!(e.contains("PROXMOX_CA_FILE"), "{e}");
            return;
        }
    };
    let server = Server::https("leaf.pem", "leaf.key");
    let err = get(&agent, &server.url("https", "127.0.0.1")).expect_err("untrusted");
    assert!(is_cert_error(&err), "{err:?}");
    assert_eq!(seen.get(), Some(leaf_fingerprint()));
}

#[test]
fn no_system_bundle_and_no_ca_file_is_an_error() {
    let trust = Trust::Roots {
        ca_files: vec![],
        system: true,
    };
    let bundles = [data("missing.pem"), data("README.md")];
    let err = agent_with_bundles(&trust, Duration::from_secs(1), &bundles).expect_err("error");
    assert!(
        err.starts_with("no system CA bundle found (looked in "),
        "{err}"
    );
    assert!(err.contains("missing.pem, "), "{err}");
    assert!(err.contains("PROXMOX_FINGERPRINT"), "{err}");

    // A CA file alone is enough then.
    let trust = Trust::Roots {
        ca_files: vec![data("ca.pem")],
        system: true,
    };
    let (agent, _) = agent_with_bundles(&trust, Duration::from_secs(10), &bundles)
        .expect("agent with a CA file");
    let server = Server::https("leaf.pem", "leaf.key");
    assert_eq!(
        get(&agent, &server.url("https", "localhost")).expect("trusted"),
        (200, BODY.to_string())
    );
}

#[test]
fn pinned_accepts_the_pinned_certificate_whatever_its_name() {
    let server = Server::https("other.pem", "other.key");
    let pin = Fingerprint::of_der(&der("other.pem"));
    let (agent, seen) = make_agent(&Trust::Pinned(vec![leaf_fingerprint(), pin]));
    let url = server.url("https", "127.0.0.1");
    assert_eq!(get(&agent, &url).expect("pinned"), (200, BODY.to_string()));
    assert_eq!(seen.get(), Some(pin));
}

#[test]
fn pinned_rejects_another_certificate_and_shows_its_fingerprint() {
    let server = Server::https("leaf.pem", "leaf.key");
    let pin = Fingerprint::of_der(&der("other.pem"));
    let (agent, seen) = make_agent(&Trust::Pinned(vec![pin]));
    let err = get(&agent, &server.url("https", "localhost")).expect_err("not pinned");
    assert_refused(&err, CertificateError::ApplicationVerificationFailure);
    assert_eq!(seen.get(), Some(leaf_fingerprint()));
}

#[test]
fn tls12_works_with_ca_and_pin() {
    let server = Server::https_with("leaf.pem", "leaf.key", &[&rustls::version::TLS12]);
    for trust in [roots_with_ca(), Trust::Pinned(vec![leaf_fingerprint()])] {
        let (agent, _) = make_agent(&trust);
        let url = server.url("https", "localhost");
        assert_eq!(get(&agent, &url).expect("tls 1.2"), (200, BODY.to_string()));
    }
}

#[test]
fn certificate_errors_wrapped_in_io_are_recognised() {
    let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    let wrapped = ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, tls));
    assert!(is_cert_error(&wrapped));
    let other = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
    assert!(!is_cert_error(&ureq::Error::Rustls(other.clone())));
    let wrapped = ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, other));
    assert!(!is_cert_error(&wrapped));
    assert!(!is_cert_error(&ureq::Error::HostNotFound));
}

#[test]
fn pinned_needs_a_fingerprint() {
    let err = agent(&Trust::Pinned(vec![]), Duration::from_secs(1)).expect_err("error");
    assert_eq!(err, "no certificate fingerprint to pin");
}

#[test]
fn insecure_accepts_an_untrusted_certificate() {
    let server = Server::https("other.pem", "other.key");
    let (agent, seen) = make_agent(&Trust::Insecure);
    let url = server.url("https", "localhost");
    assert_eq!(
        get(&agent, &url).expect("insecure"),
        (200, BODY.to_string())
    );
    assert_eq!(seen.get(), Some(Fingerprint::of_der(&der("other.pem"))));
}

/// The error building an agent that trusts only the CA file `path`.
fn ca_file_error(path: &Path) -> String {
    let trust = Trust::Roots {
        ca_files: vec![path.to_path_buf()],
        system: false,
    };
    agent(&trust, Duration::from_secs(1)).expect_err("the CA file is refused")
}

#[test]
fn bad_ca_files_are_errors() {
    let missing = data("no-such-ca.pem");
    let err = ca_file_error(&missing);
    let prefix = format!("cannot read CA file {}: ", missing.display());
    assert!(err.starts_with(&prefix), "{err}");

    let key_only = data("leaf.key");
    let err = ca_file_error(&key_only);
    assert_eq!(
        err,
        format!("no certificate found in CA file {}", key_only.display())
    );
}

#[test]
fn an_expired_ca_file_is_refused_with_its_date() {
    // UTCTime (2020) and GeneralizedTime (2125, the 100-year test CA).
    assert_eq!(
        not_after(&der("expired-ca.pem")).as_deref(),
        Some("2020-01-01T00:00:00Z")
    );
    assert!(not_after(&der("ca.pem")).is_some_and(|t| t.starts_with("21")));
    assert_eq!(not_after(b"\x30\x82\xff"), None, "truncated DER");
    let expired = data("expired-ca.pem");
    let err = ca_file_error(&expired);
    assert_eq!(
        err,
        format!(
            "the certificate in CA file {} expired on 2020-01-01T00:00:00Z; copy the current one from /etc/pve/pve-root-ca.pem on a PVE node",
            expired.display()
        )
    );
}

#[test]
fn keep_alive_reuses_the_tls_connection() {
    let server = Server::https("leaf.pem", "leaf.key");
    let (agent, _) = make_agent(&roots_with_ca());
    let url = server.url("https", "localhost");
    for _ in 0..3 {
        assert_eq!(get(&agent, &url).expect("request"), (200, BODY.to_string()));
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn plain_http_goes_through_the_same_agent() {
    let server = Server::http();
    let (agent, seen) = make_agent(&roots_with_ca());
    let url = server.url("http", "127.0.0.1");
    for _ in 0..2 {
        assert_eq!(get(&agent, &url).expect("http"), (200, BODY.to_string()));
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(seen.get(), None);
}

#[test]
fn connection_refused_is_not_a_certificate_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("local address").port()
    };
    let (agent, seen) = make_agent(&Trust::Insecure);
    let err = get(&agent, &format!("https://127.0.0.1:{port}/")).expect_err("refused");
    assert!(!is_cert_error(&err), "{err:?}");
    assert_eq!(seen.get(), None);
}

#[test]
fn status_codes_are_not_errors() {
    // `http_status_as_error(false)`: a 4xx/5xx comes back as a response, which the test
    // server cannot produce, so check the configuration instead.
    let (agent, _) = make_agent(&Trust::Insecure);
    assert!(!agent.config().http_status_as_error());
    assert!(agent.config().proxy().is_none());
    assert_eq!(
        agent.config().max_redirects(),
        0,
        "redirects are never followed"
    );
    assert_eq!(
        agent.config().timeouts().global,
        Some(Duration::from_secs(10))
    );
}
