//! Containers, labels, scans and the custody history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::LatLng;

/// Waste category of the national catalogue (医疗废物分类目录 2021, HW01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 感染性废物 841-001-01.
    Infectious,
    /// 损伤性废物 841-002-01 (needles, blades, broken glass).
    Sharps,
    /// 病理性废物 841-003-01 (cold chain).
    Pathological,
    /// 化学性废物 841-004-01.
    Chemical,
    /// 药物性废物 841-005-01.
    Pharmaceutical,
}

/// How the waste is packed (HJ 421).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Packaging {
    /// Yellow medical-waste bag (包装袋).
    Bag,
    /// Sharps container (利器盒).
    SharpsBox,
    /// Turnover box (周转箱); also a hub's big box holding small ones.
    Box,
    /// Drum, for liquids and chemicals.
    Drum,
}

/// Where a container stands in its custody, derived from its scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Label printed, nothing in it yet (or not yet sealed).
    Labelled,
    /// Sealed and weighed at the producer; its storage clock runs.
    Sealed,
    /// Handed to the township hub (小箱进大箱).
    AtHub,
    /// Picked up by a driver.
    Collected,
    /// Weighed in at the plant.
    Received,
    /// Disposed of at the plant (end of custody).
    Disposed,
    /// Refused at the plant.
    Rejected,
}

/// What a scan records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanAction {
    /// Clinic staff close and weigh the container (`weight_kg` required).
    Seal,
    /// The hub keeper takes a village container in.
    HubIn,
    /// The driver picks it up (`weight_kg` required; `location` checked against the institution).
    Collect,
    /// The plant weighs it in (`weight_kg` required).
    Receive,
    /// The plant refuses it (`reason` required).
    Reject,
    /// The plant disposes of it (`method` required: `incineration`, `high_temperature_steam`,
    /// `microwave`, `chemical_disinfection`, or `other: <what it was>`).
    Dispose,
    /// Put into a hub's big box (recorded by `POST /containers/{code}/children`).
    Nest,
}

