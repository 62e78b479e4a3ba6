//! Custody: labels, offline scan sync in any order, replays, rejections, reconciliation,
//! nesting at hubs, tamper evidence.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::{TestApp, t0};

both!(
    labels_follow_the_packaging_rules,
    custody_in_any_upload_order_is_one_history,
    a_mixed_batch_is_judged_event_by_event,
    late_events_land_in_their_place,
    weights_and_locations_are_reconciled,
    tampering_is_detected_by_the_audit,
    hubs_nest_small_boxes_into_big_ones,
    a_failing_batch_does_not_undo_the_others,
    concurrent_uploads_into_the_same_boxes_count_each_event_once,
);

/// Two approved institutions with clinic staff, a driver and a plant operator.
pub struct County {
    pub admin: String,
    pub clinic_a: String,
    pub clinic_b: String,
    pub inst_a: String,
    pub inst_b: String,
    pub driver: String,
    pub plant: String,
}

pub fn county(app: &TestApp) -> County {
    let company = app.org("disposal_company", "处置公司", &[]);
    app.user("admin1", Role::Admin, None);
    app.user("driver1", Role::Driver, Some(&company));
    app.user("plant1", Role::PlantOperator, Some(&company));
    let (admin, _) = app.login("admin1");
    let inst_a = app.sign_up(1, "石门镇");
    let inst_b = app.sign_up(2, "石门镇");
    for i in [&inst_a, &inst_b] {
        assert_eq!(
            app.post(
                &format!("/api/v1/institutions/{i}/approve"),
                Some(&admin),
                &json!({})
            )
            .status,
            200
        );
    }
    County {
        admin,
        clinic_a: app.login("clinic1").0,
        clinic_b: app.login("clinic2").0,
        inst_a,
        inst_b,
        driver: app.login("driver1").0,
        plant: app.login("plant1").0,
    }
}

/// A container labelled two days before the clock's now: the tests' scans are back-dated
/// (up to 40 h), and an event dated before its container's label is refused.
pub fn new_container(app: &TestApp, token: &str, category: &str, packaging: &str) -> String {
    use yifei_api::clock::Clock;
    let now = app.clock.now();
    app.clock.set(now - Duration::days(2));
    let r = app.post(
        "/api/v1/containers",
        Some(token),
        &json!({"category": category, "packaging": packaging}),
    );
    app.clock.set(now);
    assert_eq!(r.status, 201, "{}", r.text);
    r.str("code")
}

/// A scan event `minutes` after t0 (negative: in the past).
pub fn ev(code: &str, action: &str, minutes: i64, kg: Option<f64>) -> Value {
    let at: DateTime<Utc> = t0() + Duration::minutes(minutes);
    let mut e = json!({
        "event_id": uuid::Uuid::now_v7().to_string(),
        "code": code,
        "action": action,
        "occurred_at": at.to_rfc3339(),
        "device_id": "phone-7",
    });
    if let Some(w) = kg {
        e["weight_kg"] = json!(w);
    }
    if action == "dispose" {
        e["method"] = json!("incineration");
    }
    if action == "reject" {
        e["reason"] = json!("leaking");
    }
    e
}

pub fn scan(app: &TestApp, token: &str, events: &[Value]) -> Vec<Value> {
    let r = app.post("/api/v1/scans", Some(token), &json!({"events": events}));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["results"].as_array().expect("results").clone()
}

fn statuses(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r["reason"].as_str() {
            Some(reason) => format!("{}:{reason}", r["status"].as_str().unwrap_or("?")),
            None => r["status"].as_str().unwrap_or("?").to_owned(),
        })
        .collect()
}

