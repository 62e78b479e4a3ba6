//! Solver behaviour on small problems. Every solution goes through `validate`; every run is
//! iteration-limited and seeded, so results are deterministic and the suite is fast in debug.
#![allow(clippy::unwrap_used)]

use yifei_routing::generator::{DayConfig, rural_day};
use yifei_routing::instances::parse_solomon;
use yifei_routing::{
    HaversineMatrix, LatLng, Matrix, Problem, ProblemBuilder, Solution, SolverConfig, Stop,
    TimeWindow, UnassignedReason, Vehicle, Violation, insert_stop, solve, validate,
};

const H: f64 = 3600.0;

fn cfg(iterations: u64) -> SolverConfig {
    SolverConfig {
        time_limit: None,
        iterations: Some(iterations),
        seed: 7,
        threads: 2,
    }
}

fn solve_valid(p: &Problem, iterations: u64) -> Solution {
    let s = solve(p, &cfg(iterations));
    if let Err(v) = validate(p, &s) {
        panic!("invalid solution: {v:?}");
    }
    s
}

/// Points on a circle around the depot-free centre; the optimal single tour is the polygon.
#[test]
fn finds_the_optimal_tour_on_a_circle() {
    let n = 24;
    let mut pts = vec![(0.0, 100.0)]; // depot on the circle too
    for i in 1..=n {
        let a = std::f64::consts::TAU * i as f64 / (n + 1) as f64;
        pts.push((100.0 * a.sin(), 100.0 * a.cos()));
    }
    // Shuffle the stop order so the construction does not start from the answer.
    let mut order: Vec<usize> = (1..=n).collect();
    order.reverse();
    order.swap(3, 17);
    order.swap(5, 11);
    let m = Matrix::euclidean(&pts, false).unwrap();
    let stops = order.iter().map(|&i| Stop::new(i.to_string(), i)).collect();
    let p = Problem::new(m, vec![Vehicle::new("v", f64::INFINITY, 0)], stops).unwrap();
    let s = solve_valid(&p, 3000);
    let side = 2.0 * 100.0 * (std::f64::consts::PI / (n + 1) as f64).sin();
    assert_eq!(s.routes.len(), 1);
    assert!(
        (s.distance() - side * (n + 1) as f64).abs() < 1e-6,
        "{}",
        s.distance()
    );
}

/// Two far-apart clusters and capacity for one cluster per vehicle: one route per cluster.
#[test]
fn separates_clusters_by_capacity() {
    let mut pts = vec![(0.0, 0.0)];
    for i in 0..6 {
        pts.push((100.0 + i as f64, 0.0));
        pts.push((-100.0 - i as f64, 0.0));
    }
    let m = Matrix::euclidean(&pts, false).unwrap();
    let stops: Vec<Stop> = (1..pts.len())
        .map(|i| Stop {
            demand_kg: 10.0,
            ..Stop::new(i.to_string(), i)
        })
        .collect();
    let vehicles = (0..3)
        .map(|i| Vehicle::new(format!("v{i}"), 60.0, 0))
        .collect();
    let p = Problem::new(m, vehicles, stops).unwrap();
    let s = solve_valid(&p, 2000);
    assert_eq!(s.routes.len(), 2);
    assert!(
        (s.distance() - 4.0 * 105.0).abs() < 1e-6,
        "{}",
        s.distance()
    );
    for r in &s.routes {
        let side = pts[p.stops()[r.visits[0].stop].location].0.signum();
        assert!(
            r.visits
                .iter()
                .all(|v| pts[p.stops()[v.stop].location].0.signum() == side)
        );
    }
}

/// A line of stops east of the plant: index i is i km east.
fn line_problem(stops: Vec<Stop>, vehicles: Vec<Vehicle>, km: usize) -> Problem {
    let pts: Vec<(f64, f64)> = (0..=km).map(|i| (i as f64 * 1000.0, 0.0)).collect();
    // 10 m/s.
    let m = Matrix::euclidean(&pts, false).unwrap();
    let d: Vec<f64> = (0..pts.len() * pts.len())
        .map(|k| m.distance(k / pts.len(), k % pts.len()))
        .collect();
    let m = Matrix::proportional(pts.len(), d, 0.1).unwrap();
    Problem::new(m, vehicles, stops).unwrap()
}

