//! The console's files and its cookie session (issue 16): the page policy, cached files by
//! hash, and the session's cookies, which count only with the console's header.

use serde_json::{Value, json};
use yifei_contract::Role;

use crate::both;
use crate::common::{PASSWORD, Res, TestApp};

both!(
    pages_are_served_with_a_policy_that_forbids_inline_script,
    the_console_session_lives_in_http_only_cookies,
    a_cookie_counts_only_with_the_console_header,
    refreshing_rotates_the_cookie_and_signing_out_ends_the_session,
);

/// A request with these headers (and a JSON body when given).
fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Res {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(b.to_string())
                .expect("request"),
        ),
        None => agent.run(req.body(()).expect("request")),
    };
    Res::from(res.expect("request"))
}

/// `name=value` of each `Set-Cookie` of the answer, with its attributes.
fn set_cookies(res: &Res) -> Vec<String> {
    res.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn cookie_value(res: &Res, name: &str) -> Option<String> {
    set_cookies(res).iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

const CONSOLE: (&str, &str) = ("x-yifei-console", "1");

fn sign_in(app: &TestApp, login: &str) -> Res {
    send(
        app,
        "POST",
        "/api/v1/console/session",
        &[CONSOLE],
        Some(&json!({"login": login, "password": PASSWORD})),
    )
}

fn pages_are_served_with_a_policy_that_forbids_inline_script(app: &TestApp) {
    let page = app.request("GET", "/");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(page.text.contains("/assets/js/app.js"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // No inline script in the page itself (the policy would block it).
    assert!(
        !page.text.contains("<script>"),
        "inline script in index.html"
    );

    // A file comes with its hash; asking with that hash answers 304 without a body.
    let js = app.request("GET", "/assets/js/app.js");
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    let etag = js.header("etag").expect("etag");
    let again = send(
        app,
        "GET",
        "/assets/js/app.js",
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());
    for root_file in ["/sw.js", "/manifest.webmanifest"] {
        assert_eq!(app.request("GET", root_file).status, 200, "{root_file}");
    }
    // Unknown files and climbing out of the folder are 404 problems.
    app.request("GET", "/assets/nothing.js").problem(404);
    app.request("GET", "/assets/..%2F..%2FCargo.toml")
        .problem(404);
}

fn the_console_session_lives_in_http_only_cookies(app: &TestApp) {
    let bureau = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&bureau));
    let res = sign_in(app, "bureau1");
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["user"]["role"], "bureau_staff");
    assert!(
        res.body.get("access_token").is_none(),
        "no token in the body: {}",
        res.text
    );
    let cookies = set_cookies(&res);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("yifei_at="))
        .expect("access cookie");
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("yifei_rt="))
        .expect("refresh cookie");
    for c in [access, refresh] {
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Strict"), "{c}");
    }
    assert!(access.contains("Path=/api/v1"), "{access}");
    assert!(
        refresh.contains("Path=/api/v1/console/session"),
        "{refresh}"
    );
    // Over plain HTTP a Secure cookie would never come back; behind an HTTPS proxy it is Secure.
    assert!(!access.contains("Secure"), "{access}");
    let proxied = send(
        app,
        "POST",
        "/api/v1/console/session",
        &[CONSOLE, ("x-forwarded-proto", "https")],
        Some(&json!({"login": "bureau1", "password": PASSWORD})),
    );
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    for c in set_cookies(&proxied) {
        assert!(c.contains("Secure"), "{c}");
    }

    // Without the console header, signing in is refused: another site cannot sign a visitor
    // in to an account of its choosing.
    let forged = send(
        app,
        "POST",
        "/api/v1/console/session",
        &[],
        Some(&json!({"login": "bureau1", "password": PASSWORD})),
    );
    forged.problem(403);
    assert!(set_cookies(&forged).is_empty());
    sign_in(app, "bureau1x").problem(401);
}

