//! An independent plan checker. It shares no code with the solver: it replays each route from
//! the problem's raw data and the reported times, so a solver bug cannot hide behind itself.

use std::fmt;

use crate::model::Problem;
use crate::solution::{Solution, UnassignedReason};

/// One broken rule in a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Violation {
    /// A route refers to a vehicle index that does not exist.
    UnknownVehicle { route: usize },
    /// A vehicle drives more than one route.
    VehicleReused { vehicle: usize },
    /// A visit or unassigned entry refers to a stop index that does not exist.
    UnknownStop { stop: usize },
    /// A stop is visited (or listed unassigned) more than once.
    StopRepeated { stop: usize },
    /// A stop is neither visited nor listed unassigned.
    StopMissing { stop: usize },
    /// Collected load exceeds the vehicle's capacity.
    OverCapacity { route: usize, kg: f64, units: f64 },
    /// The vehicle leaves before its shift starts or arrives back after it ends.
    OutsideShift { route: usize },
    /// Reported times contradict travel or service times.
    InconsistentSchedule { route: usize, stop: usize },
    /// Service starts outside every opening window.
    OutsideWindows {
        route: usize,
        stop: usize,
        service_start: f64,
    },
    /// Service starts after the stop's hard deadline.
    AfterDeadline {
        route: usize,
        stop: usize,
        service_start: f64,
    },
    /// Reported distance or load differs from what the route implies.
    WrongTotals { route: usize },
    /// A stop is reported over capacity although some vehicle could carry it.
    WrongReason { stop: usize },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownVehicle { route } => write!(f, "route {route}: unknown vehicle"),
            Self::VehicleReused { vehicle } => {
                write!(f, "vehicle {vehicle} drives more than one route")
            }
            Self::UnknownStop { stop } => write!(f, "unknown stop {stop}"),
            Self::StopRepeated { stop } => write!(f, "stop {stop} appears more than once"),
            Self::StopMissing { stop } => write!(f, "stop {stop} is neither served nor unassigned"),
            Self::OverCapacity { route, kg, units } => {
                write!(
                    f,
                    "route {route}: load {kg} kg / {units} units over capacity"
                )
            }
            Self::OutsideShift { route } => write!(f, "route {route}: outside the vehicle's shift"),
            Self::InconsistentSchedule { route, stop } => {
                write!(
                    f,
                    "route {route}: schedule at stop {stop} contradicts travel/service times"
                )
            }
            Self::OutsideWindows {
                route,
                stop,
                service_start,
            } => {
                write!(
                    f,
                    "route {route}: stop {stop} served at {service_start} outside its windows"
                )
            }
            Self::AfterDeadline {
                route,
                stop,
                service_start,
            } => {
                write!(
                    f,
                    "route {route}: stop {stop} served at {service_start} after its deadline"
                )
            }
            Self::WrongTotals { route } => {
                write!(f, "route {route}: reported distance or load is wrong")
            }
            Self::WrongReason { stop } => {
                write!(f, "stop {stop}: reported over capacity but fits a vehicle")
            }
        }
    }
}

fn tol(x: f64) -> f64 {
    1e-6 * x.abs().max(1.0)
}

/// Check a plan against every hard rule of the problem: each stop served once or reported
/// unassigned, capacities, opening windows, deadlines, shifts, and that the reported times
/// and totals follow from the matrix.
pub fn validate(problem: &Problem, solution: &Solution) -> Result<(), Vec<Violation>> {
    let mut out = Vec::new();
    let stops = problem.stops();
    let vehicles = problem.vehicles();
    let m = problem.matrix();
    let mut seen = vec![false; stops.len()];
    let mut mark = |stop: usize, out: &mut Vec<Violation>| {
        if stop >= stops.len() {
            out.push(Violation::UnknownStop { stop });
            false
        } else if std::mem::replace(&mut seen[stop], true) {
            out.push(Violation::StopRepeated { stop });
            false
        } else {
            true
        }
    };
    let mut used = vec![false; vehicles.len()];
    for (ri, r) in solution.routes.iter().enumerate() {
        let Some(v) = vehicles.get(r.vehicle) else {
            out.push(Violation::UnknownVehicle { route: ri });
            continue;
        };
        if std::mem::replace(&mut used[r.vehicle], true) {
            out.push(Violation::VehicleReused { vehicle: r.vehicle });
        }
        if r.start_time + tol(r.start_time) < v.shift_start
            || r.end_time > v.shift_end + tol(r.end_time)
        {
            out.push(Violation::OutsideShift { route: ri });
        }
        let (mut kg, mut units, mut dist) = (0.0, 0.0, 0.0);
        let mut prev = v.start;
        let mut t = r.start_time;
        for visit in &r.visits {
            if !mark(visit.stop, &mut out) {
                continue;
            }
            let s = &stops[visit.stop];
            let travel = m.duration(prev, s.location) / v.speed_factor;
            dist += m.distance(prev, s.location);
            let earliest = t + travel;
            if visit.arrival + tol(earliest) < earliest
                || visit.service_start + tol(visit.arrival) < visit.arrival
                || visit.departure + tol(visit.service_start) < visit.service_start + s.service
            {
                out.push(Violation::InconsistentSchedule {
                    route: ri,
                    stop: visit.stop,
                });
            }
            let ss = visit.service_start;
            let in_window = s.windows.is_empty()
                || s.windows
                    .iter()
                    .any(|w| ss + tol(ss) >= w.start && ss <= w.end + tol(ss));
            if !in_window {
                out.push(Violation::OutsideWindows {
                    route: ri,
                    stop: visit.stop,
                    service_start: ss,
                });
            }
            if s.deadline.is_some_and(|dl| ss > dl + tol(ss)) {
                out.push(Violation::AfterDeadline {
                    route: ri,
                    stop: visit.stop,
                    service_start: ss,
                });
            }
            kg += s.demand_kg;
            units += s.demand_units;
            t = visit.departure;
            prev = s.location;
        }
        dist += m.distance(prev, v.end);
        let back = t + m.duration(prev, v.end) / v.speed_factor;
        if r.end_time + tol(back) < back {
            out.push(Violation::OutsideShift { route: ri });
        }
        if kg > v.capacity_kg + tol(kg) || units > v.capacity_units + tol(units) {
            out.push(Violation::OverCapacity {
                route: ri,
                kg,
                units,
            });
        }
        if (dist - r.distance_m).abs() > tol(dist) * 10.0
            || (kg - r.load_kg).abs() > tol(kg)
            || (units - r.load_units).abs() > tol(units)
        {
            out.push(Violation::WrongTotals { route: ri });
        }
    }
    for u in &solution.unassigned {
        if !mark(u.stop, &mut out) {
            continue;
        }
        let s = &stops[u.stop];
        let fits = vehicles
            .iter()
            .any(|v| s.demand_kg <= v.capacity_kg && s.demand_units <= v.capacity_units);
        if u.reason == UnassignedReason::OverCapacity && fits {
            out.push(Violation::WrongReason { stop: u.stop });
        }
    }
    for (stop, seen) in seen.iter().enumerate() {
        if !seen {
            out.push(Violation::StopMissing { stop });
        }
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}
