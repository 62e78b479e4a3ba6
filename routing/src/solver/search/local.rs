//! Granular local search: relocate of strings of 1-3 stops (within and between routes), swap,
//! 2-opt* and intra-route 2-opt, each tried only between a stop and its nearest neighbours,
//! first improvement. A move's cost change is estimated in O(1) from the arcs it changes;
//! between routes of compatible vehicles, capacity and windows are checked in O(1) (O(string)
//! for strings) from the routes' loads, forward departures and backward latest arrivals. Only a
//! move that passes these filters is simulated on its new routes (O(length)), and applied if it
//! is feasible and lowers the cost, so the search never leaves the feasible space.
//!
//! After every ruin-and-recreate step the search starts from the reinserted stops and their
//! route neighbours; a stop is re-examined when an arc next to it changes (don't-look bits).

use std::time::Instant;

use super::{NONE, Search, Sol};
use crate::solver::data::EPS;
use crate::solver::route::Route;

/// Neighbours of a stop examined by the local search.
const LS_NEIGHBOURS: usize = 20;
/// Longest string moved by relocate (or-opt).
const MAX_STRING: usize = 3;
/// Smallest improvement a move must bring.
const IMPROVE: f64 = 1e-7;

impl Search<'_, '_> {
    /// Queue stop `x` for examination (once).
    pub(super) fn ls_push(&mut self, x: usize) {
        if !self.in_queue[x] {
            self.in_queue[x] = true;
            self.ls_queue.push(x);
        }
    }

    /// Queue a stop and its current route neighbours.
    pub(super) fn ls_push_around(&mut self, s: &Sol, x: usize) {
        let r = s.route_of[x];
        if r == NONE {
            return;
        }
        self.ls_push(x);
        let route = &s.routes[r as usize];
        let p = s.pos_of[x] as usize;
        if p > 0 {
            self.ls_push(route.stops[p - 1]);
        }
        if p + 1 < route.stops.len() {
            self.ls_push(route.stops[p + 1]);
        }
    }

    /// Run the local search from the queued stops until no queued stop has an improving move,
    /// `max_moves` moves were applied or `deadline` passed. Routes are journalled with `touch`.
    pub(super) fn local_search(
        &mut self,
        s: &mut Sol,
        max_moves: usize,
        deadline: Option<Instant>,
    ) {
        let mut moves = 0;
        let mut examined = 0u32;
        let mut queue = std::mem::take(&mut self.ls_work);
        while !self.ls_queue.is_empty() && moves < max_moves {
            queue.clear();
            std::mem::swap(&mut queue, &mut self.ls_queue);
            self.rng.shuffle(&mut queue);
            for &u in &queue {
                self.in_queue[u] = false;
            }
            for &u in &queue {
                if s.route_of[u] == NONE {
                    continue;
                }
                examined = examined.wrapping_add(1);
                if examined.is_multiple_of(256) && deadline.is_some_and(|dl| Instant::now() >= dl) {
                    moves = max_moves;
                    break;
                }
                if self.improve(s, u) {
                    moves += 1;
                    if moves >= max_moves {
                        break;
                    }
                }
            }
        }
        for &u in &self.ls_queue {
            self.in_queue[u] = false;
        }
        self.ls_queue.clear();
        queue.clear();
        self.ls_work = queue;
    }

    /// Try the moves between `u` and its neighbours; apply the first improving one.
    fn improve(&mut self, s: &mut Sol, u: usize) -> bool {
        let d = self.d;
        let nb = d.neighbours[u].len().min(LS_NEIGHBOURS);
        for k in 0..nb {
            let v = d.neighbours[u][k] as usize;
            if s.route_of[v] == NONE || s.route_of[u] == NONE {
                continue;
            }
            let (a, b) = (s.route_of[u] as usize, s.route_of[v] as usize);
            let (iu, jv) = (s.pos_of[u] as usize, s.pos_of[v] as usize);
            if a != b {
                // u (and the stops after it) next to v, before or after it.
                for len in 1..=MAX_STRING {
                    if iu + len > s.routes[a].stops.len() {
                        break;
                    }
                    if self.relocate(s, a, iu, len, b, jv + 1)
                        || self.relocate(s, a, iu, len, b, jv)
                    {
                        return true;
                    }
                }
                if self.swap(s, a, iu, b, jv)
                    || self.two_opt_star(s, a, iu + 1, b, jv)
                    || self.two_opt_star(s, a, iu, b, jv + 1)
                {
                    return true;
                }
            } else {
                for len in 1..=MAX_STRING {
                    if iu + len > s.routes[a].stops.len() {
                        break;
                    }
                    if self.intra_relocate(s, a, iu, len, jv + 1)
                        || self.intra_relocate(s, a, iu, len, jv)
                    {
                        return true;
                    }
                }
                if self.two_opt(s, a, iu, jv) {
                    return true;
                }
            }
        }
        false
    }

