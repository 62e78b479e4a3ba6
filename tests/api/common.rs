//! Test harness: a real server on a random port over a fresh SQLite file or a fresh
//! PostgreSQL database, a clock the test controls, and a small HTTP client.

use std::sync::mpsc;
use std::thread::JoinHandle;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use yifei_api::accounts::{self, NewAccount, NewOrg};
use yifei_api::clock::ManualClock;
use yifei_api::config::Config;
use yifei_api::startup::Application;
use yifei_contract::Role;

pub use yifei_api::db::Backend;
/// A database made for one test and dropped after it.
pub use yifei_api::db::scratch::Scratch as TestDb;

/// Runs `scenario` on the backend, or explains loudly why PostgreSQL was skipped.
pub fn run_on(backend: Backend, scenario: fn(&TestApp)) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let app = TestApp::start(db);
    scenario(&app);
}

/// One scenario on both databases: `both!(name);` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::common::run_on($crate::common::Backend::Sqlite, super::$name);
                }
                #[test]
                fn postgres() {
                    $crate::common::run_on($crate::common::Backend::Postgres, super::$name);
                }
            }
        )+
    };
}

/// The start of every test clock: a Monday morning in Asia/Shanghai (00:30 UTC).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 30, 0)
        .single()
        .expect("t0")
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub clock: ManualClock,
    pub db: TestDb,
    pub state: actix_web::web::Data<yifei_api::state::AppState>,
    handle: actix_web::dev::ServerHandle,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    agent: ureq::Agent,
    /// Login asked for at sign-up -> login given (sign-up appends a number).
    signed_up: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Settings of a test server: random port, small body limit so 413 is cheap to provoke.
pub fn test_config(url: &str) -> Config {
    Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".into(),
        // PostgreSQL requires a configured secret; SQLite generates its key file.
        jwt_secret: url
            .starts_with("postgres")
            .then(|| "test-secret-of-at-least-thirty-two-bytes".to_owned()),
        max_body_bytes: 256 * 1024,
        // Reproducible plans, fast.
        plan_iterations: Some(300),
        // Tests evaluate alerts and deliver mail themselves, at times they choose.
        alert_interval: None,
        mail_worker: false,
        // Every test client is 127.0.0.1 and the test clock stands still: the per-address
        // limits would add up over a whole scenario. `hardening_auth` tests the defaults.
        auth_rate_limit: 100_000,
        sign_up_rate_limit: 100_000,
        ..Config::default()
    }
}

impl TestApp {
    pub fn start(db: TestDb) -> TestApp {
        Self::start_with(db, ManualClock::new(t0()))
    }

    pub fn start_with(db: TestDb, clock: ManualClock) -> TestApp {
        Self::start_configured(db, clock, |_| {})
    }

