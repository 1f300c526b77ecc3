//! Consuming from a RabbitMQ queue: declare and bind (when allowed), `basic.qos` prefetch,
//! `basic.consume`, decode, ack after the caller's work is durable, reconnect with back-off.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use pitcher_core::topic::{amqp_words, strip_prefix};
use pitcher_core::{DecodeLimits, Format, Headers, format};
use tracing::{debug, info, warn};

use super::{connect, lost, scrub, setup_timeout, short};
use crate::backoff::Backoff;
use crate::batching::batch_item;
use crate::delivery::{AckToken, ConsumerStats, QueueSpec, Received};
use crate::endpoint::Endpoint;
use crate::error::BrokerError;

struct Live {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

/// A consumer of one AMQP queue. Instances of a flow share the queue; the broker hands each
/// message to one of them.
pub struct AmqpConsumer {
    endpoint: Endpoint,
    queue: QueueSpec,
    prefetch: u16,
    timeout: Duration,
    limits: DecodeLimits,
    name: String,
    live: Option<Live>,
    generation: u64,
    /// Delivery tags received on the current connection and not yet acknowledged. When an
    /// [`ack_all`](Self::ack_all) covers the lowest of them, that run goes out as one
    /// `multiple` ack (one frame instead of one per message).
    unacked: BTreeSet<u64>,
    /// The highest delivery tag received on the current connection. The broker numbers a
    /// channel's deliveries 1, 2, 3 ...; a tag that is not the next one means a delivery never
    /// reached this consumer, and a `multiple` ack could then cover it unseen: multiple acks
    /// are off for the rest of that connection.
    last_tag: u64,
    tags_in_sequence: bool,
    backoff: Backoff,
    stats: ConsumerStats,
}

impl AmqpConsumer {
    /// A consumer that connects on first use (and after any loss) with capped back-off.
    /// `timeout` bounds every network call; `name` shows in the broker's connection list.
    pub fn new(
        endpoint: Endpoint,
        queue: QueueSpec,
        prefetch: u16,
        timeout: Duration,
        name: impl Into<String>,
    ) -> Self {
        AmqpConsumer {
            endpoint,
            queue,
            prefetch: prefetch.max(1),
            timeout,
            limits: DecodeLimits::default(),
            name: name.into(),
            live: None,
            generation: 0,
            unacked: BTreeSet::new(),
            last_tag: 0,
            tags_in_sequence: true,
            backoff: Backoff::default(),
            stats: ConsumerStats::default(),
        }
    }

    /// Sets the decoder limits (largest accepted body).
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Connects now, declaring and binding the queue: the error says why it failed.
    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        if self.live.is_none() {
            let live = self.open().await?;
            self.generation += 1;
            self.unacked.clear();
            self.last_tag = 0;
            self.tags_in_sequence = true;
            self.live = Some(live);
            self.backoff.succeeded();
            info!(broker = %self.endpoint, queue = %self.queue.name, "consuming");
        }
        Ok(())
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn queue(&self) -> &QueueSpec {
        &self.queue
    }

    pub fn is_connected(&self) -> bool {
        self.live
            .as_ref()
            .is_some_and(|l| l.connection.status().connected())
    }

    pub fn stats(&self) -> &ConsumerStats {
        &self.stats
    }

