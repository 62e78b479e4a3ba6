//! The outbox rows: insert, claim under a lease, and record each attempt's outcome.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::outbox;
use crate::db::{DbConnection, write_tx};
use crate::error::ApiError;

/// Waiting for its next attempt (or for the first one).
pub const PENDING: &str = "pending";
/// Accepted by the SMTP server.
pub const SENT: &str = "sent";
/// Given up after `max_attempts` (or undeliverable as written); kept for the record.
pub const FAILED: &str = "failed";

/// One email of the outbox.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct OutboxRow {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub dedupe_key: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Attempts made so far (a pass that found the server unreachable counts as one).
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    /// The pass that holds the row, and until when; another pass may take it afterwards.
    pub lease_token: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// Inserts the row unless a row with the same `(dedupe_key, recipient)` exists.
pub fn insert(conn: &mut DbConnection, row: &OutboxRow) -> Result<bool, ApiError> {
    let q = diesel::insert_into(outbox::table)
        .values(row)
        .on_conflict_do_nothing();
    let n = match conn {
        DbConnection::Sqlite(c) => q.execute(c)?,
        DbConnection::Postgresql(c) => q.execute(c)?,
    };
    Ok(n == 1)
}

/// Leases up to `limit` due rows to the pass `token` and returns them, oldest due first.
///
/// The ids are picked by a plain read and the due conditions checked again in the UPDATE that
/// leases them: when two passes race on PostgreSQL, the second one waits for the first's row
/// locks and then re-checks its WHERE against the updated rows, so it skips them; on SQLite
/// the UPDATE runs after any concurrent writer has committed, so it sees their leases.
pub fn claim(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<OutboxRow>, ApiError> {
    let due = outbox::status
        .eq(PENDING)
        .and(outbox::next_attempt_at.le(now))
        .and(
            outbox::lease_until
                .is_null()
                .or(outbox::lease_until.le(now)),
        );
    // A plain read first: most polls find nothing, and then take no write lock.
    let ids: Vec<String> = outbox::table
        .filter(due)
        .order((outbox::next_attempt_at, outbox::id))
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    write_tx(conn, |c| {
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)).filter(due))
            .set((
                outbox::lease_token.eq(token),
                outbox::lease_until.eq(lease_until),
            ))
            .execute(c)?;
        Ok(outbox::table
            .filter(outbox::lease_token.eq(token))
            .order((outbox::next_attempt_at, outbox::id))
            .select(OutboxRow::as_select())
            .load(c)?)
    })
}

/// The row was accepted by the server. False when the lease was lost (the row had been
/// leased past its expiry by another pass): nothing is written then.
pub fn mark_sent(
    conn: &mut DbConnection,
    row: &OutboxRow,
    token: &str,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    write_tx(conn, |c| {
        let n = diesel::update(leased(&row.id, token))
            .set((
                outbox::status.eq(SENT),
                outbox::attempts.eq(row.attempts + 1),
                outbox::sent_at.eq(Some(now)),
                outbox::lease_token.eq(None::<String>),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(c)?;
        Ok(n == 1)
    })
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Another attempt is scheduled.
    Retry,
    /// No more attempts: the row is `failed`.
    GaveUp,
}

/// Records a failed attempt: schedules the next one after the backoff, or gives up when the
/// attempts are used up or `permanent` says another attempt cannot succeed.
pub fn mark_failed(
    conn: &mut DbConnection,
    row: &OutboxRow,
    token: &str,
    now: NaiveDateTime,
    error: &str,
    max_attempts: u32,
    permanent: bool,
) -> Result<Failure, ApiError> {
    let attempts = row.attempts + 1;
    let give_up = permanent || i64::from(attempts) >= i64::from(max_attempts);
    let (status, next, outcome) = if give_up {
        (FAILED, row.next_attempt_at, Failure::GaveUp)
    } else {
        (PENDING, now + backoff(row.attempts), Failure::Retry)
    };
    let error: String = error.chars().take(1000).collect();
    write_tx(conn, |c| {
        diesel::update(leased(&row.id, token))
            .set((
                outbox::status.eq(status),
                outbox::attempts.eq(attempts),
                outbox::next_attempt_at.eq(next),
                outbox::lease_token.eq(None::<String>),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(Some(&error)),
            ))
            .execute(c)?;
        Ok(outcome)
    })
}

/// Gives a claimed row back untried (the pass ran out of time).
pub fn release(conn: &mut DbConnection, row: &OutboxRow, token: &str) -> Result<(), ApiError> {
    write_tx(conn, |c| {
        diesel::update(leased(&row.id, token))
            .set((
                outbox::lease_token.eq(None::<String>),
                outbox::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// The row, provided this pass still holds it.
fn leased<'a>(
    id: &'a str,
    token: &'a str,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<outbox::table, &'a str>,
    diesel::dsl::Eq<outbox::lease_token, &'a str>,
> {
    outbox::table.find(id).filter(outbox::lease_token.eq(token))
}

/// Delay before the next attempt after `failures_before + 1` failures: 30 s, 1 min, 2 min,
/// ... doubling, capped at 1 h. Short at first (a restarting relay is back in seconds), an
/// hour at most so a long outage costs few attempts yet mail flows within the hour after it.
pub fn backoff(failures_before: i32) -> Duration {
    let doublings = failures_before.clamp(0, 7) as u32;
    Duration::seconds((30_i64 << doublings).min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_s_up_to_an_hour() {
        let s: Vec<i64> = (0..10).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(s, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(-1).num_seconds(), 30);
        assert_eq!(backoff(i32::MAX).num_seconds(), 3600);
    }
}
