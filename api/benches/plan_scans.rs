//! Scan-batch latency while a plan solves, against the same batches with no plan running:
//! planning holds no lock while the solver thinks, and the solver's thread runs at a lower
//! OS priority, so the two should be alike.
//!
//! `cargo bench -p yifei-api --bench plan_scans` (both databases; PostgreSQL from
//! `YIFEI_TEST_PG_URL` / the scratch admin URL, skipped when unreachable). The demo county is
//! loaded and `PLAN_STOPS` (default 2 000) generated institutions are added around its plant
//! (positions of `routing::generator::rural_day`, seed `PLAN_SEED`, default 15), each with
//! one container sealed 26-36 h before, so that they are due tomorrow, and one vehicle per
//! 50 of them; tomorrow is then planned with `PLAN_MS` (default 30 000) of solver time.
//! One-event `seal` batches are sent one after another, `SCANS` (default 200) with no plan
//! running, then for as long as the plan runs. `PLAN_DB=sqlite` or `PLAN_DB=postgres` runs
//! one database only; `PLAN_STOPS=0` plans the demo county alone.

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

/// `stops` generated institutions around the demo plant, each with one container sealed
/// 26-36 h ago (due tomorrow), and one vehicle per 50 of them for the demo company.
fn generate(conn: &mut yifei_api::db::DbConnection, stops: usize, seed: u64) {
    use yifei_api::custody::store::{ContainerRow, EventRow, chain_next, insert_events, refold};
    use yifei_api::custody::{codes, micros};
    use yifei_api::db::schema::{containers, institutions, organisations, vehicles};
    use yifei_api::institutions::store::InstitutionRow;
    use yifei_api::runs::fleet::VehicleRow;
    if stops == 0 {
        return;
    }
    let day = yifei_routing::generator::rural_day(
        &yifei_routing::generator::DayConfig::with_stops(stops, seed),
    );
    let (org, plat, plng): (String, Option<f64>, Option<f64>) = organisations::table
        .filter(organisations::kind.eq("disposal_company"))
        .select((organisations::id, organisations::lat, organisations::lng))
        .first(conn)
        .expect("company");
    let (dlat, dlng) = (
        plat.expect("plant") - day.plant.lat,
        plng.expect("plant") - day.plant.lng,
    );
    let template: InstitutionRow = institutions::table
        .filter(institutions::status.eq("active"))
        .filter(institutions::service_mode.eq("direct"))
        .select(InstitutionRow::as_select())
        .first(conn)
        .expect("a direct institution");
    let admin: String = yifei_api::db::schema::users::table
        .filter(yifei_api::db::schema::users::role.eq("admin"))
        .select(yifei_api::db::schema::users::id)
        .first(conn)
        .expect("admin");
    let now = micros(Utc::now());
    let mut rng = seed.max(1);
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for (k, s) in day.stops.iter().enumerate() {
        let (lat, lng) = (s.at.lat + dlat, s.at.lng + dlng);
        let mut errors = Vec::new();
        let cell = yifei_api::institutions::cell_of(
            &yifei_contract::LatLng { lat, lng },
            "location",
            &mut errors,
        )
        .expect("cell");
        let inst = InstitutionRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: format!("生成卫生室 {k:04}"),
            licence_no: format!("GEN-{seed}-{k:04}"),
            lat,
            lng,
            h3_cell: i64::try_from(u64::from(cell)).unwrap_or_default(),
            service_mode: "direct".into(),
            hub_id: None,
            collection_interval_h: 48,
            contact_email: None,
            ..template.clone()
        };
        diesel::insert_into(institutions::table)
            .values(&inst)
            .execute(conn)
            .expect("institution");
        let sealed = now - chrono::Duration::minutes(26 * 60 + next(600) as i64);
        let mut row = ContainerRow::labelled(
            codes::generate().expect("code"),
            inst.id.clone(),
            "infectious".into(),
            "bag".into(),
            None,
            admin.clone(),
            sealed - chrono::Duration::minutes(30),
            now,
        );
        let kg = 0.3 + next(300) as f64 / 100.0;
        let seal = chain_next(
            &mut row,
            EventRow {
                id: uuid::Uuid::now_v7().to_string(),
                container_id: String::new(),
                seq: 0,
                action: "seal".into(),
                occurred_at: sealed,
                received_at: now,
                actor_id: admin.clone(),
                actor_role: "clinic_staff".into(),
                weight_g: Some(yifei_api::custody::grams(kg)),
                lat: None,
                lng: None,
                run_id: None,
                reason: None,
                method: None,
                device_id: Some("bench".into()),
                via_parent: None,
                parent_code: None,
                prev_hash: String::new(),
                hash: String::new(),
                weight_source: None,
                batch: None,
                disposed_at: None,
                corrects: None,
                new_value: None,
            },
        );
        diesel::insert_into(containers::table)
            .values(&row)
            .execute(conn)
            .expect("container");
        insert_events(conn, &[seal]).expect("seal");
        let places = yifei_api::custody::fold::Places {
            institution: (lat, lng),
            hub: None,
        };
        refold(conn, &mut row, places, now).expect("fold");
    }
    for v in 0..stops.div_ceil(50) {
        diesel::insert_into(vehicles::table)
            .values(VehicleRow {
                id: uuid::Uuid::now_v7().to_string(),
                org_id: org.clone(),
                plate: format!("鲁J·G{v:04}"),
                capacity_kg: 800,
                capacity_units: 200,
                refrigerated: false,
                shift_start: "07:30".into(),
                shift_end: "17:30".into(),
                driver_id: None,
                active: true,
                created_at: now,
                updated_at: now,
            })
            .execute(conn)
            .expect("vehicle");
    }
}

/// The demo county (with `stops` generated institutions) and `n` labelled containers of the
/// `clinic` demo login.
fn prepare(url: &str, n: usize, stops: usize, seed: u64) -> Vec<String> {
    let db = Db::open(url).expect("open");
    let mut conn = db.conn().expect("conn");
    yifei_api::demo::load_if_empty(&mut conn, Utc::now()).expect("demo");
    generate(&mut conn, stops, seed);
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
fn measure(url: &str, scans: usize, plan_ms: u64, stops: usize, seed: u64) -> [f64; 6] {
    // Enough containers for the batches during the plan too (at most one per ms of plan).
    let codes = prepare(url, scans + plan_ms as usize / 2 + 100, stops, seed);
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
    let plan_ms = env_usize("PLAN_MS", 30_000) as u64;
    let stops = env_usize("PLAN_STOPS", 2_000);
    let seed = env_usize("PLAN_SEED", 15) as u64;
    let only = std::env::var("PLAN_DB").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("yifei-plan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    println!(
        "scan batches (one event) with and without a {plan_ms} ms plan of the demo county and {stops} generated institutions (seed {seed})"
    );
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
        let [q50, q99, d50, d99, n, secs] = measure(&url, scans, plan_ms, stops, seed);
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
