//! Rectifications (限期整改) and enforcement records (处罚、移送) with their documents.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    EnforcementAction, EnforcementDocument, EnforcementList, NewEnforcementAction,
    RectificationList,
};

use super::extract::{ApiJson, DocumentBody};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::oversight::{enforcement, rectifications};
use crate::state::AppState;

/// Filters of `GET /api/v1/rectifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RectificationQuery {
    /// One institution (must be visible to the caller).
    pub institution_id: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
}

/// Rectifications the caller may see, newest first: bureau staff of the jurisdiction, the
/// institution's or the company's own staff (not drivers).
#[utoipa::path(get, path = "/api/v1/rectifications", tag = "oversight", operation_id = "list_rectifications",
    params(RectificationQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Rectifications", body = RectificationList),
        (status = 404, description = "No such institution visible to the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn rectifications(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<RectificationQuery>,
) -> Result<web::Json<RectificationList>, ApiError> {
    let q = q.into_inner();
    if let Some(s) = &q.status
        && ![rectifications::OPEN, rectifications::CLOSED].contains(&s.as_str())
    {
        return Err(ApiError::invalid("status", "must be open or closed"));
    }
    let now = state.clock.now();
    Ok(web::Json(
        state
            .db
            .run(move |conn| rectifications::list(conn, &caller, q.institution_id, q.status, now))
            .await?,
    ))
}

/// Filters of `GET /api/v1/enforcement`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnforcementQuery {
    /// One institution (must be visible to the caller).
    pub institution_id: Option<String>,
}

/// Penalty decisions and referrals the caller may read, with their documents.
#[utoipa::path(get, path = "/api/v1/enforcement", tag = "oversight", operation_id = "list_enforcement",
    params(EnforcementQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Records", body = EnforcementList),
        (status = 404, description = "No such institution visible to the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<EnforcementQuery>,
) -> Result<web::Json<EnforcementList>, ApiError> {
    let i = q.into_inner().institution_id;
    Ok(web::Json(
        state
            .db
            .run(move |conn| enforcement::list(conn, &caller, i))
            .await?,
    ))
}

/// Record a penalty decision or a referral (acting health-bureau staff of the institution's
/// township; the company: county-wide staff).
#[utoipa::path(post, path = "/api/v1/enforcement", tag = "oversight", operation_id = "record_enforcement",
    request_body = NewEnforcementAction, security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = EnforcementAction),
        (status = 404, description = "No such institution or company in the caller's jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn record(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewEnforcementAction>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let a = state
        .db
        .run(move |conn| enforcement::record(conn, &caller, body.0, now))
        .await?;
    Ok(HttpResponse::Created().json(a))
}

/// `?filename=` of a document upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, shown with it (1 to 200 characters, no path).
    pub filename: String,
}

/// Attach a document to a record: the file itself as the body (`application/pdf`,
/// `image/jpeg` or `image/png`, at most 10 MiB; its first bytes must match the type).
#[utoipa::path(post, path = "/api/v1/enforcement/{id}/documents", tag = "oversight", operation_id = "upload_enforcement_document",
    params(("id" = String, Path, description = "Record id"), UploadQuery),
    request_body(content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = EnforcementDocument),
        (status = 404, description = "No such record in the caller's jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 10 MiB", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a PDF, JPEG or PNG", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    q: web::Query<UploadQuery>,
    body: DocumentBody,
) -> Result<HttpResponse, ApiError> {
    let (id, now, name) = (id.into_inner(), state.clock.now(), q.into_inner().filename);
    let d = state
        .db
        .run(move |conn| {
            enforcement::add_document(
                conn,
                &caller,
                &id,
                &name,
                &body.content_type,
                body.bytes,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(d))
}

/// A document's bytes, for those who may read its record (404 for anyone else).
#[utoipa::path(get, path = "/api/v1/enforcement/documents/{id}", tag = "oversight", operation_id = "download_enforcement_document",
    params(("id" = String, Path, description = "Document id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 404, description = "No such document readable by the caller", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn download(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (name, ct, data) = state
        .db
        .run(move |conn| enforcement::document(conn, &caller, &id))
        .await?;
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(ct)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{ascii}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(data))
}
