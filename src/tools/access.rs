//! Users and permissions: users, groups, roles, ACL grants and API tokens (the `access` toolset's
//! writes; its reads of users, tokens and the ACL are in `admin.rs`).
//!
//! Every write here changes who may do what in the cluster: its row's effect is `destroy` (access
//! `full`) and its area `access`, which `Policy` also holds behind
//! `PROXMOX_MCP_ALLOW_ACCESS_ADMIN`. No tool here changes the user this server logs in as: not
//! its account, its tokens, its ACL entries, nor a group it belongs to (refused before anything is
//! sent). No password is ever set. A new API token's secret goes to a new 0600 file in
//! `PROXMOX_MCP_SECRETS_DIR` and never into a result, an error or a log line.
//!
//! PVE makes all these changes at once (it answers `null`, or the token), so no tool waits.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::config::Secret;
use crate::error::Error;
use crate::policy::{Area, Effect, Policy};
use crate::pve::{bool01, path, Method, Params};

use super::admin::valid_userid;
use super::change::Change;
use super::list::{by_text, page, text, trimmed};
use super::params::{DRY_RUN, LIMIT, OFFSET};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

// ---------------------------------------------------------------------------------------------
// Parameters.

const USERID: Param = Param::req("userid", Kind::Text { max: 64 }, "the user, name@realm");
const ENABLE: Param = Param::opt("enable", Kind::Bool, "whether the account may log in");
#[rustfmt::skip]
const EXPIRE: Param = Param::opt("expire", Kind::Int { min: 0, max: 253_402_300_799 }, "account expiry, Unix time (0: never)");
#[rustfmt::skip]
const GROUPS: Param = Param::opt("groups", Kind::Strings { max_items: 64, max_len: 64 }, "the user's groups (update: replaces them)");
const EMAIL: Param = Param::opt("email", Kind::Text { max: 254 }, "e-mail address");
const FIRSTNAME: Param = Param::opt("firstname", Kind::Text { max: 1024 }, "first name");
const LASTNAME: Param = Param::opt("lastname", Kind::Text { max: 1024 }, "last name");
const COMMENT: Param = Param::opt("comment", Kind::Text { max: 2048 }, "a comment");
const GROUPID: Param = Param::req("groupid", Kind::Text { max: 64 }, "the group id");
#[rustfmt::skip]
const ACL_PATH: Param = Param::req("path", Kind::Text { max: 256 }, "ACL path, e.g. /, /vms/100, /storage/local, /pool/dev");
#[rustfmt::skip]
const ROLES: Param = Param::req("roles", Kind::Strings { max_items: 16, max_len: 64 }, "role ids (list_roles), e.g. PVEVMUser");
#[rustfmt::skip]
const ACL_USERS: Param = Param::opt("users", Kind::Strings { max_items: 64, max_len: 64 }, "users, name@realm");
#[rustfmt::skip]
const ACL_GROUPS: Param = Param::opt("groups", Kind::Strings { max_items: 64, max_len: 64 }, "group ids");
#[rustfmt::skip]
const ACL_TOKENS: Param = Param::opt("tokens", Kind::Strings { max_items: 64, max_len: 128 }, "API tokens, name@realm!tokenid");
#[rustfmt::skip]
const PROPAGATE: Param = Param::opt("propagate", Kind::Bool, "also for paths below (default true)");
#[rustfmt::skip]
const TOKENID: Param = Param::req("tokenid", Kind::Text { max: 64 }, "token id, the part after '!'");
#[rustfmt::skip]
const PRIVSEP: Param = Param::opt("privsep", Kind::Bool, "own ACLs instead of all the user's privileges (default true)");
#[rustfmt::skip]
const TOKEN_EXPIRE: Param = Param::opt("expire", Kind::Int { min: 0, max: 253_402_300_799 }, "expiry, Unix time (0: never; default: the user's)");

