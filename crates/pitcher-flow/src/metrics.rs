//! Counters of one instance, written as JSON beside its state (`<component>_<config>_NN.metrics`)
//! for `pitcher status`, and rendered in Prometheus text format.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The counters of one instance since it started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// Process id.
    pub pid: u32,
    /// Instance number.
    pub instance: u32,
    /// Start time (unix seconds).
    pub started: f64,
    /// Last write (unix seconds).
    pub updated: f64,
    /// Last time a message was gathered (unix seconds, 0 = never).
    pub last_activity: f64,
    /// Messages gathered (from the broker, the file system or the retry spool).
    pub received: u64,
    /// Messages malformed at the broker (acknowledged and dropped).
    pub malformed: u64,
    /// Messages accepted by the masks.
    pub accepted: u64,
    /// Messages rejected (masks, ages, nodupe, escapes...).
    pub rejected: u64,
    /// Of which duplicates (nodupe 304).
    pub duplicates: u64,
    /// Files transferred.
    pub files: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Transfers that failed and went to the retry spool.
    pub work_failed: u64,
    /// Messages posted (confirmed by the broker).
    pub posted: u64,
    /// Posts that failed and went to the post retry spool.
    pub post_failed: u64,
    /// Entries waiting in the work retry spool.
    pub work_retry_queue: u64,
    /// Entries waiting in the post retry spool.
    pub post_retry_queue: u64,
    /// Sum of lags of accepted messages (seconds).
    pub lag_sum: f64,
    /// Largest lag (seconds).
    pub lag_max: f64,
    /// Lag of the last accepted message (seconds).
    pub lag_last: f64,
}

impl Metrics {
    /// Average lag of accepted messages.
    pub fn lag_average(&self) -> f64 {
        if self.accepted == 0 {
            0.0
        } else {
            self.lag_sum / self.accepted as f64
        }
    }

    /// Write atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("metrics.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    /// Read a metrics file.
    pub fn read(path: &Path) -> std::io::Result<Metrics> {
        let raw = std::fs::read(path)?;
        serde_json::from_slice(&raw)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Prometheus text exposition of these counters, labelled with the flow and instance.
    pub fn prometheus(&self, flow: &str) -> String {
        let mut out = String::new();
        let rows: [(&str, &str, f64); 13] = [
            ("received", "Messages gathered", self.received as f64),
            (
                "malformed",
                "Malformed messages dropped",
                self.malformed as f64,
            ),
            ("accepted", "Messages accepted", self.accepted as f64),
            ("rejected", "Messages rejected", self.rejected as f64),
            (
                "duplicates",
                "Duplicates suppressed",
                self.duplicates as f64,
            ),
            ("files", "Files transferred", self.files as f64),
            ("bytes", "Bytes transferred", self.bytes as f64),
            (
                "work_failed",
                "Transfers queued for retry",
                self.work_failed as f64,
            ),
            ("posted", "Messages posted", self.posted as f64),
            (
                "post_failed",
                "Posts queued for retry",
                self.post_failed as f64,
            ),
            (
                "work_retry_queue",
                "Entries in the work retry spool",
                self.work_retry_queue as f64,
            ),
            (
                "post_retry_queue",
                "Entries in the post retry spool",
                self.post_retry_queue as f64,
            ),
            ("lag_max_seconds", "Largest lag seen", self.lag_max),
        ];
        for (name, help, v) in rows {
            out.push_str(&format!(
                "# HELP pitcher_{name} {help}\n# TYPE pitcher_{name} {}\npitcher_{name}{{flow=\"{flow}\",instance=\"{}\"}} {v}\n",
                if name.ends_with("queue") || name.starts_with("lag") { "gauge" } else { "counter" },
                self.instance
            ));
        }
        out
    }
}
