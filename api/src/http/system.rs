//! Liveness, readiness and the contract document.

use actix_web::{HttpResponse, web};
use yifei_contract::Health;

use crate::state::AppState;

/// The process is up (no dependency checked: restarting would not help a database outage).
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
        database: None,
    })
}

/// Ready to serve: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable", body = Health),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = Some(state.db.backend.as_str().to_owned());
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ok".into(),
            database,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "unavailable".into(),
                database,
            })
        }
    }
}

/// The OpenAPI 3.1 document of this server (also checked in as `mobile-contract/openapi.json`).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", operation_id = "get_openapi",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(super::openapi::document_json())
}
