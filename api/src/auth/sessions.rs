//! Sign-in, sessions, refresh-token rotation with reuse detection, sign-out, password
//! changes, and the caller's profile.
//!
//! A session is one sign-in: a row of `sessions` whose id is the refresh-token family and the
//! `sid` claim of every access token issued in it. Every request checks that its session is
//! live and its user active ([`SessionCache`]), so that logout, reuse of a refresh token,
//! deactivation and password changes end access at once rather than at token expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{FieldError, Me, Role, TokenResponse, UserSummary};

use crate::auth::{password, tokens};
use crate::db::schema::{institutions, organisations, refresh_tokens, sessions, users};
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
    pub(crate) fn role(&self) -> Result<Role, ApiError> {
        Role::parse(&self.role).ok_or_else(|| {
            ApiError::Internal(format!("user {} has unknown role {}", self.id, self.role))
        })
    }

    /// The tenant carried in tokens.
    pub(crate) fn tenant(&self) -> Option<String> {
        self.institution_id.clone().or_else(|| self.org_id.clone())
    }
}

/// What a server process remembers of sessions it has checked, so that a busy client (a
/// phone uploading scans) costs one primary-key lookup per `ttl`, not one per request.
///
/// Revocations made by this process forget the affected entries at once; a revocation made
/// by another process (a second server, the CLI) is seen when the entry expires, so `ttl`
/// (`YIFEI_SESSION_CHECK_MS`, 1 s by default) bounds how long it can take to apply.
#[derive(Debug)]
pub struct SessionCache {
    ttl: chrono::Duration,
    /// Bumped by every local revocation: a lookup that raced one is not remembered.
    generation: AtomicU64,
    entries: Mutex<HashMap<String, CachedSession>>,
}

#[derive(Debug, Clone)]
struct CachedSession {
    user_id: String,
    live: bool,
    checked_at: DateTime<Utc>,
}

impl SessionCache {
    pub fn new(ttl: std::time::Duration) -> SessionCache {
        SessionCache {
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(1)),
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered verdict on `sid` for `user_id`, if checked less than `ttl` ago.
    pub fn fresh(&self, sid: &str, user_id: &str, now: DateTime<Utc>) -> Option<bool> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.get(sid)?;
        (e.user_id == user_id && now >= e.checked_at && now - e.checked_at < self.ttl)
            .then_some(e.live)
    }

    /// The generation to pass to [`SessionCache::remember`] after a lookup.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Keeps a verdict read from the database, unless a local revocation happened since the
    /// read began (`generation`).
    pub fn remember(
        &self,
        sid: &str,
        user_id: &str,
        live: bool,
        now: DateTime<Utc>,
        generation: u64,
    ) {
        if self.ttl <= chrono::Duration::zero() {
            return;
        }
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() > 100_000 {
            let ttl = self.ttl;
            map.retain(|_, e| now - e.checked_at < ttl);
        }
        map.insert(
            sid.to_owned(),
            CachedSession {
                user_id: user_id.to_owned(),
                live,
                checked_at: now,
            },
        );
    }

    /// A session of this process was revoked.
    pub fn forget_session(&self, sid: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(sid);
    }

    /// Every session of a user was revoked (deactivation, password change).
    pub fn forget_user(&self, user_id: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.retain(|_, e| e.user_id != user_id);
    }
}

/// Whether session `sid` is live and belongs to `user_id`, an active user: one lookup by
/// primary key (joined to the user by primary key).
pub fn session_is_live(
    conn: &mut DbConnection,
    sid: &str,
    user_id: &str,
) -> Result<bool, ApiError> {
    let row: Option<(String, Option<chrono::NaiveDateTime>, bool)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(sid))
        .select((sessions::user_id, sessions::revoked_at, users::active))
        .first(conn)
        .optional()?;
    Ok(matches!(row, Some((u, None, true)) if u == user_id))
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

/// Opens a session for `user`: its row, its first refresh token and an access token.
fn open_session(
    conn: &mut DbConnection,
    state: &AppState,
    user: &UserRow,
    now: DateTime<Utc>,
) -> Result<TokenResponse, ApiError> {
    let sid = new_id();
    crate::db::write_tx(conn, |conn| {
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&sid),
                sessions::user_id.eq(&user.id),
                sessions::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        let refresh = store_refresh(conn, state.config.refresh_ttl, &sid, &user.id, now)?;
        token_response(state, user, &sid, refresh, now)
    })
}

fn token_response(
    state: &AppState,
    user: &UserRow,
    session_id: &str,
    refresh_token: String,
    now: DateTime<Utc>,
) -> Result<TokenResponse, ApiError> {
    let role = user.role()?;
    let tenant = user.tenant();
    let access = state.keys.issue(
        &user.id,
        session_id,
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

/// Takes a slot of the (database-kept, so replica-wide) login lockout before any hashing.
async fn acquire(
    state: &actix_web::web::Data<AppState>,
    login: &str,
    addr: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let (throttle, login, addr) = (state.throttle, login.to_owned(), addr.to_owned());
    state
        .db
        .run(move |c| throttle.try_acquire(c, &login, &addr, now))
        .await?
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_s: wait,
        })
}

