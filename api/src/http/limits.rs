//! Per-client-address rate limits in front of the credential endpoints (`/auth/*`, password
//! and account changes) and public sign-up: a flood from one address is answered 429 with
//! `Retry-After` before any body is read or any password hashed.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::auth::throttle::RateLimiter;
use crate::error::ApiError;
use crate::state::AppState;

async fn limited(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    pick: fn(&AppState) -> &RateLimiter,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let verdict = req.app_data::<web::Data<AppState>>().map(|state| {
        let addr = super::auth::peer(req.request(), &state.config.trusted_proxies);
        pick(state).check(&addr, state.clock.now())
    });
    match verdict {
        Some(Err(wait)) => {
            tracing::warn!(path = req.path(), "rate limited");
            let res = ApiError::TooManyRequests {
                retry_after_s: wait,
            }
            .error_response();
            Ok(req.into_response(res))
        }
        _ => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// `YIFEI_AUTH_RATE_LIMIT` per address: sign-in, refresh, sign-out, password and account
/// changes.
pub async fn auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    limited(req, next, |s| &s.auth_limit).await
}

/// `YIFEI_SIGNUP_RATE_LIMIT` per address: public sign-up.
pub async fn sign_up(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    limited(req, next, |s| &s.sign_up_limit).await
}
