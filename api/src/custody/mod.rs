//! Custody: labelled containers, offline scan ingest, state derivation, weights and
//! locations reconciliation, nesting at hubs, and the hash chain that makes tampering visible.
//!
//! The rules are plain functions (`codes`, `rules`, `fold`, `chain`); `ingest` and `store`
//! apply them to the database in transactions; `scan_writer` says which thread stores a scan
//! batch.

pub mod chain;
pub mod codes;
pub mod corrections;
pub mod disposal;
pub mod fold;
pub mod ingest;
pub mod intake;
pub mod label;
pub mod label_pdf;
pub mod refusal;
pub mod rules;
pub mod scan_writer;
pub mod store;
pub mod weighing;

use yifei_contract::{Role, ScanAction};

/// Largest scan batch and label sheet.
pub const MAX_BATCH: usize = 500;

/// Heaviest plausible container: a full drum on the weighbridge.
pub const MAX_WEIGHT_KG: f64 = 2000.0;

/// Who may record which action (the tenant check comes on top).
pub fn role_may(role: Role, action: ScanAction) -> bool {
    use ScanAction::*;
    match role {
        Role::ClinicStaff => matches!(action, Seal),
        Role::HubKeeper => matches!(action, Seal | HubIn),
        Role::Driver => matches!(action, Collect | Refuse),
        Role::PlantOperator => matches!(action, Receive | Reject | Dispose),
        Role::Admin | Role::BureauStaff | Role::Dispatcher => false,
    }
}

/// Kilograms on the wire to grams in the database.
pub fn grams(kg: f64) -> i32 {
    (kg * 1000.0).round() as i32
}

/// Grams to kilograms.
pub fn kg(g: i32) -> f64 {
    f64::from(g) / 1000.0
}

/// Timestamps are kept at microsecond precision, which both databases store exactly (the hash
/// chain must recompute from what was stored).
pub fn micros(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros())
        .unwrap_or(t)
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_units() {
        assert!(role_may(Role::Driver, ScanAction::Collect));
        assert!(!role_may(Role::Driver, ScanAction::Receive));
        assert!(role_may(Role::Driver, ScanAction::Refuse));
        assert!(!role_may(Role::ClinicStaff, ScanAction::Refuse));
        assert!(!role_may(Role::PlantOperator, ScanAction::Refuse));
        assert!(!role_may(Role::ClinicStaff, ScanAction::Collect));
        assert!(
            !role_may(Role::HubKeeper, ScanAction::Nest),
            "nesting has its own endpoint"
        );
        assert!(!role_may(Role::BureauStaff, ScanAction::Seal));
        assert_eq!(grams(1.2345), 1235);
        assert_eq!(kg(1235), 1.235);
    }
}
