//! Black-box tests: each scenario starts the real server on a random port and talks HTTP to
//! it as the mobile app would, once on SQLite and once on PostgreSQL.

mod bad_input;
mod cli;
mod common;
mod config_files;
mod console;
mod console_admin;
mod console_clinic;
mod console_dispatch;
mod contract;
mod corrections;
mod crash;
mod custody;
mod door;
mod due_rule;
mod foundation;
mod hardening_auth;
mod hardening_custody;
mod hardening_http;
mod hardening_oversight;
mod horizon;
mod manifest_paper;
mod notify;
mod operations;
mod oversight;
mod plan_phases;
mod replicas;
mod roles;
mod runs;
mod signatures;
mod supervision;
mod tracking;
mod watchlist;
