//! Tracking: a run's GPS track (GeoJSON) and the fleet's last positions.

use actix_web::{HttpResponse, web};
use yifei_contract::{RunTrack, VehiclePositionList};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tracking::store;

/// A run's track as GeoJSON (`application/geo+json`): the fixes in time order as a
/// LineString, the plant and the planned stops as Points. Its company's dispatchers and
/// plant, its driver, bureau staff of a township it stops in, admin.
#[utoipa::path(get, path = "/api/v1/runs/{id}/track", tag = "runs", operation_id = "run_track",
    params(("id" = String, Path, description = "Run id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection", body = RunTrack, content_type = "application/geo+json"),
        (status = 403, description = "Institutions do not read tracks", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run the caller may read", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_track(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let t = state
        .db
        .run(move |conn| store::track(conn, &caller, &id))
        .await?;
    let body = serde_json::to_vec(&t).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .body(body))
}

/// Each vehicle's last position (its latest fix of the past week): a dispatcher their
/// company's, a driver their own runs', bureau staff those stopping in their jurisdiction.
#[utoipa::path(get, path = "/api/v1/vehicles/positions", tag = "runs", operation_id = "vehicle_positions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Last positions, by plate", body = VehiclePositionList),
        (status = 403, description = "Not a dispatcher, driver or bureau staff", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn vehicle_positions(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<VehiclePositionList>, ApiError> {
    let today = state
        .clock
        .now()
        .with_timezone(&state.config.tz)
        .date_naive();
    let items = state
        .db
        .run(move |conn| store::last_positions(conn, &caller, today))
        .await?;
    Ok(web::Json(VehiclePositionList { items }))
}
