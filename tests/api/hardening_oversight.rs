//! Issue #14, oversight: reads never evaluate alert rules (items 4), alerts follow the
//! company they concern (9), CSV cells cannot carry formulas (6), report filters are applied
//! and refused outside the caller's jurisdiction (11).

use chrono::Duration;
use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;
use crate::custody::{county, ev, new_container, scan};

both!(
    reads_never_evaluate_and_uploads_do,
    alerts_follow_the_company_they_concern,
    csv_exports_cannot_carry_formulas,
    filters_are_applied_and_refused_outside_the_jurisdiction,
);

fn items(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/alerts{query}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().expect("items").clone()
}

fn company(app: &TestApp) -> String {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::organisations;
        organisations::table
            .filter(organisations::kind.eq("disposal_company"))
            .select(organisations::id)
            .first::<String>(conn)
            .expect("company")
    })
}

fn rule_status(list: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["rule"].as_str().unwrap_or("?"),
                a["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    v.sort();
    v
}

fn reads_never_evaluate_and_uploads_do(app: &TestApp) {
    let c = county(app);
    let org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&org));
    let b = app.login("bureau1").0;
    // Before any evaluation the list says so.
    let r = app.get("/api/v1/alerts", Some(&b));
    assert_eq!(
        (r.status, &r.body["evaluated_at"]),
        (200, &Value::Null),
        "{}",
        r.text
    );
    // An upload that stores something asks the background evaluator; no read does.
    // (Labelled at t0 and sealed then, uploaded 37 h later: the phone was offline.)
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    app.clock.advance(Duration::hours(37));
    let (b, clinic_a) = (app.login("bureau1").0, app.login("clinic1").0);
    scan(app, &clinic_a, &[ev(&code, "seal", 0, Some(2.0))]);
    let (requested, _) = app.state.alerts.counts();
    assert!(requested >= 1, "the upload asked for an evaluation");
    app.state.alerts.wait(requested);
    let r = app.get("/api/v1/alerts", Some(&b));
    assert_eq!(
        rule_status(r.body["items"].as_array().expect("items")),
        ["storage_warning:open"]
    );
    let at = r.body["evaluated_at"]
        .as_str()
        .expect("evaluated_at")
        .to_owned();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&at).expect("rfc3339"),
        crate::common::t0() + Duration::hours(37),
        "evaluated at the server's now"
    );
    // Twelve hours later the storage limit is breached, but reading (by anyone, a pending
    // clinic included) does not evaluate: the list stays as evaluated, and says when.
    app.clock.advance(Duration::hours(12));
    let b = app.login("bureau1").0;
    app.sign_up(9, "石门镇");
    let pending = app.login("clinic9").0;
    for _ in 0..3 {
        let r = app.get("/api/v1/alerts", Some(&pending));
        assert_eq!(
            (r.status, r.body["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{}",
            r.text
        );
        assert_eq!(
            r.body["evaluated_at"],
            Value::Null,
            "a pending clinic learns nothing"
        );
    }
    let r = app.get("/api/v1/alerts", Some(&b));
    assert_eq!(
        rule_status(r.body["items"].as_array().expect("items")),
        ["storage_warning:open"]
    );
    assert_eq!(r.body["evaluated_at"].as_str(), Some(at.as_str()));
    // The next evaluation (the interval's, here the test's) catches up.
    app.evaluate_alerts();
    assert_eq!(
        rule_status(&items(app, &b, ""))
            .into_iter()
            .filter(|s| s.starts_with("storage"))
            .collect::<Vec<_>>(),
        ["storage_breach:open", "storage_warning:resolved"]
    );
    // A pending clinic sees nothing of the county's alerts, and an approved one only its own.
    assert!(items(app, &pending, "").is_empty());
    assert_eq!(
        items(app, &app.login("clinic1").0, "?rule=storage_breach").len(),
        1
    );
    assert!(items(app, &app.login("clinic2").0, "?rule=storage_breach").is_empty());
}

fn alerts_follow_the_company_they_concern(app: &TestApp) {
    let c = county(app);
    let c1 = company(app);
    app.user("dispatch1", Role::Dispatcher, Some(&c1));
    let c2 = app.org("disposal_company", "另一家处置公司", &[]);
    app.user("dispatch2", Role::Dispatcher, Some(&c2));
    app.user("plant2", Role::PlantOperator, Some(&c2));
    let health = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&health));
    let eco = app.org("eco_environment_bureau", "生态环境分局", &[]);
    app.user("eco1", Role::BureauStaff, Some(&eco));
    let north = app.org("health_bureau", "北片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    // Two containers sealed at t0. 37 h later: company 1's driver picked one up 13 h ago and it
    // never reached the plant; the other is stored too long (an institution-side condition).
    let moved = new_container(app, &c.clinic_a, "infectious", "bag");
    let stored = new_container(app, &c.clinic_a, "infectious", "bag");
    app.clock.advance(Duration::hours(37));
    scan(
        app,
        &app.login("clinic1").0,
        &[
            ev(&moved, "seal", 0, Some(2.0)),
            ev(&stored, "seal", 0, Some(1.0)),
        ],
    );
    scan(
        app,
        &app.login("driver1").0,
        &[ev(&moved, "collect", 24 * 60, Some(2.0))],
    );
    app.evaluate_alerts();
    let tok = |l: &str| app.login(l).0;
    let (d1, d2, p2, b, e, n) = (
        tok("dispatch1"),
        tok("dispatch2"),
        tok("plant2"),
        tok("bureau1"),
        tok("eco1"),
        tok("north1"),
    );
    let transit = items(app, &d1, "?rule=collected_not_received");
    assert_eq!(transit.len(), 1);
    assert_eq!(
        transit[0]["org_id"],
        c1.as_str(),
        "the alert names its company"
    );
    let tid = transit[0]["id"].as_str().expect("id").to_owned();
    let sid = items(app, &b, "?rule=storage_warning")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The other company sees the institution-side alert (it may collect there), not company
    // 1's; it cannot act on company 1's, and only acknowledges the institution-side one.
    // (The moved container's own storage warning may have opened and cleared between the
    // two uploads, as the background evaluator happened to run: only open ones are compared.)
    assert_eq!(
        rule_status(&items(app, &d2, "?status=open")),
        ["storage_warning:open"]
    );
    assert_eq!(
        rule_status(&items(app, &p2, "?status=open")),
        ["storage_warning:open"]
    );
    let resolve = json!({"note": "not ours"});
    app.post(
        &format!("/api/v1/alerts/{tid}/resolve"),
        Some(&d2),
        &resolve,
    )
    .problem(404);
    app.post(&format!("/api/v1/alerts/{tid}/ack"), Some(&d2), &json!({}))
        .problem(404);
    app.post(
        &format!("/api/v1/alerts/{sid}/resolve"),
        Some(&d2),
        &resolve,
    )
    .problem(403);
    let r = app.post(&format!("/api/v1/alerts/{sid}/ack"), Some(&d2), &json!({}));
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("acknowledged")),
        "{}",
        r.text
    );
    // Plant operators read; the eco-environment bureau reads; a bureau of other townships
    // sees nothing.
    app.post(&format!("/api/v1/alerts/{sid}/ack"), Some(&p2), &json!({}))
        .problem(403);
    assert_eq!(
        rule_status(&items(app, &e, ""))
            .iter()
            .filter(|s| !s.ends_with(":resolved"))
            .collect::<Vec<_>>(),
        [
            "collected_not_received:open",
            "storage_warning:acknowledged"
        ]
    );
    app.post(&format!("/api/v1/alerts/{tid}/ack"), Some(&e), &json!({}))
        .problem(403);
    app.post(&format!("/api/v1/alerts/{tid}/resolve"), Some(&e), &resolve)
        .problem(403);
    assert!(items(app, &n, "").is_empty());
    app.post(&format!("/api/v1/alerts/{tid}/resolve"), Some(&n), &resolve)
        .problem(404);
    // Company 1's dispatcher resolves its own; the health bureau resolves the storage one.
    let r = app.post(
        &format!("/api/v1/alerts/{tid}/resolve"),
        Some(&d1),
        &json!({"note": "truck broke down; delivered next morning"}),
    );
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("resolved")),
        "{}",
        r.text
    );
    let r = app.post(
        &format!("/api/v1/alerts/{sid}/resolve"),
        Some(&b),
        &json!({"note": "collected by phone arrangement"}),
    );
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("resolved")),
        "{}",
        r.text
    );
}

