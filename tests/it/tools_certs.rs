//! The ACME certificate tools against the mocked PVE: accounts and plugins (never the plugins'
//! credentials), a node's ACME domains, ordering, renewing and revoking its certificate; dry
//! runs; the note and the new `PROXMOX_FINGERPRINT` line when the node's certificate is pinned.

use serde_json::{json, Value};

use crate::support::{session, with_access as with, FakePve, STATUS, UPID};

const INFO: &str = "/nodes/pve1/certificates/info";
const ACME_CERT: &str = "/nodes/pve1/certificates/acme/certificate";

/// A fingerprint made of one repeated byte, as PVE writes it (`AB:AB:…`).
fn fp(byte: &str) -> String {
    vec![byte; 32].join(":")
}

/// `/nodes/pve1/certificates/info` with pveproxy's certificate `proxy` (if any) beside the
/// cluster-signed one (fingerprint `11:…`).
fn info(proxy: Option<&str>) -> Value {
    let mut certs = vec![
        json!({"filename": "pve-root-ca.pem", "subject": "/CN=Proxmox Virtual Environment", "fingerprint": fp("00")}),
        json!({"filename": "pve-ssl.pem", "subject": "/CN=pve1.lan", "fingerprint": fp("11"), "notafter": 1900000000,
               "pem": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"}),
    ];
    if let Some(p) = proxy {
        certs.push(json!({"filename": "pveproxy-ssl.pem", "subject": "/CN=pve1.example.com", "issuer": "/CN=R11", "fingerprint": p, "notafter": 1800000000}));
    }
    Value::Array(certs)
}

/// The task's status polls after a write that started `UPID`.
fn polls() -> Vec<String> {
    vec![format!("GET {STATUS}"), format!("GET {STATUS}")]
}

#[test]
fn list_acme_accounts_with_details() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/acme/account",
        json!([{"name": "staging"}, {"name": "default"}]),
    );
    fake.get(
        "/cluster/acme/account/default",
        json!({
            "directory": "https://acme-v02.api.letsencrypt.org/directory",
            "location": "https://acme-v02.api.letsencrypt.org/acme/acct/1",
            "tos": "https://letsencrypt.org/terms.pdf",
            "account": {"status": "valid", "contact": ["mailto:admin@example.com"], "key": {"kty": "RSA", "n": "x"}},
        }),
    );
    fake.fail(
        "GET",
        "/cluster/acme/account/staging",
        403,
        "Permission check failed",
    );
    with(&fake, "read-only", |c| {
        assert_eq!(
            c.ok("list_acme_accounts", json!({})),
            json!({
                "data": [
                    {"name": "default", "directory": "https://acme-v02.api.letsencrypt.org/directory", "tos": "https://letsencrypt.org/terms.pdf", "contact": ["mailto:admin@example.com"], "status": "valid"},
                    {"name": "staging"},
                ],
                "total": 2, "limit": 100, "offset": 0,
                "unreadable": [{"name": "staging", "error": "GET /cluster/acme/account/staging: Permission check failed (the credentials lack the privilege PVE names above; grant it with `pveum acl modify PATH --roles ROLE --users USER` (for a token, --tokens USER!NAME))"}],
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/acme/account",
            "GET /cluster/acme/account/staging",
            "GET /cluster/acme/account/default",
        ]
    );
}

#[test]
fn list_acme_plugins_never_shows_their_credentials() {
    let mut fake = FakePve::new();
    fake.get(
        "/cluster/acme/plugins",
        json!([
            {"plugin": "standalone", "type": "standalone", "digest": "d"},
            {"plugin": "cf", "type": "dns", "api": "cf", "data": "CF_Token=c2VjcmV0LWRucy10b2tlbg", "validation-delay": 30, "nodes": "pve1,pve2", "digest": "d"},
        ]),
    );
    with(&fake, "read-only", |c| {
        let r = c.call("list_acme_plugins", json!({}));
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(
            !text.contains("CF_Token") && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert_eq!(
            r["structuredContent"]["data"],
            json!([
                {"plugin": "cf", "type": "dns", "api": "cf", "validation-delay": 30, "nodes": "pve1,pve2"},
                {"plugin": "standalone", "type": "standalone"},
            ])
        );
        c.ok("list_acme_plugins", json!({"type": "dns"}));
        assert_eq!(
            c.error("list_acme_plugins", json!({"type": "http"})),
            "invalid arguments: 'type' must be one of dns, standalone, got 'http'"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /cluster/acme/plugins",
            "GET /cluster/acme/plugins?type=dns"
        ]
    );
}

fn node_config() -> Value {
    json!({
        "acme": "account=le,domains=old.example.com",
        "acmedomain0": "domain=a.example.com,plugin=cf",
        "acmedomain1": "b.example.com",
        "acmedomain2": "domain=c.example.com",
        "description": "rack 4",
        "digest": "9f0c1e",
    })
}

#[test]
fn configure_node_acme_sends_only_acme_keys() {
    let mut fake = FakePve::new();
    fake.get("/nodes/pve1/config", node_config());
    fake.ok("PUT", "/nodes/pve1/config", Value::Null);
    with(&fake, "full", |c| {
        let args = json!({"node": "pve1", "domains": ["pve1.example.com", "pve.example.com"], "plugin": "cf"});
        let mut dry = args.clone();
        dry["dry_run"] = json!(true);
        assert_eq!(
            c.ok("configure_node_acme", dry),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "PUT", "path": "/nodes/pve1/config", "params": {
                    "acmedomain0": "domain=pve1.example.com,plugin=cf",
                    "acmedomain1": "domain=pve.example.com,plugin=cf",
                    "acme": "account=le",
                    "delete": "acmedomain2",
                    "digest": "9f0c1e",
                }},
                "target": {
                    "acme": "account=le,domains=old.example.com",
                    "acmedomain0": "domain=a.example.com,plugin=cf",
                    "acmedomain1": "b.example.com",
                    "acmedomain2": "domain=c.example.com",
                    "digest": "9f0c1e",
                },
            })
        );
        assert_eq!(c.ok("configure_node_acme", args), json!({"data": null}));
        // A new account; one domain, the default (standalone) plugin.
        let args = json!({"node": "pve1", "domains": ["pve1.example.com"], "account": "prod"});
        assert_eq!(c.ok("configure_node_acme", args), json!({"data": null}));
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/config",
            "GET /nodes/pve1/config",
            "PUT /nodes/pve1/config acmedomain0=domain%3Dpve1.example.com%2Cplugin%3Dcf&acmedomain1=domain%3Dpve.example.com%2Cplugin%3Dcf&acme=account%3Dle&delete=acmedomain2&digest=9f0c1e",
            "GET /nodes/pve1/config",
            "PUT /nodes/pve1/config acmedomain0=domain%3Dpve1.example.com&acme=account%3Dprod&delete=acmedomain1%2Cacmedomain2&digest=9f0c1e",
        ]
    );
}

#[test]
fn configure_node_acme_refuses_bad_values_before_sending() {
    let fake = FakePve::new();
    with(&fake, "full", |c| {
        for (args, message) in [
            (json!({"node": "pve1", "domains": ["a.example.com,plugin=evil"]}), "invalid arguments: 'domains' must hold DNS names such as pve1.example.com, got 'a.example.com,plugin=evil'"),
            (json!({"node": "pve1", "domains": ["*.example.com"]}), "invalid arguments: 'domains' must hold DNS names such as pve1.example.com, got '*.example.com'"),
            (json!({"node": "pve1", "domains": ["a.example.com", "A.example.com"]}), "invalid arguments: 'domains' names A.example.com twice"),
            (json!({"node": "pve1", "domains": ["a.example.com"], "plugin": "cf,alias=x"}), "invalid arguments: 'plugin' must be a letter, then letters, digits, '-' and '_' (2 or more), got 'cf,alias=x'"),
            (json!({"node": "pve1", "domains": ["a.example.com"], "account": "x"}), "invalid arguments: 'account' must be a letter, then letters, digits, '-' and '_' (2 or more), got 'x'"),
            (json!({"node": "pve1", "domains": ["a.b", "b.b", "c.b", "d.b", "e.b", "f.b", "g.b"]}), "invalid arguments: 'domains' must hold 1 to 6 strings, got 7"),
        ] {
            assert_eq!(c.error("configure_node_acme", args.clone()), message, "{args}");
        }
    });
    fake.assert_untouched();
    // Every certificate change needs full.
    with(&FakePve::new(), "operate", |c| {
        let names = c.tool_names();
        assert!(names.contains(&"list_acme_plugins"));
        for t in [
            "configure_node_acme",
            "order_node_certificate",
            "renew_node_certificate",
            "revoke_node_certificate",
        ] {
            assert!(!names.contains(&t), "{t}");
        }
    });
}

#[test]
fn order_node_certificate_waits_for_the_task() {
    let mut fake = FakePve::new();
    fake.get(INFO, info(None));
    fake.starts_task("POST", ACME_CERT);
    with(&fake, "full", |c| {
        let r = c.ok(
            "order_node_certificate",
            json!({"node": "pve1", "force": true}),
        );
        assert_eq!(r["data"], UPID);
        assert_eq!(r["task"]["status"], "stopped");
        assert_eq!(r["task"]["exitstatus"], "OK");
        // Not pinned (a CA file checks the certificate): nothing to say about fingerprints.
        assert!(r.get("pin").is_none(), "{r}");
    });
    let mut expected = vec![format!("GET {INFO}"), format!("POST {ACME_CERT} force=1")];
    expected.extend(polls());
    assert_eq!(fake.lines(), expected);
}

#[test]
fn a_pinned_node_gets_the_new_fingerprint_line_and_is_not_trusted() {
    let (old, new, other) = (fp("AA"), fp("BB"), fp("CC"));
    let mut fake = FakePve::new();
    fake.ok_times("GET", INFO, info(Some(&old)), 1);
    fake.get(INFO, info(Some(&new)));
    fake.starts_task("PUT", ACME_CERT);
    let pins = format!("{other},{old}");
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "certificates"),
        ("PROXMOX_FINGERPRINT", pins.as_str()),
    ];
    session(&fake, &settings, |c| {
        let r = c.ok("renew_node_certificate", json!({"node": "pve1"}));
        assert_eq!(r["task"]["exitstatus"], "OK");
        let line = format!("PROXMOX_FINGERPRINT={other},{new}");
        assert_eq!(
            r["pin"],
            json!({
                "node": "pve1", "old": old, "new": new, "setting": line,
                "note": format!("pve1 now presents a new certificate ({new}), which this server does not trust: PROXMOX_FINGERPRINT pins the old one ({old}). Compare it with the node's (Node > System > Certificates), then set {line} and restart the server"),
            })
        );
    });
    let mut expected = vec![format!("GET {INFO}"), format!("PUT {ACME_CERT}")];
    expected.extend(polls());
    expected.push(format!("GET {INFO}"));
    assert_eq!(fake.lines(), expected);
}

