//! # pitcher-core
//!
//! The pure heart of Pitcher: the notification message model of MetPX-Sarracenia v3 (sr3) and its
//! wire codecs, topics, content identity and time strings. No I/O, no async; every decoder returns a
//! typed error on bad input and never panics (the decoders are fuzzed: see `fuzz/`).
//!
//! * [`Message`] — typed v03 fields, unknown fields passed through, local-only fields.
//! * [`v03`] / [`v02`] — encode and decode the two sr3 wire formats; [`format`] picks one.
//! * [`topic`] — AMQP and MQTT topic derivation, escaping, parsing and wildcard matching.
//! * [`identity`] — checksum methods and streaming hashers.
//! * [`time`] — lenient sr3 time strings.

pub mod error;
pub mod format;
pub mod identity;
pub mod json_style;
pub mod message;
pub mod time;
pub mod topic;
pub mod v02;
pub mod v03;

pub use error::{DecodeError, EncodeError, TimeError};
pub use format::{DecodeLimits, Encoded, Format, Headers};
pub use identity::{ChecksumAlgorithm, ContentHasher, Identity, IdentityMethod, IdentitySpec};
pub use message::{
    BlockEntry, Blocks, Content, FileOp, FileOpKind, LocalFields, Message, Mode, Report, join_url,
};
pub use time::Timestamp;
