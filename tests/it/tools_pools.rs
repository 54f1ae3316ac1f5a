//! The pool write tools against the mocked PVE: a pool created, filled, emptied and deleted;
//! dry runs; refusals (protected guests, a pool with members, bad arguments) that send no write.

use serde_json::{json, Value};

use crate::support::{guest, session, with_access as with, FakePve};

fn members() -> Value {
    json!([{
        "poolid": "prod", "comment": "production",
        "members": [
            {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "status": "available"},
            {"id": "storage/pve2/local", "type": "storage", "storage": "local", "node": "pve2", "status": "available"},
            {"id": "lxc/200", "type": "lxc", "vmid": 200, "name": "dns", "node": "pve2", "status": "running"},
            {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running"},
        ],
    }])
}

fn empty() -> Value {
    json!([{"poolid": "prod", "comment": "production", "members": []}])
}

#[test]
fn a_pool_is_created_filled_emptied_and_deleted() {
    let mut fake = FakePve::new();
    fake.post("/pools", Value::Null);
    // The pool as PVE has it along the way: empty, then with members, then empty again.
    fake.ok_times("GET", "/pools", empty(), 1);
    fake.ok_times("GET", "/pools", members(), 3);
    fake.get("/pools", empty());
    fake.ok("PUT", "/pools", Value::Null);
    fake.ok("DELETE", "/pools", Value::Null);
    with(&fake, "full", |c| {
        let done = json!({"data": null});
        let args = json!({"poolid": "prod", "comment": "production"});
        assert_eq!(c.ok("create_pool", args), done);
        let fill = json!({"poolid": "prod", "vms": [100, 200], "storage": ["local"]});
        assert_eq!(c.ok("update_pool", fill), done);
        let pool = c.ok("get_pool", json!({"poolid": "prod"}));
        assert_eq!(pool["data"]["members"].as_array().unwrap().len(), 4);
        // A pool with members is not deleted: the refusal names them.
        assert_eq!(
            c.error("delete_pool", json!({"poolid": "prod"})),
            "GET /pools: pool 'prod' is not empty: it holds guests 100, 200 and storages local. PVE only deletes empty pools; take them out with update_pool (remove: true) first. Nothing was deleted"
        );
        let drain =
            json!({"poolid": "prod", "vms": [100, 200], "storage": ["local"], "remove": true});
        assert_eq!(c.ok("update_pool", drain), done);
        assert_eq!(c.ok("delete_pool", json!({"poolid": "prod"})), done);
    });
    assert_eq!(
        fake.lines(),
        [
            "POST /pools poolid=prod&comment=production",
            "GET /pools?poolid=prod",
            "PUT /pools poolid=prod&vms=100%2C200&storage=local",
            "GET /pools?poolid=prod",
            "GET /pools?poolid=prod",
            "GET /pools?poolid=prod",
            "PUT /pools poolid=prod&vms=100%2C200&storage=local&delete=1",
            "GET /pools?poolid=prod",
            "DELETE /pools?poolid=prod",
        ]
    );
}

#[test]
fn pool_dry_runs_show_the_request_and_send_no_write() {
    let mut fake = FakePve::new();
    fake.ok_times(
        "GET",
        "/pools",
        json!([{"poolid": "dev"}, {"poolid": "prod"}]),
        1,
    );
    fake.ok_times("GET", "/pools", members(), 1);
    fake.get("/pools", empty());
    with(&fake, "full", |c| {
        assert_eq!(
            c.ok(
                "create_pool",
                json!({"poolid": "test/web", "dry_run": true})
            ),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "POST", "path": "/pools", "params": {"poolid": "test/web"}},
                "target": {"pools": ["dev", "prod"]},
            })
        );
        let r = c.ok(
            "update_pool",
            json!({"poolid": "prod", "vms": 101, "allow_move": true, "dry_run": true}),
        );
        assert_eq!(
            r["request"],
            json!({"method": "PUT", "path": "/pools", "params": {"poolid": "prod", "vms": "101", "allow-move": "1"}})
        );
        assert_eq!(r["target"]["members"][0]["id"], "qemu/100");
        assert_eq!(r["target"]["members"].as_array().unwrap().len(), 4);
        assert_eq!(
            c.ok("delete_pool", json!({"poolid": "prod", "dry_run": true})),
            json!({
                "data": null, "dry_run": true,
                "request": {"method": "DELETE", "path": "/pools", "params": {"poolid": "prod"}},
                "target": {"poolid": "prod", "comment": "production", "members": []},
            })
        );
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        [
            "GET /pools",
            "GET /pools?poolid=prod",
            "GET /pools?poolid=prod"
        ]
    );
}

