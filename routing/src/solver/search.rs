//! Slack Induction by String Removals (SISR, Christiaens & Vanden Berghe 2020) inside
//! simulated annealing: remove a few strings of consecutive stops from routes near a random
//! seed stop, reinsert them greedily with "blinks", improve the result with a granular local
//! search around the reinserted stops (`local`: relocate, or-opt, swap, 2-opt*, 2-opt), accept
//! by the annealing criterion.
//! On problems over 250 stops reinsertion only tries the gaps next to the stop's nearest
//! neighbours, so an iteration costs about the same on 500 or 5000 stops; a rejected move is
//! undone from a journal of the touched routes instead of copying the solution.

mod local;

use std::time::{Duration, Instant};

use super::data::Data;
use super::route::Route;
use crate::rng::Rng;

const NONE: u32 = u32::MAX;
/// Average number of removed stops per ruin (SISR's c-bar).
const AVG_REMOVED: f64 = 10.0;
/// Longest removed string (SISR's L-max).
const MAX_STRING: f64 = 10.0;
/// Probability of skipping a gap during reinsertion (SISR's blink rate).
const BLINK: f64 = 0.01;
/// Stops per problem up to which every route is a candidate for reinsertion.
const ALL_ROUTES_UP_TO: usize = 250;
/// Neighbours whose routes are candidates for reinsertion on larger problems.
const GRANULAR: usize = 30;
/// Local-search moves applied per iteration at most (bounds the cost of an iteration).
const LS_MOVES: usize = 1000;
/// Unassigned stops retried per iteration: bounds the cost of an iteration when many stops
/// cannot be placed (an overbooked day) while every one is retried regularly.
const RETRY: usize = 10;

#[derive(Clone, Debug, Default)]
pub(crate) struct Sol {
    pub routes: Vec<Route>,
    pub unassigned: Vec<usize>,
    pub route_of: Vec<u32>,
    /// Index of each routed stop in its route's `stops`.
    pub pos_of: Vec<u32>,
    pub cost: f64,
}

impl Sol {
    pub(crate) fn empty(d: &Data) -> Self {
        Sol {
            routes: (0..d.veh.len()).map(|v| Route::new(d, v)).collect(),
            unassigned: Vec::new(),
            route_of: vec![NONE; d.n()],
            pos_of: vec![0; d.n()],
            cost: 0.0,
        }
    }

    fn clone_into_from(&mut self, o: &Sol) {
        self.routes.clone_from(&o.routes);
        self.unassigned.clone_from(&o.unassigned);
        self.route_of.clone_from(&o.route_of);
        self.pos_of.clone_from(&o.pos_of);
        self.cost = o.cost;
    }

    pub(crate) fn recost(&mut self, d: &Data) {
        self.cost = self.routes.iter().map(|r| r.cost).sum::<f64>()
            + self.unassigned.iter().map(|&s| d.penalty[s]).sum::<f64>();
    }

    fn set_route(&mut self, d: &Data, r: usize) {
        self.routes[r].update(d);
        for (i, &s) in self.routes[r].stops.iter().enumerate() {
            self.route_of[s] = r as u32;
            self.pos_of[s] = i as u32;
        }
    }

    /// Safety net for matrices without the triangle inequality: a route made infeasible by a
    /// removal is emptied and its stops reinserted.
    fn repair(&mut self, d: &Data, r: usize, removed: &mut Vec<usize>) {
        self.set_route(d, r);
        if !self.routes[r].feasible {
            for s in self.routes[r].stops.drain(..) {
                self.route_of[s] = NONE;
                removed.push(s);
            }
            self.routes[r].update(d);
        }
    }
}

pub(crate) struct Search<'d, 'p> {
    d: &'d Data<'p>,
    rng: Rng,
    stamp: Vec<u32>,
    tick: u32,
    removed: Vec<usize>,
    touched: Vec<usize>,
    keys: Vec<f64>,
    /// Undo journal: routes as they were before this iteration changed them, so a rejected
    /// move costs O(changed routes) instead of copying the whole solution every iteration.
    saved: Vec<(usize, Route)>,
    pool: Vec<Route>,
    saved_at: Vec<u64>,
    epoch: u64,
    old_unassigned: Vec<usize>,
    /// Local search worklist (stops to examine) and its membership flags.
    ls_queue: Vec<usize>,
    ls_work: Vec<usize>,
    in_queue: Vec<bool>,
    /// Stops removed by this iteration's ruin (the local search starts around them).
    reinserted: Vec<usize>,
    buf_a: Vec<usize>,
    buf_b: Vec<usize>,
}

