//! The process-management verbs (start, stop, restart, sanity, status, enable, disable, add,
//! remove, edit) run as the real binary with temporary configuration and state trees. Flows that
//! run subscribe to the local RabbitMQ (127.0.0.1:5672); without it those tests are skipped
//! (a failure when CI is set).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn rabbit() -> bool {
    let up = std::net::TcpStream::connect("127.0.0.1:5672").is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "RabbitMQ is not running on 127.0.0.1:5672 and CI is set"
        );
        eprintln!("SKIPPED: RabbitMQ is not running on 127.0.0.1:5672");
    }
    up
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A configuration tree and a state tree; stops whatever it started when dropped.
struct Site {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
    data: PathBuf,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config");
        let state = tmp.path().join("state");
        let data = tmp.path().join("data");
        for d in [&config, &state, &data] {
            std::fs::create_dir_all(d).unwrap();
        }
        Site {
            _tmp: tmp,
            config,
            state,
            data,
        }
    }

    /// A subscribe flow on the local RabbitMQ that just waits for messages.
    fn subscribe(&self, name: &str, instances: u32) {
        self.subscribe_with(name, instances, "");
    }

    fn subscribe_with(&self, name: &str, instances: u32, more: &str) {
        std::fs::create_dir_all(self.config.join("subscribe")).unwrap();
        std::fs::write(
            self.config.join(format!("subscribe/{name}.conf")),
            format!(
                "broker amqp://guest:guest@127.0.0.1:5672/\nexchange amq.topic\ntopicPrefix v03\nexpire 2m\nsubtopic pitcher.supervise.test.#\ninstances {instances}\ndirectory {}\n{more}",
                self.data.display()
            ),
        )
        .unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pitcher"));
        c.arg("--config-dir")
            .arg(&self.config)
            .args(args)
            .env("PITCHER_STATE_DIR", &self.state)
            .env_remove("PITCHER_CONFIG_DIR")
            .env_remove("RUST_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "pitcher {args:?} failed ({}):\n{}\n{}",
            o.status,
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    fn flow_dir(&self, flow: &str) -> PathBuf {
        self.state.join(flow)
    }

    fn pid(&self, flow: &str, n: u32) -> Option<i32> {
        std::fs::read_to_string(self.flow_dir(flow).join(format!("i_{n:02}.pid")))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    fn status(&self, flow: &str) -> serde_json::Value {
        let out = self.ok(&["status", "--json", flow]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{out}");
        rows[0].clone()
    }

    fn state_of(&self, flow: &str) -> String {
        self.status(flow)["state"].as_str().unwrap().to_string()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.run(&["stop", "--timeout", "5"]);
    }
}

/// A live process (not a zombie).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill9(pid: i32) {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn start_status_stop_and_start_again_says_already_running() {
    if !rabbit() {
        return;
    }
    let site = Site::new();
    site.subscribe("runs", 2);
    let flow = "subscribe/runs";

    assert_eq!(site.state_of(flow), "stopped");
    let out = site.ok(&["start"]);
    assert!(out.contains("subscribe/runs: started 2 instances"), "{out}");

    // The queue name is chosen once, before launching, so both instances share one queue.
    let qnames: Vec<String> = std::fs::read_dir(site.flow_dir(flow))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".qname"))
        .collect();
    assert_eq!(qnames.len(), 1, "{qnames:?}");
    let p1 = site.pid(flow, 1).expect("pid file of instance 1");
    let p2 = site.pid(flow, 2).expect("pid file of instance 2");
    assert!(alive(p1) && alive(p2));
    let cmdline = std::fs::read(format!("/proc/{p2}/cmdline")).unwrap();
    let cmdline = text(&cmdline).replace('\0', " ");
    assert!(
        cmdline.contains("foreground --instance 2 subscribe/runs"),
        "{cmdline}"
    );
    assert!(site.state.join("log/subscribe_runs_01.log").exists());
    assert!(site.state.join("log/subscribe_runs_02.log").exists());

    let st = site.status(flow);
    assert_eq!(st["state"], "running", "{st}");
    assert_eq!(st["running"], 2);
    assert_eq!(st["expected"], 2);
    let table = site.ok(&["status"]);
    let mut lines = table.lines();
    assert!(
        lines.next().unwrap().starts_with("Component/Config  State"),
        "{table}"
    );
    assert!(
        lines
            .any(|l| l.starts_with("subscribe/runs") && l.contains("running") && l.contains("2/2")),
        "{table}"
    );

    let again = site.ok(&["start", flow]);
    assert!(again.contains("already running"), "{again}");
    assert_eq!(site.pid(flow, 1), Some(p1));

    // A running flow can be neither disabled nor removed.
    let o = site.run(&["disable", flow]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("stop it first"));
    let o = site.run(&["remove", flow]);
    assert_eq!(o.status.code(), Some(1));
    assert!(site.config.join("subscribe/runs.conf").exists());

    let out = site.ok(&["stop", "--timeout", "60"]);
    assert!(
        out.contains("subscribe/runs: stopping 2 instances"),
        "{out}"
    );
    wait_until("instances to exit", || !alive(p1) && !alive(p2));
    assert_eq!(site.pid(flow, 1), None);
    assert_eq!(site.pid(flow, 2), None);
    assert_eq!(site.state_of(flow), "stopped");
    let out = site.ok(&["stop"]);
    assert!(out.contains("subscribe/runs: not running"), "{out}");
}

