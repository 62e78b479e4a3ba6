//! Settings checked once at start (a bad value stops the binary, naming the variable), and the
//! files and answers people receive: CSV that Excel opens and cannot run, gzip when asked.

use std::io::Read;
use std::process::Command;

use serde_json::json;
use yifei_contract::Role;

use crate::common::{Backend, TestApp, TestDb};

/// Runs `yifei migrate` with one extra variable: (exit code, stderr).
fn migrate_with(db: &TestDb, var: &str, value: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .arg("migrate")
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_LOG", "warn")
        .env(var, value)
        .output()
        .expect("yifei ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_setting_stops_the_start_naming_the_variable_and_what_it_accepts() {
    let Some(db) = TestDb::create(Backend::Sqlite) else {
        return;
    };
    for (var, value, accepted) in [
        // A misspelt "off" used to mean "on".
        ("YIFEI_GROUP_COMMIT", "of", "on, off, true, false"),
        // Alert thresholds used to be re-read on every evaluation, a bad one becoming the
        // default without a word.
        (
            "YIFEI_ALERT_STORAGE_BREACH_H",
            "two days",
            "whole number from 1",
        ),
        ("YIFEI_ALERT_INACTIVE_DAYS", "0", "whole number from 1"),
        ("YIFEI_TRAVEL_CIRCUITY", "0.8", "number from 1 to 3"),
        ("YIFEI_TRAVEL_SPEED_KMH", "fast", "number from 5 to 120"),
        ("YIFEI_LOG_FORMAT", "jsonl", "text or json"),
        ("YIFEI_LOG", "info,[", "log filter"),
        ("YIFEI_SMTP_POLL_S", "0", "whole number >= 1"),
    ] {
        let (code, stderr) = migrate_with(&db, var, value);
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert!(
            stderr.contains(var) && stderr.contains(accepted),
            "{var}={value}: {stderr}"
        );
    }
    // The same variables with good values start.
    for (var, value) in [
        ("YIFEI_GROUP_COMMIT", "OFF"),
        ("YIFEI_ALERT_STORAGE_BREACH_H", "36"),
        ("YIFEI_TRAVEL_CIRCUITY", "1.25"),
        ("YIFEI_TRAVEL_SPEED_KMH", "42.5"),
        ("YIFEI_LOG_FORMAT", "json"),
    ] {
        let (code, stderr) = migrate_with(&db, var, value);
        assert_eq!(code, 0, "{var}={value}: {stderr}");
    }
}