    /// Arc cost for vehicle `v` (distance and travel time; waiting is not included).
    #[inline]
    fn arc(&self, v: usize, a: usize, b: usize) -> f64 {
        let d = self.d;
        let mut c = d.cpd * d.dist(a, b);
        if d.cpt > 0.0 {
            c += d.cpt * d.tt(v, a, b);
        }
        c
    }

    /// Move stops `from..from+len` of route `a` into route `b` at `gap` (b != a).
    fn relocate(
        &mut self,
        s: &mut Sol,
        a: usize,
        from: usize,
        len: usize,
        b: usize,
        gap: usize,
    ) -> bool {
        let d = self.d;
        let (ra, rb) = (&s.routes[a], &s.routes[b]);
        let seg = &ra.stops[from..from + len];
        let (first, last) = (d.loc[seg[0]], d.loc[seg[len - 1]]);
        let (pa, na) = (ra.loc_at(d, from), ra.loc_at(d, from + len + 1));
        let (pb, nb) = (rb.loc_at(d, gap), rb.loc_at(d, gap + 1));
        let mut delta =
            self.arc(ra.v, pa, na) - self.arc(ra.v, pa, first) - self.arc(ra.v, last, na)
                + self.arc(rb.v, pb, first)
                + self.arc(rb.v, last, nb)
                - self.arc(rb.v, pb, nb);
        if len == ra.stops.len() {
            delta -= d.veh[ra.v].fixed;
        }
        if delta > -IMPROVE {
            return false;
        }
        let vb = &d.veh[rb.v];
        let kg = ra.cum_kg[from + len] - ra.cum_kg[from];
        let units = ra.cum_units[from + len] - ra.cum_units[from];
        if rb.kg + kg > vb.cap_kg + EPS || rb.units + units > vb.cap_units + EPS {
            return false;
        }
        // Windows in b: push the string through from the departure at `gap`.
        let mut t = rb.dep[gap];
        let mut prev = pb;
        for &x in seg {
            let lx = d.loc[x];
            match d.earliest_start(x, t + d.tt(rb.v, prev, lx)) {
                Some(st) => t = st + d.service[x],
                None => return false,
            }
            prev = lx;
        }
        if t + d.tt(rb.v, prev, nb) > rb.lat[gap + 1] + EPS {
            return false;
        }
        let mut na_stops = std::mem::take(&mut self.buf_a);
        let mut nb_stops = std::mem::take(&mut self.buf_b);
        na_stops.clear();
        na_stops.extend_from_slice(&ra.stops[..from]);
        na_stops.extend_from_slice(&ra.stops[from + len..]);
        nb_stops.clear();
        nb_stops.extend_from_slice(&rb.stops[..gap]);
        nb_stops.extend_from_slice(seg);
        nb_stops.extend_from_slice(&rb.stops[gap..]);
        let keys = [
            seg[0],
            seg[len - 1],
            stop_at(ra, from),
            stop_at(ra, from + len + 1),
        ];
        let ok = self.commit_two(s, a, &na_stops, b, &nb_stops, keys);
        self.buf_a = na_stops;
        self.buf_b = nb_stops;
        ok
    }

    /// Exchange stop `i` of route `a` with stop `j` of route `b` (b != a).
    fn swap(&mut self, s: &mut Sol, a: usize, i: usize, b: usize, j: usize) -> bool {
        let d = self.d;
        let (ra, rb) = (&s.routes[a], &s.routes[b]);
        let (u, v) = (ra.stops[i], rb.stops[j]);
        let (lu, lv) = (d.loc[u], d.loc[v]);
        let (pa, na) = (ra.loc_at(d, i), ra.loc_at(d, i + 2));
        let (pb, nb) = (rb.loc_at(d, j), rb.loc_at(d, j + 2));
        let delta = self.arc(ra.v, pa, lv) + self.arc(ra.v, lv, na)
            - self.arc(ra.v, pa, lu)
            - self.arc(ra.v, lu, na)
            + self.arc(rb.v, pb, lu)
            + self.arc(rb.v, lu, nb)
            - self.arc(rb.v, pb, lv)
            - self.arc(rb.v, lv, nb);
        if delta > -IMPROVE {
            return false;
        }
        let (va, vb) = (&d.veh[ra.v], &d.veh[rb.v]);
        if ra.kg - d.kg[u] + d.kg[v] > va.cap_kg + EPS
            || ra.units - d.units[u] + d.units[v] > va.cap_units + EPS
            || rb.kg - d.kg[v] + d.kg[u] > vb.cap_kg + EPS
            || rb.units - d.units[v] + d.units[u] > vb.cap_units + EPS
        {
            return false;
        }
        let fits = |r: &Route, pos: usize, x: usize, p: usize, n: usize| {
            let lx = d.loc[x];
            d.earliest_start(x, r.dep[pos] + d.tt(r.v, p, lx))
                .is_some_and(|st| st + d.service[x] + d.tt(r.v, lx, n) <= r.lat[pos + 2] + EPS)
        };
        if !fits(ra, i, v, pa, na) || !fits(rb, j, u, pb, nb) {
            return false;
        }
        let mut na_stops = std::mem::take(&mut self.buf_a);
        let mut nb_stops = std::mem::take(&mut self.buf_b);
        na_stops.clone_from(&ra.stops);
        na_stops[i] = v;
        nb_stops.clone_from(&rb.stops);
        nb_stops[j] = u;
        let ok = self.commit_two(
            s,
            a,
            &na_stops,
            b,
            &nb_stops,
            [u, v, usize::MAX, usize::MAX],
        );
        self.buf_a = na_stops;
        self.buf_b = nb_stops;
        ok
    }

