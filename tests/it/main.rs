//! The one integration test binary: the server driven against a mocked PVE API.

mod attacks_audit;
mod attacks_config;
mod attacks_review;
mod attacks_session;
mod attacks_transport;
mod card;
mod faults;
mod fuzz;
mod golden;
mod guards;
mod login;
mod raw;
mod repo;
mod resources;
mod schema;
mod session;
mod setup;
mod smoke;
mod support;
mod tls;
mod tools;
mod tools_admin;
mod tools_backups;
mod tools_guests;
mod tools_monitor;
mod toolsets;
