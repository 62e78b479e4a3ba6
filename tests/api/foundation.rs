//! Foundation: sign-up, approval, sessions, denials, bad input, restarts.

use chrono::Duration;
use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::{PASSWORD, TestApp, sign_up_body};

both!(
    sign_up_approval_and_session_rotation,
    tenant_and_role_denials,
    bad_input_is_a_precise_problem,
    login_is_throttled_after_repeated_failures,
    registry_is_paginated_and_filtered,
    logout_ends_the_session,
    system_endpoints_and_request_ids,
);

fn sign_up_approval_and_session_rotation(app: &TestApp) {
    let bureau = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&bureau));

    let r = app.post("/api/v1/institutions", None, &sign_up_body(1, "石门镇"));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["licence_no"], "PDY-T-0001");
    let id = r.str("id");
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/institutions/{id}"))
    );
    assert_eq!(r.body["h3_cell"].as_str().map(str::len), Some(15));

    // The clinic can sign in at once, with the login it was given, and follow its approval.
    let given = r.str("login");
    assert!(given.starts_with("clinic1-"), "{given}");
    let (clinic, clinic_refresh) = app.login(&given.to_uppercase());
    let me = app.get("/api/v1/me", Some(&clinic));
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        (
            me.body["role"].as_str(),
            me.body["institution_status"].as_str()
        ),
        (Some("clinic_staff"), Some("pending"))
    );
    assert_eq!(me.body["org_id"], id.as_str());
    assert_eq!(
        app.get(&format!("/api/v1/institutions/{id}"), Some(&clinic))
            .body["status"],
        "pending"
    );

    let (bureau_token, _) = app.login("bureau1");
    let r = app.post(
        &format!("/api/v1/institutions/{id}/approve"),
        Some(&bureau_token),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": id, "status": "active"}));
    // Approving twice is harmless (a retried request).
    assert_eq!(
        app.post(
            &format!("/api/v1/institutions/{id}/approve"),
            Some(&bureau_token),
            &json!({})
        )
        .status,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/institutions/{id}"), Some(&clinic))
            .body["status"],
        "active"
    );

    // Rotation: each refresh token works once and yields a new one.
    let r1 = app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": clinic_refresh}),
    );
    assert_eq!(r1.status, 200, "{}", r1.text);
    assert_eq!(r1.body["token_type"], "Bearer");
    assert_eq!(r1.body["user"]["role"], "clinic_staff");
    let second = r1.str("refresh_token");
    assert_ne!(second, clinic_refresh);
    let r2 = app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": second}),
    );
    assert_eq!(r2.status, 200, "{}", r2.text);
    let third = r2.str("refresh_token");

    // Reuse of a spent token: 401, and the whole family (including the live token) is revoked.
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": clinic_refresh}),
    )
    .problem(401);
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": third}),
    )
    .problem(401);
    // Another session of the same user is unaffected.
    let (other_access, other_session) = app.login(&given);
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": other_session})
        )
        .status,
        200
    );

    // The revoked session's access tokens die with it (tests/api/hardening_auth.rs).
    app.get("/api/v1/me", Some(&r2.str("access_token")))
        .problem(401);
    // Access tokens expire after 15 minutes of the server's clock.
    let fresh = other_access;
    assert_eq!(app.get("/api/v1/me", Some(&fresh)).status, 200);
    app.clock.advance(Duration::minutes(16));
    let r = app.get("/api/v1/me", Some(&fresh));
    r.problem(401);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));

    // Rejecting needs a reason; a rejected institution cannot be approved.
    let other = app.sign_up(2, "石门镇");
    let (bureau_token, _) = app.login("bureau1");
    app.post(
        &format!("/api/v1/institutions/{other}/reject"),
        Some(&bureau_token),
        &json!({}),
    )
    .invalid_field("reason");
    let r = app.post(
        &format!("/api/v1/institutions/{other}/reject"),
        Some(&bureau_token),
        &json!({"reason": "licence expired"}),
    );
    assert_eq!(r.body["status"], "rejected", "{}", r.text);
    app.post(
        &format!("/api/v1/institutions/{other}/approve"),
        Some(&bureau_token),
        &json!({}),
    )
    .problem(409);
    let got = app.get(
        &format!("/api/v1/institutions/{other}"),
        Some(&bureau_token),
    );
    assert_eq!(got.body["status_reason"], "licence expired");

    // Data and the generated JWT secret survive a restart.
    app.shutdown();
    let app = TestApp::start_with(crate::common::TestDb::reuse(&app.db), app.clock.clone());
    let (token, _) = app.login(&given);
    assert_eq!(
        app.get(&format!("/api/v1/institutions/{id}"), Some(&token))
            .body["status"],
        "active"
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&bureau_token)).status,
        200,
        "token issued before the restart"
    );
}

