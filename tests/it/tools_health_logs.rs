//! A node's syslog and journal against the mocked PVE (both newest first: PVE gives them oldest
//! first), and refresh_node_updates (PVE's apt update task).

use serde_json::{json, Value};

use crate::support::{session, FakePve, UPID};

const SYSLOG: &str = "/nodes/pve1/syslog";
const JOURNAL: &str = "/nodes/pve1/journal";

/// PVE's syslog answer: `lines` numbered from `first`, `total` lines in the window.
fn syslog(first: usize, lines: &[&str], total: usize) -> Value {
    let data: Vec<Value> = (first..)
        .zip(lines)
        .map(|(n, t)| json!({"n": n, "t": t}))
        .collect();
    json!({"success": 1, "total": total, "data": data})
}

#[test]
fn a_small_syslog_window_is_read_once_and_shown_newest_first() {
    let mut fake = FakePve::new();
    let lines = [
        "Mar 05 10:00:01 pve1 systemd[1]: Starting pveproxy.service",
        "Mar 05 10:00:02 pve1 pveproxy[800]: starting server",
        "Mar 05 10:00:03 pve1 pveproxy[801]: worker 801 started",
    ];
    fake.answer("GET", SYSLOG, 200, syslog(1, &lines, 3), None);
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let out = c.ok(
            "get_node_syslog",
            json!({"node": "pve1", "since": "2026-03-05 10:00", "until": "2026-03-05", "service": "pveproxy", "limit": 5}),
        );
        assert_eq!(
            out,
            json!({
                "data": [{"n": 3, "t": lines[2]}, {"n": 2, "t": lines[1]}, {"n": 1, "t": lines[0]}],
                "total": 3, "limit": 5, "offset": 0,
            })
        );
    });
    assert_eq!(
        fake.lines(),
        ["GET /nodes/pve1/syslog?since=2026-03-05%2010%3A00&until=2026-03-05&service=pveproxy&start=0&limit=5"]
    );
}

#[test]
fn a_large_syslog_window_is_paged_from_its_end() {
    let mut fake = FakePve::new();
    // The first read learns the window's length (5000 lines), the second reads the page.
    fake.answer("GET", SYSLOG, 200, syslog(1, &["oldest"; 1], 5000), Some(1));
    fake.answer(
        "GET",
        SYSLOG,
        200,
        syslog(4891, &["line 4891", "line 4892"], 5000),
        None,
    );
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let out = c.ok(
            "get_node_syslog",
            json!({"node": "pve1", "limit": 2, "offset": 108}),
        );
        assert_eq!(
            out,
            json!({
                "data": [{"n": 4892, "t": "line 4892"}, {"n": 4891, "t": "line 4891"}],
                "total": 5000, "limit": 2, "offset": 108,
                "hint": "4890 older lines; call again with offset 110",
            })
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/syslog?start=0&limit=110",
            "GET /nodes/pve1/syslog?start=4890&limit=2",
        ]
    );
}

#[test]
fn an_empty_syslog_window_is_empty_and_bad_times_are_refused() {
    let mut fake = FakePve::new();
    fake.answer("GET", SYSLOG, 200, syslog(1, &["no content"], 1), None);
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        assert_eq!(
            c.ok(
                "get_node_syslog",
                json!({"node": "pve1", "since": "2026-03-05 10:00:00"})
            ),
            json!({"data": [], "total": 0, "limit": 100, "offset": 0})
        );
        assert_eq!(
            c.error("get_node_syslog", json!({"node": "pve1", "since": "yesterday"})),
            "invalid arguments: 'since' must be a node-local time YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS, got 'yesterday'"
        );
        assert_eq!(
            c.error("get_node_syslog", json!({"node": "pve1", "service": "--all"})),
            "invalid arguments: 'service' must be a systemd unit name such as pveproxy or pve-cluster.service, got '--all'"
        );
    });
    assert_eq!(fake.lines().len(), 1);
}

