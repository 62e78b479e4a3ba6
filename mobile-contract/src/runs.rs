//! Fleet, pickup requests, due pickups, plans, runs, GPS tracks and transfer manifests (联单).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::LatLng;

/// Opening hours as local times `HH:MM` (e.g. 08:00-12:00 and 14:00-17:30 around lunch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningWindow {
    /// Opens, `HH:MM` local time.
    pub from: String,
    /// Closes, `HH:MM` local time.
    pub to: String,
}

/// A collection vehicle of the disposal company.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Vehicle {
    /// Vehicle id.
    pub id: String,
    /// Number plate.
    pub plate: String,
    /// Load limit, kg.
    pub capacity_kg: i32,
    /// Load limit in containers (turnover boxes).
    pub capacity_units: i32,
    /// Refrigerated box (needed for pathological waste).
    pub refrigerated: bool,
    /// Shift start, `HH:MM` local.
    pub shift_start: String,
    /// Shift end, `HH:MM` local.
    pub shift_end: String,
    /// Assigned driver (user id).
    #[serde(default)]
    pub driver_id: Option<String>,
    /// Inactive vehicles are not planned.
    pub active: bool,
}

/// `POST /api/v1/vehicles`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVehicle {
    /// Number plate (unique).
    pub plate: String,
    /// Load limit, kg (1 to 40000).
    pub capacity_kg: i32,
    /// Load limit in containers (1 to 10000).
    pub capacity_units: i32,
    /// Refrigerated box.
    #[serde(default)]
    pub refrigerated: bool,
    /// Shift start, default `07:30`.
    #[serde(default)]
    pub shift_start: Option<String>,
    /// Shift end, default `17:30`.
    #[serde(default)]
    pub shift_end: Option<String>,
    /// A driver of the company.
    #[serde(default)]
    pub driver_id: Option<String>,
}

/// `PATCH /api/v1/vehicles/{id}`; absent fields stay. `driver_id: ""` unassigns the driver.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleUpdate {
    /// Load limit, kg.
    #[serde(default)]
    pub capacity_kg: Option<i32>,
    /// Load limit in containers.
    #[serde(default)]
    pub capacity_units: Option<i32>,
    /// Refrigerated box.
    #[serde(default)]
    pub refrigerated: Option<bool>,
    /// Shift start `HH:MM`.
    #[serde(default)]
    pub shift_start: Option<String>,
    /// Shift end `HH:MM`.
    #[serde(default)]
    pub shift_end: Option<String>,
    /// Driver user id, or `""` for none.
    #[serde(default)]
    pub driver_id: Option<String>,
    /// Whether it is planned.
    #[serde(default)]
    pub active: Option<bool>,
}

/// The company's vehicles.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VehicleList {
    /// Vehicles by plate.
    pub items: Vec<Vehicle>,
}

/// A driver of the company, to assign to a vehicle (`/api/v1/drivers`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Driver {
    /// User id (a vehicle's `driver_id`).
    pub id: String,
    /// Login name.
    pub login: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `false` once deactivated: the driver cannot sign in.
    pub active: bool,
    /// Plates of the vehicles assigned to the driver.
    pub plates: Vec<String>,
}

/// The company's drivers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DriverList {
    /// Drivers by login.
    pub items: Vec<Driver>,
}

/// `POST /api/v1/pickup-requests` (clinic staff): ask for a pickup.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPickupRequest {
    /// Not before.
    #[serde(default)]
    pub earliest: Option<DateTime<Utc>>,
    /// Not after.
    #[serde(default)]
    pub latest: Option<DateTime<Utc>>,
    /// Estimated weight, kg.
    pub est_weight_kg: f64,
    /// Estimated number of containers.
    #[serde(default)]
    pub containers: Option<i32>,
    /// Note for the dispatcher.
    #[serde(default)]
    pub note: Option<String>,
}

/// A pickup request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickupRequest {
    /// Request id.
    pub id: String,
    /// Requesting institution.
    pub institution_id: String,
    /// Not before.
    #[serde(default)]
    pub earliest: Option<DateTime<Utc>>,
    /// Not after.
    #[serde(default)]
    pub latest: Option<DateTime<Utc>>,
    /// Estimated weight, kg.
    pub est_weight_kg: f64,
    /// Estimated containers.
    #[serde(default)]
    pub containers: Option<i32>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// `open` until a collect scan at the institution, then `done`.
    pub status: String,
    /// Made.
    pub created_at: DateTime<Utc>,
}

