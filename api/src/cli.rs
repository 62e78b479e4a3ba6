//! The `yifei` command line: serve, migrate, demo, and operator commands.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use yifei_contract::Role;

use crate::accounts::{self, NewAccount, NewOrg};
use crate::config::{Config, redact_url};
use crate::db::Db;
use crate::error::ApiError;
use crate::runs::planning::Phase;
use crate::startup::Application;

/// Yifei (医废): medical-waste custody from rural clinics to licensed disposal.
///
/// Configuration comes from the environment (YIFEI_DATABASE_URL, YIFEI_BIND,
/// YIFEI_JWT_SECRET, YIFEI_LOG, ...; see the README).
#[derive(Debug, Parser)]
#[command(name = "yifei", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply database migrations, then serve the HTTP API on YIFEI_BIND.
    Serve {
        /// On an empty database, first load the demo county and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo county into an empty database and print its logins.
    Demo,
    /// Manage organisations (disposal company, health bureau).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Plan a day's collection runs for a disposal company and print a summary.
    Plan {
        /// Local calendar day, YYYY-MM-DD (default: tomorrow).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// The disposal company (default: the only one).
        #[arg(long)]
        org: Option<String>,
        /// Days to plan ahead, 1-7 (like `horizon_days` of `POST /plans`): the first day
        /// becomes runs, later days are provisional and re-planned every morning.
        #[arg(long, default_value_t = 1)]
        horizon: i32,
    },
    /// The bureau's roster of licensed institutions.
    Roster {
        #[command(subcommand)]
        command: RosterCommand,
    },
    /// Print the OpenAPI document of this build.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum RosterCommand {
    /// Import a CSV (or JSON, by its .json extension) list of licensed institutions, county
    /// wide; idempotent. Prints what was added, changed and could not be read.
    Import {
        /// The file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organisation; prints its id as the last word.
    Create {
        /// `disposal_company` or `health_bureau`.
        #[arg(long)]
        kind: String,
        /// Registered name.
        #[arg(long)]
        name: String,
        /// Latitude of the site (a company's plant: runs start and end there).
        #[arg(long, allow_negative_numbers = true, requires = "lng")]
        lat: Option<f64>,
        /// Longitude of the site.
        #[arg(long, allow_negative_numbers = true, requires = "lat")]
        lng: Option<f64>,
        /// A bureau's townships, comma-separated; omitted means the whole county.
        #[arg(long, value_delimiter = ',')]
        townships: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a staff account; the password is read from standard input.
    Create {
        /// Login name (case-insensitive).
        #[arg(long)]
        login: String,
        /// admin, bureau_staff, dispatcher, driver, plant_operator, clinic_staff or hub_keeper.
        #[arg(long)]
        role: String,
        /// Organisation id (bureau staff, dispatcher, driver, plant operator).
        #[arg(long)]
        org: Option<String>,
        /// Institution id (clinic staff, hub keeper).
        #[arg(long)]
        institution: Option<String>,
        /// Email address for notifications.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Deactivate an account: it cannot sign in, and its sessions end (running servers notice
    /// within YIFEI_SESSION_CHECK_MS). The last active admin cannot be deactivated.
    Deactivate {
        /// Login name.
        #[arg(long)]
        login: String,
    },
    /// Reactivate a deactivated account; the user signs in again.
    Reactivate {
        /// Login name.
        #[arg(long)]
        login: String,
    },
    /// Set an account's password, read from standard input; its sessions end.
    Password {
        /// Login name.
        #[arg(long)]
        login: String,
        /// Read the new password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

fn password_from_stdin() -> Result<String, ApiError> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| ApiError::Config(format!("cannot read the password from stdin: {e}")))?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every setting is checked before anything starts: a bad value names its variable and
    // what it accepts, and the process stops.
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.log);
    match run(cli, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                ApiError::Validation(errors) => {
                    for f in errors {
                        eprintln!("error: {}: {}", f.field, f.message);
                    }
                }
                other => eprintln!("error: {other}"),
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, config: Config) -> Result<(), ApiError> {
    let now = chrono::Utc::now();
    match cli.command {
        Command::Serve { demo } => {
            if demo {
                load_demo(&config)?;
            }
            serve(config)
        }
        Command::Migrate => {
            let db = Db::open(&config.database_url)?;
            drop(db);
            println!(
                "database {} is up to date",
                redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::Demo => load_demo(&config),
        Command::Org {
            command:
                OrgCommand::Create {
                    kind,
                    name,
                    lat,
                    lng,
                    townships,
                },
        } => {
            let db = Db::open(&config.database_url)?;
            let mut conn = db.conn()?;
            let id = accounts::create_org(
                &mut conn,
                NewOrg {
                    kind,
                    name: name.clone(),
                    lat,
                    lng,
                    townships,
                },
                now,
            )?;
            println!("created organisation {name}: {id}");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    login,
                    role,
                    org,
                    institution,
                    email,
                    password_stdin: _,
                },
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                ApiError::invalid(
                    "role",
                    format!("must be one of {}", Role::ALL.map(Role::as_str).join(", ")),
                )
            })?;
            let password = password_from_stdin()?;
            let db = Db::open(&config.database_url)?;
            let mut conn = db.conn()?;
            let id = accounts::create_user(
                &mut conn,
                NewAccount {
                    login: login.clone(),
                    role,
                    org_id: org,
                    institution_id: institution,
                    email,
                    display_name: None,
                    password,
                },
                now,
            )?;
            println!(
                "created user {} ({}): {id}",
                login.trim().to_lowercase(),
                role.as_str()
            );
            Ok(())
        }
        Command::User { command } => account_command(&config, command, now),
        Command::Plan { date, org, horizon } => plan(&config, date, org, horizon),
        Command::Roster {
            command: RosterCommand::Import { file },
        } => roster_import(&config, &file),
        Command::Openapi => {
            print!("{}", crate::http::openapi::document_json());
            Ok(())
        }
    }
}

/// `yifei roster import FILE`: as the operator, for the whole county.
fn roster_import(config: &Config, file: &std::path::Path) -> Result<(), ApiError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ApiError::Config(format!("cannot read {}: {e}", file.display())))?;
    let rows = if file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ApiError::invalid("file", format!("not JSON: {e}")))?;
        crate::roster::from_json(&v)?
    } else {
        crate::roster::from_csv(&text)?
    };
    let db = Db::open(&config.database_url)?;
    let mut conn = db.conn()?;
    let r = crate::roster::store::import(
        &mut conn,
        &crate::institutions::Scope::All,
        rows,
        chrono::Utc::now(),
    )?;
    for e in &r.errors {
        eprintln!(
            "row {}: {}: {} ({})",
            e.row, e.field, e.message, e.licence_no
        );
    }
    println!(
        "{} rows: {} added, {} changed, {} unchanged, {} matched to signed-up institutions, {} errors",
        r.rows,
        r.added.len(),
        r.changed.len(),
        r.unchanged,
        r.matched.len(),
        r.errors.len()
    );
    Ok(())
}