/// A right password: the login's failures from this address are forgotten. A database error
/// here is logged, not returned: the sign-in itself succeeded.
async fn forget_failures(state: &actix_web::web::Data<AppState>, login: &str, addr: &str) {
    let (throttle, login, addr) = (state.throttle, login.to_owned(), addr.to_owned());
    let done = state
        .db
        .run(move |c| throttle.record_success(c, &login, &addr))
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot clear the login's failures");
    }
}

/// A server fault before the verdict: the attempt's slot is given back (best effort: the
/// database may be what failed).
async fn give_back(state: &actix_web::web::Data<AppState>, login: &str, addr: &str) {
    let (throttle, login, addr) = (state.throttle, login.to_owned(), addr.to_owned());
    let done = state
        .db
        .run(move |c| throttle.release(c, &login, &addr))
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot give the login attempt's slot back");
    }
}

/// Checks the password and opens a new session.
///
/// The attempt takes its throttle slot before the password is hashed, so parallel guesses
/// are refused (429) once `max_failures` of them are under way or done.
pub async fn login(
    state: &actix_web::web::Data<AppState>,
    login: String,
    password_attempt: String,
    addr: String,
) -> Result<TokenResponse, ApiError> {
    // Longer than any account's: refused before it costs a hash or a throttle slot.
    if login.len() > 256 || password_attempt.len() > 1024 {
        return Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let now = state.clock.now();
    acquire(state, &login, &addr, now).await?;
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
            Ok(Some(open_session(conn, &st, &user, now)?))
        })
        .await;
    match outcome {
        Ok(Some(t)) => {
            forget_failures(state, &login, &addr).await;
            tracing::info!(user_id = %t.user.id, role = t.user.role.as_str(), "login");
            Ok(t)
        }
        Ok(None) => {
            tracing::warn!(addr = %addr, "failed login");
            Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()))
        }
        Err(e) => {
            give_back(state, &login, &addr).await;
            Err(e)
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
/// client misbehaves): the whole session is revoked and every holder must sign in again.
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
                    revoke_session(conn, &family_id, now)?;
                    return Ok(Rotation::Reused { family_id });
                }
                if expires_at <= now.naive_utc() {
                    return Ok(Rotation::Invalid("refresh token expired"));
                }
                let session_live: bool = sessions::table
                    .find(&family_id)
                    .select(sessions::revoked_at.is_null())
                    .first(conn)
                    .optional()?
                    .unwrap_or(false);
                if !session_live {
                    return Ok(Rotation::Invalid("refresh token revoked"));
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
                    revoke_session(conn, &family_id, now)?;
                    return Ok(Rotation::Reused { family_id });
                }
                let user: UserRow = users::table
                    .find(&user_id)
                    .select(UserRow::as_select())
                    .first(conn)?;
                if !user.active {
                    revoke_session(conn, &family_id, now)?;
                    return Ok(Rotation::Invalid("account disabled"));
                }
                let token = store_refresh(conn, st.config.refresh_ttl, &family_id, &user.id, now)?;
                Ok(Rotation::Rotated(Box::new(token_response(
                    &st, &user, &family_id, token, now,
                )?)))
            })
        })
        .await?;
    match outcome {
        Rotation::Rotated(t) => Ok(*t),
        Rotation::Reused { family_id } => {
            state.sessions.forget_session(&family_id);
            tracing::warn!(family_id = %family_id, "refresh token reuse: session revoked");
            Err(ApiError::Unauthorized(
                "refresh token already used; the session was revoked, sign in again".into(),
            ))
        }
        Rotation::Invalid(why) => Err(ApiError::Unauthorized(why.into())),
    }
}

