//! Scan-ingest throughput and latency through HTTP, against inserting the same rows straight
//! into the same kind of database in the same batch size (the floor the API can approach).
//!
//! `cargo bench -p yifei-api --bench ingest` (both databases; PostgreSQL from
//! `YIFEI_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, skipped when
//! unreachable). `INGEST_BATCHES` (per client, default 60), `INGEST_CLIENTS` (default 8) and
//! `INGEST_BATCH` (events per batch, default 100) change the load; `INGEST_DB=sqlite` or
//! `INGEST_DB=postgres` runs one database only; `INGEST_ROUNDS` (default 5) repeats each
//! measurement on fresh databases and prints the median.
//!
//! Two floors: diesel's many-row insert, one transaction per batch (the plain way to insert
//! rows), and the server's own insert statement alone (`store::insert_events`: on PostgreSQL
//! a prepared `unnest` insert that is its own transaction), the cheapest way this code knows
//! to store the events, with none of the reading, checking and updating a scan needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use yifei_api::auth::Caller;
use yifei_api::clock::SystemClock;
use yifei_api::config::Config;
use yifei_api::custody::{chain, store};
use yifei_api::db::schema::scan_events;
use yifei_api::db::{Db, DbConnection};
use yifei_api::startup::Application;
use yifei_contract::{Category, NewContainer, Packaging, Role};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Load {
    clients: usize,
    batches: usize,
    batch: usize,
}

/// A database with the demo county and `n` labelled containers of the `clinic` demo login.
fn prepare(url: &str, n: usize) -> (Db, Caller, Vec<String>) {
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
    drop(conn);
    (db, caller, codes)
}

