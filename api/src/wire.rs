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

/// One cell of a CSV export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text from anyone (names, townships, codes): neutralised against formula injection.
    Text(&'a str),
    /// A number the server formatted itself: written as is, so a negative stays numeric.
    Num(String),
}

impl Cell<'_> {
    /// A number with `decimals` places, or an empty cell.
    pub fn num(v: Option<f64>, decimals: usize) -> Cell<'static> {
        Cell::Num(v.map(|x| format!("{x:.decimals$}")).unwrap_or_default())
    }

    /// An integer.
    pub fn int(v: i64) -> Cell<'static> {
        Cell::Num(v.to_string())
    }
}

/// Text that a spreadsheet would run as a formula (OWASP "CSV injection": a cell starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, which makes it
/// plain text; anything else is unchanged.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Starts every CSV document (see [`CsvWriter`]).
pub const BOM: &str = "\u{feff}";

/// The one CSV writer of every export (RFC 4180 quoting by the `csv` crate, text cells
/// neutralised): no export writes CSV another way.
///
/// The document starts with a UTF-8 byte order mark: Excel on a Chinese Windows reads a CSV
/// without one in the system's code page (GBK) and shows the names as mojibake.
pub struct CsvWriter {
    w: csv::Writer<Vec<u8>>,
}

impl CsvWriter {
    /// A document with its header line.
    pub fn new(header: &[&str]) -> CsvWriter {
        let mut w = CsvWriter {
            w: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(BOM.as_bytes().to_vec()),
        };
        w.row(&header.iter().map(|h| Cell::Text(h)).collect::<Vec<_>>());
        w
    }

    /// One line.
    pub fn row(&mut self, cells: &[Cell<'_>]) {
        let fields = cells.iter().map(|c| match c {
            Cell::Text(t) => neutralise(t),
            Cell::Num(n) => std::borrow::Cow::Borrowed(n.as_str()),
        });
        // Writing into memory cannot fail.
        let _ = self.w.write_record(fields.map(|f| f.into_owned()));
    }

    /// The document.
    pub fn finish(self) -> String {
        let bytes = self.w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn text_cells_cannot_be_formulas_and_numbers_stay_numbers() {
        let mut w = CsvWriter::new(&["name", "kg"]);
        for bad in ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            w.row(&[Cell::Text(bad), Cell::num(Some(-1.5), 3)]);
        }
        w.row(&[Cell::Text("A, \"B\""), Cell::int(-2)]);
        w.row(&[Cell::Text("王家村卫生室"), Cell::num(None, 1)]);
        assert_eq!(
            w.finish(),
            "\u{feff}name,kg\n\
             '=cmd|' /C calc'!A0,-1.500\n'+1,-1.500\n'-1,-1.500\n'@SUM(A1),-1.500\n\
             '\tx,-1.500\n\"'\rx\",-1.500\n\"A, \"\"B\"\"\",-2\n王家村卫生室,\n"
        );
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
