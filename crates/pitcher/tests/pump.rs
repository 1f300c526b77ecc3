//! End-to-end pumps with the real binary: a tree posted, mirrored by sarra and downloaded by
//! subscribe arrives identical, through RabbitMQ, Mosquitto and the embedded broker; hostile
//! messages write nothing outside the tree; a checksum mismatch is never delivered.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Pump, files, make_tree, same_content, service, unique, wait_for};

fn addr_of(line: &str) -> String {
    // "pitcher serve DIR on http://127.0.0.1:PORT/" or "pitcher broker listening on ADDR"
    line.rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// post -> sarra -> subscribe through broker URL `b`; `x` makes exchange names unique.
fn mirror_through(p: &mut Pump, b: &str, x: &str) {
    let src = p.path("src");
    let mirror = p.path("mirror");
    let dest = p.path("dest");
    let tree = make_tree(&src, 60, 20, 3 << 20);
    std::fs::create_dir_all(&mirror).unwrap();
    let src_http = addr_of(&p.spawn_server(
        "serve-src",
        &["serve", src.to_str().unwrap(), "--port", "0"],
    ));
    let mirror_http = addr_of(&p.spawn_server(
        "serve-mirror",
        &["serve", mirror.to_str().unwrap(), "--port", "0"],
    ));
    std::fs::write(
        p.path("config").join("credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    p.config(
        "post",
        "t",
        &format!(
            "post_broker {b}\npost_exchange xs_guest_{x}\npost_baseUrl http://{src_http}/\npost_baseDir {}\n",
            src.display()
        ),
    );
    p.config(
        "sarra",
        "t",
        &format!(
            "broker {b}\nexchange xs_guest_{x}\nexpire 5m\nsubtopic #\ndirectory {m}\nmirror on\npost_broker {b}\npost_exchange xpublic_{x}\npost_baseDir {m}\npost_baseUrl http://{mirror_http}/\naccept .*\n",
            m = mirror.display()
        ),
    );
    p.config(
        "subscribe",
        "t",
        &format!(
            "broker {b}\nexchange xpublic_{x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\naccept .*\n",
            dest.display()
        ),
    );
    let out = p.run(&["declare", "post/t", "sarra/t", "subscribe/t"]);
    assert!(
        out.status.success(),
        "declare: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sarra", &["foreground", "sarra/t"]);
    p.spawn("subscribe", &["foreground", "subscribe/t"]);
    let out = p.run(&["post", "-c", "t", src.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "post: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let arrived = wait_for(120, || files(&dest).len() >= tree.len());
    let sarra_status = p.stop("sarra");
    let sub_status = p.stop("subscribe");
    assert!(
        arrived,
        "only {} of {} files arrived\nsarra log:\n{}\nsubscribe log:\n{}",
        files(&dest).len(),
        tree.len(),
        p.log("sarra"),
        p.log("subscribe")
    );
    assert!(sarra_status.success(), "sarra exit {sarra_status:?}");
    assert!(sub_status.success(), "subscribe exit {sub_status:?}");
    assert_eq!(files(&dest), tree, "subscriber tree");
    assert_eq!(files(&mirror), tree, "mirror tree");
    for rel in &tree {
        assert!(
            same_content(&src.join(rel), &dest.join(rel)),
            "{} differs",
            rel.display()
        );
        assert!(
            same_content(&src.join(rel), &mirror.join(rel)),
            "{} differs in the mirror",
            rel.display()
        );
    }
    // No inflight leftovers.
    for root in [&dest, &mirror] {
        let hidden: Vec<_> = common::all_entries(root)
            .into_iter()
            .filter(|e| {
                e.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        assert!(hidden.is_empty(), "inflight files left: {hidden:?}");
    }
    let log = p.log("subscribe");
    assert!(log.contains("downloaded ok:"), "{log}");
    assert!(
        p.log("sarra").contains("posted"),
        "sarra log lacks posted lines"
    );
    let _ = p.run(&["cleanup", "sarra/t", "subscribe/t"]);
}

#[test]
fn tree_mirrored_through_rabbitmq() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    mirror_through(
        &mut p,
        "amqp://guest@127.0.0.1/",
        &format!("pump{}", unique()),
    );
}

#[test]
fn tree_mirrored_through_mosquitto() {
    if !service("127.0.0.1:1883", "Mosquitto") {
        return;
    }
    let mut p = Pump::new();
    mirror_through(
        &mut p,
        "mqtt://pump:pump@127.0.0.1:1883",
        &format!("pump{}", unique()),
    );
}

#[test]
fn tree_mirrored_through_the_embedded_broker() {
    let mut p = Pump::new();
    let data = p.path("broker");
    let line = p.spawn_server(
        "broker",
        &[
            "broker",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    let addr = addr_of(&line);
    mirror_through(&mut p, &format!("mqtt://pump:pump@{addr}"), "emb");
}

/// Publish raw v03 bodies to an AMQP exchange.
fn publish_raw(exchange: &str, bodies: &[(String, String)]) {
    use pitcher_broker::amqp::AmqpPublisher;
    use pitcher_broker::{Endpoint, Outgoing};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = Endpoint::parse("amqp://guest@127.0.0.1/", Some("guest")).unwrap();
        let mut p = AmqpPublisher::new(e, std::time::Duration::from_secs(10), "pump-test");
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

fn msg(base: &str, rel: &str, extra: &str) -> String {
    format!(
        "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{rel}\"{extra}}}"
    )
}

fn sha512_b64(data: &[u8]) -> String {
    let id = pitcher_core::IdentitySpec::Checksum(pitcher_core::ChecksumAlgorithm::Sha512)
        .compute(data, 4096)
        .unwrap()
        .unwrap();
    id.value
}

#[test]
fn hostile_messages_write_nothing_outside_and_bad_checksums_are_never_delivered() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let x = format!("xs_guest_hostile{}", unique());
    let src = p.path("src");
    let outside = p.path("outside");
    let dest = p.path("tree/dest");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("evil")).unwrap();
    std::fs::write(src.join("good.txt"), b"good content\n").unwrap();
    std::fs::write(src.join("bad.txt"), b"the real content\n").unwrap();
    std::fs::write(src.join("escape.txt"), b"must not land outside\n").unwrap();
    let http = addr_of(&p.spawn_server("serve", &["serve", src.to_str().unwrap(), "--port", "0"]));
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    p.config(
        "subscribe",
        "h",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\nattempts 1\nlogReject on\naccept .*\n",
            dest.display()
        ),
    );
    publish_raw(&x, &[]); // the exchange must exist before the queue is bound
    let out = p.run(&["declare", "subscribe/h"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sub", &["foreground", "subscribe/h"]);
    let base = format!("http://{http}/");
    let size = |n: usize| format!(", \"size\": {n}");
    let bad_id = format!(
        ", \"identity\": {{\"method\": \"sha512\", \"value\": \"{}\"}}",
        sha512_b64(b"something else\n")
    );
    let hostile = [
        msg(&base, "../../escape.txt", &size(22)),
        msg(&base, "a/../../../escape.txt", &size(22)),
        msg(&base, "evil/escape.txt", &size(22)),
        msg(&base, "lnk", ", \"fileOp\": {\"link\": \"/etc/passwd\"}"),
        msg(
            &base,
            "lnk2",
            ", \"fileOp\": {\"link\": \"../../../outside/x\"}",
        ),
        msg(&base, "bad.txt", &format!("{}{bad_id}", size(17))),
        "this is not json".to_string(),
        "{\"relPath\": 5}".to_string(),
        msg(&base, "good.txt", &size(13)),
    ];
    let bodies: Vec<(String, String)> = hostile
        .iter()
        .map(|b| ("v03.x".to_string(), b.clone()))
        .collect();
    publish_raw(&x, &bodies);
    let ok = wait_for(60, || dest.join("good.txt").exists());
    // Give the bad checksum its attempt too (it comes before good.txt in the batch).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(ok, "good.txt never arrived:\n{log}");
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "something was written outside the tree:\n{log}"
    );
    assert!(!p.path("escape.txt").exists() && !p.path("tree/escape.txt").exists());
    assert!(!dest.join("lnk").exists() && std::fs::symlink_metadata(dest.join("lnk2")).is_err());
    assert!(
        !dest.join("bad.txt").exists(),
        "bad checksum delivered:\n{log}"
    );
    assert!(log.contains("checksum mismatch"), "{log}");
    assert!(log.contains("rejected: 403"), "{log}");
    let metrics =
        std::fs::read_to_string(p.path("state/subscribe/h/subscribe_h_01.metrics")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert!(m["work_retry_queue"].as_u64().unwrap() >= 1, "{metrics}");
    assert!(m["malformed"].as_u64().unwrap() >= 2, "{metrics}");
    let _ = p.run(&["cleanup", "subscribe/h"]);
    let _ = Path::new("");
}
