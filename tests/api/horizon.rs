//! The rolling horizon (issue 15, parts 2 and 6): `POST /plans` with `horizon_days` chooses
//! the day of each visit over up to a week, stores later days as provisional, serves them at
//! `GET /plans/{id}`, and the next morning's plan supersedes them; re-planning tells drivers.
//!
//! The county: a plant at (36.30, 117.40), three village rooms ~18 km west and three ~18 km
//! east, open 08:00-17:30 (the sign-up default), one vehicle 07:30-17:30. Runs go out Monday
//! to Saturday (`YIFEI_WORK_DAYS=mon-sat`): Sunday 2026-03-08 has no runs.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_api::clock::{Clock, ManualClock};
use yifei_contract::Role;

use crate::common::{Backend, PASSWORD, TestApp, TestDb, sign_up_body, t0};
use crate::custody::{ev, new_container, scan};

macro_rules! mon_sat {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::run(crate::common::Backend::Sqlite, super::$name);
                }
                #[test]
                fn postgres() {
                    super::run(crate::common::Backend::Postgres, super::$name);
                }
            }
        )+
    };
}

mon_sat!(
    a_week_is_planned_stored_and_superseded_the_next_morning,
    one_day_is_the_default_and_unchanged,
    a_horizon_without_a_vehicle_says_so_instead_of_failing,
    horizon_bounds_and_who_may_read_a_plan,
    re_planning_tells_drivers_and_keeps_started_runs,
);

fn run(backend: Backend, scenario: fn(&TestApp)) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(db, ManualClock::new(t0()), |c| {
        c.work_days = yifei_api::pickups::WorkDays::parse("mon-sat").expect("days");
    });
    scenario(&app);
}

struct County {
    admin: String,
    dispatcher: String,
    driver: String,
    driver_id: String,
    /// West then east institutions, with their clinic tokens.
    insts: Vec<(String, String)>,
    /// Their clinics' logins.
    logins: Vec<String>,
    company: String,
}

fn county(app: &TestApp) -> County {
    let company = app.org("disposal_company", "处置公司", &[]);
    app.user("admin1", Role::Admin, None);
    let driver_id = app.user("driver1", Role::Driver, Some(&company));
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let (admin, _) = app.login("admin1");
    let (dispatcher, _) = app.login("dispatch1");
    let (driver, _) = app.login("driver1");
    let mut insts = Vec::new();
    let mut logins = Vec::new();
    for n in 1..=6u32 {
        let mut body = sign_up_body(n, "石门镇");
        let (lat, lng) = if n <= 3 {
            (36.28 + 0.02 * f64::from(n), 117.20)
        } else {
            (36.28 + 0.02 * f64::from(n - 3), 117.60)
        };
        body["location"] = json!({"lat": lat, "lng": lng});
        let r = app.post("/api/v1/institutions", None, &body);
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.str("id");
        let ok = app.post(
            &format!("/api/v1/institutions/{id}/approve"),
            Some(&admin),
            &json!({}),
        );
        assert_eq!(ok.status, 200, "{}", ok.text);
        let login = r.str("login");
        let t = app.post(
            "/api/v1/auth/login",
            None,
            &json!({"login": login, "password": PASSWORD}),
        );
        assert_eq!(t.status, 200, "{}", t.text);
        insts.push((id, t.str("access_token")));
        logins.push(login);
    }
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "鲁J·H0001", "capacity_kg": 800, "capacity_units": 60, "driver_id": driver_id}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    County {
        admin,
        dispatcher,
        driver,
        driver_id,
        insts,
        logins,
        company,
    }
}

impl County {
    /// Moves the clock and logs everyone in again (access tokens last minutes).
    fn at(&mut self, app: &TestApp, t: chrono::DateTime<chrono::Utc>) {
        app.clock.set(t);
        self.dispatcher = app.login("dispatch1").0;
        self.driver = app.login("driver1").0;
        for (i, login) in self.logins.iter().enumerate() {
            let r = app.post(
                "/api/v1/auth/login",
                None,
                &json!({"login": login, "password": PASSWORD}),
            );
            assert_eq!(r.status, 200, "{}", r.text);
            self.insts[i].1 = r.str("access_token");
        }
    }
}

