//! The retry spool: a durable FIFO of opaque payloads, at-least-once across `kill -9`.
//!
//! Layout of a spool directory:
//!
//! * `segment-NNNNNNNN.dat` — append-only segment files of checksummed, length-prefixed records
//!   (see [`record`]); a new one is started when the current one reaches the segment size, and
//!   after every restart (older segments are never written again, only deleted);
//! * `done.log` — the sequence numbers of finished entries (see [`donelog`]);
//! * `lock` — held (`flock`) by the process that has the spool open.
//!
//! An entry is *queued* until [`Spool::take`] hands it out, then *in flight* until
//! [`Spool::done`] (finished: never handed out again) or [`Spool::release`] (queued again). Being
//! in flight is not recorded on disk, so after a crash every entry not marked done is queued
//! again: at-least-once.
//!
//! Disk use stays bounded while the flow keeps pushing and finishing: a segment whose entries are
//! all done is deleted at once (unless it is the one being appended to), `housekeeping` moves the
//! live records out of segments that are less than half live, and the done-log is rewritten with
//! only the records that still matter whenever it has grown past twice that (and at every open
//! and housekeeping).
//!
//! Memory: an index of about 100 bytes per entry (offsets and metadata); payloads stay on disk
//! until taken.

mod donelog;
pub mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::error::{StateError, io_err};
use crate::fsutil::{sync_dir, tmp_path};
use donelog::{DoneLog, read_done};
use record::{HEADER_LEN, MAX_PAYLOAD, RecHeader, SEG_MAGIC, encode_record, scan_segment};

/// Default size at which a new segment file is started.
pub const DEFAULT_SEGMENT_SIZE: u64 = 8 << 20;
/// Default back-off base (see [`Spool::backoff`]).
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Back-off doubles with each attempt up to this many times the base.
pub const BACKOFF_MAX_FACTOR: u32 = 64;

const DONE_LOG: &str = "done.log";
const LOCK: &str = "lock";
/// Reader handles kept open for `take`.
const MAX_READERS: usize = 16;

/// The identity of a spool entry (its sequence number, unique within the spool directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(u64);

impl EntryId {
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An entry handed out by [`Spool::take`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolEntry {
    pub id: EntryId,
    pub payload: Vec<u8>,
    /// As given to `push`.
    pub attempts: u32,
    /// As given to `push` (Unix seconds); `retry_ttl` counts from it.
    pub first_queued: f64,
}

/// What [`Spool::housekeeping`] did, and the state after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpoolStats {
    /// Entries dropped because `first_queued` was older than the ttl.
    pub expired: usize,
    /// Live records copied out of sparse segments.
    pub moved: usize,
    /// Segment files deleted.
    pub segments_deleted: usize,
    /// Entries dropped because their record was damaged (since open).
    pub corrupt_dropped: usize,
    /// Entries queued or in flight.
    pub len: usize,
    /// Entries in flight.
    pub in_flight: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes of segment files and done-log.
    pub disk_bytes: u64,
}

struct Meta {
    seg: u32,
    offset: u64,
    len: u32,
    attempts: u32,
    first_queued: f64,
    due_ms: i64,
    in_flight: bool,
}

#[derive(Default)]
struct SegInfo {
    bytes: u64,
    live: u32,
    live_bytes: u64,
    /// Finished entries whose (first) record is in this segment: their done records are needed
    /// as long as the segment exists.
    done: Vec<u64>,
    /// Records whose entry's first record is in an earlier segment (copies left by a compaction
    /// interrupted between writing the copy and deleting the original).
    shadows: Vec<u64>,
}

struct Active {
    seg: u32,
    file: File,
    len: u64,
}

/// A retry spool directory, opened by one process at a time.
pub struct Spool {
    dir: PathBuf,
    _lock: File,
    backoff_base: f64,
    segment_size: u64,
    entries: HashMap<u64, Meta>,
    ready: BTreeSet<(i64, u64)>,
    in_flight: usize,
    segments: BTreeMap<u32, SegInfo>,
    active: Option<Active>,
    next_seg: u32,
    next_seq: u64,
    done_log: DoneLog,
    done_tracked: usize,
    readers: HashMap<u32, File>,
    corrupt_dropped: usize,
    segments_deleted: usize,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, e.g.
    /// `<state>/<component>/<config>/work_retry_01/`. Takes the directory's lock (an error if
    /// another process has it open), reads the index of every segment, skips torn or damaged
    /// records with a warning, deletes segments with nothing left, and compacts the done-log.
    /// Every entry not marked done is queued, with the due time it was pushed with.
    pub fn open(dir: PathBuf) -> Result<Self, StateError> {
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StateError::Locked { path: dir }),
            Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        let done_path = dir.join(DONE_LOG);
        let _ = fs::remove_file(tmp_path(&done_path));
        let (done_set, mut max_seq) = read_done(&done_path)?;

