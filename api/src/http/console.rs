//! The browser console: its files (built into the binary) and its cookie session.
//!
//! The console is plain HTML, CSS and JavaScript modules under `api/console/`, talking to the
//! same `/api/v1` as the mobile app. A release build embeds the files; a debug build reads them
//! from that folder, so a page can be edited and reloaded without a rebuild.
//!
//! Its session keeps the tokens out of page scripts: the console signs in at
//! `/api/v1/console/session`, which answers with two `HttpOnly`, `SameSite=Strict` cookies
//! instead of tokens in the body (see `http::caller` for how they are accepted).

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::Embed;
use yifei_contract::{ConsoleSession, LoginRequest, Problem, TokenResponse};

use super::auth::peer;
use super::caller::{CONSOLE_HEADER, has_console_header};
use super::extract::ApiJson;
use crate::auth::sessions;
use crate::error::ApiError;
use crate::state::AppState;

/// The access token's cookie: sent with every API request of the console.
pub const ACCESS_COOKIE: &str = "yifei_at";
/// The refresh token's cookie: sent only to the session's own endpoints.
pub const REFRESH_COOKIE: &str = "yifei_rt";
const ACCESS_PATH: &str = "/api/v1";
const REFRESH_PATH: &str = "/api/v1/console/session";

/// The policy of the console's pages: scripts, styles and everything else only from this
/// server's own files, never inline; nothing frames a page.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Embed)]
#[folder = "console/"]
struct Assets;

/// `GET /`: the console's one page.
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    file(&req, "index.html")
}

/// `GET /assets/{path}` and the few files that must sit at the root (the service worker, whose
/// place decides what it may control, and the web app manifest).
pub async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path().trim_start_matches('/').to_owned();
    file(&req, &path)
}

/// One file with its media type, a content hash as `ETag` (a reload after a release fetches
/// only what changed, and nothing stale is kept: `no-cache` means revalidate every time) and
/// the page policy.
fn file(req: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let found = (!path.contains("..") && !path.ends_with('/'))
        .then(|| Assets::get(path))
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("no console file `{path}`")))?;
    let hash = found.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut res = if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(media_type(path, found.metadata.mimetype()))
            .body(found.data.into_owned())
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    Ok(res)
}

/// The guessed media type, with the character set of text named (the pages hold Chinese).
fn media_type(path: &str, guessed: &str) -> String {
    let base = if path.ends_with(".webmanifest") {
        "application/manifest+json"
    } else if path.ends_with(".js") || path.ends_with(".mjs") {
        "text/javascript"
    } else {
        guessed
    };
    let textual = base.starts_with("text/") || base.ends_with("json") || base.ends_with("+xml");
    if textual {
        format!("{base}; charset=utf-8")
    } else {
        base.to_owned()
    }
}

/// The console's requests must say they are the console's (a page of another origin cannot).
fn require_console_header(req: &HttpRequest) -> Result<(), ApiError> {
    if has_console_header(req) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the console's session endpoints need the `{CONSOLE_HEADER}: 1` header"
        )))
    }
}

fn cookie<'c>(
    req: &HttpRequest,
    name: &'c str,
    value: String,
    path: &'c str,
    max_age_s: i64,
) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        // Over plain HTTP (a county intranet, the demo) a Secure cookie would never be sent.
        .secure(req.connection_info().scheme() == "https")
        .max_age(time::Duration::seconds(max_age_s.max(0)))
        .finish()
}

/// The answer to a new or refreshed session: the cookies, and who it is.
fn session_answer(
    req: &HttpRequest,
    state: &AppState,
    tokens: TokenResponse,
) -> Result<HttpResponse, ApiError> {
    let refresh_s = i64::try_from(state.config.refresh_ttl.as_secs()).unwrap_or(i64::MAX);
    let mut res = HttpResponse::Ok().json(ConsoleSession {
        expires_in: tokens.expires_in,
        user: tokens.user,
    });
    let access = cookie(
        req,
        ACCESS_COOKIE,
        tokens.access_token,
        ACCESS_PATH,
        tokens.expires_in,
    );
    let refresh = cookie(
        req,
        REFRESH_COOKIE,
        tokens.refresh_token,
        REFRESH_PATH,
        refresh_s,
    );
    res.add_cookie(&access)
        .and_then(|()| res.add_cookie(&refresh))
        .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
    Ok(res)
}

/// Sign in to the console: the tokens go into `HttpOnly` cookies, not into the answer.
#[utoipa::path(post, path = "/api/v1/console/session", tag = "console", request_body = LoginRequest,
    params(("x-yifei-console" = String, Header, description = "Must be `1`: a page of another origin cannot send it")),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = ConsoleSession),
        (status = 401, description = "Unknown login or wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The console header is missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    require_console_header(&req)?;
    let LoginRequest { login, password } = body.0;
    let addr = peer(&req, &state.config.trusted_proxies);
    let tokens = sessions::login(&state, login, password, addr).await?;
    session_answer(&req, &state, tokens)
}

/// Renew the console's cookies with the refresh cookie (single use, like `/auth/refresh`).
#[utoipa::path(post, path = "/api/v1/console/session/refresh", tag = "console",
    params(("x-yifei-console" = String, Header, description = "Must be `1`")),
    responses(
        (status = 200, description = "Renewed; `Set-Cookie` carries the session", body = ConsoleSession),
        (status = 401, description = "No, an expired or a reused refresh cookie", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The console header is missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn renew(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_console_header(&req)?;
    let presented = req
        .cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(|| ApiError::Unauthorized("not signed in to the console".into()))?;
    let tokens = sessions::refresh(&state, presented).await?;
    session_answer(&req, &state, tokens)
}

/// Sign out of the console: the session ends and both cookies are cleared.
#[utoipa::path(delete, path = "/api/v1/console/session", tag = "console",
    params(("x-yifei-console" = String, Header, description = "Must be `1`")),
    responses(
        (status = 204, description = "Signed out (also when no session was open)"),
        (status = 403, description = "The console header is missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_console_header(&req)?;
    if let Some(c) = req.cookie(REFRESH_COOKIE) {
        sessions::end_session_of(&state, c.value().to_owned()).await?;
    }
    let mut res = HttpResponse::NoContent().finish();
    for (name, path) in [(ACCESS_COOKIE, ACCESS_PATH), (REFRESH_COOKIE, REFRESH_PATH)] {
        let gone = cookie(&req, name, String::new(), path, 0);
        res.add_removal_cookie(&gone)
            .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_name_their_character_set() {
        assert_eq!(
            media_type("a.js", "application/javascript"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            media_type("index.html", "text/html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            media_type("manifest.webmanifest", "application/octet-stream"),
            "application/manifest+json; charset=utf-8"
        );
        assert_eq!(media_type("icon.png", "image/png"), "image/png");
        assert_eq!(
            media_type("icon.svg", "image/svg+xml"),
            "image/svg+xml; charset=utf-8"
        );
    }

    #[test]
    fn every_page_file_is_built_in() {
        for f in [
            "index.html",
            "assets/js/app.js",
            "assets/app.css",
            "sw.js",
            "manifest.webmanifest",
        ] {
            assert!(Assets::get(f).is_some(), "{f} missing from api/console/");
        }
    }
}
