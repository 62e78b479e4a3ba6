//! Request-body and query extractors that answer bad input with precise problem+json:
//! 415 wrong media type, 413 too large, 400 not JSON, 422 with the path of the bad field.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use yifei_contract::FieldError;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body deserialised into `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A JSON body that may be absent (an empty body gives `T::default()`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

fn is_json(req: &HttpRequest) -> Option<bool> {
    let ct = req.headers().get(header::CONTENT_TYPE)?;
    let ct = ct
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    Some(ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json")))
}

/// Reads the whole body within the configured limits of size and time: a client that stops
/// sending (or sends a byte now and then) is answered 408 and its connection closed, so that
/// stalled uploads cannot pile up connections. The one place every request body is read.
async fn read_body(req: HttpRequest, payload: Payload) -> Result<web::BytesMut, ApiError> {
    read_body_within(req, payload, None).await
}

/// [`read_body`] with a route's own size limit instead of `YIFEI_MAX_BODY_BYTES`.
async fn read_body_within(
    req: HttpRequest,
    mut payload: Payload,
    own_limit: Option<usize>,
) -> Result<web::BytesMut, ApiError> {
    let (limit, timeouts) = req
        .app_data::<web::Data<AppState>>()
        .map(|s| (s.config.max_body_bytes, s.config.timeouts))
        .unwrap_or((1024 * 1024, crate::config::Timeouts::default()));
    let limit = own_limit.unwrap_or(limit);
    let deadline = actix_web::rt::time::Instant::now() + timeouts.body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    loop {
        let left = deadline.saturating_duration_since(actix_web::rt::time::Instant::now());
        let wait = left.min(timeouts.body_idle);
        let Ok(next) = actix_web::rt::time::timeout(wait, payload.next()).await else {
            let limit = if wait < left {
                timeouts.body_idle
            } else {
                timeouts.body
            };
            return Err(ApiError::RequestTimeout(limit.as_secs()));
        };
        let Some(chunk) = next else { break };
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON straight into `T`, naming the path of the offending field: syntax errors are
/// 400, type and value errors 422, and text a database cannot hold (NUL, half a surrogate
/// pair; `hygiene::text_faults`) 422 wherever it is, keys included.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_judging(body, None)
}

/// Like `parse_json`, but text a database cannot hold inside the items of the top-level array
/// `items` (`events[3].device_id`) is let through, to be refused item by item by the domain
/// (`custody::ingest`): the body is parsed with each bad string carrying a NUL. Such text
/// anywhere else is refused as in `parse_json`.
pub fn parse_json_judging<T: DeserializeOwned>(
    body: &[u8],
    items: Option<&str>,
) -> Result<T, ApiError> {
    let Some(cleaned) = super::hygiene::text_faults(body) else {
        return parse_clean(body);
    };
    let value: serde_json::Value = serde_json::from_slice(&cleaned)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let paths = super::hygiene::nul_paths(&value);
    let in_items = |p: &String| {
        items.is_some_and(|items| {
            p.strip_prefix(items)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.split_once("]."))
                .is_some_and(|(i, _)| i.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    if paths.is_empty() || !paths.iter().all(in_items) {
        let outside: Vec<String> = paths.into_iter().filter(|p| !in_items(p)).collect();
        return Err(super::hygiene::refusal(if outside.is_empty() {
            vec!["body".into()]
        } else {
            outside
        }));
    }
    parse_clean(&cleaned)
}

fn parse_clean<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would map an array onto a struct positionally; every body of this API is an
    // object (or `null` where the body is optional).
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if !matches!(first, Some(b'{') | Some(b'n') | None) {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Err(e) => Err(ApiError::BadRequest(format!(
                "the body is not valid JSON: {e}"
            ))),
            Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
        };
    }
    // Most bodies are valid: parsed without tracking paths (which copies every key of a
    // 500-event scan batch); only a body that fails is parsed again to name the field.
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = value.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        ) {
            return ApiError::BadRequest(format!("the body is not valid JSON: {inner}"));
        }
        let field = if path == "." { String::new() } else { path };
        let message = inner.to_string();
        // serde names a missing field in the message, not the path.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        let field = match (field.is_empty(), message.strip_prefix("missing field `")) {
            (true, Some(rest)) => rest.trim_end_matches('`').to_owned(),
            (false, Some(rest)) => format!("{field}.{}", rest.trim_end_matches('`')),
            (true, None) => "body".to_owned(),
            (false, None) => field,
        };
        ApiError::Validation(vec![FieldError { field, message }])
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            if is_json(&req) != Some(true) {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as Content-Type: application/json".into(),
                ));
            }
            let body = read_body(req, payload).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}

