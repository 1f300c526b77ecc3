//! The MQTT v5 implementation against the real Mosquitto on 127.0.0.1:1883.
#![allow(clippy::unwrap_used)]

mod common;

use common::mqtt_suite as suite;
use common::service_available;

fn mosquitto() -> bool {
    service_available("Mosquitto", 1883)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_pubacks_then_consume_everything_v03_and_v02() {
    if mosquitto() {
        suite::publish_with_pubacks_then_consume_everything_v03_and_v02(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_queue_get_disjoint_messages() {
    if mosquitto() {
        suite::instances_sharing_a_queue_get_disjoint_messages(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back() {
    if mosquitto() {
        suite::receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_acknowledged_and_dropped() {
    if mosquitto() {
        suite::malformed_messages_are_acknowledged_and_dropped(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived() {
    if mosquitto() {
        suite::unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_during_an_outage_are_reported_unconfirmed() {
    if mosquitto() {
        suite::publishes_during_an_outage_are_reported_unconfirmed(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_sent_before_any_puback_is_awaited_all_arrive() {
    if mosquitto() {
        suite::batches_sent_before_any_puback_is_awaited_all_arrive(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubacks_lost_with_their_connection_do_not_drop_its_replacement() {
    if mosquitto() {
        suite::pubacks_lost_with_their_connection_do_not_drop_its_replacement(1883).await;
    }
}

/// A private Mosquitto with a password file, on a free port; killed on drop.
struct PrivateMosquitto {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn private_mosquitto_with_password(user: &str, password: &str) -> Option<PrivateMosquitto> {
    let have = std::process::Command::new("mosquitto_passwd")
        .arg("-h")
        .output()
        .is_ok();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "mosquitto and mosquitto_passwd are needed under CI"
        );
        eprintln!("SKIPPED: mosquitto_passwd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    let ok = std::process::Command::new("mosquitto_passwd")
        .arg("-b")
        .arg("-c")
        .arg(&pw)
        .arg(user)
        .arg(password)
        .status()
        .unwrap();
    assert!(ok.success());
    let port = common::free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n", pw.display())).unwrap();
    let child = std::process::Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some(PrivateMosquitto {
        child,
        port,
        _dir: dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error_on_mosquitto() {
    use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
    use pitcher_broker::{Binding, BrokerError, Endpoint, QueueSpec};
    let Some(m) = private_mosquitto_with_password("alice", "s3cret-pw") else {
        return;
    };
    let t = std::time::Duration::from_secs(5);
    let q = QueueSpec {
        name: "q_alice.test.pw".into(),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(t),
        message_ttl: None,
        bindings: vec![Binding::new("xs_alice", &["v03", "#"])],
        topic_prefix: vec!["v03".into()],
    };
    let bad = Endpoint::parse(
        &format!("mqtt://alice@127.0.0.1:{}", m.port),
        Some("wrong-one-x"),
    )
    .unwrap();
    let mut c = MqttConsumer::new(bad.clone(), q.clone(), 1, 10, t);
    let err = c.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::AuthFailed { .. }), "{err:?}");
    assert!(
        err.to_string().contains("login refused for user alice"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-one-x"));
    let mut p = MqttPublisher::new(bad, t, "pitcher-test-pw-pub");
    let err = p.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::AuthFailed { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-one-x"));
    let good = Endpoint::parse(
        &format!("mqtt://alice@127.0.0.1:{}", m.port),
        Some("s3cret-pw"),
    )
    .unwrap();
    let mut c = MqttConsumer::new(good.clone(), q, 1, 10, t);
    c.connect().await.unwrap();
    c.close().await;
    let mut p = MqttPublisher::new(good, t, "pitcher-test-pw-pub");
    p.connect().await.unwrap();
    p.close().await;
}