// ---------------------------------------------------------------------------------------------
// The table.

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "create_user",
        title: "Create user",
        description: "Creates a PVE user (never with a password: set one in PVE, e.g. pveum passwd).",
        privilege: "Realm.AllocateUser on /access/realm/{realm} (and User.Modify on the groups given)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&USERID, &ENABLE, &EXPIRE, &GROUPS, &EMAIL, &FIRSTNAME, &LASTNAME, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_user,
    },
    Tool {
        name: "update_user",
        title: "Update user",
        description: "Changes a user's account: enabled, expiry, groups, e-mail, names, comment (never a password; not this server's own user).",
        privilege: "User.Modify on /access/groups (a group of the user)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&USERID, &ENABLE, &EXPIRE, &GROUPS, &EMAIL, &FIRSTNAME, &LASTNAME, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: update_user,
    },
    Tool {
        name: "delete_user",
        title: "Delete user",
        description: "Deletes a user with its API tokens and ACL entries (not this server's own user).",
        privilege: "Realm.AllocateUser on /access/realm/{realm} (and User.Modify on the user's groups)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&USERID, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: delete_user,
    },
    Tool {
        name: "list_groups",
        title: "List groups",
        description: "Lists user groups by id, with their members.",
        privilege: "a valid login (others need User.Modify, Sys.Audit or Group.Allocate on /access/groups)",
        effect: Effect::Read,
        area: Area::Access,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("groupid", Ty::Str, ""), f("comment", Ty::Str, ""), f("users", Ty::Str, "members, comma list")]),
        idempotent: true,
        marks: &[],
        run: list_groups,
    },
    Tool {
        name: "create_group",
        title: "Create group",
        description: "Creates an empty user group.",
        privilege: "Group.Allocate on /access/groups",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&GROUPID, &COMMENT, &DRY_RUN],
        output: Output::done(),
        idempotent: false,
        marks: &[],
        run: create_group,
    },
    Tool {
        name: "delete_group",
        title: "Delete group",
        description: "Deletes a user group and its ACL entries (not one this server's user is in).",
        privilege: "Group.Allocate on /access/groups",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&GROUPID, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: delete_group,
    },
    Tool {
        name: "list_roles",
        title: "List roles",
        description: "Lists roles by id with their privileges.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Access,
        params: &[&LIMIT, &OFFSET],
        output: Output::list(&[f("roleid", Ty::Str, ""), f("privs", Ty::Str, "comma list"), f("special", Ty::Int, "1: built in")]),
        idempotent: true,
        marks: &[],
        run: list_roles,
    },
    Tool {
        name: "grant_permission",
        title: "Grant permission",
        description: "Grants roles on an ACL path to users, groups or API tokens (not this server's own user, tokens or groups).",
        privilege: "Permissions.Modify on / (or on the ACL path given)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&ACL_PATH, &ROLES, &ACL_USERS, &ACL_GROUPS, &ACL_TOKENS, &PROPAGATE, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: grant_permission,
    },
    Tool {
        name: "revoke_permission",
        title: "Revoke permission",
        description: "Removes ACL entries: roles on a path for users, groups or API tokens (not this server's own).",
        privilege: "Permissions.Modify on / (or on the ACL path given)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&ACL_PATH, &ROLES, &ACL_USERS, &ACL_GROUPS, &ACL_TOKENS, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: revoke_permission,
    },
    Tool {
        name: "create_api_token",
        title: "Create API token",
        description: "Creates an API token; its secret is written to a new 0600 file in PROXMOX_MCP_SECRETS_DIR, never returned. Returns the token id and the file's path.",
        privilege: "User.Modify on /access/groups (a group of the user)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&USERID, &TOKENID, &PRIVSEP, &TOKEN_EXPIRE, &COMMENT, &DRY_RUN],
        output: Output::object(&[f("tokenid", Ty::Str, "name@realm!tokenid"), f("secret_file", Ty::Str, "the file holding the secret"), f("privsep", Ty::Int, ""), f("expire", Ty::Int, "Unix time, 0 = never")]),
        idempotent: false,
        marks: &[Mark::SecretToFile],
        run: create_api_token,
    },
    Tool {
        name: "delete_api_token",
        title: "Delete API token",
        description: "Deletes an API token (not one of this server's own user).",
        privilege: "User.Modify on /access/groups (a group of the user)",
        effect: Effect::Destroy,
        area: Area::Access,
        params: &[&USERID, &TOKENID, &DRY_RUN],
        output: Output::done(),
        idempotent: true,
        marks: &[],
        run: delete_api_token,
    },
];

