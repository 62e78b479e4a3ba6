//! Planning a day in three phases, so that scans never wait for the solver (DESIGN: "read,
//! solve, then a short write that re-checks what changed meanwhile"):
//!
//! 1. **read** the facts (plant, fleet, the day's runs, due stops) on a connection given back
//!    at once;
//! 2. **solve** with no connection and no lock held (seconds to minutes);
//! 3. **write** in one short transaction that reads the facts again and compares them with
//!    what the solver saw. Stops whose waste went away meanwhile (collected, moved) are taken
//!    off their runs and the runs re-timed by `routing`; waste sealed meanwhile at a planned
//!    stop is added when its run still fits; stops that became due meanwhile are reported as
//!    not in this plan. When the fleet changed (a run of the day started, a vehicle was
//!    changed) or new waste no longer fits its run, the day is solved once more from the new
//!    facts. The plan's `notes` say which was done.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Plan, Role, UnassignedStop};
use yifei_routing::{
    LatLng as RLatLng, Problem, ProblemBuilder, RoutePlan, Solution, SolverConfig, Stop,
    TimeWindow, Vehicle,
};

use super::fleet::VehicleRow;
use super::horizon::HorizonPlan;
use super::store::{RunRow, Solving, StopRow, company_site, detail_of};
use super::{COST_PER_M, COST_PER_S, VEHICLE_DAY_COST, seconds, service_seconds, windows};
use crate::auth::Caller;
use crate::db::schema::{plans, run_stops, runs, users, vehicles};
use crate::db::{Db, DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::store::InstitutionRow;
use crate::pickups::store::{day_bounds, due_facts};
use crate::pickups::{Due, Schedule};

/// Where a plan is, for `yifei plan`'s progress lines and for tests that act while the
/// solver thinks.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Reading the facts.
    Reading,
    /// Choosing which day of a horizon each stop is visited, with no connection held.
    Horizon { days: i32, stops: usize },
    /// The horizon is chosen: its planned km over all days and its vehicle-days.
    HorizonSolved { km: f64, vehicle_days: usize },
    /// The solver is thinking, with no connection held.
    Solving { stops: usize, vehicles: usize },
    /// The solver found a better plan (at most once a second).
    Best {
        km: f64,
        unassigned: usize,
        iterations: u64,
    },
    /// The solver is done: its best distance.
    Solved { km: f64, unassigned: usize },
    /// The facts changed too much meanwhile: solving once more, and why.
    Resolving(String),
    /// The short write transaction.
    Writing,
}

/// A stop as the routing problem sees it; one builder for planning and urgent insertion.
#[derive(Debug, Clone)]
pub struct StopSpec {
    pub id: String,
    pub lat: f64,
    pub lng: f64,
    pub kg: f64,
    pub containers: i32,
    pub windows: Vec<TimeWindow>,
    /// Seconds after local midnight; the solver never serves the stop after it.
    pub deadline: Option<f64>,
}

/// The routing problem of `vehicles` leaving from and returning to the plant, serving
/// `stops` (routing index = position in `stops`).
pub fn problem_of(
    travel: &yifei_routing::HaversineMatrix,
    plant: (f64, f64),
    vehicles: &[VehicleRow],
    stops: &[StopSpec],
) -> Result<Problem, ApiError> {
    let err = |e: yifei_routing::Error| ApiError::Internal(format!("routing problem: {e}"));
    let mut b = ProblemBuilder::new();
    let depot = b
        .location(RLatLng::new(plant.0, plant.1).map_err(err)?)
        .map_err(err)?;
    for v in vehicles {
        b.vehicle(vehicle_of(v, depot));
    }
    for s in stops {
        let loc = b
            .location(RLatLng::new(s.lat, s.lng).map_err(err)?)
            .map_err(err)?;
        b.stop(Stop {
            demand_kg: s.kg,
            demand_units: f64::from(s.containers),
            service: service_seconds(s.containers),
            windows: s.windows.clone(),
            deadline: s.deadline,
            ..Stop::new(s.id.clone(), loc)
        });
    }
    b.costs(COST_PER_M, COST_PER_S);
    b.build(travel).map_err(err)
}

/// A vehicle as routing sees it, leaving from and returning to `depot`.
pub fn vehicle_of(v: &VehicleRow, depot: usize) -> Vehicle {
    Vehicle {
        capacity_units: f64::from(v.capacity_units),
        shift_start: seconds(&v.shift_start).unwrap_or(7.5 * 3600.0),
        shift_end: seconds(&v.shift_end).unwrap_or(17.5 * 3600.0),
        fixed_cost: VEHICLE_DAY_COST,
        ..Vehicle::new(v.id.clone(), f64::from(v.capacity_kg), depot)
    }
}

