//! H3 neighbourhoods and clusters on geographic problems.
#![allow(clippy::unwrap_used)]

use yifei_routing::generator::{DayConfig, rural_day};
use yifei_routing::h3::{TOWNSHIP_RES, VILLAGE_RES, cell, clusters, neighbour_lists};

#[test]
fn grid_disk_neighbours_are_the_nearest_stops() {
    let day = rural_day(&DayConfig::with_stops(300, 2));
    let p = day.problem().unwrap();
    let k = 10;
    let lists = neighbour_lists(&p, k).unwrap();
    let m = p.matrix();
    let loc = |i: usize| p.stops()[i].location;
    let mut exact_hits = 0;
    for (i, list) in lists.iter().enumerate() {
        assert_eq!(list.len(), k);
        assert!(!list.contains(&(i as u32)));
        // Brute force: the true k nearest by symmetric matrix distance.
        let mut all: Vec<(f64, usize)> = (0..p.stops().len())
            .filter(|&j| j != i)
            .map(|j| (m.distance(loc(i), loc(j)) + m.distance(loc(j), loc(i)), j))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        if all[0].1 == list[0] as usize {
            exact_hits += 1;
        }
        let kth = all[k - 1].0;
        let worst = list
            .iter()
            .map(|&j| m.distance(loc(i), loc(j as usize)) + m.distance(loc(j as usize), loc(i)))
            .fold(0.0, f64::max);
        // Disks are searched until 2k candidates: the list may miss a stop just beyond the
        // searched rings, but never by more than a village cell's width (~2.5 km each way).
        assert!(
            worst <= kth + 2.0 * 2.0 * 2500.0,
            "stop {i}: {worst} vs {kth}"
        );
    }
    assert!(
        exact_hits >= 295,
        "nearest neighbour found for {exact_hits}/300"
    );
}

#[test]
fn clusters_partition_stops_by_township_cells() {
    let day = rural_day(&DayConfig::with_stops(400, 4));
    let p = day.problem().unwrap();
    let cs = clusters(&p, TOWNSHIP_RES).unwrap();
    let total: usize = cs.iter().map(|c| c.1.len()).sum();
    assert_eq!(total, 400);
    for (c, members) in &cs {
        for &i in members {
            let at = day.stops[i].at;
            assert_eq!(
                cell(at, VILLAGE_RES).unwrap().parent(TOWNSHIP_RES),
                Some(*c)
            );
        }
    }
    assert!(cs.len() > 4, "a county spreads over many township cells");
    // Matrix-only problems have no coordinates and therefore no H3 structure.
    let inst = yifei_routing::instances::parse_cvrplib(
        "NAME : t\nCAPACITY : 5\nNODE_COORD_SECTION\n1 0 0\n2 3 4\nDEMAND_SECTION\n1 0\n2 1\nDEPOT_SECTION\n1\n-1\nEOF\n",
        0.0,
    )
    .unwrap();
    assert!(clusters(&inst.problem, TOWNSHIP_RES).is_none());
    assert!(neighbour_lists(&inst.problem, 3).is_none());
}
