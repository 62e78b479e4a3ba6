//! The watch list (重点监控名单): list and export, strike off with evidence.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{StrikeOffRequest, WatchEntry, WatchPage};

use super::extract::{ApiJson, csv_attachment, wants_csv};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::oversight::watchlist;
use crate::state::AppState;
use crate::wire::{Cursor, page_limit};

/// Filters of `GET /api/v1/watch-list`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WatchQuery {
    /// `open`, `escalated` or `struck_off`.
    pub status: Option<String>,
    /// Township (within the caller's jurisdiction).
    pub township: Option<String>,
    /// Rule: `storage_breach`, `missed_collection`, `failed_inspection` or `discrepancy`.
    pub rule: Option<String>,
    /// One institution.
    pub institution_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `json` (default) or `csv` (also `Accept: text/csv`).
    #[param(value_type = Option<yifei_contract::ExportFormat>)]
    pub format: Option<String>,
}

/// The watch list of the caller's jurisdiction, newest first (bureau staff; admin); CSV
/// with `format=csv`. Entries come from the rules, evaluated with the alerts.
#[utoipa::path(get, path = "/api/v1/watch-list", tag = "oversight", operation_id = "list_watch_list", params(WatchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries", content((WatchPage = "application/json"), (String = "text/csv"))),
        (status = 403, description = "Not the bureau's, or a township outside the jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    q: web::Query<WatchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    if let Some(s) = &q.status
        && ![watchlist::OPEN, watchlist::ESCALATED, watchlist::STRUCK_OFF].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            "must be open, escalated or struck_off",
        ));
    }
    if let Some(r) = &q.rule
        && !watchlist::RULES.contains(&r.as_str())
    {
        return Err(ApiError::invalid(
            "rule",
            format!("must be one of {}", watchlist::RULES.join(", ")),
        ));
    }
    let csv = wants_csv(&req, q.format.as_deref())?;
    let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let limit = page_limit(q.limit)?;
    let f = watchlist::Filter {
        status: q.status,
        township: q.township,
        rule: q.rule,
        institution_id: q.institution_id,
    };
    let p = state
        .db
        .run(move |conn| watchlist::list(conn, &caller, f, cursor, limit))
        .await?;
    Ok(if csv {
        csv_attachment("watch-list", watchlist::csv(&p))
    } else {
        HttpResponse::Ok().json(p)
    })
}

/// Strike an entry off (销号) with evidence: a passed re-inspection after it opened, or
/// (except a failed inspection) the condition cleared for `YIFEI_WATCH_CLEARED_DAYS`
/// (health-bureau staff of its township; admin).
#[utoipa::path(post, path = "/api/v1/watch-list/{id}/strike-off", tag = "oversight", operation_id = "strike_off_watch_entry",
    params(("id" = String, Path, description = "Entry id")),
    request_body = StrikeOffRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Struck off", body = WatchEntry),
        (status = 404, description = "No such entry in the caller's jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already struck off", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The evidence does not show it fixed", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn strike_off(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<StrikeOffRequest>,
) -> Result<web::Json<WatchEntry>, ApiError> {
    let (id, now, rules) = (id.into_inner(), state.clock.now(), state.config.watch);
    Ok(web::Json(
        state
            .db
            .run(move |conn| watchlist::strike_off(conn, &caller, &id, body.0, &rules, now))
            .await?,
    ))
}