/// What planning reads, and reads again before it writes.
#[derive(Debug, Clone)]
pub struct Facts {
    plant: (f64, f64),
    /// Planned (not started) runs of the day: the plan replaces them.
    replaced: Vec<String>,
    /// Started runs of the day: kept, their pending stops left out of the plan.
    started: Vec<RunRow>,
    /// Vehicles the plan may use.
    fleet: Vec<VehicleRow>,
    /// Due stops that have an institution row, tightest first.
    due: Vec<Due>,
    insts: HashMap<String, InstitutionRow>,
}

impl Facts {
    fn fleet_key(&self) -> Vec<(String, i32, i32, String, String)> {
        self.fleet
            .iter()
            .map(|v| {
                (
                    v.id.clone(),
                    v.capacity_kg,
                    v.capacity_units,
                    v.shift_start.clone(),
                    v.shift_end.clone(),
                )
            })
            .collect()
    }

    fn spec(&self, d: &Due, origin: NaiveDateTime) -> Option<StopSpec> {
        let i = self.insts.get(&d.stop)?;
        Some(StopSpec {
            id: d.stop.clone(),
            lat: i.lat,
            lng: i.lng,
            kg: d.expected_g as f64 / 1000.0,
            containers: d.expected_containers,
            windows: windows(&i.hours()),
            // Waste whose deadline passes before any run of the day can get there is already
            // late: it is planned all the same (leaving it for tomorrow would only add to the
            // breach), with no limit the solver could not meet; its stop keeps the passed
            // deadline and the `overdue` reason for the driver and the dispatcher to see.
            deadline: d
                .deadline
                .filter(|_| !d.overdue())
                .map(|t| ((t - origin).num_milliseconds() as f64 / 1000.0).max(0.0)),
        })
    }
}

fn read_facts(
    conn: &mut DbConnection,
    org: &str,
    day: NaiveDate,
    vehicle_ids: Option<&[String]>,
    schedule: &Schedule,
    pulled: &BTreeMap<String, NaiveDate>,
) -> Result<Facts, ApiError> {
    let (_, plant_lat, plant_lng) = company_site(conn, org)?;
    let existing: Vec<RunRow> = runs::table
        .filter(runs::org_id.eq(org))
        .filter(runs::day.eq(day.to_string()))
        .filter(runs::status.ne("cancelled"))
        .select(RunRow::as_select())
        .load(conn)?;
    let mut replaced = Vec::new();
    let mut started = Vec::new();
    let mut busy: HashSet<String> = HashSet::new();
    for r in existing {
        if r.status == "planned" {
            replaced.push(r.id);
        } else {
            busy.insert(r.vehicle_id.clone());
            if r.status == "in_progress" {
                started.push(r);
            }
        }
    }
    started.sort_by(|a, b| a.id.cmp(&b.id));
    replaced.sort();
    let mut fleet: Vec<VehicleRow> = vehicles::table
        .filter(vehicles::org_id.eq(org))
        .filter(vehicles::active.eq(true))
        .order(vehicles::plate.asc())
        .select(VehicleRow::as_select())
        .load(conn)?;
    if let Some(ids) = vehicle_ids {
        for id in ids {
            if !fleet.iter().any(|v| &v.id == id) {
                return Err(ApiError::invalid(
                    "vehicle_ids",
                    format!("no active vehicle {id} in your fleet"),
                ));
            }
        }
        fleet.retain(|v| ids.contains(&v.id));
    }
    fleet.retain(|v| !busy.contains(&v.id));
    let (raw, rules, insts) = due_facts(conn, Some(org), day, schedule, true)?;
    let mut due = crate::pickups::due(&raw, &rules, day);
    // Stops a horizon visits today before they are due (and are not due today anyway).
    let mut early = pulled.clone();
    early.retain(|s, _| !due.iter().any(|d| &d.stop == s));
    due.extend(super::horizon::pulled_due(&raw, &rules, day, &early));
    due.retain(|d| insts.contains_key(&d.stop));
    Ok(Facts {
        plant: (plant_lat, plant_lng),
        replaced,
        started,
        fleet,
        due,
        insts,
    })
}

/// The solver's answer over the facts it was given.
struct Solved {
    /// Routing stop index -> the due stop it stands for.
    stops: Vec<Due>,
    solution: Option<Solution>,
}

fn solve(
    facts: &Facts,
    travel: &yifei_routing::HaversineMatrix,
    origin: NaiveDateTime,
    solving: Solving,
    progress: &(dyn Fn(Phase) + Sync),
) -> Result<Solved, ApiError> {
    let specs: Vec<StopSpec> = facts
        .due
        .iter()
        .filter_map(|d| facts.spec(d, origin))
        .collect();
    let problem = problem_of(travel, facts.plant, &facts.fleet, &specs)?;
    let solution = if facts.fleet.is_empty() || specs.is_empty() {
        None
    } else {
        let s = super::solver_thread::run(|| {
            yifei_routing::solve_reporting(
                &problem,
                &SolverConfig {
                    time_limit: if solving.iterations.is_some() {
                        None
                    } else {
                        Some(solving.time_limit)
                    },
                    iterations: solving.iterations,
                    seed: 1,
                    threads: 1,
                },
                &|p| {
                    progress(Phase::Best {
                        km: p.distance_m / 1000.0,
                        unassigned: p.unassigned,
                        iterations: p.iterations,
                    })
                },
            )
        });
        if let Err(v) = yifei_routing::validate(&problem, &s) {
            return Err(ApiError::Internal(format!(
                "the solver returned an invalid plan: {v:?}"
            )));
        }
        Some(s)
    };
    Ok(Solved {
        stops: facts.due.clone(),
        solution,
    })
}