fn labels_follow_the_packaging_rules(app: &TestApp) {
    let c = county(app);
    let r = app.post(
        "/api/v1/containers",
        Some(&c.clinic_a),
        &json!({"category": "infectious", "packaging": "bag"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let b = &r.body;
    assert_eq!(
        (b["state"].as_str(), b["category_code"].as_str()),
        (Some("labelled"), Some("841-001-01"))
    );
    assert_eq!(b["institution_id"], c.inst_a.as_str());
    assert_eq!(b["label"]["title_zh"], "医疗废物");
    assert_eq!(b["label"]["category_zh"], "感染性废物");
    assert_eq!(b["label"]["producer"], "测试村卫生室 1");
    // 产生日期 is the day the waste is sealed: blank on a label printed before the seal.
    assert_eq!(b["label"]["date"], "");
    assert_eq!(
        b["label"]["printed_on"], "2026-03-02",
        "local date of t0 in UTC+8"
    );
    let code = r.str("code");
    assert_eq!(code.len(), 12);
    assert_eq!(b["label"]["qr_payload"], format!("YF1:{code}"));

    // A sheet of labels: unique codes.
    let r = app.post(
        "/api/v1/containers/batch",
        Some(&c.clinic_a),
        &json!({"count": 20, "category": "sharps", "packaging": "sharps_box"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mut codes: Vec<&str> = r.body["containers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 20);
    app.post(
        "/api/v1/containers/batch",
        Some(&c.clinic_a),
        &json!({"count": 501, "category": "sharps", "packaging": "sharps_box"}),
    )
    .invalid_field("count");

    // Rules name themselves.
    let r = app.post(
        "/api/v1/containers",
        Some(&c.clinic_a),
        &json!({"category": "sharps", "packaging": "bag"}),
    );
    r.invalid_field("packaging");
    assert!(r.text.contains("sharps_in_sharps_box"), "{}", r.text);
    let r = app.post(
        "/api/v1/containers",
        Some(&c.clinic_a),
        &json!({"category": "chemical", "packaging": "drum"}),
    );
    r.invalid_field("note");
    assert!(r.text.contains("chemical_components_note"), "{}", r.text);
    assert_eq!(
        app.post(
            "/api/v1/containers",
            Some(&c.clinic_a),
            &json!({"category": "chemical", "packaging": "drum", "note": "甲醛"})
        )
        .status,
        201
    );
    app.post(
        "/api/v1/containers",
        Some(&c.clinic_a),
        &json!({"category": "plastic", "packaging": "bag"}),
    )
    .invalid_field("category");

    // Only staff of an active institution label.
    app.post(
        "/api/v1/containers",
        Some(&c.driver),
        &json!({"category": "infectious", "packaging": "bag"}),
    )
    .problem(403);
    app.sign_up(3, "石门镇");
    let (pending, _) = app.login("clinic3");
    app.post(
        "/api/v1/containers",
        Some(&pending),
        &json!({"category": "infectious", "packaging": "bag"}),
    )
    .problem(403);

    // Any written form of the code finds it; other tenants do not.
    let dashed = format!("{}-{}-{}", &code[0..4], &code[4..8], &code[8..12]).to_lowercase();
    assert_eq!(
        app.get(&format!("/api/v1/containers/{dashed}"), Some(&c.clinic_a))
            .body["code"],
        code.as_str()
    );
    app.get(&format!("/api/v1/containers/{code}"), Some(&c.clinic_b))
        .problem(404);
    app.get("/api/v1/containers/NOTACODE", Some(&c.clinic_a))
        .problem(404);
    let svg = app.get(
        &format!("/api/v1/containers/{code}/label.svg"),
        Some(&c.clinic_a),
    );
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(svg.text.contains("医疗废物") && svg.text.contains(&code[0..4]));
    assert!(
        svg.text.contains("____年__月__日"),
        "a blank date to write in"
    );
    // The list is scoped to the tenant.
    let mine = app.get("/api/v1/containers?limit=200", Some(&c.clinic_a));
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(22),
        "{}",
        mine.text
    );
    assert_eq!(
        app.get("/api/v1/containers", Some(&c.clinic_b)).body["items"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/containers?state=labelled&limit=5", Some(&c.admin))
            .body["items"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    // Sealed at 00:10 local time on the next day (16:10 UTC): that local day is the date.
    app.clock.advance(Duration::hours(17));
    let (clinic_a, _) = app.login("clinic1");
    let sealed = scan(
        app,
        &clinic_a,
        &[ev(&code, "seal", 16 * 60 - 20, Some(1.5))],
    );
    assert_eq!(sealed[0]["status"], "accepted", "{sealed:?}");
    let b = app.get(&format!("/api/v1/containers/{code}"), Some(&clinic_a));
    assert_eq!(b.body["label"]["date"], "2026-03-03");
    assert_eq!(b.body["label"]["printed_on"], "2026-03-02");
    let svg = app.get(
        &format!("/api/v1/containers/{code}/label.svg"),
        Some(&clinic_a),
    );
    assert!(
        svg.text.contains("产生日期 Date: 2026-03-03"),
        "{}",
        svg.text
    );
}

fn custody_in_any_upload_order_is_one_history(app: &TestApp) {
    let c = county(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    let seal = ev(&code, "seal", -600, Some(2.0));
    let collect = ev(&code, "collect", -300, Some(2.1));
    let receive = ev(&code, "receive", -120, Some(2.05));
    let dispose = ev(&code, "dispose", -60, None);
    // The plant is online first, then the driver's phone syncs, the clinic's last.
    assert_eq!(
        statuses(&scan(app, &c.plant, &[dispose.clone(), receive.clone()])),
        ["accepted", "accepted"]
    );
    let r = scan(app, &c.driver, std::slice::from_ref(&collect));
    assert_eq!(r[0]["state"], "disposed");
    let r = scan(app, &c.clinic_a, std::slice::from_ref(&seal));
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["state"].as_str()),
        (Some("accepted"), Some("disposed"))
    );

    let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.clinic_a));
    assert_eq!(got.body["state"], "disposed");
    assert_eq!(
        got.body["flags"],
        json!([]),
        "the whole history arrived: no anomaly left"
    );
    let actions: Vec<&str> = got.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["seal", "collect", "receive", "dispose"],
        "occurrence order"
    );
    assert_eq!(
        got.body["weights"],
        json!({"seal_kg": 2.0, "collect_kg": 2.1, "receive_kg": 2.05,
               "sources": {"seal": "weighed", "collect": "weighed", "receive": "weighed"}})
    );
    assert!(got.body["events"][0]["anomaly"].is_null());
    assert_eq!(got.body["events"][1]["actor"]["role"], "driver");
    assert_eq!(got.body["sealed_at"], "2026-03-01T14:30:00Z");

    // A replay changes nothing.
    let r = scan(app, &c.driver, &[collect.clone(), collect]);
    assert_eq!(statuses(&r), ["duplicate", "duplicate"]);
    let again = app.get(&format!("/api/v1/containers/{code}"), Some(&c.clinic_a));
    assert_eq!(again.body["events"].as_array().map(Vec::len), Some(4));
    // The same event id on another container is refused, not silently merged.
    let other = new_container(app, &c.clinic_a, "infectious", "bag");
    let mut reused = ev(&other, "seal", -10, Some(1.0));
    reused["event_id"] = seal["event_id"].clone();
    assert_eq!(
        statuses(&scan(app, &c.clinic_a, &[reused])),
        ["rejected:event_id_reused"]
    );
}

fn a_mixed_batch_is_judged_event_by_event(app: &TestApp) {
    let c = county(app);
    let mine = new_container(app, &c.clinic_a, "infectious", "bag");
    let theirs = new_container(app, &c.clinic_b, "infectious", "bag");
    let mut mistyped: Vec<char> = mine.chars().collect();
    mistyped[3] = if mistyped[3] == 'A' { 'B' } else { 'A' };
    let mistyped: String = mistyped.into_iter().collect();
    let results = scan(
        app,
        &c.clinic_a,
        &[
            ev(&mine, "seal", -30, Some(1.5)),
            ev("0000-0000-0000", "seal", -30, Some(1.5)),
            ev(&mistyped, "seal", -30, Some(1.5)),
            ev(&theirs, "seal", -30, Some(1.5)),
            ev(&mine, "collect", -20, Some(1.5)),
            ev(&mine, "seal", 60, Some(1.5)),
            ev(&mine, "seal", -25, None),
            ev(&mine, "seal", -25, Some(-1.0)),
        ],
    );
    assert_eq!(
        statuses(&results),
        [
            "accepted",
            "rejected:unknown_code",
            "rejected:mistyped_code",
            "rejected:unknown_code",
            "rejected:action_not_allowed",
            "rejected:future_timestamp",
            "rejected:weight_required",
            "rejected:weight_out_of_range",
        ]
    );
    assert_eq!(results[0]["state"], "sealed");
    // Within the clock-skew allowance a slightly fast phone is fine.
    assert_eq!(
        statuses(&scan(app, &c.driver, &[ev(&mine, "collect", 3, Some(1.5))])),
        ["accepted"]
    );
    // Malformed batches are refused whole, with the field named.
    let r = app.post("/api/v1/scans", Some(&c.driver), &json!({"events": [{"event_id": "nope", "code": mine, "action": "collect", "occurred_at": t0().to_rfc3339()}]}));
    r.invalid_field("events[0].event_id");
    app.post("/api/v1/scans", Some(&c.driver), &json!({"events": []}))
        .invalid_field("events");
    app.post("/api/v1/scans", None, &json!({"events": []}))
        .problem(401);
    let too_many: Vec<Value> = (0..501)
        .map(|_| ev(&mine, "collect", -1, Some(1.0)))
        .collect();
    app.post(
        "/api/v1/scans",
        Some(&c.driver),
        &json!({"events": too_many}),
    )
    .invalid_field("events");
    // Bureau staff and dispatchers do not scan.
    let (admin_results, _) = (
        scan(app, &c.admin, &[ev(&mine, "receive", -1, Some(1.0))]),
        (),
    );
    assert_eq!(statuses(&admin_results), ["rejected:action_not_allowed"]);
}

fn late_events_land_in_their_place(app: &TestApp) {
    let c = county(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&code, "seal", -600, Some(1.0))]);
    scan(
        app,
        &c.plant,
        &[
            ev(&code, "receive", -100, Some(1.0)),
            ev(&code, "dispose", -50, None),
        ],
    );
    // Disposed without a pickup on record: flagged, not dropped.
    let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.admin));
    assert_eq!(got.body["state"], "disposed");
    assert_eq!(got.body["flags"], json!(["sequence_anomaly"]));
    // The driver's phone comes back into coverage: its pickup lands before the receipt.
    let r = scan(app, &c.driver, &[ev(&code, "collect", -300, Some(1.0))]);
    assert_eq!(r[0]["state"], "disposed");
    let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.admin));
    assert_eq!(got.body["flags"], json!([]));
    let actions: Vec<&str> = got.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["seal", "collect", "receive", "dispose"]);
    // A scan after disposal is kept, flagged, and does not resurrect the container.
    let r = scan(app, &c.driver, &[ev(&code, "collect", -10, Some(1.0))]);
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["state"].as_str()),
        (Some("accepted"), Some("disposed"))
    );
    let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.admin));
    assert_eq!(got.body["flags"], json!(["sequence_anomaly"]));
    let last = &got.body["events"][4];
    assert_eq!(last["anomaly"], "collect after the container was disposed");
    let flagged = app.get("/api/v1/containers?flag=sequence_anomaly", Some(&c.admin));
    assert_eq!(flagged.body["items"][0]["code"], code.as_str());
}

