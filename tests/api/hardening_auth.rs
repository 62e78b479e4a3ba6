//! Issue 14, items 3, 5 and 7: the login lockout holds under parallel guesses, `/auth/*` and
//! sign-up are rate-limited per address, sign-up does not reveal which logins exist, and
//! access tokens die with their session (logout, revocation, deactivation, password change),
//! through the API and the CLI, also on a second server process over the same database.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use chrono::Duration;
use serde_json::{Value, json};
use yifei_api::clock::ManualClock;
use yifei_api::config::Config;
use yifei_contract::Role;

use crate::common::{Backend, PASSWORD, Res, TestApp, TestDb, sign_up_body, t0};

/// Runs `scenario` on both databases with the production defaults of the rate limits (the
/// shared test configuration lifts them, since all tests come from one address).
macro_rules! both_with_defaults {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::run(crate::common::Backend::Sqlite, super::$name);
                }
                #[test]
                fn postgres() {
                    super::run(crate::common::Backend::Postgres, super::$name);
                }
            }
        )+
    };
}

both_with_defaults!(
    parallel_wrong_logins_are_checked_at_most_max_failures_times,
    a_right_password_among_parallel_guesses_does_not_get_past_the_lock,
    auth_endpoints_are_rate_limited_per_address,
    sign_up_does_not_reveal_taken_logins_and_is_rate_limited,
    tokens_die_with_their_session,
    deactivation_and_password_changes_end_sessions,
    account_changes_are_for_admins_only,
    a_revocation_reaches_a_second_server_within_the_session_check,
);

fn defaults(c: &mut Config) {
    let d = Config::default();
    c.auth_rate_limit = d.auth_rate_limit;
    c.sign_up_rate_limit = d.sign_up_rate_limit;
    // Behind a "proxy" (the test client) so that scenarios can speak from several addresses.
    c.trusted_proxies = vec![std::net::Ipv4Addr::LOCALHOST.into()];
}

fn run(backend: Backend, scenario: fn(&TestApp)) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(db, ManualClock::new(t0()), defaults);
    scenario(&app);
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A JSON POST from `client` (through the trusted proxy), with an optional bearer token.
fn post_from(app: &TestApp, client: &str, path: &str, token: Option<&str>, body: &Value) -> Res {
    let mut r = agent()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .header("x-forwarded-for", client);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    Res::from(r.send(body.to_string().as_bytes()).expect("POST"))
}

