//! Login throttling and per-address rate limits.
//!
//! After repeated failures for one login from one address, further attempts are refused (429)
//! until the window passes. Keyed by login *and* address so that an attacker cannot lock a
//! driver out from elsewhere by guessing their login. The lockout lives in the database, shared
//! by every server process. [`RateLimiter`] bounds the requests of one address to the
//! credential endpoints and to public sign-up; it is per process on purpose (it protects the
//! process's CPU from password hashing and needs no database round trip in front of it), so N
//! replicas allow an address N times the limit, while the lockout stays exact.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::coordination::{micros, numbered};
use crate::db::schema::login_throttle;
use crate::db::{DbConnection, write_tx};
use crate::error::ApiError;

/// The address a login attempt is throttled under: the TCP peer, or, when the peer is one of
/// the `trusted` reverse proxies, the nearest address in `X-Forwarded-For` that is not a
/// trusted proxy (read from the right: entries further left were written by the client and
/// could be anything). A malformed entry stops the walk at the proxy's own address.
pub fn client_addr(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let mut client = peer;
    if trusted.contains(&peer) {
        for entry in forwarded_for.unwrap_or_default().rsplit(',') {
            match entry.trim().parse::<std::net::IpAddr>() {
                Ok(a) if trusted.contains(&a) => client = a,
                Ok(a) => return a.to_string(),
                Err(_) => break,
            }
        }
    }
    client.to_string()
}

/// The login lockout, kept in the database (`login_throttle`) so that it holds across every
/// server process on it: failures spread over several replicas count together. One upsert per
/// attempt, one row per login and address.
///
/// An attempt takes its slot *before* the password is hashed ([`LoginThrottle::try_acquire`])
/// and the slot counts as a failure unless the attempt succeeds, so that parallel guesses
/// cannot all be checked before the first failure is counted: at most `max_failures`
/// passwords per login and address are ever hashed within a window. The window is fixed: it
/// opens with the first failure and, once it has passed, the next attempt opens a new one.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    max_failures: i64,
    window: Duration,
}

#[derive(diesel::QueryableByName)]
struct Slot {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    failures: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    since_us: i64,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: std::time::Duration) -> LoginThrottle {
        LoginThrottle {
            max_failures: i64::from(max_failures.max(1)),
            window: Duration::from_std(window).unwrap_or(Duration::minutes(15)),
        }
    }

    fn key(login: &str, addr: &str) -> String {
        format!("{}|{addr}", login.trim().to_lowercase())
    }

    /// Reserves a slot for one password check, counted as a failure from now on; `Ok(Err(seconds
    /// to wait))` when the login is locked from this address (a refused attempt is not
    /// counted: the count stops one past the limit). Atomic across processes: the
    /// upsert locks the row, so of any number of concurrent callers at most the free slots'
    /// worth get a slot.
    pub fn try_acquire(
        &self,
        conn: &mut DbConnection,
        login: &str,
        addr: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), u64>, ApiError> {
        let now_us = micros(now);
        let window_us = self.window.num_microseconds().unwrap_or(i64::MAX / 4);
        let sql = numbered(
            conn,
            "INSERT INTO login_throttle (key, failures, since_us) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN login_throttle.since_us <= $3 THEN 1 \
                        WHEN login_throttle.failures > $4 THEN login_throttle.failures \
                        ELSE login_throttle.failures + 1 END, \
             since_us = CASE WHEN login_throttle.since_us <= $3 THEN $2 \
                        ELSE login_throttle.since_us END \
             RETURNING failures, since_us",
        );
        let key = Self::key(login, addr);
        let slot: Slot = write_tx(conn, |c| {
            Ok(diesel::sql_query(&sql)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(now_us)
                .bind::<BigInt, _>(now_us.saturating_sub(window_us))
                .bind::<BigInt, _>(self.max_failures)
                .get_result(c)?)
        })?;
        if slot.failures > self.max_failures {
            let wait_us = slot.since_us.saturating_add(window_us) - now_us;
            let wait = (wait_us / 1_000_000).max(1);
            return Ok(Err(u64::try_from(wait).unwrap_or(1)));
        }
        Ok(Ok(()))
    }

    /// The attempt was right: its failures are forgotten.
    pub fn record_success(
        &self,
        conn: &mut DbConnection,
        login: &str,
        addr: &str,
    ) -> Result<(), ApiError> {
        let key = Self::key(login, addr);
        write_tx(conn, |c| {
            diesel::delete(login_throttle::table.find(&key)).execute(c)?;
            Ok(())
        })
    }

    /// The attempt never reached a verdict (a server fault): its slot is given back, so that
    /// an outage does not lock users out.
    pub fn release(
        &self,
        conn: &mut DbConnection,
        login: &str,
        addr: &str,
    ) -> Result<(), ApiError> {
        let key = Self::key(login, addr);
        // From a count stopped past the limit, the slot given back is one of the granted ones.
        let sql = numbered(
            conn,
            "UPDATE login_throttle SET failures = \
             CASE WHEN failures > $2 THEN $2 - 1 ELSE failures - 1 END \
             WHERE key = $1 AND failures > 0",
        );
        write_tx(conn, |c| {
            diesel::sql_query(&sql)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(self.max_failures)
                .execute(c)?;
            Ok(())
        })
    }
}

