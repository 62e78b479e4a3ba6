//! A kill -9 of the server during concurrent ingest loses no acknowledged scan.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::common::{Backend, TestDb};

fn spawn_server(db: &TestDb) -> (Child, u16) {
    spawn_server_with(db, &[]).expect("server starts")
}

/// Spawns `yifei serve` on the database with extra environment variables and waits until it
/// listens; `Err(its log)` when it exits first (a refusal to start).
pub(crate) fn spawn_server_with(
    db: &TestDb,
    vars: &[(&str, &str)],
) -> Result<(Child, u16), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .arg("serve")
        .envs(vars.iter().copied())
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_BIND", "127.0.0.1:0")
        // Required on PostgreSQL (SQLite would generate a key file beside the database).
        .env("YIFEI_JWT_SECRET", "crash-test-secret-of-at-least-32-bytes")
        .env("YIFEI_LOG", "info")
        .env("YIFEI_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut log = String::new();
    let port = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.wait();
            return Err(log);
        };
        log.push_str(&line);
        log.push('\n');
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["fields"]["message"] == "listening" {
            break v["fields"]["port"].as_u64().expect("port") as u16;
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    // Server errors are shown with the test's output.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("\"ERROR\"") {
                eprintln!("server: {line}");
            }
        }
    });
    Ok((child, port))
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

pub(crate) fn post(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, ureq::Error> {
    let mut r = agent.post(url).header("content-type", "application/json");
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let mut res = r.send(body.to_string().as_bytes())?;
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.body_mut().read_json::<Value>()
}

fn kill_during_ingest(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let demo = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .arg("demo")
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_LOG", "warn")
        .output()
        .expect("demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let (mut server, port) = spawn_server(&db);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let a = agent();
    let login = post(
        &a,
        &format!("{base}/auth/login"),
        None,
        &json!({"login": "clinic", "password": yifei_seed::DEMO_PASSWORD}),
    )
    .expect("login");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let sheet = post(
        &a,
        &format!("{base}/containers/batch"),
        Some(&token),
        &json!({"count": 40, "category": "infectious", "packaging": "bag"}),
    )
    .expect("labels");
    let codes: Vec<String> = sheet["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect();

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, codes, token, base) = (acked.clone(), stop.clone(), codes.clone(), token.clone(), base.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let events: Vec<Value> = (0..25)
                        .map(|i| {
                            n += 1;
                            json!({
                                "event_id": uuid::Uuid::now_v7().to_string(),
                                "code": codes[(w * 7 + n + i) % codes.len()],
                                "action": "seal",
                                "occurred_at": (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339(),
                                "weight_kg": 1.0,
                            })
                        })
                        .collect();
                    match post(&a, &format!("{base}/scans"), Some(&token), &json!({"events": events})) {
                        Ok(res) => {
                            let mut acked = acked.lock().unwrap_or_else(|p| p.into_inner());
                            for r in res["results"].as_array().into_iter().flatten() {
                                if r["status"] == "accepted" {
                                    acked.push(r["event_id"].as_str().unwrap_or_default().to_owned());
                                }
                            }
                        }
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acked.lock().map(|a| a.len()).unwrap_or(0) < 300
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill().expect("kill -9"); // SIGKILL: no graceful shutdown, no flush
    server.wait().expect("reap");
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let acked: Vec<String> = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        acked.len() >= 300,
        "only {} events acknowledged before the kill",
        acked.len()
    );

    // Restart on the same database: every acknowledged event is there, chains intact.
    let (mut server, port) = spawn_server(&db);
    let stored: HashSet<String> = {
        use yifei_api::db::schema::scan_events;
        let dbh = yifei_api::db::Db::open(&db.url).expect("open");
        let mut conn = dbh.conn().expect("conn");
        scan_events::table
            .select(scan_events::id)
            .load::<String>(&mut **conn)
            .expect("ids")
            .into_iter()
            .collect()
    };
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let admin = post(
        &a,
        &format!("{base}/auth/login"),
        None,
        &json!({"login": "admin", "password": yifei_seed::DEMO_PASSWORD}),
    )
    .expect("admin");
    let admin = admin["access_token"].as_str().expect("token").to_owned();
    for code in codes.iter().take(5) {
        let mut res = a
            .get(format!("{base}/containers/{code}/audit"))
            .header("authorization", format!("Bearer {admin}"))
            .call()
            .expect("audit");
        let audit: Value = res.body_mut().read_json().expect("json");
        assert_eq!(audit["valid"], true, "{audit}");
    }
    server.kill().expect("kill");
    server.wait().expect("reap");
}

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_scan_sqlite() {
    kill_during_ingest(Backend::Sqlite);
}

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_scan_postgres() {
    kill_during_ingest(Backend::Postgres);
}
