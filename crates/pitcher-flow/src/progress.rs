//! Progress of long transfers, for whoever watches (the binary draws bars on a terminal).
//!
//! The engine knows nothing about terminals: it calls a [`ProgressSink`] when a download starts
//! and reports bytes as they are written. Sinks decide what to show (the binary only draws bars
//! for big files when stderr is a terminal).

/// Told about each download an instance runs.
pub trait ProgressSink: Send + Sync {
    /// A download of `name` starts at byte `offset` of `total` (when the size is known).
    fn begin(&self, name: &str, offset: u64, total: Option<u64>) -> Box<dyn TransferProgress>;
}

/// One download in progress. Dropped when the transfer ends, whatever the outcome.
pub trait TransferProgress: Send {
    /// `bytes` more were written.
    fn advance(&mut self, bytes: u64);
}

/// A sink that shows nothing.
pub struct NoProgress;

struct Nothing;

impl TransferProgress for Nothing {
    fn advance(&mut self, _bytes: u64) {}
}

impl ProgressSink for NoProgress {
    fn begin(&self, _name: &str, _offset: u64, _total: Option<u64>) -> Box<dyn TransferProgress> {
        Box::new(Nothing)
    }
}
