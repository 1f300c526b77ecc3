//! Publishing at QoS 1: the batch is published concurrently and each message's PUBACK is its
//! confirmation; what was not acknowledged is reported for the post retry spool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use mqtt5::{MqttClient, PublishOptions, PublishOutcome, PublishProperties, PublishResult, QoS};
use tracing::{info, warn};

use super::{connect, options, watch_connection};
use crate::backoff::Backoff;
use crate::confirms::{Confirmed, PendingConfirms};
use crate::delivery::Outgoing;
use crate::endpoint::Endpoint;
use crate::error::BrokerError;

/// How often a publish waiting for its PUBACK checks that its connection is still there.
const CONNECTION_CHECK: Duration = Duration::from_millis(100);

struct Live {
    client: MqttClient,
    up: Arc<AtomicBool>,
}

/// A publisher to one MQTT broker.
pub struct MqttPublisher {
    endpoint: Endpoint,
    timeout: Duration,
    client_id: String,
    live: Option<Live>,
    backoff: Backoff,
    /// Counts connections made, so that PUBACK failures from an older one do not drop a newer.
    connection: u64,
}

impl MqttPublisher {
    /// `client_id` must be unique on the broker (e.g. `<flow>_pub_iNN`).
    pub fn new(endpoint: Endpoint, timeout: Duration, client_id: impl Into<String>) -> Self {
        MqttPublisher {
            endpoint,
            timeout,
            client_id: client_id.into(),
            live: None,
            backoff: Backoff::default(),
            connection: 0,
        }
    }

    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.up.load(Ordering::SeqCst))
        {
            return Ok(());
        }
        if let Some(old) = self.live.take() {
            let _ = tokio::time::timeout(
                crate::timeouts::setup_timeout(self.timeout),
                old.client.disconnect_abnormally(),
            )
            .await;
        }
        let client = MqttClient::with_options(
            options(&self.endpoint, &self.client_id).with_clean_start(true),
        );
        let up = watch_connection(&client).await;
        connect(&client, &self.endpoint, self.timeout).await?;
        up.store(true, Ordering::SeqCst);
        self.live = Some(Live { client, up });
        self.connection += 1;
        self.backoff.succeeded();
        info!(broker = %self.endpoint, "connected for publishing");
        Ok(())
    }

    async fn ensure_connected(&mut self) -> Result<(), BrokerError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.up.load(Ordering::SeqCst))
        {
            return Ok(());
        }
        if !self.backoff.remaining().is_zero() {
            return Err(BrokerError::NotConnected {
                broker: self.endpoint.masked(),
                retry_in_seconds: self.backoff.remaining().as_secs(),
            });
        }
        match self.connect().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.backoff.connection_failed(&e);
                Err(e)
            }
        }
    }

    /// MQTT has no exchanges to declare: topics exist as they are used.
    pub async fn declare_exchange(&mut self, _name: &str) -> Result<(), BrokerError> {
        Ok(())
    }

    /// Publishes a batch at QoS 1; one result per message, `Ok` once its PUBACK arrived.
    pub async fn publish(&mut self, batch: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        let pending = self.send(batch).await;
        let confirmed = pending.wait().await;
        self.settle(confirmed).await
    }

    /// Hands a batch to the client without waiting for its PUBACKs (crate::confirms). The
    /// publishes run on a task of their own: each is first polled, in the batch's order, before
    /// this returns, so batches sent one after the other leave in order.
    pub async fn send(&mut self, batch: &[Outgoing]) -> PendingConfirms {
        if batch.is_empty() {
            return PendingConfirms::new(0, self.connection, async { Vec::new() });
        }
        if let Err(e) = self.ensure_connected().await {
            return PendingConfirms::failed(batch.len(), e);
        }
        let Some(live) = self.live.as_ref() else {
            let e = BrokerError::NotConnected {
                broker: self.endpoint.masked(),
                retry_in_seconds: 0,
            };
            return PendingConfirms::failed(batch.len(), e);
        };
        let broker = self.endpoint.masked();
        let timeout = self.timeout;
        let sends: Vec<_> = batch
            .iter()
            .map(|out| {
                let client = live.client.clone();
                let broker = broker.clone();
                let up = live.up.clone();
                let topic = out.topic.clone();
                let payload = out.encoded.body.as_bytes().to_vec();
                let properties = PublishProperties {
                    payload_format_indicator: Some(true),
                    content_type: Some(out.encoded.content_type.to_string()),
                    user_properties: out
                        .encoded
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    ..Default::default()
                };
                let opts = PublishOptions {
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    properties,
                    ..Default::default()
                };
                publish_one(client, topic, payload, opts, broker, up, timeout)
            })
            .collect();
        let (first_polled, polled) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut all = std::pin::pin!(join_all(sends));
            let mut first_polled = Some(first_polled);
            std::future::poll_fn(|cx| {
                let r = all.as_mut().poll(cx);
                if let Some(tx) = first_polled.take() {
                    let _ = tx.send(());
                }
                r
            })
            .await
        });
        // The task has polled every publish once (each has taken its place in the client's
        // queue) or has ended.
        let _ = polled.await;
        let len = batch.len();
        let waiting = async move {
            match task.await {
                Ok(results) => results,
                Err(e) => vec![
                    Err(BrokerError::NotConfirmed {
                        broker,
                        reason: format!("the publishing task failed: {e}"),
                    });
                    len
                ],
            }
        };
        PendingConfirms::new(len, self.connection, waiting)
    }

    /// Takes back a sent batch's PUBACKs: when its connection was lost (and has not been
    /// replaced since), the client is dropped and remade on the next send; failures are then
    /// reported as connection losses. One result per message.
    pub async fn settle(&mut self, confirmed: Confirmed) -> Vec<Result<(), BrokerError>> {
        let same = confirmed.connection == self.connection;
        let down = same
            && self
                .live
                .as_ref()
                .is_some_and(|l| !l.up.load(Ordering::SeqCst));
        if !(down || confirmed.saw_connection_loss()) {
            return confirmed.results;
        }
        if same && self.live.is_some() {
            warn!(broker = %self.endpoint, "publishing connection lost: unconfirmed messages are left to the caller's retry spool");
            if let Some(old) = self.live.take() {
                let _ = tokio::time::timeout(
                    crate::timeouts::setup_timeout(self.timeout),
                    old.client.disconnect_abnormally(),
                )
                .await;
            }
            self.backoff.failed();
        }
        let broker = self.endpoint.masked();
        confirmed
            .results
            .into_iter()
            .map(|r| {
                r.map_err(|e| {
                    if e.is_connection_problem() {
                        e
                    } else {
                        BrokerError::ConnectionLost {
                            broker: broker.clone(),
                            reason: e.to_string(),
                        }
                    }
                })
            })
            .collect()
    }

    pub async fn close(&mut self) {
        if let Some(live) = self.live.take() {
            let _ = tokio::time::timeout(self.timeout, live.client.disconnect()).await;
        }
    }
}