#[test]
fn sanity_restarts_a_killed_instance_and_leaves_stopped_flows_alone() {
    if !rabbit() {
        return;
    }
    let site = Site::new();
    site.subscribe("fixme", 2);
    site.subscribe("idle", 1);
    let flow = "subscribe/fixme";
    site.ok(&["start", flow]);
    let p1 = site.pid(flow, 1).unwrap();
    let p2 = site.pid(flow, 2).unwrap();
    kill9(p2);
    wait_until("instance 2 to die", || !alive(p2));
    let st = site.status(flow);
    assert_eq!(st["state"], "partial", "{st}");
    assert_eq!(st["running"], 1);

    let out = site.ok(&["sanity"]);
    assert!(
        out.contains("subscribe/fixme: instance 2 was not running: restarted"),
        "{out}"
    );
    assert!(!out.contains("subscribe/idle"), "{out}");
    let new2 = site.pid(flow, 2).unwrap();
    assert_ne!(new2, p2);
    assert!(alive(new2));
    assert_eq!(
        site.pid(flow, 1),
        Some(p1),
        "the live instance is untouched"
    );
    assert_eq!(site.state_of(flow), "running");
    assert_eq!(site.state_of("subscribe/idle"), "stopped");
    assert_eq!(site.pid("subscribe/idle", 1), None);

    let out = site.ok(&["sanity"]);
    assert!(out.contains("nothing to repair"), "{out}");

    // restart gives new processes.
    site.ok(&["restart", flow]);
    let r1 = site.pid(flow, 1).unwrap();
    assert!(alive(r1));
    assert_ne!(r1, p1);
    wait_until("the old instance to exit", || !alive(p1));
    site.ok(&["stop"]);
    wait_until("instances to exit", || !alive(r1));
}

#[test]
fn a_hung_instance_is_seen_by_status_and_replaced_by_sanity() {
    if !rabbit() {
        return;
    }
    let site = Site::new();
    // Instances write metrics every 5 s: 8 s without any means hung.
    site.subscribe_with("hangs", 1, "runStateThreshold_hung 8\n");
    let flow = "subscribe/hangs";
    site.ok(&["start", flow]);
    let p1 = site.pid(flow, 1).unwrap();
    wait_until("the first metrics", || {
        site.flow_dir(flow)
            .join("subscribe_hangs_01.metrics")
            .exists()
    });
    Command::new("kill")
        .args(["-STOP", &p1.to_string()])
        .status()
        .unwrap();
    wait_until("status to say hung", || site.state_of(flow) == "hung");
    let out = site.ok(&["sanity"]);
    assert!(
        out.contains("instance 1") && out.contains("is hung"),
        "{out}"
    );
    assert!(out.contains("restarted"), "{out}");
    wait_until("the hung instance to be killed", || !alive(p1));
    let new1 = site.pid(flow, 1).unwrap();
    assert_ne!(new1, p1);
    assert!(alive(new1));
    assert_eq!(site.state_of(flow), "running");
}

