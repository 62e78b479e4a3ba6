//! Whether `GET /alerts` can slow everyone (issue #14, item 4): the rate of `GET /me` of one
//! client alone, against the same client while 8 connections of a pending (unapproved)
//! clinic hammer `GET /alerts`, and while 8 connections of county-wide bureau staff do (the
//! heaviest honest reader: the whole county's alerts). The reference is 8 connections on
//! `/me` itself: on two cores any 8 busy connections take most of the CPU, so `/alerts` is
//! harmless when it leaves `/me` the rate that `/me` load does. Same server, same run, the
//! demo county on a fresh database.
//!
//! `cargo bench -p yifei-api --bench alerts` (SQLite; `ALERTS_PG=1` adds PostgreSQL from
//! `YIFEI_TEST_PG_URL`). `ALERTS_SECS` (default 5) is the length of each phase.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use yifei_api::clock::SystemClock;
use yifei_api::config::Config;
use yifei_api::db::Db;
use yifei_api::startup::Application;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn login(base: &str, login: &str, password: &str) -> String {
    let v: Value = agent()
        .post(format!("{base}/auth/login"))
        .send_json(json!({"login": login, "password": password}))
        .expect("login")
        .body_mut()
        .read_json()
        .expect("json");
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {login}: {v}"))
        .to_owned()
}

/// `clients` connections sending `GET path` until `stop` is set; each thread returns its
/// count. Every answer must be 200.
fn hammer(
    base: &str,
    path: &str,
    token: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..clients)
        .map(|_| {
            let (url, token, stop) = (format!("{base}{path}"), token.to_owned(), stop.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut r = a
                        .get(&url)
                        .header("authorization", format!("Bearer {token}"))
                        .call()
                        .expect("GET");
                    assert_eq!(r.status(), 200, "{url}");
                    let _ = r.body_mut().read_to_string();
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// `/me` per second of one client while 8 connections send `GET load_path` as `reader`
/// (none: alone); also returns the load's requests per second.
fn measure(base: &str, me_token: &str, reader: Option<(&str, &str)>, secs: f64) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = reader
        .map(|(path, t)| hammer(base, path, t, 8, &stop))
        .unwrap_or_default();
    // Let the load start before measuring.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let me = hammer(base, "/me", me_token, 1, &stop);
    let load_started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let me_n: u64 = me.into_iter().map(|h| h.join().expect("me")).sum();
    let me_secs = started.elapsed().as_secs_f64();
    let load_n: u64 = load.into_iter().map(|h| h.join().expect("load")).sum();
    let load_secs = load_started.elapsed().as_secs_f64() + 0.3;
    (me_n as f64 / me_secs, load_n as f64 / load_secs)
}

fn run(url: &str, secs: f64) {
    {
        let db = Db::open(url).expect("open");
        let mut conn = db.conn().expect("conn");
        yifei_api::demo::load_if_empty(&mut conn, Utc::now()).expect("demo");
    }
    let config = Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".into(),
        ..Config::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_with_clock(config, Arc::new(SystemClock)).expect("server");
            tx.send((app.port(), app.handle(), app.state()))
                .expect("port");
            app.run_until_stopped().await.expect("run");
        })
    });
    let (port, handle, state) = rx.recv().expect("port");
    let base = format!("http://127.0.0.1:{port}/api/v1");
    // The stored alerts of the demo county, as the background evaluator leaves them.
    state.alerts.evaluate_now();
    let pw = yifei_seed::DEMO_PASSWORD;
    let signup = json!({
        "name": "压测诊所", "kind": "clinic", "licence_no": "PDY-BENCH-1", "township": "石门镇",
        "village": "", "address": "1号", "location": {"lat": 36.3, "lng": 117.4}, "beds": 0,
        "contact": {"name": "测", "phone": "13800000000"},
        "account": {"login": "bench-pending", "password": "a long bench password"}
    });
    let r = agent()
        .post(format!("{base}/institutions"))
        .send_json(&signup)
        .expect("sign up");
    assert_eq!(r.status(), 201, "sign-up");
    let pending = login(&base, "bench-pending", "a long bench password");
    let bureau = login(&base, "bureau", pw);
    let me = login(&base, "dispatch", pw);
    let alerts: Value = agent()
        .get(format!("{base}/alerts"))
        .header("authorization", format!("Bearer {bureau}"))
        .call()
        .expect("alerts")
        .body_mut()
        .read_json()
        .expect("json");
    let stored = alerts["items"].as_array().map_or(0, Vec::len);
    let (alone, _) = measure(&base, &me, None, secs);
    // The reference load: 8 more connections on `/me` itself, the cheapest signed-in read.
    let (with_me, me_rate) = measure(&base, &me, Some(("/me", &bureau)), secs);
    let (with_pending, pending_rate) =
        measure(&base, &me, Some(("/alerts?limit=50", &pending)), secs);
    let (with_bureau, bureau_rate) = measure(&base, &me, Some(("/alerts?limit=50", &bureau)), secs);
    let (again, _) = measure(&base, &me, None, secs);
    println!(
        "{}: {stored} alerts on the bureau's first page; /me alone {alone:.0} req/s (again at the end {again:.0})",
        url.split(':').next().unwrap_or("?")
    );
    println!(
        "  8 x bureau on /me ({me_rate:.0} req/s, the reference load): /me {with_me:.0} req/s = {:.2} of alone",
        with_me / alone
    );
    println!(
        "  8 x pending clinic on /alerts ({pending_rate:.0} req/s): /me {with_pending:.0} req/s = {:.2} of alone",
        with_pending / alone
    );
    println!(
        "  8 x county bureau on /alerts ({bureau_rate:.0} req/s): /me {with_bureau:.0} req/s = {:.2} of alone",
        with_bureau / alone
    );
    actix_web::rt::System::new().block_on(handle.stop(true));
    server.join().expect("server thread");
}

fn main() {
    let secs: f64 = std::env::var("ALERTS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0);
    let dir = std::env::temp_dir().join(format!("yifei-alerts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bench.db");
    run(path.to_str().expect("path"), secs);
    let _ = std::fs::remove_dir_all(&dir);
    if std::env::var("ALERTS_PG").is_ok_and(|v| v == "1") {
        let Some(db) = yifei_api::db::scratch::Scratch::create(yifei_api::db::Backend::Postgres)
        else {
            println!("postgres: unreachable, skipped");
            return;
        };
        run(&db.url, secs);
    }
}