// ---------------------------------------------------------------------------------------------
// Checks.

/// A group or role id, as PVE's `pve-groupid` and `pve-roleid` formats want it.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A token id (the part after `!`), as PVE's pattern wants it: a letter, then at least one
/// letter, digit, `.`, `-` or `_`.
fn valid_tokenid(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The string argument `name`, checked by `valid` (else an argument error showing `form`).
fn checked<'a>(
    args: &'a Args,
    name: &str,
    valid: fn(&str) -> bool,
    form: &str,
) -> Result<&'a str, Error> {
    let value = args.required_str(name)?;
    match valid(value) {
        true => Ok(value),
        false => Err(Error::Args(format!(
            "'{name}' must be {form}, got '{value}'"
        ))),
    }
}

const USER_FORM: &str = "a user such as alice@pve (name@realm)";
const GROUP_FORM: &str = "a group id (letters, digits, '.', '-', '_')";
const TOKEN_FORM: &str = "a token id (a letter, then letters, digits, '.', '-', '_'; 2 or more)";

/// The array argument `name` (if given), each item checked by `valid`.
fn list_arg(
    args: &Args,
    name: &str,
    valid: fn(&str) -> bool,
    form: &str,
) -> Result<Vec<String>, Error> {
    let items: Vec<String> = args
        .0
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if let Some(bad) = items.iter().find(|i| !valid(i)) {
        return Err(Error::Args(format!(
            "'{name}' must hold only {form}, got '{bad}'"
        )));
    }
    Ok(items)
}

/// An API token's full id, `name@realm!tokenid`.
fn valid_full_tokenid(id: &str) -> bool {
    id.rsplit_once('!')
        .is_some_and(|(user, token)| valid_userid(user) && valid_tokenid(token))
}

/// An ACL path as PVE checks them: `/`, or `/` and segments under a known root (`/access`,
/// `/nodes`, `/pool`, `/sdn`, `/storage`, `/vms`, `/mapping`), no empty segment.
fn valid_acl_path(p: &str) -> bool {
    if p == "/" {
        return true;
    }
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let roots = [
        "access", "nodes", "pool", "sdn", "storage", "vms", "mapping",
    ];
    roots.contains(&segments[0])
        && segments.iter().all(|s| {
            !matches!(*s, "" | "." | "..")
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '@'))
        })
}

/// Whether `userid` is the user this server logs in as (PVE's user names compared without case,
/// to refuse rather than miss one).
fn is_own_user(ctx: &Ctx, userid: &str) -> bool {
    userid.eq_ignore_ascii_case(ctx.pve.user())
}

/// The refusal of a request that would change this server's own user, naming what was asked.
fn own_user(method: &str, at: &str, what: &str) -> Error {
    Error::Denied(format!(
        "{method} {at}: refused, nothing was sent: {what} this server's own user (PROXMOX_USER); \
         no tool changes the account, API tokens, permissions or groups this server logs in with. Change them in PVE itself"
    ))
}

/// The `path` of a user (`/access/users/{userid}`), percent-encoded.
fn user_path(userid: &str) -> String {
    path(&[&"access", &"users", &userid])
}

