//! Travel distances (metres or benchmark units) and durations (seconds or benchmark units)
//! between locations.
//!
//! The solver reads one dense [`Matrix`]; where it comes from is a [`MatrixProvider`]: great
//! circle x circuity ([`HaversineMatrix`], the default for a county without a road graph), an
//! explicit matrix (benchmarks), or later an OSRM-compatible `table` service.

use crate::Error;
use crate::model::LatLng;

/// Dense, possibly asymmetric matrix of distances and durations between locations.
///
/// When durations are proportional to distances (haversine at one speed, Euclidean benchmarks)
/// only distances are stored, halving memory on large days (5000 stops: 200 MB instead of 400).
#[derive(Clone, Debug)]
pub struct Matrix {
    n: usize,
    distances: Vec<f64>,
    durations: Durations,
    symmetric: bool,
}

#[derive(Clone, Debug)]
enum Durations {
    Proportional(f64),
    Explicit(Vec<f64>),
}

impl Matrix {
    /// A matrix with explicit distances and durations (row-major, `n x n`).
    pub fn new(n: usize, distances: Vec<f64>, durations: Vec<f64>) -> Result<Self, Error> {
        check_square(n, &distances, "distances")?;
        check_square(n, &durations, "durations")?;
        let symmetric = is_symmetric(n, &distances) && is_symmetric(n, &durations);
        Ok(Self {
            n,
            distances,
            durations: Durations::Explicit(durations),
            symmetric,
        })
    }

    /// A matrix whose durations are `distance * time_per_distance` (e.g. s/m at a fixed speed).
    pub fn proportional(
        n: usize,
        distances: Vec<f64>,
        time_per_distance: f64,
    ) -> Result<Self, Error> {
        check_square(n, &distances, "distances")?;
        if !(time_per_distance.is_finite() && time_per_distance >= 0.0) {
            return Err(Error::InvalidMatrix(format!(
                "time per distance must be finite and >= 0, got {time_per_distance}"
            )));
        }
        let symmetric = is_symmetric(n, &distances);
        Ok(Self {
            n,
            distances,
            durations: Durations::Proportional(time_per_distance),
            symmetric,
        })
    }

    /// Euclidean distances between planar points, durations equal to distances (Solomon).
    /// With `round`, each edge is rounded to the nearest integer (CVRPLIB / TSPLIB `nint`).
    pub fn euclidean(points: &[(f64, f64)], round: bool) -> Result<Self, Error> {
        let n = points.len();
        let mut d = Vec::with_capacity(n * n);
        for a in points {
            for b in points {
                let e = (a.0 - b.0).hypot(a.1 - b.1);
                d.push(if round { e.round() } else { e });
            }
        }
        Self::proportional(n, d, 1.0)
    }

    /// Number of locations.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the matrix has no locations.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Distance from location `a` to `b`.
    #[inline]
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        self.distances[a * self.n + b]
    }

    /// Travel time from `a` to `b` at the reference speed (a vehicle divides by its speed factor).
    #[inline]
    pub fn duration(&self, a: usize, b: usize) -> f64 {
        match &self.durations {
            Durations::Proportional(f) => self.distances[a * self.n + b] * f,
            Durations::Explicit(t) => t[a * self.n + b],
        }
    }

    /// True when every distance and duration is the same both ways (haversine, Euclidean).
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }

    /// Approximate heap size in bytes (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        let t = match &self.durations {
            Durations::Proportional(_) => 0,
            Durations::Explicit(t) => t.len(),
        };
        (self.distances.len() + t) * std::mem::size_of::<f64>()
    }
}

fn is_symmetric(n: usize, v: &[f64]) -> bool {
    (0..n).all(|i| (i + 1..n).all(|j| v[i * n + j] == v[j * n + i]))
}

fn check_square(n: usize, v: &[f64], what: &str) -> Result<(), Error> {
    if v.len() != n * n {
        return Err(Error::InvalidMatrix(format!(
            "{what}: expected {n}x{n} = {} entries, got {}",
            n * n,
            v.len()
        )));
    }
    if let Some(x) = v.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(Error::InvalidMatrix(format!(
            "{what}: entry {x} is not finite and >= 0"
        )));
    }
    Ok(())
}

