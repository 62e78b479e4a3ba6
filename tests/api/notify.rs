//! The email outbox against a real SMTP server on loopback (mailin-embedded, in process):
//! nothing is lost while the server is down, the backlog goes out exactly once when it comes
//! back, a condition never mails the same person twice, and two workers never send one row.
//! Time is injected, so backoff is stepped over instead of slept through.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use mailin_embedded::{Handler, Response, Server, SslConfig, response};
use yifei_api::db::{Db, write_tx};
use yifei_api::notify::store::{OutboxRow, backoff};
use yifei_api::notify::{DeliveryReport, MailConfig, deliver_due, enqueue, outbox, spawn_worker};

use crate::common::{Backend, TestDb, t0};

/// One scenario on a fresh database of each backend (no HTTP server needed).
macro_rules! on_both {
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

on_both!(
    retries_until_the_server_is_back_then_sends_once,
    dedupe_key_queues_one_email_per_condition_and_recipient,
    without_a_url_emails_stay_queued,
    gives_up_after_max_attempts_and_keeps_the_row,
    refused_email_is_retried_alone,
    two_workers_never_send_the_same_row,
);

/// The background worker delivers on its own; without a URL it ends at once. SQLite only: the
/// worker thread outlives the test, and a dropped PostgreSQL database would make it log errors.
#[test]
fn worker_thread_delivers_in_the_background() {
    let Some(test_db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    let db = Db::open(&test_db.url).expect("open database");
    let clock = std::sync::Arc::new(yifei_api::clock::ManualClock::new(t0()));
    let none = MailConfig {
        smtp_url: None,
        ..config(0, 20)
    };
    spawn_worker(db.clone(), none, clock.clone())
        .join()
        .expect("worker without a URL ends");

    queue(&db, &[("a@example.cn", "Background", None)], at(0));
    let port = free_port();
    let server = SmtpServer::start(port);
    let config = MailConfig {
        poll: Duration::from_millis(100),
        ..config(port, 20)
    };
    let _worker = spawn_worker(db.clone(), config, clock);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while server.inbox().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        received(&server),
        BTreeSet::from([pair("a@example.cn", "Background")])
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.inbox().len(), 1, "sent once across polls");
    assert_eq!(rows(&db)[0].status, "sent");
}

fn run(backend: Backend, scenario: fn(&Db)) {
    let Some(test_db) = TestDb::create(backend) else {
        return;
    };
    let db = Db::open(&test_db.url).expect("open database");
    scenario(&db);
}

/// An email as the SMTP server received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    to: Vec<String>,
    data: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_default()
    }

    fn subject(&self) -> &str {
        self.header("Subject")
    }

    fn message_id(&self) -> &str {
        let id = self.header("Message-ID");
        assert!(!id.is_empty(), "no Message-ID: {}", self.data);
        id
    }
}

/// A session of the capturing server (mailin clones it per connection).
#[derive(Clone, Default)]
struct Capture {
    inbox: Arc<Mutex<Vec<Received>>>,
    /// Answer 451 to this many recipients before accepting.
    refuse: Arc<AtomicUsize>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Capture {
    fn rcpt(&mut self, _to: &str) -> Response {
        // Refuse at RCPT: mailin stays in its DATA state after an error reply to the final dot,
        // so a refusal there would leave the client waiting for its QUIT to be answered.
        let refuse = self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if refuse.is_ok() {
            return response::INTERNAL_ERROR;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Received {
                to: std::mem::take(&mut self.to),
                data: String::from_utf8_lossy(&self.data).into_owned(),
            });
        response::OK
    }
}

/// A running SMTP server (its thread lives until the test process ends).
pub(crate) struct SmtpServer {
    capture: Capture,
}

impl SmtpServer {
    /// Starts serving on `port` of 127.0.0.1.
    pub(crate) fn start(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        let capture = Capture::default();
        let mut server = Server::new(capture.clone());
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("SMTP test server stopped: {e}");
            }
        });
        SmtpServer { capture }
    }

    pub(crate) fn inbox(&self) -> Vec<Received> {
        self.capture
            .inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn refuse_next(&self, n: usize) {
        self.capture.refuse.store(n, Ordering::SeqCst);
    }
}

