//! The README's role table, cell by cell (issue #14, item 14): every row (admin, health
//! bureau, eco-environment bureau, dispatcher, driver, plant operator, clinic staff, hub
//! keeper, a pending clinic) against the main actions, as allowed, 403 or 404.

use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::{TestApp, sign_up_body};
use crate::custody::{ev, new_container};

both!(the_role_table_holds);

const DAY: &str = "2026-03-02";

/// The rows, in the order of the expectation strings below.
const ROWS: [&str; 9] = [
    "admin",
    "health",
    "eco",
    "dispatcher",
    "driver",
    "plant",
    "clinic",
    "hub",
    "pending",
];

/// Fixtures the actions act on.
struct World {
    /// An active institution in 石门镇 that no row belongs to: decisions and registry edits.
    target: String,
    /// The clinic row's own institution.
    own: String,
    /// A labelled container of the clinic row's institution.
    code: String,
    /// A run of the company, driven by the driver row.
    run: String,
    /// An institution-side alert and one of the company, both at the clinic's institution.
    alert_institution: String,
    alert_company: String,
}

fn approve(app: &TestApp, admin: &str, id: &str) {
    let r = app.post(
        &format!("/api/v1/institutions/{id}/approve"),
        Some(admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn insert_alert(app: &TestApp, id: &str, institution: &str, org: Option<&str>) {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use yifei_api::db::schema::alerts;
        diesel::insert_into(alerts::table)
            .values((
                alerts::id.eq(id),
                alerts::condition_key.eq(format!("test:{id}")),
                alerts::rule.eq(if org.is_some() {
                    "collected_not_received"
                } else {
                    "not_collected"
                }),
                alerts::severity.eq("critical"),
                alerts::subject_type.eq("institution"),
                alerts::subject_id.eq(institution),
                alerts::institution_id.eq(institution),
                alerts::township.eq("石门镇"),
                alerts::detail.eq("test"),
                alerts::status.eq("open"),
                alerts::opened_at.eq(crate::common::t0().naive_utc()),
                alerts::org_id.eq(org),
            ))
            .execute(conn)
            .expect("alert");
    });
}

fn world(app: &TestApp) -> (World, Vec<String>) {
    let company = app.org("disposal_company", "处置公司", &[]);
    let health = app.org("health_bureau", "县卫生健康局", &[]);
    let eco = app.org("eco_environment_bureau", "县生态环境分局", &[]);
    app.user("admin1", Role::Admin, None);
    app.user("health1", Role::BureauStaff, Some(&health));
    app.user("eco1", Role::BureauStaff, Some(&eco));
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let driver_id = app.user("driver1", Role::Driver, Some(&company));
    app.user("plant1", Role::PlantOperator, Some(&company));
    let admin = app.login("admin1").0;
    let own = app.sign_up(1, "石门镇");
    let target = app.sign_up(2, "石门镇");
    let mut hub_body = sign_up_body(3, "石门镇");
    hub_body["kind"] = json!("township_health_centre");
    let r = app.post("/api/v1/institutions", None, &hub_body);
    assert_eq!(r.status, 201, "{}", r.text);
    let hub = r.str("id");
    for i in [&own, &target, &hub] {
        approve(app, &admin, i);
    }
    app.user("hub1", Role::HubKeeper, Some(&hub));
    app.sign_up(4, "石门镇"); // stays pending: login clinic4
    let clinic = app.login("clinic1").0;
    let code = new_container(app, &clinic, "infectious", "bag");
    // A run for the driver: the clinic asks for a pickup, the dispatcher plans the day.
    let dispatcher = app.login("dispatch1").0;
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "鲁J·A0001", "capacity_kg": 800, "capacity_units": 60, "refrigerated": false, "driver_id": driver_id}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post(
        "/api/v1/pickup-requests",
        Some(&clinic),
        &json!({"est_weight_kg": 2.0}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post("/api/v1/plans", Some(&dispatcher), &json!({"date": DAY}));
    assert_eq!(r.status, 201, "{}", r.text);
    let run = r.body["runs"][0]["id"].as_str().expect("a run").to_owned();
    let (alert_institution, alert_company) = ("alert-inst".to_owned(), "alert-co".to_owned());
    insert_alert(app, &alert_institution, &own, None);
    insert_alert(app, &alert_company, &own, Some(&company));
    let tokens = [
        "admin1",
        "health1",
        "eco1",
        "dispatch1",
        "driver1",
        "plant1",
        "clinic1",
        "hub1",
        "clinic4",
    ]
    .iter()
    .map(|l| app.login(l).0)
    .collect();
    (
        World {
            target,
            own,
            code,
            run,
            alert_institution,
            alert_company,
        },
        tokens,
    )
}

/// What a cell says: `Y` allowed (2xx), `F` 403, `N` 404; for scans `Y` is "not refused
/// for the role" (the event may still be refused for whose container it is) and `A` is
/// "accepted".
type Act = Box<dyn Fn(&TestApp, &World, &str, usize) -> (u16, Value)>;

fn get(path: String) -> Act {
    Box::new(move |app, _, tok, _| {
        let r = app.get(&path, Some(tok));
        (r.status, r.body)
    })
}

fn post(path: String, body: Value) -> Act {
    Box::new(move |app, _, tok, _| {
        let r = app.post(&path, Some(tok), &body);
        (r.status, r.body)
    })
}

fn scan_action(action: &'static str) -> Act {
    Box::new(move |app, w, tok, _| {
        let r = app.post(
            "/api/v1/scans",
            Some(tok),
            &json!({"events": [ev(&w.code, action, 0, Some(2.0))]}),
        );
        if r.status != 200 {
            return (r.status, r.body);
        }
        let res = &r.body["results"][0];
        let code = match (res["status"].as_str(), res["reason"].as_str()) {
            (_, Some("action_not_allowed")) => 403,
            (Some("accepted"), _) => 201,
            _ => 200,
        };
        (code, r.body)
    })
}

fn the_role_table_holds(app: &TestApp) {
    let (w, tokens) = world(app);
    let t = w.target.clone();
    let own = w.own.clone();
    let run = w.run.clone();
    let (ai, ac) = (w.alert_institution.clone(), w.alert_company.clone());
    let checklist = json!({"packaging": true, "labels": true, "storage_time": true, "register": true, "signage": true});
    //                                                         adm hea eco dis drv pla cli hub pen
    let table: Vec<(&str, &str, Act)> = vec![
        (
            "approve institution",
            "YYFFFFFFF",
            post(format!("/api/v1/institutions/{t}/approve"), json!({})),
        ),
        (
            "suspend institution",
            "YYFFFFFFF",
            post(
                format!("/api/v1/institutions/{t}/suspend"),
                json!({"reason": "audit"}),
            ),
        ),
        (
            "reinstate institution",
            "YYFFFFFFF",
            post(format!("/api/v1/institutions/{t}/approve"), json!({})),
        ),
        (
            "PATCH registry (interval)",
            "YYFFFFFFF",
            Box::new(move |app, _, tok, _| {
                let r = app.patch(
                    &format!("/api/v1/institutions/{t}"),
                    Some(tok),
                    &json!({"collection_interval_h": 24}),
                );
                (r.status, r.body)
            }),
        ),
        ("PATCH contact of another institution", "YYFFFFNNN", {
            let t = w.target.clone();
            Box::new(move |app, _, tok, _| {
                let r = app.patch(
                    &format!("/api/v1/institutions/{t}"),
                    Some(tok),
                    &json!({"contact": {"name": "李", "phone": "13800000009"}}),
                );
                (r.status, r.body)
            })
        }),
        (
            "PATCH contact of own institution",
            "YYFFFFYYY",
            Box::new(move |app, _, tok, row| {
                // The institution rows edit their own record; the others edit the clinic's.
                let id = match ROWS[row] {
                    "hub" | "pending" => {
                        let me = app.get("/api/v1/me", Some(tok));
                        me.body["org_id"].as_str().unwrap_or_default().to_owned()
                    }
                    _ => own.clone(),
                };
                let r = app.patch(
                    &format!("/api/v1/institutions/{id}"),
                    Some(tok),
                    &json!({"contact": {"name": "王", "phone": "13800000008"}}),
                );
                (r.status, r.body)
            }),
        ),
        (
            "create container",
            "FFFFFFYYF",
            post(
                "/api/v1/containers".into(),
                json!({"category": "infectious", "packaging": "bag"}),
            ),
        ),
        ("scan seal", "FFFFFFAYY", scan_action("seal")),
        ("scan hub_in", "FFFFFFFYF", scan_action("hub_in")),
        ("scan collect", "FFFFAFFFF", scan_action("collect")),
        ("scan receive", "FFFFFAFFF", scan_action("receive")),
        ("scan reject", "FFFFFYFFF", scan_action("reject")),
        ("scan dispose", "FFFFFYFFF", scan_action("dispose")),
        ("list vehicles", "YFFYYFFFF", get("/api/v1/vehicles".into())),
        (
            "add vehicle",
            "FFFYFFFFF",
            Box::new(|app, _, tok, row| {
                let r = app.post("/api/v1/vehicles", Some(tok), &json!({"plate": format!("鲁J·R{row:04}"), "capacity_kg": 500, "capacity_units": 40, "refrigerated": false}));
                (r.status, r.body)
            }),
        ),
        (
            "plan a day",
            "FFFYFFFFF",
            post("/api/v1/plans".into(), json!({"date": "2026-03-03"})),
        ),
        (
            "list runs",
            "YFFYFYFFF",
            get(format!("/api/v1/runs?date={DAY}")),
        ),
        (
            "read a run",
            "YFFYYYFFF",
            get(format!("/api/v1/runs/{run}")),
        ),
        (
            "driver's own runs",
            "FFFFYFFFF",
            get(format!("/api/v1/me/runs?date={DAY}")),
        ),
        (
            "skip a stop",
            "FFFYYFFFF",
            post(
                format!("/api/v1/runs/{run}/stops/1/skip"),
                json!({"reason": "gate closed"}),
            ),
        ),
        ("list alerts", "YYYYFYYYY", get("/api/v1/alerts".into())),
        (
            "ack institution-side alert",
            "YYFYFFFFF",
            post(format!("/api/v1/alerts/{ai}/ack"), json!({})),
        ),
        (
            "resolve company alert",
            "YYFYFFFFF",
            post(
                format!("/api/v1/alerts/{ac}/resolve"),
                json!({"note": "done"}),
            ),
        ),
        (
            "resolve institution-side alert",
            "YYFFFFFFF",
            post(
                format!("/api/v1/alerts/{ai}/resolve"),
                json!({"note": "done"}),
            ),
        ),
        (
            "read epidemic mode",
            "YYYYYYYYY",
            get("/api/v1/settings/epidemic-mode".into()),
        ),
        (
            "switch epidemic mode",
            "YYFFFFFFF",
            Box::new(|app, _, tok, _| {
                let r = app.put_json(
                    "/api/v1/settings/epidemic-mode",
                    Some(tok),
                    &json!({"enabled": false}),
                );
                (r.status, r.body)
            }),
        ),
        (
            "record inspection",
            "YYFFFFFFF",
            post(
                "/api/v1/inspections".into(),
                json!({"institution_id": w.own, "checklist": checklist}),
            ),
        ),
        (
            "list inspections",
            "YYYFFFFFF",
            get("/api/v1/inspections".into()),
        ),
        (
            "coverage report",
            "YYYFFFFFF",
            get("/api/v1/reports/coverage".into()),
        ),
        (
            "coverage cells",
            "YYYFFFFFF",
            get("/api/v1/reports/coverage/cells".into()),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, cells, act) in &table {
        assert_eq!(cells.len(), ROWS.len(), "{name}");
        for (row, want) in cells.chars().enumerate() {
            let (status, body) = act(app, &w, &tokens[row], row);
            let ok = match want {
                'Y' => (200..300).contains(&status),
                'A' => status == 201,
                'F' => status == 403,
                'N' => status == 404,
                _ => false,
            };
            if !ok {
                wrong.push(format!(
                    "{name} as {}: want {want}, got {status} {body}",
                    ROWS[row]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that do not hold:\n{}",
        wrong.join("\n")
    );
    // What the readers get: a pending clinic no alerts, the clinic its own two, the hub none.
    let count = |row: usize| {
        app.get("/api/v1/alerts", Some(&tokens[row])).body["items"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!((count(8), count(6), count(7)), (Some(0), Some(2), Some(0)));
    // The eco-environment bureau read everything the health bureau reads.
    let eco = app.get("/api/v1/institutions", Some(&tokens[2]));
    let health = app.get("/api/v1/institutions", Some(&tokens[1]));
    assert_eq!(eco.body["items"], health.body["items"]);
}
