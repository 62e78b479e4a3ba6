//! What a dispatcher sees while a plan solves: each `POST /plans` registers a tracker on the
//! board, keyed by its company, which hears the planner's phases and is removed when the
//! request ends (also on an error). Companies never see each other's trackers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use yifei_contract::{PlanPhase, PlanProgress};

use super::planning::Phase;
use crate::config::Solving;

/// One plan in progress, as its phases left it.
#[derive(Debug, Clone)]
pub struct Tracker {
    org: String,
    date: NaiveDate,
    horizon_days: i32,
    started: Instant,
    solving: Solving,
    phase: PlanPhase,
    iterations: u64,
    best_km: Option<f64>,
    unassigned: Option<u32>,
    stops: Option<u32>,
    vehicles: Option<u32>,
    resolving: Option<String>,
}

impl Tracker {
    fn new(org: &str, date: NaiveDate, horizon_days: i32, solving: Solving) -> Self {
        Tracker {
            org: org.to_owned(),
            date,
            horizon_days,
            started: Instant::now(),
            solving,
            phase: PlanPhase::Reading,
            iterations: 0,
            best_km: None,
            unassigned: None,
            stops: None,
            vehicles: None,
            resolving: None,
        }
    }

    /// Folds one of the planner's phases into what is shown.
    pub fn apply(&mut self, p: &Phase) {
        match p {
            Phase::Reading => self.phase = PlanPhase::Reading,
            Phase::Solving { stops, vehicles } => {
                self.phase = PlanPhase::Solving;
                self.stops = Some(u32::try_from(*stops).unwrap_or(u32::MAX));
                self.vehicles = Some(u32::try_from(*vehicles).unwrap_or(u32::MAX));
            }
            Phase::Best {
                km,
                unassigned,
                iterations,
            } => {
                self.phase = PlanPhase::Solving;
                self.best_km = Some(*km);
                self.unassigned = Some(u32::try_from(*unassigned).unwrap_or(u32::MAX));
                self.iterations = self.iterations.max(*iterations);
            }
            Phase::Solved { km, unassigned } => {
                self.best_km = Some(*km);
                self.unassigned = Some(u32::try_from(*unassigned).unwrap_or(u32::MAX));
            }
            Phase::Resolving(why) => {
                self.phase = PlanPhase::Solving;
                self.resolving = Some(why.clone());
            }
            // Choosing the days of a horizon is solving too; its km cover every day, so
            // they are not the day's best and are not shown as such.
            Phase::Horizon { stops, .. } => {
                self.phase = PlanPhase::Solving;
                self.stops = Some(u32::try_from(*stops).unwrap_or(u32::MAX));
            }
            Phase::HorizonSolved { .. } => self.phase = PlanPhase::Solving,
            Phase::Writing => self.phase = PlanPhase::Writing,
        }
    }

    /// The wire view at this moment.
    pub fn view(&self) -> PlanProgress {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        PlanProgress {
            organisation_id: self.org.clone(),
            date: self.date,
            horizon_days: self.horizon_days,
            phase: self.phase,
            elapsed_ms: ms(self.started.elapsed()),
            budget_ms: self
                .solving
                .iterations
                .is_none()
                .then(|| ms(self.solving.time_limit)),
            budget_iterations: self.solving.iterations,
            iterations: self.iterations,
            best_km: self.best_km,
            unassigned: self.unassigned,
            stops: self.stops,
            vehicles: self.vehicles,
            resolving: self.resolving.clone(),
        }
    }
}

/// Every plan in progress, by a key unique to its request.
#[derive(Debug, Default, Clone)]
pub struct Board(Arc<Mutex<HashMap<u64, Tracker>>>);

/// A registered tracker; dropping it takes the plan off the board.
pub struct Entry {
    board: Board,
    key: u64,
}

impl Board {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Tracker>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts a plan of `org` on the board until the returned entry is dropped.
    pub fn start(&self, org: &str, date: NaiveDate, horizon_days: i32, solving: Solving) -> Entry {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let key = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock()
            .insert(key, Tracker::new(org, date, horizon_days, solving));
        Entry {
            board: self.clone(),
            key,
        }
    }

    /// The plans in progress of `org` (every company's with `None`), oldest first.
    pub fn list(&self, org: Option<&str>) -> Vec<PlanProgress> {
        let board = self.lock();
        let mut keys: Vec<&u64> = board
            .iter()
            .filter(|(_, t)| org.is_none_or(|o| t.org == o))
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.into_iter().map(|k| board[k].view()).collect()
    }
}

impl Entry {
    /// Tells the tracker of a phase.
    pub fn hear(&self, p: &Phase) {
        if let Some(t) = self.board.lock().get_mut(&self.key) {
            t.apply(p);
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.board.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn solving() -> Solving {
        Solving {
            time_limit: Duration::from_secs(5),
            iterations: None,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("day")
    }

    #[test]
    fn phases_fold_into_the_view() {
        let board = Board::default();
        let e = board.start("co", day(), 1, solving());
        let v = &board.list(Some("co"))[0];
        assert_eq!(v.phase, PlanPhase::Reading);
        assert_eq!(
            (v.best_km, v.budget_ms, v.iterations),
            (None, Some(5000), 0)
        );
        e.hear(&Phase::Solving {
            stops: 7,
            vehicles: 2,
        });
        e.hear(&Phase::Best {
            km: 41.5,
            unassigned: 1,
            iterations: 300,
        });
        let v = &board.list(Some("co"))[0];
        assert_eq!(v.phase, PlanPhase::Solving);
        assert_eq!((v.stops, v.vehicles), (Some(7), Some(2)));
        assert_eq!(
            (v.best_km, v.unassigned, v.iterations),
            (Some(41.5), Some(1), 300)
        );
        e.hear(&Phase::Solved {
            km: 40.0,
            unassigned: 0,
        });
        e.hear(&Phase::Writing);
        let v = &board.list(Some("co"))[0];
        assert_eq!((v.phase, v.best_km), (PlanPhase::Writing, Some(40.0)));
        drop(e);
        assert!(board.list(None).is_empty());
    }

    #[test]
    fn companies_see_only_their_plans() {
        let board = Board::default();
        let iter_bound = Solving {
            time_limit: Duration::from_secs(5),
            iterations: Some(1000),
        };
        let _a = board.start("a", day(), 1, solving());
        let _b = board.start("b", day(), 3, iter_bound);
        let a = board.list(Some("a"));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].organisation_id, "a");
        let b = &board.list(Some("b"))[0];
        assert_eq!((b.budget_ms, b.budget_iterations), (None, Some(1000)));
        assert!(board.list(Some("c")).is_empty());
        assert_eq!(board.list(None).len(), 2);
    }
}
