//! A rolling horizon: which day of the next 1-7 each due-or-soon-due stop is visited, so that
//! neighbours share a day and no clock lapses (issue 15).
//!
//! What a later day knows: the waste sealed *now* (its storage deadline binds the first visit),
//! the collection interval (after a visit on day k the stop is due again on the day the due
//! rule says, [`crate::pickups::Rules::due_again`]), open requests (due on the first day), and
//! the expected waste of a later visit, predicted from what the institution sealed per day
//! over the last 14 days ([`crate::pickups::store::seal_rates`]). Waste sealed after planning
//! is not known: that is why days 2..n are provisional, and why the next morning's plan
//! supersedes them with the new scans; the first day of every plan keeps the due rule, so a
//! stop due today is never moved to a later day. `routing::horizon` chooses the days.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use yifei_routing::horizon::{HorizonConfig, HorizonProblem, HorizonStop, solve_horizon};
use yifei_routing::{LatLng as RLatLng, MatrixProvider, SolverConfig};

use super::fleet::VehicleRow;
use super::store::Solving;
use super::{COST_PER_M, COST_PER_S, service_seconds, windows};
use crate::db::DbConnection;
use crate::db::schema::vehicles;
use crate::error::ApiError;
use crate::institutions::store::InstitutionRow;
use crate::pickups::{self, Due, HORIZON, Rules, Schedule};

/// Longest horizon `POST /plans` accepts.
pub const MAX_DAYS: i32 = 7;

/// What the horizon reads besides the first day's facts.
#[derive(Debug, Clone)]
pub struct HorizonFacts {
    /// The horizon's calendar days, the first being the plan's day.
    pub days: Vec<NaiveDate>,
    facts: Vec<pickups::Facts>,
    rules: Rules,
    insts: HashMap<String, InstitutionRow>,
    /// Grams and containers sealed per day, per institution.
    rates: HashMap<String, (f64, f64)>,
    /// Vehicles of later days: the company's active ones (those asked for, if any).
    fleet: Vec<VehicleRow>,
}

/// Reads what a horizon of `n` days from `day` needs.
pub fn read(
    conn: &mut DbConnection,
    org: &str,
    day: NaiveDate,
    n: i32,
    vehicle_ids: Option<&[String]>,
    schedule: &Schedule,
    now: NaiveDateTime,
) -> Result<HorizonFacts, ApiError> {
    let (facts, rules, insts) = pickups::store::due_facts(conn, Some(org), day, schedule, true)?;
    let rates = pickups::store::seal_rates(conn, now)?;
    let mut fleet: Vec<VehicleRow> = vehicles::table
        .filter(vehicles::org_id.eq(org))
        .filter(vehicles::active.eq(true))
        .order(vehicles::plate.asc())
        .select(VehicleRow::as_select())
        .load(conn)?;
    if let Some(ids) = vehicle_ids {
        fleet.retain(|v| ids.contains(&v.id));
    }
    Ok(HorizonFacts {
        days: (0..i64::from(n)).map(|k| day + Duration::days(k)).collect(),
        facts,
        rules,
        insts,
        rates,
        fleet,
    })
}

/// A stop of a provisional day.
#[derive(Debug, Clone)]
pub struct ProvStop {
    pub institution_id: String,
    pub eta: NaiveDateTime,
    pub deadline: Option<NaiveDateTime>,
    pub expected_g: i64,
    pub reasons: Vec<String>,
}

/// A vehicle's provisional route.
#[derive(Debug, Clone)]
pub struct ProvRoute {
    pub vehicle_id: String,
    pub distance_m: f64,
    pub duration_s: f64,
    pub load_g: i64,
    pub stops: Vec<ProvStop>,
}

/// What the horizon decided.
#[derive(Debug, Clone, Default)]
pub struct HorizonPlan {
    /// Stops not due on the first day that it visits then anyway, with the day they are due.
    pub pulled: BTreeMap<String, NaiveDate>,
    /// Days 2..n (index 0 = the second day).
    pub later: Vec<(NaiveDate, Vec<ProvRoute>)>,
    /// What the dispatcher should know (the due rule's plan kept, visits the fleet cannot make).
    pub notes: Vec<String>,
    /// Planned km over every day of the horizon, as the horizon solver routed them.
    pub km: f64,
    /// Vehicles used, added up over the days.
    pub vehicle_days: usize,
}

