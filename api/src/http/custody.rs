//! `/api/v1/containers` and `/api/v1/scans`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    Audit, Container, ContainerBatch, ContainerPage, ContainerState, NestRequest, NewContainer,
    NewContainerBatch, ScanBatch, ScanResults,
};

use super::extract::{ApiJson, Batch, BatchJson, pdf_inline};
use crate::auth::Caller;
use crate::custody::label_pdf::{self, Sheet};
use crate::custody::scan_writer::ScanWriter;
use crate::custody::{MAX_BATCH, label, store};
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{Cursor, page_limit, parse_query_enum};

/// Label a new container (clinic staff or hub keeper of an active institution).
#[utoipa::path(post, path = "/api/v1/containers", tag = "custody", operation_id = "create_container", request_body = NewContainer,
    security(("bearer" = [])),
    responses((status = 201, description = "Labelled", body = Container)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewContainer>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let (now, tz) = (state.clock.now(), state.config.tz);
    let mut made = state
        .db
        .run(move |conn| store::create(conn, &caller, 1, &b, now, tz))
        .await?;
    let c = made
        .pop()
        .ok_or_else(|| ApiError::Internal("no container made".into()))?;
    // No Location header: the code in the body is what clients use (and schemathesis'
    // link inference mis-reads container locations as institution ones).
    Ok(HttpResponse::Created().json(c))
}

/// Label a sheet of 1 to 500 containers at once.
#[utoipa::path(post, path = "/api/v1/containers/batch", tag = "custody", operation_id = "create_container_batch", request_body = NewContainerBatch,
    security(("bearer" = [])),
    responses((status = 201, description = "Labelled", body = ContainerBatch)))]
pub async fn create_batch(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewContainerBatch>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let count = usize::try_from(b.count)
        .ok()
        .filter(|n| (1..=MAX_BATCH).contains(n))
        .ok_or_else(|| ApiError::invalid("count", "must be between 1 and 500"))?;
    let (now, tz) = (state.clock.now(), state.config.tz);
    let spec = NewContainer {
        category: b.category,
        packaging: b.packaging,
        note: b.note,
    };
    let containers = state
        .db
        .run(move |conn| store::create(conn, &caller, count, &spec, now, tz))
        .await?;
    Ok(HttpResponse::Created().json(ContainerBatch { containers }))
}

/// Filters of `GET /api/v1/containers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Derived state.
    #[param(value_type = Option<ContainerState>)]
    pub state: Option<String>,
    /// A flag: `weight_discrepancy`, `location_mismatch`, `sequence_anomaly`,
    /// `refused_at_pickup`, `weight_estimated`.
    pub flag: Option<String>,
    /// Producing institution.
    pub institution_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The containers the caller may see, oldest first (without their events).
#[utoipa::path(get, path = "/api/v1/containers", tag = "custody", operation_id = "list_containers", params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = ContainerPage),
        (status = 404, description = "`institution_id` names an institution the caller cannot see", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<web::Json<ContainerPage>, ApiError> {
    let q = q.into_inner();
    let flag = q.flag.filter(|f| !f.trim().is_empty());
    if let Some(f) = &flag
        && ![
            "weight_discrepancy",
            "location_mismatch",
            "sequence_anomaly",
            "refused_at_pickup",
            "weight_estimated",
        ]
        .contains(&f.as_str())
    {
        return Err(ApiError::invalid(
            "flag",
            "must be weight_discrepancy, location_mismatch, sequence_anomaly, refused_at_pickup \
             or weight_estimated",
        ));
    }
    let filter = store::ListFilter {
        state: q
            .state
            .as_deref()
            .map(|s| parse_query_enum("state", s))
            .transpose()?,
        flag,
        institution_id: q.institution_id.filter(|i| !i.trim().is_empty()),
        cursor: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        limit: page_limit(q.limit)?,
    };
    let tz = state.config.tz;
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::list(conn, &caller, filter, tz))
            .await?,
    ))
}

/// A container with its custody history in occurrence order.
#[utoipa::path(get, path = "/api/v1/containers/{code}", tag = "custody", operation_id = "get_container",
    params(("code" = String, Path, description = "Label code, any written form")),
    security(("bearer" = [])),
    responses((status = 200, description = "The container", body = Container)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<Container>, ApiError> {
    let (code, tz) = (code.into_inner(), state.config.tz);
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::detail(conn, &caller, &code, tz))
            .await?,
    ))
}

/// The printable label (100 x 70 mm SVG with the QR code).
#[utoipa::path(get, path = "/api/v1/containers/{code}/label.svg", tag = "custody", operation_id = "get_container_label_svg",
    params(("code" = String, Path, description = "Label code")),
    security(("bearer" = [])),
    responses((status = 200, description = "SVG label", content_type = "image/svg+xml", body = String)))]
pub async fn label_svg(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (code, tz) = (code.into_inner(), state.config.tz);
    let c = state
        .db
        .run(move |conn| store::detail(conn, &caller, &code, tz))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            super::middleware::SVG_CSP,
        ))
        .body(label::svg(&c.label)?))
}

/// Recompute the container's hash chain (admin, bureau staff).
#[utoipa::path(get, path = "/api/v1/containers/{code}/audit", tag = "custody", operation_id = "audit_container",
    params(("code" = String, Path, description = "Label code")),
    security(("bearer" = [])),
    responses((status = 200, description = "Audit", body = Audit)))]
pub async fn audit(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<Audit>, ApiError> {
    let code = code.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::audit(conn, &caller, &code))
            .await?,
    ))
}

