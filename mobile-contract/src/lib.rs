//! Wire types of the Yifei API, version 1.
//!
//! These structs are the contract with the driver app and other clients: the server serialises
//! exactly these, and `openapi.json` in this folder is generated from them. They carry no
//! database or HTTP dependencies so that the app team can read (or reuse) them on their own.
//! Timestamps are RFC 3339 with offset, weights are kilograms, coordinates are WGS-84.

pub mod auth;
pub mod custody;
pub mod desks;
pub mod institutions;
pub mod oversight;
pub mod problem;
pub mod roster;
pub mod runs;
pub mod signatures;
pub mod tracking;

pub use auth::*;
pub use custody::*;
pub use desks::*;
pub use institutions::*;
pub use oversight::*;
pub use problem::*;
pub use roster::*;
pub use runs::*;
pub use signatures::*;
pub use tracking::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A WGS-84 position. Validated by the server: `lat` in -90..=90, `lng` in -180..=180.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatLng {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
}

/// Liveness answer of `/healthz` and readiness answer of `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: String,
    /// Which database backend serves this instance (`sqlite` or `postgres`); readiness only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// What an export answers in: `json` (the default) or `csv` (also `Accept: text/csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// An empty JSON object, for actions that take no input (the body may also be left out).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A PDF document (`application/pdf`, binary): a printable form such as the transfer
/// manifest (联单), A4, its Chinese font embedded.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfDocument(pub Vec<u8>);

/// How a label sheet is printed: `a4` (the default) puts eight 100 x 70 mm labels on an A4
/// page (2 x 4), `label` one to a 100 x 70 mm page for a roll label printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelSheet {
    A4,
    Label,
}