/// The entry of `/access/users` for `userid` (null when PVE lists none).
fn user_entry(ctx: &Ctx, userid: &str) -> Result<Value, Error> {
    let users = ctx.pve.get("/access/users", &[])?;
    let entry = users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| text(u, "userid") == userid)
        .cloned();
    Ok(entry
        .map(|e| trimmed(Value::Array(vec![e]), USER_FIELDS).remove(0))
        .unwrap_or(Value::Null))
}

const USER_FIELDS: &[&str] = &[
    "userid",
    "enable",
    "expire",
    "firstname",
    "lastname",
    "email",
    "groups",
    "comment",
];

/// The entry of `/access/groups` for `groupid` (null when PVE lists none).
fn group_entry(ctx: &Ctx, groupid: &str) -> Result<Value, Error> {
    let groups = ctx.pve.get("/access/groups", &[])?;
    Ok(groups
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| text(g, "groupid") == groupid)
        .cloned()
        .unwrap_or(Value::Null))
}

/// The groups of the user this server logs in as. PVE lists a user's groups only with `full=1`;
/// when it does not list this server's user at all (a token that may not read other users),
/// nothing can tell whether a group named is one of them, so the change is refused.
fn own_groups(ctx: &Ctx, method: &str, at: &str) -> Result<Vec<String>, Error> {
    let users = ctx.pve.get("/access/users", &[("full", "1".to_string())])?;
    let own = users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| is_own_user(ctx, text(u, "userid")))
        .ok_or_else(|| {
            Error::Denied(format!(
                "{method} {at}: refused, nothing was sent: PVE does not list this server's own user (PROXMOX_USER) in /access/users, so whether a group named holds it cannot be told; \
                 name users or tokens instead, or let the credentials read the groups (Sys.Audit on /access/groups)"
            ))
        })?;
    let groups = match own.get("groups") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => split_list(text(own, "groups"))
            .map(str::to_string)
            .collect(),
    };
    Ok(groups)
}

/// The items of a PVE comma list (`groups`, `users`).
fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ';', ' ']).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Users.

/// The user fields of `create_user` and `update_user` as PVE's form parameters.
fn user_params(args: &Args) -> Result<Params, Error> {
    let mut params = Params::new();
    if let Some(enable) = args.flag("enable") {
        params.push(("enable", bool01(enable)));
    }
    if let Some(expire) = args.int("expire") {
        params.push(("expire", expire.to_string()));
    }
    if args.0.contains_key("groups") {
        let groups = list_arg(args, "groups", valid_id, GROUP_FORM)?;
        params.push(("groups", groups.join(",")));
    }
    for name in ["email", "firstname", "lastname", "comment"] {
        if let Some(v) = args.str(name) {
            params.push((name, v.to_string()));
        }
    }
    Ok(params)
}

fn create_user(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let userid = checked(args, "userid", valid_userid, USER_FORM)?;
    let mut params: Params = vec![("userid", userid.to_string())];
    params.extend(user_params(args)?);
    Change::post("/access/users".into(), params).send(ctx, args, || {
        Ok(json!({"existing": user_entry(ctx, userid)?}))
    })
}

fn update_user(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let userid = checked(args, "userid", valid_userid, USER_FORM)?;
    let params = user_params(args)?;
    let at = user_path(userid);
    if is_own_user(ctx, userid) {
        return Err(own_user("PUT", &at, "it would change"));
    }
    if params.is_empty() {
        return Err(Error::Args(
            "nothing to change: give enable, expire, groups, email, firstname, lastname or comment"
                .into(),
        ));
    }
    Change::put(at, params).send(ctx, args, || user_entry(ctx, userid))
}

fn delete_user(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let userid = checked(args, "userid", valid_userid, USER_FORM)?;
    let at = user_path(userid);
    if is_own_user(ctx, userid) {
        return Err(own_user("DELETE", &at, "it would delete"));
    }
    Change::delete(at, Params::new()).send(ctx, args, || user_entry(ctx, userid))
}

