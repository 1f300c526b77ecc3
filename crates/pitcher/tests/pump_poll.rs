//! poll with the real binary: recursion (depth, symlink loops, directories announced),
//! `path` expanded per listing, `fileAgeMax`, appointment schedules, and `vip` (one active
//! node lists; the passive one only feeds its nodupe cache from the active one's posts).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pitcher-transfer/tests/servers/mod.rs"]
mod servers;

use std::time::{Duration, SystemTime};

use common::{Pump, service, unique};

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

fn run_for(p: &mut Pump, label: &str, flow: &str, secs: u64) -> String {
    p.spawn(label, &["foreground", flow]);
    std::thread::sleep(Duration::from_secs(secs));
    let status = p.stop(label);
    let log = p.log(label);
    assert!(status.success(), "{label} exit {status:?}\n{log}");
    log
}

fn set_mtime(path: &std::path::Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn poll_descends_sftp_subdirectories_expands_path_and_skips_old_files_and_link_loops() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let Some(sshd) = servers::Sshd::start() else {
        return;
    };
    let mut p = Pump::new();
    let x = format!("xs_guest_pollr{}", unique());
    let top = sshd.root.join("in");
    std::fs::create_dir_all(top.join("sub/deep")).unwrap();
    std::fs::write(top.join("a.txt"), b"a").unwrap();
    std::fs::write(top.join("sub/b.txt"), b"bb").unwrap();
    std::fs::write(top.join("sub/deep/c.txt"), b"ccc").unwrap();
    std::fs::write(top.join("old.txt"), b"old").unwrap();
    set_mtime(
        &top.join("old.txt"),
        SystemTime::now() - Duration::from_secs(40 * 86_400),
    );
    // A link to a file is announced as that file; a link back up is not followed.
    std::os::unix::fs::symlink("a.txt", top.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("..", top.join("sub/loop")).unwrap();
    // ${%Y%m%d}: today's directory (UTC) only.
    let today = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
    let day = sshd.root.join("day");
    std::fs::create_dir_all(day.join(&today)).unwrap();
    std::fs::create_dir_all(day.join("19990101")).unwrap();
    std::fs::write(day.join(&today).join("x.txt"), b"today").unwrap();
    std::fs::write(day.join("19990101/y.txt"), b"long ago dir").unwrap();
    sftp_credentials(&p, &sshd);
    let base = format!("sftp://{}@127.0.0.1:{}/", sshd.user, sshd.port);
    p.config(
        "poll",
        "r",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {base}\nsshKnownHosts {}\npath in\npath day/${{%Y%m%d}}\nscheduled_interval 2\n",
            sshd.known_hosts.display()
        ),
    );
    let mut tap = common::tap::Tap::new(&x);
    let log = run_for(&mut p, "poll", "poll/r", 7);
    let got = tap.drain();
    let mut want = vec![
        "in/a.txt".to_string(),
        "in/link.txt".into(),
        "in/sub".into(),
        "in/sub/b.txt".into(),
        "in/sub/deep".into(),
        "in/sub/deep/c.txt".into(),
        format!("day/{today}/x.txt"),
    ];
    want.sort();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), want, "{log}");
    for (rel, (count, m)) in &got {
        assert_eq!(*count, 1, "{rel} announced {count} times\n{log}");
        let is_dir = m.file_op.as_ref().is_some_and(|f| f.directory.is_some());
        assert_eq!(is_dir, rel == "in/sub" || rel == "in/sub/deep", "{rel}");
    }
    assert_eq!(got["in/link.txt"].1.size, Some(1), "the link's target size");
    assert_eq!(got["in/sub/deep/c.txt"].1.size, Some(3));
    assert!(log.contains("poll "), "{log}");
}

#[test]
fn poll_without_mkdir_or_recursion_announces_only_top_files() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let root = p.path("www");
    std::fs::create_dir_all(root.join("in/sub")).unwrap();
    std::fs::write(root.join("in/a.txt"), b"a").unwrap();
    std::fs::write(root.join("in/sub/b.txt"), b"b").unwrap();
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
    let mut runs = Vec::new();
    for (name, extra) in [
        ("nomkdir", "fileEvents create,modify,delete\n"),
        ("flat", "recursive off\n"),
    ] {
        let x = format!("xs_guest_pollf{}", unique());
        p.config(
            "poll",
            name,
            &format!(
                "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {http}/\npath in\nscheduled_interval 2\n{extra}"
            ),
        );
        let mut tap = common::tap::Tap::new(&x);
        let log = run_for(&mut p, name, &format!("poll/{name}"), 5);
        runs.push((name, tap.drain().keys().cloned().collect::<Vec<_>>(), log));
    }
    let (_, nomkdir, log) = &runs[0];
    assert_eq!(nomkdir, &["in/a.txt", "in/sub/b.txt"], "{log}");
    let (_, flat, log) = &runs[1];
    assert_eq!(flat, &["in/a.txt"], "{log}");
}

