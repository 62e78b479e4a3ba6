//! One code path over SQLite (default, embedded) and PostgreSQL (production).
//!
//! The backend is chosen by the URL scheme, never by trial connection: SQLite accepts any
//! string, so "try PostgreSQL, then SQLite" would silently create files named like URLs.

pub mod batch;
pub mod coordination;
pub mod schema;
pub mod scratch;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// SQLite settings applied to every connection. WAL lets readers work during a write;
/// `busy_timeout` makes concurrent writers wait instead of failing; foreign keys are off by
/// default in SQLite and must be switched on per connection; `synchronous = FULL` syncs the
/// WAL at every commit, so an acknowledged scan survives a power cut, not only a crash
/// (`NORMAL` would lose the last commits on power loss). The log is copied into the database
/// by a thread of its own (`start_checkpointer`); the connections' automatic checkpoint is
/// only a backstop, at 8 000 pages (32 MiB).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 8000;";

/// A connection to either backend; queries written once against [`schema`] run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Name reported by `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed `YIFEI_DATABASE_URL`.
#[derive(Debug, Clone)]
pub struct DbUrl {
    pub backend: Backend,
    /// What the driver is given: a file path for SQLite, the URL for PostgreSQL.
    pub target: String,
}

impl DbUrl {
    /// `postgres://` or `postgresql://` is PostgreSQL; `sqlite://PATH` or a bare path is SQLite.
    pub fn parse(url: &str) -> Result<DbUrl, ApiError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ApiError::Config("YIFEI_DATABASE_URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl {
                backend: Backend::Postgres,
                target: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.contains("://") {
            return Err(ApiError::Config(format!(
                "YIFEI_DATABASE_URL has an unknown scheme: {}",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(DbUrl {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        })
    }

    fn connect(&self) -> ConnectionResult<DbConnection> {
        match self.backend {
            Backend::Postgres => Ok(DbConnection::Postgresql(diesel::PgConnection::establish(
                &self.target,
            )?)),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.target)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// r2d2 manager that dispatches on the URL scheme.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DbUrl,
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let conn = self.url.connect().map_err(r2d2::Error::ConnectionError)?;
        Ok(Pooled {
            conn,
            proven_at: None,
        })
    }

    /// Checked at every checkout: diesel's `SELECT 1`, a statement it keeps prepared (a
    /// `sql_query` would be parsed and planned again on every request), unless the
    /// connection finished a piece of work without error within `PROVEN_FOR`: then it is
    /// as alive as a ping would show, and the ping would be one more round trip on every
    /// request under load (HikariCP's "alive bypass" window, 500 ms, does the same).
    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        use diesel::r2d2::R2D2Connection;
        if conn
            .proven_at
            .take()
            .is_some_and(|t| t.elapsed() < PROVEN_FOR)
        {
            return Ok(());
        }
        conn.conn.ping().map_err(r2d2::Error::QueryError)
    }

    /// A connection whose transaction state diesel could not restore is not reused.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.conn.is_broken()
    }
}

/// How long after a piece of work succeeded a connection is handed out without a ping.
const PROVEN_FOR: Duration = Duration::from_millis(500);

/// A pooled connection, and when work on it last succeeded (`Db::run`; checkouts through
/// `Db::conn` are always pinged next time). Used as a `DbConnection` through `Deref`.
pub struct Pooled {
    conn: DbConnection,
    proven_at: Option<std::time::Instant>,
}

impl std::ops::Deref for Pooled {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The connection pool handed to every request.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    url: DbUrl,
    pub backend: Backend,
    /// Held by every clone; the SQLite checkpointer stops when the last one is dropped.
    _alive: std::sync::Arc<()>,
}

/// How often the SQLite checkpointer copies the write-ahead log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies SQLite's write-ahead log into the database file from a thread of its own, so that
/// the transaction that happens to cross the log's size limit does not pay for the copy and
/// its `fsync` (the scan writer is the one thread SQLite cannot parallelise). `PASSIVE`
/// never waits for readers or writers. The connections' own automatic checkpoint stays as a
/// backstop at a larger size.
fn start_checkpointer(url: &DbUrl, alive: std::sync::Weak<()>) {
    let url = url.clone();
    let started = std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || {
            let mut conn = match url.connect() {
                Ok(DbConnection::Sqlite(c)) => c,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "no WAL checkpointer: cannot connect");
                    return;
                }
            };
            while alive.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "no WAL checkpointer: cannot start its thread");
    }
}

