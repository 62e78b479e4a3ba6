//! Tracking: a run's GPS fixes read against its plan (条例 and the district plan: the
//! database must "locate, track, warn"). The rules are plain functions over fixes, stops and
//! geofences; `store` loads them and turns findings into alert conditions.
//!
//! Geofences are circles: each planned institution's of `stop_radius_m`, the plant's of
//! `plant_radius_m`. A dwell is the vehicle staying within `stop_radius_m` of where it
//! stopped for at least `dwell_min` minutes.

pub mod store;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use geo::{Closest, Distance, Haversine, HaversineClosestPoint, LineString, Point};

/// Thresholds of the GPS rules (`YIFEI_TRACK_*`, read and checked at start by `config.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// `YIFEI_TRACK_STOP_RADIUS_M`: an institution's geofence, and how far a dwelling
    /// vehicle may drift (GPS noise in a courtyard).
    pub stop_radius_m: i64,
    /// `YIFEI_TRACK_PLANT_RADIUS_M`: the plant's geofence (yard, weighbridge, parking).
    pub plant_radius_m: i64,
    /// `YIFEI_TRACK_DWELL_MIN`: minutes standing still that make a stop.
    pub dwell_min: i64,
    /// `YIFEI_TRACK_OFF_ROUTE_KM` (kept in metres): how far from the planned path is off it.
    pub off_route_m: i64,
    /// `YIFEI_TRACK_LOOKBACK_DAYS`: runs of this many past days are evaluated; older ones
    /// keep their alerts as they stand (fixes older than `YIFEI_GPS_MAX_AGE_H` are refused).
    pub lookback_days: i64,
    /// The deployment's zone (`YIFEI_TZ_OFFSET`): shifts are local clock times.
    pub tz: FixedOffset,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            stop_radius_m: 100,
            plant_radius_m: 300,
            dwell_min: 5,
            off_route_m: 2_000,
            lookback_days: 3,
            tz: FixedOffset::east_opt(8 * 3600).unwrap_or(FixedOffset::east_opt(0).expect("UTC")),
        }
    }
}

impl Rules {
    /// The `<NAME>` of each `YIFEI_TRACK_<NAME>` with its accepted range and where it goes
    /// (kilometres are multiplied into metres by the caller).
    pub fn slots(&mut self) -> [(&'static str, std::ops::RangeInclusive<i64>, &mut i64); 5] {
        [
            ("STOP_RADIUS_M", 10..=5_000, &mut self.stop_radius_m),
            ("PLANT_RADIUS_M", 10..=10_000, &mut self.plant_radius_m),
            ("DWELL_MIN", 1..=600, &mut self.dwell_min),
            ("OFF_ROUTE_KM", 1..=200, &mut self.off_route_m),
            ("LOOKBACK_DAYS", 1..=60, &mut self.lookback_days),
        ]
    }
}

/// One GPS fix (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub at: NaiveDateTime,
    pub lat: f64,
    pub lng: f64,
}

/// Metres between two (lat, lng) on the sphere.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// The vehicle standing still: from `start` to `end`, around (`lat`, `lng`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dwell {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub lat: f64,
    pub lng: f64,
}