    /// Exchange the tails: a keeps its first `ca` stops followed by b's stops from `cb` on,
    /// b keeps its first `cb` stops followed by a's stops from `ca` on (b != a).
    fn two_opt_star(&mut self, s: &mut Sol, a: usize, ca: usize, b: usize, cb: usize) -> bool {
        let d = self.d;
        let (ra, rb) = (&s.routes[a], &s.routes[b]);
        let (va, vb) = (&d.veh[ra.v], &d.veh[rb.v]);
        // Tails keep their end depot and latest arrivals only between alike vehicles.
        if va.end != vb.end || va.shift_end != vb.shift_end || va.inv_speed != vb.inv_speed {
            return false;
        }
        let (la, lb) = (ra.stops.len(), rb.stops.len());
        let (a_last, a_next) = (ra.loc_at(d, ca), ra.loc_at(d, ca + 1));
        let (b_last, b_next) = (rb.loc_at(d, cb), rb.loc_at(d, cb + 1));
        let mut delta = self.arc(ra.v, a_last, b_next) + self.arc(rb.v, b_last, a_next)
            - self.arc(ra.v, a_last, a_next)
            - self.arc(rb.v, b_last, b_next);
        if ca == 0 && cb == lb {
            delta -= va.fixed;
        }
        if cb == 0 && ca == la {
            delta -= vb.fixed;
        }
        if delta > -IMPROVE {
            return false;
        }
        let kg_a = ra.cum_kg[ca] + rb.kg - rb.cum_kg[cb];
        let units_a = ra.cum_units[ca] + rb.units - rb.cum_units[cb];
        let kg_b = rb.cum_kg[cb] + ra.kg - ra.cum_kg[ca];
        let units_b = rb.cum_units[cb] + ra.units - ra.cum_units[ca];
        if kg_a > va.cap_kg + EPS
            || units_a > va.cap_units + EPS
            || kg_b > vb.cap_kg + EPS
            || units_b > vb.cap_units + EPS
        {
            return false;
        }
        if ra.dep[ca] + d.tt(ra.v, a_last, b_next) > rb.lat[cb + 1] + EPS
            || rb.dep[cb] + d.tt(rb.v, b_last, a_next) > ra.lat[ca + 1] + EPS
        {
            return false;
        }
        let mut na_stops = std::mem::take(&mut self.buf_a);
        let mut nb_stops = std::mem::take(&mut self.buf_b);
        na_stops.clear();
        na_stops.extend_from_slice(&ra.stops[..ca]);
        na_stops.extend_from_slice(&rb.stops[cb..]);
        nb_stops.clear();
        nb_stops.extend_from_slice(&rb.stops[..cb]);
        nb_stops.extend_from_slice(&ra.stops[ca..]);
        let keys = [
            stop_at(ra, ca),
            stop_at(ra, ca + 1),
            stop_at(rb, cb),
            stop_at(rb, cb + 1),
        ];
        let ok = self.commit_two(s, a, &na_stops, b, &nb_stops, keys);
        self.buf_a = na_stops;
        self.buf_b = nb_stops;
        ok
    }

