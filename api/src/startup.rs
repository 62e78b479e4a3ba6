//! Building and running the server; tests use the same path on a random port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware::from_fn, web};
use diesel::prelude::*;
use tracing_actix_web::TracingLogger;

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::{JwtKeys, generate_secret};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::db::schema::settings;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::state::AppState;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the database (migrating it), binds `config.bind` (port 0 picks a free port) and
    /// prepares the server.
    pub fn build(config: Config) -> Result<Application, ApiError> {
        Application::build_with_clock(config, Arc::new(SystemClock))
    }

    /// As [`Application::build`] with an injected clock (tests).
    pub fn build_with_clock(config: Config, clock: SharedClock) -> Result<Application, ApiError> {
        let db = Db::open(&config.database_url)?;
        let mail = if config.mail_worker {
            Some(crate::notify::MailConfig::from_env()?)
        } else {
            None
        };
        if let Some(mail) = mail {
            crate::notify::spawn_worker(db.clone(), mail, clock.clone());
        }
        let state = web::Data::new(state(config, db, clock)?);
        let listener = TcpListener::bind(&state.config.bind).map_err(|e| {
            ApiError::Config(format!("cannot listen on {}: {e}", state.config.bind))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ApiError::Config(format!("no local address: {e}")))?
            .port();
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(crate::http::middleware::request_meta))
                .wrap(TracingLogger::default())
                .configure(crate::http::routes)
        })
        .listen(listener)
        .map_err(|e| ApiError::Config(format!("cannot serve: {e}")))?
        .shutdown_timeout(10)
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests reach the database through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (Ctrl-C or SIGTERM stop gracefully).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Assembles the application state, resolving the JWT secret.
pub fn state(config: Config, db: Db, clock: SharedClock) -> Result<AppState, ApiError> {
    let secret = match &config.jwt_secret {
        Some(s) => {
            if s.len() < 32 {
                tracing::warn!(
                    "YIFEI_JWT_SECRET is shorter than 32 characters; use a longer random secret"
                );
            }
            s.clone()
        }
        None => {
            let mut conn = db.conn()?;
            stored_or_new_secret(&mut conn)?
        }
    };
    let keys = JwtKeys::new(secret.as_bytes())?;
    let (db_backend, db_for_writer) = (db.backend, db.clone());
    let throttle = LoginThrottle::new(config.login_max_failures, config.login_window);
    let alerts = crate::oversight::evaluator::Evaluator::start(
        db.clone(),
        clock.clone(),
        config.tz,
        config.alert_interval,
    );
    Ok(AppState {
        db,
        config,
        keys,
        clock,
        throttle,
        alerts,
        scan_writer: (db_backend == crate::db::Backend::Sqlite)
            .then(|| crate::custody::ingest::GroupCommitter::start(db_for_writer)),
    })
}

/// Reads the generated JWT secret from the database, creating it on first start, so that
/// tokens survive restarts without configuration. Never logs the value.
fn stored_or_new_secret(conn: &mut DbConnection) -> Result<String, ApiError> {
    const KEY: &str = "jwt_secret";
    let existing: Option<String> = settings::table
        .find(KEY)
        .select(settings::value)
        .first(conn)
        .optional()?;
    if let Some(s) = existing {
        return Ok(s);
    }
    let secret = generate_secret()?;
    let inserted = diesel::insert_into(settings::table)
        .values((settings::key.eq(KEY), settings::value.eq(&secret)))
        .execute(conn);
    match inserted {
        Ok(_) => {
            tracing::warn!(
                "YIFEI_JWT_SECRET is not set: generated a secret and stored it in the database; \
                 set YIFEI_JWT_SECRET in production"
            );
            Ok(secret)
        }
        // Another process started at the same moment and won: use its secret.
        Err(e) if crate::db::is_unique_violation(&e) => Ok(settings::table
            .find(KEY)
            .select(settings::value)
            .first(conn)?),
        Err(e) => Err(e.into()),
    }
}
