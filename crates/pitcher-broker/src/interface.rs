//! The one interface every broker implementation provides (AMQP, MQTT, embedded).

use std::future::Future;
use std::time::Duration;

use crate::confirms::{Confirmed, PendingConfirms};
use crate::delivery::{AckToken, ConsumerStats, Outgoing, Received};
use crate::error::BrokerError;

/// Reads a flow's queue.
pub trait Consumer: Send {
    /// Receives up to `max` messages, waiting up to `wait` for the first. Connects (or reconnects,
    /// respecting the back-off) as needed; connection problems are errors the caller may log and
    /// retry. Malformed messages are acknowledged, logged and never returned.
    fn receive(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, BrokerError>> + Send;

    /// Acknowledges a message once its work is durable. Stale tokens (from a connection that has
    /// since been lost) are dropped with a warning.
    fn ack(&mut self, token: AckToken) -> impl Future<Output = Result<(), BrokerError>> + Send;

    /// Acknowledges several messages (a pass's worth). The first failure is returned; what was
    /// not acknowledged is redelivered by the broker.
    fn ack_all(
        &mut self,
        tokens: &[AckToken],
    ) -> impl Future<Output = Result<(), BrokerError>> + Send {
        async move {
            let mut first = None;
            for t in tokens {
                if let Err(e) = self.ack(*t).await {
                    first.get_or_insert(e);
                }
            }
            first.map_or(Ok(()), Err)
        }
    }

    /// Counters since start.
    fn stats(&self) -> &ConsumerStats;

    /// Closes the connection; unacknowledged messages go back to the queue.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// Publishes to a flow's post broker.
pub trait Publisher: Send {
    /// Declares a topic exchange (a no-op where the protocol has none).
    fn declare_exchange(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send;

    /// Publishes a batch; one result per message, `Ok` once the broker confirmed it.
    fn publish(
        &mut self,
        batch: &[Outgoing],
    ) -> impl Future<Output = Vec<Result<(), BrokerError>>> + Send {
        async move {
            let pending = self.send(batch).await;
            let confirmed = pending.wait().await;
            self.settle(confirmed).await
        }
    }

    /// Hands a batch to the broker without waiting for its confirms, so that the next batch can
    /// be sent while the broker confirms this one (crate::confirms). AMQP keeps the order
    /// batches are sent in; MQTT may swap neighbouring messages (mqtt/publisher.rs).
    fn send(&mut self, batch: &[Outgoing]) -> impl Future<Output = PendingConfirms> + Send;

    /// Takes back the confirms of a batch this publisher sent: one result per message, in the
    /// batch's order. A connection they saw lost is dropped and remade on the next send.
    fn settle(
        &mut self,
        confirmed: Confirmed,
    ) -> impl Future<Output = Vec<Result<(), BrokerError>>> + Send;

    /// Closes the connection.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

impl Consumer for crate::amqp::AmqpConsumer {
    fn receive(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, BrokerError>> + Send {
        crate::amqp::AmqpConsumer::receive(self, max, wait)
    }
    fn ack(&mut self, token: AckToken) -> impl Future<Output = Result<(), BrokerError>> + Send {
        crate::amqp::AmqpConsumer::ack(self, token)
    }
    fn ack_all(
        &mut self,
        tokens: &[AckToken],
    ) -> impl Future<Output = Result<(), BrokerError>> + Send {
        crate::amqp::AmqpConsumer::ack_all(self, tokens)
    }
    fn stats(&self) -> &ConsumerStats {
        crate::amqp::AmqpConsumer::stats(self)
    }
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        crate::amqp::AmqpConsumer::close(self)
    }
}

impl Publisher for crate::amqp::AmqpPublisher {
    fn declare_exchange(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send {
        crate::amqp::AmqpPublisher::declare_exchange(self, name)
    }
    fn publish(
        &mut self,
        batch: &[Outgoing],
    ) -> impl Future<Output = Vec<Result<(), BrokerError>>> + Send {
        crate::amqp::AmqpPublisher::publish(self, batch)
    }
    fn send(&mut self, batch: &[Outgoing]) -> impl Future<Output = PendingConfirms> + Send {
        crate::amqp::AmqpPublisher::send(self, batch)
    }
    async fn settle(&mut self, confirmed: Confirmed) -> Vec<Result<(), BrokerError>> {
        crate::amqp::AmqpPublisher::settle(self, confirmed)
    }
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        crate::amqp::AmqpPublisher::close(self)
    }
}

impl Consumer for crate::mqtt::MqttConsumer {
    fn receive(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, BrokerError>> + Send {
        crate::mqtt::MqttConsumer::receive(self, max, wait)
    }
    fn ack(&mut self, token: AckToken) -> impl Future<Output = Result<(), BrokerError>> + Send {
        crate::mqtt::MqttConsumer::ack(self, token)
    }
    fn stats(&self) -> &ConsumerStats {
        crate::mqtt::MqttConsumer::stats(self)
    }
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        crate::mqtt::MqttConsumer::close(self)
    }
}

impl Publisher for crate::mqtt::MqttPublisher {
    fn declare_exchange(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send {
        crate::mqtt::MqttPublisher::declare_exchange(self, name)
    }
    fn publish(
        &mut self,
        batch: &[Outgoing],
    ) -> impl Future<Output = Vec<Result<(), BrokerError>>> + Send {
        crate::mqtt::MqttPublisher::publish(self, batch)
    }
    fn send(&mut self, batch: &[Outgoing]) -> impl Future<Output = PendingConfirms> + Send {
        crate::mqtt::MqttPublisher::send(self, batch)
    }
    fn settle(
        &mut self,
        confirmed: Confirmed,
    ) -> impl Future<Output = Vec<Result<(), BrokerError>>> + Send {
        crate::mqtt::MqttPublisher::settle(self, confirmed)
    }
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        crate::mqtt::MqttPublisher::close(self)
    }
}
