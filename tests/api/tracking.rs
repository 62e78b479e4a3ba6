//! Tracking: a run's GeoJSON track, the fleet's last positions (scoped by role and
//! jurisdiction), and the GPS alert "the vehicle stopped at a clinic without scanning".

use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;
use crate::custody::{ev, scan};
use crate::runs::{fleet, plan, sealed};

both!(
    tracks_and_positions_are_read_within_scope,
    a_vehicle_that_stood_at_a_clinic_without_scanning_raises_one_alert,
);

/// GPS fixes `(minutes from t0, lat, lng)` as the upload body.
fn fixes(points: &[(i64, f64, f64)]) -> Value {
    let at = |m: i64| (crate::common::t0() + chrono::Duration::minutes(m)).to_rfc3339();
    json!({"positions": points
        .iter()
        .map(|(m, lat, lng)| json!({"lat": lat, "lng": lng, "at": at(*m)}))
        .collect::<Vec<_>>()})
}

/// A planned run with both county clinics on it, driven by `c.driver`.
fn planned(app: &TestApp) -> (crate::runs::Fleet, String, [String; 2]) {
    let f = fleet(app);
    let a = sealed(app, &f.c.clinic_a, 40, 2.5);
    let b = sealed(app, &f.c.clinic_b, 30, 1.0);
    let p = plan(app, &f.dispatcher);
    let run = p["runs"][0]["id"].as_str().expect("run").to_owned();
    (f, run, [a, b])
}

trait Status {
    fn expect_status(&self, status: u16);
}

impl Status for crate::common::Res {
    fn expect_status(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.text);
    }
}

