//! The problem flattened for the hot loops: per-stop arrays, opening windows cut at the
//! deadline, vehicle classes, candidate neighbour lists, and stops that no vehicle can serve.

use crate::model::Problem;
use crate::solution::UnassignedReason;

/// Feasibility slack: schedules are compared with this tolerance (benchmark checkers use 1e-6).
pub(crate) const EPS: f64 = 1e-9;

/// Stops from which a geographic problem is constructed by a township sweep.
const SWEEP_FROM: usize = 250;

#[derive(Clone, Debug)]
pub(crate) struct VehData {
    pub start: usize,
    pub end: usize,
    pub shift_start: f64,
    pub shift_end: f64,
    pub cap_kg: f64,
    pub cap_units: f64,
    pub fixed: f64,
    pub inv_speed: f64,
}

pub(crate) struct Data<'a> {
    pub p: &'a Problem,
    pub loc: Vec<usize>,
    pub service: Vec<f64>,
    pub kg: Vec<f64>,
    pub units: Vec<f64>,
    pub penalty: Vec<f64>,
    /// Windows of stop `i` are `tw[tw_at[i]..tw_at[i + 1]]`, sorted, already cut at the deadline.
    tw: Vec<(f64, f64)>,
    tw_at: Vec<usize>,
    pub veh: Vec<VehData>,
    /// Vehicles grouped by identical attributes: one empty vehicle per class is enough to try.
    pub classes: Vec<Vec<usize>>,
    /// Nearest stops of each stop (closest first, itself excluded).
    pub neighbours: Vec<Vec<u32>>,
    /// Polar angle (around the first vehicle's start) of each stop's township cell, for a
    /// sweep construction on large geographic problems.
    pub sweep: Option<Vec<f64>>,
    /// Stops that no vehicle can serve even alone, with the reason.
    pub infeasible: Vec<Option<UnassignedReason>>,
    pub cpd: f64,
    pub cpt: f64,
    /// Distances and durations are symmetric: lets hot loops read one matrix row.
    pub symmetric: bool,
}

impl<'a> Data<'a> {
    pub(crate) fn new(p: &'a Problem, neighbour_count: usize) -> Self {
        let stops = p.stops();
        let n = stops.len();
        let mut tw = Vec::new();
        let mut tw_at = Vec::with_capacity(n + 1);
        let mut uncut = Vec::new();
        let mut uncut_at = Vec::with_capacity(n + 1);
        for s in stops {
            tw_at.push(tw.len());
            uncut_at.push(uncut.len());
            let deadline = s.deadline.unwrap_or(f64::INFINITY);
            let windows: Vec<(f64, f64)> = if s.windows.is_empty() {
                vec![(f64::NEG_INFINITY, f64::INFINITY)]
            } else {
                s.windows.iter().map(|w| (w.start, w.end)).collect()
            };
            for &(a, b) in &windows {
                uncut.push((a, b));
                let b = b.min(deadline);
                if a <= b {
                    tw.push((a, b));
                }
            }
        }
        tw_at.push(tw.len());
        uncut_at.push(uncut.len());

        let mut veh = Vec::with_capacity(p.vehicles().len());
        let mut classes: Vec<Vec<usize>> = Vec::new();
        let mut class_keys: Vec<[u64; 8]> = Vec::new();
        for (i, v) in p.vehicles().iter().enumerate() {
            let key = [
                v.start as u64,
                v.end as u64,
                v.shift_start.to_bits(),
                v.shift_end.to_bits(),
                v.capacity_kg.to_bits(),
                v.capacity_units.to_bits(),
                v.fixed_cost.to_bits(),
                v.speed_factor.to_bits(),
            ];
            let class = match class_keys.iter().position(|k| *k == key) {
                Some(c) => c,
                None => {
                    class_keys.push(key);
                    classes.push(Vec::new());
                    classes.len() - 1
                }
            };
            classes[class].push(i);
            veh.push(VehData {
                start: v.start,
                end: v.end,
                shift_start: v.shift_start,
                shift_end: v.shift_end,
                cap_kg: v.capacity_kg,
                cap_units: v.capacity_units,
                fixed: v.fixed_cost,
                inv_speed: 1.0 / v.speed_factor,
            });
        }

        let mut d = Self {
            p,
            loc: stops.iter().map(|s| s.location).collect(),
            service: stops.iter().map(|s| s.service).collect(),
            kg: stops.iter().map(|s| s.demand_kg).collect(),
            units: stops.iter().map(|s| s.demand_units).collect(),
            penalty: stops.iter().map(|s| s.penalty).collect(),
            tw,
            tw_at,
            veh,
            classes,
            neighbours: Vec::new(),
            sweep: None,
            infeasible: vec![None; n],
            cpd: p.cost_per_distance(),
            cpt: p.cost_per_duration(),
            symmetric: p.matrix().is_symmetric(),
        };
        d.neighbours = if neighbour_count == 0 {
            vec![Vec::new(); n]
        } else {
            crate::h3::neighbour_lists(p, neighbour_count)
                .unwrap_or_else(|| matrix_neighbours(p, &d.loc, neighbour_count))
        };
        if n > SWEEP_FROM && neighbour_count > 0 {
            d.sweep = crate::h3::sweep_angles(p);
        }
        for i in 0..n {
            d.infeasible[i] = d.precheck(i, &uncut[uncut_at[i]..uncut_at[i + 1]]);
        }
        d
    }

