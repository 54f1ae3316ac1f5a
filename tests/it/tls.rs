//! TLS against a local HTTPS server: untrusted, pinned, wrong pin, CA file.
//!
//! Each test builds the client exactly as the binary does (configuration from environment
//! variables, then `Pve::new`) and asks a small local HTTPS server for `/version`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::raw::{Raw, Then};
use crate::support::{assert_starts, leaf_fingerprint, server_tls, tls_data};
use proxmox_mcp_server::config::Config;
use proxmox_mcp_server::pve::Pve;
use proxmox_mcp_server::tls::Fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;

/// The answer PVE gives to `GET /api2/extjs/version`.
const BODY: &str = r#"{"success":1,"data":{"version":"9.1.2","release":"9.1","repoid":"abc"}}"#;
/// The API token secret; it must never show up in an error.
const TOKEN_VALUE: &str = "5f0c2b8e-3d1a-4c7e-9b6f-0a2d4e6c8b1f";
/// The SHA-256 fingerprint of `other.pem`, as `openssl x509 -noout -fingerprint -sha256` prints it.
const OTHER_FINGERPRINT: &str = "34:6B:60:A2:EF:A6:53:C7:65:82:32:39:4D:11:81:91:CF:E0:94:18:B4:D8:66:25:CC:D5:AC:93:C9:AE:60:D9";
/// A local HTTPS server answering each request with [`BODY`] and closing the connection, so every
/// request starts with a new handshake. It presents `leaf.pem` (or another certificate for its
/// key, see [`TlsServer::start`]), or `other.pem` while told to (chosen per accepted connection).
/// It stops when dropped.
struct TlsServer(Raw);

impl TlsServer {
    fn leaf() -> TlsServer {
        TlsServer::start("leaf.pem", false)
    }

    fn other() -> TlsServer {
        TlsServer::start("leaf.pem", true)
    }

    /// Presents `cert` (with `leaf.key`) instead of `leaf.pem`, or `other.pem` while
    /// `present_other` is set.
    fn start(cert: &str, present_other: bool) -> TlsServer {
        let certs = vec![
            server_tls(cert, "leaf.key"),
            server_tls("other.pem", "other.key"),
        ];
        let server = TlsServer(Raw::https(certs, |_, conn, _| {
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                BODY.len()
            );
            let _ = conn.write_all(response.as_bytes());
            Then::Close
        }));
        server.present_other(present_other);
        server
    }

    /// From the next connection on, presents `other.pem` (or the first certificate again).
    fn present_other(&self, other: bool) {
        let index = usize::from(other);
        self.0.shared.present.store(index, Ordering::SeqCst);
    }

    /// Connections accepted so far, refused handshakes included.
    fn connections(&self) -> usize {
        self.0.shared.connections.load(Ordering::SeqCst)
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.0.port)
    }
}