/// `POST /api/v1/containers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContainer {
    /// Waste category.
    pub category: Category,
    /// Packaging.
    pub packaging: Packaging,
    /// Special notes printed on the label (components of chemical waste, ...).
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/v1/containers/batch`: a sheet of labels.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContainerBatch {
    /// How many labels, 1 to 500.
    #[schema(minimum = 1, maximum = 500)]
    pub count: i32,
    /// Waste category.
    pub category: Category,
    /// Packaging.
    pub packaging: Packaging,
    /// Special notes printed on every label.
    #[serde(default)]
    pub note: Option<String>,
}

/// What the printed label shows (HJ 421: 医疗废物, producer, date, category, special notes),
/// in Chinese with English alongside.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Label {
    /// The code, grouped for reading aloud and typing (`XXXX-XXXX-XXXX`).
    pub code: String,
    /// `医疗废物`.
    pub title_zh: String,
    /// `MEDICAL WASTE`.
    pub title_en: String,
    /// Producing institution (产生单位).
    pub producer: String,
    /// Production date (产生日期, HJ 421): the local day the waste was sealed, `YYYY-MM-DD`;
    /// empty before the seal, when the printed label has a blank to write the date in.
    pub date: String,
    /// Local day the label was made, `YYYY-MM-DD` (printed small, for the clinic's records).
    pub printed_on: String,
    /// Category name, e.g. `感染性废物`.
    pub category_zh: String,
    /// Category name in English.
    pub category_en: String,
    /// Hazardous-waste code, e.g. `HW01 841-001-01`.
    pub hw_code: String,
    /// Packaging name, e.g. `利器盒 sharps box`.
    pub packaging: String,
    /// Special notes (特别说明): cold chain, components, ...
    pub special_notes: Vec<String>,
    /// Text encoded in the QR code.
    pub qr_payload: String,
}

/// Recorded weights, kg.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Weights {
    /// At seal (the producer's scale).
    #[serde(default)]
    pub seal_kg: Option<f64>,
    /// At pickup (the driver's scale).
    #[serde(default)]
    pub collect_kg: Option<f64>,
    /// At the plant (the weighbridge).
    #[serde(default)]
    pub receive_kg: Option<f64>,
}

/// Who made a scan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// User id.
    pub user_id: String,
    /// Role at the time.
    pub role: String,
}

/// One custody event as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustodyEvent {
    /// The client-chosen id.
    pub event_id: String,
    /// What happened.
    pub action: ScanAction,
    /// When it happened, by the device's clock.
    pub occurred_at: DateTime<Utc>,
    /// When the server stored it.
    pub received_at: DateTime<Utc>,
    /// Who scanned.
    pub actor: Actor,
    /// Weight, kg.
    #[serde(default)]
    pub weight_kg: Option<f64>,
    /// Where.
    #[serde(default)]
    pub location: Option<LatLng>,
    /// Run of the driver.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Reason (reject).
    #[serde(default)]
    pub reason: Option<String>,
    /// Method (dispose) or how the code was read (`qr`, `typed`).
    #[serde(default)]
    pub method: Option<String>,
    /// Device that scanned.
    #[serde(default)]
    pub device_id: Option<String>,
    /// For events inherited from a big box: the box's code.
    #[serde(default)]
    pub via_parent: Option<String>,
    /// For `nest`: the big box's code.
    #[serde(default)]
    pub parent_code: Option<String>,
    /// Why this event does not fit the state machine, if it does not.
    #[serde(default)]
    pub anomaly: Option<String>,
}

/// A container with its derived state and history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Container {
    /// Label code (canonical form, no dashes).
    pub code: String,
    /// Derived custody state.
    pub state: ContainerState,
    /// Waste category.
    pub category: Category,
    /// HW code of the category, e.g. `841-001-01`.
    pub category_code: String,
    /// Packaging.
    pub packaging: Packaging,
    /// Label note.
    #[serde(default)]
    pub note: Option<String>,
    /// Producing institution.
    pub institution_id: String,
    /// The big box it travels in, if nested.
    #[serde(default)]
    pub parent_code: Option<String>,
    /// Codes of the small boxes inside, if it is a big box.
    #[serde(default)]
    pub children: Vec<String>,
    /// Weights at each hand-over.
    pub weights: Weights,
    /// Discrepancies and anomalies: `weight_discrepancy`, `location_mismatch`,
    /// `sequence_anomaly`, `cold_chain`.
    pub flags: Vec<String>,
    /// When it was first sealed (its storage clock starts).
    #[serde(default)]
    pub sealed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// What the printed label shows.
    pub label: Label,
    /// Events in occurrence order (omitted in lists).
    #[serde(default)]
    pub events: Vec<CustodyEvent>,
}

/// `POST /api/v1/containers/batch` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContainerBatch {
    /// The new containers.
    pub containers: Vec<Container>,
}

/// One page of containers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContainerPage {
    /// Containers, oldest first (without events).
    pub items: Vec<Container>,
    /// Cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/containers/{code}/children`: nest small boxes into a big one at the hub.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NestRequest {
    /// Codes of sealed small boxes (1 to 500).
    #[schema(min_items = 1, max_items = 500)]
    pub codes: Vec<String>,
    /// When, by the device's clock (default: now).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// One scan as the app uploads it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanEvent {
    /// Chosen by the device when scanning (UUID, v7 recommended); a replay is recognised by it.
    pub event_id: uuid::Uuid,
    /// The label code as read or typed (dashes, spaces and case are ignored).
    pub code: String,
    /// What happened.
    pub action: ScanAction,
    /// When, by the device's clock (RFC 3339 with offset).
    pub occurred_at: DateTime<Utc>,
    /// Weight, kg (required for seal, collect, receive).
    #[serde(default)]
    pub weight_kg: Option<f64>,
    /// Where (GPS).
    #[serde(default)]
    pub location: Option<LatLng>,
    /// The driver's run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Why (required for reject).
    #[serde(default)]
    pub reason: Option<String>,
    /// Disposal method (required for dispose): `incineration`, `high_temperature_steam`,
    /// `microwave`, `chemical_disinfection`, or `other: <what it was>`; for other actions, how
    /// the code was read.
    #[serde(default)]
    pub method: Option<String>,
    /// The scanning device.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// `POST /api/v1/scans`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [
    {"event_id": "0195a4c2-1111-7000-8000-000000000001", "code": "7K3M-9Q2X-C4TB", "action": "collect",
     "occurred_at": "2026-03-02T09:41:07+08:00", "weight_kg": 2.35,
     "location": {"lat": 36.3121, "lng": 117.431}, "run_id": "0195a4c2-2222-7000-8000-000000000009",
     "device_id": "phone-17"},
    {"event_id": "0195a4c2-1111-7000-8000-000000000002", "code": "7K3M-9Q2X-C4TZ", "action": "collect",
     "occurred_at": "2026-03-02T09:41:30+08:00", "weight_kg": 0.8,
     "location": {"lat": 36.3121, "lng": 117.431}, "device_id": "phone-17"}
]}))]
pub struct ScanBatch {
    /// 1 to 500 events, in any order.
    #[schema(min_items = 1, max_items = 500)]
    pub events: Vec<ScanEvent>,
}