        let mut entries: HashMap<u64, Meta> = HashMap::new();
        let mut ready = BTreeSet::new();
        let mut segments = BTreeMap::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut next_seg = 1u32;
        for (n, path) in list_segments(&dir)? {
            next_seg = next_seg.max(n.saturating_add(1));
            let mut seg = SegInfo::default();
            let res = scan_segment(&path, |offset, h: &RecHeader| {
                max_seq = max_seq.max(h.seq);
                if !seen.insert(h.seq) {
                    seg.shadows.push(h.seq);
                } else if done_set.contains(&h.seq) {
                    seg.done.push(h.seq);
                } else {
                    let due_ms = to_ms(h.due);
                    entries.insert(
                        h.seq,
                        Meta {
                            seg: n,
                            offset,
                            len: h.len,
                            attempts: h.attempts,
                            first_queued: h.first_queued,
                            due_ms,
                            in_flight: false,
                        },
                    );
                    ready.insert((due_ms, h.seq));
                    seg.live += 1;
                    seg.live_bytes += h.record_len();
                }
            })
            .map_err(io_err("read", &path))?;
            if res.bad_magic {
                warn!(
                    "retry spool: {} is not a spool segment (bad header): ignored",
                    path.display()
                );
                continue;
            }
            if let Some(at) = res.torn_at {
                warn!(
                    "retry spool: {} ends with an incomplete record at offset {at} (interrupted \
                     write): skipped",
                    path.display()
                );
            }
            if res.corrupt > 0 {
                warn!(
                    "retry spool: {}: {} damaged region(s) skipped",
                    path.display(),
                    res.corrupt
                );
            }
            seg.bytes = res.file_len;
            segments.insert(n, seg);
        }
        drop(seen);
        // Segments with nothing live left are deleted before the done-log is rewritten without
        // their records (the other order could bring finished entries back after a crash).
        let mut segments_deleted = 0;
        segments.retain(|n, s: &mut SegInfo| {
            if s.live > 0 {
                return true;
            }
            let path = segment_path(&dir, *n);
            match fs::remove_file(&path) {
                Ok(()) => {
                    segments_deleted += 1;
                    false
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    warn!("retry spool: cannot delete {}: {e}", path.display());
                    true
                }
            }
        });
        let keep = done_records_to_keep(&segments, &entries);
        let done_tracked = segments
            .values()
            .map(|s| s.done.len() + s.shadows.len())
            .sum();
        let spool = Spool {
            done_log: DoneLog::rewrite(&done_path, &keep)?,
            dir,
            _lock: lock,
            backoff_base: DEFAULT_BACKOFF_BASE.as_secs_f64(),
            segment_size: DEFAULT_SEGMENT_SIZE,
            entries,
            ready,
            in_flight: 0,
            segments,
            active: None,
            next_seg,
            next_seq: max_seq + 1,
            done_tracked,
            readers: HashMap::new(),
            corrupt_dropped: 0,
            segments_deleted,
        };
        debug!(
            "retry spool {}: {} entries in {} segments",
            spool.dir.display(),
            spool.entries.len(),
            spool.segments.len()
        );
        Ok(spool)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Back-off base for entries pushed from now on (default 1 s); see [`backoff`](Self::backoff).
    pub fn set_backoff_base(&mut self, base: Duration) {
        self.backoff_base = base.as_secs_f64();
    }

    /// Size at which a new segment file is started (default 8 MiB; at least 1 KiB).
    pub fn set_segment_size(&mut self, bytes: u64) {
        self.segment_size = bytes.max(1024);
    }