/// The PVE client for `host`, configured from these environment variables plus a token login.
fn pve(host: &str, extra: &[(&str, &str)]) -> Pve {
    let mut env: BTreeMap<String, String> = [
        ("PROXMOX_HOST", host),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN_VALUE),
        ("PROXMOX_TIMEOUT", "10"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.retain(|_, v| !v.is_empty());
    let config = Config::resolve_with(&|k| env.get(k).cloned(), &[], Path::new("/nonexistent"))
        .expect("configuration");
    Pve::new(&config).expect("PVE client")
}

fn ca_file(name: &str) -> String {
    tls_data(name).display().to_string()
}

/// `GET /version` must succeed and show the version the server sent.
fn assert_version(pve: &Pve) {
    let data = pve.get("/version", &[]).expect("GET /version");
    assert_eq!(data.get("version").and_then(Value::as_str), Some("9.1.2"));
}

/// `GET /version` must fail; returns the error as the user reads it.
fn version_error(pve: &Pve) -> String {
    let err = pve
        .get("/version", &[])
        .expect_err("GET /version should fail")
        .to_string();
    assert_starts(&err, "GET /version: ");
    assert!(!err.contains(TOKEN_VALUE), "the token leaked: {err}");
    err
}

#[test]
fn untrusted_certificate_shows_its_fingerprint_and_how_to_pin_it() {
    let server = TlsServer::leaf();
    // A CA file that did not sign the leaf: the same "untrusted certificate" path as system roots.
    let other = ca_file("other.pem");
    let pve = pve(&server.url("127.0.0.1"), &[("PROXMOX_CA_FILE", &other)]);
    let err = version_error(&pve);
    let fp = leaf_fingerprint();
    assert!(err.contains("is not trusted"), "{err}");
    assert_eq!(err.matches(&fp).count(), 1, "{err}");
    assert!(err.contains(&format!("PROXMOX_FINGERPRINT={fp} ")), "{err}");
    // The CA file is set: the hint says it did not sign the certificate, not to set one.
    assert!(
        err.contains(&format!("(PROXMOX_CA_FILE={other} did not sign it")),
        "{err}"
    );
    assert!(!err.contains("/path/to/pve-root-ca.pem"), "{err}");
}

#[test]
fn an_expired_certificate_is_named_expired_with_its_date() {
    let server = TlsServer::start("expired-leaf.pem", false);
    let pve = pve(
        &server.url("127.0.0.1"),
        &[("PROXMOX_CA_FILE", &ca_file("ca.pem"))],
    );
    let err = version_error(&pve);
    assert!(
        err.contains("certificate of 127.0.0.1:")
            && err.contains(" expired on 2020-01-01T00:00:00Z"),
        "{err}"
    );
    assert!(!err.contains("PROXMOX_FINGERPRINT"), "not a pin: {err}");
}

#[test]
fn pinned_fingerprint_is_accepted_in_either_spelling() {
    let server = TlsServer::leaf();
    let fp = leaf_fingerprint();
    let bare = fp.replace(':', "").to_lowercase();
    for pin in [fp.as_str(), bare.as_str()] {
        let pve = pve(&server.url("127.0.0.1"), &[("PROXMOX_FINGERPRINT", pin)]);
        assert_version(&pve);
    }
}

#[test]
fn wrong_pin_is_refused_and_shows_the_presented_fingerprint() {
    let server = TlsServer::leaf();
    let pve = pve(
        &server.url("127.0.0.1"),
        &[("PROXMOX_FINGERPRINT", OTHER_FINGERPRINT)],
    );
    let err = version_error(&pve);
    let fp = leaf_fingerprint();
    assert!(err.contains("does not match PROXMOX_FINGERPRINT"), "{err}");
    assert!(err.ends_with(&format!("PROXMOX_FINGERPRINT={fp}")), "{err}");
    assert_eq!(err.matches(&fp).count(), 1, "{err}");
    assert!(!err.contains(OTHER_FINGERPRINT), "{err}");
}

#[test]
fn pin_matches_even_when_the_host_name_is_not_in_the_certificate() {
    let der = CertificateDer::from_pem_file(tls_data("other.pem")).expect("other.pem");
    let pin = Fingerprint::of_der(&der).to_string();
    assert_eq!(pin, OTHER_FINGERPRINT, "of_der disagrees with openssl");

    // other.pem names only not-this-host.example; the client connects to 127.0.0.1.
    let server = TlsServer::other();
    let pve = pve(&server.url("127.0.0.1"), &[("PROXMOX_FINGERPRINT", &pin)]);
    assert_version(&pve);
}

#[test]
fn ca_file_trusts_the_leaf_by_address_and_by_name() {
    let server = TlsServer::leaf();
    let ca = ca_file("ca.pem");
    for host in ["127.0.0.1", "localhost"] {
        let pve = pve(&server.url(host), &[("PROXMOX_CA_FILE", &ca)]);
        assert_version(&pve);
    }
}

#[test]
fn verify_ssl_false_accepts_an_untrusted_certificate() {
    let server = TlsServer::other();
    let pve = pve(&server.url("127.0.0.1"), &[("PROXMOX_VERIFY_SSL", "false")]);
    assert_version(&pve);
}

#[test]
fn certificate_changed_between_calls_is_refused_while_pinned() {
    let server = TlsServer::leaf();
    let fp = leaf_fingerprint();
    let pve = pve(&server.url("127.0.0.1"), &[("PROXMOX_FINGERPRINT", &fp)]);
    assert_version(&pve);

    // The node now presents another certificate; the next call needs a new handshake.
    server.present_other(true);
    let err = version_error(&pve);
    assert!(err.contains("does not match PROXMOX_FINGERPRINT"), "{err}");
    assert!(err.contains(OTHER_FINGERPRINT), "{err}");

    // Once the pinned certificate is back, the same client works again.
    server.present_other(false);
    assert_version(&pve);
    assert_eq!(server.connections(), 3);
}

/// `check` against `host` with a token login plus `vars`: the exit code and stdout, after
/// checking that the token shows up nowhere.
fn check(host: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"))
        .arg("check")
        .env_clear()
        .env("PROXMOX_HOST", host)
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_TOKEN_NAME", "mcp")
        .env("PROXMOX_TOKEN_VALUE", TOKEN_VALUE)
        .envs(vars.iter().copied())
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stdout.contains(TOKEN_VALUE)
            && !String::from_utf8_lossy(&out.stderr).contains(TOKEN_VALUE)
    );
    (out.status.code(), stdout)
}