fn tenant_and_role_denials(app: &TestApp) {
    let bureau = app.org("health_bureau", "县卫生健康局", &[]);
    let north = app.org("health_bureau", "北片监管组", &["北山乡"]);
    let company = app.org("disposal_company", "处置公司", &[]);
    app.user("admin1", Role::Admin, None);
    app.user("bureau1", Role::BureauStaff, Some(&bureau));
    app.user("north1", Role::BureauStaff, Some(&north));
    app.user("driver1", Role::Driver, Some(&company));
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let a = app.sign_up(1, "石门镇");
    let b = app.sign_up(2, "石门镇");
    let (clinic_a, _) = app.login("clinic1");
    let (driver, _) = app.login("driver1");
    let (north_token, _) = app.login("north1");
    let (admin, _) = app.login("admin1");

    // No or bad token.
    let r = app.get(&format!("/api/v1/institutions/{a}"), None);
    r.problem(401);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    app.get("/api/v1/me", Some("not.a.jwt")).problem(401);
    app.get("/api/v1/institutions", Some(&format!("{clinic_a}x")))
        .problem(401);

    // A clinic sees only itself: another's id is 404, as is an unknown id.
    app.get(&format!("/api/v1/institutions/{b}"), Some(&clinic_a))
        .problem(404);
    app.get(
        "/api/v1/institutions/0190d8a2-0000-7000-8000-000000000000",
        Some(&clinic_a),
    )
    .problem(404);
    let list = app.get("/api/v1/institutions", Some(&clinic_a));
    assert_eq!(
        list.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.text
    );

    // Only admin and bureau staff decide.
    app.post(
        &format!("/api/v1/institutions/{a}/approve"),
        Some(&clinic_a),
        &json!({}),
    )
    .problem(403);
    app.post(
        &format!("/api/v1/institutions/{b}/approve"),
        Some(&driver),
        &json!({}),
    )
    .problem(403);
    let (dispatch, _) = app.login("dispatch1");
    app.post(
        &format!("/api/v1/institutions/{b}/reject"),
        Some(&dispatch),
        &json!({"reason": "x"}),
    )
    .problem(403);

    // Company roles do not see pending sign-ups.
    app.get(&format!("/api/v1/institutions/{a}"), Some(&driver))
        .problem(404);
    assert_eq!(
        app.get("/api/v1/institutions", Some(&driver)).body["items"],
        json!([])
    );

    // Bureau staff outside the institution's township: not found, cannot approve.
    app.get(&format!("/api/v1/institutions/{a}"), Some(&north_token))
        .problem(404);
    app.post(
        &format!("/api/v1/institutions/{a}/approve"),
        Some(&north_token),
        &json!({}),
    )
    .problem(404);
    let north_inst = app.sign_up(3, "北山乡");
    assert_eq!(
        app.post(
            &format!("/api/v1/institutions/{north_inst}/approve"),
            Some(&north_token),
            &json!({})
        )
        .status,
        200
    );

    // Admin decides anywhere; now the driver sees the active institution.
    assert_eq!(
        app.post(
            &format!("/api/v1/institutions/{a}/approve"),
            Some(&admin),
            &json!({})
        )
        .status,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/institutions/{a}"), Some(&driver))
            .status,
        200
    );
    let r = app.post(
        &format!("/api/v1/institutions/{a}/suspend"),
        Some(&admin),
        &json!({"reason": "overdue storage"}),
    );
    assert_eq!(r.body["status"], "suspended", "{}", r.text);
}