    /// Delay before an entry pushed with `attempts` is due: 0 for 0 attempts (never tried: due at
    /// once), else `base * 2^(attempts-1)` capped at `64 * base` — 1, 2, 4, ... 64 s by default.
    pub fn backoff(&self, attempts: u32) -> Duration {
        Duration::from_secs_f64(self.backoff_secs(attempts))
    }

    fn backoff_secs(&self, attempts: u32) -> f64 {
        if attempts == 0 {
            return 0.0;
        }
        let factor = (1u32 << (attempts - 1).min(6)).min(BACKOFF_MAX_FACTOR);
        self.backoff_base * f64::from(factor)
    }

    /// Appends one entry and makes it durable (fsync) before returning. Due at now + back-off.
    pub fn push(
        &mut self,
        payload: &[u8],
        attempts: u32,
        first_queued: f64,
    ) -> Result<(), StateError> {
        self.push_at(payload, attempts, first_queued, crate::unix_now())
            .map(|_| ())
    }

    /// [`push`](Self::push) with an explicit current time (Unix seconds); returns the new id.
    pub fn push_at(
        &mut self,
        payload: &[u8],
        attempts: u32,
        first_queued: f64,
        now: f64,
    ) -> Result<EntryId, StateError> {
        let ids = self.push_slices(&[(payload, attempts, first_queued)], now)?;
        Ok(ids.first().copied().unwrap_or(EntryId(0)))
    }

    /// Appends a batch with one fsync; all or none of it is pushed.
    pub fn push_many(&mut self, items: &[(Vec<u8>, u32, f64)]) -> Result<(), StateError> {
        self.push_many_at(items, crate::unix_now()).map(|_| ())
    }

    /// [`push_many`](Self::push_many) with an explicit current time; returns the new ids.
    pub fn push_many_at(
        &mut self,
        items: &[(Vec<u8>, u32, f64)],
        now: f64,
    ) -> Result<Vec<EntryId>, StateError> {
        let slices: Vec<(&[u8], u32, f64)> = items
            .iter()
            .map(|(p, a, f)| (p.as_slice(), *a, *f))
            .collect();
        self.push_slices(&slices, now)
    }

    fn push_slices(
        &mut self,
        items: &[(&[u8], u32, f64)],
        now: f64,
    ) -> Result<Vec<EntryId>, StateError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        for (p, _, _) in items {
            if p.len() > MAX_PAYLOAD {
                return Err(StateError::PayloadTooLarge {
                    path: self.dir.clone(),
                    len: p.len(),
                    max: MAX_PAYLOAD,
                });
            }
        }
        // Sequence numbers are used up even if the write fails: a record that reached the disk
        // anyway must never share its number with a later one.
        let first = self.next_seq;
        self.next_seq += items.len() as u64;
        let recs: Vec<NewRecord<'_>> = items
            .iter()
            .enumerate()
            .map(|(i, &(payload, attempts, first_queued))| NewRecord {
                seq: first + i as u64,
                attempts,
                first_queued,
                due: now + self.backoff_secs(attempts),
                payload,
            })
            .collect();
        let locs = self.append(&recs)?;
        let mut ids = Vec::with_capacity(recs.len());
        for (r, (seg, offset)) in recs.iter().zip(locs) {
            let due_ms = to_ms(r.due);
            self.entries.insert(
                r.seq,
                Meta {
                    seg,
                    offset,
                    len: r.payload.len() as u32,
                    attempts: r.attempts,
                    first_queued: r.first_queued,
                    due_ms,
                    in_flight: false,
                },
            );
            self.ready.insert((due_ms, r.seq));
            if let Some(s) = self.segments.get_mut(&seg) {
                s.live += 1;
                s.live_bytes += (HEADER_LEN + r.payload.len()) as u64;
            }
            ids.push(EntryId(r.seq));
        }
        Ok(ids)
    }

