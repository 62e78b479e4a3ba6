//! `seed-gen`: writes the demo county's data files.
//!
//! ```text
//! cargo run -p yifei-seed --bin seed-gen -- --out seed/data [--seed N] [--check]
//! ```
//! `--check` compares instead of writing and exits 1 when a file differs, so a script can tell
//! whether the checked-in files are what the generator makes. A seed other than the default
//! makes another county; the crate's tests expect the files of the default seed.

use std::path::PathBuf;
use std::process::ExitCode;

use yifei_seed::{DEMO_SEED, generate};

const USAGE: &str = "usage: seed-gen --out DIR [--seed N] [--check]";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("seed-gen: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut out: Option<PathBuf> = None;
    let mut seed = DEMO_SEED;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = Some(args.next().ok_or(USAGE)?.into()),
            "--seed" => {
                let value = args.next().ok_or(USAGE)?;
                seed = value
                    .parse()
                    .map_err(|_| format!("--seed {value}: not a number"))?;
            }
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let out = out.ok_or(USAGE)?;
    let county = generate::build(seed).map_err(|e| e.to_string())?;
    county.validate().map_err(|e| e.to_string())?;
    let files = county.to_files().map_err(|e| e.to_string())?;
    let mut differ = false;
    for (name, text) in &files {
        let path = out.join(name);
        if check {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != *text {
                println!("differs: {}", path.display());
                differ = true;
            }
        } else {
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {} ({} bytes)", path.display(), text.len());
        }
    }
    let count = |kind: &str| {
        county
            .institutions
            .iter()
            .filter(|i| i.kind == kind)
            .count()
    };
    println!(
        "{} ({}), seed {seed}: {} townships, {} villages, {} health centres, {} village rooms, {} clinics, {} other, {} vehicles, {} users",
        county.name,
        county.name_en,
        county.townships.len(),
        county
            .townships
            .iter()
            .map(|t| t.villages.len())
            .sum::<usize>(),
        count("township_health_centre"),
        count("village_health_room"),
        count("clinic"),
        count("other"),
        county.vehicles.len(),
        county.users.len(),
    );
    Ok(if differ {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
