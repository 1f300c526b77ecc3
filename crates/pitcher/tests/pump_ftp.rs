//! FTP end to end with the real binary against a private pyftpdlib server on loopback: a
//! subscriber downloading, a sender sending a tree, a poll listing, and a subscriber whose
//! server is killed in the middle of a big download and comes back.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pitcher-transfer/tests/servers/mod.rs"]
mod servers;

use std::time::{Duration, Instant};

use common::amqp::{publish, sha512_b64};
use common::{Pump, service, unique, wait_for};
use servers::{FtpMode, Ftpd};

fn ftp_credentials(p: &Pump, f: &Ftpd) {
    std::fs::write(
        p.path("config/credentials.conf"),
        format!(
            "amqp://guest:guest@127.0.0.1/\nftp://{}:{}@127.0.0.1:{}/ passive,binary\n",
            f.user, f.password, f.port
        ),
    )
    .unwrap();
}

fn base(f: &Ftpd) -> String {
    format!("ftp://{}@127.0.0.1:{}", f.user, f.port)
}

fn body(base: &str, rel: &str, data: &[u8]) -> String {
    format!(
        "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{rel}\", \"size\": {}, \"identity\": {{\"method\": \"sha512\", \"value\": \"{}\"}}}}",
        data.len(),
        sha512_b64(data)
    )
}

fn subscriber(p: &Pump, x: &str, dest: &std::path::Path) {
    p.config(
        "subscribe",
        "f",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\ntimeout 10\naccept .*\n",
            dest.display()
        ),
    );
    publish(x, &[]);
    let out = p.run(&["declare", "subscribe/f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn subscribe_downloads_from_ftp() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_ftpsub{}", unique());
    let dest = p.path("dest");
    std::fs::create_dir_all(ftpd.root.join("src/deep")).unwrap();
    let small = b"small file over ftp\n".to_vec();
    let big = servers::content(3_000_000);
    std::fs::write(ftpd.root.join("src/deep/small.txt"), &small).unwrap();
    std::fs::write(ftpd.root.join("src/deep/big.bin"), &big).unwrap();
    ftp_credentials(&p, &ftpd);
    subscriber(&p, &x, &dest);
    p.spawn("sub", &["foreground", "subscribe/f"]);
    let b = base(&ftpd);
    publish(
        &x,
        &[
            body(&b, "src/deep/small.txt", &small),
            body(&b, "src/deep/big.bin", &big),
        ],
    );
    let ok = wait_for(60, || {
        dest.join("src/deep/small.txt").exists() && dest.join("src/deep/big.bin").exists()
    });
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(ok, "files never arrived:\n{log}");
    assert!(status.success(), "{log}");
    assert_eq!(
        std::fs::read(dest.join("src/deep/small.txt")).unwrap(),
        small
    );
    assert_eq!(std::fs::read(dest.join("src/deep/big.bin")).unwrap(), big);
    assert_eq!(log.matches("downloaded ok:").count(), 2, "{log}");
    let _ = p.run(&["cleanup", "subscribe/f"]);
}

