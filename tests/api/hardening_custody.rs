//! Issue 14, custody ingest: an event a database cannot store is refused alone and the rest
//! of its batch kept; a run's stops are completed only by its driver; device times older than
//! the server's bound, or dated before their container was labelled, are refused per event;
//! GPS fixes and plan days are bounded.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_api::clock::{Clock, ManualClock};
use yifei_contract::Role;

use crate::both;
use crate::common::{Backend, TestApp, TestDb, t0};
use crate::custody::{county, ev, new_container, scan};
use crate::runs::{fleet, plan, sealed};

both!(
    a_poisoned_event_is_refused_alone_and_the_batch_is_stored,
    only_the_runs_driver_completes_its_stops,
    a_seal_dated_1970_is_refused,
    events_before_their_container_was_labelled_are_refused,
    gps_fixes_and_plan_days_are_bounded,
);

fn outcome(r: &Value) -> String {
    match r["reason"].as_str() {
        Some(reason) => format!("{}:{reason}", r["status"].as_str().unwrap_or("?")),
        None => r["status"].as_str().unwrap_or("?").to_owned(),
    }
}

fn container(app: &TestApp, token: &str, code: &str) -> Value {
    let r = app.get(&format!("/api/v1/containers/{code}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.clone()
}

/// A batch with a NUL in one event's `device_id` and half a surrogate pair in another's
/// `reason` (escaped in JSON as a phone's broken encoder writes it): those two are refused
/// with `invalid_text` naming the field, the others are stored; sent again, the stored ones
/// are duplicates (the phone's queue drains); fixed and resent with the same id, accepted.
fn a_poisoned_event_is_refused_alone_and_the_batch_is_stored(app: &TestApp) {
    let c = county(app);
    let codes: Vec<String> = (0..4)
        .map(|_| new_container(app, &c.clinic_a, "infectious", "bag"))
        .collect();
    let mut events: Vec<Value> = codes
        .iter()
        .map(|code| ev(code, "seal", -30, Some(1.5)))
        .collect();
    events[1]["device_id"] = json!("phone-\u{0}7");
    events[2]["reason"] = json!("SURROGATE");
    let body = json!({ "events": events })
        .to_string()
        .replace("\"SURROGATE\"", r#""half \ud800 pair""#);
    assert!(body.contains(r"phone-\u0000") && body.contains(r"\ud800"));
    let send = |body: &str| {
        let r = app.post_raw(
            "/api/v1/scans",
            Some(&c.clinic_a),
            "application/json",
            body.as_bytes().to_vec(),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["results"].as_array().expect("results").clone()
    };
    let results = send(&body);
    assert_eq!(
        results.iter().map(outcome).collect::<Vec<_>>(),
        [
            "accepted",
            "rejected:invalid_text",
            "rejected:invalid_text",
            "accepted"
        ]
    );
    assert_eq!(
        (results[1]["field"].as_str(), results[2]["field"].as_str()),
        (Some("device_id"), Some("reason"))
    );
    let states: Vec<String> = codes
        .iter()
        .map(|code| {
            container(app, &c.clinic_a, code)["state"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    assert_eq!(states, ["sealed", "labelled", "labelled", "sealed"]);

    let again = send(&body);
    assert_eq!(
        again.iter().map(outcome).collect::<Vec<_>>(),
        [
            "duplicate",
            "rejected:invalid_text",
            "rejected:invalid_text",
            "duplicate"
        ]
    );
    let mut fixed = events[1].clone();
    fixed["device_id"] = json!("phone-7");
    assert_eq!(outcome(&scan(app, &c.clinic_a, &[fixed])[0]), "accepted");
    let stored = container(app, &c.clinic_a, &codes[1]);
    assert_eq!(stored["events"][0]["device_id"], "phone-7");
    // A NUL outside the events refuses the whole body, naming where it is.
    let outside = format!(
        r#"{{"events":[{}],"x\u0000":1}}"#,
        ev(&codes[2], "seal", -5, Some(1.0))
    );
    app.post_raw(
        "/api/v1/scans",
        Some(&c.clinic_a),
        "application/json",
        outside.into_bytes(),
    )
    .invalid_field("x\u{FFFD}");
    assert_eq!(container(app, &c.clinic_a, &codes[2])["state"], "labelled");
}

/// Cross-company and cross-driver completion attempts are refused as `not_your_run`, exactly
/// as a run id nobody knows; the stop stays open and no manifest opens; the run's driver
/// completes it, and the stop records who.
fn only_the_runs_driver_completes_its_stops(app: &TestApp) {
    let f = fleet(app);
    let code = sealed(app, &f.c.clinic_a, 40, 2.5);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    let other_company = app.org("disposal_company", "邻县处置公司", &[]);
    app.user("driver9", Role::Driver, Some(&other_company));
    app.user("driver2", Role::Driver, Some(&f.company));
    let (stranger, _) = app.login("driver9");
    let (colleague, _) = app.login("driver2");
    let pickup = |run: &str| {
        let mut e = ev(&code, "collect", -20, Some(2.6));
        e["run_id"] = json!(run);
        e["location"] = json!({"lat": 36.25, "lng": 117.35});
        e
    };
    let stop_a = |app: &TestApp| -> Value {
        let r = app.get(&format!("/api/v1/runs/{run_id}"), Some(&f.dispatcher));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["stops"]
            .as_array()
            .expect("stops")
            .iter()
            .find(|s| s["institution_id"] == f.c.inst_a.as_str())
            .expect("stop A")
            .clone()
    };
    let manifests = |app: &TestApp| -> Value {
        app.get(
            &format!("/api/v1/runs/{run_id}/manifests"),
            Some(&f.dispatcher),
        )
        .body["items"]
            .clone()
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut answers = Vec::new();
    for (token, run) in [
        (&stranger, run_id.as_str()),
        (&colleague, run_id.as_str()),
        (&stranger, unknown.as_str()),
    ] {
        let r = scan(app, token, &[pickup(run)]);
        assert_eq!(outcome(&r[0]), "rejected:not_your_run", "{r:?}");
        let mut r = r[0].clone();
        r["event_id"] = json!("-");
        answers.push(r);
    }
    assert_eq!(
        answers[0], answers[2],
        "another company's run answers as an unknown one"
    );
    let s = stop_a(app);
    assert_eq!(
        (s["status"].as_str(), &s["completed_by"]),
        (Some("pending"), &Value::Null)
    );
    assert_eq!(manifests(app), json!([]));
    let c = container(app, &f.c.admin, &code);
    assert_eq!(
        (c["state"].as_str(), c["events"].as_array().map(Vec::len)),
        (Some("sealed"), Some(1)),
        "nothing of the refused pickups was stored"
    );

    let r = scan(app, &f.c.driver, &[pickup(&run_id)]);
    assert_eq!(outcome(&r[0]), "accepted");
    let me = app.get("/api/v1/me", Some(&f.c.driver)).str("id");
    let s = stop_a(app);
    assert_eq!(
        (s["status"].as_str(), s["completed_by"].as_str()),
        (Some("completed"), Some(me.as_str()))
    );
    let m = manifests(app);
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(m[0]["lines"].as_array().map(Vec::len), Some(1));
    // Afterwards, too: the colleague's scan of the same box on the run is refused.
    let r = scan(app, &colleague, &[pickup(&run_id)]);
    assert_eq!(outcome(&r[0]), "rejected:not_your_run");
    assert_eq!(
        container(app, &f.c.admin, &code)["events"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// A phone whose clock was reset: a seal dated 1970 is refused (`stale_timestamp`), stores
/// nothing and raises nothing; 29 days back is fine, 31 days is not (the default bound).
fn a_seal_dated_1970_is_refused(app: &TestApp) {
    let c = county(app);
    let code = new_container(app, &c.clinic_a, "infectious", "bag");
    let mut e = ev(&code, "seal", 0, Some(1.0));
    e["occurred_at"] = json!("1970-01-01T00:00:00Z");
    assert_eq!(
        outcome(&scan(app, &c.clinic_a, &[e])[0]),
        "rejected:stale_timestamp"
    );
    let got = container(app, &c.clinic_a, &code);
    assert_eq!(
        (
            got["state"].as_str(),
            got["events"].as_array().map(Vec::len)
        ),
        (Some("labelled"), Some(0))
    );
    let now = app.clock.now();
    let alerts = app.with_conn(|conn| {
        yifei_api::oversight::alerts::evaluate(conn, now, &Default::default())
            .expect("alerts evaluated");
        use diesel::prelude::*;
        use yifei_api::db::schema::alerts;
        alerts::table
            .count()
            .get_result::<i64>(conn)
            .expect("count")
    });
    assert_eq!(alerts, 0, "a refused seal raises no alert");

    // The bound: a container labelled 40 days ago, sealed 29 or 31 days ago.
    app.clock.set(now - Duration::days(40));
    let old = app
        .post(
            "/api/v1/containers",
            Some(&c.clinic_a),
            &json!({"category": "infectious", "packaging": "bag"}),
        )
        .str("code");
    app.clock.set(now);
    let at = |days: i64| {
        let mut e = ev(&old, "seal", 0, Some(1.0));
        e["occurred_at"] = json!((now - Duration::days(days)).to_rfc3339());
        e
    };
    assert_eq!(
        scan(app, &c.clinic_a, &[at(31), at(29)])
            .iter()
            .map(outcome)
            .collect::<Vec<_>>(),
        ["rejected:stale_timestamp", "accepted"]
    );
    // Nesting at a hub takes a device time too.
    app.post(
        &format!("/api/v1/containers/{old}/children"),
        Some(&c.clinic_a),
        &json!({"codes": [code], "occurred_at": "1970-01-01T00:00:00Z"}),
    )
    .invalid_field("occurred_at");
}

/// The README's fixed dates made a container sealed months before it was labelled: an
/// event dated before its container's creation (beyond the clock-skew allowance) is refused.
fn events_before_their_container_was_labelled_are_refused(app: &TestApp) {
    let c = county(app);
    let code = app
        .post(
            "/api/v1/containers",
            Some(&c.clinic_a),
            &json!({"category": "infectious", "packaging": "bag"}),
        )
        .str("code");
    let r = scan(
        app,
        &c.clinic_a,
        &[
            ev(&code, "seal", -10, Some(1.0)),
            ev(&code, "seal", -4, Some(1.0)),
        ],
    );
    assert_eq!(
        r.iter().map(outcome).collect::<Vec<_>>(),
        ["rejected:before_container_created", "accepted"],
        "the allowance is the clock skew's, 5 minutes"
    );
    let r = scan(app, &c.driver, &[ev(&code, "collect", -6, Some(1.0))]);
    assert_eq!(outcome(&r[0]), "rejected:before_container_created");
    let got = container(app, &c.clinic_a, &code);
    assert_eq!(got["events"].as_array().map(Vec::len), Some(1));
    assert!(
        got["flags"].as_array().is_some_and(Vec::is_empty),
        "no sequence anomaly from the refused events: {}",
        got["flags"]
    );
}

/// GPS fixes from 1970 or 2099 are refused one by one (the others stored); plan and run days
/// far from today are a 422 naming `date`.
fn gps_fixes_and_plan_days_are_bounded(app: &TestApp) {
    let f = fleet(app);
    sealed(app, &f.c.clinic_a, 40, 2.5);
    for day in ["0001-01-01", "9999-12-31", "2026-04-03", "2026-02-22"] {
        app.post("/api/v1/plans", Some(&f.dispatcher), &json!({"date": day}))
            .invalid_field("date");
        app.get(
            &format!("/api/v1/pickups/due?date={day}"),
            Some(&f.dispatcher),
        )
        .invalid_field("date");
    }
    for day in ["0001-01-01", "9999-12-31"] {
        app.get(&format!("/api/v1/runs?date={day}"), Some(&f.dispatcher))
            .invalid_field("date");
        app.get(&format!("/api/v1/me/runs?date={day}"), Some(&f.c.driver))
            .invalid_field("date");
    }
    assert_eq!(
        app.get("/api/v1/runs?date=2024-01-01", Some(&f.dispatcher))
            .status,
        200,
        "past runs stay readable"
    );
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    let day_ago = |h: i64| (t0() - Duration::hours(h)).to_rfc3339();
    let fixes = json!({"positions": [
        {"lat": 36.30, "lng": 117.40, "at": "1970-01-01T00:00:00Z"},
        {"lat": 36.30, "lng": 117.40, "at": "2099-01-01T00:00:00Z"},
        {"lat": 36.29, "lng": 117.39, "at": day_ago(1)},
        {"lat": 36.28, "lng": 117.38, "at": day_ago(25)},
        {"lat": 36.27, "lng": 117.37, "at": (t0() + Duration::minutes(3)).to_rfc3339()}]});
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&f.c.driver),
        &fixes,
    );
    assert_eq!(
        r.body,
        json!({"accepted": 2, "duplicates": 0, "rejected": [
            {"index": 0, "reason": "stale_timestamp"},
            {"index": 1, "reason": "future_timestamp"},
            {"index": 3, "reason": "stale_timestamp"}]}),
        "{}",
        r.text
    );
}

/// `YIFEI_SCAN_MAX_AGE_DAYS` and `YIFEI_GPS_MAX_AGE_H` move the bounds.
fn the_bounds_are_configurable(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(db, ManualClock::new(t0()), |c| {
        c.scan_max_age = Duration::days(1);
        c.gps_max_age = Duration::hours(2);
    });
    let f = fleet(&app);
    let code = new_container(&app, &f.c.clinic_a, "infectious", "bag");
    let r = scan(
        &app,
        &f.c.clinic_a,
        &[
            ev(&code, "seal", -25 * 60, Some(1.0)),
            ev(&code, "seal", -23 * 60, Some(1.0)),
        ],
    );
    assert_eq!(
        r.iter().map(outcome).collect::<Vec<_>>(),
        ["rejected:stale_timestamp", "accepted"]
    );
    let r = app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.clinic_a),
        &json!({"est_weight_kg": 1.0}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let p = plan(&app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    let at = |h: i64| (t0() - Duration::hours(h)).to_rfc3339();
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&f.c.driver),
        &json!({"positions": [{"lat": 36.3, "lng": 117.4, "at": at(3)}, {"lat": 36.3, "lng": 117.4, "at": at(1)}]}),
    );
    assert_eq!(
        (r.body["accepted"].as_i64(), &r.body["rejected"]),
        (Some(1), &json!([{"index": 0, "reason": "stale_timestamp"}])),
        "{}",
        r.text
    );
}

mod the_bounds_are_configurable {
    #[test]
    fn sqlite() {
        super::the_bounds_are_configurable(crate::common::Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        super::the_bounds_are_configurable(crate::common::Backend::Postgres);
    }
}