/// `yifei user deactivate|reactivate|password`.
fn account_command(
    config: &Config,
    command: UserCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let (login, what) = match &command {
        UserCommand::Deactivate { login } => (login.clone(), "deactivated"),
        UserCommand::Reactivate { login } => (login.clone(), "reactivated"),
        UserCommand::Password { login, .. } => (login.clone(), "password set"),
        UserCommand::Create { .. } => {
            return Err(ApiError::Internal("user create is handled above".into()));
        }
    };
    let password = match command {
        UserCommand::Password { .. } => Some(password_from_stdin()?),
        _ => None,
    };
    let db = Db::open(&config.database_url)?;
    let mut conn = db.conn()?;
    let id = accounts::user_id_by_login(&mut conn, &login)?;
    let actor = accounts::Actor::Operator;
    let account = match password {
        Some(p) => accounts::reset_password(&mut conn, actor, &id, &p, now)?,
        None => accounts::set_active(&mut conn, actor, &id, what == "reactivated", now)?,
    };
    println!(
        "{} ({}): {what}; {}",
        account.login,
        account.role.as_str(),
        if what == "reactivated" {
            "the user signs in again"
        } else {
            "its sessions have ended"
        }
    );
    Ok(())
}

fn load_demo(config: &Config) -> Result<(), ApiError> {
    let db = Db::open(&config.database_url)?;
    let mut conn = db.conn()?;
    match crate::demo::load_if_empty(&mut conn, chrono::Utc::now())? {
        Some(lines) => {
            // `yifei demo | head` must not panic on the closed pipe.
            let mut out = std::io::stdout().lock();
            for l in lines {
                if writeln!(out, "{l}").is_err() {
                    break;
                }
            }
        }
        None => println!("the database already holds data: demo not loaded"),
    }
    Ok(())
}

