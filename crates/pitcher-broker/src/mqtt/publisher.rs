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
    /// Batches sent on the current connection and not settled yet.
    unsettled: usize,
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
            unsettled: 0,
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
        self.unsettled = 0;
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
        if let Some(old) = self.live.take() {
            warn!(broker = %self.endpoint, "publishing connection lost");
            let _ = tokio::time::timeout(
                crate::timeouts::setup_timeout(self.timeout),
                old.client.disconnect_abnormally(),
            )
            .await;
            // Batches still out on it will fail, but their settling no longer counts (the
            // connection is gone): count the failure now, so that a broker that keeps dropping
            // connections is retried with back-off, not once per batch.
            if self.unsettled > 0 {
                self.backoff.failed();
            }
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
    /// this returns. The client still runs them concurrently, and under its receive-maximum
    /// quota neighbours can swap (within a batch as before, or now across two).
    pub async fn send(&mut self, batch: &[Outgoing]) -> PendingConfirms {
        if batch.is_empty() {
            return PendingConfirms::new(0, 0, async { Vec::new() });
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
        let task = tokio::spawn(tokio::task::unconstrained(async move {
            // Each publish is polled once, in the batch's order, before the next batch may be
            // sent: it takes its packet id and its place in the client's (first come, first
            // served) locks and queues in that order. Unconstrained, so that tokio's
            // cooperative budget cannot make a publish yield before it has taken its place.
            let mut sends: Vec<_> = sends.into_iter().map(Box::pin).collect();
            let mut done: Vec<Option<Result<(), BrokerError>>> = Vec::with_capacity(sends.len());
            {
                let waker = futures_util::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                for f in &mut sends {
                    done.push(match f.as_mut().poll(&mut cx) {
                        std::task::Poll::Ready(r) => Some(r),
                        std::task::Poll::Pending => None,
                    });
                }
            }
            let _ = first_polled.send(());
            // The rest are polled again with this task's own waker from here on.
            let rest = join_all(
                sends
                    .into_iter()
                    .zip(&done)
                    .filter(|(_, d)| d.is_none())
                    .map(|(f, _)| f),
            )
            .await;
            let mut rest = rest.into_iter();
            done.into_iter()
                .map(|d| {
                    d.or_else(|| rest.next()).unwrap_or_else(|| {
                        Err(BrokerError::NotConfirmed {
                            broker: String::new(),
                            reason: "no result".into(),
                        })
                    })
                })
                .collect::<Vec<_>>()
        }));
        // The task has polled every publish once.
        let _ = polled.await;
        if self.live.is_some() {
            self.unsettled += 1;
        }
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
        if same {
            self.unsettled = self.unsettled.saturating_sub(1);
        }
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