impl HorizonFacts {
    /// Facts assembled by the caller (benchmarks simulating a week without a database).
    pub fn new(
        days: Vec<NaiveDate>,
        facts: Vec<pickups::Facts>,
        rules: Rules,
        insts: HashMap<String, InstitutionRow>,
        rates: HashMap<String, (f64, f64)>,
        fleet: Vec<VehicleRow>,
    ) -> HorizonFacts {
        HorizonFacts {
            days,
            facts,
            rules,
            insts,
            rates,
            fleet,
        }
    }

    /// How many institutions the horizon considers (for progress lines).
    pub fn institutions(&self) -> usize {
        self.facts.len()
    }

    /// [`pulled_due`] over these facts.
    pub fn pulled_due(&self, pulled: &BTreeMap<String, NaiveDate>) -> Vec<Due> {
        pulled_due(&self.facts, &self.rules, self.days[0], pulled)
    }
}

/// The stops' first due day over the horizon, with the due rule's entry for that day.
fn first_due(hf: &HorizonFacts, day1: &[Due]) -> BTreeMap<String, (usize, Due)> {
    let mut out: BTreeMap<String, (usize, Due)> = BTreeMap::new();
    for d in day1 {
        out.insert(d.stop.clone(), (0, d.clone()));
    }
    for (k, &day) in hf.days.iter().enumerate().skip(1) {
        for d in pickups::due(&hf.facts, &hf.rules, day) {
            if hf.insts.contains_key(&d.stop) {
                out.entry(d.stop.clone()).or_insert((k, d));
            }
        }
    }
    out
}

/// The first day's entries for stops the horizon visits early: the due rule's entry of the
/// day they are due, marked [`HORIZON`].
pub fn pulled_due(
    facts: &[pickups::Facts],
    rules: &Rules,
    day: NaiveDate,
    pulled: &BTreeMap<String, NaiveDate>,
) -> Vec<Due> {
    let mut by_day: BTreeMap<NaiveDate, Vec<&str>> = BTreeMap::new();
    for (stop, d) in pulled {
        by_day.entry(*d).or_default().push(stop);
    }
    let mut out = Vec::new();
    for (due_day, stops) in by_day {
        for mut d in pickups::due(facts, rules, due_day) {
            if stops.contains(&d.stop.as_str()) {
                d.reasons.insert(0, HORIZON.to_owned());
                d.late_by_min = None;
                d.earliest = None;
                d.explanation = format!(
                    "visited {} with its neighbours, {} day{} before it is due: {}",
                    day,
                    (due_day - day).num_days(),
                    if (due_day - day).num_days() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    d.explanation
                );
                out.push(d);
            }
        }
    }
    out
}

