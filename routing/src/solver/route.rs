//! Route state with forward departures and backward latest arrivals, so inserting a stop is
//! checked in O(1) per position and a changed route is re-evaluated in O(length).

use super::data::{Data, EPS};

#[derive(Debug, Default)]
pub(crate) struct Route {
    pub v: usize,
    pub stops: Vec<usize>,
    /// `dep[i]`: departure from position i (0 = start location, i = stop i-1 of `stops`).
    pub dep: Vec<f64>,
    /// `lat[i]`: latest arrival at position i (1..=len, len+1 = end location) keeping the rest feasible.
    pub lat: Vec<f64>,
    pub kg: f64,
    pub units: f64,
    pub dist: f64,
    pub start_time: f64,
    pub end_time: f64,
    pub cost: f64,
    pub feasible: bool,
    /// `edge[i]`: distance from position i to i+1 (saves a matrix lookup per insertion gap).
    pub edge: Vec<f64>,
    /// `cum_kg[i]`, `cum_units[i]`: load of the first i stops (for 2-opt* capacity checks).
    pub cum_kg: Vec<f64>,
    pub cum_units: Vec<f64>,
}

impl Clone for Route {
    fn clone(&self) -> Self {
        let mut r = Route::default();
        r.clone_from(self);
        r
    }
    fn clone_from(&mut self, o: &Self) {
        self.v = o.v;
        self.stops.clone_from(&o.stops);
        self.dep.clone_from(&o.dep);
        self.lat.clone_from(&o.lat);
        self.kg = o.kg;
        self.units = o.units;
        self.dist = o.dist;
        self.start_time = o.start_time;
        self.end_time = o.end_time;
        self.cost = o.cost;
        self.feasible = o.feasible;
        self.edge.clone_from(&o.edge);
        self.cum_kg.clone_from(&o.cum_kg);
        self.cum_units.clone_from(&o.cum_units);
    }
}

impl Route {
    pub(crate) fn new(d: &Data, v: usize) -> Self {
        let mut r = Route {
            v,
            ..Route::default()
        };
        r.update(d);
        r
    }

    #[inline]
    pub(crate) fn loc_at(&self, d: &Data, pos: usize) -> usize {
        if pos == 0 {
            d.veh[self.v].start
        } else if pos > self.stops.len() {
            d.veh[self.v].end
        } else {
            d.loc[self.stops[pos - 1]]
        }
    }

    /// Recompute schedule, slacks, load, distance and cost; sets `feasible`.
    pub(crate) fn update(&mut self, d: &Data) {
        let veh = &d.veh[self.v];
        let k = self.stops.len();
        self.dep.clear();
        self.edge.clear();
        self.cum_kg.clear();
        self.cum_units.clear();
        self.cum_kg.push(0.0);
        self.cum_units.push(0.0);
        self.lat.clear();
        self.lat.resize(k + 2, f64::NEG_INFINITY);
        self.dep.push(veh.shift_start);
        let (mut kg, mut units, mut dist) = (0.0, 0.0, 0.0);
        let mut feasible = true;
        let mut prev = veh.start;
        let mut first_start = veh.shift_start;
        for (i, &s) in self.stops.iter().enumerate() {
            let l = d.loc[s];
            let e = d.dist(prev, l);
            self.edge.push(e);
            dist += e;
            let arr = self.dep[i] + d.tt(self.v, prev, l);
            let st = match d.earliest_start(s, arr) {
                Some(st) => st,
                None => {
                    feasible = false;
                    arr
                }
            };
            if i == 0 {
                first_start = st - d.tt(self.v, prev, l);
            }
            self.dep.push(st + d.service[s]);
            kg += d.kg[s];
            units += d.units[s];
            self.cum_kg.push(kg);
            self.cum_units.push(units);
            prev = l;
        }
        let e = d.dist(prev, veh.end);
        self.edge.push(e);
        dist += e;
        let end_time = self.dep[k] + d.tt(self.v, prev, veh.end);
        feasible &= end_time <= veh.shift_end + EPS;
        feasible &= kg <= veh.cap_kg + EPS && units <= veh.cap_units + EPS;
        // Backward pass: latest arrivals.
        self.lat[k + 1] = veh.shift_end;
        let mut next = veh.end;
        for i in (1..=k).rev() {
            let s = self.stops[i - 1];
            let l = d.loc[s];
            let bound = self.lat[i + 1] - d.tt(self.v, l, next) - d.service[s];
            self.lat[i] = d.latest_arrival(s, bound);
            next = l;
        }
        self.kg = kg;
        self.units = units;
        self.dist = dist;
        self.start_time = if k == 0 {
            veh.shift_start
        } else {
            first_start.max(veh.shift_start)
        };
        self.end_time = end_time;
        self.feasible = feasible;
        self.cost = if k == 0 {
            0.0
        } else {
            veh.fixed + d.cpd * dist + d.cpt * (end_time - self.start_time)
        };
    }

