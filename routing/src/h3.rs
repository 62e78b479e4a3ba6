//! H3 cells for geographic problems: candidate neighbour lists from grid disks (so search
//! effort per stop does not grow with the size of the day) and clusters by parent cell
//! (townships, county sectors) for decomposing large days and for maps.
//!
//! Resolutions (average areas measured at 29.5 N): res 7 = 5 km2, about a village, so a stop's
//! own cell plus rings of neighbouring villages are its natural candidates; res 6 = 35 km2,
//! 2-4 cells per township (50-150 km2); res 5 = 245 km2, a county sector of a few townships.

use std::collections::HashMap;

use h3o::{CellIndex, LatLng as H3LatLng, Resolution};

use crate::model::{LatLng, Problem};

/// Village-scale resolution used to bucket stops for neighbour lookups.
pub const VILLAGE_RES: Resolution = Resolution::Seven;
/// Township-scale resolution for clustering.
pub const TOWNSHIP_RES: Resolution = Resolution::Six;
/// County-sector resolution for decomposing very large days.
pub const SECTOR_RES: Resolution = Resolution::Five;

/// Rings searched at most (k = 12 at res 7 is about 30 km): beyond that a stop is isolated
/// and takes what it found.
const MAX_RING: u32 = 12;

/// The H3 cell of a point, or None for a point h3o rejects.
pub fn cell(p: LatLng, res: Resolution) -> Option<CellIndex> {
    H3LatLng::new(p.lat, p.lng).ok().map(|ll| ll.to_cell(res))
}

/// For each stop, up to `k` nearest other stops (by matrix distance) drawn from growing grid
/// disks around its village cell; None when the problem has no coordinates. Expected cost is
/// O(n x candidates), not O(n^2).
pub fn neighbour_lists(problem: &Problem, k: usize) -> Option<Vec<Vec<u32>>> {
    let points = problem.points()?;
    let stops = problem.stops();
    let cells: Vec<CellIndex> = stops
        .iter()
        .map(|s| cell(points[s.location], VILLAGE_RES))
        .collect::<Option<_>>()?;
    let mut buckets: HashMap<CellIndex, Vec<u32>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        buckets.entry(*c).or_default().push(i as u32);
    }
    let m = problem.matrix();
    let k = k.min(stops.len().saturating_sub(1));
    let mut found: Vec<(f64, u32)> = Vec::new();
    let lists = (0..stops.len())
        .map(|i| {
            // Collect 2k candidates so the matrix (circuity, one-way roads) decides the final k.
            let mut ring = 0;
            loop {
                found.clear();
                for c in cells[i].grid_disk::<Vec<_>>(ring) {
                    if let Some(b) = buckets.get(&c) {
                        found.extend(b.iter().filter(|&&j| j as usize != i).map(|&j| {
                            let (a, b) = (stops[i].location, stops[j as usize].location);
                            (m.distance(a, b) + m.distance(b, a), j)
                        }));
                    }
                }
                if found.len() >= 2 * k || ring >= MAX_RING {
                    break;
                }
                ring += 1;
            }
            found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            found.iter().take(k).map(|x| x.1).collect()
        })
        .collect();
    Some(lists)
}

/// Stops grouped by the parent at `res` (e.g. [`TOWNSHIP_RES`]) of their village cell, cells in
/// index order: the unit for decomposing a large day and for coverage maps. Going through the
/// village cell keeps a village in one cluster (H3 children do not nest exactly in parents).
/// None without coordinates.
pub fn clusters(problem: &Problem, res: Resolution) -> Option<Vec<(CellIndex, Vec<usize>)>> {
    let points = problem.points()?;
    let mut by: HashMap<CellIndex, Vec<usize>> = HashMap::new();
    for (i, s) in problem.stops().iter().enumerate() {
        let village = cell(points[s.location], VILLAGE_RES)?;
        by.entry(village.parent(res).unwrap_or(village))
            .or_default()
            .push(i);
    }
    let mut out: Vec<_> = by.into_iter().collect();
    out.sort_by_key(|(c, _)| u64::from(*c));
    Some(out)
}

/// Polar angle around the first vehicle's start of each stop's township cell centre (stops of
/// one cell share an angle, so a sweep takes a township at a time). None without coordinates.
pub(crate) fn sweep_angles(problem: &Problem) -> Option<Vec<f64>> {
    let points = problem.points()?;
    let origin = points[problem.vehicles().first()?.start];
    let scale = origin.lat.to_radians().cos();
    problem
        .stops()
        .iter()
        .map(|s| {
            let village = cell(points[s.location], VILLAGE_RES)?;
            let centre = H3LatLng::from(village.parent(TOWNSHIP_RES).unwrap_or(village));
            Some((centre.lat() - origin.lat).atan2((centre.lng() - origin.lng) * scale))
        })
        .collect()
}
