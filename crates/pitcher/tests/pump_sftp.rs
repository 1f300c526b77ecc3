//! Downloads from an SFTP server in a running flow: a subscriber on RabbitMQ fetches announced
//! files from a private OpenSSH sshd on loopback (the same servers as pitcher-transfer's tests),
//! logging in with the key and known_hosts that credentials.conf and the options name.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pitcher-transfer/tests/servers/mod.rs"]
mod servers;

use std::time::Duration;

use common::{Pump, service, unique, wait_for};
use pitcher_broker::amqp::AmqpPublisher;
use pitcher_broker::{Endpoint, Outgoing};

fn publish(exchange: &str, bodies: &[String]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = Endpoint::parse("amqp://guest@127.0.0.1/", Some("guest")).unwrap();
        let mut p = AmqpPublisher::new(e, Duration::from_secs(10), "sftp-test");
        p.declare_exchange(exchange).await.unwrap();
        let batch: Vec<Outgoing> = bodies
            .iter()
            .map(|body| Outgoing {
                exchange: exchange.to_string(),
                topic: "v03.src".to_string(),
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

fn sha512_b64(data: &[u8]) -> String {
    pitcher_core::IdentitySpec::Checksum(pitcher_core::ChecksumAlgorithm::Sha512)
        .compute(data, 4096)
        .unwrap()
        .unwrap()
        .value
}

#[test]
fn subscribe_downloads_from_sftp_with_key_and_known_hosts() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_sftp{}", unique());
    let dest = p.path("dest");
    std::fs::create_dir_all(&dest).unwrap();
    let src = sshd.root.join("src/deep");
    std::fs::create_dir_all(&src).unwrap();
    let small = b"small file over sftp\n".to_vec();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("small.txt"), &small).unwrap();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(
        p.path("config/credentials.conf"),
        format!(
            "amqp://guest:guest@127.0.0.1/\nsftp://{}@127.0.0.1:{}/ ssh_keyfile={}\n",
            sshd.user,
            sshd.port,
            sshd.key.display()
        ),
    )
    .unwrap();
    p.config(
        "subscribe",
        "s",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\nsshKnownHosts {}\naccept .*\n",
            dest.display(),
            sshd.known_hosts.display()
        ),
    );
    publish(&x, &[]);
    let out = p.run(&["declare", "subscribe/s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sub", &["foreground", "subscribe/s"]);
    // Relative to the login directory: a baseUrl without a path (sr3's split).
    let base = format!("sftp://{}@127.0.0.1:{}", sshd.user, sshd.port);
    let body = |rel: &str, data: &[u8]| {
        format!(
            "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{rel}\", \"size\": {}, \"identity\": {{\"method\": \"sha512\", \"value\": \"{}\"}}}}",
            data.len(),
            sha512_b64(data)
        )
    };
    publish(
        &x,
        &[
            body("src/deep/small.txt", &small),
            body("src/deep/big.bin", &big),
        ],
    );
    let ok = wait_for(60, || {
        dest.join("src/deep/small.txt").exists() && dest.join("src/deep/big.bin").exists()
    });
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(ok, "files never arrived:\n{log}");
    assert!(status.success(), "exit {status:?}\n{log}");
    assert_eq!(
        std::fs::read(dest.join("src/deep/small.txt")).unwrap(),
        small
    );
    assert_eq!(std::fs::read(dest.join("src/deep/big.bin")).unwrap(), big);
    assert!(log.contains("downloaded ok:"), "{log}");
    let _ = p.run(&["cleanup", "subscribe/s"]);
}
