//! The embedded MQTT v5 broker: the `mqtt5` crate's broker, wrapped so it can be swapped.
//!
//! File persistence keeps sessions and their queued messages across restarts. Defaults are chosen
//! for a pump on one machine: loopback only, a non-standard port (25883, never 1883/5672), a data
//! directory under `~/.cache/pitcher/broker`, shared subscriptions on, and large per-session queues
//! (a slow subscriber must not lose messages the way Mosquitto's default 1000-message limit does).
//!
//! Durability: `mqtt5` is patched (vendor/mqtt5/PITCHER-PATCH.md) so that a QoS 1 PUBACK is sent
//! only once every copy the message was routed to (each session's queue file) is written, and
//! with [`EmbeddedConfig::fsync`] fsynced, group-committed across publishers: a message the
//! broker acknowledged survives `kill -9` (and, fsynced, a power failure).

use std::net::SocketAddr;
use std::path::PathBuf;

use mqtt5::broker::config::{
    AuthConfig, BrokerConfig, QueueDurability, StorageBackend, StorageConfig,
};
use mqtt5::broker::{BrokerShutdownHandle, MqttBroker};
use tokio::task::JoinHandle;
use tracing::info;

use crate::error::BrokerError;

/// The embedded broker's default port.
pub const DEFAULT_PORT: u16 = 25883;

/// How to run the embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Where to listen (port 0: any free port).
    pub bind: SocketAddr,
    /// Where sessions and queued messages are kept.
    pub data_dir: PathBuf,
    /// `user:<argon2 hash>` lines (see [`hash_password`]); without one, anonymous access.
    pub password_file: Option<PathBuf>,
    /// Messages queued per session before the oldest are dropped.
    pub max_queued_messages: usize,
    /// Bytes queued per session before the oldest are dropped.
    pub max_queued_bytes: usize,
    /// Fsync queued messages before acknowledging them (survives power loss); without it they
    /// are still written before the PUBACK (survives `kill -9` of the broker).
    pub fsync: bool,
}

impl EmbeddedConfig {
    pub fn new(bind: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        EmbeddedConfig {
            bind,
            data_dir: data_dir.into(),
            password_file: None,
            max_queued_messages: 1_000_000,
            max_queued_bytes: 1 << 30,
            fsync: true,
        }
    }
}

/// A running embedded broker.
pub struct EmbeddedBroker {
    addr: SocketAddr,
    shutdown: BrokerShutdownHandle,
    task: JoinHandle<Result<(), String>>,
}

impl EmbeddedBroker {
    /// Starts the broker and waits until it accepts connections.
    pub async fn start(cfg: EmbeddedConfig) -> Result<Self, BrokerError> {
        let name = format!("embedded broker on {}", cfg.bind);
        let fail = |what: &str, e: String| BrokerError::Refused {
            broker: name.clone(),
            what: what.to_string(),
            reason: e,
        };
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
            fail(
                &format!("creating {}", cfg.data_dir.display()),
                e.to_string(),
            )
        })?;
        let storage = StorageConfig::new()
            .with_backend(StorageBackend::File)
            .with_base_dir(cfg.data_dir.clone())
            .with_persistence(true)
            .with_max_queued_messages_per_client(cfg.max_queued_messages)
            .with_max_queued_bytes_per_client(cfg.max_queued_bytes)
            .with_queue_durability(if cfg.fsync {
                QueueDurability::Synced
            } else {
                QueueDurability::Written
            });
        let mut auth = AuthConfig::new();
        if let Some(f) = &cfg.password_file {
            auth = auth
                .with_password_file(f.clone())
                .with_allow_anonymous(false);
        }
        let config = BrokerConfig::new()
            .with_bind_address(cfg.bind)
            .with_storage(storage)
            .with_auth(auth)
            .with_sys_topics_enabled(false);
        let mut broker = MqttBroker::with_config(config)
            .await
            .map_err(|e| fail("starting", e.to_string()))?;
        let addr = broker
            .local_addr()
            .ok_or_else(|| fail("starting", "no TCP listener".into()))?;
        let shutdown = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let task = tokio::spawn(async move { broker.run().await.map_err(|e| e.to_string()) });
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(30), ready.wait_for(|r| *r)).await;
        info!(%addr, data_dir = %cfg.data_dir.display(), "embedded MQTT broker running");
        Ok(EmbeddedBroker {
            addr,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, flushes its storage and ends.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        self.shutdown.shutdown();
        Self::ended(self.addr, self.task.await)
    }

    /// Waits until the broker ends by itself (or is shut down from elsewhere).
    pub async fn wait(self) -> Result<(), BrokerError> {
        Self::ended(self.addr, self.task.await)
    }

    fn ended(
        addr: SocketAddr,
        r: Result<Result<(), String>, tokio::task::JoinError>,
    ) -> Result<(), BrokerError> {
        let reason = match r {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        Err(BrokerError::Refused {
            broker: format!("embedded broker on {addr}"),
            what: "running".into(),
            reason,
        })
    }

    /// A handle that stops the broker (e.g. from a signal handler).
    pub fn shutdown_handle(&self) -> BrokerShutdownHandle {
        self.shutdown.clone()
    }
}

/// A password-file line for `user` (`user:<argon2 hash>`).
pub fn hash_password(user: &str, password: &str) -> Result<String, BrokerError> {
    let hash = mqtt5::broker::PasswordAuthProvider::hash_password(password).map_err(|e| {
        BrokerError::Refused {
            broker: "embedded broker".into(),
            what: "hashing a password".into(),
            reason: e.to_string(),
        }
    })?;
    Ok(format!("{user}:{hash}"))
}