pub(crate) struct Limits<'a> {
    pub iterations: Option<u64>,
    pub deadline: Option<Instant>,
    pub started: Instant,
    /// Told of a better solution, at most once a second per thread.
    pub report: Option<&'a (dyn Fn(crate::solver::Progress) + Sync)>,
}

impl Limits<'_> {
    fn progress(&self, it: u64) -> f64 {
        let by_it = self.iterations.map_or(0.0, |n| it as f64 / n.max(1) as f64);
        let by_time = self.deadline.map_or(0.0, |dl| {
            let total = dl.saturating_duration_since(self.started).as_secs_f64();
            if total <= 0.0 {
                1.0
            } else {
                self.started.elapsed().as_secs_f64() / total
            }
        });
        by_it.max(by_time).min(1.0)
    }
    fn done(&self, it: u64) -> bool {
        self.iterations.is_some_and(|n| it >= n)
            || self.deadline.is_some_and(|dl| Instant::now() >= dl)
    }
}

impl<'d, 'p> Search<'d, 'p> {
    pub(crate) fn new(d: &'d Data<'p>, seed: u64) -> Self {
        Search {
            d,
            rng: Rng::new(seed),
            stamp: vec![0; d.veh.len()],
            tick: 0,
            removed: Vec::new(),
            touched: Vec::new(),
            keys: vec![0.0; d.n()],
            saved: Vec::new(),
            pool: Vec::new(),
            saved_at: vec![0; d.veh.len()],
            epoch: 0,
            old_unassigned: Vec::new(),
            ls_queue: Vec::new(),
            ls_work: Vec::new(),
            in_queue: vec![false; d.n()],
            reinserted: Vec::new(),
            buf_a: Vec::new(),
            buf_b: Vec::new(),
        }
    }

    /// Greedy construction: insert every stop at its cheapest feasible position.
    pub(crate) fn construct(&mut self) -> Sol {
        let d = self.d;
        let mut s = Sol::empty(d);
        self.removed = (0..d.n()).collect();
        let depot = d.veh.first().map_or(0, |v| v.start);
        if let Some(angle) = d.sweep.as_ref() {
            // Large geographic day: sweep township by township around the plant, so routes
            // grow through neighbouring villages instead of across the county.
            self.removed.sort_by(|&a, &b| {
                angle[a]
                    .total_cmp(&angle[b])
                    .then(d.dist(depot, d.loc[a]).total_cmp(&d.dist(depot, d.loc[b])))
            });
        } else {
            // Hardest first: latest-due ascending, then farthest from the fleet's first depot.
            self.removed.sort_by(|&a, &b| {
                d.last_due(a)
                    .total_cmp(&d.last_due(b))
                    .then(d.dist(depot, d.loc[b]).total_cmp(&d.dist(depot, d.loc[a])))
            });
        }
        self.recreate(&mut s, false);
        s.recost(d);
        s
    }

