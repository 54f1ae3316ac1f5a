//! Attacks on the transport: redirects, plain http with credentials, readable secret files,
//! implausible timestamps, answers built to exhaust memory. Each test sends the attack through
//! the mocked PVE API and checks what the user reads and what PVE (or anyone else) received.

use std::process::Command;
use std::time::Duration;

use mockito::{Matcher, Mock, ServerGuard};
use serde_json::json;

use crate::support::{assert_starts, error_text, resolve, session, FakePve, TempDir, TOKEN};

/// A server that answers every `method` request under `/api2/extjs` with `status` and
/// `Location: location`, exactly `times` times.
fn redirecting(
    server: &mut ServerGuard,
    method: &str,
    status: usize,
    location: &str,
    times: usize,
) -> Mock {
    server
        .mock(method, Matcher::Regex("^/api2/extjs/".into()))
        .with_status(status)
        .with_header("location", location)
        .with_body("moved")
        .expect(times)
        .create()
}

/// `127.0.0.1:PORT` of a mock server.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[test]
fn a_redirect_of_a_read_is_not_followed_and_names_the_location() {
    // The Location points at a second server that would answer like PVE.
    let mut elsewhere = FakePve::new();
    elsewhere.get("/nodes", json!([{"node": "fake", "status": "online"}]));
    let target = format!("{}/api2/extjs/nodes", elsewhere.url());
    let mut server = mockito::Server::new();
    let moved = redirecting(&mut server, "GET", 302, &target, 1);
    session(&elsewhere, &[("PROXMOX_HOST", &server.url())], |c| {
        let text = error_text(&c.call("list_nodes", json!({}))).to_string();
        assert_eq!(
        text,
        format!(
            "GET /nodes: {} answered with a redirect (HTTP 302) to {target}; it was not followed: the Proxmox VE API never redirects, \
             so PROXMOX_HOST may name a proxy or another web server instead of a PVE node (https, port 8006)",
            authority(&server.url())
        )
    );
        moved.assert();
        assert!(
            elsewhere.lines().is_empty(),
            "the Location got a request: {:?}",
            elsewhere.lines()
        );
    });
}

#[test]
fn a_redirect_of_a_write_is_not_followed_nor_repeated_on_another_host() {
    // The Location (plain http) is also the second configured node: after the 3xx the write
    // reached the first node, so neither the Location nor the failover may get it.
    let stop = "/nodes/pve1/qemu/100/status/stop";
    let upid = "UPID:pve1:000A1B2C:01234567:6740A000:qmstop:100:root@pam!mcp:";
    let mut elsewhere = FakePve::new();
    elsewhere.post(stop, json!(upid));
    // What ureq would have turned the POST into: a GET whose answer reads as "done".
    elsewhere.get(stop, json!(upid));
    crate::support::mock_task(&mut elsewhere, upid, "OK");
    let target = format!("{}/api2/extjs{stop}", elsewhere.url());
    let mut server = mockito::Server::new();
    let moved = redirecting(&mut server, "POST", 302, &target, 1);
    let hosts = format!("{},{}", server.url(), elsewhere.url());
    session(
        &elsewhere,
        &[("PROXMOX_HOST", &hosts), ("PROXMOX_MCP_ACCESS", "operate")],
        |c| {
            let text =
                error_text(&c.call("stop_vm", json!({"vmid": 100, "node": "pve1"}))).to_string();
            let first = authority(&server.url()).to_string();
            assert!(
        text.starts_with(&format!(
            "POST {stop}: {first} answered with a redirect (HTTP 302) to {target}; it was not followed"
        )),
        "{text}"
    );
            assert!(
                text.ends_with(&format!(
            "the request reached {first} and may have taken effect: check before repeating it"
        )),
                "a write that reached a host is not called harmless: {text}"
            );
            moved.assert();
            elsewhere.assert_no_writes();
            assert!(elsewhere.lines().is_empty(), "{:?}", elsewhere.lines());
        },
    );
}

#[test]
fn every_kind_of_redirect_is_refused() {
    for status in [301, 303, 307, 308] {
        let elsewhere = FakePve::new();
        let mut server = mockito::Server::new();
        let moved = redirecting(&mut server, "GET", status, "https://evil.example/x", 1);
        session(&elsewhere, &[("PROXMOX_HOST", &server.url())], |c| {
            let text = error_text(&c.call("list_nodes", json!({}))).to_string();
            assert!(
            text.starts_with(&format!(
                "GET /nodes: {} answered with a redirect (HTTP {status}) to https://evil.example/x; it was not followed",
                authority(&server.url())
            )),
            "{text}"
        );
            moved.assert();
        });
    }
}

