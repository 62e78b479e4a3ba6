//! The due rule over the day boundary (issue 15, part 1): a stop is due on day D when its
//! waste would reach its storage limit before the next chance to collect it after D, and
//! the plan never serves a stop after its deadline.
//!
//! The test clock starts Monday 2026-03-02 08:30 local (00:30 UTC). The test institutions
//! are about 17 minutes' drive from the plant and open 08:00-12:00 and 14:00-17:30; the
//! vehicle's shift starts 07:30, so each day's first possible visit is 08:00 local.

use serde_json::{Value, json};
use yifei_api::clock::ManualClock;
use yifei_api::config::Config;
use yifei_contract::Role;

use crate::both;
use crate::common::{Backend, TestApp, TestDb, t0};
use crate::custody::{County, county, ev, new_container, scan};

both!(
    a_morning_seal_is_due_the_day_before_its_deadline_day,
    overdue_waste_is_listed_first_and_planned_at_once,
    epidemic_mode_keeps_waste_a_day,
    a_hub_stop_lists_what_is_at_the_hub,
);

/// `holidays` below, on both databases, with a configured server.
macro_rules! both_configured {
    ($($name:ident => $configure:expr),+ $(,)?) => {
        $(
            mod $name {
                fn run(backend: crate::common::Backend) {
                    super::run_configured(backend, $configure, super::$name);
                }
                #[test]
                fn sqlite() {
                    run(crate::common::Backend::Sqlite);
                }
                #[test]
                fn postgres() {
                    run(crate::common::Backend::Postgres);
                }
            }
        )+
    };
}

both_configured!(
    a_holiday_with_no_runs_makes_waste_due_before_it => |c: &mut yifei_api::config::Config| {
        // Tuesday 2026-03-03 is a holiday.
        c.holidays = [chrono::NaiveDate::from_ymd_opt(2026, 3, 3).expect("date")]
            .into_iter()
            .collect();
    },
);

fn run_configured(backend: Backend, configure: fn(&mut Config), scenario: fn(&TestApp)) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(db, ManualClock::new(t0()), configure);
    scenario(&app);
}

const MON: &str = "2026-03-02";
const TUE: &str = "2026-03-03";

struct Fleet {
    c: County,
    dispatcher: String,
    vehicle: String,
}

fn fleet(app: &TestApp) -> Fleet {
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
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let (dispatcher, _) = app.login("dispatch1");
    let me = app.get("/api/v1/me", Some(&c.driver));
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "鲁J·D0001", "capacity_kg": 800, "capacity_units": 60, "driver_id": me.body["id"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    Fleet {
        vehicle: r.str("id"),
        c,
        dispatcher,
    }
}

/// Seals a container `minutes` after t0 (negative: before).
fn seal(app: &TestApp, token: &str, minutes: i64) -> String {
    let code = new_container(app, token, "infectious", "bag");
    let r = scan(app, token, &[ev(&code, "seal", minutes, Some(1.5))]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    code
}

fn due(app: &TestApp, token: &str, day: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/pickups/due?date={day}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["stops"].as_array().expect("stops").clone()
}

fn stop_of<'a>(stops: &'a [Value], inst: &str) -> Option<&'a Value> {
    stops.iter().find(|s| s["institution_id"] == inst)
}

