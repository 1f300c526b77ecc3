//! A queue bound to an exchange before a component runs, read back afterwards.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use pitcher_broker::{
    AnyConsumer, AnyPublisher, Binding, Consumer, Endpoint, Publisher, QueueSpec,
};

/// A queue on `exchange` made before the component runs, read back afterwards (an MQTT
/// persistent session on MQTT brokers).
pub struct Tap {
    rt: tokio::runtime::Runtime,
    consumer: AnyConsumer,
}

impl Tap {
    /// On the local RabbitMQ.
    pub fn new(exchange: &str) -> Self {
        Self::on("amqp://guest@127.0.0.1/", "guest", exchange, false)
    }

    /// A durable queue on the local RabbitMQ: it and its messages survive a restart.
    pub fn durable(exchange: &str) -> Self {
        Self::on("amqp://guest@127.0.0.1/", "guest", exchange, true)
    }

    /// On broker `url` (password apart), durable or not.
    pub fn on(url: &str, password: &str, exchange: &str, durable: bool) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let endpoint = || Endpoint::parse(url, Some(password)).unwrap();
        let q = QueueSpec {
            name: format!("q_guest.test.tap.{}", super::unique()),
            declare: true,
            bind: true,
            durable,
            auto_delete: false,
            expire: Some(Duration::from_secs(300)),
            message_ttl: None,
            bindings: vec![Binding::new(exchange, &["v03", "#"])],
            topic_prefix: vec!["v03".into()],
        };
        let consumer = rt.block_on(async {
            let mut p = AnyPublisher::new(endpoint(), Duration::from_secs(10), "tap");
            p.declare_exchange(exchange).await.unwrap();
            p.close().await;
            let mut c = AnyConsumer::new(endpoint(), q, 1, 100, Duration::from_secs(10), "tap");
            c.connect().await.unwrap();
            c
        });
        Tap { rt, consumer }
    }

    /// Every message that arrives until none has come for two seconds, in order.
    pub fn drain_all(&mut self) -> Vec<pitcher_core::Message> {
        let mut out = Vec::new();
        self.rt.block_on(async {
            let mut quiet = 0;
            while quiet < 2 {
                let got = match self.consumer.receive(1000, Duration::from_secs(2)).await {
                    Ok(v) => v,
                    Err(_) => {
                        // reconnecting (after a broker restart)
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if got.is_empty() {
                    quiet += 1;
                    continue;
                }
                quiet = 0;
                for r in got {
                    out.push(r.message.clone());
                    // After a broker restart the first messages may come from the dead
                    // connection: their ack fails, the consumer reconnects on the next receive
                    // and the broker redelivers them (counted twice: only exact variants
                    // without restarts compare counts).
                    let _ = self.consumer.ack(r.token).await;
                }
            }
        });
        out
    }

    /// Every message that arrives until none has come for two seconds: relPath -> (count, last body).
    pub fn drain(&mut self) -> BTreeMap<String, (usize, pitcher_core::Message)> {
        let mut out: BTreeMap<String, (usize, pitcher_core::Message)> = BTreeMap::new();
        self.rt.block_on(async {
            loop {
                let got = self
                    .consumer
                    .receive(100, Duration::from_secs(2))
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                for r in got {
                    let e = out
                        .entry(r.message.rel_path.clone())
                        .or_insert((0, r.message.clone()));
                    e.0 += 1;
                    e.1 = r.message;
                    self.consumer.ack(r.token).await.unwrap();
                }
            }
        });
        out
    }
}
