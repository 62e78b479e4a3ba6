//! Planning several days at once (a periodic VRP): which day each stop is visited, then each
//! day's routes with the VRPTW solver.
//!
//! The caller says, per stop, which visit days are allowed: the latest day of the first visit
//! (the day the due rule makes it due, from the waste and the clocks known now), the earliest
//! day worth visiting, and, after a visit on day `k`, the latest day of the next one
//! (`next_by[k]`, from its collection interval). A stop with `first_by == None` needs no
//! visit in the horizon.
//!
//! The search starts from the due rule's own choice (every visit on the last allowed day,
//! what planning each day alone does) and moves visits to other allowed days where a
//! cheaper place in that day's routes exists (then re-chains the later visits as late as
//! allowed); moves are judged on the routes' distance, with capacity and shift length
//! respected; then every day is solved again by [`crate::solve`]. The result is the cheaper
//! of that and the due rule's plan solved the same way (fewest unserved visits, then
//! distance, then vehicle-days), so the horizon is never worse than day by day on the
//! solver's own measure. Days are calendar days; a day with no vehicles has no visits.

use std::fmt;

use crate::matrix::Matrix;
use crate::model::{Problem, Stop, TimeWindow, Vehicle};
use crate::solution::Solution;
use crate::solver::{SolverConfig, solve};
use crate::validate::{Violation, validate};

/// Seconds in a day: day `k` of the horizon starts at `k * DAY` on the horizon's clock.
pub const DAY: f64 = 86_400.0;

/// A stop of a horizon: where, what, and on which days it may be visited.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizonStop {
    /// The caller's id; returned untouched.
    pub id: String,
    /// Matrix index.
    pub location: usize,
    /// Waste known now (collected at the first visit), kg and units.
    pub first_kg: f64,
    pub first_units: f64,
    /// Waste expected to accrue per day (kg, units), added to every visit for the days since
    /// the previous one (or since day 0).
    pub kg_per_day: f64,
    pub units_per_day: f64,
    /// Time on site.
    pub service: f64,
    /// Daily opening hours, seconds after each day's midnight (empty: any time).
    pub windows: Vec<TimeWindow>,
    /// Latest service start of the first visit on the horizon's clock (the storage deadline of
    /// the waste known now); `None` when none binds.
    pub deadline: Option<f64>,
    /// Earliest day a first visit is worth making.
    pub earliest: usize,
    /// Latest day of the first visit; `None`: no visit needed in the horizon.
    pub first_by: Option<usize>,
    /// After a visit on day `k`: the latest day of the next visit (`None`: none needed).
    /// Shorter than the horizon means `None` beyond its end.
    pub next_by: Vec<Option<usize>>,
}

/// A horizon: one matrix, the vehicles of each day (times after that day's midnight), stops.
#[derive(Clone, Debug)]
pub struct HorizonProblem {
    pub matrix: Matrix,
    /// `days[k]`: the vehicles working on day `k` (empty: no runs that day).
    pub days: Vec<Vec<Vehicle>>,
    pub stops: Vec<HorizonStop>,
    /// Cost weights as in [`Problem::with_costs`].
    pub cost_per_distance: f64,
    pub cost_per_duration: f64,
}

/// How hard to search.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizonConfig {
    /// The solver's configuration for each day's VRPTW (its time limit applies per day).
    pub day: SolverConfig,
    /// Passes of the day-moving local search over all visits.
    pub passes: usize,
}

impl Default for HorizonConfig {
    fn default() -> Self {
        Self {
            day: SolverConfig::default(),
            passes: 4,
        }
    }
}

/// One day of a horizon plan: its routing problem (stop `i` stands for horizon stop
/// `stops[i]`) and the solver's routes.
#[derive(Clone, Debug)]
pub struct HorizonDay {
    pub problem: Problem,
    pub stops: Vec<usize>,
    pub solution: Solution,
}

/// A horizon plan.
#[derive(Clone, Debug)]
pub struct HorizonSolution {
    pub days: Vec<HorizonDay>,
    /// Per horizon stop, its visit days in order.
    pub visits: Vec<Vec<usize>>,
    /// Whether the due rule's plan (every visit on its last allowed day) was kept because the
    /// search found nothing better.
    pub due_rule_kept: bool,
}

impl HorizonSolution {
    /// Total distance of all days' routes.
    pub fn distance(&self) -> f64 {
        self.days.iter().map(|d| d.solution.distance()).sum()
    }
    /// Vehicles used, summed over days.
    pub fn vehicle_days(&self) -> usize {
        self.days.iter().map(|d| d.solution.routes.len()).sum()
    }
    /// Visits the fleet could not serve on their day.
    pub fn unserved(&self) -> usize {
        self.days.iter().map(|d| d.solution.unassigned.len()).sum()
    }
}