fn bad_input_is_a_precise_problem(app: &TestApp) {
    app.post_raw(
        "/api/v1/institutions",
        None,
        "application/json",
        b"{\"name\": ".to_vec(),
    )
    .problem(400);
    app.post_raw(
        "/api/v1/institutions",
        None,
        "text/plain",
        b"hello".to_vec(),
    )
    .problem(415);
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(300 * 1024));
    app.post_raw(
        "/api/v1/institutions",
        None,
        "application/json",
        big.into_bytes(),
    )
    .problem(413);

    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = sign_up_body(9, "石门镇");
        f(&mut b);
        app.post("/api/v1/institutions", None, &b)
    };
    with(&|b| b["location"]["lat"] = json!(200)).invalid_field("location.lat");
    with(&|b| b["kind"] = json!("hospital")).invalid_field("kind");
    with(&|b| b["account"]["password"] = json!("short")).invalid_field("account.password");
    with(&|b| b["name"] = json!("   ")).invalid_field("name");
    with(&|b| b["beds"] = json!("many")).invalid_field("beds");
    with(&|b| {
        b.as_object_mut().map(|o| o.remove("contact"));
    })
    .invalid_field("contact");
    with(&|b| b["surprise"] = json!(1)).problem(422);

    // Duplicates are conflicts, and a refused sign-up writes nothing.
    app.sign_up(1, "石门镇");
    let mut dup_licence = sign_up_body(2, "石门镇");
    dup_licence["licence_no"] = json!("pdy-t-0001");
    app.post("/api/v1/institutions", None, &dup_licence)
        .problem(409);
    // The licence of the refused sign-up is still free.
    assert_eq!(
        app.post("/api/v1/institutions", None, &sign_up_body(2, "石门镇"))
            .status,
        201
    );
    // A wanted login that is taken is no conflict: every sign-up's login gets a number
    // (tests/api/hardening_auth.rs shows the answers cannot be told apart).
    let mut dup_login = sign_up_body(3, "石门镇");
    dup_login["account"]["login"] = json!("Clinic1");
    let r = app.post("/api/v1/institutions", None, &dup_login);
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.str("login").starts_with("clinic1-"), "{}", r.text);

    // Routing and query errors are problems too.
    app.get("/api/v1/nowhere", None).problem(404);
    let r = app.request("DELETE", "/api/v1/institutions");
    r.problem(405);
    let (token, _) = app.login("clinic1");
    app.get("/api/v1/institutions?limit=0", Some(&token))
        .invalid_field("limit");
    app.get("/api/v1/institutions?limit=abc", Some(&token))
        .problem(422);
    app.get("/api/v1/institutions?cursor=%21%21", Some(&token))
        .invalid_field("cursor");
    app.get("/api/v1/institutions?status=gone", Some(&token))
        .invalid_field("status");
    app.post("/api/v1/auth/login", None, &json!({"login": "clinic1"}))
        .invalid_field("password");
}

fn login_is_throttled_after_repeated_failures(app: &TestApp) {
    app.sign_up(1, "石门镇");
    let clinic1 = app.login_of("clinic1");
    let wrong = json!({"login": clinic1, "password": "wrong password!"});
    for _ in 0..5 {
        app.post("/api/v1/auth/login", None, &wrong).problem(401);
    }
    let r = app.post("/api/v1/auth/login", None, &wrong);
    r.problem(429);
    let wait: i64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&wait), "{wait}");
    // Even the right password waits: the lock is on the login from this address.
    let right = json!({"login": clinic1, "password": PASSWORD});
    app.post("/api/v1/auth/login", None, &right).problem(429);
    // A client cannot escape it by claiming another address: no proxy is trusted here.
    app.post_forwarded("/api/v1/auth/login", "203.0.113.9", &right)
        .problem(429);
    // An unknown login answers exactly like a wrong password.
    let r = app.post(
        "/api/v1/auth/login",
        None,
        &json!({"login": "nobody", "password": PASSWORD}),
    );
    assert_eq!(r.problem(401)["detail"], "unknown login or wrong password");
    app.clock.advance(Duration::minutes(16));
    app.login("clinic1");
}

