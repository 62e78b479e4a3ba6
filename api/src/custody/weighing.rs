//! Weighed or estimated (称重 / 估计): a weight read off a scale is compared with the usual
//! tolerance, one that was estimated with a wider one, since an estimate off by a fifth is
//! not evidence of missing waste. A scan that does not say was weighed (what every weight
//! meant before the distinction existed).

use yifei_contract::WeightSource;

/// Tolerance between two weighed figures: max(10 %, 300 g) (DESIGN.md, per container).
pub const WEIGHED_RATIO: f64 = 0.10;
pub const WEIGHED_FLOOR_G: i64 = 300;
/// Tolerance when either figure is an estimate: max(25 %, 500 g).
pub const ESTIMATED_RATIO: f64 = 0.25;
pub const ESTIMATED_FLOOR_G: i64 = 500;

/// The stored form of a source (`None` on the wire and in old rows means weighed).
pub fn stored(s: Option<WeightSource>) -> Option<String> {
    s.map(|s| crate::wire::enum_str(&s))
}

/// Whether a stored source says "estimated".
pub fn is_estimated(stored: Option<&str>) -> bool {
    stored == Some("estimated")
}

/// The source of a recorded weight as the API shows it: weighed unless it says otherwise.
pub fn shown(has_weight: bool, estimated: bool) -> Option<WeightSource> {
    has_weight.then_some(if estimated {
        WeightSource::Estimated
    } else {
        WeightSource::Weighed
    })
}

/// Whether two weights differ beyond the tolerance; `estimated` when either is an estimate.
pub fn differ(a_g: i32, b_g: i32, estimated: bool) -> bool {
    let (ratio, floor) = if estimated {
        (ESTIMATED_RATIO, ESTIMATED_FLOOR_G)
    } else {
        (WEIGHED_RATIO, WEIGHED_FLOOR_G)
    };
    let (a, b) = (i64::from(a_g), i64::from(b_g));
    let tolerance = ((a.max(b) as f64) * ratio).round() as i64;
    (a - b).abs() > tolerance.max(floor)
}

/// Printed word of a weight's source.
pub fn word(estimated: bool) -> &'static str {
    if estimated { "估计" } else { "称重" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_gets_a_wider_tolerance() {
        assert!(differ(2000, 2400, false), "20 % off a weighed figure");
        assert!(
            !differ(2000, 2400, true),
            "20 % off an estimate is not evidence"
        );
        assert!(
            differ(2000, 2700, true),
            "35 % off is, even for an estimate"
        );
        assert!(!differ(1000, 1450, true), "500 g floor for light estimates");
        assert!(differ(1000, 1450, false));
        assert!(!differ(500, 790, false), "300 g floor for weighed ones");
    }

    #[test]
    fn sources_round_trip() {
        assert_eq!(stored(None), None);
        assert_eq!(
            stored(Some(WeightSource::Estimated)).as_deref(),
            Some("estimated")
        );
        assert!(is_estimated(Some("estimated")));
        assert!(!is_estimated(Some("weighed")));
        assert!(!is_estimated(None), "old rows were weighed");
        assert_eq!(shown(true, false), Some(WeightSource::Weighed));
        assert_eq!(shown(false, true), None);
        assert_eq!(word(true), "估计");
    }
}

/// How the seal, collect and receive weights of a history were taken: the first weight of
/// each kind in occurrence order counts, as in the fold. `events` are (action, occurred_at,
/// seq, has weight, stored source).
pub fn sources_of(
    events: &[(&str, chrono::NaiveDateTime, i32, bool, Option<&str>)],
) -> yifei_contract::WeightSources {
    let mut sorted: Vec<_> = events.iter().filter(|e| e.3).collect();
    sorted.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)));
    let first = |action: &str| {
        sorted
            .iter()
            .find(|e| e.0 == action)
            .and_then(|e| shown(true, is_estimated(e.4)))
    };
    yifei_contract::WeightSources {
        seal: first("seal"),
        collect: first("collect"),
        receive: first("receive"),
    }
}

#[cfg(test)]
mod sources_tests {
    use super::*;

    #[test]
    fn the_first_weight_of_each_kind_counts() {
        let t = |h: i64| {
            chrono::DateTime::from_timestamp(1_772_400_000 + h * 3600, 0)
                .expect("t")
                .naive_utc()
        };
        let s = sources_of(&[
            ("collect", t(3), 3, true, Some("weighed")),
            ("collect", t(2), 2, true, Some("estimated")),
            ("seal", t(1), 1, true, None),
            ("dispose", t(5), 5, false, None),
        ]);
        assert_eq!(s.seal, Some(WeightSource::Weighed));
        assert_eq!(s.collect, Some(WeightSource::Estimated));
        assert_eq!(s.receive, None);
    }
}
