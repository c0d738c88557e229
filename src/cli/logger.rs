//! A small stderr logger: `2026-11-22T19:20:00Z INFO message`.
//!
//! The server logs a handful of lines per connection at most, so a direct
//! locked write to stderr is all it needs.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write as _;

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug | Level::Trace => "DEBUG",
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "{} {level} {}",
            crate::time::rfc3339(crate::time::now()),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Parses a level name: error, warn, info, debug (or off).
pub fn parse_level(s: &str) -> Result<LevelFilter, String> {
    match s.to_ascii_lowercase().as_str() {
        "off" => Ok(LevelFilter::Off),
        "error" => Ok(LevelFilter::Error),
        "warn" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        other => Err(format!(
            "unknown log level `{other}` (use error, warn, info, debug or off)"
        )),
    }
}

/// Installs the logger once; later calls only change the level.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&Stderr);
    log::set_max_level(level);
}
