//! The flow test suite, in the spirit of sr3's sr_insects: a small network of real `pitcher`
//! processes on loopback, fed a generated tree, checked stage by stage.
//!
//! ```text
//!  src ──watch──▶ xsrc ──sarra──▶ mirror, xpub ──shovel a──▶ xdup ──winnow──▶ xclean ──subscribe──▶ dest
//!                                            └──shovel b──▶ xdup                     └──sender (sftp)──▶ sshd:out
//!  sshd:out ──poll──▶ xpolled ──subscribe (sftp)──▶ dest2
//! ```
//!
//! Variants (each its own test, run one at a time: the flakey one restarts the shared RabbitMQ):
//! * static: the tree is there before the watch starts (`post_on_start`);
//! * dynamic: files are created, modified, renamed (files and a directory), linked and removed
//!   while everything runs;
//! * restart: sarra, winnow and the subscriber are killed with SIGKILL mid-run and started again;
//! * flakey broker: RabbitMQ is restarted three times during the run; the embedded-broker variant
//!   runs the whole network on `pitcher broker` and kills it with -9 three times;
//! * partitioned: the watch announces big files in 256 KiB blocks, sarra reassembles them.
//!
//! Each ends with: src, mirror, dest and the sftp copy identical (content, links, directories,
//! no leftovers), dest2 holding every file the poll saw, the stages' counts in agreement (winnow
//! posted each product once although it got it twice), and every queue empty.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../pitcher-transfer/tests/servers/mod.rs"]
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::mirror::addr_of;
use common::tap::Tap;
use common::{Pump, make_tree, service, tree, tree_diff as diff, unique, wait_for};

/// One variant at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Default, Clone, Copy)]
struct Variant {
    /// Tree made before the watch starts (else: while it runs).
    before_start: bool,
    /// Changes of every kind after the first tree arrived.
    changes: bool,
    /// Kill and restart sarra, winnow and subscribe.
    kill: bool,
    /// Restart the broker (RabbitMQ, or the embedded one).
    flakey: bool,
    /// Run the whole network on Pitcher's embedded MQTT broker instead of RabbitMQ.
    embedded: bool,
    /// blockSize for the watch.
    blocks: bool,
}