/// A loopback port with nothing listening on it (yet).
pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn config(port: u16, max_attempts: u32) -> MailConfig {
    MailConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        from: "Yifei <noreply@yifei.local>".into(),
        poll: Duration::from_secs(1),
        max_attempts,
    }
}

fn at(seconds: i64) -> NaiveDateTime {
    t0().naive_utc() + chrono::Duration::seconds(seconds)
}

/// Queues emails `(to, subject, dedupe_key)` in one transaction; returns what `enqueue` said.
fn queue(db: &Db, emails: &[(&str, &str, Option<&str>)], now: NaiveDateTime) -> Vec<bool> {
    let mut conn = db.conn().expect("conn");
    write_tx(&mut conn, |c| {
        emails
            .iter()
            .map(|(to, subject, key)| {
                enqueue(c, to, subject, &format!("Body of {subject}"), *key, now)
            })
            .collect()
    })
    .expect("enqueue")
}

fn rows(db: &Db) -> Vec<OutboxRow> {
    let mut conn = db.conn().expect("conn");
    outbox::table
        .order(outbox::id)
        .select(OutboxRow::as_select())
        .load(&mut **conn)
        .expect("outbox rows")
}

fn pass(db: &Db, config: &MailConfig, now: NaiveDateTime) -> DeliveryReport {
    deliver_due(db, config, now).expect("delivery pass")
}

fn report(sent: usize, failed: usize, gave_up: usize) -> DeliveryReport {
    DeliveryReport {
        sent,
        failed,
        gave_up,
    }
}

/// `(recipients, subject)` of every email received, after checking that no outbox row (its
/// Message-ID) arrived twice.
pub(crate) fn received(server: &SmtpServer) -> BTreeSet<(String, String)> {
    let inbox = server.inbox();
    let ids: BTreeSet<&str> = inbox.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), inbox.len(), "duplicate sends: {inbox:?}");
    inbox
        .iter()
        .map(|m| (m.to.join(","), m.subject().to_owned()))
        .collect()
}

fn pair(to: &str, subject: &str) -> (String, String) {
    (to.to_owned(), subject.to_owned())
}

fn retries_until_the_server_is_back_then_sends_once(db: &Db) {
    let port = free_port();
    let config = config(port, 20);
    let queued = queue(
        db,
        &[
            ("clinic@example.cn", "Storage overdue", Some("alert:1")),
            (
                "Dispatcher <dispatch@example.cn>",
                "Storage overdue",
                Some("alert:1"),
            ),
        ],
        at(0),
    );
    assert_eq!(queued, [true, true]);

    // Nothing listens: the pass fails, schedules a retry for both, and keeps them.
    assert_eq!(pass(db, &config, at(0)), report(0, 2, 0));
    for r in rows(db) {
        assert_eq!((r.status.as_str(), r.attempts), ("pending", 1));
        assert_eq!(r.next_attempt_at, at(0) + backoff(0));
        assert!(r.last_error.is_some() && r.lease_token.is_none());
    }

    // The server comes back, but the rows wait out their backoff.
    let server = SmtpServer::start(port);
    assert_eq!(pass(db, &config, at(10)), report(0, 0, 0));
    assert!(server.inbox().is_empty());

    // Once due, each email goes out exactly once.
    assert_eq!(pass(db, &config, at(30)), report(2, 0, 0));
    assert_eq!(
        received(&server),
        BTreeSet::from([
            pair("clinic@example.cn", "Storage overdue"),
            pair("dispatch@example.cn", "Storage overdue"),
        ])
    );
    let mail = &server.inbox()[0];
    assert!(
        mail.data.contains("From: Yifei <noreply@yifei.local>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Body of Storage overdue"),
        "{}",
        mail.data
    );
    for r in rows(db) {
        assert_eq!((r.status.as_str(), r.attempts), ("sent", 2));
        assert_eq!(r.sent_at, Some(at(30)));
        assert_eq!((r.last_error, r.lease_token), (None, None));
    }

    // Later passes send nothing more.
    assert_eq!(pass(db, &config, at(30)), report(0, 0, 0));
    assert_eq!(pass(db, &config, at(86_400)), report(0, 0, 0));
    assert_eq!(server.inbox().len(), 2);
}

