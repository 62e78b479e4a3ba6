//! What the clinic's and the plant's desks read: storage clocks and the day's intake.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Category, ContainerState, Packaging};

/// A sealed container waiting at its institution or hub, with its storage clock.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageClock {
    /// Label code (canonical form).
    pub code: String,
    /// Producing institution.
    pub institution_id: String,
    /// Its name.
    pub institution_name: String,
    /// Waste category.
    pub category: Category,
    /// Packaging.
    pub packaging: Packaging,
    /// `sealed` or `at_hub`.
    pub state: ContainerState,
    /// Weight at seal, kg.
    #[serde(default)]
    pub seal_kg: Option<f64>,
    /// When it was sealed: the clock starts here.
    pub sealed_at: DateTime<Utc>,
    /// When the storage warning opens (`warn_h` after the seal).
    pub warn_at: DateTime<Utc>,
    /// When the storage limit passes (`limit_h` after the seal): collect before it.
    pub deadline: DateTime<Utc>,
    /// `ok`, `warn` (past `warn_at`) or `overdue` (past `deadline`), at `as_of`.
    pub status: String,
}

/// `GET /api/v1/storage-clocks`: the caller's waiting containers, oldest seal first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageClocks {
    /// The server's time the statuses were judged at.
    pub as_of: DateTime<Utc>,
    /// Whether epidemic mode (tighter limits) is on.
    pub epidemic: bool,
    /// Hours from the seal to the warning.
    pub warn_h: i64,
    /// Hours from the seal to the storage limit (48; 24 in epidemic mode, by default).
    pub limit_h: i64,
    /// Waiting containers (at most 1000), oldest seal first.
    pub items: Vec<StorageClock>,
}

/// One receipt or refusal at the plant gate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntakeLine {
    /// Label code (canonical form).
    pub code: String,
    /// `receive` or `reject`.
    pub action: String,
    /// When, by the gate device's clock.
    pub occurred_at: DateTime<Utc>,
    /// Weight on the scale, kg (receipts).
    #[serde(default)]
    pub weight_kg: Option<f64>,
    /// Why it was refused (refusals).
    #[serde(default)]
    pub reason: Option<String>,
    /// Producing institution.
    pub institution_id: String,
    /// Its name.
    pub institution_name: String,
    /// Waste category.
    pub category: Category,
    /// The container's state now (`disposed` once disposed of).
    pub state: ContainerState,
}

/// `GET /api/v1/plant/intake`: a day's receipts and refusals at the company's plant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Intake {
    /// The local calendar day.
    pub date: NaiveDate,
    /// Containers received that day (each counted once).
    pub received: i32,
    /// Kilograms received that day (the scale's weights).
    pub received_kg: f64,
    /// Containers refused that day.
    pub rejected: i32,
    /// Receipts and refusals in the order they occurred (at most 2000).
    pub items: Vec<IntakeLine>,
}
