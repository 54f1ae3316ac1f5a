//! Logging in: two-factor password logins answered with TOTP, several hosts of one cluster with
//! failover when a node is unreachable, tickets renewed, and wrong credentials reported.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use proxmox_mcp_server::pve::Pve;
use proxmox_mcp_server::totp;
use serde_json::{json, Value};

use crate::support::{
    assert_starts, config, connected, error_text, mock_task, ok, session, ticket, with_access,
    Client, FakePve, UPID,
};

/// "12345678901234567890", the RFC 6238 test key, in base32.
const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const CHALLENGE: &str = "PVE:!tfa!%7B%22totp%22%3Atrue%7D:6740A000::c2ln";

fn password_config(fake: &FakePve, totp_secret: &str) -> proxmox_mcp_server::config::Config {
    config(
        fake,
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", ""),
            ("PROXMOX_PASSWORD", "pw"),
            ("PROXMOX_TOTP_SECRET", totp_secret),
        ],
    )
}

fn challenge(fake: &mut FakePve) {
    fake.ok_times("POST", "/access/ticket", json!({"ticket": CHALLENGE, "NeedTFA": 1, "username": "root@pam", "CSRFPreventionToken": "0:x"}), 1);
}

#[test]
fn two_factor_login_answers_with_a_totp_code() {
    let mut fake = FakePve::new();
    challenge(&mut fake);
    fake.post("/access/ticket", json!({"ticket": "PVE:root@pam:6740A001::ok", "CSRFPreventionToken": "6740A001:csrf", "username": "root@pam"}));
    fake.get("/nodes", json!([{"node": "pve1"}]));
    connected(&password_config(&fake, SECRET), |c| {
        assert_eq!(ok(&c.call("list_nodes", json!({})))["total"], 1);
        let seen = fake.requests();
        assert_eq!(seen[0].body, "username=root%40pam&password=pw");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let key = b"12345678901234567890";
        let codes = [totp::code(key, now), totp::code(key, now - 30)];
        let sent = seen[1].body.clone();
        let expected_prefix = format!(
            "username=root%40pam&tfa-challenge={}&password=totp%3A",
            CHALLENGE
                .replace('%', "%25")
                .replace(':', "%3A")
                .replace('!', "%21")
        );
        assert_starts(&sent, &expected_prefix);
        assert!(
            codes.iter().any(|c| sent.ends_with(c.as_str())),
            "{sent} carries none of {codes:?}"
        );
        assert_eq!(
            seen[2].headers["cookie"],
            "PVEAuthCookie=PVE%3Aroot%40pam%3A6740A001%3A%3Aok"
        );
    });
}

#[test]
fn a_refused_code_or_no_secret_is_a_clear_error() {
    let mut fake = FakePve::new();
    challenge(&mut fake);
    fake.answer("POST", "/access/ticket", 401, Value::Null, None);
    let config = password_config(&fake, SECRET);
    connected(&config, |c| {
        assert_starts(&c.error("list_nodes", json!({})), "POST /access/ticket: PVE refused the two-factor code for root@pam: check PROXMOX_TOTP_SECRET and that this machine's clock is right");
        assert_eq!(fake.lines().len(), 2, "one login, one code, no retries");

        let mut fake = FakePve::new();
        challenge(&mut fake);
        let config = password_config(&fake, "");
        let pve = Pve::new(&config).unwrap();
        let mut c = Client::new(&pve, &config);
        let text = error_text(&c.call("list_nodes", json!({}))).to_string();
        assert!(
            text.contains("root@pam has two-factor login enabled: set PROXMOX_TOTP_SECRET"),
            "{text}"
        );
    });
}

#[test]
fn a_bad_totp_secret_is_refused_at_start() {
    let url = FakePve::new().url();
    let err = crate::support::resolve(&[
        ("PROXMOX_HOST", &url),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_PASSWORD", "pw"),
        ("PROXMOX_TOTP_SECRET", "not base32!"),
    ])
    .unwrap_err();
    assert_eq!(
        err,
        "configuration: PROXMOX_TOTP_SECRET: '!' is not a base32 character (A-Z, 2-7)"
    );
}

/// A port where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node that accepts connections and drops them at once; counts them.
fn dropping_node() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

#[test]
fn the_next_host_is_tried_and_kept() {
    let mut fake = FakePve::new();
    fake.get("/nodes", json!([{"node": "pve2"}]));
    let (port, connections) = dropping_node();
    let hosts = format!("http://127.0.0.1:{port},{}", fake.url());
    session(&fake, &[("PROXMOX_HOST", &hosts)], |c| {
        ok(&c.call("list_nodes", json!({})));
        ok(&c.call("list_nodes", json!({})));
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "the working host is kept for later calls"
        );
        assert_eq!(fake.lines(), ["GET /nodes", "GET /nodes"]);
    });
}

