//! The nodupe cache: `{(key, path): last seen}` in memory, bounded, with sr3's cache file.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use super::key::NodupeKey;
use super::line::{format_line_into, key_is_writable, parse_line};
use crate::error::{StateError, io_err};
use crate::fsutil::replace_file;

/// A sensible bound for [`NodupeCache::open`]'s `max_entries` (≈ 200-300 MB of RAM with sha512
/// keys and typical paths).
pub const DEFAULT_NODUPE_MAX_ENTRIES: usize = 1_000_000;

/// Pending appends are written to the file when they reach this size even without `flush`.
const PENDING_WRITE_BYTES: usize = 1 << 20;

/// The answer of [`NodupeCache::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodupeVerdict {
    /// Not seen within `nodupe_ttl`: accept (now remembered).
    New,
    /// Same key and path seen within `nodupe_ttl`: reject 304 "Not modified 1 (nodupe check)".
    Duplicate,
}

/// What a housekeeping pass did; `Display` gives sr3's log line
/// `was %d, but since %5.2f sec, increased up to %d, now saved %d entries`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodupeStats {
    /// Entries after the previous housekeeping (or after loading).
    pub was: usize,
    /// Seconds since the previous housekeeping (or the load).
    pub since: f64,
    /// `was` plus the checks made since (sr3 counts every line appended).
    pub increased_to: usize,
    /// Entries kept and written to the file.
    pub now_saved: usize,
    /// Entries dropped because they were older than `nodupe_ttl`.
    pub expired: usize,
    /// Entries dropped because the cache was full (the least recently seen first).
    pub evicted: usize,
}

impl fmt::Display for NodupeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "was {}, but since {:5.2} sec, increased up to {}, now saved {} entries",
            self.was, self.since, self.increased_to, self.now_saved
        )
    }
}

struct Slot {
    /// The map key again, so the age index can share it without a second lookup.
    name: Arc<str>,
    /// Last seen, Unix seconds.
    time: f64,
    /// Position in the age index (the record with this number is the live one).
    seq: u64,
}

/// The duplicate-suppression cache of one flow instance (sr3 `flowcb.nodupe.disk`).
///
/// In memory: one entry per `(key, path)` with the time it was last seen, and an age index (a
/// queue of `(seq, entry)` in the order of the checks, with lazy deletion) used to evict the least
/// recently seen entries when `max_entries` is exceeded. `check` is O(1) amortized and does no
/// I/O beyond appending to an in-memory buffer; `flush` writes that buffer (no fsync: losing the
/// last lines to a power cut only lets a few duplicates through after the restart).
///
/// On disk: sr3's `recent_files_NNN.cache` format, one line per check (see [`super::line`]),
/// rewritten atomically (tmp + rename) with only the live entries at `housekeeping`, when opening
/// a file with a torn last line, and by `flush` when the file has grown to more than about twice
/// the live entries (so it stays bounded even if housekeeping is rare).
pub struct NodupeCache {
    file: PathBuf,
    ttl: f64,
    max_entries: usize,
    map: HashMap<Arc<str>, Slot>,
    order: VecDeque<(u64, Arc<str>)>,
    seq: u64,
    scratch: String,
    out: Option<File>,
    pending: String,
    pending_lines: usize,
    pending_error: Option<StateError>,
    file_lines: usize,
    needs_rewrite: bool,
    last_saved: usize,
    last_time: f64,
    last_now: f64,
    checks_since: usize,
    evicted_since: usize,
    expired_since: usize,
}

impl NodupeCache {
    /// Loads `file` (sr3 format), skipping entries older than `ttl` (at the current time) and
    /// torn or corrupt lines (with a warning), and keeps it open for appending. Creates the
    /// parent directories. `max_entries == 0` means no bound.
    pub fn open(file: PathBuf, ttl: Duration, max_entries: usize) -> Result<Self, StateError> {
        Self::open_at(file, ttl, max_entries, crate::unix_now())
    }