/// A batch whose items are judged one by one: text a database cannot hold inside an item is
/// left for the handler to refuse with that item alone (`parse_json_judging`).
pub trait Batch: DeserializeOwned {
    /// The top-level array of items.
    const ITEMS: &'static str;
}

/// A JSON body of a `Batch`.
#[derive(Debug)]
pub struct BatchJson<T>(pub T);

impl<T: Batch + 'static> FromRequest for BatchJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            if is_json(&req) != Some(true) {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as Content-Type: application/json".into(),
                ));
            }
            let body = read_body(req, payload).await?;
            parse_json_judging(&body, Some(T::ITEMS)).map(BatchJson)
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let json = is_json(&req);
            let body = read_body(req, payload).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if json != Some(true) {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as Content-Type: application/json".into(),
                ));
            }
            parse_json(&body).map(OptionalJson)
        })
    }
}

/// Whether a report or manifest is wanted as CSV: `?format=csv`, or `Accept: text/csv` when
/// no format is given.
pub fn wants_csv(req: &HttpRequest, format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        Some("csv") => Ok(true),
        Some("json") | None => Ok(req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"))),
        Some(_) => Err(ApiError::invalid("format", "must be json or csv")),
    }
}

/// Whether `Accept` prefers `application/pdf` to the JSON and CSV a resource also serves: it
/// is listed with a weight above zero and no higher than no other of them (`*/*` counts as
/// JSON, the default). An `Accept` naming only types the API does not serve gets JSON, as
/// everywhere else in the API (no 406).
pub fn wants_pdf(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut pdf: Option<f32> = None;
    let mut other: f32 = 0.0;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/pdf" => pdf = Some(pdf.map_or(q, |p| p.max(q))),
            "application/json" | "text/csv" | "*/*" | "application/*" => other = other.max(q),
            _ => {}
        }
    }
    pdf.is_some_and(|p| p > 0.0 && p >= other)
}

/// A PDF named `name.pdf`, shown in the browser (`inline`) rather than saved at once.
pub fn pdf_inline(name: &str, body: Vec<u8>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.pdf\"", safe_file_name(name)),
        ))
        .body(body)
}

/// A CSV download named `name.csv`.
///
/// The name often carries an id from the request path, which may hold any character: only
/// ASCII letters, digits, `-`, `_` and `.` are kept (others become `_`), so that the header
/// is always valid (a control character made it unbuildable: a 500) and cannot be split.
pub fn csv_attachment(name: &str, body: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.csv\"", safe_file_name(name)),
        ))
        .body(body)
}

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `_`.
fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Query-string and path errors of actix's own extractors, as problems.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let msg = err.to_string();
    ApiError::invalid("query", msg.trim_start_matches("Query deserialize error: ")).into()
}

pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound(format!("no such resource ({err})")).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yifei_contract::SignUpRequest;

    fn field(r: Result<SignUpRequest, ApiError>) -> String {
        match r {
            Err(ApiError::Validation(v)) => v[0].field.clone(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn pdf_is_chosen_only_when_preferred() {
        use actix_web::test::TestRequest;
        let wants = |accept: &str| {
            wants_pdf(
                &TestRequest::default()
                    .insert_header((header::ACCEPT, accept))
                    .to_http_request(),
            )
        };
        assert!(wants("application/pdf"));
        assert!(wants("application/pdf, application/json;q=0.5"));
        assert!(wants("Application/PDF;q=0.8, text/html"));
        assert!(!wants("application/json, application/pdf;q=0.5"));
        assert!(!wants("application/pdf;q=0"));
        assert!(!wants("*/*"));
        assert!(!wants("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(!wants_pdf(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn csv_file_names_are_always_a_valid_header() {
        let r = csv_attachment("manifests-\u{bf}\u{b}\u{61a7e}\r\n\"x", String::new());
        let v = r
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok());
        assert_eq!(v, Some("attachment; filename=\"manifests-______x.csv\""));
        assert_eq!(
            safe_file_name("coverage-2026-03-01-2026-03-30"),
            "coverage-2026-03-01-2026-03-30"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let base = serde_json::json!({
            "name": "x", "kind": "clinic", "licence_no": "L-1", "township": "t", "village": "v",
            "address": "a", "location": {"lat": 1.0, "lng": 2.0}, "beds": 0,
            "contact": {"name": "n", "phone": "123456"}, "account": {"login": "abc", "password": "0123456789"}
        });
        assert!(parse_json::<SignUpRequest>(base.to_string().as_bytes()).is_ok());
        let mut b = base.clone();
        b["kind"] = "hospital".into();
        assert_eq!(field(parse_json(b.to_string().as_bytes())), "kind");
        let mut b = base.clone();
        b["location"]["lat"] = "north".into();
        assert_eq!(field(parse_json(b.to_string().as_bytes())), "location.lat");
        let mut b = base.clone();
        b.as_object_mut().expect("object").remove("name");
        assert_eq!(field(parse_json(b.to_string().as_bytes())), "name");
        let mut b = base.clone();
        b["contact"]
            .as_object_mut()
            .expect("object")
            .remove("phone");
        assert_eq!(field(parse_json(b.to_string().as_bytes())), "contact.phone");
        assert!(matches!(
            parse_json::<SignUpRequest>(b"{not json"),
            Err(ApiError::BadRequest(_))
        ));
        assert_eq!(field(parse_json(b"\"just text\"")), "body");
        assert_eq!(field(parse_json(b"[\"x\", \"clinic\"]")), "body");
        // Text a database cannot hold, wherever it is.
        let mut b = base.clone();
        b["contact"]["name"] = "王\0医生".into();
        assert_eq!(field(parse_json(b.to_string().as_bytes())), "contact.name");
        let lone = base.to_string().replacen(r#""v""#, r#""v\udc00""#, 1);
        assert_eq!(field(parse_json(lone.as_bytes())), "village");
    }

    #[test]
    fn a_batch_leaves_bad_text_in_its_items_to_be_judged_one_by_one() {
        let event = |device: &str| {
            format!(
                r#"{{"event_id":"0195a4c2-1111-7000-8000-000000000001","code":"7K3M9Q2XC4TB","action":"seal","occurred_at":"2026-03-02T09:41:07+08:00","device_id":"{device}"}}"#
            )
        };
        let body = format!(
            r#"{{"events":[{},{}]}}"#,
            event("phone"),
            event(r"ph\u0000one")
        );
        let batch: yifei_contract::ScanBatch =
            parse_json_judging(body.as_bytes(), Some("events")).expect("parsed");
        assert_eq!(batch.events[1].device_id.as_deref(), Some("ph\0one"));
        let lone = body.replace(r"\u0000", r"\ud800");
        let batch: yifei_contract::ScanBatch =
            parse_json_judging(lone.as_bytes(), Some("events")).expect("parsed");
        assert_eq!(batch.events[1].device_id.as_deref(), Some("ph\0one"));
        assert!(matches!(
            parse_json::<yifei_contract::ScanBatch>(body.as_bytes()),
            Err(ApiError::Validation(v)) if v[0].field == "events[1].device_id"
        ));
        // Outside the items: the whole body is refused.
        let outside = format!(r#"{{"events":[{}],"x\u0000":1}}"#, event("phone"));
        assert!(matches!(
            parse_json_judging::<yifei_contract::ScanBatch>(outside.as_bytes(), Some("events")),
            Err(ApiError::Validation(v)) if v[0].field == "x\u{FFFD}"
        ));
    }
}

/// The body of an import: JSON (`application/json`) or CSV (`text/csv`, UTF-8).
#[derive(Debug)]
pub enum ImportBody {
    Json(serde_json::Value),
    Csv(String),
}

impl FromRequest for ImportBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let csv = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
            if !csv && is_json(&req) != Some(true) {
                return Err(ApiError::UnsupportedMediaType(
                    "send the list as Content-Type: text/csv or application/json".into(),
                ));
            }
            let body = read_body(req, payload).await?;
            if csv {
                let text = String::from_utf8(body.to_vec()).map_err(|_| {
                    ApiError::invalid("body", "the CSV must be UTF-8 (save as \"CSV UTF-8\")")
                })?;
                Ok(ImportBody::Csv(text))
            } else {
                parse_json(&body).map(ImportBody::Json)
            }
        })
    }
}

/// A document upload: the raw bytes of the file as the body, its type as `Content-Type`
/// (checked by the domain), at most `oversight::enforcement::MAX_DOCUMENT_BYTES` (413 beyond).
#[derive(Debug)]
pub struct DocumentBody {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl FromRequest for DocumentBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            // The type first: a wrong one is refused before its bytes are read.
            let ct = content_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !crate::oversight::enforcement::DOCUMENT_TYPES.contains(&ct.as_str()) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "a document is {} (got {content_type:?})",
                    crate::oversight::enforcement::DOCUMENT_TYPES.join(", ")
                )));
            }
            let body = read_body_within(
                req,
                payload,
                Some(crate::oversight::enforcement::MAX_DOCUMENT_BYTES),
            )
            .await?;
            Ok(DocumentBody {
                content_type,
                bytes: body.to_vec(),
            })
        })
    }
}
