//! The routing problem: who drives, where they must stop, and what it costs.
//!
//! Times are seconds (or benchmark units) from one day origin chosen by the caller; distances
//! are whatever the [`Matrix`] holds (metres for [`crate::HaversineMatrix`]). `routing/` knows
//! nothing of clinics: the caller maps its ids onto [`Stop::id`] / [`Vehicle::id`].

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::matrix::{Matrix, MatrixProvider};

/// A WGS-84 point in degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lng: f64,
}

impl LatLng {
    /// A checked point (finite and within WGS-84 ranges).
    pub fn new(lat: f64, lng: f64) -> Result<Self, Error> {
        if lat.is_finite()
            && lng.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lng)
        {
            Ok(Self { lat, lng })
        } else {
            Err(Error::InvalidCoordinate { lat, lng })
        }
    }
}

/// An interval in which service may *start* (arriving earlier means waiting).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Earliest service start.
    pub start: f64,
    /// Latest service start.
    pub end: f64,
}

/// A vehicle and its shift. Heterogeneous fleets are simply vehicles with different fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    /// The caller's id (plate, database id); returned untouched.
    pub id: String,
    /// Load limit in kg.
    pub capacity_kg: f64,
    /// Load limit in container units (turnover boxes); a van fills up by volume before weight.
    pub capacity_units: f64,
    /// Earliest departure from `start`.
    pub shift_start: f64,
    /// Latest arrival at `end`.
    pub shift_end: f64,
    /// Matrix index of the start location (usually the plant).
    pub start: usize,
    /// Matrix index of the end location (usually the plant, so waste is unloaded the same day).
    pub end: usize,
    /// Cost of using the vehicle at all (driver day, depreciation); drives fleet size.
    pub fixed_cost: f64,
    /// Travel times are matrix durations divided by this (a slow truck < 1 < a fast van).
    pub speed_factor: f64,
}

impl Vehicle {
    /// A vehicle with unlimited units, an unbounded shift, no fixed cost and speed factor 1.
    pub fn new(id: impl Into<String>, capacity_kg: f64, depot: usize) -> Self {
        Self {
            id: id.into(),
            capacity_kg,
            capacity_units: f64::INFINITY,
            shift_start: 0.0,
            shift_end: f64::INFINITY,
            start: depot,
            end: depot,
            fixed_cost: 0.0,
            speed_factor: 1.0,
        }
    }
}

/// A place that must (or should) be visited once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    /// The caller's id; returned untouched.
    pub id: String,
    /// Matrix index of the stop.
    pub location: usize,
    /// Waste to collect, kg.
    pub demand_kg: f64,
    /// Containers to collect.
    pub demand_units: f64,
    /// Time spent on site (scan, weigh, load).
    pub service: f64,
    /// Opening hours as service-start windows (e.g. 08:00-11:30 and 14:00-17:30); empty = any time.
    pub windows: Vec<TimeWindow>,
    /// Hard latest service start (the 48-hour storage deadline), on top of the windows.
    pub deadline: Option<f64>,
    /// Cost of leaving the stop unserved; make it larger than any route cost for must-serve stops.
    pub penalty: f64,
}

impl Stop {
    /// Default penalty: far above any day's travel cost, so stops are only dropped when infeasible.
    pub const MUST_SERVE_PENALTY: f64 = 1e9;

    /// A stop with no demand, no service time, no windows or deadline and a must-serve penalty.
    pub fn new(id: impl Into<String>, location: usize) -> Self {
        Self {
            id: id.into(),
            location,
            demand_kg: 0.0,
            demand_units: 0.0,
            service: 0.0,
            windows: Vec::new(),
            deadline: None,
            penalty: Self::MUST_SERVE_PENALTY,
        }
    }
}

/// A complete, checked routing problem.
///
/// Objective (minimised): penalties of unserved stops + fixed costs of used vehicles
/// + `cost_per_distance` x distance + `cost_per_duration` x route duration.
#[derive(Clone, Debug)]
pub struct Problem {
    matrix: Matrix,
    vehicles: Vec<Vehicle>,
    stops: Vec<Stop>,
    points: Option<Vec<LatLng>>,
    cost_per_distance: f64,
    cost_per_duration: f64,
}

