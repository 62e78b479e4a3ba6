//! Oversight: alert rules fire and clear, epidemic mode, coverage figures, inspections.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;
use crate::custody::{county, ev, new_container, scan};

both!(
    alerts_are_mailed_once_through_the_outbox,
    alerts_open_escalate_and_clear,
    epidemic_mode_tightens_thresholds,
    coverage_figures_match_the_scans,
);

fn bureau(app: &TestApp) -> String {
    let org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&org));
    app.login("bureau1").0
}

fn alerts(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    app.evaluate_alerts();
    let r = app.get(&format!("/api/v1/alerts{query}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().expect("items").clone()
}

fn rules(list: &[Value]) -> Vec<String> {
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

fn alerts_open_escalate_and_clear(app: &TestApp) {
    let c = county(app);
    let b = bureau(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&code, "seal", -37 * 60, Some(2.0))]);
    let list = alerts(app, &b, "?rule=storage_warning");
    assert_eq!(rules(&list), ["storage_warning:open"]);
    assert_eq!(list[0]["subject_id"], code.as_str());
    assert_eq!(list[0]["township"], "石门镇");
    // Evaluating again opens nothing new.
    assert_eq!(alerts(app, &b, "?rule=storage_warning").len(), 1);
    // 12 hours later the limit is breached: the warning clears, a breach opens.
    app.clock.advance(Duration::hours(12));
    let (b, driver) = (app.login("bureau1").0, app.login("driver1").0);
    let all = alerts(app, &b, "?status=open&rule=storage_breach");
    assert_eq!(rules(&all), ["storage_breach:open"]);
    let warning = alerts(app, &b, "?rule=storage_warning");
    assert_eq!(
        (
            warning[0]["status"].as_str(),
            warning[0]["resolved_by"].as_str()
        ),
        (Some("resolved"), Some("system"))
    );
    // Someone acknowledges, then the late pickup arrives: the breach resolves by itself.
    let id = all[0]["id"].as_str().expect("id").to_owned();
    let r = app.post(&format!("/api/v1/alerts/{id}/ack"), Some(&b), &json!({}));
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("acknowledged")),
        "{}",
        r.text
    );
    app.post(
        &format!("/api/v1/alerts/{id}/ack"),
        Some(&driver),
        &json!({}),
    )
    .problem(403);
    scan(app, &driver, &[ev(&code, "collect", 11 * 60, Some(2.0))]);
    let breach = alerts(app, &b, "?rule=storage_breach");
    assert_eq!(breach[0]["status"], "resolved");
    // Collected 13 h ago and not received: a transport alert, resolved by hand with a note.
    app.clock.advance(Duration::hours(12));
    let (b, driver) = (app.login("bureau1").0, app.login("driver1").0);
    let (clinic_a, clinic_b) = (app.login("clinic1").0, app.login("clinic2").0);
    let transit = alerts(app, &b, "?rule=collected_not_received");
    assert_eq!(rules(&transit), ["collected_not_received:open"]);
    let tid = transit[0]["id"].as_str().expect("id").to_owned();
    app.post(
        &format!("/api/v1/alerts/{tid}/resolve"),
        Some(&b),
        &json!({"note": ""}),
    )
    .invalid_field("note");
    let r = app.post(
        &format!("/api/v1/alerts/{tid}/resolve"),
        Some(&b),
        &json!({"note": "truck broke down; plant confirmed by phone"}),
    );
    assert_eq!(r.body["status"], "resolved", "{}", r.text);
    // A resolved condition does not reopen while it persists.
    assert_eq!(alerts(app, &b, "?rule=collected_not_received").len(), 1);
    // Who sees what.
    assert_eq!(
        alerts(app, &clinic_a, "?rule=collected_not_received").len(),
        1,
        "the institution sees its own"
    );
    assert_eq!(alerts(app, &clinic_b, "").len(), 0);
    app.get("/api/v1/alerts", Some(&driver)).problem(403);
    let north = app.org("health_bureau", "北片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    let (n, _) = app.login("north1");
    assert_eq!(
        alerts(app, &n, "").len(),
        0,
        "another township's bureau sees nothing"
    );
    app.post(&format!("/api/v1/alerts/{tid}/ack"), Some(&n), &json!({}))
        .problem(404);
    app.get("/api/v1/alerts?rule=made_up", Some(&b))
        .invalid_field("rule");
    app.get("/api/v1/alerts?status=closed", Some(&b))
        .invalid_field("status");
}

