//! What the clinic's and the plant's console pages read: the storage clocks of the waiting
//! waste (deadlines as the alert rules count them) and the plant gate's day.

use chrono::Duration;
use serde_json::json;
use yifei_contract::Role;

use crate::both;
use crate::common::{TestApp, t0};
use crate::custody::{county, ev, new_container, scan};

both!(
    storage_clocks_give_each_waiting_container_its_deadline,
    the_plant_intake_counts_the_local_day_of_its_own_gate,
);

fn codes(body: &serde_json::Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["code"].as_str().expect("code").to_owned())
        .collect()
}

fn storage_clocks_give_each_waiting_container_its_deadline(app: &TestApp) {
    let c = county(app);
    let old = new_container(app, &c.clinic_a, "infectious", "bag");
    let fresh = new_container(app, &c.clinic_a, "sharps", "sharps_box");
    let unsealed = new_container(app, &c.clinic_a, "infectious", "bag");
    let gone = new_container(app, &c.clinic_a, "infectious", "bag");
    let other = new_container(app, &c.clinic_b, "infectious", "bag");
    // Sealed 40 h and 1 h before now (t0, Monday 08:30 in Shanghai): the first one is past
    // its 36 h warning, its 48 h limit comes at 16:30 today.
    scan(
        app,
        &c.clinic_a,
        &[
            ev(&old, "seal", -40 * 60, Some(2.0)),
            ev(&fresh, "seal", -60, Some(0.5)),
            ev(&gone, "seal", -50, Some(1.0)),
        ],
    );
    scan(app, &c.clinic_b, &[ev(&other, "seal", -60, Some(1.0))]);
    scan(app, &c.driver, &[ev(&gone, "collect", -10, Some(1.0))]);

    let r = app.get("/api/v1/storage-clocks", Some(&c.clinic_a));
    assert_eq!(r.status, 200, "{}", r.text);
    // Oldest seal first; not the unsealed label, not the collected box, not another
    // institution's waste.
    assert_eq!(codes(&r.body), [old.clone(), fresh.clone()]);
    assert!(!codes(&r.body).contains(&unsealed));
    assert_eq!(
        (r.body["warn_h"].as_i64(), r.body["limit_h"].as_i64()),
        (Some(36), Some(48))
    );
    assert_eq!(r.body["epidemic"], false);
    let first = &r.body["items"][0];
    let deadline = t0() - Duration::hours(40) + Duration::hours(48);
    assert_eq!(
        first["deadline"],
        json!(deadline.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    );
    assert_eq!(first["status"], "warn");
    assert_eq!(first["seal_kg"], 2.0);
    assert_eq!(r.body["items"][1]["status"], "ok");

    // Eight hours on, the limit has passed.
    // (Access tokens last minutes: sign in again on the later clock.)
    app.clock.set(t0() + Duration::hours(8));
    let clinic = app.login("clinic1").0;
    let r = app.get("/api/v1/storage-clocks", Some(&clinic));
    assert_eq!(r.body["items"][0]["status"], "overdue", "{}", r.text);

    // Epidemic mode halves the limit: the fresh box's deadline moves to 24 h after its seal.
    app.with_conn(|conn| yifei_api::oversight::set_epidemic(conn, true))
        .expect("epidemic");
    let r = app.get("/api/v1/storage-clocks", Some(&clinic));
    assert_eq!(r.body["limit_h"], 24, "{}", r.text);
    let fresh_deadline = t0() - Duration::hours(1) + Duration::hours(24);
    assert_eq!(
        r.body["items"][1]["deadline"],
        json!(fresh_deadline.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    );

    // Only institutions read storage clocks.
    for login in ["plant1", "driver1", "admin1"] {
        app.get("/api/v1/storage-clocks", Some(&app.login(login).0))
            .problem(403);
    }
    app.get("/api/v1/storage-clocks", None).problem(401);
}

fn the_plant_intake_counts_the_local_day_of_its_own_gate(app: &TestApp) {
    let c = county(app);
    let other_company = app.org("disposal_company", "另一处置公司", &[]);
    app.user("plant9", Role::PlantOperator, Some(&other_company));
    let other_plant = app.login("plant9").0;
    let [a, b, late, yesterday] =
        std::array::from_fn(|_| new_container(app, &c.clinic_a, "infectious", "bag"));
    let all = [&a, &b, &late, &yesterday];
    scan(
        app,
        &c.clinic_a,
        &all.iter()
            .map(|x| ev(x, "seal", -30 * 60, Some(1.0)))
            .collect::<Vec<_>>(),
    );
    scan(
        app,
        &c.driver,
        &all.iter()
            .map(|x| ev(x, "collect", -20 * 60, Some(1.0)))
            .collect::<Vec<_>>(),
    );
    // t0 is 08:30 local: 8 h 31 min before is 23:59 yesterday, 8 h 29 min before is 00:01
    // today, both by the local calendar.
    scan(
        app,
        &c.plant,
        &[
            ev(&yesterday, "receive", -(8 * 60 + 31), Some(1.2)),
            ev(&a, "receive", -(8 * 60 + 29), Some(1.25)),
            ev(&b, "reject", -20, None),
            ev(&late, "receive", -10, Some(2.0)),
            ev(&a, "dispose", -5, None),
        ],
    );
    let r = app.get("/api/v1/plant/intake?date=2026-03-02", Some(&c.plant));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(codes(&r.body), [a.clone(), b.clone(), late.clone()]);
    assert_eq!(
        (
            r.body["received"].as_i64(),
            r.body["received_kg"].as_f64(),
            r.body["rejected"].as_i64()
        ),
        (Some(2), Some(3.25), Some(1))
    );
    assert_eq!(r.body["items"][0]["state"], "disposed");
    assert_eq!(r.body["items"][1]["reason"], "leaking");
    // Today is the default; yesterday has the receipt of 23:59.
    assert_eq!(
        codes(&app.get("/api/v1/plant/intake", Some(&c.plant)).body),
        codes(&r.body)
    );
    let y = app.get("/api/v1/plant/intake?date=2026-03-01", Some(&c.plant));
    assert_eq!(codes(&y.body), std::slice::from_ref(&yesterday));
    // Another company's gate saw none of it; the admin sees it all.
    assert_eq!(
        codes(&app.get("/api/v1/plant/intake", Some(&other_plant)).body),
        Vec::<String>::new()
    );
    assert_eq!(
        codes(&app.get("/api/v1/plant/intake", Some(&c.admin)).body).len(),
        3
    );
    // Clinics and drivers may not read the gate; a malformed or far day is refused.
    app.get("/api/v1/plant/intake", Some(&c.clinic_a))
        .problem(403);
    app.get("/api/v1/plant/intake", Some(&c.driver))
        .problem(403);
    app.get("/api/v1/plant/intake?date=2026-13-01", Some(&c.plant))
        .invalid_field("query");
    app.get("/api/v1/plant/intake?date=2036-03-02", Some(&c.plant))
        .invalid_field("date");
}