    async fn open(&self) -> Result<Live, BrokerError> {
        let broker = self.endpoint.masked();
        let t = setup_timeout(self.timeout);
        let connection = connect(&self.endpoint, t, &self.name).await?;
        let step = |what: &'static str| {
            let broker = broker.clone();
            move |e: lapin::Error| BrokerError::Refused {
                broker,
                what: what.to_string(),
                reason: scrub(&self.endpoint, &e.to_string()),
            }
        };
        let channel = timed(t, &broker, "opening a channel", connection.create_channel())
            .await?
            .map_err(step("opening a channel"))?;
        timed(
            t,
            &broker,
            "basic.qos",
            channel.basic_qos(self.prefetch, BasicQosOptions { global: false }),
        )
        .await?
        .map_err(step("setting prefetch"))?;
        let q = short(&self.queue.name)?;
        if self.queue.declare {
            let mut args = FieldTable::default();
            if let Some(e) = self.queue.expire {
                args.insert("x-expires".into(), AMQPValue::LongLongInt(millis(e)));
            }
            if let Some(ttl) = self.queue.message_ttl {
                args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(millis(ttl)));
            }
            let opts = QueueDeclareOptions {
                durable: self.queue.durable,
                auto_delete: self.queue.auto_delete,
                ..Default::default()
            };
            timed(
                t,
                &broker,
                "queue.declare",
                channel.queue_declare(q.clone(), opts, args),
            )
            .await?
            .map_err(step("declaring the queue"))?;
        }
        if self.queue.bind {
            for binding in &self.queue.bindings {
                let (exchange, key) = (&binding.exchange, binding.amqp_key());
                timed(
                    t,
                    &broker,
                    "queue.bind",
                    channel.queue_bind(
                        q.clone(),
                        short(exchange)?,
                        short(&key)?,
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    ),
                )
                .await?
                .map_err(|e| BrokerError::Refused {
                    broker: broker.clone(),
                    what: format!(
                        "binding queue {} to exchange {exchange} with {key}",
                        self.queue.name
                    ),
                    reason: scrub(&self.endpoint, &e.to_string()),
                })?;
            }
        }
        let consumer = timed(
            t,
            &broker,
            "basic.consume",
            channel.basic_consume(
                q,
                short(&self.name)?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?
        .map_err(step("consuming from the queue"))?;
        Ok(Live {
            connection,
            channel,
            consumer,
        })
    }

    /// Ensures a connection, respecting the back-off; logs each failed attempt once.
    async fn ensure_connected(&mut self, wait: Duration) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| !l.connection.status().connected())
        {
            self.drop_connection("the connection closed");
        }
        if self.live.is_some() {
            return Ok(());
        }
        self.backoff
            .wait_for_attempt(wait, &self.endpoint.masked())
            .await?;
        match self.connect().await {
            Ok(()) => {
                if self.generation > 1 {
                    self.stats.reconnects += 1;
                    info!(broker = %self.endpoint, "reconnected");
                }
                Ok(())
            }
            Err(e) => {
                self.backoff.connection_failed(&e);
                Err(e)
            }
        }
    }

    fn drop_connection(&mut self, why: &str) {
        if self.live.take().is_some() {
            warn!(broker = %self.endpoint, "lost connection: {why}; unacknowledged messages will be redelivered");
            self.backoff.failed();
        }
    }

    /// Receives up to `max` messages, waiting up to `wait` for the first one. Malformed messages
    /// are logged, acknowledged and dropped (counted in `stats().bad`).
    pub async fn receive(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Received>, BrokerError> {
        self.ensure_connected(wait).await?;
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut failure = None;
        if let Some(live) = self.live.as_mut() {
            let mut first = true;
            while out.len() < max {
                let Some(next) = batch_item(first, wait, live.consumer.next()).await else {
                    break;
                };
                first = false;
                let delivery = match next {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => {
                        failure = Some(lost(&self.endpoint, &e));
                        break;
                    }
                    None => {
                        failure = Some(BrokerError::ConnectionLost {
                            broker: self.endpoint.masked(),
                            reason: "the consumer was cancelled".into(),
                        });
                        break;
                    }
                };
                let token = AckToken {
                    connection: self.generation,
                    tag: delivery.delivery_tag,
                };
                if delivery.delivery_tag != self.last_tag + 1 && self.tags_in_sequence {
                    warn!(
                        broker = %self.endpoint,
                        "delivery tag {} after {}: acknowledging one by one on this connection",
                        delivery.delivery_tag,
                        self.last_tag
                    );
                    self.tags_in_sequence = false;
                }
                self.last_tag = self.last_tag.max(delivery.delivery_tag);
                self.unacked.insert(delivery.delivery_tag);
                self.stats.bytes += delivery.data.len() as u64;
                match decode(&delivery, &self.queue.topic_prefix, self.limits) {
                    Ok(mut message) => {
                        message.local.exchange = Some(delivery.exchange.as_str().to_string());
                        self.stats.received += 1;
                        out.push(Received {
                            message,
                            token,
                            redelivered: delivery.redelivered,
                            body_len: delivery.data.len(),
                        });
                    }
                    Err(reason) => {
                        warn!(
                            exchange = delivery.exchange.as_str(),
                            topic = delivery.routing_key.as_str(),
                            "rejected: 417 invalid message ({reason}); acknowledged and dropped"
                        );
                        bad.push(token);
                    }
                }
            }
        }
        for token in bad {
            self.stats.bad += 1;
            self.ack(token).await?;
        }
        if let Some(e) = failure {
            self.drop_connection(&e.to_string());
            if out.is_empty() {
                return Err(e);
            }
        }
        Ok(out)
    }

    /// Acknowledges a message whose work is durable. A token from an earlier connection is
    /// skipped with a warning: the broker has already requeued that message.
    pub async fn ack(&mut self, token: AckToken) -> Result<(), BrokerError> {
        self.ack_all(std::slice::from_ref(&token)).await
    }

    /// Acknowledges several messages at once. The lowest outstanding delivery tags that
    /// `tokens` covers without a gap go out as one `multiple` ack; the others are handed to
    /// lapin together (one cross-thread round trip for the lot, not one per message). A tag
    /// acknowledged already is skipped (a second ack of it would close the channel). Stale
    /// tokens are dropped as in [`ack`](Self::ack). The first failure drops the connection and
    /// is returned; the broker redelivers whatever was not acknowledged.
    pub async fn ack_all(&mut self, tokens: &[AckToken]) -> Result<(), BrokerError> {
        let stale = tokens
            .iter()
            .filter(|t| t.connection != self.generation || self.live.is_none())
            .count();
        if stale > 0 {
            self.stats.stale_acks += stale as u64;
            if stale == 1 {
                warn!(broker = %self.endpoint, "stale acknowledgement dropped (from a previous connection; the broker redelivers that message)");
            } else {
                warn!(broker = %self.endpoint, "{stale} stale acknowledgements dropped (from a previous connection; the broker redelivers those messages)");
            }
        }
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        let wanted: BTreeSet<u64> = tokens
            .iter()
            .filter(|t| t.connection == self.generation)
            .map(|t| t.tag)
            .collect();
        let plan = AckPlan::new(&self.unacked, &wanted, self.tags_in_sequence);
        if plan.already > 0 {
            debug!(broker = %self.endpoint, "{} acknowledgement(s) of messages acknowledged already skipped", plan.already);
        }
        let broker = self.endpoint.masked();
        let timeout = self.timeout;
        let multiple = plan.through.map(|(tag, _)| {
            timed(
                timeout,
                &broker,
                "basic.ack",
                live.channel
                    .basic_ack(tag, BasicAckOptions { multiple: true }),
            )
        });
        let singles = plan.singles.iter().map(|&tag| {
            timed(
                timeout,
                &broker,
                "basic.ack",
                live.channel.basic_ack(tag, BasicAckOptions::default()),
            )
        });
        let mut failure = None;
        let mut note = |r: Result<Result<(), lapin::Error>, BrokerError>| match r {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                failure.get_or_insert_with(|| lost(&self.endpoint, &e));
                false
            }
            Err(e) => {
                failure.get_or_insert(e);
                false
            }
        };
        let (multiple, singles) = futures_util::join!(
            async {
                match multiple {
                    Some(f) => Some(f.await),
                    None => None,
                }
            },
            futures_util::future::join_all(singles)
        );
        if let (Some(r), Some((through, covered))) = (multiple, plan.through)
            && note(r)
        {
            self.stats.acked += covered;
            self.unacked = self.unacked.split_off(&(through + 1));
        }
        for (r, tag) in singles.into_iter().zip(&plan.singles) {
            if note(r) {
                self.stats.acked += 1;
                self.unacked.remove(tag);
            }
        }
        match failure {
            None => Ok(()),
            Some(err) => {
                self.drop_connection(&err.to_string());
                Err(err)
            }
        }
    }

    /// Waits until the broker has handled everything sent on the channel so far. AMQP does
    /// not answer acknowledgements, and one still in flight when the connection drops is lost
    /// (its message is redelivered). A synchronous method is answered in order, so the reply to
    /// a basic.qos (with the same prefetch) sent after them means they were applied. Not
    /// connected: nothing to wait for.
    pub async fn barrier(&mut self) -> Result<(), BrokerError> {
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        let broker = self.endpoint.masked();
        let qos = live
            .channel
            .basic_qos(self.prefetch, BasicQosOptions { global: false });
        let result = match timed(self.timeout, &broker, "basic.qos", qos).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => lost(&self.endpoint, &e),
            Err(e) => e,
        };
        self.drop_connection(&result.to_string());
        Err(result)
    }

    /// Closes the connection; unacknowledged messages go back to the queue.
    pub async fn close(&mut self) {
        if let Some(live) = self.live.take() {
            let _ = tokio::time::timeout(
                setup_timeout(self.timeout),
                live.connection.close(200, "bye".into()),
            )
            .await;
        }
    }
}

