//! One consumer or publisher type for any broker protocol, chosen from the endpoint's scheme.
//!
//! The [`Consumer`] and [`Publisher`] traits return `impl Future`, so they cannot be trait
//! objects; flows hold these enums instead.

use std::time::Duration;

use pitcher_core::topic::{amqp_topic, mqtt_topic};

use crate::amqp::{AmqpConsumer, AmqpPublisher};
use crate::confirms::{Confirmed, PendingConfirms};
use crate::delivery::{AckToken, ConsumerStats, Outgoing, QueueSpec, Received};
use crate::endpoint::Endpoint;
use crate::error::BrokerError;
use crate::interface::{Consumer, Publisher};
use crate::mqtt::{MqttConsumer, MqttPublisher};

/// A consumer on an AMQP 0-9-1 or MQTT v5 broker.
pub enum AnyConsumer {
    /// AMQP 0-9-1 (RabbitMQ).
    Amqp(Box<AmqpConsumer>),
    /// MQTT v5 (Mosquitto, the embedded broker, ...).
    Mqtt(Box<MqttConsumer>),
}

impl AnyConsumer {
    /// A consumer of `queue` on `endpoint`; `instance` numbers MQTT sessions (`<queue>_iNN`),
    /// `name` labels the AMQP connection.
    pub fn new(
        endpoint: Endpoint,
        queue: QueueSpec,
        instance: u32,
        prefetch: u16,
        timeout: Duration,
        name: impl Into<String>,
    ) -> Self {
        if endpoint.protocol.is_amqp() {
            AnyConsumer::Amqp(Box::new(AmqpConsumer::new(
                endpoint, queue, prefetch, timeout, name,
            )))
        } else {
            AnyConsumer::Mqtt(Box::new(MqttConsumer::new(
                endpoint, queue, instance, prefetch, timeout,
            )))
        }
    }

    /// Connect now (otherwise the first `receive` does).
    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        match self {
            AnyConsumer::Amqp(c) => c.connect().await,
            AnyConsumer::Mqtt(c) => c.connect().await,
        }
    }

    /// Is a connection up?
    pub fn is_connected(&self) -> bool {
        match self {
            AnyConsumer::Amqp(c) => c.is_connected(),
            AnyConsumer::Mqtt(c) => c.is_connected(),
        }
    }
}

impl Consumer for AnyConsumer {
    async fn receive(&mut self, max: usize, wait: Duration) -> Result<Vec<Received>, BrokerError> {
        match self {
            AnyConsumer::Amqp(c) => c.receive(max, wait).await,
            AnyConsumer::Mqtt(c) => c.receive(max, wait).await,
        }
    }

    async fn ack(&mut self, token: AckToken) -> Result<(), BrokerError> {
        match self {
            AnyConsumer::Amqp(c) => c.ack(token).await,
            AnyConsumer::Mqtt(c) => c.ack(token).await,
        }
    }

    async fn ack_all(&mut self, tokens: &[AckToken]) -> Result<(), BrokerError> {
        match self {
            AnyConsumer::Amqp(c) => c.ack_all(tokens).await,
            AnyConsumer::Mqtt(c) => c.ack_all(tokens).await,
        }
    }

    fn stats(&self) -> &ConsumerStats {
        match self {
            AnyConsumer::Amqp(c) => c.stats(),
            AnyConsumer::Mqtt(c) => c.stats(),
        }
    }

    async fn close(&mut self) {
        match self {
            AnyConsumer::Amqp(c) => c.close().await,
            AnyConsumer::Mqtt(c) => c.close().await,
        }
    }
}

/// A publisher on an AMQP 0-9-1 or MQTT v5 broker.
pub enum AnyPublisher {
    /// AMQP 0-9-1.
    Amqp(Box<AmqpPublisher>),
    /// MQTT v5.
    Mqtt(Box<MqttPublisher>),
}

impl AnyPublisher {
    /// A publisher to `endpoint`; `name` labels the connection (AMQP) or is the client id (MQTT).
    pub fn new(endpoint: Endpoint, timeout: Duration, name: impl Into<String>) -> Self {
        if endpoint.protocol.is_amqp() {
            AnyPublisher::Amqp(Box::new(AmqpPublisher::new(endpoint, timeout, name)))
        } else {
            AnyPublisher::Mqtt(Box::new(MqttPublisher::new(endpoint, timeout, name)))
        }
    }

    /// Connect now (otherwise the first `publish` does).
    pub async fn connect(&mut self) -> Result<(), BrokerError> {
        match self {
            AnyPublisher::Amqp(p) => p.connect().await,
            AnyPublisher::Mqtt(p) => p.connect().await,
        }
    }

    /// The topic (routing key for AMQP, full topic for MQTT) of a message published to
    /// `exchange` with topic words `prefix` + `words`.
    pub fn topic<S: AsRef<str>, T: AsRef<str>>(
        &self,
        exchange: &str,
        prefix: &[S],
        words: &[T],
    ) -> String {
        match self {
            AnyPublisher::Amqp(_) => amqp_topic(prefix, words),
            AnyPublisher::Mqtt(_) => mqtt_topic(exchange, prefix, words),
        }
    }
}

impl Publisher for AnyPublisher {
    async fn declare_exchange(&mut self, name: &str) -> Result<(), BrokerError> {
        match self {
            AnyPublisher::Amqp(p) => p.declare_exchange(name).await,
            AnyPublisher::Mqtt(p) => p.declare_exchange(name).await,
        }
    }

    async fn publish(&mut self, batch: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        match self {
            AnyPublisher::Amqp(p) => p.publish(batch).await,
            AnyPublisher::Mqtt(p) => p.publish(batch).await,
        }
    }

    async fn send(&mut self, batch: &[Outgoing]) -> PendingConfirms {
        match self {
            AnyPublisher::Amqp(p) => p.send(batch).await,
            AnyPublisher::Mqtt(p) => p.send(batch).await,
        }
    }

    async fn settle(&mut self, confirmed: Confirmed) -> Vec<Result<(), BrokerError>> {
        match self {
            AnyPublisher::Amqp(p) => p.settle(confirmed),
            AnyPublisher::Mqtt(p) => p.settle(confirmed).await,
        }
    }

    async fn close(&mut self) {
        match self {
            AnyPublisher::Amqp(p) => p.close().await,
            AnyPublisher::Mqtt(p) => p.close().await,
        }
    }
}
