//! TLS for the PVE API connection: which certificates to trust, and the ureq agent built on that.
//!
//! ureq's own rustls connector only knows root stores. PVE nodes usually run on a self-signed
//! certificate, so this module brings its own connector with a verifier that can also pin a
//! certificate by its SHA-256 fingerprint (as PVE's own tools do), and that records the
//! fingerprint the server presented so an error can show it to the user.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring::kx_group;
use rustls::crypto::{hash::Hash, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned, SupportedCipherSuite,
};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// The user agent sent with every request.
const USER_AGENT: &str = concat!("proxmox-mcp-server/", env!("CARGO_PKG_VERSION"));

/// Where the system's CA bundle is looked for when `SSL_CERT_FILE` is not set, first match wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

/// How the server decides to trust the PVE node's certificate.
#[derive(Clone, Debug, PartialEq)]
pub enum Trust {
    /// The system's CA bundle plus the certificates in `ca_files` (PEM). `system: false` means
    /// only `ca_files`.
    Roots {
        ca_files: Vec<PathBuf>,
        system: bool,
    },
    /// Only a leaf certificate whose SHA-256 (over the DER) is one of these; the host name is not
    /// checked (as PVE's own Perl client does when fingerprints are configured).
    Pinned(Vec<Fingerprint>),
    /// No verification at all (PROXMOX_VERIFY_SSL=false).
    Insecure,
}

/// The SHA-256 fingerprint of a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// SHA-256 of a DER certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        let digest = sha256().hash(der);
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().zip(digest.as_ref()) {
            *o = *b;
        }
        Fingerprint(out)
    }

    /// Parses `AB:CD:…` (95 characters) or 64 hex digits, case-insensitive, colons optional.
    ///
    /// The `sha256 Fingerprint=` prefix that `openssl x509 -fingerprint` prints is accepted too.
    pub fn parse(s: &str) -> Result<Fingerprint, String> {
        const EXPECTED: &str = "expected 32 bytes of hex (64 digits, colons optional)";
        let mut s = s.trim();
        if let Some((label, rest)) = s.split_once('=') {
            if label.trim().eq_ignore_ascii_case("sha256 fingerprint") {
                s = rest.trim();
            }
        }
        if s.is_empty() {
            return Err(format!("{EXPECTED}, got nothing"));
        }
        if let Some(bad) = s.chars().find(|c| *c != ':' && !c.is_ascii_hexdigit()) {
            return Err(format!("{EXPECTED}, got the character {bad:?}"));
        }
        let mut bytes = Vec::with_capacity(32);
        if s.contains(':') {
            for group in s.split(':') {
                if group.len() != 2 {
                    return Err(format!(
                        "{EXPECTED}, got the group {group:?} (each byte is 2 hex digits)"
                    ));
                }
                bytes.push(hex_byte(group.as_bytes()));
            }
            if bytes.len() != 32 {
                return Err(format!("{EXPECTED}, got {}", bytes.len()));
            }
        } else {
            if s.len() != 64 {
                return Err(format!("{EXPECTED}, got {} digits", s.len()));
            }
            bytes.extend(s.as_bytes().chunks(2).map(hex_byte));
        }
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().zip(&bytes) {
            *o = *b;
        }
        Ok(Fingerprint(out))
    }
}

/// The value of two ASCII hex digits; the caller has checked that they are hex digits.
fn hex_byte(pair: &[u8]) -> u8 {
    let digit = |c: u8| char::from(c).to_digit(16).unwrap_or(0) as u8;
    pair.iter().fold(0, |acc, c| (acc << 4) | digit(*c))
}

/// SHA-256 as the ring provider of rustls implements it.
fn sha256() -> &'static dyn Hash {
    match rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256 {
        SupportedCipherSuite::Tls13(suite) => suite.common.hash_provider,
        SupportedCipherSuite::Tls12(suite) => suite.common.hash_provider,
    }
}