fn registry_is_paginated_and_filtered(app: &TestApp) {
    app.user("admin1", Role::Admin, None);
    let ids: Vec<String> = (1..=5)
        .map(|n| app.sign_up(n, if n % 2 == 0 { "北山乡" } else { "石门镇" }))
        .collect();
    let (admin, _) = app.login("admin1");
    let mut seen = Vec::new();
    let mut path = "/api/v1/institutions?limit=2".to_owned();
    loop {
        let r = app.get(&path, Some(&admin));
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/institutions?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every institution once, in sign-up order");
    let r = app.get(
        "/api/v1/institutions?township=%E5%8C%97%E5%B1%B1%E4%B9%A1",
        Some(&admin),
    );
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
    app.post(
        &format!("/api/v1/institutions/{}/approve", ids[0]),
        Some(&admin),
        &json!({}),
    );
    let r = app.get(
        "/api/v1/institutions?status=active&kind=village_health_room",
        Some(&admin),
    );
    assert_eq!(r.body["items"][0]["id"], ids[0].as_str(), "{}", r.text);
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1));
}

fn logout_ends_the_session(app: &TestApp) {
    app.sign_up(1, "石门镇");
    let (access, refresh) = app.login("clinic1");
    let (_, other) = app.login("clinic1");
    let r = app.post(
        "/api/v1/auth/logout",
        Some(&access),
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh}),
    )
    .problem(401);
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": other})
        )
        .status,
        200
    );
    // Without a body: every session ends.
    let (access, refresh) = app.login("clinic1");
    assert_eq!(
        app.post_raw(
            "/api/v1/auth/logout",
            Some(&access),
            "application/json",
            Vec::new()
        )
        .status,
        204
    );
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh}),
    )
    .problem(401);
    app.post("/api/v1/auth/logout", None, &json!({}))
        .problem(401);
}

fn system_endpoints_and_request_ids(app: &TestApp) {
    let r = app.get("/healthz", None);
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = app.get("/readyz", None);
    assert_eq!(r.status, 200);
    assert!(matches!(
        r.body["database"].as_str(),
        Some("sqlite" | "postgres")
    ));
    let id = r.header("x-request-id").expect("request id header");
    assert_eq!(id.len(), 36);
    let r = app.get("/api/v1/openapi.json", None);
    assert_eq!(r.status, 200);
    assert!(
        r.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert!(r.body["paths"]["/api/v1/institutions"]["post"].is_object());
    // Error bodies quote the same id as the header.
    let r = app.get("/api/v1/me", None);
    assert_eq!(
        r.problem(401)["request_id"].as_str(),
        r.header("x-request-id").as_deref()
    );
}

/// Behind a reverse proxy every login arrives from the proxy's address. With the proxy
/// trusted (`YIFEI_TRUSTED_PROXIES`) the throttle keys on the client it forwards, so that
/// someone guessing a driver's password locks out only themselves, not the driver signing in
/// through the same proxy. (The throttle lives in memory: one database is enough.)
#[test]
fn behind_a_trusted_proxy_the_throttle_keys_on_the_forwarded_client() {
    let db = crate::common::TestDb::create(crate::common::Backend::Sqlite).expect("sqlite");
    let app = TestApp::start_configured(
        db,
        yifei_api::clock::ManualClock::new(crate::common::t0()),
        |c| c.trusted_proxies = vec![std::net::Ipv4Addr::LOCALHOST.into()],
    );
    app.sign_up(1, "石门镇");
    let clinic1 = app.login_of("clinic1");
    let wrong = json!({"login": clinic1, "password": "wrong password!"});
    for _ in 0..5 {
        app.post_forwarded("/api/v1/auth/login", "203.0.113.5", &wrong)
            .problem(401);
    }
    app.post_forwarded("/api/v1/auth/login", "203.0.113.5", &wrong)
        .problem(429);
    let right = json!({"login": clinic1, "password": PASSWORD});
    let r = app.post_forwarded("/api/v1/auth/login", "203.0.113.9", &right);
    assert_eq!(r.status, 200, "{}", r.text);
    app.post_forwarded("/api/v1/auth/login", "203.0.113.5", &right)
        .problem(429);
}
