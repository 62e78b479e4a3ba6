//! Issue 17, part 4: corrections approved by the other parties, kept beside the original
//! values, applied as chained events (the audit still verifies), shown on the manifest.

use serde_json::{Value, json};

use crate::both;
use crate::common::TestApp;
use crate::custody::{ev, scan};
use crate::manifest_paper::{get_bytes, poppler, scratch_dir};
use crate::runs::{fleet, plan, sealed};

both!(corrections_are_approved_by_the_other_party);

fn corrections_are_approved_by_the_other_party(app: &TestApp) {
    // Arrange: a container picked up with a mistyped weight (20 kg for 2), weighed in.
    let f = fleet(app);
    let one = sealed(app, &f.c.clinic_a, 40, 2.0);
    let two = sealed(app, &f.c.clinic_a, 39, 1.0);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    let mut pickup = ev(&one, "collect", -20, Some(20.0));
    pickup["run_id"] = json!(run_id);
    let pickup_id = pickup["event_id"].as_str().expect("id").to_owned();
    let mut other = ev(&two, "collect", -20, Some(1.0));
    other["run_id"] = json!(run_id);
    assert!(
        scan(app, &f.c.driver, &[pickup, other])
            .iter()
            .all(|r| r["status"] == "accepted")
    );
    scan(app, &f.c.plant, &[ev(&one, "receive", -10, Some(2.05))]);
    let c = app.get(&format!("/api/v1/containers/{one}"), Some(&f.c.clinic_a));
    assert_eq!(c.body["flags"], json!(["weight_discrepancy"]));

    // A clinic's container not yet handed over has nobody to approve a correction.
    let fresh = sealed(app, &f.c.clinic_b, 1, 0.5);
    let r = app.post(
        &format!("/api/v1/containers/{fresh}/corrections"),
        Some(&f.c.clinic_b),
        &json!({"field": "category", "category": "pathological", "reason": "错选"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);

    // Act: the driver asks to correct the pickup weight.
    let path = format!("/api/v1/containers/{one}/corrections");
    let body = json!({"field": "weight_kg", "event_id": pickup_id, "weight_kg": 2.1,
                      "reason": "输入错误：多打了一个 0"});
    let r = app.post(&path, Some(&f.c.driver), &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.str("id");
    assert_eq!(r.body["old_value"], "20.000");
    assert_eq!(r.body["new_value"], "2.100");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["awaiting"], json!([f.c.inst_a]));
    // The same request twice is a conflict; bad fields are 422.
    assert_eq!(app.post(&path, Some(&f.c.driver), &body).status, 409);
    let bad = |b: Value, field: &str| {
        app.post(&path, Some(&f.c.driver), &b).invalid_field(field);
    };
    bad(
        json!({"field": "weight_kg", "event_id": pickup_id, "weight_kg": -1.0, "reason": "x"}),
        "weight_kg",
    );
    bad(
        json!({"field": "weight_kg", "weight_kg": 2.0, "reason": "x"}),
        "event_id",
    );
    bad(
        json!({"field": "weight_kg", "event_id": "nope", "weight_kg": 2.0, "reason": "x"}),
        "event_id",
    );
    bad(
        json!({"field": "weight_kg", "event_id": pickup_id, "weight_kg": 2.0, "reason": "  "}),
        "reason",
    );
    bad(
        json!({"field": "category", "category": "sharps", "reason": "x"}),
        "packaging",
    );

    // Denials: nobody approves their own party's request; another tenant cannot see it; a
    // bureau account is no party.
    let approve = |token: &str| {
        app.post(
            &format!("/api/v1/corrections/{id}/approve"),
            Some(token),
            &json!({}),
        )
    };
    assert_eq!(approve(&f.c.driver).status, 403, "own request");
    assert_eq!(approve(&f.dispatcher).status, 403, "own party's request");
    assert_eq!(
        approve(&f.c.clinic_b).status,
        404,
        "another tenant's correction"
    );
    assert_eq!(
        app.get(&path, Some(&f.c.clinic_b)).status,
        404,
        "another tenant's container"
    );

    // The clinic approves: applied as a new chained event.
    let r = app.post(
        &format!("/api/v1/corrections/{id}/approve"),
        Some(&f.c.clinic_a),
        &json!({"note": "同意"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["decisions"][0]["decision"], "approve");
    assert!(r.body["applied_event_id"].is_string());
    assert_eq!(approve(&f.c.clinic_a).status, 409, "decided already");

    let c = app.get(&format!("/api/v1/containers/{one}"), Some(&f.c.clinic_a));
    assert_eq!(c.body["weights"]["collect_kg"], 2.1, "{}", c.text);
    assert_eq!(
        c.body["flags"],
        json!(["corrected"]),
        "the discrepancy is gone"
    );
    let events = c.body["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["event_id"] == json!(pickup_id) && e["weight_kg"] == 20.0),
        "the original scan stays as recorded"
    );
    assert!(events.iter().any(|e| e["action"] == "correct"));
    let audit = app.get(&format!("/api/v1/containers/{one}/audit"), Some(&f.c.admin));
    assert_eq!(audit.body["valid"], true, "{}", audit.text);

    // A second request, refused by the other party: nothing changes.
    let r = app.post(
        &format!("/api/v1/containers/{two}/corrections"),
        Some(&f.c.clinic_a),
        &json!({"field": "category", "category": "pathological", "reason": "其实是病理组织"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let refused_id = r.str("id");
    let r = app.post(
        &format!("/api/v1/corrections/{refused_id}/refuse"),
        Some(&f.c.clinic_a),
        &json!({}),
    );
    assert_eq!(r.status, 403, "own request: {}", r.text);
    let r = app.post(
        &format!("/api/v1/corrections/{refused_id}/refuse"),
        Some(&f.c.plant),
        &json!({"note": "现场查验为感染性废物"}),
    );
    assert_eq!((r.status, r.str("status").as_str()), (200, "refused"));
    let c = app.get(&format!("/api/v1/containers/{two}"), Some(&f.c.clinic_a));
    assert_eq!(c.body["category"], "infectious");

    // The history: both requests with their decisions, per container and per manifest.
    let list = app.get(
        &format!("/api/v1/runs/{run_id}/manifests"),
        Some(&f.dispatcher),
    );
    let number = list.body["items"][0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let h = app.get(
        &format!("/api/v1/manifests/{number}/corrections"),
        Some(&f.c.clinic_a),
    );
    assert_eq!(h.status, 200, "{}", h.text);
    let items = h.body["items"].as_array().expect("items");
    let statuses: Vec<&str> = items.iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(statuses, ["approved", "refused"]);
    assert_eq!(
        app.get(
            &format!("/api/v1/manifests/{number}/corrections"),
            Some(&f.c.clinic_b)
        )
        .status,
        404
    );
    // The manifest uses the corrected value and says so.
    let m = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    let line = m.body["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["code"] == json!(one)))
        .cloned()
        .expect("line");
    assert_eq!(line["collect_kg"], 2.1);
    assert_eq!(line["corrected"], json!(["collect_kg"]));
    let (status, _, pdf) = get_bytes(
        app,
        &format!("/api/v1/manifests/{number}"),
        &f.c.clinic_a,
        Some("application/pdf"),
    );
    assert_eq!(status, 200);
    let file = scratch_dir().join("corrected.pdf");
    std::fs::write(&file, &pdf).expect("write");
    let text = poppler("pdftotext", &["-layout", file.to_str().expect("path"), "-"]);
    assert!(text.contains("2.10*"), "{text}");
    assert!(text.contains("更正"), "{text}");
}
