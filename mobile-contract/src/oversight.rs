//! Alerts, coverage reports and inspections: what the health bureau supervises.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An alert: a condition that needs someone's attention, with its lifecycle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// `storage_warning`, `storage_breach`, `not_collected`, `collected_not_received`,
    /// `received_not_disposed`, `weight_discrepancy`, `count_discrepancy`, `location_mismatch`,
    /// `inactive_institution`, `discrepancy_unresolved`; from GPS against the plan:
    /// `stop_visited_unscanned`, `unplanned_stop`, `off_route`, `over_shift`.
    pub rule: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// `container`, `institution`, `manifest` or `run` (the GPS rules).
    pub subject_type: String,
    /// Container code, institution id, manifest number or run id.
    pub subject_id: String,
    /// Institution concerned.
    #[serde(default)]
    pub institution_id: Option<String>,
    /// Its township.
    #[serde(default)]
    pub township: Option<String>,
    /// The disposal company the alert concerns (its run or plant handled the container or
    /// manifest); none for an institution-side condition (storage, not collected, inactive).
    /// Only that company's staff see it and act on it.
    #[serde(default)]
    pub org_id: Option<String>,
    /// What is wrong, for people.
    pub detail: String,
    /// `open`, `acknowledged` or `resolved`.
    #[schema(value_type = AlertStatus)]
    pub status: String,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Acknowledged.
    #[serde(default)]
    pub acked_at: Option<DateTime<Utc>>,
    /// By whom (user id).
    #[serde(default)]
    pub acked_by: Option<String>,
    /// Resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// By whom (user id, or `system` when the condition cleared by itself).
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// Resolution note.
    #[serde(default)]
    pub note: Option<String>,
}

/// One page of alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertPage {
    /// Alerts, newest first.
    pub items: Vec<Alert>,
    /// Cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// When the rules were last evaluated (in the background every `YIFEI_ALERT_INTERVAL_S`
    /// and shortly after each upload that stored something): the list is as current as
    /// this, not more. Absent before the first evaluation.
    #[serde(default)]
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/alerts/{id}/resolve`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was done.
    pub note: String,
}

/// Epidemic mode tightens the alert thresholds (24 h collection, 12 h disposal).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EpidemicMode {
    /// Whether it is on.
    pub enabled: bool,
}

/// Figures of one group (all, a township, or an institution kind) over a period. Every rate
/// is `null` when its denominator is zero ("no data"), never 100 %; `definitions` of the
/// report says what each rate divides by what and what it leaves out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CoverageRow {
    /// `total`, a township name, or an institution kind.
    pub group: String,
    /// Signed-up institutions (active or suspended) that joined before the period ended.
    pub registered: i64,
    /// On the bureau's roster of licensed institutions but not signed up (no active or
    /// suspended institution with the roster entry's licence number), self-disposal left out.
    #[serde(default)]
    pub not_signed_up: i64,
    /// On the roster and recorded as disposing of their own waste where the law allows it
    /// (条例 Art.21, remote villages): reported here, outside the 纳入率's denominator.
    #[serde(default)]
    pub self_disposal: i64,
    /// The 纳入率's denominator: `registered + not_signed_up`.
    #[serde(default)]
    pub institutions_expected: i64,
    /// Of those, collected at least once with no container left past its interval.
    pub collected_within_interval: i64,
    /// 集中处置纳入率 by institutions: `collected_within_interval / institutions_expected`.
    pub entry_rate_institutions: Option<f64>,
    /// kg sealed in the period (seal weights).
    pub kg_sealed: f64,
    /// kg weighed in at the plant in the period (plant weights, whenever sealed).
    pub kg_received: f64,
    /// Of `kg_sealed`, the seal weight of the containers received at the plant by the end
    /// of the period.
    #[serde(default)]
    pub kg_sealed_received: f64,
    /// 集中处置纳入率 by weight: `kg_sealed_received / kg_sealed` (at most 1).
    pub entry_rate_weight: Option<f64>,
    /// kg disposed of in the period (plant weight, else seal weight; whenever sealed).
    pub kg_disposed: f64,
    /// Of `kg_sealed`, the seal weight of the containers disposed of by the end of the period.
    #[serde(default)]
    pub kg_sealed_disposed: f64,
    /// 无害化处置率: `kg_sealed_disposed / kg_sealed` (at most 1): waste that never reached
    /// the plant lowers it.
    pub harmless_disposal_rate: Option<f64>,
    /// Of `kg_received`, the kg disposed of by the end of the period.
    #[serde(default)]
    pub kg_received_disposed: f64,
    /// The plant's disposal rate (处置厂处置率, its backlog): `kg_received_disposed /
    /// kg_received`. Not the 无害化处置率: it cannot see waste that never arrived.
    #[serde(default)]
    pub plant_disposal_rate: Option<f64>,
    /// Containers collected in the period.
    pub containers_collected: i64,
    /// Containers whose collection fell due in the period: collected in it, or still not
    /// collected at its end although their 48 h limit passed inside it.
    #[serde(default)]
    pub containers_due: i64,
    /// Of those, collected within 48 h of sealing.
    pub collected_on_time: i64,
    /// On-time collection rate: `collected_on_time / containers_due`.
    pub on_time_rate: Option<f64>,
    /// Hours containers spent past the 48 h storage limit within the period.
    pub overdue_storage_hours: f64,
    /// Containers of the period flagged with a discrepancy.
    pub open_discrepancies: i64,
    /// Active institutions with no waste sealed in the 14 days before the period's end.
    pub inactive_institutions: i64,
    /// Inspections in the period.
    pub inspections: i64,
    /// Of those, passed.
    pub inspections_passed: i64,
    /// 规范化管理抽查合格率: `inspections_passed / inspections`.
    pub inspection_pass_rate: Option<f64>,
}

