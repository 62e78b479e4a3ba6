//! Yifei server: medical-waste custody from rural clinics to licensed disposal.
//!
//! Domain modules (`institutions`, `auth`, `accounts`) hold the rules as plain functions;
//! `http` is the thin web layer; `db` hides which database serves the deployment.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod custody;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod institutions;
pub mod manifests;
pub mod notify;
pub mod oversight;
pub mod paper;
pub mod pickups;
pub mod roles;
pub mod roster;
pub mod runs;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tracking;
pub mod wire;
