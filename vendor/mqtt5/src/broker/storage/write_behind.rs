use super::QueuedMessage;
#[cfg(not(target_arch = "wasm32"))]
use super::{InflightDirection, InflightMessage};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Notify;

pub(crate) type QueueKey = (String, u64);
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type InflightKey = (String, u16, InflightDirection);

const WRITE_OUT_THRESHOLD: usize = 8192;

#[derive(Default)]
struct Pending {
    queue: HashMap<QueueKey, Option<Arc<QueuedMessage>>>,
    queue_on_disk: HashSet<QueueKey>,
    #[cfg(not(target_arch = "wasm32"))]
    inflight: HashMap<InflightKey, Option<Box<InflightMessage>>>,
    #[cfg(not(target_arch = "wasm32"))]
    inflight_on_disk: HashSet<InflightKey>,
    #[cfg(not(target_arch = "wasm32"))]
    cleared_inflight: Vec<String>,
    /// PITCHER PATCH: number of batches taken so far (the id of the last one taken).
    taken: u64,
}

impl Pending {
    #[cfg(not(target_arch = "wasm32"))]
    fn len(&self) -> usize {
        self.queue.len() + self.inflight.len()
    }

    #[cfg(target_arch = "wasm32")]
    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
pub(crate) struct WriteBatch {
    /// PITCHER PATCH: batch id; every write issued before `ticket()` returned this id (or a
    /// lower one) is in this batch or an earlier one.
    pub(crate) id: u64,
    pub(crate) cleared_inflight: Vec<String>,
    pub(crate) queue: HashMap<QueueKey, Option<Arc<QueuedMessage>>>,
    pub(crate) inflight: HashMap<InflightKey, Option<Box<InflightMessage>>>,
}

pub(crate) struct WriteBehind {
    pending: parking_lot::Mutex<Pending>,
    full: Notify,
    /// PITCHER PATCH: a PUBACK is waiting for a write-out.
    urgent: Notify,
    /// PITCHER PATCH: id of the last batch known written (and fsynced when synced).
    durable: tokio::sync::watch::Sender<u64>,
}

impl Default for WriteBehind {
    fn default() -> Self {
        Self {
            pending: parking_lot::Mutex::default(),
            full: Notify::new(),
            urgent: Notify::new(),
            durable: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl std::fmt::Debug for WriteBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBehind").finish_non_exhaustive()
    }
}

impl WriteBehind {
    pub(crate) fn store_queued(&self, client_id: &str, seq: u64, body: Arc<QueuedMessage>) {
        let mut pending = self.pending.lock();
        pending
            .queue
            .insert((client_id.to_string(), seq), Some(body));
        self.signal_if_full(&pending);
    }

    pub(crate) fn remove_queued(&self, client_id: &str, seq: u64) {
        let mut pending = self.pending.lock();
        let key = (client_id.to_string(), seq);
        let unwritten = matches!(pending.queue.get(&key), Some(Some(_)))
            && !pending.queue_on_disk.contains(&key);
        if unwritten {
            pending.queue.remove(&key);
        } else {
            pending.queue.insert(key, None);
            self.signal_if_full(&pending);
        }
    }

