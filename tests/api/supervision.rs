//! Supervision: honest rates (each with its definition, none reading 100 % because its
//! denominator hides the problem), the bureau's roster of licensed institutions and the
//! 纳入率 it makes honest.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;
use crate::custody::{county, ev, new_container, scan};

both!(rates_say_what_they_divide_and_do_not_hide_missing_waste);

fn bureau(app: &TestApp) -> String {
    let org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&org));
    app.login("bureau1").0
}

fn accepted(r: Vec<Value>) {
    assert!(r.iter().all(|x| x["status"] == "accepted"), "{r:?}");
}

fn rates_say_what_they_divide_and_do_not_hide_missing_waste(app: &TestApp) {
    let _c = county(app);
    bureau(app);
    app.clock.advance(Duration::hours(6));
    let (b, clinic, driver, plant) = (
        app.login("bureau1").0,
        app.login("clinic1").0,
        app.login("driver1").0,
        app.login("plant1").0,
    );
    // 1 kg goes all the way to disposal; 9 kg are sealed and never collected.
    let done = new_container(app, &clinic, "infectious", "bag");
    let left = new_container(app, &clinic, "infectious", "box");
    accepted(scan(
        app,
        &clinic,
        &[
            ev(&done, "seal", 60, Some(1.0)),
            ev(&left, "seal", 60, Some(9.0)),
        ],
    ));
    accepted(scan(app, &driver, &[ev(&done, "collect", 120, Some(1.0))]));
    accepted(scan(
        app,
        &plant,
        &[
            ev(&done, "receive", 180, Some(1.0)),
            ev(&done, "dispose", 240, None),
        ],
    ));
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let t = &r.body["total"];
    // Disposed / received would read 100 %: the plant disposed of all it got.
    assert_eq!(t["plant_disposal_rate"], 1.0, "{t}");
    assert_eq!(
        t["harmless_disposal_rate"], 0.1,
        "1 of the 10 kg sealed: {t}"
    );
    assert_eq!(t["entry_rate_weight"], 0.1, "{t}");
    assert_eq!(
        (t["kg_sealed"].as_f64(), t["kg_sealed_disposed"].as_f64()),
        (Some(10.0), Some(1.0))
    );
    // The 9 kg box is not due yet on its first day: on time is 1 of 1.
    assert_eq!(
        (t["containers_due"].as_i64(), t["on_time_rate"].as_f64()),
        (Some(1), Some(1.0))
    );
    let defs = r.body["definitions"].as_array().expect("definitions");
    let harmless = defs
        .iter()
        .find(|d| d["rate"] == "harmless_disposal_rate")
        .expect("the 无害化处置率 is defined");
    assert_eq!(harmless["name"], "无害化处置率");
    assert!(
        harmless["denominator"]
            .as_str()
            .is_some_and(|d| d.contains("sealed")),
        "{harmless}"
    );
    for rate in [
        "entry_rate_institutions",
        "entry_rate_weight",
        "plant_disposal_rate",
        "on_time_rate",
        "inspection_pass_rate",
    ] {
        assert!(defs.iter().any(|d| d["rate"] == rate), "{rate} undefined");
    }

    // Three days on, the 9 kg box has waited past 48 h without a pickup: it is due and late,
    // so one punctual pickup no longer reads 100 %.
    app.clock.advance(Duration::days(3));
    let b = app.login("bureau1").0;
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-04",
        Some(&b),
    );
    let t = &r.body["total"];
    assert_eq!(
        (t["containers_due"].as_i64(), t["on_time_rate"].as_f64()),
        (Some(2), Some(0.5)),
        "{t}"
    );

    // A period with no waste at all: no data, not 100 %.
    let r = app.get(
        "/api/v1/reports/coverage?from=2026-02-10&to=2026-02-11",
        Some(&b),
    );
    let t = &r.body["total"];
    for rate in [
        "entry_rate_weight",
        "harmless_disposal_rate",
        "plant_disposal_rate",
        "on_time_rate",
        "inspection_pass_rate",
    ] {
        assert!(t[rate].is_null(), "{rate}: {t}");
    }
    let csv = app.get(
        "/api/v1/reports/coverage.csv?from=2026-02-10&to=2026-02-11",
        Some(&b),
    );
    assert_eq!(csv.status, 200, "{}", csv.text);
    let mut rd = csv::Reader::from_reader(csv.text.trim_start_matches('\u{feff}').as_bytes());
    let header = rd.headers().expect("header").clone();
    let col = |n: &str| header.iter().position(|h| h == n).expect(n);
    let recs: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("record")).collect();
    assert_eq!(&recs[0][0], "definition");
    assert!(
        recs[0][col("harmless_disposal_rate")].contains("无害化处置率 ="),
        "{}",
        csv.text
    );
    assert_eq!(&recs[1][0], "total");
    assert_eq!(&recs[1][col("on_time_rate")], "no data", "{}", csv.text);
    assert_eq!(&recs[1][col("harmless_disposal_rate")], "no data");
    let _ = json!({});
}
