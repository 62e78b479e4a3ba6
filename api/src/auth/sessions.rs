//! Sign-in, refresh-token rotation with reuse detection, sign-out, and the caller's profile.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Me, Role, TokenResponse, UserSummary};

use crate::auth::{password, tokens};
use crate::db::schema::{institutions, organisations, refresh_tokens, users};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::state::AppState;

/// A user row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub login: String,
    pub password_hash: String,
    pub role: String,
    pub org_id: Option<String>,
    pub institution_id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
}

impl UserRow {
    fn role(&self) -> Result<Role, ApiError> {
        Role::parse(&self.role).ok_or_else(|| {
            ApiError::Internal(format!("user {} has unknown role {}", self.id, self.role))
        })
    }

    /// The tenant carried in tokens.
    fn tenant(&self) -> Option<String> {
        self.institution_id.clone().or_else(|| self.org_id.clone())
    }
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshToken<'a> {
    id: String,
    family_id: &'a str,
    user_id: &'a str,
    token_hash: String,
    issued_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

fn store_refresh(
    conn: &mut DbConnection,
    state_ttl: std::time::Duration,
    family_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let token = tokens::new_refresh_token()?;
    let ttl = chrono::Duration::from_std(state_ttl).unwrap_or(chrono::Duration::days(30));
    diesel::insert_into(refresh_tokens::table)
        .values(NewRefreshToken {
            id: new_id(),
            family_id,
            user_id,
            token_hash: tokens::hash_refresh_token(&token),
            issued_at: now.naive_utc(),
            expires_at: (now + ttl).naive_utc(),
        })
        .execute(conn)?;
    Ok(token)
}

fn token_response(
    state: &AppState,
    user: &UserRow,
    refresh_token: String,
    now: DateTime<Utc>,
) -> Result<TokenResponse, ApiError> {
    let role = user.role()?;
    let tenant = user.tenant();
    let access = state.keys.issue(
        &user.id,
        role,
        tenant.as_deref(),
        now,
        state.config.access_ttl,
    )?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: i64::try_from(state.config.access_ttl.as_secs()).unwrap_or(i64::MAX),
        user: UserSummary {
            id: user.id.clone(),
            role,
            org_id: tenant,
        },
    })
}

const BAD_CREDENTIALS: &str = "unknown login or wrong password";

/// Checks the password and opens a new session (a new refresh-token family).
pub async fn login(
    state: &actix_web::web::Data<AppState>,
    login: String,
    password_attempt: String,
    addr: String,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    if let Some(wait) = state.throttle.check(&login, &addr, now) {
        return Err(ApiError::TooManyRequests {
            retry_after_s: wait,
        });
    }
    let login_key = login.trim().to_lowercase();
    let st = state.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let user: Option<UserRow> = users::table
                .filter(users::login.eq(&login_key))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            let Some(user) = user else {
                // Same work as a real check, so timing does not reveal unknown logins.
                password::verify(&password_attempt, password::dummy_hash());
                return Ok(None);
            };
            if !password::verify(&password_attempt, &user.password_hash) || !user.active {
                return Ok(None);
            }
            let refresh = store_refresh(conn, st.config.refresh_ttl, &new_id(), &user.id, now)?;
            Ok(Some(token_response(&st, &user, refresh, now)?))
        })
        .await?;
    match outcome {
        Some(t) => {
            state.throttle.record_success(&login, &addr);
            tracing::info!(user_id = %t.user.id, role = t.user.role.as_str(), "login");
            Ok(t)
        }
        None => {
            state.throttle.record_failure(&login, &addr, now);
            tracing::warn!(addr = %addr, "failed login");
            Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()))
        }
    }
}

/// id, family, user, expiry, used, revoked.
type TokenRow = (
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
);