/// Plans the horizon with `routing::horizon`: day 1 over `fleet1` (the vehicles free on the
/// plan's day) and `day1` (its due stops); later days over the company's fleet on working
/// days. No connection is held.
pub fn solve(
    hf: &HorizonFacts,
    plant: (f64, f64),
    fleet1: &[VehicleRow],
    day1: &[Due],
    solving: Solving,
) -> Result<HorizonPlan, ApiError> {
    let err = |e: yifei_routing::Error| ApiError::Internal(format!("horizon problem: {e}"));
    let n = hf.days.len();
    let first = first_due(hf, day1);
    let facts: HashMap<&str, &pickups::Facts> =
        hf.facts.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut points = vec![RLatLng::new(plant.0, plant.1).map_err(err)?];
    let mut stops = Vec::new();
    let mut meta: Vec<(&Due, usize)> = Vec::new();
    let origin = hf.rules.schedule.origin(hf.days[0]);
    for (id, (k, d)) in &first {
        let (Some(inst), Some(f)) = (hf.insts.get(id), facts.get(id.as_str())) else {
            continue;
        };
        points.push(RLatLng::new(inst.lat, inst.lng).map_err(err)?);
        let interval = d
            .serves
            .iter()
            .filter_map(|s| facts.get(s.as_str()))
            .map(|f| f.interval_h)
            .min()
            .unwrap_or(f.interval_h);
        let (g_day, n_day) = d
            .serves
            .iter()
            .filter_map(|s| hf.rates.get(s))
            .fold((0.0, 0.0), |a, r| (a.0 + r.0, a.1 + r.1));
        stops.push(HorizonStop {
            id: id.clone(),
            location: points.len() - 1,
            first_kg: d.expected_g as f64 / 1000.0,
            first_units: f64::from(d.expected_containers),
            kg_per_day: g_day / 1000.0,
            units_per_day: n_day,
            service: service_seconds(d.expected_containers),
            windows: windows(&inst.hours()),
            deadline: d
                .deadline
                .filter(|_| !d.overdue())
                .map(|t| ((t - origin).num_milliseconds() as f64 / 1000.0).max(0.0)),
            earliest: 0,
            first_by: Some(*k),
            next_by: (0..n)
                .map(|j| hf.rules.due_again(&f.reach, interval, &hf.days, j))
                .collect(),
        });
        meta.push((d, *k));
    }
    let matrix = hf.rules.schedule.travel.matrix(&points).map_err(err)?;
    let days = (0..n)
        .map(|k| {
            let fleet = if k == 0 {
                fleet1
            } else if hf.rules.schedule.works(hf.days[k]) {
                &hf.fleet[..]
            } else {
                &[]
            };
            fleet
                .iter()
                .map(|v| super::planning::vehicle_of(v, 0))
                .collect()
        })
        .collect();
    let problem = HorizonProblem {
        matrix,
        days,
        stops,
        cost_per_distance: COST_PER_M,
        cost_per_duration: COST_PER_S,
    };
    let per_day = solving.time_limit / (2 * n as u32 + 1);
    let solution = super::solver_thread::run(|| {
        solve_horizon(
            &problem,
            &HorizonConfig {
                day: SolverConfig {
                    time_limit: if solving.iterations.is_some() {
                        None
                    } else {
                        Some(per_day)
                    },
                    iterations: solving.iterations,
                    seed: 1,
                    threads: 1,
                },
                passes: 4,
            },
        )
    })
    .map_err(err)?;
    if let Err(v) = yifei_routing::horizon::validate_horizon(&problem, &solution) {
        return Err(ApiError::Internal(format!(
            "the horizon solver returned an invalid plan: {v:?}"
        )));
    }
    let mut out = HorizonPlan {
        km: solution.distance() / 1000.0,
        vehicle_days: solution.vehicle_days(),
        ..HorizonPlan::default()
    };
    if solution.due_rule_kept {
        out.notes.push(
            "horizon: no cheaper choice of days than visiting each stop on the day it is due"
                .into(),
        );
    }
    for (i, (d, k)) in meta.iter().enumerate() {
        if *k > 0 && solution.visits[i].first() == Some(&0) {
            out.pulled.insert(d.stop.clone(), hf.days[*k]);
        }
    }
    let names = |id: &str| hf.insts.get(id).map_or(id, |i| i.name.as_str()).to_owned();
    for h in yifei_routing::horizon::calendar_misses(&problem) {
        out.notes.push(format!(
            "{}: no vehicle works on a day of this horizon that keeps its deadline or \
             collection interval; add a vehicle or a working day, or plan it by hand",
            names(&problem.stops[h].id)
        ));
    }
    for (k, day) in solution.days.iter().enumerate().skip(1) {
        let day_origin = hf.rules.schedule.origin(hf.days[k]);
        let at = |s: f64| day_origin + Duration::milliseconds((s * 1000.0).round() as i64);
        for u in &day.solution.unassigned {
            let h = day.stops[u.stop];
            out.notes.push(format!(
                "{} ({}): {}: {}",
                hf.days[k],
                names(&problem.stops[h].id),
                "the provisional day cannot serve it",
                u.reason
            ));
        }
        let mut routes = Vec::new();
        for r in &day.solution.routes {
            let stops = r
                .visits
                .iter()
                .map(|v| {
                    let h = day.stops[v.stop];
                    let (d, first_k) = meta[h];
                    let first_visit = solution.visits[h].first() == Some(&k);
                    let mut reasons = if first_visit {
                        d.reasons.clone()
                    } else {
                        vec![pickups::INTERVAL_LAPSES.to_owned()]
                    };
                    if first_visit && k < first_k {
                        reasons.insert(0, HORIZON.to_owned());
                    }
                    ProvStop {
                        institution_id: problem.stops[h].id.clone(),
                        eta: at(v.arrival),
                        deadline: d.deadline.filter(|_| first_visit),
                        expected_g: (day.problem.stops()[v.stop].demand_kg * 1000.0).round() as i64,
                        reasons,
                    }
                })
                .collect();
            routes.push(ProvRoute {
                vehicle_id: day.problem.vehicles()[r.vehicle].id.clone(),
                distance_m: r.distance_m,
                duration_s: r.duration_s,
                load_g: (r.load_kg * 1000.0).round() as i64,
                stops,
            });
        }
        out.later.push((hf.days[k], routes));
    }
    Ok(out)
}
