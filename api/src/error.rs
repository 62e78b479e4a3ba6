//! The one error type of the API crate and its RFC 9457 rendering.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use yifei_contract::{FieldError, PROBLEM_CONTENT_TYPE, Problem};

/// Everything that can go wrong serving a request or running a command.
///
/// Client mistakes carry enough to answer precisely; server faults carry a detail that is
/// logged but never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The client stopped sending its body (or sent it too slowly): answered, then closed.
    #[error("the request body did not arrive within {0} s")]
    RequestTimeout(u64),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("too many attempts, retry in {retry_after_s} s")]
    TooManyRequests { retry_after_s: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Stable problem type and title of each kind.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("/problems/malformed-request", "Malformed request"),
            ApiError::Validation(_) => ("/problems/validation", "Invalid request"),
            ApiError::Unauthorized(_) => ("/problems/unauthorized", "Authentication required"),
            ApiError::Forbidden(_) => ("/problems/forbidden", "Not allowed"),
            ApiError::NotFound(_) | ApiError::Db(diesel::result::Error::NotFound) => {
                ("/problems/not-found", "Not found")
            }
            ApiError::Conflict(_) => ("/problems/conflict", "Conflict"),
            ApiError::PayloadTooLarge(_) => ("/problems/payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("/problems/unsupported-media-type", "Unsupported media type")
            }
            ApiError::RequestTimeout(_) => ("/problems/request-timeout", "Request timeout"),
            ApiError::TooManyRequests { .. } => {
                ("/problems/too-many-requests", "Too many requests")
            }
            ApiError::Unavailable(_) | ApiError::Pool(_) => {
                ("/problems/unavailable", "Service unavailable")
            }
            ApiError::Config(_) | ApiError::Internal(_) | ApiError::Db(_) => {
                ("/problems/internal", "Internal error")
            }
        }
    }

    /// The problem body; server faults keep their detail out of it.
    pub fn problem(&self) -> Problem {
        let (type_, title) = self.kind();
        let status = self.status_code();
        let detail = match self {
            ApiError::Validation(errors) => Some(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::UnsupportedMediaType(d) => Some(d.clone()),
            ApiError::Db(diesel::result::Error::NotFound) => Some("no such record".into()),
            ApiError::PayloadTooLarge(_)
            | ApiError::TooManyRequests { .. }
            | ApiError::RequestTimeout(_) => Some(self.to_string()),
            ApiError::Unavailable(_) | ApiError::Pool(_) => {
                Some("the database is not reachable; retry later".into())
            }
            ApiError::Config(_) | ApiError::Internal(_) | ApiError::Db(_) => {
                Some("an unexpected error occurred; quote the request id when reporting it".into())
            }
        };
        Problem {
            type_: type_.into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            request_id: None,
            errors: match self {
                ApiError::Validation(e) => e.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Db(diesel::result::Error::NotFound) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Config(_) | ApiError::Internal(_) | ApiError::Db(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut res = HttpResponse::build(status);
        res.content_type(PROBLEM_CONTENT_TYPE);
        match self {
            ApiError::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after_s } => {
                res.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            // The rest of the body may still trickle in: the connection cannot be reused.
            ApiError::RequestTimeout(_) => {
                res.force_close();
            }
            _ => {}
        }
        res.json(self.problem())
    }
}

/// A problem for a bare status (used to dress actix's own error responses).
pub fn problem_for_status(status: StatusCode, detail: Option<String>) -> Problem {
    let slug = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "-");
    Problem {
        type_: format!("/problems/{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        request_id: None,
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_faults_do_not_leak_their_detail() {
        let p = ApiError::Internal("secret path /etc/x".into()).problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.unwrap_or_default().contains("/etc/x"));
    }

    #[test]
    fn validation_names_the_field() {
        let p = ApiError::invalid("location.lat", "must be within -90..=90").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "location.lat");
        assert_eq!(p.type_, "/problems/validation");
    }
}
