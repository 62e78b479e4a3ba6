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
        self.lat.clear();
        self.lat.resize(k + 2, f64::NEG_INFINITY);
        self.dep.push(veh.shift_start);
        let (mut kg, mut units, mut dist) = (0.0, 0.0, 0.0);
        let mut feasible = true;
        let mut prev = veh.start;
        let mut first_start = veh.shift_start;
        for (i, &s) in self.stops.iter().enumerate() {
            let l = d.loc[s];
            dist += d.dist(prev, l);
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
            prev = l;
        }
        dist += d.dist(prev, veh.end);
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

    /// Cheapest feasible gap for stop `s` (cost delta incl. the fixed cost of an empty vehicle).
    /// `skip` lets the caller blink (randomly ignore) gaps; `min_gap` protects a visited prefix.
    pub(crate) fn best_gap(
        &self,
        d: &Data,
        s: usize,
        min_gap: usize,
        mut skip: impl FnMut() -> bool,
    ) -> Option<(usize, f64)> {
        let veh = &d.veh[self.v];
        if self.kg + d.kg[s] > veh.cap_kg + EPS || self.units + d.units[s] > veh.cap_units + EPS {
            return None;
        }
        let k = self.stops.len();
        let ls = d.loc[s];
        let base = if k == 0 { veh.fixed } else { 0.0 };
        let mut best: Option<(usize, f64)> = None;
        let mut a = self.loc_at(d, min_gap);
        for gap in min_gap..=k {
            let b = self.loc_at(d, gap + 1);
            let dd = d.dist(a, ls) + d.dist(ls, b) - d.dist(a, b);
            let delta0 = base + d.cpd * dd;
            if best.is_none_or(|x| delta0 < x.1) && !skip() {
                let arr = self.dep[gap] + d.tt(self.v, a, ls);
                if let Some(st) = d.earliest_start(s, arr) {
                    let arr_b = st + d.service[s] + d.tt(self.v, ls, b);
                    if arr_b <= self.lat[gap + 1] + EPS {
                        let old_arr = self.dep[gap] + d.tt(self.v, a, b);
                        let delta = delta0 + d.cpt * (arr_b - old_arr).max(0.0);
                        if best.is_none_or(|x| delta < x.1) {
                            best = Some((gap, delta));
                        }
                    }
                }
            }
            a = b;
        }
        best
    }
}
