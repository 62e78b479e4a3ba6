//! A week of simulated sealing, planned two ways with the same rules and solver: each
//! morning the day alone with the due rule (`POST /plans`), or each morning a 7-day horizon
//! whose first day is driven (`POST /plans` with `horizon_days: 7`). Prints km, vehicle-days
//! and storage-limit breaches for the demo county and for generated counties.
//!
//! `cargo bench -p yifei-api --bench horizon` (`HORIZON_SIZES=200,1000`, `HORIZON_ITERS=1500`
//! solver iterations per day, `HORIZON_SEED=7`). No database: the due rule, the horizon and
//! the solver are the API's own functions over simulated facts.
//!
//! The simulation: every institution seals containers at random times of its opening hours
//! (fixed seed) at its `waste_kg_per_day` (demo county) or at 0.4 kg/day for a village room
//! and 3 kg/day for a township centre (generated); each morning at 06:00 the plan sees the
//! waste sealed so far; a served stop hands over everything sealed before the vehicle's
//! service there. A breach is a container collected (or still waiting at the end of the
//! week's last day) after its 48 h limit; waste already past saving on the first morning
//! (its limit before any run of day 1 can reach it) is counted apart. Every day works; one
//! vehicle per 40 institutions. Each county runs twice: with the institutions' last visits
//! staggered over the two days before the week (seeded), and with all last visited three days
//! before (every interval lapsing together on the first morning).

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use yifei_api::institutions::store::InstitutionRow;
use yifei_api::pickups::{self, Facts, Reach, Rules, Schedule, WorkDays};
use yifei_api::runs::fleet::VehicleRow;
use yifei_api::runs::horizon::{self, HorizonFacts};
use yifei_api::runs::planning::{StopSpec, problem_of};
use yifei_api::runs::store::Solving;
use yifei_api::runs::{DEFAULT_TRAVEL, service_seconds, travel_seconds, windows};
use yifei_routing::{LatLng, SolverConfig};

const DAYS: i64 = 7;

struct Inst {
    row: InstitutionRow,
    kg_per_day: f64,
}

struct County {
    name: String,
    plant: (f64, f64),
    insts: Vec<Inst>,
    fleet: Vec<VehicleRow>,
}

/// A small deterministic generator (xorshift*), so the bench needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn t(d: NaiveDate, h: f64) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::milliseconds((h * 3.6e6) as i64)
}

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
}

fn row(id: String, kind: &str, lat: f64, lng: f64, hours: &str) -> InstitutionRow {
    let created = t(start() - Duration::days(30), 0.0);
    InstitutionRow {
        id: id.clone(),
        name: id,
        kind: kind.into(),
        licence_no: String::new(),
        township: String::new(),
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
        collection_interval_h: 48,
        opening_hours: hours.into(),
        created_at: created,
        updated_at: created,
    }
}

fn vehicle(k: usize, kg: i32, units: i32, from: &str, to: &str) -> VehicleRow {
    let t0 = t(start(), 0.0);
    VehicleRow {
        id: format!("v{k:03}"),
        org_id: "o".into(),
        plate: format!("P{k:03}"),
        capacity_kg: kg,
        capacity_units: units,
        refrigerated: true,
        shift_start: from.into(),
        shift_end: to.into(),
        driver_id: None,
        active: true,
        created_at: t0,
        updated_at: t0,
    }
}