#[test]
fn a_write_is_never_repeated_once_it_may_have_been_sent() {
    let mut fake = FakePve::new();
    fake.post(
        "/nodes/pve1/qemu/100/status/start",
        json!("UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:"),
    );
    fake.get(
        "/nodes/pve1/tasks/UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:/status",
        json!({"status": "stopped", "exitstatus": "OK", "starttime": 1}),
    );
    // The first node takes the connection and drops it: the POST may have arrived, so it stops there.
    let (port, _) = dropping_node();
    let hosts = format!("http://127.0.0.1:{port},{}", fake.url());
    let config1 = config(
        &fake,
        &[("PROXMOX_HOST", &hosts), ("PROXMOX_MCP_ACCESS", "operate")],
    );
    let pve = Pve::new(&config1).unwrap();
    let mut c = Client::new(&pve, &config1);
    let text = error_text(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"}))).to_string();
    assert!(
        text.starts_with(&format!(
            "POST /nodes/pve1/qemu/100/status/start: the connection to 127.0.0.1:{port} broke off after the request was sent"
        )) && text.ends_with("it may have taken effect: check before repeating it"),
        "{text}"
    );
    fake.assert_no_writes();
    // A refused connection means nothing was sent: the next host gets the write.
    let hosts = format!("http://127.0.0.1:{},{}", closed_port(), fake.url());
    let config2 = config(
        &fake,
        &[("PROXMOX_HOST", &hosts), ("PROXMOX_MCP_ACCESS", "operate")],
    );
    let pve = Pve::new(&config2).unwrap();
    let mut c = Client::new(&pve, &config2);
    assert_eq!(
        ok(&c.call("start_vm", json!({"vmid": 100, "node": "pve1"})))["task"]["exitstatus"],
        "OK"
    );
    assert_eq!(fake.writes(), ["POST /nodes/pve1/qemu/100/status/start"]);
}

#[test]
fn a_name_that_does_not_resolve_sent_nothing_so_a_write_moves_on() {
    let mut fake = FakePve::new();
    fake.ok("POST", "/nodes/pve1/qemu/100/status/start", json!(UPID));
    mock_task(&mut fake, UPID, "OK");
    let start = json!({"vmid": 100, "node": "pve1"});
    // `a..b` fails in the system resolver itself (an empty label): no DNS server is asked.
    for (hosts, works) in [
        ("a..b".to_string(), false),
        (format!("a..b,{}", fake.url()), true),
    ] {
        let config = config(
            &fake,
            &[("PROXMOX_HOST", &hosts), ("PROXMOX_MCP_ACCESS", "operate")],
        );
        let pve = Pve::new(&config).unwrap();
        let result = Client::new(&pve, &config).call("start_vm", start.clone());
        if works {
            assert_eq!(ok(&result)["task"]["exitstatus"], "OK");
        } else {
            assert_eq!(
                error_text(&result),
                "POST /nodes/pve1/qemu/100/status/start: could not resolve a..b: nothing was sent; check PROXMOX_HOST and this machine's DNS"
            );
        }
    }
    assert_eq!(fake.writes(), ["POST /nodes/pve1/qemu/100/status/start"]);
}

#[test]
fn when_no_host_answers_each_says_why() {
    let fake = FakePve::new();
    let (a, b) = (closed_port(), closed_port());
    let hosts = format!("http://127.0.0.1:{a},http://127.0.0.1:{b}");
    session(&fake, &[("PROXMOX_HOST", &hosts)], |c| {
        assert_eq!(
        error_text(&c.call("list_nodes", json!({}))),
        format!(
            "GET /nodes: no PVE host could be reached: cannot connect to 127.0.0.1:{a}: connection refused; check PROXMOX_HOST/PROXMOX_PORT and that pveproxy runs on the node; \
             cannot connect to 127.0.0.1:{b}: connection refused; check PROXMOX_HOST/PROXMOX_PORT and that pveproxy runs on the node"
        )
    );
    });
}

#[test]
fn password_login_renews_the_ticket_on_401() {
    let mut fake = FakePve::new();
    fake.ok_times("POST", "/access/ticket", ticket(1), 1)
        .post("/access/ticket", ticket(2));
    fake.answer("GET", "/nodes", 401, Value::Null, Some(1));
    fake.get("/nodes", json!([{"node": "pve1", "status": "online"}]));
    fake.starts_task("POST", "/nodes/pve1/qemu/100/status/start");
    session(
        &fake,
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", ""),
            ("PROXMOX_PASSWORD", "hunter2-secret"),
            ("PROXMOX_MCP_ACCESS", "operate"),
        ],
        |c| {
            let r = c.call("list_nodes", json!({}));
            assert_eq!(ok(&r)["total"], 1);
            let r = c.call("start_vm", json!({"vmid": 100, "node": "pve1"}));
            assert_eq!(ok(&r)["task"]["exitstatus"], "OK");
            let seen = fake.requests();
            let lines: Vec<String> = seen.iter().map(|s| s.line()).collect();
            assert_eq!(
                lines[0],
                "POST /access/ticket username=root%40pam&password=hunter2-secret"
            );
            assert_eq!(lines[1], "GET /nodes");
            assert_eq!(
                lines[2],
                "POST /access/ticket username=root%40pam&password=hunter2-secret"
            );
            assert_eq!(lines[3], "GET /nodes");
            assert_eq!(
                seen[1].headers.get("cookie").map(String::as_str),
                Some("PVEAuthCookie=PVE%3Aroot%40pam%3A6740A001%3A%3Ac2lnbmF0dXJl")
            );
            assert_eq!(
                seen[3].headers.get("cookie").map(String::as_str),
                Some("PVEAuthCookie=PVE%3Aroot%40pam%3A6740A002%3A%3Ac2lnbmF0dXJl")
            );
            assert!(
                !seen[3].headers.contains_key("csrfpreventiontoken"),
                "no CSRF token on GET"
            );
            assert_eq!(
                seen[4]
                    .headers
                    .get("csrfpreventiontoken")
                    .map(String::as_str),
                Some("6740A002:Y3NyZg"),
                "CSRF token on POST"
            );
            assert!(!seen[4].headers.contains_key("authorization"));
        },
    );
}