/// A stop that must be visited on the day, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DueStop {
    /// The institution visited (a hub for the villages that deliver to it).
    pub institution_id: String,
    /// Its name.
    pub name: String,
    /// Township.
    pub township: String,
    /// Address.
    pub address: String,
    /// Where.
    pub location: LatLng,
    /// Latest service: the storage limit (48 h after the oldest seal; 24 h in epidemic mode)
    /// of the oldest waste waiting for this stop, if any is waiting.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// Why it is due: `overdue` (the deadline passes before any run of the day can get
    /// there), `storage_deadline` (the deadline comes at or before `next_chance`),
    /// `interval_lapses` (the collection interval lapses by `next_chance`), `requested`,
    /// `skipped`, `via_hub` (villages delivering to this hub are collected here).
    pub reasons: Vec<String>,
    /// Expected waste, kg.
    pub expected_kg: f64,
    /// Expected containers.
    pub expected_containers: i32,
    /// Institutions whose waste is collected here (itself and villages via this hub).
    pub serves: Vec<String>,
    /// The earliest possible visit on the day itself: the earliest vehicle shift start, the
    /// drive from the plant, the first opening window, back before the shift ends.
    #[serde(default)]
    pub earliest_visit: Option<DateTime<Utc>>,
    /// The next chance to collect after the day: the earliest possible visit of the next
    /// working day (`YIFEI_WORK_DAYS`, `YIFEI_HOLIDAYS`); absent when there is none.
    #[serde(default)]
    pub next_chance: Option<DateTime<Utc>>,
    /// Minutes by which the deadline passes before `earliest_visit` (overdue stops only).
    #[serde(default)]
    pub late_by_min: Option<i64>,
    /// Why it is due, for the dispatcher: "deadline 03:10 tomorrow (48 h storage limit),
    /// next possible visit 08:40 tomorrow" (local times, days relative to the listed day).
    pub explanation: String,
}

/// `GET /api/v1/pickups/due`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DueList {
    /// The local calendar day.
    pub date: NaiveDate,
    /// Due stops: overdue first, then tightest deadline.
    pub stops: Vec<DueStop>,
}

/// `POST /api/v1/plans`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// Local calendar day to plan.
    pub date: NaiveDate,
    /// Vehicles to use (default: every active vehicle not already on a run that day).
    #[serde(default)]
    pub vehicle_ids: Option<Vec<String>>,
    /// Days to plan, 1-7 (default 1: the day alone). With more, planning chooses the day of
    /// each visit over the horizon; `date` becomes runs, later days are provisional.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 7)]
    pub horizon_days: Option<i32>,
}

/// A planned stop of a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunStop {
    /// Position in the run, from 1.
    pub seq: i32,
    /// Institution visited.
    pub institution_id: String,
    /// Its name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Where.
    pub location: LatLng,
    /// Contact phone.
    pub phone: String,
    /// Planned arrival.
    pub eta: DateTime<Utc>,
    /// Latest service (storage deadline).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// Expected waste, kg.
    pub expected_kg: f64,
    /// Expected containers.
    pub expected_containers: i32,
    /// Why it is on the run.
    pub reasons: Vec<String>,
    /// `pending`, `completed` (a collect scan there) or `skipped`.
    pub status: String,
    /// Why it was skipped.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// First collect scan there.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Who completed it (user id): the run's driver, or a dispatcher of its company.
    #[serde(default)]
    pub completed_by: Option<String>,
    /// Codes of the sealed containers waiting there (for offline checking).
    pub containers: Vec<String>,
}

/// A vehicle's run for a day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Run {
    /// Run id (send it as `run_id` with collect scans).
    pub id: String,
    /// The plan it belongs to.
    pub plan_id: String,
    /// Local calendar day.
    pub date: NaiveDate,
    /// Vehicle.
    pub vehicle_id: String,
    /// Its plate.
    pub plate: String,
    /// Driver (user id).
    #[serde(default)]
    pub driver_id: Option<String>,
    /// `planned`, `in_progress`, `done` or `cancelled`.
    pub status: String,
    /// Leaves the plant.
    pub start_time: DateTime<Utc>,
    /// Back at the plant.
    pub end_time: DateTime<Utc>,
    /// Planned distance, km.
    pub distance_km: f64,
    /// Planned duration, minutes.
    pub duration_min: f64,
    /// Planned load, kg.
    pub load_kg: f64,
    /// Start and end (the plant).
    pub depot: LatLng,
    /// Stops in order.
    pub stops: Vec<RunStop>,
}

/// A due stop the plan could not serve.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnassignedStop {
    /// Institution.
    pub institution_id: String,
    /// The solver's reason.
    pub reason: String,
}

