//! proxmox-mcp-server: an MCP server (stdio) for Proxmox VE. See ARCHITECTURE.md for the map.

#[macro_use]
pub mod log;
pub mod alerts;
pub mod bundle;
pub mod card;
pub mod check;
pub mod cli;
pub mod config;
pub mod desktop;
pub mod error;
pub mod mcp;
pub mod policy;
pub mod pve;
pub mod resources;
pub mod time;
pub mod tls;
pub mod tools;
pub mod totp;
