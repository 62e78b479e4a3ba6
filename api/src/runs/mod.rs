//! Runs: planning a day with `yifei-routing`, working it (stops completed by collect scans,
//! skips, GPS tracks, urgent insertions).
//!
//! `routing/` knows nothing of clinics: this module translates due stops into a routing
//! problem (seconds from local midnight, metres) and the solution back into runs.

pub mod fleet;
pub mod planning;
pub mod store;

use yifei_contract::OpeningWindow;
use yifei_routing::{HaversineMatrix, LatLng, MatrixProvider, TimeWindow};

use crate::institutions::parse_hhmm;

/// Rural roads: 1.4 x the straight line at 35 km/h on average.
pub const MATRIX: HaversineMatrix = HaversineMatrix {
    circuity: 1.4,
    speed_kmh: 35.0,
};

/// Driving time from `a` to `b` in seconds, exactly as the solver sees it (the same
/// [`MATRIX`]): the due rule asks when the first run of a day could reach a stop.
pub fn travel_seconds(a: LatLng, b: LatLng) -> Option<f64> {
    MATRIX.matrix(&[a, b]).ok().map(|m| m.duration(0, 1))
}

/// Time on site: park, scan, weigh, load.
pub fn service_seconds(containers: i32) -> f64 {
    180.0 + 20.0 * f64::from(containers.max(1))
}

/// Cost model: fuel and wear per metre, driver time per second, a vehicle-day per used
/// vehicle (fewer vehicles first, then distance and time).
pub const COST_PER_M: f64 = 0.0015;
pub const COST_PER_S: f64 = 40.0 / 3600.0;
pub const VEHICLE_DAY_COST: f64 = 300.0;

/// Seconds after local midnight of `HH:MM`.
pub fn seconds(hhmm: &str) -> Option<f64> {
    parse_hhmm(hhmm).map(|m| f64::from(m) * 60.0)
}

/// Opening hours as routing windows (seconds after local midnight).
pub fn windows(hours: &[OpeningWindow]) -> Vec<TimeWindow> {
    hours
        .iter()
        .filter_map(|w| {
            Some(TimeWindow {
                start: seconds(&w.from)?,
                end: seconds(&w.to)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_from_opening_hours() {
        let w = windows(&[
            OpeningWindow {
                from: "08:00".into(),
                to: "12:00".into(),
            },
            OpeningWindow {
                from: "14:00".into(),
                to: "17:30".into(),
            },
            OpeningWindow {
                from: "bad".into(),
                to: "18:00".into(),
            },
        ]);
        assert_eq!(w.len(), 2);
        assert_eq!((w[1].start, w[1].end), (14.0 * 3600.0, 17.5 * 3600.0));
        assert_eq!(service_seconds(0), 200.0);
    }

    #[test]
    fn travel_is_the_solvers() {
        let (a, b) = (
            LatLng::new(36.3, 117.4).expect("a"),
            LatLng::new(36.25, 117.35).expect("b"),
        );
        let m = MATRIX.matrix(&[a, b]).expect("matrix");
        assert_eq!(travel_seconds(a, b), Some(m.duration(0, 1)));
        assert!(travel_seconds(a, b).is_some_and(|s| s > 600.0 && s < 1800.0));
    }
}