impl HorizonStop {
    /// The latest day of the first visit: `first_by`, and never a day after the deadline's.
    fn first_by(&self) -> Option<usize> {
        let by_deadline = self.deadline.map(|dl| (dl / DAY).floor().max(0.0) as usize);
        match (self.first_by, by_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, _) => a,
        }
    }

    /// The latest chain of visits starting with a visit on `day` (each next visit on the last
    /// allowed day with vehicles), or `None` when a gap cannot be kept.
    fn tail_from(&self, day: usize, works: &[bool]) -> Option<Vec<usize>> {
        let mut out = vec![day];
        let mut at = day;
        while let Some(by) = self.next_by.get(at).copied().flatten() {
            if by >= works.len() {
                break;
            }
            let next = (at + 1..=by).rev().find(|&d| works[d])?;
            out.push(next);
            at = next;
        }
        Some(out)
    }

    /// The due rule's visits: first on the last allowed working day, then as late as allowed.
    fn latest_chain(&self, works: &[bool]) -> Vec<usize> {
        let Some(by) = self.first_by() else {
            return Vec::new();
        };
        let by = by.min(works.len().saturating_sub(1));
        // Not before `earliest` when possible; when no working day fits, the first one from
        // day 0 (a late visit beats none; the validator reports it).
        let first = (self.earliest.min(by)..=by)
            .rev()
            .find(|&d| works[d])
            .or_else(|| (0..=by).rev().find(|&d| works[d]));
        first
            .and_then(|d| self.tail_from(d, works))
            .unwrap_or_default()
    }

    /// Whether `days` (ascending) keeps every rule.
    fn chain_ok(&self, days: &[usize], works: &[bool]) -> bool {
        let Some(by) = self.first_by() else {
            return days.iter().all(|&d| works.get(d) == Some(&true));
        };
        let Some(&first) = days.first() else {
            return false;
        };
        if first > by || first < self.earliest.min(by) {
            return false;
        }
        let mut prev = None;
        for &d in days {
            if works.get(d) != Some(&true) || prev.is_some_and(|p| d <= p) {
                return false;
            }
            if let Some(p) = prev
                && self
                    .next_by
                    .get(p)
                    .copied()
                    .flatten()
                    .is_some_and(|n| d > n)
            {
                return false;
            }
            prev = Some(d);
        }
        prev.is_none_or(|p| {
            self.next_by
                .get(p)
                .copied()
                .flatten()
                .is_none_or(|n| n >= works.len())
        })
    }

    /// Days between visits its interval asks for (the first gap `next_by` states); `None`
    /// when the horizon asks for no repeat visit.
    fn gap(&self) -> Option<usize> {
        self.next_by
            .iter()
            .enumerate()
            .find_map(|(k, by)| by.map(|by| by.saturating_sub(k).max(1)))
    }

    /// Visits' worth of days beyond the horizon that `days` keeps served: the day the next
    /// visit after the last one is needed, over the gap. A chain that visits a stop once more
    /// near the end of the horizon is not all extra cost: that visit would be needed just
    /// after the horizon anyway. Zero when no repeat visit is asked.
    fn coverage(&self, days: &[usize], n_days: usize) -> f64 {
        match (days.last(), self.gap()) {
            (Some(&last), Some(g)) => (last + g).saturating_sub(n_days) as f64 / g as f64,
            _ => 0.0,
        }
    }

    /// Expected load of the `i`-th visit of `days`.
    fn load(&self, days: &[usize], i: usize) -> (f64, f64) {
        let since = if i == 0 { 0 } else { days[i - 1] };
        let elapsed = days[i].saturating_sub(since) as f64;
        let (kg, units) = if i == 0 {
            (self.first_kg, self.first_units)
        } else {
            (0.0, 0.0)
        };
        (
            kg + self.kg_per_day * elapsed,
            (units + self.units_per_day * elapsed).round(),
        )
    }
}

/// One broken rule of a horizon plan.
#[derive(Clone, Debug, PartialEq)]
pub enum HorizonViolation {
    /// A stop's visit days break its allowed days or gaps (or it is missing a visit).
    Days { stop: usize, days: Vec<usize> },
    /// The first visit starts after the stop's deadline.
    AfterDeadline { stop: usize, day: usize, at: f64 },
    /// A day's routes break a rule of that day's problem.
    Day { day: usize, violation: Violation },
    /// A day's problem does not match the visits (a stop missing or extra, wrong load or
    /// windows, vehicles other than the day's).
    Mismatch { day: usize },
}

impl fmt::Display for HorizonViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days { stop, days } => write!(f, "stop {stop}: visit days {days:?} not allowed"),
            Self::AfterDeadline { stop, day, at } => {
                write!(
                    f,
                    "stop {stop}: first visit on day {day} at {at} after its deadline"
                )
            }
            Self::Day { day, violation } => write!(f, "day {day}: {violation}"),
            Self::Mismatch { day } => write!(f, "day {day}: problem does not match the visits"),
        }
    }
}

/// Stops whose rules no choice of days can keep, because the fleet's calendar leaves no
/// working day before the deadline or within an interval (a horizon starting on a day off, an
/// empty fleet, a weekend longer than the interval). No solver can fix these: the caller must
/// report them to the dispatcher, and [`validate_horizon`] does not count them as the solver's
/// violations (their visits, if any, must still fit the day's routes).
pub fn calendar_misses(p: &HorizonProblem) -> Vec<usize> {
    let works: Vec<bool> = p.days.iter().map(|v| !v.is_empty()).collect();
    p.stops
        .iter()
        .enumerate()
        .filter(|(_, st)| !st.chain_ok(&st.latest_chain(&works), &works))
        .map(|(i, _)| i)
        .collect()
}