/// A run to write: its vehicle, its timed route, and the due stop of each visit.
struct RunOut {
    vehicle: VehicleRow,
    route: RoutePlan,
    stops: Vec<Due>,
}

/// What the re-check decided.
enum Verdict {
    /// Write these runs (the solver's, repaired if needed) and report these stops.
    Apply {
        runs: Vec<RunOut>,
        unassigned: Vec<UnassignedStop>,
        notes: Vec<String>,
    },
    /// Solve again from the fresh facts, for this reason.
    Resolve(String),
}

fn unassigned_reason(reason: &str, d: &Due, day: NaiveDate, schedule: &Schedule) -> String {
    match d.deadline {
        Some(t) => format!("{reason} (deadline {})", schedule.words(t, day)),
        None => reason.to_owned(),
    }
}

/// Compares the facts the solver saw with those read again in the write transaction.
fn recheck(
    old: &Facts,
    solved: &Solved,
    fresh: &Facts,
    origin: NaiveDateTime,
    day: NaiveDate,
    schedule: &Schedule,
) -> Result<Verdict, ApiError> {
    if old.fleet_key() != fresh.fleet_key() {
        return Ok(Verdict::Resolve(
            "the vehicles free for the day changed while the plan was solving (a run started \
             or a vehicle was changed)"
                .into(),
        ));
    }
    let name = |id: &str| {
        fresh
            .insts
            .get(id)
            .or_else(|| old.insts.get(id))
            .map_or_else(|| id.to_owned(), |i| i.name.clone())
    };
    let now_due: HashMap<&str, &Due> = fresh.due.iter().map(|d| (d.stop.as_str(), d)).collect();
    let was_due: HashSet<&str> = old.due.iter().map(|d| d.stop.as_str()).collect();
    let mut notes = Vec::new();
    let mut out = Vec::new();
    let mut unassigned = Vec::new();
    match &solved.solution {
        Some(s) => {
            for r in &s.routes {
                let mut kept: Vec<Due> = Vec::new();
                let mut changed = false;
                for v in &r.visits {
                    let d = &solved.stops[v.stop];
                    match now_due.get(d.stop.as_str()) {
                        None => {
                            changed = true;
                            notes.push(format!(
                                "{}: no longer due (its waste was collected or moved while \
                                 the plan was solving), left off the run",
                                name(&d.stop)
                            ));
                        }
                        Some(f) => {
                            if (f.expected_g, f.expected_containers, f.deadline)
                                != (d.expected_g, d.expected_containers, d.deadline)
                            {
                                changed = true;
                                notes.push(format!(
                                    "{}: waste sealed while the plan was solving, added to \
                                     its stop",
                                    name(&d.stop)
                                ));
                            }
                            kept.push((*f).clone());
                        }
                    }
                }
                let vehicle = fresh.fleet[r.vehicle].clone();
                if kept.is_empty() {
                    continue;
                }
                let route = if changed {
                    // The run as it now stands, timed by routing; new waste that breaks
                    // capacity or a deadline means solving again.
                    let specs: Vec<StopSpec> =
                        kept.iter().filter_map(|d| fresh.spec(d, origin)).collect();
                    let p = problem_of(
                        &schedule.travel,
                        fresh.plant,
                        std::slice::from_ref(&vehicle),
                        &specs,
                    )?;
                    let order: Vec<usize> = (0..specs.len()).collect();
                    match yifei_routing::schedule(&p, 0, &order) {
                        Some(route) => route,
                        None => {
                            return Ok(Verdict::Resolve(format!(
                                "waste sealed while the plan was solving no longer fits the \
                                 run of {}",
                                vehicle.plate
                            )));
                        }
                    }
                } else {
                    r.clone()
                };
                out.push(RunOut {
                    vehicle,
                    route,
                    stops: kept,
                });
            }
            for u in &s.unassigned {
                let d = &solved.stops[u.stop];
                if let Some(f) = now_due.get(d.stop.as_str()) {
                    unassigned.push(UnassignedStop {
                        institution_id: d.stop.clone(),
                        reason: unassigned_reason(&u.reason.to_string(), f, day, schedule),
                    });
                }
            }
        }
        None => {
            for d in &fresh.due {
                if was_due.contains(d.stop.as_str()) {
                    unassigned.push(UnassignedStop {
                        institution_id: d.stop.clone(),
                        reason: "no vehicle available".into(),
                    });
                }
            }
        }
    }
    for d in fresh
        .due
        .iter()
        .filter(|d| !was_due.contains(d.stop.as_str()))
    {
        notes.push(format!(
            "{}: became due while the plan was solving, not in this plan",
            name(&d.stop)
        ));
        unassigned.push(UnassignedStop {
            institution_id: d.stop.clone(),
            reason: unassigned_reason(
                "became due while the plan was solving: plan the day again to include it",
                d,
                day,
                schedule,
            ),
        });
    }
    Ok(Verdict::Apply {
        runs: out,
        unassigned,
        notes,
    })
}