/// True when a PostgreSQL URL leaves `sslmode` to libpq's default and its host is not this
/// machine: the connection may then run in plain text, or to an impostor, without anyone noticing.
pub fn unverified_remote(url: &str) -> bool {
    if url.contains("sslmode=") {
        return false;
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    // An empty host is the Unix socket (or a `host=` query parameter naming a socket path).
    let host_param = rest
        .split_once("host=")
        .map(|(_, h)| h.split('&').next().unwrap_or(""));
    let host = if host.is_empty() {
        host_param.unwrap_or("")
    } else {
        host
    };
    !(host.is_empty()
        || host.starts_with('/')
        || host == "localhost"
        || host == "::1"
        || host.starts_with("127."))
}

/// A pooled connection.
pub type Conn = r2d2::PooledConnection<Manager>;

impl Db {
    /// Opens the database, creating the SQLite file's folder, applying migrations on one
    /// bootstrap connection *before* the pool exists (pooled connections racing to switch a
    /// fresh file to WAL report `database is locked`).
    pub fn open(url: &str) -> Result<Db, ApiError> {
        let url = DbUrl::parse(url)?;
        if url.backend == Backend::Postgres && unverified_remote(&url.target) {
            tracing::warn!(
                "YIFEI_DATABASE_URL names a remote PostgreSQL without sslmode: libpq's default \
                 (prefer) encrypts only if the server offers TLS and never checks its certificate; \
                 add ?sslmode=verify-full&sslrootcert=PATH"
            );
        }
        if url.backend == Backend::Sqlite
            && let Some(dir) = Path::new(&url.target).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                ApiError::Config(format!(
                    "cannot create database folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut boot = url
            .connect()
            .map_err(|e| ApiError::Config(format!("cannot open the database: {e}")))?;
        migrate(&mut boot)?;
        drop(boot);
        let size = match url.backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url: url.clone() })
            .map_err(|e| ApiError::Config(format!("cannot open the database pool: {e}")))?;
        let alive = std::sync::Arc::new(());
        if url.backend == Backend::Sqlite {
            start_checkpointer(&url, std::sync::Arc::downgrade(&alive));
        }
        Ok(Db {
            pool,
            backend: url.backend,
            url,
            _alive: alive,
        })
    }

    /// A connection of its own, outside the pool, for a thread that keeps it (the scan
    /// writer) and may change its settings.
    pub fn dedicated(&self) -> Result<DbConnection, ApiError> {
        self.url
            .connect()
            .map_err(|e| ApiError::Unavailable(format!("cannot open the database: {e}")))
    }

    /// What `YIFEI_DATABASE_URL` named (the JWT key file sits beside a SQLite file).
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The SQLite write-ahead log's file, when the database is a file.
    pub fn wal_path(&self) -> Option<std::path::PathBuf> {
        let t = self.url.target.as_str();
        (self.backend == Backend::Sqlite && !t.starts_with(':') && !t.starts_with("file:"))
            .then(|| std::path::PathBuf::from(format!("{t}-wal")))
    }

    /// A connection for synchronous work (CLI, tests of the db layer).
    pub fn conn(&self) -> Result<Conn, ApiError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking database work off the async executor.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            let done = f(&mut conn);
            if done.is_ok() {
                conn.proven_at = Some(std::time::Instant::now());
            }
            done
        })
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
    }

    /// Runs blocking work that takes and gives back connections itself (planning: a
    /// connection to read, none while the solver thinks, one to write), off the executor.
    pub async fn phased<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || f(&db))
            .await
            .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }
}

/// Applies pending embedded migrations of the connection's backend.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, ApiError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => {
            // WAL is persistent per file: switching once here is enough.
            c.batch_execute("PRAGMA journal_mode = WAL;")?;
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| ApiError::Config(format!("migration failed: {e}")))?
                .iter()
                .map(|m| m.to_string())
                .collect()
        }
        DbConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map_err(|e| ApiError::Config(format!("migration failed: {e}")))?
            .iter()
            .map(|m| m.to_string())
            .collect(),
    };
    Ok(applied)
}