    /// Writes records at the end of the active segment (starting one if needed) with one fsync;
    /// returns where each went. On failure nothing is indexed and the segment is abandoned.
    fn append(&mut self, recs: &[NewRecord<'_>]) -> Result<Vec<(u32, u64)>, StateError> {
        self.ensure_active()?;
        let Some(active) = self.active.as_mut() else {
            return Err(io_err("open", &self.dir)(std::io::Error::other(
                "no segment to write to",
            )));
        };
        let total: usize = recs.iter().map(|r| HEADER_LEN + r.payload.len()).sum();
        let mut buf = Vec::with_capacity(total);
        let mut locs = Vec::with_capacity(recs.len());
        for r in recs {
            locs.push((active.seg, active.len + buf.len() as u64));
            encode_record(
                &mut buf,
                r.seq,
                r.attempts,
                r.first_queued,
                r.due,
                r.payload,
            );
        }
        let written = active
            .file
            .write_all(&buf)
            .map_err(|e| ("write", e))
            .and_then(|()| active.file.sync_data().map_err(|e| ("fsync", e)));
        match written {
            Ok(()) => {
                active.len += buf.len() as u64;
                if let Some(s) = self.segments.get_mut(&active.seg) {
                    s.bytes = active.len;
                }
                Ok(locs)
            }
            Err((action, e)) => {
                let path = segment_path(&self.dir, active.seg);
                // Best effort: cut the partial append; either way never append to it again.
                let _ = active.file.set_len(active.len);
                self.roll();
                Err(io_err(action, &path)(e))
            }
        }
    }

    fn ensure_active(&mut self) -> Result<(), StateError> {
        if self
            .active
            .as_ref()
            .is_some_and(|a| a.len >= self.segment_size)
        {
            self.roll();
        }
        if self.active.is_some() {
            return Ok(());
        }
        let (seg, path, mut file) = loop {
            let seg = self.next_seg;
            self.next_seg = self.next_seg.saturating_add(1);
            let path = segment_path(&self.dir, seg);
            match OpenOptions::new().create_new(true).append(true).open(&path) {
                Ok(f) => break (seg, path, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && seg < u32::MAX => {
                    continue;
                }
                Err(e) => return Err(io_err("create", &path)(e)),
            }
        };
        let init = file
            .write_all(SEG_MAGIC)
            .and_then(|()| file.sync_all())
            .map_err(io_err("write", &path))
            .and_then(|()| sync_dir(&self.dir));
        if let Err(e) = init {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let len = SEG_MAGIC.len() as u64;
        self.segments.insert(
            seg,
            SegInfo {
                bytes: len,
                ..Default::default()
            },
        );
        self.active = Some(Active { seg, file, len });
        Ok(())
    }

    /// Stops appending to the active segment (deleting it if nothing in it is live).
    fn roll(&mut self) {
        if let Some(a) = self.active.take()
            && self.segments.get(&a.seg).is_some_and(|s| s.live == 0)
        {
            self.delete_segment(a.seg);
        }
    }

    fn delete_segment(&mut self, seg: u32) {
        if self.active.as_ref().is_some_and(|a| a.seg == seg) {
            self.active = None;
        }
        self.readers.remove(&seg);
        let path = segment_path(&self.dir, seg);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!("retry spool: cannot delete {}: {e}", path.display());
                return;
            }
        }
        self.segments_deleted += 1;
        if let Some(s) = self.segments.remove(&seg) {
            self.done_tracked = self
                .done_tracked
                .saturating_sub(s.done.len() + s.shadows.len());
        }
    }

    /// Up to `max` entries due at `now` (Unix seconds), in the order they became due (push
    /// order among equals); they are in flight until [`done`](Self::done) or
    /// [`release`](Self::release). A record found damaged is dropped with a warning.
    pub fn take(&mut self, max: usize, now: f64) -> Result<Vec<SpoolEntry>, StateError> {
        if self.done_log.broken {
            self.rewrite_done_log()?;
        }
        let now_ms = to_ms(now);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(&(due_ms, seq)) = self.ready.first() else {
                break;
            };
            if due_ms > now_ms {
                break;
            }
            self.ready.pop_first();
            let Some(m) = self.entries.get(&seq) else {
                continue;
            };
            let (seg, offset, len) = (m.seg, m.offset, m.len);
            match self.read_payload(seg, offset, seq, len) {
                Ok(Ok(payload)) => {
                    if let Some(m) = self.entries.get_mut(&seq) {
                        m.in_flight = true;
                        self.in_flight += 1;
                        out.push(SpoolEntry {
                            id: EntryId(seq),
                            payload,
                            attempts: m.attempts,
                            first_queued: m.first_queued,
                        });
                    }
                }
                Ok(Err(why)) => {
                    warn!(
                        "retry spool: entry {} in {} is damaged ({why}): dropped",
                        EntryId(seq),
                        segment_path(&self.dir, seg).display()
                    );
                    self.corrupt_dropped += 1;
                    // If this fails the record is found damaged again after a restart.
                    if let Err(e) = self.done_log.append(&[seq]) {
                        warn!("{e}");
                    }
                    self.forget(seq);
                }
                Err(e) => {
                    self.ready.insert((due_ms, seq));
                    let err = io_err("read", &segment_path(&self.dir, seg))(e);
                    if out.is_empty() {
                        return Err(err);
                    }
                    warn!("{err}");
                    break;
                }
            }
        }
        Ok(out)
    }

