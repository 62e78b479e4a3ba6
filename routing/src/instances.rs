//! Readers for public benchmark instances, so the solver can be measured against the
//! literature: Solomon/Homberger VRPTW (`.txt`) and CVRPLIB CVRP (`.vrp`, EUC_2D).

use std::path::Path;

use crate::Error;
use crate::matrix::Matrix;
use crate::model::{Problem, Stop, TimeWindow, Vehicle};

/// A parsed benchmark instance.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The problem; distances as the benchmark's convention says.
    pub problem: Problem,
    /// The file's customer id for each stop index (for printing routes as the checker expects).
    pub ids: Vec<u64>,
}

/// Read a Solomon/Homberger `.txt` or a CVRPLIB `.vrp` file (chosen by content).
/// `fixed_vehicle_cost` is added per used vehicle (0 = distance only; large = vehicles first).
pub fn read(path: &Path, fixed_vehicle_cost: f64) -> Result<Instance, Error> {
    let text = std::fs::read_to_string(path)?;
    if text.to_ascii_uppercase().contains("NODE_COORD_SECTION") {
        parse_cvrplib(&text, fixed_vehicle_cost)
    } else {
        parse_solomon(&text, fixed_vehicle_cost)
    }
}

/// Solomon/Homberger: Euclidean distances in double precision, travel time = distance,
/// windows bound the service start, everything back at the depot by its due date.
pub fn parse_solomon(text: &str, fixed_vehicle_cost: f64) -> Result<Instance, Error> {
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut fleet = None;
    let mut rows = Vec::new();
    for (i, parts) in lines.iter().enumerate() {
        if parts
            .first()
            .is_some_and(|p| p.eq_ignore_ascii_case("NUMBER"))
        {
            let next = lines
                .get(i + 1)
                .ok_or_else(|| Error::Parse("missing fleet line".into()))?;
            let n: usize = num(next.first())?;
            let cap: f64 = num(next.get(1))?;
            fleet = Some((n, cap));
        }
        if parts.len() == 7 && parts.iter().all(|p| p.parse::<f64>().is_ok()) {
            let v: Vec<f64> = parts
                .iter()
                .map(|p| p.parse::<f64>().unwrap_or(0.0))
                .collect();
            rows.push(v);
        }
    }
    let (count, cap) = fleet.ok_or_else(|| Error::Parse("no VEHICLE NUMBER/CAPACITY".into()))?;
    if rows.len() < 2 {
        return Err(Error::Parse("fewer than two nodes".into()));
    }
    let depot = &rows[0];
    let points: Vec<(f64, f64)> = rows.iter().map(|r| (r[1], r[2])).collect();
    let matrix = Matrix::euclidean(&points, false)?;
    let vehicles = (0..count)
        .map(|i| Vehicle {
            capacity_units: f64::INFINITY,
            shift_start: depot[4],
            shift_end: depot[5],
            fixed_cost: fixed_vehicle_cost,
            ..Vehicle::new(format!("v{i}"), cap, 0)
        })
        .collect();
    let stops = rows[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| Stop {
            demand_kg: r[3],
            service: r[6],
            windows: vec![TimeWindow {
                start: r[4],
                end: r[5],
            }],
            ..Stop::new((r[0] as u64).to_string(), i + 1)
        })
        .collect();
    let ids = rows[1..].iter().map(|r| r[0] as u64).collect();
    Ok(Instance {
        problem: Problem::new(matrix, vehicles, stops)?,
        ids,
    })
}

/// CVRPLIB (TSPLIB format, EUC_2D): each edge rounded to the nearest integer, no time limits,
/// fleet unbounded (one vehicle per customer available).
pub fn parse_cvrplib(text: &str, fixed_vehicle_cost: f64) -> Result<Instance, Error> {
    let mut cap = None;
    let mut coords: Vec<(u64, f64, f64)> = Vec::new();
    let mut demand: Vec<(u64, f64)> = Vec::new();
    let mut depot = 1u64;
    let mut section = "";
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let up = line.to_ascii_uppercase();
        if up.starts_with("CAPACITY") {
            cap = Some(num::<f64>(line.split(':').nth(1).map(str::trim))?);
            continue;
        }
        if up.starts_with("EDGE_WEIGHT_TYPE") && !up.contains("EUC_2D") {
            return Err(Error::Parse(format!("unsupported {line}")));
        }
        if up.starts_with("NODE_COORD_SECTION") {
            section = "coord";
            continue;
        }
        if up.starts_with("DEMAND_SECTION") {
            section = "demand";
            continue;
        }
        if up.starts_with("DEPOT_SECTION") {
            section = "depot";
            continue;
        }
        if up.starts_with("EOF") {
            break;
        }
        if line.contains(':') {
            section = "";
            continue;
        }
        let p: Vec<&str> = line.split_whitespace().collect();
        match section {
            "coord" => coords.push((num(p.first())?, num(p.get(1))?, num(p.get(2))?)),
            "demand" => demand.push((num(p.first())?, num(p.get(1))?)),
            "depot" => {
                let v: i64 = num(p.first())?;
                if v > 0 {
                    depot = v as u64;
                }
            }
            _ => {}
        }
    }
    let cap = cap.ok_or_else(|| Error::Parse("no CAPACITY".into()))?;
    let depot_at = coords
        .iter()
        .position(|c| c.0 == depot)
        .ok_or_else(|| Error::Parse("depot has no coordinates".into()))?;
    let points: Vec<(f64, f64)> = coords.iter().map(|c| (c.1, c.2)).collect();
    let matrix = Matrix::euclidean(&points, true)?;
    let mut stops = Vec::new();
    let mut ids = Vec::new();
    for (i, c) in coords.iter().enumerate().filter(|(i, _)| *i != depot_at) {
        let dem = demand.iter().find(|d| d.0 == c.0).map_or(0.0, |d| d.1);
        stops.push(Stop {
            demand_kg: dem,
            ..Stop::new(c.0.to_string(), i)
        });
        ids.push(c.0);
    }
    let vehicles = (0..stops.len())
        .map(|i| Vehicle {
            fixed_cost: fixed_vehicle_cost,
            ..Vehicle::new(format!("v{i}"), cap, depot_at)
        })
        .collect();
    Ok(Instance {
        problem: Problem::new(matrix, vehicles, stops)?,
        ids,
    })
}

fn num<T: std::str::FromStr>(s: Option<impl AsRef<str>>) -> Result<T, Error> {
    let s = s.ok_or_else(|| Error::Parse("missing number".into()))?;
    let s = s.as_ref();
    s.parse()
        .map_err(|_| Error::Parse(format!("not a number: {s}")))
}