fn epidemic_mode_tightens_thresholds(app: &TestApp) {
    let c = county(app);
    let b = bureau(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&code, "seal", -20 * 60, Some(2.0))]);
    assert!(
        alerts(app, &b, "?rule=storage_warning").is_empty(),
        "20 h is fine normally"
    );
    assert_eq!(
        app.get("/api/v1/settings/epidemic-mode", Some(&c.clinic_a))
            .body["enabled"],
        false
    );
    app.put_json(
        "/api/v1/settings/epidemic-mode",
        Some(&c.clinic_a),
        &json!({"enabled": true}),
    )
    .problem(403);
    let north = app.org("health_bureau", "北片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    let (n, _) = app.login("north1");
    app.put_json(
        "/api/v1/settings/epidemic-mode",
        Some(&n),
        &json!({"enabled": true}),
    )
    .problem(403);
    let r = app.put_json(
        "/api/v1/settings/epidemic-mode",
        Some(&b),
        &json!({"enabled": true}),
    );
    assert_eq!(
        (r.status, r.body["enabled"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );
    assert_eq!(
        rules(&alerts(app, &b, "?rule=storage_warning")),
        ["storage_warning:open"],
        "18 h in epidemic mode"
    );
    app.put_json(
        "/api/v1/settings/epidemic-mode",
        Some(&b),
        &json!({"enabled": false}),
    );
    assert_eq!(
        rules(&alerts(app, &b, "?rule=storage_warning")),
        ["storage_warning:resolved"]
    );
}

fn coverage_figures_match_the_scans(app: &TestApp) {
    let c = county(app);
    bureau(app);
    // Six hours into the day; tokens are fresh.
    app.clock.advance(Duration::hours(6));
    let b = app.login("bureau1").0;
    let (clinic_a, driver, plant) = (
        app.login("clinic1").0,
        app.login("driver1").0,
        app.login("plant1").0,
    );
    // Institution A: one container through to disposal (on time); one sealed and left.
    let done = new_container(app, &clinic_a, "infectious", "bag");
    let left = new_container(app, &clinic_a, "sharps", "sharps_box");
    let ok = |r: Vec<Value>| assert!(r.iter().all(|x| x["status"] == "accepted"), "{r:?}");
    ok(scan(
        app,
        &clinic_a,
        &[
            ev(&done, "seal", 60, Some(2.0)),
            ev(&left, "seal", 60, Some(1.0)),
        ],
    ));
    ok(scan(app, &driver, &[ev(&done, "collect", 120, Some(2.0))]));
    ok(scan(
        app,
        &plant,
        &[
            ev(&done, "receive", 180, Some(1.9)),
            ev(&done, "dispose", 240, None),
        ],
    ));
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02&detail=containers",
        Some(&b),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let t = &r.body["total"];
    assert_eq!(t["registered"], 2);
    assert_eq!(t["collected_within_interval"], 1);
    assert_eq!(t["entry_rate_institutions"], 0.5);
    assert_eq!(
        (
            t["kg_sealed"].as_f64(),
            t["kg_received"].as_f64(),
            t["kg_disposed"].as_f64()
        ),
        (Some(3.0), Some(1.9), Some(1.9))
    );
    // The period's 3 kg: 2 kg reached the plant and were disposed of, 1 kg still waits.
    assert_eq!(t["entry_rate_weight"], 0.6667);
    assert_eq!(t["harmless_disposal_rate"], 0.6667);
    assert_eq!(
        t["plant_disposal_rate"], 1.0,
        "disposed / received has its own name"
    );
    assert_eq!(
        (
            t["containers_collected"].as_i64(),
            t["on_time_rate"].as_f64()
        ),
        (Some(1), Some(1.0))
    );
    assert_eq!(t["overdue_storage_hours"], 0.0);
    let a = r.body["institutions"]
        .as_array()
        .expect("institutions")
        .iter()
        .find(|i| i["institution_id"] == c.inst_a.as_str())
        .expect("A")
        .clone();
    let mut codes: Vec<&str> = a["containers"]
        .as_array()
        .expect("codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    codes.sort();
    let mut want = vec![done.as_str(), left.as_str()];
    want.sort();
    assert_eq!(codes, want, "every figure traces back to containers");
    assert_eq!(r.body["by_township"][0]["group"], "石门镇");
    assert_eq!(r.body["by_kind"][0]["group"], "village_health_room");

    // CSV and the H3 map.
    let csv = app.get_with(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&b),
        "text/csv",
    );
    assert!(
        csv.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv")),
        "{}",
        csv.text
    );
    assert_eq!(csv.text.lines().count(), 5, "{}", csv.text);
    assert!(
        csv.text
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("definition,")),
        "{}",
        csv.text
    );
    assert!(
        csv.text
            .lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("total,total,2,0,0,2,1,0.5000,3.000,1.900,2.000,")),
        "{}",
        csv.text
    );
    let geo = app.get(
        "/api/v1/reports/coverage/cells?from=2026-03-02&to=2026-03-02&res=7",
        Some(&b),
    );
    assert_eq!(geo.body["type"], "FeatureCollection", "{}", geo.text);
    let f = &geo.body["features"][0];
    assert_eq!(f["properties"]["institutions"], 2);
    let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
    assert_eq!(ring.first(), ring.last(), "closed ring");
    assert!(
        ring[0][0].as_f64().is_some_and(|lng| lng > 100.0),
        "[lng, lat]"
    );

    // Inspections and their pass rate.
    let pass = json!({"packaging": true, "labels": true, "storage_time": true, "register": true, "signage": true});
    let bad = json!({"packaging": true, "labels": false, "storage_time": true, "register": true, "signage": true});
    let r = app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": c.inst_a, "checklist": pass}),
    );
    assert_eq!(
        (r.status, r.body["passed"].as_bool()),
        (201, Some(true)),
        "{}",
        r.text
    );
    app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": c.inst_b, "checklist": bad}),
    )
    .invalid_field("rectification_deadline");
    let r = app.post("/api/v1/inspections", Some(&b), &json!({"institution_id": c.inst_b, "checklist": bad, "rectification_deadline": "2026-03-09T00:00:00Z", "notes": "标签缺产生日期"}));
    assert_eq!(r.body["passed"], false, "{}", r.text);
    app.post(
        "/api/v1/inspections",
        Some(&clinic_a),
        &json!({"institution_id": c.inst_a, "checklist": pass}),
    )
    .problem(403);
    let list = app.get(
        "/api/v1/inspections?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    assert_eq!(
        (
            list.body["pass_rate"].as_f64(),
            list.body["target"].as_f64()
        ),
        (Some(0.5), Some(0.95)),
        "{}",
        list.text
    );
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    assert_eq!(
        (
            r.body["total"]["inspections"].as_i64(),
            r.body["total"]["inspection_pass_rate"].as_f64()
        ),
        (Some(2), Some(0.5))
    );

    // Jurisdiction and roles.
    let north = app.org("health_bureau", "北片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    let (n, _) = app.login("north1");
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&n),
    );
    assert_eq!(r.body["total"]["registered"], 0, "{}", r.text);
    app.post(
        "/api/v1/inspections",
        Some(&n),
        &json!({"institution_id": c.inst_a, "checklist": pass}),
    )
    .problem(404);
    app.get("/api/v1/reports/coverage", Some(&clinic_a))
        .problem(403);
    app.get("/api/v1/reports/coverage", Some(&driver))
        .problem(403);
    app.get(
        "/api/v1/reports/coverage?from=2026-03-05&to=2026-03-01",
        Some(&b),
    )
    .invalid_field("to");
    app.get("/api/v1/reports/coverage/cells?res=12", Some(&b))
        .invalid_field("res");
}