/// The write phase's outcome: the plan, or fresh facts to solve again from.
enum Written {
    Plan(Plan),
    Again(Facts, String),
}

/// The horizon part of a plan: how many days, and what `horizon::solve` decided.
struct Horizon {
    days: i32,
    plan: HorizonPlan,
}

#[allow(clippy::too_many_arguments)]
fn write(
    conn: &mut DbConnection,
    caller: &Caller,
    org: &str,
    day: NaiveDate,
    vehicle_ids: Option<&[String]>,
    now: DateTime<Utc>,
    schedule: &Schedule,
    old: &Facts,
    solved: &Solved,
    mut notes: Vec<String>,
    horizon: &Horizon,
) -> Result<Written, ApiError> {
    let (origin, _) = day_bounds(day, schedule.tz);
    let day_s = day.to_string();
    write_tx(conn, |conn| {
        // Two dispatchers planning the company's day on two replicas (PostgreSQL): the second
        // write waits for the first to commit, then its re-check reads the first's runs, so
        // one plan replaces the other instead of both being written beside each other.
        crate::db::coordination::xact_lock(conn, &format!("yifei:plan:{org}:{day_s}"))?;
        let fresh = read_facts(conn, org, day, vehicle_ids, schedule, &horizon.plan.pulled)?;
        let (runs_out, unassigned) = match recheck(old, solved, &fresh, origin, day, schedule)? {
            Verdict::Resolve(why) => return Ok(Written::Again(fresh, why)),
            Verdict::Apply {
                runs,
                unassigned,
                notes: n,
            } => {
                notes.extend(n);
                (runs, unassigned)
            }
        };
        notes.extend(horizon.plan.notes.iter().cloned());
        notes.extend(tell_drivers(conn, &fresh, now)?);
        // Runs of the day that have not started are replaced; started ones stay.
        for id in &fresh.replaced {
            diesel::update(runs::table.find(id).filter(runs::status.eq("planned")))
                .set(runs::status.eq("cancelled"))
                .execute(conn)?;
        }
        let plan_id = new_id();
        diesel::insert_into(plans::table)
            .values((
                plans::id.eq(&plan_id),
                plans::org_id.eq(org),
                plans::day.eq(&day_s),
                plans::created_by.eq(&caller.user_id),
                plans::unassigned
                    .eq(serde_json::to_string(&unassigned).unwrap_or_else(|_| "[]".into())),
                plans::created_at.eq(now.naive_utc()),
                plans::horizon_days.eq(horizon.days),
                plans::notes.eq(serde_json::to_string(&notes).unwrap_or_else(|_| "[]".into())),
            ))
            .execute(conn)?;
        let at = |s: f64| origin + Duration::milliseconds((s * 1000.0).round() as i64);
        let mut run_ids = Vec::new();
        for RunOut {
            vehicle: v,
            route: r,
            stops,
        } in &runs_out
        {
            let run = RunRow {
                id: new_id(),
                plan_id: plan_id.clone(),
                org_id: org.to_owned(),
                vehicle_id: v.id.clone(),
                driver_id: v.driver_id.clone(),
                day: day_s.clone(),
                status: "planned".into(),
                start_time: at(r.start_time),
                end_time: at(r.end_time),
                distance_m: r.distance_m,
                duration_s: r.duration_s,
                load_g: (r.load_kg * 1000.0).round() as i32,
                created_at: now.naive_utc(),
                fetched_at: None,
            };
            diesel::insert_into(runs::table)
                .values(&run)
                .execute(conn)?;
            for (k, (visit, d)) in r.visits.iter().zip(stops).enumerate() {
                diesel::insert_into(run_stops::table)
                    .values(StopRow {
                        id: new_id(),
                        run_id: run.id.clone(),
                        seq: i32::try_from(k + 1).unwrap_or(i32::MAX),
                        institution_id: d.stop.clone(),
                        eta: at(visit.arrival),
                        deadline: d.deadline,
                        expected_g: i32::try_from(d.expected_g).unwrap_or(i32::MAX),
                        expected_containers: d.expected_containers,
                        reasons: serde_json::to_string(&d.reasons).unwrap_or_else(|_| "[]".into()),
                        status: "pending".into(),
                        skip_reason: None,
                        completed_at: None,
                        completed_by: None,
                    })
                    .execute(conn)?;
            }
            run_ids.push(run.id);
        }
        super::plans::write_provisional(conn, &plan_id, &horizon.plan.later)?;
        super::plans::supersede(conn, org, &plan_id, day)?;
        tracing::info!(day = %day_s, runs = run_ids.len(), unassigned = unassigned.len(),
            notes = notes.len(), horizon = horizon.days, "planned");
        super::plans::view(conn, &plan_id).map(Written::Plan)
    })
}