/// Nest sealed small boxes into this big box at the hub (hub keeper).
///
/// One level deep: a box that holds boxes cannot go into another (422).
#[utoipa::path(post, path = "/api/v1/containers/{code}/children", tag = "custody", operation_id = "nest_containers",
    params(("code" = String, Path, description = "The big box's code")),
    request_body = NestRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The big box with its children", body = Container),
        (status = 409, description = "The box has left the hub", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn nest(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: ApiJson<NestRequest>,
) -> Result<web::Json<Container>, ApiError> {
    let (code, tz, now) = (code.into_inner(), state.config.tz, state.clock.now());
    let NestRequest { codes, occurred_at } = body.0;
    let occurred_at = occurred_at.unwrap_or(now);
    if occurred_at > now + state.config.clock_skew {
        return Err(ApiError::invalid("occurred_at", "is in the future"));
    }
    if occurred_at < now - state.config.scan_max_age {
        return Err(ApiError::invalid(
            "occurred_at",
            "is older than the server accepts (YIFEI_SCAN_MAX_AGE_DAYS)",
        ));
    }
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::nest(conn, &caller, &code, &codes, occurred_at, now, tz))
            .await?,
    ))
}

/// Text a database cannot hold in one event refuses that event alone (`invalid_text`).
impl Batch for ScanBatch {
    const ITEMS: &'static str = "events";
}

/// Upload scans made offline: each event is accepted, recognised as a duplicate, or rejected
/// with a reason; accepted events are committed before this answer is sent.
#[utoipa::path(post, path = "/api/v1/scans", tag = "custody", operation_id = "upload_scans", request_body = ScanBatch,
    security(("bearer" = [])),
    responses((status = 200, description = "One result per event, in order", body = ScanResults)))]
pub async fn scans(
    state: web::Data<AppState>,
    scans: web::Data<ScanWriter>,
    caller: Caller,
    body: BatchJson<ScanBatch>,
) -> Result<web::Json<ScanResults>, ApiError> {
    let events = body.0.events;
    let (now, limits, tz) = (
        state.clock.now(),
        state.config.scan_limits(),
        state.config.tz,
    );
    let results = scans.ingest(caller, events, now, limits, tz).await?;
    // A late upload can open or close alerts: ask the evaluator, off the request path (all
    // uploads meanwhile share its next evaluation).
    if results
        .iter()
        .any(|r| r.status == yifei_contract::ScanStatus::Accepted)
    {
        state.alerts.request();
    }
    Ok(web::Json(ScanResults { results }))
}

/// Which labels a sheet prints, and how.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelSheetQuery {
    /// Label codes, comma-separated (1 to 500, e.g. those `POST /containers/batch` answered).
    #[param(min_length = 1)]
    pub codes: String,
    /// `a4` (default: eight to a page) or `label` (one 100 x 70 mm page each).
    #[param(value_type = Option<yifei_contract::LabelSheet>)]
    pub sheet: Option<String>,
}

fn sheet_of(s: Option<&str>) -> Result<Sheet, ApiError> {
    Ok(match s.map(|s| parse_query_enum("sheet", s)).transpose()? {
        None | Some(yifei_contract::LabelSheet::A4) => Sheet::A4,
        Some(yifei_contract::LabelSheet::Label) => Sheet::Label,
    })
}

/// Labels of a batch of containers as one PDF at their real size, 100 x 70 mm, with the
/// Chinese font embedded: eight to an A4 page or one to a label-size page. Every code must
/// be the caller's to see (404 names the first that is not).
#[utoipa::path(get, path = "/api/v1/containers/labels.pdf", tag = "custody", operation_id = "get_label_sheet_pdf",
    params(LabelSheetQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Labels as PDF", content_type = "application/pdf", body = yifei_contract::PdfDocument),
        (status = 404, description = "A code the caller cannot see", body = yifei_contract::Problem, content_type = "application/problem+json")))]
pub async fn label_sheet_pdf(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<LabelSheetQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let how = sheet_of(q.sheet.as_deref())?;
    let mut codes: Vec<String> = Vec::new();
    for c in q.codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if !codes.iter().any(|k| k == c) {
            codes.push(c.to_owned());
        }
    }
    if codes.is_empty() || codes.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "codes",
            format!("name 1 to {MAX_BATCH} label codes, comma-separated"),
        ));
    }
    let tz = state.config.tz;
    let labels = state
        .db
        .run(move |conn| {
            codes
                .iter()
                .map(|c| store::detail(conn, &caller, c, tz).map(|c| c.label))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let pdf = web::block(move || label_pdf::sheet(&labels, how))
        .await
        .map_err(|e| ApiError::Internal(format!("PDF: {e}")))??;
    Ok(pdf_inline("labels", pdf))
}

/// The container's label as PDF on a page of its real size, 100 x 70 mm (Chinese font
/// embedded), for a label printer.
#[utoipa::path(get, path = "/api/v1/containers/{code}/label.pdf", tag = "custody", operation_id = "get_container_label_pdf",
    params(("code" = String, Path, description = "Label code")),
    security(("bearer" = [])),
    responses((status = 200, description = "PDF label", content_type = "application/pdf", body = yifei_contract::PdfDocument)))]
pub async fn label_pdf(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (code, tz) = (code.into_inner(), state.config.tz);
    let c = state
        .db
        .run(move |conn| store::detail(conn, &caller, &code, tz))
        .await?;
    let name = c.code.clone();
    let pdf = web::block(move || label_pdf::sheet(std::slice::from_ref(&c.label), Sheet::Label))
        .await
        .map_err(|e| ApiError::Internal(format!("PDF: {e}")))??;
    Ok(pdf_inline(&name, pdf))
}
