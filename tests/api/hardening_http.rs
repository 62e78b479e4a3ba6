//! The HTTP edges (issue 14, items 10, 12, 17): stalled uploads, security headers, the JWT
//! secret, lenient parsing of codes and schemes, and the contract as a client generator reads
//! it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yifei_api::clock::ManualClock;

use crate::both;
use crate::common::{Backend, Res, TestApp, TestDb, t0};
use crate::custody::{county, new_container};

both!(
    answers_carry_the_security_headers,
    codes_and_schemes_are_read_in_any_case,
    a_hub_for_a_direct_institution_is_refused,
    optional_bodies_may_be_left_out,
    csv_exports_are_operations_of_their_own,
);

/// A request with this `Authorization` header and no body.
fn call(app: &TestApp, method: &str, path: &str, authorization: &str) -> Res {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", app.base))
        .header("authorization", authorization)
        .body(())
        .expect("request");
    Res::from(agent.run(req).expect("request"))
}

/// A server whose read timeouts are short: 1 s without a byte of the body, 2 s for all of it,
/// 1 s for the head.
fn impatient(backend: Backend) -> Option<TestApp> {
    let db = TestDb::create(backend)?;
    Some(TestApp::start_configured(db, ManualClock::new(t0()), |c| {
        c.timeouts.body_idle = Duration::from_secs(1);
        c.timeouts.body = Duration::from_secs(2);
        c.timeouts.head = Duration::from_secs(1);
    }))
}

fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    // The bound of every wait below: ten times the configured timeouts, so a slow machine
    // cannot fail the test, while a server that never closes does.
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s
}

/// Reads until the server closes the connection; `None` if it was still open after the
/// socket's read timeout.
fn read_until_closed(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            Err(_) => return None,
        }
    }
}

const STALLED_HEAD: &str = "POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\n\
    Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";

