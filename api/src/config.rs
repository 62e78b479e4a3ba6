//! Configuration from the environment (`YIFEI_*`); every variable is listed in the README.

use std::time::Duration;

use chrono::FixedOffset;

use crate::error::ApiError;

/// Runtime settings of a server or command.
#[derive(Clone)]
pub struct Config {
    /// `YIFEI_DATABASE_URL`: a file path or `sqlite://PATH` (SQLite), or `postgres://...`.
    pub database_url: String,
    /// `YIFEI_BIND`: address and port to listen on.
    pub bind: String,
    /// `YIFEI_JWT_SECRET`; when absent a secret is generated once and kept in the database.
    pub jwt_secret: Option<String>,
    /// `YIFEI_ACCESS_TOKEN_TTL_S`: access tokens are short-lived so a stolen one expires soon.
    pub access_ttl: Duration,
    /// `YIFEI_REFRESH_TOKEN_TTL_DAYS`: how long a driver can stay signed in without a password.
    pub refresh_ttl: Duration,
    /// `YIFEI_MAX_BODY_BYTES`: the largest accepted request body.
    pub max_body_bytes: usize,
    /// `YIFEI_TZ_OFFSET`: the deployment's local time zone for calendar days (`+08:00`).
    pub tz: FixedOffset,
    /// `YIFEI_LOGIN_MAX_FAILURES` failed logins per login and address within
    /// `YIFEI_LOGIN_WINDOW_S` seconds lock further attempts until the window passes.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// `YIFEI_AUTH_RATE_LIMIT` requests per client address to `/auth/*` and the account
    /// endpoints within `YIFEI_AUTH_RATE_WINDOW_S` (a burst of that many, refilled evenly).
    pub auth_rate_limit: u32,
    pub auth_rate_window: Duration,
    /// `YIFEI_SIGNUP_RATE_LIMIT` public sign-ups per client address within
    /// `YIFEI_SIGNUP_RATE_WINDOW_S`.
    pub sign_up_rate_limit: u32,
    pub sign_up_rate_window: Duration,
    /// `YIFEI_SESSION_CHECK_MS`: how long a server trusts its last look at a session. A
    /// revocation by another process (second server, CLI) takes effect within this time;
    /// 0 checks the database on every request.
    pub session_check: Duration,
    /// `YIFEI_CLOCK_SKEW_S`: how far ahead of the server's clock a device's scan time may be
    /// (and how far before its container's labelling).
    pub clock_skew: chrono::Duration,
    /// `YIFEI_SCAN_MAX_AGE_DAYS`: how far behind the server's clock a scan's time may be.
    pub scan_max_age: chrono::Duration,
    /// `YIFEI_GPS_MAX_AGE_H`: how far behind the server's clock a GPS fix's time may be.
    pub gps_max_age: chrono::Duration,
    /// `YIFEI_PLAN_TIME_LIMIT_MS`: how long the solver thinks about a day.
    pub plan_time_limit: Duration,
    /// `YIFEI_PLAN_ITERATIONS`: a fixed iteration count instead (reproducible plans, tests).
    pub plan_iterations: Option<u64>,
    /// `YIFEI_ALERT_INTERVAL_S`: how often alerts are evaluated in the background (0 = never;
    /// they are still evaluated whenever someone lists them).
    pub alert_interval: Option<Duration>,
    /// Start the email delivery worker (off in tests, which drive delivery themselves).
    pub mail_worker: bool,
    /// `YIFEI_GROUP_COMMIT` (SQLite, default on): concurrent scan uploads share one commit.
    pub group_commit: bool,
    /// `YIFEI_TRUSTED_PROXIES`: addresses of the reverse proxies in front of the server
    /// (comma-separated). Only from these is `X-Forwarded-For` believed, to tell clients
    /// apart for the login throttle; from any other peer the header is ignored, as anyone
    /// can write it.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Slow or stalled clients cannot hold connections: `YIFEI_HEAD_TIMEOUT_S` for a
    /// request's head, `YIFEI_BODY_IDLE_TIMEOUT_S` without a byte of its body,
    /// `YIFEI_BODY_TIMEOUT_S` for the whole body, `YIFEI_KEEP_ALIVE_S` idle between
    /// requests, `YIFEI_DISCONNECT_TIMEOUT_S` to close a connection cleanly.
    pub timeouts: Timeouts,
    // -- Due rule (issue 15): when collection runs go out.
    /// `YIFEI_WORK_DAYS`: weekdays on which runs go out (`mon-sun`, the default; `mon-sat`).
    pub work_days: crate::pickups::WorkDays,
    /// `YIFEI_HOLIDAYS`: local dates with no runs (`2026-10-01,2026-10-02`).
    pub holidays: std::collections::BTreeSet<chrono::NaiveDate>,
    // -- Travel model (issue 15 part 4): the county's roads, for the due rule and planning.
    /// `YIFEI_TRAVEL_CIRCUITY` (road / straight-line distance, 1-3) and
    /// `YIFEI_TRAVEL_SPEED_KMH` (average driving speed, 5-120): 1.4 at 35 km/h by default.
    pub travel: yifei_routing::HaversineMatrix,
    /// `YIFEI_ALERT_<NAME>`: thresholds of the alert rules (whole hours or days, >= 1).
    pub alerts: crate::oversight::alerts::Overrides,
    /// `YIFEI_WATCH_<NAME>`: thresholds of the watch-list rules (see
    /// `oversight::watchlist::Rules`).
    pub watch: crate::oversight::watchlist::Rules,
    /// `YIFEI_SMTP_*`: email delivery (see `notify::MailConfig::from_vars`).
    pub mail: crate::notify::MailConfig,
    /// `YIFEI_LOG` (or `RUST_LOG`) and `YIFEI_LOG_FORMAT`.
    pub log: LogSettings,
}