    /// [`open`](Self::open) with an explicit current time (Unix seconds).
    pub fn open_at(
        file: PathBuf,
        ttl: Duration,
        max_entries: usize,
        now: f64,
    ) -> Result<Self, StateError> {
        if let Some(parent) = file.parent()
            && !parent.as_os_str().is_empty()
        {
            fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
        }
        let mut c = NodupeCache {
            file,
            ttl: ttl.as_secs_f64(),
            max_entries,
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            scratch: String::new(),
            out: None,
            pending: String::new(),
            pending_lines: 0,
            pending_error: None,
            file_lines: 0,
            needs_rewrite: false,
            last_saved: 0,
            last_time: now,
            last_now: now,
            checks_since: 0,
            evicted_since: 0,
            expired_since: 0,
        };
        match File::open(&c.file) {
            Ok(f) => c.load(f, now),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("open", &c.file)(e)),
        }
        if c.needs_rewrite || c.file_lines > 2 * c.map.len() + 10_000 {
            c.save(now)?;
        } else {
            c.open_append()?;
        }
        c.last_saved = c.map.len();
        c.evicted_since = 0;
        c.expired_since = 0;
        Ok(c)
    }

    fn load(&mut self, f: File, now: f64) {
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let mut buf = Vec::new();
        let (mut lineno, mut bad, mut first_bad, mut expired) = (0usize, 0usize, 0usize, 0usize);
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    warn!(
                        "nodupe cache {}: read error after line {lineno}: {e}; keeping what was read",
                        self.file.display()
                    );
                    self.needs_rewrite = true;
                    break;
                }
            }
            lineno += 1;
            if buf.last() != Some(&b'\n') {
                warn!(
                    "nodupe cache {}: last line {lineno} is incomplete (interrupted write), skipped",
                    self.file.display()
                );
                self.needs_rewrite = true;
                break;
            }
            let parsed = std::str::from_utf8(&buf).ok().and_then(parse_line);
            let Some((key, t, path)) = parsed else {
                bad += 1;
                if first_bad == 0 {
                    first_bad = lineno;
                }
                continue;
            };
            if now - t > self.ttl {
                expired += 1;
                continue;
            }
            self.insert(&key, &path, t);
        }
        if bad > 0 {
            warn!(
                "nodupe cache {}: {bad} corrupt line(s) skipped (first: line {first_bad})",
                self.file.display()
            );
        }
        if self.evicted_since > 0 {
            warn!(
                "nodupe cache {}: more than {} live entries in the file, the {} oldest dropped",
                self.file.display(),
                self.max_entries,
                self.evicted_since
            );
            self.needs_rewrite = true;
        }
        debug!(
            "nodupe cache {}: loaded {} entries from {lineno} lines ({expired} expired)",
            self.file.display(),
            self.map.len()
        );
        self.file_lines = lineno;
    }

    /// The cache file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// `nodupe_ttl`.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs_f64(self.ttl)
    }

    /// The bound on entries (0: none).
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Entries in memory (distinct `(key, path)` pairs, expired ones included until the next
    /// housekeeping).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Check-and-insert at `now` (Unix seconds): `Duplicate` iff the same key **and** path were
    /// seen at most `ttl` ago. Either way the entry's time becomes `now` and a line is appended to
    /// the file buffer (written by [`flush`](Self::flush)).
    pub fn check(&mut self, k: &NodupeKey, now: f64) -> NodupeVerdict {
        self.last_now = now;
        self.checks_since += 1;
        combine(&mut self.scratch, &k.key, &k.path);
        self.seq += 1;
        let seq = self.seq;
        let verdict = match self.map.get_mut(self.scratch.as_str()) {
            Some(slot) => {
                let dup = slot.time + self.ttl >= now;
                slot.time = now;
                slot.seq = seq;
                self.order.push_back((seq, slot.name.clone()));
                if dup {
                    NodupeVerdict::Duplicate
                } else {
                    NodupeVerdict::New
                }
            }
            None => {
                let name: Arc<str> = Arc::from(self.scratch.as_str());
                self.order.push_back((seq, name.clone()));
                self.map.insert(
                    name.clone(),
                    Slot {
                        name,
                        time: now,
                        seq,
                    },
                );
                self.evict_excess();
                NodupeVerdict::New
            }
        };
        self.maybe_compact_order();
        if key_is_writable(&k.key) {
            format_line_into(&k.key, now, &k.path, &mut self.pending);
            self.pending_lines += 1;
            if self.pending.len() >= PENDING_WRITE_BYTES
                && let Err(e) = self.write_pending()
            {
                warn!("{e}");
                self.pending_error = Some(e);
            }
        }
        verdict
    }

    /// Writes the lines appended by `check` since the last call (call once per batch). Also
    /// rewrites the file when it has grown to more than about twice the live entries.
    pub fn flush(&mut self) -> Result<(), StateError> {
        let r = self.write_pending();
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        r?;
        if self.needs_rewrite || self.file_lines > 2 * self.map.len() + 100_000 {
            let now = self.last_now;
            self.expired_since += self.save(now)?;
        }
        Ok(())
    }

    /// Drops the entries older than `ttl` at `now` and rewrites the file atomically with the rest
    /// (oldest first). Logs (once) how many entries were evicted for room since the last call.
    pub fn housekeeping(&mut self, now: f64) -> Result<NodupeStats, StateError> {
        let increased_to = self.last_saved + self.checks_since;
        let expired = self.save(now)? + self.expired_since;
        if self.evicted_since > 0 {
            warn!(
                "nodupe cache {}: full ({} entries): evicted the {} least recently seen entries \
                 since the last housekeeping; consider a larger bound or a shorter nodupe_ttl",
                self.file.display(),
                self.max_entries,
                self.evicted_since
            );
        }
        let stats = NodupeStats {
            was: self.last_saved,
            since: now - self.last_time,
            increased_to,
            now_saved: self.map.len(),
            expired,
            evicted: self.evicted_since,
        };
        self.last_saved = self.map.len();
        self.last_time = now;
        self.checks_since = 0;
        self.evicted_since = 0;
        self.expired_since = 0;
        Ok(stats)
    }

    /// Inserts or refreshes an entry without a verdict or a file line (loading).
    fn insert(&mut self, key: &str, path: &str, t: f64) {
        combine(&mut self.scratch, key, path);
        self.seq += 1;
        let seq = self.seq;
        if let Some(slot) = self.map.get_mut(self.scratch.as_str()) {
            // sr3: the last line wins.
            slot.time = t;
            slot.seq = seq;
            self.order.push_back((seq, slot.name.clone()));
        } else {
            let name: Arc<str> = Arc::from(self.scratch.as_str());
            self.order.push_back((seq, name.clone()));
            self.map.insert(name.clone(), Slot { name, time: t, seq });
            self.evict_excess();
        }
        self.maybe_compact_order();
    }

    fn evict_excess(&mut self) {
        if self.max_entries == 0 {
            return;
        }
        while self.map.len() > self.max_entries {
            let Some((seq, name)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&*name).is_some_and(|s| s.seq == seq) {
                self.map.remove(&*name);
                self.evicted_since += 1;
            }
        }
    }

    fn maybe_compact_order(&mut self) {
        if self.order.len() > 2 * self.map.len() + 1024 {
            self.compact_order();
        }
    }

    fn compact_order(&mut self) {
        let map = &self.map;
        self.order
            .retain(|(seq, name)| map.get(&**name).is_some_and(|s| s.seq == *seq));
    }

    fn open_append(&mut self) -> Result<(), StateError> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .map_err(io_err("open for appending", &self.file))?;
        self.out = Some(f);
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), StateError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.out.is_none() {
            self.open_append()?;
        }
        let result = match &mut self.out {
            Some(f) => f.write_all(self.pending.as_bytes()),
            None => Ok(()),
        };
        self.pending.clear();
        let lines = std::mem::take(&mut self.pending_lines);
        match result {
            Ok(()) => {
                self.file_lines += lines;
                Ok(())
            }
            Err(e) => {
                // A partial line may be in the file now: rewrite it at the next occasion.
                self.needs_rewrite = true;
                self.out = None;
                Err(io_err("append to", &self.file)(e))
            }
        }
    }

    /// Expires entries at `now`, rewrites the file with the rest; returns how many expired.
    fn save(&mut self, now: f64) -> Result<usize, StateError> {
        let ttl = self.ttl;
        let before = self.map.len();
        self.map.retain(|_, s| now - s.time <= ttl);
        let expired = before - self.map.len();
        self.compact_order();
        // Everything pending is in memory and will be in the new file.
        self.pending.clear();
        self.pending_lines = 0;
        self.out = None;
        let (map, order) = (&self.map, &self.order);
        let mut written = 0usize;
        replace_file(&self.file, |w| {
            let mut line = String::new();
            for (_, name) in order {
                let Some(slot) = map.get(&**name) else {
                    continue;
                };
                let (key, path) = split(name);
                if key_is_writable(key) {
                    line.clear();
                    format_line_into(key, slot.time, path, &mut line);
                    w.write_all(line.as_bytes())?;
                    written += 1;
                }
            }
            w.flush()
        })?;
        self.file_lines = written;
        self.needs_rewrite = false;
        self.open_append()?;
        Ok(expired)
    }
}

impl Drop for NodupeCache {
    fn drop(&mut self) {
        if let Err(e) = self.write_pending() {
            warn!("{e}");
        }
    }
}

impl fmt::Debug for NodupeCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodupeCache")
            .field("file", &self.file)
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .field("len", &self.map.len())
            .finish_non_exhaustive()
    }
}

/// The map key of `(key, path)`: `"<len(key)>:<key><path>"`, unambiguous whatever the strings.
fn combine(out: &mut String, key: &str, path: &str) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "{}:", key.len());
    out.push_str(key);
    out.push_str(path);
}

/// Inverse of [`combine`].
fn split(name: &str) -> (&str, &str) {
    name.split_once(':')
        .and_then(|(n, rest)| rest.split_at_checked(n.parse().ok()?))
        .unwrap_or(("", name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_split() {
        let mut s = String::new();
        for (k, p) in [("a", "b"), ("", ""), ("1:x", "y:2"), ("é", "€/")] {
            combine(&mut s, k, p);
            assert_eq!(split(&s), (k, p));
        }
        let mut a = String::new();
        combine(&mut a, "ab", "c");
        combine(&mut s, "a", "bc");
        assert_ne!(a, s);
    }
}
