//! Small conversions between wire enums, stored text, and opaque cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The snake_case wire name of a unit enum (also what the database stores).
pub fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Parses a stored enum; a mismatch is a server fault (the database holds bad data).
pub fn parse_enum<T: DeserializeOwned>(s: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| ApiError::Internal(format!("unexpected stored value {s:?}")))
}

/// Parses a client-supplied enum value, naming the field on error.
pub fn parse_query_enum<T: DeserializeOwned>(field: &str, s: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| ApiError::invalid(field, format!("unknown value {s:?}")))
}

/// Keyset pagination position: the last id of the previous page (ids are time-ordered).
/// Opaque to clients so that the scheme can change without a new API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    pub fn decode(s: &str) -> Result<Cursor, ApiError> {
        URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic()))
            .map(Cursor)
            .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor returned by this API"))
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Default and hard maximum page sizes of every list.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// Cuts a page fetched with `limit + 1` rows: the extra row only says that more follow, and
/// the cursor is the id of the page's last row.
pub fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| Cursor(id(r).to_owned()).encode());
        (rows, next)
    } else {
        (rows, None)
    }
}

/// Validates a requested page size.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yifei_contract::InstitutionKind;

    #[test]
    fn enums_and_cursors_round_trip() {
        assert_eq!(
            enum_str(&InstitutionKind::VillageHealthRoom),
            "village_health_room"
        );
        let k: InstitutionKind = parse_enum("clinic").expect("parse");
        assert_eq!(k, InstitutionKind::Clinic);
        assert!(parse_enum::<InstitutionKind>("hospital").is_err());
        let c = Cursor("0194f1c2-0000-7000-8000-000000000000".into());
        assert_eq!(Cursor::decode(&c.encode()).expect("decode"), c);
        assert!(Cursor::decode("!!!").is_err());
        assert!(page_limit(Some(0)).is_err() && page_limit(Some(201)).is_err());
        assert_eq!(page_limit(None).expect("default"), 50);
    }
}