#[test]
fn revoking_a_pinned_certificate_falls_back_to_the_cluster_one() {
    let old = fp("AA");
    let mut fake = FakePve::new();
    fake.ok_times("GET", INFO, info(Some(&old)), 3);
    fake.get(INFO, info(None));
    fake.starts_task("DELETE", ACME_CERT);
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "certificates"),
        ("PROXMOX_FINGERPRINT", old.as_str()),
    ];
    session(&fake, &settings, |c| {
        // The dry run warns before anything changes.
        let r = c.ok(
            "revoke_node_certificate",
            json!({"node": "pve1", "dry_run": true}),
        );
        assert_eq!(
            r["request"],
            json!({"method": "DELETE", "path": ACME_CERT, "params": {}})
        );
        assert_eq!(r["target"]["certificates"][2]["fingerprint"], old);
        assert!(r["target"]["certificates"][1].get("pem").is_none());
        assert_eq!(
            r["pin"]["note"],
            "PROXMOX_FINGERPRINT pins pve1's current certificate; once it is replaced this server refuses pve1 until PROXMOX_FINGERPRINT holds the new fingerprint (the result will give it)"
        );
        // Not waited for: the note says how to find the new fingerprint.
        let r = c.ok(
            "revoke_node_certificate",
            json!({"node": "pve1", "wait_seconds": 0}),
        );
        assert_eq!(r["task"]["status"], "running");
        assert!(
            r["pin"]["note"].as_str().unwrap().contains(
                "when the task ends, read the new fingerprint with list_node_certificates"
            ),
            "{r}"
        );
        let r = c.ok("revoke_node_certificate", json!({"node": "pve1"}));
        assert_eq!(r["pin"]["new"], fp("11"));
        assert_eq!(
            r["pin"]["setting"],
            format!("PROXMOX_FINGERPRINT={}", fp("11"))
        );
    });
    let writes = fake.writes();
    assert_eq!(
        writes,
        [format!("DELETE {ACME_CERT}"), format!("DELETE {ACME_CERT}")]
    );
}

