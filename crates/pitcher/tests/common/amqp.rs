//! Publishing raw announcements to RabbitMQ from tests (as another pump would), and the
//! checksum helper they need.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use pitcher_broker::amqp::AmqpPublisher;
use pitcher_broker::{Endpoint, Outgoing};

/// Declare `exchange` and publish `(topic, body)` pairs (v03 JSON) to it, all confirmed.
pub fn publish_raw(exchange: &str, bodies: &[(String, String)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = Endpoint::parse("amqp://guest@127.0.0.1/", Some("guest")).unwrap();
        let mut p = AmqpPublisher::new(e, Duration::from_secs(10), "pitcher-test");
        p.declare_exchange(exchange).await.unwrap();
        let batch: Vec<Outgoing> = bodies
            .iter()
            .map(|(topic, body)| Outgoing {
                exchange: exchange.to_string(),
                topic: topic.clone(),
                encoded: pitcher_core::Encoded {
                    body: body.clone(),
                    headers: Default::default(),
                    content_type: "application/json",
                },
                persistent: true,
            })
            .collect();
        for r in p.publish(&batch).await {
            r.unwrap();
        }
        p.close().await;
    });
}

/// [`publish_raw`] with every body on topic `v03.data`.
pub fn publish(exchange: &str, bodies: &[String]) {
    let with_topic: Vec<(String, String)> = bodies
        .iter()
        .map(|b| ("v03.data".to_string(), b.clone()))
        .collect();
    publish_raw(exchange, &with_topic);
}

/// The sha512 identity value sr3 would announce for `data`.
pub fn sha512_b64(data: &[u8]) -> String {
    pitcher_core::IdentitySpec::Checksum(pitcher_core::ChecksumAlgorithm::Sha512)
        .compute(data, 4096)
        .unwrap()
        .unwrap()
        .value
}
