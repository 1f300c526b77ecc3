//! Shared test helpers: service detection and a TCP proxy that can cut connections.
#![allow(dead_code, clippy::unwrap_used)]

pub mod mqtt_suite;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

/// Is a service listening on 127.0.0.1:`port`? Without `CI` a missing service skips the test with
/// a printed reason; with `CI` set it is a failure.
pub fn service_available(name: &str, port: u16) -> bool {
    // TEST_LOG=debug (or any filter) shows the logs of the code under test.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    let up = std::net::TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{name} is not running on 127.0.0.1:{port} and CI is set: start it (see .ci/run)"
            );
        }
        eprintln!("SKIPPED: {name} is not running on 127.0.0.1:{port}");
    }
    up
}

/// A unique word for names in a shared broker.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:08x}", rand::random::<u32>())
}

/// A free local port (nothing listens on it once this returns). Another test may bind it
/// next, so this is only for ports handed to a server that starts straight away; a port that
/// must stay unreachable for a while is a [`ReservedPort`].
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A local port held by a socket that is bound but not listening: connections to it are
/// refused, as to a broker that is not there, and no other test's `bind(0)` can be given it
/// meanwhile (no SO_REUSEADDR). [`Proxy::start_on`] later listens on it.
///
/// (A port from [`free_port`] was once taken by a concurrent test's silent listener: the
/// "unreachable" broker then accepted the connection and never answered.)
pub struct ReservedPort {
    socket: TcpSocket,
    pub port: u16,
}

/// Must be called inside a tokio runtime (the socket is registered with it).
pub fn reserve_port() -> ReservedPort {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let port = socket.local_addr().unwrap().port();
    ReservedPort { socket, port }
}

/// Forwards 127.0.0.1:`port` to `target`; `cut()` drops every open connection (as a broker
/// restart or a network failure would), `stop()` also stops accepting.
pub struct Proxy {
    pub port: u16,
    cut: Arc<Notify>,
    freeze: Arc<Notify>,
    stopped: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy on a port of its own (`port` 0) or on `port`.
    pub async fn start(port: u16, target: SocketAddr) -> Proxy {
        Proxy::serve(
            TcpListener::bind(("127.0.0.1", port)).await.unwrap(),
            target,
        )
    }

    /// A proxy that starts listening on a port reserved earlier: nothing else can have taken
    /// it in between.
    pub fn start_on(reserved: ReservedPort, target: SocketAddr) -> Proxy {
        Proxy::serve(reserved.socket.listen(1024).unwrap(), target)
    }

    fn serve(listener: TcpListener, target: SocketAddr) -> Proxy {
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(Notify::new());
        let freeze = Arc::new(Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let (c, f, s) = (cut.clone(), freeze.clone(), stopped.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = c.notified(), if s.load(Ordering::SeqCst) => break,
                };
                let Ok((mut inbound, _)) = accepted else {
                    break;
                };
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let (c2, f2) = (c.clone(), f.clone());
                tokio::spawn(async move {
                    // Made before anything else, so that a cut or a freeze from now on is seen
                    // (a `Notified` gets `notify_waiters` from its creation on).
                    let cut = c2.notified();
                    let frozen = f2.notified();
                    tokio::pin!(cut, frozen);
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        // In this order: once frozen, not one more byte is forwarded; both
                        // ends stay open, silent, until cut.
                        biased;
                        _ = &mut frozen => cut.await,
                        _ = &mut cut => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            freeze,
            stopped,
        }
    }

    /// Drops all current connections.
    pub fn cut(&self) {
        self.cut.notify_waiters();
    }

    /// Stops forwarding on the current connections, both ways, without closing them (a peer
    /// that has gone silent); `cut()` then closes them.
    pub fn freeze(&self) {
        self.freeze.notify_waiters();
    }

    /// Drops all connections and stops listening.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.cut.notify_waiters();
    }
}