#[test]
fn wrong_token_is_reported_with_the_fix() {
    let mut fake = FakePve::new();
    fake.answer("GET", "/nodes", 401, Value::Null, None);
    with_access(&fake, "read-only", |c| {
        let text = error_text(&c.call("list_nodes", json!({}))).to_string();
        assert!(text.starts_with("GET /nodes: authentication failed (401) (PVE refused the credentials: check PROXMOX_USER and PROXMOX_TOKEN_NAME/PROXMOX_TOKEN_VALUE"), "{text}");
    });
    assert_eq!(fake.lines(), ["GET /nodes"], "a token is not retried");
}

#[test]
fn unreachable_pve_is_a_clear_error() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakePve::new();
    session(
        &fake,
        &[("PROXMOX_HOST", &format!("http://127.0.0.1:{port}"))],
        |c| {
            let text = error_text(&c.call("list_nodes", json!({}))).to_string();
            assert_eq!(
        text,
        format!("GET /nodes: cannot connect to 127.0.0.1:{port}: connection refused; check PROXMOX_HOST/PROXMOX_PORT and that pveproxy runs on the node")
    );
        },
    );
}

#[test]
fn wrong_password_is_one_login_attempt() {
    let mut fake = FakePve::new();
    fake.answer("POST", "/access/ticket", 401, Value::Null, None);
    session(
        &fake,
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", ""),
            ("PROXMOX_PASSWORD", "wrong-password"),
        ],
        |c| {
            let text = error_text(&c.call("list_nodes", json!({}))).to_string();
            // About the password and the realm; a token is only the alternative.
            assert!(
                text.starts_with(
                    "POST /access/ticket: login as root@pam failed: PVE refused the credentials. Check PROXMOX_PASSWORD, and the realm in PROXMOX_USER (root@pam is the node's Linux root"
                ),
                "{text}"
            );
            assert!(
                !text.contains("PROXMOX_TOKEN_NAME/PROXMOX_TOKEN_VALUE"),
                "{text}"
            );
            assert!(!text.contains("wrong-password"));
            assert_eq!(
                fake.lines().len(),
                1,
                "PVE delays each failed login by 3 s: one attempt only"
            );
        },
    );
}

#[test]
fn an_hour_old_ticket_is_renewed_with_itself() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = format!("PVE:root@pam:{:08X}::b2xk", now - 5400);
    let new = format!("PVE:root@pam:{:08X}::bmV3", now - 5);
    let mut fake = FakePve::new();
    fake.ok_times(
        "POST",
        "/access/ticket",
        json!({"ticket": old, "CSRFPreventionToken": "a:b", "username": "root@pam"}),
        1,
    );
    fake.post(
        "/access/ticket",
        json!({"ticket": new, "CSRFPreventionToken": "c:d", "username": "root@pam"}),
    );
    fake.get("/nodes", json!([]));
    session(
        &fake,
        &[
            ("PROXMOX_TOKEN_NAME", ""),
            ("PROXMOX_TOKEN_VALUE", ""),
            ("PROXMOX_PASSWORD", "pw"),
        ],
        |c| {
            ok(&c.call("list_nodes", json!({})));
            ok(&c.call("list_nodes", json!({})));
            let seen = fake.requests();
            let lines: Vec<String> = seen.iter().map(|s| s.line()).collect();
            let escaped = |t: &str| t.replace(':', "%3A").replace('@', "%40");
            assert_eq!(
                lines,
                [
                    "POST /access/ticket username=root%40pam&password=pw".to_string(),
                    "GET /nodes".to_string(),
                    format!(
                        "POST /access/ticket username=root%40pam&password={}",
                        escaped(&old)
                    ),
                    "GET /nodes".to_string(),
                ]
            );
            assert_eq!(
                seen[3].headers["cookie"],
                format!("PVEAuthCookie={}", escaped(&new))
            );
        },
    );
}