fn plan(app: &TestApp, token: &str, day: &str) -> Value {
    let r = app.post("/api/v1/plans", Some(token), &json!({"date": day}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body.clone()
}

/// Planned stops of `inst` across the plan's runs, as (eta, deadline).
fn planned(p: &Value, inst: &str) -> Vec<(String, Option<String>)> {
    p["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|r| r["stops"].as_array().expect("stops").iter())
        .filter(|s| s["institution_id"] == inst)
        .map(|s| {
            (
                s["eta"].as_str().expect("eta").to_owned(),
                s["deadline"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn a_morning_seal_is_due_the_day_before_its_deadline_day(app: &TestApp) {
    let f = fleet(app);
    // Sealed Monday 08:10 local: the 48 h limit ends Wednesday 08:10 (00:10 UTC).
    seal(app, &f.c.clinic_a, -20);
    // Wednesday's first run can be there at 08:00: Tuesday need not come.
    assert!(stop_of(&due(app, &f.dispatcher, TUE), &f.c.inst_a).is_none());
    let wed = due(app, &f.dispatcher, "2026-03-04");
    let a = stop_of(&wed, &f.c.inst_a).expect("due on Wednesday");
    assert_eq!(a["late_by_min"], Value::Null, "{a}");
    assert_eq!(a["earliest_visit"], "2026-03-04T00:00:00Z");
    // The shift now starts at 08:00: Wednesday's first possible visit is after the limit,
    // so the waste is due on Tuesday, not only on Wednesday.
    let r = app.patch(
        &format!("/api/v1/vehicles/{}", f.vehicle),
        Some(&f.dispatcher),
        &json!({"shift_start": "08:00"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let tue = due(app, &f.dispatcher, TUE);
    let a = stop_of(&tue, &f.c.inst_a).expect("due on Tuesday");
    assert_eq!(a["reasons"], json!(["storage_deadline"]), "{a}");
    assert_eq!(a["deadline"], "2026-03-04T00:10:00Z");
    let next = a["next_chance"].as_str().expect("next chance");
    assert!(
        next > "2026-03-04T00:10:00Z" && next < "2026-03-04T00:30:00Z",
        "{a}"
    );
    let explanation = a["explanation"].as_str().expect("explanation");
    assert!(
        explanation
            .starts_with("deadline 08:10 tomorrow (48 h storage limit), next possible visit 08:1"),
        "{explanation}"
    );
    // The plan for Tuesday serves it, before its deadline.
    let p = plan(app, &f.dispatcher, TUE);
    assert_eq!(p["unassigned"], json!([]), "{p}");
    let on_run = planned(&p, &f.c.inst_a);
    assert_eq!(on_run.len(), 1, "{p}");
    let (eta, deadline) = &on_run[0];
    assert_eq!(deadline.as_deref(), Some("2026-03-04T00:10:00Z"));
    assert!(
        eta.as_str() < "2026-03-03T10:00:00Z",
        "served on Tuesday: {eta}"
    );
}

fn overdue_waste_is_listed_first_and_planned_at_once(app: &TestApp) {
    let f = fleet(app);
    // A: sealed Sunday 07:00 local, so its limit ends Tuesday 07:00, before Tuesday's first
    // possible visit (08:00): Monday must collect it.
    seal(app, &f.c.clinic_a, -(25 * 60 + 30));
    // B: sealed Saturday 21:30 local, limit Monday 21:30: due Monday.
    seal(app, &f.c.clinic_b, -(35 * 60));
    let mon = due(app, &f.dispatcher, MON);
    let a = stop_of(&mon, &f.c.inst_a).expect("A due on Monday");
    assert_eq!(a["deadline"], "2026-03-02T23:00:00Z");
    assert!(
        a["explanation"].as_str().is_some_and(|e| e.starts_with(
            "deadline 07:00 tomorrow (48 h storage limit), next possible visit 08:00 tomorrow"
        )),
        "{a}"
    );
    assert_eq!(a["late_by_min"], Value::Null);
    // Nobody came on Monday. On Tuesday both are past their limits before any run can get
    // there: due first, with their lateness.
    let tue = due(app, &f.dispatcher, TUE);
    assert_eq!(tue.len(), 2, "{tue:?}");
    assert_eq!(
        tue[0]["institution_id"],
        f.c.inst_b.as_str(),
        "most overdue first"
    );
    assert_eq!(tue[0]["late_by_min"], 10 * 60 + 30);
    assert_eq!(tue[1]["late_by_min"], 60);
    assert_eq!(tue[1]["reasons"][0], "overdue");
    assert_eq!(
        tue[1]["explanation"],
        "OVERDUE: 48 h storage limit passed 07:00 today; the earliest visit 08:00 today is 1 h late: collect first"
    );
    assert!(
        tue[0]["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("passed 21:30 yesterday")),
        "{}",
        tue[0]
    );
    // Already late, both are planned all the same (tomorrow would only be later), with no
    // limit the solver cannot meet; their stops say so and keep the passed deadline.
    let p = plan(app, &f.dispatcher, TUE);
    for inst in [&f.c.inst_a, &f.c.inst_b] {
        let stops = planned(&p, inst);
        assert_eq!(stops.len(), 1, "overdue waste is collected: {p}");
        assert!(stops[0].1.is_some(), "the passed deadline is shown: {p}");
        let stop = p["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .flat_map(|r| r["stops"].as_array().expect("stops").iter())
            .find(|s| s["institution_id"] == inst.as_str())
            .expect("stop");
        assert_eq!(stop["reasons"][0], "overdue", "{stop}");
        assert!(
            !p["unassigned"]
                .as_array()
                .expect("unassigned")
                .iter()
                .any(|u| u["institution_id"] == inst.as_str()),
            "{p}"
        );
    }
}

fn epidemic_mode_keeps_waste_a_day(app: &TestApp) {
    let f = fleet(app);
    // Sealed Monday 07:00 local.
    seal(app, &f.c.clinic_a, -90);
    assert!(stop_of(&due(app, &f.dispatcher, MON), &f.c.inst_a).is_none());
    let r = app.put_json(
        "/api/v1/settings/epidemic-mode",
        Some(&f.c.admin),
        &json!({"enabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // 24 h: the limit ends Tuesday 07:00, before Tuesday's first possible visit.
    let mon = due(app, &f.dispatcher, MON);
    let a = stop_of(&mon, &f.c.inst_a).expect("due on Monday in epidemic mode");
    assert_eq!(a["deadline"], "2026-03-02T23:00:00Z");
    assert!(
        a["explanation"]
            .as_str()
            .is_some_and(|e| e.starts_with("deadline 07:00 tomorrow (24 h storage limit)")),
        "{a}"
    );
    let p = plan(app, &f.dispatcher, MON);
    let on_run = planned(&p, &f.c.inst_a);
    assert_eq!(on_run.len(), 1, "{p}");
    assert!(on_run[0].0.as_str() <= "2026-03-02T23:00:00Z", "{p}");
}

fn a_holiday_with_no_runs_makes_waste_due_before_it(app: &TestApp) {
    let f = fleet(app);
    // Sealed Sunday 20:00 local: the limit ends Tuesday 20:00. Tuesday is a holiday, so
    // the next chance after Monday is Wednesday 08:00: due on Monday.
    seal(app, &f.c.clinic_a, -(12 * 60 + 30));
    let mon = due(app, &f.dispatcher, MON);
    let a = stop_of(&mon, &f.c.inst_a).expect("due on Monday");
    assert_eq!(a["next_chance"], "2026-03-04T00:00:00Z", "{a}");
    assert!(
        a["explanation"].as_str().is_some_and(|e| e.starts_with(
            "deadline 20:00 tomorrow (48 h storage limit), next possible visit 08:00 Wed 2026-03-04"
        )),
        "{a}"
    );
    // Clinic B, sealed Monday 08:30 (limit Wednesday 08:30), can wait for Wednesday.
    seal(app, &f.c.clinic_b, 0);
    assert!(stop_of(&due(app, &f.dispatcher, MON), &f.c.inst_b).is_none());
}

fn a_hub_stop_lists_what_is_at_the_hub(app: &TestApp) {
    let f = fleet(app);
    // B is the township hub of A.
    let r = app.patch(
        &format!("/api/v1/institutions/{}", f.c.inst_a),
        Some(&f.c.admin),
        &json!({"service_mode": "via_hub", "hub_id": f.c.inst_b}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::institutions;
        diesel::update(institutions::table.find(&f.c.inst_b))
            .set(institutions::kind.eq("township_health_centre"))
            .execute(conn)
            .expect("kind")
    });
    app.user("hub1", Role::HubKeeper, Some(&f.c.inst_b));
    let (hub, _) = app.login("hub1");
    // The village sealed six boxes this morning and brought two of them in.
    let village: Vec<String> = (0..6).map(|_| seal(app, &f.c.clinic_a, -60)).collect();
    let r = scan(
        app,
        &hub,
        &[
            ev(&village[0], "hub_in", -30, None),
            ev(&village[1], "hub_in", -30, None),
        ],
    );
    assert_eq!(
        (&r[0]["status"], &r[1]["status"]),
        (&json!("accepted"), &json!("accepted"))
    );
    // The hub has a box of its own and asks for a pickup.
    let own = seal(app, &f.c.clinic_b, -20);
    let r = app.post(
        "/api/v1/pickup-requests",
        Some(&f.c.clinic_b),
        &json!({"est_weight_kg": 1.5, "containers": 1}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mon = due(app, &f.dispatcher, MON);
    let b = stop_of(&mon, &f.c.inst_b).expect("the hub is due");
    assert_eq!(b["expected_containers"], 3, "{b}");
    plan(app, &f.dispatcher, MON);
    let mine = app.get(&format!("/api/v1/me/runs?date={MON}"), Some(&f.c.driver));
    assert_eq!(mine.status, 200, "{}", mine.text);
    let stop = mine.body["items"][0]["stops"]
        .as_array()
        .expect("stops")
        .iter()
        .find(|s| s["institution_id"] == f.c.inst_b.as_str())
        .expect("hub stop")
        .clone();
    let mut want = vec![own, village[0].clone(), village[1].clone()];
    want.sort();
    assert_eq!(
        stop["containers"],
        json!(want),
        "only what is at the hub: {stop}"
    );
    assert_eq!(stop["expected_containers"], 3, "{stop}");
}
