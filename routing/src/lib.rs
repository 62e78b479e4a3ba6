//! Vehicle routing for Yifei: a pure library (no database, no HTTP) that turns a day's due
//! pickups into vehicle runs.
//!
//! * [`model`]: the problem (heterogeneous vehicles, stops with time windows, deadlines and
//!   penalties) built from lat/lng points or from an explicit matrix.
//! * [`matrix`]: distances and durations ([`Matrix`], [`HaversineMatrix`]).
//! * [`solve`]: ruin-and-recreate (SISR) with simulated annealing plus a granular local search.
//! * [`validate`]: an independent checker every solver test runs.
//! * [`insert_stop`]: cheapest insertion of an urgent stop into a run in progress.
//! * [`horizon`]: several days at once (which day each stop is visited), with its validator.
//! * [`h3`]: H3 candidate neighbour lists and parent-cell clusters for geographic problems.
//! * [`instances`]: Solomon/Homberger and CVRPLIB readers for benchmarks; [`generator`]: rural days.

mod error;
pub mod generator;
pub mod h3;
pub mod horizon;
mod insert;
pub mod instances;
pub mod matrix;
pub mod model;
mod rng;
mod solution;
mod solver;
mod validate;

pub use error::Error;
pub use insert::{Insertion, insert_stop, schedule};
pub use matrix::{HaversineMatrix, Matrix, MatrixProvider};
pub use model::{LatLng, Problem, ProblemBuilder, Stop, TimeWindow, Vehicle};
pub use solution::{RoutePlan, Solution, Unassigned, UnassignedReason, Visit};
pub use solver::{Progress, SolverConfig, solve, solve_reporting};
pub use validate::{Violation, validate};
