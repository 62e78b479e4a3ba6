//! Email notifications through an outbox.
//!
//! Every email is first written to the `outbox` table by [`enqueue`], in the same transaction
//! as what caused it (an alert, a digest), so it exists exactly when its cause does. A worker
//! ([`spawn_worker`], one [`deliver_due`] pass per poll) then sends due rows over SMTP with
//! lettre. A failed attempt is retried with exponential backoff; while the SMTP server is down
//! or not configured, rows simply wait. Nothing is deleted: a sent row keeps `sent_at`, a row
//! given up after `max_attempts` is kept as `failed` with its last error.
//!
//! Delivery is at-least-once with a narrow window: a row is marked sent right after the server
//! accepts it; only a crash (or lost database) between the two can send it again, once its
//! lease has expired. Its Message-ID is derived from the row id, so the copy is recognisable.

mod smtp;
pub mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use lettre::Transport;

use crate::clock::SharedClock;
use crate::db::{Db, DbConnection, new_id};
use crate::error::ApiError;
use store::{Failure, OutboxRow};

diesel::table! {
    /// Emails to send, sent and given up (see the module documentation).
    outbox (id) {
        id -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

/// Default sender when `YIFEI_SMTP_FROM` is not set.
pub const DEFAULT_FROM: &str = "Yifei <noreply@yifei.local>";

/// Rows one pass leases at most: a backlog after an outage drains over a few polls instead of
/// one pass holding thousands of rows.
const BATCH: i64 = 100;

/// How long a pass holds its rows. Another worker (a second server process on the same
/// database) may take them after that, so a pass stops sending well before: see
/// [`deliver_due`].
const LEASE: Duration = Duration::from_secs(15 * 60);

/// Email settings.
#[derive(Clone)]
pub struct MailConfig {
    /// `YIFEI_SMTP_URL`. `None` keeps every email queued: deployments without a mail relay
    /// lose nothing and send the backlog once one is configured.
    pub smtp_url: Option<String>,
    /// Sender mailbox, e.g. `Yifei <noreply@yifei.local>`.
    pub from: String,
    /// Pause between two worker passes.
    pub poll: Duration,
    /// Attempts per email before it is marked `failed` (about 13 h of retries at 20).
    pub max_attempts: u32,
}

impl Default for MailConfig {
    /// No SMTP server, the default sender, a 10 s poll and 20 attempts.
    fn default() -> MailConfig {
        MailConfig {
            smtp_url: None,
            from: DEFAULT_FROM.to_owned(),
            poll: Duration::from_secs(10),
            max_attempts: 20,
        }
    }
}

/// Shows the server without its password (configs get logged).
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = match self.smtp_url.as_deref().map(smtp::SmtpUrl::parse) {
            None => "none (emails stay queued)".to_owned(),
            Some(Ok(u)) => u.to_string(),
            Some(Err(_)) => "invalid URL".to_owned(),
        };
        f.debug_struct("MailConfig")
            .field("smtp", &server)
            .field("from", &self.from)
            .field("poll", &self.poll)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl MailConfig {
    /// Reads (through `var`: the environment, in `config.rs`) `YIFEI_SMTP_URL`, `YIFEI_SMTP_FROM`, `YIFEI_SMTP_POLL_S` and
    /// `YIFEI_SMTP_MAX_ATTEMPTS`, checking each at startup so a typo fails the boot rather than
    /// every delivery. The URL takes the forms `smtp://host:port`,
    /// `smtp://user:pass@host:587?tls=starttls` and `smtps://host:465`, with
    /// `tls=none|starttls|required` (`required` is lettre's name for STARTTLS; credentials
    /// without `tls=` imply STARTTLS). Error messages never contain the password.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<MailConfig, ApiError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let smtp_url = set("YIFEI_SMTP_URL").map(|u| u.trim().to_owned());
        if let Some(u) = &smtp_url {
            smtp::SmtpUrl::parse(u)?;
        }
        let from = set("YIFEI_SMTP_FROM").unwrap_or_else(|| DEFAULT_FROM.to_owned());
        smtp::mailbox(&from).map_err(|e| ApiError::Config(format!("YIFEI_SMTP_FROM: {e}")))?;
        let number = |name: &str, default: u64| -> Result<u64, ApiError> {
            match set(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        ApiError::Config(format!("{name} must be a whole number >= 1, not {v:?}"))
                    }),
            }
        };
        let poll = Duration::from_secs(number("YIFEI_SMTP_POLL_S", 10)?);
        let max_attempts = u32::try_from(number("YIFEI_SMTP_MAX_ATTEMPTS", 20)?)
            .map_err(|_| ApiError::Config("YIFEI_SMTP_MAX_ATTEMPTS is too large".into()))?;
        Ok(MailConfig {
            smtp_url,
            from,
            poll,
            max_attempts,
        })
    }
}