    fn read_payload(
        &mut self,
        seg: u32,
        offset: u64,
        seq: u64,
        len: u32,
    ) -> std::io::Result<Result<Vec<u8>, String>> {
        if !self.readers.contains_key(&seg) {
            if self.readers.len() >= MAX_READERS {
                self.readers.clear();
            }
            match File::open(segment_path(&self.dir, seg)) {
                Ok(f) => {
                    self.readers.insert(seg, f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Err("segment file missing".into()));
                }
                Err(e) => return Err(e),
            }
        }
        match self.readers.get_mut(&seg) {
            Some(f) => record::read_record(f, offset, seq, len),
            None => Ok(Err("segment file missing".into())),
        }
    }

    /// Marks an entry finished: it is never handed out again. Written to the done-log at once
    /// (without fsync: after a power cut, though not after `kill -9`, it may come back once).
    /// Works for queued entries too (to drop one without taking it).
    pub fn done(&mut self, id: EntryId) -> Result<(), StateError> {
        if !self.entries.contains_key(&id.0) {
            return Err(StateError::UnknownEntry {
                path: self.dir.clone(),
                id,
            });
        }
        if self.done_log.broken {
            self.rewrite_done_log()?;
        }
        self.done_log.append(&[id.0])?;
        self.forget(id.0);
        if self.done_log.records() > 2 * self.done_tracked as u64 + 4096
            && let Err(e) = self.rewrite_done_log()
        {
            warn!("{e}");
        }
        Ok(())
    }

    /// Removes a finished entry from the index (its done record is already written).
    fn forget(&mut self, seq: u64) {
        let Some(m) = self.entries.remove(&seq) else {
            return;
        };
        if m.in_flight {
            self.in_flight -= 1;
        } else {
            self.ready.remove(&(m.due_ms, seq));
        }
        let mut empty = false;
        if let Some(s) = self.segments.get_mut(&m.seg) {
            s.live = s.live.saturating_sub(1);
            s.live_bytes = s
                .live_bytes
                .saturating_sub(HEADER_LEN as u64 + u64::from(m.len));
            s.done.push(seq);
            self.done_tracked += 1;
            empty = s.live == 0;
        }
        if empty && self.active.as_ref().is_none_or(|a| a.seg != m.seg) {
            self.delete_segment(m.seg);
        }
    }

    /// Gives an in-flight entry back without success (e.g. at shutdown): queued again with its
    /// original due time, so due at once. Unknown or not-in-flight ids are ignored.
    pub fn release(&mut self, id: EntryId) {
        if let Some(m) = self.entries.get_mut(&id.0)
            && m.in_flight
        {
            m.in_flight = false;
            self.in_flight -= 1;
            self.ready.insert((m.due_ms, id.0));
        }
    }

