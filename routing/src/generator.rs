//! Synthetic but realistic rural collection days, for scale tests and benchmarks: clinics
//! clustered in villages around townships, a disposal plant outside the county seat, opening
//! hours with a lunch break, and 48-hour storage deadlines falling during the day.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::matrix::HaversineMatrix;
use crate::model::{LatLng, Problem, ProblemBuilder, Stop, TimeWindow, Vehicle};
use crate::rng::Rng;

/// Seconds in an hour; day times are seconds from local midnight.
const H: f64 = 3600.0;

/// Knobs of the generator; [`DayConfig::with_stops`] gives county-like defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayConfig {
    /// Number of stops (clinics with waste due).
    pub stops: usize,
    /// Number of vehicles (about 50 stops per vehicle-day by default).
    pub vehicles: usize,
    /// Random seed: the same config gives the same day.
    pub seed: u64,
    /// Opening hours 08:00-12:00 and 14:00-17:30 when true; a single 08:00-17:30 window otherwise
    /// (for solvers that take one window per stop).
    pub lunch_break: bool,
    /// Fixed cost per used vehicle.
    pub fixed_cost: f64,
}

impl DayConfig {
    /// Defaults for `stops` stops: one vehicle per 50 stops, lunch break, no fixed cost.
    pub fn with_stops(stops: usize, seed: u64) -> Self {
        Self {
            stops,
            vehicles: stops.div_ceil(50).max(1),
            seed,
            lunch_break: true,
            fixed_cost: 0.0,
        }
    }
}

/// A vehicle of a generated day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayVehicle {
    /// Plate-like id.
    pub id: String,
    /// kg.
    pub capacity_kg: f64,
    /// Container units.
    pub capacity_units: f64,
    /// Seconds from midnight.
    pub shift_start: f64,
    /// Seconds from midnight.
    pub shift_end: f64,
    /// Per used vehicle.
    pub fixed_cost: f64,
}

/// A stop of a generated day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayStop {
    /// Clinic-like id.
    pub id: String,
    /// Where.
    pub at: LatLng,
    /// Index of the township it belongs to.
    pub township: usize,
    /// kg due.
    pub demand_kg: f64,
    /// Containers due.
    pub demand_units: f64,
    /// Seconds on site.
    pub service: f64,
    /// Opening hours (service-start windows).
    pub windows: Vec<TimeWindow>,
    /// 48-hour storage deadline when it falls today.
    pub deadline: Option<f64>,
}

/// A generated day, serialisable so other solvers can be run on exactly the same data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// The disposal plant: every vehicle starts and ends here.
    pub plant: LatLng,
    /// County seat (for reference).
    pub seat: LatLng,
    /// Road circuity over the great circle.
    pub circuity: f64,
    /// Average speed, km/h.
    pub speed_kmh: f64,
    /// Fleet.
    pub vehicles: Vec<DayVehicle>,
    /// Stops.
    pub stops: Vec<DayStop>,
}

impl Day {
    /// The routing problem for this day (haversine x circuity at the day's speed).
    pub fn problem(&self) -> Result<Problem, Error> {
        let mut b = ProblemBuilder::new();
        let plant = b.location(self.plant)?;
        for v in &self.vehicles {
            b.vehicle(Vehicle {
                capacity_units: v.capacity_units,
                shift_start: v.shift_start,
                shift_end: v.shift_end,
                fixed_cost: v.fixed_cost,
                ..Vehicle::new(v.id.clone(), v.capacity_kg, plant)
            });
        }
        for s in &self.stops {
            let at = b.location(s.at)?;
            b.stop(Stop {
                demand_kg: s.demand_kg,
                demand_units: s.demand_units,
                service: s.service,
                windows: s.windows.clone(),
                deadline: s.deadline,
                ..Stop::new(s.id.clone(), at)
            });
        }
        b.build(&HaversineMatrix {
            circuity: self.circuity,
            speed_kmh: self.speed_kmh,
        })
    }
}