impl fmt::Display for Fingerprint {
    /// Upper-case hex bytes joined by `:`, as PVE shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The fingerprint of the leaf certificate last presented by a server on this agent's connections
/// (recorded whether or not it was trusted), so an error can show it.
#[derive(Clone, Default, Debug)]
pub struct Seen(Arc<Mutex<Option<Fingerprint>>>);

impl Seen {
    /// The fingerprint last seen, if any handshake got that far.
    pub fn get(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the fingerprint last seen.
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn set(&self, fingerprint: Fingerprint) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(fingerprint);
    }
}

/// Builds the one ureq agent used for all PVE requests: keep-alive, `http_status_as_error(false)`,
/// no redirects followed (`max_redirects(0)`: a 3xx comes back as a response, which `pve.rs`
/// refuses), global timeout `timeout`, no proxy, user agent `proxmox-mcp-server/<version>`, and
/// TLS per `trust`.
///
/// Errors: unreadable or empty CA file, no system CA bundle when one is needed, no fingerprint to
/// pin.
pub fn agent(trust: &Trust, timeout: Duration) -> Result<(ureq::Agent, Seen), String> {
    agent_with_bundles(trust, timeout, &system_bundles())
}

/// [`agent`] with the candidate system CA bundles given, so tests need not touch the environment.
fn agent_with_bundles(
    trust: &Trust,
    timeout: Duration,
    bundles: &[PathBuf],
) -> Result<(ureq::Agent, Seen), String> {
    let seen = Seen::default();
    let tls = Arc::new(client_config(trust, bundles, seen.clone())?);
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // PVE's API never redirects. Following one would send the request (a POST turned into a
        // GET, with the CSRF token) to whatever host, maybe over plain http, and take that
        // answer as PVE's. With 0, ureq returns the 3xx response itself, never an error.
        .max_redirects(0)
        .timeout_global(Some(timeout))
        // A node that does not accept a connection within this is down (the next one is tried).
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .proxy(None)
        .user_agent(USER_AGENT)
        .build();
    let connector = ().chain(TcpConnector::default()).chain(TlsConnector { tls });
    let agent = ureq::Agent::with_parts(config, connector, Resolve::default());
    Ok((agent, seen))
}

/// ureq's resolver, with a failed lookup reported as `HostNotFound`: the system resolver's
/// failure comes as a plain I/O error, which would read as a connection that broke off, while
/// nothing was sent (so a write may go to the next host).
#[derive(Debug, Default)]
struct Resolve(DefaultResolver);

impl Resolver for Resolve {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.0.resolve(uri, config, timeout).map_err(|e| match e {
            ureq::Error::Io(_) => ureq::Error::HostNotFound,
            other => other,
        })
    }
}

/// Whether a ureq error is a certificate verification failure (so the caller can show the
/// fingerprint).
pub fn is_cert_error(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Rustls(e) => is_cert_rustls_error(e),
        ureq::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(is_cert_rustls_error),
        _ => false,
    }
}

fn is_cert_rustls_error(err: &rustls::Error) -> bool {
    matches!(err, rustls::Error::InvalidCertificate(_))
}

/// When a certificate was refused for its dates: `Expired(date)` or `NotYetValid(date)`, the
/// date as RFC 3339 (unknown when rustls did not say).
#[derive(Clone, Debug, PartialEq)]
pub enum Dates {
    Expired(Option<String>),
    NotYetValid(Option<String>),
}

/// Whether a ureq error is a certificate refused for its validity dates, and which.
pub fn date_error(err: &ureq::Error) -> Option<Dates> {
    let tls = match err {
        ureq::Error::Rustls(e) => e,
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let date = |t: &UnixTime| crate::time::unix_time(t.as_secs()).map(crate::time::rfc3339);
    match tls {
        rustls::Error::InvalidCertificate(CertificateError::Expired) => Some(Dates::Expired(None)),
        rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            not_after, ..
        }) => Some(Dates::Expired(date(not_after))),
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet) => {
            Some(Dates::NotYetValid(None))
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            not_before,
            ..
        }) => Some(Dates::NotYetValid(date(not_before))),
        _ => None,
    }
}

/// The candidate system CA bundles: `$SSL_CERT_FILE` alone when set, else the usual places.
fn system_bundles() -> Vec<PathBuf> {
    match std::env::var_os("SSL_CERT_FILE") {
        Some(path) if !path.is_empty() => vec![PathBuf::from(path)],
        _ => SYSTEM_BUNDLES.iter().map(PathBuf::from).collect(),
    }
}

/// The cipher suites offered: AES-GCM only. PVE's pveproxy (OpenSSL) and any TLS 1.3 server
/// must support TLS_AES_128_GCM_SHA256; leaving ChaCha20-Poly1305 out keeps about 50 KB of code
/// out of the binary.
const CIPHER_SUITES: [SupportedCipherSuite; 6] = {
    use rustls::crypto::ring::cipher_suite as cs;
    [
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ]
};

