//! `pitcher broker`, the embedded MQTT broker, as a real process: killed with SIGKILL and
//! restarted from its data directory.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
use pitcher_broker::{Binding, Endpoint, Outgoing, QueueSpec};

fn start(data: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitcher"))
        .args(["broker", "--port", "0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    (child, port)
}

fn spec() -> QueueSpec {
    QueueSpec {
        name: "q_anonymous.test.kill9".into(),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(600)),
        message_ttl: None,
        bindings: vec![Binding::new("xs_test", &["v03", "k", "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

#[test]
fn broker_flags_default_away_from_standard_ports() {
    let out = Command::new(env!("CARGO_BIN_EXE_pitcher"))
        .args(["broker", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("25883"), "{help}");
    assert!(!help.contains("default: 1883") && !help.contains("[default: 5672]"));
}

/// A session declared, 100 QoS 1 messages published and acknowledged (PUBACK), the broker killed
/// with SIGKILL right after the last PUBACK (or `KILL_DELAY_MS` later) and restarted from its data
/// dir: all 100 are delivered. The vendored mqtt5 sends a PUBACK only once the queued copies are
/// written and fsynced (vendor/mqtt5/PITCHER-PATCH.md, docs/brokers.md).
#[test]
fn messages_acknowledged_by_the_broker_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = |port: u16| Endpoint::parse(&format!("mqtt://127.0.0.1:{port}"), None).unwrap();
    let t = Duration::from_secs(10);
    rt.block_on(async {
        let mut c = MqttConsumer::new(e(port), spec(), 1, 10, t);
        c.connect().await.unwrap();
        c.close().await;
        let mut p = MqttPublisher::new(e(port), t, "pitcher-test-kill9-pub");
        let out: Vec<Outgoing> = (0..100)
            .map(|i| {
                let m = pitcher_core::Message::new("http://localhost/", format!("k/d/f{i:04}"));
                Outgoing {
                    exchange: "xs_test".into(),
                    topic: "xs_test/v03/k/d".into(),
                    encoded: pitcher_core::format::encode(pitcher_core::Format::V03, &m).unwrap(),
                    persistent: true,
                }
            })
            .collect();
        assert!(p.publish(&out).await.iter().all(Result::is_ok));
        p.close().await;
    });
    // SIGKILL right after the last PUBACK.
    std::thread::sleep(Duration::from_millis(
        std::env::var("KILL_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, port) = start(dir.path());
    let got = rt.block_on(async {
        let mut c = MqttConsumer::new(e(port), spec(), 1, 100, t);
        let mut names = std::collections::HashSet::new();
        // Until all are back or 20 s have passed (a receive returns what has arrived so far).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(v) = c.receive(100, Duration::from_millis(250)).await {
                for r in v {
                    names.insert(r.message.rel_path.clone());
                    c.ack(r.token).await.unwrap();
                }
            }
            if names.len() == 100 {
                break;
            }
        }
        c.close().await;
        names.len()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        got, 100,
        "every message the broker acknowledged is still there after kill -9"
    );
}