/// A per-key request rate limit (GCRA, the leaky bucket as a meter): `limit` requests in a
/// burst, refilled evenly over `window`. One timestamp per key, so a spray of addresses costs
/// little memory; reads the injected clock, so tests are deterministic.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time one request "costs" (window / limit).
    interval: Duration,
    /// How far the theoretical arrival time may run ahead of now (the burst).
    window: Duration,
    tat: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: std::time::Duration) -> RateLimiter {
        let window = Duration::from_std(window)
            .unwrap_or(Duration::minutes(1))
            .max(Duration::milliseconds(1));
        let interval = window / i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        RateLimiter {
            interval: interval.max(Duration::microseconds(1)),
            window,
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key`; `Err(seconds to wait)` when over the limit (the refused
    /// request is not counted).
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, t| *t > now);
        }
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        if next - now > self.window {
            let wait = next - self.window - now;
            let secs = (wait.num_milliseconds() + 999) / 1000;
            return Err(u64::try_from(secs.max(1)).unwrap_or(1));
        }
        map.insert(key.to_owned(), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Behind a trusted proxy the client's address comes from `X-Forwarded-For`, read from
    /// the right; from anyone else the header is ignored; garbage is not believed.
    #[test]
    fn the_client_address_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        let proxies = [ip("10.0.0.2"), ip("10.0.0.3")];
        let from = |peer: &str, header: Option<&str>| client_addr(Some(ip(peer)), header, &proxies);
        // A client that is not a proxy cannot pick its own address.
        assert_eq!(from("198.51.100.7", Some("203.0.113.5")), "198.51.100.7");
        assert_eq!(from("10.0.0.2", Some("203.0.113.5")), "203.0.113.5");
        // What the client wrote itself (the left entries) is skipped over.
        assert_eq!(
            from("10.0.0.2", Some("1.2.3.4, 203.0.113.5")),
            "203.0.113.5"
        );
        // Through two proxies.
        assert_eq!(
            from("10.0.0.2", Some("203.0.113.5, 10.0.0.3")),
            "203.0.113.5"
        );
        assert_eq!(
            from("10.0.0.2", Some("2001:db8::1 ,10.0.0.3")),
            "2001:db8::1"
        );
        // Nothing usable: the nearest proxy's address.
        assert_eq!(from("10.0.0.2", None), "10.0.0.2");
        assert_eq!(from("10.0.0.2", Some("203.0.113.5, not-an-ip")), "10.0.0.2");
        assert_eq!(from("10.0.0.2", Some("")), "10.0.0.2");
        assert_eq!(client_addr(None, Some("203.0.113.5"), &proxies), "unknown");
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("t0")
    }

    /// A database of its own under the temporary folder (removed on drop).
    struct TempDb(crate::db::Db, std::path::PathBuf);
    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    fn temp_db() -> TempDb {
        let dir = std::env::temp_dir().join(format!("yifei-throttle-{}", crate::db::new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = crate::db::Db::open(&dir.join("y.db").to_string_lossy()).expect("db");
        TempDb(db, dir)
    }

    #[test]
    fn locks_after_max_failures_until_the_window_passes() {
        let db = temp_db();
        let mut c = db.0.conn().expect("conn");
        let t = LoginThrottle::new(3, std::time::Duration::from_secs(600));
        let t0 = t0();
        let mut try_at =
            |login: &str, addr: &str, at| t.try_acquire(&mut c, login, addr, at).expect("db");
        for i in 0..3 {
            assert_eq!(
                try_at("Driver1", "1.2.3.4", t0 + Duration::seconds(i)),
                Ok(())
            );
        }
        assert_eq!(
            try_at("DRIVER1", "1.2.3.4", t0 + Duration::seconds(10)),
            Err(590)
        );
        assert_eq!(
            try_at("driver1", "5.6.7.8", t0),
            Ok(()),
            "other address unaffected"
        );
        assert_eq!(
            try_at("driver1", "1.2.3.4", t0 + Duration::seconds(601)),
            Ok(())
        );
        t.record_success(&mut c, "driver1", "1.2.3.4")
            .expect("success");
        for i in 0..3 {
            let at = t0 + Duration::seconds(610 + i);
            assert_eq!(
                t.try_acquire(&mut c, "driver1", "1.2.3.4", at).expect("db"),
                Ok(())
            );
        }
        let at = t0 + Duration::seconds(613);
        assert!(
            t.try_acquire(&mut c, "driver1", "1.2.3.4", at)
                .expect("db")
                .is_err()
        );
    }

    /// The race of issue 14: many parallel attempts, each reserving before it hashes. Exactly
    /// `max_failures` of them may go on to a password check.
    #[test]
    fn parallel_attempts_get_at_most_max_failures_slots() {
        let db = temp_db();
        let t = LoginThrottle::new(5, std::time::Duration::from_secs(900));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(40));
        let granted: usize = (0..40)
            .map(|_| {
                let (pool, b) = (db.0.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    let mut c = pool.conn().expect("conn");
                    t.try_acquire(&mut c, "driver1", "1.2.3.4", t0())
                        .expect("db")
                        .is_ok()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|ok| *ok)
            .count();
        assert_eq!(granted, 5);
    }

    #[test]
    fn a_server_fault_gives_its_slot_back() {
        let db = temp_db();
        let mut c = db.0.conn().expect("conn");
        let t = LoginThrottle::new(1, std::time::Duration::from_secs(900));
        assert_eq!(t.try_acquire(&mut c, "a", "x", t0()).expect("db"), Ok(()));
        assert!(t.try_acquire(&mut c, "a", "x", t0()).expect("db").is_err());
        assert!(t.try_acquire(&mut c, "a", "x", t0()).expect("db").is_err());
        // The refusals were not counted: giving the one slot back unlocks.
        t.release(&mut c, "a", "x").expect("release");
        assert_eq!(t.try_acquire(&mut c, "a", "x", t0()).expect("db"), Ok(()));
    }

    #[test]
    fn rate_limit_allows_the_burst_then_refills_evenly() {
        let r = RateLimiter::new(30, std::time::Duration::from_secs(3600));
        for _ in 0..30 {
            assert_eq!(r.check("1.2.3.4", t0()), Ok(()));
        }
        // The 31st waits for one interval (3600 / 30 = 120 s).
        assert_eq!(r.check("1.2.3.4", t0()), Err(120));
        assert_eq!(r.check("5.6.7.8", t0()), Ok(()), "per key");
        assert_eq!(r.check("1.2.3.4", t0() + Duration::seconds(119)), Err(1));
        assert_eq!(r.check("1.2.3.4", t0() + Duration::seconds(120)), Ok(()));
        assert!(r.check("1.2.3.4", t0() + Duration::seconds(120)).is_err());
        // After a full window the whole burst is available again.
        let later = t0() + Duration::seconds(120 + 3600);
        for _ in 0..30 {
            assert_eq!(r.check("1.2.3.4", later), Ok(()));
        }
        assert!(r.check("1.2.3.4", later).is_err());
    }
}
