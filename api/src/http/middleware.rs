//! Request id, one log line per request, and problem+json for every error response,
//! including those actix produces itself (405, unmatched routes, payload errors).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use tracing_actix_web::RequestId;
use yifei_contract::{PROBLEM_CONTENT_TYPE, Problem};

use crate::error::problem_for_status;

/// Header carrying the request id back to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn request_meta(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let path = req.path().to_owned();
    // Handlers' and extractors' errors arrive here as responses; only a middleware failure
    // would be an `Err`, which actix renders itself. (Cloning the request here would break
    // routing, which needs the request uniquely owned.)
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let mut res = if status.is_client_error() || status.is_server_error() {
        as_problem(res, &request_id).await
    } else {
        res
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    security_headers(res.headers_mut());
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "yifei::http",
        %method,
        path,
        status = status.as_u16(),
        latency_ms = (latency_ms * 10.0).round() / 10.0,
        "request"
    );
    Ok(res)
}

/// Headers every answer carries unless its handler chose otherwise: answers are per caller
/// (tokens, a clinic's records), so no browser or proxy may keep them (`no-store`), a
/// browser may not guess another media type than the one declared (`nosniff`), and no
/// answer may run or load anything when opened in a browser (the CSP).
fn security_headers(h: &mut actix_web::http::header::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
}

/// The policy of JSON and CSV answers: nothing may load, nothing may frame them.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy of the SVG label: its inline presentation may apply, no script can run and
/// nothing outside it loads (an SVG opened from the API is a document of our origin).
pub const SVG_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

async fn as_problem(res: ServiceResponse<BoxBody>, request_id: &str) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let is_problem = content_type.starts_with(PROBLEM_CONTENT_TYPE);
    if content_type.starts_with("application/json") {
        // A documented JSON error body (e.g. `/readyz` 503): leave it as the handler wrote it.
        return res;
    }
    let (req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let mut problem: Problem = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| problem_for_status(status, None))
    } else {
        // actix's own plain-text errors: keep their text for client errors only.
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        let detail =
            (status.is_client_error() && !text.is_empty() && text.len() < 500).then_some(text);
        problem_for_status(status, detail)
    };
    problem.request_id = Some(request_id.to_owned()).filter(|s| !s.is_empty());
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut out: HttpResponse<()> = head;
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    out.headers_mut().remove(header::CONTENT_LENGTH);
    ServiceResponse::new(req, out.set_body(BoxBody::new(body)))
}
