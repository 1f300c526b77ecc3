//! End-to-end pumps with the real binary: a tree posted, mirrored by sarra and downloaded by
//! subscribe arrives identical, through RabbitMQ, Mosquitto and the embedded broker; hostile
//! messages write nothing outside the tree; a checksum mismatch is never delivered.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::amqp::{publish_raw, sha512_b64};
use common::mirror::{addr_of, mirror_through};
use common::{Pump, service, unique, wait_for};

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

fn msg(base: &str, rel: &str, extra: &str) -> String {
    format!(
        "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{rel}\"{extra}}}"
    )
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

/// An HTTP server that serves `body` at any path only to requests carrying
/// `Authorization: Bearer <token>` (401 otherwise); counts both kinds of request.
fn bearer_server(
    token: &'static str,
    body: &'static [u8],
) -> (String, std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let counts = std::sync::Arc::new([
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    ]);
    let c = counts.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let authorized = text
                .lines()
                .any(|l| l.trim() == format!("authorization: bearer {token}"));
            let is_head = text.starts_with("head ");
            let reply = if authorized {
                c[0].fetch_add(1, Ordering::SeqCst);
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                if !is_head {
                    r.extend_from_slice(body);
                }
                r
            } else {
                c[1].fetch_add(1, Ordering::SeqCst);
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec()
            };
            let _ = s.write_all(&reply);
        }
    });
    (addr, counts)
}

#[test]
fn bearer_tokens_from_credentials_are_sent_and_never_logged() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    const TOKEN: &str = "t0ken-s3cr3t";
    const BODY: &[u8] = b"only for token holders\n";
    let (http, counts) = bearer_server(TOKEN, BODY);
    let mut p = Pump::new();
    let x = format!("xs_guest_bearer{}", unique());
    let dest = p.path("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(
        p.path("config/credentials.conf"),
        format!("amqp://guest:guest@127.0.0.1/\nhttp://{http}/ bearer_token={TOKEN}\n"),
    )
    .unwrap();
    p.config(
        "subscribe",
        "b",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\naccept .*\n",
            dest.display()
        ),
    );
    publish_raw(&x, &[]);
    let out = p.run(&["declare", "subscribe/b"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sub", &["foreground", "subscribe/b", "--logLevel", "debug"]);
    let extra = format!(
        ", \"size\": {}, \"identity\": {{\"method\": \"sha512\", \"value\": \"{}\"}}",
        BODY.len(),
        sha512_b64(BODY)
    );
    publish_raw(
        &x,
        &[(
            "v03.secret".to_string(),
            msg(&format!("http://{http}/"), "secret/file.txt", &extra),
        )],
    );
    let ok = wait_for(60, || dest.join("secret/file.txt").exists());
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(ok, "the file never arrived:\n{log}");
    assert!(status.success(), "exit {status:?}\n{log}");
    assert_eq!(std::fs::read(dest.join("secret/file.txt")).unwrap(), BODY);
    assert!(
        counts[0].load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "no authorized request"
    );
    assert_eq!(
        counts[1].load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a request went without the token"
    );
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
    let _ = p.run(&["cleanup", "subscribe/b"]);
}
