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