impl Problem {
    /// A problem over an explicit matrix (benchmarks, or a matrix fetched elsewhere).
    /// Costs default to 1 per distance unit and 0 per time unit.
    pub fn new(
        matrix: Matrix,
        vehicles: Vec<Vehicle>,
        mut stops: Vec<Stop>,
    ) -> Result<Self, Error> {
        let n = matrix.len();
        let bad = |m: String| Err(Error::InvalidProblem(m));
        for v in &vehicles {
            if v.start >= n || v.end >= n {
                return bad(format!("vehicle {}: location outside the matrix", v.id));
            }
            if v.shift_start.is_nan() || v.shift_end.is_nan() || v.shift_start > v.shift_end {
                return bad(format!("vehicle {}: shift start after shift end", v.id));
            }
            if !(v.speed_factor.is_finite() && v.speed_factor > 0.0) {
                return bad(format!("vehicle {}: speed factor must be > 0", v.id));
            }
            if !(v.capacity_kg >= 0.0 && v.capacity_units >= 0.0) {
                return bad(format!("vehicle {}: capacities must be >= 0", v.id));
            }
            if !(v.fixed_cost.is_finite() && v.fixed_cost >= 0.0) {
                return bad(format!(
                    "vehicle {}: fixed cost must be finite and >= 0",
                    v.id
                ));
            }
        }
        for s in &mut stops {
            if s.location >= n {
                return bad(format!("stop {}: location outside the matrix", s.id));
            }
            let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
            if !(finite_nonneg(s.demand_kg)
                && finite_nonneg(s.demand_units)
                && finite_nonneg(s.service))
            {
                return bad(format!(
                    "stop {}: demand and service must be finite and >= 0",
                    s.id
                ));
            }
            if !finite_nonneg(s.penalty) {
                return bad(format!("stop {}: penalty must be finite and >= 0", s.id));
            }
            if s.windows
                .iter()
                .any(|w| w.start.is_nan() || w.end.is_nan() || w.start > w.end)
            {
                return bad(format!(
                    "stop {}: a time window ends before it starts",
                    s.id
                ));
            }
            if s.deadline.is_some_and(f64::is_nan) {
                return bad(format!("stop {}: deadline is NaN", s.id));
            }
            s.windows.sort_by(|a, b| a.start.total_cmp(&b.start));
        }
        Ok(Self {
            matrix,
            vehicles,
            stops,
            points: None,
            cost_per_distance: 1.0,
            cost_per_duration: 0.0,
        })
    }

    /// Set the objective's weights (e.g. yuan per metre and yuan per second of vehicle time).
    pub fn with_costs(mut self, per_distance: f64, per_duration: f64) -> Result<Self, Error> {
        if !(per_distance.is_finite()
            && per_distance >= 0.0
            && per_duration.is_finite()
            && per_duration >= 0.0)
        {
            return Err(Error::InvalidProblem(
                "costs must be finite and >= 0".into(),
            ));
        }
        self.cost_per_distance = per_distance;
        self.cost_per_duration = per_duration;
        Ok(self)
    }

    /// The travel matrix.
    pub fn matrix(&self) -> &Matrix {
        &self.matrix
    }
    /// The fleet, indexed as in [`crate::RoutePlan::vehicle`].
    pub fn vehicles(&self) -> &[Vehicle] {
        &self.vehicles
    }
    /// The stops, indexed as in [`crate::Visit::stop`] (windows sorted by start).
    pub fn stops(&self) -> &[Stop] {
        &self.stops
    }
    /// WGS-84 points per matrix location when built from coordinates (enables H3 neighbourhoods).
    pub fn points(&self) -> Option<&[LatLng]> {
        self.points.as_deref()
    }
    /// Cost per unit of distance.
    pub fn cost_per_distance(&self) -> f64 {
        self.cost_per_distance
    }
    /// Cost per unit of route duration.
    pub fn cost_per_duration(&self) -> f64 {
        self.cost_per_duration
    }
    /// Travel time of vehicle `v` from location `a` to `b`.
    #[inline]
    pub fn travel_time(&self, v: usize, a: usize, b: usize) -> f64 {
        self.matrix.duration(a, b) / self.vehicles[v].speed_factor
    }
}

/// Builds a geographic [`Problem`]: register points, then vehicles and stops referring to them.
#[derive(Clone, Debug, Default)]
pub struct ProblemBuilder {
    points: Vec<LatLng>,
    vehicles: Vec<Vehicle>,
    stops: Vec<Stop>,
    costs: Option<(f64, f64)>,
}

impl ProblemBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a point and get its matrix index; the same point twice gets the same index,
    /// so a plant shared by the fleet costs one matrix row.
    pub fn location(&mut self, p: LatLng) -> Result<usize, Error> {
        let p = LatLng::new(p.lat, p.lng)?;
        if let Some(i) = self
            .points
            .iter()
            .position(|q| q.lat == p.lat && q.lng == p.lng)
        {
            return Ok(i);
        }
        self.points.push(p);
        Ok(self.points.len() - 1)
    }

    /// Add a vehicle (its `start`/`end` from [`Self::location`]); returns its index.
    pub fn vehicle(&mut self, v: Vehicle) -> usize {
        self.vehicles.push(v);
        self.vehicles.len() - 1
    }

    /// Add a stop (its `location` from [`Self::location`]); returns its index.
    pub fn stop(&mut self, s: Stop) -> usize {
        self.stops.push(s);
        self.stops.len() - 1
    }

    /// Set cost per distance unit and per time unit (defaults 1 and 0).
    pub fn costs(&mut self, per_distance: f64, per_duration: f64) -> &mut Self {
        self.costs = Some((per_distance, per_duration));
        self
    }

    /// Fetch the matrix for the registered points and check the problem.
    pub fn build(self, provider: &dyn MatrixProvider) -> Result<Problem, Error> {
        let matrix = provider.matrix(&self.points)?;
        let mut p = Problem::new(matrix, self.vehicles, self.stops)?;
        if let Some((d, t)) = self.costs {
            p = p.with_costs(d, t)?;
        }
        p.points = Some(self.points);
        Ok(p)
    }
}
