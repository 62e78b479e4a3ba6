//! Issue #17 parts 1 and 3: the shipper confirms a hand-over (offline by code on the driver's
//! phone, or later from its login), consent to unattended pickups, and the manifest's ordered
//! signatures with their seal; denials across tenants and roles.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use yifei_api::manifests::signatures::{canonical, mac_hex};

use crate::both;
use crate::common::{TestApp, t0};
use crate::custody::{ev, scan};
use crate::runs::{Fleet, fleet, plan, sealed};

both!(
    an_offline_confirmation_verifies_and_forgeries_are_flagged,
    the_clinic_confirms_later_and_consent_decides_the_flag,
    signatures_go_in_order_and_seal_what_they_cover,
);

const CODE: &str = "K7Q2M9X4";

/// Two containers of A (2.6 + 1.2 kg) and one of B (1.0 kg) collected on one planned run.
struct Pickup {
    f: Fleet,
    run_id: String,
    a_codes: Vec<String>,
    number_a: String,
    number_b: String,
}

fn pickup(app: &TestApp) -> Pickup {
    let f = fleet(app);
    let one = sealed(app, &f.c.clinic_a, 40, 2.5);
    let two = sealed(app, &f.c.clinic_a, 39, 1.2);
    let three = sealed(app, &f.c.clinic_b, 30, 1.0);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    for (code, kg) in [(&one, 2.6), (&two, 1.2), (&three, 1.0)] {
        let mut e = ev(code, "collect", -20, Some(kg));
        e["run_id"] = json!(run_id);
        assert_eq!(scan(app, &f.c.driver, &[e])[0]["status"], "accepted");
    }
    let list = app.get(
        &format!("/api/v1/runs/{run_id}/manifests"),
        Some(&f.dispatcher),
    );
    let items = list.body["items"].as_array().expect("items").clone();
    let number_of = |inst: &str| -> String {
        items
            .iter()
            .find(|m| m["shipper"]["id"] == inst)
            .and_then(|m| m["number"].as_str())
            .expect("manifest")
            .to_owned()
    };
    Pickup {
        number_a: number_of(&f.c.inst_a),
        number_b: number_of(&f.c.inst_b),
        a_codes: vec![one, two],
        run_id,
        f,
    }
}

fn set_code(app: &TestApp, token: &str, inst: &str, body: &Value) -> Value {
    let r = app.put_json(
        &format!("/api/v1/institutions/{inst}/handover"),
        Some(token),
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.clone()
}

/// What the app computes on the phone, by the contract's recipe.
fn offline(inst: &str, run: &str, codes: &[String], grams: i64, code: &str) -> Value {
    let at = t0() - Duration::minutes(19);
    let n = i32::try_from(codes.len()).expect("n");
    let mac = mac_hex(code, &canonical(inst, run, codes, n, grams, at));
    json!({"containers": codes, "count": n, "weight_g": grams, "device_at": at.to_rfc3339(), "mac": mac})
}

fn manifest(app: &TestApp, token: &str, number: &str) -> Value {
    let r = app.get(&format!("/api/v1/manifests/{number}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.clone()
}

fn an_offline_confirmation_verifies_and_forgeries_are_flagged(app: &TestApp) {
    let p = pickup(app);
    let (c, f) = (&p.f.c, &p.f);
    // The code is set by the clinic itself, never answered back; others cannot set it.
    let s = set_code(
        app,
        &c.clinic_a,
        &c.inst_a,
        &json!({"code": CODE, "unattended_consent": false}),
    );
    assert_eq!(s["code_set"], true);
    assert!(!s.to_string().contains(CODE), "{s}");
    set_code(
        app,
        &c.clinic_b,
        &c.inst_b,
        &json!({"code": CODE, "unattended_consent": false}),
    );
    let put = |token: &str, inst: &str, body: Value| {
        app.put_json(
            &format!("/api/v1/institutions/{inst}/handover"),
            Some(token),
            &body,
        )
    };
    put(
        &c.clinic_b,
        &c.inst_a,
        json!({"code": "ZZZZ9999", "unattended_consent": true}),
    )
    .problem(404);
    put(
        &c.driver,
        &c.inst_a,
        json!({"code": "ZZZZ9999", "unattended_consent": true}),
    )
    .problem(403);
    put(
        &c.clinic_a,
        &c.inst_a,
        json!({"code": "1234", "unattended_consent": true}),
    )
    .invalid_field("code");
    app.get(
        &format!("/api/v1/institutions/{}/handover", c.inst_a),
        Some(&c.clinic_b),
    )
    .problem(404);
    assert_eq!(
        manifest(app, &c.clinic_a, &p.number_a)["shipper_confirmation"]["status"],
        "unconfirmed"
    );

    // Act: the staff type the code on the driver's phone; the batch syncs.
    let path_a = format!("/api/v1/manifests/{}/confirmations", p.number_a);
    let good = offline(&c.inst_a, &p.run_id, &p.a_codes, 3800, CODE);
    let r = app.post(&path_a, Some(&c.driver), &good);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["verified"].clone(), r.body["flag"].clone()),
        (json!(true), Value::Null)
    );
    // A second sync of the same confirmation is the same record.
    let again = app.post(&path_a, Some(&c.driver), &good);
    assert_eq!((again.status, again.str("id")), (200, r.str("id")));

    // The driver alone guesses a code: stored, flagged, not confirming anything.
    let forged = offline(&c.inst_a, &p.run_id, &p.a_codes, 3800, "GUESS1234");
    let r = app.post(&path_a, Some(&c.driver), &forged);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["verified"].clone(), r.str("flag")),
        (json!(false), "bad_code".into())
    );
    // The right code over the wrong weight verifies as the staff's, but disagrees with the scans.
    let short = offline(&c.inst_a, &p.run_id, &p.a_codes, 3000, CODE);
    let r = app.post(&path_a, Some(&c.driver), &short);
    assert_eq!(r.str("flag"), "weight_mismatch", "{}", r.text);

    // A replay of A's confirmation onto B's pickup (same code) does not verify there.
    let r = app.post(
        &format!("/api/v1/manifests/{}/confirmations", p.number_b),
        Some(&c.driver),
        &good,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.str("flag"), "bad_code");
    let a = manifest(app, &c.clinic_a, &p.number_a);
    assert_eq!(a["shipper_confirmation"]["status"], "confirmed");
    assert_eq!(
        a["shipper_confirmation"]["confirmations"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        manifest(app, &c.clinic_b, &p.number_b)["shipper_confirmation"]["status"],
        "flagged"
    );

    // Denials: only the run's driver sends; nobody else's tenant even sees the manifest.
    app.post(&path_a, Some(&c.clinic_a), &good).problem(403);
    app.post(&path_a, Some(&f.dispatcher), &good).problem(403);
    app.post(&path_a, Some(&c.plant), &good).problem(403);
    let mut bad = good.clone();
    bad["mac"] = json!("ZZ");
    app.post(&path_a, Some(&c.driver), &bad)
        .invalid_field("mac");
    bad = good.clone();
    bad["containers"] = json!([]);
    app.post(&path_a, Some(&c.driver), &bad)
        .invalid_field("containers");
    app.post(
        "/api/v1/manifests/YF00000000-000000000000/confirmations",
        Some(&c.driver),
        &good,
    )
    .problem(404);
}