/// Dwells in fixes sorted by time: a run of fixes all within `radius_m` of its first one,
/// spanning at least `min`. Its place is the mean of its fixes.
pub fn dwells(fixes: &[Fix], radius_m: f64, min: Duration) -> Vec<Dwell> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fixes.len() {
        let anchor = fixes[i];
        let mut j = i;
        while j + 1 < fixes.len()
            && distance_m(
                (anchor.lat, anchor.lng),
                (fixes[j + 1].lat, fixes[j + 1].lng),
            ) <= radius_m
        {
            j += 1;
        }
        if fixes[j].at - anchor.at >= min {
            let part = &fixes[i..=j];
            let n = part.len() as f64;
            out.push(Dwell {
                start: anchor.at,
                end: fixes[j].at,
                lat: part.iter().map(|f| f.lat).sum::<f64>() / n,
                lng: part.iter().map(|f| f.lng).sum::<f64>() / n,
            });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The fix farthest from the planned path (plant, stops in order, plant), with its distance
/// in metres; none without fixes or path.
pub fn farthest_from_path(fixes: &[Fix], path: &[(f64, f64)]) -> Option<(Fix, f64)> {
    let line: LineString<f64> = path.iter().map(|(lat, lng)| (*lng, *lat)).collect();
    let away = |f: &Fix| -> f64 {
        let p = Point::new(f.lng, f.lat);
        match path {
            [] => f64::NAN,
            [only] => distance_m(*only, (f.lat, f.lng)),
            _ => match line.haversine_closest_point(&p) {
                Closest::Intersection(_) => 0.0,
                Closest::SinglePoint(q) => Haversine.distance(p, q),
                // Degenerate (all stops at one place): distance to its first point.
                Closest::Indeterminate => distance_m(path[0], (f.lat, f.lng)),
            },
        }
    };
    fixes
        .iter()
        .map(|f| (*f, away(f)))
        .filter(|(_, d)| d.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// When a shift starting on local `day` ends, in UTC: an end at or before the start is on
/// the next day (a night shift 22:00-06:00).
pub fn shift_end(
    day: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    tz: FixedOffset,
) -> DateTime<Utc> {
    let end_day = if end <= start {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    let local = end_day.and_time(end);
    (local - Duration::seconds(i64::from(tz.local_minus_utc()))).and_utc()
}

/// A planned stop as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStop {
    pub seq: i32,
    pub institution_id: String,
    pub name: String,
    pub lat: f64,
    pub lng: f64,
    /// `pending`, `completed` or `skipped`.
    pub status: String,
}

/// A run as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    pub id: String,
    pub plate: String,
    pub day: NaiveDate,
    pub shift: (NaiveTime, NaiveTime),
    /// `planned`, `in_progress`, `done`.
    pub status: String,
    pub plant: (f64, f64),
    pub stops: Vec<PlannedStop>,
}

/// What the GPS shows against the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Dwelt in a pending stop's geofence and no collect scan completed it.
    VisitedUnscanned {
        seq: i32,
        institution_id: String,
        name: String,
        dwell: Dwell,
    },
    /// Dwelt outside every planned stop's and the plant's geofence.
    UnplannedStop(Dwell),
    /// A fix farther than the limit from the planned path.
    OffRoute { fix: Fix, metres: f64 },
    /// Fixes after the shift's end, or the run unfinished when it ended.
    OverShift {
        end: DateTime<Utc>,
        last: Option<NaiveDateTime>,
    },
}

/// Every finding on one run, fixes sorted by time, at `now`.
pub fn findings(run: &RunFacts, fixes: &[Fix], rules: &Rules, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    if fixes.is_empty() {
        return out;
    }
    let r = rules.stop_radius_m as f64;
    for d in dwells(fixes, r, Duration::minutes(rules.dwell_min)) {
        let at = (d.lat, d.lng);
        let stop = run
            .stops
            .iter()
            .map(|s| (s, distance_m(at, (s.lat, s.lng))))
            .filter(|(_, m)| *m <= r)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(s, _)| s);
        match stop {
            Some(s) if s.status == "pending" => out.push(Finding::VisitedUnscanned {
                seq: s.seq,
                institution_id: s.institution_id.clone(),
                name: s.name.clone(),
                dwell: d,
            }),
            Some(_) => {}
            None if distance_m(at, run.plant) <= rules.plant_radius_m as f64 => {}
            None => out.push(Finding::UnplannedStop(d)),
        }
    }
    let path: Vec<(f64, f64)> = std::iter::once(run.plant)
        .chain(run.stops.iter().map(|s| (s.lat, s.lng)))
        .chain(std::iter::once(run.plant))
        .collect();
    if let Some((fix, metres)) = farthest_from_path(fixes, &path)
        && metres > rules.off_route_m as f64
    {
        out.push(Finding::OffRoute { fix, metres });
    }
    let end = shift_end(run.day, run.shift.0, run.shift.1, rules.tz);
    let last = fixes.iter().map(|f| f.at).max();
    let late_fix = last.filter(|l| l.and_utc() > end);
    let unfinished = run.status != "done" && now > end;
    if late_fix.is_some() || unfinished {
        out.push(Finding::OverShift {
            end,
            last: late_fix,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("time")
    }
    fn fix(h: u32, m: u32, lat: f64, lng: f64) -> Fix {
        Fix {
            at: t(h, m),
            lat,
            lng,
        }
    }
    const PLANT: (f64, f64) = (36.20, 117.30);
    const CLINIC: (f64, f64) = (36.25, 117.35);

    fn run(status: &str) -> RunFacts {
        RunFacts {
            id: "r1".into(),
            plate: "鲁J·A1234".into(),
            day: NaiveDate::from_ymd_opt(2026, 3, 2).expect("day"),
            shift: (
                NaiveTime::from_hms_opt(7, 30, 0).expect("start"),
                NaiveTime::from_hms_opt(17, 30, 0).expect("end"),
            ),
            status: status.into(),
            plant: PLANT,
            stops: vec![PlannedStop {
                seq: 1,
                institution_id: "i1".into(),
                name: "卫生室".into(),
                lat: CLINIC.0,
                lng: CLINIC.1,
                status: "pending".into(),
            }],
        }
    }

    #[test]
    fn a_dwell_needs_the_minimum_time_within_the_radius() {
        // 0.0003 deg lat is about 33 m: noise around one place.
        let still = [
            fix(1, 0, 36.25, 117.35),
            fix(1, 2, 36.2503, 117.35),
            fix(1, 4, 36.2499, 117.3502),
        ];
        assert!(
            dwells(&still, 100.0, Duration::minutes(5)).is_empty(),
            "4 min < 5"
        );
        let mut longer = still.to_vec();
        longer.push(fix(1, 5, 36.2501, 117.35));
        longer.push(fix(1, 20, 36.30, 117.40)); // drove off
        let d = dwells(&longer, 100.0, Duration::minutes(5));
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].start, d[0].end), (t(1, 0), t(1, 5)));
        assert!(distance_m((d[0].lat, d[0].lng), CLINIC) < 30.0);
        // Moving steadily (1 km a minute) never dwells.
        let moving: Vec<Fix> = (0..20)
            .map(|i| fix(2, i, 36.2 + f64::from(i) * 0.009, 117.3))
            .collect();
        assert!(dwells(&moving, 100.0, Duration::minutes(5)).is_empty());
    }

    #[test]
    fn a_dwell_at_a_pending_stop_without_a_scan_is_found_and_a_completed_one_is_not() {
        let fixes = [fix(1, 0, 36.2501, 117.3501), fix(1, 10, 36.2502, 117.35)];
        let now = t(2, 0).and_utc();
        let f = findings(&run("in_progress"), &fixes, &Rules::default(), now);
        assert!(
            matches!(&f[..], [Finding::VisitedUnscanned { seq: 1, .. }]),
            "{f:?}"
        );
        let mut done = run("done");
        done.stops[0].status = "completed".into();
        assert_eq!(findings(&done, &fixes, &Rules::default(), now), vec![]);
    }

    #[test]
    fn a_dwell_away_from_stops_and_plant_is_unplanned_but_at_the_plant_it_is_not() {
        // 36.225, 117.325 lies on the path plant -> clinic, about 3.5 km from either.
        let elsewhere = [fix(1, 0, 36.225, 117.325), fix(1, 30, 36.225, 117.325)];
        let now = t(2, 0).and_utc();
        let f = findings(&run("in_progress"), &elsewhere, &Rules::default(), now);
        assert!(matches!(&f[..], [Finding::UnplannedStop(_)]), "{f:?}");
        let plant = [fix(1, 0, 36.2005, 117.3003), fix(1, 30, 36.2004, 117.3001)];
        assert_eq!(
            findings(&run("in_progress"), &plant, &Rules::default(), now),
            vec![]
        );
    }

    #[test]
    fn off_route_is_measured_from_the_planned_path_not_from_the_stops() {
        let path = [PLANT, CLINIC, PLANT];
        // Halfway along the path: on it, though km from both ends.
        let on = [fix(1, 0, 36.225, 117.325)];
        let (_, d) = farthest_from_path(&on, &path).expect("distance");
        assert!(d < 50.0, "{d}");
        // 0.05 deg east of the middle: about 3.2 km off the path (the path runs NE).
        let off = [fix(1, 0, 36.225, 117.375)];
        let (_, d) = farthest_from_path(&off, &path).expect("distance");
        assert!((2_500.0..4_000.0).contains(&d), "{d}");
        let f = findings(
            &run("in_progress"),
            &off,
            &Rules::default(),
            t(2, 0).and_utc(),
        );
        assert!(matches!(&f[..], [Finding::OffRoute { .. }]), "{f:?}");
        let loose = Rules {
            off_route_m: 5_000,
            ..Rules::default()
        };
        assert_eq!(
            findings(&run("in_progress"), &off, &loose, t(2, 0).and_utc()),
            vec![]
        );
    }

    #[test]
    fn a_night_shift_ends_on_the_next_day() {
        let tz = FixedOffset::east_opt(8 * 3600).expect("tz");
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).expect("day");
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("hm");
        // 07:30-17:30 local ends 09:30 UTC the same day.
        assert_eq!(
            shift_end(day, hm(7, 30), hm(17, 30), tz).to_rfc3339(),
            "2026-03-02T09:30:00+00:00"
        );
        // 22:00-06:00 local ends 06:00 local on the 3rd = 22:00 UTC on the 2nd.
        assert_eq!(
            shift_end(day, hm(22, 0), hm(6, 0), tz).to_rfc3339(),
            "2026-03-02T22:00:00+00:00"
        );
        // A fix at 23:00 local (15:00 UTC) is inside the night shift, at 06:30 local it is over.
        let mut night = run("in_progress");
        night.shift = (hm(22, 0), hm(6, 0));
        night.stops.clear();
        let at_plant = |h, m| fix(h, m, PLANT.0, PLANT.1 + 0.0001);
        let now = t(15, 30).and_utc();
        assert_eq!(
            findings(&night, &[at_plant(15, 0)], &Rules::default(), now),
            vec![]
        );
        let late = [at_plant(15, 0), at_plant(22, 30)];
        let f = findings(&night, &late, &Rules::default(), t(22, 31).and_utc());
        assert!(
            matches!(&f[..], [Finding::OverShift { last: Some(_), .. }]),
            "{f:?}"
        );
    }

    #[test]
    fn an_unfinished_run_is_over_its_shift_once_the_shift_ended() {
        let fixes = [fix(1, 0, PLANT.0, PLANT.1)];
        let r = run("in_progress");
        assert_eq!(
            findings(&r, &fixes, &Rules::default(), t(9, 29).and_utc()),
            vec![]
        );
        let f = findings(&r, &fixes, &Rules::default(), t(9, 31).and_utc());
        assert!(
            matches!(&f[..], [Finding::OverShift { last: None, .. }]),
            "{f:?}"
        );
        assert_eq!(
            findings(&run("done"), &fixes, &Rules::default(), t(9, 31).and_utc()),
            vec![]
        );
    }
}
