//! The checked-in contract and the migrations stay in step with the code.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `mobile-contract/openapi.json` is what the server serves. Regenerate it with
/// `YIFEI_BLESS=1 cargo test -p yifei-tests --test api contract` after an intended change.
#[test]
fn openapi_json_is_in_sync() {
    let path = repo().join("mobile-contract/openapi.json");
    let generated = yifei_api::http::openapi::document_json();
    if std::env::var("YIFEI_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "mobile-contract/openapi.json differs from the code's contract; if the change is \
         intended, run `YIFEI_BLESS=1 cargo test -p yifei-tests --test api contract` and commit it"
    );
}

/// Both backends must carry the same migrations, or one of them drifts.
#[test]
fn migration_trees_match() {
    let names = |b: &str| {
        let mut v: Vec<String> = std::fs::read_dir(repo().join("migrations").join(b))
            .expect("migrations folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (s, p) = (names("sqlite"), names("postgres"));
    assert!(!s.is_empty());
    assert_eq!(s, p);
}