/// A day's plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    /// Plan id.
    pub id: String,
    /// Local calendar day.
    pub date: NaiveDate,
    /// Runs, one per used vehicle.
    pub runs: Vec<Run>,
    /// Due stops on no run, with the reason.
    pub unassigned: Vec<UnassignedStop>,
    /// What changed while the solver thought and what planning did about it (a stop left
    /// off because its waste was collected, waste added, a stop that became due, the day
    /// solved again). Empty when nothing changed.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Days planned (1-7).
    #[serde(default = "one_day")]
    pub horizon_days: i32,
    /// Every day of the horizon: the first is the runs above, later ones provisional.
    #[serde(default)]
    pub days: Vec<PlanDay>,
    /// The later plan that replaced this plan's provisional days (re-planned with new scans).
    #[serde(default)]
    pub superseded_by: Option<String>,
}

fn one_day() -> i32 {
    1
}

/// One day of a plan's horizon.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanDay {
    /// Local calendar day.
    pub date: NaiveDate,
    /// False for the first day (its runs are binding), true for later days: re-planned every
    /// morning with the new scans.
    pub provisional: bool,
    /// Vehicles used.
    pub vehicles: i32,
    /// Planned distance, km.
    pub distance_km: f64,
    /// Routes of the day, one per vehicle.
    pub routes: Vec<PlanRoute>,
}

/// A vehicle's route on a day of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanRoute {
    /// The run (first day only).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Vehicle.
    pub vehicle_id: String,
    /// Its plate.
    pub plate: String,
    /// Planned distance, km.
    pub distance_km: f64,
    /// Stops in order.
    pub stops: Vec<PlanStop>,
}

/// A stop of a plan's route.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanStop {
    /// Position in the route, from 1.
    pub seq: i32,
    /// Institution visited.
    pub institution_id: String,
    /// Its name.
    pub name: String,
    /// Planned arrival.
    pub eta: DateTime<Utc>,
    /// Storage deadline of the waste known when planning.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// Expected waste, kg (later visits: predicted from the institution's sealing history).
    pub expected_kg: f64,
    /// Why it is visited that day.
    pub reasons: Vec<String>,
}

/// Runs of a day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunList {
    /// Runs.
    pub items: Vec<Run>,
}

/// `POST /api/v1/runs/{id}/stops/{seq}/skip`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipRequest {
    /// Why (closed, road blocked, ...).
    pub reason: String,
}

/// `POST /api/v1/runs/{id}/insert`: an urgent pickup during the day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertRequest {
    /// The institution to add.
    pub institution_id: String,
}

/// One GPS fix.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// When, by the device's clock.
    pub at: DateTime<Utc>,
}

/// `POST /api/v1/runs/{id}/positions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionBatch {
    /// 1 to 5000 fixes, any order; a fix already stored (same run and time) is ignored.
    #[schema(min_items = 1, max_items = 5000)]
    pub positions: Vec<Position>,
}

/// Answer to a position upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PositionResult {
    /// Newly stored fixes.
    pub accepted: i32,
    /// Fixes already stored.
    pub duplicates: i32,
    /// Fixes refused, each with its reason; the others are stored all the same.
    #[serde(default)]
    pub rejected: Vec<RejectedPosition>,
}

/// A GPS fix refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectedPosition {
    /// Its index in the upload, from 0.
    pub index: i32,
    /// `stale_timestamp` (older than the server's bound, a day by default) or
    /// `future_timestamp` (more than the clock-skew allowance ahead of the server's clock).
    pub reason: String,
}

/// Party of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Party {
    /// Institution or organisation id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address or site.
    #[serde(default)]
    pub address: Option<String>,
    /// Licence number: the institution's practice licence (医疗机构执业许可证); none for a
    /// company until one is registered.
    #[serde(default)]
    pub licence_no: Option<String>,
}

/// One container on a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestLine {
    /// Container code.
    pub code: String,
    /// Category.
    pub category: String,
    /// HW code.
    pub hw_code: String,
    /// Packaging.
    pub packaging: String,
    /// Weight at seal, kg.
    #[serde(default)]
    pub seal_kg: Option<f64>,
    /// Weight at pickup, kg.
    #[serde(default)]
    pub collect_kg: Option<f64>,
    /// Weight at the plant, kg.
    #[serde(default)]
    pub receive_kg: Option<f64>,
    /// Container state; `refused` for a container the driver refused at the door on this run
    /// (it stayed with the institution: see `refusal`).
    pub state: String,
    /// How each weight was taken (`weighed` or `estimated`).
    #[serde(default)]
    pub weight_sources: crate::WeightSources,
    /// The driver's refusal at the door, for a `refused` line.
    #[serde(default)]
    pub refusal: Option<LineRefusal>,
    /// The plant's disposal record, once disposed of.
    #[serde(default)]
    pub disposal: Option<LineDisposal>,
    /// Fields shown with an approved correction's value (`seal_kg`, `collect_kg`,
    /// `receive_kg`, `category`): the original values and the requests are in
    /// `GET /manifests/{number}/corrections`.
    #[serde(default)]
    pub corrected: Vec<String>,
}