fn demo() -> County {
    let c = yifei_seed::demo_county().unwrap_or_else(|e| panic!("demo county: {e}"));
    let insts = c
        .institutions
        .iter()
        .filter(|i| i.status == "active")
        .map(|i| {
            let hours = serde_json::to_string(&i.opening_hours).unwrap_or_else(|_| "[]".into());
            let mut r = row(i.id.clone(), &i.kind, i.lat, i.lng, &hours);
            // Door collection for all: the hub's nesting is the API's, not this bench's.
            r.collection_interval_h = i.collection_interval_h;
            Inst {
                row: r,
                kg_per_day: i.waste_kg_per_day,
            }
        })
        .collect();
    let fleet = c
        .vehicles
        .iter()
        .enumerate()
        .map(|(k, v)| {
            vehicle(
                k,
                v.capacity_kg,
                v.capacity_units,
                &v.shift_start,
                &v.shift_end,
            )
        })
        .collect();
    County {
        name: format!("demo county ({} institutions)", c.institutions.len()),
        plant: (c.plant.lat, c.plant.lng),
        insts,
        fleet,
    }
}

fn generated(n: usize, seed: u64) -> County {
    let day = yifei_routing::generator::rural_day(
        &yifei_routing::generator::DayConfig::with_stops(n, seed),
    );
    let hours = r#"[{"from":"08:00","to":"12:00"},{"from":"14:00","to":"17:30"}]"#;
    let insts = day
        .stops
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let centre = k % 8 == 0;
            Inst {
                row: row(
                    format!("i{k:04}"),
                    if centre {
                        "township_health_centre"
                    } else {
                        "village_health_room"
                    },
                    s.at.lat,
                    s.at.lng,
                    hours,
                ),
                kg_per_day: if centre { 3.0 } else { 0.4 },
            }
        })
        .collect();
    County {
        name: format!("generated county ({n} institutions, seed {seed})"),
        plant: (day.plant.lat, day.plant.lng),
        insts,
        fleet: (0..n.div_ceil(40))
            .map(|k| vehicle(k, 800, 60, "07:30", "17:30"))
            .collect(),
    }
}

/// A sealed container: when, how heavy; collected when.
#[derive(Clone)]
struct Box_ {
    inst: usize,
    sealed: NaiveDateTime,
    g: i64,
    collected: Option<NaiveDateTime>,
}

/// The week's seals, fixed by the seed: containers of ~2 kg at the institution's rate.
fn seals(c: &County, seed: u64) -> Vec<Box_> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::new();
    // Two days before the week too, so the first morning has waste with running clocks.
    for d in -2..DAYS {
        let day = start() + Duration::days(d);
        for (i, inst) in c.insts.iter().enumerate() {
            let containers = inst.kg_per_day / 2.0;
            let mut n = containers.floor() as usize;
            if rng.next() < containers.fract() {
                n += 1;
            }
            for _ in 0..n {
                out.push(Box_ {
                    inst: i,
                    sealed: t(day, 8.0 + 9.0 * rng.next()) - Duration::hours(8),
                    g: 1500 + (rng.next() * 1000.0) as i64,
                    collected: None,
                });
            }
        }
    }
    out.sort_by_key(|b| b.sealed);
    out
}

struct Outcome {
    km: f64,
    vehicle_days: usize,
    /// Containers collected after (or still waiting past) their 48 h limit, except those
    /// already lost at the first morning.
    breaches: usize,
    /// Containers whose limit passed before any run of the first day could reach them.
    inherited: usize,
    unassigned: usize,
}

fn schedule() -> Schedule {
    Schedule {
        tz: chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!()),
        work_days: WorkDays::default(),
        holidays: Default::default(),
        ..Schedule::default()
    }
}

