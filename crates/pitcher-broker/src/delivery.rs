//! What flows through the broker interface: received messages with their ack tokens, and
//! messages to publish.

use std::time::Duration;

use pitcher_core::{Encoded, Message};

/// Identifies one received message for acknowledgement. A token is tied to the connection it came
/// from: after a reconnect, old tokens are stale (the broker redelivers those messages) and acking
/// them is skipped with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken {
    pub(crate) connection: u64,
    pub(crate) tag: u64,
}

/// A decoded message received from a broker.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: Message,
    pub token: AckToken,
    /// The broker says it delivered this message before (to this or another consumer).
    pub redelivered: bool,
    /// Size of the body on the wire.
    pub body_len: usize,
}

/// A message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub exchange: String,
    /// The AMQP routing key (`v03.a.b`) or MQTT topic (`xpublic/v03/a/b`).
    pub topic: String,
    pub encoded: Encoded,
    /// AMQP delivery_mode 2 (sr3 option `persistent`, on by default).
    pub persistent: bool,
}

/// The queue a consumer reads, and how to set it up.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    /// Declare the queue (sr3 `queueDeclare`).
    pub declare: bool,
    /// Bind it (sr3 `queueBind`).
    pub bind: bool,
    pub durable: bool,
    pub auto_delete: bool,
    /// Delete the queue after this long unused (sr3 `expire`; AMQP x-expires).
    pub expire: Option<Duration>,
    /// Drop messages older than this (sr3 `messageAgeMax`; AMQP x-message-ttl).
    pub message_ttl: Option<Duration>,
    /// Subscriptions: exchange and topic words (topic prefix then subtopic), e.g.
    /// `("xpublic", ["v03", "*", "WXO-DD", "#"])`. AMQP joins the words with `.`, MQTT with `/`.
    pub bindings: Vec<Binding>,
    /// The topic prefix, to compute each message's subtopic (e.g. ["v03"]).
    pub topic_prefix: Vec<String>,
}

/// One subscription of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub exchange: String,
    pub words: Vec<String>,
}

impl Binding {
    pub fn new(exchange: impl Into<String>, words: &[&str]) -> Self {
        Binding {
            exchange: exchange.into(),
            words: words.iter().map(|w| (*w).to_string()).collect(),
        }
    }

    /// The AMQP binding key (`v03.a.*.#`).
    pub fn amqp_key(&self) -> String {
        self.words.join(".")
    }

    /// The MQTT topic filter (`xpublic/v03/a/+/#`).
    pub fn mqtt_filter(&self) -> String {
        std::iter::once(self.exchange.as_str())
            .chain(self.words.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Counters a consumer keeps (sr3's `rxGoodCount`, `rxBadCount`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub received: u64,
    pub bad: u64,
    pub bytes: u64,
    pub acked: u64,
    pub stale_acks: u64,
    pub reconnects: u64,
}