/// Why the driver refused a container at the door.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineRefusal {
    /// The reason code as scanned (`broken`, `unlabelled`, `wrong_packaging`, `other: ...`).
    pub reason: String,
    /// The reason in words, as printed (e.g. `容器破损`).
    pub reason_zh: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who refused (user id).
    pub by: String,
}

/// What the plant recorded of a disposal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineDisposal {
    /// Method code (`incineration`, ..., `other: ...`).
    pub method: String,
    /// Method in words (e.g. `焚烧`).
    pub method_zh: String,
    /// The plant's batch or furnace identifier, if recorded.
    #[serde(default)]
    pub batch: Option<String>,
    /// When it was disposed of (the plant's record, else the scan's time).
    pub at: DateTime<Utc>,
}

/// One hand-over on a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Handover {
    /// When.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Signer (user id of the scan).
    #[serde(default)]
    pub signer: Option<String>,
}

/// A transfer manifest (联单): one per institution per run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Manifest {
    /// Manifest number.
    pub number: String,
    /// Run.
    pub run_id: String,
    /// `open` (collecting), `in_transit`, `received` (all weighed in), `closed` (every line
    /// disposed of, refused at the plant, or refused at the door).
    pub status: String,
    /// Shipper: the producing institution.
    pub shipper: Party,
    /// Carrier: the company.
    pub carrier: Party,
    /// Driver (user id).
    #[serde(default)]
    pub driver_id: Option<String>,
    /// Vehicle plate.
    pub plate: String,
    /// Receiver: the plant.
    pub receiver: Party,
    /// Containers.
    pub lines: Vec<ManifestLine>,
    /// Hand-over from the shipper to the carrier (first collect).
    pub collected: Handover,
    /// Hand-over from the carrier to the plant (last receipt).
    pub received: Handover,
    /// Containers collected.
    pub count_collected: i32,
    /// Containers received at the plant.
    pub count_received: i32,
    /// kg at pickup.
    pub weight_collected_kg: f64,
    /// kg at the plant.
    pub weight_received_kg: f64,
    /// Collected minus received containers (any difference is critical).
    pub count_discrepancy: i32,
    /// Received minus collected kg.
    pub weight_discrepancy_kg: f64,
    /// Created at the first collect.
    pub created_at: DateTime<Utc>,
    /// SHA-256 (hex) over the lines' container codes with the heads of their custody hash
    /// chains, in code order: the printed manifest's QR code carries its first 16 digits, so
    /// a reader can tell whether a paper copy still shows the current record.
    pub custody_digest: String,
    /// The shipper's confirmation of the hand-over (issue #17).
    pub shipper_confirmation: crate::ShipperConfirmation,
    /// Signatures so far, in order: shipper, carrier, receiver, disposal.
    pub signatures: Vec<crate::ManifestSignature>,
}

/// Manifests of a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestList {
    /// Manifests.
    pub items: Vec<Manifest>,
}

/// Where a plan that is being solved stands (`GET /api/v1/plans/progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanPhase {
    /// Reading the due stops and the fleet.
    Reading,
    /// The solver is thinking (also when it solves again after the facts changed).
    Solving,
    /// Writing the runs.
    Writing,
}

/// One plan being solved for the caller's company.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanProgress {
    /// The disposal company the plan is for.
    pub organisation_id: String,
    /// The plan's (first) day.
    pub date: NaiveDate,
    /// Horizon in days.
    pub horizon_days: i32,
    pub phase: PlanPhase,
    /// Milliseconds since the plan was asked for.
    pub elapsed_ms: u64,
    /// The solver's time budget in milliseconds (null when it is bound by iterations).
    pub budget_ms: Option<u64>,
    /// The solver's iteration budget (null when it is bound by time).
    pub budget_iterations: Option<u64>,
    /// Iterations of the solver so far (of its last report).
    pub iterations: u64,
    /// Distance of the best plan found so far, km (null until the solver reports one).
    pub best_km: Option<f64>,
    /// Stops the best plan so far leaves unassigned.
    pub unassigned: Option<u32>,
    /// Stops and vehicles of the routing problem (null while reading).
    pub stops: Option<u32>,
    pub vehicles: Option<u32>,
    /// Set when the solver solves a second time because the facts changed meanwhile.
    pub resolving: Option<String>,
}

/// Plans being solved now; empty when none is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanProgressList {
    pub items: Vec<PlanProgress>,
}