/// Every CSV export (the manifests of a run, one manifest, the coverage report) with a
/// formula in each kind of text a user chose: institution name, township, company name.
fn csv_exports_cannot_carry_formulas(app: &TestApp) {
    let company = app.org("disposal_company", "-2+3 处置公司", &[]);
    app.user("admin1", Role::Admin, None);
    app.user("driver1", Role::Driver, Some(&company));
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let admin = app.login("admin1").0;
    let mut body = crate::common::sign_up_body(1, "@SUM(1+1)");
    body["name"] = json!("=cmd|' /C calc'!A0");
    let r = app.post("/api/v1/institutions", None, &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let (inst, clinic_login) = (r.str("id"), r.str("login"));
    let r = app.post(
        &format!("/api/v1/institutions/{inst}/approve"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let clinic = app.login(&clinic_login).0;
    let code = new_container(app, &clinic, "infectious", "bag");
    app.clock.advance(Duration::hours(1));
    let tok = |l: &str| app.login(l).0;
    let (admin, clinic, driver, dispatcher) = (
        tok("admin1"),
        tok(&clinic_login),
        tok("driver1"),
        tok("dispatch1"),
    );
    scan(app, &clinic, &[ev(&code, "seal", 10, Some(2.0))]);
    let r = app.post(
        "/api/v1/pickup-requests",
        Some(&clinic),
        &json!({"est_weight_kg": 2.0}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let me = app.get("/api/v1/me", Some(&driver));
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "@鲁J·A1234", "capacity_kg": 800, "capacity_units": 60, "refrigerated": false, "driver_id": me.body["id"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post(
        "/api/v1/plans",
        Some(&dispatcher),
        &json!({"date": "2026-03-02"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let run = r.body["runs"][0]["id"].as_str().expect("a run").to_owned();
    let mut collect = ev(&code, "collect", 20, Some(2.0));
    collect["run_id"] = json!(run);
    let res = scan(app, &driver, &[collect]);
    assert_eq!(res[0]["status"], "accepted", "{res:?}");
    let manifests = app.get(
        &format!("/api/v1/runs/{run}/manifests?format=csv"),
        Some(&dispatcher),
    );
    assert_eq!(manifests.status, 200, "{}", manifests.text);
    let number = app
        .get(&format!("/api/v1/runs/{run}/manifests"), Some(&dispatcher))
        .body["items"][0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let one = app.get(
        &format!("/api/v1/manifests/{number}?format=csv"),
        Some(&admin),
    );
    assert_eq!(one.status, 200, "{}", one.text);
    let coverage = app.get("/api/v1/reports/coverage?format=csv", Some(&admin));
    assert_eq!(coverage.status, 200, "{}", coverage.text);
    let coverage_accept = app.get_with("/api/v1/reports/coverage", Some(&admin), "text/csv");
    for (what, csv, wanted) in [
        (
            "run manifests",
            &manifests.text,
            vec!["'=cmd|' /C calc'!A0", "'-2+3 处置公司", "'@鲁J·A1234"],
        ),
        (
            "manifest",
            &one.text,
            vec!["'=cmd|' /C calc'!A0", "'-2+3 处置公司", "'@鲁J·A1234"],
        ),
        ("coverage", &coverage.text, vec!["township,'@SUM(1+1),1,"]),
        (
            "coverage (Accept)",
            &coverage_accept.text,
            vec!["township,'@SUM(1+1),1,"],
        ),
    ] {
        for w in wanted {
            assert!(csv.contains(w), "{what}: {w} missing from\n{csv}");
        }
        // No cell of any line starts a formula.
        for line in csv.lines() {
            for cell in line.split(',') {
                let cell = cell.trim_start_matches('"');
                assert!(
                    !(cell.starts_with(['=', '+', '@', '\t', '\r'])
                        || (cell.starts_with('-') && cell.parse::<f64>().is_err())),
                    "{what}: formula cell {cell:?} in {line}"
                );
            }
        }
    }
}

/// 石门镇 and 北山乡, percent-encoded for a query string.
const SM: &str = "%E7%9F%B3%E9%97%A8%E9%95%87";
const BS: &str = "%E5%8C%97%E5%B1%B1%E4%B9%A1";

fn filters_are_applied_and_refused_outside_the_jurisdiction(app: &TestApp) {
    let c = county(app);
    let inst_c = app.sign_up(3, "北山乡");
    let r = app.post(
        &format!("/api/v1/institutions/{inst_c}/approve"),
        Some(&c.admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let county_org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&county_org));
    let south_org = app.org("health_bureau", "南片", &["石门镇"]);
    app.user("south1", Role::BureauStaff, Some(&south_org));
    let (b, south) = (app.login("bureau1").0, app.login("south1").0);
    let all_ok = json!({"packaging": true, "labels": true, "storage_time": true, "register": true, "signage": true});
    let mut failed = all_ok.clone();
    failed["labels"] = json!(false);
    let r = app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": c.inst_a, "checklist": all_ok}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": inst_c, "checklist": failed, "rectification_deadline": "2026-03-20T00:00:00Z"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // The township filter is applied to the list and its pass rate.
    let list = |tok: &str, q: &str| {
        let r = app.get(&format!("/api/v1/inspections{q}"), Some(tok));
        assert_eq!(r.status, 200, "{}", r.text);
        (
            r.body["items"].as_array().map(Vec::len),
            r.body["pass_rate"].as_f64(),
        )
    };
    assert_eq!(list(&b, ""), (Some(2), Some(0.5)));
    assert_eq!(list(&b, &format!("?township={SM}")), (Some(1), Some(1.0)));
    assert_eq!(list(&b, &format!("?township={BS}")), (Some(1), Some(0.0)));
    assert_eq!(
        list(&south, &format!("?township={SM}")),
        (Some(1), Some(1.0))
    );
    // A township outside the caller's jurisdiction is refused, on every endpoint that takes one.
    for path in [
        format!("/api/v1/reports/coverage?township={BS}"),
        format!("/api/v1/reports/coverage?township={BS}&format=csv"),
        format!("/api/v1/reports/coverage/cells?township={BS}"),
        format!("/api/v1/inspections?township={BS}"),
        format!("/api/v1/alerts?township={BS}"),
        format!("/api/v1/institutions?township={BS}"),
    ] {
        let p = app.get(&path, Some(&south)).problem(403).clone();
        assert!(
            p["detail"]
                .as_str()
                .is_some_and(|d| d.contains("北山乡") && d.contains("jurisdiction")),
            "{path}: {p}"
        );
    }
    let r = app.get(
        &format!("/api/v1/reports/coverage?township={SM}"),
        Some(&south),
    );
    assert_eq!(
        (r.status, r.body["total"]["registered"].as_i64()),
        (200, Some(2)),
        "{}",
        r.text
    );
    // A county-wide bureau may filter on any township.
    let r = app.get(&format!("/api/v1/reports/coverage?township={BS}"), Some(&b));
    assert_eq!(
        (r.status, r.body["total"]["registered"].as_i64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    // An institution the caller may not see, as a filter, is not found rather than empty.
    app.get(
        &format!("/api/v1/containers?institution_id={}", c.inst_b),
        Some(&c.clinic_a),
    )
    .problem(404);
    let r = app.get(
        &format!("/api/v1/containers?institution_id={}", c.inst_a),
        Some(&c.clinic_a),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}