    /// Drops queued entries whose `first_queued` is more than `ttl` before `now` (sr3
    /// `retry_ttl`; `None`: never), deletes segments with nothing live, moves the live records
    /// out of segments less than half live, and rewrites the done-log.
    pub fn housekeeping(
        &mut self,
        now: f64,
        ttl: Option<Duration>,
    ) -> Result<SpoolStats, StateError> {
        let deleted_before = self.segments_deleted;
        let mut stats = SpoolStats::default();
        if let Some(ttl) = ttl {
            let limit = now - ttl.as_secs_f64();
            let expired: Vec<u64> = self
                .entries
                .iter()
                .filter(|(_, m)| !m.in_flight && m.first_queued < limit)
                .map(|(s, _)| *s)
                .collect();
            if !expired.is_empty() {
                self.done_log.append(&expired)?;
                for s in &expired {
                    self.forget(*s);
                }
                info!(
                    "retry spool {}: {} entries queued longer than retry_ttl ({} s) dropped",
                    self.dir.display(),
                    expired.len(),
                    ttl.as_secs_f64()
                );
            }
            stats.expired = expired.len();
        }
        // The active segment: dropped if nothing in it is live, left to compaction if sparse.
        if let Some(a) = &self.active {
            let (live, live_bytes) = self
                .segments
                .get(&a.seg)
                .map_or((0, 0), |s| (s.live, s.live_bytes));
            let header = SEG_MAGIC.len() as u64;
            if (live == 0 && a.len > header)
                || (a.len >= self.segment_size / 4 && live_bytes * 2 < a.len - header)
            {
                self.roll();
            }
        }
        let active = self.active.as_ref().map(|a| a.seg);
        let empty: Vec<u32> = self
            .segments
            .iter()
            .filter(|(n, s)| s.live == 0 && Some(**n) != active)
            .map(|(n, _)| *n)
            .collect();
        for n in empty {
            self.delete_segment(n);
        }
        let sparse: Vec<u32> = self
            .segments
            .iter()
            .filter(|(n, s)| {
                Some(**n) != active
                    && s.live_bytes * 2 < s.bytes.saturating_sub(SEG_MAGIC.len() as u64)
            })
            .map(|(n, _)| *n)
            .collect();
        if !sparse.is_empty() {
            let mut by_seg: HashMap<u32, Vec<(u64, u64)>> = HashMap::new();
            for (seq, m) in &self.entries {
                if sparse.contains(&m.seg) {
                    by_seg.entry(m.seg).or_default().push((m.offset, *seq));
                }
            }
            for n in sparse {
                let mut list = by_seg.remove(&n).unwrap_or_default();
                list.sort_unstable();
                stats.moved += self.move_out(n, &list)?;
            }
        }
        self.rewrite_done_log()?;
        self.readers.clear();
        stats.segments_deleted = self.segments_deleted - deleted_before;
        stats.corrupt_dropped = self.corrupt_dropped;
        stats.len = self.entries.len();
        stats.in_flight = self.in_flight;
        stats.segments = self.segments.len();
        stats.disk_bytes = self.disk_usage();
        Ok(stats)
    }

    /// Copies the live records of segment `n` (offset-sorted `(offset, seq)`) to the active
    /// segment with one fsync, then deletes `n`. Returns how many were moved.
    fn move_out(&mut self, n: u32, list: &[(u64, u64)]) -> Result<usize, StateError> {
        let path = segment_path(&self.dir, n);
        let mut payloads: Vec<(u64, Vec<u8>)> = Vec::with_capacity(list.len());
        let mut damaged = Vec::new();
        for &(offset, seq) in list {
            let Some(len) = self.entries.get(&seq).map(|m| m.len) else {
                continue;
            };
            match self
                .read_payload(n, offset, seq, len)
                .map_err(io_err("read", &path))?
            {
                Ok(p) => payloads.push((seq, p)),
                Err(why) => {
                    warn!(
                        "retry spool: entry {} in {} is damaged ({why}): dropped",
                        EntryId(seq),
                        path.display()
                    );
                    damaged.push(seq);
                }
            }
        }
        if !damaged.is_empty() {
            self.corrupt_dropped += damaged.len();
            self.done_log.append(&damaged)?;
            for s in &damaged {
                self.forget(*s);
            }
        }
        if payloads.is_empty() {
            if self.segments.get(&n).is_some_and(|s| s.live == 0) {
                self.delete_segment(n);
            }
            return Ok(0);
        }
        let recs: Vec<NewRecord<'_>> = payloads
            .iter()
            .filter_map(|(seq, p)| {
                let m = self.entries.get(seq)?;
                Some(NewRecord {
                    seq: *seq,
                    attempts: m.attempts,
                    first_queued: m.first_queued,
                    due: m.due_ms as f64 / 1000.0,
                    payload: p,
                })
            })
            .collect();
        let locs = self.append(&recs)?;
        for (r, (seg, offset)) in recs.iter().zip(locs) {
            if let Some(m) = self.entries.get_mut(&r.seq) {
                m.seg = seg;
                m.offset = offset;
            }
            let rec_len = (HEADER_LEN + r.payload.len()) as u64;
            if let Some(s) = self.segments.get_mut(&seg) {
                s.live += 1;
                s.live_bytes += rec_len;
            }
        }
        let moved = recs.len();
        // Whatever was finished in `n` is of no interest once it is gone.
        if let Some(s) = self.segments.get_mut(&n) {
            s.live = 0;
            s.live_bytes = 0;
        }
        self.delete_segment(n);
        Ok(moved)
    }

