//! Disposal methods (处置方式): a closed list, so that what the plant did can be counted by
//! method, and `other: <text>` for anything else, which must then say what it was.

/// The listed methods, as sent in a `dispose` scan's `method`.
pub const METHODS: [&str; 4] = [
    "incineration",
    "high_temperature_steam",
    "microwave",
    "chemical_disinfection",
];

/// Whether `method` is a listed method or `other: <text>` with some text.
pub fn is_valid(method: &str) -> bool {
    let m = method.trim();
    METHODS.contains(&m)
        || m.strip_prefix("other:")
            .is_some_and(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_the_list_or_say_what_they_were() {
        for m in METHODS {
            assert!(is_valid(m), "{m}");
        }
        assert!(is_valid(" microwave "));
        assert!(is_valid("other: 等离子体"));
        assert!(!is_valid("other"));
        assert!(!is_valid("other:  "));
        assert!(!is_valid("burning"));
        assert!(!is_valid("Incineration"));
        assert!(!is_valid(""));
    }
}

/// Longest batch or furnace identifier.
pub const MAX_BATCH_CHARS: usize = 64;

/// The batch or furnace identifier trimmed, or `None` when it is blank, too long or holds a
/// control character (`invalid_batch`).
pub fn clean_batch(batch: &str) -> Option<&str> {
    let b = batch.trim();
    (!b.is_empty() && b.chars().count() <= MAX_BATCH_CHARS && !b.chars().any(char::is_control))
        .then_some(b)
}

/// Whether a disposal time recorded by the plant fits the scan that reports it: not after
/// the scan (the plant scans what it burned, not what it will), allowing `skew` between the
/// plant's clocks, and not older than `max_age` before `now`.
pub fn time_fits(
    disposed_at: chrono::DateTime<chrono::Utc>,
    occurred_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    skew: chrono::Duration,
    max_age: chrono::Duration,
) -> bool {
    disposed_at <= occurred_at + skew && disposed_at <= now + skew && disposed_at >= now - max_age
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn batches_and_times_are_checked() {
        assert_eq!(
            clean_batch(" 2号炉-20260302-03 "),
            Some("2号炉-20260302-03")
        );
        assert_eq!(clean_batch("  "), None);
        assert_eq!(clean_batch(&"x".repeat(65)), None);
        assert_eq!(clean_batch("a\nb"), None);
        let now = Utc
            .with_ymd_and_hms(2026, 3, 2, 12, 0, 0)
            .single()
            .expect("t");
        let (skew, age) = (Duration::minutes(5), Duration::days(30));
        let scan = now - Duration::hours(1);
        assert!(time_fits(scan - Duration::hours(3), scan, now, skew, age));
        assert!(time_fits(scan + Duration::minutes(4), scan, now, skew, age));
        assert!(!time_fits(scan + Duration::hours(1), scan, now, skew, age));
        assert!(!time_fits(now - Duration::days(31), scan, now, skew, age));
    }
}
