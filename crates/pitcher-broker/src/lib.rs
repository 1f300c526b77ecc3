//! # pitcher-broker
//!
//! Message brokers behind one interface. A consumer receives decoded [`Received`] messages, each
//! with an [`AckToken`] the caller acknowledges once its work is durable; a publisher sends a
//! batch of [`Outgoing`] messages and reports, per message, whether the broker confirmed it.
//! Connections are made lazily and remade after any loss with capped exponential back-off
//! (1 s … 64 s); every network call has a timeout (set-up steps at most
//! [`timeouts::SETUP_TIMEOUT`]); passwords never appear in logs or errors.
//!
//! Implementations: AMQP 0-9-1 ([`amqp`], RabbitMQ through lapin) and MQTT v5 ([`mqtt`], through
//! the mqtt5 crate's client); [`embedded`] runs the mqtt5 crate's broker in-process.

pub mod amqp;
pub mod any;
pub mod backoff;
mod batching;
pub mod confirms;
pub mod delivery;
pub mod embedded;
pub mod endpoint;
pub mod error;
pub mod interface;
pub mod mqtt;
pub mod timeouts;

pub use any::{AnyConsumer, AnyPublisher};
pub use backoff::Backoff;
pub use confirms::{Confirmed, PendingConfirms};
pub use delivery::{AckToken, Binding, ConsumerStats, Outgoing, QueueSpec, Received};
pub use endpoint::{Endpoint, Protocol, TlsSettings};
pub use error::BrokerError;
pub use interface::{Consumer, Publisher};
