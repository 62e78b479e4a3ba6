//! Pickups and runs: due list, planning, working a run, skips, insertion, GPS, manifests.

use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;
use crate::custody::{County, county, ev, new_container, scan};

both!(
    fleet_is_managed_by_dispatchers,
    due_list_follows_the_rules,
    a_planned_day_is_worked_from_the_app,
    skipped_stops_return_and_urgent_ones_are_inserted,
);

const DAY: &str = "2026-03-02";

pub(crate) struct Fleet {
    pub c: County,
    pub dispatcher: String,
    vehicle: String,
    company: String,
}

pub(crate) fn fleet(app: &TestApp) -> Fleet {
    let c = county(app);
    let company: String = app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::organisations;
        organisations::table
            .filter(organisations::kind.eq("disposal_company"))
            .select(organisations::id)
            .first(conn)
            .expect("company")
    });
    let driver_id = app.user("dispatch1", Role::Dispatcher, Some(&company));
    let _ = driver_id;
    let (dispatcher, _) = app.login("dispatch1");
    let me = app.get("/api/v1/me", Some(&c.driver));
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "鲁J·A1234", "capacity_kg": 800, "capacity_units": 60, "refrigerated": true, "driver_id": me.body["id"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    Fleet {
        vehicle: r.str("id"),
        c,
        dispatcher,
        company,
    }
}

fn fleet_is_managed_by_dispatchers(app: &TestApp) {
    let f = fleet(app);
    let r = app.post(
        "/api/v1/vehicles",
        Some(&f.dispatcher),
        &json!({"plate": "鲁j·a1234", "capacity_kg": 500, "capacity_units": 40}),
    );
    r.problem(409);
    app.post(
        "/api/v1/vehicles",
        Some(&f.dispatcher),
        &json!({"plate": "X1", "capacity_kg": 0, "capacity_units": 40}),
    )
    .invalid_field("capacity_kg");
    app.post("/api/v1/vehicles", Some(&f.dispatcher), &json!({"plate": "X2", "capacity_kg": 500, "capacity_units": 40, "shift_start": "18:00", "shift_end": "08:00"}))
        .invalid_field("shift_end");
    let clinic_user: String = app.get("/api/v1/me", Some(&f.c.clinic_a)).str("id");
    app.post(
        "/api/v1/vehicles",
        Some(&f.dispatcher),
        &json!({"plate": "X3", "capacity_kg": 500, "capacity_units": 40, "driver_id": clinic_user}),
    )
    .invalid_field("driver_id");
    app.post(
        "/api/v1/vehicles",
        Some(&f.c.clinic_a),
        &json!({"plate": "X4", "capacity_kg": 500, "capacity_units": 40}),
    )
    .problem(403);
    app.post(
        "/api/v1/vehicles",
        Some(&f.c.driver),
        &json!({"plate": "X5", "capacity_kg": 500, "capacity_units": 40}),
    )
    .problem(403);
    let list = app.get("/api/v1/vehicles", Some(&f.dispatcher));
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.body["items"][0]["plate"], "鲁J·A1234");
    assert_eq!(list.body["items"][0]["shift_start"], "07:30");
    let mine = app.get("/api/v1/vehicles", Some(&f.c.driver));
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(1),
        "the driver sees their vehicle"
    );
    let r = app.patch(
        &format!("/api/v1/vehicles/{}", f.vehicle),
        Some(&f.dispatcher),
        &json!({"capacity_kg": 900, "driver_id": ""}),
    );
    assert_eq!(
        (r.status, r.body["capacity_kg"].as_i64()),
        (200, Some(900)),
        "{}",
        r.text
    );
    assert!(r.body["driver_id"].is_null());
    app.patch(
        "/api/v1/vehicles/nope",
        Some(&f.dispatcher),
        &json!({"active": false}),
    )
    .problem(404);
    let _ = f.company;
}

