//! Publishing to RabbitMQ with publisher confirms: a whole batch is sent, then its confirms are
//! awaited together (a window, not one round trip per message). What was not confirmed is
//! reported per message so the caller can put it in the post retry spool.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ExchangeKind};
use tracing::{info, warn};

use super::consumer::timed;
use super::{connect, lost, scrub, setup_timeout, short};
use crate::backoff::Backoff;
use crate::confirms::{Confirmed, PendingConfirms};
use crate::delivery::Outgoing;
use crate::endpoint::Endpoint;
use crate::error::BrokerError;

struct Live {
    connection: Connection,
    channel: Channel,
}

/// A publisher to one AMQP broker.
pub struct AmqpPublisher {
    endpoint: Endpoint,
    timeout: Duration,
    name: String,
    live: Option<Live>,
    backoff: Backoff,
    declared: HashSet<String>,
    /// Counts connections made, so that confirms from an older one do not drop a newer one.
    connection: u64,
    /// Batches sent on the current connection and not settled yet.
    unsettled: usize,
}

impl AmqpPublisher {
    pub fn new(endpoint: Endpoint, timeout: Duration, name: impl Into<String>) -> Self {
        AmqpPublisher {
            endpoint,
            timeout,
            name: name.into(),
            live: None,
            backoff: Backoff::default(),
            declared: HashSet::new(),
            connection: 0,
            unsettled: 0,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Connects now (confirm mode on): the error says why it failed.
    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.connection.status().connected())
        {
            return Ok(());
        }
        self.live = None;
        let broker = self.endpoint.masked();
        let connection = connect(&self.endpoint, setup_timeout(self.timeout), &self.name).await?;
        let refused = |what: &str, e: lapin::Error| BrokerError::Refused {
            broker: broker.clone(),
            what: what.into(),
            reason: scrub(&self.endpoint, &e.to_string()),
        };
        let channel = timed(
            setup_timeout(self.timeout),
            &broker,
            "opening a channel",
            connection.create_channel(),
        )
        .await?
        .map_err(|e| refused("opening a channel", e))?;
        timed(
            setup_timeout(self.timeout),
            &broker,
            "confirm.select",
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?
        .map_err(|e| refused("enabling publisher confirms", e))?;
        self.live = Some(Live {
            connection,
            channel,
        });
        self.connection += 1;
        self.unsettled = 0;
        self.backoff.succeeded();
        info!(broker = %self.endpoint, "connected for publishing");
        Ok(())
    }

    /// Declares a durable topic exchange (once per connection lifetime of this publisher).
    pub async fn declare_exchange(&mut self, name: &str) -> Result<(), BrokerError> {
        if self.declared.contains(name) {
            return Ok(());
        }
        self.ensure_connected().await?;
        let Some(live) = self.live.as_ref() else {
            return Err(self.not_connected());
        };
        let opts = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let r = timed(
            setup_timeout(self.timeout),
            &self.endpoint.masked(),
            "exchange.declare",
            live.channel.exchange_declare(
                short(name)?,
                ExchangeKind::Topic,
                opts,
                FieldTable::default(),
            ),
        )
        .await?;
        match r {
            Ok(()) => {
                self.declared.insert(name.to_string());
                Ok(())
            }
            Err(e) => {
                // A refused declare closes the channel: start afresh next time.
                self.live = None;
                Err(BrokerError::Refused {
                    broker: self.endpoint.masked(),
                    what: format!("declaring exchange {name}"),
                    reason: scrub(&self.endpoint, &e.to_string()),
                })
            }
        }
    }

    async fn ensure_connected(&mut self) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.connection.status().connected())
        {
            return Ok(());
        }
        if self.live.take().is_some() {
            warn!(broker = %self.endpoint, "publishing connection lost");
            self.declared.clear();
            // Batches still out on it will fail, but their settling no longer counts (the
            // connection is gone): count the failure now, so that a broker that keeps dropping
            // connections is retried with back-off, not once per batch.
            if self.unsettled > 0 {
                self.backoff.failed();
            }
        }
        if !self.backoff.remaining().is_zero() {
            return Err(self.not_connected());
        }
        match self.connect().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.backoff.connection_failed(&e);
                Err(e)
            }
        }
    }

    fn not_connected(&self) -> BrokerError {
        BrokerError::NotConnected {
            broker: self.endpoint.masked(),
            retry_in_seconds: self.backoff.remaining().as_secs(),
        }
    }

    /// Publishes a batch and waits for the broker's confirms. One result per message, in order:
    /// `Ok` once the broker confirmed it, else why not (the caller spools those).
    pub async fn publish(&mut self, batch: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        let pending = self.send(batch).await;
        let confirmed = pending.wait().await;
        self.settle(confirmed)
    }

    /// Hands a batch to the broker without waiting for its confirms (crate::confirms).
    pub async fn send(&mut self, batch: &[Outgoing]) -> PendingConfirms {
        if batch.is_empty() {
            return PendingConfirms::new(0, 0, async { Vec::new() });
        }
        if let Err(e) = self.ensure_connected().await {
            return PendingConfirms::failed(batch.len(), e);
        }
        let Some(live) = self.live.as_ref() else {
            return PendingConfirms::failed(batch.len(), self.not_connected());
        };
        let broker = self.endpoint.masked();
        let mut pending = Vec::with_capacity(batch.len());
        let mut results: Vec<Option<Result<(), BrokerError>>> = vec![None; batch.len()];
        let mut broken = None;
        // Every publish of the batch is handed to lapin at once: `basic_publish` queues its
        // frames (and takes its confirm's delivery tag) on its first poll, then waits until the
        // connection's I/O thread has written them. Awaiting each in turn cost one cross-thread
        // round trip per message; polled together, the frames of the batch leave in order, in
        // as few writes as the I/O thread makes.
        let mut sends = Vec::with_capacity(batch.len());
        for (i, out) in batch.iter().enumerate() {
            let (exchange, key) = match (short(&out.exchange), short(&out.topic)) {
                (Ok(x), Ok(k)) => (x, k),
                (Err(e), _) | (_, Err(e)) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            let props = properties(out);
            let channel = &live.channel;
            let broker = &broker;
            let timeout = self.timeout;
            sends.push(async move {
                let sent = timed(
                    timeout,
                    broker,
                    "basic.publish",
                    channel.basic_publish(
                        exchange,
                        key,
                        BasicPublishOptions::default(),
                        out.encoded.body.as_bytes(),
                        props,
                    ),
                )
                .await;
                (i, sent)
            });
        }
        for (i, sent) in join_all(sends).await {
            match sent {
                Ok(Ok(confirm)) => pending.push((i, confirm)),
                Ok(Err(e)) => {
                    let err = lost(&self.endpoint, &e);
                    results[i] = Some(Err(err.clone()));
                    broken = Some(err);
                }
                Err(e) => {
                    results[i] = Some(Err(e.clone()));
                    broken = Some(e);
                }
            }
        }
        let connection = self.connection;
        if let Some(e) = broken {
            self.drop_connection(&e);
        } else {
            self.unsettled += 1;
        }
        // One deadline for the whole window of confirms. lapin's I/O thread settles them: they
        // need no polling to make progress, so they can wait while other batches are sent.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timeout_s = self.timeout.as_secs();
        let endpoint = self.endpoint.clone();
        let waiting = async move {
            for (i, confirm) in pending {
                let r = match tokio::time::timeout_at(deadline, confirm).await {
                    Err(_) => Err(BrokerError::Timeout {
                        broker: broker.clone(),
                        what: "waiting for publisher confirms",
                        seconds: timeout_s,
                    }),
                    Ok(Err(e)) => Err(lost(&endpoint, &e)),
                    Ok(Ok(Confirmation::Nack(_))) => Err(BrokerError::NotConfirmed {
                        broker: broker.clone(),
                        reason: "the broker refused (nack) the message".into(),
                    }),
                    Ok(Ok(_)) => Ok(()),
                };
                results[i] = Some(r);
            }
            results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Err(BrokerError::NotConfirmed {
                            broker: broker.clone(),
                            reason: "not sent".into(),
                        })
                    })
                })
                .collect()
        };
        PendingConfirms::new(batch.len(), connection, waiting)
    }

    /// Takes back a sent batch's confirms: a connection they saw lost is dropped (and remade
    /// on the next send), unless it has been replaced since. One result per message.
    pub fn settle(&mut self, confirmed: Confirmed) -> Vec<Result<(), BrokerError>> {
        if confirmed.connection == self.connection {
            self.unsettled = self.unsettled.saturating_sub(1);
        }
        if confirmed.connection == self.connection
            && self.live.is_some()
            && let Some(e) = confirmed
                .results
                .iter()
                .find_map(|r| r.as_ref().err().filter(|e| e.is_connection_problem()))
                .cloned()
        {
            self.drop_connection(&e);
        }
        confirmed.results
    }

    fn drop_connection(&mut self, e: &BrokerError) {
        warn!("{e}: unconfirmed messages are left to the caller's retry spool");
        self.live = None;
        self.declared.clear();
        self.backoff.failed();
    }

    /// Closes the connection.
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

fn properties(out: &Outgoing) -> BasicProperties {
    let mut props =
        BasicProperties::default().with_content_type(ShortString::from(out.encoded.content_type));
    if out.persistent {
        props = props.with_delivery_mode(2);
    }
    if !out.encoded.headers.is_empty() {
        let mut table = FieldTable::default();
        for (k, v) in &out.encoded.headers {
            if let Ok(name) = ShortString::try_new(k.as_str()) {
                table.insert(name, AMQPValue::LongString(LongString::from(v.as_bytes())));
            }
        }
        props = props.with_headers(table);
    }
    props
}
