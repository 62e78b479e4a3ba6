//! Login throttling: after repeated failures for one login from one address, further attempts
//! are refused (429) until the window passes. Keyed by login *and* address so that an attacker
//! cannot lock a driver out from elsewhere by guessing their login.

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

/// In-memory failure log; a restart forgets it, which only ever helps the legitimate user.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: std::time::Duration) -> LoginThrottle {
        LoginThrottle {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window: Duration::from_std(window).unwrap_or(Duration::minutes(15)),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(login: &str, addr: &str) -> String {
        format!("{}|{addr}", login.trim().to_lowercase())
    }

    /// `Some(seconds)` to wait when the key is locked.
    pub fn check(&self, login: &str, addr: &str, now: DateTime<Utc>) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(&Self::key(login, addr))?;
        while q.front().is_some_and(|t| *t + self.window <= now) {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = *q.front()?;
            let wait = (oldest + self.window - now).num_seconds().max(1);
            return Some(u64::try_from(wait).unwrap_or(1));
        }
        None
    }

    pub fn record_failure(&self, login: &str, addr: &str, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a spray of random logins: forget fully expired keys.
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| *t + window > now));
        }
        map.entry(Self::key(login, addr))
            .or_default()
            .push_back(now);
    }

    pub fn record_success(&self, login: &str, addr: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(login, addr));
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

    #[test]
    fn locks_after_max_failures_until_the_window_passes() {
        let t = LoginThrottle::new(3, std::time::Duration::from_secs(600));
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("t0");
        for i in 0..3 {
            assert_eq!(t.check("Driver1", "1.2.3.4", t0), None);
            t.record_failure("driver1", "1.2.3.4", t0 + Duration::seconds(i));
        }
        assert_eq!(
            t.check("DRIVER1", "1.2.3.4", t0 + Duration::seconds(10)),
            Some(590)
        );
        assert_eq!(
            t.check("driver1", "5.6.7.8", t0),
            None,
            "other address unaffected"
        );
        assert_eq!(
            t.check("driver1", "1.2.3.4", t0 + Duration::seconds(601)),
            None
        );
        t.record_success("driver1", "1.2.3.4");
        assert_eq!(
            t.check("driver1", "1.2.3.4", t0 + Duration::seconds(10)),
            None
        );
    }
}