fn weights_and_locations_are_reconciled(app: &TestApp) {
    let c = county(app);
    let heavy = new_container(app, &c.clinic_a, "infectious", "bag");
    let far = new_container(app, &c.clinic_a, "infectious", "bag");
    let fine = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(
        app,
        &c.clinic_a,
        &[
            ev(&heavy, "seal", -60, Some(2.0)),
            ev(&far, "seal", -60, Some(1.0)),
            ev(&fine, "seal", -60, Some(1.0)),
        ],
    );
    let mut far_collect = ev(&far, "collect", -30, Some(1.0));
    far_collect["location"] = json!({"lat": 36.30, "lng": 117.35}); // ~5.6 km from 36.25,117.35
    let mut near_collect = ev(&fine, "collect", -30, Some(1.1));
    near_collect["location"] = json!({"lat": 36.2502, "lng": 117.3501});
    scan(
        app,
        &c.driver,
        &[
            ev(&heavy, "collect", -30, Some(2.5)),
            far_collect,
            near_collect,
        ],
    );
    let flags = |code: &str| {
        app.get(&format!("/api/v1/containers/{code}"), Some(&c.admin))
            .body["flags"]
            .clone()
    };
    assert_eq!(flags(&heavy), json!(["weight_discrepancy"]));
    assert_eq!(flags(&far), json!(["location_mismatch"]));
    assert_eq!(flags(&fine), json!([]));
    let list = app.get(
        "/api/v1/containers?flag=weight_discrepancy",
        Some(&c.clinic_a),
    );
    let codes: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["code"].as_str())
        .collect();
    assert_eq!(codes, [heavy.as_str()]);
    app.get("/api/v1/containers?flag=late", Some(&c.admin))
        .invalid_field("flag");
    app.get("/api/v1/containers?state=lost", Some(&c.admin))
        .invalid_field("state");
}

