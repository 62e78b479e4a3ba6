//! What the admin console needs beyond the account lifecycle: creating staff accounts over
//! HTTP (as `yifei user create` does) and listing organisations.

use serde_json::json;
use yifei_contract::Role;

use crate::both;
use crate::common::{PASSWORD, TestApp};

both!(
    an_admin_creates_accounts_under_the_cli_rules,
    only_admins_create_accounts_and_list_organisations,
);

/// Each role lands in the tenant it belongs to, can sign in at once, and the rules of the CLI
/// hold: a company role needs a company, a bureau role a bureau, a hub keeper a township
/// health centre; the password policy and a taken login are refused without a write.
fn an_admin_creates_accounts_under_the_cli_rules(app: &TestApp) {
    let company = app.org("disposal_company", "处置公司", &[]);
    let bureau = app.org("health_bureau", "区卫健局", &["石门镇"]);
    app.user("admin1", Role::Admin, None);
    let (admin, _) = app.login("admin1");
    // A signed-up clinic (its own account comes from sign-up).
    let inst = app.sign_up(1, "石门镇");
    let before = app.get("/api/v1/users", Some(&admin)).body["items"]
        .as_array()
        .map(Vec::len);

    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": " Driver7 ", "role": "driver", "org_id": company,
            "display_name": "王师傅", "password": "a first passphrase"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.str("login"), "driver7");
    assert_eq!(r.str("role"), "driver");
    assert_eq!(r.str("org_id"), company);
    assert_eq!(r.body["display_name"], "王师傅");
    assert_eq!(r.body["active"], true);
    let signed_in = app.post(
        "/api/v1/auth/login",
        None,
        &json!({"login": "driver7", "password": "a first passphrase"}),
    );
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);

    // Another account of the clinic: the institution is its tenant.
    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "nurse2", "role": "clinic_staff", "institution_id": inst,
            "password": PASSWORD}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.str("org_id"), inst);
    // A village room is no hub.
    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "hub9", "role": "hub_keeper", "institution_id": inst,
            "password": PASSWORD}),
    )
    .invalid_field("institution");

    // Tenants that do not fit the role.
    for body in [
        json!({"login": "disp8", "role": "dispatcher", "org_id": bureau, "password": PASSWORD}),
        json!({"login": "disp8", "role": "dispatcher", "password": PASSWORD}),
        json!({"login": "bur8", "role": "bureau_staff", "org_id": company, "password": PASSWORD}),
        json!({"login": "adm8", "role": "admin", "org_id": company, "password": PASSWORD}),
        json!({"login": "disp8", "role": "driver", "org_id": "no-such-org", "password": PASSWORD}),
    ] {
        app.post("/api/v1/users", Some(&admin), &body)
            .invalid_field("org");
    }
    // Login and password policy, as the CLI's.
    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "drv9", "role": "driver", "org_id": company, "password": "short"}),
    )
    .invalid_field("password");
    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "has space", "role": "driver", "org_id": company, "password": PASSWORD}),
    )
    .invalid_field("login");
    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "DRIVER7", "role": "driver", "org_id": company, "password": PASSWORD}),
    )
    .problem(409);
    // Unknown role and unknown fields are refused as malformed.
    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "xx1", "role": "superuser", "password": PASSWORD}),
    );
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"login": "xx1", "role": "admin", "password": PASSWORD, "is_root": true}),
    );
    assert!(matches!(r.status, 400 | 422), "{}", r.text);

    // Only the two accounts were written.
    let after = app.get("/api/v1/users", Some(&admin)).body["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(after, before.map(|n| n + 2));

    // The organisations, with their active accounts.
    let orgs = app.get("/api/v1/organisations", Some(&admin));
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    let items = orgs.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{}", orgs.text);
    let c = items.iter().find(|o| o["id"] == company).expect("company");
    assert_eq!(c["kind"], "disposal_company");
    assert_eq!(c["active_users"], 1);
    assert_eq!(c["location"]["lat"], 36.3);
    let b = items.iter().find(|o| o["id"] == bureau).expect("bureau");
    assert_eq!(b["townships"], json!(["石门镇"]));
    assert_eq!(b["active_users"], 0);
    // Paged like every list.
    let one = app.get("/api/v1/organisations?limit=1", Some(&admin));
    assert_eq!(one.body["items"].as_array().map(Vec::len), Some(1));
    let next = one.str("next_cursor");
    let two = app.get(
        &format!("/api/v1/organisations?limit=1&cursor={next}"),
        Some(&admin),
    );
    assert_eq!(two.body["items"].as_array().map(Vec::len), Some(1));
    assert_ne!(one.body["items"][0]["id"], two.body["items"][0]["id"]);
    app.get("/api/v1/organisations?limit=0", Some(&admin))
        .invalid_field("limit");
}

/// Every other role is refused before anything is looked up or written.
fn only_admins_create_accounts_and_list_organisations(app: &TestApp) {
    let company = app.org("disposal_company", "处置公司", &[]);
    let bureau = app.org("health_bureau", "区卫健局", &[]);
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    app.user("bureau1", Role::BureauStaff, Some(&bureau));
    app.user("driver1", Role::Driver, Some(&company));
    app.user("admin1", Role::Admin, None);
    for login in ["dispatch1", "bureau1", "driver1"] {
        let (token, _) = app.login(login);
        app.post(
            "/api/v1/users",
            Some(&token),
            &json!({"login": "sneaky", "role": "admin", "password": PASSWORD}),
        )
        .problem(403);
        app.get("/api/v1/organisations", Some(&token)).problem(403);
    }
    app.post(
        "/api/v1/users",
        None,
        &json!({"login": "sneaky", "role": "admin", "password": PASSWORD}),
    )
    .problem(401);
    // Nothing was created.
    let r = app.post(
        "/api/v1/auth/login",
        None,
        &json!({"login": "sneaky", "password": PASSWORD}),
    );
    assert_eq!(r.status, 401, "{}", r.text);
}