/// Re-planning never replaces a run behind its driver's back: a started run is kept (its
/// stops are not in the new plan), and a driver who already fetched a run that is replaced
/// gets an email through the outbox. The notes say both.
fn tell_drivers(
    conn: &mut DbConnection,
    fresh: &Facts,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ApiError> {
    let mut notes = Vec::new();
    for r in &fresh.started {
        let plate: String = vehicles::table
            .find(&r.vehicle_id)
            .select(vehicles::plate)
            .first(conn)?;
        let pending: i64 = run_stops::table
            .filter(run_stops::run_id.eq(&r.id))
            .filter(run_stops::status.eq("pending"))
            .count()
            .get_result(conn)?;
        notes.push(format!(
            "the run of {plate} has started: kept as it is; its {pending} remaining stop{} are \
             not in this plan",
            if pending == 1 { "" } else { "s" }
        ));
    }
    let fetched: Vec<(String, String, Option<String>, Option<String>)> = runs::table
        .inner_join(vehicles::table)
        .left_join(users::table.on(runs::driver_id.eq(users::id.nullable())))
        .filter(runs::id.eq_any(&fresh.replaced))
        .filter(runs::fetched_at.is_not_null())
        .order(runs::id.asc())
        .select((
            runs::id,
            vehicles::plate,
            runs::driver_id,
            users::email.nullable(),
        ))
        .load(conn)?;
    for (run_id, plate, driver, email) in fetched {
        let email = email.filter(|e| !e.trim().is_empty());
        match (&driver, &email) {
            (Some(_), Some(to)) => {
                crate::notify::enqueue(
                    conn,
                    to,
                    &format!("Yifei: your run of {plate} was re-planned"),
                    &format!(
                        "The run {run_id} of {plate} you downloaded was replaced by a new plan \
                         of the day. Fetch your runs again before you set out \
                         (GET /api/v1/me/runs); the old run is cancelled and collect scans \
                         naming it are refused."
                    ),
                    Some(&format!("run-replaced:{run_id}")),
                    now.naive_utc(),
                )?;
                notes.push(format!(
                    "the run of {plate} was already fetched by its driver: replaced, and the \
                     driver is told by email to fetch the new one"
                ));
            }
            _ => notes.push(format!(
                "the run of {plate} was already fetched by its driver: replaced; the driver has \
                 no email address, tell them to fetch the new run"
            )),
        }
    }
    Ok(notes)
}

/// Plans `day` for the dispatcher's company: the due stops become a routing problem, the
/// solver's routes become runs, and every due stop is on a run or reported unassigned.
/// Planning a day again replaces its runs that have not started. No connection is held
/// while the solver thinks (see the module's comment); `progress` hears each phase.
///
/// With `horizon_days` > 1 the days of the horizon are chosen first (`horizon::solve`): stops
/// it visits on the first day although due later join the day's due stops; later days are
/// stored as provisional routes and superseded by the next plan that covers them.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    db: &Db,
    caller: &Caller,
    day: NaiveDate,
    vehicle_ids: Option<Vec<String>>,
    horizon_days: i32,
    now: DateTime<Utc>,
    schedule: &Schedule,
    solving: Solving,
    progress: &(dyn Fn(Phase) + Sync),
) -> Result<Plan, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    if !(1..=super::horizon::MAX_DAYS).contains(&horizon_days) {
        return Err(ApiError::invalid(
            "horizon_days",
            format!("must be 1 to {}", super::horizon::MAX_DAYS),
        ));
    }
    let org = caller.tenant_id()?.to_owned();
    let ids = vehicle_ids.as_deref();
    let (origin, _) = day_bounds(day, schedule.tz);
    progress(Phase::Reading);
    let (mut facts, hf) = {
        let mut conn = db.conn()?;
        let facts = read_facts(&mut conn, &org, day, ids, schedule, &BTreeMap::new())?;
        let hf = if horizon_days > 1 {
            Some(super::horizon::read(
                &mut conn,
                &org,
                day,
                horizon_days,
                ids,
                schedule,
                now.naive_utc(),
            )?)
        } else {
            None
        };
        (facts, hf)
    };
    let mut horizon = Horizon {
        days: horizon_days,
        plan: HorizonPlan::default(),
    };
    if let Some(hf) = &hf {
        progress(Phase::Horizon {
            days: horizon_days,
            stops: hf.institutions(),
        });
        horizon.plan = super::horizon::solve(hf, facts.plant, &facts.fleet, &facts.due, solving)?;
        progress(Phase::HorizonSolved {
            km: horizon.plan.km,
            vehicle_days: horizon.plan.vehicle_days,
        });
        facts.due.extend(hf.pulled_due(&horizon.plan.pulled));
        facts.due.retain(|d| facts.insts.contains_key(&d.stop));
    }
    let mut notes = Vec::new();
    for attempt in 0..2 {
        progress(Phase::Solving {
            stops: facts.due.len(),
            vehicles: facts.fleet.len(),
        });
        let solved = solve(&facts, &schedule.travel, origin, solving, progress)?;
        progress(Phase::Solved {
            km: solved.solution.as_ref().map_or(0.0, |s| {
                s.routes.iter().map(|r| r.distance_m).sum::<f64>() / 1000.0
            }),
            unassigned: solved.solution.as_ref().map_or(0, |s| s.unassigned.len()),
        });
        progress(Phase::Writing);
        let mut conn = db.conn()?;
        let written = write(
            &mut conn,
            caller,
            &org,
            day,
            ids,
            now,
            schedule,
            &facts,
            &solved,
            notes.clone(),
            &horizon,
        )?;
        drop(conn);
        match written {
            Written::Plan(p) => return Ok(p),
            Written::Again(fresh, why) if attempt == 0 => {
                progress(Phase::Resolving(why.clone()));
                notes.push(format!("solved again: {why}"));
                facts = fresh;
            }
            Written::Again(_, why) => {
                return Err(ApiError::Conflict(format!(
                    "the day changed twice while it was being planned ({why}): plan it again"
                )));
            }
        }
    }
    Err(ApiError::Internal("planning did not finish".into()))
}

