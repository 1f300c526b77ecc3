//! TLS to brokers against real brokers: `mqtts://` on a private Mosquitto with a TLS listener,
//! `amqps://` through a TLS-terminating proxy (tokio-rustls) in front of the real RabbitMQ on
//! 127.0.0.1:5672. The CA and the server certificate (for 127.0.0.1 and localhost) are made with
//! `openssl` for each test. Checked: a round trip with the CA given, a clear "certificate refused"
//! error without it (verification on), and `tlsRigour lax` (verification off) working without it.
//! Missing openssl, mosquitto or RabbitMQ skips a test with a printed reason, or fails it under CI.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{free_port, service_available, unique};
use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::mqtt::{MqttConsumer, MqttPublisher};
use pitcher_broker::{Binding, BrokerError, Consumer, Endpoint, Outgoing, QueueSpec, TlsSettings};
use pitcher_core::topic::{amqp_topic, mqtt_topic, rel_path_dirs};
use pitcher_core::{Format, Message, format};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(10);
const SECRET: &str = "tls-test-s3cret";

/// Is `tool` installed? Skips (prints why) or, under CI, fails when it is not.
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is needed under CI (see .ci/run)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    ok
}

/// A throwaway CA and a server certificate it signed, for 127.0.0.1 and localhost, in a
/// directory under /tmp readable by everyone (Mosquitto started as root reads them as user
/// `mosquitto`).
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn generate() -> Option<Certs> {
        if !have("openssl", "version") {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("pitcher-tls-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(
            p("ca.cnf"),
            "[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n[dn]\nCN=Pitcher test CA\n\
             [v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier=hash\n",
        )
        .unwrap();
        std::fs::write(
            p("server.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        run(&[
            &["req", "-x509", "-nodes", "-days", "2", "-config", "ca.cnf"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat());
        run(&[
            &["req", "-new", "-nodes", "-subj", "/CN=localhost"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat());
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        for f in ["ca.pem", "server.pem", "server.key"] {
            std::fs::set_permissions(p(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Some(Certs { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }
}

/// The three ways of trusting the broker that every test runs through.
fn with_ca(ca: &Path) -> TlsSettings {
    TlsSettings {
        verify: true,
        ca_file: Some(ca.to_path_buf()),
    }
}

fn no_ca() -> TlsSettings {
    TlsSettings::default()
}

fn lax() -> TlsSettings {
    TlsSettings {
        verify: false,
        ca_file: None,
    }
}

fn assert_refused(err: &BrokerError, scheme: &str, port: u16) {
    assert!(
        matches!(err, BrokerError::CertificateRefused { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    eprintln!("refused as expected: {text}");
    assert!(
        text.contains(&format!("{scheme}://")) && text.contains(&format!("127.0.0.1:{port}")),
        "names the broker: {text}"
    );
    assert!(text.contains("certificate refused"), "{text}");
    assert!(!format!("{text} {err:?}").contains(SECRET), "{text}");
}

// ---------------------------------------------------------------------------------------------
// mqtts: a private Mosquitto with a TLS listener.

struct TlsMosquitto {
    child: std::process::Child,
    port: u16,
}

impl Drop for TlsMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_mosquitto(certs: &Certs) -> Option<TlsMosquitto> {
    if !have("mosquitto", "-h") {
        return None;
    }
    let port = free_port();
    let conf = certs.path("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
             allow_anonymous true\npersistence false\nset_tcp_nodelay true\n",
            certs.ca().display(),
            certs.path("server.pem").display(),
            certs.path("server.key").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut m = TlsMosquitto { child, port };
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(m);
        }
        if let Ok(Some(status)) = m.child.try_wait() {
            panic!("mosquitto exited ({status}); config {}", conf.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("mosquitto did not listen on {port}");
}

const MQTT_EXCHANGE: &str = "xs_pitchertls";

fn mqtts(port: u16, tls: TlsSettings) -> Endpoint {
    Endpoint::parse(&format!("mqtts://tester@127.0.0.1:{port}"), Some(SECRET))
        .unwrap()
        .with_tls(tls)
}

fn mqtt_queue(test: &str) -> QueueSpec {
    QueueSpec {
        name: unique(&format!("q_anonymous.tls.{test}.")),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(60)),
        message_ttl: None,
        bindings: vec![Binding::new(MQTT_EXCHANGE, &["v03", test, "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

fn mqtt_message(test: &str, i: usize) -> Outgoing {
    let m = Message::new("http://localhost/", format!("{test}/d/f{i:03}.txt"));
    Outgoing {
        exchange: MQTT_EXCHANGE.into(),
        topic: mqtt_topic(MQTT_EXCHANGE, &["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(Format::V03, &m).unwrap(),
        persistent: true,
    }
}

async fn drain<C: Consumer>(c: &mut C, want: usize) -> HashSet<String> {
    let mut got = HashSet::new();
    // Until a deadline, not a number of calls: under load each call may return only a few.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if got.len() >= want {
            break;
        }
        for r in c
            .receive(want - got.len(), Duration::from_millis(300))
            .await
            .unwrap()
        {
            c.ack(r.token).await.unwrap();
            got.insert(r.message.rel_path);
        }
    }
    got
}

async fn mqtts_round_trip(port: u16, tls: TlsSettings, test: &str, n: usize) {
    let q = mqtt_queue(test);
    let mut c = MqttConsumer::new(mqtts(port, tls.clone()), q.clone(), 1, 50, T);
    c.connect().await.unwrap();
    let mut p = MqttPublisher::new(mqtts(port, tls.clone()), T, unique("pitcher-tls-pub-"));
    p.connect().await.unwrap();
    let batch: Vec<Outgoing> = (0..n).map(|i| mqtt_message(test, i)).collect();
    let results = p.publish(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(drain(&mut c, n).await.len(), n);
    c.close().await;
    p.close().await;
    // `pitcher cleanup` over mqtts too.
    pitcher_broker::mqtt::delete_session(&mqtts(port, tls), &format!("{}_i01", q.name), T)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_round_trip_with_the_ca_file() {
    let Some(certs) = Certs::generate() else {
        return;
    };
    let Some(m) = tls_mosquitto(&certs) else {
        return;
    };
    mqtts_round_trip(m.port, with_ca(&certs.ca()), "ca", 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_unknown_certificate_is_refused_clearly() {
    let Some(certs) = Certs::generate() else {
        return;
    };
    let Some(m) = tls_mosquitto(&certs) else {
        return;
    };
    let mut c = MqttConsumer::new(mqtts(m.port, no_ca()), mqtt_queue("refused"), 1, 10, T);
    assert_refused(&c.connect().await.unwrap_err(), "mqtts", m.port);
    let mut p = MqttPublisher::new(mqtts(m.port, no_ca()), T, unique("pitcher-tls-pub-"));
    assert_refused(&p.connect().await.unwrap_err(), "mqtts", m.port);
    let err = pitcher_broker::mqtt::delete_session(&mqtts(m.port, no_ca()), "pitcher-tls-x", T)
        .await
        .unwrap_err();
    assert_refused(&err, "mqtts", m.port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_lax_accepts_the_unknown_certificate() {
    let Some(certs) = Certs::generate() else {
        return;
    };
    let Some(m) = tls_mosquitto(&certs) else {
        return;
    };
    mqtts_round_trip(m.port, lax(), "lax", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_ca_file_is_a_clear_error() {
    let e = mqtts(
        free_port(),
        with_ca(Path::new("/nonexistent/pitcher-ca.pem")),
    );
    let mut c = MqttConsumer::new(e, mqtt_queue("noca"), 1, 10, T);
    let err = c.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/pitcher-ca.pem"),
        "{err}"
    );
    let e = amqps(
        free_port(),
        with_ca(Path::new("/nonexistent/pitcher-ca.pem")),
    );
    let mut p = AmqpPublisher::new(e, T, "pitcher-tls-test");
    let err = p.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::Tls { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// amqps: TLS terminated by a proxy in front of the shared RabbitMQ (which has no TLS listener).

/// Accepts TLS on a free 127.0.0.1 port with the test server certificate and forwards the
/// plaintext to RabbitMQ on 127.0.0.1:5672.
async fn tls_proxy(certs: &Certs) -> u16 {
    tls_proxy_on(certs, [127, 0, 0, 1]).await
}

/// The same proxy listening on `ip` (a loopback address).
async fn tls_proxy_on(certs: &Certs, ip: [u8; 4]) -> u16 {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(certs.path("server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(certs.path("server.key")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(SocketAddr::from((ip, 0))).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to forward.
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                let Ok(mut rabbit) =
                    TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], 5672))).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut rabbit).await;
            });
        }
    });
    port
}

const AMQP_EXCHANGE: &str = "xs_guest_pitchertls";

fn amqps(port: u16, tls: TlsSettings) -> Endpoint {
    Endpoint::parse(&format!("amqps://guest@127.0.0.1:{port}/"), Some("guest"))
        .unwrap()
        .with_tls(tls)
}

fn amqp_queue(test: &str) -> QueueSpec {
    QueueSpec {
        name: unique(&format!("q_guest.tls.{test}.")),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(60)),
        message_ttl: None,
        bindings: vec![Binding::new(AMQP_EXCHANGE, &["v03", test, "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

fn amqp_message(test: &str, i: usize) -> Outgoing {
    let m = Message::new("http://localhost/", format!("{test}/d/f{i:03}.txt"));
    Outgoing {
        exchange: AMQP_EXCHANGE.into(),
        topic: amqp_topic(&["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(Format::V03, &m).unwrap(),
        persistent: true,
    }
}

async fn amqps_round_trip(port: u16, tls: TlsSettings, n: usize) {
    let test = unique("t");
    let mut p = AmqpPublisher::new(amqps(port, tls.clone()), T, "pitcher-tls-pub");
    p.declare_exchange(AMQP_EXCHANGE).await.unwrap();
    let q = amqp_queue(&test);
    let mut c = AmqpConsumer::new(
        amqps(port, tls.clone()),
        q.clone(),
        25,
        T,
        "pitcher-tls-sub",
    );
    c.connect().await.unwrap();
    let batch: Vec<Outgoing> = (0..n).map(|i| amqp_message(&test, i)).collect();
    let results = p.publish(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(drain(&mut c, n).await.len(), n);
    c.close().await;
    p.close().await;
    pitcher_broker::amqp::delete_queue(&amqps(port, tls), &q.name, T)
        .await
        .unwrap();
}

fn rabbit_and_certs() -> Option<Certs> {
    if !service_available("RabbitMQ", 5672) {
        return None;
    }
    Certs::generate()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_round_trip_with_the_ca_file() {
    let Some(certs) = rabbit_and_certs() else {
        return;
    };
    let port = tls_proxy(&certs).await;
    amqps_round_trip(port, with_ca(&certs.ca()), 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_unknown_certificate_is_refused_clearly() {
    let Some(certs) = rabbit_and_certs() else {
        return;
    };
    let port = tls_proxy(&certs).await;
    let e = Endpoint::parse(&format!("amqps://guest@127.0.0.1:{port}/"), Some(SECRET)).unwrap();
    let mut c = AmqpConsumer::new(e.clone(), amqp_queue("refused"), 5, T, "pitcher-tls");
    assert_refused(&c.connect().await.unwrap_err(), "amqps", port);
    let mut p = AmqpPublisher::new(e, T, "pitcher-tls");
    assert_refused(&p.connect().await.unwrap_err(), "amqps", port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_lax_accepts_the_unknown_certificate() {
    let Some(certs) = rabbit_and_certs() else {
        return;
    };
    let port = tls_proxy(&certs).await;
    amqps_round_trip(port, lax(), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_certificate_for_another_host_is_refused() {
    let Some(certs) = rabbit_and_certs() else {
        return;
    };
    // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (also loopback on Linux).
    let port = tls_proxy_on(&certs, [127, 0, 0, 2]).await;
    let e = Endpoint::parse(&format!("amqps://guest@127.0.0.2:{port}/"), Some(SECRET))
        .unwrap()
        .with_tls(with_ca(&certs.ca()));
    let mut p = AmqpPublisher::new(e, T, "pitcher-tls");
    let err = p.connect().await.unwrap_err();
    assert!(
        matches!(err, BrokerError::CertificateRefused { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

/// Polls `inner` in a task whose cooperative budget has only `left` units on the first poll.
/// When the budget runs out inside a TLS write, tokio's socket answers "pending", rustls keeps
/// the record and reports the bytes as written: unless the writer flushes, that publish stays in
/// rustls' buffer until the next write (a keepalive, 30 s later). CI saw exactly that: the last
/// publish of a batch waiting 10 s for a PUBACK the broker never had a chance to send.
async fn with_budget_left<F: std::future::Future>(left: usize, inner: F) -> F::Output {
    let mut inner = std::pin::pin!(inner);
    let mut first = true;
    std::future::poll_fn(move |cx| {
        if first {
            first = false;
            // A fresh task poll has a budget of 128.
            for _ in left..128 {
                match tokio::task::coop::poll_proceed(cx) {
                    std::task::Poll::Ready(r) => r.made_progress(),
                    std::task::Poll::Pending => break,
                }
            }
        }
        inner.as_mut().poll(cx)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_publish_is_sent_whatever_the_task_budget() {
    let Some(certs) = Certs::generate() else {
        return;
    };
    let Some(m) = tls_mosquitto(&certs) else {
        return;
    };
    let test = "budget";
    let q = mqtt_queue(test);
    let mut c = MqttConsumer::new(mqtts(m.port, lax()), q.clone(), 1, 50, T);
    c.connect().await.unwrap();
    let mut p = MqttPublisher::new(
        mqtts(m.port, lax()),
        Duration::from_secs(3),
        unique("pitcher-tls-pub-"),
    );
    p.connect().await.unwrap();
    let mut failed = Vec::new();
    for left in 0..128 {
        let batch = vec![mqtt_message(test, left)];
        let (back, results) = tokio::spawn(async move {
            let results = with_budget_left(left, p.publish(&batch)).await;
            (p, results)
        })
        .await
        .unwrap();
        p = back;
        if let Some(Err(e)) = results.into_iter().next() {
            failed.push(format!("budget {left}: {e}"));
            p.connect().await.unwrap();
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(drain(&mut c, 128).await.len(), 128);
    c.close().await;
    p.close().await;
    pitcher_broker::mqtt::delete_session(&mqtts(m.port, lax()), &format!("{}_i01", q.name), T)
        .await
        .unwrap();
}