// ---------------------------------------------------------------------------------------------
// Groups and roles.

fn list_groups(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let groups = ctx.pve.get("/access/groups", &[])?;
    let list = trimmed(groups, &["groupid", "comment", "users"]);
    Ok(page(args, list, &by_text("groupid")))
}

fn create_group(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let groupid = checked(args, "groupid", valid_id, GROUP_FORM)?;
    let mut params: Params = vec![("groupid", groupid.to_string())];
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    Change::post("/access/groups".into(), params).send(ctx, args, || {
        Ok(json!({"existing": group_entry(ctx, groupid)?}))
    })
}

fn delete_group(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let groupid = checked(args, "groupid", valid_id, GROUP_FORM)?;
    let at = path(&[&"access", &"groups", &groupid]);
    // Read first: the members say whether this server's own user would lose the group.
    let entry = group_entry(ctx, groupid)?;
    let member = split_list(text(&entry, "users")).any(|u| is_own_user(ctx, u));
    if member
        || own_groups(ctx, "DELETE", &at)?
            .iter()
            .any(|g| g.eq_ignore_ascii_case(groupid))
    {
        return Err(own_user("DELETE", &at, "the group holds"));
    }
    Change::delete(at, Params::new()).send(ctx, args, || Ok(entry))
}

fn list_roles(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let roles = ctx.pve.get("/access/roles", &[])?;
    let list = trimmed(roles, &["roleid", "privs", "special"]);
    Ok(page(args, list, &by_text("roleid")))
}

// ---------------------------------------------------------------------------------------------
// ACL.

/// `PUT /access/acl` granting (or with `delete`, revoking) the roles on the path for the users,
/// groups and tokens given, after refusing any that is this server's own user, one of its
/// tokens, or a group it is in.
fn change_acl(ctx: &Ctx, args: &Args, delete: bool) -> Result<Content, Error> {
    let acl_path = args.required_str("path")?;
    if !valid_acl_path(acl_path) {
        return Err(Error::Args(format!(
            "'path' must be an ACL path: / or /access, /nodes, /pool, /sdn, /storage, /vms or /mapping and what is below (e.g. /vms/100), got '{acl_path}'"
        )));
    }
    let roles = list_arg(
        args,
        "roles",
        valid_id,
        "role ids (letters, digits, '.', '-', '_')",
    )?;
    let users = list_arg(args, "users", valid_userid, "users such as alice@pve")?;
    let groups = list_arg(args, "groups", valid_id, "group ids")?;
    let tokens = list_arg(
        args,
        "tokens",
        valid_full_tokenid,
        "tokens such as alice@pve!backup",
    )?;
    if users.is_empty() && groups.is_empty() && tokens.is_empty() {
        return Err(Error::Args(
            "name whom: give users, groups or tokens (or several)".into(),
        ));
    }
    let own_token = tokens
        .iter()
        .filter_map(|t| t.rsplit_once('!'))
        .any(|(user, _)| is_own_user(ctx, user));
    if users.iter().any(|u| is_own_user(ctx, u)) || own_token {
        return Err(own_user(
            "PUT",
            "/access/acl",
            "it would change the permissions of",
        ));
    }
    if !groups.is_empty() {
        let own = own_groups(ctx, "PUT", "/access/acl")?;
        if own
            .iter()
            .any(|g| groups.iter().any(|x| x.eq_ignore_ascii_case(g)))
        {
            return Err(own_user(
                "PUT",
                "/access/acl",
                "a group named is one of the groups of",
            ));
        }
    }
    let mut params: Params = vec![("path", acl_path.to_string()), ("roles", roles.join(","))];
    for (name, list) in [("users", &users), ("groups", &groups), ("tokens", &tokens)] {
        if !list.is_empty() {
            params.push((name, list.join(",")));
        }
    }
    if delete {
        params.push(("delete", bool01(true)));
    } else if let Some(p) = args.flag("propagate") {
        params.push(("propagate", bool01(p)));
    }
    let shown = acl_path.to_string();
    Change::put("/access/acl".into(), params).send(ctx, args, || {
        let acl = ctx.pve.get("/access/acl", &[])?;
        let mut on_path = trimmed(acl, &["path", "type", "ugid", "roleid", "propagate"]);
        on_path.retain(|e| text(e, "path") == shown);
        Ok(json!({"path": shown, "entries": on_path}))
    })
}