/// What urgent insertion reads, and reads again before it writes.
struct RunFacts {
    run: RunRow,
    inst: InstitutionRow,
    /// The run's stops in order, with their institutions.
    stops: Vec<(StopRow, InstitutionRow)>,
    vehicle: VehicleRow,
    plant: (f64, f64),
}

impl RunFacts {
    /// What a concurrent change would alter: the run's status and its stops' order and states.
    fn key(&self) -> (String, Vec<(String, i32, String)>) {
        (
            self.run.status.clone(),
            self.stops
                .iter()
                .map(|(s, _)| (s.id.clone(), s.seq, s.status.clone()))
                .collect(),
        )
    }
}

fn read_run(
    conn: &mut DbConnection,
    caller: &Caller,
    run_id: &str,
    institution_id: &str,
) -> Result<RunFacts, ApiError> {
    let run = super::store::visible(conn, caller, run_id)?;
    if run.status == "cancelled" || run.status == "done" {
        return Err(ApiError::Conflict(format!("the run is {}", run.status)));
    }
    let inst: InstitutionRow = crate::db::schema::institutions::table
        .find(institution_id)
        .select(InstitutionRow::as_select())
        .first(conn)
        .optional()?
        .filter(|i| i.status == "active")
        .ok_or_else(|| ApiError::invalid("institution_id", "no active institution with this id"))?;
    let stops: Vec<(StopRow, InstitutionRow)> = run_stops::table
        .inner_join(crate::db::schema::institutions::table)
        .filter(run_stops::run_id.eq(run_id))
        .order(run_stops::seq.asc())
        .select((StopRow::as_select(), InstitutionRow::as_select()))
        .load(conn)?;
    if stops
        .iter()
        .any(|(s, _)| s.institution_id == inst.id && s.status == "pending")
    {
        return Err(ApiError::Conflict(
            "the institution is already a pending stop of this run".into(),
        ));
    }
    let vehicle: VehicleRow = vehicles::table
        .find(&run.vehicle_id)
        .select(VehicleRow::as_select())
        .first(conn)?;
    let (_, plant_lat, plant_lng) = company_site(conn, &run.org_id)?;
    Ok(RunFacts {
        run,
        inst,
        stops,
        vehicle,
        plant: (plant_lat, plant_lng),
    })
}

