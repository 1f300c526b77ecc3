//! A queue bound to an exchange before a component runs, read back afterwards.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::{Binding, Endpoint, QueueSpec};

fn endpoint() -> Endpoint {
    Endpoint::parse("amqp://guest@127.0.0.1/", Some("guest")).unwrap()
}

/// A queue on `exchange` made before the component runs, read back afterwards.
pub struct Tap {
    rt: tokio::runtime::Runtime,
    consumer: AmqpConsumer,
}

impl Tap {
    pub fn new(exchange: &str) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let q = QueueSpec {
            name: format!("q_guest.test.tap.{}", super::unique()),
            declare: true,
            bind: true,
            durable: false,
            auto_delete: false,
            expire: Some(Duration::from_secs(300)),
            message_ttl: None,
            bindings: vec![Binding::new(exchange, &["v03", "#"])],
            topic_prefix: vec!["v03".into()],
        };
        let consumer = rt.block_on(async {
            let mut p = AmqpPublisher::new(endpoint(), Duration::from_secs(10), "tap");
            p.declare_exchange(exchange).await.unwrap();
            p.close().await;
            let mut c = AmqpConsumer::new(endpoint(), q, 100, Duration::from_secs(10), "tap");
            c.connect().await.unwrap();
            c
        });
        Tap { rt, consumer }
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
