//! Errors that stop a flow instance (everything per-message is a report code, not an error).

use std::path::PathBuf;

/// Why a flow instance could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The configuration cannot run as written.
    #[error("{flow}: {reason}")]
    Config {
        /// `component/config`.
        flow: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// The instance's state on disk (retry spool, nodupe cache, metrics) failed.
    #[error("{flow}: state: {source}")]
    State {
        /// `component/config`.
        flow: String,
        /// The failure.
        #[source]
        source: pitcher_state::StateError,
    },
    /// A local file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The transfer client could not be built.
    #[error("{flow}: {source}")]
    Transfer {
        /// `component/config`.
        flow: String,
        /// The failure.
        #[source]
        source: pitcher_transfer::TransferError,
    },
}