fn grant_permission(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    change_acl(ctx, args, false)
}

fn revoke_permission(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    change_acl(ctx, args, true)
}

// ---------------------------------------------------------------------------------------------
// API tokens.

/// A user's tokens as PVE lists them (never with secrets).
fn tokens_of(ctx: &Ctx, userid: &str) -> Result<Vec<Value>, Error> {
    let list = ctx
        .pve
        .get(&path(&[&"access", &"users", &userid, &"token"]), &[])?;
    Ok(trimmed(list, &["tokenid", "expire", "privsep", "comment"]))
}

/// `PROXMOX_MCP_SECRETS_DIR`, refused unless it is an existing directory that (on Unix) neither
/// group nor others may write to: there, nobody else can plant or swap the file a secret goes to.
pub fn secrets_dir(policy: &Policy) -> Result<&Path, String> {
    let Some(dir) = policy.secrets_dir.as_deref() else {
        return Err("PROXMOX_MCP_SECRETS_DIR is not set".into());
    };
    let shown = dir.display();
    let meta = std::fs::metadata(dir).map_err(|e| {
        format!("PROXMOX_MCP_SECRETS_DIR={shown}: {e}; create it with: mkdir -m 700 {shown}")
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "PROXMOX_MCP_SECRETS_DIR={shown} is not a directory"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "PROXMOX_MCP_SECRETS_DIR={shown} is writable by group or others (mode {mode:o}), so a secret written there could be swapped or read; run: chmod 700 {shown}"
            ));
        }
    }
    Ok(dir)
}

/// The file a token's secret goes to: `USER@REALM_TOKENID.token` (characters a file name should
/// not hold as `_`).
fn secret_file(dir: &Path, userid: &str, tokenid: &str) -> PathBuf {
    let name: String = format!("{userid}_{tokenid}.token")
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                true => c,
                false => '_',
            },
        )
        .collect();
    dir.join(name)
}

/// A new file for a secret: created here (never one already there, nor through a link), with
/// mode 0600 from the start on Unix.
fn new_secret_file(file: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file)
}

