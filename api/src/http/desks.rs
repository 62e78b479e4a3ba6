//! `/api/v1/storage-clocks` and `/api/v1/plant/intake`: what the clinic's and the plant's
//! desks read beside the container lists.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{Intake, StorageClocks};

use crate::auth::Caller;
use crate::custody::intake;
use crate::error::ApiError;
use crate::pickups::clocks;
use crate::state::AppState;
use actix_web::web;

/// The sealed containers waiting at the caller's institution (a hub keeper: also the village
/// boxes of the hub) with their storage deadlines, oldest seal first (clinic staff, hub keepers).
#[utoipa::path(get, path = "/api/v1/storage-clocks", tag = "custody", operation_id = "list_storage_clocks",
    security(("bearer" = [])),
    responses((status = 200, description = "Waiting containers and their deadlines", body = StorageClocks)))]
pub async fn storage_clocks(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<StorageClocks>, ApiError> {
    let (now, overrides) = (state.clock.now(), state.config.alerts);
    Ok(web::Json(
        state
            .db
            .run(move |conn| clocks::list(conn, &caller, now, &overrides))
            .await?,
    ))
}

/// A local calendar day (today when absent).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntakeQuery {
    /// `YYYY-MM-DD`, local calendar day of the deployment, within five years back.
    pub date: Option<NaiveDate>,
}

/// The receipts and refusals of a day at the caller's company's plant, with the day's
/// totals (plant operators, dispatchers, admin).
#[utoipa::path(get, path = "/api/v1/plant/intake", tag = "custody", operation_id = "get_plant_intake",
    params(IntakeQuery), security(("bearer" = [])),
    responses((status = 200, description = "The day's intake", body = Intake)))]
pub async fn plant_intake(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<IntakeQuery>,
) -> Result<web::Json<Intake>, ApiError> {
    let tz = state.config.tz;
    let today = state.clock.now().with_timezone(&tz).date_naive();
    let day = q.date.unwrap_or(today);
    crate::runs::check_day("date", day, today, crate::runs::READ_DAYS)?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| intake::of_day(conn, &caller, day, tz))
            .await?,
    ))
}
