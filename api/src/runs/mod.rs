//! Runs: planning a day with `yifei-routing`, working it (stops completed by collect scans,
//! skips, GPS tracks, urgent insertions).
//!
//! `routing/` knows nothing of clinics: this module translates due stops into a routing
//! problem (seconds from local midnight, metres) and the solution back into runs.

pub mod fleet;
pub mod horizon;
pub mod planning;
pub mod plans;
pub mod progress;
pub mod solver_thread;
pub mod store;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use yifei_contract::{OpeningWindow, Role};
use yifei_routing::{HaversineMatrix, LatLng, MatrixProvider, TimeWindow};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::institutions::parse_hhmm;

/// Whose a run is: what decides who may complete its stops.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = crate::db::schema::runs)]
pub struct RunOwner {
    pub id: String,
    pub org_id: String,
    pub driver_id: Option<String>,
}

/// Whether the caller may complete the run's stops (a collect scan naming the run): its
/// driver, or a dispatcher of its company. Anyone else's scan naming it is refused like one
/// naming a run that does not exist, so another company's run ids reveal nothing.
pub fn may_complete(caller: &Caller, run: &RunOwner) -> bool {
    match caller.role {
        Role::Driver => run.driver_id.as_deref() == Some(caller.user_id.as_str()),
        Role::Dispatcher => caller.tenant.as_deref() == Some(run.org_id.as_str()),
        _ => false,
    }
}

/// Days a plan or a due list may be asked for, around the server's local today: a week
/// back (re-planning after an outage), a month ahead (the rolling horizon and holidays).
pub const PLAN_DAYS: (i64, i64) = (7, 31);

/// Days runs may be listed for: five years back (transfer records are kept at least three,
/// 医疗废物管理条例 Art.12), a month ahead.
pub const READ_DAYS: (i64, i64) = (5 * 366, 31);

/// Refuses a day outside `today - back ..= today + ahead` as a 422 naming `field` (a year
/// 0001 or 9999 is a typing error, and days that far out overflow the clock's arithmetic).
pub fn check_day(
    field: &str,
    day: NaiveDate,
    today: NaiveDate,
    (back, ahead): (i64, i64),
) -> Result<(), ApiError> {
    let (first, last) = (today - Duration::days(back), today + Duration::days(ahead));
    if day < first || day > last {
        return Err(ApiError::invalid(
            field,
            format!(
                "must be between {first} and {last} ({back} days before to {ahead} after today)"
            ),
        ));
    }
    Ok(())
}

/// Rural roads: 1.4 x the straight line at 35 km/h on average, unless the deployment says
/// otherwise (`YIFEI_TRAVEL_CIRCUITY`, `YIFEI_TRAVEL_SPEED_KMH`).
pub const DEFAULT_TRAVEL: HaversineMatrix = HaversineMatrix {
    circuity: 1.4,
    speed_kmh: 35.0,
};

/// Driving time from `a` to `b` in seconds, exactly as the solver sees it (the same
/// `travel` model): the due rule asks when the first run of a day could reach a stop.
pub fn travel_seconds(travel: &HaversineMatrix, a: LatLng, b: LatLng) -> Option<f64> {
    travel.matrix(&[a, b]).ok().map(|m| m.duration(0, 1))
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
        let m = DEFAULT_TRAVEL.matrix(&[a, b]).expect("matrix");
        assert_eq!(
            travel_seconds(&DEFAULT_TRAVEL, a, b),
            Some(m.duration(0, 1))
        );
        assert!(travel_seconds(&DEFAULT_TRAVEL, a, b).is_some_and(|s| s > 600.0 && s < 1800.0));
    }

    #[test]
    fn only_the_runs_driver_and_its_dispatchers_complete_its_stops() {
        let run = RunOwner {
            id: "r".into(),
            org_id: "co".into(),
            driver_id: Some("d1".into()),
        };
        let who = |user: &str, role, tenant: &str| Caller {
            user_id: user.into(),
            role,
            tenant: Some(tenant.into()),
        };
        assert!(may_complete(&who("d1", Role::Driver, "co"), &run));
        assert!(
            !may_complete(&who("d2", Role::Driver, "co"), &run),
            "a colleague"
        );
        assert!(!may_complete(&who("d3", Role::Driver, "other"), &run));
        assert!(may_complete(&who("x", Role::Dispatcher, "co"), &run));
        assert!(!may_complete(&who("y", Role::Dispatcher, "other"), &run));
        assert!(!may_complete(&who("z", Role::PlantOperator, "co"), &run));
        let unassigned = RunOwner {
            driver_id: None,
            ..run
        };
        assert!(!may_complete(&who("d1", Role::Driver, "co"), &unassigned));
    }

    #[test]
    fn days_are_bounded_around_today() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).expect("day");
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("day");
        assert!(check_day("date", today, today, PLAN_DAYS).is_ok());
        assert!(check_day("date", d(2026, 2, 23), today, PLAN_DAYS).is_ok());
        assert!(check_day("date", d(2026, 2, 22), today, PLAN_DAYS).is_err());
        assert!(check_day("date", d(2026, 4, 2), today, PLAN_DAYS).is_ok());
        assert!(check_day("date", d(2026, 4, 3), today, PLAN_DAYS).is_err());
        assert!(check_day("date", d(1, 1, 1), today, READ_DAYS).is_err());
        assert!(check_day("date", d(9999, 12, 31), today, READ_DAYS).is_err());
        assert!(check_day("date", d(2022, 1, 1), today, READ_DAYS).is_ok());
    }
}