fn dedupe_key_queues_one_email_per_condition_and_recipient(db: &Db) {
    let port = free_port();
    let server = SmtpServer::start(port);
    let config = config(port, 20);
    let first = queue(
        db,
        &[
            ("a@example.cn", "Not collected", Some("alert:7")),
            ("b@example.cn", "Not collected", Some("alert:7")),
            ("a@example.cn", "Weekly note", None),
        ],
        at(0),
    );
    assert_eq!(first, [true, true, true]);
    assert_eq!(pass(db, &config, at(0)), report(3, 0, 0));

    // The same condition again, before and after its email was sent: nothing new.
    let again = queue(
        db,
        &[
            ("a@example.cn", "Not collected (again)", Some("alert:7")),
            ("  b@example.cn ", "Not collected (again)", Some("alert:7")),
            ("a@example.cn", "Weekly note 2", None),
            ("c@example.cn", "Not collected", Some("alert:7")),
        ],
        at(60),
    );
    assert_eq!(again, [false, false, true, true]);
    assert_eq!(rows(db).len(), 5);
    assert_eq!(pass(db, &config, at(60)), report(2, 0, 0));
    assert_eq!(
        received(&server),
        BTreeSet::from([
            pair("a@example.cn", "Not collected"),
            pair("b@example.cn", "Not collected"),
            pair("a@example.cn", "Weekly note"),
            pair("a@example.cn", "Weekly note 2"),
            pair("c@example.cn", "Not collected"),
        ])
    );
    assert_eq!(server.inbox().len(), 5);

    // A rolled-back cause leaves no email behind.
    let mut conn = db.conn().expect("conn");
    let rolled_back: Result<(), _> = write_tx(&mut conn, |c| {
        enqueue(c, "d@example.cn", "Never", "x", Some("alert:8"), at(60))?;
        Err(yifei_api::error::ApiError::Conflict(
            "the cause failed".into(),
        ))
    });
    assert!(rolled_back.is_err());
    assert_eq!(rows(db).len(), 5);
}

fn without_a_url_emails_stay_queued(db: &Db) {
    queue(
        db,
        &[("a@example.cn", "Digest", Some("digest:2026-03-02"))],
        at(0),
    );
    let none = MailConfig {
        smtp_url: None,
        ..config(0, 20)
    };
    for s in [0, 3600, 86_400] {
        assert_eq!(pass(db, &none, at(s)), report(0, 0, 0));
    }
    let r = &rows(db)[0];
    assert_eq!((r.status.as_str(), r.attempts), ("pending", 0));
    assert_eq!(r.lease_token, None);

    // Configured later, the backlog goes out.
    let port = free_port();
    let server = SmtpServer::start(port);
    assert_eq!(pass(db, &config(port, 20), at(86_400)), report(1, 0, 0));
    assert_eq!(
        received(&server),
        BTreeSet::from([pair("a@example.cn", "Digest")])
    );
}