fn a_cookie_counts_only_with_the_console_header(app: &TestApp) {
    let company = app.org("disposal_company", "处置公司", &[]);
    app.user("dispatch1", Role::Dispatcher, Some(&company));
    let res = sign_in(app, "dispatch1");
    let at = cookie_value(&res, "yifei_at").expect("access cookie");
    let cookie = format!("yifei_at={at}");
    let me = send(
        app,
        "GET",
        "/api/v1/me",
        &[("cookie", &cookie), CONSOLE],
        None,
    );
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["login"], "dispatch1");
    // The browser sends the cookie with any request; only the console's scripts add the header.
    let bare = send(app, "GET", "/api/v1/me", &[("cookie", &cookie)], None);
    assert!(
        bare.problem(403)["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("x-yifei-console")
    );
    let wrong = send(
        app,
        "GET",
        "/api/v1/me",
        &[("cookie", &cookie), ("x-yifei-console", "yes")],
        None,
    );
    wrong.problem(403);
    // Role checks apply to cookie callers as to bearer callers.
    let report = send(
        app,
        "GET",
        "/api/v1/users",
        &[("cookie", &cookie), CONSOLE],
        None,
    );
    report.problem(403);
    // A bearer header wins over a cookie and needs no console header (the mobile app).
    let (token, _) = app.login("dispatch1");
    let bearer = format!("Bearer {token}");
    let me = send(
        app,
        "GET",
        "/api/v1/me",
        &[("authorization", &bearer), ("cookie", "yifei_at=junk")],
        None,
    );
    assert_eq!(me.status, 200, "{}", me.text);
    let junk = send(
        app,
        "GET",
        "/api/v1/me",
        &[("cookie", "yifei_at=junk"), CONSOLE],
        None,
    );
    junk.problem(401);
}

fn refreshing_rotates_the_cookie_and_signing_out_ends_the_session(app: &TestApp) {
    let company = app.org("disposal_company", "处置公司", &[]);
    app.user("plant1", Role::PlantOperator, Some(&company));
    let res = sign_in(app, "plant1");
    let rt = cookie_value(&res, "yifei_rt").expect("refresh cookie");
    let old_refresh = format!("yifei_rt={rt}");
    send(
        app,
        "POST",
        "/api/v1/console/session/refresh",
        &[("cookie", &old_refresh)],
        None,
    )
    .problem(403);
    let renewed = send(
        app,
        "POST",
        "/api/v1/console/session/refresh",
        &[("cookie", &old_refresh), CONSOLE],
        None,
    );
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let new_rt = cookie_value(&renewed, "yifei_rt").expect("new refresh cookie");
    assert_ne!(new_rt, rt, "the refresh cookie rotates");
    let new_at = cookie_value(&renewed, "yifei_at").expect("new access cookie");
    send(
        app,
        "POST",
        "/api/v1/console/session/refresh",
        &[CONSOLE],
        None,
    )
    .problem(401);

    // Signing out with the refresh cookie ends the session: the access cookie stops working
    // and both cookies are cleared.
    let new_refresh = format!("yifei_rt={new_rt}");
    let out = send(
        app,
        "DELETE",
        "/api/v1/console/session",
        &[("cookie", &new_refresh), CONSOLE],
        None,
    );
    assert_eq!(out.status, 204, "{}", out.text);
    let cleared = set_cookies(&out);
    assert!(
        cleared.iter().any(|c| c.starts_with("yifei_at=;")
            || c.starts_with("yifei_at=\"\"")
            || (c.starts_with("yifei_at=") && c.contains("Max-Age=0"))),
        "{cleared:?}"
    );
    let access = format!("yifei_at={new_at}");
    send(
        app,
        "GET",
        "/api/v1/me",
        &[("cookie", &access), CONSOLE],
        None,
    )
    .problem(401);
    send(
        app,
        "POST",
        "/api/v1/console/session/refresh",
        &[("cookie", &new_refresh), CONSOLE],
        None,
    )
    .problem(401);
}