fn day_vehicle(id: &str, kg: f64) -> Vehicle {
    Vehicle {
        shift_start: 7.0 * H,
        shift_end: 19.0 * H,
        ..Vehicle::new(id, kg, 0)
    }
}

#[test]
fn every_infeasible_stop_comes_back_with_its_reason() {
    let lunch = vec![
        TimeWindow {
            start: 8.0 * H,
            end: 12.0 * H,
        },
        TimeWindow {
            start: 14.0 * H,
            end: 17.5 * H,
        },
    ];
    let stops = vec![
        Stop {
            demand_kg: 5.0,
            windows: lunch.clone(),
            ..Stop::new("ok", 3)
        },
        Stop {
            demand_kg: 5000.0,
            ..Stop::new("too-heavy", 2)
        },
        // 200 km away at 10 m/s = 5.6 h: cannot be there by 08:00.
        Stop {
            deadline: Some(8.0 * H),
            ..Stop::new("too-late", 200)
        },
        // Opens only at night.
        Stop {
            windows: vec![TimeWindow {
                start: 21.0 * H,
                end: 23.0 * H,
            }],
            ..Stop::new("night", 4)
        },
        // Fits alone, but the only vehicle is full with "ok" + "fills".
        Stop {
            demand_kg: 60.0,
            ..Stop::new("no-room", 5)
        },
        Stop {
            demand_kg: 95.0,
            penalty: 1e8,
            ..Stop::new("fills", 6)
        },
    ];
    let p = line_problem(stops, vec![day_vehicle("v", 100.0)], 200);
    let s = solve_valid(&p, 500);
    let reason = |id: &str| {
        let i = p.stops().iter().position(|s| s.id == id).unwrap();
        s.unassigned.iter().find(|u| u.stop == i).map(|u| u.reason)
    };
    assert_eq!(reason("too-heavy"), Some(UnassignedReason::OverCapacity));
    assert_eq!(
        reason("too-late"),
        Some(UnassignedReason::DeadlineUnreachable)
    );
    assert_eq!(
        reason("night"),
        Some(UnassignedReason::NoTimeWindowReachable)
    );
    // "ok" (5 kg) fits with either "fills" (95 kg) or "no-room" (60 kg), not both: the plan
    // leaves out the one with the lower penalty and says the fleet had no room for it.
    assert_eq!(reason("fills"), Some(UnassignedReason::FleetExhausted));
    assert_eq!(reason("no-room"), None);
    assert_eq!(reason("ok"), None);
    assert!(!UnassignedReason::DeadlineUnreachable.to_string().is_empty());
}

#[test]
fn waits_for_the_afternoon_window_after_lunch() {
    // Stop 30 km out (50 min at 10 m/s), open 08-12 and 14-17:30; vehicle leaves at 11:30.
    let stops = vec![Stop {
        service: 600.0,
        windows: vec![
            TimeWindow {
                start: 8.0 * H,
                end: 12.0 * H,
            },
            TimeWindow {
                start: 14.0 * H,
                end: 17.5 * H,
            },
        ],
        ..Stop::new("clinic", 30)
    }];
    let v = Vehicle {
        shift_start: 11.5 * H,
        ..day_vehicle("v", 100.0)
    };
    let p = line_problem(stops, vec![v], 30);
    let s = solve_valid(&p, 50);
    let visit = s.routes[0].visits[0];
    assert_eq!(visit.service_start, 14.0 * H);
    assert!(visit.arrival <= 14.0 * H);
    assert_eq!(visit.departure, 14.0 * H + 600.0);
    // Departure is delayed so the truck does not wait at the clinic.
    assert!((s.routes[0].start_time - (14.0 * H - 3000.0)).abs() < 1e-6);
}

