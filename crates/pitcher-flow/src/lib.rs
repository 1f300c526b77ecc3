//! The flow engine: gather -> filter -> work -> post -> acknowledge (DESIGN "The flow"), the
//! same loop for every component; components differ by their option defaults.

pub mod engine;
pub mod error;
pub mod filter;
pub mod gather;
pub mod item;
pub mod logline;
pub mod metrics;
pub mod post;
pub mod progress;
pub mod retry;
pub mod work;
mod xattrs;

pub use engine::{Instance, RunSummary, StopReason, run};
pub use error::FlowError;
pub use metrics::Metrics;
pub use progress::{NoProgress, ProgressSink, TransferProgress};