fn tracks_and_positions_are_read_within_scope(app: &TestApp) {
    let (f, run, _) = planned(app);
    // Arrange: fixes uploaded out of order (a late batch).
    let r = app.post(
        &format!("/api/v1/runs/{run}/positions"),
        Some(&f.c.driver),
        &fixes(&[
            (-10, 36.28, 117.38),
            (-30, 36.30, 117.40),
            (-20, 36.29, 117.39),
        ]),
    );
    assert_eq!(r.body["accepted"], 3, "{}", r.text);

    // The driver reads the track: a LineString in time order, the plant and the stops.
    let t = app.get(&format!("/api/v1/runs/{run}/track"), Some(&f.c.driver));
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.header("content-type").as_deref(),
        Some("application/geo+json")
    );
    assert_eq!(t.body["type"], "FeatureCollection");
    let feats = t.body["features"].as_array().expect("features");
    let line = &feats[0];
    assert_eq!(line["geometry"]["type"], "LineString");
    assert_eq!(
        line["geometry"]["coordinates"],
        json!([[117.40, 36.30], [117.39, 36.29], [117.38, 36.28]]),
        "[lng, lat], in time order"
    );
    let times = line["properties"]["times"].as_array().expect("times");
    assert!(times.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    let kinds: Vec<&str> = feats
        .iter()
        .filter_map(|f| f["properties"]["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["track", "plant", "stop", "stop"]);
    assert_eq!(
        feats[1]["geometry"],
        json!({"type": "Point", "coordinates": [117.4, 36.3]})
    );

    // Who else reads it: the dispatcher and the bureau of 石门镇; not another driver, not a
    // bureau of another township (404), never a clinic (403).
    app.get(&format!("/api/v1/runs/{run}/track"), Some(&f.dispatcher))
        .expect_status(200);
    let shimen = app.org("health_bureau", "石门片", &["石门镇"]);
    let beishan = app.org("health_bureau", "北山片", &["北山乡"]);
    app.user("shimen1", Role::BureauStaff, Some(&shimen));
    app.user("beishan1", Role::BureauStaff, Some(&beishan));
    app.user("driver2", Role::Driver, Some(&f.company));
    let (shimen, _) = app.login("shimen1");
    let (beishan, _) = app.login("beishan1");
    let (driver2, _) = app.login("driver2");
    app.get(&format!("/api/v1/runs/{run}/track"), Some(&shimen))
        .expect_status(200);
    app.get(&format!("/api/v1/runs/{run}/track"), Some(&beishan))
        .problem(404);
    app.get(&format!("/api/v1/runs/{run}/track"), Some(&driver2))
        .problem(404);
    app.get(&format!("/api/v1/runs/{run}/track"), Some(&f.c.clinic_a))
        .problem(403);
    app.get("/api/v1/runs/nope/track", Some(&f.dispatcher))
        .problem(404);

    // Last positions: the latest fix of each vehicle, within the caller's scope.
    let p = app.get("/api/v1/vehicles/positions", Some(&f.dispatcher));
    assert_eq!(p.status, 200, "{}", p.text);
    let items = p.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", p.text);
    assert_eq!(items[0]["plate"], "鲁J·A1234");
    assert_eq!(items[0]["run_id"], run.as_str());
    assert_eq!(items[0]["location"], json!({"lat": 36.28, "lng": 117.38}));
    let count = |token: &str| {
        let r = app.get("/api/v1/vehicles/positions", Some(token));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["items"].as_array().map(Vec::len)
    };
    assert_eq!(count(&f.c.driver), Some(1), "the driver's own run");
    assert_eq!(count(&driver2), Some(0), "not another driver's");
    assert_eq!(count(&shimen), Some(1), "the bureau of the run's township");
    assert_eq!(count(&beishan), Some(0), "not a bureau of another township");
    assert_eq!(count(&f.c.admin), Some(1));
    app.get("/api/v1/vehicles/positions", Some(&f.c.clinic_a))
        .problem(403);
    app.get("/api/v1/vehicles/positions", Some(&f.c.plant))
        .problem(403);
    app.get("/api/v1/vehicles/positions", None).problem(401);
}

fn gps_alerts(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/alerts?rule=stop_visited_unscanned", Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().expect("items").clone()
}

fn a_vehicle_that_stood_at_a_clinic_without_scanning_raises_one_alert(app: &TestApp) {
    let (f, run, codes) = planned(app);
    // Arrange: out of the plant, 12 minutes in the clinics' yard (36.25, 117.35), no scan.
    let r = app.post(
        &format!("/api/v1/runs/{run}/positions"),
        Some(&f.c.driver),
        &fixes(&[
            (-28, 36.30, 117.40),
            (-20, 36.2501, 117.3501),
            (-14, 36.2502, 117.3499),
            (-8, 36.2500, 117.3500),
        ]),
    );
    assert_eq!(r.body["accepted"], 4, "{}", r.text);

    // Act: evaluate twice (idempotent).
    app.evaluate_alerts();
    app.evaluate_alerts();

    // Assert: one open alert, naming the run, the vehicle and the institution.
    let open = gps_alerts(app, &f.dispatcher);
    assert_eq!(open.len(), 1, "{open:?}");
    let a = &open[0];
    assert_eq!(a["status"], "open");
    assert_eq!(
        (a["subject_type"].as_str(), a["subject_id"].as_str()),
        (Some("run"), Some(run.as_str()))
    );
    assert_eq!(a["org_id"], f.company.as_str());
    assert_eq!(a["township"], "石门镇");
    let detail = a["detail"].as_str().expect("detail");
    assert!(
        detail.contains("鲁J·A1234") && detail.contains(&run) && detail.contains("测试村卫生室"),
        "{detail}"
    );
    let inst = a["institution_id"]
        .as_str()
        .expect("institution")
        .to_owned();
    let bureau = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&bureau));
    let (bureau, _) = app.login("bureau1");
    assert_eq!(
        gps_alerts(app, &bureau).len(),
        1,
        "the county bureau sees it"
    );

    // The collect scan arrives late: the stop is completed and the alert resolves itself.
    let c = if inst == f.c.inst_a {
        &codes[0]
    } else {
        &codes[1]
    };
    let mut pickup = ev(c, "collect", -12, Some(2.0));
    pickup["run_id"] = json!(run);
    pickup["location"] = json!({"lat": 36.25, "lng": 117.35});
    assert_eq!(scan(app, &f.c.driver, &[pickup])[0]["status"], "accepted");
    app.evaluate_alerts();
    let after = gps_alerts(app, &f.dispatcher);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["status"], "resolved", "{after:?}");
}
