//! Building and running the server; tests use the same path on a random port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware::from_fn, web};
use diesel::prelude::*;
use tracing_actix_web::TracingLogger;

use crate::auth::sessions::SessionCache;
use crate::auth::throttle::{LoginThrottle, RateLimiter};
use crate::auth::tokens::{JwtKeys, generate_secret};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::custody::scan_writer::ScanWriter;
use crate::db::schema::settings;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::state::AppState;

/// A bound, not yet running server.
pub struct Application {
    addr: std::net::SocketAddr,
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
        if config.mail_worker {
            crate::notify::spawn_worker(db.clone(), config.mail.clone(), clock.clone());
        }
        // The scan writer is the request path's own, not application state: only the scan
        // upload reaches it.
        let scans = web::Data::new(ScanWriter::start(db.clone(), config.group_commit));
        let state = web::Data::new(state(config, db, clock)?);
        let listener = TcpListener::bind(&state.config.bind).map_err(|e| {
            ApiError::Config(format!("cannot listen on {}: {e}", state.config.bind))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| ApiError::Config(format!("no local address: {e}")))?;
        let port = addr.port();
        let data = state.clone();
        let t = state.config.timeouts;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(scans.clone())
                // Innermost: a NUL in the path or query string is refused before routing.
                .wrap(from_fn(crate::http::hygiene::url_text))
                .wrap(from_fn(crate::http::middleware::request_meta))
                .wrap(TracingLogger::default())
                // Outermost: gzip when the client accepts it (a county office on a slow line,
                // a driver's phone on 2G), applied to the finished answer, so the problem
                // rewriting and the security headers inside see the plain body.
                .wrap(actix_web::middleware::Compress::default())
                .configure(crate::http::routes)
        })
        // The head's read timeout; the body's is enforced where it is read (extract.rs).
        .client_request_timeout(t.head)
        .client_disconnect_timeout(t.disconnect)
        .keep_alive(t.keep_alive)
        .listen(listener)
        .map_err(|e| ApiError::Config(format!("cannot serve: {e}")))?
        .shutdown_timeout(10)
        .run();
        Ok(Application {
            addr,
            port,
            server,
            state,
        })
    }

    /// The address actually bound (`YIFEI_BIND` with port 0 gets a free port).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
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

/// The shortest JWT secret accepted: HS256 with a shorter key is guessable offline from one
/// token.
pub const MIN_SECRET_BYTES: usize = 32;

/// Assembles the application state, resolving the JWT secret.
pub fn state(config: Config, db: Db, clock: SharedClock) -> Result<AppState, ApiError> {
    let secret = jwt_secret(&config, &db)?;
    let keys = JwtKeys::new(secret.as_bytes())?;
    let throttle = LoginThrottle::new(config.login_max_failures, config.login_window);
    let auth_limit = RateLimiter::new(config.auth_rate_limit, config.auth_rate_window);
    let sign_up_limit = RateLimiter::new(config.sign_up_rate_limit, config.sign_up_rate_window);
    let sessions = SessionCache::new(config.session_check);
    let alerts = crate::oversight::evaluator::Evaluator::start(
        db.clone(),
        clock.clone(),
        config.tz,
        config.alert_interval,
        crate::oversight::alerts::Overrides {
            tracking: crate::tracking::Rules {
                tz: config.tz,
                ..config.alerts.tracking
            },
            ..config.alerts
        },
        config.watch,
    );
    Ok(AppState {
        db,
        config,
        keys,
        clock,
        throttle,
        auth_limit,
        sign_up_limit,
        sessions,
        alerts,
        plan_progress: std::sync::RwLock::new(None),
        plans_solving: Default::default(),
    })
}

const STORED_SECRET_KEY: &str = "jwt_secret";

/// The signing secret: `YIFEI_JWT_SECRET` (at least 32 bytes, or the server refuses to
/// start), else on SQLite a key file beside the database (`<database>.jwt-key`, mode 0600),
/// generated on first start. PostgreSQL has no file of its own, so there the variable is
/// required. The secret is never written to the database: one that an earlier version
/// stored there is moved into the key file (SQLite, so sessions survive) or deleted once
/// the variable is set (PostgreSQL), never left behind.
fn jwt_secret(config: &Config, db: &Db) -> Result<String, ApiError> {
    let mut pooled = db.conn()?;
    let conn: &mut DbConnection = &mut pooled;
    let stored: Option<String> = settings::table
        .find(STORED_SECRET_KEY)
        .select(settings::value)
        .first(conn)
        .optional()?;
    let forget_stored = |conn: &mut DbConnection| -> Result<(), ApiError> {
        if stored.is_some() {
            diesel::delete(settings::table.find(STORED_SECRET_KEY)).execute(conn)?;
            tracing::warn!("removed the JWT secret an earlier version kept in the database");
        }
        Ok(())
    };
    if let Some(s) = &config.jwt_secret {
        check_secret_length(s)?;
        forget_stored(conn)?;
        return Ok(s.clone());
    }
    match key_file_path(db.url()) {
        KeyFile::Path(path) => {
            let secret = read_or_create_key_file(&path, stored.as_deref())?;
            forget_stored(conn)?;
            Ok(secret)
        }
        // An in-memory database lives as long as the process, and so do its tokens.
        KeyFile::Ephemeral => generate_secret(),
        KeyFile::None => Err(ApiError::Config(
            "YIFEI_JWT_SECRET is required with PostgreSQL (32 or more random bytes, e.g. \
             `openssl rand -base64 48`); a secret is never kept in the database"
                .into(),
        )),
    }
}