fn create_api_token(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let userid = checked(args, "userid", valid_userid, USER_FORM)?;
    let tokenid = checked(args, "tokenid", valid_tokenid, TOKEN_FORM)?;
    let at = path(&[&"access", &"users", &userid, &"token", &tokenid]);
    if is_own_user(ctx, userid) {
        return Err(own_user("POST", &at, "it would add a token to"));
    }
    let dir = secrets_dir(ctx.policy)
        .map_err(|e| Error::Denied(format!("POST {at}: refused, nothing was sent: {e}")))?;
    let file = secret_file(dir, userid, tokenid);
    let mut params = Params::new();
    if let Some(p) = args.flag("privsep") {
        params.push(("privsep", bool01(p)));
    }
    if let Some(e) = args.int("expire") {
        params.push(("expire", e.to_string()));
    }
    if let Some(c) = args.str("comment") {
        params.push(("comment", c.to_string()));
    }
    if args.flag("dry_run").unwrap_or(false) {
        let shown = file.display().to_string();
        return Change::post(at, params).send(ctx, args, || {
            Ok(json!({"tokens": tokens_of(ctx, userid)?, "secret_file": shown, "secret_file_exists": file.exists()}))
        });
    }
    // The file first: a name already taken refuses the call before PVE makes a token.
    let mut handle = new_secret_file(&file).map_err(|e| {
        Error::Denied(format!(
            "POST {at}: refused, nothing was sent: cannot create {} for the secret ({e}); remove the old file or pick another tokenid",
            file.display()
        ))
    })?;
    let full = format!("{userid}!{tokenid}");
    let reply = match ctx.pve.call(Method::Post, &at, &params) {
        Ok(reply) => reply,
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
    };
    // The secret leaves PVE's answer at once; only `Secret` (whose Debug hides it) keeps it.
    let secret = reply
        .data
        .get("value")
        .and_then(Value::as_str)
        .map(|v| Secret::new(v.to_string()));
    let info = reply.data.get("info").cloned().unwrap_or(Value::Null);
    drop(reply);
    let written = match &secret {
        Some(s) => handle
            .write_all(format!("{}\n", s.expose()).as_bytes())
            .and_then(|()| handle.sync_all())
            .map_err(|e| format!("writing {} failed ({e})", file.display())),
        None => Err("PVE's answer held no secret".to_string()),
    };
    drop(secret);
    drop(handle);
    if let Err(why) = written {
        let _ = std::fs::remove_file(&file);
        let undone = match ctx.pve.call(Method::Delete, &at, &[]) {
            Ok(_) => format!("the token was deleted again (DELETE {at})"),
            Err(e) => format!(
                "deleting it again failed ({e}): delete the token {full} (delete_api_token or pveum user token remove), it has no secret anyone can use"
            ),
        };
        return Err(Error::Transport {
            method: "POST",
            path: at,
            message: format!("PVE created the API token {full}, but {why}; {undone}"),
        });
    }
    let mut out = Map::new();
    let mut token = json!({"tokenid": full, "secret_file": file.display().to_string()});
    for key in ["privsep", "expire", "comment"] {
        if let Some(v) = info.get(key) {
            token[key] = v.clone();
        }
    }
    out.insert("data".into(), token);
    out.insert("hint".into(), json!(format!(
        "the secret is only in {} (mode 0600); use it as PROXMOX_TOKEN_VALUE_FILE, or read it there yourself; it is not shown here",
        file.display()
    )));
    Ok(out)
}

fn delete_api_token(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let userid = checked(args, "userid", valid_userid, USER_FORM)?;
    let tokenid = checked(args, "tokenid", valid_tokenid, TOKEN_FORM)?;
    let at = path(&[&"access", &"users", &userid, &"token", &tokenid]);
    if is_own_user(ctx, userid) {
        return Err(own_user("DELETE", &at, "it would delete a token of"));
    }
    Change::delete(at, Params::new()).send(ctx, args, || {
        let tokens = tokens_of(ctx, userid)?;
        Ok(tokens
            .into_iter()
            .find(|t| text(t, "tokenid") == tokenid)
            .unwrap_or(Value::Null))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths() {
        for ok in [
            "/",
            "/vms",
            "/vms/100",
            "/storage/local-lvm",
            "/pool/dev",
            "/access/groups/ops",
        ] {
            assert!(valid_acl_path(ok), "{ok}");
        }
        for bad in [
            "",
            "vms",
            "/vms/",
            "//",
            "/etc",
            "/vms//100",
            "/vms/1 0",
            "/vms/../x",
        ] {
            assert!(!valid_acl_path(bad), "{bad}");
        }
        assert!(valid_tokenid("backup") && valid_tokenid("b2.x-y_z"));
        assert!(!valid_tokenid("b") && !valid_tokenid("2fa") && !valid_tokenid("a!b"));
        assert!(valid_full_tokenid("alice@pve!backup"));
        assert!(!valid_full_tokenid("alice@pve") && !valid_full_tokenid("alice!backup"));
        assert!(valid_id("ops-team_1.x") && !valid_id("a b") && !valid_id(""));
        let file = secret_file(Path::new("/s"), "a/b c@pve", "tok");
        assert_eq!(file, Path::new("/s/a_b_c@pve_tok.token"));
    }
}
