//! What several server processes on one database agree through it (README "Several
//! replicas"): leases for background jobs that one process at a time runs, and PostgreSQL
//! advisory locks for work that must not run twice at once. On SQLite a server is one process
//! (`yifei serve` refuses a second one on the same file), so the locks are no-ops there and a
//! lease is simply always held by that process.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{DbConnection, write_tx};
use crate::error::ApiError;

/// Microseconds since the Unix epoch: how the coordination tables keep time, so that the
/// upserts compare and add times in SQL alike on both backends.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// `sql` written with `$1`, `$2`, ... for PostgreSQL; SQLite gets `?1`, `?2`, ... (the same
/// numbered parameters, so one may appear twice).
pub(crate) fn numbered(conn: &DbConnection, sql: &str) -> String {
    match conn {
        DbConnection::Postgresql(_) => sql.to_owned(),
        DbConnection::Sqlite(_) => sql.replace('$', "?"),
    }
}

/// Takes or renews the lease `name` for `holder` until `now + ttl`; true when `holder` has it.
/// A lease another holder let expire is taken over, so a crashed process's jobs move to a
/// live one within `ttl`. One upsert: concurrent callers on PostgreSQL serialise on the row.
pub fn hold_lease(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> Result<bool, ApiError> {
    let ttl_us = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 4);
    let now_us = micros(now);
    let sql = numbered(
        conn,
        "INSERT INTO job_leases (name, holder, until_us) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = $2, until_us = $3 \
         WHERE job_leases.holder = $2 OR job_leases.until_us <= $4",
    );
    let n = write_tx(conn, |c| {
        Ok(diesel::sql_query(&sql)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(now_us.saturating_add(ttl_us))
            .bind::<BigInt, _>(now_us)
            .execute(c)?)
    })?;
    Ok(n == 1)
}

/// A stable 64-bit key for PostgreSQL's advisory lock functions.
const KEY: &str = "hashtextextended($1, 0)";

/// Within the caller's transaction on PostgreSQL: waits until no other transaction holds the
/// lock `name`, and holds it until this one ends (plan writes of one company and day). On
/// SQLite the transaction holds the database's write lock already: nothing to do.
pub fn xact_lock(conn: &mut DbConnection, name: &str) -> Result<(), ApiError> {
    if let DbConnection::Postgresql(c) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEY})"))
            .bind::<Text, _>(name)
            .execute(c)?;
    }
    Ok(())
}

/// Runs `f` holding PostgreSQL's session-level advisory lock `name` on this connection,
/// waiting for another process to release it first; `f` may run its own transactions. The
/// lock is released however `f` ends (and by PostgreSQL if the process dies). On SQLite `f`
/// simply runs.
pub fn with_session_lock<T>(
    conn: &mut DbConnection,
    name: &str,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let DbConnection::Postgresql(c) = conn else {
        return f(conn);
    };
    diesel::sql_query(format!("SELECT pg_advisory_lock({KEY})"))
        .bind::<Text, _>(name)
        .execute(c)?;
    let result = f(conn);
    if let DbConnection::Postgresql(c) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_unlock({KEY})"))
            .bind::<Text, _>(name)
            .execute(c)?;
    }
    result
}

/// SQLite means one server process: the scan writer, the login lockout's and the evaluator's
/// in-process serialisation and the write queue of `write_tx` are the process's own, so a
/// second `yifei serve` on the same file is refused with a clear message rather than left to
/// contend for the file's lock. The lock is `<database>.serve-lock` beside the file, held
/// (an OS file lock, released if the process dies) for as long as the returned file is open.
/// PostgreSQL and in-memory databases need none: `None`.
pub fn lock_sqlite_server(url: &str) -> Result<Option<std::fs::File>, ApiError> {
    let url = super::DbUrl::parse(url)?;
    let t = url.target.as_str();
    if matches!(url.backend, super::Backend::Postgres)
        || t.is_empty()
        || t.starts_with(':')
        || t.starts_with("file:")
    {
        return Ok(None);
    }
    let path = format!("{t}.serve-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ApiError::Config(format!("cannot open the lock file {path}: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(ApiError::Config(format!(
            "another `yifei serve` is running on the SQLite database {t} (its lock {path} is \
             held): SQLite means one server process; run several replicas on PostgreSQL \
             (README, \"Several replicas\")"
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(ApiError::Config(format!("cannot lock {path}: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn sqlite() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("yifei-lease-{}", crate::db::new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = Db::open(&dir.join("y.db").to_string_lossy()).expect("db");
        (db, dir)
    }

    #[test]
    fn a_lease_is_held_until_it_expires_then_taken_over() {
        let (db, dir) = sqlite();
        let mut conn = db.conn().expect("conn");
        let t0 = DateTime::from_timestamp(1_780_000_000, 0).expect("t0");
        let ttl = std::time::Duration::from_secs(30);
        let s = chrono::Duration::seconds;
        assert!(hold_lease(&mut conn, "alerts", "a", t0, ttl).expect("a takes"));
        assert!(!hold_lease(&mut conn, "alerts", "b", t0 + s(29), ttl).expect("b waits"));
        assert!(hold_lease(&mut conn, "alerts", "a", t0 + s(29), ttl).expect("a renews"));
        assert!(hold_lease(&mut conn, "other", "b", t0, ttl).expect("per job"));
        // a renewed at 29 s: held until 59 s.
        assert!(!hold_lease(&mut conn, "alerts", "b", t0 + s(58), ttl).expect("still a's"));
        assert!(hold_lease(&mut conn, "alerts", "b", t0 + s(59), ttl).expect("b takes over"));
        assert!(!hold_lease(&mut conn, "alerts", "a", t0 + s(60), ttl).expect("a lost it"));
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