/// Seals a container at the institution `hours` before t0.
pub(crate) fn sealed(app: &TestApp, token: &str, hours: i64, kg: f64) -> String {
    let code = new_container(app, token, "infectious", "bag");
    let r = scan(app, token, &[ev(&code, "seal", -hours * 60, Some(kg))]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    code
}

fn due(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/pickups/due?date={DAY}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["stops"].as_array().expect("stops").clone()
}

fn due_list_follows_the_rules(app: &TestApp) {
    let f = fleet(app);
    // A: waste sealed 40 h ago (deadline 16:30 local today): due for its storage deadline.
    sealed(app, &f.c.clinic_a, 40, 2.5);
    // B: waste sealed 2 h ago only: not due... until it asks.
    sealed(app, &f.c.clinic_b, 2, 1.0);
    let stops = due(app, &f.dispatcher);
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(stops[0]["institution_id"], f.c.inst_a.as_str());
    assert_eq!(stops[0]["reasons"], json!(["storage_deadline"]));
    assert_eq!(stops[0]["deadline"], "2026-03-02T08:30:00Z");
    assert_eq!(
        (
            stops[0]["expected_kg"].as_f64(),
            stops[0]["expected_containers"].as_i64()
        ),
        (Some(2.5), Some(1))
    );
    let r = app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.clinic_b),
        &json!({"est_weight_kg": 6.0, "containers": 3, "note": "清库"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.clinic_b),
        &json!({"est_weight_kg": -1}),
    )
    .invalid_field("est_weight_kg");
    app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.driver),
        &json!({"est_weight_kg": 1}),
    )
    .problem(403);
    let stops = due(app, &f.dispatcher);
    let b = stops
        .iter()
        .find(|s| s["institution_id"] == f.c.inst_b.as_str())
        .expect("B due");
    assert_eq!(b["reasons"], json!(["requested"]));
    assert_eq!(b["expected_containers"], 3);
    assert_eq!(
        app.get("/api/v1/pickup-requests", Some(&f.c.clinic_b))
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Hubs: A now delivers to B; A's deadline moves to B's stop.
    let admin = f.c.admin.clone();
    let r = app.patch(
        &format!("/api/v1/institutions/{}", f.c.inst_a),
        Some(&admin),
        &json!({"service_mode": "via_hub", "hub_id": f.c.inst_b}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let stops = due(app, &f.dispatcher);
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(stops[0]["institution_id"], f.c.inst_b.as_str());
    assert_eq!(
        stops[0]["reasons"],
        json!(["storage_deadline", "via_hub", "requested"])
    );
    assert_eq!(stops[0]["deadline"], "2026-03-02T08:30:00Z");
    let mut serves: Vec<&str> = stops[0]["serves"]
        .as_array()
        .expect("serves")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    serves.sort();
    let mut expected = vec![f.c.inst_a.as_str(), f.c.inst_b.as_str()];
    expected.sort();
    assert_eq!(serves, expected);
    // Intervals: two days later everything lapses.
    let r = app.get("/api/v1/pickups/due?date=2026-03-04", Some(&f.dispatcher));
    assert!(
        r.body["stops"][0]["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x == "interval_lapses"),
        "{}",
        r.text
    );
    // Who may look.
    app.get(
        &format!("/api/v1/pickups/due?date={DAY}"),
        Some(&f.c.clinic_a),
    )
    .problem(403);
    app.get(
        &format!("/api/v1/pickups/due?date={DAY}"),
        Some(&f.c.driver),
    )
    .problem(403);
    app.get("/api/v1/pickups/due?date=March", Some(&f.dispatcher))
        .problem(422);
}

fn plan(app: &TestApp, token: &str) -> Value {
    let r = app.post("/api/v1/plans", Some(token), &json!({"date": DAY}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body.clone()
}

fn a_planned_day_is_worked_from_the_app(app: &TestApp) {
    let f = fleet(app);
    let code_a = sealed(app, &f.c.clinic_a, 40, 2.5);
    let code_b = sealed(app, &f.c.clinic_b, 30, 1.0);
    app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.clinic_b),
        &json!({"est_weight_kg": 1.0}),
    );
    let p = plan(app, &f.dispatcher);
    assert_eq!(p["unassigned"], json!([]), "{p}");
    let run = &p["runs"][0];
    let stops = run["stops"].as_array().expect("stops");
    let mut on_run: Vec<&str> = stops
        .iter()
        .filter_map(|s| s["institution_id"].as_str())
        .collect();
    on_run.sort();
    let mut want = vec![f.c.inst_a.as_str(), f.c.inst_b.as_str()];
    want.sort();
    assert_eq!(on_run, want, "every due institution is on the run");
    for s in stops {
        let eta = s["eta"].as_str().expect("eta");
        if let Some(d) = s["deadline"].as_str() {
            assert!(eta <= d, "ETA {eta} after deadline {d}");
        }
        // Within opening hours 08:00-12:00 or 14:00-17:30 local (00:00-04:00, 06:00-09:30 UTC).
        let hm = &eta[11..16];
        assert!(
            ("00:00"..="04:00").contains(&hm) || ("06:00"..="09:30").contains(&hm) || hm < "00:00",
            "ETA {eta} outside opening hours (waiting is fine)"
        );
    }
    assert!(run["distance_km"].as_f64().is_some_and(|d| d > 0.0));
    let run_id = run["id"].as_str().expect("run id").to_owned();

    // The driver's day in one call; another driver sees nothing.
    let mine = app.get(&format!("/api/v1/me/runs?date={DAY}"), Some(&f.c.driver));
    assert_eq!(mine.status, 200, "{}", mine.text);
    let runs = mine.body["items"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let stop_a = runs[0]["stops"]
        .as_array()
        .expect("stops")
        .iter()
        .find(|s| s["institution_id"] == f.c.inst_a.as_str())
        .expect("A")
        .clone();
    assert_eq!(stop_a["containers"], json!([code_a]));
    assert!(stop_a["address"].is_string() && stop_a["location"]["lat"].is_number());
    let company = f.company.clone();
    app.user("driver2", Role::Driver, Some(&company));
    let (other_driver, _) = app.login("driver2");
    assert_eq!(
        app.get(&format!("/api/v1/me/runs?date={DAY}"), Some(&other_driver))
            .body["items"],
        json!([])
    );
    app.get(&format!("/api/v1/runs/{run_id}"), Some(&other_driver))
        .problem(404);
    app.get(&format!("/api/v1/runs/{run_id}"), Some(&f.c.clinic_a))
        .problem(404);
    app.get(&format!("/api/v1/me/runs?date={DAY}"), Some(&f.dispatcher))
        .problem(403);
    assert_eq!(
        app.get(&format!("/api/v1/runs?date={DAY}"), Some(&f.dispatcher))
            .body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // GPS track: batched, idempotent, late uploads fine.
    let fixes = json!({"positions": [
        {"lat": 36.30, "lng": 117.40, "at": "2026-03-02T00:00:00Z"},
        {"lat": 36.28, "lng": 117.38, "at": "2026-03-02T00:05:00Z"}]});
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&f.c.driver),
        &fixes,
    );
    assert_eq!(
        r.body,
        json!({"accepted": 2, "duplicates": 0}),
        "{}",
        r.text
    );
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&f.c.driver),
        &fixes,
    );
    assert_eq!(r.body, json!({"accepted": 0, "duplicates": 2}));
    app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&other_driver),
        &fixes,
    )
    .problem(404);
    app.post(
        &format!("/api/v1/runs/{run_id}/positions"),
        Some(&f.c.driver),
        &json!({"positions": [{"lat": 95, "lng": 0, "at": "2026-03-02T00:00:00Z"}]}),
    )
    .problem(422);

    // Working stop A: the collect scans complete it and open A's manifest.
    let mut pickup = ev(&code_a, "collect", -20, Some(2.6));
    pickup["run_id"] = json!(run_id);
    pickup["location"] = json!({"lat": 36.25, "lng": 117.35});
    assert_eq!(scan(app, &f.c.driver, &[pickup])[0]["status"], "accepted");
    let r = app.get(&format!("/api/v1/runs/{run_id}"), Some(&f.c.driver));
    let a = r.body["stops"]
        .as_array()
        .expect("stops")
        .iter()
        .find(|s| s["institution_id"] == f.c.inst_a.as_str())
        .expect("A")
        .clone();
    assert_eq!(a["status"], "completed");
    assert_eq!(r.body["status"], "in_progress");
    let list = app.get(
        &format!("/api/v1/runs/{run_id}/manifests"),
        Some(&f.dispatcher),
    );
    assert_eq!(
        list.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.text
    );
    let m = &list.body["items"][0];
    let number = m["number"].as_str().expect("number").to_owned();
    assert_eq!(m["shipper"]["id"], f.c.inst_a.as_str());
    assert_eq!(m["plate"], "鲁J·A1234");
    assert_eq!(m["lines"][0]["code"], code_a.as_str());
    assert_eq!(
        (
            m["lines"][0]["seal_kg"].as_f64(),
            m["lines"][0]["collect_kg"].as_f64()
        ),
        (Some(2.5), Some(2.6))
    );
    assert_eq!(m["count_collected"], 1);
    assert_eq!(m["collected"]["at"], "2026-03-02T00:10:00Z");

    // The plant weighs it in: counts and weights reconcile on the manifest.
    scan(app, &f.c.plant, &[ev(&code_a, "receive", -5, Some(2.55))]);
    let m = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(
        (
            m.body["status"].as_str(),
            m.body["count_received"].as_i64(),
            m.body["count_discrepancy"].as_i64()
        ),
        (Some("received"), Some(1), Some(0))
    );
    assert_eq!(m.body["weight_discrepancy_kg"].as_f64(), Some(-0.05));
    let csv = app.get(
        &format!("/api/v1/manifests/{number}?format=csv"),
        Some(&f.c.admin),
    );
    assert!(
        csv.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    assert_eq!(csv.text.lines().count(), 2, "{}", csv.text);
    assert!(csv.text.contains(&code_a) && csv.text.contains("2.550"));
    // Manifests are the shipper's: B's staff cannot read A's.
    app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_b))
        .problem(404);
    assert_eq!(
        app.get(
            &format!("/api/v1/runs/{run_id}/manifests"),
            Some(&f.c.clinic_b)
        )
        .body["items"],
        json!([])
    );
    let _ = code_b;
}