    /// A server whose settings differ from `test_config` as `configure` says.
    pub fn start_configured(
        db: TestDb,
        clock: ManualClock,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = test_config(&db.url);
        configure(&mut config);
        let (tx, rx) = mpsc::channel();
        let c = clock.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build_with_clock(config, std::sync::Arc::new(c))
                    .expect("server builds");
                tx.send((app.port(), app.handle(), app.state()))
                    .expect("send port");
                app.run_until_stopped().await.expect("server runs");
            });
        });
        let (port, handle, state) = rx.recv().expect("server started");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            clock,
            db,
            state,
            handle,
            thread: std::sync::Mutex::new(Some(thread)),
            agent,
            signed_up: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Evaluates the alert rules now, through the server's own evaluator, and returns when an
    /// evaluation that started after this call has finished (reads never evaluate).
    pub fn evaluate_alerts(&self) {
        self.state.alerts.evaluate_now();
    }

    /// Stops the server (gracefully); a new one can then start on `TestDb::reuse(&app.db)`.
    pub fn shutdown(&self) {
        let h = self.handle.clone();
        actix_web::rt::System::new().block_on(h.stop(true));
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.join().expect("server thread");
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Res {
        let mut r = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        Res::from(r.call().expect("GET"))
    }

    pub fn get_with(&self, path: &str, token: Option<&str>, accept: &str) -> Res {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("accept", accept);
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        Res::from(r.call().expect("GET"))
    }

    pub fn put_json(&self, path: &str, token: Option<&str>, body: &Value) -> Res {
        let mut r = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        Res::from(r.send(body.to_string().as_bytes()).expect("PUT"))
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Res {
        self.post_raw(
            path,
            token,
            "application/json",
            body.to_string().into_bytes(),
        )
    }

    /// A JSON POST as relayed by a reverse proxy for `client` (`X-Forwarded-For`).
    pub fn post_forwarded(&self, path: &str, client: &str, body: &Value) -> Res {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-forwarded-for", client);
        Res::from(r.send(body.to_string().as_bytes()).expect("POST"))
    }

    pub fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Res {
        let mut r = self
            .agent
            .patch(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        Res::from(r.send(body.to_string().as_bytes()).expect("PATCH"))
    }

    pub fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Res {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        Res::from(r.send(&body[..]).expect("POST"))
    }

    pub fn request(&self, method: &str, path: &str) -> Res {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(())
            .expect("request");
        Res::from(self.agent.run(req).expect("request"))
    }

    /// Server-side setup as an operator would do it with the CLI.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut yifei_api::db::DbConnection) -> T) -> T {
        let mut conn = self.state.db.conn().expect("connection");
        f(&mut conn)
    }

    pub fn org(&self, kind: &str, name: &str, townships: &[&str]) -> String {
        self.with_conn(|c| {
            accounts::create_org(
                c,
                NewOrg {
                    kind: kind.into(),
                    name: name.into(),
                    lat: Some(36.3),
                    lng: Some(117.4),
                    townships: townships.iter().map(|t| t.to_string()).collect(),
                },
                t0(),
            )
            .expect("org")
        })
    }

    pub fn user(&self, login: &str, role: Role, org: Option<&str>) -> String {
        let (org_id, institution_id) = match role {
            Role::ClinicStaff | Role::HubKeeper => (None, org.map(str::to_owned)),
            _ => (org.map(str::to_owned), None),
        };
        self.with_conn(|c| {
            accounts::create_user(
                c,
                NewAccount {
                    login: login.into(),
                    role,
                    org_id,
                    institution_id,
                    email: None,
                    display_name: None,
                    password: PASSWORD.into(),
                },
                t0(),
            )
            .expect("user")
        })
    }

    /// The login an account signed up here as `requested` got (sign-up appends a number);
    /// any other login as it is.
    pub fn login_of(&self, requested: &str) -> String {
        let key = requested.trim().to_lowercase();
        self.signed_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
            .unwrap_or_else(|| requested.to_owned())
    }

    /// Signs in (a signed-up account by the login it asked for, see `login_of`); returns
    /// (access, refresh).
    pub fn login(&self, login: &str) -> (String, String) {
        let login = self.login_of(login);
        let r = self.post(
            "/api/v1/auth/login",
            None,
            &json!({"login": login, "password": PASSWORD}),
        );
        assert_eq!(r.status, 200, "login {login}: {}", r.text);
        (r.str("access_token"), r.str("refresh_token"))
    }

    /// A signed-up institution (pending) with its clinic account `clinic{n}` (as far as
    /// `login` is concerned: the real login has a number appended); returns its id.
    pub fn sign_up(&self, n: u32, township: &str) -> String {
        let r = self.post("/api/v1/institutions", None, &sign_up_body(n, township));
        assert_eq!(r.status, 201, "{}", r.text);
        self.signed_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("clinic{n}"), r.str("login"));
        r.str("id")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Password of every test account.
pub const PASSWORD: &str = "correct horse battery";

/// A valid sign-up body; `n` makes licence and login unique.
pub fn sign_up_body(n: u32, township: &str) -> Value {
    json!({
        "name": format!("测试村卫生室 {n}"),
        "kind": "village_health_room",
        "licence_no": format!("PDY-T-{n:04}"),
        "township": township,
        "village": "测试村",
        "address": "测试村1号",
        "location": {"lat": 36.25, "lng": 117.35},
        "beds": 0,
        "contact": {"name": "王医生", "phone": "13800000000", "email": "clinic@example.org"},
        "account": {"login": format!("clinic{n}"), "password": PASSWORD}
    })
}

/// A response, read completely.
pub struct Res {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl From<ureq::http::Response<ureq::Body>> for Res {
    fn from(mut r: ureq::http::Response<ureq::Body>) -> Res {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            text,
            body,
        }
    }
}

impl Res {
    pub fn str(&self, key: &str) -> String {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key} in {}", self.text))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts an RFC 9457 problem with this status; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{}",
            self.text
        );
        assert!(self.body["title"].is_string(), "{}", self.text);
        assert!(self.body["request_id"].is_string(), "{}", self.text);
        &self.body
    }

    /// Asserts a 422 naming `field`.
    #[track_caller]
    pub fn invalid_field(&self, field: &str) {
        let p = self.problem(422);
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            fields.contains(&field),
            "expected {field} in {fields:?}: {}",
            self.text
        );
    }
}
