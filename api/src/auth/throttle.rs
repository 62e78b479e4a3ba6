//! Login throttling and per-address rate limits.
//!
//! After repeated failures for one login from one address, further attempts are refused (429)
//! until the window passes. Keyed by login *and* address so that an attacker cannot lock a
//! driver out from elsewhere by guessing their login. [`RateLimiter`] bounds the requests of
//! one address to the credential endpoints and to public sign-up.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

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

/// In-memory attempt log; a restart forgets it, which only ever helps the legitimate user.
///
/// An attempt takes its slot *before* the password is hashed ([`LoginThrottle::try_acquire`])
/// and the slot counts as a failure unless the attempt succeeds, so that parallel guesses
/// cannot all be checked before the first failure is counted: at most `max_failures`
/// passwords per login and address are ever hashed within a window.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: std::time::Duration) -> LoginThrottle {
        LoginThrottle {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window: Duration::from_std(window).unwrap_or(Duration::minutes(15)),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn key(login: &str, addr: &str) -> String {
        format!("{}|{addr}", login.trim().to_lowercase())
    }

    /// Reserves a slot for one password check, counted as a failure from now on; `Err(seconds
    /// to wait)` when the login is locked from this address. Atomic: of any number of
    /// concurrent callers, at most the free slots' worth get `Ok`.
    pub fn try_acquire(&self, login: &str, addr: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a spray of random logins: forget fully expired keys.
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| *t + window > now));
        }
        let q = map.entry(Self::key(login, addr)).or_default();
        while q.front().is_some_and(|t| *t + self.window <= now) {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + self.window - now).num_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        q.push_back(now);
        Ok(())
    }

    /// The attempt was right: its failures are forgotten.
    pub fn record_success(&self, login: &str, addr: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(login, addr));
    }

    /// The attempt taken at `at` never reached a verdict (a server fault): its slot is given
    /// back, so that an outage does not lock users out.
    pub fn release(&self, login: &str, addr: &str, at: DateTime<Utc>) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = map.get_mut(&Self::key(login, addr))
            && let Some(i) = q.iter().rposition(|t| *t == at)
        {
            q.remove(i);
        }
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

    #[test]
    fn locks_after_max_failures_until_the_window_passes() {
        let t = LoginThrottle::new(3, std::time::Duration::from_secs(600));
        let t0 = t0();
        for i in 0..3 {
            assert_eq!(
                t.try_acquire("Driver1", "1.2.3.4", t0 + Duration::seconds(i)),
                Ok(())
            );
        }
        assert_eq!(
            t.try_acquire("DRIVER1", "1.2.3.4", t0 + Duration::seconds(10)),
            Err(590)
        );
        assert_eq!(
            t.try_acquire("driver1", "5.6.7.8", t0),
            Ok(()),
            "other address unaffected"
        );
        assert_eq!(
            t.try_acquire("driver1", "1.2.3.4", t0 + Duration::seconds(601)),
            Ok(())
        );
        t.record_success("driver1", "1.2.3.4");
        assert_eq!(
            t.try_acquire("driver1", "1.2.3.4", t0 + Duration::seconds(10)),
            Ok(())
        );
    }

    /// The race of issue 14: many parallel attempts, each reserving before it hashes. Exactly
    /// `max_failures` of them may go on to a password check.
    #[test]
    fn parallel_attempts_get_at_most_max_failures_slots() {
        let t = std::sync::Arc::new(LoginThrottle::new(5, std::time::Duration::from_secs(900)));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(40));
        let granted: usize = (0..40)
            .map(|_| {
                let (t, b) = (t.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    t.try_acquire("driver1", "1.2.3.4", t0()).is_ok()
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
        let t = LoginThrottle::new(1, std::time::Duration::from_secs(900));
        assert_eq!(t.try_acquire("a", "x", t0()), Ok(()));
        assert!(t.try_acquire("a", "x", t0()).is_err());
        t.release("a", "x", t0());
        assert_eq!(t.try_acquire("a", "x", t0()), Ok(()));
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
