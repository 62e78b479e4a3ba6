//! The bureau's roster of licensed institutions (医疗机构名录): the institutions that should
//! be in centralised disposal, whether or not they signed up. It is the 纳入率's honest
//! denominator (issue #18, item 1): a village room that never signed up counts as not in
//! centralised disposal instead of being invisible.
//!
//! The rules here are plain functions: reading an import (CSV or JSON) into rows, checking each
//! field (every mistake of a row is reported, by row and field), telling what changed, and the
//! invitation's sign-up code and letter. `store` persists them.

pub mod store;

use std::collections::HashMap;

use yifei_contract::{InstitutionKind, RosterRowError};

use crate::error::ApiError;
use crate::wire::parse_query_enum;

/// Most rows one import may carry.
pub const MAX_ROWS: usize = 5000;

/// `disposal` of an entry that hands its waste to the disposal company.
pub const CENTRALISED: &str = "centralised";
/// `disposal` of an entry that disposes of its own waste where the law allows it (条例 Art.21).
pub const SELF_DISPOSAL: &str = "self";

/// The columns of an import, with the Chinese headers a bureau's spreadsheet may use.
const COLUMNS: [(&str, &[&str]); 10] = [
    ("licence_no", &["许可证号", "执业许可证号", "登记号"]),
    ("name", &["名称", "机构名称"]),
    ("kind", &["类型", "机构类型"]),
    ("township", &["乡镇", "镇"]),
    ("village", &["村"]),
    ("address", &["地址"]),
    ("lat", &["纬度"]),
    ("lng", &["经度"]),
    ("beds", &["床位", "床位数"]),
    ("self_disposal_basis", &["自行处置依据"]),
];

/// One row of an import as given: text per column (a JSON number becomes its text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Raw {
    /// CSV line number, or 1-based position in the JSON list.
    pub row: u64,
    pub fields: HashMap<&'static str, String>,
}

impl Raw {
    fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }
}

/// A row that passed every check, normalised as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    pub row: u64,
    pub licence_no: String,
    pub name: String,
    pub kind: String,
    pub township: String,
    pub village: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub beds: i32,
    pub disposal: &'static str,
    pub self_disposal_basis: Option<String>,
}

fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}').trim();
    COLUMNS
        .iter()
        .find(|(name, zh)| h.eq_ignore_ascii_case(name) || zh.contains(&h))
        .map(|(name, _)| *name)
}

/// Reads a CSV import (UTF-8, a BOM allowed, Chinese or English headers; other columns are
/// ignored). A file without the required columns is refused whole.
pub fn from_csv(text: &str) -> Result<Vec<Raw>, ApiError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = rd
        .headers()
        .map_err(|e| ApiError::invalid("body", format!("the CSV header cannot be read: {e}")))?
        .clone();
    let cols: Vec<Option<&'static str>> = header.iter().map(column_of).collect();
    let missing: Vec<&str> = ["licence_no", "name", "kind", "township"]
        .into_iter()
        .filter(|c| !cols.contains(&Some(*c)))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::invalid(
            "body",
            format!(
                "the CSV needs the columns {} (header line: licence_no,name,kind,township,village,address,lat,lng,beds,self_disposal_basis)",
                missing.join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec =
            rec.map_err(|e| ApiError::invalid("body", format!("the CSV cannot be read: {e}")))?;
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // The line as a spreadsheet numbers it (the reader's own count skips blank lines).
        let row = rec.position().map_or(0, |p| {
            let at = usize::try_from(p.byte()).unwrap_or(0);
            // The position may point at the blank lines before the record.
            let before = text.get(..at).map_or(0, |t| t.matches('\n').count());
            let blank = text.get(at..).map_or(0, |t| {
                t.chars()
                    .take_while(|c| matches!(c, '\r' | '\n'))
                    .filter(|c| *c == '\n')
                    .count()
            });
            (before + blank) as u64 + 1
        });
        let fields = cols
            .iter()
            .zip(rec.iter())
            .filter_map(|(c, v)| c.map(|c| (c, v.to_owned())))
            .collect();
        rows.push(Raw { row, fields });
        if rows.len() > MAX_ROWS {
            return Err(ApiError::invalid(
                "body",
                format!("at most {MAX_ROWS} rows per import"),
            ));
        }
    }
    Ok(rows)
}