/// What the ring provider verifies signatures with (as `rustls::crypto::ring` lists them).
static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    use SignatureScheme as S;
    WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::ED25519,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
            (
                S::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                S::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (S::ED25519, &[alg::ED25519]),
            (
                S::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                S::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                S::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (S::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
            (S::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
            (S::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
        ],
    }
};

/// Random bytes for TLS, from the operating system (ring's `SystemRandom`).
#[derive(Debug)]
struct Random;

impl rustls::crypto::SecureRandom for Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// This client never authenticates with a key of its own.
#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "this client uses no client certificate".into(),
        ))
    }
}

/// The rustls client configuration for `trust`: ring, TLS 1.2 and 1.3 with AES-GCM, our verifier.
fn client_config(trust: &Trust, bundles: &[PathBuf], seen: Seen) -> Result<ClientConfig, String> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: CIPHER_SUITES.to_vec(),
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &Random,
        key_provider: &NoClientKeys,
    });
    let mode = match trust {
        Trust::Roots { ca_files, system } => {
            let roots = load_roots(ca_files, *system, bundles)?;
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
            Mode::Roots(verifier)
        }
        Trust::Pinned(pins) if pins.is_empty() => {
            return Err("no certificate fingerprint to pin".to_string())
        }
        Trust::Pinned(pins) => Mode::Pinned(pins.clone()),
        Trust::Insecure => Mode::Insecure,
    };
    let verifier = Verifier {
        mode,
        seen,
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| format!("cannot set up tls: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The trust anchors: the first usable system bundle (when `system`) plus every CA file.
fn load_roots(
    ca_files: &[PathBuf],
    system: bool,
    bundles: &[PathBuf],
) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if system {
        let found = bundles
            .iter()
            .any(|path| add_system_bundle(&mut roots, path))
            || builtin_roots(&mut roots);
        if !found && ca_files.is_empty() {
            let looked: Vec<String> = bundles.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "no system CA bundle found (looked in {}); set PROXMOX_CA_FILE or PROXMOX_FINGERPRINT",
                looked.join(", ")
            ));
        }
    }
    let now = crate::time::rfc3339(std::time::SystemTime::now());
    for path in ca_files {
        // A trust anchor's dates are not checked in the handshake (webpki), so an expired CA
        // would be trusted silently: it is left out, and a file with nothing else is refused.
        let mut expired = None;
        let mut added = 0;
        for cert in read_ca_file(path)? {
            match not_after(&cert) {
                Some(end) if end < now => {
                    expired.get_or_insert(end);
                    continue;
                }
                _ => {}
            }
            roots
                .add(cert)
                .map_err(|e| format!("invalid certificate in CA file {}: {e}", path.display()))?;
            added += 1;
        }
        if let (0, Some(end)) = (added, expired) {
            return Err(format!(
                "the certificate in CA file {} expired on {end}; copy the current one from \
                 /etc/pve/pve-root-ca.pem on a PVE node",
                path.display()
            ));
        }
    }
    Ok(roots)
}

/// A certificate's notAfter (RFC 3339), read from its DER: Certificate → tbsCertificate →
/// (version), serialNumber, signature, issuer, validity → notAfter. None when it cannot be read.
fn not_after(cert: &[u8]) -> Option<String> {
    let (_, cert, _) = der_next(cert)?;
    let (_, tbs, _) = der_next(cert)?;
    let (tag, _, after_version) = der_next(tbs)?;
    let mut rest = if tag == 0xA0 { after_version } else { tbs };
    for _ in 0..3 {
        rest = der_next(rest)?.2;
    }
    let (_, validity, _) = der_next(rest)?;
    let (_, _, rest) = der_next(validity)?;
    let (tag, time, _) = der_next(rest)?;
    let digits = std::str::from_utf8(time).ok()?.strip_suffix('Z')?;
    let full = match (tag, digits.len()) {
        // UTCTime: YYMMDDHHMMSS, years 1950-2049 (RFC 5280).
        (0x17, 12) => {
            let century = if digits < "50" { "20" } else { "19" };
            format!("{century}{digits}")
        }
        // GeneralizedTime: YYYYMMDDHHMMSS.
        (0x18, 14) => digits.to_string(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = |r: std::ops::Range<usize>| &full[r];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        d(0..4),
        d(4..6),
        d(6..8),
        d(8..10),
        d(10..12),
        d(12..14)
    ))
}

