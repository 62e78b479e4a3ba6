//! `/api/v1/containers/{code}/corrections`, `/api/v1/corrections/{id}/approve|refuse`,
//! `/api/v1/manifests/{number}/corrections`: corrections approved by the other parties.

use actix_web::{HttpResponse, web};
use yifei_contract::{Correction, CorrectionList, CorrectionVote, NewCorrection};

use super::extract::ApiJson;
use crate::auth::Caller;
use crate::custody::store::corrections;
use crate::error::ApiError;
use crate::state::AppState;

/// Ask the other parties of the container's custody to correct a scan's weight or the
/// container's category (a party of its custody; not before another party handled it).
#[utoipa::path(post, path = "/api/v1/containers/{code}/corrections", tag = "custody", operation_id = "request_correction",
    params(("code" = String, Path, description = "Label code")),
    request_body = NewCorrection,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Requested, waiting for the other parties", body = Correction),
        (status = 409, description = "Nobody else to approve yet, or the same correction is already waiting", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn request(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: ApiJson<NewCorrection>,
) -> Result<HttpResponse, ApiError> {
    let (code, body, now) = (code.into_inner(), body.0, state.clock.now());
    let c = state
        .db
        .run(move |conn| corrections::request(conn, &caller, &code, &body, now))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

async fn vote(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    approve: bool,
    body: CorrectionVote,
) -> Result<web::Json<Correction>, ApiError> {
    let now = state.clock.now();
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                corrections::vote(conn, &caller, &id, approve, body.note.as_deref(), now)
            })
            .await?,
    ))
}

/// Approve a correction for your party (not your own party's request); the last approval
/// applies it as a new event of the container's hash chain.
#[utoipa::path(post, path = "/api/v1/corrections/{id}/approve", tag = "custody", operation_id = "approve_correction",
    params(("id" = String, Path, description = "Correction id")),
    request_body = CorrectionVote,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The correction after the decision", body = Correction),
        (status = 409, description = "Already decided (by your party, or refused or approved)", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<CorrectionVote>,
) -> Result<web::Json<Correction>, ApiError> {
    vote(state, caller, id.into_inner(), true, body.0).await
}

/// Refuse a correction for your party (not your own party's request): nothing changes.
#[utoipa::path(post, path = "/api/v1/corrections/{id}/refuse", tag = "custody", operation_id = "refuse_correction",
    params(("id" = String, Path, description = "Correction id")),
    request_body = CorrectionVote,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The correction after the decision", body = Correction),
        (status = 409, description = "Already decided (by your party, or refused or approved)", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn refuse(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<CorrectionVote>,
) -> Result<web::Json<Correction>, ApiError> {
    vote(state, caller, id.into_inner(), false, body.0).await
}

/// The corrections of a container, oldest first, with their decisions.
#[utoipa::path(get, path = "/api/v1/containers/{code}/corrections", tag = "custody", operation_id = "list_container_corrections",
    params(("code" = String, Path, description = "Label code")),
    security(("bearer" = [])),
    responses((status = 200, description = "Corrections", body = CorrectionList)))]
pub async fn of_container(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<CorrectionList>, ApiError> {
    let code = code.into_inner();
    let items = state
        .db
        .run(move |conn| corrections::of_container(conn, &caller, &code))
        .await?;
    Ok(web::Json(CorrectionList { items }))
}

/// The corrections of a manifest's containers, oldest first, with their decisions.
#[utoipa::path(get, path = "/api/v1/manifests/{number}/corrections", tag = "runs", operation_id = "list_manifest_corrections",
    params(("number" = String, Path, description = "Manifest number")),
    security(("bearer" = [])),
    responses((status = 200, description = "Corrections", body = CorrectionList)))]
pub async fn of_manifest(
    state: web::Data<AppState>,
    caller: Caller,
    number: web::Path<String>,
) -> Result<web::Json<CorrectionList>, ApiError> {
    let number = number.into_inner();
    let items = state
        .db
        .run(move |conn| corrections::of_manifest(conn, &caller, &number))
        .await?;
    Ok(web::Json(CorrectionList { items }))
}
