//! Consuming with a persistent MQTT session and manual acknowledgements (rumqttc).
//!
//! Why rumqttc here and the mqtt5 client for publishing: Mosquitto 2.0.11 sends more unacknowledged
//! messages than the Receive Maximum it was given (notably when a session resumes); mqtt5's client
//! then disconnects (as the spec allows), over and over. rumqttc tolerates it. Acks are sent only
//! for messages whose work is durable; a lost connection leaves the rest to be redelivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pitcher_core::topic::{mqtt_words, strip_prefix};
use pitcher_core::{DecodeLimits, Format, Headers, format};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, Publish, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::batching::batch_item;
use crate::delivery::{AckToken, ConsumerStats, QueueSpec, Received};
use crate::endpoint::Endpoint;
use crate::error::BrokerError;
use crate::timeouts::setup_timeout;

struct Live {
    client: AsyncClient,
    up: Arc<AtomicBool>,
    rx: mpsc::UnboundedReceiver<Publish>,
    held: std::collections::HashMap<u64, Publish>,
    task: tokio::task::JoinHandle<()>,
    /// Set by `close`: the end of the connection is expected, not worth a warning.
    closing: Arc<AtomicBool>,
}

/// A consumer of one flow's MQTT subscriptions (a persistent session per instance).
pub struct MqttConsumer {
    endpoint: Endpoint,
    queue: QueueSpec,
    instance: u32,
    receive_maximum: u16,
    timeout: Duration,
    limits: DecodeLimits,
    live: Option<Live>,
    generation: u64,
    next_tag: u64,
    backoff: Backoff,
    stats: ConsumerStats,
}

impl MqttConsumer {
    /// `instance` numbers the session (`<queue>_iNN`); `receive_maximum` is the prefetch.
    pub fn new(
        endpoint: Endpoint,
        queue: QueueSpec,
        instance: u32,
        receive_maximum: u16,
        timeout: Duration,
    ) -> Self {
        MqttConsumer {
            endpoint,
            queue,
            instance,
            receive_maximum: receive_maximum.max(1),
            timeout,
            limits: DecodeLimits::default(),
            live: None,
            generation: 0,
            next_tag: 0,
            backoff: Backoff::default(),
            stats: ConsumerStats::default(),
        }
    }

    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// sr3's client id: `<queue>_iNN`.
    pub fn client_id(&self) -> String {
        format!("{}_i{:02}", self.queue.name, self.instance)
    }

    /// The shared-subscription filters of this flow.
    pub fn filters(&self) -> Vec<String> {
        self.queue
            .bindings
            .iter()
            .map(|b| format!("$share/{}/{}", self.queue.name, b.mqtt_filter()))
            .collect()
    }

    pub fn stats(&self) -> &ConsumerStats {
        &self.stats
    }

    pub fn queue(&self) -> &QueueSpec {
        &self.queue
    }

    pub fn is_connected(&self) -> bool {
        self.live
            .as_ref()
            .is_some_and(|l| l.up.load(Ordering::SeqCst))
    }