/// What one rate of the coverage report is: shown wherever the rate is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RateDefinition {
    /// The field of `CoverageRow` that holds the rate, e.g. `harmless_disposal_rate`.
    pub rate: String,
    /// Its name in the regulator's words, e.g. `无害化处置率`.
    pub name: String,
    /// What is counted above the line.
    pub numerator: String,
    /// What it is divided by.
    pub denominator: String,
    /// What neither counts.
    pub excluded: String,
    /// When the rate is `null` ("no data").
    pub no_data: String,
}

/// The figures behind a report for one institution (traceability).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstitutionCoverage {
    /// Institution id.
    pub institution_id: String,
    /// Name.
    pub name: String,
    /// Township.
    pub township: String,
    /// Kind.
    pub kind: String,
    /// Counted in `collected_within_interval`.
    pub collected_within_interval: bool,
    /// kg sealed.
    pub kg_sealed: f64,
    /// kg received.
    pub kg_received: f64,
    /// kg disposed.
    pub kg_disposed: f64,
    /// Of kg sealed, the seal weight received at the plant by the period's end.
    #[serde(default)]
    pub kg_sealed_received: f64,
    /// Of kg sealed, the seal weight disposed of by the period's end.
    #[serde(default)]
    pub kg_sealed_disposed: f64,
    /// Of kg received, the kg disposed of by the period's end.
    #[serde(default)]
    pub kg_received_disposed: f64,
    /// Containers collected.
    pub containers_collected: i64,
    /// Containers whose collection fell due in the period.
    #[serde(default)]
    pub containers_due: i64,
    /// Collected within 48 h.
    pub collected_on_time: i64,
    /// Overdue storage hours.
    pub overdue_storage_hours: f64,
    /// Flagged containers.
    pub open_discrepancies: i64,
    /// No waste sealed in the last 14 days of the period.
    pub inactive: bool,
    /// Codes of the containers behind the figures (with `?detail=containers`).
    #[serde(default)]
    pub containers: Vec<String>,
}

/// `GET /api/v1/reports/coverage`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CoverageReport {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
    /// Township filter, if any.
    #[serde(default)]
    pub township: Option<String>,
    /// When computed.
    pub generated_at: DateTime<Utc>,
    /// The target spot-check pass rate (0.95).
    pub inspection_target: f64,
    /// All institutions in scope.
    pub total: CoverageRow,
    /// By township.
    pub by_township: Vec<CoverageRow>,
    /// By institution kind.
    pub by_kind: Vec<CoverageRow>,
    /// Per institution: what every figure is made of.
    pub institutions: Vec<InstitutionCoverage>,
    /// What each rate divides by what, and what it leaves out.
    #[serde(default)]
    pub definitions: Vec<RateDefinition>,
}

/// The inspection checklist: each item passed or not.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    /// Packaging as HJ 421 requires.
    pub packaging: bool,
    /// Labels complete.
    pub labels: bool,
    /// Nothing stored past its limit.
    pub storage_time: bool,
    /// Hand-over register kept.
    pub register: bool,
    /// Warning signs at the storage point.
    pub signage: bool,
}

/// `POST /api/v1/inspections`: a spot check (bureau staff).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInspection {
    /// The institution checked (or give `org_id` for the disposal company).
    #[serde(default)]
    pub institution_id: Option<String>,
    /// The company checked.
    #[serde(default)]
    pub org_id: Option<String>,
    /// When (default now).
    #[serde(default)]
    pub inspected_at: Option<DateTime<Utc>>,
    /// The checklist; the inspection passes when every item does.
    pub checklist: Checklist,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Rectification deadline (required when it fails).
    #[serde(default)]
    pub rectification_deadline: Option<DateTime<Utc>>,
}

/// A recorded inspection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Inspection {
    /// Id.
    pub id: String,
    /// Institution checked.
    #[serde(default)]
    pub institution_id: Option<String>,
    /// Company checked.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Township (of the institution).
    #[serde(default)]
    pub township: Option<String>,
    /// Inspector (user id).
    pub inspector_id: String,
    /// When.
    pub inspected_at: DateTime<Utc>,
    /// Checklist.
    pub checklist: Checklist,
    /// All items passed.
    pub passed: bool,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Rectification deadline.
    #[serde(default)]
    pub rectification_deadline: Option<DateTime<Utc>>,
}