    /// Run the annealing loop from `start`, return the best solution seen.
    pub(crate) fn run(&mut self, start: Sol, limits: &Limits<'_>) -> (Sol, u64) {
        let d = self.d;
        let mut cur = start;
        // Polish the construction (bounded by the deadline on very large days).
        for x in 0..d.n() {
            self.ls_push(x);
        }
        self.local_search(&mut cur, usize::MAX, limits.deadline);
        cur.recost(d);
        let mut best = cur.clone();
        let mut reported: Option<Instant> = None;
        let edges = (d.n() + cur.routes.iter().filter(|r| !r.stops.is_empty()).count()).max(1);
        let travel: f64 = cur.routes.iter().map(|r| r.cost).sum();
        let avg_edge = (travel / edges as f64).max(1e-9);
        // Annealing from one average edge down to 1 % of it. With the local search after every
        // recreate this beat 0.3 -> 0.003 (the schedule tuned before) and 0.1 -> 0.001 on
        // Solomon R/RC and CVRPLIB A and on generated days (docs/BENCHMARKS.md, run 3).
        let (t0, t1) = (avg_edge, 0.01 * avg_edge);
        let mut it = 0u64;
        while !limits.done(it) && d.n() > 0 {
            let progress = limits.progress(it);
            let temp = t0 * (t1 / t0).powf(progress);
            self.epoch += 1;
            self.old_unassigned.clone_from(&cur.unassigned);
            self.ruin(&mut cur);
            self.reinserted.clone_from(&self.removed);
            self.recreate(&mut cur, true);
            // Local search around the reinserted stops, journalled like the ruin and recreate.
            let reinserted = std::mem::take(&mut self.reinserted);
            for &x in &reinserted {
                self.ls_push_around(&cur, x);
            }
            self.reinserted = reinserted;
            self.local_search(&mut cur, LS_MOVES, None);
            let mut new_cost = cur.cost;
            for (r, old) in &self.saved {
                new_cost += cur.routes[*r].cost - old.cost;
            }
            new_cost += cur.unassigned.iter().map(|&x| d.penalty[x]).sum::<f64>();
            new_cost -= self
                .old_unassigned
                .iter()
                .map(|&x| d.penalty[x])
                .sum::<f64>();
            let threshold = cur.cost - temp * self.rng.f64().max(1e-300).ln();
            if new_cost < threshold {
                cur.cost = new_cost;
                if new_cost < best.cost - 1e-9 {
                    cur.recost(d);
                    best.clone_into_from(&cur);
                    if let Some(report) = limits.report
                        && reported.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
                    {
                        reported = Some(Instant::now());
                        report(crate::solver::Progress {
                            elapsed: limits.started.elapsed(),
                            distance_m: best.routes.iter().map(|r| r.dist).sum(),
                            unassigned: best.unassigned.len(),
                            iterations: it,
                        });
                    }
                }
            } else {
                self.undo(&mut cur);
            }
            self.pool.extend(self.saved.drain(..).map(|(_, r)| r));
            it += 1;
        }
        (best, it)
    }

    /// Save route `r` before its first change in this iteration (no-op outside `run`).
    fn touch(&mut self, s: &Sol, r: usize) {
        if self.epoch == 0 || self.saved_at[r] == self.epoch {
            return;
        }
        self.saved_at[r] = self.epoch;
        let mut copy = self.pool.pop().unwrap_or_default();
        copy.clone_from(&s.routes[r]);
        self.saved.push((r, copy));
    }

    /// Put back the routes and unassigned list saved by `touch` during this iteration.
    fn undo(&mut self, s: &mut Sol) {
        // Clear every touched route before restoring any: a stop that moved from one touched
        // route to another must point at the route it is restored into, not be cleared after.
        for (r, _) in &self.saved {
            for &x in &s.routes[*r].stops {
                s.route_of[x] = NONE;
            }
        }
        for (r, old) in &mut self.saved {
            std::mem::swap(&mut s.routes[*r], old);
            for (i, &x) in s.routes[*r].stops.iter().enumerate() {
                s.route_of[x] = *r as u32;
                s.pos_of[x] = i as u32;
            }
        }
        std::mem::swap(&mut s.unassigned, &mut self.old_unassigned);
    }

    fn ruin(&mut self, s: &mut Sol) {
        let d = self.d;
        self.removed.clear();
        if s.unassigned.len() <= RETRY {
            self.removed.append(&mut s.unassigned);
        } else {
            for _ in 0..RETRY {
                let i = self.rng.below(s.unassigned.len());
                self.removed.push(s.unassigned.swap_remove(i));
            }
        }
        let used = s.routes.iter().filter(|r| !r.stops.is_empty()).count();
        if used == 0 {
            return;
        }
        let assigned = d.n() - self.removed.len();
        let card = assigned as f64 / used as f64;
        let ls_max = MAX_STRING.min(card);
        let ks_max = 4.0 * AVG_REMOVED / (1.0 + ls_max) - 1.0;
        let ks = self.rng.range_f64(1.0, ks_max + 1.0).floor() as usize;
        let seed = self.rng.below(d.n());
        self.touched.clear();
        for i in 0..=d.neighbours[seed].len() {
            if self.touched.len() >= ks {
                break;
            }
            let c = if i == 0 {
                seed
            } else {
                d.neighbours[seed][i - 1] as usize
            };
            let r = s.route_of[c];
            if r == NONE || self.touched.contains(&(r as usize)) {
                continue;
            }
            let r = r as usize;
            let len = s.routes[r].stops.len();
            let lmax = (len as f64).min(ls_max);
            let l = (self.rng.range_f64(1.0, lmax + 1.0).floor() as usize).clamp(1, len);
            let pos = s.routes[r].stops.iter().position(|&x| x == c).unwrap_or(0);
            self.remove_string(s, r, pos, l);
            self.touched.push(r);
        }
        for i in 0..self.touched.len() {
            let r = self.touched[i];
            let mut removed = std::mem::take(&mut self.removed);
            s.repair(d, r, &mut removed);
            self.removed = removed;
        }
    }

