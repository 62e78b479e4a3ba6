//! The coverage report over a year of a county's scans (about 250 institutions, 3 containers
//! a day each), against the floor: reading the same container columns without computing
//! anything (same run, same database).
//!
//! `cargo bench -p yifei-api --bench report` (SQLite; `REPORT_PG=1` adds PostgreSQL from
//! `YIFEI_TEST_PG_URL`). `REPORT_INSTITUTIONS` and `REPORT_PER_DAY` change the size.

use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use yifei_api::auth::Caller;
use yifei_api::custody::store::ContainerRow;
use yifei_api::db::schema::{containers, institutions, users};
use yifei_api::db::{Db, DbConnection};
use yifei_api::institutions::store::{InstitutionRow, NewUser};
use yifei_api::oversight::reports::{self, Params};
use yifei_contract::Role;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn fill(db: &Db, n_inst: usize, per_day: usize) -> (Caller, usize) {
    let mut conn = db.conn().expect("conn");
    let t0 = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("t0")
        .naive_utc();
    let admin = NewUser {
        id: "admin".into(),
        login: "admin".into(),
        password_hash: "x".into(),
        role: "admin".into(),
        org_id: None,
        institution_id: None,
        display_name: None,
        email: None,
        active: true,
        created_at: t0,
    };
    diesel::insert_into(users::table)
        .values(&admin)
        .execute(&mut **conn)
        .expect("admin");
    let townships = [
        "石门镇",
        "柳泉镇",
        "青云乡",
        "城关镇",
        "北山乡",
        "南湖镇",
        "东岭镇",
        "西河乡",
        "马庄镇",
        "李集镇",
        "王庄镇",
        "白塔乡",
    ];
    let kinds = [
        "village_health_room",
        "village_health_room",
        "village_health_room",
        "clinic",
        "township_health_centre",
    ];
    let mut rows = 0;
    yifei_api::db::write_tx(&mut conn, |conn| {
        for i in 0..n_inst {
            let lat = 36.0 + (i % 25) as f64 * 0.02;
            let lng = 117.1 + (i / 25) as f64 * 0.05;
            let cell = h3o::LatLng::new(lat, lng)
                .expect("ll")
                .to_cell(h3o::Resolution::Nine);
            diesel::insert_into(institutions::table)
                .values(InstitutionRow {
                    id: format!("inst-{i:04}"),
                    name: format!("卫生室 {i}"),
                    kind: kinds[i % kinds.len()].into(),
                    licence_no: format!("PDY-{i:05}"),
                    township: townships[i % townships.len()].into(),
                    village: String::new(),
                    address: "-".into(),
                    lat,
                    lng,
                    h3_cell: i64::try_from(u64::from(cell)).unwrap_or(0),
                    beds: 0,
                    contact_name: "-".into(),
                    contact_phone: "13800000000".into(),
                    contact_email: None,
                    status: "active".into(),
                    status_reason: None,
                    service_mode: "direct".into(),
                    hub_id: None,
                    collection_interval_h: 48,
                    opening_hours: "[]".into(),
                    created_at: t0,
                    updated_at: t0,
                })
                .execute(conn)?;
        }
        let mut batch: Vec<ContainerRow> = Vec::with_capacity(1000);
        let flush = |conn: &mut DbConnection,
                     batch: &mut Vec<ContainerRow>|
         -> Result<(), yifei_api::error::ApiError> {
            match conn {
                DbConnection::Sqlite(c) => diesel::insert_into(containers::table)
                    .values(&*batch)
                    .execute(c)?,
                DbConnection::Postgresql(c) => diesel::insert_into(containers::table)
                    .values(&*batch)
                    .execute(c)?,
            };
            batch.clear();
            Ok(())
        };
        for day in 0..365 {
            for i in 0..n_inst {
                for k in 0..per_day {
                    let sealed = t0
                        + Duration::days(day)
                        + Duration::hours(8 + k as i64 * 3)
                        + Duration::minutes((i % 60) as i64);
                    let collected = sealed + Duration::hours(20 + ((i + k) % 40) as i64);
                    let received = collected + Duration::hours(3);
                    let disposed = received + Duration::hours(10);
                    let g = 300 + ((i * 7 + k * 13) % 900) as i32;
                    batch.push(ContainerRow {
                        id: format!("c-{day:03}-{i:04}-{k}"),
                        code: format!("C{day:03}{i:04}{k}"),
                        institution_id: format!("inst-{i:04}"),
                        category: "infectious".into(),
                        packaging: "bag".into(),
                        note: None,
                        state: "disposed".into(),
                        flags: if (i + k + day as usize).is_multiple_of(97) {
                            r#"["weight_discrepancy"]"#.into()
                        } else {
                            "[]".into()
                        },
                        parent_id: None,
                        seal_weight_g: Some(g),
                        collect_weight_g: Some(g),
                        receive_weight_g: Some(g - 10),
                        sealed_at: Some(sealed),
                        collected_at: Some(collected),
                        received_at: Some(received),
                        disposed_at: Some(disposed),
                        event_count: 4,
                        head_hash: String::new(),
                        created_by: "admin".into(),
                        created_at: sealed,
                        updated_at: disposed,
                        version: 1,
                        holds: 0,
                    });
                    rows += 1;
                    if batch.len() == 1000 {
                        flush(conn, &mut batch)?;
                    }
                }
            }
        }
        flush(conn, &mut batch)
    })
    .expect("fill");
    (
        Caller {
            user_id: "admin".into(),
            role: Role::Admin,
            tenant: None,
        },
        rows,
    )
}