/// Reads a JSON import `{"entries": [...]}`: every entry must have the contract's shape
/// (`RosterRow`); its contents are then checked row by row like a CSV line.
pub fn from_json(v: &serde_json::Value) -> Result<Vec<Raw>, ApiError> {
    let entries = v
        .get("entries")
        .and_then(|e| e.as_array())
        .ok_or_else(|| ApiError::invalid("entries", "must be a list of institutions"))?;
    if entries.len() > MAX_ROWS {
        return Err(ApiError::invalid(
            "entries",
            format!("at most {MAX_ROWS} rows per import"),
        ));
    }
    // An entry that breaks the documented shape (a missing required field, a value of the
    // wrong type, a kind outside the list) makes the request malformed: 422 naming it. What a
    // well-shaped row says (an empty name, a licence number with spaces) is judged row by row.
    for (i, e) in entries.iter().enumerate() {
        if let Err(why) = serde_json::from_value::<yifei_contract::RosterRow>(e.clone()) {
            return Err(ApiError::invalid(format!("entries[{i}]"), why.to_string()));
        }
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut fields = HashMap::new();
            for (name, _) in COLUMNS {
                let v = match name {
                    "lat" | "lng" => e.get("location").and_then(|l| l.get(name)),
                    _ => e.get(name),
                };
                if let Some(v) = v {
                    fields.insert(name, text(v));
                }
            }
            if e.get("location")
                .is_some_and(|l| !l.is_object() && !l.is_null())
            {
                fields.insert("lat", "?".into());
            }
            Raw {
                row: i as u64 + 1,
                fields,
            }
        })
        .collect())
}

/// Checks one row; every mistake is reported.
pub fn validate(raw: &Raw) -> Result<Valid, Vec<RosterRowError>> {
    let mut errors = Vec::new();
    let licence_given = raw.get("licence_no").trim().to_owned();
    let mut err = |field: &str, message: &str| {
        errors.push(RosterRowError {
            row: raw.row,
            licence_no: licence_given.clone(),
            field: field.to_owned(),
            message: message.to_owned(),
        })
    };
    let mut text = |field: &'static str, min: usize, max: usize| -> String {
        let v = raw.get(field).trim().to_owned();
        let n = v.chars().count();
        if n < min {
            err(field, "must not be empty");
        } else if n > max {
            err(field, &format!("must be at most {max} characters"));
        } else if v.chars().any(char::is_control) {
            err(field, "must not contain control characters");
        }
        v
    };
    let licence_no = text("licence_no", 4, 64).to_uppercase();
    let name = text("name", 1, 200);
    let township = text("township", 1, 100);
    let village = text("village", 0, 100);
    let address = text("address", 0, 300);
    let basis = text("self_disposal_basis", 0, 500);
    if !licence_no.is_empty() && !licence_no.chars().all(|c| c.is_ascii_graphic()) {
        err(
            "licence_no",
            "must be letters, digits and punctuation, without spaces",
        );
    }
    let kind_text = raw.get("kind").trim();
    let kind = kind_of(kind_text);
    if kind.is_none() {
        err(
            "kind",
            "must be township_health_centre (卫生院), village_health_room (村卫生室), clinic (诊所) or other (其他)",
        );
    }
    let number = |field: &str| -> Result<Option<f64>, ()> {
        let v = raw.get(field).trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<f64>().map(Some).map_err(|_| ())
    };
    let (lat, lng) = match (number("lat"), number("lng")) {
        (Ok(Some(lat)), Ok(Some(lng))) => {
            let mut fe = Vec::new();
            let loc = yifei_contract::LatLng { lat, lng };
            if crate::institutions::cell_of(&loc, "location", &mut fe).is_none() {
                for f in fe {
                    let field = f.field.replace("location.", "");
                    err(&field, &f.message);
                }
            }
            (Some(lat), Some(lng))
        }
        (Ok(None), Ok(None)) => (None, None),
        (Ok(Some(_)), Ok(None)) => {
            err("lng", "give both lat and lng, or neither");
            (None, None)
        }
        (Ok(None), Ok(Some(_))) => {
            err("lat", "give both lat and lng, or neither");
            (None, None)
        }
        (a, b) => {
            for (field, v, max) in [("lat", a, 90.0), ("lng", b, 180.0)] {
                match v {
                    Err(()) => err(field, "must be a number (degrees)"),
                    Ok(Some(x)) if !(-max..=max).contains(&x) => {
                        err(field, &format!("must be within -{max}..={max}"))
                    }
                    _ => {}
                }
            }
            (None, None)
        }
    };
    let beds_text = raw.get("beds").trim();
    let beds = if beds_text.is_empty() {
        0
    } else {
        match beds_text.parse::<i32>() {
            Ok(b) if (0..=10_000).contains(&b) => b,
            _ => {
                err("beds", "must be a whole number between 0 and 10000");
                0
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let kind = kind.unwrap_or(InstitutionKind::Other);
    Ok(Valid {
        row: raw.row,
        licence_no,
        name,
        kind: crate::wire::enum_str(&kind),
        township,
        village,
        address,
        lat,
        lng,
        beds,
        disposal: if basis.is_empty() {
            CENTRALISED
        } else {
            SELF_DISPOSAL
        },
        self_disposal_basis: (!basis.is_empty()).then_some(basis),
    })
}

fn kind_of(s: &str) -> Option<InstitutionKind> {
    match s {
        "卫生院" | "乡镇卫生院" | "镇卫生院" => {
            Some(InstitutionKind::TownshipHealthCentre)
        }
        "村卫生室" | "卫生室" => Some(InstitutionKind::VillageHealthRoom),
        "诊所" | "门诊部" => Some(InstitutionKind::Clinic),
        "其他" => Some(InstitutionKind::Other),
        s => parse_query_enum("kind", &s.to_ascii_lowercase()).ok(),
    }
}

/// The stored values of an entry, as compared with an import row.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub township: &'a str,
    pub village: &'a str,
    pub address: &'a str,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub beds: i32,
    pub disposal: &'a str,
    pub self_disposal_basis: Option<&'a str>,
}

/// The fields an import row would change.
pub fn changes(old: &Stored<'_>, new: &Valid) -> Vec<String> {
    let mut c = Vec::new();
    let mut diff = |f: &str, changed: bool| {
        if changed {
            c.push(f.to_owned());
        }
    };
    diff("name", old.name != new.name);
    diff("kind", old.kind != new.kind);
    diff("township", old.township != new.township);
    diff("village", old.village != new.village);
    diff("address", old.address != new.address);
    diff("location", old.lat != new.lat || old.lng != new.lng);
    diff("beds", old.beds != new.beds);
    diff(
        "self_disposal_basis",
        old.disposal != new.disposal
            || old.self_disposal_basis != new.self_disposal_basis.as_deref(),
    );
    c
}

/// Sign-up codes: 12 characters of Crockford's base32 (no I, L, O, U: nothing to misread on
/// a printed letter), shown in groups of four; 60 random bits.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new sign-up code from 8 random bytes.
pub fn new_code(random: [u8; 8]) -> String {
    let mut n = u64::from_le_bytes(random);
    let mut s = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            s.push('-');
        }
        s.push(char::from(ALPHABET[(n & 31) as usize]));
        n >>= 5;
    }
    s
}

