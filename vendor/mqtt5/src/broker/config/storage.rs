use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub base_dir: PathBuf,
    #[cfg_attr(not(target_arch = "wasm32"), serde(with = "humantime_serde"))]
    pub cleanup_interval: Duration,
    pub enable_persistence: bool,
    pub max_queued_messages_per_client: usize,
    pub max_queued_bytes_per_client: usize,
    /// PITCHER PATCH: when a QoS 1 PUBACK may be sent for messages queued on the file backend.
    pub queue_durability: QueueDurability,
}

/// PITCHER PATCH: how durable the file backend makes queued QoS>0 messages before the
/// publisher's PUBACK.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueDurability {
    /// Upstream behaviour: PUBACK after routing; queue files are written behind (~250 ms).
    #[default]
    WriteBehind,
    /// Every QoS>0 delivery goes through the session queue, and the PUBACK waits until the
    /// queue files are written (to the OS): nothing acknowledged is lost to a `kill -9`.
    Written,
    /// As `Written`, and the files (and their directories) are fsynced before the PUBACK:
    /// nothing acknowledged is lost to a power failure either.
    Synced,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::File,
            base_dir: PathBuf::from("./mqtt_storage"),
            cleanup_interval: Duration::from_secs(3600),
            enable_persistence: true,
            max_queued_messages_per_client: 10_000,
            max_queued_bytes_per_client: 64 * 1024 * 1024,
            queue_durability: QueueDurability::WriteBehind,
        }
    }
}

impl StorageConfig {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn with_backend(mut self, backend: StorageBackend) -> Self {
        self.backend = backend;
        self
    }

    #[must_use]
    pub fn with_base_dir(mut self, dir: PathBuf) -> Self {
        self.base_dir = dir;
        self
    }

    #[must_use]
    pub fn with_cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval;
        self
    }

    #[must_use]
    pub fn with_persistence(mut self, enabled: bool) -> Self {
        self.enable_persistence = enabled;
        self
    }

    #[must_use]
    pub fn with_max_queued_messages_per_client(mut self, max_messages: usize) -> Self {
        self.max_queued_messages_per_client = max_messages;
        self
    }

    #[must_use]
    pub fn with_max_queued_bytes_per_client(mut self, max_bytes: usize) -> Self {
        self.max_queued_bytes_per_client = max_bytes;
        self
    }

    /// PITCHER PATCH: see [`QueueDurability`].
    #[must_use]
    pub fn with_queue_durability(mut self, durability: QueueDurability) -> Self {
        self.queue_durability = durability;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageBackend {
    File,
    Memory,
}