fn skipped_stops_return_and_urgent_ones_are_inserted(app: &TestApp) {
    let f = fleet(app);
    sealed(app, &f.c.clinic_a, 40, 2.5);
    sealed(app, &f.c.clinic_b, 36, 1.0);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    // Nobody is due any more: both are on a pending stop.
    assert_eq!(due(app, &f.dispatcher), Vec::<Value>::new());
    let seq_a = p["runs"][0]["stops"]
        .as_array()
        .expect("stops")
        .iter()
        .find(|s| s["institution_id"] == f.c.inst_a.as_str())
        .expect("A")["seq"]
        .as_i64()
        .expect("seq");
    app.post(
        &format!("/api/v1/runs/{run_id}/stops/{seq_a}/skip"),
        Some(&f.c.driver),
        &json!({"reason": " "}),
    )
    .invalid_field("reason");
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/stops/{seq_a}/skip"),
        Some(&f.c.driver),
        &json!({"reason": "gate closed"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let a = r.body["stops"]
        .as_array()
        .expect("stops")
        .iter()
        .find(|s| s["seq"] == seq_a)
        .expect("A")
        .clone();
    assert_eq!(
        (a["status"].as_str(), a["skip_reason"].as_str()),
        (Some("skipped"), Some("gate closed"))
    );
    app.post(
        &format!("/api/v1/runs/{run_id}/stops/99/skip"),
        Some(&f.c.driver),
        &json!({"reason": "x"}),
    )
    .problem(404);
    app.post(
        &format!("/api/v1/runs/{run_id}/stops/{seq_a}/skip"),
        Some(&f.c.clinic_a),
        &json!({"reason": "x"}),
    )
    .problem(403);
    // A is due again, marked as skipped; a new plan for the day puts it back on a run (the
    // started run keeps its vehicle, so a second vehicle is needed).
    let stops = due(app, &f.dispatcher);
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0]["reasons"], json!(["storage_deadline", "skipped"]));
    let r = app.post(
        "/api/v1/vehicles",
        Some(&f.dispatcher),
        &json!({"plate": "鲁J·B5678", "capacity_kg": 500, "capacity_units": 40}),
    );
    assert_eq!(r.status, 201);
    let p2 = plan(app, &f.dispatcher);
    let replanned: Vec<&str> = p2["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|r| r["stops"].as_array().into_iter().flatten())
        .filter_map(|s| s["institution_id"].as_str())
        .collect();
    assert_eq!(replanned, [f.c.inst_a.as_str()], "{p2}");
    assert_eq!(
        app.get(&format!("/api/v1/runs/{run_id}"), Some(&f.dispatcher))
            .body["status"],
        "in_progress",
        "the started run stays"
    );

    // An urgent request during the day goes into the run under way.
    app.sign_up(7, "石门镇");
    let urgent = app
        .get("/api/v1/institutions?status=pending", Some(&f.c.admin))
        .body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.post(
        &format!("/api/v1/runs/{run_id}/insert"),
        Some(&f.dispatcher),
        &json!({"institution_id": urgent}),
    )
    .invalid_field("institution_id");
    app.post(
        &format!("/api/v1/institutions/{urgent}/approve"),
        Some(&f.c.admin),
        &json!({}),
    );
    let r = app.post(
        &format!("/api/v1/runs/{run_id}/insert"),
        Some(&f.dispatcher),
        &json!({"institution_id": urgent}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let stops = r.body["stops"].as_array().expect("stops");
    let new_stop = stops
        .iter()
        .find(|s| s["institution_id"] == urgent.as_str())
        .expect("inserted");
    assert_eq!(
        (new_stop["status"].as_str(), new_stop["reasons"].clone()),
        (Some("pending"), json!(["urgent"]))
    );
    let seqs: Vec<i64> = stops.iter().filter_map(|s| s["seq"].as_i64()).collect();
    assert_eq!(
        seqs,
        (1..=stops.len() as i64).collect::<Vec<_>>(),
        "renumbered"
    );
    app.post(
        &format!("/api/v1/runs/{run_id}/insert"),
        Some(&f.dispatcher),
        &json!({"institution_id": urgent}),
    )
    .problem(409);
    app.post(
        &format!("/api/v1/runs/{run_id}/insert"),
        Some(&f.c.driver),
        &json!({"institution_id": urgent}),
    )
    .problem(403);
}
