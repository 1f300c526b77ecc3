//! RabbitMQ itself restarted in the middle of a flow (`rabbitmqctl stop_app` / `start_app`):
//! nothing the broker confirmed is lost, and consumer and publisher resume by themselves.
//! A test binary of its own, so the restart cannot disturb other tests running in parallel.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use common::{service_available, unique};
use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::{Binding, Endpoint, Outgoing, QueueSpec};
use pitcher_core::topic::{amqp_topic, rel_path_dirs};
use pitcher_core::{Format, Message, format};

const EXCHANGE: &str = "xs_guest_pitchertest";

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn endpoint() -> Endpoint {
    Endpoint::parse("amqp://guest@127.0.0.1:5672/", Some("guest")).unwrap()
}

fn message(test: &str, i: usize) -> Outgoing {
    let m = Message::new("http://localhost/", format!("{test}/d/f{i:05}"));
    Outgoing {
        exchange: EXCHANGE.into(),
        topic: amqp_topic(&["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(Format::V03, &m).unwrap(),
        persistent: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_loses_nothing_the_broker_confirmed() {
    if !service_available("RabbitMQ", 5672) {
        return;
    }
    if !rabbitmqctl(&["-q", "status"]) {
        assert!(
            std::env::var_os("CI").is_none(),
            "rabbitmqctl is needed to restart RabbitMQ under CI"
        );
        eprintln!("SKIPPED: rabbitmqctl cannot control the local RabbitMQ");
        return;
    }
    let test = unique("rst");
    let q = QueueSpec {
        name: unique("q_guest.test.restart."),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(300)),
        message_ttl: None,
        bindings: vec![Binding::new(EXCHANGE, &["v03", &test, "#"])],
        topic_prefix: vec!["v03".into()],
    };
    let t = Duration::from_secs(5);
    let mut p = AmqpPublisher::new(endpoint(), t, "pitcher-test-restart-pub");
    p.declare_exchange(EXCHANGE).await.unwrap();
    let mut c = AmqpConsumer::new(endpoint(), q, 50, t, "pitcher-test-restart-sub");
    c.connect().await.unwrap();

    // The first half is confirmed before the restart and left in the queue.
    let total = 400;
    let first: Vec<Outgoing> = (0..total / 2).map(|i| message(&test, i)).collect();
    assert!(p.publish(&first).await.iter().all(Result::is_ok));

    assert!(rabbitmqctl(&["stop_app"]), "rabbitmqctl stop_app");
    // While the broker is down, publishes are reported unconfirmed: keep them, as a flow's post
    // retry spool would.
    let mut spool: Vec<Outgoing> = (total / 2..total).map(|i| message(&test, i)).collect();
    let results = p.publish(&spool).await;
    assert!(results.iter().all(Result::is_err));
    assert!(
        c.receive(10, Duration::from_millis(200))
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(rabbitmqctl(&["start_app"]), "rabbitmqctl start_app");

    // Replay the spool until everything is confirmed, while consuming.
    let mut seen = HashSet::new();
    for _ in 0..240 {
        if !spool.is_empty() {
            let results = p.publish(&spool).await;
            spool = spool
                .into_iter()
                .zip(results)
                .filter(|(_, r)| r.is_err())
                .map(|(o, _)| o)
                .collect();
        }
        if let Ok(batch) = c.receive(100, Duration::from_millis(250)).await {
            for r in batch {
                seen.insert(r.message.rel_path.clone());
                let _ = c.ack(r.token).await;
            }
        }
        if spool.is_empty() && seen.len() == total {
            break;
        }
    }
    assert!(
        spool.is_empty(),
        "{} publishes never confirmed",
        spool.len()
    );
    assert_eq!(
        seen.len(),
        total,
        "every confirmed message arrives after the restart"
    );
    assert!(c.stats().reconnects >= 1);
    c.close().await;
    p.close().await;
}