/// How one [`AmqpConsumer::ack_all`] call goes out: `through` = (T, n) is one `multiple` ack
/// of the n outstanding tags up to T, all of which were asked for; `singles` are acked one by
/// one; `already` counts asked-for tags that are no longer outstanding.
#[derive(Debug, PartialEq, Eq)]
struct AckPlan {
    through: Option<(u64, u64)>,
    singles: Vec<u64>,
    already: usize,
}

impl AckPlan {
    /// `multiple`: whether a `multiple` ack may be used at all.
    fn new(unacked: &BTreeSet<u64>, wanted: &BTreeSet<u64>, multiple: bool) -> AckPlan {
        let mut through = None;
        let mut covered = 0;
        for tag in unacked.iter().take_while(|_| multiple) {
            if !wanted.contains(tag) {
                break;
            }
            covered += 1;
            through = Some((*tag, covered));
        }
        // One tag alone is a plain ack: `multiple` buys nothing there.
        if covered == 1 {
            through = None;
        }
        let first_single = through.map_or(0, |(t, _)| t + 1);
        let singles: Vec<u64> = wanted
            .range(first_single..)
            .filter(|t| unacked.contains(t))
            .copied()
            .collect();
        let already = wanted.len() - singles.len() - through.map_or(0, |(_, n)| n as usize);
        AckPlan {
            through,
            singles,
            already,
        }
    }
}

