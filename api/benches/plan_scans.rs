//! Scan-batch latency while a plan solves, against the same batches with no plan running:
//! planning holds no lock while the solver thinks, so the two should be alike.
//!
//! `cargo bench -p yifei-api --bench plan_scans` (both databases; PostgreSQL from
//! `YIFEI_TEST_PG_URL` / the scratch admin URL, skipped when unreachable). The demo county is
//! planned for tomorrow with `PLAN_MS` (default 10 000) of solver time; one-event `seal`
//! batches are sent one after another, `SCANS` (default 200) with no plan running, then for as
//! long as the plan runs. `PLAN_DB=sqlite` or `PLAN_DB=postgres` runs one database only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use yifei_api::auth::Caller;
use yifei_api::clock::SystemClock;
use yifei_api::config::Config;
use yifei_api::custody::store;
use yifei_api::db::Db;
use yifei_api::startup::Application;
use yifei_contract::{Category, NewContainer, Packaging, Role};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// The demo county and `n` labelled containers of the `clinic` demo login.
fn prepare(url: &str, n: usize) -> Vec<String> {
    let db = Db::open(url).expect("open");
    let mut conn = db.conn().expect("conn");
    yifei_api::demo::load_if_empty(&mut conn, Utc::now()).expect("demo");
    use yifei_api::db::schema::users;
    let (id, inst): (String, Option<String>) = users::table
        .filter(users::login.eq("clinic"))
        .select((users::id, users::institution_id))
        .first(&mut **conn)
        .expect("clinic user");
    let caller = Caller {
        user_id: id,
        role: Role::ClinicStaff,
        tenant: inst,
    };
    let spec = NewContainer {
        category: Category::Infectious,
        packaging: Packaging::Bag,
        note: None,
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
    let mut codes = Vec::with_capacity(n);
    while codes.len() < n {
        let k = (n - codes.len()).min(500);
        for c in store::create(&mut conn, &caller, k, &spec, Utc::now(), tz).expect("containers") {
            codes.push(c.code);
        }
    }
    codes
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn token(&self, login: &str) -> String {
        let v: Value = self
            .agent
            .post(format!("{}/auth/login", self.base))
            .send_json(json!({"login": login, "password": yifei_seed::DEMO_PASSWORD}))
            .expect("login")
            .body_mut()
            .read_json()
            .expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// One one-event seal batch; its latency.
    fn scan(&self, token: &str, code: &str) -> Duration {
        let body = json!({"events": [{
            "event_id": uuid::Uuid::now_v7().to_string(),
            "code": code,
            "action": "seal",
            "occurred_at": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
            "weight_kg": 1.25,
            "device_id": "bench",
        }]})
        .to_string();
        let t = Instant::now();
        let mut res = self
            .agent
            .post(format!("{}/scans", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .expect("post");
        let text = res.body_mut().read_to_string().expect("body");
        let took = t.elapsed();
        assert!(text.contains(r#""status":"accepted""#), "{text}");
        took
    }
}

/// (p50, p99 with no plan; p50, p99 during the plan; batches during; plan seconds).
fn measure(url: &str, scans: usize, plan_ms: u64) -> [f64; 6] {
    // Enough containers for the batches during the plan too (at most one per ms of plan).
    let codes = prepare(url, scans + plan_ms as usize / 2 + 100);
    let mut config = Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("bench-secret-of-at-least-thirty-two-bytes".into()),
        ..Config::default()
    };
    config.alert_interval = None;
    config.plan_time_limit = Duration::from_millis(plan_ms);
    config.plan_iterations = None;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_with_clock(config, Arc::new(SystemClock)).expect("server");
            tx.send((app.port(), app.handle())).expect("port");
            app.run_until_stopped().await.expect("run");
        })
    });
    let (port, handle) = rx.recv().expect("port");
    let client = Client {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
        base: format!("http://127.0.0.1:{port}/api/v1"),
    };
    let clinic = client.token("clinic");
    let dispatch = client.token("dispatch");
    let mut codes = codes.into_iter();
    let mut quiet: Vec<Duration> = (0..scans)
        .map(|_| client.scan(&clinic, &codes.next().expect("code")))
        .collect();
    quiet.sort();
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
    let tomorrow = (Utc::now().with_timezone(&tz) + chrono::Duration::days(1)).date_naive();
    let planner = {
        let (base, token) = (client.base.clone(), dispatch.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let t = Instant::now();
            let mut res = agent
                .post(format!("{base}/plans"))
                .header("authorization", format!("Bearer {token}"))
                .send_json(json!({"date": tomorrow}))
                .expect("plan");
            let text = res.body_mut().read_to_string().expect("body");
            assert_eq!(res.status().as_u16(), 201, "{text}");
            t.elapsed()
        })
    };
    // Let the plan read its facts and start solving (a bench, not a test: a pause is fine).
    std::thread::sleep(Duration::from_millis(300));
    let mut during = Vec::new();
    while !planner.is_finished() {
        let Some(code) = codes.next() else { break };
        during.push(client.scan(&clinic, &code));
    }
    let planned = planner.join().expect("planner");
    during.sort();
    actix_web::rt::System::new().block_on(handle.stop(true));
    server.join().expect("server thread");
    [
        percentile(&quiet, 0.50),
        percentile(&quiet, 0.99),
        percentile(&during, 0.50),
        percentile(&during, 0.99),
        during.len() as f64,
        planned.as_secs_f64(),
    ]
}

fn main() {
    let scans = env_usize("SCANS", 200);
    let plan_ms = env_usize("PLAN_MS", 10_000) as u64;
    let only = std::env::var("PLAN_DB").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("yifei-plan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    println!("scan batches (one event) with and without a {plan_ms} ms plan of the demo county");
    println!(
        "| database | no plan p50 ms | no plan p99 ms | during plan p50 ms | during plan p99 ms | batches during | plan s | p99 ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let pg_name = format!("yifei_plan_bench_{}", std::process::id());
    for backend in ["sqlite", "postgres"] {
        if !only.is_empty() && only != backend {
            continue;
        }
        let url = if backend == "sqlite" {
            dir.join("plan.db").display().to_string()
        } else {
            let admin_url = yifei_api::db::scratch::pg_admin_url();
            let Ok(mut admin) = PgConnection::establish(&admin_url) else {
                println!("| postgres | skipped: unreachable | | | | | | |");
                continue;
            };
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
                .expect("drop db");
            admin
                .batch_execute(&format!("CREATE DATABASE {pg_name}"))
                .expect("create db");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or_default();
            format!("{base}/{pg_name}")
        };
        let [q50, q99, d50, d99, n, secs] = measure(&url, scans, plan_ms);
        println!(
            "| {backend} | {q50:.1} | {q99:.1} | {d50:.1} | {d99:.1} | {n:.0} | {secs:.1} | **{:.2}** |",
            d99 / q99.max(0.001)
        );
        if backend == "postgres"
            && let Ok(mut admin) = PgConnection::establish(&yifei_api::db::scratch::pg_admin_url())
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