/// The run's new order (indices into its kept stops; `None` = the urgent stop) and the ETA
/// of each, in seconds after local midnight, from `routing`.
fn place(
    f: &RunFacts,
    travel: &yifei_routing::HaversineMatrix,
) -> Result<Vec<(Option<usize>, f64)>, ApiError> {
    let kept: Vec<&(StopRow, InstitutionRow)> = f
        .stops
        .iter()
        .filter(|(s, _)| s.status != "skipped")
        .collect();
    let mut specs: Vec<StopSpec> = kept
        .iter()
        .map(|(s, i)| StopSpec {
            id: s.id.clone(),
            lat: i.lat,
            lng: i.lng,
            kg: f64::from(s.expected_g) / 1000.0,
            containers: s.expected_containers,
            // Done stops keep their place whatever their windows said.
            windows: if s.status == "pending" {
                windows(&i.hours())
            } else {
                Vec::new()
            },
            deadline: None,
        })
        .collect();
    specs.push(StopSpec {
        id: f.inst.id.clone(),
        lat: f.inst.lat,
        lng: f.inst.lng,
        kg: 0.5,
        containers: 1,
        windows: windows(&f.inst.hours()),
        deadline: None,
    });
    let new_index = kept.len();
    let problem = problem_of(travel, f.plant, std::slice::from_ref(&f.vehicle), &specs)?;
    let current: Vec<usize> = (0..kept.len()).collect();
    let no_position = || {
        ApiError::Conflict("no position in this run serves the institution within its opening hours, the vehicle's capacity and shift".into())
    };
    let route = yifei_routing::schedule(&problem, 0, &current).ok_or_else(no_position)?;
    let done = kept
        .iter()
        .take_while(|(s, _)| s.status == "completed")
        .count();
    let ins =
        yifei_routing::insert_stop(&problem, &route, done, new_index).ok_or_else(no_position)?;
    let mut order = current;
    order.insert(ins.position, new_index);
    let timed = yifei_routing::schedule(&problem, 0, &order).ok_or_else(no_position)?;
    Ok(timed
        .visits
        .iter()
        .map(|v| ((v.stop != new_index).then_some(v.stop), v.arrival))
        .collect())
}