fn tampering_is_detected_by_the_audit(app: &TestApp) {
    let c = county(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&code, "seal", -60, Some(2.0))]);
    scan(app, &c.driver, &[ev(&code, "collect", -30, Some(2.0))]);
    let audit = app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.admin));
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert_eq!(audit.body["valid"], true);
    assert_eq!(audit.body["events"].as_array().map(Vec::len), Some(2));
    app.get(
        &format!("/api/v1/containers/{code}/audit"),
        Some(&c.clinic_a),
    )
    .problem(403);
    app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.driver))
        .problem(403);

    // Someone with database access lightens the pickup weight.
    use yifei_api::db::schema::scan_events;
    let changed = app.with_conn(|conn| {
        diesel::update(scan_events::table.filter(scan_events::action.eq("collect")))
            .set(scan_events::weight_g.eq(1500))
            .execute(conn)
            .expect("tamper")
    });
    assert_eq!(changed, 1);
    let audit = app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.admin));
    assert_eq!(audit.body["valid"], false, "{}", audit.text);
    assert_eq!(audit.body["events"][1]["valid"], false);
    assert!(
        audit.body["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("altered")),
        "{}",
        audit.text
    );
    // Deleting the last event is caught by the head hash.
    app.with_conn(|conn| {
        diesel::delete(scan_events::table.filter(scan_events::action.eq("collect")))
            .execute(conn)
            .expect("delete")
    });
    let audit = app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.admin));
    assert_eq!(audit.body["valid"], false, "{}", audit.text);
}