    /// Connects now and subscribes: the error says why it failed.
    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        if self.live.is_some() {
            return Ok(());
        }
        let mut opts = MqttOptions::new(
            self.client_id(),
            self.endpoint.host.clone(),
            self.endpoint.port,
        );
        if !self.endpoint.user.is_empty() {
            opts.set_credentials(
                self.endpoint.user.clone(),
                self.endpoint.password().to_string(),
            );
        }
        // A session that outlives disconnects: `expire`, else one that never expires (as an AMQP
        // queue without x-expires).
        let expiry = self
            .queue
            .expire
            .map(|d| u32::try_from(d.as_secs().max(1)).unwrap_or(u32::MAX))
            .unwrap_or(u32::MAX);
        opts.set_transport(super::rumqttc_transport(&self.endpoint)?);
        opts.set_clean_start(false)
            .set_session_expiry_interval(Some(expiry))
            .set_receive_maximum(Some(self.receive_maximum))
            .set_manual_acks(true)
            // rumqttc sizes its outgoing-publish table by this limit (default 65,535 slots,
            // ~13 MiB written at start); a consumer publishes nothing, it only acknowledges.
            .set_outgoing_inflight_upper_limit(16)
            .set_keep_alive(Duration::from_secs(30))
            .set_connection_timeout(setup_timeout(self.timeout).as_secs().max(1));
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        let (tx, rx) = mpsc::unbounded_channel();
        let up = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let (suback_tx, mut suback_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let flag = up.clone();
        let closing = Arc::new(AtomicBool::new(false));
        let quiet = closing.clone();
        let broker = self.endpoint.masked();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        if ack.code == ConnectReturnCode::Success {
                            flag.store(true, Ordering::SeqCst);
                            if let Some(r) = ready.take() {
                                let _ = r.send(Ok(()));
                            }
                        } else if let Some(r) = ready.take() {
                            let _ = r.send(Err(format!("{:?}", ack.code)));
                            break;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        let refused: Vec<String> = ack
                            .return_codes
                            .iter()
                            .filter(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                            .map(|c| format!("{c:?}"))
                            .collect();
                        let _ = suback_tx.send(if refused.is_empty() {
                            Ok(())
                        } else {
                            Err(refused.join(", "))
                        });
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        flag.store(false, Ordering::SeqCst);
                        let text = match &e {
                            ConnectionError::ConnectionRefused(code) => format!("{code:?}"),
                            other => other.to_string(),
                        };
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(text));
                        } else if !quiet.load(Ordering::SeqCst) {
                            warn!(%broker, "MQTT connection ended: {text}");
                        }
                        break;
                    }
                }
            }
        });
        let outcome = tokio::time::timeout(setup_timeout(self.timeout), ready_rx).await;
        let fail = |reason: String| super::rumqttc_failure(&self.endpoint, &reason);
        match outcome {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(reason))) => {
                task.abort();
                return Err(fail(reason));
            }
            Ok(Err(_)) => {
                task.abort();
                return Err(fail("the connection ended".into()));
            }
            Err(_) => {
                task.abort();
                return Err(BrokerError::Timeout {
                    broker: self.endpoint.masked(),
                    what: "connecting",
                    seconds: setup_timeout(self.timeout).as_secs(),
                });
            }
        }
        for f in self.filters() {
            if let Err(e) = client.subscribe(f.clone(), QoS::AtLeastOnce).await {
                task.abort();
                return Err(BrokerError::Refused {
                    broker: self.endpoint.masked(),
                    what: format!("subscribing to {f}"),
                    reason: e.to_string(),
                });
            }
            // Wait for the SUBACK: until the broker has the subscription, messages published to
            // a new session's topics would go nowhere.
            let answer = tokio::time::timeout(setup_timeout(self.timeout), suback_rx.recv()).await;
            let refused = match answer {
                Ok(Some(Ok(()))) => None,
                Ok(Some(Err(codes))) => Some(format!("refused: {codes}")),
                Ok(None) => Some("the connection ended".to_string()),
                Err(_) => Some(format!(
                    "no SUBACK within {} s",
                    setup_timeout(self.timeout).as_secs()
                )),
            };
            if let Some(reason) = refused {
                task.abort();
                return Err(BrokerError::Refused {
                    broker: self.endpoint.masked(),
                    what: format!("subscribing to {f}"),
                    reason,
                });
            }
        }
        self.generation += 1;
        self.live = Some(Live {
            client,
            up,
            rx,
            held: Default::default(),
            task,
            closing,
        });
        self.backoff.succeeded();
        info!(broker = %self.endpoint, client_id = %self.client_id(), "consuming");
        Ok(())
    }

    async fn ensure_connected(&mut self, wait: Duration) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| !l.up.load(Ordering::SeqCst) && l.rx.is_empty())
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

    /// Forgets the connection without acknowledging what is held: the broker redelivers it to the
    /// session after the next connect.
    fn drop_connection(&mut self, why: &str) {
        if let Some(live) = self.live.take() {
            warn!(broker = %self.endpoint, "lost connection: {why}; unacknowledged messages will be redelivered");
            live.task.abort();
            self.backoff.failed();
        }
    }

    /// Receives up to `max` messages, waiting up to `wait` for the first.
    pub async fn receive(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Received>, BrokerError> {
        self.ensure_connected(wait).await?;
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut ended = false;
        if let Some(live) = self.live.as_mut() {
            let mut first = true;
            while out.len() < max {
                let Some(next) = batch_item(first, wait, live.rx.recv()).await else {
                    break;
                };
                first = false;
                let Some(publish) = next else {
                    ended = true;
                    break;
                };
                self.stats.bytes += publish.payload.len() as u64;
                match decode(&publish, &self.queue.topic_prefix, self.limits) {
                    Ok(message) => {
                        self.next_tag += 1;
                        self.stats.received += 1;
                        out.push(Received {
                            message,
                            token: AckToken {
                                connection: self.generation,
                                tag: self.next_tag,
                            },
                            redelivered: publish.dup,
                            body_len: publish.payload.len(),
                        });
                        live.held.insert(self.next_tag, publish);
                    }
                    Err(reason) => {
                        warn!(topic = %String::from_utf8_lossy(&publish.topic), "rejected: 417 invalid message ({reason}); acknowledged and dropped");
                        bad.push(publish);
                    }
                }
            }
        }
        for publish in bad {
            self.stats.bad += 1;
            if let Some(live) = self.live.as_ref() {
                let _ = live.client.ack(&publish).await;
            }
        }
        if ended && out.is_empty() {
            self.drop_connection("the connection closed");
            return Err(BrokerError::ConnectionLost {
                broker: self.endpoint.masked(),
                reason: "the connection closed".into(),
            });
        }
        Ok(out)
    }

    /// Acknowledges a message whose work is durable (stale tokens are dropped with a warning).
    pub async fn ack(&mut self, token: AckToken) -> Result<(), BrokerError> {
        let live = self
            .live
            .as_mut()
            .filter(|_| token.connection == self.generation);
        let Some((live, publish)) = live.and_then(|l| l.held.remove(&token.tag).map(|p| (l, p)))
        else {
            self.stats.stale_acks += 1;
            warn!(broker = %self.endpoint, "stale acknowledgement dropped (from a previous connection; the broker redelivers that message)");
            return Ok(());
        };
        match live.client.ack(&publish).await {
            Ok(()) => {
                self.stats.acked += 1;
                Ok(())
            }
            Err(e) => {
                let err = BrokerError::ConnectionLost {
                    broker: self.endpoint.masked(),
                    reason: e.to_string(),
                };
                self.drop_connection(&err.to_string());
                Err(err)
            }
        }
    }

    /// Closes the session's connection; what was not acknowledged is redelivered later.
    pub async fn close(&mut self) {
        if let Some(mut live) = self.live.take() {
            live.closing.store(true, Ordering::SeqCst);
            if live.held.is_empty() {
                let _ = tokio::time::timeout(setup_timeout(self.timeout), live.client.disconnect())
                    .await;
                // Let the event loop flush the DISCONNECT, then end it: a closed consumer must not
                // go on reporting its connection (e.g. when the broker stops after it).
                let _ = tokio::time::timeout(Duration::from_millis(500), &mut live.task).await;
                live.task.abort();
            } else {
                // Without a DISCONNECT, so nothing held is acknowledged by accident.
                live.task.abort();
            }
        }
    }
}

fn decode(
    p: &Publish,
    prefix: &[String],
    limits: DecodeLimits,
) -> Result<pitcher_core::Message, String> {
    let topic = String::from_utf8_lossy(&p.topic).into_owned();
    let (content_type, headers): (Option<&str>, Headers) = match &p.properties {
        Some(props) => (
            props.content_type.as_deref(),
            props.user_properties.iter().cloned().collect(),
        ),
        None => (None, Headers::new()),
    };
    let f = Format::detect(content_type, &p.payload, Some(&topic)).map_err(|e| e.to_string())?;
    let mut m = format::decode(f, &p.payload, &headers, limits).map_err(|e| e.to_string())?;
    let (exchange, words) = mqtt_words(&topic);
    m.local.subtopic = strip_prefix(&words, prefix).map(<[String]>::to_vec);
    m.local.topic = Some(words);
    m.local.exchange = Some(exchange);
    Ok(m)
}
