//! Operations: the server on a PostgreSQL reached over TLS (the local server has ssl on, with
//! Debian's self-signed "snakeoil" certificate for `localhost`).

use diesel::RunQueryDsl;
use diesel::sql_types::Bool;

use crate::common::{Backend, TestApp, TestDb, t0};
use yifei_api::clock::ManualClock;
use yifei_api::db::{Db, DbConnection};

/// The local server's certificate, self-signed: it is its own CA (`ssl_cert_file` of the
/// cluster's postgresql.conf).
const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[derive(diesel::QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

fn uses_tls(conn: &mut DbConnection) -> bool {
    let DbConnection::Postgresql(pg) = conn else {
        panic!("a PostgreSQL connection");
    };
    diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Ssl>(pg)
        .expect("pg_stat_ssl")
        .ssl
}

/// `url` with `params` appended as query parameters.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// Starts a server on `db` reached through `url`, checks a request works and that its pooled
/// connections are encrypted.
fn serve_over(db: TestDb, url: String) {
    let app = TestApp::start_configured(db, ManualClock::new(t0()), |c| c.database_url = url);
    let r = app.get("/readyz", None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(app.with_conn(uses_tls), "the pool's connection is not TLS");
}

#[test]
fn postgres_with_sslmode_require() {
    let Some(db) = TestDb::create(Backend::Postgres) else {
        return;
    };
    let url = with_params(&db.url, "sslmode=require");
    serve_over(db, url);
}

#[test]
fn postgres_with_sslmode_verify_full() {
    let Some(db) = TestDb::create(Backend::Postgres) else {
        return;
    };
    // verify-full checks the name too: the certificate is for `localhost`, not 127.0.0.1.
    let url = with_params(
        &db.url.replacen("@127.0.0.1", "@localhost", 1),
        &format!("sslmode=verify-full&sslrootcert={SERVER_CERT}"),
    );
    assert_ne!(url, db.url);
    serve_over(db, url);
}

#[test]
fn postgres_verify_full_refuses_a_wrong_name_or_an_unknown_ca() {
    let Some(db) = TestDb::create(Backend::Postgres) else {
        return;
    };
    // The right CA, the wrong name: the certificate says localhost, we dialled 127.0.0.1.
    let wrong_name = with_params(
        &db.url,
        &format!("sslmode=verify-full&sslrootcert={SERVER_CERT}"),
    );
    let e = Db::open(&wrong_name).err().expect("refused").to_string();
    assert!(e.contains("cannot open the database"), "{e}");
    assert!(
        e.contains("127.0.0.1") || e.contains("does not match"),
        "{e}"
    );
    // The right name, a CA that did not sign it (the system's public roots).
    let unknown_ca = with_params(
        &db.url.replacen("@127.0.0.1", "@localhost", 1),
        "sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
    );
    let e = Db::open(&unknown_ca).err().expect("refused").to_string();
    assert!(e.contains("certificate verify failed"), "{e}");
}