fn the_clinic_confirms_later_and_consent_decides_the_flag(app: &TestApp) {
    let p = pickup(app);
    let c = &p.f.c;
    set_code(
        app,
        &c.clinic_b,
        &c.inst_b,
        &json!({"unattended_consent": true}),
    );
    assert_eq!(
        manifest(app, &c.clinic_a, &p.number_a)["shipper_confirmation"]["status"],
        "unconfirmed"
    );
    assert_eq!(
        manifest(app, &c.clinic_b, &p.number_b)["shipper_confirmation"]["status"],
        "unattended"
    );

    // Two hours on (past local 10:00): A is alerted, B (consenting) is not.
    app.clock.advance(Duration::hours(2));
    // (Tokens expired meanwhile: sign in again.)
    let clinic_a = app.login("clinic1").0;
    let clinic_b = app.login("clinic2").0;
    let driver = app.login("driver1").0;
    let alerts = |token: &str| -> Vec<(String, String, String)> {
        app.evaluate_alerts();
        let r = app.get("/api/v1/alerts?status=open", Some(token));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|a| a["rule"].as_str().is_some_and(|r| r.contains("handover")))
            .map(|a| {
                (
                    a["rule"].as_str().unwrap_or("").to_owned(),
                    a["subject_id"].as_str().unwrap_or("").to_owned(),
                    a["status"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        alerts(&clinic_a),
        vec![(
            "unconfirmed_handover".into(),
            p.number_a.clone(),
            "open".into()
        )]
    );
    assert_eq!(alerts(&clinic_b), vec![]);

    // Denials before the confirmation: another clinic, the driver.
    let path = format!("/api/v1/manifests/{}/confirm", p.number_a);
    app.post(&path, Some(&clinic_b), &json!({})).problem(404);
    app.post(&path, Some(&driver), &json!({})).problem(403);

    // Act: A's staff confirm from their login.
    let r = app.post(&path, Some(&clinic_a), &json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (
            r.str("method"),
            r.body["count"].clone(),
            r.body["weight_g"].clone()
        ),
        ("login".into(), json!(2), json!(3800))
    );
    assert_eq!(app.post(&path, Some(&clinic_a), &json!({})).status, 200);
    assert_eq!(
        manifest(app, &clinic_a, &p.number_a)["shipper_confirmation"]["status"],
        "confirmed"
    );
    assert_eq!(
        alerts(&clinic_a),
        vec![],
        "the alert resolves once confirmed"
    );
}

fn signatures_go_in_order_and_seal_what_they_cover(app: &TestApp) {
    let p = pickup(app);
    let c = &p.f.c;
    let path = format!("/api/v1/manifests/{}/signatures", p.number_a);
    let at = |min: i64| (t0() + Duration::minutes(min)).to_rfc3339();
    let sign = |token: &str, party: &str, min: i64| {
        app.post(
            &path,
            Some(token),
            &json!({"party": party, "signed_at": at(min)}),
        )
    };
    // Denials: another tenant cannot see it; the wrong role cannot sign as a party.
    sign(&c.clinic_b, "shipper", -5).problem(404);
    sign(&c.plant, "shipper", -5).problem(403);
    sign(&c.driver, "shipper", -5).problem(403);
    sign(&c.clinic_a, "carrier", -5).problem(403);
    // Out of order: the carrier before the shipper.
    sign(&c.driver, "carrier", -5).invalid_field("party");

    let s = sign(&c.clinic_a, "shipper", -5);
    assert_eq!(s.status, 201, "{}", s.text);
    let shipper_name = s.str("name");
    assert_eq!(s.str("role"), "clinic_staff");
    sign(&c.clinic_a, "shipper", -4).problem(409);
    sign(&c.plant, "receiver", -4).invalid_field("party");
    // Dated before the shipper's signature, or in the future: 422.
    let back = sign(&c.driver, "carrier", -6);
    back.invalid_field("signed_at");
    assert!(back.text.contains("before the shipper"), "{}", back.text);
    sign(&c.driver, "carrier", 10).invalid_field("signed_at");
    let carrier = sign(&c.driver, "carrier", -4);
    assert_eq!(carrier.status, 201, "{}", carrier.text);

    // Sealed: a further pickup for A on this run is refused.
    let late = sealed(app, &c.clinic_a, 30, 0.5);
    let mut e = ev(&late, "collect", -3, Some(0.5));
    e["run_id"] = json!(p.run_id);
    let r = scan(app, &c.driver, &[e]);
    assert_eq!(
        (r[0]["status"].clone(), r[0]["reason"].clone()),
        (json!("rejected"), json!("sealed_by_signature"))
    );

    // The receiver signs once everything is weighed in, the disposal once it is disposed of.
    sign(&c.plant, "receiver", -2).problem(409);
    let receipts: Vec<Value> = p
        .a_codes
        .iter()
        .map(|code| ev(code, "receive", -2, Some(1.9)))
        .collect();
    assert!(
        scan(app, &c.plant, &receipts)
            .iter()
            .all(|r| r["status"] == "accepted")
    );
    assert_eq!(sign(&c.plant, "receiver", -1).status, 201);
    let again: Vec<Value> = p
        .a_codes
        .iter()
        .map(|code| ev(code, "receive", -1, Some(1.0)))
        .collect();
    let r = scan(app, &c.plant, &again);
    assert!(
        r.iter().all(|r| r["reason"] == "sealed_by_signature"),
        "{r:?}"
    );
    sign(&c.plant, "disposal", 0).problem(409);
    let disposals: Vec<Value> = p
        .a_codes
        .iter()
        .map(|code| ev(code, "dispose", 0, None))
        .collect();
    assert!(
        scan(app, &c.plant, &disposals)
            .iter()
            .all(|r| r["status"] == "accepted")
    );
    assert_eq!(sign(&c.plant, "disposal", 0).status, 201);
    sign(&c.plant, "disposal", 1).problem(409);

    // Assert: the manifest shows the four in order, also on paper.
    let m = manifest(app, &c.clinic_a, &p.number_a);
    let parties: Vec<&str> = m["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter_map(|s| s["party"].as_str())
        .collect();
    assert_eq!(parties, ["shipper", "carrier", "receiver", "disposal"]);
    let first: DateTime<Utc> = m["signatures"][0]["signed_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("signed_at");
    assert_eq!(first, t0() - Duration::minutes(5));
    assert!(
        m["signatures"][3]["covers"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    let text = pdf_text(app, &c.clinic_a, &p.number_a);
    for want in [
        format!("签名：{shipper_name}"),
        format!("签名：{}", carrier.str("name")),
        "移出单位未确认交接".to_owned(),
        // 00:25 UTC is 08:25 in the deployment's zone.
        "时间：2026-03-02 08:25".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
}

/// The manifest's PDF as text (poppler's pdftotext).
fn pdf_text(app: &TestApp, token: &str, number: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .get(format!("{}/api/v1/manifests/{number}.pdf", app.base))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .expect("GET pdf");
    assert_eq!(res.status().as_u16(), 200);
    let pdf = res
        .body_mut()
        .with_config()
        .limit(10 * 1024 * 1024)
        .read_to_vec()
        .expect("pdf");
    let file = std::env::temp_dir().join(format!("yifei-sign-{}.pdf", uuid::Uuid::now_v7()));
    std::fs::write(&file, &pdf).expect("write");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().expect("path"), "-"])
        .output()
        .expect("pdftotext (Debian's poppler-utils)");
    let _ = std::fs::remove_file(&file);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
