//! `pitcher declare` / `cleanup` against the real RabbitMQ on 127.0.0.1:5672.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn rabbit() -> bool {
    let up = std::net::TcpStream::connect("127.0.0.1:5672").is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "RabbitMQ is not running on 127.0.0.1:5672 and CI is set"
        );
        eprintln!("SKIPPED: RabbitMQ is not running on 127.0.0.1:5672");
    }
    up && Command::new("rabbitmqctl")
        .args(["-q", "status"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn pitcher(config: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitcher"))
        .arg("--config-dir")
        .arg(config)
        .args(args)
        .env("PITCHER_STATE_DIR", state)
        .output()
        .unwrap()
}

fn queues() -> String {
    let o = Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bindings() -> String {
    let o = Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_bindings",
            "source_name",
            "destination_name",
            "routing_key",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn declare_creates_queue_bindings_and_exchanges_and_cleanup_removes_the_queue() {
    if !rabbit() {
        return;
    }
    let id = format!("{:08x}", rand_u32());
    let cfg = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cfg.path().join("subscribe")).unwrap();
    std::fs::write(
        cfg.path().join("credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    std::fs::write(
        cfg.path().join("subscribe/t.conf"),
        format!(
            "broker amqp://guest@127.0.0.1/\nexchange xs_guest_decl{id}\nsubtopic a.*.{id}.#\nsubtopic b.{id}\npost_broker amqp://guest@127.0.0.1/\npost_exchange xs_guest_decl{id}\nexpire 10m\ndirectory /tmp\n"
        ),
    )
    .unwrap();
    let out = pitcher(cfg.path(), state.path(), &["declare", "subscribe/t"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("declared exchange xs_guest_decl{id}")),
        "{said}"
    );
    assert!(!said.contains("guest:guest"), "{said}");
    // The queue name was chosen once and saved.
    let qfile = state.path().join("subscribe/t/subscribe.t.guest.qname");
    let qname = std::fs::read_to_string(&qfile).unwrap().trim().to_string();
    assert!(qname.starts_with("q_guest.subscribe.t."), "{qname}");
    assert!(
        queues().lines().any(|l| l.trim() == qname),
        "queue {qname} exists"
    );
    let b = bindings();
    assert!(
        b.lines()
            .any(|l| l.contains(&qname) && l.contains(&format!("v03.a.*.{id}.#"))),
        "{b}"
    );
    assert!(
        b.lines()
            .any(|l| l.contains(&qname) && l.contains(&format!("v03.b.{id}"))),
        "{b}"
    );
    // Declaring again reuses the same queue; show reports it.
    let out = pitcher(cfg.path(), state.path(), &["declare", "subscribe/t"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&qfile).unwrap().trim(), qname);
    let out = pitcher(cfg.path(), state.path(), &["show", "subscribe/t"]);
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l == format!("queueName {qname}")),
        "{}",
        text(&out.stdout)
    );
    // Cleanup removes the queue and the saved name, never the exchange.
    let out = pitcher(cfg.path(), state.path(), &["cleanup", "subscribe/t"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!queues().lines().any(|l| l.trim() == qname));
    assert!(!qfile.exists());
    let ex = Command::new("rabbitmqctl")
        .args(["-q", "list_exchanges", "name"])
        .output()
        .unwrap();
    assert!(
        text(&ex.stdout)
            .lines()
            .any(|l| l.trim() == format!("xs_guest_decl{id}"))
    );
    let _ = Command::new("rabbitmqctl").args(["-q", "eval", &format!("rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"xs_guest_decl{id}\">>), false, <<\"test\">>).")]).output();
}

#[test]
fn declare_reports_bad_passwords_clearly() {
    if !rabbit() {
        return;
    }
    let cfg = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cfg.path().join("subscribe")).unwrap();
    std::fs::write(
        cfg.path().join("credentials.conf"),
        "amqp://guest:wrong-password-x@127.0.0.1/\n",
    )
    .unwrap();
    std::fs::write(
        cfg.path().join("subscribe/t.conf"),
        "broker amqp://guest@127.0.0.1/\ntimeout 5\n",
    )
    .unwrap();
    let out = pitcher(cfg.path(), state.path(), &["declare", "subscribe/t"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("login refused for user guest"), "{e}");
    assert!(!e.contains("wrong-password-x"), "{e}");
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ std::process::id().rotate_left(16)
}

#[test]
fn mqtt_declare_creates_persistent_sessions_that_keep_messages_until_cleanup() {
    let up = std::net::TcpStream::connect("127.0.0.1:1883").is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "Mosquitto is not running on 127.0.0.1:1883 and CI is set"
        );
        eprintln!("SKIPPED: Mosquitto is not running on 127.0.0.1:1883");
        return;
    }
    let id = format!("{:08x}", rand_u32());
    let cfg = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cfg.path().join("subscribe")).unwrap();
    std::fs::write(
        cfg.path().join("credentials.conf"),
        "mqtt://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    std::fs::write(
        cfg.path().join("subscribe/m.conf"),
        format!("broker mqtt://guest@127.0.0.1/\nexchange xs_guest\nsubtopic {id}/#\ninstances 2\nexpire 10m\ndirectory /tmp\n"),
    )
    .unwrap();
    let out = pitcher(cfg.path(), state.path(), &["declare", "subscribe/m"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    let qname = std::fs::read_to_string(state.path().join("subscribe/m/subscribe.m.guest.qname"))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        said.contains(&format!("declared session {qname}_i01")),
        "{said}"
    );
    assert!(
        said.contains(&format!("declared session {qname}_i02")),
        "{said}"
    );
    assert!(
        said.contains(&format!("$share/{qname}/xs_guest/v03/{id}/#")),
        "{said}"
    );

    // A message published while nobody is connected waits in the declared sessions.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
        use pitcher_broker::{Binding, Endpoint, Outgoing, QueueSpec};
        let e = Endpoint::parse("mqtt://guest@127.0.0.1:1883/", Some("guest")).unwrap();
        let t = std::time::Duration::from_secs(10);
        let m = pitcher_core::Message::new("http://localhost/", format!("{id}/x/file.txt"));
        let out = Outgoing {
            exchange: "xs_guest".into(),
            topic: format!("xs_guest/v03/{id}/x"),
            encoded: pitcher_core::format::encode(pitcher_core::Format::V03, &m).unwrap(),
            persistent: true,
        };
        let mut p = MqttPublisher::new(e.clone(), t, format!("pitcher-test-{id}"));
        assert!(p.publish(&[out]).await[0].is_ok());
        p.close().await;
        let spec = QueueSpec {
            name: qname.clone(),
            declare: true,
            bind: true,
            durable: true,
            auto_delete: false,
            expire: Some(std::time::Duration::from_secs(600)),
            message_ttl: None,
            bindings: vec![Binding::new("xs_guest", &["v03", &id, "#"])],
            topic_prefix: vec!["v03".into()],
        };
        let mut got = 0;
        for i in 1..=2 {
            let mut c = MqttConsumer::new(e.clone(), spec.clone(), i, 10, t);
            c.connect().await.unwrap();
            for r in c
                .receive(10, std::time::Duration::from_millis(700))
                .await
                .unwrap()
            {
                assert_eq!(r.message.rel_path, m.rel_path);
                c.ack(r.token).await.unwrap();
                got += 1;
            }
            c.close().await;
        }
        assert_eq!(
            got, 1,
            "the message waited in exactly one of the two sessions"
        );
    });

    let out = pitcher(cfg.path(), state.path(), &["cleanup", "subscribe/m"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains(&format!("ended session {qname}_i02")));
}