/// Item 10: a body declared as 1000 bytes of which 10 arrive is answered 408 and the
/// connection closed, for many such connections at once; so is a body that drips in a byte
/// at a time, and a head that never ends.
fn stalled_uploads_are_cut_off(backend: Backend) {
    let Some(app) = impatient(backend) else {
        return;
    };
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = connect(&app);
            s.write_all(STALLED_HEAD.as_bytes()).expect("head");
            s.write_all(b"{\"login\":\"").expect("10 bytes");
            s
        })
        .collect();
    for s in &mut stalled {
        let answer = read_until_closed(s).expect("a stalled upload must not keep its connection");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("application/problem+json") && answer.contains("request-timeout"),
            "{answer}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));

    // A byte every 300 ms never trips the idle timeout, but the whole body has 2 s. (Bytes
    // written after the server closed may reset the connection before its answer is read:
    // then the answer is empty, and the connection closed all the same.)
    let mut drip = connect(&app);
    drip.write_all(STALLED_HEAD.as_bytes()).expect("head");
    let mut writer = drip.try_clone().expect("clone");
    let dripping = std::thread::spawn(move || {
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(300));
            if writer.write_all(b" ").is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let answer = read_until_closed(&mut drip).expect("a dripping upload is cut off");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(drip);
    dripping.join().expect("drip thread");

    // The head's own timeout (actix's client_request_timeout, now configured).
    let mut head = connect(&app);
    head.write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\n")
        .expect("half a head");
    let answer = read_until_closed(&mut head).expect("a stalled head is cut off");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // The server still serves everyone else.
    assert_eq!(app.get("/healthz", None).status, 200);
}

#[test]
fn stalled_uploads_are_cut_off_sqlite() {
    stalled_uploads_are_cut_off(Backend::Sqlite);
}

#[test]
fn stalled_uploads_are_cut_off_postgres() {
    stalled_uploads_are_cut_off(Backend::Postgres);
}

/// Item 12: tokens and per-caller records are never cached, no answer is sniffed into
/// another type, and the label SVG may run no script.
fn answers_carry_the_security_headers(app: &TestApp) {
    let c = county(app);
    let login = app.post(
        "/api/v1/auth/login",
        None,
        &json!({"login": app.login_of("clinic1"), "password": crate::common::PASSWORD}),
    );
    assert_eq!(login.status, 200);
    let refresh = app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": login.str("refresh_token")}),
    );
    assert_eq!(refresh.status, 200, "{}", refresh.text);
    let me = app.get("/api/v1/me", Some(&c.clinic_a));
    assert_eq!(me.status, 200);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    let list = app.get("/api/v1/containers", Some(&c.clinic_a));
    let missing = app.get("/api/v1/nowhere", None);
    let unauth = app.get("/api/v1/me", None);
    for r in [&login, &refresh, &me, &list, &missing, &unauth] {
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert!(
            r.header("content-security-policy")
                .is_some_and(|p| p.contains("default-src 'none'")),
        );
    }
    let svg = app.get(
        &format!("/api/v1/containers/{code}/label.svg"),
        Some(&c.clinic_a),
    );
    assert_eq!(svg.status, 200);
    assert_eq!(
        svg.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let csp = svg.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script"), "{csp}");
}

/// Item 12: `yf1:` is the QR prefix in any case, and `bearer` is the scheme in any case
/// (RFC 7235).
fn codes_and_schemes_are_read_in_any_case(app: &TestApp) {
    let c = county(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    for written in [
        format!("YF1:{code}"),
        format!("yf1:{code}"),
        format!("yf1:{}", code.to_lowercase()),
    ] {
        let r = app.get(&format!("/api/v1/containers/{written}"), Some(&c.clinic_a));
        assert_eq!(r.status, 200, "{written}: {}", r.text);
    }
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = call(
            app,
            "GET",
            "/api/v1/me",
            &format!("{scheme} {}", c.clinic_a),
        );
        assert_eq!(r.status, 200, "{scheme}: {}", r.text);
    }
    let r = call(app, "GET", "/api/v1/me", &format!("Basic {}", c.clinic_a));
    r.problem(401);
}

/// Item 12: a hub sent for a direct-service institution is refused, naming the field,
/// instead of being dropped silently.
fn a_hub_for_a_direct_institution_is_refused(app: &TestApp) {
    let c = county(app);
    let r = app.patch(
        &format!("/api/v1/institutions/{}", c.inst_a),
        Some(&c.admin),
        &json!({"service_mode": "direct", "hub_id": c.inst_b}),
    );
    r.invalid_field("hub_id");
    // Direct without a hub is fine.
    let r = app.patch(
        &format!("/api/v1/institutions/{}", c.inst_a),
        Some(&c.admin),
        &json!({"service_mode": "direct"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["service_mode"], "direct");
}

/// Item 17: what the contract marks optional, the server takes with no body at all (no
/// content type either, as a generated client sends it).
fn optional_bodies_may_be_left_out(app: &TestApp) {
    let c = county(app);
    let pending = app.sign_up(3, "石门镇");
    let r = call(
        app,
        "POST",
        &format!("/api/v1/institutions/{pending}/approve"),
        &format!("Bearer {}", c.admin),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(
        app,
        "POST",
        "/api/v1/auth/logout",
        &format!("Bearer {}", c.admin),
    );
    assert!(r.status < 300, "{}", r.text);
    // Signed out, that token is dead at once: sign in again.
    let (admin, _) = app.login("admin1");
    // The reason of a rejection is required, as the contract now says.
    let other = app.sign_up(4, "石门镇");
    let r = app.post(
        &format!("/api/v1/institutions/{other}/reject"),
        Some(&admin),
        &json!({}),
    );
    r.invalid_field("reason");
}

/// Item 17: a generated client expects one answer type per operation, so each CSV export
/// has a `.csv` operation beside the JSON one (`?format=csv` still works).
fn csv_exports_are_operations_of_their_own(app: &TestApp) {
    let c = county(app);
    for path in [
        "/api/v1/reports/coverage.csv",
        "/api/v1/reports/coverage?format=csv",
    ] {
        let r = app.get(path, Some(&c.admin));
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/csv")),
            "{path}"
        );
        // After the byte order mark every CSV download starts with (Excel on Chinese Windows).
        assert!(
            r.text.starts_with("\u{feff}dimension,"),
            "{path}: {}",
            r.text
        );
    }
    // The routes exist: an unknown manifest or run is 404 from the handler, not "no route".
    for path in [
        "/api/v1/manifests/NOPE.csv",
        "/api/v1/runs/nope/manifests.csv",
    ] {
        let r = app.get(path, Some(&c.admin));
        let p = r.problem(404);
        assert!(
            !p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("no route"),
            "{path}: {}",
            r.text
        );
    }
}

/// Item 12: a JWT secret shorter than 32 bytes stops the server from starting.
#[test]
fn a_short_jwt_secret_is_refused_at_start() {
    let Some(db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    let mut config = crate::common::test_config(&db.url);
    config.jwt_secret = Some("fourteen-chars".into());
    let built = actix_web::rt::System::new()
        .block_on(async move { yifei_api::startup::Application::build(config).map(|_| ()) });
    let err = built.expect_err("a 14-byte secret must be refused");
    assert!(err.to_string().contains("at least 32"), "{err}");
}

/// Item 12: the generated secret sits in an owner-only key file, not in the database.
#[test]
fn a_generated_secret_is_not_in_the_database() {
    let Some(db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    let app = TestApp::start(db);
    let stored: i64 = app.with_conn(|c| {
        use diesel::prelude::*;
        yifei_api::db::schema::settings::table
            .filter(yifei_api::db::schema::settings::key.eq("jwt_secret"))
            .count()
            .get_result(c)
            .expect("count")
    });
    assert_eq!(stored, 0);
    let key = std::path::PathBuf::from(format!("{}.jwt-key", app.db.url));
    assert!(key.exists(), "{}", key.display());
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            out.push((method.to_uppercase(), path.clone(), op));
        }
    }
    out
}

/// Item 17: every operation has its own operationId (generators name functions by it).
#[test]
fn operation_ids_are_unique() {
    let doc: Value =
        serde_json::from_str(&yifei_api::http::openapi::document_json()).expect("document");
    let mut seen = std::collections::HashMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} of {method} {path} is also {other}'s");
        }
    }
}