/// Checks a horizon plan: every stop visited on allowed days with its gaps kept, the first
/// visit before the deadline, and each day's routes valid ([`validate`]: windows, capacity,
/// shift length). Visits the fleet could not serve are reported by the day's
/// `unassigned` (and so by [`HorizonSolution::unserved`]), not as violations.
pub fn validate_horizon(
    p: &HorizonProblem,
    s: &HorizonSolution,
) -> Result<(), Vec<HorizonViolation>> {
    let mut out = Vec::new();
    let works: Vec<bool> = p.days.iter().map(|v| !v.is_empty()).collect();
    if s.days.len() != p.days.len() || s.visits.len() != p.stops.len() {
        out.push(HorizonViolation::Mismatch { day: 0 });
        return Err(out);
    }
    let missed = calendar_misses(p);
    for (i, st) in p.stops.iter().enumerate() {
        if !missed.contains(&i) && !st.chain_ok(&s.visits[i], &works) {
            out.push(HorizonViolation::Days {
                stop: i,
                days: s.visits[i].clone(),
            });
        }
    }
    for (k, day) in s.days.iter().enumerate() {
        if let Err(v) = validate(&day.problem, &day.solution) {
            out.extend(
                v.into_iter()
                    .map(|violation| HorizonViolation::Day { day: k, violation }),
            );
        }
        let expected: Vec<usize> = (0..p.stops.len())
            .filter(|&i| s.visits[i].contains(&k))
            .collect();
        let mut got = day.stops.clone();
        got.sort_unstable();
        let same_fleet = day.problem.vehicles().len() == p.days[k].len()
            && day.problem.vehicles().iter().zip(&p.days[k]).all(|(a, b)| {
                (
                    a.id.as_str(),
                    a.capacity_kg,
                    a.capacity_units,
                    a.shift_start,
                    a.shift_end,
                ) == (
                    b.id.as_str(),
                    b.capacity_kg,
                    b.capacity_units,
                    b.shift_start,
                    b.shift_end,
                ) && a.speed_factor == b.speed_factor
            });
        if got != expected || !same_fleet || day.problem.stops().len() != day.stops.len() {
            out.push(HorizonViolation::Mismatch { day: k });
            continue;
        }
        for (r, &h) in day.stops.iter().enumerate() {
            let st = &p.stops[h];
            let rs = &day.problem.stops()[r];
            let vi = s.visits[h].iter().position(|&d| d == k).unwrap_or(0);
            let (kg, units) = st.load(&s.visits[h], vi);
            // The day's matrix must be the horizon's between the depot and the stop.
            let same_place = day
                .problem
                .vehicles()
                .first()
                .zip(p.days[k].first())
                .is_none_or(|(dv, hv)| {
                    let a = day.problem.matrix().distance(dv.start, rs.location);
                    let b = p.matrix.distance(hv.start, st.location);
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
                });
            if rs.windows != st.windows
                || (rs.demand_kg - kg).abs() > 1e-6
                || (rs.demand_units - units).abs() > 1e-6
                || rs.service != st.service
                || !same_place
            {
                out.push(HorizonViolation::Mismatch { day: k });
            }
        }
        // The deadline binds the first visit, on the horizon's clock.
        for route in &day.solution.routes {
            for v in &route.visits {
                let h = day.stops[v.stop];
                let st = &p.stops[h];
                let at = k as f64 * DAY + v.service_start;
                if s.visits[h].first() == Some(&k)
                    && !missed.contains(&h)
                    && st
                        .deadline
                        .is_some_and(|dl| at > dl + 1e-6 * dl.abs().max(1.0))
                {
                    out.push(HorizonViolation::AfterDeadline {
                        stop: h,
                        day: k,
                        at,
                    });
                }
            }
        }
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// The routing problem of day `k` for the stops visited that day.
fn day_problem(
    p: &HorizonProblem,
    k: usize,
    visits: &[Vec<usize>],
) -> Result<(Problem, Vec<usize>), crate::Error> {
    let members: Vec<usize> = (0..p.stops.len())
        .filter(|&i| visits[i].contains(&k))
        .collect();
    // Sub-matrix: the day's depots, then its stops.
    let mut locs: Vec<usize> = Vec::new();
    let index = |l: usize, locs: &mut Vec<usize>| match locs.iter().position(|&x| x == l) {
        Some(i) => i,
        None => {
            locs.push(l);
            locs.len() - 1
        }
    };
    let mut vehicles = p.days[k].clone();
    let mut ends = Vec::new();
    for v in &vehicles {
        ends.push((index(v.start, &mut locs), index(v.end, &mut locs)));
    }
    let stop_locs: Vec<usize> = members
        .iter()
        .map(|&i| index(p.stops[i].location, &mut locs))
        .collect();
    let n = locs.len();
    let mut dist = Vec::with_capacity(n * n);
    let mut dur = Vec::with_capacity(n * n);
    for &a in &locs {
        for &b in &locs {
            dist.push(p.matrix.distance(a, b));
            dur.push(p.matrix.duration(a, b));
        }
    }
    let matrix = Matrix::new(n, dist, dur)?;
    for (v, (s, e)) in vehicles.iter_mut().zip(&ends) {
        v.start = *s;
        v.end = *e;
    }
    let stops: Vec<Stop> = members
        .iter()
        .zip(&stop_locs)
        .map(|(&i, &loc)| {
            let st = &p.stops[i];
            let vi = visits[i].iter().position(|&d| d == k).unwrap_or(0);
            let (kg, units) = st.load(&visits[i], vi);
            Stop {
                demand_kg: kg,
                demand_units: units,
                service: st.service,
                windows: st.windows.clone(),
                // Only the first visit carries the known waste's deadline.
                deadline: st
                    .deadline
                    .filter(|_| vi == 0)
                    .map(|dl| (dl - k as f64 * DAY).max(0.0)),
                ..Stop::new(st.id.clone(), loc)
            }
        })
        .collect();
    let problem = Problem::new(matrix, vehicles, stops)?
        .with_costs(p.cost_per_distance, p.cost_per_duration)?;
    Ok((problem, members))
}

/// Solves every day for fixed visits.
fn solve_days(
    p: &HorizonProblem,
    visits: &[Vec<usize>],
    cfg: &HorizonConfig,
) -> Result<Vec<HorizonDay>, crate::Error> {
    (0..p.days.len())
        .map(|k| {
            let (problem, stops) = day_problem(p, k, visits)?;
            let solution = if stops.is_empty() || p.days[k].is_empty() {
                Solution {
                    unassigned: (0..stops.len())
                        .map(|stop| crate::Unassigned {
                            stop,
                            reason: crate::UnassignedReason::FleetExhausted,
                        })
                        .collect(),
                    ..Solution::default()
                }
            } else {
                solve(&problem, &cfg.day)
            };
            Ok(HorizonDay {
                problem,
                stops,
                solution,
            })
        })
        .collect()
}

/// The surrogate of a day's routes the day-moving search edits: per route, its vehicle, its
/// locations in order, load and driving plus service time.
#[derive(Clone, Debug)]
struct Sketch {
    vehicle: usize,
    stops: Vec<usize>,
    kg: f64,
    units: f64,
    time: f64,
}

struct Search<'a> {
    p: &'a HorizonProblem,
    /// Day -> sketched routes.
    routes: Vec<Vec<Sketch>>,
    /// Share of each shift a sketched route may fill (room for windows and waiting).
    slack: f64,
}

impl Search<'_> {
    fn d(&self, a: usize, b: usize) -> f64 {
        self.p.matrix.distance(a, b)
    }
    fn t(&self, k: usize, v: usize, a: usize, b: usize) -> f64 {
        self.p.matrix.duration(a, b) / self.p.days[k][v].speed_factor
    }
    fn ends(&self, k: usize, r: &Sketch, i: usize) -> (usize, usize) {
        let v = &self.p.days[k][r.vehicle];
        let loc = |j: usize| self.p.stops[r.stops[j]].location;
        let a = if i == 0 { v.start } else { loc(i - 1) };
        let b = if i == r.stops.len() { v.end } else { loc(i) };
        (a, b)
    }
    /// Removal saving of horizon stop `h` from day `k` (distance), and where it is.
    fn removal(&self, k: usize, h: usize) -> Option<(usize, usize, f64)> {
        for (ri, r) in self.routes[k].iter().enumerate() {
            if let Some(i) = r.stops.iter().position(|&x| x == h) {
                let s = self.p.stops[h].location;
                let (a, _) = self.ends(k, r, i);
                let (_, b) = self.ends(k, r, i + 1);
                return Some((ri, i, self.d(a, s) + self.d(s, b) - self.d(a, b)));
            }
        }
        None
    }
    /// Cheapest insertion of `h` on day `k` with load `(kg, units)`: (route, position, cost);
    /// a new route on a free vehicle when none fits.
    fn insertion(&self, k: usize, h: usize, kg: f64, units: f64) -> Option<(usize, usize, f64)> {
        let s = self.p.stops[h].location;
        let st = &self.p.stops[h];
        let mut best: Option<(usize, usize, f64)> = None;
        for (ri, r) in self.routes[k].iter().enumerate() {
            let v = &self.p.days[k][r.vehicle];
            if r.kg + kg > v.capacity_kg || r.units + units > v.capacity_units {
                continue;
            }
            let room = (v.shift_end - v.shift_start) * self.slack - r.time - st.service;
            for i in 0..=r.stops.len() {
                let (a, b) = self.ends(k, r, i);
                let dt = self.t(k, r.vehicle, a, s) + self.t(k, r.vehicle, s, b)
                    - self.t(k, r.vehicle, a, b);
                if dt > room {
                    continue;
                }
                let c = self.d(a, s) + self.d(s, b) - self.d(a, b);
                if best.is_none_or(|b| c < b.2) {
                    best = Some((ri, i, c));
                }
            }
        }
        if best.is_none() {
            let used: Vec<usize> = self.routes[k].iter().map(|r| r.vehicle).collect();
            for (vi, v) in self.p.days[k].iter().enumerate() {
                if used.contains(&vi) || kg > v.capacity_kg || units > v.capacity_units {
                    continue;
                }
                let c = self.d(v.start, s) + self.d(s, v.end);
                if best.is_none_or(|b| c < b.2) {
                    best = Some((usize::MAX - vi, 0, c));
                }
            }
        }
        best
    }
    fn insert(&mut self, k: usize, h: usize, kg: f64, units: f64, at: (usize, usize)) {
        let s = self.p.stops[h].location;
        let ri = if at.0 >= self.routes[k].len() {
            let vehicle = usize::MAX - at.0;
            self.routes[k].push(Sketch {
                vehicle,
                stops: Vec::new(),
                kg: 0.0,
                units: 0.0,
                time: 0.0,
            });
            self.routes[k].len() - 1
        } else {
            at.0
        };
        let (a, b) = self.ends(k, &self.routes[k][ri], at.1);
        let v = self.routes[k][ri].vehicle;
        let dt =
            self.t(k, v, a, s) + self.t(k, v, s, b) - self.t(k, v, a, b) + self.p.stops[h].service;
        let r = &mut self.routes[k][ri];
        r.stops.insert(at.1, h);
        r.kg += kg;
        r.units += units;
        r.time += dt;
    }
}

