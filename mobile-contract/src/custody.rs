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
    /// The driver refuses the container at the door (`reason` required: `broken`,
    /// `unlabelled`, `wrong_packaging`, or `other: <what was wrong>`; `run_id` required, a run
    /// of the driver's with a stop at the container's institution or its hub). The container
    /// stays with the institution: its state does not change and its storage clock runs on;
    /// the manifest of that run and institution lists it as refused, and the clinic is alerted.
    Refuse,
    /// An approved correction, chained by the server (`POST /corrections/{id}/approve`); not
    /// uploadable (`action_not_allowed`).
    Correct,
}

/// Whether a weight was read off a scale or estimated (a driver without a scale, a clinic
/// weighing by eye). An estimate is compared with a wider tolerance, and a discrepancy that
/// involves one says so (`weight_estimated` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeightSource {
    /// Read off a scale or the weighbridge (称重).
    Weighed,
    /// Estimated (估计).
    Estimated,
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
    /// How each weight above was taken (absent where there is no weight), read from the
    /// events: filled in a container's detail, empty in lists (which omit the events).
    #[serde(default)]
    pub sources: WeightSources,
}

/// How each recorded weight was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WeightSources {
    /// Of `seal_kg`.
    #[serde(default)]
    pub seal: Option<WeightSource>,
    /// Of `collect_kg`.
    #[serde(default)]
    pub collect: Option<WeightSource>,
    /// Of `receive_kg`.
    #[serde(default)]
    pub receive: Option<WeightSource>,
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
    /// How the weight was taken (given with every weight; `weighed` when the scan did not say).
    #[serde(default)]
    pub weight_source: Option<WeightSource>,
    /// Where.
    #[serde(default)]
    pub location: Option<LatLng>,
    /// Run of the driver.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Reason (reject, refuse).
    #[serde(default)]
    pub reason: Option<String>,
    /// Method (dispose) or how the code was read (`qr`, `typed`).
    #[serde(default)]
    pub method: Option<String>,
    /// The plant's batch or furnace (dispose).
    #[serde(default)]
    pub batch: Option<String>,
    /// When the waste was disposed of, by the plant's record (dispose; `occurred_at` when the
    /// scan did not say).
    #[serde(default)]
    pub disposed_at: Option<DateTime<Utc>>,
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
    /// Discrepancies and anomalies: `weight_discrepancy` (with `weight_estimated` when an
    /// estimate was involved), `refused_at_pickup` (refused at the door, not collected since),
    /// `corrected` (an approved correction changed a value), `location_mismatch`,
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
    /// How `weight_kg` was taken; only with a weight. Absent means `weighed` (what every
    /// weight meant before this field existed): an app whose driver has no scale sends
    /// `estimated`.
    #[serde(default)]
    pub weight_source: Option<WeightSource>,
    /// Where (GPS).
    #[serde(default)]
    pub location: Option<LatLng>,
    /// The driver's run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Why (required for reject, free text; required for refuse, from the list `broken`,
    /// `unlabelled`, `wrong_packaging`, or `other: <what was wrong>`).
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
    /// The plant's batch or furnace identifier (dispose only; 1 to 64 printable characters).
    #[serde(default)]
    pub batch: Option<String>,
    /// When the waste was disposed of, by the plant's record (dispose only; not after
    /// `occurred_at` nor before the container was received, beyond the clock-skew allowance).
    /// Absent: `occurred_at`.
    #[serde(default)]
    pub disposed_at: Option<DateTime<Utc>>,
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
    /// without saying what), `unknown_reason` (a refuse reason not in the list, or `other:`
    /// without saying what), `run_required` (a refuse scan without `run_id`), `not_on_run` (a
    /// refuse scan of a container whose institution, or hub, is not a stop of the run),
    /// `weight_source_without_weight`, `not_for_action` (`batch` or `disposed_at` on a scan
    /// other than dispose; `field` names it), `invalid_batch`, `invalid_disposed_at` (in the
    /// future, after the scan, or beyond the server's age bound), `invalid_location`, `text_too_long`, `invalid_text` (a text field
    /// holds NUL or half a surrogate pair; `field` names it), `not_your_run` (a collect or refuse scan
    /// naming a run that is not the driver's own, or one the server does not know: send it
    /// again with the right run's id, or without `run_id`), `event_id_reused`,
    /// `sealed_by_signature` (a manifest signature covers this part: ask for a correction). The other events of the batch
    /// are judged on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The event's field at fault, for `invalid_text` (`code`, `run_id`, `reason`,
    /// `method`, `device_id`, `batch`) and `not_for_action` (`batch`, `disposed_at`).
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

/// What a correction may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionField {
    /// The weight of one seal, collect or receive scan (`event_id` and `weight_kg` required).
    WeightKg,
    /// The container's waste category (`category` required; the packaging rules still hold).
    Category,
}

/// Where a correction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionStatus {
    /// Waiting for the other parties.
    Pending,
    /// Every other party approved; applied as a new event of the container's chain.
    Approved,
    /// A party refused; nothing changed.
    Refused,
}

/// `POST /api/v1/containers/{code}/corrections`: ask the other parties to correct a field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCorrection {
    /// What to correct.
    pub field: CorrectionField,
    /// The scan whose weight is wrong (for `weight_kg`).
    #[serde(default)]
    pub event_id: Option<String>,
    /// The right weight, kg (for `weight_kg`).
    #[serde(default)]
    pub weight_kg: Option<f64>,
    /// The right category (for `category`).
    #[serde(default)]
    pub category: Option<Category>,
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

/// `POST /api/v1/corrections/{id}/approve` and `/refuse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionVote {
    /// A note (at most 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

/// One party's decision on a correction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CorrectionDecision {
    /// The party (institution or company id).
    pub party: String,
    /// Who decided (user id).
    pub user_id: String,
    /// `approve` or `refuse`.
    pub decision: String,
    /// Their note.
    #[serde(default)]
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A correction request with its history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Correction {
    /// Id.
    pub id: String,
    /// Container code.
    pub code: String,
    /// What is corrected.
    pub field: CorrectionField,
    /// The corrected scan (for `weight_kg`).
    #[serde(default)]
    pub event_id: Option<String>,
    /// The value as recorded (kg as a decimal, or a category).
    pub old_value: String,
    /// The value asked for.
    pub new_value: String,
    /// Why.
    pub reason: String,
    /// Who asked (user id).
    pub requested_by: String,
    /// Their party (institution or company id).
    pub requested_party: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Where it stands.
    pub status: CorrectionStatus,
    /// Parties whose decision is still awaited.
    pub awaiting: Vec<String>,
    /// The decisions so far.
    pub decisions: Vec<CorrectionDecision>,
    /// When it was approved or refused.
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The chained event that applied it (approved only).
    #[serde(default)]
    pub applied_event_id: Option<String>,
}

/// Corrections of a container or a manifest, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CorrectionList {
    /// The corrections.
    pub items: Vec<Correction>,
}