/// Runs the week with `horizon_days` (1: the day alone). `staggered`: each institution was
/// last collected one or two days before the week (fixed by the seed), as in a county whose
/// rooms are visited every other day; otherwise all three days before, so that every
/// interval has lapsed together on the first morning.
fn week(c: &County, seed: u64, horizon_days: i32, iters: u64, staggered: bool) -> Outcome {
    let sched = schedule();
    let shifts: Vec<(f64, f64)> = c
        .fleet
        .iter()
        .filter_map(|v| {
            Some((
                yifei_api::runs::seconds(&v.shift_start)?,
                yifei_api::runs::seconds(&v.shift_end)?,
            ))
        })
        .collect();
    let rules = Rules::new(sched.clone(), shifts, false);
    let plant = LatLng::new(c.plant.0, c.plant.1).unwrap_or_else(|e| panic!("{e}"));
    let reach: Vec<Reach> = c
        .insts
        .iter()
        .map(|i| Reach {
            travel_s: LatLng::new(i.row.lat, i.row.lng)
                .ok()
                .and_then(|p| travel_seconds(&DEFAULT_TRAVEL, plant, p))
                .unwrap_or(0.0),
            windows: windows(&i.row.hours()),
            service_s: service_seconds(1),
        })
        .collect();
    let by_id: HashMap<String, usize> = c
        .insts
        .iter()
        .enumerate()
        .map(|(k, i)| (i.row.id.clone(), k))
        .collect();
    let insts: HashMap<String, InstitutionRow> = c
        .insts
        .iter()
        .map(|i| (i.row.id.clone(), i.row.clone()))
        .collect();
    let rates: HashMap<String, (f64, f64)> = c
        .insts
        .iter()
        .map(|i| {
            (
                i.row.id.clone(),
                (i.kg_per_day * 1000.0, i.kg_per_day / 2.0),
            )
        })
        .collect();
    let mut boxes = seals(c, seed);
    let mut phase = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    let last_visit = |phase: &mut Rng| {
        let days_before = if !staggered {
            3
        } else if phase.next() < 0.5 {
            1
        } else {
            2
        };
        t(start() - Duration::days(days_before), 10.0) - Duration::hours(8)
    };
    let mut last: Vec<NaiveDateTime> = (0..c.insts.len()).map(|_| last_visit(&mut phase)).collect();
    // What was sealed before that visit went with it.
    for b in &mut boxes {
        if b.sealed <= last[b.inst] {
            b.collected = Some(last[b.inst]);
        }
    }
    // Waste whose limit passes before any run of the first day can reach it was lost before
    // the week began: no plan of the week can save it, so it is counted apart.
    let first_morning = sched.origin(start()) + Duration::hours(6);
    let inherited: Vec<bool> = boxes
        .iter()
        .map(|b| {
            b.collected.is_none()
                && b.sealed <= first_morning
                && rules
                    .chance_on(&reach[b.inst], start())
                    .is_none_or(|at| b.sealed + Duration::hours(48) < at)
        })
        .collect();
    let mut out = Outcome {
        km: 0.0,
        vehicle_days: 0,
        breaches: 0,
        inherited: inherited.iter().filter(|&&x| x).count(),
        unassigned: 0,
    };
    let solving = Solving {
        time_limit: std::time::Duration::from_secs(3600),
        iterations: Some(iters),
    };
    for d in 0..DAYS {
        let day = start() + Duration::days(d);
        let origin = sched.origin(day);
        let morning = origin + Duration::hours(6);
        let facts: Vec<Facts> = c
            .insts
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let waiting: Vec<&Box_> = boxes
                    .iter()
                    .filter(|b| b.inst == k && b.collected.is_none() && b.sealed <= morning)
                    .collect();
                Facts {
                    id: i.row.id.clone(),
                    active: true,
                    hub_id: None,
                    interval_h: i.row.collection_interval_h,
                    last_collected: last[k],
                    oldest_seal: waiting.iter().map(|b| b.sealed).min(),
                    waiting_g: waiting.iter().map(|b| b.g).sum(),
                    waiting_containers: waiting.len() as i32,
                    delivered_g: 0,
                    delivered_containers: 0,
                    requested_g: 0,
                    requested_containers: 0,
                    has_request: false,
                    planned: false,
                    skipped: false,
                    reach: reach[k].clone(),
                }
            })
            .collect();
        let mut due = pickups::due(&facts, &rules, day);
        if horizon_days > 1 {
            let hf = HorizonFacts::new(
                (0..i64::from(horizon_days))
                    .map(|k| day + Duration::days(k))
                    .collect(),
                facts.clone(),
                rules.clone(),
                insts.clone(),
                rates.clone(),
                c.fleet.clone(),
            );
            let hp = horizon::solve(&hf, c.plant, &c.fleet, &due, solving)
                .unwrap_or_else(|e| panic!("horizon: {e}"));
            let pulled: BTreeMap<String, NaiveDate> = hp.pulled;
            due.extend(hf.pulled_due(&pulled));
        }
        // The day's VRPTW, as `POST /plans` builds it.
        let specs: Vec<StopSpec> = due
            .iter()
            .map(|d| {
                let i = &insts[&d.stop];
                StopSpec {
                    id: d.stop.clone(),
                    lat: i.lat,
                    lng: i.lng,
                    kg: d.expected_g as f64 / 1000.0,
                    containers: d.expected_containers,
                    windows: windows(&i.hours()),
                    deadline: d
                        .deadline
                        .filter(|_| !d.overdue())
                        .map(|t| ((t - origin).num_milliseconds() as f64 / 1000.0).max(0.0)),
                }
            })
            .collect();
        let problem = problem_of(&DEFAULT_TRAVEL, c.plant, &c.fleet, &specs)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = yifei_routing::solve(
            &problem,
            &SolverConfig {
                time_limit: None,
                iterations: Some(iters),
                seed: 1,
                threads: 1,
            },
        );
        out.km += s.distance() / 1000.0;
        out.vehicle_days += s.routes.len();
        out.unassigned += s.unassigned.len();
        for r in &s.routes {
            for v in &r.visits {
                let k = by_id[&specs[v.stop].id];
                let at = origin + Duration::milliseconds((v.service_start * 1000.0) as i64);
                last[k] = at;
                for b in boxes
                    .iter_mut()
                    .filter(|b| b.inst == k && b.collected.is_none() && b.sealed <= at)
                {
                    b.collected = Some(at);
                }
            }
        }
    }
    let end = sched.origin(start() + Duration::days(DAYS));
    for (b, _) in boxes.iter().zip(&inherited).filter(|(_, i)| !**i) {
        let limit = b.sealed + Duration::hours(48);
        match b.collected {
            Some(at) if at > limit => out.breaches += 1,
            None if end > limit => out.breaches += 1,
            _ => {}
        }
    }
    out
}

