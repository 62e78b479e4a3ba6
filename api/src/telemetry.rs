//! Logging: human-readable by default, JSON lines with `YIFEI_LOG_FORMAT=json`; level from
//! `YIFEI_LOG` (or `RUST_LOG`), default `info` (read and checked in `config.rs`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once (a second call is a no-op, as tests need).
pub fn init(log: &crate::config::LogSettings) {
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = log.json;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
