//! Throwaway databases for tests and benchmarks: a fresh SQLite file or a fresh PostgreSQL
//! database, dropped with the value. One place decides where they live and what happens when
//! PostgreSQL is not there, so the unit tests, the black-box tests and the benchmarks agree.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::Backend;

/// The PostgreSQL server test databases are made on: `YIFEI_TEST_PG_URL`, or the local one.
pub fn pg_admin_url() -> String {
    std::env::var("YIFEI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database made for one test, removed when dropped (unless it is a `reuse`).
pub struct Scratch {
    pub url: String,
    pub backend: Backend,
    /// PostgreSQL admin URL and database name, to drop it afterwards.
    pg: Option<(String, String)>,
    owned: bool,
}

impl Scratch {
    /// A fresh database, or `None` when PostgreSQL is unreachable: said loudly on stderr, so a
    /// skipped test is not mistaken for a passed one. With `YIFEI_REQUIRE_PG=1` (CI) an
    /// unreachable PostgreSQL panics instead: the caller is a test, which must then fail.
    pub fn create(backend: Backend) -> Option<Scratch> {
        let name = format!("yifei_t_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("yifei-tests");
                std::fs::create_dir_all(&dir).expect("temp dir");
                Some(Scratch {
                    url: dir.join(format!("{name}.db")).display().to_string(),
                    backend,
                    pg: None,
                    owned: true,
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let mut conn = match PgConnection::establish(&admin) {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var("YIFEI_REQUIRE_PG").is_ok_and(|v| v == "1") {
                            panic!(
                                "PostgreSQL at {admin} is required (YIFEI_REQUIRE_PG=1) but unreachable: {e}"
                            );
                        }
                        eprintln!(
                            "\n*** SKIPPED PostgreSQL test: {admin} unreachable ({e}); set YIFEI_TEST_PG_URL \
                             or start PostgreSQL; YIFEI_REQUIRE_PG=1 turns this into a failure ***\n"
                        );
                        return None;
                    }
                };
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let base = admin.split('?').next().unwrap_or(&admin);
                let url = match base.rfind('/') {
                    Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
                    _ => format!("{base}/{name}"),
                };
                Some(Scratch {
                    url,
                    backend,
                    pg: Some((admin, name)),
                    owned: true,
                })
            }
        }
    }

    /// The same database without its cleanup (for a second server on it).
    pub fn reuse(other: &Scratch) -> Scratch {
        Scratch {
            url: other.url.clone(),
            backend: other.backend,
            pg: None,
            owned: false,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        match &self.pg {
            Some((admin, name)) => {
                if let Ok(mut c) = PgConnection::establish(admin) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.url));
                }
            }
        }
    }
}