fn plan(
    config: &Config,
    date: Option<chrono::NaiveDate>,
    org: Option<String>,
    horizon: i32,
) -> Result<(), ApiError> {
    use crate::db::schema::{organisations, users};
    use diesel::prelude::*;
    let max = crate::runs::horizon::MAX_DAYS;
    if !(1..=max).contains(&horizon) {
        return Err(ApiError::invalid(
            "--horizon",
            format!("must be 1 to {max} days, not {horizon}"),
        ));
    }
    let db = Db::open(&config.database_url)?;
    let mut conn = db.conn()?;
    let org = match org {
        Some(o) => o,
        None => {
            let ids: Vec<String> = organisations::table
                .filter(organisations::kind.eq("disposal_company"))
                .select(organisations::id)
                .load(&mut **conn)?;
            match ids.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(ApiError::Config(
                        "there is no disposal company: create one with `yifei org create`".into(),
                    ));
                }
                _ => {
                    return Err(ApiError::Config(
                        "several disposal companies: choose one with --org".into(),
                    ));
                }
            }
        }
    };
    let dispatcher: String = users::table
        .filter(users::org_id.eq(&org))
        .filter(users::role.eq(Role::Dispatcher.as_str()))
        .select(users::id)
        .first(&mut **conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::Config(
                "the company has no dispatcher: plans are made in a dispatcher's name".into(),
            )
        })?;
    let caller = crate::auth::Caller {
        user_id: dispatcher,
        role: Role::Dispatcher,
        tenant: Some(org),
    };
    let now = chrono::Utc::now();
    let day = date.unwrap_or_else(|| {
        (now.with_timezone(&config.tz) + chrono::Duration::days(1)).date_naive()
    });
    drop(conn);
    let started = std::time::Instant::now();
    let progress = |p: Phase| {
        let at = started.elapsed().as_secs_f64();
        let line = match p {
            Phase::Reading => "reading the due stops and the fleet".to_owned(),
            Phase::Horizon { days, stops } => format!(
                "choosing the visit days of {stops} institutions over {days} days (no database lock held)"
            ),
            Phase::HorizonSolved { km, vehicle_days } => {
                format!("horizon chosen: {km:.1} km over {vehicle_days} vehicle-days")
            }
            Phase::Solving { stops, vehicles } => {
                format!("solving {stops} stops over {vehicles} vehicles (no database lock held)")
            }
            Phase::Best { km, unassigned, .. } => {
                format!("best so far: {km:.1} km, {unassigned} unassigned")
            }
            Phase::Solved { km, unassigned } => {
                format!("solved: best {km:.1} km, {unassigned} unassigned")
            }
            Phase::Resolving(why) => format!("solving again: {why}"),
            Phase::Writing => "writing the runs".to_owned(),
        };
        eprintln!("[{at:6.1} s] {line}");
    };
    let plan = crate::runs::planning::plan(
        &db,
        &caller,
        day,
        None,
        horizon,
        now,
        &config.schedule(),
        config.solving(),
        &progress,
    )?;
    let stops: usize = plan.runs.iter().map(|r| r.stops.len()).sum();
    println!(
        "plan {} for {day}: {} runs, {stops} stops, {} unassigned",
        plan.id,
        plan.runs.len(),
        plan.unassigned.len()
    );
    for r in &plan.runs {
        println!(
            "  {}  {} stops  {:.1} km  {:.0} min  {:.1} kg  {}-{}",
            r.plate,
            r.stops.len(),
            r.distance_km,
            r.duration_min,
            r.load_kg,
            r.start_time.with_timezone(&config.tz).format("%H:%M"),
            r.end_time.with_timezone(&config.tz).format("%H:%M"),
        );
    }
    for u in &plan.unassigned {
        println!("  unassigned {}: {}", u.institution_id, u.reason);
    }
    if plan.horizon_days > 1 {
        for d in &plan.days {
            let stops: usize = d.routes.iter().map(|r| r.stops.len()).sum();
            println!(
                "  day {}{}: {} vehicles, {stops} stops, {:.1} km",
                d.date,
                if d.provisional { " (provisional)" } else { "" },
                d.vehicles,
                d.distance_km
            );
        }
    }
    for n in &plan.notes {
        println!("  note: {n}");
    }
    Ok(())
}

fn serve(config: Config) -> Result<(), ApiError> {
    tracing::info!(
        database = %redact_url(&config.database_url),
        bind = %config.bind,
        "starting yifei"
    );
    let _one_server = crate::db::coordination::lock_sqlite_server(&config.database_url)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config)?;
        tracing::info!(port = app.port(), "listening");
        // On stdout whatever the log level, for scripts that bind port 0 (CI's fuzzing).
        println!(
            "listening on http://{} (pid {})",
            app.local_addr(),
            std::process::id()
        );
        app.run_until_stopped()
            .await
            .map_err(|e| ApiError::Config(format!("server stopped: {e}")))
    })
}