    fn signal_if_full(&self, pending: &Pending) {
        if pending.len() >= WRITE_OUT_THRESHOLD {
            self.full.notify_one();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl WriteBehind {
    pub(crate) fn store_inflight(&self, message: InflightMessage) {
        let mut pending = self.pending.lock();
        let key = (
            message.client_id.clone(),
            message.packet_id,
            message.direction,
        );
        pending.inflight.insert(key, Some(Box::new(message)));
        self.signal_if_full(&pending);
    }

    pub(crate) fn remove_inflight(
        &self,
        client_id: &str,
        packet_id: u16,
        direction: InflightDirection,
    ) {
        let mut pending = self.pending.lock();
        let key = (client_id.to_string(), packet_id, direction);
        let unwritten = matches!(pending.inflight.get(&key), Some(Some(_)))
            && !pending.inflight_on_disk.contains(&key);
        if unwritten {
            pending.inflight.remove(&key);
        } else {
            pending.inflight.insert(key, None);
            self.signal_if_full(&pending);
        }
    }

    pub(crate) fn clear_inflight(&self, client_id: &str) {
        let mut pending = self.pending.lock();
        pending.inflight.retain(|key, _| key.0 != client_id);
        pending.inflight_on_disk.retain(|key| key.0 != client_id);
        pending.cleared_inflight.push(client_id.to_string());
    }

    pub(crate) fn take_batch(&self) -> WriteBatch {
        let mut pending = self.pending.lock();
        pending.taken += 1;
        let batch = WriteBatch {
            id: pending.taken,
            cleared_inflight: std::mem::take(&mut pending.cleared_inflight),
            queue: std::mem::take(&mut pending.queue),
            inflight: std::mem::take(&mut pending.inflight),
        };
        for (key, entry) in &batch.queue {
            if entry.is_some() {
                pending.queue_on_disk.insert(key.clone());
            } else {
                pending.queue_on_disk.remove(key);
            }
        }
        for (key, entry) in &batch.inflight {
            if entry.is_some() {
                pending.inflight_on_disk.insert(key.clone());
            } else {
                pending.inflight_on_disk.remove(key);
            }
        }
        batch
    }

    pub(crate) async fn filled(&self) {
        self.full.notified().await;
    }

    /// PITCHER PATCH: the id of the batch that will hold every write issued so far, and a
    /// receiver of the id of the last batch made durable; wakes the writer if that batch is
    /// not taken yet (group commit: concurrent requests share one write-out).
    pub(crate) fn ticket(&self) -> (u64, tokio::sync::watch::Receiver<u64>) {
        let ticket = {
            let pending = self.pending.lock();
            if pending.len() > 0 || !pending.cleared_inflight.is_empty() {
                pending.taken + 1
            } else {
                pending.taken
            }
        };
        if ticket > *self.durable.borrow() {
            self.urgent.notify_one();
        }
        (ticket, self.durable.subscribe())
    }

    /// PITCHER PATCH: resolves when a ticket asked for a write-out.
    pub(crate) async fn urgent(&self) {
        self.urgent.notified().await;
    }

    /// PITCHER PATCH: batch `id` (and so every earlier one) is durable.
    pub(crate) fn mark_durable(&self, id: u64) {
        self.durable.send_if_modified(|durable| {
            let advanced = id > *durable;
            if advanced {
                *durable = id;
            }
            advanced
        });
    }

    /// PITCHER PATCH: puts back a whole batch whose journal append failed (puts, removes and
    /// clears), unless a newer write for the same key came in meanwhile, so the next batch
    /// carries it (and no ticket covering it completes). An inflight put of a client cleared
    /// since is dropped: the clear is newer.
    pub(crate) fn restore_batch(&self, batch: WriteBatch) {
        let mut pending = self.pending.lock();
        for (key, entry) in batch.queue {
            pending.queue.entry(key).or_insert(entry);
        }
        for (key, entry) in batch.inflight {
            if entry.is_some() && pending.cleared_inflight.contains(&key.0) {
                continue;
            }
            pending.inflight.entry(key).or_insert(entry);
        }
        let newer = std::mem::take(&mut pending.cleared_inflight);
        pending.cleared_inflight = batch.cleared_inflight;
        for client_id in newer {
            if !pending.cleared_inflight.contains(&client_id) {
                pending.cleared_inflight.push(client_id);
            }
        }
    }

    /// PITCHER PATCH: puts back writes that failed, unless a newer write for the same key came
    /// in meanwhile, so the next batch retries them (and no ticket covering them completes).
    pub(crate) fn restore_failed(
        &self,
        queue: Vec<(QueueKey, Arc<QueuedMessage>)>,
        inflight: Vec<(InflightKey, Box<InflightMessage>)>,
    ) {
        let mut pending = self.pending.lock();
        for (key, body) in queue {
            pending.queue.entry(key).or_insert(Some(body));
        }
        for (key, message) in inflight {
            pending.inflight.entry(key).or_insert(Some(message));
        }
    }
}