fn rabbitmqctl(args: &[&str]) -> Option<String> {
    let o = Command::new("rabbitmqctl").args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

const STAGES: &[&str] = &[
    "watch/f40",
    "sarra/f20",
    "shovel/fa",
    "shovel/fb",
    "winnow/f30w",
    "subscribe/f30",
    "sender/f50",
    "poll/f62",
    "subscribe/f70",
];

/// Log and process label of a stage.
fn label(stage: &str) -> String {
    stage.replace('/', "_")
}

/// The embedded broker of a run: restarted on the same port and data directory.
struct Embedded {
    port: String,
    data: PathBuf,
}

impl Embedded {
    /// `pitcher broker` on `port` ("0": any free one); returns host:port.
    fn start(&self, p: &mut Pump) -> String {
        addr_of(&p.spawn_server(
            "broker",
            &[
                "broker",
                "--port",
                &self.port,
                "--data-dir",
                self.data.to_str().unwrap(),
            ],
        ))
    }
}

struct Net {
    p: Pump,
    embedded: Option<Embedded>,
    sshd: servers::Sshd,
    src: PathBuf,
    mirror: PathBuf,
    dest: PathBuf,
    out: PathBuf,
    dest2: PathBuf,
    taps: Vec<(&'static str, Tap)>,
}

impl Net {
    fn build(v: Variant) -> Option<Net> {
        if !v.embedded && !service("127.0.0.1:5672", "RabbitMQ") {
            return None;
        }
        let sshd = servers::Sshd::start()?;
        let mut p = Pump::new();
        // The broker every stage uses, with its password (in credentials.conf) apart.
        let (b, password, embedded) = if v.embedded {
            let mut e = Embedded {
                port: "0".into(),
                data: p.path("broker"),
            };
            let addr = e.start(&mut p);
            e.port = addr.rsplit(':').next().unwrap().to_string();
            (format!("mqtt://pump@{addr}/"), "pump", Some(e))
        } else {
            ("amqp://guest@127.0.0.1/".to_string(), "guest", None)
        };
        let b = b.as_str();
        let u = unique();
        let (src, mirror, dest, dest2) = (
            p.path("src"),
            p.path("mirror"),
            p.path("dest"),
            p.path("dest2"),
        );
        for d in [&src, &mirror, &dest, &dest2] {
            fs::create_dir_all(d).unwrap();
        }
        let out = sshd.root.join("out");
        fs::create_dir_all(&out).unwrap();
        let src_http = addr_of(&p.spawn_server(
            "serve-src",
            &["serve", src.to_str().unwrap(), "--port", "0"],
        ));
        let mirror_http = addr_of(&p.spawn_server(
            "serve-mirror",
            &["serve", mirror.to_str().unwrap(), "--port", "0"],
        ));
        fs::write(
            p.path("config/credentials.conf"),
            format!(
                "amqp://guest:guest@127.0.0.1/\n{}\nsftp://{}@127.0.0.1:{}/ ssh_keyfile={}\n",
                b.replacen("pump@", "pump:pump@", 1),
                sshd.user,
                sshd.port,
                sshd.key.display()
            ),
        )
        .unwrap();
        let x = |n: &str| format!("xs_guest_{n}{u}");
        let consume =
            |ex: &str| format!("broker {b}\nexchange {}\nexpire 10m\nsubtopic #\n", x(ex));
        let post = |ex: &str| format!("post_broker {b}\npost_exchange {}\n", x(ex));
        // No path after the host: paths are relative to the login directory (sr3's rule).
        let sftp = format!("sftp://{}@127.0.0.1:{}", sshd.user, sshd.port);
        let kh = format!("sshKnownHosts {}\n", sshd.known_hosts.display());
        p.config(
            "watch",
            "f40",
            &format!(
                "{}post_baseUrl http://{src_http}/\npost_baseDir {s}\npath {s}\npost_on_start {}\n{}",
                post("src"),
                if v.before_start { "on" } else { "off" },
                if v.blocks { "blockSize 256k\n" } else { "" },
                s = src.display()
            ),
        );
        p.config(
            "sarra",
            "f20",
            &format!(
                "{}{}directory {m}\nmirror on\nbaseDir {s}\npost_baseDir {m}\npost_baseUrl http://{mirror_http}/\ntransferConcurrency 4\naccept .*\n",
                consume("src"),
                post("pub"),
                m = mirror.display(),
                s = src.display()
            ),
        );
        for s in ["fa", "fb"] {
            p.config(
                "shovel",
                s,
                &format!("{}{}accept .*\n", consume("pub"), post("dup")),
            );
        }
        p.config(
            "winnow",
            "f30w",
            &format!("{}{}", consume("dup"), post("clean")),
        );
        p.config(
            "subscribe",
            "f30",
            &format!(
                "{}directory {}\nmirror on\nbaseDir {}\naccept .*\n",
                consume("clean"),
                dest.display(),
                mirror.display()
            ),
        );
        p.config(
            "sender",
            "f50",
            &format!(
                "{}{}sendTo {sftp}\n{kh}baseDir {}\ndirectory out\nmirror on\naccept .*\n",
                consume("clean"),
                post("sent"),
                mirror.display()
            ),
        );
        p.config(
            "poll",
            "f62",
            &format!(
                "{}pollUrl {sftp}\n{kh}path out\nscheduled_interval 2\n",
                post("polled")
            ),
        );
        p.config(
            "subscribe",
            "f70",
            &format!(
                "{}{kh}directory {}\nmirror on\naccept .*\n",
                consume("polled"),
                dest2.display()
            ),
        );
        // Taps first: they declare the exchanges and see everything from the start.
        let mut taps = Vec::new();
        for ex in ["src", "pub", "dup", "clean", "sent", "polled"] {
            taps.push((ex, Tap::on(b, password, &x(ex), true)));
        }
        let o = p.run(&[&["declare"][..], STAGES].concat());
        assert!(
            o.status.success(),
            "declare: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Some(Net {
            p,
            embedded,
            sshd,
            src,
            mirror,
            dest,
            out,
            dest2,
            taps,
        })
    }

    fn start(&mut self, stage: &str) {
        self.p.spawn(&label(stage), &["foreground", stage]);
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for st in STAGES {
            s += &format!("\n===== {st}\n{}", self.p.log(&label(st)));
        }
        s
    }

    /// Wait until every copy agrees with src (and dest2 holds every file of src).
    fn settle(&mut self, what: &str, secs: u64) {
        let dest2_out = self.dest2.join("out");
        let ok = wait_for(secs, || {
            let s = tree(&self.src);
            let files_in = |t: &BTreeMap<String, String>| -> bool {
                s.iter()
                    .filter(|(_, v)| v.contains("bytes"))
                    .all(|(k, v)| t.get(k) == Some(v))
            };
            s == tree(&self.mirror)
                && s == tree(&self.dest)
                && s.iter()
                    .filter(|(_, v)| !v.starts_with("link"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
                    == tree(&self.out)
                        .into_iter()
                        .filter(|(_, v)| !v.starts_with("link"))
                        .collect::<BTreeMap<_, _>>()
                && files_in(&tree(&dest2_out))
        });
        if !ok {
            let s = tree(&self.src);
            let trace = self.trace_missing(&s);
            // The logs first and the difference last: CI shows the tail of a failure.
            panic!(
                "logs:{}\n\n{trace}\n{what}: copies differ from src:\n{}{}{}{}",
                self.logs(),
                diff("mirror", &s, &tree(&self.mirror)),
                diff("dest", &s, &tree(&self.dest)),
                diff("sftp out", &s, &tree(&self.out)),
                diff("dest2", &s, &tree(&dest2_out)),
            );
        }
    }

    /// For each file of src missing from a copy: how many messages about it each exchange's tap
    /// saw (where along the network it got lost).
    fn trace_missing(&mut self, s: &BTreeMap<String, String>) -> String {
        let copies = [
            ("mirror", tree(&self.mirror)),
            ("dest", tree(&self.dest)),
            ("sftp out", tree(&self.out)),
            ("dest2", tree(&self.dest2.join("out"))),
        ];
        let missing: BTreeSet<&String> = s
            .iter()
            .filter(|(_, v)| v.contains("bytes"))
            .filter(|(k, v)| copies.iter().any(|(_, t)| t.get(*k) != Some(*v)))
            .map(|(k, _)| k)
            .collect();
        if missing.is_empty() {
            return String::new();
        }
        let seen = self.drain();
        let mut out = String::from("messages seen on each exchange, per missing file:\n");
        for rel in missing {
            out += &format!("  {rel}:");
            for (ex, msgs) in &seen {
                let n = msgs
                    .iter()
                    .filter(|m| m.rel_path == *rel || m.rel_path == format!("out/{rel}"))
                    .count();
                out += &format!(" {ex}={n}");
            }
            let absent: Vec<&str> = copies
                .iter()
                .filter(|(_, t)| t.get(rel) != s.get(rel))
                .map(|(n, _)| *n)
                .collect();
            out += &format!("  (not right in: {})\n", absent.join(", "));
        }
        out += "connections lost / reconnected, per stage:";
        for st in STAGES {
            let log = self.p.log(&label(st));
            out += &format!(
                " {st} {}/{}",
                log.matches("lost connection").count(),
                log.matches("reconnected").count()
            );
        }
        out += "\n";
        if self.embedded.is_none()
            && let Some(q) = rabbitmqctl(&[
                "-q",
                "list_queues",
                "name",
                "messages_ready",
                "messages_unacknowledged",
                "consumers",
            ])
        {
            let ours = self.queue_names();
            out += "RabbitMQ queues of this run (ready, unacknowledged, consumers):\n";
            for l in q.lines().filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|n| ours.contains(n))
            }) {
                out += &format!("  {l}\n");
            }
        }
        out
    }

    /// Stop everything cleanly; every stage must exit 0.
    fn stop_all(&mut self) {
        for st in STAGES {
            if self.p.children.iter().any(|(l, _)| *l == label(st)) {
                let status = self.p.stop(&label(st));
                assert!(
                    status.success(),
                    "{st} exited {status:?}:\n{}",
                    self.p.log(&label(st))
                );
            }
        }
    }

    /// The stages' queues hold nothing (ready or unacknowledged) within `secs`.
    fn queues_empty(&self, secs: u64) {
        let names: Vec<String> = STAGES.iter().map(|s| s.replace('/', ".")).collect();
        let mut last = String::new();
        if let Some(e) = &self.embedded {
            // The embedded broker keeps one file per queued message under
            // queues/<session>/ (vendor/mqtt5/PITCHER-PATCH.md); the broker is this run's own.
            let ok = wait_for(secs, || {
                last = common::files(&e.data.join("queues"))
                    .into_iter()
                    .map(|f| f.display().to_string())
                    .filter(|f| names.iter().any(|s| f.contains(&format!(".{s}."))))
                    .collect::<Vec<_>>()
                    .join("\n");
                last.is_empty()
            });
            assert!(ok, "messages left in the embedded broker's queues:\n{last}");
            return;
        }
        let ours = self.queue_names();
        // Every stage but the watch and the poll consumes from a queue.
        assert_eq!(
            ours.len(),
            STAGES.len() - 2,
            "the stages' queue names (state/*/*/*.qname): {ours:?}"
        );
        let ok = wait_for(secs, || {
            let Some(out) = rabbitmqctl(&["-q", "list_queues", "name", "messages"]) else {
                return true; // no rabbitmqctl here: nothing to check with
            };
            last = out.clone();
            let mut seen = 0;
            let busy = out.lines().any(|l| {
                let mut w = l.split_whitespace();
                let (Some(name), Some(n)) = (w.next(), w.next()) else {
                    return false;
                };
                if !ours.contains(name) {
                    return false;
                }
                seen += 1;
                n != "0"
            });
            !busy && seen == ours.len()
        });
        let listed: Vec<&str> = last
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|n| ours.contains(n))
            })
            .collect();
        assert!(
            ok,
            "logs:{}\n\nthis run's queues are not all there and empty: {ours:?}\nlisted:\n{}",
            self.logs(),
            listed.join("\n")
        );
    }

    /// This run's queue names, as the stages saved them (state/<component>/<config>/*.qname).
    fn queue_names(&self) -> BTreeSet<String> {
        STAGES
            .iter()
            .flat_map(|st| {
                fs::read_dir(self.p.path("state").join(st))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".qname"))
                    .filter_map(|e| fs::read_to_string(e.path()).ok())
                    .map(|q| q.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn drain(&mut self) -> BTreeMap<&'static str, Vec<pitcher_core::Message>> {
        let mut out = BTreeMap::new();
        for (ex, tap) in self.taps.iter_mut() {
            out.insert(*ex, tap.drain_all());
        }
        out
    }
}

