//! RFC 9457 problem details: the one error body of the API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Media type of every error response.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An error, as `application/problem+json` (RFC 9457).
///
/// Clients branch on `type` (stable, e.g. `/problems/validation`) and `status`; `title` and
/// `detail` are for humans. `errors` names the offending fields of a 422.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem kind, a relative URI such as `/problems/not-found`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human summary of the problem kind.
    pub title: String,
    /// HTTP status code, repeated for convenience.
    pub status: u16,
    /// Human explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id (also in the `x-request-id` header), to quote when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field errors of a 422: which field and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field in the request body or query, e.g. `location.lat`.
    pub field: String,
    /// Why it is invalid.
    pub message: String,
}