/// Plans the horizon (see the module's comment).
pub fn solve_horizon(
    p: &HorizonProblem,
    cfg: &HorizonConfig,
) -> Result<HorizonSolution, crate::Error> {
    let works: Vec<bool> = p.days.iter().map(|v| !v.is_empty()).collect();
    let base: Vec<Vec<usize>> = p.stops.iter().map(|s| s.latest_chain(&works)).collect();
    let base_days = solve_days(p, &base, cfg)?;
    let (moved, unit) = improve(p, &base, &base_days, cfg, &works);
    let baseline = HorizonSolution {
        days: base_days,
        visits: base,
        due_rule_kept: true,
    };
    if moved == baseline.visits {
        return Ok(baseline);
    }
    let days = solve_days(p, &moved, cfg)?;
    let candidate = HorizonSolution {
        days,
        visits: moved,
        due_rule_kept: false,
    };
    // Distance net of the coverage beyond the horizon each stop's visits leave (valued at the
    // stop's own cost per visit), so that a plan is not judged worse for a visit on the last
    // days that the next plan would have to make anyway.
    let credit = |s: &HorizonSolution| -> f64 {
        p.stops
            .iter()
            .zip(&s.visits)
            .zip(&unit)
            .map(|((st, v), u)| u * st.coverage(v, p.days.len()))
            .sum()
    };
    let key = |s: &HorizonSolution| (s.unserved(), s.distance() - credit(s), s.vehicle_days());
    let (a, b) = (key(&candidate), key(&baseline));
    let better =
        a.0 < b.0 || (a.0 == b.0 && (a.1 < b.1 - 1e-6 || (a.1 <= b.1 + 1e-6 && a.2 < b.2)));
    Ok(if better { candidate } else { baseline })
}

