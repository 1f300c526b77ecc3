//! A whole pump (post -> sarra -> subscribe, the real binary) whose broker is restarted in the
//! middle of the run: RabbitMQ (`rabbitmqctl stop_app` / `start_app`), a private Mosquitto, and the
//! embedded broker (killed with SIGKILL and started again from its data dir). Every file must still arrive, identical, with no inflight leftovers, and the
//! stages must keep running (they reconnect by themselves).
//!
//! A test binary of its own: restarting the shared RabbitMQ must not disturb other tests, and
//! cargo runs test binaries one after the other.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::mirror::{Plan, addr_of, mirror_with};
use common::{Pump, service, unique, wait_for};

/// The plan for every broker: enough files, and a sarra slow enough, that the restart happens
/// while messages are queued on both sides of it.
fn plan() -> Plan {
    Plan {
        files: 200,
        sarra_extra: "messageRateMax 40".to_string(),
        disrupt_after: 20,
        wait_secs: 240,
        ..Plan::default()
    }
}

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn pump_survives_a_rabbitmq_restart() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    if !rabbitmqctl(&["-q", "status"]) {
        assert!(
            std::env::var_os("CI").is_none(),
            "rabbitmqctl is needed to restart RabbitMQ under CI"
        );
        eprintln!("SKIPPED: rabbitmqctl cannot control the local RabbitMQ");
        return;
    }
    let mut p = Pump::new();
    let x = format!("rst{}", unique());
    mirror_with(&mut p, "amqp://guest@127.0.0.1/", &x, &plan(), |p| {
        assert!(rabbitmqctl(&["stop_app"]), "rabbitmqctl stop_app");
        std::thread::sleep(Duration::from_secs(3));
        assert!(rabbitmqctl(&["start_app"]), "rabbitmqctl start_app");
        assert!(
            wait_for(60, || std::net::TcpStream::connect("127.0.0.1:5672")
                .is_ok()),
            "RabbitMQ did not come back"
        );
        // The restart really cut the stages off, and they came back by themselves.
        assert!(
            wait_for(120, || p.log("sarra").contains("reconnected")),
            "sarra never reconnected:\n{}",
            p.log("sarra")
        );
    });
}

#[test]
fn pump_survives_an_embedded_broker_restart() {
    let mut p = Pump::new();
    let data = p.path("broker");
    let start = |p: &mut Pump, port: &str| {
        let line = p.spawn_server(
            "broker",
            &[
                "broker",
                "--port",
                port,
                "--data-dir",
                data.to_str().unwrap(),
            ],
        );
        addr_of(&line)
    };
    let addr = start(&mut p, "0");
    let port = addr.rsplit(':').next().unwrap().to_string();
    let b = format!("mqtt://pump:pump@{addr}");
    mirror_with(&mut p, &b, "embrst", &plan(), |p| {
        // kill -9: whatever the broker acknowledged must be on disk already.
        p.kill9("broker");
        std::thread::sleep(Duration::from_secs(2));
        let again = start(p, &port);
        assert_eq!(again, addr, "the broker came back on another address");
    });
}

/// A Mosquitto of our own on a free loopback port, with persistence and no queue limit.
struct PrivateMosquitto {
    child: Option<Child>,
    conf: std::path::PathBuf,
    port: u16,
}

impl PrivateMosquitto {
    fn start(dir: &std::path::Path) -> Option<Self> {
        if Command::new("mosquitto").arg("-h").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "mosquitto is needed under CI"
            );
            eprintln!("SKIPPED: mosquitto is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 0\nset_tcp_nodelay true\nlog_dest file {}/mosquitto.log\nlog_type all\n",
                dir.display(),
                dir.display()
            ),
        )
        .unwrap();
        let mut m = PrivateMosquitto {
            child: None,
            conf,
            port,
        };
        m.launch();
        Some(m)
    }

    fn launch(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        assert!(
            wait_for(20, || std::net::TcpStream::connect(&addr).is_ok()),
            "private mosquitto did not start on {addr}"
        );
    }

    /// SIGTERM (mosquitto writes its persistence file on the way out), then start again.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
        std::thread::sleep(Duration::from_secs(1));
        self.launch();
    }
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// KNOWN FAILURE of Mosquitto 2.0.11 (Debian 12), kept runnable with `--ignored`: after a restart
/// it restores the persistent sessions but not their shared subscriptions (`$share/<queue>/...`),
/// so messages published before the consumers re-subscribe are answered PUBACK reason 16 ("no
/// matching subscribers") and dropped, and part of what was queued for the sessions never comes
/// back. Its own log (`log_type all`, copied to /tmp/pitcher-mosquitto-restart.log on failure)
/// shows it. See docs/brokers.md.
#[test]
#[ignore = "Mosquitto 2.0.11 does not restore shared subscriptions across a restart; see docs/brokers.md"]
fn pump_survives_a_mosquitto_restart() {
    let mut p = Pump::new();
    // Started as root, mosquitto drops to its own user: its persistence directory (and the way
    // there) must be open to that user, or it silently keeps nothing across the restart.
    let dir = tempfile::Builder::new()
        .prefix("pitcher-mosquitto-")
        .tempdir_in("/tmp")
        .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let Some(mut m) = PrivateMosquitto::start(dir.path()) else {
        return;
    };
    let b = format!("mqtt://pump:pump@127.0.0.1:{}", m.port);
    let log = dir.path().join("mosquitto.log");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mirror_with(&mut p, &b, "mosrst", &plan(), |_| m.restart())
    }));
    if let Err(e) = result {
        let _ = std::fs::copy(&log, "/tmp/pitcher-mosquitto-restart.log");
        std::panic::resume_unwind(e);
    }
}
