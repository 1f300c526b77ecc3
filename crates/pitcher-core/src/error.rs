//! Error types of pitcher-core. Every decoder failure is one of these; nothing panics.

use thiserror::Error;

/// A time string that is not an sr3 time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("invalid time string {0:?}: expected YYYYMMDDTHHMMSS[.fraction]")]
    Invalid(String),
    #[error("time out of range")]
    OutOfRange,
}

/// Why a notification message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("message body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("message body is not valid UTF-8 (at byte {0})")]
    NotUtf8(usize),
    #[error("message body is not valid JSON: {0}")]
    NotJson(String),
    #[error("message body is not a JSON object")]
    NotAnObject,
    #[error("mandatory field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} has the wrong type: expected {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("field {field}: {source}")]
    BadTime { field: String, source: TimeError },
    #[error("field {field} has an invalid value {value:?}: {why}")]
    BadValue {
        field: String,
        value: String,
        why: &'static str,
    },
    #[error(
        "v02 body should have three space-separated fields (pubTime baseUrl relPath), got {0:?}"
    )]
    BadV02Body(String),
    #[error("unsupported message format (content type {0:?})")]
    UnknownFormat(String),
}

impl DecodeError {
    pub(crate) fn wrong_type(field: &str, expected: &'static str) -> Self {
        DecodeError::WrongType {
            field: field.to_string(),
            expected,
        }
    }

    pub(crate) fn bad_value(field: &str, value: &str, why: &'static str) -> Self {
        let mut end = value.len().min(80);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        DecodeError::BadValue {
            field: field.to_string(),
            value: value[..end].to_string(),
            why,
        }
    }
}

/// Why a message could not be encoded in the requested format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("v02 header {name} is {len} characters long; AMQP headers are limited to 255")]
    HeaderTooLong { name: String, len: usize },
    #[error("v02 cannot carry {0}")]
    NotRepresentable(&'static str),
}