/// Queues an email in the caller's transaction, so that it is sent if and only if the cause
/// commits. Returns false, writing nothing, when an email with the same `dedupe_key` to the
/// same recipient was already queued (whatever its status): the same condition never mails
/// anyone twice. Key by the condition (e.g. `alert:{id}`, `digest:{day}`): the recipient is
/// part of the uniqueness, so one key can address several people.
///
/// The address is checked at delivery, not here: a contact's malformed address must not roll
/// back the alert that caused the email; that row is marked `failed` on its first attempt.
pub fn enqueue(
    conn: &mut DbConnection,
    to: &str,
    subject: &str,
    body: &str,
    dedupe_key: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    store::insert(
        conn,
        &OutboxRow {
            id: new_id(),
            recipient: to.trim().to_owned(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            dedupe_key: dedupe_key.map(str::to_owned),
            status: store::PENDING.to_owned(),
            attempts: 0,
            next_attempt_at: now,
            lease_token: None,
            lease_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
        },
    )
}

/// Whether `s` is an address the worker can send to (e.g. to check users' emails when they are
/// entered, with the parser delivery uses).
pub fn is_valid_address(s: &str) -> bool {
    smtp::mailbox(s).is_ok()
}

/// What one [`deliver_due`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted by the SMTP server.
    pub sent: usize,
    /// Failed this time; another attempt is scheduled.
    pub failed: usize,
    /// Failed for the last time (attempts used up, or not deliverable as written).
    pub gave_up: usize,
}

static WARNED_NO_SMTP: AtomicBool = AtomicBool::new(false);

fn warn_no_smtp() {
    if !WARNED_NO_SMTP.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "YIFEI_SMTP_URL is not set: emails stay queued in the outbox until it is configured"
        );
    }
}

/// One delivery pass at time `now`: leases the due rows (up to 100) so that a concurrent pass
/// never sends the same row, sends each, and marks it sent or schedules a retry
/// (30 s doubling per failure, at most 1 h), giving up after `max_attempts`.
///
/// When the server cannot be reached at all (no SMTP reply: refused, timeout, TLS), the pass
/// stops trying: every leased row counts one failed attempt and waits for its backoff, instead
/// of each one waiting out its own timeout. An SMTP error reply (4xx or 5xx) affects only its
/// row; 5xx replies are retried too, since a wrong password or a full mailbox on the relay is
/// usually fixed within the retry window and giving up would lose the email. Only an address
/// that cannot be parsed fails at once. Without `smtp_url` the pass does nothing.
pub fn deliver_due(
    db: &Db,
    config: &MailConfig,
    now: NaiveDateTime,
) -> Result<DeliveryReport, ApiError> {
    let mut report = DeliveryReport::default();
    let Some(url) = config.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        warn_no_smtp();
        return Ok(report);
    };
    let server = smtp::SmtpUrl::parse(url)?;
    let from = smtp::mailbox(&config.from)
        .map_err(|e| ApiError::Config(format!("YIFEI_SMTP_FROM: {e}")))?;
    let lease = chrono::Duration::from_std(LEASE)
        .map_err(|e| ApiError::Internal(format!("lease duration: {e}")))?;

    let mut conn = db.conn()?;
    let token = new_id();
    let rows = store::claim(&mut conn, &token, now, now + lease, BATCH)?;
    if rows.is_empty() {
        return Ok(report);
    }
    let transport = server.transport()?;
    let started = Instant::now();
    let mut unreachable: Option<String> = None;
    let mut released = 0;
    for row in &rows {
        // Leave a wide margin before the lease expires and another pass may take the rows.
        if unreachable.is_none() && started.elapsed() > LEASE / 3 {
            store::release(&mut conn, row, &token)?;
            released += 1;
            continue;
        }
        // `Some((error, permanent))` when the attempt failed.
        let outcome = match smtp::message(&from, &row.id, &row.recipient, &row.subject, &row.body) {
            Err(e) => Some((e, true)),
            Ok(_) if unreachable.is_some() => unreachable.clone().map(|e| (e, false)),
            Ok(message) => match transport.send(&message) {
                Ok(_) => None,
                Err(e) => {
                    let error = e.to_string();
                    if e.status().is_none() {
                        unreachable = Some(error.clone());
                    } else {
                        let attempt = row.attempts + 1;
                        tracing::warn!(outbox_id = %row.id, attempt, %error, "SMTP refused");
                    }
                    Some((error, false))
                }
            },
        };
        match outcome {
            None => {
                if !store::mark_sent(&mut conn, row, &token, now)? {
                    tracing::warn!(outbox_id = %row.id, "email sent after its lease expired");
                }
                report.sent += 1;
            }
            Some((error, permanent)) => {
                let max = config.max_attempts;
                match store::mark_failed(&mut conn, row, &token, now, &error, max, permanent)? {
                    Failure::Retry => report.failed += 1,
                    Failure::GaveUp => {
                        let attempts = row.attempts + 1;
                        tracing::error!(outbox_id = %row.id, attempts, %error, "email given up");
                        report.gave_up += 1;
                    }
                }
            }
        }
    }
    if let Some(error) = &unreachable {
        let emails = report.failed + report.gave_up;
        tracing::warn!(server = %server, error = %error, emails, "SMTP server unreachable");
    }
    if report.sent > 0 || released > 0 {
        tracing::info!(
            sent = report.sent,
            failed = report.failed,
            gave_up = report.gave_up,
            released,
            "email delivery pass"
        );
    }
    Ok(report)
}