fn event(code: &str) -> Value {
    json!({
        "event_id": uuid::Uuid::now_v7().to_string(),
        "code": code,
        "action": "seal",
        "occurred_at": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        "weight_kg": 1.25,
        "device_id": "bench",
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Events per second and batch latencies through the HTTP API.
fn through_api(url: &str, load: &Load) -> (f64, Vec<Duration>) {
    let n = load.clients * load.batches * load.batch;
    let (_db, _caller, codes) = prepare(url, n);
    let mut config = Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".into(),
        // PostgreSQL requires a configured signing secret.
        jwt_secret: Some("bench-secret-of-at-least-thirty-two-bytes".into()),
        ..Config::default()
    };
    config.max_body_bytes = 4 * 1024 * 1024;
    // The alert rules run every few seconds in production, whatever the upload rate; here
    // they would only compete with the measured uploads for the two cores.
    config.alert_interval = None;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_with_clock(config, Arc::new(SystemClock)).expect("server");
            tx.send((app.port(), app.handle())).expect("port");
            app.run_until_stopped().await.expect("run");
        })
    });
    let (port, handle) = rx.recv().expect("port");
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let login: Value = agent
        .post(format!("{base}/auth/login"))
        .send_json(json!({"login": "clinic", "password": yifei_seed::DEMO_PASSWORD}))
        .expect("login")
        .body_mut()
        .read_json()
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    // The phones' work (building the JSON) is done before the clock starts: the machine's two
    // cores should measure the server, as the direct path measures the database.
    let bodies: Vec<Vec<String>> = (0..load.clients)
        .map(|w| {
            (0..load.batches)
                .map(|b| {
                    let from = (w * load.batches + b) * load.batch;
                    let events: Vec<Value> = codes[from..from + load.batch]
                        .iter()
                        .map(|c| event(c))
                        .collect();
                    json!({"events": events}).to_string()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let workers: Vec<_> = bodies
        .into_iter()
        .map(|mine| {
            let (token, base, batch) = (token.clone(), base.clone(), load.batch);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut lat = Vec::with_capacity(mine.len());
                for body in mine {
                    let t = Instant::now();
                    let mut res = agent
                        .post(format!("{base}/scans"))
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .send(body.as_bytes())
                        .expect("post");
                    let text = res.body_mut().read_to_string().expect("body");
                    lat.push(t.elapsed());
                    assert_eq!(
                        text.matches(r#""status":"accepted""#).count(),
                        batch,
                        "{text}"
                    );
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    actix_web::rt::System::new().block_on(handle.stop(true));
    server.join().expect("server thread");
    (n as f64 / secs, lat)
}

/// How a floor inserts its rows.
#[derive(Clone, Copy, PartialEq)]
enum Floor {
    /// diesel's many-row `INSERT ... VALUES`, in a transaction.
    Plain,
    /// `store::insert_events`, the server's statement, alone.
    Server,
}

/// Events per second inserting the same rows directly, one batch at a time on each of the
/// same number of concurrent connections.
fn direct(url: &str, load: &Load, floor: Floor) -> f64 {
    let n = load.clients * load.batches * load.batch;
    let (db, caller, codes) = prepare(url, n);
    let ids: Vec<String> = {
        use yifei_api::db::schema::containers;
        let mut conn = db.conn().expect("conn");
        let mut map = std::collections::HashMap::new();
        for (code, id) in containers::table
            .select((containers::code, containers::id))
            .load::<(String, String)>(&mut **conn)
            .expect("ids")
        {
            map.insert(code, id);
        }
        codes.iter().map(|c| map[c].clone()).collect()
    };
    let ids = Arc::new(ids);
    let started = Instant::now();
    let workers: Vec<_> = (0..load.clients)
        .map(|w| {
            let (db, ids, caller) = (db.clone(), ids.clone(), caller.clone());
            let (batches, batch) = (load.batches, load.batch);
            std::thread::spawn(move || {
                let mut conn = db.conn().expect("conn");
                for b in 0..batches {
                    let from = (w * batches + b) * batch;
                    let now = yifei_api::custody::micros(Utc::now());
                    let rows: Vec<store::EventRow> = ids[from..from + batch]
                        .iter()
                        .map(|cid| {
                            let mut e = store::EventRow {
                                id: uuid::Uuid::now_v7().to_string(),
                                container_id: cid.clone(),
                                seq: 1,
                                action: "seal".into(),
                                occurred_at: now,
                                received_at: now,
                                actor_id: caller.user_id.clone(),
                                actor_role: "clinic_staff".into(),
                                weight_g: Some(1250),
                                lat: None,
                                lng: None,
                                run_id: None,
                                reason: None,
                                method: None,
                                device_id: Some("bench".into()),
                                via_parent: None,
                                parent_code: None,
                                prev_hash: chain::genesis(cid),
                                hash: String::new(),
                                weight_source: None,
                                batch: None,
                                disposed_at: None,
                                corrects: None,
                                new_value: None,
                            };
                            e.hash = chain::hash(&e.prev_hash, &e.chained());
                            e
                        })
                        .collect();
                    if floor == Floor::Server {
                        store::insert_events(&mut conn, &rows).expect("insert");
                        continue;
                    }
                    yifei_api::db::write_tx(&mut conn, |c| {
                        match c {
                            DbConnection::Sqlite(c) => diesel::insert_into(scan_events::table)
                                .values(&rows)
                                .execute(c)?,
                            DbConnection::Postgresql(c) => diesel::insert_into(scan_events::table)
                                .values(&rows)
                                .execute(c)?,
                        };
                        Ok(())
                    })
                    .expect("insert");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// One measurement: the floors and the API on fresh databases of one backend.
struct Row {
    floor: f64,
    server_floor: f64,
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.rate / self.floor
    }

    fn server_ratio(&self) -> f64 {
        self.rate / self.server_floor
    }

    fn print(&self, label: &str) {
        println!(
            "| {label} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            self.floor,
            self.server_floor,
            self.rate,
            self.ratio(),
            self.server_ratio(),
            self.p50,
            self.p95,
            self.p99
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// This run's PostgreSQL databases: the two floors' and the API's.
fn bench_databases() -> [String; 3] {
    ["d", "s", "a"].map(|k| format!("yifei_bench_{k}_{}", std::process::id()))
}

/// Drops this run's PostgreSQL databases (each round re-creates them; the last stay until here).
fn drop_databases() {
    let Ok(mut admin) = PgConnection::establish(&yifei_api::db::scratch::pg_admin_url()) else {
        return;
    };
    for n in bench_databases() {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
    }
}

/// Fresh database URLs for the two floors and the API, or `None` when PostgreSQL is
/// unreachable.
fn databases(backend: &str, round: usize, dir: &std::path::Path) -> Option<[String; 3]> {
    if backend == "sqlite" {
        return Some(
            ["direct", "server", "api"]
                .map(|k| dir.join(format!("{k}-{round}.db")).display().to_string()),
        );
    }
    let pg_admin = yifei_api::db::scratch::pg_admin_url();
    let mut admin = PgConnection::establish(&pg_admin).ok()?;
    let base = pg_admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or_default();
    let names = bench_databases();
    for n in &names {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {n}"))
            .expect("drop db");
        admin
            .batch_execute(&format!("CREATE DATABASE {n}"))
            .expect("create db");
    }
    Some(names.map(|n| format!("{base}/{n}")))
}

fn main() {
    let load = Load {
        clients: env_usize("INGEST_CLIENTS", 8),
        batches: env_usize("INGEST_BATCHES", 60),
        batch: env_usize("INGEST_BATCH", 100),
    };
    let rounds = env_usize("INGEST_ROUNDS", 5).max(1);
    let dir = std::env::temp_dir().join(format!("yifei-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    println!(
        "scan ingest: {} clients x {} batches x {} events ({} events per run), {rounds} rounds",
        load.clients,
        load.batches,
        load.batch,
        load.clients * load.batches * load.batch
    );
    println!(
        "| database (round) | direct insert (events/s) | server's insert alone (events/s) | API (events/s) | API / direct | API / insert alone | batch p50 ms | p95 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let only = std::env::var("INGEST_DB").unwrap_or_default();
    for backend in ["sqlite", "postgres"] {
        if !only.is_empty() && only != backend {
            continue;
        }
        let mut rows = Vec::new();
        for round in 1..=rounds {
            let Some([d, s, a]) = databases(backend, round, &dir) else {
                println!("| {backend} | skipped: PostgreSQL unreachable | | | | | | | |");
                break;
            };
            let floor = direct(&d, &load, Floor::Plain);
            let server_floor = direct(&s, &load, Floor::Server);
            let (rate, lat) = through_api(&a, &load);
            let row = Row {
                floor,
                server_floor,
                rate,
                p50: percentile(&lat, 0.50),
                p95: percentile(&lat, 0.95),
                p99: percentile(&lat, 0.99),
            };
            row.print(&format!("{backend} ({round})"));
            rows.push(row);
        }
        if rows.len() > 1 {
            println!(
                "| **{backend} median** | {:.0} | {:.0} | {:.0} | **{:.2}** | **{:.2}** | {:.1} | {:.1} | {:.1} |",
                median(rows.iter().map(|r| r.floor).collect()),
                median(rows.iter().map(|r| r.server_floor).collect()),
                median(rows.iter().map(|r| r.rate).collect()),
                median(rows.iter().map(Row::ratio).collect()),
                median(rows.iter().map(Row::server_ratio).collect()),
                median(rows.iter().map(|r| r.p50).collect()),
                median(rows.iter().map(|r| r.p95).collect()),
                median(rows.iter().map(|r| r.p99).collect()),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if only.is_empty() || only == "postgres" {
        drop_databases();
    }
}
