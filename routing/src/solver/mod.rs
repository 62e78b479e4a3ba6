//! The solver entry point: configuration, threads, and translation of the internal state
//! into a [`Solution`].

mod data;
pub(crate) mod route;
mod search;

use std::time::{Duration, Instant};

pub(crate) use data::Data;
use search::{Limits, Search, Sol};

use crate::model::Problem;
use crate::solution::{RoutePlan, Solution, Unassigned, UnassignedReason, Visit};

/// Candidate neighbours per stop: enough for SISR's adjacent-route removals and for
/// granular reinsertion, small enough to keep memory linear in the number of stops.
const NEIGHBOURS: usize = 40;

/// How long and how reproducibly to search.
#[derive(Clone, Debug, PartialEq)]
pub struct SolverConfig {
    /// Wall-clock budget for the whole call (preprocessing included); honoured within a few %.
    pub time_limit: Option<Duration>,
    /// Ruin-and-recreate iterations per thread; with it, a run is reproducible for a seed
    /// (set `time_limit` to `None` or large enough that the iteration limit binds).
    pub iterations: Option<u64>,
    /// Random seed; thread `t` uses a seed derived from `seed` and `t`.
    pub seed: u64,
    /// Independent searches run in parallel; the best is kept (ties go to the lowest thread).
    pub threads: usize,
}

impl Default for SolverConfig {
    /// Five seconds on two threads: a county day (a few hundred stops) converges well within it.
    fn default() -> Self {
        Self {
            time_limit: Some(Duration::from_secs(5)),
            iterations: None,
            seed: 1,
            threads: 2,
        }
    }
}

/// The best solution a search has found so far (see [`solve_reporting`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Since the solve started.
    pub elapsed: Duration,
    /// Total distance of the best solution's routes.
    pub distance_m: f64,
    /// Stops it leaves unassigned.
    pub unassigned: usize,
    /// Iterations of the reporting thread so far.
    pub iterations: u64,
}

/// Plan routes for `problem`. Never fails: stops that cannot be served are listed in
/// [`Solution::unassigned`] with a reason. Without any limit, runs 10 000 iterations.
pub fn solve(problem: &Problem, config: &SolverConfig) -> Solution {
    solve_inner(problem, config, None)
}

/// [`solve`], telling `report` of each better solution (at most once a second per thread),
/// for a progress line while a long plan runs. The solution is the same as `solve`'s.
pub fn solve_reporting(
    problem: &Problem,
    config: &SolverConfig,
    report: &(dyn Fn(Progress) + Sync),
) -> Solution {
    solve_inner(problem, config, Some(report))
}

fn solve_inner(
    problem: &Problem,
    config: &SolverConfig,
    report: Option<&(dyn Fn(Progress) + Sync)>,
) -> Solution {
    let started = Instant::now();
    let deadline = config.time_limit.map(|t| {
        // Keep ~3 % for building the answer and joining threads.
        started + t.mul_f64(0.97)
    });
    let iterations = match (config.iterations, config.time_limit) {
        (None, None) => Some(10_000),
        (it, _) => it,
    };
    let d = Data::new(problem, NEIGHBOURS);
    let limits = Limits {
        iterations,
        deadline,
        started,
        report,
    };
    let threads = config.threads.max(1);
    let run = |t: usize| {
        let seed = config.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut search = Search::new(&d, seed);
        let start = search.construct();
        search.run(start, &limits)
    };
    let results: Vec<(Sol, u64)> = if threads == 1 {
        vec![run(0)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|t| scope.spawn(move || run(t))).collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    };
    let total_it = results.iter().map(|r| r.1).sum();
    let best = results
        .into_iter()
        .map(|r| r.0)
        .reduce(|a, b| if b.cost < a.cost { b } else { a });
    let best = best.unwrap_or_else(|| Search::new(&d, config.seed).construct());
    to_solution(&d, &best, total_it)
}

/// A route's visits with the times the solver computes (leaving at the route's start).
pub(crate) fn plan_of(d: &Data, r: &route::Route) -> RoutePlan {
    let veh = &d.veh[r.v];
    let mut visits = Vec::with_capacity(r.stops.len());
    let mut prev = veh.start;
    let mut t = r.start_time;
    for &stop in &r.stops {
        let arrival = t + d.tt(r.v, prev, d.loc[stop]);
        let service_start = d.earliest_start(stop, arrival).unwrap_or(arrival);
        let departure = service_start + d.service[stop];
        visits.push(Visit {
            stop,
            arrival,
            service_start,
            departure,
        });
        t = departure;
        prev = d.loc[stop];
    }
    let end_time = t + d.tt(r.v, prev, veh.end);
    RoutePlan {
        vehicle: r.v,
        start_time: r.start_time,
        visits,
        end_time,
        distance_m: r.dist,
        duration_s: end_time - r.start_time,
        load_kg: r.kg,
        load_units: r.units,
    }
}

fn to_solution(d: &Data, s: &Sol, iterations: u64) -> Solution {
    let mut routes = Vec::new();
    for r in s.routes.iter().filter(|r| !r.stops.is_empty()) {
        routes.push(plan_of(d, r));
    }
    let mut unassigned: Vec<Unassigned> = s
        .unassigned
        .iter()
        .map(|&stop| Unassigned {
            stop,
            reason: d.infeasible[stop].unwrap_or(UnassignedReason::FleetExhausted),
        })
        .collect();
    unassigned.sort_by_key(|u| u.stop);
    Solution {
        routes,
        unassigned,
        cost: s.cost,
        iterations,
    }
}
