//! Records the git commit and the target triple for `--version` (no dependencies), and packs
//! the static x86_64 binary's relocations.
//!
//! `PROXMOX_MCP_GIT_COMMIT` overrides the commit (for builds from a source archive); without it
//! and without git the commit is "unknown".

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Whether this package is the top of a git work tree (not a crate unpacked inside another
/// repository, whose commit would be someone else's).
fn in_own_repository() -> bool {
    let (Some(top), Ok(here)) = (
        git(&["rev-parse", "--show-toplevel"]),
        std::env::var("CARGO_MANIFEST_DIR"),
    ) else {
        return false;
    };
    match (std::fs::canonicalize(top), std::fs::canonicalize(here)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PROXMOX_MCP_GIT_COMMIT");
    let own = in_own_repository();
    let commit = std::env::var("PROXMOX_MCP_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            own.then(|| git(&["rev-parse", "--short=12", "HEAD"]))
                .flatten()
        })
        .unwrap_or_else(|| "unknown".to_string());
    if own {
        // Rebuild when HEAD moves: HEAD itself (a branch switch), the branch's ref, packed refs.
        let mut files = vec!["HEAD".to_string(), "packed-refs".to_string()];
        files.extend(git(&["symbolic-ref", "-q", "HEAD"]));
        for file in files {
            if let Some(path) = git(&["rev-parse", "--git-path", &file]) {
                let path = PathBuf::from(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }
    println!("cargo:rustc-env=PROXMOX_MCP_GIT_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=PROXMOX_MCP_TARGET={target}");
    if target == "x86_64-unknown-linux-musl" {
        // The static binary is position independent (ASLR) and relocates itself at start: packed
        // relative relocations (DT_RELR, musl 1.2.4+, GNU ld 2.38+) take ~2 KB instead of ~100 KB.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
