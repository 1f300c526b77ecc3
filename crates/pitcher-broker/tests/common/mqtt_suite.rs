//! The MQTT behavioural suite, run against Mosquitto (tests/mqtt.rs) and the embedded broker
//! (tests/embedded.rs): every scenario takes the broker's port.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Proxy, reserve_port, unique};
use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
use pitcher_broker::{Binding, BrokerError, Consumer, Endpoint, Outgoing, QueueSpec, Received};
use pitcher_core::topic::{mqtt_topic, rel_path_dirs};
use pitcher_core::{Encoded, Format, Message, format};

const EXCHANGE: &str = "xs_pitchertest";
const T: Duration = Duration::from_secs(10);

fn endpoint(port: u16) -> Endpoint {
    Endpoint::parse(&format!("mqtt://127.0.0.1:{port}"), None).unwrap()
}

fn queue(test: &str) -> QueueSpec {
    QueueSpec {
        name: unique(&format!("q_anonymous.test.{test}.")),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(120)),
        message_ttl: None,
        bindings: vec![Binding::new(EXCHANGE, &["v03", test, "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

fn message(test: &str, i: usize, f: Format) -> Outgoing {
    let mut m = Message::new("http://localhost/", format!("{test}/dir/file{i:04}.txt"));
    m.size = Some(i as u64);
    Outgoing {
        exchange: EXCHANGE.into(),
        topic: mqtt_topic(EXCHANGE, &["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(f, &m).unwrap(),
        persistent: true,
    }
}

fn batch(test: &str, n: std::ops::Range<usize>) -> Vec<Outgoing> {
    n.map(|i| message(test, i, Format::V03)).collect()
}

async fn publisher(port: u16) -> MqttPublisher {
    let mut p = MqttPublisher::new(endpoint(port), T, unique("pitcher-test-pub-"));
    p.connect().await.unwrap();
    p
}

async fn consumer(port: u16, q: QueueSpec, instance: u32, rm: u16) -> MqttConsumer {
    let mut c = MqttConsumer::new(endpoint(port), q, instance, rm, T);
    c.connect().await.unwrap();
    c
}

async fn drain<C: Consumer>(c: &mut C, want: usize, ack: bool) -> Vec<Received> {
    let mut got = Vec::new();
    // Until a deadline, not a number of calls: under load each call may return only a few.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if got.len() >= want {
            break;
        }
        if let Ok(v) = c
            .receive(want - got.len(), Duration::from_millis(300))
            .await
        {
            for r in v {
                if ack {
                    c.ack(r.token).await.unwrap();
                }
                got.push(r);
            }
        }
    }
    got
}

pub async fn publish_with_pubacks_then_consume_everything_v03_and_v02(port: u16) {
    let test = unique("pc");
    let mut c = consumer(port, queue(&test), 1, 25).await;
    assert_eq!(c.client_id(), format!("{}_i01", c.queue().name));
    let mut p = publisher(port).await;
    let mut out = batch(&test, 0..150);
    out.extend((150..200).map(|i| message(&test, i, Format::V02)));
    let results = p.publish(&out).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = drain(&mut c, 200, true).await;
    assert_eq!(got.len(), 200);
    let names: HashSet<_> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    assert_eq!(names.len(), 200);
    assert!(
        got.iter()
            .any(|r| r.message.local.format == Some(Format::V02))
    );
    let first = &got[0].message;
    assert_eq!(first.local.exchange.as_deref(), Some(EXCHANGE));
    assert_eq!(
        first.local.subtopic.as_deref(),
        Some(&[test.clone(), "dir".to_string()][..])
    );
    assert!(
        c.receive(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    c.close().await;
    p.close().await;
}

pub async fn instances_sharing_a_queue_get_disjoint_messages(port: u16) {
    let test = unique("share");
    let q = queue(&test);
    let mut a = consumer(port, q.clone(), 1, 5).await;
    let mut b = consumer(port, q, 2, 5).await;
    let mut p = publisher(port).await;
    assert!(
        p.publish(&batch(&test, 0..100))
            .await
            .iter()
            .all(Result::is_ok)
    );
    let (mut sa, mut sb) = (HashSet::new(), HashSet::new());
    for _ in 0..100 {
        for r in a.receive(3, Duration::from_millis(100)).await.unwrap() {
            a.ack(r.token).await.unwrap();
            sa.insert(r.message.rel_path);
        }
        for r in b.receive(3, Duration::from_millis(100)).await.unwrap() {
            b.ack(r.token).await.unwrap();
            sb.insert(r.message.rel_path);
        }
        if sa.len() + sb.len() == 100 {
            break;
        }
    }
    assert_eq!(sa.len() + sb.len(), 100);
    assert!(sa.is_disjoint(&sb));
    assert!(
        !sa.is_empty() && !sb.is_empty(),
        "{} / {}",
        sa.len(),
        sb.len()
    );
}

pub async fn receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back(port: u16) {
    let test = unique("rm");
    let q = queue(&test);
    let mut a = consumer(port, q.clone(), 1, 5).await;
    let mut p = publisher(port).await;
    assert!(
        p.publish(&batch(&test, 0..20))
            .await
            .iter()
            .all(Result::is_ok)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.extend(a.receive(100, Duration::from_millis(200)).await.unwrap());
    }
    assert_eq!(held.len(), 5, "Receive Maximum is the prefetch");
    // The process dies without acknowledging: the same session, reconnected, gets everything.
    a.close().await;
    let mut again = consumer(port, q, 1, 50).await;
    let got = drain(&mut again, 20, true).await;
    let names: HashSet<_> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    assert_eq!(names.len(), 20, "all 20, including the 5 held ones");
    let held_names: HashSet<_> = held.iter().map(|r| r.message.rel_path.clone()).collect();
    assert!(held_names.is_subset(&names));
}

pub async fn malformed_messages_are_acknowledged_and_dropped(port: u16) {
    let test = unique("bad");
    let q = queue(&test);
    let mut c = consumer(port, q.clone(), 1, 25).await;
    let mut p = publisher(port).await;
    let topic = format!("{EXCHANGE}/v03/{test}/dir");
    let bad = |body: &str, ct: &'static str| Outgoing {
        exchange: EXCHANGE.into(),
        topic: topic.clone(),
        encoded: Encoded {
            body: body.into(),
            headers: Default::default(),
            content_type: ct,
        },
        persistent: true,
    };
    let out = vec![
        bad("not json", "application/json"),
        bad(r#"{"relPath": "x"}"#, "application/json"),
        message(&test, 1, Format::V03),
    ];
    assert!(p.publish(&out).await.iter().all(Result::is_ok));
    let got = drain(&mut c, 1, true).await;
    assert_eq!(got.len(), 1);
    for _ in 0..10 {
        if c.stats().bad == 2 {
            break;
        }
        let _ = c.receive(10, Duration::from_millis(200)).await;
    }
    assert_eq!(c.stats().bad, 2);
    c.close().await;
    let mut again = consumer(port, q, 1, 25).await;
    assert!(
        again
            .receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived(port: u16) {
    let reserved = reserve_port();
    let test = unique("cut");
    let q = queue(&test);
    let mut c = MqttConsumer::new(endpoint(reserved.port), q, 1, 10, Duration::from_secs(5));
    let err = c.receive(10, Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, BrokerError::Connect { .. }), "{err:?}");
    assert!(matches!(
        c.receive(10, Duration::from_millis(10)).await.unwrap_err(),
        BrokerError::NotConnected { .. }
    ));
    let proxy = Proxy::start_on(reserved, SocketAddr::from(([127, 0, 0, 1], port)));
    let mut ok = false;
    for _ in 0..40 {
        if c.receive(10, Duration::from_millis(250)).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok && c.is_connected());
    let mut p = publisher(port).await;
    assert!(
        p.publish(&batch(&test, 0..3))
            .await
            .iter()
            .all(Result::is_ok)
    );
    let first = drain(&mut c, 3, false).await;
    assert_eq!(first.len(), 3);
    proxy.cut();
    let mut again = Vec::new();
    for _ in 0..80 {
        if let Ok(v) = c.receive(10, Duration::from_millis(250)).await {
            again.extend(v);
        }
        if again.len() >= 3 {
            break;
        }
    }
    assert_eq!(
        again.len(),
        3,
        "redelivered to the session after reconnecting"
    );
    assert!(c.stats().reconnects >= 1);
    for r in &first {
        c.ack(r.token).await.unwrap();
    }
    assert_eq!(c.stats().stale_acks, 3);
    for r in &again {
        c.ack(r.token).await.unwrap();
    }
    assert!(
        c.receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn publishes_during_an_outage_are_reported_unconfirmed(port: u16) {
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], port))).await;
    let test = unique("out");
    let mut p = MqttPublisher::new(
        endpoint(proxy.port),
        Duration::from_secs(3),
        unique("pitcher-test-pub-"),
    );
    p.connect().await.unwrap();
    assert!(p.publish(&batch(&test, 0..1)).await[0].is_ok());
    proxy.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let results = p.publish(&batch(&test, 1..4)).await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_err), "{results:?}");
}

pub async fn batches_sent_before_any_puback_is_awaited_all_arrive(port: u16) {
    let test = unique("pipe");
    let mut c = consumer(port, queue(&test), 1, 250).await;
    let mut p = publisher(port).await;
    let mut pending = Vec::new();
    for b in 0..5 {
        let sent = p.send(&batch(&test, b * 50..(b + 1) * 50)).await;
        assert_eq!(sent.len(), 50);
        pending.push(sent);
    }
    for sent in pending {
        let results = p.settle(sent.wait().await).await;
        assert_eq!(results.len(), 50);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    let got = drain(&mut c, 250, true).await;
    // Compared as sets: the mqtt5 client publishes a batch's messages concurrently, and under
    // its receive-maximum quota neighbours can swap (seen on the embedded broker with one
    // 250-message publish too, before pipelining). AMQP keeps the order (tests/amqp.rs).
    let names: HashSet<String> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    let want: HashSet<String> = (0..250)
        .map(|i| format!("{test}/dir/file{i:04}.txt"))
        .collect();
    assert_eq!(names, want);
    assert_eq!(got.len(), 250, "each once");
    c.close().await;
    p.close().await;
}

pub async fn pubacks_lost_with_their_connection_do_not_drop_its_replacement(port: u16) {
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], port))).await;
    let test = unique("gen");
    let mut c = consumer(port, queue(&test), 1, 50).await;
    let mut p = MqttPublisher::new(endpoint(proxy.port), T, unique("pitcher-test-pub-"));
    p.connect().await.unwrap();
    // The broker goes silent while a batch is out: its PUBACKs never come back.
    proxy.freeze();
    let lost = p.send(&batch(&test, 0..3)).await;
    proxy.cut();
    let lost = lost.wait().await;
    // The connection died with a batch out: that counts as a failed attempt, so the next send
    // waits out the back-off (1 s) instead of reconnecting at once.
    let early = p.send(&batch(&test, 100..101)).await;
    let early = p.settle(early.wait().await).await;
    assert!(
        matches!(early[..], [Err(BrokerError::NotConnected { .. })]),
        "{early:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A second batch goes out on a new connection before the first one's PUBACKs are settled.
    let second = p.send(&batch(&test, 3..6)).await;
    let results = p.settle(lost).await;
    assert!(results.iter().all(Result::is_err), "{results:?}");
    // Settling the old connection's failures must leave the new connection alone: no new
    // back-off, the next batch goes out at once.
    let results = p.settle(second.wait().await).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let third = p.publish(&batch(&test, 6..9)).await;
    assert!(third.iter().all(Result::is_ok), "{third:?}");
    let got = drain(&mut c, 6, true).await;
    let names: HashSet<String> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    let want: HashSet<String> = (3..9)
        .map(|i| format!("{test}/dir/file{i:04}.txt"))
        .collect();
    assert_eq!(names, want);
    c.close().await;
    p.close().await;
}