    /// Cost of serving `stops` in this order with vehicle `v` (as [`Route::update`] would set
    /// it), or None if the order breaks a window, the shift or the capacity.
    pub(crate) fn eval(d: &Data, v: usize, stops: &[usize]) -> Option<f64> {
        if stops.is_empty() {
            return Some(0.0);
        }
        let veh = &d.veh[v];
        let (mut kg, mut units, mut dist) = (0.0, 0.0, 0.0);
        let mut t = veh.shift_start;
        let mut prev = veh.start;
        let mut first_start = veh.shift_start;
        for (i, &s) in stops.iter().enumerate() {
            let l = d.loc[s];
            dist += d.dist(prev, l);
            let tt = d.tt(v, prev, l);
            let st = d.earliest_start(s, t + tt)?;
            if i == 0 {
                first_start = st - tt;
            }
            t = st + d.service[s];
            kg += d.kg[s];
            units += d.units[s];
            prev = l;
        }
        dist += d.dist(prev, veh.end);
        let end_time = t + d.tt(v, prev, veh.end);
        if end_time > veh.shift_end + EPS || kg > veh.cap_kg + EPS || units > veh.cap_units + EPS {
            return None;
        }
        let start_time = first_start.max(veh.shift_start);
        Some(veh.fixed + d.cpd * dist + d.cpt * (end_time - start_time))
    }

    /// Whether stop `s` fits the route's remaining kg and units.
    #[inline]
    pub(crate) fn fits(&self, d: &Data, s: usize) -> bool {
        let veh = &d.veh[self.v];
        self.kg + d.kg[s] <= veh.cap_kg + EPS && self.units + d.units[s] <= veh.cap_units + EPS
    }

    /// Objective increase of putting stop `s` into `gap` (between positions gap and gap+1), if
    /// the schedule stays feasible and the increase is below `bound`. Capacity is the caller's.
    #[inline]
    pub(crate) fn gap_delta(&self, d: &Data, s: usize, gap: usize, bound: f64) -> Option<f64> {
        let ls = d.loc[s];
        let a = self.loc_at(d, gap);
        let b = self.loc_at(d, gap + 1);
        let base = if self.stops.is_empty() {
            d.veh[self.v].fixed
        } else {
            0.0
        };
        // Both lookups in row `ls` when the matrix is symmetric: one cached row per stop.
        let to_s = if d.symmetric {
            d.dist(ls, a)
        } else {
            d.dist(a, ls)
        };
        let delta0 = base + d.cpd * (to_s + d.dist(ls, b) - self.edge[gap]);
        if delta0 >= bound {
            return None;
        }
        let tt_in = if d.symmetric {
            d.tt(self.v, ls, a)
        } else {
            d.tt(self.v, a, ls)
        };
        let st = d.earliest_start(s, self.dep[gap] + tt_in)?;
        let arr_b = st + d.service[s] + d.tt(self.v, ls, b);
        if arr_b > self.lat[gap + 1] + EPS {
            return None;
        }
        let delta = if d.cpt > 0.0 {
            let old_arr = self.dep[gap] + d.tt(self.v, a, b);
            delta0 + d.cpt * (arr_b - old_arr).max(0.0)
        } else {
            delta0
        };
        (delta < bound).then_some(delta)
    }

    /// Cheapest feasible gap for stop `s` (cost delta incl. the fixed cost of an empty vehicle).
    /// `skip` lets the caller blink (randomly ignore) gaps; `min_gap` protects a visited prefix.
    pub(crate) fn best_gap(
        &self,
        d: &Data,
        s: usize,
        min_gap: usize,
        mut skip: impl FnMut() -> bool,
    ) -> Option<(usize, f64)> {
        if !self.fits(d, s) {
            return None;
        }
        let mut best: Option<(usize, f64)> = None;
        for gap in min_gap..=self.stops.len() {
            let bound = best.map_or(f64::INFINITY, |x| x.1);
            if skip() {
                continue;
            }
            if let Some(delta) = self.gap_delta(d, s, gap, bound) {
                best = Some((gap, delta));
            }
        }
        best
    }
}
