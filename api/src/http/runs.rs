//! Fleet, pickup requests, due pickups, plans, runs and manifests.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    DriverList, DueList, InsertRequest, Manifest, ManifestList, NewPickupRequest, NewPlan,
    NewVehicle, PickupRequest, Plan, PlanProgressList, PositionBatch, PositionResult, Run, RunList,
    SkipRequest, Vehicle, VehicleList, VehicleUpdate,
};

use super::extract::{ApiJson, csv_attachment, pdf_inline, wants_csv, wants_pdf};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::runs::planning::{self, Phase};
use crate::runs::{fleet, store};
use crate::state::AppState;
use crate::{manifests, pickups};
use yifei_contract::Role;

/// Add a vehicle to the company's fleet (dispatcher).
#[utoipa::path(post, path = "/api/v1/vehicles", tag = "runs", request_body = NewVehicle,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Vehicle),
        (status = 409, description = "Plate already registered", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_vehicle(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewVehicle>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let v = state
        .db
        .run(move |conn| fleet::create(conn, &caller, body.0, now))
        .await?;
    Ok(HttpResponse::Created().json(v))
}

/// The company's vehicles (dispatcher; a driver sees their own; admin every company's).
#[utoipa::path(get, path = "/api/v1/vehicles", tag = "runs", security(("bearer" = [])),
    responses((status = 200, description = "Vehicles", body = VehicleList)))]
pub async fn list_vehicles(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<VehicleList>, ApiError> {
    let items = state.db.run(move |conn| fleet::list(conn, &caller)).await?;
    Ok(web::Json(VehicleList { items }))
}

/// Change a vehicle: capacity, shift, driver, active (dispatcher).
#[utoipa::path(patch, path = "/api/v1/vehicles/{id}", tag = "runs",
    params(("id" = String, Path, description = "Vehicle id")),
    request_body = VehicleUpdate, security(("bearer" = [])),
    responses((status = 200, description = "Updated", body = Vehicle)))]
pub async fn update_vehicle(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<VehicleUpdate>,
) -> Result<web::Json<Vehicle>, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    Ok(web::Json(
        state
            .db
            .run(move |conn| fleet::update(conn, &caller, &id, body.0, now))
            .await?,
    ))
}

/// The company's drivers and the plates assigned to each (dispatcher; admin every company's).
#[utoipa::path(get, path = "/api/v1/drivers", tag = "runs", operation_id = "list_drivers",
    security(("bearer" = [])),
    responses((status = 200, description = "Drivers", body = DriverList)))]
pub async fn list_drivers(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<DriverList>, ApiError> {
    let items = state
        .db
        .run(move |conn| fleet::drivers(conn, &caller))
        .await?;
    Ok(web::Json(DriverList { items }))
}

/// Ask for a pickup (clinic staff of an active institution).
#[utoipa::path(post, path = "/api/v1/pickup-requests", tag = "runs", request_body = NewPickupRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Requested", body = PickupRequest)))]
pub async fn request_pickup(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewPickupRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let r = state
        .db
        .run(move |conn| pickups::store::request(conn, &caller, body.0, now))
        .await?;
    Ok(HttpResponse::Created().json(r))
}

/// Pickup requests: a clinic's own; the open ones for dispatchers.
#[utoipa::path(get, path = "/api/v1/pickup-requests", tag = "runs", security(("bearer" = [])),
    responses((status = 200, description = "Requests, newest first", body = Vec<PickupRequest>)))]
pub async fn list_requests(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<PickupRequest>>, ApiError> {
    Ok(web::Json(
        state
            .db
            .run(move |conn| pickups::store::list_requests(conn, &caller))
            .await?,
    ))
}

/// A day (local calendar day; today when absent).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// `YYYY-MM-DD`, local calendar day of the deployment.
    pub date: Option<NaiveDate>,
}

fn today(state: &AppState) -> NaiveDate {
    state
        .clock
        .now()
        .with_timezone(&state.config.tz)
        .date_naive()
}

/// The day asked for (today when absent), within `bounds` of today (`runs::check_day`).
fn day_or_today(
    state: &AppState,
    d: Option<NaiveDate>,
    bounds: (i64, i64),
) -> Result<NaiveDate, ApiError> {
    let today = today(state);
    let day = d.unwrap_or(today);
    crate::runs::check_day("date", day, today, bounds)?;
    Ok(day)
}

/// Who must be visited on the day and why (dispatcher).
#[utoipa::path(get, path = "/api/v1/pickups/due", tag = "runs", operation_id = "list_due_pickups", params(DayQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Due stops, tightest deadline first", body = DueList)))]
pub async fn due(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<DayQuery>,
) -> Result<web::Json<DueList>, ApiError> {
    let (day, schedule) = (
        day_or_today(&state, q.date, crate::runs::PLAN_DAYS)?,
        state.config.schedule(),
    );
    Ok(web::Json(
        state
            .db
            .run(move |conn| pickups::store::due_list(conn, &caller, day, &schedule))
            .await?,
    ))
}

