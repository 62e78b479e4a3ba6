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

both!(
    roster_import_is_idempotent_reports_errors_and_makes_the_entry_rate_honest,
    roster_is_for_bureau_staff_of_the_jurisdiction_only,
    an_invitation_code_signs_up_and_links_the_roster_entry,
);

const ROSTER_CSV: &str = "\u{feff}licence_no,name,kind,township,village,address,lat,lng,beds,self_disposal_basis\n\
PDY-T-0001,测试村卫生室 1,village_health_room,石门镇,测试村,测试村1号,36.25,117.35,0,\n\
PDY-R-0100,从未注册的卫生室,村卫生室,石门镇,西村,西村3号,36.26,117.36,,\n\
PDY-R-0101,偏远村卫生室,village_health_room,石门镇,深山村,,,,0,县卫健局批复〔2026〕7号\n\
PDY-R-0102,坏行,hospital,石门镇,,,95,117,-3,\n\
PDY-R-0103,别的乡,clinic,北山乡,,,,,0,\n";

fn import_csv(app: &TestApp, token: &str, csv: &str) -> crate::common::Res {
    app.post_raw(
        "/api/v1/roster/import",
        Some(token),
        "text/csv",
        csv.as_bytes().to_vec(),
    )
}

fn roster_import_is_idempotent_reports_errors_and_makes_the_entry_rate_honest(app: &TestApp) {
    let c = county(app);
    let north = app.org("health_bureau", "石门镇卫生院片区", &["石门镇"]);
    app.user("shimen1", Role::BureauStaff, Some(&north));
    let b = app.login("shimen1").0;
    app.clock.advance(Duration::hours(6));
    let b = {
        let _ = b;
        app.login("shimen1").0
    };
    // Institution A is served within the day; B is signed up but never collected.
    let clinic = app.login("clinic1").0;
    let driver = app.login("driver1").0;
    let code = new_container(app, &clinic, "infectious", "bag");
    accepted(scan(app, &clinic, &[ev(&code, "seal", 60, Some(1.0))]));
    accepted(scan(app, &driver, &[ev(&code, "collect", 120, Some(1.0))]));
    let before = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    assert_eq!(
        before.body["total"]["entry_rate_institutions"], 0.5,
        "{}",
        before.text
    );

    let r = import_csv(app, &b, ROSTER_CSV);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["rows"], 5);
    assert_eq!(
        r.body["added"],
        json!(["PDY-T-0001", "PDY-R-0100", "PDY-R-0101"])
    );
    assert_eq!(
        r.body["matched"],
        json!(["PDY-T-0001"]),
        "matched by licence number"
    );
    let errors: Vec<(u64, &str)> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap_or(0),
                e["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [(5, "kind"), (5, "lat"), (5, "beds"), (6, "township")],
        "{}",
        r.text
    );
    // Again: nothing added or changed.
    let again = import_csv(app, &b, ROSTER_CSV);
    assert_eq!(
        (
            again.body["added"].as_array().map(Vec::len),
            again.body["changed"].as_array().map(Vec::len),
            again.body["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{}",
        again.text
    );
    // A change, through the JSON form: named field by field.
    let r = app.post(
        "/api/v1/roster/import",
        Some(&b),
        &json!({"entries": [{"licence_no": "pdy-r-0100", "name": "从未注册的卫生室", "kind": "village_health_room",
            "township": "石门镇", "village": "西村", "address": "西村3号", "location": {"lat": 36.26, "lng": 117.36}, "beds": 2}]}),
    );
    assert_eq!(
        r.body["changed"],
        json!([{"licence_no": "PDY-R-0100", "fields": ["beds"]}]),
        "{}",
        r.text
    );

    // The 纳入率 now divides by the roster too: A of (A, B, never signed up); self-disposal
    // on its own line.
    let after = app.get(
        "/api/v1/reports/coverage?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    let t = &after.body["total"];
    assert_eq!(
        (
            t["registered"].as_i64(),
            t["not_signed_up"].as_i64(),
            t["self_disposal"].as_i64(),
            t["institutions_expected"].as_i64()
        ),
        (Some(2), Some(1), Some(1), Some(3)),
        "{t}"
    );
    assert_eq!(t["entry_rate_institutions"], 0.3333);
    let csv = app.get(
        "/api/v1/reports/coverage.csv?from=2026-03-02&to=2026-03-02",
        Some(&b),
    );
    assert!(
        csv.text.contains("total,total,2,1,1,3,1,0.3333,"),
        "{}",
        csv.text
    );

    // Listed per township as not in centralised disposal.
    let gaps = app.get(
        "/api/v1/roster?township=%E7%9F%B3%E9%97%A8%E9%95%87&status=not_in_centralised_disposal",
        Some(&b),
    );
    assert_eq!(gaps.status, 200, "{}", gaps.text);
    let names: Vec<&str> = gaps.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["licence_no"].as_str())
        .collect();
    assert_eq!(names, ["PDY-R-0100"]);
    let t = app.get("/api/v1/roster/townships", Some(&b));
    assert_eq!(
        t.body,
        json!([{"township": "石门镇", "on_roster": 3, "signed_up": 1, "pending": 0,
            "not_signed_up": 1, "self_disposal": 1, "not_in_centralised_disposal": 1}]),
        "{}",
        t.text
    );
    let one = app.get("/api/v1/roster?limit=1", Some(&b));
    assert_eq!(one.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = one.str("next_cursor");
    let next = app.get(&format!("/api/v1/roster?limit=5&cursor={cursor}"), Some(&b));
    assert_eq!(
        next.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        next.text
    );
    let _ = c;
}

fn roster_is_for_bureau_staff_of_the_jurisdiction_only(app: &TestApp) {
    let c = county(app);
    let shimen = app.org("health_bureau", "石门片", &["石门镇"]);
    let beishan = app.org("health_bureau", "北山片", &["北山乡"]);
    let eco = app.org("eco_environment_bureau", "生态环境分局", &[]);
    let company = app.org("disposal_company", "另一公司", &[]);
    app.user("shimen1", Role::BureauStaff, Some(&shimen));
    app.user("beishan1", Role::BureauStaff, Some(&beishan));
    app.user("eco1", Role::BureauStaff, Some(&eco));
    app.user("dispatch9", Role::Dispatcher, Some(&company));
    let (s, n, e, d) = (
        app.login("shimen1").0,
        app.login("beishan1").0,
        app.login("eco1").0,
        app.login("dispatch9").0,
    );
    let csv = "licence_no,name,kind,township\nPDY-R-0200,甲,clinic,石门镇\n";
    for who in [&c.clinic_a, &d] {
        import_csv(app, who, csv).problem(403);
        app.get("/api/v1/roster", Some(who)).problem(403);
        app.get("/api/v1/roster/townships", Some(who)).problem(403);
    }
    import_csv(app, &e, csv).problem(403);
    assert_eq!(
        app.get("/api/v1/roster", Some(&e)).status,
        200,
        "the eco bureau reads"
    );
    app.get("/api/v1/roster", None).problem(401);
    // Another jurisdiction's bureau: its rows for 石门镇 are refused row by row...
    let r = import_csv(app, &n, csv);
    assert_eq!(r.body["errors"][0]["field"], "township", "{}", r.text);
    assert_eq!(r.body["added"], json!([]));
    let r = import_csv(app, &s, csv);
    assert_eq!(r.body["added"], json!(["PDY-R-0200"]), "{}", r.text);
    // ...it cannot see, filter or invite 石门镇's entries.
    assert_eq!(app.get("/api/v1/roster", Some(&n)).body["items"], json!([]));
    app.get(
        "/api/v1/roster?township=%E7%9F%B3%E9%97%A8%E9%95%87",
        Some(&n),
    )
    .problem(403);
    let id = app.get("/api/v1/roster", Some(&s)).body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.post(&format!("/api/v1/roster/{id}/invite"), Some(&n), &json!({}))
        .problem(404);
    app.post(&format!("/api/v1/roster/{id}/invite"), Some(&e), &json!({}))
        .problem(403);
    app.post(&format!("/api/v1/roster/{id}/invite"), Some(&d), &json!({}))
        .problem(403);
    // Nor move one of them into its own township.
    let moved = import_csv(
        app,
        &n,
        "licence_no,name,kind,township\nPDY-R-0200,甲,clinic,北山乡\n",
    );
    assert_eq!(
        moved.body["errors"][0]["field"], "licence_no",
        "{}",
        moved.text
    );
    // Bad files are refused whole, clearly.
    import_csv(app, &s, "name,kind\n甲,clinic\n").invalid_field("body");
    app.post_raw(
        "/api/v1/roster/import",
        Some(&s),
        "text/plain",
        b"x".to_vec(),
    )
    .problem(415);
    app.post_raw(
        "/api/v1/roster/import",
        Some(&s),
        "text/csv",
        vec![0xff, 0xfe, 0x00],
    )
    .invalid_field("body");
}

fn an_invitation_code_signs_up_and_links_the_roster_entry(app: &TestApp) {
    let _c = county(app);
    let org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&org));
    let b = app.login("bureau1").0;
    let r = import_csv(
        app,
        &b,
        "licence_no,name,kind,township\nPDY-T-0007,测试村卫生室 7,village_health_room,石门镇\nPDY-T-0008,乙,clinic,石门镇\n",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let items = app.get("/api/v1/roster", Some(&b)).body["items"].clone();
    let id_of = |l: &str| {
        items
            .as_array()
            .and_then(|a| a.iter().find(|e| e["licence_no"] == l))
            .and_then(|e| e["id"].as_str())
            .expect("entry")
            .to_owned()
    };
    let (seven, eight) = (id_of("PDY-T-0007"), id_of("PDY-T-0008"));
    // By email, through the outbox; the letter carries the code.
    let inv = app.post(
        &format!("/api/v1/roster/{seven}/invite"),
        Some(&b),
        &json!({"email": "room7@example.org"}),
    );
    assert_eq!(inv.status, 200, "{}", inv.text);
    let code = inv.str("code");
    assert!(inv.str("letter").contains(&code));
    let queued: i64 = app.with_conn(|c| {
        use diesel::prelude::*;
        diesel::sql_query("SELECT 1 AS n FROM outbox WHERE recipient = 'room7@example.org'")
            .load::<One>(c)
            .expect("outbox")
            .len() as i64
    });
    assert_eq!(queued, 1, "the invitation is in the outbox");
    app.post(
        &format!("/api/v1/roster/{seven}/invite"),
        Some(&b),
        &json!({"email": "not an address"}),
    )
    .invalid_field("email");
    // A printed letter for the other; its code is not the first one's.
    let letter = app.post(
        &format!("/api/v1/roster/{eight}/invite"),
        Some(&b),
        &json!({}),
    );
    assert_eq!(letter.status, 200, "{}", letter.text);
    let other = letter.str("code");
    // The code of another licence, or a made-up code: refused, nothing written.
    let mut body = crate::common::sign_up_body(7, "石门镇");
    body["signup_code"] = json!(other);
    app.post("/api/v1/institutions", None, &body)
        .invalid_field("licence_no");
    body["signup_code"] = json!("0000-0000-0000");
    app.post("/api/v1/institutions", None, &body)
        .invalid_field("signup_code");
    body["signup_code"] = json!("nonsense");
    app.post("/api/v1/institutions", None, &body)
        .invalid_field("signup_code");
    // The right code, typed in lower case with spaces: signed up and linked.
    body["signup_code"] = json!(code.to_lowercase().replace('-', " "));
    let r = app.post("/api/v1/institutions", None, &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let inst = r.str("id");
    let e = app.get("/api/v1/roster?status=pending", Some(&b));
    assert_eq!(
        e.body["items"][0]["institution_id"],
        inst.as_str(),
        "{}",
        e.text
    );
    // Single use.
    let mut again = crate::common::sign_up_body(9, "石门镇");
    again["signup_code"] = json!(code);
    app.post("/api/v1/institutions", None, &again)
        .invalid_field("signup_code");
    // Approved, it counts as signed up; a signed-up entry is not invited again.
    let admin = app.login("admin1").0;
    app.post(
        &format!("/api/v1/institutions/{inst}/approve"),
        Some(&admin),
        &json!({}),
    );
    let s = app.get("/api/v1/roster?status=signed_up", Some(&b));
    assert_eq!(s.body["items"][0]["licence_no"], "PDY-T-0007", "{}", s.text);
    app.post(
        &format!("/api/v1/roster/{seven}/invite"),
        Some(&b),
        &json!({}),
    )
    .problem(409);
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    n: i32,
}

#[test]
fn roster_import_from_the_command_line_sqlite() {
    roster_cli(crate::common::Backend::Sqlite);
}

#[test]
fn roster_import_from_the_command_line_postgres() {
    roster_cli(crate::common::Backend::Postgres);
}

/// `yifei roster import FILE`, run as a real process: county wide, idempotent, errors on
/// stderr by row and field.
fn roster_cli(backend: crate::common::Backend) {
    let Some(db) = crate::common::TestDb::create(backend) else {
        return;
    };
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
            .args(args)
            .env("YIFEI_DATABASE_URL", &db.url)
            .env("YIFEI_LOG", "warn")
            .output()
            .expect("yifei ran");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(&["migrate"]).0, 0);
    let dir = std::env::temp_dir().join(format!("yifei-roster-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("roster.csv");
    std::fs::write(&file, ROSTER_CSV).expect("write");
    let path = file.to_str().expect("path");
    let (code, out, err) = run(&["roster", "import", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("5 rows: 4 added, 0 changed, 0 unchanged, 0 matched"),
        "county wide, so 北山乡 is in: {out}"
    );
    assert!(err.contains("row 5: kind:"), "{err}");
    let (_, out, _) = run(&["roster", "import", path]);
    assert!(out.contains("4 unchanged"), "{out}");
    let (code, _, err) = run(&["roster", "import", "/nonexistent/roster.csv"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

both!(the_watch_list_fills_from_conditions_and_empties_only_with_evidence);

fn the_watch_list_fills_from_conditions_and_empties_only_with_evidence(app: &TestApp) {
    let c = county(app);
    bureau(app);
    let north = app.org("health_bureau", "北山片", &["北山乡"]);
    app.user("north1", Role::BureauStaff, Some(&north));
    let box1 = new_container(app, &c.clinic_a, "infectious", "bag");
    accepted(scan(
        app,
        &c.clinic_a,
        &[ev(&box1, "seal", -37 * 60, Some(2.0))],
    ));
    // 49 hours after sealing: a storage breach, and the institution is on the list.
    app.clock.advance(Duration::hours(12));
    let tok = |l: &str| app.login(l).0;
    let (b, n, clinic, driver) = (
        tok("bureau1"),
        tok("north1"),
        tok("clinic1"),
        tok("driver1"),
    );
    app.evaluate_alerts();
    let list = |t: &str, q: &str| app.get(&format!("/api/v1/watch-list{q}"), Some(t));
    let r = list(&b, "");
    assert_eq!(r.status, 200, "{}", r.text);
    let e1 = r.body["items"][0].clone();
    assert_eq!(
        (
            e1["rule"].as_str(),
            e1["status"].as_str(),
            e1["institution_id"].as_str(),
            e1["owner"].as_str()
        ),
        (
            Some("storage_breach"),
            Some("open"),
            Some(c.inst_a.as_str()),
            Some("王医生")
        ),
        "{}",
        r.text
    );
    assert!(
        e1["reason"]
            .as_str()
            .is_some_and(|r| r.contains("storage breach"))
    );
    let e1 = e1["id"].as_str().expect("id").to_owned();
    app.evaluate_alerts();
    assert_eq!(
        list(&b, "").body["items"].as_array().map(Vec::len),
        Some(1),
        "once per condition"
    );
    // Denials: a clinic, a dispatcher-less company role, another jurisdiction.
    list(&clinic, "").problem(403);
    list(&driver, "").problem(403);
    assert_eq!(list(&n, "").body["items"], json!([]));
    let strike = |t: &str, id: &str, body: Value| {
        app.post(
            &format!("/api/v1/watch-list/{id}/strike-off"),
            Some(t),
            &body,
        )
    };
    strike(&n, &e1, json!({"evidence": "fixed"})).problem(404);
    strike(&clinic, &e1, json!({"evidence": "fixed"})).problem(403);
    // Words are not evidence while the breach is open.
    strike(&b, &e1, json!({"evidence": "we will collect soon"})).invalid_field("evidence");

    // A failed spot check puts it on again, with the rectification deadline.
    let deadline = (app_now(app) + Duration::days(3)).to_rfc3339();
    let failed = app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": c.inst_a, "checklist": {"packaging": true, "labels": false,
            "storage_time": false, "register": true, "signage": true}, "rectification_deadline": deadline}),
    );
    assert_eq!(failed.status, 201, "{}", failed.text);
    app.evaluate_alerts();
    let r = list(&b, "?status=open");
    let e2 = r.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["rule"] == "failed_inspection"))
        .expect("failed inspection listed")
        .clone();
    let e2 = e2["id"].as_str().expect("id").to_owned();
    strike(
        &b,
        &e2,
        json!({"evidence": "re-checked", "inspection_id": failed.str("id")}),
    )
    .invalid_field("inspection_id");
    // The box is collected: the breach clears, but not for 7 days yet.
    accepted(scan(
        app,
        &driver,
        &[ev(&box1, "collect", 12 * 60, Some(2.0))],
    ));
    app.evaluate_alerts();
    strike(&b, &e1, json!({"evidence": "collected"})).invalid_field("evidence");

    // Four days on, the failed inspection's entry is past its deadline: escalated.
    app.clock.advance(Duration::days(4));
    let b = app.login("bureau1").0;
    app.evaluate_alerts();
    let r = list(&b, "?status=escalated");
    assert_eq!(r.body["items"][0]["id"], e2.as_str(), "{}", r.text);
    assert!(r.body["items"][0]["escalated_at"].is_string());
    // A passed re-inspection strikes it off; only once.
    let passed = app.post(
        "/api/v1/inspections",
        Some(&b),
        &json!({"institution_id": c.inst_a, "checklist": {"packaging": true, "labels": true,
            "storage_time": true, "register": true, "signage": true}}),
    );
    assert_eq!(passed.status, 201, "{}", passed.text);
    let off = strike(
        &b,
        &e2,
        json!({"evidence": "整改完成，复查合格", "inspection_id": passed.str("id")}),
    );
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(
        (off.body["status"].as_str(), off.body["evidence"].as_str()),
        (Some("struck_off"), Some("整改完成，复查合格"))
    );
    strike(
        &b,
        &e2,
        json!({"evidence": "again", "inspection_id": passed.str("id")}),
    )
    .problem(409);
    // Seven days after the breach cleared, its entry may go on the evidence of that.
    app.clock.advance(Duration::days(3));
    let b = app.login("bureau1").0;
    let off = strike(&b, &e1, json!({"evidence": "no breach since 7 days"}));
    assert_eq!(off.status, 200, "{}", off.text);
    let csv = app.get("/api/v1/watch-list?format=csv", Some(&b));
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert_eq!(csv.text.lines().count(), 3, "{}", csv.text);
    assert!(csv.text.contains("struck_off"), "{}", csv.text);
    list(&b, "?status=whatever").invalid_field("status");
}

fn app_now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use yifei_api::clock::Clock;
    app.clock.now()
}
