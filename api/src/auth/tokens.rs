//! Access tokens (HS256 JWT, minutes) and refresh tokens (random, stored hashed, single use).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yifei_contract::Role;

use crate::error::ApiError;

/// Claims of an access token. The tenant travels in the token so that every route can check
/// it without a database round trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    /// Organisation id (company, bureau) or, for clinic staff and hub keepers, institution id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The session (sign-in) this token belongs to: checked on every request, so that ending
    /// the session ends its access tokens at once. Tokens without it are refused.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
}

const ISSUER: &str = "yifei";

/// Signing and verification keys derived from the secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Result<JwtKeys, ApiError> {
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret)
                .map_err(|e| ApiError::Config(format!("JWT secret: {e}")))?,
            decoding: DecodingKey::from_secret(secret)
                .map_err(|e| ApiError::Config(format!("JWT secret: {e}")))?,
        })
    }

    /// Issues an access token valid for `ttl` from `now`.
    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        role: Role,
        org: Option<&str>,
        now: DateTime<Utc>,
        ttl: std::time::Duration,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            role: role.as_str().to_owned(),
            org: org.map(str::to_owned),
            sid: session_id.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::now_v7().to_string(),
            iss: ISSUER.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("JWT encode: {e}")))
    }

    /// Verifies signature, algorithm and issuer, and expiry against the injected clock (the
    /// library's own expiry check would read the wall clock).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        // A token of an older build has no `sid`: it fails to decode, and the client
        // refreshes it like an expired one.
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|_| ApiError::Unauthorized("invalid access token".into()))?;
        if data.claims.exp <= now.timestamp() {
            return Err(ApiError::Unauthorized("access token expired".into()));
        }
        Ok(data.claims)
    }
}

/// A new refresh token: 32 random bytes, base64url. Shown to the client once.
pub fn new_refresh_token() -> Result<String, ApiError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the database keeps of a refresh token: a stolen database copy cannot be replayed.
pub fn hash_refresh_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| ApiError::Internal(format!("OS randomness: {e}")))?;
    Ok(buf)
}

/// A fresh JWT secret for deployments that did not configure one.
pub fn generate_secret() -> Result<String, ApiError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<48>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn access_tokens_round_trip_and_expire_by_the_injected_clock() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").expect("keys");
        let tok = keys
            .issue(
                "u1",
                "s1",
                Role::Driver,
                Some("org1"),
                t0(),
                Duration::from_secs(900),
            )
            .expect("issue");
        let c = keys.verify(&tok, t0()).expect("valid");
        assert_eq!(
            (c.sub.as_str(), c.role.as_str(), c.org.as_deref()),
            ("u1", "driver", Some("org1"))
        );
        assert_eq!(c.sid, "s1");
        assert!(
            keys.verify(&tok, t0() + chrono::Duration::seconds(900))
                .is_err()
        );
        let other = JwtKeys::new(b"another secret of enough length!").expect("keys");
        assert!(other.verify(&tok, t0()).is_err(), "signature checked");
        assert!(keys.verify("garbage", t0()).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token().expect("token");
        let b = new_refresh_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