enum Rotation {
    Rotated(Box<TokenResponse>),
    Reused { family_id: String },
    Invalid(&'static str),
}

/// Exchanges a refresh token for a new pair. A token presented twice means it leaked (or the
/// client misbehaves): the whole family is revoked and every holder must sign in again.
pub async fn refresh(
    state: &actix_web::web::Data<AppState>,
    presented: String,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    let st = state.clone();
    let outcome = state
        .db
        .run(move |conn| {
            crate::db::write_tx(conn, |conn| {
                let hash = tokens::hash_refresh_token(&presented);
                let row: Option<TokenRow> = refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(&hash))
                    .select((
                        refresh_tokens::id,
                        refresh_tokens::family_id,
                        refresh_tokens::user_id,
                        refresh_tokens::expires_at,
                        refresh_tokens::used_at,
                        refresh_tokens::revoked_at,
                    ))
                    .first(conn)
                    .optional()?;
                let Some((id, family_id, user_id, expires_at, used_at, revoked_at)) = row else {
                    return Ok(Rotation::Invalid("unknown refresh token"));
                };
                if revoked_at.is_some() {
                    return Ok(Rotation::Invalid("refresh token revoked"));
                }
                if used_at.is_some() {
                    revoke_family(conn, &family_id, now)?;
                    return Ok(Rotation::Reused { family_id });
                }
                if expires_at <= now.naive_utc() {
                    return Ok(Rotation::Invalid("refresh token expired"));
                }
                // Claim the token; a concurrent refresh with the same token loses here.
                let claimed = diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::id.eq(&id))
                        .filter(refresh_tokens::used_at.is_null())
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::used_at.eq(now.naive_utc()))
                .execute(conn)?;
                if claimed != 1 {
                    revoke_family(conn, &family_id, now)?;
                    return Ok(Rotation::Reused { family_id });
                }
                let user: UserRow = users::table
                    .find(&user_id)
                    .select(UserRow::as_select())
                    .first(conn)?;
                if !user.active {
                    revoke_family(conn, &family_id, now)?;
                    return Ok(Rotation::Invalid("account disabled"));
                }
                let token = store_refresh(conn, st.config.refresh_ttl, &family_id, &user.id, now)?;
                Ok(Rotation::Rotated(Box::new(token_response(
                    &st, &user, token, now,
                )?)))
            })
        })
        .await?;
    match outcome {
        Rotation::Rotated(t) => Ok(*t),
        Rotation::Reused { family_id } => {
            tracing::warn!(family_id = %family_id, "refresh token reuse: session revoked");
            Err(ApiError::Unauthorized(
                "refresh token already used; the session was revoked, sign in again".into(),
            ))
        }
        Rotation::Invalid(why) => Err(ApiError::Unauthorized(why.into())),
    }
}

fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now.naive_utc()))
    .execute(conn)?)
}

/// Ends the session of `refresh_token` (it must be the caller's), or all the caller's sessions.
pub async fn logout(
    state: &actix_web::web::Data<AppState>,
    user_id: String,
    refresh_token: Option<String>,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            match refresh_token {
                Some(t) => {
                    let family: Option<String> = refresh_tokens::table
                        .filter(refresh_tokens::token_hash.eq(tokens::hash_refresh_token(&t)))
                        .filter(refresh_tokens::user_id.eq(&user_id))
                        .select(refresh_tokens::family_id)
                        .first(conn)
                        .optional()?;
                    if let Some(f) = family {
                        revoke_family(conn, &f, now)?;
                    }
                }
                None => {
                    diesel::update(
                        refresh_tokens::table
                            .filter(refresh_tokens::user_id.eq(&user_id))
                            .filter(refresh_tokens::revoked_at.is_null()),
                    )
                    .set(refresh_tokens::revoked_at.eq(now.naive_utc()))
                    .execute(conn)?;
                }
            }
            Ok(())
        })
        .await
}

/// The caller's profile: who they are and the tenant they act for.
pub fn me(conn: &mut DbConnection, user_id: &str) -> Result<Me, ApiError> {
    let user: UserRow = users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::Unauthorized("account no longer exists".into()))?;
    let role = user.role()?;
    let (mut org_name, mut institution_status, mut townships) = (None, None, Vec::new());
    if let Some(inst) = &user.institution_id {
        let (name, status): (String, String) = institutions::table
            .find(inst)
            .select((institutions::name, institutions::status))
            .first(conn)?;
        org_name = Some(name);
        institution_status = Some(status);
    } else if let Some(org) = &user.org_id {
        let (name, t): (String, String) = organisations::table
            .find(org)
            .select((organisations::name, organisations::townships))
            .first(conn)?;
        org_name = Some(name);
        townships = serde_json::from_str(&t).unwrap_or_default();
    }
    Ok(Me {
        id: user.id.clone(),
        login: user.login.clone(),
        role,
        org_id: user.tenant(),
        org_name,
        institution_status,
        townships,
        email: user.email,
    })
}

/// Changes the caller's notification address (`""` removes it).
pub fn set_email(conn: &mut DbConnection, user_id: &str, email: &str) -> Result<Me, ApiError> {
    let mut errors = Vec::new();
    let email = crate::institutions::check_email(Some(email), "email", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    crate::db::write_tx(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::email.eq(&email))
            .execute(conn)?;
        me(conn, user_id)
    })
}