#[test]
fn certificate_dry_runs_send_no_write() {
    let mut fake = FakePve::new();
    fake.get(INFO, info(Some(&fp("AA"))));
    fake.get("/nodes/pve1/config", node_config());
    with(&fake, "full", |c| {
        for (tool, method, params) in [
            ("order_node_certificate", "POST", json!({"force": "0"})),
            ("renew_node_certificate", "PUT", json!({"force": "1"})),
            ("revoke_node_certificate", "DELETE", json!({})),
        ] {
            let mut args = json!({"node": "pve1", "dry_run": true});
            if let Some(force) = params.get("force") {
                args["force"] = json!(force == "1");
            }
            let r = c.ok(tool, args);
            assert_eq!(
                r["request"],
                json!({"method": method, "path": ACME_CERT, "params": params}),
                "{tool}"
            );
            assert_eq!(r["data"], Value::Null);
            // Not pinned here: no note.
            assert!(r.get("pin").is_none());
            assert_eq!(r["target"]["certificates"].as_array().unwrap().len(), 3);
        }
        let r = c.ok(
            "configure_node_acme",
            json!({"node": "pve1", "domains": ["pve1.example.com"], "dry_run": true}),
        );
        assert_eq!(r["dry_run"], true);
    });
    fake.assert_no_writes();
}

