//! Text a database cannot hold, refused where every input enters: JSON bodies (through
//! `extract::parse_json`), path segments and query strings (the `url_text` middleware).
//!
//! PostgreSQL's `text` cannot store NUL (U+0000) and answers an error for it (which was a
//! 500); SQLite stores it and C code reading it back stops at it. JSON can also escape
//! half a surrogate pair (`"\ud800"`), which no UTF-8 string can hold, and a URL can
//! percent-encode bytes that are not UTF-8. All are refused as a 422 naming the field.
//! Header values need nothing here: HTTP itself forbids NUL in them (the parser answers
//! 400), and a value that is not text fails `to_str()` where it is read.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use yifei_contract::FieldError;

use crate::error::ApiError;

/// What a refused field is told.
pub const MESSAGE: &str =
    "must be text without NUL (U+0000) or half a surrogate pair: a database cannot store them";

/// Finds the `\u` escapes of a JSON text that decode to NUL or to half a surrogate pair, and
/// returns a copy with each replaced by `\u0000` (the same length), so that the text parses
/// and every bad string carries a NUL; `None` when there are none (a scan of the bytes, so
/// the common case costs next to nothing).
///
/// Escapes are only read where a backslash starts one; an escaped backslash (`\\u0000`) is
/// text, not an escape. Malformed escapes are left for the JSON parser to refuse.
pub fn text_faults(body: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| -> Option<u32> {
        let digits = body.get(at..at + 4)?;
        let s = std::str::from_utf8(digits).ok()?;
        u32::from_str_radix(s, 16).ok()
    };
    let mut faults: Vec<usize> = Vec::new();
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\\', &body[from..]) {
        let at = from + found;
        match body.get(at + 1) {
            Some(b'u') => match hex(at + 2) {
                Some(0) => {
                    faults.push(at);
                    from = at + 6;
                }
                Some(0xD800..=0xDBFF) => {
                    let pair = body.get(at + 6) == Some(&b'\\')
                        && body.get(at + 7) == Some(&b'u')
                        && matches!(hex(at + 8), Some(0xDC00..=0xDFFF));
                    if pair {
                        from = at + 12;
                    } else {
                        faults.push(at);
                        from = at + 6;
                    }
                }
                Some(0xDC00..=0xDFFF) => {
                    faults.push(at);
                    from = at + 6;
                }
                _ => from = at + 2,
            },
            Some(_) => from = at + 2,
            None => break,
        }
    }
    if faults.is_empty() {
        return None;
    }
    let mut out = body.to_vec();
    for at in faults {
        out[at..at + 6].copy_from_slice(b"\\u0000");
    }
    Some(out)
}

/// The paths (as `serde_path_to_error` writes them: `a.b[0].c`) of the strings of `v` that
/// contain NUL, keys included (a key is named by its path).
pub fn nul_paths(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, path: &mut String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => out.push(path.clone()),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&k.replace('\0', "\u{FFFD}"));
                    if k.contains('\0') {
                        out.push(path.clone());
                    }
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    if out.iter().any(String::is_empty) {
        out.retain(|p| !p.is_empty());
        out.insert(0, "body".into());
    }
    out
}

/// The 422 naming the fields.
pub fn refusal(paths: Vec<String>) -> ApiError {
    ApiError::Validation(
        paths
            .into_iter()
            .map(|field| FieldError {
                field,
                message: MESSAGE.into(),
            })
            .collect(),
    )
}

/// Whether a percent-encoded URL part decodes to something that is not text a database can
/// hold: a NUL, or bytes that are not UTF-8 (`%FF`, or a surrogate's bytes `%ED%A0%80`),
/// which the extractors would otherwise pass on mangled or refuse each in its own way.
fn bad_part(encoded: &str) -> bool {
    if !encoded.contains('%') {
        return false;
    }
    match percent_encoding::percent_decode_str(encoded).decode_utf8() {
        Ok(text) => text.contains('\0'),
        Err(_) => true,
    }
}

