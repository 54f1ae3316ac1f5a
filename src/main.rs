//! The `proxmox-mcp-server` binary: everything lives in the library, `cli::main` is the entry.

fn main() -> std::process::ExitCode {
    proxmox_mcp_server::cli::main()
}