fn decode(
    d: &lapin::message::Delivery,
    prefix: &[String],
    limits: DecodeLimits,
) -> Result<pitcher_core::Message, String> {
    let content_type = d.properties.content_type().as_ref().map(|s| s.as_str());
    let headers = headers_of(d.properties.headers().as_ref());
    let key = d.routing_key.as_str();
    let f = Format::detect(content_type, &d.data, Some(key)).map_err(|e| e.to_string())?;
    let mut m = format::decode(f, &d.data, &headers, limits).map_err(|e| e.to_string())?;
    let words = amqp_words(key);
    m.local.subtopic = strip_prefix(&words, prefix).map(<[String]>::to_vec);
    m.local.topic = Some(words);
    Ok(m)
}

/// AMQP application headers as v02 text headers.
pub(crate) fn headers_of(table: Option<&FieldTable>) -> Headers {
    let mut h = Headers::new();
    if let Some(t) = table {
        for (k, v) in t.inner() {
            let text = match v {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_string(),
                AMQPValue::Boolean(b) => b.to_string(),
                AMQPValue::ShortShortInt(i) => i.to_string(),
                AMQPValue::ShortShortUInt(i) => i.to_string(),
                AMQPValue::ShortInt(i) => i.to_string(),
                AMQPValue::ShortUInt(i) => i.to_string(),
                AMQPValue::LongInt(i) => i.to_string(),
                AMQPValue::LongUInt(i) => i.to_string(),
                AMQPValue::LongLongInt(i) => i.to_string(),
                other => format!("{other:?}"),
            };
            h.insert(k.as_str().to_string(), text);
        }
    }
    h
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) async fn timed<F: std::future::Future>(
    t: Duration,
    broker: &str,
    what: &'static str,
    f: F,
) -> Result<F::Output, BrokerError> {
    tokio::time::timeout(t, f)
        .await
        .map_err(|_| BrokerError::Timeout {
            broker: broker.to_string(),
            what,
            seconds: t.as_secs(),
        })
}