fn hubs_nest_small_boxes_into_big_ones(app: &TestApp) {
    let c = county(app);
    // Institution B becomes the township hub of institution A (as the bureau would set it).
    let r = app.patch(
        &format!("/api/v1/institutions/{}", c.inst_a),
        Some(&c.admin),
        &json!({"service_mode": "via_hub", "hub_id": c.inst_b}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["hub_id"], c.inst_b.as_str());
    app.with_conn(|conn| {
        use yifei_api::db::schema::institutions;
        diesel::update(institutions::table.find(&c.inst_b))
            .set(institutions::kind.eq("township_health_centre"))
            .execute(conn)
            .expect("kind")
    });
    app.user("hub1", Role::HubKeeper, Some(&c.inst_b));
    let (hub, _) = app.login("hub1");

    let small: Vec<String> = (0..2)
        .map(|_| new_container(app, &c.clinic_a, "infectious", "bag"))
        .collect();
    scan(
        app,
        &c.clinic_a,
        &[
            ev(&small[0], "seal", -300, Some(1.0)),
            ev(&small[1], "seal", -300, Some(2.0)),
        ],
    );
    let r = scan(
        app,
        &hub,
        &[
            ev(&small[0], "hub_in", -200, None),
            ev(&small[1], "hub_in", -200, None),
        ],
    );
    assert_eq!(statuses(&r), ["accepted", "accepted"]);
    assert_eq!(r[0]["state"], "at_hub");
    // The clinic cannot hub-in, and the hub keeper cannot seal another institution's box.
    assert_eq!(
        statuses(&scan(
            app,
            &c.clinic_a,
            &[ev(&small[0], "hub_in", -199, None)]
        )),
        ["rejected:action_not_allowed"]
    );
    assert_eq!(
        statuses(&scan(app, &hub, &[ev(&small[0], "seal", -199, Some(1.0))])),
        ["rejected:unknown_code"]
    );

    let big = new_container(app, &hub, "infectious", "box");
    let nested_at = (t0() - Duration::minutes(150)).to_rfc3339();
    let r = app.post(
        &format!("/api/v1/containers/{big}/children"),
        Some(&hub),
        &json!({"codes": small, "occurred_at": nested_at}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let mut children: Vec<String> = r.body["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    children.sort();
    let mut expected = small.clone();
    expected.sort();
    assert_eq!(children, expected);
    // Again: idempotent. A clinic cannot nest.
    assert_eq!(
        app.post(
            &format!("/api/v1/containers/{big}/children"),
            Some(&hub),
            &json!({"codes": small})
        )
        .status,
        200
    );
    app.post(
        &format!("/api/v1/containers/{big}/children"),
        Some(&c.clinic_a),
        &json!({"codes": small}),
    )
    .problem(403);
    let unsealed = new_container(app, &c.clinic_a, "infectious", "bag");
    app.post(
        &format!("/api/v1/containers/{big}/children"),
        Some(&hub),
        &json!({"codes": [unsealed]}),
    )
    .invalid_field("codes[0]");

    // The big box is sealed at the hub: 3.0 kg = its contents. Then the driver takes it.
    scan(app, &hub, &[ev(&big, "seal", -100, Some(3.0))]);
    // One level only: a box holding boxes does not go into another box.
    let big2 = new_container(app, &hub, "infectious", "box");
    app.post(
        &format!("/api/v1/containers/{big2}/children"),
        Some(&hub),
        &json!({"codes": [big]}),
    )
    .invalid_field("codes[0]");
    // A big box sealed at 4.0 kg around 1.0 kg of contents is flagged.
    let third = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(app, &c.clinic_a, &[ev(&third, "seal", -120, Some(1.0))]);
    scan(app, &hub, &[ev(&third, "hub_in", -110, None)]);
    let r = app.post(
        &format!("/api/v1/containers/{big2}/children"),
        Some(&hub),
        &json!({"codes": [third]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = scan(app, &hub, &[ev(&big2, "seal", -100, Some(4.0))]);
    assert_eq!(statuses(&r), ["accepted"]);
    let got = app.get(&format!("/api/v1/containers/{big2}"), Some(&c.admin));
    assert_eq!(
        got.body["flags"],
        json!(["weight_discrepancy"]),
        "{}",
        got.text
    );
    let mut pickup = ev(&big, "collect", -50, Some(3.1));
    pickup["location"] = json!({"lat": 36.25, "lng": 117.35});
    scan(app, &c.driver, &[pickup]);
    let got = app.get(&format!("/api/v1/containers/{big}"), Some(&c.admin));
    assert_eq!(
        (got.body["state"].as_str(), got.body["flags"].clone()),
        (Some("collected"), json!([]))
    );
    let child = app.get(
        &format!("/api/v1/containers/{}", small[0]),
        Some(&c.clinic_a),
    );
    assert_eq!(child.body["state"], "collected", "children follow the box");
    assert_eq!(child.body["parent_code"], big.as_str());
    let last = child.body["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("event")
        .clone();
    assert_eq!(
        (last["action"].as_str(), last["via_parent"].as_str()),
        (Some("collect"), Some(big.as_str()))
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/containers/{}/audit", small[0]),
            Some(&c.admin)
        )
        .body["valid"],
        true
    );

    // A village's boxes may be picked up at its hub as well as at the village: the hub
    // moves 20 km away; a pickup there is fine, one elsewhere is flagged.
    app.with_conn(|conn| {
        use yifei_api::db::schema::institutions;
        diesel::update(institutions::table.find(&c.inst_b))
            .set((institutions::lat.eq(36.43), institutions::lng.eq(117.50)))
            .execute(conn)
            .expect("move the hub")
    });
    let at_hub = new_container(app, &c.clinic_a, "infectious", "bag");
    let elsewhere = new_container(app, &c.clinic_a, "infectious", "bag");
    scan(
        app,
        &c.clinic_a,
        &[
            ev(&at_hub, "seal", -40, Some(1.0)),
            ev(&elsewhere, "seal", -40, Some(1.0)),
        ],
    );
    let mut there = ev(&at_hub, "collect", -20, Some(1.0));
    there["location"] = json!({"lat": 36.4301, "lng": 117.5001});
    let mut away = ev(&elsewhere, "collect", -20, Some(1.0));
    away["location"] = json!({"lat": 36.60, "lng": 117.70});
    scan(app, &c.driver, &[there, away]);
    let flags = |code: &str| {
        app.get(&format!("/api/v1/containers/{code}"), Some(&c.admin))
            .body["flags"]
            .clone()
    };
    assert_eq!(flags(&at_hub), json!([]));
    assert_eq!(flags(&elsewhere), json!(["location_mismatch"]));
}

/// SQLite stores concurrent uploads in one transaction, each batch in its own savepoint: a
/// batch that fails inside the database must not take the others of its group down with it.
/// A trigger makes storing one batch's events fail; the writer is held while the batches
/// queue up so that they are committed together.
fn a_failing_batch_does_not_undo_the_others(app: &TestApp) {
    let c = county(app);
    let boxes: Vec<String> = (0..3)
        .map(|_| new_container(app, &c.clinic_a, "infectious", "bag"))
        .collect();
    // The failure comes late in the batch, when the container's new state is already written:
    // storing the events (of the batch sent from "phone-2").
    app.with_conn(|conn| {
        use diesel::connection::SimpleConnection;
        let sql = match conn {
            yifei_api::db::DbConnection::Sqlite(_) => {
                "CREATE TRIGGER boom BEFORE INSERT ON scan_events WHEN NEW.device_id = 'phone-2' \
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;"
            }
            yifei_api::db::DbConnection::Postgresql(_) => {
                "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN \
                 IF NEW.device_id = 'phone-2' THEN RAISE EXCEPTION 'boom'; \
                 END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER boom BEFORE INSERT ON scan_events FOR EACH ROW \
                 EXECUTE FUNCTION boom();"
            }
        };
        conn.batch_execute(sql).expect("trigger");
    });
    let seal = |code: &str, device: &str| {
        let mut e = ev(code, "seal", -60, Some(1.5));
        e["device_id"] = json!(device);
        json!({"events": [e]})
    };
    let answers = std::thread::scope(|s| {
        let post = |code: &str, device: &str| {
            let body = seal(code, device);
            let token = c.clinic_a.clone();
            s.spawn(move || app.post("/api/v1/scans", Some(&token), &body))
        };
        // Holding a write transaction keeps the scan writer waiting (SQLite) with the first
        // batch taken; the next two queue up meanwhile and are committed as one group.
        let handles = app.with_conn(|conn| {
            yifei_api::db::write_tx(conn, |_| {
                let first = post(&boxes[0], "phone-1");
                std::thread::sleep(std::time::Duration::from_millis(300));
                let failing = post(&boxes[1], "phone-2");
                let third = post(&boxes[2], "phone-3");
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok([first, failing, third])
            })
            .expect("held transaction")
        });
        handles.map(|h| h.join().expect("upload"))
    });
    let [first, failing, third] = answers;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(first.body["results"][0]["status"], "accepted");
    assert_eq!(third.body["results"][0]["status"], "accepted");
    assert!(failing.status >= 500, "{} {}", failing.status, failing.text);
    for (code, state, events) in [
        (&boxes[0], "sealed", 1),
        (&boxes[1], "labelled", 0),
        (&boxes[2], "sealed", 1),
    ] {
        let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.clinic_a));
        assert_eq!(got.body["state"], state, "{}", got.text);
        assert_eq!(
            got.body["events"].as_array().map(Vec::len),
            Some(events),
            "{}",
            got.text
        );
        let audit = app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.admin));
        assert_eq!(audit.body["valid"], true, "{}", audit.text);
    }
}

/// Phones uploading at once into the same boxes: each of six uploaders sends three batches
/// that touch all four shared boxes, and resends the batches of the next uploader (a phone
/// that never saw its answers). On PostgreSQL batches worked out without locks collide and
/// are stored again under the boxes' locks; on SQLite the single writer orders them. Every
/// event is accepted exactly once and its other copy is a duplicate, nothing answers 5xx,
/// and each box's history holds each of its events once, in one valid chain.
fn concurrent_uploads_into_the_same_boxes_count_each_event_once(app: &TestApp) {
    const UPLOADERS: usize = 6;
    const BATCHES: usize = 3;
    let c = county(app);
    let boxes: Vec<String> = (0..4)
        .map(|_| new_container(app, &c.clinic_a, "infectious", "bag"))
        .collect();
    // Repeated seals break the state machine: stored and flagged, never dropped.
    let bodies: Vec<Vec<Value>> = (0..UPLOADERS)
        .map(|u| {
            (0..BATCHES)
                .map(|b| {
                    let minute = -100 + (u * BATCHES + b) as i64;
                    let events: Vec<Value> = boxes
                        .iter()
                        .map(|code| ev(code, "seal", minute, Some(1.5)))
                        .collect();
                    json!({ "events": events })
                })
                .collect()
        })
        .collect();
    let answers: Vec<crate::common::Res> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..UPLOADERS)
            .map(|u| {
                let (own, theirs) = (&bodies[u], &bodies[(u + 1) % UPLOADERS]);
                let token = c.clinic_a.clone();
                s.spawn(move || {
                    own.iter()
                        .chain(theirs)
                        .map(|body| app.post("/api/v1/scans", Some(&token), body))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("uploader"))
            .collect()
    });
    let mut accepted: std::collections::HashMap<String, usize> = Default::default();
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text);
        for r in a.body["results"].as_array().expect("results") {
            let id = r["event_id"].as_str().expect("event id").to_owned();
            match r["status"].as_str() {
                Some("accepted") => *accepted.entry(id).or_default() += 1,
                Some("duplicate") => {
                    accepted.entry(id).or_default();
                }
                other => panic!("unexpected {other:?}: {r}"),
            }
        }
    }
    assert_eq!(accepted.len(), UPLOADERS * BATCHES * boxes.len());
    assert!(
        accepted.values().all(|&n| n == 1),
        "events accepted other than once: {:?}",
        accepted.values().filter(|&&n| n != 1).count()
    );
    for code in &boxes {
        let got = app.get(&format!("/api/v1/containers/{code}"), Some(&c.clinic_a));
        let events = got.body["events"].as_array().expect("events");
        assert_eq!(events.len(), UPLOADERS * BATCHES, "{}", got.text);
        let audit = app.get(&format!("/api/v1/containers/{code}/audit"), Some(&c.admin));
        assert_eq!(audit.body["valid"], true, "{}", audit.text);
    }
}