fn check_secret_length(s: &str) -> Result<(), ApiError> {
    if s.len() < MIN_SECRET_BYTES {
        return Err(ApiError::Config(format!(
            "YIFEI_JWT_SECRET is {} bytes; it must be at least {MIN_SECRET_BYTES} random bytes \
             (e.g. `openssl rand -base64 48`)",
            s.len()
        )));
    }
    Ok(())
}

enum KeyFile {
    Path(std::path::PathBuf),
    Ephemeral,
    None,
}

/// Where a generated secret lives: beside the SQLite file, so that whoever may read the
/// database's folder is who may read it, and a backup of the folder carries both.
fn key_file_path(url: &crate::db::DbUrl) -> KeyFile {
    let t = url.target.as_str();
    match url.backend {
        crate::db::Backend::Postgres => KeyFile::None,
        _ if t.is_empty() || t.starts_with(':') || t.starts_with("file:") => KeyFile::Ephemeral,
        _ => KeyFile::Path(std::path::PathBuf::from(format!("{t}.jwt-key"))),
    }
}

/// Reads the key file, or creates it (owner-only) with `seed` (a secret moved out of the
/// database) or a fresh secret. Two processes starting at once agree: the file is created
/// exclusively and the loser reads the winner's.
fn read_or_create_key_file(path: &std::path::Path, seed: Option<&str>) -> Result<String, ApiError> {
    use std::io::Write;
    let read = |path: &std::path::Path| -> Result<String, ApiError> {
        let s = std::fs::read_to_string(path).map_err(|e| {
            ApiError::Config(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        let s = s.trim().to_owned();
        check_secret_length(&s).map_err(|_| {
            ApiError::Config(format!(
                "the key file {} holds fewer than {MIN_SECRET_BYTES} bytes; delete it to \
                 generate a new secret (everyone signs in again)",
                path.display()
            ))
        })?;
        Ok(s)
    };
    if path.exists() {
        return read(path);
    }
    let secret = match seed {
        Some(s) if s.len() >= MIN_SECRET_BYTES => s.to_owned(),
        _ => generate_secret()?,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(secret.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| {
                    ApiError::Config(format!("cannot write the key file {}: {e}", path.display()))
                })?;
            tracing::warn!(
                key_file = %path.display(),
                "YIFEI_JWT_SECRET is not set: {} the signing secret in a key file beside the \
                 database (owner-only); keep it with the database, or set YIFEI_JWT_SECRET",
                if seed.is_some() { "moved" } else { "generated" }
            );
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(ApiError::Config(format!(
            "cannot create the key file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary one (removed by [`Dir`]'s drop).
    struct Dir(std::path::PathBuf);
    impl Dir {
        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir() -> Dir {
        let p = std::env::temp_dir().join(format!("yifei-key-{}", crate::db::new_id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Dir(p)
    }

    fn sqlite(dir: &std::path::Path) -> Db {
        Db::open(&dir.join("y.db").to_string_lossy()).expect("db")
    }

    fn config(secret: Option<&str>) -> Config {
        Config {
            jwt_secret: secret.map(str::to_owned),
            ..Config::default()
        }
    }

    fn stored(db: &Db) -> Option<String> {
        let mut pooled = db.conn().expect("conn");
        let c: &mut DbConnection = &mut pooled;
        settings::table
            .find(STORED_SECRET_KEY)
            .select(settings::value)
            .first(c)
            .optional()
            .expect("read")
    }

    #[test]
    fn a_short_secret_is_refused() {
        let dir = tempdir();
        let db = sqlite(dir.path());
        let err = jwt_secret(&config(Some("fourteen-chars")), &db).err();
        assert!(matches!(err, Some(ApiError::Config(m)) if m.contains("at least 32")));
        let ok = "x".repeat(32);
        assert_eq!(jwt_secret(&config(Some(&ok)), &db).expect("32 bytes"), ok);
    }

    #[test]
    fn a_generated_secret_lives_in_an_owner_only_file_not_the_database() {
        let dir = tempdir();
        let db = sqlite(dir.path());
        let first = jwt_secret(&config(None), &db).expect("generated");
        assert!(first.len() >= MIN_SECRET_BYTES);
        assert_eq!(stored(&db), None);
        let file = dir.path().join("y.db.jwt-key");
        assert_eq!(std::fs::read_to_string(&file).expect("key file"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A restart signs with the same secret.
        assert_eq!(jwt_secret(&config(None), &db).expect("again"), first);
    }

    #[test]
    fn a_secret_stored_by_an_earlier_version_moves_to_the_key_file() {
        let dir = tempdir();
        let db = sqlite(dir.path());
        let old = "s".repeat(64);
        let mut pooled = db.conn().expect("conn");
        let c: &mut DbConnection = &mut pooled;
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(STORED_SECRET_KEY),
                settings::value.eq(&old),
            ))
            .execute(c)
            .expect("old row");
        drop(pooled);
        assert_eq!(jwt_secret(&config(None), &db).expect("moved"), old);
        assert_eq!(stored(&db), None, "no secret left in the database");
        let file = dir.path().join("y.db.jwt-key");
        assert_eq!(std::fs::read_to_string(file).expect("key file"), old);
    }

    #[test]
    fn postgres_needs_the_variable() {
        let url = crate::db::DbUrl::parse("postgres://u@h/d").expect("url");
        assert!(matches!(key_file_path(&url), KeyFile::None));
        let url = crate::db::DbUrl::parse(":memory:").expect("url");
        assert!(matches!(key_file_path(&url), KeyFile::Ephemeral));
    }
}
