//! `vrp-bench [--time-limit-ms N] [--iterations N] [--seed S] [--threads T]
//!  [--fixed-vehicle-cost C] FILE`
//!
//! Solves a Solomon/Homberger `.txt` or CVRPLIB `.vrp` instance and prints one JSON object
//! `{routes, vehicles, distance, wall_ms, unassigned, iterations}` with the file's customer ids,
//! so an independent checker can verify it.
//!
//! `vrp-bench --generate N [--seed S] [--single-window] [--dump FILE.json] ...` solves a generated rural day of
//! N stops instead (see `yifei_routing::generator`), optionally writing the day as JSON so
//! other solvers can be run on exactly the same data.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use yifei_routing::{SolverConfig, generator, instances, solve, validate};

struct Args {
    file: Option<PathBuf>,
    generate: Option<usize>,
    dump: Option<PathBuf>,
    single_window: bool,
    config: SolverConfig,
    fixed: f64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        file: None,
        generate: None,
        dump: None,
        single_window: false,
        config: SolverConfig {
            time_limit: None,
            iterations: None,
            seed: 1,
            threads: 2,
        },
        fixed: 0.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let bad = |name: &str| format!("bad value for {name}");
        match flag.as_str() {
            "--time-limit-ms" => {
                let ms: u64 = val(&flag)?.parse().map_err(|_| bad(&flag))?;
                a.config.time_limit = Some(Duration::from_millis(ms));
            }
            "--iterations" => {
                a.config.iterations = Some(val(&flag)?.parse().map_err(|_| bad(&flag))?)
            }
            "--seed" => a.config.seed = val(&flag)?.parse().map_err(|_| bad(&flag))?,
            "--threads" => a.config.threads = val(&flag)?.parse().map_err(|_| bad(&flag))?,
            "--fixed-vehicle-cost" => a.fixed = val(&flag)?.parse().map_err(|_| bad(&flag))?,
            "--generate" => a.generate = Some(val(&flag)?.parse().map_err(|_| bad(&flag))?),
            "--dump" => a.dump = Some(PathBuf::from(val(&flag)?)),
            "--single-window" => a.single_window = true,
            "-h" | "--help" => return Err(String::new()),
            f if f.starts_with('-') => return Err(format!("unknown flag {f}")),
            f => a.file = Some(PathBuf::from(f)),
        }
    }
    if a.file.is_none() && a.generate.is_none() {
        return Err("missing FILE".into());
    }
    if a.config.time_limit.is_none() && a.config.iterations.is_none() {
        a.config.time_limit = Some(Duration::from_secs(10));
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: vrp-bench [--time-limit-ms N] [--iterations N] [--seed S] [--threads T] \
                 [--fixed-vehicle-cost C] (FILE | --generate N [--single-window] [--dump DAY.json])"
            );
            return ExitCode::from(2);
        }
    };
    let (problem, ids) = if let Some(n) = args.generate {
        let day = generator::rural_day(&generator::DayConfig {
            lunch_break: !args.single_window,
            ..generator::DayConfig::with_stops(n, args.config.seed)
        });
        if let Some(path) = &args.dump {
            let json = match serde_json::to_string(&day) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("cannot serialise day: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = std::fs::write(path, json) {
                eprintln!("cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        match day.problem() {
            Ok(p) => {
                let ids = (1..=p.stops().len() as u64).collect::<Vec<_>>();
                (p, ids)
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let Some(file) = &args.file else {
            return ExitCode::from(2);
        };
        match instances::read(file, args.fixed) {
            Ok(i) => (i.problem, i.ids),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    };
    let t = Instant::now();
    let sol = solve(&problem, &args.config);
    let wall_ms = t.elapsed().as_millis();
    let valid = validate(&problem, &sol);
    let routes: Vec<Vec<u64>> = sol
        .routes
        .iter()
        .map(|r| r.visits.iter().map(|v| ids[v.stop]).collect())
        .collect();
    let unassigned: Vec<serde_json::Value> = sol
        .unassigned
        .iter()
        .map(|u| serde_json::json!({"id": ids[u.stop], "reason": u.reason}))
        .collect();
    let out = serde_json::json!({
        "routes": routes,
        "route_vehicles": sol.routes.iter().map(|r| r.vehicle).collect::<Vec<_>>(),
        "vehicles": routes.len(),
        "distance": sol.distance(),
        "cost": sol.cost,
        "wall_ms": wall_ms,
        "iterations": sol.iterations,
        "unassigned": unassigned,
        "valid": valid.is_ok(),
    });
    println!("{out}");
    if let Err(v) = valid {
        for x in v.iter().take(10) {
            eprintln!("violation: {x}");
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