#[test]
fn a_stale_pid_file_is_never_signalled() {
    let site = Site::new();
    site.subscribe("stale", 1);
    let flow = "subscribe/stale";
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = i32::try_from(sleeper.id()).unwrap();
    let pid_file = site.flow_dir(flow).join("i_01.pid");
    std::fs::create_dir_all(site.flow_dir(flow)).unwrap();
    std::fs::write(&pid_file, format!("{pid}\n")).unwrap();

    assert_eq!(site.state_of(flow), "stopped");
    let out = site.ok(&["stop", flow]);
    assert!(out.contains("not running"), "{out}");
    assert!(
        alive(pid),
        "stop signalled a process that is not an instance"
    );
    assert!(!pid_file.exists(), "stale pid file removed");

    // sanity on a disabled flow only removes the stale pid file.
    site.ok(&["disable", flow]);
    std::fs::write(&pid_file, format!("{pid}\n")).unwrap();
    let out = site.ok(&["sanity", flow]);
    assert!(out.contains("removed the stale pid file"), "{out}");
    assert!(!pid_file.exists());
    assert!(alive(pid));
    assert!(
        site.pid(flow, 1).is_none(),
        "a disabled flow is not started"
    );

    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn disable_and_enable() {
    let site = Site::new();
    site.subscribe("onoff", 1);
    let flow = "subscribe/onoff";
    let out = site.ok(&["disable", flow]);
    assert!(out.contains("subscribe/onoff: disabled"), "{out}");
    assert!(site.flow_dir(flow).join("disabled").exists());
    assert_eq!(site.state_of(flow), "disabled");
    let list = site.ok(&["list"]);
    assert!(list.contains("subscribe/onoff (disabled)"), "{list}");
    let out = site.ok(&["start", flow]);
    assert!(out.contains("disabled: not started"), "{out}");
    assert!(site.pid(flow, 1).is_none());

    let out = site.ok(&["enable", "subscribe/*"]);
    assert!(out.contains("subscribe/onoff: enabled"), "{out}");
    assert_eq!(site.state_of(flow), "stopped");
    let list = site.ok(&["list"]);
    assert!(!list.contains("disabled"), "{list}");
}

#[test]
fn naming_flows() {
    let site = Site::new();
    site.subscribe("a1", 1);
    site.subscribe("a2", 1);
    site.subscribe("b1", 1);
    let v: serde_json::Value =
        serde_json::from_str(&site.ok(&["status", "--json", "subscribe/a*"])).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flow"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["subscribe/a1", "subscribe/a2"]);
    let all: serde_json::Value = serde_json::from_str(&site.ok(&["status", "--json"])).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let o = site.run(&["start", "subscribe/nope"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no such flow"),
        "{}",
        text(&o.stderr)
    );
    let o = site.run(&["status", "poll/*"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

#[test]
fn add_edit_remove() {
    let site = Site::new();
    let src = site.data.join("subscribe");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("new.conf"),
        "broker amqp://guest:guest@127.0.0.1:5672/\nexchange amq.topic\n",
    )
    .unwrap();
    let out = site.ok(&["add", src.join("new.conf").to_str().unwrap()]);
    assert!(out.contains("subscribe/new: added"), "{out}");
    assert!(site.config.join("subscribe/new.conf").exists());
    // Never overwritten.
    let o = site.run(&["add", src.join("new.conf").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    // Another component given explicitly.
    let out = site.ok(&[
        "add",
        "--component",
        "shovel",
        src.join("new.conf").to_str().unwrap(),
    ]);
    assert!(out.contains("shovel/new: added"), "{out}");

    // edit: the "editor" appends a line; a bad value is a configuration error (exit 3).
    let o = site
        .cmd(&["edit", "subscribe/new"])
        .env("EDITOR", "printf 'batch 7\\n' >>")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let conf = std::fs::read_to_string(site.config.join("subscribe/new.conf")).unwrap();
    assert!(conf.ends_with("batch 7\n"), "{conf}");
    let o = site
        .cmd(&["edit", "subscribe/new"])
        .env("EDITOR", "printf 'batch many\\n' >>")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("batch"), "{}", text(&o.stderr));

    // remove deletes the configuration and the state.
    std::fs::create_dir_all(site.flow_dir("subscribe/new")).unwrap();
    std::fs::write(
        site.flow_dir("subscribe/new").join("x.qname"),
        "q_guest.x\n",
    )
    .unwrap();
    let out = site.ok(&["remove", "subscribe/new"]);
    assert!(out.contains("subscribe/new: removed"), "{out}");
    assert!(
        out.contains("q_guest.x"),
        "the queue left on the broker is named: {out}"
    );
    assert!(!site.config.join("subscribe/new.conf").exists());
    assert!(!site.flow_dir("subscribe/new").exists());
    let o = site.run(&["remove", "subscribe/new"]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn help_documents_exit_codes() {
    let site = Site::new();
    for verb in [
        "start", "stop", "restart", "sanity", "status", "enable", "disable", "add", "remove",
        "edit",
    ] {
        let out = site.ok(&[verb, "--help"]);
        assert!(out.contains("Exit codes:"), "{verb}: {out}");
    }
}