#[test]
fn units_capacity_and_speed_factor_are_respected() {
    let stops: Vec<Stop> = (1..=4)
        .map(|i| Stop {
            demand_kg: 1.0,
            demand_units: 3.0,
            ..Stop::new(i.to_string(), i)
        })
        .collect();
    let fast = Vehicle {
        capacity_units: 6.0,
        speed_factor: 2.0,
        ..day_vehicle("fast", 100.0)
    };
    let slow = Vehicle {
        capacity_units: 6.0,
        ..day_vehicle("slow", 100.0)
    };
    let p = line_problem(stops, vec![fast, slow], 4);
    let s = solve_valid(&p, 500);
    assert_eq!(s.routes.len(), 2, "6 units per vehicle, 12 units of demand");
    for r in &s.routes {
        assert!(r.load_units <= 6.0);
        let first = r.visits[0];
        let km = p.stops()[first.stop].location as f64;
        let expected = km * 100.0 / p.vehicles()[r.vehicle].speed_factor;
        assert!((first.arrival - r.start_time - expected).abs() < 1e-6);
    }
}

#[test]
fn cheap_optional_stop_is_left_out_with_a_reason() {
    let stops = vec![
        Stop::new("near", 1),
        Stop {
            penalty: 100.0, // far cheaper than the 2 x 50 km detour
            ..Stop::new("far-optional", 50)
        },
    ];
    let p = line_problem(stops, vec![day_vehicle("v", 100.0)], 50);
    let s = solve_valid(&p, 200);
    assert_eq!(s.unassigned.len(), 1);
    assert_eq!(p.stops()[s.unassigned[0].stop].id, "far-optional");
    assert!((s.cost - (2000.0 + 100.0)).abs() < 1e-6, "{}", s.cost);
}

#[test]
fn iteration_limited_runs_are_reproducible() {
    let day = rural_day(&DayConfig {
        vehicles: 3,
        ..DayConfig::with_stops(60, 3)
    });
    let p = day.problem().unwrap();
    let a = solve_valid(&p, 400);
    let b = solve(&p, &cfg(400));
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.cost, b.cost);
    let other_seed = solve(
        &p,
        &SolverConfig {
            seed: 8,
            ..cfg(400)
        },
    );
    assert!(validate(&p, &other_seed).is_ok());
    assert!(a.unassigned.is_empty(), "{:?}", a.unassigned);
}

#[test]
fn search_improves_on_the_construction() {
    let day = rural_day(&DayConfig::with_stops(120, 5));
    let p = day.problem().unwrap();
    let start = solve_valid(&p, 0);
    let searched = solve_valid(&p, 1500);
    assert!(
        searched.cost < start.cost * 0.98,
        "{} vs {}",
        searched.cost,
        start.cost
    );
}

