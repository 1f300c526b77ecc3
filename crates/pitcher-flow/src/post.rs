//! The post step: rewrite accepted messages for re-announcing (reference 2.3 `work()` rewrite)
//! and build what the publisher sends.

use pitcher_broker::{AnyPublisher, Outgoing};
use pitcher_config::Options;
use pitcher_core::{Format, Message};

use crate::item::Item;

/// Settings of the post step (from the options).
#[derive(Debug, Clone)]
pub struct PostSettings {
    /// Exchanges to publish to (several with `post_exchangeSplit`).
    pub exchanges: Vec<String>,
    /// First topic words.
    pub topic_prefix: Vec<String>,
    /// Literal topic (`post_topic`).
    pub topic: Option<String>,
    /// `topicCopy`: reuse the received topic.
    pub topic_copy: bool,
    /// Wire format.
    pub format: Format,
    /// `sourceFromExchange`.
    pub source_from_exchange: bool,
    /// `source` to set on posted messages.
    pub source: Option<String>,
    /// Delivery mode 2.
    pub persistent: bool,
}

impl PostSettings {
    /// From the options; `None` when there is no post exchange.
    pub fn from_options(o: &Options) -> Option<Self> {
        let exchanges = o.post_exchanges();
        if exchanges.is_empty() {
            return None;
        }
        let topic_prefix = o
            .post_topic_prefix
            .clone()
            .unwrap_or_else(|| o.topic_prefix.clone());
        let format = o
            .post_format
            .as_deref()
            .and_then(Format::from_name)
            .or_else(|| topic_prefix.first().and_then(|w| Format::from_name(w)))
            .unwrap_or(Format::V03);
        Some(PostSettings {
            exchanges,
            topic_prefix,
            topic: o.post_topic.clone(),
            topic_copy: o.topic_copy,
            format,
            source_from_exchange: o.source_from_exchange,
            source: o.source.clone(),
            persistent: o.persistent,
        })
    }
}

/// Rewrite an item's message for posting: new baseUrl/relPath/subtopic from its placement,
/// `retrievePath` dropped when the file was downloaded here, `source` set as configured.
pub fn rewrite(item: &mut Item, s: Option<&PostSettings>) {
    let m = &mut item.msg;
    if let Some(p) = &item.placement {
        if m.base_url != p.new_base_url || m.rel_path != p.new_rel_path {
            m.base_url.clone_from(&p.new_base_url);
            m.rel_path.clone_from(&p.new_rel_path);
            if item.downloaded {
                m.retrieve_path = None;
            }
        }
        m.local.other.insert(
            "new_subtopic".into(),
            serde_json::Value::from(p.new_subtopic.clone()),
        );
    }
    if item.downloaded {
        m.retrieve_path = None;
    }
    if let Some(serde_json::Value::String(old)) = m.local.other.remove(crate::work::OLD_LOCAL_PATH)
        && let Some(op) = m.file_op.as_mut()
        && op.rename.is_some()
    {
        op.rename = Some(old);
    }
    let Some(s) = s else { return };
    if s.source_from_exchange
        && let Some(x) = &m.local.exchange
        && let Some(rest) = x.strip_prefix("xs_")
    {
        let user = rest.split('_').next().unwrap_or(rest);
        m.source = Some(user.to_string());
    } else if let Some(src) = &s.source
        && m.source.is_none()
    {
        m.source = Some(src.clone());
    }
}

fn subtopic_words(m: &Message) -> Vec<String> {
    if let Some(serde_json::Value::Array(a)) = m.local.other.get("new_subtopic") {
        return a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    pitcher_core::topic::rel_path_dirs(&m.rel_path)
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The exchange for `m`: with `post_exchangeSplit`, chosen from the identity as sr3 does (sum of
/// the identity's bytes modulo the number of exchanges), so copies of one file meet in one place.
pub fn exchange_for<'a>(s: &'a PostSettings, m: &Message) -> &'a str {
    if s.exchanges.len() > 1 {
        let key = m
            .identity
            .as_ref()
            .map(|i| i.value.as_str())
            .unwrap_or(&m.rel_path);
        let sum: u64 = key.bytes().map(u64::from).sum();
        let i = usize::try_from(sum % s.exchanges.len() as u64).unwrap_or(0);
        &s.exchanges[i]
    } else {
        &s.exchanges[0]
    }
}

/// Build the outgoing message.
pub fn outgoing(
    s: &PostSettings,
    publisher: &AnyPublisher,
    m: &Message,
) -> Result<Outgoing, String> {
    let exchange = exchange_for(s, m).to_string();
    let topic = if let Some(t) = &s.topic {
        t.clone()
    } else if s.topic_copy
        && let Some(words) = &m.local.topic
    {
        publisher.topic::<&str, String>(&exchange, &[], words)
    } else {
        publisher.topic(&exchange, &s.topic_prefix, &subtopic_words(m))
    };
    let encoded = pitcher_core::format::encode(s.format, m).map_err(|e| e.to_string())?;
    Ok(Outgoing {
        exchange,
        topic,
        encoded,
        persistent: s.persistent,
    })
}