/// A code as typed, normalised (case, dashes, spaces, and the letters people confuse with
/// digits); `None` when it cannot be a code.
pub fn normalise_code(s: &str) -> Option<String> {
    let c: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (c.len() == 12 && c.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

/// What is stored of a code: its SHA-256, so that the table does not hold usable codes.
pub fn code_hash(normalised: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(normalised.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The invitation letter (plain text, to print or to email).
pub fn letter(name: &str, licence_no: &str, bureau: &str, code: &str, date: &str) -> String {
    format!(
        "致 {name}（执业许可证号 {licence_no}）：\n\n\
         根据《医疗废物管理条例》，贵单位产生的医疗废物应当交由有资质的单位集中处置。\n\
         本单位在卫生健康部门的医疗机构名录中，但尚未在医废全程监管系统（Yifei）注册。\n\
         请在系统中注册本单位，并在注册时填写以下注册码：\n\n\
         \u{3000}\u{3000}注册码：{code}\n\n\
         注册码只能使用一次，用于把贵单位的注册与名录关联；注册时的执业许可证号须为 {licence_no}。\n\
         如贵单位依《医疗废物管理条例》第二十一条自行处置医疗废物，请携批准文件与我局联系。\n\n\
         {bureau}\n{date}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&'static str, &str)]) -> Raw {
        Raw {
            row: 2,
            fields: pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    fn good() -> Raw {
        raw(&[
            ("licence_no", " pdy-r-0001 "),
            ("name", "北庄村卫生室"),
            ("kind", "村卫生室"),
            ("township", "石门镇"),
            ("lat", "36.2"),
            ("lng", "117.3"),
            ("beds", ""),
        ])
    }

    #[test]
    fn a_good_row_is_normalised() {
        let v = validate(&good()).expect("valid");
        assert_eq!(v.licence_no, "PDY-R-0001");
        assert_eq!(v.kind, "village_health_room");
        assert_eq!((v.beds, v.disposal, v.lat), (0, CENTRALISED, Some(36.2)));
        let mut r = good();
        r.fields
            .insert("self_disposal_basis", "县卫健局批复〔2026〕3号".into());
        let v = validate(&r).expect("valid");
        assert_eq!(v.disposal, SELF_DISPOSAL);
    }

    #[test]
    fn every_bad_field_of_a_row_is_named() {
        let r = raw(&[
            ("licence_no", "ab"),
            ("name", ""),
            ("kind", "hospital"),
            ("township", "石门镇"),
            ("lat", "north"),
            ("lng", "200"),
            ("beds", "-1"),
        ]);
        let errs = validate(&r).expect_err("invalid");
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["licence_no", "name", "kind", "lat", "lng", "beds"]);
        assert!(errs.iter().all(|e| e.row == 2 && e.licence_no == "ab"));
        // Half a position, or a position off the globe.
        let r = raw(&[
            ("licence_no", "PDY-1"),
            ("name", "n"),
            ("kind", "clinic"),
            ("township", "t"),
            ("lat", "36"),
        ]);
        assert_eq!(validate(&r).expect_err("half")[0].field, "lng");
        let r = raw(&[
            ("licence_no", "PDY 1"),
            ("name", "n"),
            ("kind", "clinic"),
            ("township", "t"),
            ("lat", "95"),
            ("lng", "117"),
        ]);
        let f: Vec<String> = validate(&r)
            .expect_err("bad")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(f, ["licence_no", "lat"]);
    }

    #[test]
    fn csv_with_a_bom_and_chinese_headers_reads_and_numbers_lines() {
        let text = "\u{feff}许可证号,名称,类型,乡镇,村,备注\nPDY-1,甲,诊所,石门镇,东村,x\n\n\"PDY-2\",\"乙, 二\",clinic,石门镇,,\n";
        let rows = from_csv(text).expect("csv");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].row, rows[0].get("name")), (2, "甲"));
        assert_eq!((rows[1].row, rows[1].get("name")), (4, "乙, 二"));
        assert!(!rows[0].fields.contains_key("备注"));
        assert!(
            from_csv("name,kind\nx,clinic\n").is_err(),
            "no licence column"
        );
    }

    #[test]
    fn json_rows_read_numbers_and_positions() {
        let v = serde_json::json!({"entries": [
            {"licence_no": "PDY-1", "name": "甲", "kind": "clinic", "township": "t",
             "location": {"lat": 36.1, "lng": 117.2}, "beds": 3},
            {"licence_no": "PDY-2", "name": "乙", "kind": "clinic", "township": "t", "beds": -1}
        ]});
        let rows = from_json(&v).expect("json");
        let a = validate(&rows[0]).expect("a");
        assert_eq!((a.beds, a.lat, a.lng), (3, Some(36.1), Some(117.2)));
        let e = validate(&rows[1]).expect_err("b");
        assert_eq!((e[0].row, e[0].field.as_str()), (2, "beds"));
        // A value of the wrong JSON type is not a row's mistake but a malformed request.
        for bad in [
            serde_json::json!({"entries": [{"licence_no": "x", "beds": "many"}]}),
            serde_json::json!({"entries": [{"licence_no": "x", "village": {}}]}),
            serde_json::json!({"entries": [{"licence_no": "x", "location": {"lat": "n"}}]}),
            serde_json::json!({"entries": [{"licence_no": "", "name": "", "kind": "clinic",
                "township": "", "village": null}]}),
            serde_json::json!({"entries": [{"name": "甲", "kind": "clinic", "township": "t"}]}),
            serde_json::json!({"entries": [{"licence_no": "PDY-9", "name": "甲",
                "kind": "hospital", "township": "t"}]}),
        ] {
            assert!(from_json(&bad).is_err(), "{bad}");
        }
        assert!(from_json(&serde_json::json!({"entries": 3})).is_err());
    }

    #[test]
    fn changes_name_the_fields() {
        let v = validate(&good()).expect("valid");
        let stored = Stored {
            name: &v.name,
            kind: &v.kind,
            township: &v.township,
            village: "",
            address: "",
            lat: v.lat,
            lng: v.lng,
            beds: 0,
            disposal: CENTRALISED,
            self_disposal_basis: None,
        };
        assert!(changes(&stored, &v).is_empty(), "idempotent");
        let moved = Stored {
            township: "北山乡",
            beds: 2,
            disposal: SELF_DISPOSAL,
            self_disposal_basis: Some("x"),
            ..stored
        };
        assert_eq!(
            changes(&moved, &v),
            ["township", "beds", "self_disposal_basis"]
        );
    }

    #[test]
    fn codes_survive_how_people_type_them() {
        let code = new_code([7, 1, 2, 3, 4, 5, 6, 250]);
        assert_eq!(code.len(), 14);
        let n = normalise_code(&code).expect("own code");
        assert_eq!(
            normalise_code(&code.to_lowercase().replace('-', " ")),
            Some(n.clone())
        );
        assert_eq!(normalise_code(&n.replace('0', "O")), Some(n.clone()));
        assert_eq!(normalise_code("ABC"), None);
        assert_eq!(
            normalise_code("ABCD-EFGH-UUUU"),
            None,
            "U is not in the alphabet"
        );
        assert_ne!(new_code([0; 8]), new_code([1, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(code_hash(&n).len(), 64);
        let l = letter("甲", "PDY-1", "县卫生健康局", &code, "2026-03-02");
        assert!(l.contains(&code) && l.contains("PDY-1") && l.contains("第二十一条"));
    }
}
