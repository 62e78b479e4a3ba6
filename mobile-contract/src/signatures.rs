//! The shipper's confirmation of a hand-over and the ordered signatures of a manifest (联单,
//! issue #17 parts 1 and 3). `mobile-contract/README.md` says byte for byte what the app signs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The clinic's hand-over settings (its own staff only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverSettingsUpdate {
    /// New confirmation code its staff type on the driver's phone: 8 to 32 letters or
    /// digits. Omitted: the code stays as it is.
    #[serde(default)]
    pub code: Option<String>,
    /// Whether the institution consents to unattended pickups (no staff at the door): then a
    /// pickup without confirmation is not flagged.
    pub unattended_consent: bool,
}

/// The clinic's hand-over settings as stored (the code itself is never sent back).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HandoverSettings {
    /// Institution.
    pub institution_id: String,
    /// Whether a confirmation code is set.
    pub code_set: bool,
    /// Consent to unattended pickups.
    pub unattended_consent: bool,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A confirmation computed on the driver's phone by the shipper's staff (offline), sent when
/// the scan batch syncs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineConfirmation {
    /// Container codes handed over (any order; the canonical string sorts them).
    pub containers: Vec<String>,
    /// Number of containers the staff confirmed.
    pub count: i32,
    /// Total weight in grams the staff confirmed.
    pub weight_g: i64,
    /// The phone's time when the staff confirmed.
    pub device_at: DateTime<Utc>,
    /// HMAC-SHA256 (64 lowercase hex digits) of the canonical string keyed by the code.
    pub mac: String,
}

/// One confirmation of a hand-over as stored: never dropped, flagged when it does not verify.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HandoverConfirmation {
    /// Id.
    pub id: String,
    /// `code` (typed on the driver's phone) or `login` (confirmed later from the clinic's login).
    pub method: String,
    /// Containers confirmed (sorted).
    pub containers: Vec<String>,
    /// Count confirmed.
    pub count: i32,
    /// Grams confirmed.
    pub weight_g: i64,
    /// When the staff confirmed (the phone's time for `code`).
    pub confirmed_at: DateTime<Utc>,
    /// Whether the server verified it (the code's MAC matches and it agrees with the scans).
    pub verified: bool,
    /// Why it does not verify: `bad_code`, `no_code_set`, `count_mismatch`,
    /// `weight_mismatch`, `containers_mismatch`.
    #[serde(default)]
    pub flag: Option<String>,
    /// User who sent it.
    pub submitted_by: String,
    /// When the server stored it.
    pub recorded_at: DateTime<Utc>,
}

/// Where a manifest's shipper confirmation stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipperConfirmation {
    /// `confirmed` (a verified confirmation), `unattended` (none, but the institution
    /// consents), `flagged` (only confirmations that do not verify), `unconfirmed` (none and
    /// no consent: the manifest is flagged and the clinic alerted).
    pub status: String,
    /// Every confirmation received, oldest first.
    pub confirmations: Vec<HandoverConfirmation>,
}

/// A party that signs a manifest, in signing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureParty {
    /// The institution (产生单位): clinic staff.
    Shipper,
    /// The carrier (运输单位): the run's driver.
    Carrier,
    /// The plant's receipt (接收单位): a plant operator.
    Receiver,
    /// The disposal (处置): a plant operator.
    Disposal,
}

/// A signature to add.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSignature {
    /// Which party signs; must be the next one in order.
    pub party: SignatureParty,
    /// When the signer signed (not before the previous signature, not in the future).
    pub signed_at: DateTime<Utc>,
}

/// A signature on a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestSignature {
    /// Party.
    pub party: SignatureParty,
    /// Signer's user id.
    pub user_id: String,
    /// Signer's name (display name, else login).
    pub name: String,
    /// Signer's role.
    pub role: String,
    /// When signed.
    pub signed_at: DateTime<Utc>,
    /// When the server recorded it.
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 (hex) of what the signature covers, sealed from then on.
    pub covers: String,
}
