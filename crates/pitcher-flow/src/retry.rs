//! What goes into the retry spools (pitcher-state keeps opaque payloads; this decides them).
//!
//! * work retries: the message as received (v03 JSON) plus where it came from, so it is filtered
//!   and placed again when it comes back (sr3 `retry_refilter` behaviour: options may have
//!   changed) and bypasses nodupe;
//! * post retries: the exact outgoing message (exchange, topic, body, headers).

use pitcher_broker::Outgoing;
use pitcher_core::{DecodeLimits, Encoded, Format, Headers, Message};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct WorkPayload {
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exchange: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subtopic: Option<Vec<String>>,
    body: String,
}

/// Serialize a message for the work retry spool.
pub fn work_payload(m: &Message) -> Result<Vec<u8>, String> {
    let enc = pitcher_core::format::encode(Format::V03, m).map_err(|e| e.to_string())?;
    let p = WorkPayload {
        v: 1,
        exchange: m.local.exchange.clone(),
        topic: m.local.topic.clone(),
        subtopic: m.local.subtopic.clone(),
        body: enc.body,
    };
    serde_json::to_vec(&p).map_err(|e| e.to_string())
}

/// Read back a work retry entry.
pub fn work_message(payload: &[u8]) -> Result<Message, String> {
    let p: WorkPayload = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let mut m = pitcher_core::format::decode(
        Format::V03,
        p.body.as_bytes(),
        &Headers::new(),
        DecodeLimits::default(),
    )
    .map_err(|e| e.to_string())?;
    m.local.exchange = p.exchange;
    m.local.topic = p.topic;
    m.local.subtopic = p.subtopic;
    m.local.is_retry = true;
    Ok(m)
}

#[derive(Serialize, Deserialize)]
struct PostPayload {
    v: u32,
    exchange: String,
    topic: String,
    format: String,
    body: String,
    #[serde(default)]
    headers: Headers,
    persistent: bool,
}

/// Serialize an unconfirmed publish for the post retry spool.
pub fn post_payload(o: &Outgoing) -> Result<Vec<u8>, String> {
    let format = if o.encoded.content_type == Format::V02.content_type() {
        "v02"
    } else {
        "v03"
    };
    serde_json::to_vec(&PostPayload {
        v: 1,
        exchange: o.exchange.clone(),
        topic: o.topic.clone(),
        format: format.into(),
        body: o.encoded.body.clone(),
        headers: o.encoded.headers.clone(),
        persistent: o.persistent,
    })
    .map_err(|e| e.to_string())
}

/// Read back a post retry entry.
pub fn post_outgoing(payload: &[u8]) -> Result<Outgoing, String> {
    let p: PostPayload = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let format = Format::from_name(&p.format).unwrap_or(Format::V03);
    Ok(Outgoing {
        exchange: p.exchange,
        topic: p.topic,
        encoded: Encoded {
            body: p.body,
            headers: p.headers,
            content_type: format.content_type(),
        },
        persistent: p.persistent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_round_trip() {
        let mut m = Message::new("http://h/", "a/b/c.txt");
        m.size = Some(3);
        m.local.exchange = Some("xpublic".into());
        m.local.subtopic = Some(vec!["a".into(), "b".into()]);
        let back = work_message(&work_payload(&m).expect("enc")).expect("dec");
        assert_eq!(back.rel_path, "a/b/c.txt");
        assert_eq!(back.size, Some(3));
        assert_eq!(back.local.exchange.as_deref(), Some("xpublic"));
        assert!(back.local.is_retry);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(work_message(b"\x00\x01").is_err());
        assert!(post_outgoing(b"{}").is_err());
    }
}