const START: &str = "s=6f0a;i=1a2;b=9c1e;m=11;t=5f0e2a;x=ab";
const END: &str = "s=6f0a;i=1a5;b=9c1e;m=14;t=5f0e2f;x=cd";

#[test]
fn the_journal_is_shown_newest_first_with_its_cursors() {
    let mut fake = FakePve::new();
    fake.get(
        JOURNAL,
        json!([
            START,
            "Mar 05 10:00:01 pve1 kernel: a",
            "-- Reboot --",
            "Mar 05 11:00:00 pve1 kernel: b",
            END
        ]),
    );
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let out = c.ok(
            "get_node_journal",
            json!({"node": "pve1", "lastentries": 20, "until": 1772704800}),
        );
        assert_eq!(
            out,
            json!({
                "data": [{"t": "Mar 05 11:00:00 pve1 kernel: b"}, {"t": "-- Reboot --"}, {"t": "Mar 05 10:00:01 pve1 kernel: a"}],
                "start_cursor": START, "end_cursor": END,
            })
        );
        // Older entries: before the oldest one shown.
        c.ok("get_node_journal", json!({"node": "pve1", "before": START}));
        assert_eq!(
            c.error("get_node_journal", json!({"node": "pve1", "before": START, "until": 5})),
            "invalid arguments: give 'until' or 'before', not both: each says where the entries end"
        );
        assert_eq!(
            c.error("get_node_journal", json!({"node": "pve1", "before": "not a cursor"})),
            "invalid arguments: 'before' must be a start_cursor from an earlier get_node_journal answer"
        );
    });
    assert_eq!(
        fake.lines(),
        [
            "GET /nodes/pve1/journal?lastentries=20&until=1772704800",
            "GET /nodes/pve1/journal?lastentries=100&endcursor=s%3D6f0a%3Bi%3D1a2%3Bb%3D9c1e%3Bm%3D11%3Bt%3D5f0e2a%3Bx%3Dab",
        ]
    );
}

#[test]
fn a_journal_window_keeps_its_newest_entries() {
    let mut fake = FakePve::new();
    let mut lines = vec![START.to_string()];
    lines.extend((1..=5).map(|i| format!("entry {i}")));
    lines.push(END.to_string());
    fake.get(JOURNAL, json!(lines));
    session(&fake, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let out = c.ok(
            "get_node_journal",
            json!({"node": "pve1", "since": 1772700000, "until": 1772704800, "lastentries": 2}),
        );
        // The window's first cursor is not the oldest entry shown, so it is left out.
        assert_eq!(
            out,
            json!({
                "data": [{"t": "entry 5"}, {"t": "entry 4"}],
                "end_cursor": END,
                "hint": "3 older entries of the window left out; raise lastentries (up to 1000) or narrow the window",
            })
        );
    });
    assert_eq!(
        fake.lines(),
        ["GET /nodes/pve1/journal?since=1772700000&until=1772704800"]
    );
}

#[test]
fn refresh_node_updates_runs_the_apt_update_task() {
    let mut fake = FakePve::new();
    fake.starts_task("POST", "/nodes/pve1/apt/update");
    session(
        &fake,
        &[
            ("PROXMOX_MCP_ACCESS", "operate"),
            ("PROXMOX_MCP_TOOLS", "health"),
        ],
        |c| {
            let out = c.ok("refresh_node_updates", json!({"node": "pve1"}));
            assert_eq!(out["data"], UPID);
            assert_eq!(out["task"]["exitstatus"], "OK");
        },
    );
    assert_eq!(fake.writes(), ["POST /nodes/pve1/apt/update"]);
    let read_only = FakePve::new();
    session(&read_only, &[("PROXMOX_MCP_TOOLS", "health")], |c| {
        let refused = c.error("refresh_node_updates", json!({"node": "pve1"}));
        assert!(refused.contains("operate"), "{refused}");
    });
    read_only.assert_untouched();
}
