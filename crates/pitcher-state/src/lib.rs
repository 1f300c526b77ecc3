//! # pitcher-state
//!
//! The per-instance state of a flow on disk:
//!
//! * [`nodupe`] — the duplicate-suppression cache (sr3 `flowcb/nodupe/disk.py`): the key and path
//!   rules of sr3's `deriveKey`, a bounded in-memory cache, and the `recent_files_NNN.cache` file in
//!   sr3's own line format.
//! * [`spool`] — the retry spool: a durable FIFO of opaque payloads (append-only segment files with
//!   checksummed, length-prefixed records plus a done-log), at-least-once across `kill -9`.
//!
//! Everything here is synchronous and small per call; see the crate README for the file formats,
//! the guarantees and the limits.

mod crc;
mod error;
mod fsutil;
pub mod nodupe;
pub mod spool;

pub use error::StateError;
pub use nodupe::{
    DEFAULT_NODUPE_MAX_ENTRIES, NodupeBasis, NodupeCache, NodupeKey, NodupeStats, NodupeVerdict,
    derive_key,
};
pub use spool::{EntryId, Spool, SpoolEntry, SpoolStats, spool_len};

/// The nodupe housekeeping figures (the same type as [`NodupeStats`]).
pub type HousekeepingStats = NodupeStats;

/// The current time as Unix seconds (what the `now` arguments of this crate expect).
pub fn unix_now() -> f64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    fn send_sync<T: Send + Sync>() {}

    /// The flow holds these across `.await`s.
    #[test]
    fn state_types_are_send_and_sync() {
        send_sync::<super::NodupeCache>();
        send_sync::<super::Spool>();
        send_sync::<super::StateError>();
    }
}
