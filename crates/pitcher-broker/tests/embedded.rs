//! The same MQTT behavioural suite against the embedded broker, started in-process on port 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::mqtt_suite as suite;
use pitcher_broker::embedded::{EmbeddedBroker, EmbeddedConfig};

async fn broker(dir: &std::path::Path) -> EmbeddedBroker {
    EmbeddedBroker::start(EmbeddedConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir,
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_pubacks_then_consume_everything_v03_and_v02() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::publish_with_pubacks_then_consume_everything_v03_and_v02(b.local_addr().port()).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_queue_get_disjoint_messages() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::instances_sharing_a_queue_get_disjoint_messages(b.local_addr().port()).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back(
        b.local_addr().port(),
    )
    .await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_acknowledged_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::malformed_messages_are_acknowledged_and_dropped(b.local_addr().port()).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived(
        b.local_addr().port(),
    )
    .await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_during_an_outage_are_reported_unconfirmed() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    assert_ne!(b.local_addr().port(), 1883);
    suite::publishes_during_an_outage_are_reported_unconfirmed(b.local_addr().port()).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_sent_before_any_puback_is_awaited_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    suite::batches_sent_before_any_puback_is_awaited_all_arrive(b.local_addr().port()).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubacks_lost_with_their_connection_do_not_drop_its_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    suite::pubacks_lost_with_their_connection_do_not_drop_its_replacement(b.local_addr().port())
        .await;
    b.shutdown().await.unwrap();
}

fn spec(name: &str, test: &str) -> pitcher_broker::QueueSpec {
    pitcher_broker::QueueSpec {
        name: name.to_string(),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(std::time::Duration::from_secs(600)),
        message_ttl: None,
        bindings: vec![pitcher_broker::Binding::new(
            "xs_pitchertest",
            &["v03", test, "#"],
        )],
        topic_prefix: vec!["v03".into()],
    }
}

fn outgoing(test: &str, i: usize) -> pitcher_broker::Outgoing {
    let m = pitcher_core::Message::new("http://localhost/", format!("{test}/d/f{i:04}"));
    pitcher_broker::Outgoing {
        exchange: "xs_pitchertest".into(),
        topic: format!("xs_pitchertest/v03/{test}/d"),
        encoded: pitcher_core::format::encode(pitcher_core::Format::V03, &m).unwrap(),
        persistent: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_survive_a_broker_restart_from_its_data_dir_and_orphans_go() {
    use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path()).await;
    let port = b.local_addr().port();
    let e = |port: u16| {
        pitcher_broker::Endpoint::parse(&format!("mqtt://127.0.0.1:{port}"), None).unwrap()
    };
    let t = Duration::from_secs(10);
    let q = spec("q_anonymous.test.restart", "rst");
    // Declare the session (subscribe, disconnect), then publish while nobody is connected.
    let mut c = MqttConsumer::new(e(port), q.clone(), 1, 10, t);
    c.connect().await.unwrap();
    c.close().await;
    let mut p = MqttPublisher::new(e(port), t, "pitcher-test-restart-pub");
    let out: Vec<_> = (0..50).map(|i| outgoing("rst", i)).collect();
    assert!(p.publish(&out).await.iter().all(Result::is_ok));
    p.close().await;
    b.shutdown().await.unwrap();
    // What a broker killed between a temp file's creation and its rename leaves behind: the next
    // start removes it (vendor/mqtt5 patch) and keeps the real queue files.
    let session_dir = std::fs::read_dir(dir.path().join("queues"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .expect("a session queue directory")
        .path();
    let orphan = session_dir.join("00000000000000000001.tmp.99999.7");
    std::fs::write(&orphan, b"{half a messa").unwrap();
    // A new broker from the same data directory still holds them for the session.
    let b = broker(dir.path()).await;
    assert!(
        !orphan.exists(),
        "the temp file of an interrupted write was left behind"
    );
    let mut c = MqttConsumer::new(e(b.local_addr().port()), q, 1, 100, t);
    let mut names = std::collections::HashSet::new();
    for _ in 0..40 {
        if let Ok(v) = c.receive(100, Duration::from_millis(250)).await {
            for r in v {
                names.insert(r.message.rel_path.clone());
                c.ack(r.token).await.unwrap();
            }
        }
        if names.len() == 50 {
            break;
        }
    }
    assert_eq!(names.len(), 50);
    c.close().await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_password_file_wrong_passwords_are_refused_clearly() {
    use pitcher_broker::BrokerError;
    use pitcher_broker::embedded::hash_password;
    use pitcher_broker::mqtt::MqttConsumer;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    std::fs::write(
        &pw,
        format!("{}\n", hash_password("alice", "s3cret-pw").unwrap()),
    )
    .unwrap();
    let mut cfg = EmbeddedConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.path().join("data"),
    );
    cfg.password_file = Some(pw);
    let b = EmbeddedBroker::start(cfg).await.unwrap();
    let port = b.local_addr().port();
    let t = std::time::Duration::from_secs(5);
    let bad = pitcher_broker::Endpoint::parse(
        &format!("mqtt://alice@127.0.0.1:{port}"),
        Some("wrong-one-x"),
    )
    .unwrap();
    let mut c = MqttConsumer::new(bad, spec("q_alice.test.pw", "pw"), 1, 10, t);
    let err = c.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::AuthFailed { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-one-x"));
    let anonymous =
        pitcher_broker::Endpoint::parse(&format!("mqtt://127.0.0.1:{port}"), None).unwrap();
    let mut c = MqttConsumer::new(anonymous, spec("q_anonymous.test.pw", "pw"), 1, 10, t);
    assert!(
        c.connect().await.is_err(),
        "anonymous clients are refused when a password file is given"
    );
    let good = pitcher_broker::Endpoint::parse(
        &format!("mqtt://alice@127.0.0.1:{port}"),
        Some("s3cret-pw"),
    )
    .unwrap();
    let mut c = MqttConsumer::new(good, spec("q_alice.test.pw", "pw"), 1, 10, t);
    c.connect().await.unwrap();
    c.close().await;
    b.shutdown().await.unwrap();
}