/// Plan a day: the due stops are routed over the fleet and stored as runs; every due stop is
/// on a run or listed in `unassigned` with the solver's reason (dispatcher).
#[utoipa::path(post, path = "/api/v1/plans", tag = "runs", operation_id = "create_plan", request_body = NewPlan,
    security(("bearer" = [])),
    responses((status = 201, description = "Planned", body = Plan)))]
pub async fn plan(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewPlan>,
) -> Result<HttpResponse, ApiError> {
    let NewPlan {
        date,
        vehicle_ids,
        horizon_days,
    } = body.0;
    crate::runs::check_day("date", date, today(&state), crate::runs::PLAN_DAYS)?;
    caller.require(&[Role::Dispatcher])?;
    let (now, schedule, solving) = (
        state.clock.now(),
        state.config.schedule(),
        state.config.solving(),
    );
    let hook = state
        .plan_progress
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let shown = state.plans_solving.start(
        caller.tenant_id()?,
        date,
        horizon_days.unwrap_or(1),
        solving,
    );
    let progress = move |p: Phase| {
        shown.hear(&p);
        if let Some(h) = &hook {
            h(p);
        }
    };
    let plan = state
        .db
        .phased(move |db| {
            planning::plan(
                db,
                &caller,
                date,
                vehicle_ids,
                horizon_days.unwrap_or(1),
                now,
                &schedule,
                solving,
                &progress,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(plan))
}

/// The company's plans being solved now: phase, elapsed time and budget, the best distance
/// so far and the solver's iterations; `items` is empty when none is (dispatcher; admin: every
/// company's).
#[utoipa::path(get, path = "/api/v1/plans/progress", tag = "runs", operation_id = "get_plan_progress",
    security(("bearer" = [])),
    responses((status = 200, description = "Plans in progress, oldest first", body = PlanProgressList)))]
pub async fn plan_progress(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<PlanProgressList>, ApiError> {
    caller.require(&[Role::Admin, Role::Dispatcher])?;
    let org = match caller.role {
        Role::Admin => None,
        _ => Some(caller.tenant_id()?),
    };
    Ok(web::Json(PlanProgressList {
        items: state.plans_solving.list(org),
    }))
}

/// A stored plan: its first day's runs as they are now and every day of its horizon, later
/// days provisional, with the plan that superseded them if any (the company's dispatchers).
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "runs", operation_id = "get_plan",
    params(("id" = String, Path, description = "Plan id")), security(("bearer" = [])),
    responses((status = 200, description = "The plan", body = Plan)))]
pub async fn get_plan(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Plan>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| crate::runs::plans::get(conn, &caller, &id))
            .await?,
    ))
}

/// The company's runs of a day (dispatcher, plant operator; admin: every company's).
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(DayQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Runs", body = RunList)))]
pub async fn list_runs(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<DayQuery>,
) -> Result<web::Json<RunList>, ApiError> {
    let (day, now) = (
        day_or_today(&state, q.date, crate::runs::READ_DAYS)?,
        state.clock.now(),
    );
    let items = state
        .db
        .run(move |conn| store::list(conn, &caller, day, false, now))
        .await?;
    Ok(web::Json(RunList { items }))
}

/// The driver's runs of a day with everything the day needs offline: stops, addresses,
/// coordinates, ETAs, deadlines and the codes of the containers waiting at each stop.
#[utoipa::path(get, path = "/api/v1/me/runs", tag = "runs", params(DayQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The driver's runs", body = RunList)))]
pub async fn my_runs(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<DayQuery>,
) -> Result<web::Json<RunList>, ApiError> {
    let (day, now) = (
        day_or_today(&state, q.date, crate::runs::READ_DAYS)?,
        state.clock.now(),
    );
    let items = state
        .db
        .run(move |conn| store::list(conn, &caller, day, true, now))
        .await?;
    Ok(web::Json(RunList { items }))
}

/// One run (the company's dispatchers and plant, its driver, admin; other roles 403).
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")), security(("bearer" = [])),
    responses((status = 200, description = "The run", body = Run)))]
pub async fn get_run(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Run>, ApiError> {
    caller.require(&[
        Role::Admin,
        Role::Dispatcher,
        Role::PlantOperator,
        Role::Driver,
    ])?;
    let (id, now) = (id.into_inner(), state.clock.now());
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                let run = store::visible(conn, &caller, &id)?;
                if caller.role == Role::Driver && run.fetched_at.is_none() {
                    store::mark_fetched(conn, std::slice::from_ref(&id), now)?;
                }
                store::detail_of(conn, &id)
            })
            .await?,
    ))
}