#[test]
fn check_shows_an_untrusted_fingerprint_once_in_lines_that_fit() {
    let server = TlsServer::leaf();
    let (code, stdout) = check(
        &server.url("127.0.0.1"),
        &[("PROXMOX_CA_FILE", &ca_file("other.pem"))],
    );
    assert_eq!(code, Some(1), "{stdout}");
    let fp = leaf_fingerprint();
    assert!(
        stdout.contains("✗ connection and login: GET /version: the TLS certificate of 127.0.0.1:"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(&fp).count(), 1, "{stdout}");
    assert!(
        stdout.contains(&format!("PROXMOX_FINGERPRINT={fp}")),
        "{stdout}"
    );
    // Wrapped at 100 columns; only a word that long (the fingerprint setting) is longer.
    let fits = |l: &str| l.chars().count() <= 100 || !l.trim_start().contains(' ');
    assert!(stdout.lines().all(fits), "{stdout}");
}

#[test]
fn check_shows_the_fingerprint_it_did_not_verify() {
    let server = TlsServer::other();
    let (_, stdout) = check(&server.url("127.0.0.1"), &[("PROXMOX_VERIFY_SSL", "false")]);
    assert!(
        stdout.contains("✓ certificate: not verified (PROXMOX_VERIFY_SSL=false). If the certificate 127.0.0.1 presented"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\n    PROXMOX_FINGERPRINT={OTHER_FINGERPRINT}\n")),
        "{stdout}"
    );
    assert_eq!(stdout.matches(OTHER_FINGERPRINT).count(), 1, "{stdout}");
}

#[test]
fn check_refuses_an_expired_ca_file_with_its_date() {
    let expired = ca_file("expired-ca.pem");
    let (code, stdout) = check("https://127.0.0.1:1", &[("PROXMOX_CA_FILE", &expired)]);
    assert_eq!(code, Some(2), "{stdout}");
    assert_eq!(
        stdout.replace("\n  ", " "),
        format!("✗ configuration: the certificate in CA file {expired} expired on 2020-01-01T00:00:00Z; copy the current one from /etc/pve/pve-root-ca.pem on a PVE node\n")
    );
}

#[test]
fn an_untrusted_host_counts_as_unreachable_for_failover() {
    let (untrusted, trusted) = (TlsServer::other(), TlsServer::leaf());
    let hosts = format!(
        "{},{}",
        untrusted.url("127.0.0.1"),
        trusted.url("127.0.0.1")
    );
    let pve = pve(&hosts, &[("PROXMOX_CA_FILE", &ca_file("ca.pem"))]);
    assert_version(&pve);
    assert_eq!(pve.host().base_url(), trusted.url("127.0.0.1"));
}
