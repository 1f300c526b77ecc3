//! Logging set-up: `tracing` to stderr, level from `--log-level` (or `RUST_LOG`); or, for
//! instances launched by `pitcher start`, to their own rotating log file (see [`crate::logfile`]).

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::logfile::{RotatingFile, Rotation};

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"))
}

pub fn init(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(|| crate::progress::LogWriter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Log to `path`, rotated as `rotation` says; stdout and stderr are pointed at it too. If the
/// file cannot be opened, says so on stderr and logs to stderr instead.
pub fn init_file(level: &str, path: &Path, rotation: Rotation) {
    match RotatingFile::open(path, rotation, true) {
        Ok(file) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter(level))
                .with_writer(Mutex::new(file))
                .with_target(false)
                .with_ansi(false)
                .try_init();
        }
        Err(e) => {
            eprintln!(
                "pitcher: cannot open log file {}: {e}; logging to stderr",
                path.display()
            );
            init(level);
        }
    }
}
