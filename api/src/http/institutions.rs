//! `/api/v1/institutions`: public sign-up, registry reads, approval decisions.

use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    DecisionRequest, DecisionResponse, Institution, InstitutionKind, InstitutionPage,
    InstitutionStatus, ReasonRequest, SignUpAccepted, SignUpRequest,
};

use super::extract::{ApiJson, OptionalJson};
use crate::auth::{Caller, password};
use crate::error::ApiError;
use crate::institutions::{self, Decision, store};
use crate::state::AppState;
use crate::wire::{Cursor, enum_str, page_limit, parse_query_enum};

/// Sign up an institution (public). It starts `pending`; the account becomes its first
/// clinic-staff user and can sign in at once, with the login of the answer, to follow the
/// approval. The answer is the same whether the wanted login is taken or free.
#[utoipa::path(post, path = "/api/v1/institutions", tag = "institutions", operation_id = "sign_up_institution", request_body = SignUpRequest,
    responses(
        (status = 201, description = "Registered, pending approval; `login` is the account's login", body = SignUpAccepted),
        (status = 409, description = "Licence number already registered", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this address; see Retry-After", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_up(
    state: web::Data<AppState>,
    body: ApiJson<SignUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let valid = institutions::validate_sign_up(body.0)?;
    let pw = valid.req.account.password.clone();
    let hash = web::block(move || password::hash(&pw))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))??;
    let now = state.clock.now();
    let (institution, login) = state
        .db
        .run(move |conn| store::sign_up(conn, valid, hash, now))
        .await?;
    tracing::info!(institution_id = %institution.id, "institution signed up");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/institutions/{}", institution.id),
        ))
        .json(SignUpAccepted { institution, login }))
}

/// One institution the caller may see (others answer 404).
#[utoipa::path(get, path = "/api/v1/institutions/{id}", tag = "institutions", operation_id = "get_institution",
    params(("id" = String, Path, description = "Institution id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The institution", body = Institution)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Institution>, ApiError> {
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| store::get_visible(conn, &caller, &id))
        .await?;
    Ok(web::Json(row.to_wire()?))
}

/// Filters of `GET /api/v1/institutions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending`, `active`, `rejected` or `suspended`.
    #[param(value_type = Option<InstitutionStatus>)]
    pub status: Option<String>,
    /// Township name.
    pub township: Option<String>,
    /// Institution kind.
    #[param(value_type = Option<InstitutionKind>)]
    pub kind: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The institutions the caller may see, oldest first, paginated.
#[utoipa::path(get, path = "/api/v1/institutions", tag = "institutions", operation_id = "list_institutions", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page", body = InstitutionPage)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<web::Json<InstitutionPage>, ApiError> {
    let q = q.into_inner();
    let filter = store::ListFilter {
        status: q
            .status
            .as_deref()
            .map(|s| parse_query_enum::<InstitutionStatus>("status", s))
            .transpose()?,
        township: q.township.filter(|t| !t.trim().is_empty()),
        kind: q
            .kind
            .as_deref()
            .map(|s| parse_query_enum::<InstitutionKind>("kind", s).map(|k| enum_str(&k)))
            .transpose()?,
        cursor: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        limit: page_limit(q.limit)?,
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::list(conn, &caller, filter))
            .await?,
    ))
}

async fn decide(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    decision: Decision,
    reason: Option<String>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    let now = state.clock.now();
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::decide(conn, &caller, &id, decision, reason, now))
            .await?,
    ))
}

/// Approve a pending (or suspended) institution: admin, or bureau staff of its township.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/approve", tag = "institutions", operation_id = "approve_institution",
    params(("id" = String, Path, description = "Institution id")),
    request_body(content = Option<DecisionRequest>, description = "Optional note"),
    security(("bearer" = [])),
    responses((status = 200, description = "Now active", body = DecisionResponse)))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    // No body, or an object: not `null`, which the contract does not offer.
    body: OptionalJson<DecisionRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    let reason = body.0.reason;
    decide(state, caller, id.into_inner(), Decision::Approve, reason).await
}

/// Reject a pending sign-up (reason required): admin, or bureau staff of its township.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/reject", tag = "institutions", operation_id = "reject_institution",
    params(("id" = String, Path, description = "Institution id")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "Now rejected", body = DecisionResponse)))]
pub async fn reject(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<ReasonRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    decide(
        state,
        caller,
        id.into_inner(),
        Decision::Reject,
        Some(body.0.reason),
    )
    .await
}

/// Suspend an active institution (reason required): it can no longer create containers.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/suspend", tag = "institutions", operation_id = "suspend_institution",
    params(("id" = String, Path, description = "Institution id")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "Now suspended", body = DecisionResponse)))]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<ReasonRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    decide(
        state,
        caller,
        id.into_inner(),
        Decision::Suspend,
        Some(body.0.reason),
    )
    .await
}

/// Change registry settings (service mode, hub, collection interval: admin or bureau staff)
/// or the contact (also the institution's own staff).
#[utoipa::path(patch, path = "/api/v1/institutions/{id}", tag = "institutions", operation_id = "update_institution",
    params(("id" = String, Path, description = "Institution id")),
    request_body = yifei_contract::InstitutionUpdate,
    security(("bearer" = [])),
    responses((status = 200, description = "Updated", body = Institution)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<yifei_contract::InstitutionUpdate>,
) -> Result<web::Json<Institution>, ApiError> {
    let (id, now, u) = (id.into_inner(), state.clock.now(), body.0);
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::update(conn, &caller, &id, u, now))
            .await?,
    ))
}

/// The institution's hand-over settings: whether a confirmation code is set, and its consent
/// to unattended pickups (its own staff).
#[utoipa::path(get, path = "/api/v1/institutions/{id}/handover", tag = "institutions", operation_id = "get_handover_settings",
    params(("id" = String, Path, description = "Institution id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings", body = yifei_contract::HandoverSettings),
        (status = 403, description = "Not clinic staff", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's institution", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn handover_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let s = state
        .db
        .run(move |conn| crate::manifests::signatures::settings(conn, &caller, &id))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Sets or rotates the confirmation code and the consent to unattended pickups (its own
/// staff). The code is never answered back.
#[utoipa::path(put, path = "/api/v1/institutions/{id}/handover", tag = "institutions", operation_id = "update_handover_settings",
    params(("id" = String, Path, description = "Institution id")), request_body = yifei_contract::HandoverSettingsUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings", body = yifei_contract::HandoverSettings),
        (status = 403, description = "Not clinic staff", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's institution", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_handover_settings(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<yifei_contract::HandoverSettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let id = id.into_inner();
    let s = state
        .db
        .run(move |conn| {
            crate::manifests::signatures::update_settings(conn, &caller, &id, body.0, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(s))
}
