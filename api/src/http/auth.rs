//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::{HttpRequest, HttpResponse, web};
use yifei_contract::{
    LoginRequest, LogoutRequest, Me, MeUpdate, Problem, RefreshRequest, TokenResponse,
};

use super::extract::{ApiJson, OptionalJson};
use crate::auth::{Caller, sessions};
use crate::error::ApiError;
use crate::state::AppState;

/// The client's address for the login throttle and rate limits: the peer's, or what a
/// trusted reverse proxy says in `X-Forwarded-For` (`throttle::client_addr`).
pub(crate) fn peer(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> String {
    // Several headers are one list, in order (RFC 9110 section 5.3).
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    crate::auth::throttle::client_addr(
        req.peer_addr().map(|a| a.ip()),
        forwarded.as_deref(),
        trusted,
    )
}

/// Sign in with login and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Unknown login or wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this login from this address, or too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let LoginRequest { login, password } = body.0;
    Ok(web::Json(
        sessions::login(
            &state,
            login,
            password,
            peer(&req, &state.config.trusted_proxies),
        )
        .await?,
    ))
}

/// Exchange a refresh token for a new token pair (the old refresh token is spent).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token (reuse revokes the session)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(
        sessions::refresh(&state, body.0.refresh_token).await?,
    ))
}

/// Sign out: end this session (with `refresh_token`) or all of the caller's sessions. Their
/// access tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    sessions::logout(&state, caller.user_id, body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", operation_id = "get_me", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Me>, ApiError> {
    let id = caller.user_id;
    Ok(web::Json(
        state.db.run(move |conn| sessions::me(conn, &id)).await?,
    ))
}

/// Change the caller's notification email (alerts and digests go there).
#[utoipa::path(patch, path = "/api/v1/me", tag = "auth", request_body = MeUpdate, security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<MeUpdate>,
) -> Result<web::Json<Me>, ApiError> {
    let (id, email) = (caller.user_id, body.0.email);
    Ok(web::Json(
        state
            .db
            .run(move |conn| sessions::set_email(conn, &id, &email))
            .await?,
    ))
}