fn main() {
    let sizes: Vec<usize> = std::env::var("HORIZON_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![200, 1000]);
    let iters: u64 = std::env::var("HORIZON_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("HORIZON_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut counties = vec![demo()];
    counties.extend(sizes.iter().map(|&n| generated(n, seed)));
    println!(
        "| county | start | day by day: km | vehicle-days | breaches | 7-day horizon: km | vehicle-days | breaches | km saved | lost before the week | time (day / horizon) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for c in &counties {
        for staggered in [true, false] {
            let t0 = std::time::Instant::now();
            let a = week(c, seed, 1, iters, staggered);
            let ta = t0.elapsed();
            let t1 = std::time::Instant::now();
            let b = week(c, seed, 7, iters, staggered);
            let tb = t1.elapsed();
            println!(
                "| {} | {} | {:.1} | {} | {} | {:.1} | {} | {} | {:.1} % | {} | {:.0} s / {:.0} s |",
                c.name,
                if staggered { "staggered" } else { "together" },
                a.km,
                a.vehicle_days,
                a.breaches,
                b.km,
                b.vehicle_days,
                b.breaches,
                100.0 * (a.km - b.km) / a.km.max(1e-9),
                a.inherited,
                ta.as_secs_f64(),
                tb.as_secs_f64()
            );
            if a.unassigned + b.unassigned > 0 {
                println!(
                    "|  (unassigned stop-days: day by day {}, horizon {}) |||||||||||",
                    a.unassigned, b.unassigned
                );
            }
        }
    }
}
