//! PITCHER PATCH: the write-ahead journal of the queue writer (durabilities `Written` and
//! `Synced`).
//!
//! Each write-out batch (the queued-message and inflight puts, removes and clears issued since
//! the last one) is appended to one journal segment and made durable with a single
//! `fdatasync` before its PUBACKs go: one sync per batch instead of one per message file. The
//! per-message files under `queues/` and `inflight/`, which startup reads, are brought up to
//! date later by a checkpoint that runs beside the writer: it writes the batches' net effect
//! (a message queued and delivered in between needs no file at all), syncs it, and only then
//! deletes the segments it covered. At startup the remaining segments are replayed onto the
//! files before anything reads them. A segment's records are lines `<crc32 hex> <json>`; a torn
//! last line (a crash during an append, never acknowledged) is dropped.

use super::file_backend::FileBackend;
use super::session_log::{crc32, sync_directory};
use super::write_behind::{InflightKey, WriteBatch};
use super::{InflightDirection, InflightMessage, QueuedMessage};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The journal's directory, beside `queues/` and `inflight/`.
pub(crate) const JOURNAL_DIR: &str = "queue-journal";
const SEGMENT_EXT: &str = "log";
/// A checkpoint starts when this much was journaled since the last one...
const CHECKPOINT_BYTES: u64 = 16 << 20;
/// ...or when this long has passed with anything journaled. Not sooner: a message queued and
/// delivered before the checkpoint needs no file at all (with 1 s, a preloaded queue of 2,000
/// was written out while its subscriber drained it, and the download rate halved).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
const CHECKSUM_LEN: usize = 8;


#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum RecordRef<'a> {
    InflightClear {
        client_id: &'a str,
    },
    QueuePut {
        client_id: &'a str,
        seq: u64,
        message: &'a QueuedMessage,
    },
    InflightPut {
        message: &'a InflightMessage,
    },
    QueueRemove {
        client_id: &'a str,
        seq: u64,
    },
    InflightRemove {
        client_id: &'a str,
        packet_id: u16,
        direction: InflightDirection,
    },
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    InflightClear {
        client_id: String,
    },
    QueuePut {
        client_id: String,
        seq: u64,
        message: QueuedMessage,
    },
    InflightPut {
        message: InflightMessage,
    },
    QueueRemove {
        client_id: String,
        seq: u64,
    },
    InflightRemove {
        client_id: String,
        packet_id: u16,
        direction: InflightDirection,
    },
}

fn line(record: &RecordRef<'_>, out: &mut Vec<u8>) -> std::io::Result<()> {
    let body = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    out.extend_from_slice(format!("{:08x} ", crc32(&body)).as_bytes());
    out.extend_from_slice(&body);
    out.push(b'\n');
    Ok(())
}

/// The batch's records: clears first, then puts, then removes (replayed in this order, a
/// record is never removed before the record that replaces it is stored).
fn encode(batch: &WriteBatch) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for client_id in &batch.cleared_inflight {
        line(&RecordRef::InflightClear { client_id }, &mut out)?;
    }
    for ((client_id, seq), entry) in &batch.queue {
        if let Some(message) = entry {
            let (client_id, seq) = (client_id.as_str(), *seq);
            line(
                &RecordRef::QueuePut {
                    client_id,
                    seq,
                    message,
                },
                &mut out,
            )?;
        }
    }
    for entry in batch.inflight.values() {
        if let Some(message) = entry {
            line(&RecordRef::InflightPut { message }, &mut out)?;
        }
    }
    for ((client_id, seq), entry) in &batch.queue {
        if entry.is_none() {
            let (client_id, seq) = (client_id.as_str(), *seq);
            line(&RecordRef::QueueRemove { client_id, seq }, &mut out)?;
        }
    }
    for ((client_id, packet_id, direction), entry) in &batch.inflight {
        if entry.is_none() {
            let record = RecordRef::InflightRemove {
                client_id,
                packet_id: *packet_id,
                direction: *direction,
            };
            line(&record, &mut out)?;
        }
    }
    Ok(out)
}