/// Skip a stop (driver of the run, dispatcher): the institution goes back to the due list.
#[utoipa::path(post, path = "/api/v1/runs/{id}/stops/{seq}/skip", tag = "runs", operation_id = "skip_stop",
    params(("id" = String, Path, description = "Run id"), ("seq" = i32, Path, description = "Stop position")),
    request_body = SkipRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 409, description = "The stop is already completed", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn skip(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
    body: ApiJson<SkipRequest>,
) -> Result<web::Json<Run>, ApiError> {
    let (id, seq) = path.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::skip(conn, &caller, &id, seq, &body.0.reason))
            .await?,
    ))
}

/// Upload GPS fixes of a run (driver of the run); batched, idempotent, late uploads welcome.
#[utoipa::path(post, path = "/api/v1/runs/{id}/positions", tag = "runs", operation_id = "upload_positions",
    params(("id" = String, Path, description = "Run id")),
    request_body = PositionBatch, security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = PositionResult)))]
pub async fn positions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<PositionBatch>,
) -> Result<web::Json<PositionResult>, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let window = (state.config.gps_max_age, state.config.clock_skew);
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::positions(conn, &caller, &id, &body.0.positions, now, window))
            .await?,
    ))
}

/// Insert an urgent pickup into a run under way at the least added cost (dispatcher).
#[utoipa::path(post, path = "/api/v1/runs/{id}/insert", tag = "runs", operation_id = "insert_stop",
    params(("id" = String, Path, description = "Run id")),
    request_body = InsertRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "The run with the new stop", body = Run),
        (status = 409, description = "No feasible position", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn insert(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<InsertRequest>,
) -> Result<web::Json<Run>, ApiError> {
    let (id, tz, travel) = (id.into_inner(), state.config.tz, state.config.travel);
    Ok(web::Json(
        state
            .db
            .phased(move |db| {
                planning::insert(db, &caller, &id, &body.0.institution_id, tz, &travel)
            })
            .await?,
    ))
}

/// `?format=csv` or `Accept: text/csv` asks for CSV.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `csv`.
    #[param(value_type = Option<yifei_contract::ExportFormat>)]
    pub format: Option<String>,
}

/// The transfer manifests of a run (JSON, or CSV).
#[utoipa::path(get, path = "/api/v1/runs/{id}/manifests", tag = "runs", operation_id = "list_run_manifests",
    params(("id" = String, Path, description = "Run id"), FormatQuery), security(("bearer" = [])),
    responses((status = 200, description = "Manifests", content((ManifestList = "application/json"), (String = "text/csv")))))]
pub async fn run_manifests(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    let id = id.into_inner();
    let name = format!("manifests-{id}");
    let items = state
        .db
        .run(move |conn| manifests::of_run(conn, &caller, &id))
        .await?;
    Ok(if csv {
        csv_attachment(&name, manifests::csv(&items))
    } else {
        HttpResponse::Ok().json(ManifestList { items })
    })
}

/// One transfer manifest (联单) by number (JSON, CSV, or with `Accept: application/pdf` the
/// A4 paper form in Chinese).
#[utoipa::path(get, path = "/api/v1/manifests/{number}", tag = "runs", operation_id = "get_manifest",
    params(("number" = String, Path, description = "Manifest number"), FormatQuery), security(("bearer" = [])),
    responses((status = 200, description = "The manifest", content((Manifest = "application/json"), (String = "text/csv"), (yifei_contract::PdfDocument = "application/pdf")))))]
pub async fn manifest(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    number: web::Path<String>,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    if q.format.is_none() && wants_pdf(&req) {
        return manifest_pdf(state, caller, number).await;
    }
    let number = number.into_inner();
    let m = state
        .db
        .run(move |conn| manifests::get(conn, &caller, &number))
        .await?;
    Ok(if csv {
        let name = m.number.clone();
        csv_attachment(&name, manifests::csv(std::slice::from_ref(&m)))
    } else {
        HttpResponse::Ok().json(m)
    })
}

/// The transfer manifests of a run as CSV (as `?format=csv`, an operation of its own for
/// generated clients, which expect one answer type per operation).
#[utoipa::path(get, path = "/api/v1/runs/{id}/manifests.csv", tag = "runs", operation_id = "list_run_manifests_csv",
    params(("id" = String, Path, description = "Run id")), security(("bearer" = [])),
    responses((status = 200, description = "Manifests as CSV", content_type = "text/csv", body = String)))]
pub async fn run_manifests_csv(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let csv = web::Query(FormatQuery {
        format: Some("csv".into()),
    });
    run_manifests(state, caller, req, id, csv).await
}