#[test]
fn validator_reports_broken_plans() {
    let stops: Vec<Stop> = (1..=3)
        .map(|i| Stop {
            demand_kg: 10.0,
            windows: vec![TimeWindow {
                start: 8.0 * H,
                end: 9.0 * H,
            }],
            deadline: Some(8.5 * H),
            ..Stop::new(i.to_string(), i)
        })
        .collect();
    let p = line_problem(
        stops,
        vec![day_vehicle("a", 20.0), day_vehicle("b", 20.0)],
        3,
    );
    let good = solve_valid(&p, 100);
    assert!(validate(&p, &good).is_ok());

    let mut twice = good.clone();
    let extra = twice.routes[0].visits[0];
    twice.routes[0].visits.push(extra);
    assert!(
        validate(&p, &twice)
            .unwrap_err()
            .iter()
            .any(|v| matches!(v, Violation::StopRepeated { .. }))
    );

    let mut missing = good.clone();
    missing.routes[0].visits.pop();
    let errs = validate(&p, &missing).unwrap_err();
    assert!(
        errs.iter()
            .any(|v| matches!(v, Violation::StopMissing { .. }))
    );

    let mut late = good.clone();
    for v in &mut late.routes[0].visits {
        v.arrival += 2.0 * H;
        v.service_start += 2.0 * H;
        v.departure += 2.0 * H;
    }
    let errs = validate(&p, &late).unwrap_err();
    assert!(
        errs.iter()
            .any(|v| matches!(v, Violation::OutsideWindows { .. }))
    );
    assert!(
        errs.iter()
            .any(|v| matches!(v, Violation::AfterDeadline { .. }))
    );

    let mut early = good.clone();
    early.routes[0].visits[0].arrival -= 1000.0;
    let errs = validate(&p, &early).unwrap_err();
    assert!(
        errs.iter()
            .any(|v| matches!(v, Violation::InconsistentSchedule { .. }))
    );

    let mut heavy = good.clone();
    let all: Vec<_> = heavy.routes.iter().flat_map(|r| r.visits.clone()).collect();
    heavy.routes.truncate(1);
    heavy.routes[0].visits = all;
    let errs = validate(&p, &heavy).unwrap_err();
    assert!(
        errs.iter()
            .any(|v| matches!(v, Violation::OverCapacity { .. })),
        "{errs:?}"
    );
}

#[test]
fn urgent_stop_goes_after_the_visited_prefix() {
    // A run 1 -> 3 -> 4 -> 5 -> 6 km out; the urgent stop at 2 km must be served by 07:07.
    let mut stops: Vec<Stop> = [1usize, 3, 4, 5, 6]
        .iter()
        .map(|&i| Stop::new(i.to_string(), i))
        .collect();
    stops.push(Stop {
        deadline: Some(7.0 * H + 420.0),
        ..Stop::new("urgent", 2)
    });
    let p = line_problem(stops, vec![day_vehicle("v", 100.0)], 6);
    let mut s = solve_valid(&p, 200);
    let urgent = 5;
    let mut route = s.routes.remove(0);
    route.visits.retain(|v| v.stop != urgent);
    route.visits.sort_by_key(|v| p.stops()[v.stop].location);
    // Nothing visited yet: between 1 and 3 km, no detour.
    let free = insert_stop(&p, &route, 0, urgent).unwrap();
    assert_eq!((free.position, free.added_cost), (1, 0.0));
    // 1 and 3 km already visited: back-track from 3 km (arrive 07:06:40), 2 km detour; on the
    // way home it would be too late for the deadline.
    let fixed = insert_stop(&p, &route, 2, urgent).unwrap();
    assert_eq!(fixed.position, 2);
    assert!(
        (fixed.added_cost - 2000.0).abs() < 1e-9,
        "{}",
        fixed.added_cost
    );
    // Three visits done: it can no longer make its deadline.
    assert!(insert_stop(&p, &route, 3, urgent).is_none());
    // Already on the route, or an unknown stop: no insertion.
    assert!(insert_stop(&p, &route, 0, route.visits[0].stop).is_none());
    assert!(insert_stop(&p, &route, 0, 99).is_none());
}

#[test]
fn urgent_stop_that_breaks_capacity_is_refused() {
    let stops = vec![
        Stop {
            demand_kg: 80.0,
            ..Stop::new("a", 1)
        },
        Stop {
            demand_kg: 30.0,
            ..Stop::new("urgent", 2)
        },
    ];
    let p = line_problem(stops, vec![day_vehicle("v", 100.0)], 2);
    let s = solve_valid(&p, 50);
    let mut route = s
        .routes
        .iter()
        .find(|r| r.visits.iter().any(|v| v.stop == 0))
        .unwrap()
        .clone();
    route.visits.retain(|v| v.stop == 0);
    assert!(insert_stop(&p, &route, 0, 1).is_none());
}

