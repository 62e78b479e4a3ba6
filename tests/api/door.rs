//! Issue 17, parts 2, 5 and 6: the driver refuses a container at the door, weights say whether
//! they were weighed or estimated, and the plant records its batch and time of disposal; the
//! manifest (JSON and PDF) shows all three.

use serde_json::{Value, json};

use crate::both;
use crate::common::TestApp;
use crate::custody::{ev, scan};
use crate::manifest_paper::{get_bytes, poppler, scratch_dir};
use crate::runs::{fleet, plan, sealed};

both!(
    a_container_refused_at_the_door_stays_and_is_on_the_manifest,
    estimates_are_compared_as_estimates,
);

fn reasons(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r["reason"].as_str() {
            Some(reason) => format!("{}:{reason}", r["status"].as_str().unwrap_or("?")),
            None => r["status"].as_str().unwrap_or("?").to_owned(),
        })
        .collect()
}

fn outbox(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use yifei_api::notify::outbox;
    app.with_conn(|conn| {
        outbox::table
            .select((outbox::recipient, outbox::subject))
            .load(conn)
            .expect("outbox")
    })
}

fn a_container_refused_at_the_door_stays_and_is_on_the_manifest(app: &TestApp) {
    // Arrange: two containers of A due on a planned run, one of B that is not due (B is no
    // stop of the run).
    let f = fleet(app);
    let one = sealed(app, &f.c.clinic_a, 40, 2.5);
    let two = sealed(app, &f.c.clinic_a, 39, 1.2);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    let of_b = sealed(app, &f.c.clinic_b, 1, 0.8);

    // Act: the driver takes one (weight estimated) and refuses the other as broken.
    let mut pickup = ev(&one, "collect", -20, Some(2.6));
    pickup["run_id"] = json!(run_id);
    pickup["weight_source"] = json!("estimated");
    let mut refusal = ev(&two, "refuse", -19, None);
    refusal["run_id"] = json!(run_id);
    refusal["reason"] = json!("broken");
    let r = scan(app, &f.c.driver, &[pickup.clone(), refusal.clone()]);
    assert_eq!(reasons(&r), ["accepted", "accepted"], "{r:?}");
    assert_eq!(r[1]["state"], "sealed", "it stays with the institution");
    // Replayed offline batch: nothing counted twice.
    let r = scan(app, &f.c.driver, &[pickup, refusal]);
    assert_eq!(reasons(&r), ["duplicate", "duplicate"]);

    // Denials and bad input, each judged on its own.
    let refuse = |code: &str, reason: Option<&str>, run: Option<&str>| {
        let mut e = ev(code, "refuse", -18, None);
        if let Some(x) = reason {
            e["reason"] = json!(x);
        }
        if let Some(x) = run {
            e["run_id"] = json!(x);
        }
        e
    };
    let mut on_collect = ev(&of_b, "collect", -18, Some(0.8));
    on_collect["batch"] = json!("B1");
    let mut weightless = refuse(&two, Some("unlabelled"), Some(&run_id));
    weightless["weight_source"] = json!("estimated");
    let r = scan(
        app,
        &f.c.driver,
        &[
            refuse(&of_b, Some("broken"), Some(&run_id)),
            refuse(&two, Some("broken"), None),
            refuse(&two, Some("leaking"), Some(&run_id)),
            refuse(&two, Some("other:  "), Some(&run_id)),
            refuse(&two, None, Some(&run_id)),
            refuse(
                &two,
                Some("broken"),
                Some("0195a4c2-2222-7000-8000-000000000009"),
            ),
            on_collect,
            weightless,
        ],
    );
    assert_eq!(
        reasons(&r),
        [
            "rejected:not_on_run",
            "rejected:run_required",
            "rejected:unknown_reason",
            "rejected:unknown_reason",
            "rejected:reason_required",
            "rejected:not_your_run",
            "rejected:not_for_action",
            "rejected:weight_source_without_weight",
        ]
    );
    assert_eq!(r[6]["field"], "batch");
    let r = scan(
        app,
        &f.c.clinic_a,
        &[refuse(&two, Some("broken"), Some(&run_id))],
    );
    assert_eq!(reasons(&r), ["rejected:action_not_allowed"]);

    // Assert: the container is still the clinic's, its clock running, flagged.
    let c = app.get(&format!("/api/v1/containers/{two}"), Some(&f.c.clinic_a));
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.body["state"], "sealed");
    assert!(c.body["sealed_at"].is_string());
    assert_eq!(c.body["flags"], json!(["refused_at_pickup"]));
    let audit = app.get(&format!("/api/v1/containers/{two}/audit"), Some(&f.c.admin));
    assert_eq!(audit.body["valid"], true, "{}", audit.text);
    let listed = app.get(
        "/api/v1/containers?flag=refused_at_pickup",
        Some(&f.c.clinic_a),
    );
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));

    // The clinic is told: an alert, mailed through the outbox.
    app.evaluate_alerts();
    let alerts = app.get("/api/v1/alerts?rule=container_refused", Some(&f.c.clinic_a));
    assert_eq!(alerts.status, 200, "{}", alerts.text);
    let items = alerts.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", alerts.text);
    assert_eq!(items[0]["subject_id"], json!(two));
    assert!(
        outbox(app).iter().any(|(to, s)| to == "clinic@example.org"
            && s.contains("container_refused")
            && s.contains(&two)),
        "{:?}",
        outbox(app)
    );

    // The manifest lists it as refused, in words; the estimate is said.
    let list = app.get(
        &format!("/api/v1/runs/{run_id}/manifests"),
        Some(&f.dispatcher),
    );
    let items = list.body["items"].as_array().expect("manifests");
    assert_eq!(items.len(), 1, "{}", list.text);
    let number = items[0]["number"].as_str().expect("number").to_owned();
    let m = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    let line = |code: &str| -> Value {
        m.body["lines"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["code"] == code))
            .cloned()
            .unwrap_or_else(|| panic!("no line {code}: {}", m.text))
    };
    assert_eq!(line(&two)["state"], "refused");
    assert_eq!(line(&two)["refusal"]["reason"], "broken");
    assert_eq!(line(&two)["refusal"]["reason_zh"], "容器破损");
    assert_eq!(line(&one)["weight_sources"]["collect"], "estimated");
    assert_eq!(line(&one)["weight_sources"]["seal"], "weighed");
    assert_eq!(m.body["count_collected"], 1);
    assert_eq!(m.body["status"], "in_transit", "the load is on the truck");

    // The plant weighs in and disposes, with its furnace batch and time.
    let mut burn = ev(&one, "dispose", -5, None);
    burn["batch"] = json!(" 2号炉-0302-03 ");
    burn["disposed_at"] = json!((crate::common::t0() - chrono::Duration::minutes(7)).to_rfc3339());
    let mut early = ev(&one, "dispose", -5, None);
    early["disposed_at"] = json!((crate::common::t0() + chrono::Duration::hours(2)).to_rfc3339());
    let mut long = ev(&one, "dispose", -5, None);
    long["batch"] = json!("x".repeat(65));
    let r = scan(
        app,
        &f.c.plant,
        &[ev(&one, "receive", -10, Some(2.55)), early, long, burn],
    );
    assert_eq!(
        reasons(&r),
        [
            "accepted",
            "rejected:invalid_disposed_at",
            "rejected:invalid_batch",
            "accepted"
        ]
    );
    let m = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    assert_eq!(
        m.body["status"], "closed",
        "disposed and refused: {}",
        m.text
    );
    let d = &m.body["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["code"] == json!(one)))
        .cloned()
        .expect("line")["disposal"];
    assert_eq!(d["batch"], "2号炉-0302-03");
    assert_eq!(d["method_zh"], "焚烧");
    assert_eq!(d["at"], "2026-03-02T00:23:00Z");

    // The paper says it all.
    let (status, _, pdf) = get_bytes(
        app,
        &format!("/api/v1/manifests/{number}"),
        &f.c.clinic_a,
        Some("application/pdf"),
    );
    assert_eq!(status, 200);
    let file = scratch_dir().join("door.pdf");
    std::fs::write(&file, &pdf).expect("write");
    let text = poppler("pdftotext", &["-layout", file.to_str().expect("path"), "-"]);
    for want in [
        "上门拒收",
        "拒收",
        "容器破损",
        "2.60(估)",
        "估计",
        "称重",
        "2号炉-0302-03",
        "批次/炉号",
        "2026-03-02 08:23",
        "已处置（关闭）",
    ] {
        assert!(text.contains(want), "{want:?} not in the PDF:\n{text}");
    }
    assert!(
        !text.contains("broken"),
        "the reason code printed raw:\n{text}"
    );
}