/// Inspections of a period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InspectionList {
    /// Newest first.
    pub items: Vec<Inspection>,
    /// Passed / all.
    pub pass_rate: Option<f64>,
    /// 0.95.
    pub target: f64,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

/// One entry of the watch list (重点监控名单).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchEntry {
    /// Entry id.
    pub id: String,
    /// The rule that put it there: `storage_breach`, `missed_collection`,
    /// `failed_inspection` or `discrepancy`.
    pub rule: String,
    /// The institution, when the entry is about one.
    pub institution_id: Option<String>,
    /// The disposal company, when the entry is about it.
    pub org_id: Option<String>,
    /// The township ('' for the company county-wide: the county bureau's).
    pub township: String,
    /// Why, in words.
    pub reason: String,
    /// Who must put it right (the institution's responsible contact).
    pub owner: String,
    /// By when.
    pub deadline: DateTime<Utc>,
    /// `open`, `escalated` (past its deadline; the bureau was told), or `struck_off`.
    pub status: String,
    /// Escalation level: 0 in time, 1 the township bureau told, 2 the county bureau told.
    pub level: i32,
    /// When it was put on the list.
    pub opened_at: DateTime<Utc>,
    /// When it passed its deadline and was escalated.
    pub escalated_at: Option<DateTime<Utc>>,
    /// When it was struck off (销号).
    pub struck_off_at: Option<DateTime<Utc>>,
    /// Who struck it off.
    pub struck_off_by: Option<String>,
    /// The evidence it was struck off with.
    pub evidence: Option<String>,
    /// The passed re-inspection given as evidence, if any.
    pub evidence_inspection_id: Option<String>,
}

/// `GET /api/v1/watch-list`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchPage {
    /// Entries, newest first.
    pub items: Vec<WatchEntry>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/watch-list/{id}/strike-off`: 销号 with evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrikeOffRequest {
    /// What was done and what shows it, 1 to 2000 characters.
    pub evidence: String,
    /// A passed re-inspection of the institution (or company) after the entry opened.
    /// Without it, an entry other than a failed inspection may be struck off only once its
    /// condition has been cleared for the set time (`YIFEI_WATCH_CLEARED_DAYS`, 7 days).
    #[serde(default)]
    pub inspection_id: Option<String>,
}

/// A rectification (限期整改) opened by a failed inspection, closed by a passed re-inspection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rectification {
    /// Rectification id.
    pub id: String,
    /// The failed inspection that opened it.
    pub inspection_id: String,
    /// The institution, when one was inspected.
    pub institution_id: Option<String>,
    /// The disposal company, when it was inspected.
    pub org_id: Option<String>,
    /// The institution's township.
    pub township: Option<String>,
    /// By when it must be put right.
    pub deadline: DateTime<Utc>,
    /// `open` or `closed`.
    pub status: String,
    /// Open and past its deadline (an alert is raised).
    pub overdue: bool,
    /// When the failed inspection took place.
    pub opened_at: DateTime<Utc>,
    /// When the passed re-inspection took place.
    pub closed_at: Option<DateTime<Utc>>,
    /// The passed re-inspection that closed it.
    pub closed_by_inspection_id: Option<String>,
}

/// `GET /api/v1/rectifications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RectificationList {
    /// Newest first (at most 500).
    pub items: Vec<Rectification>,
}

/// What an enforcement record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementKind {
    /// A penalty decision (行政处罚决定).
    Penalty,
    /// A referral to the police or another department (移送公安机关/其他部门).
    Referral,
}

/// `POST /api/v1/enforcement`: a penalty decision or a referral (acting health-bureau staff
/// of the institution's township; the company: county-wide staff).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnforcementAction {
    /// Penalty or referral.
    pub kind: EnforcementKind,
    /// The institution concerned (or `org_id`, not both).
    #[serde(default)]
    pub institution_id: Option<String>,
    /// The disposal company concerned.
    #[serde(default)]
    pub org_id: Option<String>,
    /// For a referral: to whom (e.g. 县公安局), 1 to 200 characters; required then.
    #[serde(default)]
    pub referred_to: Option<String>,
    /// What was decided and why, 1 to 2000 characters.
    pub summary: String,
    /// When it was decided (default: now).
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// A document of an enforcement record (its bytes at `GET /api/v1/enforcement/documents/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnforcementDocument {
    /// Document id.
    pub id: String,
    /// The name it was uploaded with.
    pub filename: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// Its size in bytes (at most 10 MiB).
    pub size_bytes: i64,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
}

/// A penalty decision or referral with its documents.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnforcementAction {
    /// Record id.
    pub id: String,
    /// `penalty` or `referral`.
    pub kind: String,
    /// The institution concerned.
    pub institution_id: Option<String>,
    /// The company concerned.
    pub org_id: Option<String>,
    /// The institution's township.
    pub township: Option<String>,
    /// For a referral: to whom.
    pub referred_to: Option<String>,
    /// What was decided.
    pub summary: String,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
    /// Its documents.
    pub documents: Vec<EnforcementDocument>,
}

/// `GET /api/v1/enforcement`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnforcementList {
    /// Newest first (at most 500).
    pub items: Vec<EnforcementAction>,
}