#[test]
fn a_redirect_that_echoes_the_credentials_does_not_show_them() {
    let elsewhere = FakePve::new();
    let mut server = mockito::Server::new();
    let location = format!("http://user:{TOKEN}@evil.example/{TOKEN}/steal?token={TOKEN}#x\r\n");
    let moved = redirecting(&mut server, "GET", 302, location.trim_end(), 1);
    session(&elsewhere, &[("PROXMOX_HOST", &server.url())], |c| {
        // `Client::call` also checks that the token is nowhere in the result.
        let text = error_text(&c.call("list_nodes", json!({}))).to_string();
        assert!(
            text.contains("to http://evil.example/<redacted>/steal?…;"),
            "{text}"
        );
        moved.assert();
    });
}

/// What the real binary did: exit code, stdout, stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the real binary with only `PATH` and `vars` in its environment, stdin closed, for at
/// most 30 s.
fn run_binary(vars: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxmox-mcp-server"));
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(vars.iter().copied()).args(args);
    let out = crate::support::run(cmd, Duration::from_secs(30));
    Ran {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

#[test]
fn plain_http_with_credentials_is_refused_unless_to_this_machine() {
    for (host, shown) in [
        ("http://pve1.example.com", "http://pve1.example.com:8006"),
        ("http://192.0.2.7:8006", "http://192.0.2.7:8006"),
        (
            "https://pve1,http://[2001:db8::7]",
            "http://[2001:db8::7]:8006",
        ),
    ] {
        for credentials in [
            [
                ("PROXMOX_TOKEN_NAME", "mcp"),
                ("PROXMOX_TOKEN_VALUE", TOKEN),
            ],
            [("PROXMOX_PASSWORD", TOKEN), ("PROXMOX_MCP_LOG", "warn")],
        ] {
            let mut vars = vec![("PROXMOX_HOST", host), ("PROXMOX_USER", "root@pam")];
            vars.extend(credentials);
            let err = resolve(&vars).expect_err("plain http is refused");
            assert_eq!(
                err,
                format!(
                    "configuration: PROXMOX_HOST={shown} uses plain http, which would send the credentials unencrypted; \
                     use https://{} (PVE serves https on port 8006). Plain http is allowed only to a loopback address \
                     (127.0.0.0/8, ::1, localhost), where nothing leaves this machine",
                    shown.trim_start_matches("http://")
                )
            );
        }
    }
    // The exception every other test relies on: the mocked PVE on http://127.0.0.1:PORT.
    for host in [
        "http://127.0.0.1:8006",
        "http://[::1]:8006",
        "http://localhost:8006",
    ] {
        let config = resolve(&[
            ("PROXMOX_HOST", host),
            ("PROXMOX_USER", "root@pam"),
            ("PROXMOX_TOKEN_NAME", "mcp"),
            ("PROXMOX_TOKEN_VALUE", TOKEN),
        ])
        .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(config.hosts[0].scheme, "http");
    }
}

#[test]
fn the_binary_refuses_plain_http_with_exit_status_2_before_sending_anything() {
    // `127.1` is 127.0.0.1 to the resolver but not a loopback literal to the server (only
    // 127.0.0.0/8 written out, ::1 and localhost are): it is refused like any other host, and
    // the mock listening there shows that nothing was sent.
    let mut server = mockito::Server::new();
    let untouched = [
        server.mock("GET", Matcher::Any).expect(0).create(),
        server.mock("POST", Matcher::Any).expect(0).create(),
    ];
    let port = server.socket_address().port();
    let host = format!("http://127.1:{port}");
    let ran = run_binary(
        &[
            ("PROXMOX_HOST", &host),
            ("PROXMOX_USER", "root@pam"),
            ("PROXMOX_TOKEN_NAME", "mcp"),
            ("PROXMOX_TOKEN_VALUE", TOKEN),
        ],
        &["call", "list_nodes"],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert_eq!(
        ran.stderr.trim_end(),
        format!(
            "proxmox-mcp-server: configuration: PROXMOX_HOST={host} uses plain http, which would send the credentials unencrypted; \
             use https://127.1:{port} (PVE serves https on port 8006). Plain http is allowed only to a loopback address \
             (127.0.0.0/8, ::1, localhost), where nothing leaves this machine"
        )
    );
    assert!(!ran.stderr.contains(TOKEN));
    untouched.iter().for_each(Mock::assert);
}

#[cfg(unix)]
#[test]
fn secret_files_others_can_read_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("attack-secret");
    let token_file = dir.path("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let shown = token_file.display().to_string();
    let vars = [
        ("PROXMOX_HOST", "pve1.example.com"),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE_FILE", shown.as_str()),
    ];
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let expected = format!(
        "configuration: PROXMOX_TOKEN_VALUE_FILE={shown} is readable by group or others (mode 644); run: chmod 600 {shown}"
    );
    assert_eq!(resolve(&vars).expect_err("refused"), expected);
    let ran = run_binary(&vars, &["call", "list_nodes"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert_eq!(
        ran.stderr.trim_end(),
        format!("proxmox-mcp-server: {expected}")
    );
    assert!(!ran.stderr.contains(TOKEN));

    let password_file = dir.path("password");
    std::fs::write(&password_file, "hunter2-secret\n").unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let shown = password_file.display().to_string();
    let err = resolve(&[
        ("PROXMOX_HOST", "pve1.example.com"),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_PASSWORD_FILE", shown.as_str()),
    ])
    .expect_err("refused");
    assert_eq!(
        err,
        format!("configuration: PROXMOX_PASSWORD_FILE={shown} is readable by group or others (mode 640); run: chmod 600 {shown}")
    );
    assert!(!err.contains("hunter2"));

    // Private, it is read.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = resolve(&vars).expect("a private secret file is accepted");
    assert!(matches!(
        config.auth,
        proxmox_mcp_server::config::Auth::Token { ref value, .. } if value.expose() == TOKEN
    ));
}

#[test]
fn implausible_certificate_times_are_unknown_not_a_crash() {
    let mut fake = FakePve::new();
    let cert = |name: &str, notafter: serde_json::Value| json!({"filename": name, "subject": "/CN=pve1", "notbefore": 1700000000, "notafter": notafter});
    fake.get(
        "/nodes/pve1/certificates/info",
        json!([
            cert("a-huge.pem", json!(1e300)),
            cert("b-negative.pem", json!(-5)),
            cert("c-nan.pem", json!("NaN")),
            cert("d-huge-text.pem", json!("1e300")),
            cert("e-u64-max.pem", json!(u64::MAX)),
            cert("f-i64-min.pem", json!(i64::MIN)),
            cert("g-year-10000.pem", json!(253_402_300_800u64)),
            cert("h-fine.pem", json!(1795000000)),
        ]),
    );
    crate::support::session(&fake, &[("PROXMOX_MCP_TOOLS", "certificates")], |c| {
        // `Client::call` fails the test on a JSON-RPC error (a panic answers -32603) and checks
        // the result against the tool's output schema.
        let r = c.call("list_node_certificates", json!({"node": "pve1"}));
        let out = crate::support::ok(&r);
        let expires: Vec<(String, serde_json::Value)> = out["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["filename"].as_str().unwrap().to_string(),
                    c["expires"].clone(),
                )
            })
            .collect();
        let mut expected: Vec<(String, serde_json::Value)> = [
            "a-huge.pem",
            "b-negative.pem",
            "c-nan.pem",
            "d-huge-text.pem",
            "e-u64-max.pem",
            "f-i64-min.pem",
            "g-year-10000.pem",
        ]
        .iter()
        .map(|n| (n.to_string(), serde_json::Value::Null))
        .collect();
        expected.push(("h-fine.pem".into(), json!("2026-11-18T11:06:40Z")));
        assert_eq!(expires, expected);
        // What PVE sent is passed on as it was.
        assert_eq!(out["data"][0]["notafter"], json!(1e300));
    });
    assert_eq!(fake.lines(), ["GET /nodes/pve1/certificates/info"]);
}

#[test]
fn a_ticket_with_a_huge_time_does_not_break_the_session() {
    let ticket = "PVE:root@pam:FFFFFFFFFFFFFFFF::c2lnbmF0dXJl";
    let mut fake = FakePve::new();
    fake.post("/access/ticket",
        json!({"ticket": ticket, "CSRFPreventionToken": "FFFFFFFFFFFFFFFF:csrf", "username": "root@pam"}),
    );
    fake.get("/nodes", json!([{"node": "pve1", "status": "online"}]));
    let settings = [
        ("PROXMOX_TOKEN_NAME", ""),
        ("PROXMOX_TOKEN_VALUE", ""),
        ("PROXMOX_PASSWORD", "pw"),
    ];
    crate::support::session(&fake, &settings, |c| {
        for _ in 0..3 {
            let r = c.call("list_nodes", json!({}));
            assert_eq!(crate::support::ok(&r)["total"], 1);
        }
    });
    // One login; the ticket is used as it came (its time is taken as "now").
    let seen = fake.requests();
    let lines: Vec<String> = seen.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "POST /access/ticket username=root%40pam&password=pw",
            "GET /nodes",
            "GET /nodes",
            "GET /nodes",
        ]
    );
    assert_eq!(
        seen[1].headers["cookie"],
        "PVEAuthCookie=PVE%3Aroot%40pam%3AFFFFFFFFFFFFFFFF%3A%3Ac2lnbmF0dXJl"
    );
}

/// A `/cluster/resources` answer of `count` guests, as text (not built as a `Value`, so the test
/// itself stays small).
fn resources_text(count: usize, item: impl Fn(usize) -> String) -> String {
    let items: Vec<String> = (0..count).map(item).collect();
    format!(r#"{{"success":1,"data":[{}]}}"#, items.join(","))
}

/// A raw mock answering `GET /cluster/resources` once with `body`.
fn resources_answer(server: &mut ServerGuard, body: String) -> Mock {
    server
        .mock(
            "GET",
            Matcher::Regex("^/api2/extjs/cluster/resources".into()),
        )
        .with_status(200)
        .with_header("content-type", "application/json;charset=UTF-8")
        .with_body(body)
        .expect(1)
        .create()
}

#[test]
fn an_answer_of_too_many_objects_is_refused_before_parsing() {
    let elsewhere = FakePve::new();
    let mut server = mockito::Server::new();
    // 150,000 small objects (6 MB of text, which would take ~100 MB parsed).
    let objects = resources_text(150_000, |i| {
        format!(r#"{{"vmid":{},"node":"pve1","type":"qemu"}}"#, 100 + i)
    });
    let answered = resources_answer(&mut server, objects);
    session(&elsewhere, &[("PROXMOX_HOST", &server.url())], |c| {
        let text = error_text(&c.call("list_vms", json!({}))).to_string();
        assert_eq!(
        text,
        "GET /cluster/resources: the answer holds more than 100000 JSON objects and arrays, more than this server parses \
         (a bound on memory); narrow the query, e.g. to one node, one type or one storage"
    );
        answered.assert();

        // 1.5 million numbers: few objects, but each value costs memory too.
        let numbers = resources_text(1_500_000, |_| "1".to_string());
        let answered = resources_answer(&mut server, numbers);
        assert_starts(
            &c.error("list_vms", json!({})),
            "GET /cluster/resources: the answer holds more than 1000000 JSON values,",
        );
        answered.assert();
        // The server goes on answering.
        let answered = resources_answer(
            &mut server,
            resources_text(1, |_| r#"{"vmid":100,"node":"pve1","type":"qemu"}"#.into()),
        );
        assert_eq!(
            crate::support::ok(&c.call("list_vms", json!({})))["total"],
            1
        );
        answered.assert();
    });
}

#[test]
fn a_large_cluster_is_still_listed() {
    // 20,000 guests with their usual fields stay well under the limits.
    let mut server = mockito::Server::new();
    let answered = resources_answer(
        &mut server,
        resources_text(20_000, |i| {
            format!(
                r#"{{"id":"qemu/{0}","vmid":{0},"name":"vm-{0}","node":"pve{1}","type":"qemu","status":"running","cpu":0.01,"maxcpu":2,"mem":1024,"maxmem":2048,"disk":0,"maxdisk":1,"uptime":5,"tags":"a;b","template":0}}"#,
                100 + i,
                i % 8
            )
        }),
    );
    let elsewhere = FakePve::new();
    session(&elsewhere, &[("PROXMOX_HOST", &server.url())], |c| {
        let out = c.call("list_vms", json!({"limit": 5}));
        assert_eq!(crate::support::ok(&out)["total"], 20_000);
        answered.assert();
    });
}
