//! What the solver returns: one planned route per used vehicle, and every stop it could not
//! serve with the reason, so nothing is silently dropped.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One stop on a route with its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Index into [`crate::Problem::stops`].
    pub stop: usize,
    /// When the vehicle arrives.
    pub arrival: f64,
    /// When service starts (after waiting for the window to open).
    pub service_start: f64,
    /// When the vehicle leaves.
    pub departure: f64,
}

/// A vehicle's run: the stops in order with ETAs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    /// Index into [`crate::Problem::vehicles`].
    pub vehicle: usize,
    /// Departure from the start location (as late as possible without delaying the first stop).
    pub start_time: f64,
    /// Stops in visiting order.
    pub visits: Vec<Visit>,
    /// Arrival at the end location.
    pub end_time: f64,
    /// Total distance (matrix units, metres for haversine).
    pub distance_m: f64,
    /// `end_time - start_time`.
    pub duration_s: f64,
    /// Collected kg.
    pub load_kg: f64,
    /// Collected container units.
    pub load_units: f64,
}

/// Why a stop is not on any route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnassignedReason {
    /// Its demand exceeds every vehicle's capacity (kg or units).
    OverCapacity,
    /// Even alone on a route, no vehicle reaches it before its deadline.
    DeadlineUnreachable,
    /// Even alone on a route, no vehicle reaches it within an opening window and gets back
    /// before the end of its shift.
    NoTimeWindowReachable,
    /// Feasible alone, but the fleet had no room (capacity/time) for it at a cost below its penalty.
    FleetExhausted,
}

impl fmt::Display for UnassignedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OverCapacity => "demand exceeds the capacity of every vehicle",
            Self::DeadlineUnreachable => "no vehicle can reach it before its deadline",
            Self::NoTimeWindowReachable => {
                "no vehicle can serve it within its opening hours and shift"
            }
            Self::FleetExhausted => {
                "no room left in the fleet's routes at a cost below its penalty"
            }
        })
    }
}

/// A stop left unserved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    /// Index into [`crate::Problem::stops`].
    pub stop: usize,
    /// Why.
    pub reason: UnassignedReason,
}

/// A plan for the day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// Used vehicles only, in vehicle index order.
    pub routes: Vec<RoutePlan>,
    /// Stops not served, by stop index.
    pub unassigned: Vec<Unassigned>,
    /// Objective value (penalties + fixed costs + distance and duration costs).
    pub cost: f64,
    /// Iterations of ruin-and-recreate performed (summed over threads).
    pub iterations: u64,
}

impl Solution {
    /// Total distance over all routes.
    pub fn distance(&self) -> f64 {
        self.routes.iter().map(|r| r.distance_m).sum()
    }
}
