//! Duplicate suppression (sr3 `nodupe`, reference §5.1).
//!
//! * [`derive_key`] computes the `(key, path)` pair sr3 would for a message;
//! * [`NodupeCache`] answers "seen within `nodupe_ttl`?" and keeps the cache file
//!   (`recent_files_NNN.cache`) in sr3's format, so a cache written by either can be read by the
//!   other.
//!
//! The message-age window (`fileAgeMax`/`fileAgeMin`, codes 406/425) and the bypass for retried
//! messages are the flow's business, not this module's.

mod cache;
mod key;
mod line;

pub use cache::{DEFAULT_NODUPE_MAX_ENTRIES, NodupeCache, NodupeStats, NodupeVerdict};
pub use key::{NodupeBasis, NodupeKey, derive_key, standard_key};
pub use line::{format_line, parse_line, quote, unquote};