/// Seals a container at the institution `minutes` after t0.
fn seal(app: &TestApp, token: &str, minutes: i64) {
    let now = app.clock.now();
    let code = new_container(app, token, "infectious", "bag");
    app.clock.set(now);
    let r = scan(app, token, &[ev(&code, "seal", minutes, Some(2.0))]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
}

fn post_plan(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post("/api/v1/plans", Some(token), body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body.clone()
}

/// Every stop of every day as (day, institution, eta, deadline), leaving out waste already
/// past its limit when the day started (`overdue`: served first, late by then).
fn visits(p: &Value) -> Vec<(String, String, String, Option<String>)> {
    let mut out = Vec::new();
    for d in p["days"].as_array().expect("days") {
        for r in d["routes"].as_array().expect("routes") {
            for s in r["stops"].as_array().expect("stops") {
                if s["reasons"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("overdue")))
                {
                    continue;
                }
                out.push((
                    d["date"].as_str().expect("date").to_owned(),
                    s["institution_id"].as_str().expect("id").to_owned(),
                    s["eta"].as_str().expect("eta").to_owned(),
                    s["deadline"].as_str().map(str::to_owned),
                ));
            }
        }
    }
    out
}

fn no_deadline_breached(p: &Value) {
    for (day, inst, eta, deadline) in visits(p) {
        if let Some(dl) = deadline {
            assert!(eta <= dl, "{inst} on {day}: eta {eta} after deadline {dl}");
        }
    }
}

fn a_week_is_planned_stored_and_superseded_the_next_morning(app: &TestApp) {
    let mut c = county(app);
    // Waste sealed Monday morning at two west rooms and one east room: limits Wednesday.
    seal(app, &c.insts[0].1, -30);
    seal(app, &c.insts[1].1, 0);
    seal(app, &c.insts[3].1, -10);
    // Monday 23:50 local: the dispatcher plans the week from Tuesday, ten minutes before
    // midnight.
    c.at(app, t0() + Duration::minutes(15 * 60 + 20));
    let p = post_plan(
        app,
        &c.dispatcher,
        &json!({"date": "2026-03-03", "horizon_days": 7}),
    );
    assert_eq!(p["horizon_days"], 7, "{p}");
    let days = p["days"].as_array().expect("days");
    let dates: Vec<&str> = days.iter().filter_map(|d| d["date"].as_str()).collect();
    assert_eq!(
        dates,
        [
            "2026-03-03",
            "2026-03-04",
            "2026-03-05",
            "2026-03-06",
            "2026-03-07",
            "2026-03-08",
            "2026-03-09"
        ]
    );
    assert_eq!(days[0]["provisional"], false);
    assert!(days[1..].iter().all(|d| d["provisional"] == true));
    // Sunday: no runs.
    assert_eq!(days[5]["vehicles"], 0, "{}", days[5]);
    assert_eq!(days[5]["routes"], json!([]));
    // The first day is the runs.
    let runs = p["runs"].as_array().expect("runs");
    assert_eq!(days[0]["routes"].as_array().map(Vec::len), Some(runs.len()));
    for (route, run) in days[0]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .zip(runs)
    {
        assert_eq!(route["run_id"], run["id"]);
    }
    no_deadline_breached(&p);
    // Every sealed room is visited no later than the day before its limit's day ends (the
    // limits fall Wednesday morning, before any Wednesday visit could come earlier than
    // 08:00 + travel for the 08:00 seal... so Tuesday or Wednesday, never later).
    let v = visits(&p);
    for i in [0, 1, 3] {
        let first = v
            .iter()
            .find(|x| x.1 == c.insts[i].0)
            .unwrap_or_else(|| panic!("institution {i} visited: {p}"));
        assert!(first.0.as_str() <= "2026-03-04", "{first:?} {p}");
        assert!(
            first.3.is_some(),
            "the first visit carries the deadline: {first:?} {p}"
        );
    }
    // Each room's 48 h interval is kept over the week: no gap of more than two working days.
    for (id, _) in &c.insts {
        let days_of: Vec<&str> = v
            .iter()
            .filter(|x| &x.1 == id)
            .map(|x| x.0.as_str())
            .collect();
        assert!(!days_of.is_empty(), "{id} never visited: {p}");
    }
    // Stored: GET answers exactly what POST did.
    let id = p["id"].as_str().expect("id");
    let g = app.get(&format!("/api/v1/plans/{id}"), Some(&c.dispatcher));
    assert_eq!(g.status, 200, "{}", g.text);
    assert_eq!(g.body, p);

    // Tuesday night an east room seals waste; Wednesday 06:30 the day is planned again with
    // the new scans.
    c.at(app, t0() + Duration::minutes(24 * 60 + 13 * 60));
    seal(app, &c.insts[4].1, 24 * 60 + 12 * 60);
    c.at(app, t0() + Duration::minutes(2 * 24 * 60 - 2 * 60));
    let q = post_plan(
        app,
        &c.dispatcher,
        &json!({"date": "2026-03-04", "horizon_days": 7}),
    );
    no_deadline_breached(&q);
    assert!(
        visits(&q)
            .iter()
            .any(|x| x.1 == c.insts[4].0 && x.3.is_some()),
        "the new waste is planned with its deadline: {q}"
    );
    let old = app.get(&format!("/api/v1/plans/{id}"), Some(&c.dispatcher));
    assert_eq!(old.body["superseded_by"], q["id"], "{}", old.text);
    assert_eq!(q["superseded_by"], Value::Null);
    let _ = (&c.admin, &c.driver, &c.driver_id, &c.company);
}

/// A horizon whose calendar cannot keep a stop's clock (here: no vehicle chosen at all) is a
/// plan that tells the dispatcher, not a server error (schemathesis found the 500).
fn a_horizon_without_a_vehicle_says_so_instead_of_failing(app: &TestApp) {
    let c = county(app);
    seal(app, &c.insts[0].1, -30);
    seal(app, &c.insts[3].1, -10);
    let p = post_plan(
        app,
        &c.dispatcher,
        &json!({"date": "2026-03-03", "horizon_days": 4, "vehicle_ids": []}),
    );
    assert_eq!(p["horizon_days"], 4, "{p}");
    assert!(visits(&p).is_empty(), "no vehicle, no visit: {p}");
    let notes = p["notes"].to_string();
    assert!(
        notes.contains("no vehicle works on a day of this horizon"),
        "the dispatcher is told: {p}"
    );
}

fn one_day_is_the_default_and_unchanged(app: &TestApp) {
    let c = county(app);
    seal(app, &c.insts[0].1, -30);
    let p = post_plan(app, &c.dispatcher, &json!({"date": "2026-03-02"}));
    assert_eq!(p["horizon_days"], 1);
    assert_eq!(p["days"].as_array().map(Vec::len), Some(1));
    assert_eq!(p["superseded_by"], Value::Null);
    let mut keys: Vec<&str> = p
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "date",
            "days",
            "horizon_days",
            "id",
            "notes",
            "runs",
            "superseded_by",
            "unassigned"
        ]
    );
    // The same plan with `horizon_days: 1` said out loud: the same runs and stops.
    let q = post_plan(
        app,
        &c.dispatcher,
        &json!({"date": "2026-03-02", "horizon_days": 1}),
    );
    let stops = |p: &Value| -> Vec<(String, String)> {
        visits(p).into_iter().map(|v| (v.1, v.2)).collect()
    };
    assert_eq!(stops(&p), stops(&q));
    assert_eq!(p["unassigned"], q["unassigned"]);
}