#[test]
fn protected_guests_are_not_moved_into_or_out_of_a_pool() {
    let fake = FakePve::new();
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "pools"),
        ("PROXMOX_MCP_PROTECTED", "100"),
    ];
    session(&fake, &settings, |c| {
        assert_eq!(
            c.error("update_pool", json!({"poolid": "prod", "vms": [101, 100]})),
            "update_pool would put into pool 'prod' guest 100, but guest 100 is protected on this server (PROXMOX_MCP_PROTECTED names VMID 100); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"
        );
        let r = c.error(
            "update_pool",
            json!({"poolid": "prod", "vms": [100], "remove": true}),
        );
        assert!(
            r.starts_with(
                "update_pool would take out of pool 'prod' guest 100, but guest 100 is protected"
            ),
            "{r}"
        );
    });
    // Decided from the VMID alone: PVE was not asked anything.
    fake.assert_untouched();

    // A protected tag is read from /cluster/resources; nothing is written.
    let fake = FakePve::with_resources(json!([
        guest("qemu/100", "web", "pve1", "running", json!({})),
        guest(
            "qemu/101",
            "db",
            "pve1",
            "running",
            json!({"tags": "prod;db"})
        ),
    ]));
    let settings = [
        ("PROXMOX_MCP_ACCESS", "operate"),
        ("PROXMOX_MCP_TOOLS", "pools"),
        ("PROXMOX_MCP_PROTECTED", "tag:prod"),
    ];
    session(&fake, &settings, |c| {
        let r = c.error("update_pool", json!({"poolid": "prod", "vms": [100, 101]}));
        assert!(
            r.ends_with("guest 101, but guest 101 is protected on this server (PROXMOX_MCP_PROTECTED names tag:prod); no tool may change it. Change it in PVE itself, or remove it from PROXMOX_MCP_PROTECTED"),
            "{r}"
        );
    });
    fake.assert_no_writes();
    assert_eq!(fake.lines(), ["GET /cluster/resources?type=vm"]);
}

#[test]
fn pool_refusals_send_no_write() {
    let mut fake = FakePve::new();
    fake.get("/pools", members());
    with(&fake, "full", |c| {
        for (tool, args, message) in [
            ("create_pool", json!({"poolid": "a//b"}), "invalid arguments: 'poolid' must be letters, digits, '-' and '_' (nested pools joined by '/'), got 'a//b'"),
            ("update_pool", json!({"poolid": "prod"}), "invalid arguments: nothing to change: give vms, storage or comment"),
            ("update_pool", json!({"poolid": "prod", "storage": ["local lvm"]}), "invalid arguments: 'storage' must hold storage ids such as local or local-lvm, got 'local lvm'; list_storage shows them"),
            ("update_pool", json!({"poolid": "prod", "vms": [100], "remove": true, "allow_move": true}), "invalid arguments: allow_move only applies when adding guests, not with remove: true"),
            ("update_pool", json!({"poolid": "prod", "comment": "x", "remove": true}), "invalid arguments: remove: true needs vms or storage to take out of the pool"),
            ("update_pool", json!({"poolid": "prod", "vms": [99]}), "invalid arguments: 'vms' must hold guest ids between 100 and 999999999, got 99"),
            // Members to take out must be members.
            ("update_pool", json!({"poolid": "prod", "vms": [100, 300], "storage": ["nfs"], "remove": true}), "GET /pools: pool 'prod' does not hold guests 300 or storages nfs; get_pool shows its members, nothing was changed"),
            ("delete_pool", json!({"poolid": "prod"}), "GET /pools: pool 'prod' is not empty: it holds guests 100, 200 and storages local. PVE only deletes empty pools; take them out with update_pool (remove: true) first. Nothing was deleted"),
        ] {
            assert_eq!(c.error(tool, args), message, "{tool}");
        }
    });
    fake.assert_no_writes();
    assert_eq!(
        fake.lines(),
        ["GET /pools?poolid=prod", "GET /pools?poolid=prod"]
    );
}

#[test]
fn pool_writes_need_their_access_level() {
    let fake = FakePve::new();
    with(&fake, "operate", |c| {
        let names = c.tool_names();
        assert!(names.contains(&"create_pool") && names.contains(&"update_pool"));
        assert!(!names.contains(&"delete_pool"));
        let r = c.error("delete_pool", json!({"poolid": "prod"}));
        assert!(r.contains("needs access level full"), "{r}");
    });
    fake.assert_untouched();
}

#[test]
fn pve_refusing_a_pool_write_is_passed_on() {
    let mut fake = FakePve::new();
    fake.fail(
        "POST",
        "/pools",
        500,
        "create failed - pool 'prod' already exists",
    );
    with(&fake, "operate", |c| {
        assert_eq!(
            c.error("create_pool", json!({"poolid": "prod"})),
            "POST /pools: create failed - pool 'prod' already exists"
        );
    });
    assert_eq!(fake.lines(), ["POST /pools poolid=prod"]);
}