/// Where a [`Matrix`] for a set of WGS-84 points comes from. Implemented by
/// [`HaversineMatrix`]; a road-network client (OSRM `table`) implements the same trait.
pub trait MatrixProvider {
    /// Distances in metres and durations in seconds between all `points`, in order.
    fn matrix(&self, points: &[LatLng]) -> Result<Matrix, Error>;
}

/// Great-circle distance x a circuity factor, driven at one average speed.
///
/// Rural roads wind: a circuity of 1.3-1.5 over the straight line is typical for hilly
/// counties, so the default is 1.4 at 35 km/h (township roads, villages, loading stops).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HaversineMatrix {
    /// Road distance / great-circle distance.
    pub circuity: f64,
    /// Average driving speed in km/h.
    pub speed_kmh: f64,
}

impl Default for HaversineMatrix {
    fn default() -> Self {
        Self {
            circuity: 1.4,
            speed_kmh: 35.0,
        }
    }
}

impl HaversineMatrix {
    /// Road distance estimate in metres between two points.
    pub fn metres(&self, a: LatLng, b: LatLng) -> f64 {
        haversine_m(a, b) * self.circuity
    }
}

impl MatrixProvider for HaversineMatrix {
    fn matrix(&self, points: &[LatLng]) -> Result<Matrix, Error> {
        if !(self.circuity.is_finite() && self.circuity >= 1.0) {
            return Err(Error::InvalidMatrix(format!(
                "circuity must be >= 1, got {}",
                self.circuity
            )));
        }
        if !(self.speed_kmh.is_finite() && self.speed_kmh > 0.0) {
            return Err(Error::InvalidMatrix(format!(
                "speed must be > 0 km/h, got {}",
                self.speed_kmh
            )));
        }
        let n = points.len();
        let mut d = Vec::with_capacity(n * n);
        for a in points {
            for b in points {
                d.push(self.metres(*a, *b));
            }
        }
        Matrix::proportional(n, d, 3.6 / self.speed_kmh)
    }
}

/// Mean Earth radius in metres (IUGG).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres.
pub fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_one_degree_latitude_is_about_111_km() {
        let a = LatLng {
            lat: 29.0,
            lng: 106.0,
        };
        let b = LatLng {
            lat: 30.0,
            lng: 106.0,
        };
        let d = haversine_m(a, b);
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
    }

    #[test]
    fn haversine_matrix_applies_circuity_and_speed() {
        let p = [
            LatLng {
                lat: 29.5,
                lng: 106.0,
            },
            LatLng {
                lat: 29.6,
                lng: 106.1,
            },
        ];
        let m = HaversineMatrix {
            circuity: 1.5,
            speed_kmh: 36.0,
        }
        .matrix(&p)
        .expect("matrix");
        let straight = haversine_m(p[0], p[1]);
        assert!((m.distance(0, 1) - 1.5 * straight).abs() < 1e-6);
        assert!(
            (m.duration(0, 1) - m.distance(0, 1) / 10.0).abs() < 1e-6,
            "36 km/h = 10 m/s"
        );
        assert_eq!(m.distance(0, 0), 0.0);
        assert!(
            HaversineMatrix {
                circuity: 0.5,
                speed_kmh: 30.0
            }
            .matrix(&p)
            .is_err()
        );
    }

    #[test]
    fn euclidean_rounding_and_bad_sizes() {
        let m = Matrix::euclidean(&[(0.0, 0.0), (1.0, 1.0)], true).expect("matrix");
        assert_eq!(m.distance(0, 1), 1.0);
        let m = Matrix::euclidean(&[(0.0, 0.0), (1.0, 1.0)], false).expect("matrix");
        assert!((m.distance(1, 0) - 2f64.sqrt()).abs() < 1e-12);
        assert!(m.is_symmetric());
        let one_way =
            Matrix::new(2, vec![0.0, 1.0, 2.0, 0.0], vec![0.0, 1.0, 1.0, 0.0]).expect("matrix");
        assert!(!one_way.is_symmetric());
        assert!(Matrix::new(2, vec![0.0; 3], vec![0.0; 4]).is_err());
        assert!(Matrix::new(1, vec![f64::NAN], vec![0.0]).is_err());
    }
}