#[test]
fn sender_sends_a_posted_tree_to_ftp() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_ftpsend{}", unique());
    let src = p.path("src");
    let tree = common::make_tree(&src, 30, 10, 2 << 20);
    ftp_credentials(&p, &ftpd);
    p.config(
        "post",
        "t",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npost_baseUrl file:{s}\npost_baseDir {s}\n",
            s = src.display()
        ),
    );
    p.config(
        "sender",
        "f",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\nsendTo {}/\ndirectory out\nmirror on\naccept .*\n",
            base(&ftpd)
        ),
    );
    publish(&x, &[]);
    let out = p.run(&["declare", "sender/f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sender", &["foreground", "sender/f"]);
    let out = p.run(&["post", "-c", "t", src.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "post: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote = ftpd.root.join("out");
    let arrived = wait_for(90, || common::files(&remote).len() >= tree.len());
    let status = p.stop("sender");
    let log = p.log("sender");
    assert!(
        arrived,
        "only {} of {} sent:\n{log}",
        common::files(&remote).len(),
        tree.len()
    );
    assert!(status.success(), "{log}");
    assert_eq!(common::files(&remote), tree);
    for rel in &tree {
        let (a, b) = (
            std::fs::read(src.join(rel)).unwrap(),
            std::fs::read(remote.join(rel)).unwrap(),
        );
        assert_eq!(sha512_b64(&a), sha512_b64(&b), "{} differs", rel.display());
    }
    assert!(
        common::all_entries(&remote).iter().all(|e| !e
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with('.')),
        "inflight leftovers: {:?}",
        common::all_entries(&remote)
    );
    assert_eq!(log.matches("sent ok:").count(), tree.len(), "{log}");
    let _ = p.run(&["cleanup", "sender/f"]);
}

#[test]
fn poll_lists_an_ftp_tree_once_and_changes_again() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    for mlst in [true, false] {
        let Some(ftpd) = Ftpd::start(FtpMode::Plain, mlst) else {
            return;
        };
        let mut p = Pump::new();
        let x = format!("xs_guest_ftppoll{}", unique());
        let dir = ftpd.root.join("in");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), b"a").unwrap();
        std::fs::write(dir.join("sub/b.bin"), vec![b'b'; 5000]).unwrap();
        ftp_credentials(&p, &ftpd);
        p.config(
            "poll",
            "f",
            &format!(
                "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {}/\npath in\nscheduled_interval 2\n",
                base(&ftpd)
            ),
        );
        let mut tap = common::tap::Tap::new(&x);
        p.spawn("poll", &["foreground", "poll/f"]);
        std::thread::sleep(Duration::from_secs(4));
        // A changed file (new size; listings with minute precision may keep the mtime).
        std::fs::write(dir.join("a.txt"), b"changed").unwrap();
        std::thread::sleep(Duration::from_secs(5));
        let status = p.stop("poll");
        let log = p.log("poll");
        assert!(status.success(), "{log}");
        let got = tap.drain();
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            ["in/a.txt", "in/sub", "in/sub/b.bin"],
            "mlst {mlst}: {log}"
        );
        assert_eq!(got["in/a.txt"].0, 2, "mlst {mlst}: {log}");
        assert_eq!(got["in/sub/b.bin"].0, 1, "mlst {mlst}: {log}");
        assert_eq!(got["in/sub/b.bin"].1.size, Some(5000));
        assert_eq!(got["in/a.txt"].1.size, Some(7));
        assert_eq!(got["in/a.txt"].1.base_url, format!("{}/", base(&ftpd)));
    }
}

#[test]
fn subscribe_survives_the_ftp_server_dying_mid_transfer() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(mut ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_ftpkill{}", unique());
    let dest = p.path("dest");
    std::fs::create_dir_all(ftpd.root.join("src")).unwrap();
    let big = servers::content(96 << 20);
    std::fs::write(ftpd.root.join("src/big.bin"), &big).unwrap();
    ftp_credentials(&p, &ftpd);
    subscriber(&p, &x, &dest);
    p.spawn("sub", &["foreground", "subscribe/f"]);
    publish(&x, &[body(&base(&ftpd), "src/big.bin", &big)]);
    let fin = dest.join("src/big.bin");
    let inflight = dest.join("src/.big.bin");
    let partial = |f: &std::path::Path| {
        std::fs::metadata(f)
            .map(|m| m.len() > 0 && m.len() < big.len() as u64)
            .unwrap_or(false)
    };
    let started = Instant::now();
    let mid = wait_for(60, || partial(&inflight));
    assert!(
        mid,
        "the transfer was never seen in progress:\n{}",
        p.log("sub")
    );
    let at = std::fs::metadata(&inflight).map(|m| m.len()).unwrap_or(0);
    ftpd.kill();
    let seen_at = started.elapsed();
    // While the server is away nothing appears under the final name.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert!(
            !fin.exists(),
            "final name appeared while the server was down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ftpd.restart();
    let mut bad_final = None;
    let done = wait_for(180, || {
        if let Ok(m) = std::fs::metadata(&fin)
            && m.len() != big.len() as u64
        {
            bad_final = Some(m.len());
        }
        fin.exists() && !inflight.exists()
    });
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(done, "never completed after the server came back:\n{log}");
    assert!(status.success(), "{log}");
    assert_eq!(
        bad_final, None,
        "a partial file under the final name:\n{log}"
    );
    assert!(std::fs::read(&fin).unwrap() == big, "content differs");
    assert!(log.contains("downloaded ok:"), "{log}");
    eprintln!(
        "killed at {at} of {} bytes after {seen_at:?}; {} connections; done after {:?}",
        big.len(),
        ftpd.connections(),
        started.elapsed()
    );
    for l in log
        .lines()
        .filter(|l| l.contains("resum") || l.contains("retry") || l.contains("downloaded ok"))
    {
        eprintln!("  {l}");
    }
    let _ = p.run(&["cleanup", "subscribe/f"]);
}
