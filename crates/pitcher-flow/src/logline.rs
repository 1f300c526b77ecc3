//! The log lines operators grep for, in sr3's wording (reference 2.7).

use pitcher_core::{FileOpKind, Message, Timestamp};

fn short_id(m: &Message) -> String {
    m.identity
        .as_ref()
        .map(|i| i.value.chars().take(7).collect())
        .unwrap_or_default()
}

fn what(m: &Message) -> String {
    match m.file_op.as_ref().map(|f| (f.kind(), f)) {
        None => "a file".to_string(),
        Some((FileOpKind::Link, f)) => {
            format!("a link to {}", f.link.as_deref().unwrap_or(""))
        }
        Some((FileOpKind::Rename, f)) => {
            format!("a rename {}", f.rename.as_deref().unwrap_or(""))
        }
        Some((k, _)) => format!("a {}", k.as_str()),
    }
}

/// `accepted: (lag: 1.23 ) exchange: x subtopic: a.b a file with baseUrl: b relPath: r id: 1234567 size: n`
pub fn accepted(m: &Message, now: &Timestamp) {
    tracing::info!(
        "accepted: (lag: {:.2} ) exchange: {} subtopic: {} {} with baseUrl: {} relPath: {} id: {} size: {}",
        m.lag(now),
        m.local.exchange.as_deref().unwrap_or(""),
        m.local
            .subtopic
            .as_ref()
            .map(|s| s.join("."))
            .unwrap_or_default(),
        what(m),
        m.base_url,
        m.rel_path,
        short_id(m),
        m.size.map(|s| s.to_string()).unwrap_or_default(),
    );
}

/// `<relPath> rejected: <code> <reason>`
pub fn rejected(m: &Message, code: u16, reason: &str) {
    tracing::info!("{} rejected: {code} {reason}", m.rel_path);
}

/// `<verb> ok: <path>`
pub fn work_ok(verb: &str, path: &str) {
    tracing::info!("{verb} ok: {path}");
}

/// `posted to exchange: x topic: t a file with baseUrl: b relPath: r size: n id: 1234567`
pub fn posted(m: &Message, exchange: &str, topic: &str) {
    let x = if topic.starts_with(exchange) {
        String::new()
    } else {
        format!("to exchange: {exchange} ")
    };
    tracing::info!(
        "posted {x}topic: {topic} {} with baseUrl: {} relPath: {} size: {} id: {}",
        what(m),
        m.base_url,
        m.rel_path,
        m.size.map(|s| s.to_string()).unwrap_or_default(),
        short_id(m),
    );
}
