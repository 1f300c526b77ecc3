//! Wire formats and the choice between them on receive.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::message::Message;
use crate::{v02, v03};

/// The largest message body accepted by default (1 MiB). sr3 messages are a few hundred bytes;
/// inlined content (`inlineByteMax`, default 4096) is the only thing that makes them bigger.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// A notification message wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON body, `application/json`.
    V03,
    /// Text body `"<pubTime> <baseUrl> <relPath>"` plus headers, `text/plain`.
    V02,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::V03 => "application/json",
            Format::V02 => "text/plain",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::V03 => "v03",
            Format::V02 => "v02",
        }
    }

    /// `v03`/`v02` (the `post_format` option values).
    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "v03" => Some(Format::V03),
            "v02" => Some(Format::V02),
            _ => None,
        }
    }

    /// Picks the decoder as sr3 does: by content type; without one, by the topic (`v02.`) or by
    /// sniffing the body (v02 bodies have no `{` in their first characters).
    pub fn detect(
        content_type: Option<&str>,
        body: &[u8],
        topic: Option<&str>,
    ) -> Result<Format, DecodeError> {
        let ct = content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match ct.as_deref() {
            Some("application/json") => return Ok(Format::V03),
            Some("text/plain") => return Ok(Format::V02),
            Some("") | None => {}
            Some(other) => return Err(DecodeError::UnknownFormat(other.to_string())),
        }
        if topic.is_some_and(|t| t.starts_with("v02.") || t.contains("/v02/")) {
            return Ok(Format::V02);
        }
        let head = &body[..body.len().min(5)];
        if head.contains(&b'{') {
            Ok(Format::V03)
        } else {
            Ok(Format::V02)
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// v02 headers (AMQP application headers / MQTT user properties), by name.
pub type Headers = BTreeMap<String, String>;

/// A message as it travels: body, headers and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub body: String,
    pub headers: Headers,
    pub content_type: &'static str,
}

/// Limits applied while decoding untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_body: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// Decodes a received message in the given format.
pub fn decode(
    format: Format,
    body: &[u8],
    headers: &Headers,
    limits: DecodeLimits,
) -> Result<Message, DecodeError> {
    match format {
        Format::V03 => v03::decode_with(body, limits),
        Format::V02 => v02::decode_with(body, headers, limits),
    }
}

/// Encodes a message in the given format.
pub fn encode(format: Format, msg: &Message) -> Result<Encoded, EncodeError> {
    match format {
        Format::V03 => Ok(Encoded {
            body: v03::encode(msg),
            headers: Headers::new(),
            content_type: Format::V03.content_type(),
        }),
        Format::V02 => {
            let (body, headers) = v02::encode(msg)?;
            Ok(Encoded {
                body,
                headers,
                content_type: Format::V02.content_type(),
            })
        }
    }
}

/// Checks size and UTF-8 of a body.
pub(crate) fn body_text(body: &[u8], limits: DecodeLimits) -> Result<&str, DecodeError> {
    if body.len() > limits.max_body {
        return Err(DecodeError::TooLarge {
            size: body.len(),
            limit: limits.max_body,
        });
    }
    std::str::from_utf8(body).map_err(|e| DecodeError::NotUtf8(e.valid_up_to()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(
            Format::detect(Some("application/json"), b"x", None).unwrap(),
            Format::V03
        );
        assert_eq!(
            Format::detect(Some("text/plain; charset=utf-8"), b"{", None).unwrap(),
            Format::V02
        );
        assert_eq!(Format::detect(None, b"{\"a\"", None).unwrap(), Format::V03);
        assert_eq!(
            Format::detect(None, b"  {\"a\"", Some("v02.post.a")).unwrap(),
            Format::V02
        );
        assert_eq!(
            Format::detect(None, b"2026 http://x a", None).unwrap(),
            Format::V02
        );
        assert!(Format::detect(Some("image/png"), b"{", None).is_err());
    }
}
