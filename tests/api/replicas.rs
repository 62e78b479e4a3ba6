//! Several replicas on one database (README "Several replicas"): two real `yifei serve`
//! processes on one PostgreSQL database behave as one server. PostgreSQL only, except the
//! last test: SQLite means one server process, and a second `serve` on its file is refused.
//! The PostgreSQL tests skip only when the server is unreachable and `YIFEI_REQUIRE_PG` is
//! not set, as the rest of the harness does.

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::common::{Backend, TestDb};
use crate::crash::{agent, post, spawn_server_with};

/// The demo county on a fresh database of `backend` (None: PostgreSQL is not reachable).
fn demo_db(backend: Backend) -> Option<TestDb> {
    let db = TestDb::create(backend)?;
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
    Some(db)
}

/// Two server processes on the database, and their API bases.
struct Pair {
    servers: Vec<Child>,
    bases: [String; 2],
}

impl Pair {
    fn start(db: &TestDb, vars: &[(&str, &str)]) -> Pair {
        let mut servers = Vec::new();
        let mut bases = Vec::new();
        for _ in 0..2 {
            let (child, port) = spawn_server_with(db, vars).expect("replica starts");
            servers.push(child);
            bases.push(format!("http://127.0.0.1:{port}/api/v1"));
        }
        let bases = [bases[0].clone(), bases[1].clone()];
        Pair { servers, bases }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

fn token(base: &str, login: &str) -> String {
    let r = post(
        &agent(),
        &format!("{base}/auth/login"),
        None,
        &json!({"login": login, "password": yifei_seed::DEMO_PASSWORD}),
    )
    .expect("login");
    r["access_token"].as_str().expect("token").to_owned()
}

/// The same scan batch uploaded to both replicas at the same moment is stored once: every
/// event is accepted by exactly one of them and a duplicate on the other, never a 500.
#[test]
fn the_same_batch_through_both_replicas_is_stored_once_postgres() {
    let Some(db) = demo_db(Backend::Postgres) else {
        return;
    };
    let pair = Pair::start(&db, &[]);
    let clinic = token(&pair.bases[0], "clinic");
    let sheet = post(
        &agent(),
        &format!("{}/containers/batch", pair.bases[0]),
        Some(&clinic),
        &json!({"count": 50, "category": "infectious", "packaging": "bag"}),
    )
    .expect("labels");
    let codes: Vec<String> = sheet["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect();
    let mut all_ids = BTreeSet::new();
    for round in 0..5 {
        // Each round seals ten containers of its own.
        let events: Vec<Value> = codes[round * 10..round * 10 + 10]
            .iter()
            .map(|code| {
                let id = uuid::Uuid::now_v7().to_string();
                all_ids.insert(id.clone());
                json!({
                    "event_id": id,
                    "code": code,
                    "action": "seal",
                    "occurred_at": (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339(),
                    "weight_kg": 1.5,
                })
            })
            .collect();
        let body = json!({ "events": events });
        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<Value> = std::thread::scope(|s| {
            let hs: Vec<_> = pair
                .bases
                .iter()
                .map(|base| {
                    let (body, clinic, barrier) = (&body, &clinic, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        post(&agent(), &format!("{base}/scans"), Some(clinic), body).expect("scans")
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("upload")).collect()
        });
        for (i, e) in events.iter().enumerate() {
            let statuses: BTreeSet<String> = answers
                .iter()
                .map(|a| a["results"][i]["status"].as_str().unwrap_or("?").to_owned())
                .collect();
            let accepted = answers
                .iter()
                .filter(|a| a["results"][i]["status"] == "accepted")
                .count();
            assert!(
                accepted == 1 && statuses.iter().all(|s| s == "accepted" || s == "duplicate"),
                "event {} of round {round}: {statuses:?} ({answers:?})",
                e["event_id"]
            );
        }
    }
    let stored: Vec<String> = {
        use yifei_api::db::schema::scan_events;
        let dbh = yifei_api::db::Db::open(&db.url).expect("open");
        let mut conn = dbh.conn().expect("conn");
        scan_events::table
            .filter(scan_events::id.eq_any(all_ids.iter().cloned().collect::<Vec<_>>()))
            .select(scan_events::id)
            .load::<String>(&mut **conn)
            .expect("ids")
    };
    assert_eq!(
        stored.len(),
        all_ids.len(),
        "each event stored exactly once"
    );
}

/// The lockout is the database's: failed sign-ins spread over both replicas lock the login
/// after `YIFEI_LOGIN_MAX_FAILURES`, on both, even for the right password.
#[test]
fn failed_logins_over_both_replicas_lock_the_account_postgres() {
    let Some(db) = demo_db(Backend::Postgres) else {
        return;
    };
    let pair = Pair::start(
        &db,
        &[
            ("YIFEI_LOGIN_MAX_FAILURES", "4"),
            ("YIFEI_AUTH_RATE_LIMIT", "1000"),
        ],
    );
    let a = agent();
    let attempt = |base: &str, password: &str| -> u16 {
        a.post(format!("{base}/auth/login"))
            .header("content-type", "application/json")
            .send(
                json!({"login": "clinic", "password": password})
                    .to_string()
                    .as_bytes(),
            )
            .expect("login answered")
            .status()
            .as_u16()
    };
    for i in 0..4 {
        assert_eq!(
            attempt(&pair.bases[i % 2], "wrong-password"),
            401,
            "failure {i}"
        );
    }
    assert_eq!(attempt(&pair.bases[0], "wrong-password"), 429);
    assert_eq!(attempt(&pair.bases[1], "wrong-password"), 429);
    assert_eq!(
        attempt(&pair.bases[1], yifei_seed::DEMO_PASSWORD),
        429,
        "locked on both"
    );
    assert_eq!(
        attempt(&pair.bases[0], yifei_seed::DEMO_PASSWORD),
        429,
        "locked on both"
    );
    // Another login from the same address is not affected.
    let other = a
        .post(format!("{}/auth/login", pair.bases[1]))
        .header("content-type", "application/json")
        .send(
            json!({"login": "admin", "password": yifei_seed::DEMO_PASSWORD})
                .to_string()
                .as_bytes(),
        )
        .expect("admin login");
    assert_eq!(other.status().as_u16(), 200);
}

/// With both replicas' mail workers polling the one outbox, every email reaches the SMTP
/// server once.
#[test]
fn the_outbox_delivers_each_email_once_with_both_replicas_running_postgres() {
    let Some(db) = demo_db(Backend::Postgres) else {
        return;
    };
    let port = crate::notify::free_port();
    let smtp = crate::notify::SmtpServer::start(port);
    let url = format!("smtp://127.0.0.1:{port}");
    let _pair = Pair::start(&db, &[("YIFEI_SMTP_URL", &url), ("YIFEI_SMTP_POLL_S", "1")]);
    let dbh = yifei_api::db::Db::open(&db.url).expect("open");
    const N: usize = 60;
    {
        let mut conn = dbh.conn().expect("conn");
        let now = chrono::Utc::now().naive_utc();
        yifei_api::db::write_tx(&mut conn, |c| {
            for i in 0..N {
                yifei_api::notify::enqueue(
                    c,
                    &format!("r{i}@example.cn"),
                    &format!("Email {i}"),
                    "body",
                    Some(&format!("replicas:{i}")),
                    now,
                )?;
            }
            Ok(())
        })
        .expect("queued");
    }
    let pending = |dbh: &yifei_api::db::Db| -> i64 {
        use yifei_api::notify::outbox;
        let mut conn = dbh.conn().expect("conn");
        outbox::table
            .filter(outbox::status.ne("sent"))
            .count()
            .get_result(&mut **conn)
            .expect("count")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while pending(&dbh) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(pending(&dbh), 0, "all sent");
    // Two more polls of each worker: nothing is sent again.
    std::thread::sleep(Duration::from_millis(2500));
    let received = crate::notify::received(&smtp);
    assert_eq!(smtp.inbox().len(), N, "each email once");
    assert_eq!(received.len(), N);
}

/// SQLite means one server process: a second `yifei serve` on the same file refuses to start
/// and says why; once the first has stopped, a new one starts.
#[test]
fn a_second_server_on_one_sqlite_file_is_refused_sqlite() {
    let Some(db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    let (mut first, _) = spawn_server_with(&db, &[]).expect("first server");
    let refused = spawn_server_with(&db, &[]).expect_err("the second is refused");
    assert!(
        refused.contains("another `yifei serve` is running") && refused.contains("PostgreSQL"),
        "{refused}"
    );
    first.kill().expect("kill");
    first.wait().expect("reap");
    let (mut again, _) = spawn_server_with(&db, &[]).expect("starts after the first ended");
    again.kill().expect("kill");
    again.wait().expect("reap");
}