/// Outcome of one uploaded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    /// Stored (committed before this answer was sent).
    Accepted,
    /// Already stored earlier; nothing changed. Only `event_id` is compared: different
    /// content under a used id (a corrected weight) is dropped too. A correction needs a
    /// new `event_id`.
    Duplicate,
    /// Refused; see `reason`. Fix and resend with the same `event_id`, or drop it.
    Rejected,
}

/// Per-event answer, in the order of the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanResult {
    /// The event's id.
    pub event_id: String,
    /// What happened to it.
    pub status: ScanStatus,
    /// The container's state after the batch (accepted and duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    /// Why it was rejected: `unknown_code`, `mistyped_code`, `action_not_allowed`,
    /// `future_timestamp` (more than the clock-skew allowance ahead of the server's clock),
    /// `stale_timestamp` (older than the server's bound, 30 days by default),
    /// `before_container_created` (before the container was labelled, beyond the clock-skew
    /// allowance), `weight_required`, `weight_out_of_range`, `reason_required`,
    /// `method_required`, `unknown_method` (a dispose method not in the list, or `other:`
    /// without saying what), `invalid_location`, `text_too_long`, `invalid_text` (a text field
    /// holds NUL or half a surrogate pair; `field` names it), `not_your_run` (a collect scan
    /// naming a run that is not the driver's own, or one the server does not know: send it
    /// again with the right run's id, or without `run_id`), `event_id_reused`,
    /// `sealed_by_signature` (a manifest signature covers this part: ask for a correction). The other events of the batch
    /// are judged on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The event's field at fault, for `invalid_text` (`code`, `run_id`, `reason`,
    /// `method`, `device_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /api/v1/scans` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"results": [
    {"event_id": "0195a4c2-1111-7000-8000-000000000001", "status": "accepted", "state": "collected"},
    {"event_id": "0195a4c2-1111-7000-8000-000000000002", "status": "rejected", "reason": "mistyped_code"}
]}))]
pub struct ScanResults {
    /// One result per uploaded event, same order.
    pub results: Vec<ScanResult>,
}

/// One event of an audit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Event id.
    pub event_id: String,
    /// Position in the chain (arrival order).
    pub seq: i32,
    /// Stored hash.
    pub hash: String,
    /// Whether the stored hash matches the recomputed one and links to its predecessor.
    pub valid: bool,
}

/// `GET /api/v1/containers/{code}/audit`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Audit {
    /// Container code.
    pub code: String,
    /// Whether the whole chain is intact.
    pub valid: bool,
    /// The chain in arrival order.
    pub events: Vec<AuditEvent>,
    /// What is wrong, if anything.
    pub problems: Vec<String>,
}