/// Adds an urgent institution to a run under way at the cheapest feasible position after the
/// stops already done (routing's `insert_stop`, ETAs from routing's `schedule`); 409 when no
/// position keeps the run feasible. Computed with no write lock held; the write re-checks
/// that the run did not change meanwhile (a stop completed or skipped) and computes once
/// more if it did.
pub fn insert(
    db: &Db,
    caller: &Caller,
    run_id: &str,
    institution_id: &str,
    tz: chrono::FixedOffset,
    travel: &yifei_routing::HaversineMatrix,
) -> Result<yifei_contract::Run, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    for attempt in 0..2 {
        let facts = {
            let mut conn = db.conn()?;
            read_run(&mut conn, caller, run_id, institution_id)?
        };
        let order = place(&facts, travel)?;
        let mut conn = db.conn()?;
        let done = write_tx(&mut conn, |conn| {
            let fresh = read_run(conn, caller, run_id, institution_id)?;
            if fresh.key() != facts.key() {
                return Ok(None);
            }
            let day = NaiveDate::parse_from_str(&fresh.run.day, "%Y-%m-%d")
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let (origin, _) = day_bounds(day, tz);
            let at = |s: f64| origin + Duration::milliseconds((s * 1000.0).round() as i64);
            let kept: Vec<&StopRow> = fresh
                .stops
                .iter()
                .filter(|(s, _)| s.status != "skipped")
                .map(|(s, _)| s)
                .collect();
            // Renumber: move every stop out of the way first (seq is unique per run).
            diesel::update(run_stops::table.filter(run_stops::run_id.eq(run_id)))
                .set(run_stops::seq.eq(run_stops::seq + 100_000))
                .execute(conn)?;
            let mut seq = 0;
            for &(k, eta) in &order {
                seq += 1;
                match k {
                    None => {
                        diesel::insert_into(run_stops::table)
                            .values(StopRow {
                                id: new_id(),
                                run_id: run_id.to_owned(),
                                seq,
                                institution_id: fresh.inst.id.clone(),
                                eta: at(eta),
                                deadline: None,
                                expected_g: 500,
                                expected_containers: 1,
                                reasons: r#"["urgent"]"#.into(),
                                status: "pending".into(),
                                skip_reason: None,
                                completed_at: None,
                                completed_by: None,
                            })
                            .execute(conn)?;
                    }
                    Some(k) => {
                        let s = kept[k];
                        let eta = if s.status == "pending" {
                            at(eta)
                        } else {
                            s.eta
                        };
                        diesel::update(run_stops::table.find(&s.id))
                            .set((run_stops::seq.eq(seq), run_stops::eta.eq(eta)))
                            .execute(conn)?;
                    }
                }
            }
            for (s, _) in fresh.stops.iter().filter(|(s, _)| s.status == "skipped") {
                seq += 1;
                diesel::update(run_stops::table.find(&s.id))
                    .set(run_stops::seq.eq(seq))
                    .execute(conn)?;
            }
            super::store::refresh_status(conn, run_id)?;
            detail_of(conn, run_id).map(Some)
        })?;
        match done {
            Some(run) => return Ok(run),
            None if attempt == 0 => continue,
            None => break,
        }
    }
    Err(ApiError::Conflict(
        "the run changed twice while the stop was being placed: try again".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, lat: f64, lng: f64) -> InstitutionRow {
        let t = NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        InstitutionRow {
            id: id.into(),
            name: format!("clinic {id}"),
            kind: "village_clinic".into(),
            licence_no: String::new(),
            township: "t".into(),
            village: String::new(),
            address: String::new(),
            lat,
            lng,
            h3_cell: 0,
            beds: 0,
            contact_name: String::new(),
            contact_phone: String::new(),
            contact_email: None,
            status: "active".into(),
            status_reason: None,
            service_mode: "direct".into(),
            hub_id: None,
            collection_interval_h: 0,
            opening_hours: r#"[{"from":"08:00","to":"17:30"}]"#.into(),
            created_at: t,
            updated_at: t,
        }
    }

    fn due(id: &str, g: i64) -> Due {
        Due {
            stop: id.into(),
            deadline: None,
            reasons: vec!["storage_limit".into()],
            expected_g: g,
            expected_containers: 1,
            serves: vec![id.into()],
            earliest: None,
            next_chance: None,
            late_by_min: None,
            explanation: String::new(),
        }
    }

    fn facts(due_stops: Vec<Due>, capacity_kg: i32) -> Facts {
        let t = NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        Facts {
            plant: (36.30, 117.40),
            replaced: Vec::new(),
            started: Vec::new(),
            fleet: vec![VehicleRow {
                id: "v1".into(),
                org_id: "o".into(),
                plate: "P1".into(),
                capacity_kg,
                capacity_units: 60,
                refrigerated: true,
                shift_start: "07:30".into(),
                shift_end: "17:30".into(),
                driver_id: None,
                active: true,
                created_at: t,
                updated_at: t,
            }],
            due: due_stops,
            insts: [
                inst("a", 36.32, 117.42),
                inst("b", 36.35, 117.45),
                inst("c", 36.28, 117.36),
            ]
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect(),
        }
    }

    fn schedule() -> Schedule {
        Schedule {
            tz: chrono::FixedOffset::east_opt(8 * 3600).expect("tz"),
            work_days: Default::default(),
            holidays: Default::default(),
            ..Schedule::default()
        }
    }

    fn check(old: &Facts, fresh: &Facts) -> Verdict {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).expect("day");
        let (origin, _) = day_bounds(day, schedule().tz);
        let solved = solve(
            old,
            &schedule().travel,
            origin,
            Solving {
                time_limit: std::time::Duration::from_secs(1),
                iterations: Some(100),
            },
            &|_| {},
        )
        .expect("solve");
        recheck(old, &solved, fresh, origin, day, &schedule()).expect("recheck")
    }

    /// Nothing changed: the solver's routes are written as they are, with no notes.
    #[test]
    fn unchanged_facts_apply_the_solution() {
        let old = facts(vec![due("a", 2000), due("b", 1000)], 800);
        let Verdict::Apply {
            runs,
            unassigned,
            notes,
        } = check(&old, &old.clone())
        else {
            panic!("resolved");
        };
        assert_eq!((runs.len(), runs[0].stops.len()), (1, 2));
        assert!(unassigned.is_empty() && notes.is_empty());
    }

    /// A stop collected meanwhile is dropped (the run re-timed, shorter), waste sealed at a
    /// planned stop is added, and a stop that became due is reported, not planned.
    #[test]
    fn collected_sealed_and_new_due_stops_are_repaired() {
        let old = facts(vec![due("a", 2000), due("b", 1000)], 800);
        let fresh = facts(vec![due("b", 3000), due("c", 500)], 800);
        let solved_km = match check(&old, &old.clone()) {
            Verdict::Apply { runs, .. } => runs[0].route.distance_m,
            Verdict::Resolve(_) => panic!("resolved"),
        };
        let Verdict::Apply {
            runs,
            unassigned,
            notes,
        } = check(&old, &fresh)
        else {
            panic!("resolved");
        };
        assert_eq!(runs.len(), 1);
        let stops: Vec<&str> = runs[0].stops.iter().map(|d| d.stop.as_str()).collect();
        assert_eq!(stops, ["b"]);
        assert_eq!(runs[0].stops[0].expected_g, 3000);
        assert_eq!(runs[0].route.visits.len(), 1);
        assert!(runs[0].route.distance_m < solved_km);
        assert!((runs[0].route.load_kg - 3.0).abs() < 1e-9);
        assert_eq!(unassigned.len(), 1);
        assert_eq!(unassigned[0].institution_id, "c");
        assert!(
            unassigned[0]
                .reason
                .contains("became due while the plan was solving")
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    /// New waste that no longer fits the vehicle, or a changed fleet, means solving again.
    #[test]
    fn what_a_repair_cannot_fix_is_solved_again() {
        let old = facts(vec![due("a", 200_000), due("b", 100_000)], 400);
        let heavier = facts(vec![due("a", 300_000), due("b", 200_000)], 400);
        assert!(
            matches!(check(&old, &heavier), Verdict::Resolve(r) if r.contains("no longer fits"))
        );
        let mut other_fleet = old.clone();
        other_fleet.fleet[0].capacity_kg = 900;
        assert!(matches!(check(&old, &other_fleet), Verdict::Resolve(r) if r.contains("vehicles")));
    }
}
