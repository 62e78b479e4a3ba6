//! Cheapest insertion of one urgent stop into a run already under way.

use crate::model::Problem;
use crate::solution::RoutePlan;
use crate::solver::Data;
use crate::solver::route::Route;

/// Where to put an urgent stop in a route and what it adds to the objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Insertion {
    /// Index into `route.visits` before which the stop goes (`visits.len()` = last).
    pub position: usize,
    /// Increase of the objective (distance cost, duration cost, fixed cost if the route was empty).
    pub added_cost: f64,
}

/// Cheapest feasible position for `stop` in `route` that keeps the first `fixed_prefix_len`
/// visits (already done or under way) in place. Capacity, windows, the deadline and the shift
/// are respected for the whole route; `None` if no position is feasible.
///
/// Times are recomputed from the problem with the vehicle leaving at its shift start, so pass
/// a route whose first visits reflect reality (e.g. shift start = time of last known departure
/// in a re-planning problem) when the run is late.
pub fn insert_stop(
    problem: &Problem,
    route: &RoutePlan,
    fixed_prefix_len: usize,
    stop: usize,
) -> Option<Insertion> {
    if stop >= problem.stops().len() || route.vehicle >= problem.vehicles().len() {
        return None;
    }
    if route.visits.iter().any(|v| v.stop == stop) || fixed_prefix_len > route.visits.len() {
        return None;
    }
    let d = Data::new(problem, 0);
    let mut r = Route::new(&d, route.vehicle);
    r.stops = route.visits.iter().map(|v| v.stop).collect();
    r.update(&d);
    if !r.feasible {
        return None;
    }
    r.best_gap(&d, stop, fixed_prefix_len, || false)
        .map(|(position, added_cost)| Insertion {
            position,
            added_cost,
        })
}

/// The route `stops` (in this order) on `vehicle`, timed as the solver times it (leaving at
/// the shift start, waiting for windows); `None` if it breaks capacity, a window, a deadline
/// or the shift. Callers that change a planned route (a stop dropped because its waste was
/// collected meanwhile, an urgent stop inserted) take the ETAs from here rather than
/// recomputing them with rules of their own.
pub fn schedule(problem: &Problem, vehicle: usize, stops: &[usize]) -> Option<RoutePlan> {
    if vehicle >= problem.vehicles().len() || stops.iter().any(|&s| s >= problem.stops().len()) {
        return None;
    }
    let d = Data::new(problem, 0);
    let mut r = Route::new(&d, vehicle);
    r.stops = stops.to_vec();
    r.update(&d);
    r.feasible.then(|| crate::solver::plan_of(&d, &r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LatLng, ProblemBuilder, Stop, TimeWindow, Vehicle};
    use crate::{HaversineMatrix, SolverConfig, solve};

    fn problem(deadline: Option<f64>) -> Problem {
        let mut b = ProblemBuilder::new();
        let plant = b
            .location(LatLng::new(36.3, 117.4).expect("plant"))
            .expect("loc");
        b.vehicle(Vehicle {
            shift_start: 8.0 * 3600.0,
            shift_end: 18.0 * 3600.0,
            ..Vehicle::new("v", 100.0, plant)
        });
        for (i, (lat, lng)) in [(36.32, 117.42), (36.35, 117.45), (36.28, 117.36)]
            .into_iter()
            .enumerate()
        {
            let loc = b
                .location(LatLng::new(lat, lng).expect("stop"))
                .expect("loc");
            b.stop(Stop {
                demand_kg: 10.0,
                service: 300.0,
                windows: if i == 2 {
                    vec![TimeWindow {
                        start: 10.0 * 3600.0,
                        end: 12.0 * 3600.0,
                    }]
                } else {
                    Vec::new()
                },
                deadline: if i == 1 { deadline } else { None },
                ..Stop::new(format!("s{i}"), loc)
            });
        }
        b.build(&HaversineMatrix {
            circuity: 1.4,
            speed_kmh: 35.0,
        })
        .expect("problem")
    }

    /// The solver's own routes come back with the same times, and a route with a stop left
    /// out is timed again (waiting for a window included) rather than keeping stale ETAs.
    #[test]
    fn schedule_times_routes_as_the_solver_does() {
        let p = problem(None);
        let s = solve(
            &p,
            &SolverConfig {
                time_limit: None,
                iterations: Some(200),
                seed: 1,
                threads: 1,
            },
        );
        let r = &s.routes[0];
        let order: Vec<usize> = r.visits.iter().map(|v| v.stop).collect();
        let again = schedule(&p, r.vehicle, &order).expect("feasible");
        assert_eq!(again.visits, r.visits);
        assert!((again.distance_m - r.distance_m).abs() < 1e-6);
        let shorter: Vec<usize> = order.iter().copied().filter(|&k| k != 1).collect();
        let dropped = schedule(&p, 0, &shorter).expect("still feasible");
        assert!(dropped.distance_m < r.distance_m);
        let at_window = dropped.visits.iter().find(|v| v.stop == 2).expect("s2");
        assert!(at_window.service_start >= 10.0 * 3600.0);
        // A deadline before any possible arrival makes the order infeasible.
        assert!(schedule(&problem(Some(8.0 * 3600.0)), 0, &order).is_none());
        assert!(schedule(&p, 1, &order).is_none());
    }
}
