//! The watch list's rules (missed collections, escalation a level at a time, 销号 with the
//! condition cleared for the set time), rectifications followed to closure, and enforcement
//! records with their documents and who may read them.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_api::config::Config;
use yifei_contract::Role;

use crate::both;
use crate::common::{Backend, TestApp, TestDb, t0};
use crate::custody::{County, county, ev, new_container, scan};
use yifei_api::clock::ManualClock;

fn accepted(r: Vec<Value>) {
    assert!(r.iter().all(|x| x["status"] == "accepted"), "{r:?}");
}

/// A county bureau, a township bureau of 石门镇 (where the county's clinics are) and one of
/// 北山乡 (none of them).
fn bureaus(app: &TestApp) {
    let county_b = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&county_b));
    let north = app.org("health_bureau", "北山片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
}

fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use yifei_api::clock::Clock;
    app.clock.now()
}

fn alert_rules(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let r = app.get("/api/v1/alerts?limit=200", Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap_or("").to_owned(),
                a["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn inspect(app: &TestApp, token: &str, inst: &str, pass: bool, deadline_days: i64) -> Value {
    let mut body = json!({"institution_id": inst, "checklist": {"packaging": true,
        "labels": pass, "storage_time": true, "register": true, "signage": true}});
    if !pass {
        body["rectification_deadline"] =
            json!((now(app) + Duration::days(deadline_days)).to_rfc3339());
    }
    let r = app.post("/api/v1/inspections", Some(token), &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

both!(a_failed_inspection_opens_a_rectification_that_a_reinspection_closes);

fn a_failed_inspection_opens_a_rectification_that_a_reinspection_closes(app: &TestApp) {
    let c: County = county(app);
    bureaus(app);
    let (b, n) = (app.login("bureau1").0, app.login("north1").0);
    let failed = inspect(app, &b, &c.inst_a, false, 3);
    let rects = |t: &str, q: &str| app.get(&format!("/api/v1/rectifications{q}"), Some(t));
    let r = rects(&b, &format!("?institution_id={}", c.inst_a));
    assert_eq!(r.status, 200, "{}", r.text);
    let item = &r.body["items"][0];
    assert_eq!(
        (
            item["status"].as_str(),
            item["overdue"].as_bool(),
            item["inspection_id"].as_str()
        ),
        (Some("open"), Some(false), failed["id"].as_str()),
        "{}",
        r.text
    );
    // Its clinic sees it; the other clinic, another township's bureau and drivers do not.
    assert_eq!(
        rects(&c.clinic_a, "").body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(rects(&c.clinic_b, "").body["items"], json!([]));
    rects(&c.clinic_b, &format!("?institution_id={}", c.inst_a)).problem(404);
    assert_eq!(rects(&n, "").body["items"], json!([]));
    rects(&c.driver, "").problem(403);
    rects(&b, "?status=maybe").invalid_field("status");

    // Three days and an hour later, overnight past the deadline: overdue, and an alert.
    app.clock.advance(Duration::days(3) + Duration::hours(1));
    let b = app.login("bureau1").0;
    app.evaluate_alerts();
    let r = rects(&b, "?status=open");
    assert_eq!(r.body["items"][0]["overdue"], true, "{}", r.text);
    assert!(
        alert_rules(app, &b).contains(&("rectification_overdue".into(), "open".into())),
        "{:?}",
        alert_rules(app, &b)
    );
    let w = app.get("/api/v1/watch-list?rule=failed_inspection", Some(&b));
    assert_eq!(
        (
            w.body["items"][0]["status"].as_str(),
            w.body["items"][0]["level"].as_i64()
        ),
        (Some("escalated"), Some(1)),
        "{}",
        w.text
    );
    assert!(alert_rules(app, &b).contains(&("watch_overdue".into(), "open".into())));
    // A failed re-inspection does not close it; a passed one does, and the alerts clear.
    inspect(app, &b, &c.inst_a, false, 2);
    assert_eq!(
        rects(&b, "?status=open").body["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "the second failure opens its own"
    );
    let passed = inspect(app, &b, &c.inst_a, true, 0);
    let r = rects(&b, "?status=closed");
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
    assert_eq!(r.body["items"][0]["closed_by_inspection_id"], passed["id"]);
    assert_eq!(rects(&b, "?status=open").body["items"], json!([]));
    let entry = w.body["items"][0]["id"].as_str().expect("id").to_owned();
    let off = app.post(
        &format!("/api/v1/watch-list/{entry}/strike-off"),
        Some(&b),
        &json!({"evidence": "复查合格", "inspection_id": passed["id"]}),
    );
    assert_eq!(off.status, 200, "{}", off.text);
    app.evaluate_alerts();
    let rules = alert_rules(app, &b);
    assert!(
        rules.contains(&("rectification_overdue".into(), "resolved".into()))
            && rules.contains(&("watch_overdue".into(), "resolved".into()))
            && !rules
                .iter()
                .any(|(r, s)| r.ends_with("_overdue") && s != "resolved"),
        "{rules:?}"
    );
}

both!(penalties_and_referrals_keep_their_documents_for_those_who_may_read_them);

fn penalties_and_referrals_keep_their_documents_for_those_who_may_read_them(app: &TestApp) {
    let c = county(app);
    bureaus(app);
    let (b, n) = (app.login("bureau1").0, app.login("north1").0);
    let record = |t: &str, body: Value| app.post("/api/v1/enforcement", Some(t), &body);
    let penalty = json!({"kind": "penalty", "institution_id": c.inst_a,
        "summary": "罚款 5000 元：医疗废物混入生活垃圾"});
    record(&n, penalty.clone()).problem(404);
    record(&c.clinic_a, penalty.clone()).problem(403);
    record(
        &b,
        json!({"kind": "referral", "institution_id": c.inst_a, "summary": "x"}),
    )
    .invalid_field("referred_to");
    record(
        &b,
        json!({"kind": "fine", "institution_id": c.inst_a, "summary": "x"}),
    )
    .problem(422);
    let a = record(&b, penalty);
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.str("id");
    let r = record(
        &b,
        json!({"kind": "referral", "institution_id": c.inst_a, "referred_to": "县公安局",
            "summary": "非法倾倒，移送公安机关"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);

    let upload = |t: &str, action: &str, ct: &str, body: Vec<u8>| {
        app.post_raw(
            &format!(
                "/api/v1/enforcement/{action}/documents?filename=%E5%86%B3%E5%AE%9A%E4%B9%A6.pdf"
            ),
            Some(t),
            ct,
            body,
        )
    };
    let pdf = b"%PDF-1.4\n% a penalty decision\n%%EOF\n".to_vec();
    let d = upload(&b, &id, "application/pdf", pdf.clone());
    assert_eq!(d.status, 201, "{}", d.text);
    assert_eq!(
        (
            d.body["size_bytes"].as_i64(),
            d.body["content_type"].as_str()
        ),
        (Some(pdf.len() as i64), Some("application/pdf"))
    );
    let doc = d.str("id");
    // Refused: another township's bureau, a clinic, the wrong type, a PNG called a PDF,
    // more than 10 MiB.
    upload(&n, &id, "application/pdf", pdf.clone()).problem(404);
    upload(&c.clinic_a, &id, "application/pdf", pdf.clone()).problem(403);
    upload(&b, &id, "text/html", b"<script>".to_vec()).problem(415);
    upload(&b, &id, "application/pdf", b"\x89PNG\r\n\x1a\n".to_vec()).problem(415);
    let mut big = b"%PDF-".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    upload(&b, &id, "application/pdf", big).problem(413);

    let get = |t: &str| app.get(&format!("/api/v1/enforcement/documents/{doc}"), Some(t));
    for t in [&b, &c.clinic_a] {
        let r = get(t);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text.as_bytes(), &pdf[..]);
        assert_eq!(r.header("content-type").as_deref(), Some("application/pdf"));
    }
    get(&c.clinic_b).problem(404);
    get(&n).problem(404);
    get(&c.driver).problem(403);
    let l = app.get(
        &format!("/api/v1/enforcement?institution_id={}", c.inst_a),
        Some(&c.clinic_a),
    );
    assert_eq!(l.status, 200, "{}", l.text);
    assert_eq!(l.body["items"].as_array().map(Vec::len), Some(2));
    let with_doc = l.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id.as_str()))
        .expect("the penalty");
    assert_eq!(with_doc["documents"][0]["filename"], "决定书.pdf");
    assert_eq!(
        app.get("/api/v1/enforcement", Some(&c.clinic_b)).body["items"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/enforcement", Some(&n)).body["items"],
        json!([])
    );
}

fn short_clearance(c: &mut Config) {
    c.watch.cleared_days = 1;
}

fn run_short(backend: Backend, scenario: fn(&TestApp)) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(db, ManualClock::new(t0()), short_clearance);
    scenario(&app);
}

mod collection_missed_twice_lists_escalates_and_clears {
    #[test]
    fn sqlite() {
        super::run_short(crate::common::Backend::Sqlite, super::missed_twice);
    }
    #[test]
    fn postgres() {
        super::run_short(crate::common::Backend::Postgres, super::missed_twice);
    }
}

fn missed_twice(app: &TestApp) {
    let c = county(app);
    bureaus(app);
    // 49 h without a collection: missed once; not on the list.
    app.clock.advance(Duration::hours(49));
    app.evaluate_alerts();
    let b = app.login("bureau1").0;
    let list = |t: &str, q: &str| app.get(&format!("/api/v1/watch-list{q}"), Some(t));
    assert_eq!(list(&b, "?rule=missed_collection").body["items"], json!([]));
    // A collection, then 49 h again: missed twice within 30 days.
    let clinic = app.login("clinic1").0;
    let driver = app.login("driver1").0;
    let box1 = new_container(app, &clinic, "infectious", "bag");
    accepted(scan(app, &clinic, &[ev(&box1, "seal", 49 * 60, Some(1.0))]));
    accepted(scan(
        app,
        &driver,
        &[ev(&box1, "collect", 49 * 60 + 5, Some(1.0))],
    ));
    app.evaluate_alerts();
    app.clock.advance(Duration::hours(49));
    app.evaluate_alerts();
    let b = app.login("bureau1").0;
    let r = list(&b, "?rule=missed_collection");
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(
        (
            items[0]["institution_id"].as_str(),
            items[0]["township"].as_str()
        ),
        (Some(c.inst_a.as_str()), Some("石门镇")),
        "only the clinic that was missed twice"
    );
    let id = items[0]["id"].as_str().expect("id").to_owned();
    // Filters: township (refused outside the jurisdiction), state.
    assert_eq!(
        list(&b, "?township=%E7%9F%B3%E9%97%A8%E9%95%87&status=open").body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let n = app.login("north1").0;
    list(&n, "?township=%E7%9F%B3%E9%97%A8%E9%95%87").problem(403);
    list(&b, "?rule=nonsense").invalid_field("rule");
    // Words are not evidence while collections are still missed.
    let strike = |t: &str, body: Value| {
        app.post(
            &format!("/api/v1/watch-list/{id}/strike-off"),
            Some(t),
            &body,
        )
    };
    strike(&b, json!({"evidence": "will do"})).invalid_field("evidence");
    // Seven days and an hour later: past its deadline, level 1; three days on, level 2.
    app.clock.advance(Duration::days(7) + Duration::hours(1));
    app.evaluate_alerts();
    let b = app.login("bureau1").0;
    let e = list(&b, "?rule=missed_collection");
    assert_eq!(
        (
            e.body["items"][0]["status"].as_str(),
            e.body["items"][0]["level"].as_i64()
        ),
        (Some("escalated"), Some(1)),
        "{}",
        e.text
    );
    app.clock.advance(Duration::hours(72));
    app.evaluate_alerts();
    let b = app.login("bureau1").0;
    assert_eq!(
        list(&b, "?rule=missed_collection").body["items"][0]["level"],
        2
    );
    assert!(alert_rules(app, &b).contains(&("watch_overdue".into(), "open".into())));
    // Collected at last: the condition clears; one day later (YIFEI_WATCH_CLEARED_DAYS=1 in
    // this server) it may be struck off on that evidence.
    let clinic = app.login("clinic1").0;
    let driver = app.login("driver1").0;
    let box2 = new_container(app, &clinic, "infectious", "bag");
    let at = (now(app) - t0()).num_minutes();
    accepted(scan(app, &clinic, &[ev(&box2, "seal", at - 10, Some(1.0))]));
    accepted(scan(
        app,
        &driver,
        &[ev(&box2, "collect", at - 5, Some(1.0))],
    ));
    app.evaluate_alerts();
    let b = app.login("bureau1").0;
    strike(&b, json!({"evidence": "collected"})).invalid_field("evidence");
    app.clock.advance(Duration::hours(25));
    let (b, n) = (app.login("bureau1").0, app.login("north1").0);
    strike(&n, json!({"evidence": "cleared"})).problem(404);
    let off = strike(&b, json!({"evidence": "收运恢复正常一天"}));
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["status"], "struck_off");
    let csv = app.get("/api/v1/watch-list?format=csv", Some(&b));
    assert!(csv.text.starts_with('\u{feff}'), "BOM");
    assert!(csv.text.contains("missed_collection"), "{}", csv.text);
}