#[test]
fn solomon_text_is_parsed_with_fleet_and_windows() {
    let text = "TINY\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n\
        CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n\
        0 0 0 0 0 100 0\n1 3 4 5 0 50 2\n2 6 8 5 10 60 2\n7 0 5 8 0 90 1\n";
    let inst = parse_solomon(text, 0.0).unwrap();
    let p = &inst.problem;
    assert_eq!(p.vehicles().len(), 2);
    assert_eq!(inst.ids, vec![1, 2, 7]);
    assert_eq!(p.matrix().distance(0, 1), 5.0);
    assert_eq!(
        p.stops()[1].windows,
        vec![TimeWindow {
            start: 10.0,
            end: 60.0
        }]
    );
    let s = solve_valid(p, 300);
    assert!(s.unassigned.is_empty());
    assert_eq!(s.routes.len(), 2, "18 units of demand, capacity 10");
}

#[test]
fn geographic_builder_dedups_points_and_rejects_bad_input() {
    let mut b = ProblemBuilder::new();
    let plant = b
        .location(LatLng {
            lat: 29.5,
            lng: 106.0,
        })
        .unwrap();
    assert_eq!(
        b.location(LatLng {
            lat: 29.5,
            lng: 106.0
        })
        .unwrap(),
        plant
    );
    assert!(
        b.location(LatLng {
            lat: 95.0,
            lng: 106.0
        })
        .is_err()
    );
    let c = b
        .location(LatLng {
            lat: 29.6,
            lng: 106.1,
        })
        .unwrap();
    b.vehicle(Vehicle::new("t", 1000.0, plant));
    b.stop(Stop::new("clinic", c));
    b.costs(0.002, 0.01);
    let p = b.build(&HaversineMatrix::default()).unwrap();
    assert_eq!(p.matrix().len(), 2);
    assert_eq!(p.cost_per_duration(), 0.01);
    let s = solve_valid(&p, 20);
    let expected = 2.0 * 0.002 * p.matrix().distance(0, 1) + 0.01 * s.routes[0].duration_s;
    assert!((s.cost - expected).abs() < 1e-6, "{} vs {expected}", s.cost);

    let bad = Problem::new(p.matrix().clone(), vec![Vehicle::new("t", 1.0, 5)], vec![]);
    assert!(bad.is_err());
    let window = Stop {
        windows: vec![TimeWindow {
            start: 5.0,
            end: 1.0,
        }],
        ..Stop::new("w", 1)
    };
    assert!(Problem::new(p.matrix().clone(), vec![], vec![window]).is_err());
}

#[test]
fn generated_day_with_lunch_break_is_served_in_full() {
    let day = rural_day(&DayConfig::with_stops(150, 11));
    assert!(day.stops.iter().any(|s| s.windows.len() == 2));
    assert!(day.stops.iter().any(|s| s.deadline.is_some()));
    assert_eq!(
        rural_day(&DayConfig::with_stops(150, 11)),
        day,
        "deterministic"
    );
    let p = day.problem().unwrap();
    let s = solve_valid(&p, 800);
    assert!(s.unassigned.is_empty(), "{:?}", s.unassigned);
    assert!(s.routes.len() <= 3);
}

/// A solve that reports its progress finds the same solution as one that does not, and
/// reports at least once (the construction's polish counts as no improvement, the first
/// better one does), never a distance above the first.
#[test]
fn reporting_progress_does_not_change_the_solution() {
    let day = yifei_routing::generator::rural_day(
        &yifei_routing::generator::DayConfig::with_stops(60, 3),
    );
    let p = day.problem().expect("problem");
    let cfg = SolverConfig {
        time_limit: None,
        iterations: Some(300),
        seed: 1,
        threads: 1,
    };
    let plain = solve(&p, &cfg);
    let seen = std::sync::Mutex::new(Vec::new());
    let reported = yifei_routing::solve_reporting(&p, &cfg, &|pr| {
        seen.lock().expect("lock").push(pr.distance_m)
    });
    assert_eq!(plain.routes, reported.routes);
    let seen = seen.into_inner().expect("lock");
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|&d| d > 0.0));
}