/// Logging settings, checked with the rest so that a typo fails the start, not the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter: `info`, `warn,yifei_api=debug`, ...
    pub filter: String,
    /// JSON lines (`YIFEI_LOG_FORMAT=json`) instead of text (`text`, the default).
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        LogSettings {
            filter: "info".into(),
            json: false,
        }
    }
}

/// The words a yes/no setting accepts; anything else stops the start (a misspelt "off" must
/// not mean "on").
pub const BOOLEAN_WORDS: &str = "on, off, true, false, yes, no, 1, 0";

fn boolean(k: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err(ApiError::Config(format!(
            "{k} must be one of {BOOLEAN_WORDS}, got {v:?}"
        ))),
    }
}

/// A decimal setting within `range`, named in the error with the range it accepts.
fn decimal(k: &str, v: &str, range: std::ops::RangeInclusive<f64>) -> Result<f64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| range.contains(x))
        .ok_or_else(|| {
            ApiError::Config(format!(
                "{k} must be a number from {} to {}, got {v:?}",
                range.start(),
                range.end()
            ))
        })
}

/// How long the solver may think about a day, or a fixed number of iterations (tests,
/// reproducible plans).
#[derive(Debug, Clone, Copy)]
pub struct Solving {
    pub time_limit: Duration,
    pub iterations: Option<u64>,
}

/// Connection and request read timeouts (see [`Config::timeouts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub head: Duration,
    pub body_idle: Duration,
    pub body: Duration,
    pub keep_alive: Duration,
    pub disconnect: Duration,
}