    /// Remove a string of `l` stops containing position `pos`, or (half the time) a split
    /// string that keeps `m` stops in its middle.
    fn remove_string(&mut self, s: &mut Sol, r: usize, pos: usize, l: usize) {
        self.touch(s, r);
        let len = s.routes[r].stops.len();
        let split = l < len && self.rng.f64() < 0.5;
        let mut m = 0;
        if split {
            m = 1;
            while m < len - l && self.rng.f64() > 0.01 {
                m += 1;
            }
        }
        let total = l + m;
        let lo = pos.saturating_sub(total - 1);
        let hi = pos.min(len - total);
        let start = lo + self.rng.below(hi - lo + 1);
        let keep_from = if m > 0 {
            start + self.rng.below(l + 1)
        } else {
            usize::MAX
        };
        let route = &mut s.routes[r].stops;
        let mut w = 0;
        for i in 0..len {
            let x = route[i];
            let in_string = i >= start && i < start + total;
            let kept = i >= keep_from && i < keep_from.saturating_add(m);
            if in_string && !kept {
                s.route_of[x] = NONE;
                self.removed.push(x);
            } else {
                route[w] = x;
                w += 1;
            }
        }
        route.truncate(w);
    }

    /// Reinsert `self.removed` one by one at the cheapest gap (with blinks when `blink`).
    fn recreate(&mut self, s: &mut Sol, blink: bool) {
        let d = self.d;
        let mut removed = std::mem::take(&mut self.removed);
        if blink {
            self.order(&mut removed);
        }
        let all_routes = d.n() <= ALL_ROUTES_UP_TO;
        for &c in &removed {
            if d.infeasible[c].is_some() {
                s.unassigned.push(c);
                continue;
            }
            self.tick = self.tick.wrapping_add(1);
            if self.tick == 0 {
                self.stamp.iter_mut().for_each(|x| *x = 0);
                self.tick = 1;
            }
            let mut best: Option<(usize, usize, f64)> = None;
            if all_routes {
                for r in 0..s.routes.len() {
                    if !s.routes[r].stops.is_empty() {
                        self.consider(s, c, r, blink, &mut best);
                    }
                }
            } else {
                // Granular: only the gaps next to one of the stop's nearest neighbours.
                for &nb in d.neighbours[c].iter().take(GRANULAR) {
                    let r = s.route_of[nb as usize];
                    if r == NONE {
                        continue;
                    }
                    let r = r as usize;
                    let route = &s.routes[r];
                    if !route.fits(d, c) {
                        continue;
                    }
                    let p = s.pos_of[nb as usize] as usize;
                    for gap in [p, p + 1] {
                        if blink && self.rng.f64() < BLINK {
                            continue;
                        }
                        let bound = best.map_or(f64::INFINITY, |b| b.2);
                        if let Some(delta) = route.gap_delta(d, c, gap, bound) {
                            best = Some((r, gap, delta));
                        }
                    }
                }
            }
            for class in &d.classes {
                if let Some(&v) = class.iter().find(|&&v| s.routes[v].stops.is_empty()) {
                    self.consider(s, c, v, blink, &mut best);
                }
            }
            if best.is_none() && !all_routes && !blink {
                // Construction: nothing near has room, so try every route before opening none.
                for r in 0..s.routes.len() {
                    if !s.routes[r].stops.is_empty() {
                        self.consider(s, c, r, blink, &mut best);
                    }
                }
            }
            match best {
                Some((r, g, delta)) if delta <= d.penalty[c] => {
                    self.touch(s, r);
                    s.routes[r].stops.insert(g, c);
                    s.set_route(d, r);
                }
                _ => s.unassigned.push(c),
            }
        }
        removed.clear();
        self.removed = removed;
    }

