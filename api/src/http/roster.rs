//! The bureau's roster of licensed institutions: import, list, per-township counts, invite.

use actix_web::web;
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    Invitation, InviteRequest, RosterImport, RosterImportReport, RosterPage, RosterStatus,
    RosterTownship,
};

use super::extract::{ApiJson, ImportBody};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::roster::{self, store};
use crate::state::AppState;
use crate::wire::{Cursor, page_limit, parse_query_enum};

/// Import the list of licensed institutions (health-bureau staff, their jurisdiction; admin):
/// CSV (`text/csv`, UTF-8, header `licence_no,name,kind,township,village,address,lat,lng,beds,self_disposal_basis`
/// or the Chinese headers) or JSON. Idempotent by licence number; says what it added, changed
/// and could not read (row and field), and which entries match a signed-up institution.
#[utoipa::path(post, path = "/api/v1/roster/import", tag = "roster", operation_id = "import_roster",
    request_body(content((RosterImport = "application/json"), (String = "text/csv")), description = "The list"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the import did", body = RosterImportReport),
        (status = 403, description = "Not health-bureau staff or admin", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file cannot be read at all (no header, too many rows)", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    body: ImportBody,
) -> Result<web::Json<RosterImportReport>, ApiError> {
    caller.require(&[
        yifei_contract::Role::BureauStaff,
        yifei_contract::Role::Admin,
    ])?;
    let rows = match &body {
        ImportBody::Csv(text) => roster::from_csv(text)?,
        ImportBody::Json(v) => roster::from_json(v)?,
    };
    let now = state.clock.now();
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::import_as(conn, &caller, rows, now))
            .await?,
    ))
}

/// Filters of `GET /api/v1/roster`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RosterQuery {
    /// One township (bureau staff: of their jurisdiction, else 403).
    pub township: Option<String>,
    /// `signed_up`, `pending`, `not_signed_up`, `self_disposal`, or
    /// `not_in_centralised_disposal` (pending or not signed up).
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The roster of the caller's jurisdiction by licence number, each entry with where it stands
/// (bureau staff; admin).
#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", operation_id = "list_roster", params(RosterQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Entries", body = RosterPage)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<RosterQuery>,
) -> Result<web::Json<RosterPage>, ApiError> {
    let q = q.into_inner();
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("not_in_centralised_disposal") => {
            Some(vec![RosterStatus::Pending, RosterStatus::NotSignedUp])
        }
        Some(s) => Some(vec![parse_query_enum::<RosterStatus>("status", s)?]),
    };
    let f = store::ListFilter {
        township: q.township.filter(|t| !t.trim().is_empty()),
        status,
        cursor: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        limit: page_limit(q.limit)?,
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::list(conn, &caller, f))
            .await?,
    ))
}

/// Per township: on the roster, signed up, pending, not signed up ("not in centralised
/// disposal"), and self-disposal on its own line (bureau staff; admin).
#[utoipa::path(get, path = "/api/v1/roster/townships", tag = "roster", operation_id = "roster_townships",
    security(("bearer" = [])),
    responses((status = 200, description = "Counts by township", body = Vec<RosterTownship>)))]
pub async fn townships(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<RosterTownship>>, ApiError> {
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::townships(conn, &caller))
            .await?,
    ))
}

/// Invite a roster entry that has not signed up (health-bureau staff of its township; admin):
/// a new single-use sign-up code and a printable letter, emailed through the outbox when
/// `email` is given.
#[utoipa::path(post, path = "/api/v1/roster/{id}/invite", tag = "roster", operation_id = "invite_roster_entry",
    params(("id" = String, Path, description = "Roster entry id")),
    request_body = InviteRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "The code and the letter", body = Invitation),
        (status = 404, description = "No such entry in the caller's jurisdiction", body = yifei_contract::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already signed up", body = yifei_contract::Problem, content_type = "application/problem+json"),
    ))]
pub async fn invite(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<InviteRequest>,
) -> Result<web::Json<Invitation>, ApiError> {
    let (id, now, tz) = (id.into_inner(), state.clock.now(), state.config.tz);
    let email = body.0.email;
    Ok(web::Json(
        state
            .db
            .run(move |conn| store::invite(conn, &caller, &id, email, now, tz))
            .await?,
    ))
}