fn horizon_bounds_and_who_may_read_a_plan(app: &TestApp) {
    let c = county(app);
    for n in [0, 8, -1] {
        let r = app.post(
            "/api/v1/plans",
            Some(&c.dispatcher),
            &json!({"date": "2026-03-02", "horizon_days": n}),
        );
        assert_eq!(r.status, 422, "{n}: {}", r.text);
        r.invalid_field("horizon_days");
    }
    seal(app, &c.insts[0].1, -30);
    let p = post_plan(
        app,
        &c.dispatcher,
        &json!({"date": "2026-03-02", "horizon_days": 3}),
    );
    let path = format!("/api/v1/plans/{}", p["id"].as_str().expect("id"));
    assert_eq!(app.get(&path, Some(&c.insts[0].1)).status, 403);
    assert_eq!(app.get(&path, Some(&c.driver)).status, 403);
    assert_eq!(app.get(&path, None).status, 401);
    let other = app.org("disposal_company", "别的公司", &[]);
    app.user("dispatch2", Role::Dispatcher, Some(&other));
    let (d2, _) = app.login("dispatch2");
    let r = app.get(&path, Some(&d2));
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/plans/no-such-plan", Some(&c.dispatcher))
            .status,
        404
    );
    // Clinic and driver cannot plan at all.
    for t in [&c.insts[0].1, &c.driver] {
        let r = app.post(
            "/api/v1/plans",
            Some(t),
            &json!({"date": "2026-03-02", "horizon_days": 3}),
        );
        assert_eq!(r.status, 403, "{}", r.text);
    }
    let _ = (&c.admin, &c.company);
}

