//! Alerts, epidemic mode, coverage reports and inspections.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    Alert, AlertPage, CoverageReport, EpidemicMode, Inspection, InspectionList, NewInspection,
    ResolveRequest, Role,
};

use super::extract::{ApiJson, OptionalJson, csv_attachment, wants_csv};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::oversight::{self, alerts, inspections, reports};
use crate::state::AppState;
use crate::wire::{Cursor, page_limit};

/// Filters of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `open`, `acknowledged` or `resolved`.
    #[param(value_type = Option<yifei_contract::AlertStatus>)]
    pub status: Option<String>,
    /// Rule name, e.g. `storage_breach`.
    pub rule: Option<String>,
    /// Township.
    pub township: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

const RULES: [&str; 17] = [
    "storage_warning",
    "storage_breach",
    "not_collected",
    "collected_not_received",
    "received_not_disposed",
    "weight_discrepancy",
    "count_discrepancy",
    "location_mismatch",
    "inactive_institution",
    "discrepancy_unresolved",
    "container_refused",
    "stop_visited_unscanned",
    "unplanned_stop",
    "off_route",
    "over_shift",
    "unconfirmed_handover",
    "handover_not_verified",
];

/// Alerts in the caller's view, newest first: bureau staff their jurisdiction, a company its
/// own and the institution-side ones, an approved institution its own (a pending one none).
/// Reading never evaluates the rules: `evaluated_at` says how current the list is.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "oversight", operation_id = "list_alerts", params(AlertQuery), security(("bearer" = [])),
    responses((status = 200, description = "Alerts", body = AlertPage)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AlertQuery>,
) -> Result<web::Json<AlertPage>, ApiError> {
    let q = q.into_inner();
    if let Some(s) = &q.status
        && !["open", "acknowledged", "resolved"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            "must be open, acknowledged or resolved",
        ));
    }
    if let Some(r) = &q.rule
        && !RULES.contains(&r.as_str())
    {
        return Err(ApiError::invalid(
            "rule",
            format!("must be one of {}", RULES.join(", ")),
        ));
    }
    let filter = alerts::ListFilter {
        status: q.status,
        rule: q.rule,
        township: q.township.filter(|t| !t.trim().is_empty()),
        cursor: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        limit: page_limit(q.limit)?,
    };
    caller.require(&[
        Role::Admin,
        Role::BureauStaff,
        Role::Dispatcher,
        Role::PlantOperator,
        Role::ClinicStaff,
        Role::HubKeeper,
    ])?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| alerts::list(conn, &caller, filter))
            .await?,
    ))
}

/// Acknowledge an alert: someone is on it (admin; health-bureau staff of its township; a
/// dispatcher for its company's alerts and the institution-side ones).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "oversight", operation_id = "acknowledge_alert",
    params(("id" = String, Path, description = "Alert id")),
    request_body(content = Option<yifei_contract::Empty>, description = "Nothing needed"),
    security(("bearer" = [])),
    responses((status = 200, description = "Acknowledged", body = Alert)))]
pub async fn ack(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _b: OptionalJson<yifei_contract::Empty>,
) -> Result<web::Json<Alert>, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    Ok(web::Json(
        state
            .db
            .run(move |conn| alerts::transition(conn, &caller, &id, None, now))
            .await?,
    ))
}

/// Resolve an alert with a note of what was done (admin; health-bureau staff of its
/// township; a dispatcher only for its own company's alerts).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "oversight", operation_id = "resolve_alert",
    params(("id" = String, Path, description = "Alert id")),
    request_body = ResolveRequest, security(("bearer" = [])),
    responses((status = 200, description = "Resolved", body = Alert)))]
pub async fn resolve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<ResolveRequest>,
) -> Result<web::Json<Alert>, ApiError> {
    let (id, now, note) = (id.into_inner(), state.clock.now(), body.0.note);
    Ok(web::Json(
        state
            .db
            .run(move |conn| alerts::transition(conn, &caller, &id, Some(note), now))
            .await?,
    ))
}

/// Whether epidemic mode is on.
#[utoipa::path(get, path = "/api/v1/settings/epidemic-mode", tag = "oversight", operation_id = "get_epidemic_mode", security(("bearer" = [])),
    responses((status = 200, description = "Mode", body = EpidemicMode)))]
pub async fn get_epidemic(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<web::Json<EpidemicMode>, ApiError> {
    let enabled = state.db.run(oversight::epidemic).await?;
    Ok(web::Json(EpidemicMode { enabled }))
}

/// Switch epidemic mode (admin, or bureau staff of the whole county): tighter thresholds.
#[utoipa::path(put, path = "/api/v1/settings/epidemic-mode", tag = "oversight", operation_id = "set_epidemic_mode", request_body = EpidemicMode,
    security(("bearer" = [])),
    responses((status = 200, description = "Mode", body = EpidemicMode)))]
pub async fn put_epidemic(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<EpidemicMode>,
) -> Result<web::Json<EpidemicMode>, ApiError> {
    caller.require(&[Role::Admin, Role::BureauStaff])?;
    let enabled = body.0.enabled;
    state
        .db
        .run(move |conn| {
            crate::roles::require_acting_bureau(conn, &caller)?;
            if caller.role == Role::BureauStaff
                && !matches!(
                    crate::institutions::store::scope_of(conn, &caller)?,
                    crate::institutions::Scope::All
                )
            {
                return Err(ApiError::Forbidden(
                    "only county-wide bureau staff switch epidemic mode".into(),
                ));
            }
            oversight::set_epidemic(conn, enabled)?;
            Ok(())
        })
        .await?;
    // The new thresholds apply from the next evaluation, which starts now.
    state.alerts.request();
    tracing::warn!(enabled, "epidemic mode switched");
    Ok(web::Json(EpidemicMode { enabled }))
}