/// Ends one session: its row and every refresh token of its family.
fn revoke_session(
    conn: &mut DbConnection,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(session_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of a user (deactivation, password change or reset); returns how many
/// were live. Other server processes notice within their session-check interval.
pub fn revoke_user_sessions(
    conn: &mut DbConnection,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let n = diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(n)
}

/// Ends the session of `refresh_token` (it must be the caller's), or all the caller's sessions.
pub async fn logout(
    state: &actix_web::web::Data<AppState>,
    user_id: String,
    refresh_token: Option<String>,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let uid = user_id.clone();
    let ended = state
        .db
        .run(move |conn| {
            crate::db::write_tx(conn, |conn| match refresh_token {
                Some(t) => end_session_of_token(conn, &t, Some(&uid), now),
                None => {
                    revoke_user_sessions(conn, &uid, now)?;
                    Ok(None)
                }
            })
        })
        .await?;
    match ended {
        Some(f) => state.sessions.forget_session(&f),
        None => state.sessions.forget_user(&user_id),
    }
    Ok(())
}

/// Ends the session of a refresh token (only if it is `user`'s, when given); returns it.
fn end_session_of_token(
    conn: &mut DbConnection,
    refresh_token: &str,
    user: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    let mut q = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(tokens::hash_refresh_token(refresh_token)))
        .select(refresh_tokens::family_id)
        .into_boxed();
    if let Some(u) = user {
        q = q.filter(refresh_tokens::user_id.eq(u.to_owned()));
    }
    let family: Option<String> = q.first(conn).optional()?;
    if let Some(f) = &family {
        revoke_session(conn, f, now)?;
    }
    Ok(family)
}

/// Ends the session a refresh token belongs to, whoever presents it: the console signs out
/// with the refresh cookie alone, since its access cookie may have expired already. An unknown
/// token ends nothing (the answer is the same, so it tells nothing).
pub async fn end_session_of(
    state: &actix_web::web::Data<AppState>,
    refresh_token: String,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let ended = state
        .db
        .run(move |conn| {
            crate::db::write_tx(conn, |conn| {
                end_session_of_token(conn, &refresh_token, None, now)
            })
        })
        .await?;
    if let Some(f) = ended {
        state.sessions.forget_session(&f);
    }
    Ok(())
}

/// Changes the caller's own password, which needs the current one. Every session of the user
/// ends (a thief holding one is out); the answer is a new session for the caller.
///
/// A wrong current password counts against the login throttle like a failed login, so a
/// stolen access token cannot be used to guess the password.
pub async fn change_password(
    state: &actix_web::web::Data<AppState>,
    user_id: String,
    current: String,
    new: String,
    addr: String,
) -> Result<TokenResponse, ApiError> {
    if let Some(why) = password::policy_violation(&new) {
        return Err(ApiError::invalid("new_password", why));
    }
    let uid = user_id.clone();
    let login: String = state
        .db
        .run(move |conn| {
            Ok(users::table
                .find(&uid)
                .select(users::login)
                .first(conn)
                .optional()?)
        })
        .await?
        .ok_or_else(|| ApiError::Unauthorized("account no longer exists".into()))?;
    let now = state.clock.now();
    acquire(state, &login, &addr, now).await?;
    let (st, uid) = (state.clone(), user_id.clone());
    let outcome = state
        .db
        .run(move |conn| {
            let user: UserRow = users::table
                .find(&uid)
                .select(UserRow::as_select())
                .first(conn)?;
            if !password::verify(&current, &user.password_hash) {
                return Ok(None);
            }
            let hash = password::hash(&new)?;
            crate::db::write_tx(conn, |conn| {
                diesel::update(users::table.find(&uid))
                    .set(users::password_hash.eq(&hash))
                    .execute(conn)?;
                revoke_user_sessions(conn, &uid, now)
            })?;
            Ok(Some(open_session(conn, &st, &user, now)?))
        })
        .await;
    match outcome {
        Ok(Some(t)) => {
            forget_failures(state, &login, &addr).await;
            state.sessions.forget_user(&user_id);
            tracing::info!(user_id = %user_id, "password changed; other sessions ended");
            Ok(t)
        }
        Ok(None) => Err(ApiError::Validation(vec![FieldError {
            field: "current_password".into(),
            message: "is not your current password".into(),
        }])),
        Err(e) => {
            give_back(state, &login, &addr).await;
            Err(e)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
            .single()
            .expect("t0")
    }

    #[test]
    fn a_checked_session_is_trusted_for_the_ttl_only() {
        let c = SessionCache::new(std::time::Duration::from_secs(1));
        assert_eq!(c.fresh("s1", "u1", t0()), None);
        c.remember("s1", "u1", true, t0(), c.generation());
        assert_eq!(
            c.fresh("s1", "u1", t0() + chrono::Duration::milliseconds(999)),
            Some(true)
        );
        assert_eq!(
            c.fresh("s1", "u1", t0() + chrono::Duration::seconds(1)),
            None
        );
        // A token naming another user never borrows the entry.
        assert_eq!(c.fresh("s1", "u2", t0()), None);
        c.remember("s2", "u1", false, t0(), c.generation());
        assert_eq!(c.fresh("s2", "u1", t0()), Some(false));
    }

    #[test]
    fn local_revocations_forget_at_once_and_beat_a_racing_lookup() {
        let c = SessionCache::new(std::time::Duration::from_secs(1));
        c.remember("s1", "u1", true, t0(), c.generation());
        c.remember("s2", "u1", true, t0(), c.generation());
        c.remember("s3", "u2", true, t0(), c.generation());
        c.forget_session("s1");
        assert_eq!(c.fresh("s1", "u1", t0()), None);
        c.forget_user("u1");
        assert_eq!(c.fresh("s2", "u1", t0()), None);
        assert_eq!(c.fresh("s3", "u2", t0()), Some(true));
        // A lookup that read "live" before a revocation committed is not remembered after it.
        let before = c.generation();
        c.forget_user("u2");
        c.remember("s3", "u2", true, t0(), before);
        assert_eq!(c.fresh("s3", "u2", t0()), None);
    }

    #[test]
    fn a_zero_ttl_checks_every_time() {
        let c = SessionCache::new(std::time::Duration::ZERO);
        c.remember("s1", "u1", true, t0(), c.generation());
        assert_eq!(c.fresh("s1", "u1", t0()), None);
    }
}