/// The first DER element of `der`: its tag, its content and what follows it.
fn der_next(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Windows keeps its trusted roots in the system store, not in a PEM file: there, when no bundle
/// is found (`SSL_CERT_FILE` unset), the public CAs come from Mozilla's list built into the binary
/// (webpki-roots, the crate ureq already links). Elsewhere there is no such fallback.
#[cfg(windows)]
fn builtin_roots(roots: &mut RootCertStore) -> bool {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    true
}

#[cfg(not(windows))]
fn builtin_roots(_roots: &mut RootCertStore) -> bool {
    false
}

/// Adds the certificates of a system bundle; false when it is missing or holds none usable.
fn add_system_bundle(roots: &mut RootCertStore, path: &Path) -> bool {
    let Ok(pem) = std::fs::read(path) else {
        return false;
    };
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    added > 0
}

/// The certificates in a PEM file given by the user.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "no certificate found in CA file {}",
            path.display()
        ));
    }
    Ok(certs)
}

/// What the verifier checks after recording the fingerprint.
#[derive(Debug)]
enum Mode {
    Roots(Arc<WebPkiServerVerifier>),
    Pinned(Vec<Fingerprint>),
    Insecure,
}

/// Certificate verifier that records the presented leaf's fingerprint, then checks per [`Mode`].
#[derive(Debug)]
struct Verifier {
    mode: Mode,
    seen: Seen,
    provider: Arc<CryptoProvider>,
}

/// rustls's check of a handshake signature (TLS 1.2 or 1.3).
type SignatureCheck = fn(
    &[u8],
    &CertificateDer<'_>,
    &DigitallySignedStruct,
    &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error>;

impl Verifier {
    /// The handshake signature checked by `check`, except in insecure mode.
    fn signature(
        &self,
        check: SignatureCheck,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.mode {
            Mode::Insecure => Ok(HandshakeSignatureValid::assertion()),
            _ => check(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ),
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::of_der(end_entity);
        self.seen.set(fingerprint);
        match &self.mode {
            Mode::Roots(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            Mode::Pinned(pins) if pins.contains(&fingerprint) => {
                Ok(ServerCertVerified::assertion())
            }
            Mode::Pinned(_) => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            Mode::Insecure => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(rustls::crypto::verify_tls12_signature, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(rustls::crypto::verify_tls13_signature, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Connector that wraps the chained transport in TLS for `https` URLs (modelled on ureq's
/// `RustlsConnector`, but with our fixed client configuration).
#[derive(Debug)]
struct TlsConnector {
    tls: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }

        let host = details
            .uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("no host in {}", details.uri)))?;
        // An IPv6 address comes in brackets, which a server name must not have.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::BadUri(format!("not a valid TLS server name: {host}")))?
            .to_owned();

        let mut conn = ClientConnection::new(self.tls.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(remaining_timeout(details));
        conn.complete_io(&mut sock).map_err(handshake_error)?;

        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let stream = StreamOwned { conn, sock };
        Ok(Some(Either::B(TlsTransport { buffers, stream })))
    }
}

/// The connection timeout still left of the budget `details` started with.
fn remaining_timeout(details: &ConnectionDetails) -> NextTimeout {
    let mut timeout = details.timeout;
    if let (UreqDuration::Exact(limit), UreqInstant::Exact(start), UreqInstant::Exact(now)) =
        (timeout.after, details.now, (details.current_time)())
    {
        let elapsed = now.saturating_duration_since(start);
        timeout.after = UreqDuration::Exact(limit.saturating_sub(elapsed));
    }
    timeout
}

/// A failed handshake as a ureq error, with rustls's own error unwrapped from the I/O error.
fn handshake_error(err: io::Error) -> ureq::Error {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => ureq::Error::Rustls(tls.clone()),
        None => ureq::Error::from(err),
    }
}

/// A TLS connection over the chained transport.
struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self.buffers.output();
        let output = output.get(..amount).unwrap_or(output);
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("chained", &self.stream.sock.inner())
            .finish()
    }
}

#[cfg(test)]
mod tests;