/// The columns the floor reads.
type Columns = (
    String,
    Option<chrono::NaiveDateTime>,
    Option<i32>,
    Option<chrono::NaiveDateTime>,
);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(name: &str, url: &str, n_inst: usize, per_day: usize) {
    let db = Db::open(url).expect("open");
    let t = Instant::now();
    let (caller, rows) = fill(&db, n_inst, per_day);
    let fill_s = t.elapsed().as_secs_f64();
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
    let p = Params {
        from: NaiveDate::from_ymd_opt(2025, 1, 1).expect("d"),
        to: NaiveDate::from_ymd_opt(2025, 12, 31).expect("d"),
        township: None,
        with_codes: false,
    };
    let now = Utc
        .with_ymd_and_hms(2026, 1, 2, 0, 0, 0)
        .single()
        .expect("now");
    let mut conn = db.conn().expect("conn");
    let mut report = Vec::new();
    let mut floor = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let loaded: Vec<Columns> = containers::table
            .select((
                containers::institution_id,
                containers::sealed_at,
                containers::seal_weight_g,
                containers::collected_at,
            ))
            .load(&mut **conn)
            .expect("scan");
        assert_eq!(loaded.len(), rows);
        floor.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = reports::coverage(&mut conn, &caller, &p, now, tz).expect("report");
        report.push(t.elapsed().as_secs_f64());
        assert_eq!(r.total.registered as usize, n_inst);
    }
    let (r, f) = (median(report), median(floor));
    println!(
        "| {name} | {n_inst} | {rows} | {fill_s:.1} | {:.0} | {:.0} | {:.2} |",
        f * 1000.0,
        r * 1000.0,
        r / f
    );
}

fn main() {
    let n_inst = env_usize("REPORT_INSTITUTIONS", 250);
    let per_day = env_usize("REPORT_PER_DAY", 3);
    println!("coverage report over 2025 (365 days), median of 5");
    println!(
        "| database | institutions | containers | fill s | floor: read columns ms | report ms | report / floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("yifei-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    measure(
        "sqlite",
        &dir.join("r.db").display().to_string(),
        n_inst,
        per_day,
    );
    if std::env::var("REPORT_PG").is_ok_and(|v| v == "1") {
        let admin = std::env::var("YIFEI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("yifei_report_{}", std::process::id());
        let mut c = PgConnection::establish(&admin).expect("pg");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or_default();
        measure("postgres", &format!("{base}/{name}"), n_inst, per_day);
        let _ = c.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