/// Sends every body at once (all threads released together); the answers, in order.
fn parallel_logins(app: &TestApp, client: &str, bodies: Vec<Value>) -> Vec<Res> {
    let barrier = std::sync::Barrier::new(bodies.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|b| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    post_from(app, client, "/api/v1/auth/login", None, b)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn company_with_driver(app: &TestApp) -> (String, String) {
    let company = app.org("disposal_company", "处置公司", &[]);
    let driver = app.user("driver1", Role::Driver, Some(&company));
    (company, driver)
}

fn wrong(login: &str) -> Value {
    json!({"login": login, "password": "not the password"})
}

fn right(login: &str) -> Value {
    json!({"login": login, "password": PASSWORD})
}

/// Item 3: 40 wrong passwords at once. Each attempt takes its slot before hashing, so exactly
/// `YIFEI_LOGIN_MAX_FAILURES` (5) are checked (401) and the other 35 are refused unchecked
/// (429): the count of 401s is the count of password hashes done. Then the right password
/// waits too.
fn parallel_wrong_logins_are_checked_at_most_max_failures_times(app: &TestApp) {
    company_with_driver(app);
    let answers = parallel_logins(app, "203.0.113.10", vec![wrong("driver1"); 40]);
    let count = |s: u16| answers.iter().filter(|r| r.status == s).count();
    assert_eq!(
        (count(401), count(429)),
        (5, 35),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status == 429) {
        r.problem(429);
        assert!(r.header("retry-after").is_some());
    }
    let r = post_from(
        app,
        "203.0.113.10",
        "/api/v1/auth/login",
        None,
        &right("driver1"),
    );
    r.problem(429);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&wait), "{wait}");
    // The lock is on the login from that address; the driver elsewhere signs in.
    let r = post_from(
        app,
        "198.51.100.20",
        "/api/v1/auth/login",
        None,
        &right("driver1"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // It lifts when the window has passed.
    app.clock.advance(Duration::minutes(16));
    let r = post_from(
        app,
        "203.0.113.10",
        "/api/v1/auth/login",
        None,
        &right("driver1"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Item 3: 60 attempts at once, one of them right. At most 5 are ever checked, whatever the
/// order, so the right one had the chance of 5 sequential guesses, not of 60 parallel ones;
/// once the lock is on, the right password is refused too.
fn a_right_password_among_parallel_guesses_does_not_get_past_the_lock(app: &TestApp) {
    company_with_driver(app);
    let mut bodies = vec![wrong("driver1"); 59];
    bodies.insert(29, right("driver1"));
    let answers = parallel_logins(app, "203.0.113.11", bodies);
    let checked: Vec<u16> = answers
        .iter()
        .map(|r| r.status)
        .filter(|s| *s != 429)
        .collect();
    assert!(
        answers.iter().all(|r| matches!(r.status, 200 | 401 | 429)),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let right_got_in = answers[29].status == 200;
    // A right password clears the count, so when it won one of the first five slots up to
    // five more wrong ones may be checked after it; without it, five at most.
    let failures = checked.iter().filter(|s| **s == 401).count();
    assert!(failures <= if right_got_in { 9 } else { 5 }, "{checked:?}");
    if !right_got_in {
        // The 5 slots went to wrong guesses: locked, the right password included. (Two
        // seconds on, so that the per-address limit, which the 60 used up, is not what answers.)
        assert_eq!(checked, vec![401; 5]);
        app.clock.advance(Duration::seconds(2));
        post_from(
            app,
            "203.0.113.11",
            "/api/v1/auth/login",
            None,
            &right("driver1"),
        )
        .problem(429);
    }
    // Locked from another address by five wrong ones first: then 60 at once, one right, and
    // not one of them is even checked.
    for _ in 0..5 {
        post_from(
            app,
            "203.0.113.12",
            "/api/v1/auth/login",
            None,
            &wrong("driver1"),
        )
        .problem(401);
    }
    // (Five seconds on: the per-address limit has room for all 60 again.)
    app.clock.advance(Duration::seconds(5));
    let mut bodies = vec![wrong("driver1"); 59];
    bodies.push(right("driver1"));
    let answers = parallel_logins(app, "203.0.113.12", bodies);
    assert!(
        answers.iter().all(|r| r.status == 429),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

/// The per-address limit in front of `/auth/*` (default 60 a minute): refresh attempts cost
/// no hashing, so they show the limit alone. Another address is not affected.
fn auth_endpoints_are_rate_limited_per_address(app: &TestApp) {
    let garbage = json!({"refresh_token": "not-a-token"});
    for i in 0..60 {
        let r = post_from(app, "203.0.113.30", "/api/v1/auth/refresh", None, &garbage);
        assert_eq!(r.status, 401, "request {i}: {}", r.text);
    }
    let r = post_from(app, "203.0.113.30", "/api/v1/auth/refresh", None, &garbage);
    r.problem(429);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    // Login and logout sit behind the same limit.
    post_from(
        app,
        "203.0.113.30",
        "/api/v1/auth/login",
        None,
        &wrong("x1"),
    )
    .problem(429);
    post_from(app, "203.0.113.30", "/api/v1/auth/logout", None, &json!({})).problem(429);
    // So do the console's sign-in and cookie refresh (before any check of their own).
    post_from(
        app,
        "203.0.113.30",
        "/api/v1/console/session",
        None,
        &wrong("x1"),
    )
    .problem(429);
    post_from(
        app,
        "203.0.113.30",
        "/api/v1/console/session/refresh",
        None,
        &json!({}),
    )
    .problem(429);
    post_from(app, "203.0.113.31", "/api/v1/auth/refresh", None, &garbage).problem(401);
    // One request's worth comes back after window / limit (1 s).
    app.clock.advance(Duration::seconds(1));
    post_from(app, "203.0.113.30", "/api/v1/auth/refresh", None, &garbage).problem(401);
    post_from(app, "203.0.113.30", "/api/v1/auth/refresh", None, &garbage).problem(429);
}

fn header_names(r: &Res) -> BTreeSet<String> {
    r.headers.keys().map(|k| k.as_str().to_owned()).collect()
}

/// The shape of a JSON value: keys and kinds, not values.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().take(1).map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// Item 5: signing up with a taken staff login and with a free one gives answers that cannot
/// be told apart (status, headers, body shape, the login's form); each account signs in with
/// the login it was given, and the staff account is untouched. The 31st sign-up in a burst
/// from one address is refused with 429.
fn sign_up_does_not_reveal_taken_logins_and_is_rate_limited(app: &TestApp) {
    company_with_driver(app);
    let mut taken = sign_up_body(1, "石门镇");
    taken["account"]["login"] = json!("Driver1");
    let mut free = sign_up_body(2, "石门镇");
    free["account"]["login"] = json!("nobody-has-this");
    let a = post_from(app, "203.0.113.40", "/api/v1/institutions", None, &taken);
    let b = post_from(app, "203.0.113.40", "/api/v1/institutions", None, &free);
    assert_eq!((a.status, b.status), (201, 201), "{} / {}", a.text, b.text);
    assert_eq!(header_names(&a), header_names(&b));
    assert_eq!(shape(&a.body), shape(&b.body));
    let (la, lb) = (a.str("login"), b.str("login"));
    let numbered = |l: &str, stem: &str| {
        l.strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.len() == 4 && n.chars().all(|c| c.is_ascii_digit()))
    };
    assert!(numbered(&la, "driver1"), "{la}");
    assert!(numbered(&lb, "nobody-has-this"), "{lb}");
    for (login, inst) in [(&la, a.str("id")), (&lb, b.str("id"))] {
        let r = post_from(
            app,
            "198.51.100.41",
            "/api/v1/auth/login",
            None,
            &right(login),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let me = app.get("/api/v1/me", Some(&r.str("access_token")));
        assert_eq!(
            (me.body["role"].as_str(), me.body["org_id"].as_str()),
            (Some("clinic_staff"), Some(inst.as_str()))
        );
    }
    let r = post_from(
        app,
        "198.51.100.41",
        "/api/v1/auth/login",
        None,
        &right("driver1"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["role"], "driver");

    // 28 more from the same address make 30; the 31st waits.
    for n in 3..=30 {
        let r = post_from(
            app,
            "203.0.113.40",
            "/api/v1/institutions",
            None,
            &sign_up_body(n, "石门镇"),
        );
        assert_eq!(r.status, 201, "sign-up {n}: {}", r.text);
    }
    let r = post_from(
        app,
        "203.0.113.40",
        "/api/v1/institutions",
        None,
        &sign_up_body(31, "石门镇"),
    );
    r.problem(429);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=3600).contains(&wait), "{wait}");
    // Nothing of the refused one was stored; another address signs it up.
    let r = post_from(
        app,
        "203.0.113.41",
        "/api/v1/institutions",
        None,
        &sign_up_body(31, "石门镇"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

fn login_from(app: &TestApp, client: &str, login: &str, password: &str) -> Res {
    post_from(
        app,
        client,
        "/api/v1/auth/login",
        None,
        &json!({"login": login, "password": password}),
    )
}

/// Item 7: an access token stops working the moment its session ends, not 15 minutes later.
fn tokens_die_with_their_session(app: &TestApp) {
    company_with_driver(app);
    let (a1, r1) = app.login("driver1");
    let (a2, r2) = app.login("driver1");
    assert_eq!(app.get("/api/v1/me", Some(&a1)).status, 200);
    // Logout of one session: its access token is dead at once, the other lives.
    let r = app.post(
        "/api/v1/auth/logout",
        Some(&a1),
        &json!({"refresh_token": r1}),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.get("/api/v1/me", Some(&a1));
    r.problem(401);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(app.get("/api/v1/me", Some(&a2)).status, 200);
    // Reuse of a refresh token revokes its session: the access tokens of it die too.
    let rotated = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": r2}));
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let a2b = rotated.str("access_token");
    assert_eq!(app.get("/api/v1/me", Some(&a2b)).status, 200);
    app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": r2}))
        .problem(401);
    app.get("/api/v1/me", Some(&a2)).problem(401);
    app.get("/api/v1/me", Some(&a2b)).problem(401);
    // Logout without a body ends every session of the user.
    let (a3, _) = app.login("driver1");
    let (a4, _) = app.login("driver1");
    assert_eq!(
        app.post_raw(
            "/api/v1/auth/logout",
            Some(&a3),
            "application/json",
            Vec::new()
        )
        .status,
        204
    );
    app.get("/api/v1/me", Some(&a3)).problem(401);
    app.get("/api/v1/me/runs?date=2026-03-02", Some(&a4))
        .problem(401);
}

/// Item 7: deactivation ends every session and refuses sign-in until reactivated; a password
/// change (own, with the current password) or reset (admin) ends every old session.
fn deactivation_and_password_changes_end_sessions(app: &TestApp) {
    let (_, driver_id) = company_with_driver(app);
    app.user("admin1", Role::Admin, None);
    let (admin, _) = app.login("admin1");
    let (driver, driver_refresh) = app.login("driver1");

    let r = app.post(
        &format!("/api/v1/users/{driver_id}/deactivate"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["active"].as_bool(), r.body["login"].as_str()),
        (Some(false), Some("driver1"))
    );
    app.get("/api/v1/me", Some(&driver)).problem(401);
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": driver_refresh}),
    )
    .problem(401);
    login_from(app, "198.51.100.50", "driver1", PASSWORD).problem(401);
    let list = app.get("/api/v1/users?limit=200", Some(&admin));
    assert_eq!(list.status, 200, "{}", list.text);
    let listed = list.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["id"] == driver_id.as_str()).cloned())
        .expect("driver listed");
    assert_eq!(listed["active"], false);
    // Reactivated: the old sessions stay dead, a new sign-in works.
    let r = app.post_raw(
        &format!("/api/v1/users/{driver_id}/reactivate"),
        Some(&admin),
        "application/json",
        Vec::new(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    app.get("/api/v1/me", Some(&driver)).problem(401);
    let (driver, _) = app.login("driver1");
    let (other, _) = app.login("driver1");

    // Own password: the current one is required, and a wrong one is a failed attempt.
    let change = |token: &str, current: &str, new: &str| {
        app.post(
            "/api/v1/me/password",
            Some(token),
            &json!({"current_password": current, "new_password": new}),
        )
    };
    change(&driver, "not my password", "a brand new passphrase").invalid_field("current_password");
    change(&driver, PASSWORD, "short").invalid_field("new_password");
    let r = change(&driver, PASSWORD, "a brand new passphrase");
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh = r.str("access_token");
    app.get("/api/v1/me", Some(&driver)).problem(401);
    app.get("/api/v1/me", Some(&other)).problem(401);
    assert_eq!(app.get("/api/v1/me", Some(&fresh)).status, 200);
    login_from(app, "198.51.100.51", "driver1", PASSWORD).problem(401);
    let r = login_from(app, "198.51.100.51", "driver1", "a brand new passphrase");
    assert_eq!(r.status, 200, "{}", r.text);

    // Reset by the admin: every session of the driver ends, the new password works.
    let r = app.post(
        &format!("/api/v1/users/{driver_id}/password"),
        Some(&admin),
        &json!({"new_password": "set by the admin 1"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    app.get("/api/v1/me", Some(&fresh)).problem(401);
    let r = login_from(app, "198.51.100.52", "driver1", "set by the admin 1");
    assert_eq!(r.status, 200, "{}", r.text);
    // The admin's own session was not touched.
    assert_eq!(app.get("/api/v1/me", Some(&admin)).status, 200);
}

/// Item 7: who may change accounts. Every non-admin role is refused (403) before any lookup;
/// nobody deactivates or resets themselves (409); an unknown id is 404.
fn account_changes_are_for_admins_only(app: &TestApp) {
    let (company, driver_id) = company_with_driver(app);
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let admin_id = app.user("admin1", Role::Admin, None);
    app.sign_up(1, "石门镇");
    let (dispatcher, _) = app.login("dispatch1");
    let (clinic, _) = app.login("clinic1");
    let (driver, _) = app.login("driver1");
    let (admin, _) = app.login("admin1");
    for token in [&dispatcher, &clinic] {
        app.post(
            &format!("/api/v1/users/{driver_id}/deactivate"),
            Some(token),
            &json!({}),
        )
        .problem(403);
        app.post(
            &format!("/api/v1/users/{driver_id}/password"),
            Some(token),
            &json!({"new_password": "taken over now!"}),
        )
        .problem(403);
        app.get("/api/v1/users", Some(token)).problem(403);
    }
    app.post(
        &format!("/api/v1/users/{admin_id}/deactivate"),
        Some(&driver),
        &json!({}),
    )
    .problem(403);
    // The driver is untouched by all that.
    assert_eq!(app.get("/api/v1/me", Some(&driver)).status, 200);
    assert_eq!(
        login_from(app, "198.51.100.60", "driver1", PASSWORD).status,
        200
    );
    // An admin cannot lock themselves out, nor reset their own password without the current one.
    app.post(
        &format!("/api/v1/users/{admin_id}/deactivate"),
        Some(&admin),
        &json!({}),
    )
    .problem(409);
    app.post(
        &format!("/api/v1/users/{admin_id}/password"),
        Some(&admin),
        &json!({"new_password": "no current needed?"}),
    )
    .problem(409);
    assert_eq!(app.get("/api/v1/me", Some(&admin)).status, 200);
    app.post(
        "/api/v1/users/no-such-user/deactivate",
        Some(&admin),
        &json!({}),
    )
    .problem(404);
    app.post(
        &format!("/api/v1/users/{driver_id}/password"),
        Some(&admin),
        &json!({"new_password": "short"}),
    )
    .invalid_field("new_password");
}

/// Item 7: two server processes on one database. A logout on one reaches the other's cached
/// view of the session within `YIFEI_SESSION_CHECK_MS` (1 s): here, once the shared clock
/// has moved past it.
fn a_revocation_reaches_a_second_server_within_the_session_check(app: &TestApp) {
    company_with_driver(app);
    let other = TestApp::start_configured(TestDb::reuse(&app.db), app.clock.clone(), defaults);
    let (access, refresh) = app.login("driver1");
    // The second server has checked (and cached) the session.
    assert_eq!(other.get("/api/v1/me", Some(&access)).status, 200);
    let r = app.post(
        "/api/v1/auth/logout",
        Some(&access),
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    app.get("/api/v1/me", Some(&access)).problem(401);
    app.clock.advance(Duration::milliseconds(1_001));
    other.get("/api/v1/me", Some(&access)).problem(401);
    // And the other way round, for a deactivation.
    app.user("admin1", Role::Admin, None);
    let (admin, _) = other.login("admin1");
    let (access, _) = app.login("driver1");
    assert_eq!(app.get("/api/v1/me", Some(&access)).status, 200);
    let id = app.get("/api/v1/me", Some(&access)).str("id");
    let r = other.post(
        &format!("/api/v1/users/{id}/deactivate"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    app.clock.advance(Duration::milliseconds(1_001));
    app.get("/api/v1/me", Some(&access)).problem(401);
    other.shutdown();
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn yifei(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .args(args)
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn yifei");
    if let Some(input) = stdin {
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("yifei ran");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Item 7, from the CLI: `yifei user deactivate|reactivate|password`, against a running
/// server on the same database, which notices within its session check.
fn cli_account_lifecycle(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start_configured(TestDb::reuse(&db), ManualClock::new(t0()), defaults);
    company_with_driver(&app);
    app.user("admin1", Role::Admin, None);
    let (driver, _) = app.login("driver1");

    let out = yifei(&db, &["user", "deactivate", "--login", "Driver1"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("driver1") && out.stdout.contains("deactivated"),
        "{}",
        out.stdout
    );
    app.clock.advance(Duration::milliseconds(1_001));
    app.get("/api/v1/me", Some(&driver)).problem(401);
    login_from(&app, "198.51.100.70", "driver1", PASSWORD).problem(401);

    let out = yifei(&db, &["user", "reactivate", "--login", "driver1"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = login_from(&app, "198.51.100.71", "driver1", PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    let driver = r.str("access_token");

    let out = yifei(
        &db,
        &["user", "password", "--login", "driver1", "--password-stdin"],
        Some("from the operator 1\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    app.clock.advance(Duration::milliseconds(1_001));
    app.get("/api/v1/me", Some(&driver)).problem(401);
    login_from(&app, "198.51.100.72", "driver1", PASSWORD).problem(401);
    let r = login_from(&app, "198.51.100.72", "driver1", "from the operator 1");
    assert_eq!(r.status, 200, "{}", r.text);

    // Refusals explain themselves and change nothing.
    let out = yifei(&db, &["user", "deactivate", "--login", "admin1"], None);
    assert!(
        out.code == 2 && out.stderr.contains("last active admin"),
        "{}",
        out.stderr
    );
    let r = login_from(&app, "198.51.100.73", "admin1", PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    let out = yifei(&db, &["user", "deactivate", "--login", "nobody"], None);
    assert!(
        out.code == 2 && out.stderr.contains("nobody"),
        "{}",
        out.stderr
    );
    let out = yifei(
        &db,
        &["user", "password", "--login", "driver1", "--password-stdin"],
        Some("short"),
    );
    assert!(
        out.code == 2 && out.stderr.contains("password"),
        "{}",
        out.stderr
    );
    let out = yifei(&db, &["user", "password", "--login", "driver1"], None);
    assert_ne!(out.code, 0, "the password never comes as an argument");
    let help = yifei(&db, &["user", "--help"], None);
    for cmd in ["deactivate", "reactivate", "password"] {
        assert!(help.stdout.contains(cmd), "{cmd}: {}", help.stdout);
    }
}

#[test]
fn cli_account_lifecycle_sqlite() {
    cli_account_lifecycle(Backend::Sqlite);
}

#[test]
fn cli_account_lifecycle_postgres() {
    cli_account_lifecycle(Backend::Postgres);
}