/// One transfer manifest as CSV (as `?format=csv`, an operation of its own for generated
/// clients).
#[utoipa::path(get, path = "/api/v1/manifests/{number}.csv", tag = "runs", operation_id = "get_manifest_csv",
    params(("number" = String, Path, description = "Manifest number")), security(("bearer" = [])),
    responses((status = 200, description = "The manifest as CSV", content_type = "text/csv", body = String)))]
pub async fn manifest_csv(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let csv = web::Query(FormatQuery {
        format: Some("csv".into()),
    });
    manifest(state, caller, req, number, csv).await
}

/// One transfer manifest as the A4 paper form (联单) in Chinese, with its font embedded and a
/// QR code of the number and custody digest (as `Accept: application/pdf`, an operation of
/// its own for generated clients and plain links).
#[utoipa::path(get, path = "/api/v1/manifests/{number}.pdf", tag = "runs", operation_id = "get_manifest_pdf",
    params(("number" = String, Path, description = "Manifest number")), security(("bearer" = [])),
    responses((status = 200, description = "The manifest as PDF", content_type = "application/pdf", body = yifei_contract::PdfDocument)))]
pub async fn manifest_pdf(
    state: web::Data<AppState>,
    caller: Caller,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let (tz, now) = (state.config.tz, state.clock.now());
    let paper = state
        .db
        .run(move |conn| manifests::paper::load(conn, &caller, &number))
        .await?;
    // Laid out off the connection: the database is not held while the font is subset.
    let name = paper.manifest.number.clone();
    let pdf = web::block(move || manifests::paper::render(&paper, tz, now))
        .await
        .map_err(|e| ApiError::Internal(format!("PDF: {e}")))??;
    Ok(pdf_inline(&name, pdf))
}

/// The shipper's confirmation computed offline on the driver's phone (the run's driver sends
/// it after the scan batch of the stop). Stored even when it does not verify (then flagged);
/// the same confirmation sent again answers 200 with the stored one.
#[utoipa::path(post, path = "/api/v1/manifests/{number}/confirmations", tag = "runs", operation_id = "send_handover_confirmation",
    params(("number" = String, Path, description = "Manifest number")), request_body = yifei_contract::OfflineConfirmation,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored (see `verified` and `flag`)", body = yifei_contract::HandoverConfirmation),
        (status = 200, description = "Already stored", body = yifei_contract::HandoverConfirmation),
        (status = 403, description = "Not the run's driver", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such manifest for the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn send_confirmation(
    state: web::Data<AppState>,
    caller: Caller,
    number: web::Path<String>,
    body: ApiJson<yifei_contract::OfflineConfirmation>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let number = number.into_inner();
    let (c, new) = state
        .db
        .run(move |conn| {
            manifests::signatures::confirm_offline(conn, &caller, &number, body.0, now)
        })
        .await?;
    Ok(if new {
        HttpResponse::Created().json(c)
    } else {
        HttpResponse::Ok().json(c)
    })
}

/// The shipper confirms the hand-over later from its own login (what the scans show now).
#[utoipa::path(post, path = "/api/v1/manifests/{number}/confirm", tag = "runs", operation_id = "confirm_handover",
    params(("number" = String, Path, description = "Manifest number")), security(("bearer" = [])),
    responses(
        (status = 201, description = "Confirmed", body = yifei_contract::HandoverConfirmation),
        (status = 200, description = "Already confirmed as it stands", body = yifei_contract::HandoverConfirmation),
        (status = 403, description = "Not the shipper's staff", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such manifest for the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing collected yet", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_handover(
    state: web::Data<AppState>,
    caller: Caller,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let number = number.into_inner();
    let (c, new) = state
        .db
        .run(move |conn| manifests::signatures::confirm_by_login(conn, &caller, &number, now))
        .await?;
    Ok(if new {
        HttpResponse::Created().json(c)
    } else {
        HttpResponse::Ok().json(c)
    })
}

/// Signs the manifest as the next party (shipper, carrier, receiver, disposal).
#[utoipa::path(post, path = "/api/v1/manifests/{number}/signatures", tag = "runs", operation_id = "sign_manifest",
    params(("number" = String, Path, description = "Manifest number")), request_body = yifei_contract::NewSignature,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Signed", body = yifei_contract::ManifestSignature),
        (status = 403, description = "The caller cannot sign as this party", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such manifest for the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already signed, or the manifest is not ready for this party", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of order, dated before the previous signature or in the future", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_manifest(
    state: web::Data<AppState>,
    caller: Caller,
    number: web::Path<String>,
    body: ApiJson<yifei_contract::NewSignature>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let number = number.into_inner();
    let s = state
        .db
        .run(move |conn| manifests::signatures::sign(conn, &caller, &number, body.0, now))
        .await?;
    Ok(HttpResponse::Created().json(s))
}
