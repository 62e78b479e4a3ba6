//! What the dispatcher's console needs beyond runs: the company's drivers, to give each
//! vehicle its driver.

use serde_json::json;
use yifei_contract::Role;

use crate::both;
use crate::common::TestApp;

both!(a_dispatcher_lists_the_drivers_of_the_company);

/// A dispatcher sees the drivers of the company only (not another company's), each with the
/// plates assigned to them; a deactivated driver stays listed, marked; other roles are refused.
fn a_dispatcher_lists_the_drivers_of_the_company(app: &TestApp) {
    let company = app.org("disposal_company", "处置公司", &[]);
    let other = app.org("disposal_company", "邻县公司", &[]);
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let d1 = app.user("driver1", Role::Driver, Some(&company));
    let d2 = app.user("driver2", Role::Driver, Some(&company));
    app.user("elsewhere", Role::Driver, Some(&other));
    app.user("plant1", Role::PlantOperator, Some(&company));
    app.user("admin1", Role::Admin, None);
    let (dispatcher, _) = app.login("dispatch1");
    let (admin, _) = app.login("admin1");
    let r = app.post(
        "/api/v1/vehicles",
        Some(&dispatcher),
        &json!({"plate": "鲁A-1", "capacity_kg": 800, "capacity_units": 60, "driver_id": d1}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    app.post(
        &format!("/api/v1/users/{d2}/deactivate"),
        Some(&admin),
        &json!({}),
    );

    let r = app.get("/api/v1/drivers", Some(&dispatcher));
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().expect("items");
    let logins: Vec<&str> = items.iter().filter_map(|d| d["login"].as_str()).collect();
    assert_eq!(logins, ["driver1", "driver2"], "{}", r.text);
    assert_eq!(items[0]["id"], d1);
    assert_eq!(items[0]["plates"], json!(["鲁A-1"]));
    assert_eq!(items[0]["active"], true);
    assert_eq!(items[1]["plates"], json!([]));
    assert_eq!(items[1]["active"], false);

    // The admin sees every company's drivers.
    let all = app.get("/api/v1/drivers", Some(&admin));
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(3));

    for login in ["driver1", "plant1"] {
        let (token, _) = app.login(login);
        app.get("/api/v1/drivers", Some(&token)).problem(403);
    }
    app.get("/api/v1/drivers", None).problem(401);
}