    /// Move stops `from..from+len` of route `a` to `gap` (a gap of the current route, outside
    /// the string).
    fn intra_relocate(
        &mut self,
        s: &mut Sol,
        a: usize,
        from: usize,
        len: usize,
        gap: usize,
    ) -> bool {
        if gap >= from && gap <= from + len {
            return false;
        }
        let d = self.d;
        let ra = &s.routes[a];
        let seg = &ra.stops[from..from + len];
        let (first, last) = (d.loc[seg[0]], d.loc[seg[len - 1]]);
        let (p, n) = (ra.loc_at(d, from), ra.loc_at(d, from + len + 1));
        let (x, y) = (ra.loc_at(d, gap), ra.loc_at(d, gap + 1));
        let delta = self.arc(ra.v, p, n) - self.arc(ra.v, p, first) - self.arc(ra.v, last, n)
            + self.arc(ra.v, x, first)
            + self.arc(ra.v, last, y)
            - self.arc(ra.v, x, y);
        if delta > -IMPROVE {
            return false;
        }
        let mut new = std::mem::take(&mut self.buf_a);
        new.clear();
        if gap < from {
            new.extend_from_slice(&ra.stops[..gap]);
            new.extend_from_slice(seg);
            new.extend_from_slice(&ra.stops[gap..from]);
            new.extend_from_slice(&ra.stops[from + len..]);
        } else {
            new.extend_from_slice(&ra.stops[..from]);
            new.extend_from_slice(&ra.stops[from + len..gap]);
            new.extend_from_slice(seg);
            new.extend_from_slice(&ra.stops[gap..]);
        }
        let keys = [
            seg[0],
            seg[len - 1],
            stop_at(ra, from),
            stop_at(ra, from + len + 1),
        ];
        let ok = self.commit_one(s, a, &new, keys);
        self.buf_a = new;
        ok
    }

    /// Reverse the stops between `u` (position i) and `v` (position j) so that they become
    /// adjacent (symmetric matrices only: the reversed part keeps its length).
    fn two_opt(&mut self, s: &mut Sol, a: usize, i: usize, j: usize) -> bool {
        let d = self.d;
        if !d.symmetric {
            return false;
        }
        // Reverse stops lo..=hi.
        let (lo, hi) = if i < j { (i + 1, j) } else { (j + 1, i) };
        if lo >= hi {
            return false;
        }
        let ra = &s.routes[a];
        let (p, first) = (ra.loc_at(d, lo), d.loc[ra.stops[lo]]);
        let (last, n) = (d.loc[ra.stops[hi]], ra.loc_at(d, hi + 2));
        let delta = self.arc(ra.v, p, last) + self.arc(ra.v, first, n)
            - self.arc(ra.v, p, first)
            - self.arc(ra.v, last, n);
        if delta > -IMPROVE {
            return false;
        }
        let mut new = std::mem::take(&mut self.buf_a);
        new.clone_from(&ra.stops);
        new[lo..=hi].reverse();
        let keys = [
            ra.stops[lo],
            ra.stops[hi],
            stop_at(ra, lo),
            stop_at(ra, hi + 2),
        ];
        let ok = self.commit_one(s, a, &new, keys);
        self.buf_a = new;
        ok
    }

    /// Re-examine the stops at the ends of the arcs a move changed: `keys` are the stops next
    /// to a changed arc (usize::MAX for a depot), each queued with its new route neighbours.
    fn push_keys(&mut self, s: &Sol, keys: [usize; 4]) {
        for k in keys {
            if k != usize::MAX {
                self.ls_push_around(s, k);
            }
        }
    }

    /// Replace route `a`'s stops by `new` if that is feasible and cheaper.
    fn commit_one(&mut self, s: &mut Sol, a: usize, new: &[usize], keys: [usize; 4]) -> bool {
        let d = self.d;
        let ra = &s.routes[a];
        match Route::eval(d, ra.v, new) {
            Some(c) if c < ra.cost - IMPROVE => {}
            _ => return false,
        }
        self.touch(s, a);
        s.routes[a].stops.clear();
        s.routes[a].stops.extend_from_slice(new);
        s.set_route(d, a);
        self.push_keys(s, keys);
        true
    }

    /// Replace the stops of routes `a` and `b` if both stay feasible and the sum is cheaper.
    fn commit_two(
        &mut self,
        s: &mut Sol,
        a: usize,
        na: &[usize],
        b: usize,
        nb: &[usize],
        keys: [usize; 4],
    ) -> bool {
        let d = self.d;
        let old = s.routes[a].cost + s.routes[b].cost;
        let Some(ca) = Route::eval(d, s.routes[a].v, na) else {
            return false;
        };
        let Some(cb) = Route::eval(d, s.routes[b].v, nb) else {
            return false;
        };
        if ca + cb >= old - IMPROVE {
            return false;
        }
        self.touch(s, a);
        self.touch(s, b);
        for (r, new) in [(a, na), (b, nb)] {
            s.routes[r].stops.clear();
            s.routes[r].stops.extend_from_slice(new);
            s.set_route(d, r);
        }
        self.push_keys(s, keys);
        true
    }
}

/// The stop at position `pos` of route `r` (1..=len), or usize::MAX at a depot.
#[inline]
fn stop_at(r: &Route, pos: usize) -> usize {
    if pos == 0 || pos > r.stops.len() {
        usize::MAX
    } else {
        r.stops[pos - 1]
    }
}