/// Item 17: optional bodies are not required and not `null`; the label and CSV exports
/// declare their media types; the rules the server checks are in the schemas.
#[test]
fn the_contract_says_what_the_server_checks() {
    let doc: Value =
        serde_json::from_str(&yifei_api::http::openapi::document_json()).expect("document");
    let op = |method: &str, path: &str| doc["paths"][path][method.to_lowercase()].clone();
    for (path, method) in [
        ("/api/v1/institutions/{id}/approve", "POST"),
        ("/api/v1/alerts/{id}/ack", "POST"),
        ("/api/v1/auth/logout", "POST"),
    ] {
        let body = &op(method, path)["requestBody"];
        assert_eq!(body["required"], false, "{path}: {body}");
        let schema = &body["content"]["application/json"]["schema"];
        assert!(schema["$ref"].is_string(), "{path}: {schema}");
    }
    for path in [
        "/api/v1/institutions/{id}/reject",
        "/api/v1/institutions/{id}/suspend",
    ] {
        let body = &op("POST", path)["requestBody"];
        assert_eq!(body["required"], true, "{path}");
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ReasonRequest"
        );
    }
    let reason = &doc["components"]["schemas"]["ReasonRequest"];
    assert_eq!(reason["required"], json!(["reason"]));
    assert_eq!(reason["properties"]["reason"]["minLength"], 1);
    let label = &op("GET", "/api/v1/containers/{code}/label.svg")["responses"]["200"]["content"];
    assert!(label["image/svg+xml"].is_object(), "{label}");
    for path in [
        "/api/v1/manifests/{number}",
        "/api/v1/runs/{id}/manifests",
        "/api/v1/reports/coverage",
    ] {
        let content = &op("GET", path)["responses"]["200"]["content"];
        assert!(content["text/csv"].is_object(), "{path}: {content}");
    }
    let param = |method: &str, path: &str, name: &str| -> Value {
        op(method, path)["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))["schema"]
            .clone()
    };
    for path in [
        "/api/v1/institutions",
        "/api/v1/containers",
        "/api/v1/alerts",
    ] {
        let limit = param("GET", path, "limit");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone()),
            (json!(1), json!(200)),
            "{path}"
        );
    }
    let res = param("GET", "/api/v1/reports/coverage/cells", "res");
    assert_eq!(
        (res["minimum"].clone(), res["maximum"].clone()),
        (json!(5), json!(9))
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        param("GET", "/api/v1/alerts", "status")["$ref"],
        "#/components/schemas/AlertStatus"
    );
    assert_eq!(
        schemas["AlertStatus"]["enum"],
        json!(["open", "acknowledged", "resolved"])
    );
    for path in ["/api/v1/manifests/{number}", "/api/v1/reports/coverage"] {
        assert_eq!(
            param("GET", path, "format")["$ref"],
            "#/components/schemas/ExportFormat"
        );
    }
    assert_eq!(schemas["ExportFormat"]["enum"], json!(["json", "csv"]));
    let count = &schemas["NewContainerBatch"]["properties"]["count"];
    assert_eq!(
        (count["minimum"].clone(), count["maximum"].clone()),
        (json!(1), json!(500))
    );
    let events = &schemas["ScanBatch"]["properties"]["events"];
    assert_eq!(
        (events["minItems"].clone(), events["maxItems"].clone()),
        (json!(1), json!(500))
    );
}
