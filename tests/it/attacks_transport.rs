//! Attacks on the transport: redirects, plain http with credentials, readable secret files,
//! implausible timestamps, answers built to exhaust memory. Each test sends the attack through
//! the mocked PVE API and checks what the user reads and what PVE (or anyone else) received.

use mockito::{Matcher, Mock, ServerGuard};
use proxmox_mcp_server::pve::Pve;
use serde_json::json;

use crate::support::{config, error_text, Client, FakePve, TOKEN};

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
    elsewhere.ok(
        "GET",
        "/nodes",
        json!([{"node": "fake", "status": "online"}]),
    );
    let target = format!("{}/api2/extjs/nodes", elsewhere.url());
    let mut server = mockito::Server::new();
    let moved = redirecting(&mut server, "GET", 302, &target, 1);
    let config = config(&elsewhere, &[("PROXMOX_HOST", &server.url())]);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
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
}

#[test]
fn a_redirect_of_a_write_is_not_followed_nor_repeated_on_another_host() {
    // The Location (plain http) is also the second configured node: after the 3xx the write
    // reached the first node, so neither the Location nor the failover may get it.
    let stop = "/nodes/pve1/qemu/100/status/stop";
    let upid = "UPID:pve1:000A1B2C:01234567:6740A000:qmstop:100:root@pam!mcp:";
    let mut elsewhere = FakePve::new();
    elsewhere.ok("POST", stop, json!(upid));
    // What ureq would have turned the POST into: a GET whose answer reads as "done".
    elsewhere.ok("GET", stop, json!(upid));
    crate::support::mock_task(&mut elsewhere, upid, "OK");
    let target = format!("{}/api2/extjs{stop}", elsewhere.url());
    let mut server = mockito::Server::new();
    let moved = redirecting(&mut server, "POST", 302, &target, 1);
    let hosts = format!("{},{}", server.url(), elsewhere.url());
    let config = config(
        &elsewhere,
        &[("PROXMOX_HOST", &hosts), ("PROXMOX_MCP_ACCESS", "operate")],
    );
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    let text = error_text(&c.call("stop_vm", json!({"vmid": 100, "node": "pve1"}))).to_string();
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
    assert!(elsewhere.writes().is_empty(), "{:?}", elsewhere.writes());
    assert!(elsewhere.lines().is_empty(), "{:?}", elsewhere.lines());
}

#[test]
fn every_kind_of_redirect_is_refused() {
    for status in [301, 303, 307, 308] {
        let elsewhere = FakePve::new();
        let mut server = mockito::Server::new();
        let moved = redirecting(&mut server, "GET", status, "https://evil.example/x", 1);
        let config = config(&elsewhere, &[("PROXMOX_HOST", &server.url())]);
        let pve = Pve::new(&config).unwrap();
        let mut c = Client::new(&pve, &config);
        let text = error_text(&c.call("list_nodes", json!({}))).to_string();
        assert!(
            text.starts_with(&format!(
                "GET /nodes: {} answered with a redirect (HTTP {status}) to https://evil.example/x; it was not followed",
                authority(&server.url())
            )),
            "{text}"
        );
        moved.assert();
    }
}

#[test]
fn a_redirect_that_echoes_the_credentials_does_not_show_them() {
    let elsewhere = FakePve::new();
    let mut server = mockito::Server::new();
    let location = format!("http://user:{TOKEN}@evil.example/{TOKEN}/steal?token={TOKEN}#x\r\n");
    let moved = redirecting(&mut server, "GET", 302, location.trim_end(), 1);
    let config = config(&elsewhere, &[("PROXMOX_HOST", &server.url())]);
    let pve = Pve::new(&config).unwrap();
    let mut c = Client::new(&pve, &config);
    // `Client::call` also checks that the token is nowhere in the result.
    let text = error_text(&c.call("list_nodes", json!({}))).to_string();
    assert!(
        text.contains("to http://evil.example/<redacted>/steal?…;"),
        "{text}"
    );
    moved.assert();
}