/// Starts the background thread that calls [`deliver_due`] every `poll` with the clock's time,
/// for the life of the process. Errors (database down, say) are logged and the loop goes on;
/// a panic in one pass is caught so the emails do not silently stop. Without `smtp_url` it logs
/// once that emails stay queued and the thread ends at once (nothing can be delivered until a
/// restart with a URL, and the queue is kept).
pub fn spawn_worker(db: Db, config: MailConfig, clock: SharedClock) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("yifei-mail".into())
        .spawn(move || {
            if config
                .smtp_url
                .as_deref()
                .is_none_or(|u| u.trim().is_empty())
            {
                warn_no_smtp();
                return;
            }
            tracing::info!(config = ?config, "email worker started");
            let poll = config.poll.max(Duration::from_millis(100));
            loop {
                let now = clock.now().naive_utc();
                let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    deliver_due(&db, &config, now)
                }));
                match pass {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "email delivery pass failed"),
                    Err(_) => tracing::error!("email delivery pass panicked"),
                }
                std::thread::sleep(poll);
            }
        })
        .expect("spawn the email worker thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<MailConfig, ApiError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MailConfig::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_keep_emails_queued() {
        let c = vars(&[]).expect("defaults");
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.from, DEFAULT_FROM);
        assert_eq!((c.poll, c.max_attempts), (Duration::from_secs(10), 20));
        let c = vars(&[("YIFEI_SMTP_URL", "  ")]).expect("blank");
        assert_eq!(c.smtp_url, None);
    }

    #[test]
    fn every_variable_is_read_and_checked() {
        let c = vars(&[
            (
                "YIFEI_SMTP_URL",
                "smtp://bot:s3cret@mail.example:587?tls=starttls",
            ),
            ("YIFEI_SMTP_FROM", "县卫健局 <alerts@bureau.example>"),
            ("YIFEI_SMTP_POLL_S", "3"),
            ("YIFEI_SMTP_MAX_ATTEMPTS", "5"),
        ])
        .expect("config");
        assert_eq!((c.poll, c.max_attempts), (Duration::from_secs(3), 5));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("bot:***@"),
            "{shown}"
        );

        for bad in [
            ("YIFEI_SMTP_URL", "smtp://bot:s3cret@mail.example?tls=maybe"),
            ("YIFEI_SMTP_FROM", "nobody"),
            ("YIFEI_SMTP_POLL_S", "0"),
            ("YIFEI_SMTP_MAX_ATTEMPTS", "many"),
        ] {
            let e = vars(&[bad]).expect_err(bad.0).to_string();
            assert!(e.contains(bad.0) && !e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn addresses_are_checked_with_the_delivery_parser() {
        assert!(is_valid_address("a@clinic.cn"));
        assert!(is_valid_address("Dr Wang <wang@clinic.cn>"));
        assert!(!is_valid_address("wang at clinic"));
        assert!(!is_valid_address(""));
    }
}