    /// Rewrites the done-log with the records that still matter: finished entries whose record
    /// is in an existing segment.
    fn rewrite_done_log(&mut self) -> Result<(), StateError> {
        let keep = done_records_to_keep(&self.segments, &self.entries);
        self.done_log = DoneLog::rewrite(&self.dir.join(DONE_LOG), &keep)?;
        Ok(())
    }

    /// Entries queued or in flight (not done).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries handed out and not yet done or released.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// When the next queued entry is due (Unix seconds, millisecond precision), if any.
    pub fn next_due(&self) -> Option<f64> {
        self.ready.first().map(|(ms, _)| *ms as f64 / 1000.0)
    }

    /// Bytes used on disk by segment files and the done-log.
    pub fn disk_usage(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum::<u64>() + self.done_log.bytes()
    }
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("len", &self.entries.len())
            .field("in_flight", &self.in_flight)
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

struct NewRecord<'a> {
    seq: u64,
    attempts: u32,
    first_queued: f64,
    due: f64,
    payload: &'a [u8],
}

/// The done records that still matter: finished entries with a record in an existing segment.
fn done_records_to_keep(
    segments: &BTreeMap<u32, SegInfo>,
    entries: &HashMap<u64, Meta>,
) -> Vec<u64> {
    let mut keep: Vec<u64> = Vec::new();
    for s in segments.values() {
        keep.extend_from_slice(&s.done);
        keep.extend(
            s.shadows
                .iter()
                .filter(|q| !entries.contains_key(q))
                .copied(),
        );
    }
    keep.sort_unstable();
    keep.dedup();
    keep
}

fn segment_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join(format!("segment-{seg:08}.dat"))
}

fn parse_segment_name(name: &str) -> Option<u32> {
    let n = name.strip_prefix("segment-")?.strip_suffix(".dat")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The segment files of `dir`, in order.
fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, StateError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let e = e.map_err(io_err("list", dir))?;
        if let Some(n) = e.file_name().to_str().and_then(parse_segment_name) {
            out.push((n, e.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Unix seconds to milliseconds (saturating; NaN → 0).
fn to_ms(t: f64) -> i64 {
    (t * 1000.0).floor() as i64
}

/// Entries in the spool at `dir` that are not done, read without taking the lock (for
/// `pitcher status` while the flow runs). Reads the record headers only. A spool that does not
/// exist is empty.
pub fn spool_len(dir: &Path) -> Result<usize, StateError> {
    if !dir.exists() {
        return Ok(0);
    }
    let (done, _) = read_done(&dir.join(DONE_LOG))?;
    let mut seen = HashSet::new();
    let mut count = 0usize;
    for (_, path) in list_segments(dir)? {
        match scan_segment(&path, |_, h| {
            if seen.insert(h.seq) && !done.contains(&h.seq) {
                count += 1;
            }
        }) {
            Ok(_) => {}
            // Deleted by the owner while we were listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read", &path)(e)),
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_segment_name("segment-00000012.dat"), Some(12));
        assert_eq!(parse_segment_name("segment-.dat"), None);
        assert_eq!(parse_segment_name("segment-+1.dat"), None);
        assert_eq!(parse_segment_name("done.log"), None);
        assert_eq!(
            segment_path(Path::new("d"), 7),
            Path::new("d/segment-00000007.dat")
        );
    }

    #[test]
    fn backoff_schedule() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(io_err("create", Path::new("tmp")))?;
        let mut s = Spool::open(dir.path().join("q"))?;
        let secs: Vec<f64> = (0..10).map(|a| s.backoff(a).as_secs_f64()).collect();
        assert_eq!(
            secs,
            [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 64.0, 64.0]
        );
        s.set_backoff_base(Duration::from_millis(500));
        assert_eq!(s.backoff(3), Duration::from_secs(2));
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(32));
        Ok(())
    }
}
