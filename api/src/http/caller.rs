//! The request extractor behind every authenticated route: it turns an access token into a
//! [`Caller`] once the token's session is found live.
//!
//! Two carriers of the token, one check:
//! - `Authorization: Bearer <token>`: the mobile app and every machine client;
//! - the console's `HttpOnly` cookie ([`console::ACCESS_COOKIE`]), which page scripts cannot
//!   read (an injected script cannot steal it). A cookie travels with any request the browser
//!   makes, so a cookie-borne token counts only with the [`CONSOLE_HEADER`] header as well: a
//!   page of another origin cannot add a custom header without a CORS preflight this server
//!   never grants, and the cookie is `SameSite=Strict` besides (two independent guards
//!   against cross-site request forgery).

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use yifei_contract::Role;

use super::console;
use crate::auth::{Caller, sessions};
use crate::error::ApiError;
use crate::state::AppState;

/// The header the console's scripts send with every request (value `1`).
pub const CONSOLE_HEADER: &str = "x-yifei-console";

/// Whether the request carries the console's anti-forgery header.
pub fn has_console_header(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONSOLE_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
}

/// The access token of the request, from its `Authorization` header or else from the
/// console's cookie (which needs the console header).
fn presented_token(req: &HttpRequest) -> Result<String, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
        // The scheme name is case-insensitive (RFC 7235 2.1).
        return value
            .trim_start()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into())
            });
    }
    if let Some(cookie) = req.cookie(console::ACCESS_COOKIE) {
        if !has_console_header(req) {
            return Err(ApiError::Forbidden(format!(
                "a request signed in by the console's cookie must carry `{CONSOLE_HEADER}: 1`"
            )));
        }
        return Ok(cookie.value().to_owned());
    }
    Err(ApiError::Unauthorized("missing bearer token".into()))
}

/// The caller a token claims to be, its session id, and the state to check the session with.
fn claimed_caller(req: &HttpRequest) -> Result<(web::Data<AppState>, Caller, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let token = presented_token(req)?;
    let claims = state.keys.verify(&token, state.clock.now())?;
    let role = Role::parse(&claims.role)
        .ok_or_else(|| ApiError::Unauthorized("invalid access token".into()))?;
    let caller = Caller {
        user_id: claims.sub,
        role,
        tenant: claims.org,
    };
    Ok((state.clone(), caller, claims.sid))
}

/// Whether the token's session is live: from the process's cache when it was checked within
/// the last `YIFEI_SESSION_CHECK_MS`, else one primary-key lookup.
async fn check_session(
    state: web::Data<AppState>,
    caller: Caller,
    sid: String,
) -> Result<Caller, ApiError> {
    let now = state.clock.now();
    let live = match state.sessions.fresh(&sid, &caller.user_id, now) {
        Some(live) => live,
        None => {
            let generation = state.sessions.generation();
            let (s, u) = (sid.clone(), caller.user_id.clone());
            let live = state
                .db
                .run(move |conn| sessions::session_is_live(conn, &s, &u))
                .await?;
            state
                .sessions
                .remember(&sid, &caller.user_id, live, now, generation);
            live
        }
    };
    if live {
        Ok(caller)
    } else {
        Err(ApiError::Unauthorized(
            "the session has ended (signed out, revoked or account deactivated); sign in again"
                .into(),
        ))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claimed = claimed_caller(req);
        Box::pin(async move {
            let (state, caller, sid) = claimed?;
            check_session(state, caller, sid).await
        })
    }
}