/// A stop and its new visit days.
type Move = (usize, Vec<usize>);

/// Worth of serving a visit the base plan could not, in distance units.
const UNSERVED_WEIGHT: f64 = 1e9;

/// The day-moving local search over sketches of the base days' routes.
fn improve(
    p: &HorizonProblem,
    base: &[Vec<usize>],
    base_days: &[HorizonDay],
    cfg: &HorizonConfig,
    works: &[bool],
) -> (Vec<Vec<usize>>, Vec<f64>) {
    let mut visits: Vec<Vec<usize>> = base.to_vec();
    let mut s = Search {
        p,
        routes: vec![Vec::new(); p.days.len()],
        slack: 0.85,
    };
    // Per (stop, day) the load placed, so removal subtracts what insertion added.
    let mut load: std::collections::HashMap<(usize, usize), (f64, f64)> = Default::default();
    for (k, day) in base_days.iter().enumerate() {
        for r in &day.solution.routes {
            let stops: Vec<usize> = r.visits.iter().map(|v| day.stops[v.stop]).collect();
            let mut sk = Sketch {
                vehicle: r.vehicle,
                stops: Vec::new(),
                kg: 0.0,
                units: 0.0,
                time: 0.0,
            };
            let mut prev = p.days[k][r.vehicle].start;
            for &h in &stops {
                let vi = visits[h].iter().position(|&d| d == k).unwrap_or(0);
                let (kg, units) = p.stops[h].load(&visits[h], vi);
                load.insert((h, k), (kg, units));
                sk.kg += kg;
                sk.units += units;
                sk.time += s.t(k, r.vehicle, prev, p.stops[h].location) + p.stops[h].service;
                prev = p.stops[h].location;
                sk.stops.push(h);
            }
            sk.time += s.t(k, r.vehicle, prev, p.days[k][r.vehicle].end);
            s.routes[k].push(sk);
        }
    }
    let total = |s: &Search| -> f64 {
        (0..s.routes.len())
            .map(|k| {
                s.routes[k]
                    .iter()
                    .map(|r| {
                        (0..=r.stops.len())
                            .map(|i| {
                                let (a, b) = s.ends(k, r, i);
                                s.d(a, b)
                            })
                            .sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .sum()
    };
    // Visits the base days could not serve: moving them elsewhere is worth far more than any
    // distance (the final re-solve and the comparison with the base judge the result).
    let unserved: std::collections::HashSet<(usize, usize)> = base_days
        .iter()
        .enumerate()
        .flat_map(|(k, d)| {
            d.solution
                .unassigned
                .iter()
                .map(move |u| (d.stops[u.stop], k))
        })
        .collect();
    let penalty = |h: usize, chain: &[usize]| -> f64 {
        UNSERVED_WEIGHT
            * chain
                .iter()
                .filter(|&&d| unserved.contains(&(h, d)))
                .count() as f64
    };
    let n_days = p.days.len();
    // Each stop's cost per visit: its mean removal saving in the due rule's routes.
    let unit: Vec<f64> = (0..p.stops.len())
        .map(|h| {
            let savings: Vec<f64> = visits[h]
                .iter()
                .filter_map(|&k| s.removal(k, h).map(|r| r.2))
                .collect();
            savings.iter().sum::<f64>() / savings.len().max(1) as f64
        })
        .collect();
    let credit = |h: usize, chain: &[usize]| unit[h] * p.stops[h].coverage(chain, n_days);
    // The chain that moves visit `vi` of `current` to day `d` (then as late as allowed).
    let moved_to = |h: usize, current: &[usize], vi: usize, d: usize| -> Option<Vec<usize>> {
        let st = &p.stops[h];
        let lo = if vi == 0 {
            st.earliest.min(st.first_by().unwrap_or(0))
        } else {
            current[vi - 1] + 1
        };
        let hi = if vi == 0 {
            st.first_by().unwrap_or(n_days - 1)
        } else {
            st.next_by
                .get(current[vi - 1])
                .copied()
                .flatten()
                .unwrap_or(n_days - 1)
        }
        .min(n_days - 1);
        if d < lo || d > hi || !works[d] || current.get(vi) == Some(&d) {
            return None;
        }
        let mut cand: Vec<usize> = current[..vi].to_vec();
        cand.extend(st.tail_from(d, works)?);
        (st.chain_ok(&cand, works) && cand != current).then_some(cand)
    };
    for _ in 0..cfg.passes {
        let mut improved = false;
        // Whole routes to another day: neighbours served together move together, which a
        // one-stop move cannot find when each stop alone gains nothing.
        for k in 0..n_days {
            let mut ri = 0;
            while ri < s.routes[k].len() {
                let members = s.routes[k][ri].stops.clone();
                let mut best: Option<(f64, Vec<Move>)> = None;
                for d in (0..n_days).filter(|&d| d != k) {
                    let moves: Vec<Move> = members
                        .iter()
                        .filter_map(|&h| {
                            let vi = visits[h].iter().position(|&x| x == k)?;
                            moved_to(h, &visits[h], vi, d).map(|c| (h, c))
                        })
                        .collect();
                    if moves.len() < 2 {
                        continue;
                    }
                    let saved = s.routes.clone();
                    let saved_load = load.clone();
                    let before = total(&s);
                    let mut gain = 0.0;
                    let mut ok = true;
                    for (h, cand) in &moves {
                        let current = &visits[*h];
                        gain += penalty(*h, current) - penalty(*h, cand) + credit(*h, cand)
                            - credit(*h, current);
                        if !apply(&mut s, &mut load, *h, current, cand) {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        gain += before - total(&s);
                        if gain > 1e-6 && best.as_ref().is_none_or(|b| gain > b.0) {
                            best = Some((gain, moves));
                        }
                    }
                    s.routes = saved;
                    load = saved_load;
                }
                let Some((_, moves)) = best else {
                    ri += 1;
                    continue;
                };
                let (saved, saved_load) = (s.routes.clone(), load.clone());
                let all = moves
                    .iter()
                    .all(|(h, cand)| apply(&mut s, &mut load, *h, &visits[*h], cand));
                if all {
                    for (h, cand) in moves {
                        visits[h] = cand;
                    }
                    improved = true;
                    // The route changed or left the day: look at the same index again.
                    if s.routes[k].get(ri).is_some_and(|r| r.stops == members) {
                        ri += 1;
                    }
                } else {
                    s.routes = saved;
                    load = saved_load;
                    ri += 1;
                }
            }
        }
        #[allow(clippy::needless_range_loop)] // `visits[h]` is reassigned inside
        for h in 0..p.stops.len() {
            let st = &p.stops[h];
            if visits[h].is_empty() {
                continue;
            }
            for vi in 0..visits[h].len() {
                let current = visits[h].clone();
                let Some(&from) = current.get(vi) else { break };
                let lo = if vi == 0 {
                    st.earliest.min(st.first_by().unwrap_or(0))
                } else {
                    current[vi - 1] + 1
                };
                let hi = if vi == 0 {
                    st.first_by().unwrap_or(n_days - 1)
                } else {
                    st.next_by
                        .get(current[vi - 1])
                        .copied()
                        .flatten()
                        .unwrap_or(n_days - 1)
                }
                .min(n_days - 1);
                let mut best: Option<(f64, Vec<usize>)> = None;
                let before = total(&s);
                for d in lo..=hi {
                    if d == from || !works[d] {
                        continue;
                    }
                    let Some(tail) = st.tail_from(d, works) else {
                        continue;
                    };
                    let mut cand: Vec<usize> = current[..vi].to_vec();
                    cand.extend(tail);
                    if !st.chain_ok(&cand, works) || cand == current {
                        continue;
                    }
                    // Apply tentatively on the sketch, measure, undo.
                    let saved = s.routes.clone();
                    let saved_load = load.clone();
                    let ok = apply(&mut s, &mut load, h, &current, &cand);
                    if ok {
                        let after = total(&s);
                        let gain = before - after + penalty(h, &current) - penalty(h, &cand)
                            + credit(h, &cand)
                            - credit(h, &current);
                        if gain > 1e-6 && best.as_ref().is_none_or(|b| gain > b.0) {
                            best = Some((gain, cand.clone()));
                        }
                    }
                    s.routes = saved;
                    load = saved_load;
                }
                if let Some((_, cand)) = best
                    && apply(&mut s, &mut load, h, &current, &cand)
                {
                    visits[h] = cand;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    (visits, unit)
}

/// Moves `h`'s visits from `old` to `new` days on the sketch; false when a visit fits nowhere.
fn apply(
    s: &mut Search,
    load: &mut std::collections::HashMap<(usize, usize), (f64, f64)>,
    h: usize,
    old: &[usize],
    new: &[usize],
) -> bool {
    for &k in old {
        if let Some((ri, i, _)) = s.removal(k, h) {
            let (kg, units) = load.remove(&(h, k)).unwrap_or((0.0, 0.0));
            let loc = s.p.stops[h].location;
            let (a, _) = s.ends(k, &s.routes[k][ri], i);
            let (_, b) = s.ends(k, &s.routes[k][ri], i + 1);
            let v = s.routes[k][ri].vehicle;
            let dt = s.t(k, v, a, loc) + s.t(k, v, loc, b) - s.t(k, v, a, b) + s.p.stops[h].service;
            let r = &mut s.routes[k][ri];
            r.stops.remove(i);
            r.kg -= kg;
            r.units -= units;
            r.time -= dt;
            if r.stops.is_empty() {
                s.routes[k].remove(ri);
            }
        }
    }
    for (vi, &k) in new.iter().enumerate() {
        let (kg, units) = s.p.stops[h].load(new, vi);
        let Some((ri, i, _)) = s.insertion(k, h, kg, units) else {
            return false;
        };
        s.insert(k, h, kg, units, (ri, i));
        load.insert((h, k), (kg, units));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    const H: f64 = 3600.0;

    /// A depot at 0 and two clusters of `n` stops each, 30 km west and 30 km east, on a line
    /// (Euclidean metres, 10 m/s).
    fn county(n: usize, days: usize, works: &[bool]) -> HorizonProblem {
        let mut pts = vec![(0.0, 0.0)];
        for i in 0..n {
            pts.push((-30_000.0 - 500.0 * i as f64, 0.0));
            pts.push((30_000.0 + 500.0 * i as f64, 0.0));
        }
        let m = Matrix::euclidean(&pts, false).expect("matrix");
        let dist: Vec<f64> = (0..pts.len())
            .flat_map(|a| (0..pts.len()).map(move |b| (a, b)))
            .map(|(a, b)| m.distance(a, b))
            .collect();
        let matrix = Matrix::proportional(pts.len(), dist, 0.1).expect("matrix");
        let fleet = |k: usize| -> Vec<Vehicle> {
            if !works[k] {
                return Vec::new();
            }
            vec![Vehicle {
                shift_start: 7.5 * H,
                shift_end: 17.5 * H,
                capacity_units: 100.0,
                fixed_cost: 100.0,
                ..Vehicle::new(format!("v{k}"), 2000.0, 0)
            }]
        };
        let stops = (1..pts.len())
            .map(|loc| HorizonStop {
                id: format!("s{loc}"),
                location: loc,
                first_kg: 5.0,
                first_units: 1.0,
                kg_per_day: 2.0,
                units_per_day: 0.5,
                service: 300.0,
                windows: vec![TimeWindow {
                    start: 8.0 * H,
                    end: 17.0 * H,
                }],
                deadline: None,
                earliest: 0,
                // Neighbours due on different days (0, 1, 2, 0, ...), so day by day both
                // clusters are visited every day; one visit suffices.
                first_by: Some((loc - 1) / 2 % 3),
                next_by: Vec::new(),
            })
            .collect();
        HorizonProblem {
            matrix,
            days: (0..days).map(fleet).collect(),
            stops,
            cost_per_distance: 1.0,
            cost_per_duration: 0.0,
        }
    }

    fn cfg() -> HorizonConfig {
        HorizonConfig {
            day: SolverConfig {
                time_limit: None,
                iterations: Some(300),
                seed: 7,
                threads: 1,
            },
            passes: 4,
        }
    }

    #[test]
    fn the_due_rule_chain_is_as_late_as_allowed_and_skips_days_off() {
        let mut p = county(1, 7, &[true, true, false, true, true, true, true]);
        p.stops[0].first_by = Some(1);
        p.stops[0].next_by = (0..7).map(|k| Some(k + 2)).collect();
        let s = &p.stops[0];
        let works: Vec<bool> = p.days.iter().map(|d| !d.is_empty()).collect();
        // first by day 1; then by 3 (day 2 off: still 3), then 5, then 7 (past the end).
        assert_eq!(s.latest_chain(&works), vec![1, 3, 5]);
        assert!(s.chain_ok(&[0, 1, 3, 5], &works));
        assert!(!s.chain_ok(&[2, 3, 5], &works), "day 2 has no vehicle");
        assert!(!s.chain_ok(&[1, 4, 6], &works), "gap 1 -> 4 is too long");
        assert!(
            !s.chain_ok(&[1, 3], &works),
            "the last visit leaves a gap in the horizon"
        );
        assert!(!s.chain_ok(&[], &works));
    }

    #[test]
    fn a_week_groups_neighbours_on_a_day_and_beats_day_by_day() {
        let works = [true; 3];
        let p = county(6, 3, &works);
        let due_rule: Vec<Vec<usize>> = p.stops.iter().map(|s| s.latest_chain(&works)).collect();
        let base = solve_days(&p, &due_rule, &cfg()).expect("days");
        let base_km: f64 = base.iter().map(|d| d.solution.distance()).sum();
        let s = solve_horizon(&p, &cfg()).expect("horizon");
        validate_horizon(&p, &s).expect("valid");
        assert_eq!(s.unserved(), 0);
        assert!(!s.due_rule_kept);
        assert!(
            s.distance() < 0.9 * base_km,
            "horizon {} vs day by day {base_km}",
            s.distance()
        );
    }

    #[test]
    fn deadlines_bind_the_first_visit_and_the_validator_sees_breaches() {
        let works = [true; 3];
        let mut p = county(2, 3, &works);
        p.stops[1].first_by = Some(2);
        // The east stop's known waste must be collected by 10:00 on day 1.
        p.stops[1].deadline = Some(DAY + 10.0 * H);
        let s = solve_horizon(&p, &cfg()).expect("horizon");
        validate_horizon(&p, &s).expect("valid");
        let first = s.visits[1][0];
        let day = &s.days[first];
        let idx = day.stops.iter().position(|&h| h == 1).expect("on its day");
        let at = day
            .solution
            .routes
            .iter()
            .flat_map(|r| &r.visits)
            .find(|v| v.stop == idx)
            .map(|v| first as f64 * DAY + v.service_start)
            .expect("served");
        assert!(at <= DAY + 10.0 * H);

        // Moving a visit past its last allowed day (0) is reported.
        let mut bad = s.clone();
        bad.visits[0] = vec![2];
        assert!(validate_horizon(&p, &bad).is_err_and(|v| {
            v.iter()
                .any(|x| matches!(x, HorizonViolation::Days { stop: 0, .. }))
        }));

        // A deadline the routes do not meet is reported.
        let mut late = p.clone();
        late.stops[1].deadline = Some(first as f64 * DAY + 1.0);
        assert!(validate_horizon(&late, &s).is_err_and(|v| {
            v.iter()
                .any(|x| matches!(x, HorizonViolation::AfterDeadline { stop: 1, .. }))
        }));
    }

    /// The west cluster only, every stop visited every other day: half of it is due on day
    /// 0, the other half (its neighbours, interleaved) on day 1.
    fn out_of_phase(n: usize, days: usize) -> HorizonProblem {
        let mut p = county(n, days, &vec![true; days]);
        p.stops.retain(|s| s.location % 2 == 1);
        for (i, st) in p.stops.iter_mut().enumerate() {
            st.first_by = Some(i % 2);
            st.next_by = (0..days).map(|k| Some(k + 2)).collect();
            st.kg_per_day = 0.5;
        }
        p
    }

    #[test]
    fn neighbours_out_of_phase_are_pulled_onto_one_day_for_the_week() {
        let works = vec![true; 7];
        let p = out_of_phase(8, 7);
        let due_rule: Vec<Vec<usize>> = p.stops.iter().map(|s| s.latest_chain(&works)).collect();
        assert_eq!(
            (due_rule[0].clone(), due_rule[1].clone()),
            (vec![0, 2, 4, 6], vec![1, 3, 5])
        );
        let base = solve_days(&p, &due_rule, &cfg()).expect("days");
        let trips = |days: &[HorizonDay]| {
            days.iter()
                .filter(|d| !d.solution.routes.is_empty())
                .count()
        };
        assert_eq!(trips(&base), 7, "day by day: the cluster every day");
        let s = solve_horizon(&p, &cfg()).expect("horizon");
        validate_horizon(&p, &s).expect("valid");
        assert_eq!(s.unserved(), 0);
        assert!(!s.due_rule_kept);
        assert_eq!(trips(&s.days), 4, "{:?}", s.visits);
        assert!(
            s.visits.iter().all(|v| v == &vec![0, 2, 4, 6]),
            "{:?}",
            s.visits
        );
        let base_km: f64 = base.iter().map(|d| d.solution.distance()).sum();
        assert!(
            s.distance() < 0.7 * base_km,
            "{} vs {base_km}",
            s.distance()
        );
    }

    #[test]
    fn coverage_values_a_late_visit_as_partly_needed_after_the_horizon() {
        let p = out_of_phase(1, 7);
        let st = &p.stops[0];
        assert_eq!(st.gap(), Some(2));
        // Last visit on day 6: next needed by day 8, one day (half a gap) past the end.
        assert_eq!(st.coverage(&[0, 2, 4, 6], 7), 0.5);
        assert_eq!(st.coverage(&[1, 3, 5], 7), 0.0);
        let mut once = st.clone();
        once.next_by = Vec::new();
        assert_eq!(
            once.coverage(&[3], 7),
            0.0,
            "no repeat visit asked: no credit"
        );
    }

    #[test]
    fn a_calendar_without_a_working_day_in_time_is_reported_not_a_violation() {
        // No vehicle works on the first two days: the stops due by day 0 or 1 cannot be kept
        // by any plan, the one due by day 2 can.
        let p = county(3, 4, &[false, false, true, true]);
        let s = solve_horizon(&p, &cfg()).expect("solve");
        let missed = calendar_misses(&p);
        let due_by: Vec<usize> = p.stops.iter().map(|s| s.first_by.unwrap_or(9)).collect();
        assert!(!missed.is_empty());
        for (i, by) in due_by.iter().enumerate() {
            assert_eq!(missed.contains(&i), *by < 2, "stop {i} due by day {by}");
        }
        assert_eq!(validate_horizon(&p, &s), Ok(()));
        // An empty fleet: every stop is missed, and the plan is still valid (it visits none).
        let none = county(2, 3, &[false, false, false]);
        let s = solve_horizon(&none, &cfg()).expect("solve");
        assert_eq!(calendar_misses(&none).len(), none.stops.len());
        assert_eq!(validate_horizon(&none, &s), Ok(()));
    }

    #[test]
    fn stops_with_nothing_due_are_not_visited() {
        let works = [true; 3];
        let mut p = county(1, 3, &works);
        p.stops[0].first_by = None;
        let s = solve_horizon(&p, &cfg()).expect("horizon");
        validate_horizon(&p, &s).expect("valid");
        assert!(s.visits[0].is_empty());
    }
}