fn outbox(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use yifei_api::notify::outbox;
    let mut v: Vec<(String, String)> = app.with_conn(|conn| {
        outbox::table
            .select((outbox::recipient, outbox::subject))
            .load(conn)
            .expect("outbox")
    });
    v.sort();
    v
}

fn alerts_are_mailed_once_through_the_outbox(app: &TestApp) {
    let c = county(app);
    let b = bureau(app);
    // Users set their own notification address.
    let r = app.patch(
        "/api/v1/me",
        Some(&b),
        &json!({"email": "bureau@example.org"}),
    );
    assert_eq!(
        (r.status, r.body["email"].as_str()),
        (200, Some("bureau@example.org")),
        "{}",
        r.text
    );
    app.patch("/api/v1/me", Some(&b), &json!({"email": "not an address"}))
        .invalid_field("email");
    let company = app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::organisations;
        organisations::table
            .filter(organisations::kind.eq("disposal_company"))
            .select(organisations::id)
            .first::<String>(conn)
            .expect("company")
    });
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let (d, _) = app.login("dispatch1");
    app.patch(
        "/api/v1/me",
        Some(&d),
        &json!({"email": "dispatch@example.org"}),
    );
    let north = app.org("health_bureau", "北片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    let (n, _) = app.login("north1");
    app.patch(
        "/api/v1/me",
        Some(&n),
        &json!({"email": "north@example.org"}),
    );

    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&code, "seal", -37 * 60, Some(2.0))]);
    assert_eq!(alerts(app, &b, "").len(), 1);
    let mails = outbox(app);
    let to: Vec<&str> = mails.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        to,
        [
            "bureau@example.org",
            "clinic@example.org",
            "dispatch@example.org"
        ],
        "{mails:?}"
    );
    assert!(
        mails[0].1.contains("storage_warning") && mails[0].1.contains(&code),
        "{mails:?}"
    );
    // A container alert names its institution: in the alert, the email's subject and body.
    let name = "测试村卫生室 1";
    assert!(mails.iter().all(|(_, s)| s.contains(name)), "{mails:?}");
    let bodies: Vec<String> = app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::notify::outbox;
        outbox::table
            .select(outbox::body)
            .load(conn)
            .expect("bodies")
    });
    let line = format!("Institution: {name} ({})", c.inst_a);
    assert!(
        bodies
            .iter()
            .all(|b| b.starts_with(&format!("{name}: stored 37 h")) && b.contains(&line)),
        "{bodies:?}"
    );
    let listed = alerts(app, &b, "");
    assert_eq!(
        (
            listed[0]["detail"].as_str(),
            listed[0]["institution_id"].as_str()
        ),
        (
            Some(format!("{name}: stored 37 h since sealing (limit 48 h)").as_str()),
            Some(c.inst_a.as_str())
        )
    );
    // Evaluating again queues nothing more.
    alerts(app, &b, "");
    assert_eq!(outbox(app).len(), 3);
    // The daily digest goes to bureau staff once a day (after 07:00 local; t0 is 08:30).
    let now = yifei_api::clock::Clock::now(&app.clock);
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
    let queued = app.with_conn(|conn| {
        yifei_api::oversight::alerts::daily_digest(conn, now, tz).expect("digest")
    });
    assert_eq!(queued, 2, "both bureau users have an address");
    let again = app.with_conn(|conn| {
        yifei_api::oversight::alerts::daily_digest(conn, now, tz).expect("digest")
    });
    assert_eq!(again, 0);
    assert!(
        outbox(app)
            .iter()
            .any(|(r, s)| r == "north@example.org" && s.contains("daily digest"))
    );
}
