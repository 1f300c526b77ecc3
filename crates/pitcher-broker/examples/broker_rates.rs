//! Publish-with-confirm and consume(+ack) rates per broker on this machine.
//!
//!     cargo run --release -p pitcher-broker --example broker_rates -- [messages] [batch]
//!
//! For each broker (RabbitMQ on 127.0.0.1:5672, Mosquitto on 127.0.0.1:1883, the embedded broker
//! started in-process on a free port): declare a queue/session, publish `messages` v03 messages
//! (~330 bytes) in batches of `batch` (each batch awaits its confirms / PUBACKs), then consume them
//! all, acknowledging each. Prints a Markdown table; brokers that are not running are skipped.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::embedded::{EmbeddedBroker, EmbeddedConfig};
use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
use pitcher_broker::{Binding, Consumer, Endpoint, Outgoing, Publisher, QueueSpec};
use pitcher_core::topic::{amqp_topic, mqtt_topic, rel_path_dirs};
use pitcher_core::{Format, Message, format};

fn messages(n: usize, mqtt: bool, tag: &str) -> Vec<Outgoing> {
    (0..n)
        .map(|i| {
            let mut m = Message::new("http://localhost:8090/", format!("{tag}/d{:02}/f{i:06}.dat", i % 10));
            m.size = Some(1024);
            m.identity = Some(pitcher_core::Identity::new(pitcher_core::IdentityMethod::Sha512, "s98mPUQtrktdtPtOVKC1tE9CgoX88vNTwE4jJbgAScW5CsIjv1NT48laC23j37Xp5XqfjJiVi4tjU+Ef4jIbEA=="));
            let dirs = rel_path_dirs(&m.rel_path);
            let topic = if mqtt { mqtt_topic("xs_bench", &["v03"], &dirs) } else { amqp_topic(&["v03"], &dirs) };
            Outgoing { exchange: "xs_bench".into(), topic, encoded: format::encode(Format::V03, &m).unwrap(), persistent: true }
        })
        .collect()
}

fn spec(tag: &str) -> QueueSpec {
    QueueSpec {
        name: format!("q_bench.{tag}"),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(300)),
        message_ttl: None,
        bindings: vec![Binding::new("xs_bench", &["v03", tag, "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

async fn run<P: Publisher, C: Consumer>(
    p: &mut P,
    c: &mut C,
    out: &[Outgoing],
    batch: usize,
) -> (f64, f64) {
    let t0 = Instant::now();
    for chunk in out.chunks(batch) {
        let r = p.publish(chunk).await;
        assert!(
            r.iter().all(Result::is_ok),
            "publish failed: {:?}",
            r.iter().find(|x| x.is_err())
        );
    }
    let publish = out.len() as f64 / t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut got = 0;
    while got < out.len() {
        let v = c.receive(batch, Duration::from_secs(5)).await.unwrap();
        assert!(!v.is_empty(), "consumer stalled at {got}");
        for r in v {
            c.ack(r.token).await.unwrap();
            got += 1;
        }
    }
    let consume = out.len() as f64 / t1.elapsed().as_secs_f64();
    (publish, consume)
}

fn up(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let batch = args.get(1).copied().unwrap_or(100);
    let t = Duration::from_secs(30);
    let tag = format!("b{}", std::process::id());
    println!(
        "| broker | messages | batch | publish with confirms (msg/s) | consume + ack (msg/s) |"
    );
    println!("|---|---|---|---|---|");
    if up(5672) {
        let e = Endpoint::parse("amqp://guest@127.0.0.1:5672/", Some("guest")).unwrap();
        let mut p = AmqpPublisher::new(e.clone(), t, "bench-pub");
        p.declare_exchange("xs_bench").await.unwrap();
        let mut c = AmqpConsumer::new(
            e,
            spec(&tag),
            batch.min(u16::MAX as usize) as u16,
            t,
            "bench-sub",
        );
        c.connect().await.unwrap();
        let (pr, cr) = run(&mut p, &mut c, &messages(n, false, &tag), batch).await;
        println!("| RabbitMQ 127.0.0.1:5672 (AMQP 0-9-1) | {n} | {batch} | {pr:.0} | {cr:.0} |");
        c.close().await;
        Publisher::close(&mut p).await;
    }
    let mqtt = |port: u16, name: &str| {
        (
            Endpoint::parse(&format!("mqtt://127.0.0.1:{port}"), None).unwrap(),
            name.to_string(),
        )
    };
    let mut targets = Vec::new();
    // Mosquitto's default max_queued_messages (1000) drops what a slow persistent subscriber has
    // not taken yet, so the bench runs its own mosquitto with that limit lifted.
    let mut own = None;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = std::env::temp_dir().join(format!(
        "pitcher-bench-mosquitto-{}.conf",
        std::process::id()
    ));
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\nset_tcp_nodelay true\n")).unwrap();
    if let Ok(child) = std::process::Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        own = Some(child);
        for _ in 0..50 {
            if up(port) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        targets.push(mqtt(
            port,
            "Mosquitto 2.0.11 (MQTT v5, max_queued_messages 0)",
        ));
    }
    let dir = std::env::temp_dir().join(format!("pitcher-bench-{}", std::process::id()));
    let embedded = EmbeddedBroker::start(EmbeddedConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &dir,
    ))
    .await
    .unwrap();
    targets.push(mqtt(
        embedded.local_addr().port(),
        "embedded broker (MQTT v5, in-process)",
    ));
    for (e, name) in targets {
        let mut c = MqttConsumer::new(
            e.clone(),
            spec(&tag),
            1,
            batch.min(u16::MAX as usize) as u16,
            t,
        );
        c.connect().await.unwrap();
        let mut p = MqttPublisher::new(e.clone(), t, format!("bench-pub-{tag}"));
        let (pr, cr) = run(&mut p, &mut c, &messages(n, true, &tag), batch).await;
        println!("| {name} | {n} | {batch} | {pr:.0} | {cr:.0} |");
        c.close().await;
        Publisher::close(&mut p).await;
        pitcher_broker::mqtt::delete_session(&e, &format!("q_bench.{tag}_i01"), t)
            .await
            .ok();
    }
    embedded.shutdown().await.unwrap();
    if let Some(mut child) = own {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_file(&conf);
    let _ = std::fs::remove_dir_all(&dir);
}
