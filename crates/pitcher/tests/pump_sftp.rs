//! Downloads from an SFTP server in a running flow: a subscriber on RabbitMQ fetches announced
//! files from a private OpenSSH sshd on loopback (the same servers as pitcher-transfer's tests),
//! logging in with the key and known_hosts that credentials.conf and the options name.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pitcher-transfer/tests/servers/mod.rs"]
mod servers;

use std::time::Duration;

use common::amqp::{publish, sha512_b64};
use common::{Pump, service, unique, wait_for};

/// credentials.conf for RabbitMQ and the test sshd (its throwaway client key).
fn sftp_credentials(p: &Pump, sshd: &servers::Sshd) {
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
    sftp_credentials(&p, &sshd);
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

#[test]
fn sender_sends_a_posted_tree_over_sftp_and_applies_removes() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_send{}", unique());
    let src = p.path("src");
    let tree = common::make_tree(&src, 30, 10, 2 << 20);
    sftp_credentials(&p, &sshd);
    p.config(
        "post",
        "t",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npost_baseUrl file:{s}\npost_baseDir {s}\n",
            s = src.display()
        ),
    );
    // `directory out`: relative to the login directory on the server.
    p.config(
        "sender",
        "s",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\nsendTo sftp://{}@127.0.0.1:{}/\nsshKnownHosts {}\ndirectory out\nmirror on\ntimeCopy on\naccept .*\n",
            sshd.user,
            sshd.port,
            sshd.known_hosts.display()
        ),
    );
    publish(&x, &[]);
    let out = p.run(&["declare", "sender/s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sender", &["foreground", "sender/s"]);
    let out = p.run(&["post", "-c", "t", src.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "post: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote = sshd.root.join("out");
    let arrived = wait_for(90, || common::files(&remote).len() >= tree.len());
    assert!(
        arrived,
        "only {} of {} sent:\n{}",
        common::files(&remote).len(),
        tree.len(),
        p.log("sender")
    );
    assert_eq!(common::files(&remote), tree);
    for rel in &tree {
        assert!(
            common::same_content(&src.join(rel), &remote.join(rel)),
            "{} differs",
            rel.display()
        );
        let (a, b) = (
            std::fs::metadata(src.join(rel))
                .unwrap()
                .modified()
                .unwrap(),
            std::fs::metadata(remote.join(rel))
                .unwrap()
                .modified()
                .unwrap(),
        );
        let d = a.duration_since(b).unwrap_or_else(|e| e.duration());
        assert!(
            d < Duration::from_secs(2),
            "{}: mtime not kept",
            rel.display()
        );
    }
    // No inflight leftovers on the server.
    assert!(
        common::all_entries(&remote).iter().all(|e| !e
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with('.')),
        "{:?}",
        common::all_entries(&remote)
    );
    // A remove announced for one file removes it remotely.
    let gone = &tree[0];
    let base = format!("file:{}", src.display());
    publish(
        &x,
        &[format!(
            "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{}\", \"fileOp\": {{\"remove\": \"\"}}}}",
            gone.display()
        )],
    );
    let removed = wait_for(30, || !remote.join(gone).exists());
    let status = p.stop("sender");
    let log = p.log("sender");
    assert!(removed, "{} not removed:\n{log}", gone.display());
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("sent ok:"), "{log}");
    let _ = p.run(&["cleanup", "sender/s"]);
}

#[test]
fn sender_refuses_relpaths_that_escape_base_dir() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_sendesc{}", unique());
    let base = p.path("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(p.path("secret.txt"), b"must never be sent\n").unwrap();
    std::fs::write(base.join("ok.txt"), b"fine\n").unwrap();
    // Symbolic links inside baseDir that lead out of it (a file, a directory) are not followed;
    // one that stays inside is.
    std::fs::create_dir_all(p.path("outside")).unwrap();
    std::fs::write(p.path("outside/also.txt"), b"must never be sent either\n").unwrap();
    std::os::unix::fs::symlink(p.path("secret.txt"), base.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("../outside", base.join("outdir")).unwrap();
    std::os::unix::fs::symlink("ok.txt", base.join("inside.txt")).unwrap();
    sftp_credentials(&p, &sshd);
    p.config(
        "sender",
        "e",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\nsendTo sftp://{}@127.0.0.1:{}/\nsshKnownHosts {}\nbaseDir {}\ndirectory out\nmirror off\naccept .*\n",
            sshd.user,
            sshd.port,
            sshd.known_hosts.display(),
            base.display()
        ),
    );
    publish(&x, &[]);
    let out = p.run(&["declare", "sender/e"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sender", &["foreground", "sender/e"]);
    let msg = |rel: &str| {
        format!(
            "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"http://elsewhere/\", \"relPath\": \"{rel}\"}}"
        )
    };
    publish(
        &x,
        &[
            msg("../secret.txt"),
            msg("a/../../secret.txt"),
            msg("link.txt"),
            msg("outdir/also.txt"),
            msg("missing.txt"),
            msg("ok.txt"),
            msg("inside.txt"),
        ],
    );
    let ok = wait_for(30, || {
        sshd.root.join("out/ok.txt").exists() && sshd.root.join("out/inside.txt").exists()
    });
    std::thread::sleep(Duration::from_millis(500));
    let status = p.stop("sender");
    let log = p.log("sender");
    assert!(ok, "ok.txt never sent:\n{log}");
    assert!(status.success(), "{log}");
    assert!(
        !sshd.root.join("out/secret.txt").exists(),
        "secret sent:\n{log}"
    );
    assert!(log.contains("rejected: 403"), "{log}");
    for gone in ["out/link.txt", "out/outdir/also.txt", "out/also.txt"] {
        assert!(!sshd.root.join(gone).exists(), "{gone} sent:\n{log}");
    }
    assert_eq!(
        std::fs::read(sshd.root.join("out/inside.txt")).unwrap(),
        b"fine\n"
    );
    assert_eq!(log.matches("rejected: 403").count(), 4, "{log}");
    // A file that is not there is not sent, and says so (once).
    assert_eq!(
        log.matches("send of missing.txt failed: 404").count(),
        1,
        "{log}"
    );
    let _ = p.run(&["cleanup", "sender/e"]);
}

/// Run a poll for `secs` seconds (several scheduled listings), then stop it.
fn run_poll_for(p: &mut Pump, flow: &str, secs: u64, mid: impl FnOnce()) -> String {
    p.spawn("poll", &["foreground", flow]);
    std::thread::sleep(Duration::from_secs(secs / 2));
    mid();
    std::thread::sleep(Duration::from_secs(secs - secs / 2));
    let status = p.stop("poll");
    let log = p.log("poll");
    assert!(status.success(), "poll exit {status:?}\n{log}");
    log
}

fn check_polled(
    got: &std::collections::BTreeMap<String, (usize, pitcher_core::Message)>,
    base: &str,
    names: &[(&str, usize)],
    changed: &str,
    log: &str,
) {
    // `recursive` (default on) lists in/sub too; `mkdir` in fileEvents announces it once.
    let mut want: Vec<String> = names.iter().map(|(n, _)| format!("in/{n}")).collect();
    want.push("in/sub".into());
    want.sort();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), want, "{log}");
    let (count, dir) = &got["in/sub"];
    assert_eq!(*count, 1, "in/sub announced {count} times\n{log}");
    assert!(
        dir.file_op.as_ref().is_some_and(|f| f.directory.is_some()),
        "{dir:?}"
    );
    for (n, size) in names {
        let (count, m) = &got[&format!("in/{n}")];
        let expect = if *n == changed { 2 } else { 1 };
        assert_eq!(*count, expect, "in/{n} announced {count} times\n{log}");
        assert_eq!(m.base_url, base);
        let id = m.identity.as_ref().unwrap();
        assert_eq!(
            (id.method.as_str(), id.value.as_str()),
            ("cod", "sha512"),
            "{n}"
        );
        if *n != changed {
            assert_eq!(m.size, Some(*size as u64), "{n}");
        }
        assert!(m.mtime.is_some(), "{n} has no mtime");
    }
}

#[test]
fn poll_announces_an_sftp_directory_once_and_changes_again() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_polls{}", unique());
    let dir = sshd.root.join("in");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let names = [("a.txt", 10), ("b.bin", 5000), ("c.dat", 1)];
    for (n, size) in names {
        std::fs::write(dir.join(n), vec![b'x'; size]).unwrap();
    }
    std::fs::write(dir.join(".hidden"), b"inflight").unwrap();
    sftp_credentials(&p, &sshd);
    let base = format!("sftp://{}@127.0.0.1:{}/", sshd.user, sshd.port);
    p.config(
        "poll",
        "s",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {base}\nsshKnownHosts {}\npath in\nscheduled_interval 2\n",
            sshd.known_hosts.display()
        ),
    );
    let mut tap = common::tap::Tap::new(&x);
    let log = run_poll_for(&mut p, "poll/s", 8, || {
        std::fs::write(dir.join("b.bin"), vec![b'y'; 6000]).unwrap();
    });
    let got = tap.drain();
    check_polled(&got, &base, &names, "b.bin", &log);
}

