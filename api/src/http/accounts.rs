//! `/api/v1/me/password` and `/api/v1/users`: the account lifecycle (change and reset
//! passwords, deactivate and reactivate). Each change ends the sessions it must at once.

use actix_web::HttpResponse;
use actix_web::{HttpRequest, web};
use serde::Deserialize;
use utoipa::IntoParams;
use yifei_contract::{
    NewUserAccount, OrganisationPage, PasswordChange, PasswordReset, Problem, TokenResponse,
    UserAccount, UserPage,
};

use super::extract::ApiJson;
use crate::accounts::{self, Actor, NewAccount};
use crate::auth::{Caller, sessions};
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{Cursor, page_limit};

/// Change your own password (the current one is required). Every session of the account
/// ends, this one included; the answer is a new session to continue with.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", operation_id = "change_own_password",
    request_body = PasswordChange, security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed; use these new tokens, every old one is void", body = TokenResponse),
        (status = 422, description = "`current_password` is wrong, or `new_password` too short or long", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_own_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: ApiJson<PasswordChange>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    let addr = super::auth::peer(&req, &state.config.trusted_proxies);
    Ok(web::Json(
        sessions::change_password(&state, caller.user_id, current_password, new_password, addr)
            .await?,
    ))
}

/// Paging of the admin lists (`GET /api/v1/users`, `GET /api/v1/organisations`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Every account, in creation order (admin only).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", operation_id = "list_users",
    params(UserQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page", body = UserPage)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<UserQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let q = q.into_inner();
    let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let limit = page_limit(q.limit)?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| accounts::list_users(conn, &caller, cursor, limit))
            .await?,
    ))
}

/// Create a staff account (admin), as `yifei user create` does: the role decides the tenant
/// (`org_id` for bureau and company staff, `institution_id` for clinic staff and hub
/// keepers, neither for an admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", operation_id = "create_user",
    request_body = NewUserAccount, security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; the user signs in with the password given", body = UserAccount),
        (status = 409, description = "Login already taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad login, email or password, or a tenant that does not fit the role", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewUserAccount>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let account = NewAccount {
        login: b.login,
        role: b.role,
        org_id: b.org_id.filter(|s| !s.is_empty()),
        institution_id: b.institution_id.filter(|s| !s.is_empty()),
        email: b.email.filter(|s| !s.trim().is_empty()),
        display_name: b
            .display_name
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        password: b.password,
    };
    let now = state.clock.now();
    let created = state
        .db
        .run(move |conn| accounts::create_by_admin(conn, &caller, account, now))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Every organisation, in creation order, with its count of active accounts (admin only).
/// Organisations are created at the server (`yifei org create`).
#[utoipa::path(get, path = "/api/v1/organisations", tag = "accounts", operation_id = "list_organisations",
    params(UserQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page", body = OrganisationPage)))]
pub async fn list_orgs(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<UserQuery>,
) -> Result<web::Json<OrganisationPage>, ApiError> {
    let q = q.into_inner();
    let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let limit = page_limit(q.limit)?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| accounts::list_orgs(conn, &caller, cursor, limit))
            .await?,
    ))
}

async fn set_active(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    active: bool,
) -> Result<web::Json<UserAccount>, ApiError> {
    let now = state.clock.now();
    let uid = id.clone();
    let account = state
        .db
        .run(move |conn| accounts::set_active(conn, Actor::User(&caller), &uid, active, now))
        .await?;
    state.sessions.forget_user(&id);
    Ok(web::Json(account))
}

/// Deactivate an account (admin): it cannot sign in, and its sessions end at once. Refused
/// for the caller's own account and for the last active admin.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "accounts", operation_id = "deactivate_user",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deactivated", body = UserAccount),
        (status = 409, description = "Your own account, or the last active admin", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<UserAccount>, ApiError> {
    set_active(state, caller, id.into_inner(), false).await
}

/// Reactivate an account (admin); the user signs in again with their password.
#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "accounts", operation_id = "reactivate_user",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active again", body = UserAccount),
        (status = 409, description = "Your own account", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<UserAccount>, ApiError> {
    set_active(state, caller, id.into_inner(), true).await
}

/// Set another user's password (admin); every session of that user ends.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "accounts", operation_id = "reset_user_password",
    params(("id" = String, Path, description = "User id")),
    request_body = PasswordReset, security(("bearer" = [])),
    responses(
        (status = 200, description = "Password set; the user's sessions ended", body = UserAccount),
        (status = 409, description = "Your own account: use POST /api/v1/me/password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<PasswordReset>,
) -> Result<web::Json<UserAccount>, ApiError> {
    let (id, now, pw) = (id.into_inner(), state.clock.now(), body.0.new_password);
    let uid = id.clone();
    let account = state
        .db
        .run(move |conn| accounts::reset_password(conn, Actor::User(&caller), &uid, &pw, now))
        .await?;
    state.sessions.forget_user(&id);
    Ok(web::Json(account))
}
