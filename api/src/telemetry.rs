//! Logging: human-readable by default, JSON lines with `YIFEI_LOG_FORMAT=json`; level from
//! `YIFEI_LOG` (or `RUST_LOG`), default `info`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once (a second call is a no-op, as tests need).
pub fn init() {
    let filter = std::env::var("YIFEI_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("YIFEI_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