/// Whether an error is a unique-constraint violation (a conflict the client caused).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// New time-ordered id: UUIDv7 sorts by creation, which keyset pagination relies on, and
/// does not let one tenant guess another's records.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A transaction that writes. On SQLite it takes the write lock with its first statement:
/// a transaction that reads first and writes later cannot wait for a concurrent writer
/// (SQLite answers `database is locked` at once to avoid a deadlock), whereas a transaction
/// that starts by writing waits up to the busy timeout. PostgreSQL needs nothing special.
pub fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError>,
{
    // SQLite has one writer at a time. Waiting on its busy handler is a poll with growing
    // sleeps, which starves unlucky writers under load; queueing on an in-process lock first
    // hands the database over in order. (One lock for every SQLite file of the process: a
    // server opens one database.)
    static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = match conn {
        DbConnection::Sqlite(_) => Some(SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner())),
        DbConnection::Postgresql(_) => None,
    };
    conn.transaction(|conn| {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute("UPDATE settings SET value = value WHERE key = 'write-lock'")?;
        }
        f(conn)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_remote_postgres_without_sslmode_is_flagged() {
        use super::unverified_remote as u;
        assert!(u("postgres://app:pw@db.example.cn:5432/yifei"));
        assert!(u("postgresql://10.0.0.5/yifei"));
        assert!(u("postgres://app@[2001:db8::1]:5432/yifei"));
        assert!(!u(
            "postgres://app:pw@db.example.cn/yifei?sslmode=verify-full"
        ));
        assert!(!u("postgres://postgres@127.0.0.1:5432/yifei"));
        assert!(!u("postgres://postgres@localhost/yifei"));
        assert!(!u("postgres://postgres@[::1]/yifei"));
        assert!(!u("postgres:///yifei?host=/var/run/postgresql"));
        assert!(u("postgres:///yifei?host=db.example.cn"));
    }

    use super::*;

    /// `.cargo/config.toml` builds the bundled SQLite in multi-thread mode without memory
    /// counters; a build that lost those flags would still work, only slower: say so here.
    #[test]
    fn bundled_sqlite_has_the_workspace_build_flags() {
        #[derive(diesel::QueryableByName)]
        struct Opt {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut c = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
        let opts: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<Opt>(&mut c)
            .expect("compile options")
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        for want in ["THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
            assert!(opts.iter().any(|o| o == want), "{want} not in {opts:?}");
        }
    }

    /// A database that already holds nested boxes when the `holds` migration runs: each big
    /// box is counted with what it holds (ingest reads the contents only of boxes with any).
    #[test]
    fn the_holds_migration_counts_boxes_already_nested() {
        use diesel::connection::SimpleConnection;
        let mut c = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
        c.batch_execute("PRAGMA foreign_keys = OFF;")
            .expect("pragma");
        loop {
            let pending = c.pending_migrations(SQLITE_MIGRATIONS).expect("pending");
            let next = pending.first().expect("the holds migration exists");
            if next.name().to_string().ends_with("_container_holds") {
                break;
            }
            c.run_next_migration(SQLITE_MIGRATIONS).expect("migration");
        }
        let row = |id: &str, parent: &str| {
            format!(
                "INSERT INTO containers (id, code, institution_id, category, packaging, state, \
                 flags, parent_id, event_count, head_hash, created_by, created_at, updated_at) \
                 VALUES ('{id}', 'C{id}', 'i', 'infectious', 'bag', 'sealed', '[]', {parent}, 0, \
                 '', 'u', '2026-01-01 00:00:00', '2026-01-01 00:00:00');"
            )
        };
        let sql = [
            row("big", "NULL"),
            row("a", "'big'"),
            row("b", "'big'"),
            row("lone", "NULL"),
        ]
        .concat();
        c.batch_execute(&sql).expect("containers");
        c.run_pending_migrations(SQLITE_MIGRATIONS).expect("holds");
        #[derive(diesel::QueryableByName)]
        struct Holds {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            holds: i32,
        }
        let got: Vec<(String, i32)> =
            diesel::sql_query("SELECT id, holds FROM containers ORDER BY id")
                .load::<Holds>(&mut c)
                .expect("holds")
                .into_iter()
                .map(|h| (h.id, h.holds))
                .collect();
        let want = [("a", 0), ("b", 0), ("big", 2), ("lone", 0)].map(|(i, h)| (i.to_owned(), h));
        assert_eq!(got, want);
    }

    /// Committed pages reach the database file without any connection crossing the
    /// automatic checkpoint's size: the checkpointer thread copies them.
    #[test]
    fn the_checkpointer_copies_the_log_into_the_database() {
        let dir = std::env::temp_dir().join(format!("yifei-ckpt-{}", uuid::Uuid::now_v7()));
        let file = dir.join("t.db");
        let db = Db::open(&file.display().to_string()).expect("open");
        let before = std::fs::metadata(&file).expect("db file").len();
        let mut conn = db.conn().expect("conn");
        conn.batch_execute(
            "CREATE TABLE filler (x TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO filler SELECT hex(randomblob(200)) FROM n;",
        )
        .expect("write");
        let mut after = before;
        for _ in 0..50 {
            std::thread::sleep(CHECKPOINT_EVERY);
            after = std::fs::metadata(&file).expect("db file").len();
            if after > before + 400_000 {
                break;
            }
        }
        assert!(after > before + 400_000, "{before} -> {after} bytes");
        drop(conn);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The checkout ping is skipped only for a connection whose last work succeeded just now.
    /// Work that failed leaves its connection to be pinged: here its server process is then
    /// killed, and the next request gets a live connection instead of an error. (A pool of
    /// one connection, so that the next checkout cannot pick another.)
    #[test]
    fn a_connection_whose_work_failed_is_pinged_before_reuse() {
        use std::sync::{Arc, Mutex};
        let Some(scratch) = scratch::Scratch::create(Backend::Postgres) else {
            return;
        };
        let url = DbUrl::parse(&scratch.url).expect("url");
        let db = Db {
            pool: r2d2::Pool::builder()
                .max_size(1)
                .build(Manager { url: url.clone() })
                .expect("pool"),
            backend: url.backend,
            url,
            _alive: Arc::new(()),
        };
        #[derive(diesel::QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let pid_of = |c: &mut DbConnection| -> Result<i32, ApiError> {
            Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<Pid>(c)?
                .pid)
        };
        let rt = actix_web::rt::System::new();
        let first = rt.block_on(db.run(pid_of)).expect("first");
        let seen = Arc::new(Mutex::new(0));
        let failed = rt.block_on(db.run({
            let seen = seen.clone();
            move |c| {
                *seen.lock().expect("lock") = pid_of(c)?;
                Err::<(), _>(ApiError::Internal("work that failed".into()))
            }
        }));
        assert!(failed.is_err());
        assert_eq!(
            *seen.lock().expect("lock"),
            first,
            "one connection in the pool"
        );
        let mut admin = PgConnection::establish(&scratch::pg_admin_url()).expect("admin");
        diesel::sql_query(format!("SELECT pg_terminate_backend({first}, 5000)"))
            .execute(&mut admin)
            .expect("terminate");
        let next = rt
            .block_on(db.run(pid_of))
            .expect("a dead connection was handed out unpinged");
        assert_ne!(next, first);
    }

    #[test]
    fn urls_choose_the_backend_by_scheme() {
        let u = DbUrl::parse("postgres://postgres@127.0.0.1/x").expect("pg");
        assert_eq!(u.backend, Backend::Postgres);
        let u = DbUrl::parse("sqlite://data/y.db").expect("sqlite");
        assert_eq!(
            (u.backend, u.target.as_str()),
            (Backend::Sqlite, "data/y.db")
        );
        let u = DbUrl::parse("./data/yifei.db").expect("path");
        assert_eq!(
            (u.backend, u.target.as_str()),
            (Backend::Sqlite, "./data/yifei.db")
        );
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("  ").is_err());
    }
}
