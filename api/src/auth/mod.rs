//! Who is calling: passwords, tokens, sessions, and the caller extractor every route uses.

pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use yifei_contract::Role;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller, from a valid bearer access token whose session is live.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    /// Organisation id, or institution id for clinic staff and hub keepers.
    pub tenant: Option<String>,
}

impl Caller {
    /// 403 unless the caller holds one of `roles`. Checked before any lookup, so a refusal
    /// says nothing about whether the record exists.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    /// The tenant id, which every non-admin role has.
    pub fn tenant_id(&self) -> Result<&str, ApiError> {
        self.tenant
            .as_deref()
            .ok_or_else(|| ApiError::Forbidden("this account belongs to no organisation".into()))
    }
}

/// The caller a token claims to be, its session id, and the state to check the session with.
fn claimed_caller(req: &HttpRequest) -> Result<(web::Data<AppState>, Caller, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    // The scheme name is case-insensitive (RFC 7235 2.1).
    let token = value
        .trim_start()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into()))?;
    let claims = state.keys.verify(token, state.clock.now())?;
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