/// Period and scope of the coverage report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First local day (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today).
    pub to: Option<NaiveDate>,
    /// One township only (bureau staff: one of their jurisdiction, else 403).
    pub township: Option<String>,
    /// `containers` lists the codes behind each institution's figures.
    pub detail: Option<String>,
    /// `json` (default) or `csv` (also `Accept: text/csv`).
    #[param(value_type = Option<yifei_contract::ExportFormat>)]
    pub format: Option<String>,
}

/// Period and scope of the cell map.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CellsQuery {
    /// First local day (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today).
    pub to: Option<NaiveDate>,
    /// One township only (bureau staff: one of their jurisdiction, else 403).
    pub township: Option<String>,
    /// H3 resolution of the cell map, 5 to 9 (default 7).
    #[param(minimum = 5, maximum = 9)]
    pub res: Option<u8>,
}

/// Period and township of the inspection list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First local day (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today).
    pub to: Option<NaiveDate>,
    /// One township only (bureau staff: one of their jurisdiction, else 403); the
    /// disposal company's inspections belong to no township and are left out then.
    pub township: Option<String>,
}

fn params(
    state: &AppState,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    township: Option<&str>,
    detail: Option<&str>,
) -> Result<reports::Params, ApiError> {
    let today = state
        .clock
        .now()
        .with_timezone(&state.config.tz)
        .date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    let with_codes = match detail {
        None | Some("") => false,
        Some("containers") => true,
        Some(_) => return Err(ApiError::invalid("detail", "must be containers")),
    };
    Ok(reports::Params {
        from,
        to,
        township: township.map(str::to_owned).filter(|t| !t.trim().is_empty()),
        with_codes,
    })
}

/// Coverage and disposal rates by township and institution kind, traceable per institution
/// (bureau staff of the jurisdiction; admin). JSON, or CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/reports/coverage", tag = "oversight", operation_id = "get_coverage_report", params(ReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "The report", content((CoverageReport = "application/json"), (String = "text/csv")))))]
pub async fn coverage(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = params(
        &state,
        q.from,
        q.to,
        q.township.as_deref(),
        q.detail.as_deref(),
    )?;
    let csv = wants_csv(&req, q.format.as_deref())?;
    let (now, tz) = (state.clock.now(), state.config.tz);
    let r = state
        .db
        .run(move |conn| reports::coverage(conn, &caller, &p, now, tz))
        .await?;
    Ok(if csv {
        csv_attachment(&format!("coverage-{}-{}", r.from, r.to), reports::csv(&r))
    } else {
        HttpResponse::Ok().json(r)
    })
}

/// The coverage report as CSV: the same as `GET /api/v1/reports/coverage?format=csv`, as an
/// operation of its own so that a client generated from the contract (one answer type per
/// operation) can fetch it.
#[utoipa::path(get, path = "/api/v1/reports/coverage.csv", tag = "oversight", operation_id = "get_coverage_report_csv", params(CsvReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "The report as CSV", content_type = "text/csv", body = String)))]
pub async fn coverage_csv(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    q: web::Query<CsvReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let q = ReportQuery {
        from: q.from,
        to: q.to,
        township: q.township,
        detail: q.detail,
        format: Some("csv".into()),
    };
    coverage(state, caller, req, web::Query(q)).await
}

/// Period and scope of the CSV coverage report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvReportQuery {
    /// First local day (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today).
    pub to: Option<NaiveDate>,
    /// One township only.
    pub township: Option<String>,
    /// `containers` lists the codes behind each institution's figures.
    pub detail: Option<String>,
}

/// The report's institutions by H3 cell: a GeoJSON FeatureCollection for maps.
#[utoipa::path(get, path = "/api/v1/reports/coverage/cells", tag = "oversight", operation_id = "get_coverage_cells", params(CellsQuery), security(("bearer" = [])),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json", body = Object)))]
pub async fn cells(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<CellsQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = params(&state, q.from, q.to, q.township.as_deref(), None)?;
    let res = q.res.unwrap_or(7);
    if !(5..=9).contains(&res) {
        return Err(ApiError::invalid("res", "must be 5 to 9"));
    }
    let (now, tz) = (state.clock.now(), state.config.tz);
    let geo = state
        .db
        .run(move |conn| {
            let r = reports::coverage(conn, &caller, &p, now, tz)?;
            reports::cells(conn, &r, res)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .body(geo.to_string()))
}

/// Record a spot check (bureau staff): an institution of the jurisdiction, or the company.
#[utoipa::path(post, path = "/api/v1/inspections", tag = "oversight", operation_id = "record_inspection", request_body = NewInspection, security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = Inspection),
        (status = 404, description = "No such institution or organisation in the caller's jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn record(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewInspection>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let i = state
        .db
        .run(move |conn| inspections::record(conn, &caller, body.0, now))
        .await?;
    Ok(HttpResponse::Created().json(i))
}

/// Inspections of a period with their pass rate against the 95 % target.
#[utoipa::path(get, path = "/api/v1/inspections", tag = "oversight", params(PeriodQuery), security(("bearer" = [])),
    responses((status = 200, description = "Inspections", body = InspectionList)))]
pub async fn list_inspections(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PeriodQuery>,
) -> Result<web::Json<InspectionList>, ApiError> {
    let p = params(&state, q.from, q.to, q.township.as_deref(), None)?;
    let tz = state.config.tz;
    let (start, _) = crate::pickups::store::day_bounds(p.from, tz);
    let (_, end) = crate::pickups::store::day_bounds(p.to, tz);
    Ok(web::Json(
        state
            .db
            .run(move |conn| inspections::list(conn, &caller, start, end, p.township.as_deref()))
            .await?,
    ))
}