#[test]
fn a_failed_order_says_why_and_gives_no_pin_note() {
    let mut fake = FakePve::new();
    fake.get(INFO, info(Some(&fp("AA"))));
    fake.ok("POST", ACME_CERT, json!(UPID));
    crate::support::mock_task(&mut fake, UPID, "no ACME domains configured for node pve1");
    fake.task_log(&[
        "Loading ACME account details",
        "TASK ERROR: no ACME domains configured for node pve1",
    ]);
    let pin = fp("AA");
    let settings = [
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "certificates"),
        ("PROXMOX_FINGERPRINT", pin.as_str()),
    ];
    session(&fake, &settings, |c| {
        let e = c.error("order_node_certificate", json!({"node": "pve1"}));
        assert_eq!(
            e,
            format!("POST {ACME_CERT}: task failed: no ACME domains configured for node pve1\ntask: {UPID}\nlast lines of the task log:\n  Loading ACME account details\n  TASK ERROR: no ACME domains configured for node pve1")
        );
    });
}

/// The SHA-256 fingerprint of `tests/data/tls/other.pem`.
const OTHER_FINGERPRINT: &str = "34:6B:60:A2:EF:A6:53:C7:65:82:32:39:4D:11:81:91:CF:E0:94:18:B4:D8:66:25:CC:D5:AC:93:C9:AE:60:D9";

/// The node this server talks to renews its own certificate: pveproxy restarts with it and the
/// pin refuses the task's status polls. The error gives the new line, and the server keeps
/// refusing the node (it does not start trusting the new certificate).
#[test]
fn renewing_the_pinned_host_itself_gives_the_line_and_stays_refused() {
    use std::sync::atomic::Ordering;

    use crate::raw::{answer, Raw};
    use crate::support::{connected, leaf_fingerprint, resolve, server_tls, TOKEN};

    let leaf = leaf_fingerprint();
    let certs = vec![
        server_tls("leaf.pem", "leaf.key"),
        server_tls("other.pem", "other.key"),
    ];
    let info =
        json!({"success": 1, "data": [{"filename": "pveproxy-ssl.pem", "fingerprint": leaf}]});
    let server = Raw::https(certs, move |req, conn, shared| {
        let body = if req.path.starts_with(INFO) {
            info.clone()
        } else if req.path.starts_with(ACME_CERT) {
            // The task installs the new certificate; new connections get it.
            shared.present.store(1, Ordering::SeqCst);
            json!({"success": 1, "data": UPID})
        } else {
            json!({"success": 1, "data": {"status": "running", "upid": UPID}})
        };
        answer(conn, "200 OK", body.to_string().as_bytes());
        crate::raw::Then::Close
    });
    let host = server.url("https");
    let config = resolve(&[
        ("PROXMOX_HOST", &host),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_TOKEN_NAME", "mcp"),
        ("PROXMOX_TOKEN_VALUE", TOKEN),
        ("PROXMOX_TIMEOUT", "5"),
        ("PROXMOX_FINGERPRINT", &leaf),
        ("PROXMOX_MCP_ACCESS", "full"),
        ("PROXMOX_MCP_TOOLS", "certificates"),
    ])
    .expect("configuration");
    connected(&config, |c| {
        let e = c.error(
            "renew_node_certificate",
            json!({"node": "pve1", "force": true}),
        );
        assert!(
            e.starts_with(&format!(
                "PUT {ACME_CERT}: PVE started task {UPID} but following it failed"
            )),
            "{e}"
        );
        let line = format!("PROXMOX_FINGERPRINT={OTHER_FINGERPRINT}");
        assert!(
            e.ends_with(&format!("pve1 now presents a new certificate ({OTHER_FINGERPRINT}), which this server does not trust: PROXMOX_FINGERPRINT pins the old one ({leaf}). Compare it with the node's (Node > System > Certificates), then set {line} and restart the server")),
            "{e}"
        );
        // Still pinned to the old certificate: the node is refused until the operator changes it.
        let e = c.error("list_node_certificates", json!({"node": "pve1"}));
        assert!(e.contains("does not match PROXMOX_FINGERPRINT"), "{e}");
    });
    // The write went out once; nothing was sent after the pin refused the new certificate.
    assert!(server.requests() == 2, "{} requests", server.requests());
}