#[test]
fn poll_announces_an_http_index_once_and_changes_again() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let x = format!("xs_guest_pollh{}", unique());
    let root = p.path("www");
    let dir = root.join("in");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let names = [("a.txt", 10), ("b.bin", 5000), ("c.dat", 1)];
    for (n, size) in names {
        std::fs::write(dir.join(n), vec![b'x'; size]).unwrap();
    }
    let line = p.spawn_server("serve", &["serve", root.to_str().unwrap(), "--port", "0"]);
    let http = line
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    let base = format!("{http}/");
    p.config(
        "poll",
        "h",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {base}\npath in\nscheduled_interval 2\n"
        ),
    );
    let mut tap = common::tap::Tap::new(&x);
    let log = run_poll_for(&mut p, "poll/h", 8, || {
        std::fs::write(dir.join("c.dat"), b"changed!").unwrap();
        // Index pages show mtimes to the nanosecond (data-mtime): make sure it moves.
        let t = std::time::SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(dir.join("c.dat"))
            .unwrap()
            .set_modified(t)
            .unwrap();
    });
    let got = tap.drain();
    check_polled(&got, &base, &names, "c.dat", &log);
}

#[test]
fn subscribe_finds_host_port_user_and_key_in_ssh_config() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_sshcfg{}", unique());
    let dest = p.path("dest");
    std::fs::create_dir_all(sshd.root.join("src")).unwrap();
    let data = b"found through ~/.ssh/config\n".to_vec();
    std::fs::write(sshd.root.join("src/cfg.txt"), &data).unwrap();
    // Only the broker in credentials.conf: host, port, user and key come from ~/.ssh/config.
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    let home = p.path("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/config"),
        format!(
            "Host datasource\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile {}\n",
            sshd.port,
            sshd.user,
            sshd.key.display()
        ),
    )
    .unwrap();
    p.config(
        "subscribe",
        "c",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\nsshKnownHosts {}\naccept .*\n",
            dest.display(),
            sshd.known_hosts.display()
        ),
    );
    publish(&x, &[]);
    let out = p.run(&["declare", "subscribe/c"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log_path = p.path("log/sub.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let child = p
        .command(&["foreground", "subscribe/c"])
        .env("HOME", &home)
        .env("USER", "nobody-by-that-name")
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    p.children.push(("sub".into(), child));
    publish(
        &x,
        &[format!(
            "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"sftp://datasource\", \"relPath\": \"src/cfg.txt\", \"size\": {}, \"identity\": {{\"method\": \"sha512\", \"value\": \"{}\"}}}}",
            data.len(),
            sha512_b64(&data)
        )],
    );
    let ok = wait_for(60, || dest.join("src/cfg.txt").exists());
    let status = p.stop("sub");
    let log = p.log("sub");
    assert!(ok, "never arrived:\n{log}");
    assert!(status.success(), "{log}");
    assert_eq!(std::fs::read(dest.join("src/cfg.txt")).unwrap(), data);
    let _ = p.run(&["cleanup", "subscribe/c"]);
}
