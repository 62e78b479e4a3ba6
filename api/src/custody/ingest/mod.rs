//! Scan ingest: a batch of offline scans, each accepted, recognised as a duplicate, or
//! rejected with a reason, in one transaction committed before the answer is sent.
//!
//! By concern: `checks` (what needs no database), `read` (the batch's reads), `draft`
//! (working the batch out), `write` (storing it); which thread stores it is
//! `custody::scan_writer`'s.

mod checks;
mod draft;
mod read;
mod write;

use chrono::{DateTime, Duration, Utc};
use yifei_contract::{ScanEvent, ScanResult};

use crate::auth::Caller;
use crate::db::DbConnection;
use crate::error::ApiError;

pub use checks::check_batch;
pub(crate) use draft::{Draft, Lock, draft};
pub(crate) use write::write;
use write::write_unlocked;

/// Device clocks may run this far ahead of the server's before a scan is refused.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Scans older than this (by the server's clock) are refused: a phone offline for a month
/// has lost its uploads' meaning, and a clock reset to 1970 must not raise alerts.
pub const DEFAULT_MAX_AGE: Duration = Duration::days(30);

/// The window a device's time must fall in: not more than `skew` ahead of the server's clock
/// (nor more than `skew` before its container was labelled), not more than `max_age` behind.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    pub skew: Duration,
    pub max_age: Duration,
}

impl TimeLimits {
    pub const DEFAULT: TimeLimits = TimeLimits {
        skew: DEFAULT_CLOCK_SKEW,
        max_age: DEFAULT_MAX_AGE,
    };
}

/// Whether a failed store means "work the batch out again": a collision with another writer
/// or a draft gone stale, never a fault of the batch.
pub(super) fn is_retryable(e: &ApiError) -> bool {
    match e {
        ApiError::Db(diesel::result::Error::RollbackTransaction) => true,
        ApiError::Db(diesel::result::Error::DatabaseError(kind, info)) => {
            let m = info.message();
            matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
            ) || m.contains("deadlock")
                || m.contains("database is locked")
                || m.contains("busy")
        }
        _ => false,
    }
}