/// (relPath, identity) of the file messages.
fn file_keys(msgs: &[pitcher_core::Message]) -> Vec<(String, String)> {
    msgs.iter()
        .filter(|m| m.file_op.is_none() && m.blocks.is_none())
        .map(|m| {
            (
                m.rel_path.clone(),
                m.identity
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn counts(keys: &[(String, String)]) -> BTreeMap<(String, String), usize> {
    let mut c = BTreeMap::new();
    for k in keys {
        *c.entry(k.clone()).or_default() += 1;
    }
    c
}

/// Creates, modifies, renames (a file and a directory), links and removals.
fn change_everything(src: &Path) {
    fs::write(src.join("d0/e0/f_0000.bin"), b"rewritten while running").unwrap();
    fs::rename(src.join("d0/e1/f_0010.bin"), src.join("d0/e1/renamed.bin")).unwrap();
    fs::rename(src.join("d1"), src.join("d1moved")).unwrap();
    fs::remove_file(src.join("d3/e0/f_0003.bin")).unwrap();
    fs::remove_dir_all(src.join("d2")).unwrap();
    std::os::unix::fs::symlink("e1/renamed.bin", src.join("d0/latest")).unwrap();
    fs::create_dir_all(src.join("late/deeper")).unwrap();
    for i in 0..20 {
        fs::write(
            src.join(format!("late/deeper/n{i:02}")),
            vec![b'n'; 100 + i],
        )
        .unwrap();
    }
}

fn run(v: Variant) {
    let _one = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if v.flakey && !v.embedded && rabbitmqctl(&["-q", "status"]).is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "rabbitmqctl is needed under CI"
        );
        eprintln!("SKIPPED: rabbitmqctl cannot control the local RabbitMQ");
        return;
    }
    let Some(mut n) = Net::build(v) else { return };
    let files = 60;
    if v.before_start {
        make_tree(&n.src, files, 20, 3 << 20);
    }
    for st in STAGES {
        if *st != "watch/f40" {
            n.start(st);
        }
    }
    n.start("watch/f40");
    assert!(
        wait_for(30, || n
            .p
            .log(&label("watch/f40"))
            .contains("now active on")),
        "watch did not start:{}",
        n.logs()
    );
    if !v.before_start {
        make_tree(&n.src, files, 20, 3 << 20);
    }
    if v.kill {
        // Once a few files are through, kill the middle of the network and bring it back.
        assert!(
            wait_for(60, || common::files(&n.dest).len() >= 5),
            "nothing arrived:{}",
            n.logs()
        );
        for st in ["sarra/f20", "winnow/f30w", "subscribe/f30"] {
            n.p.kill9(&label(st));
        }
        std::thread::sleep(Duration::from_millis(500));
        for st in ["sarra/f20", "winnow/f30w", "subscribe/f30"] {
            n.start(st);
        }
    }
    if v.flakey {
        // Three restarts; more for a stress run: PITCHER_FLOW_RESTARTS=10 cargo test ...
        let restarts: usize = std::env::var("PITCHER_FLOW_RESTARTS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(3)
            .clamp(1, 11);
        for round in 0..restarts {
            assert!(
                wait_for(90, || common::files(&n.dest).len() >= 5 * (round + 1)),
                "too little arrived before restart {round}:{}",
                n.logs()
            );
            if let Some(e) = n.embedded.take() {
                // kill -9: whatever it acknowledged must already be on disk.
                n.p.kill9("broker");
                std::thread::sleep(Duration::from_secs(2));
                let addr = e.start(&mut n.p);
                assert!(addr.ends_with(&format!(":{}", e.port)), "moved to {addr}");
                n.embedded = Some(e);
            } else {
                assert!(rabbitmqctl(&["stop_app"]).is_some(), "stop_app");
                std::thread::sleep(Duration::from_secs(2));
                assert!(rabbitmqctl(&["start_app"]).is_some(), "start_app");
                assert!(wait_for(60, || std::net::TcpStream::connect(
                    "127.0.0.1:5672"
                )
                .is_ok()));
            }
        }
    }
    n.settle("after the tree", 240);
    if v.flakey {
        // The restarts really cut the stages off, and they came back by themselves.
        for st in ["sarra/f20", "winnow/f30w", "subscribe/f30", "sender/f50"] {
            let log = n.p.log(&label(st));
            assert!(
                log.contains("reconnected"),
                "{st} never reconnected:\n{log}"
            );
        }
    }
    if v.changes {
        change_everything(&n.src);
        n.settle("after the changes", 180);
    }
    // Counts, stage by stage.
    let got = n.drain();
    let src_keys = file_keys(&got["src"]);
    let pub_keys = file_keys(&got["pub"]);
    let clean = counts(&file_keys(&got["clean"]));
    let pub_set: BTreeSet<_> = pub_keys.iter().cloned().collect();
    let clean_set: BTreeSet<_> = clean.keys().cloned().collect();
    assert_eq!(
        pub_set, clean_set,
        "winnow must pass every product of sarra"
    );
    let polled: BTreeSet<String> = file_keys(&got["polled"])
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    for (rel, what) in tree(&n.src) {
        if what.contains("bytes") {
            assert!(
                polled.contains(&format!("out/{rel}")),
                "poll never announced out/{rel}"
            );
        }
    }
    if !v.kill && !v.flakey {
        // Exact: each version once per stage; twice through the shovel pair; once after winnow.
        let pub_c = counts(&pub_keys);
        assert!(
            pub_c.values().all(|c| *c == 1),
            "sarra posted something twice: {pub_c:?}"
        );
        assert!(
            clean.values().all(|c| *c == 1),
            "winnow posted something twice: {clean:?}"
        );
        let dup = counts(&file_keys(&got["dup"]));
        assert!(
            pub_c.keys().all(|k| dup.get(k) == Some(&2)),
            "each sarra post must reach winnow twice (two shovels)"
        );
        if !v.blocks {
            assert_eq!(
                counts(&src_keys),
                pub_c,
                "sarra must post what the watch posted"
            );
        } else {
            let blocks = got["src"].iter().filter(|m| m.blocks.is_some()).count();
            assert!(
                blocks >= 3 * 12,
                "the watch must post the big files in blocks ({blocks})"
            );
        }
        let sent: BTreeSet<String> = file_keys(&got["sent"])
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        let pub_paths: BTreeSet<String> = pub_keys.iter().map(|(r, _)| r.clone()).collect();
        let sent_rel: BTreeSet<String> = sent
            .iter()
            .map(|r| r.trim_start_matches("out/").to_string())
            .collect();
        assert_eq!(
            sent_rel, pub_paths,
            "the sender must send every product once"
        );
    }
    // Drained while everything runs (late duplicates after restarts included), and nothing
    // left behind by stopping.
    n.queues_empty(60);
    n.stop_all();
    n.queues_empty(30);
    let leftovers: Vec<String> = [&n.mirror, &n.dest, &n.out]
        .iter()
        .flat_map(|r| {
            tree(r)
                .into_iter()
                .filter(|(_, v)| v == "hidden")
                .map(|(k, _)| k)
        })
        .collect();
    assert!(leftovers.is_empty(), "inflight leftovers: {leftovers:?}");
    let _ = n.p.run(&[&["cleanup"][..], STAGES].concat());
    drop(n.sshd);
}

#[test]
fn flow_static() {
    run(Variant {
        before_start: true,
        ..Variant::default()
    });
}

#[test]
fn flow_dynamic() {
    run(Variant {
        changes: true,
        ..Variant::default()
    });
}

#[test]
fn flow_restart_with_kill_9() {
    run(Variant {
        kill: true,
        changes: true,
        ..Variant::default()
    });
}

/// RabbitMQ stopped and started three times while the tree flows (`PITCHER_FLOW_RESTARTS=10`
/// for more). History: one run on 2026-12-02 lost 2 of 60 files (a redelivered message whose
/// file was already in place was dropped as "not modified"; fixed, tests/pump_redelivered.rs).
/// A CI run on 2026-12-03 (a7cd30b) missed 6 files in the sender's SFTP output after the
/// restarts, with mirror and dest complete, and the test was ignored. Not reproduced since in
/// ~20 local runs (~100 restarts) nor in a clean-clone CI run; changed since: set-up steps
/// (connect, handshake, declares) give up after 60 s instead of the 300 s `timeout` (a stage
/// stuck in one would have outlasted the 240 s settle; the likeliest explanation, not proven),
/// the sender logs every product it cannot send, and a failure reports per missing file the
/// messages each tap saw, the queue depths and each stage's losses and reconnects.
#[test]
fn flow_flakey_broker() {
    run(Variant {
        flakey: true,
        ..Variant::default()
    });
}

/// The whole network on the embedded MQTT broker, killed with -9 and restarted three times.
#[test]
fn flow_flakey_embedded_broker() {
    run(Variant {
        flakey: true,
        embedded: true,
        ..Variant::default()
    });
}

#[test]
fn flow_partitioned() {
    run(Variant {
        blocks: true,
        ..Variant::default()
    });
}