/// Which path parameters and query parameters of a request carry such text, named as the
/// contract names them (`id`, `township`): the route's pattern names the segments.
fn url_faults(req: &ServiceRequest) -> Vec<String> {
    let mut out = Vec::new();
    let path = req.uri().path();
    if bad_part(path) {
        let pattern = req.match_pattern().unwrap_or_default();
        let names: Vec<&str> = pattern.split('/').collect();
        for (i, segment) in path.split('/').enumerate() {
            if bad_part(segment) {
                let name = names
                    .get(i)
                    .and_then(|n| n.strip_prefix('{'))
                    .and_then(|n| n.split(['}', ':']).next())
                    .unwrap_or("path");
                out.push(name.to_owned());
            }
        }
    }
    if let Some(query) = req.uri().query()
        && query.contains('%')
    {
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if bad_part(k) || bad_part(v) {
                let name = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                out.push(name.replace('\0', "\u{FFFD}"));
            }
        }
    }
    out.dedup();
    out
}

/// Refuses a request whose path or query string decodes to a NUL or to bytes that are not
/// UTF-8, before any handler (or actix's `Path` and `Query` extractors) sees it.
pub async fn url_text(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let faults = url_faults(&req);
    if faults.is_empty() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let (req, _) = req.into_parts();
    let res = actix_web::ResponseError::error_response(&refusal(faults));
    Ok(ServiceResponse::new(req, res))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faulty(s: &str) -> Option<String> {
        text_faults(s.as_bytes()).map(|b| String::from_utf8(b).expect("utf-8"))
    }

    #[test]
    fn nul_and_half_pairs_are_found_and_pairs_and_escaped_backslashes_are_not() {
        assert_eq!(faulty(r#"{"a":"plain","b":"\n\t\"é😀"}"#), None);
        assert_eq!(faulty(r#"{"a":"\ud83d\ude00 \u00e9 \u0041"}"#), None);
        assert_eq!(faulty(r#"{"a":"\\u0000"}"#), None, "an escaped backslash");
        assert_eq!(
            faulty(r#"{"a":"x\u0000y"}"#).as_deref(),
            Some(r#"{"a":"x\u0000y"}"#)
        );
        assert_eq!(
            faulty(r#"{"a":"\ud800","b":"\uDC00x","c":"\ud83dz"}"#).as_deref(),
            Some(r#"{"a":"\u0000","b":"\u0000x","c":"\u0000z"}"#)
        );
        assert_eq!(
            faulty(r#"["\\\u0000"]"#).as_deref(),
            Some(r#"["\\\u0000"]"#),
            "a backslash, then an escaped NUL"
        );
        assert_eq!(
            faulty(r#"{"a":"\u00"}"#),
            None,
            "malformed: the parser's to refuse"
        );
        assert_eq!(faulty("\\"), None);
    }

    #[test]
    fn paths_name_values_and_keys() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"a":"ok","b":{"c":["x","y\u0000"]},"d\u0000":1,"e":[{"f":"\u0000"}]}"#,
        )
        .expect("json");
        assert_eq!(nul_paths(&v), ["b.c[1]", "d\u{FFFD}", "e[0].f"]);
        let v = serde_json::Value::String("\0".into());
        assert_eq!(nul_paths(&v), ["body"]);
    }

    #[test]
    fn url_parts_with_nul_or_not_text() {
        assert!(bad_part("/a/%00"));
        assert!(bad_part("a%ED%A0%80b"), "a surrogate's bytes");
        assert!(bad_part("%FF"));
        assert!(!bad_part("/a/%2500"), "an encoded percent sign, then 00");
        assert!(!bad_part("/a/%0"));
        assert!(!bad_part("%E7%9F%B3%E9%97%A8%E9%95%87"), "石门镇");
        assert!(!bad_part("/api/v1/institutions"));
    }
}