/// Ingests a batch. Retries the whole transaction when concurrent writers collide (a
/// deadlock on PostgreSQL, a busy database on SQLite); replays make retries harmless.
pub fn ingest(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    check_batch(events)?;
    // First worked out without locks and stored only if nothing changed meanwhile: the
    // containers' locks are then held for the writes alone.
    match draft(conn, caller, events, now, limits, tz, Lock::None)
        .and_then(|p| write_unlocked(conn, p))
    {
        Err(e) if is_retryable(&e) => {
            tracing::debug!(error = %e, "scan batch went stale; redone under lock");
        }
        done => return done,
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::db::write_tx(conn, |conn| {
            ingest_once(conn, caller, events, now, limits, tz)
        }) {
            Err(e) if attempt < 6 && is_retryable(&e) => {
                tracing::debug!(attempt, error = %e, "scan batch collided; retrying");
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            other => return other,
        }
    }
}

/// Works a batch out and stores it, under the containers' locks.
pub(super) fn ingest_once(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    let d = draft(conn, caller, events, now, limits, tz, Lock::Rows)?;
    write(conn, d)
}

#[cfg(test)]
mod tests {
    use super::checks::*;
    use super::draft::*;
    use super::read::*;
    use super::write::*;
    use super::*;
    use crate::custody::{codes, store};
    use crate::db::schema::users;
    use crate::db::schema::{containers, scan_events};
    use crate::db::scratch::Scratch;
    use crate::db::{Backend, Db};
    use crate::wire::parse_enum;
    use diesel::prelude::*;
    use yifei_contract::{Category, LatLng, NewContainer, Packaging};
    use yifei_contract::{Role, ScanAction, ScanStatus};

    fn caller(conn: &mut DbConnection, role: &str) -> Caller {
        let (user_id, org, inst): (String, Option<String>, Option<String>) = users::table
            .filter(users::role.eq(role))
            .order(users::login.asc())
            .select((users::id, users::org_id, users::institution_id))
            .first(conn)
            .expect("demo user");
        Caller {
            user_id,
            role: parse_enum(role).expect("role"),
            tenant: inst.or(org),
        }
    }

    /// A demo county in a fresh database of `backend`, loaded at `now`; `None` when
    /// PostgreSQL is unreachable and not required (see `Scratch::create`).
    fn demo_db(backend: Backend) -> Option<(Scratch, Db, DateTime<Utc>)> {
        let scratch = Scratch::create(backend)?;
        let db = Db::open(&scratch.url).expect("db");
        let now = Utc::now();
        crate::demo::load_if_empty(&mut db.conn().expect("conn"), now).expect("demo");
        Some((scratch, db, now))
    }

    /// Runs a scenario on SQLite and on PostgreSQL: they store unlocked drafts differently
    /// (one transaction through `write`; one statement).
    macro_rules! both {
        ($($name:ident),+) => {
            $(mod $name {
                #[test]
                fn sqlite() {
                    super::$name(crate::db::Backend::Sqlite);
                }
                #[test]
                fn postgres() {
                    super::$name(crate::db::Backend::Postgres);
                }
            })+
        };
    }

    fn scan(code: &str, action: ScanAction, minutes_ago: i64, now: DateTime<Utc>) -> ScanEvent {
        ScanEvent {
            event_id: uuid::Uuid::now_v7(),
            code: code.to_owned(),
            action,
            occurred_at: now - Duration::minutes(minutes_ago),
            weight_kg: Some(3.0),
            location: None::<LatLng>,
            run_id: None,
            reason: None,
            method: None,
            device_id: None,
            weight_source: None,
            batch: None,
            disposed_at: None,
        }
    }

    /// A batch worked out without locks must not be stored over a change it did not see: here
    /// a box is nested into the big box between the draft of a pickup and its write. The write
    /// is refused as stale, and the batch worked out again passes the pickup on to the box.
    fn a_draft_gone_stale_is_refused_and_redone(backend: Backend) {
        let Some((_scratch, db, now)) = demo_db(backend) else {
            return;
        };
        let mut conn = db.conn().expect("conn");
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
        let (keeper, driver) = (caller(&mut conn, "hub_keeper"), caller(&mut conn, "driver"));
        let label = |conn: &mut DbConnection, packaging| {
            let spec = NewContainer {
                category: Category::Infectious,
                packaging,
                note: None,
            };
            store::create(conn, &keeper, 1, &spec, now - Duration::hours(1), tz).expect("label")[0]
                .code
                .clone()
        };
        let (big, small) = (
            label(&mut conn, Packaging::Box),
            label(&mut conn, Packaging::Bag),
        );
        let seals = [
            scan(&big, ScanAction::Seal, 30, now),
            scan(&small, ScanAction::Seal, 30, now),
        ];
        ingest(&mut conn, &keeper, &seals, now, TimeLimits::DEFAULT, tz).expect("seal");

        let pickup = [scan(&big, ScanAction::Collect, 5, now)];
        let p = draft(
            &mut conn,
            &driver,
            &pickup,
            now,
            TimeLimits::DEFAULT,
            tz,
            Lock::None,
        )
        .expect("draft");
        store::nest(
            &mut conn,
            &keeper,
            &big,
            std::slice::from_ref(&small),
            now - Duration::minutes(10),
            now,
            tz,
        )
        .expect("nest");
        let stale = write_unlocked(&mut conn, p);
        assert!(
            matches!(&stale, Err(e) if is_retryable(e)),
            "a stale draft was written: {:?}",
            stale.map(|r| r.len())
        );
        let collects = |conn: &mut DbConnection, code: &str| -> i64 {
            scan_events::table
                .inner_join(containers::table)
                .filter(containers::code.eq(code))
                .filter(scan_events::action.eq("collect"))
                .count()
                .get_result(conn)
                .expect("count")
        };
        assert_eq!(
            collects(&mut conn, &big),
            0,
            "the refused draft left its event behind"
        );

        let results =
            ingest(&mut conn, &driver, &pickup, now, TimeLimits::DEFAULT, tz).expect("pickup");
        assert_eq!(results[0].status, ScanStatus::Accepted);
        assert_eq!(
            collects(&mut conn, &small),
            1,
            "the box inside did not follow the pickup"
        );
    }

    /// The same event id sent for two containers by two phones at once: the batch worked out
    /// second finds the id taken when it stores its events. The write is refused as stale (not
    /// a server error), and worked out again the event is refused as a reused id.
    fn an_event_id_taken_meanwhile_makes_the_draft_stale(backend: Backend) {
        let Some((_scratch, db, now)) = demo_db(backend) else {
            return;
        };
        let mut conn = db.conn().expect("conn");
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
        let keeper = caller(&mut conn, "hub_keeper");
        let spec = NewContainer {
            category: Category::Infectious,
            packaging: Packaging::Bag,
            note: None,
        };
        let codes: Vec<String> =
            store::create(&mut conn, &keeper, 2, &spec, now - Duration::hours(1), tz)
                .expect("label")
                .into_iter()
                .map(|c| c.code)
                .collect();
        let first = scan(&codes[0], ScanAction::Seal, 5, now);
        let second = ScanEvent {
            code: codes[1].clone(),
            ..first.clone()
        };
        let p = draft(
            &mut conn,
            &keeper,
            std::slice::from_ref(&second),
            now,
            TimeLimits::DEFAULT,
            tz,
            Lock::None,
        )
        .expect("draft");
        let r = ingest(&mut conn, &keeper, &[first], now, TimeLimits::DEFAULT, tz).expect("first");
        assert_eq!(r[0].status, ScanStatus::Accepted);
        let stale = write_unlocked(&mut conn, p);
        assert!(
            matches!(&stale, Err(e) if is_retryable(e)),
            "a stale draft was not refused as stale: {:?}",
            stale.map(|r| r.len())
        );
        let untouched: String = containers::table
            .filter(containers::code.eq(&codes[1]))
            .select(containers::state)
            .first(&mut **conn)
            .expect("state");
        assert_eq!(untouched, "labelled", "the refused draft sealed the box");
        let r = ingest(&mut conn, &keeper, &[second], now, TimeLimits::DEFAULT, tz).expect("again");
        assert_eq!(r[0].reason.as_deref(), Some("event_id_reused"));
    }

    #[test]
    fn device_times_and_text_are_checked_before_the_database() {
        let now = Utc::now();
        let clinic = Caller {
            user_id: "u".into(),
            role: Role::ClinicStaff,
            tenant: Some("i".into()),
        };
        let code = codes::generate().expect("code");
        let check = |e: &ScanEvent| precheck(&clinic, e, now, TimeLimits::DEFAULT).err();
        let e = scan(&code, ScanAction::Seal, 10, now);
        assert_eq!(check(&e), None);
        let old = |minutes| scan(&code, ScanAction::Seal, minutes, now);
        assert_eq!(
            check(&old(30 * 24 * 60 + 1)),
            Some(("stale_timestamp", None))
        );
        assert_eq!(check(&old(30 * 24 * 60 - 1)), None);
        assert_eq!(check(&old(-6)), Some(("future_timestamp", None)));
        let nul = ScanEvent {
            device_id: Some("phone\0".into()),
            ..e.clone()
        };
        assert_eq!(check(&nul), Some(("invalid_text", Some("device_id"))));
        let nul = ScanEvent {
            code: format!("{code}\0"),
            ..e.clone()
        };
        assert_eq!(check(&nul), Some(("invalid_text", Some("code"))));
        let collect = ScanEvent {
            action: ScanAction::Collect,
            run_id: Some("  r1 ".into()),
            ..e.clone()
        };
        assert_eq!(run_named(&collect), Some("r1"));
        assert_eq!(
            run_named(&ScanEvent {
                run_id: Some(" ".into()),
                ..collect.clone()
            }),
            None
        );
        assert_eq!(
            run_named(&ScanEvent {
                action: ScanAction::Seal,
                ..collect
            }),
            None,
            "only collect scans complete stops"
        );
    }

    both!(
        a_draft_gone_stale_is_refused_and_redone,
        an_event_id_taken_meanwhile_makes_the_draft_stale
    );
}