/// One QoS 1 publish, until its PUBACK: bounded by `timeout`, and given up as soon as the
/// connection it left on is gone (a PUBACK can only come on that connection; the client would
/// otherwise hold the message until the timeout).
async fn publish_one(
    client: MqttClient,
    topic: String,
    payload: Vec<u8>,
    opts: PublishOptions,
    broker: String,
    up: Arc<AtomicBool>,
    timeout: Duration,
) -> Result<(), BrokerError> {
    let attempt = async {
        match client.publish_with_options(topic, payload, opts).await {
            Ok(PublishResult::Sent(_)) => Ok(()),
            Ok(PublishResult::Queued(handle)) => match handle.outcome().await {
                PublishOutcome::Delivered(_) => Ok(()),
                other => Err(BrokerError::NotConfirmed {
                    broker: broker.clone(),
                    reason: format!("{other:?}"),
                }),
            },
            Err(e) => Err(BrokerError::NotConfirmed {
                broker: broker.clone(),
                reason: e.to_string(),
            }),
        }
    };
    let lost = async {
        while up.load(Ordering::SeqCst) {
            tokio::time::sleep(CONNECTION_CHECK).await;
        }
    };
    tokio::select! {
        r = tokio::time::timeout(timeout, attempt) => match r {
            Ok(r) => r,
            Err(_) => Err(BrokerError::Timeout {
                broker,
                what: "waiting for PUBACK",
                seconds: timeout.as_secs(),
            }),
        },
        () = lost => Err(BrokerError::ConnectionLost {
            broker,
            reason: "the connection closed before the PUBACK arrived".into(),
        }),
    }
}