fn gives_up_after_max_attempts_and_keeps_the_row(db: &Db) {
    let port = free_port();
    let config = config(port, 3);
    queue(
        db,
        &[
            ("a@example.cn", "Unreachable", None),
            ("not an address", "Undeliverable", None),
        ],
        at(0),
    );
    // The malformed address fails for good at once; the other is retried at 30 s and 90 s.
    let (first, second) = (at(0) + backoff(0), at(0) + backoff(0) + backoff(1));
    assert_eq!(second, at(90));
    let bad_first = pass(db, &config, at(0));
    assert_eq!(bad_first.gave_up, 1);
    assert_eq!(bad_first.failed, 1);
    assert_eq!(
        pass(db, &config, first - chrono::Duration::seconds(1)),
        report(0, 0, 0)
    );
    assert_eq!(pass(db, &config, first), report(0, 1, 0));
    assert_eq!(pass(db, &config, second), report(0, 0, 1));
    assert_eq!(pass(db, &config, at(86_400)), report(0, 0, 0));

    let rows = rows(db);
    assert_eq!(rows.len(), 2, "failed rows are kept");
    for r in &rows {
        assert_eq!(r.status, "failed");
        assert!(r.last_error.is_some());
    }
    let bad = rows
        .iter()
        .find(|r| r.recipient == "not an address")
        .expect("bad row");
    assert_eq!(bad.attempts, 1);
    assert!(
        bad.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("invalid address")
    );
    let gone = rows
        .iter()
        .find(|r| r.recipient == "a@example.cn")
        .expect("row");
    assert_eq!(gone.attempts, 3);

    // The server coming back later does not resurrect given-up rows.
    let server = SmtpServer::start(port);
    assert_eq!(pass(db, &config, at(90_000)), report(0, 0, 0));
    assert!(server.inbox().is_empty());
}

fn refused_email_is_retried_alone(db: &Db) {
    let port = free_port();
    let server = SmtpServer::start(port);
    let config = config(port, 20);
    queue(
        db,
        &[
            ("a@example.cn", "First", None),
            ("b@example.cn", "Second", None),
        ],
        at(0),
    );
    // A 451 for one message is that message's failure; the server is up, so the other goes.
    server.refuse_next(1);
    assert_eq!(pass(db, &config, at(0)), report(1, 1, 0));
    assert_eq!(server.inbox().len(), 1);
    let refused = rows(db)
        .into_iter()
        .find(|r| r.status == "pending")
        .expect("refused row");
    assert!(
        refused
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("451")
    );
    assert_eq!(pass(db, &config, at(30)), report(1, 0, 0));
    assert_eq!(
        received(&server),
        BTreeSet::from([
            pair("a@example.cn", "First"),
            pair("b@example.cn", "Second")
        ])
    );
}

fn two_workers_never_send_the_same_row(db: &Db) {
    let port = free_port();
    let server = SmtpServer::start(port);
    let config = config(port, 20);
    let emails: Vec<(String, String)> = (0..12)
        .map(|i| (format!("staff{i}@bureau.example"), format!("Digest {i}")))
        .collect();
    let refs: Vec<(&str, &str, Option<&str>)> = emails
        .iter()
        .map(|(to, s)| (to.as_str(), s.as_str(), None))
        .collect();
    queue(db, &refs, at(0));

    // A row leased by a pass that is still running is left alone until its lease expires.
    let held = rows(db)[0].id.clone();
    {
        let mut conn = db.conn().expect("conn");
        diesel::update(outbox::table.find(&held))
            .set((
                outbox::lease_token.eq(Some("another-pass")),
                outbox::lease_until.eq(Some(at(600))),
            ))
            .execute(&mut **conn)
            .expect("lease");
    }

    let reports: Vec<DeliveryReport> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| pass(db, &config, at(0))))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    assert_eq!(
        reports.iter().map(|r| r.sent).sum::<usize>(),
        11,
        "{reports:?}"
    );
    assert_eq!(server.inbox().len(), 11);

    assert_eq!(pass(db, &config, at(599)), report(0, 0, 0));
    assert_eq!(pass(db, &config, at(600)), report(1, 0, 0));
    let want: BTreeSet<(String, String)> = emails.into_iter().collect();
    assert_eq!(received(&server), want);
    assert!(rows(db).iter().all(|r| r.status == "sent"));
}