impl Default for Timeouts {
    /// Generous enough for a 1 MiB scan batch over a weak rural 2G link (about 10 KiB/s),
    /// short enough that a stalled upload frees its connection within two minutes.
    fn default() -> Timeouts {
        Timeouts {
            head: Duration::from_secs(10),
            body_idle: Duration::from_secs(20),
            body: Duration::from_secs(120),
            keep_alive: Duration::from_secs(15),
            disconnect: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for Config {
    // Hand-written so that the secret can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("tz", &self.tz)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("timeouts", &self.timeouts)
            .field("work_days", &self.work_days)
            .field("holidays", &self.holidays)
            .field("travel", &self.travel)
            .field("alerts", &self.alerts)
            .field("watch", &self.watch)
            .field("mail", &self.mail)
            .field("log", &self.log)
            .finish()
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:<redacted>{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            database_url: "./data/yifei.db".into(),
            bind: "127.0.0.1:8080".into(),
            jwt_secret: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            max_body_bytes: 1024 * 1024,
            tz: FixedOffset::east_opt(8 * 3600)
                .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC")),
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            auth_rate_limit: 60,
            auth_rate_window: Duration::from_secs(60),
            sign_up_rate_limit: 30,
            sign_up_rate_window: Duration::from_secs(3600),
            session_check: Duration::from_secs(1),
            clock_skew: chrono::Duration::minutes(5),
            scan_max_age: crate::custody::ingest::DEFAULT_MAX_AGE,
            gps_max_age: chrono::Duration::hours(24),
            plan_time_limit: Duration::from_secs(5),
            plan_iterations: None,
            alert_interval: Some(Duration::from_secs(60)),
            mail_worker: true,
            group_commit: true,
            trusted_proxies: Vec::new(),
            timeouts: Timeouts::default(),
            work_days: crate::pickups::WorkDays::default(),
            holidays: std::collections::BTreeSet::new(),
            travel: crate::runs::DEFAULT_TRAVEL,
            alerts: crate::oversight::alerts::Overrides::default(),
            watch: crate::oversight::watchlist::Rules::default(),
            mail: crate::notify::MailConfig::default(),
            log: LogSettings::default(),
        }
    }
}

impl Config {
    /// The window a scan's device time must fall in.
    pub fn scan_limits(&self) -> crate::custody::ingest::TimeLimits {
        crate::custody::ingest::TimeLimits {
            skew: self.clock_skew,
            max_age: self.scan_max_age,
        }
    }

    /// Solver budget for planning.
    pub fn solving(&self) -> Solving {
        Solving {
            time_limit: self.plan_time_limit,
            iterations: self.plan_iterations,
        }
    }

    /// The calendar of collection runs, for the due rule and planning.
    pub fn schedule(&self) -> crate::pickups::Schedule {
        crate::pickups::Schedule {
            tz: self.tz,
            work_days: self.work_days,
            holidays: self.holidays.clone(),
            travel: self.travel,
            alerts: self.alerts,
        }
    }

    /// Reads the environment over the defaults; a malformed value is an error, not a default.
    /// This is the one place `YIFEI_*` settings are read (once, at start).
    pub fn from_env() -> Result<Config, ApiError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ApiError> {
        let mut c = Config::default();
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("YIFEI_DATABASE_URL") {
            c.database_url = v;
        }
        if let Some(v) = non_empty("YIFEI_BIND") {
            c.bind = v;
        }
        c.jwt_secret = non_empty("YIFEI_JWT_SECRET");
        let num = |k: &str| -> Result<Option<u64>, ApiError> {
            non_empty(k)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        ApiError::Config(format!("{k} must be a whole number, got {v:?}"))
                    })
                })
                .transpose()
        };
        if let Some(v) = num("YIFEI_ACCESS_TOKEN_TTL_S")? {
            c.access_ttl = Duration::from_secs(v.max(30));
        }
        if let Some(v) = num("YIFEI_REFRESH_TOKEN_TTL_DAYS")? {
            c.refresh_ttl = Duration::from_secs(v.max(1) * 24 * 3600);
        }
        if let Some(v) = num("YIFEI_MAX_BODY_BYTES")? {
            c.max_body_bytes = usize::try_from(v).unwrap_or(usize::MAX).max(1024);
        }
        if let Some(v) = num("YIFEI_LOGIN_MAX_FAILURES")? {
            c.login_max_failures = u32::try_from(v).unwrap_or(u32::MAX).max(1);
        }
        if let Some(v) = num("YIFEI_LOGIN_WINDOW_S")? {
            c.login_window = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("YIFEI_AUTH_RATE_LIMIT")? {
            c.auth_rate_limit = u32::try_from(v).unwrap_or(u32::MAX).max(1);
        }
        if let Some(v) = num("YIFEI_AUTH_RATE_WINDOW_S")? {
            c.auth_rate_window = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("YIFEI_SIGNUP_RATE_LIMIT")? {
            c.sign_up_rate_limit = u32::try_from(v).unwrap_or(u32::MAX).max(1);
        }
        if let Some(v) = num("YIFEI_SIGNUP_RATE_WINDOW_S")? {
            c.sign_up_rate_window = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("YIFEI_SESSION_CHECK_MS")? {
            // More than a few seconds would let a revoked token live on another server.
            c.session_check = Duration::from_millis(v.min(5_000));
        }
        if let Some(v) = num("YIFEI_CLOCK_SKEW_S")? {
            c.clock_skew = chrono::Duration::seconds(i64::try_from(v.min(86_400)).unwrap_or(300));
        }
        if let Some(v) = num("YIFEI_SCAN_MAX_AGE_DAYS")? {
            c.scan_max_age = chrono::Duration::days(i64::try_from(v.clamp(1, 3660)).unwrap_or(30));
        }
        if let Some(v) = num("YIFEI_GPS_MAX_AGE_H")? {
            c.gps_max_age =
                chrono::Duration::hours(i64::try_from(v.clamp(1, 24 * 3660)).unwrap_or(24));
        }
        if let Some(v) = num("YIFEI_PLAN_TIME_LIMIT_MS")? {
            c.plan_time_limit = Duration::from_millis(v.clamp(100, 600_000));
        }
        c.plan_iterations = num("YIFEI_PLAN_ITERATIONS")?.map(|v| v.max(1));
        if let Some(v) = non_empty("YIFEI_GROUP_COMMIT") {
            c.group_commit = boolean("YIFEI_GROUP_COMMIT", &v)?;
        }
        if let Some(v) = num("YIFEI_ALERT_INTERVAL_S")? {
            c.alert_interval = (v > 0).then(|| Duration::from_secs(v));
        }
        if let Some(v) = non_empty("YIFEI_TRUSTED_PROXIES") {
            c.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ApiError::Config(format!(
                        "YIFEI_TRUSTED_PROXIES must be IP addresses separated by commas, got {v:?}"
                    ))
                })?;
        }
        let secs = |k: &str, into: &mut Duration| -> Result<(), ApiError> {
            if let Some(v) = num(k)? {
                if v == 0 {
                    return Err(ApiError::Config(format!("{k} must be at least 1 second")));
                }
                *into = Duration::from_secs(v.min(86_400));
            }
            Ok(())
        };
        let t = &mut c.timeouts;
        secs("YIFEI_HEAD_TIMEOUT_S", &mut t.head)?;
        secs("YIFEI_BODY_IDLE_TIMEOUT_S", &mut t.body_idle)?;
        secs("YIFEI_BODY_TIMEOUT_S", &mut t.body)?;
        secs("YIFEI_KEEP_ALIVE_S", &mut t.keep_alive)?;
        secs("YIFEI_DISCONNECT_TIMEOUT_S", &mut t.disconnect)?;
        // -- Due rule (issue 15).
        if let Some(v) = non_empty("YIFEI_WORK_DAYS") {
            c.work_days = crate::pickups::WorkDays::parse(&v).ok_or_else(|| {
                ApiError::Config(format!(
                    "YIFEI_WORK_DAYS must be weekdays like mon-sat or mon,wed,fri, got {v:?}"
                ))
            })?;
        }
        if let Some(v) = non_empty("YIFEI_HOLIDAYS") {
            c.holidays = v
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d"))
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ApiError::Config(format!(
                        "YIFEI_HOLIDAYS must be dates YYYY-MM-DD separated by commas, got {v:?}"
                    ))
                })?;
        }
        // -- Travel model.
        if let Some(v) = non_empty("YIFEI_TRAVEL_CIRCUITY") {
            c.travel.circuity = decimal("YIFEI_TRAVEL_CIRCUITY", &v, 1.0..=3.0)?;
        }
        if let Some(v) = non_empty("YIFEI_TRAVEL_SPEED_KMH") {
            c.travel.speed_kmh = decimal("YIFEI_TRAVEL_SPEED_KMH", &v, 5.0..=120.0)?;
        }
        // -- Alert thresholds.
        for (name, slot) in c.alerts.slots() {
            let k = format!("YIFEI_ALERT_{name}");
            if let Some(v) = non_empty(&k) {
                let n = v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n));
                *slot = Some(n.ok_or_else(|| {
                    ApiError::Config(format!(
                        "{k} must be a whole number from 1 to 100000, got {v:?}"
                    ))
                })?);
            }
        }
        // -- Watch-list rules.
        for (name, range, slot) in c.watch.slots() {
            let k = format!("YIFEI_WATCH_{name}");
            if let Some(v) = non_empty(&k) {
                let n = v.trim().parse::<i64>().ok().filter(|n| range.contains(n));
                *slot = n.ok_or_else(|| {
                    ApiError::Config(format!(
                        "{k} must be a whole number from {} to {}, got {v:?}",
                        range.start(),
                        range.end()
                    ))
                })?;
            }
        }
        // -- GPS rules against the plan (tracking).
        for (name, range, slot) in c.alerts.tracking.slots() {
            let k = format!("YIFEI_TRACK_{name}");
            if let Some(v) = non_empty(&k) {
                let n = v.trim().parse::<i64>().ok().filter(|n| range.contains(n));
                let n = n.ok_or_else(|| {
                    ApiError::Config(format!(
                        "{k} must be a whole number from {} to {}, got {v:?}",
                        range.start(),
                        range.end()
                    ))
                })?;
                *slot = if name.ends_with("_KM") { n * 1000 } else { n };
            }
        }
        // -- Email and logs.
        c.mail = crate::notify::MailConfig::from_vars(&get)?;
        if let Some(v) = non_empty("YIFEI_LOG").or_else(|| non_empty("RUST_LOG")) {
            tracing_subscriber::EnvFilter::try_new(v.trim()).map_err(|e| {
                ApiError::Config(format!(
                    "YIFEI_LOG must be a log filter such as info, warn or warn,yifei_api=debug, \
                     got {v:?} ({e})"
                ))
            })?;
            c.log.filter = v.trim().to_owned();
        }
        if let Some(v) = non_empty("YIFEI_LOG_FORMAT") {
            c.log.json = match v.trim().to_ascii_lowercase().as_str() {
                "json" => true,
                "text" => false,
                _ => {
                    return Err(ApiError::Config(format!(
                        "YIFEI_LOG_FORMAT must be text or json, got {v:?}"
                    )));
                }
            };
        }
        if let Some(v) = non_empty("YIFEI_TZ_OFFSET") {
            c.tz = parse_offset(&v).ok_or_else(|| {
                ApiError::Config(format!("YIFEI_TZ_OFFSET must look like +08:00, got {v:?}"))
            })?;
        }
        c.alerts.tracking.tz = c.tz;
        Ok(c)
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ApiError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.database_url, "./data/yifei.db");
        assert_eq!(c.tz.local_minus_utc(), 8 * 3600);
        let c = cfg(&[
            ("YIFEI_TZ_OFFSET", "-03:30"),
            ("YIFEI_ACCESS_TOKEN_TTL_S", "600"),
        ])
        .expect("overrides");
        assert_eq!(c.tz.local_minus_utc(), -(3 * 3600 + 1800));
        assert_eq!(c.access_ttl, Duration::from_secs(600));
        assert!(cfg(&[("YIFEI_MAX_BODY_BYTES", "lots")]).is_err());
        assert!(cfg(&[("YIFEI_TZ_OFFSET", "Asia/Shanghai")]).is_err());
        assert!(c.trusted_proxies.is_empty());
        let c = cfg(&[("YIFEI_TRUSTED_PROXIES", " 10.0.0.2, ::1 ,")]).expect("proxies");
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(cfg(&[("YIFEI_TRUSTED_PROXIES", "10.0.0.0/8")]).is_err());
        let c = cfg(&[]).expect("defaults");
        assert_eq!(
            (c.scan_max_age.num_days(), c.gps_max_age.num_hours()),
            (30, 24)
        );
        let c = cfg(&[
            ("YIFEI_SCAN_MAX_AGE_DAYS", "7"),
            ("YIFEI_GPS_MAX_AGE_H", "0"),
        ])
        .expect("ages");
        assert_eq!(
            (c.scan_max_age.num_days(), c.gps_max_age.num_hours()),
            (7, 1),
            "at least an hour"
        );
        assert!(cfg(&[("YIFEI_SCAN_MAX_AGE_DAYS", "a month")]).is_err());
    }

    #[test]
    fn rate_limits_and_session_check() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!((c.auth_rate_limit, c.sign_up_rate_limit), (60, 30));
        assert_eq!(c.session_check, Duration::from_secs(1));
        let c = cfg(&[
            ("YIFEI_AUTH_RATE_LIMIT", "10"),
            ("YIFEI_SIGNUP_RATE_WINDOW_S", "60"),
            ("YIFEI_SESSION_CHECK_MS", "600000"),
        ])
        .expect("overrides");
        assert_eq!(c.auth_rate_limit, 10);
        assert_eq!(c.sign_up_rate_window, Duration::from_secs(60));
        assert_eq!(c.session_check, Duration::from_secs(5), "capped");
        assert!(cfg(&[("YIFEI_SIGNUP_RATE_LIMIT", "many")]).is_err());
    }

    #[test]
    fn timeouts_are_configurable_and_never_zero() {
        assert_eq!(cfg(&[]).expect("defaults").timeouts, Timeouts::default());
        let c = cfg(&[("YIFEI_BODY_TIMEOUT_S", "7"), ("YIFEI_HEAD_TIMEOUT_S", "2")]).expect("set");
        assert_eq!(c.timeouts.body, Duration::from_secs(7));
        assert_eq!(c.timeouts.head, Duration::from_secs(2));
        // 0 would mean "wait for ever", the hole these close.
        assert!(cfg(&[("YIFEI_BODY_IDLE_TIMEOUT_S", "0")]).is_err());
        assert!(cfg(&[("YIFEI_KEEP_ALIVE_S", "soon")]).is_err());
    }

    #[test]
    fn work_days_and_holidays() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c.work_days, crate::pickups::WorkDays::default());
        assert!(c.holidays.is_empty());
        let c = cfg(&[
            ("YIFEI_WORK_DAYS", "mon-sat"),
            ("YIFEI_HOLIDAYS", "2026-10-01, 2026-10-02"),
        ])
        .expect("set");
        let s = c.schedule();
        let d = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        assert!(!s.works(d(10, 1)) && !s.works(d(10, 4)) && s.works(d(10, 3)));
        assert!(cfg(&[("YIFEI_WORK_DAYS", "weekdays")]).is_err());
        assert!(cfg(&[("YIFEI_HOLIDAYS", "1 Oct")]).is_err());
    }

    #[test]
    fn travel_alerts_booleans_and_logs_are_checked_once() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c.travel, crate::runs::DEFAULT_TRAVEL);
        assert_eq!((c.travel.circuity, c.travel.speed_kmh), (1.4, 35.0));
        assert_eq!(c.alerts, Default::default());
        assert_eq!(c.watch, Default::default());
        assert!(c.group_commit && !c.log.json);
        let c = cfg(&[
            ("YIFEI_TRAVEL_CIRCUITY", "1.25"),
            ("YIFEI_TRAVEL_SPEED_KMH", " 42 "),
            ("YIFEI_ALERT_STORAGE_BREACH_H", "36"),
            ("YIFEI_WATCH_DISCREPANCY_DAYS", " 10 "),
            ("YIFEI_GROUP_COMMIT", "Off"),
            ("YIFEI_LOG_FORMAT", "JSON"),
            ("YIFEI_LOG", "warn,yifei_api=debug"),
        ])
        .expect("set");
        assert_eq!((c.travel.circuity, c.travel.speed_kmh), (1.25, 42.0));
        assert_eq!(c.schedule().travel, c.travel);
        assert_eq!(c.alerts.storage_breach_h, Some(36));
        assert_eq!((c.watch.discrepancy_days, c.watch.missed_times), (10, 2));
        let t = crate::oversight::alerts::Thresholds::new(true, &c.schedule().alerts);
        assert_eq!(
            (t.storage_breach_h, t.storage_warn_h),
            (36, 18),
            "set holds in epidemic mode"
        );
        assert!(!c.group_commit && c.log.json);
        assert_eq!(c.log.filter, "warn,yifei_api=debug");
        let c = cfg(&[
            ("YIFEI_TRACK_OFF_ROUTE_KM", "3"),
            ("YIFEI_TRACK_DWELL_MIN", "8"),
            ("YIFEI_TZ_OFFSET", "+07:00"),
        ])
        .expect("track");
        let r = c.alerts.tracking;
        assert_eq!(
            (r.off_route_m, r.dwell_min, r.stop_radius_m),
            (3000, 8, 100)
        );
        assert_eq!(
            r.tz.local_minus_utc(),
            7 * 3600,
            "shifts are read in the deployment's zone"
        );
        for (k, v) in [
            ("YIFEI_TRACK_STOP_RADIUS_M", "5"),
            ("YIFEI_TRACK_OFF_ROUTE_KM", "0.5"),
            ("YIFEI_TRACK_LOOKBACK_DAYS", "999"),
            ("YIFEI_TRACK_DWELL_MIN", "0"),
        ] {
            let e = cfg(&[(k, v)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(k), "{k}={v}: {e:?}");
        }
        for (k, v) in [
            ("YIFEI_GROUP_COMMIT", "of"),
            ("YIFEI_TRAVEL_CIRCUITY", "0.9"),
            ("YIFEI_TRAVEL_SPEED_KMH", "NaN"),
            ("YIFEI_ALERT_DISCREPANCY_DAYS", "-1"),
            ("YIFEI_WATCH_DISCREPANCY_DAYS", "0"),
            ("YIFEI_WATCH_PERIOD_DAYS", "a month"),
            ("YIFEI_WATCH_ESCALATE_H", "8785"),
            ("YIFEI_LOG_FORMAT", "pretty"),
            ("YIFEI_LOG", "info,["),
            ("YIFEI_SMTP_MAX_ATTEMPTS", "many"),
        ] {
            let e = cfg(&[(k, v)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(k), "{k}={v}: {e:?}");
        }
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let c = cfg(&[
            ("YIFEI_JWT_SECRET", "hunter2hunter2"),
            ("YIFEI_DATABASE_URL", "postgres://app:pw123@db/yifei"),
        ])
        .expect("config");
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("pw123"), "{s}");
    }
}