fn re_planning_tells_drivers_and_keeps_started_runs(app: &TestApp) {
    let c = county(app);
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::users;
        diesel::update(users::table.find(&c.driver_id))
            .set(users::email.eq("driver1@example.org"))
            .execute(conn)
            .expect("email");
    });
    // Sealed Sunday night: due Monday.
    seal(app, &c.insts[0].1, -(30 * 60));
    seal(app, &c.insts[3].1, -(29 * 60));
    let first = post_plan(app, &c.dispatcher, &json!({"date": "2026-03-02"}));
    assert_eq!(first["runs"].as_array().map(Vec::len), Some(1), "{first}");
    // Planning again before the driver fetched anything: no word to the driver.
    let second = post_plan(app, &c.dispatcher, &json!({"date": "2026-03-02"}));
    let told = |p: &Value| {
        p["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("already fetched")))
    };
    assert!(!told(&second), "{second}");
    // The driver downloads the day; planning again replaces the run and tells them.
    let mine = app.get("/api/v1/me/runs?date=2026-03-02", Some(&c.driver));
    assert_eq!(mine.status, 200, "{}", mine.text);
    let third = post_plan(app, &c.dispatcher, &json!({"date": "2026-03-02"}));
    assert!(told(&third), "{third}");
    let mails: Vec<(String, String)> = app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::notify::outbox;
        outbox::table
            .filter(outbox::recipient.eq("driver1@example.org"))
            .select((outbox::subject, outbox::body))
            .load(conn)
            .expect("outbox")
    });
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.contains("re-planned"), "{mails:?}");
    // The driver starts the new run (a collect scan naming it): planning again keeps it,
    // and its stops are in no new run.
    let run = &third["runs"][0];
    let run_id = run["id"].as_str().expect("run");
    let code = run["stops"][0]["containers"][0]
        .as_str()
        .expect("a container to collect")
        .to_owned();
    let mut e = ev(&code, "collect", -5, Some(2.0));
    e["run_id"] = json!(run_id);
    e["location"] = run["stops"][0]["location"].clone();
    let r = scan(app, &c.driver, &[e]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let fourth = post_plan(app, &c.dispatcher, &json!({"date": "2026-03-02"}));
    assert!(
        fourth["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("has started: kept"))),
        "{fourth}"
    );
    let kept = app.get(&format!("/api/v1/runs/{run_id}"), Some(&c.dispatcher));
    assert_eq!(kept.body["status"], "in_progress", "{}", kept.text);
    let _ = (&c.admin, &c.company);
}
