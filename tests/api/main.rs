//! Black-box tests: each scenario starts the real server on a random port and talks HTTP to
//! it as the mobile app would, once on SQLite and once on PostgreSQL.

mod cli;
mod common;
mod contract;
mod crash;
mod custody;
mod due_rule;
mod foundation;
mod hardening_auth;
mod hardening_http;
mod notify;
mod oversight;
mod plan_phases;
mod runs;