/// Offset a point by metres east/north (flat-earth approximation, fine within a county).
fn offset(p: LatLng, east_m: f64, north_m: f64) -> LatLng {
    let dlat = north_m / 111_195.0;
    let dlng = east_m / (111_195.0 * p.lat.to_radians().cos());
    LatLng {
        lat: p.lat + dlat,
        lng: p.lng + dlng,
    }
}

fn gauss(rng: &mut Rng) -> f64 {
    // Box-Muller.
    let u = rng.f64().max(1e-12);
    let v = rng.f64();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Generate a day. The area grows with the number of stops (about 2000 km2 for 500 stops,
/// 9000 km2 for 5000),
/// townships have ~120 stops' worth of villages, villages 1-5 clinics.
pub fn rural_day(cfg: &DayConfig) -> Day {
    let mut rng = Rng::new(cfg.seed);
    let n = cfg.stops;
    let seat = LatLng {
        lat: 29.5,
        lng: 106.0,
    };
    // 25 km radius (about 2000 km2) at 500 stops; larger days are denser as well as wider
    // (radius grows with the cube root), as a prefecture's suburban counties are.
    let radius_m = 25_000.0 * (n.max(1) as f64 / 500.0).cbrt().max(0.6);
    let angle = rng.f64() * std::f64::consts::TAU;
    let plant = offset(seat, 8_000.0 * angle.cos(), 8_000.0 * angle.sin());
    let townships = n.div_ceil(120).clamp(4, 60);
    let centres: Vec<LatLng> = (0..townships)
        .map(|_| {
            let r = radius_m * rng.f64().sqrt();
            let a = rng.f64() * std::f64::consts::TAU;
            offset(seat, r * a.cos(), r * a.sin())
        })
        .collect();
    let mut stops = Vec::with_capacity(n);
    let mut village = seat;
    let mut village_left = 0;
    let mut township = 0;
    for i in 0..n {
        if village_left == 0 {
            township = rng.below(townships);
            // Villages within ~4 km of the township seat.
            village = offset(
                centres[township],
                4_000.0 * gauss(&mut rng),
                4_000.0 * gauss(&mut rng),
            );
            village_left = 1 + rng.below(5);
        }
        village_left -= 1;
        let at = offset(village, 400.0 * gauss(&mut rng), 400.0 * gauss(&mut rng));
        let health_centre = rng.f64() < 0.08;
        let demand_kg = if health_centre {
            20.0 + 60.0 * rng.f64()
        } else {
            (2.0 + 4.0 * rng.f64()) * (1.0 + 2.0 * rng.f64())
        };
        let demand_units = (demand_kg / 8.0).ceil();
        let windows = if cfg.lunch_break && !health_centre {
            vec![
                TimeWindow {
                    start: 8.0 * H,
                    end: 12.0 * H,
                },
                TimeWindow {
                    start: 14.0 * H,
                    end: 17.5 * H,
                },
            ]
        } else {
            vec![TimeWindow {
                start: 8.0 * H,
                end: 17.5 * H,
            }]
        };
        // A quarter of the stops reach their 48-hour limit today, between 11:00 and 17:30.
        let deadline = (rng.f64() < 0.25).then(|| rng.range_f64(11.0 * H, 17.5 * H).round());
        stops.push(DayStop {
            id: format!("s{i}"),
            at,
            township,
            demand_kg: (demand_kg * 10.0).round() / 10.0,
            demand_units,
            service: (180.0 + 240.0 * rng.f64()).round(),
            windows,
            deadline,
        });
    }
    let vehicles = (0..cfg.vehicles)
        .map(|i| {
            let small = i % 4 == 3;
            DayVehicle {
                id: format!("truck-{i}"),
                capacity_kg: if small { 600.0 } else { 1500.0 },
                capacity_units: if small { 60.0 } else { 150.0 },
                shift_start: 7.0 * H,
                shift_end: 19.0 * H,
                fixed_cost: cfg.fixed_cost,
            }
        })
        .collect();
    Day {
        plant,
        seat,
        circuity: 1.4,
        speed_kmh: 40.0,
        vehicles,
        stops,
    }
}