    /// Evaluate route `r` for stop `c` once per stop (stamped), keeping the cheapest gap.
    fn consider(
        &mut self,
        s: &Sol,
        c: usize,
        r: usize,
        blink: bool,
        best: &mut Option<(usize, usize, f64)>,
    ) {
        if self.stamp[r] == self.tick {
            return;
        }
        self.stamp[r] = self.tick;
        let rng = &mut self.rng;
        let found = s.routes[r].best_gap(self.d, c, 0, || blink && rng.f64() < BLINK);
        if let Some((g, delta)) = found
            && best.is_none_or(|b| delta < b.2)
        {
            *best = Some((r, g, delta));
        }
    }

    /// SISR's reinsertion orders: random, demand, far, close (weights 4:4:2:1), plus
    /// tightest deadline first, which matters with time windows.
    fn order(&mut self, v: &mut [usize]) {
        let d = self.d;
        let depot = d.veh.first().map_or(0, |x| x.start);
        let pick = self.rng.below(13);
        self.rng.shuffle(v);
        if pick < 4 {
            return;
        }
        for &c in v.iter() {
            self.keys[c] = match pick {
                4..=7 => -(d.kg[c] + d.units[c]),
                8..=9 => -d.dist(depot, d.loc[c]),
                10 => d.dist(depot, d.loc[c]),
                _ => d.last_due(c),
            };
        }
        let keys = &self.keys;
        v.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    }
}

#[cfg(test)]
mod tests {
    use super::{NONE, Search, Sol};
    use crate::generator::{DayConfig, rural_day};
    use crate::solver::Data;

    /// Every routed stop points at its route and position; no other stop points anywhere.
    fn check_index(s: &Sol) {
        let mut routed = 0;
        for (r, route) in s.routes.iter().enumerate() {
            for (i, &x) in route.stops.iter().enumerate() {
                assert_eq!(s.route_of[x], r as u32, "stop {x}");
                assert_eq!(s.pos_of[x], i as u32, "stop {x}");
                routed += 1;
            }
        }
        assert_eq!(s.route_of.iter().filter(|&&r| r != NONE).count(), routed);
    }

    #[test]
    fn rejected_moves_restore_the_stop_index() {
        let day = rural_day(&DayConfig {
            vehicles: 4,
            ..DayConfig::with_stops(80, 2)
        });
        let p = day.problem().expect("generated day");
        let d = Data::new(&p, 40);
        let mut search = Search::new(&d, 3);
        let mut s = search.construct();
        check_index(&s);
        for _ in 0..300 {
            // One iteration of `run` whose move is always rejected.
            search.epoch += 1;
            search.old_unassigned.clone_from(&s.unassigned);
            search.ruin(&mut s);
            search.recreate(&mut s, true);
            search.undo(&mut s);
            search.pool.extend(search.saved.drain(..).map(|(_, r)| r));
            check_index(&s);
        }
    }

    #[test]
    fn local_search_improves_and_is_undone_with_the_journal() {
        let day = rural_day(&DayConfig {
            vehicles: 5,
            ..DayConfig::with_stops(100, 4)
        });
        let p = day.problem().expect("generated day");
        let d = Data::new(&p, 40);
        let mut search = Search::new(&d, 5);
        let mut s = search.construct();
        let constructed = s.cost;
        for x in 0..d.n() {
            search.ls_push(x);
        }
        search.local_search(&mut s, usize::MAX, None);
        check_index(&s);
        assert!(s.routes.iter().all(|r| r.feasible));
        s.recost(&d);
        assert!(s.cost < constructed, "{} vs {constructed}", s.cost);
        let before: Vec<Vec<usize>> = s.routes.iter().map(|r| r.stops.clone()).collect();
        for _ in 0..100 {
            // Ruin, recreate and local search as in `run`, then reject.
            search.epoch += 1;
            search.old_unassigned.clone_from(&s.unassigned);
            search.ruin(&mut s);
            search.reinserted.clone_from(&search.removed);
            search.recreate(&mut s, true);
            for x in search.reinserted.clone() {
                search.ls_push_around(&s, x);
            }
            search.local_search(&mut s, 1000, None);
            assert!(s.routes.iter().all(|r| r.feasible));
            check_index(&s);
            search.undo(&mut s);
            search.pool.extend(search.saved.drain(..).map(|(_, r)| r));
            check_index(&s);
            let now: Vec<Vec<usize>> = s.routes.iter().map(|r| r.stops.clone()).collect();
            assert_eq!(now, before);
        }
    }
}
