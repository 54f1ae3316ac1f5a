//! Unit tests of `pve`.

use serde_json::json;

use super::*;

#[test]
fn upids() {
    let u = Upid::parse("UPID:pve1:00001234:0ABCDEF12:65000000:qmstart:100:root@pam!mcp:").unwrap();
    assert_eq!(
        (
            u.node.as_str(),
            u.kind.as_str(),
            u.id.as_str(),
            u.user.as_str()
        ),
        ("pve1", "qmstart", "100", "root@pam!mcp")
    );
    assert_eq!(u.starttime, 0x65000000);
    let ok = ["UPID:n-1:00000001:00000002:00000003:vzdump::root@pam:"];
    for s in ok {
        assert!(Upid::parse(s).is_ok(), "{s}");
    }
    let bad = [
        ("", "must start with UPID:"),
        (
            "UPID:pve1:00001234:00ABCDEF:65000000:qmstart:100:root@pam",
            "must end with ':'",
        ),
        (
            "UPID:pve1:1234:00ABCDEF:65000000:qmstart:100:root@pam:",
            "must be hex",
        ),
        (
            "UPID:-pve:00001234:00ABCDEF:65000000:qmstart:100:root@pam:",
            "bad node name",
        ),
        (
            "UPID:pve1:00001234:00ABCDEF:65000000:qmstart:root@pam:",
            "expected 8 fields",
        ),
        (
            "UPID:pve1:00001234:00ABCDEF:65000000:qm/start:100:root@pam:",
            "bad type",
        ),
    ];
    for (s, why) in bad {
        let err = Upid::parse(s).unwrap_err();
        assert!(err.contains(why), "{s}: {err}");
    }
}

#[test]
fn paths_and_forms_are_encoded() {
    assert_eq!(
        path(&[&"nodes", &"pve1", &"qemu", &100, &"status"]),
        "/nodes/pve1/qemu/100/status"
    );
    assert_eq!(
        path(&[
            &"nodes",
            &"pve1",
            &"tasks",
            &"UPID:pve1:0:0:0:qmstart:100:root@pam!t:"
        ]),
        "/nodes/pve1/tasks/UPID:pve1:0:0:0:qmstart:100:root@pam!t:"
    );
    assert_eq!(
        path(&[&"storage", &"a/b c?#%"]),
        "/storage/a%2Fb%20c%3F%23%25"
    );
    assert_eq!(
        form_encode(&[("description", "a b&c=d".into()), ("vmstate", bool01(true))]),
        "description=a%20b%26c%3Dd&vmstate=1"
    );
}

#[test]
fn implausible_ticket_times_are_now() {
    let now = SystemTime::now();
    let recent = now.duration_since(UNIX_EPOCH).unwrap().as_secs() - 600;
    assert_eq!(
        ticket_issued(&format!("PVE:root@pam:{recent:X}::sig")),
        UNIX_EPOCH + Duration::from_secs(recent),
        "a plausible time is taken as it is"
    );
    for ticket in [
        "PVE:root@pam:FFFFFFFFFFFFFFFF::sig",
        "PVE:root@pam:7FFFFFFFFFFFFFFF::sig",
        "PVE:root@pam:FFFFFFFFFFFFFFFFFFFF::sig",
        "PVE:root@pam:0::sig",
        "PVE:root@pam:zz::sig",
        "garbage",
    ] {
        let issued = ticket_issued(ticket);
        assert!(issued >= now && issued <= SystemTime::now(), "{ticket}");
    }
}

#[test]
fn json_cost_counts_outside_strings_only() {
    let objects = |n: usize| format!("[{}]", vec![r#"{"a":1}"#; n].join(","));
    assert_eq!(json_cost(objects(MAX_CONTAINERS - 1).as_bytes()), None);
    assert_eq!(
        json_cost(objects(MAX_CONTAINERS).as_bytes()).as_deref(),
        Some("100000 JSON objects and arrays")
    );
    let numbers = |n: usize| format!("[{}]", vec!["1"; n].join(","));
    assert_eq!(json_cost(numbers(MAX_ITEMS + 1).as_bytes()), None);
    assert_eq!(
        json_cost(numbers(MAX_ITEMS + 2).as_bytes()).as_deref(),
        Some("1000000 JSON values")
    );
    // Brackets, braces and commas inside strings (escaped quotes too) are text.
    let text = format!(r#"{{"message":"a\"{}\\"}}"#, "{[,".repeat(MAX_ITEMS));
    assert_eq!(json_cost(text.as_bytes()), None);
    let escaped_quote_then_objects = format!(r#"["\"",{}]"#, objects(MAX_CONTAINERS));
    assert!(json_cost(escaped_quote_then_objects.as_bytes()).is_some());
}

/// A client that is never used to send anything (the pinned fingerprint matches nothing).
fn offline_pve() -> Pve {
    let pin = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    let env = |k: &str| match k {
        "PROXMOX_HOST" => Some("pve1.example.com".to_string()),
        "PROXMOX_USER" => Some("root@pam".to_string()),
        "PROXMOX_TOKEN_NAME" => Some("mcp".to_string()),
        "PROXMOX_TOKEN_VALUE" => Some("x".to_string()),
        "PROXMOX_FINGERPRINT" => Some(pin.to_string()),
        _ => None,
    };
    let config = Config::resolve_with(&env, &[], std::path::Path::new("/nonexistent")).unwrap();
    Pve::new(&config).unwrap()
}

fn guests(from: u64, count: u64) -> Value {
    Value::Array(
        (from..from + count)
            .map(|vmid| json!({"vmid": vmid, "node": "pve1", "type": "qemu"}))
            .collect(),
    )
}

#[test]
fn the_guest_cache_stays_bounded() {
    let pve = offline_pve();
    // Answers naming new VMIDs each time.
    for round in 0..40 {
        pve.remember_guests(&guests(100 + round * 1000, 1000));
        let size = pve.guests.lock().unwrap().len();
        assert!(size <= MAX_GUESTS, "round {round}: {size} entries");
    }
    // The latest answer is still known.
    assert_eq!(
        pve.cached_guest(100 + 39 * 1000 + 999),
        Some(("pve1".to_string(), "qemu".to_string()))
    );
    // One answer larger than the cache: bounded too, and its last guests are kept.
    pve.remember_guests(&guests(1_000_000, 3 * MAX_GUESTS as u64 + 5));
    assert!(pve.guests.lock().unwrap().len() <= MAX_GUESTS);
    assert!(pve
        .cached_guest(1_000_000 + 3 * MAX_GUESTS as u64 + 4)
        .is_some());
    // Expired entries are dropped at the next answer.
    let long_ago = Instant::now().checked_sub(GUEST_TTL * 2);
    if let Some(long_ago) = long_ago {
        for (_, _, seen) in pve.guests.lock().unwrap().values_mut() {
            *seen = long_ago;
        }
        assert_eq!(pve.cached_guest(1_000_000), None);
        pve.remember_guests(&guests(7, 1));
        assert_eq!(pve.guests.lock().unwrap().len(), 1);
    }
}

#[test]
fn percent_decoding_undoes_our_encoding() {
    let ticket = "PVE:root@pam:6740A001::c2ln/+=";
    let mut encoded = String::new();
    encode_into(&mut encoded, ticket, b"");
    assert_eq!(percent_decode(&encoded), ticket);
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn task_exit_statuses() {
    for (s, ok) in [
        ("OK", true),
        ("WARNINGS: 2", true),
        ("VM 100 already running", false),
        ("unexpected status", false),
        ("job errors", false),
    ] {
        assert_eq!(task_ok(s), ok, "{s}");
    }
}