#[test]
fn poll_with_appointments_waits_for_them() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let root = p.path("www");
    std::fs::create_dir_all(root.join("in")).unwrap();
    std::fs::write(root.join("in/a.txt"), b"a").unwrap();
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
    // An appointment 30 minutes away (UTC): nothing is listed now.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(30);
    let hm = later.strftime("%H:%M").to_string();
    let x = format!("xs_guest_polla{}", unique());
    p.config(
        "poll",
        "a",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {http}/\npath in\nscheduled_time {hm}\n"
        ),
    );
    let mut tap = common::tap::Tap::new(&x);
    let log = run_for(&mut p, "poll", "poll/a", 4);
    assert!(
        tap.drain().is_empty(),
        "listed before its appointment:\n{log}"
    );
    let when = later.strftime("%H:%M:00").to_string();
    assert!(
        log.contains("next poll scheduled for") && log.contains(&when),
        "{when}: {log}"
    );
    assert!(!log.contains("files in"), "{log}");
}

#[test]
fn vip_only_the_holder_lists_and_the_passive_node_keeps_its_cache_current() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let local = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    if local.is_empty() {
        eprintln!("SKIPPED: no /proc/net/fib_trie on this host");
        return;
    }
    // Two nodes: separate state (and queues), the same source and output exchange.
    let mut a = Pump::new();
    let mut b = Pump::new();
    let root = a.path("www");
    std::fs::create_dir_all(root.join("in")).unwrap();
    let names = ["a.txt", "b.txt", "c.txt"];
    for n in names {
        std::fs::write(root.join("in").join(n), n.as_bytes()).unwrap();
    }
    let line = a.spawn_server("serve", &["serve", root.to_str().unwrap(), "--port", "0"]);
    let http = line
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let x = format!("xs_guest_pollv{}", unique());
    let conf = |vip: &str| {
        format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npollUrl {http}/\npath in\nscheduled_interval 2\nvip {vip}\n"
        )
    };
    for p in [&a, &b] {
        std::fs::write(
            p.path("config/credentials.conf"),
            "amqp://guest:guest@127.0.0.1/\n",
        )
        .unwrap();
    }
    a.config("poll", "v", &conf("127.0.0.1"));
    // 127.0.0.99 is routed to lo but not an address of it.
    assert!(
        !local.contains("|-- 127.0.0.99\n"),
        "127.0.0.99 is assigned here"
    );
    b.config("poll", "v", &conf("127.0.0.99"));
    let mut tap = common::tap::Tap::new(&x);
    // The passive node first (its queue exists before anything is posted), then the active one.
    b.spawn("poll", &["foreground", "poll/v"]);
    let novip = b.path("state/poll/v/poll_v_01.noVip");
    assert!(
        common::wait_for(20, || novip.exists()),
        "no .noVip:\n{}",
        b.log("poll")
    );
    // `status` sees a foreground instance once it has written its metrics (every 5 s).
    let mut table = String::new();
    let waiting = common::wait_for(20, || {
        let out = b.run(&["status"]);
        table = String::from_utf8_lossy(&out.stdout).to_string();
        table
            .lines()
            .any(|l| l.starts_with("poll/v") && l.contains("waitVip"))
    });
    assert!(waiting, "status:\n{table}");
    std::thread::sleep(Duration::from_secs(1));
    let log_a = run_for(&mut a, "poll", "poll/v", 6);
    std::thread::sleep(Duration::from_secs(1));
    assert!(novip.exists(), "passive node lost its .noVip");
    let status = b.stop("poll");
    let log_b = b.log("poll");
    assert!(status.success(), "{log_b}");
    assert!(!novip.exists(), "the .noVip file stays after a clean stop");
    let got = tap.drain();
    let want: Vec<String> = names.iter().map(|n| format!("in/{n}")).collect();
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        want,
        "{log_a}\n{log_b}"
    );
    assert!(got.values().all(|(n, _)| *n == 1), "{got:?}");
    assert!(log_b.contains("now passive on vips"), "{log_b}");
    assert!(
        !log_b.contains("files in"),
        "the passive node listed:\n{log_b}"
    );
    assert!(
        log_b.contains("postings into duplicate suppression cache"),
        "{log_b}"
    );
    assert!(log_a.contains("files in"), "{log_a}");
    assert!(!a.path("state/poll/v/poll_v_01.noVip").exists());

    // Node b takes over (the vip moved to it): its cache already knows a, b and c, so only the
    // new file is announced.
    std::fs::write(root.join("in/d.txt"), b"new").unwrap();
    b.config("poll", "v", &conf("127.0.0.1"));
    let log_b2 = run_for(&mut b, "poll", "poll/v", 6);
    let got = tap.drain();
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec!["in/d.txt".to_string()],
        "the new active node re-announced:\n{log_b2}"
    );
    assert!(log_b2.contains("files in"), "{log_b2}");
    assert!(!novip.exists());
}
