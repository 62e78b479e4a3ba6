//! Planning in phases: scans uploaded while the solver thinks are answered at once, and the
//! plan's short write re-checks what they changed.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use yifei_api::runs::planning::Phase;

use crate::both;
use crate::common::TestApp;
use crate::custody::{ev, scan};
use crate::runs::{fleet, sealed};

both!(
    scans_are_answered_while_the_plan_solves,
    the_company_sees_its_plan_solving,
);

const DAY: &str = "2026-03-02";

/// Holds the solver at its start until the test lets it go (or 20 s pass, so that a server
/// whose scans wait for the solver fails the test instead of hanging it).
fn hold_the_solver(app: &TestApp) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (solving_tx, solving_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let solving_tx = std::sync::Mutex::new(solving_tx);
    let go_rx = std::sync::Mutex::new(go_rx);
    *app.state.plan_progress.write().expect("hook") = Some(std::sync::Arc::new(move |p: Phase| {
        if matches!(p, Phase::Solving { .. }) {
            let _ = solving_tx.lock().expect("tx").send(());
            let _ = go_rx
                .lock()
                .expect("rx")
                .recv_timeout(Duration::from_secs(20));
        }
    }));
    (solving_rx, go_tx)
}

fn scans_are_answered_while_the_plan_solves(app: &TestApp) {
    let f = fleet(app);
    // A is due on the day (sealed 40 h before); B holds nothing yet.
    let code_a = sealed(app, &f.c.clinic_a, 40, 2.5);
    let (solving, go) = hold_the_solver(app);
    let (plan, answered_while_solving) = std::thread::scope(|s| {
        let planner =
            s.spawn(|| app.post("/api/v1/plans", Some(&f.dispatcher), &json!({"date": DAY})));
        solving
            .recv_timeout(Duration::from_secs(60))
            .expect("the plan reaches the solver");
        // While the solver thinks: the driver collects A's waste, and B seals waste that is
        // due on the day. Both batches are answered before the plan is.
        let collected = scan(app, &f.c.driver, &[ev(&code_a, "collect", -30, Some(2.5))]);
        let code_b = crate::custody::new_container(app, &f.c.clinic_b, "infectious", "bag");
        let sealed_b = scan(
            app,
            &f.c.clinic_b,
            &[ev(&code_b, "seal", -30 * 60, Some(1.0))],
        );
        let answered = !planner.is_finished();
        assert_eq!(collected[0]["status"], "accepted", "{collected:?}");
        assert_eq!(sealed_b[0]["status"], "accepted", "{sealed_b:?}");
        go.send(()).expect("release the solver");
        (planner.join().expect("planner"), answered)
    });
    assert!(
        answered_while_solving,
        "the scan batches were answered only after the plan"
    );
    *app.state.plan_progress.write().expect("hook") = None;
    assert_eq!(plan.status, 201, "{}", plan.text);
    let p = &plan.body;
    // A's waste went away meanwhile: the stop is off the plan (and so is the run it was alone
    // on); B became due meanwhile: reported, not silently planned or dropped.
    let on_runs: Vec<&Value> = p["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|r| r["stops"].as_array().expect("stops"))
        .collect();
    assert!(
        on_runs
            .iter()
            .all(|s| s["institution_id"] != f.c.inst_a.as_str()),
        "{p}"
    );
    let unassigned = p["unassigned"].as_array().expect("unassigned");
    assert_eq!(unassigned.len(), 1, "{p}");
    assert_eq!(unassigned[0]["institution_id"], f.c.inst_b.as_str());
    assert!(
        unassigned[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("became due while the plan was solving")),
        "{p}"
    );
    let notes: Vec<&str> = p["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(notes.len(), 2, "{p}");
    assert!(
        notes.iter().any(|n| n.contains("no longer due")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("became due")), "{notes:?}");

    // Planned again with nothing changing meanwhile: B is on a run, and there are no notes.
    let again = app.post("/api/v1/plans", Some(&f.dispatcher), &json!({"date": DAY}));
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["unassigned"], json!([]), "{}", again.text);
    assert_eq!(again.body["notes"], json!([]), "{}", again.text);
    assert_eq!(
        again.body["runs"][0]["stops"][0]["institution_id"],
        f.c.inst_b.as_str()
    );
}

/// `GET /plans/progress` while the solver is held: the dispatcher's company sees its plan in
/// the solving phase, admin sees it with the company named, clinic and driver are refused, and
/// the list is empty (not 404) once the plan is written.
fn the_company_sees_its_plan_solving(app: &TestApp) {
    let f = fleet(app);
    let _ = sealed(app, &f.c.clinic_a, 40, 2.5);
    let idle = app.get("/api/v1/plans/progress", Some(&f.dispatcher));
    assert_eq!(idle.status, 200, "{}", idle.text);
    assert_eq!(idle.body["items"], json!([]));
    let (solving, go) = hold_the_solver(app);
    let (plan, seen, by_admin) = std::thread::scope(|s| {
        let planner =
            s.spawn(|| app.post("/api/v1/plans", Some(&f.dispatcher), &json!({"date": DAY})));
        solving
            .recv_timeout(Duration::from_secs(60))
            .expect("the plan reaches the solver");
        let seen = app.get("/api/v1/plans/progress", Some(&f.dispatcher));
        let by_admin = app.get("/api/v1/plans/progress", Some(&f.c.admin));
        for who in [&f.c.clinic_a, &f.c.driver] {
            let r = app.get("/api/v1/plans/progress", Some(who));
            assert_eq!(r.status, 403, "{}", r.text);
        }
        go.send(()).expect("release the solver");
        (planner.join().expect("planner"), seen, by_admin)
    });
    *app.state.plan_progress.write().expect("hook") = None;
    assert_eq!(plan.status, 201, "{}", plan.text);
    assert_eq!(seen.status, 200, "{}", seen.text);
    let items = seen.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", seen.text);
    assert_eq!(items[0]["phase"], "solving", "{}", seen.text);
    assert_eq!(items[0]["date"], DAY);
    assert_eq!(items[0]["organisation_id"], json!(f.company));
    assert_eq!(by_admin.status, 200, "{}", by_admin.text);
    assert_eq!(
        by_admin.body["items"][0]["organisation_id"],
        json!(f.company)
    );
    let after = app.get("/api/v1/plans/progress", Some(&f.dispatcher));
    assert_eq!(after.body["items"], json!([]), "{}", after.text);
}