    pub(crate) fn n(&self) -> usize {
        self.loc.len()
    }

    #[inline]
    pub(crate) fn dist(&self, a: usize, b: usize) -> f64 {
        self.p.matrix().distance(a, b)
    }

    #[inline]
    pub(crate) fn tt(&self, v: usize, a: usize, b: usize) -> f64 {
        self.p.matrix().duration(a, b) * self.veh[v].inv_speed
    }

    /// Earliest service start at stop `s` when arriving at `arrival`, or None if every window is past.
    #[inline]
    pub(crate) fn earliest_start(&self, s: usize, arrival: f64) -> Option<f64> {
        earliest_in(&self.tw[self.tw_at[s]..self.tw_at[s + 1]], arrival)
    }

    /// Latest arrival at stop `s` such that service starts no later than `bound`.
    #[inline]
    pub(crate) fn latest_arrival(&self, s: usize, bound: f64) -> f64 {
        let w = &self.tw[self.tw_at[s]..self.tw_at[s + 1]];
        match w.iter().rev().find(|(a, _)| *a <= bound + EPS) {
            Some(&(_, b)) => b.min(bound),
            None => f64::NEG_INFINITY,
        }
    }

    /// The latest due time over the windows (for "tightest first" insertion order).
    pub(crate) fn last_due(&self, s: usize) -> f64 {
        self.tw[self.tw_at[s]..self.tw_at[s + 1]]
            .last()
            .map_or(f64::NEG_INFINITY, |w| w.1)
    }

    fn precheck(&self, s: usize, uncut: &[(f64, f64)]) -> Option<UnassignedReason> {
        let fits = |v: &VehData| self.kg[s] <= v.cap_kg + EPS && self.units[s] <= v.cap_units + EPS;
        if !self.veh.iter().any(fits) {
            return Some(UnassignedReason::OverCapacity);
        }
        let alone = |windows: &[(f64, f64)]| {
            self.classes.iter().any(|c| {
                let vi = c[0];
                let v = &self.veh[vi];
                if !fits(v) {
                    return false;
                }
                let arr = v.shift_start + self.tt(vi, v.start, self.loc[s]);
                earliest_in(windows, arr).is_some_and(|st| {
                    st + self.service[s] + self.tt(vi, self.loc[s], v.end) <= v.shift_end + EPS
                })
            })
        };
        if alone(&self.tw[self.tw_at[s]..self.tw_at[s + 1]]) {
            None
        } else if alone(uncut) {
            Some(UnassignedReason::DeadlineUnreachable)
        } else {
            Some(UnassignedReason::NoTimeWindowReachable)
        }
    }
}

#[inline]
fn earliest_in(windows: &[(f64, f64)], arrival: f64) -> Option<f64> {
    windows
        .iter()
        .find(|w| w.1 + EPS >= arrival)
        .map(|w| w.0.max(arrival))
}

/// `k` nearest stops by matrix distance (both directions summed, so asymmetric matrices work).
fn matrix_neighbours(p: &Problem, loc: &[usize], k: usize) -> Vec<Vec<u32>> {
    let n = loc.len();
    let k = k.min(n.saturating_sub(1));
    let m = p.matrix();
    let mut buf: Vec<(f64, u32)> = Vec::with_capacity(n);
    (0..n)
        .map(|i| {
            buf.clear();
            buf.extend((0..n).filter(|&j| j != i).map(|j| {
                (
                    m.distance(loc[i], loc[j]) + m.distance(loc[j], loc[i]),
                    j as u32,
                )
            }));
            if k < buf.len() {
                buf.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                buf.truncate(k);
            }
            buf.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            buf.iter().map(|x| x.1).collect()
        })
        .collect()
}