fn estimates_are_compared_as_estimates(app: &TestApp) {
    let f = fleet(app);
    let guessed = sealed(app, &f.c.clinic_a, 40, 2.0);
    let weighed = sealed(app, &f.c.clinic_a, 40, 2.0);
    let mut g = ev(&guessed, "collect", -20, Some(2.4));
    g["weight_source"] = json!("estimated");
    // An old client says nothing: its weight counts as weighed.
    let w = ev(&weighed, "collect", -20, Some(2.4));
    let r = scan(app, &f.c.driver, &[g, w]);
    assert_eq!(reasons(&r), ["accepted", "accepted"]);
    let flags = |code: &str| {
        let c = app.get(&format!("/api/v1/containers/{code}"), Some(&f.c.clinic_a));
        assert_eq!(c.status, 200, "{}", c.text);
        c.body.clone()
    };
    let c = flags(&guessed);
    assert_eq!(c["flags"], json!([]), "20 % off an estimate");
    assert_eq!(c["weights"]["sources"]["collect"], "estimated");
    assert_eq!(c["events"][1]["weight_source"], "estimated");
    let c = flags(&weighed);
    assert_eq!(c["flags"], json!(["weight_discrepancy"]));
    assert_eq!(c["weights"]["sources"]["collect"], "weighed");
    // The plant weighs far off the estimate: a discrepancy that says an estimate is in it.
    let r = scan(app, &f.c.plant, &[ev(&guessed, "receive", -10, Some(3.5))]);
    assert_eq!(reasons(&r), ["accepted"]);
    assert_eq!(
        flags(&guessed)["flags"],
        json!(["weight_discrepancy", "weight_estimated"])
    );
    let audit = app.get(
        &format!("/api/v1/containers/{guessed}/audit"),
        Some(&f.c.admin),
    );
    assert_eq!(audit.body["valid"], true, "{}", audit.text);
    app.evaluate_alerts();
    let a = app.get(
        "/api/v1/alerts?rule=weight_discrepancy",
        Some(&f.dispatcher),
    );
    let items = a.body["items"].as_array().expect("items");
    let mine = items
        .iter()
        .find(|a| a["subject_id"] == json!(guessed))
        .unwrap_or_else(|| panic!("{}", a.text));
    assert!(
        mine["detail"]
            .as_str()
            .is_some_and(|d| d.contains("estimated")),
        "{mine}"
    );
}