fn decode(line: &[u8]) -> Option<Record> {
    let (checksum, body) = line.split_at_checked(CHECKSUM_LEN + 1)?;
    let (hex, separator) = checksum.split_at(CHECKSUM_LEN);
    if separator != b" " {
        return None;
    }
    let expected = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    if crc32(body) != expected {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// Folds `later` (a batch written after `changes`) into `changes`: the net effect of both.
fn merge(changes: &mut WriteBatch, later: WriteBatch) {
    for client_id in later.cleared_inflight {
        changes.inflight.retain(|key, _| key.0 != client_id);
        if !changes.cleared_inflight.contains(&client_id) {
            changes.cleared_inflight.push(client_id);
        }
    }
    changes.queue.extend(later.queue);
    changes.inflight.extend(later.inflight);
}

fn apply(changes: &mut WriteBatch, record: Record) {
    match record {
        Record::InflightClear { client_id } => {
            changes.inflight.retain(|key, _| key.0 != client_id);
            if !changes.cleared_inflight.contains(&client_id) {
                changes.cleared_inflight.push(client_id);
            }
        }
        Record::QueuePut {
            client_id,
            seq,
            message,
        } => {
            changes
                .queue
                .insert((client_id, seq), Some(Arc::new(message)));
        }
        Record::InflightPut { message } => {
            let key = (
                message.client_id.clone(),
                message.packet_id,
                message.direction,
            );
            changes.inflight.insert(key, Some(Box::new(message)));
        }
        Record::QueueRemove { client_id, seq } => {
            changes.queue.insert((client_id, seq), None);
        }
        Record::InflightRemove {
            client_id,
            packet_id,
            direction,
        } => {
            changes
                .inflight
                .insert((client_id, packet_id, direction), None);
        }
    }
}

fn is_empty(changes: &WriteBatch) -> bool {
    changes.cleared_inflight.is_empty() && changes.queue.is_empty() && changes.inflight.is_empty()
}

struct State {
    /// The segment appends go to; `None` after a checkpoint took the segments so far or after
    /// a failed append (whose torn end must not be followed by more records).
    file: Option<File>,
    /// The number of the newest segment (the open one, or the last one closed).
    current: u64,
    /// Bytes journaled since the last checkpoint started.
    since_checkpoint: u64,
    /// When the oldest record no checkpoint has taken yet was journaled.
    oldest: Option<Instant>,
    /// Journaled and not yet taken by a checkpoint.
    changes: WriteBatch,
    /// Taken by the running checkpoint and not yet all in the files.
    checkpointing: Arc<WriteBatch>,
}

/// See the module documentation.
pub(crate) struct QueueJournal {
    dir: PathBuf,
    queues_dir: PathBuf,
    inflight_dir: PathBuf,
    sync: bool,
    state: parking_lot::Mutex<State>,
    /// One checkpoint at a time.
    checkpoint: tokio::sync::Mutex<()>,
    /// A background checkpoint is running (or about to).
    background: std::sync::atomic::AtomicBool,
}

fn segment_number(path: &Path) -> Option<u64> {
    if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.path())
        .filter_map(|path| segment_number(&path).map(|n| (n, path)))
        .collect();
    found.sort();
    Ok(found)
}

impl QueueJournal {
    /// Opens the journal in `base_dir/queue-journal`, replaying what an earlier run left
    /// there onto the files under `queues_dir` and `inflight_dir` (and then removing it), so
    /// that the files are complete before anything reads them.
    pub(crate) fn open(
        base_dir: &Path,
        queues_dir: &Path,
        inflight_dir: &Path,
        sync: bool,
    ) -> std::io::Result<Self> {
        let dir = base_dir.join(JOURNAL_DIR);
        fs::create_dir_all(&dir)?;
        let found = segments(&dir)?;
        let mut changes = WriteBatch::default();
        let (mut records, mut damaged) = (0usize, 0usize);
        for (_, path) in &found {
            // Line by line: a segment can be large when checkpoints fell behind a backlog.
            let mut reader = std::io::BufReader::new(File::open(path)?);
            let mut piece = Vec::new();
            loop {
                piece.clear();
                if reader.read_until(b'\n', &mut piece)? == 0 {
                    break;
                }
                let Some(text) = piece.strip_suffix(b"\n") else {
                    warn!(
                        "Queue journal {}: dropped a torn last record of {} bytes (an append the crash interrupted; never acknowledged)",
                        path.display(),
                        piece.len()
                    );
                    break;
                };
                match decode(text) {
                    Some(record) => {
                        apply(&mut changes, record);
                        records += 1;
                    }
                    None => damaged += 1,
                }
            }
        }
        if damaged > 0 {
            warn!(
                damaged,
                "Queue journal {}: skipped unreadable records (checksum or format)",
                dir.display()
            );
        }
        let current = found.last().map_or(0, |(n, _)| *n);
        if !found.is_empty() {
            let failed = materialize(queues_dir, inflight_dir, &changes, true);
            if failed > 0 {
                return Err(std::io::Error::other(format!(
                    "{failed} record(s) of the queue journal {} could not be written to the queue files",
                    dir.display()
                )));
            }
            for (_, path) in &found {
                fs::remove_file(path)?;
            }
            sync_directory(&dir).map_err(std::io::Error::other)?;
            info!(
                records,
                segments = found.len(),
                "Replayed the queue journal {} onto the queue files",
                dir.display()
            );
        }
        Ok(Self {
            dir,
            queues_dir: queues_dir.to_path_buf(),
            inflight_dir: inflight_dir.to_path_buf(),
            sync,
            state: parking_lot::Mutex::new(State {
                file: None,
                current,
                since_checkpoint: 0,
                oldest: None,
                changes: WriteBatch::default(),
                checkpointing: Arc::new(WriteBatch::default()),
            }),
            checkpoint: tokio::sync::Mutex::new(()),
            background: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Appends `batch` and (when synced) makes it durable; blocking. On success the batch is
    /// kept for the next checkpoint; on failure nothing of it counts as written.
    pub(crate) fn append(
        &self,
        batch: WriteBatch,
    ) -> std::result::Result<(), (WriteBatch, String)> {
        if is_empty(&batch) {
            return Ok(());
        }
        let bytes = match encode(&batch) {
            Ok(bytes) => bytes,
            Err(e) => return Err((batch, format!("cannot encode the batch: {e}"))),
        };
        let mut state = self.state.lock();
        if let Err(e) = self.write(&mut state, &bytes) {
            // A torn end must not be followed by more records: the next append opens a new
            // segment.
            state.file = None;
            return Err((
                batch,
                format!(
                    "cannot append to the queue journal {}: {e}",
                    self.dir.display()
                ),
            ));
        }
        state.since_checkpoint += bytes.len() as u64;
        state.oldest.get_or_insert_with(Instant::now);
        merge(&mut state.changes, batch);
        Ok(())
    }

    fn write(&self, state: &mut State, bytes: &[u8]) -> std::io::Result<()> {
        if state.file.is_none() {
            let next = state.current + 1;
            let path = self.dir.join(format!("{next:020}.{SEGMENT_EXT}"));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            // Counted at once: should the directory sync fail, the next try opens a new
            // number instead of failing on this one for ever (the empty segment goes with the
            // next checkpoint).
            state.current = next;
            if self.sync {
                sync_directory(&self.dir).map_err(std::io::Error::other)?;
            }
            state.file = Some(file);
        }
        let Some(file) = state.file.as_mut() else {
            return Err(std::io::Error::other("no open segment"));
        };
        file.write_all(bytes)?;
        if self.sync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// True when a checkpoint should start.
    fn checkpoint_due(&self) -> bool {
        let state = self.state.lock();
        state.since_checkpoint >= CHECKPOINT_BYTES
            || state.oldest.is_some_and(|t| t.elapsed() >= CHECKPOINT_EVERY)
    }

    /// Starts a checkpoint beside the writer when one is due and none is running.
    pub(crate) fn checkpoint_in_background_if_due(self: &Arc<Self>) {
        if !self.checkpoint_due() || self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let journal = Arc::clone(self);
        tokio::spawn(async move {
            journal.checkpoint().await;
            journal.background.store(false, Ordering::Release);
        });
    }

    /// Brings the files up to date with everything journaled so far, then removes the
    /// segments that held it. Waits for a running checkpoint first. Returns false when some
    /// writes failed (they stay journaled and are retried by the next checkpoint).
    pub(crate) async fn checkpoint(self: &Arc<Self>) -> bool {
        let _one = self.checkpoint.lock().await;
        let journal = Arc::clone(self);
        match tokio::task::spawn_blocking(move || journal.checkpoint_blocking()).await {
            Ok(done) => done,
            Err(e) => {
                warn!("Queue journal checkpoint task failed: {e}");
                false
            }
        }
    }

    fn checkpoint_blocking(&self) -> bool {
        let (taken, upto) = {
            let mut state = self.state.lock();
            let taken = Arc::new(std::mem::take(&mut state.changes));
            state.checkpointing = Arc::clone(&taken);
            // Every record of `taken` is in a segment numbered `current` or lower; later
            // appends go to a new one.
            state.file = None;
            state.since_checkpoint = 0;
            state.oldest = None;
            (taken, state.current)
        };
        let failed = materialize(&self.queues_dir, &self.inflight_dir, &taken, self.sync);
        let mut state = self.state.lock();
        if failed > 0 {
            // Keep the segments; the next checkpoint writes these again (unless newer
            // records for the same keys came in meanwhile).
            let mut retry = WriteBatch::default();
            for client_id in &taken.cleared_inflight {
                retry.cleared_inflight.push(client_id.clone());
            }
            retry.queue = taken.queue.clone();
            retry.inflight = taken.inflight.clone();
            let newer = std::mem::take(&mut state.changes);
            merge(&mut retry, newer);
            state.changes = retry;
            state.oldest = Some(Instant::now());
            state.checkpointing = Arc::new(WriteBatch::default());
            warn!(failed, "Queue journal checkpoint incomplete; it is retried");
            return false;
        }
        state.checkpointing = Arc::new(WriteBatch::default());
        drop(state);
        let mut removed = 0;
        match segments(&self.dir) {
            Ok(found) => {
                for (n, path) in found {
                    if n > upto {
                        break;
                    }
                    match fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(e) => warn!(
                            "Cannot remove queue journal segment {}: {e}",
                            path.display()
                        ),
                    }
                }
            }
            Err(e) => warn!("Cannot list the queue journal {}: {e}", self.dir.display()),
        }
        if removed > 0 && self.sync {
            if let Err(e) = sync_directory(&self.dir) {
                warn!("{e}");
            }
        }
        debug!(
            queue = taken.queue.len(),
            inflight = taken.inflight.len(),
            removed,
            "Queue journal checkpoint"
        );
        true
    }

    /// `client_id`'s inflight messages as the journal has them: `on_disk` (read from its
    /// inflight files) with what is journaled but not yet in the files laid over it.
    pub(crate) fn overlay_inflight(
        &self,
        client_id: &str,
        on_disk: Vec<InflightMessage>,
    ) -> Vec<InflightMessage> {
        let state = self.state.lock();
        let mut by_key: HashMap<InflightKey, InflightMessage> = on_disk
            .into_iter()
            .map(|m| ((m.client_id.clone(), m.packet_id, m.direction), m))
            .collect();
        for layer in [&*state.checkpointing, &state.changes] {
            if layer.cleared_inflight.iter().any(|c| c == client_id) {
                by_key.clear();
            }
            for (key, entry) in &layer.inflight {
                if key.0 != client_id {
                    continue;
                }
                match entry {
                    Some(message) => {
                        by_key.insert(key.clone(), (**message).clone());
                    }
                    None => {
                        by_key.remove(key);
                    }
                }
            }
        }
        by_key.into_values().collect()
    }
}

/// Writes `changes` to the per-message files: clears, then every put (each synced, then
/// their directories, when `sync`), then the removes (and their directories synced), so a
/// record is never removed before what replaces it is stored. Returns the number of failed
/// writes (a failed remove counts: the journal must keep it).
fn materialize(queues_dir: &Path, inflight_dir: &Path, changes: &WriteBatch, sync: bool) -> usize {
    let mut failed = 0;
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for client_id in &changes.cleared_inflight {
        let dir = inflight_dir.join(client_id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {
                dirs.insert(inflight_dir.to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!(client_id, "Failed to remove inflight directory: {e}");
                failed += 1;
            }
        }
    }
    let mut removes: Vec<PathBuf> = Vec::new();
    for ((client_id, seq), entry) in &changes.queue {
        let path = queue_path(queues_dir, client_id, *seq);
        match entry {
            Some(message) => {
                if let Err(e) = FileBackend::write_durably(&path, &**message, sync, &mut dirs) {
                    warn!(client_id, seq, "Failed to persist queued message: {e}");
                    failed += 1;
                }
            }
            None => removes.push(path),
        }
    }
    for (key, entry) in &changes.inflight {
        let path = FileBackend::inflight_path(inflight_dir, key);
        match entry {
            Some(message) => {
                if let Err(e) = FileBackend::write_durably(&path, &**message, sync, &mut dirs) {
                    warn!(
                        client_id = key.0,
                        packet_id = key.1,
                        "Failed to persist inflight message: {e}"
                    );
                    failed += 1;
                }
            }
            None => removes.push(path),
        }
    }
    if sync && sync_all(&dirs, queues_dir, inflight_dir).is_err() {
        return failed.max(1);
    }
    let mut touched: HashSet<PathBuf> = HashSet::new();
    for path in removes {
        match fs::remove_file(&path) {
            Ok(()) => {
                if let Some(parent) = path.parent() {
                    touched.insert(parent.to_path_buf());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!("Failed to delete {}: {e}", path.display());
                failed += 1;
            }
        }
    }
    if sync {
        for dir in &touched {
            if let Err(e) = sync_directory(dir) {
                warn!("{e}");
                failed += 1;
            }
        }
    }
    failed
}

fn sync_all(
    dirs: &HashSet<PathBuf>,
    queues_dir: &Path,
    inflight_dir: &Path,
) -> std::io::Result<()> {
    for dir in dirs {
        sync_directory(dir).map_err(|e| {
            warn!("{e}");
            std::io::Error::other(e.to_string())
        })?;
    }
    if !dirs.is_empty() {
        for top in [queues_dir, inflight_dir] {
            if let Err(e) = sync_directory(top) {
                warn!("{e}");
            }
        }
    }
    Ok(())
}

pub(crate) fn queue_path(queues_dir: &Path, client_id: &str, seq: u64) -> PathBuf {
    queues_dir.join(client_id).join(format!("{seq:020}.json"))
}
