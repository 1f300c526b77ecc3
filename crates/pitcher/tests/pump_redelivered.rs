//! A sarra killed after writing a file but before posting it: the broker redelivers the message
//! and the file is already in place. The redelivered message must be forwarded, not dropped as
//! "not modified" (sr3 drops it, and the product never reaches the next pump). A fresh message
//! for a file already in place is still dropped (304), as in sr3.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::mirror::addr_of;
use common::tap::Tap;
use common::{Pump, service, unique, wait_for};
use pitcher_broker::amqp::AmqpConsumer;
use pitcher_broker::{Endpoint, QueueSpec};

#[test]
fn a_redelivered_message_whose_file_is_in_place_is_forwarded() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let u = unique();
    let (src, mirror) = (p.path("src"), p.path("mirror"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&mirror).unwrap();
    for name in ["a.txt", "b.txt"] {
        let body = format!("the content of {name}\n");
        std::fs::write(src.join(name), &body).unwrap();
        // What the earlier holder of the message wrote before it died.
        std::fs::write(mirror.join(name), &body).unwrap();
    }
    let http = addr_of(&p.spawn_server("serve", &["serve", src.to_str().unwrap(), "--port", "0"]));
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    let queue = format!("q_guest.redelivered.{u}");
    p.config(
        "post",
        "r",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange xs_guest_rd{u}\npost_baseUrl http://{http}/\npost_baseDir {}\n",
            src.display()
        ),
    );
    p.config(
        "sarra",
        "r",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange xs_guest_rd{u}\nqueueName {queue}\nexpire 5m\nsubtopic #\ndirectory {m}\nmirror on\npost_broker amqp://guest@127.0.0.1/\npost_exchange xpublic_rd{u}\npost_baseDir {m}\npost_baseUrl http://127.0.0.1:9/\naccept .*\n",
            m = mirror.display()
        ),
    );
    let out = p.run(&["declare", "post/r", "sarra/r"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tap = Tap::new(&format!("xpublic_rd{u}"));
    for name in ["a.txt", "b.txt"] {
        let out = p.run(&["post", "-c", "r", src.join(name).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Take the first message and drop the connection without acknowledging it, as a sarra
    // killed with -9 would: RabbitMQ puts it back, marked redelivered.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let taken = rt.block_on(async {
        let e = Endpoint::parse("amqp://guest@127.0.0.1/", Some("guest")).unwrap();
        let q = QueueSpec {
            name: queue.clone(),
            declare: false,
            bind: false,
            durable: true,
            auto_delete: false,
            expire: None,
            message_ttl: None,
            bindings: Vec::new(),
            topic_prefix: vec!["v03".into()],
        };
        let mut c = AmqpConsumer::new(e, q, 1, Duration::from_secs(10), "dies");
        let got = c.receive(1, Duration::from_secs(10)).await.unwrap();
        assert_eq!(got.len(), 1, "the message to redeliver");
        assert!(!got[0].redelivered);
        c.close().await;
        got[0].message.rel_path.clone()
    });
    let (redelivered, fresh) = if taken.ends_with("a.txt") {
        ("a.txt", "b.txt")
    } else {
        ("b.txt", "a.txt")
    };
    p.spawn("sarra", &["foreground", "sarra/r"]);
    let both = wait_for(30, || p.log("sarra").matches("accepted:").count() >= 2);
    let posted = tap.drain();
    let status = p.stop("sarra");
    let log = p.log("sarra");
    assert!(both, "sarra did not take both messages:\n{log}");
    assert!(status.success(), "sarra exit {status:?}:\n{log}");
    assert!(
        log.contains("redelivered and already in place"),
        "no line says why the file was forwarded:\n{log}"
    );
    let paths: Vec<&String> = posted.keys().collect();
    assert!(
        posted.keys().any(|k| k.ends_with(redelivered)),
        "the redelivered {redelivered} was not forwarded (posted: {paths:?}):\n{log}"
    );
    assert!(
        !posted.keys().any(|k| k.ends_with(fresh)),
        "the fresh {fresh}, already in place, must be dropped as not modified (posted: {paths:?})"
    );
    let (count, msg) = posted
        .iter()
        .find(|(k, _)| k.ends_with(redelivered))
        .map(|(_, v)| v)
        .unwrap();
    assert_eq!(*count, 1);
    assert!(
        msg.base_url.starts_with("http://127.0.0.1:9"),
        "{}",
        msg.base_url
    );
    assert_eq!(
        std::fs::read(mirror.join(redelivered)).unwrap(),
        std::fs::read(src.join(redelivered)).unwrap()
    );
}