#[cfg(test)]
mod tests {
    use super::AckPlan;
    use std::collections::BTreeSet;

    fn set(tags: &[u64]) -> BTreeSet<u64> {
        tags.iter().copied().collect()
    }

    #[test]
    fn a_whole_pass_is_one_multiple_ack() {
        let plan = AckPlan::new(&set(&[1, 2, 3, 4]), &set(&[4, 2, 3, 1]), true);
        assert_eq!(
            plan,
            AckPlan {
                through: Some((4, 4)),
                singles: vec![],
                already: 0
            }
        );
    }

    #[test]
    fn a_hole_ends_the_multiple_ack_and_the_rest_go_singly() {
        // 3 is not acknowledged (its work failed): it must stay outstanding.
        let plan = AckPlan::new(&set(&[1, 2, 3, 4, 5]), &set(&[1, 2, 4, 5]), true);
        assert_eq!(plan.through, Some((2, 2)));
        assert_eq!(plan.singles, vec![4, 5]);
        assert_eq!(plan.already, 0);
    }

    #[test]
    fn nothing_is_covered_when_the_lowest_outstanding_tag_is_not_asked_for() {
        let plan = AckPlan::new(&set(&[7, 8, 9]), &set(&[8, 9]), true);
        assert_eq!(plan.through, None);
        assert_eq!(plan.singles, vec![8, 9]);
    }

    #[test]
    fn without_multiple_every_tag_goes_singly() {
        let plan = AckPlan::new(&set(&[1, 2, 3, 5]), &set(&[1, 2, 3, 5, 9]), false);
        assert_eq!(plan.through, None);
        assert_eq!(plan.singles, vec![1, 2, 3, 5]);
        assert_eq!(plan.already, 1);
    }

    #[test]
    fn a_single_tag_is_a_plain_ack() {
        let plan = AckPlan::new(&set(&[7, 8, 9]), &set(&[7]), true);
        assert_eq!(plan.through, None);
        assert_eq!(plan.singles, vec![7]);
    }

    #[test]
    fn tags_acknowledged_already_or_never_received_are_skipped() {
        // 1 and 2 went out earlier; 6 was never delivered on this connection.
        let plan = AckPlan::new(&set(&[3, 4, 5]), &set(&[1, 2, 3, 4, 6]), true);
        assert_eq!(plan.through, Some((4, 2)));
        assert!(plan.singles.is_empty());
        assert_eq!(plan.already, 3);
    }

    #[test]
    fn an_earlier_gap_filled_later_makes_a_multiple_ack_over_what_is_left() {
        // 11..=20 were acknowledged singly before; now 1..=10 complete the prefix.
        let unacked: BTreeSet<u64> = (1..=10).chain(21..=25).collect();
        let wanted: BTreeSet<u64> = (1..=10).collect();
        let plan = AckPlan::new(&unacked, &wanted, true);
        assert_eq!(plan.through, Some((10, 10)));
        assert!(plan.singles.is_empty());
    }
}
