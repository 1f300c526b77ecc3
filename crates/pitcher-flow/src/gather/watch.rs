//! `watch`: announce changes under `path` as they happen (reference §2.5, `sleep > 0`).
//!
//! File events come from inotify through the `notify` crate, with one non-recursive watch per
//! directory that this module adds itself: a new directory is watched *before* it is listed,
//! so a file created in it is either seen by the listing or produces an event (notify's own
//! recursive mode adds the watch later and loses files created in between). An event queue
//! overflow, or a watch that cannot be added (inotify limits), triggers a full rescan of the
//! tree against what is known to have been announced, so nothing created is ever missed.
//! `force_polling` replaces inotify by that rescan every `sleep` seconds.
//!
//! What is announced, once per change:
//! * a file when it is complete: closed after writing (`IN_CLOSE_WRITE`) and at least
//!   `fileAgeMin` old; a file only seen by a listing (a rescan, a fresh directory, polling) is
//!   complete once its size and mtime stayed unchanged for `max(fileAgeMin, 1 s)`;
//! * a removed file as `fileOp.remove`, a removed directory as `remove` + `directory` (after
//!   the removals of what it held);
//! * a new directory as `fileOp.directory`, a symbolic link as `fileOp.link` (raw readlink);
//! * a rename inside the tree as one message for the new name with `fileOp.rename` = the old
//!   absolute path, as sr3 does; a renamed directory as `directory` for the new one, one rename
//!   per entry in it, then the removal of the old one. A file renamed before it was ever
//!   announced (`.name` or `name.tmp` then `mv` into place) is announced as a new file.
//!
//! A file created and removed before it was announced produces nothing. Metadata-only events
//! (our own identity xattrs, chmod) announce nothing unless size or mtime changed (`touch`).
//! The watcher remembers every entry under the watched paths (about 150 bytes each).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher as _};
use pitcher_config::Options;
use pitcher_core::{FileOp, Message};

use super::files::{Announcer, FileSettings};

/// How long an unpaired "moved from" waits for its "moved to" before it counts as a removal.
const MOVE_PAIRING: Duration = Duration::from_millis(500);
/// Most events taken from the channel in one call (the rest wait for the next).
const EVENTS_PER_CALL: usize = 200_000;

/// What the watcher needs from the options beyond the poster's settings.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// `fileAgeMin` (s).
    pub file_age_min: f64,
    /// `fileAgeMax` (s, 0 = none).
    pub file_age_max: f64,
    /// `post_on_start`: announce what is already there.
    pub post_on_start: bool,
    /// `force_polling`: no inotify, rescan every `rescan_every`.
    pub force_polling: bool,
    /// Period of the polling rescan (`sleep`).
    pub rescan_every: Duration,
    /// `create` or `modify` in fileEvents.
    pub create_modify: bool,
    /// `delete` in fileEvents.
    pub delete: bool,
    /// `rmdir` in fileEvents.
    pub rmdir: bool,
    /// `link` in fileEvents.
    pub link: bool,
    /// `mkdir` in fileEvents.
    pub mkdir: bool,
}

impl WatchSettings {
    /// From the options.
    pub fn from_options(o: &Options) -> Self {
        let ev = |e: &str| o.file_events.contains(e);
        WatchSettings {
            file_age_min: o.file_age_min.max(0.0),
            file_age_max: o.file_age_max.max(0.0),
            post_on_start: o.post_on_start,
            force_polling: o.force_polling,
            rescan_every: Duration::from_secs_f64(o.sleep.clamp(0.1, 86_400.0)),
            create_modify: ev("create") || ev("modify"),
            delete: ev("delete"),
            rmdir: ev("rmdir"),
            link: ev("link"),
            mkdir: ev("mkdir"),
        }
    }

    fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.file_age_min.max(1.0))
    }
}

/// Size and mtime: what makes a file "changed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        let mtime_ns = meta
            .modified()
            .ok()
            .map(|t| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            })
            .unwrap_or(0);
        Stamp {
            size: meta.len(),
            mtime_ns,
        }
    }
}

/// An entry known to be on disk (announced, or there when the watch started).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    File(Stamp),
    Link(String),
    Dir,
}

/// A path with events not yet turned into a message.
#[derive(Debug, Clone)]
struct Pending {
    /// Closed after writing since the last write.
    closed: bool,
    /// Came into existence after the watch started (a removal before announcing is silent).
    created: bool,
    /// Renamed from this known path.
    rename_from: Option<PathBuf>,
    /// Last size/mtime seen, and when it was first seen so.
    stamp: Option<(Stamp, Instant)>,
    /// Not worth looking at before this.
    not_before: Instant,
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// inotify events handled.
    pub events: u64,
    /// Full rescans done (overflow, watch trouble, polling).
    pub rescans: u64,
    /// Directories listed because they were new.
    pub new_dirs: u64,
}

/// The watch gatherer: call [`Watcher::next_batch`] from a blocking task.
pub struct Watcher {
    roots: Vec<PathBuf>,
    ann: Announcer,
    s: WatchSettings,
    label: String,
    rx: Receiver<notify::Result<Event>>,
    inotify: Option<notify::RecommendedWatcher>,
    known: BTreeMap<PathBuf, Known>,
    pending: HashMap<PathBuf, Pending>,
    order: VecDeque<PathBuf>,
    moved_from: HashMap<usize, (PathBuf, Instant)>,
    rescan_at: Option<Instant>,
    watch_trouble: bool,
    stats: WatchStats,
}

impl Watcher {
    /// Start watching `roots` (absolute paths). `label` names the flow in log lines. Lists
    /// every directory once (adding its watch first).
    pub fn start(
        roots: Vec<PathBuf>,
        settings: FileSettings,
        s: WatchSettings,
        label: String,
    ) -> Result<Self, String> {
        let (tx, rx) = channel();
        let inotify = if s.force_polling {
            tracing::info!(
                "{label}: polling every {:?} (force_polling)",
                s.rescan_every
            );
            None
        } else {
            Some(
                notify::recommended_watcher(tx)
                    .map_err(|e| format!("cannot start watching files (inotify): {e}"))?,
            )
        };
        let mut w = Watcher {
            roots,
            ann: Announcer { settings },
            label,
            rx,
            inotify,
            known: BTreeMap::new(),
            pending: HashMap::new(),
            order: VecDeque::new(),
            moved_from: HashMap::new(),
            rescan_at: None,
            watch_trouble: false,
            stats: WatchStats::default(),
            s,
        };
        for root in w.roots.clone() {
            if std::fs::symlink_metadata(&root).is_err() {
                return Err(format!(
                    "cannot watch {}: it does not exist",
                    root.display()
                ));
            }
            w.scan(&root, Scan::Prime);
            tracing::info!("{}: now active on {}", w.label, root.display());
        }
        if w.inotify.is_none() {
            w.rescan_at = Some(Instant::now() + w.s.rescan_every);
        }
        Ok(w)
    }

    /// Counters so far.
    pub fn stats(&self) -> &WatchStats {
        &self.stats
    }

    /// Paths with changes not announced yet.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Up to `max` messages; waits at most `wait` for something to happen.
    pub fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<Result<Message, String>> {
        let now = Instant::now();
        let mut wait = wait;
        if let Some(due) = self.earliest_due() {
            wait = wait.min(due.saturating_duration_since(now));
        }
        match self.rx.recv_timeout(wait) {
            Ok(ev) => {
                self.on_event(ev);
                let mut n = 1;
                while n < EVENTS_PER_CALL {
                    match self.rx.try_recv() {
                        Ok(ev) => self.on_event(ev),
                        Err(_) => break,
                    }
                    n += 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                if self.inotify.is_some() {
                    tracing::error!("{}: the file event source stopped; polling", self.label);
                    self.inotify = None;
                    self.rescan_at = Some(Instant::now());
                }
                std::thread::sleep(wait);
            }
        }
        let now = Instant::now();
        self.pair_moves(now);
        if self.rescan_at.is_some_and(|at| at <= now) {
            self.full_rescan();
            self.rescan_at = if self.inotify.is_none() || self.watch_trouble {
                Some(Instant::now() + self.s.rescan_every)
            } else {
                None
            };
        }
        self.flush(max)
    }

    fn earliest_due(&self) -> Option<Instant> {
        let mut due = self.rescan_at;
        if let Some(front) = self.order.front()
            && let Some(p) = self.pending.get(front)
        {
            due = Some(due.map_or(p.not_before, |d| d.min(p.not_before)));
        }
        if !self.moved_from.is_empty() {
            let soon = Instant::now() + MOVE_PAIRING;
            due = Some(due.map_or(soon, |d| d.min(soon)));
        }
        if self.order.len() > 1 {
            // Entries behind the first may be due sooner; look again shortly.
            let soon = Instant::now() + Duration::from_millis(100);
            due = Some(due.map_or(soon, |d| d.min(soon)));
        }
        due
    }

    fn under_roots(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| p.starts_with(r))
    }

    fn is_root(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| r == p)
    }

    /// Note something happened at `path`; `f` adjusts the pending state.
    fn mark(&mut self, path: &Path, f: impl FnOnce(&mut Pending, bool)) {
        let now = Instant::now();
        let fresh = !self.pending.contains_key(path);
        let p = self.pending.entry(path.to_path_buf()).or_insert(Pending {
            closed: false,
            created: false,
            rename_from: None,
            stamp: None,
            not_before: now,
        });
        f(p, fresh);
        p.not_before = now;
        if fresh {
            self.order.push_back(path.to_path_buf());
        }
    }

    fn add_watch(&mut self, dir: &Path) {
        let Some(w) = self.inotify.as_mut() else {
            return;
        };
        if let Err(e) = w.watch(dir, RecursiveMode::NonRecursive) {
            if !self.watch_trouble {
                tracing::error!(
                    "{}: cannot watch {} ({e}); rescanning every {:?} instead (raise fs.inotify.max_user_watches?)",
                    self.label,
                    dir.display(),
                    self.s.rescan_every
                );
            }
            self.watch_trouble = true;
            if self.rescan_at.is_none() {
                self.rescan_at = Some(Instant::now() + self.s.rescan_every);
            }
        }
    }

    /// List `top` and everything under it (adding each directory's watch before listing it).
    fn scan(&mut self, top: &Path, how: Scan) {
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut stack = vec![top.to_path_buf()];
        let top_meta = if self.is_root(top) {
            std::fs::metadata(top)
        } else {
            std::fs::symlink_metadata(top)
        };
        if let Ok(meta) = top_meta {
            self.visit(top, &meta, how, &mut seen);
        }
        while let Some(dir) = stack.pop() {
            let root = self.is_root(&dir);
            // A watched path may itself be a symbolic link to a directory: follow that one.
            let is_dir = if root {
                std::fs::metadata(&dir).is_ok_and(|m| m.is_dir())
            } else {
                std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
            };
            if !is_dir {
                if root && how == Scan::Prime {
                    self.add_watch(&dir); // a single file
                }
                continue;
            }
            if !root && !self.recursive() {
                continue;
            }
            self.add_watch(&dir);
            if how == Scan::New {
                self.stats.new_dirs += 1;
            }
            let entries = match list_sorted(&dir) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("{}: cannot list {}: {e}", self.label, dir.display());
                    continue;
                }
            };
            for (path, meta) in entries.into_iter().rev() {
                self.visit(&path, &meta, how, &mut seen);
                if meta.is_dir() {
                    stack.push(path);
                }
            }
        }
        if how == Scan::Rescan {
            // Known entries no longer there: let the flush find them gone.
            let gone: Vec<PathBuf> = self
                .known
                .range(top.to_path_buf()..)
                .take_while(|(k, _)| k.starts_with(top))
                .filter(|(k, _)| !seen.contains(*k))
                .map(|(k, _)| k.clone())
                .collect();
            for g in gone {
                self.mark(&g, |_, _| {});
            }
        }
    }

    fn recursive(&self) -> bool {
        self.ann.settings.recursive
    }

    fn visit(
        &mut self,
        path: &Path,
        meta: &std::fs::Metadata,
        how: Scan,
        seen: &mut HashSet<PathBuf>,
    ) {
        let now_known = if meta.file_type().is_symlink() {
            match std::fs::read_link(path) {
                Ok(t) => Known::Link(t.to_string_lossy().into_owned()),
                Err(_) => return,
            }
        } else if meta.is_dir() {
            Known::Dir
        } else if meta.is_file() {
            Known::File(Stamp::of(meta))
        } else {
            return;
        };
        match how {
            Scan::Prime => {
                let dir_root = meta.is_dir() && self.is_root(path);
                if self.s.post_on_start && !dir_root {
                    // Announced by the first flush, which records it as known.
                    self.mark(path, |p, _| p.closed = true);
                } else {
                    self.known.insert(path.to_path_buf(), now_known);
                }
            }
            Scan::New => {
                if !self.known.contains_key(path) {
                    self.mark(path, |p, fresh| {
                        if fresh {
                            p.created = true;
                        }
                    });
                }
            }
            Scan::Rescan => {
                seen.insert(path.to_path_buf());
                let before = self.known.get(path);
                if before != Some(&now_known) {
                    let created = before.is_none();
                    self.mark(path, |p, fresh| {
                        if fresh {
                            p.created = created;
                        }
                    });
                }
            }
        }
    }

    fn full_rescan(&mut self) {
        self.stats.rescans += 1;
        if self.inotify.is_some() {
            tracing::info!("{}: rescanning {} path(s)", self.label, self.roots.len());
        }
        for root in self.roots.clone() {
            self.scan(&root, Scan::Rescan);
        }
    }

    fn on_event(&mut self, ev: notify::Result<Event>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!("{}: file events: {e}; rescanning", self.label);
                self.rescan_at = Some(Instant::now());
                return;
            }
        };
        self.stats.events += 1;
        if ev.need_rescan() {
            tracing::warn!(
                "{}: file event queue overflowed (fs.inotify.max_queued_events); rescanning",
                self.label
            );
            self.rescan_at = Some(Instant::now());
            return;
        }
        let Some(path) = ev.paths.first().cloned() else {
            return;
        };
        if !self.under_roots(&path) {
            return;
        }
        match ev.kind {
            EventKind::Create(kind) => {
                let is_dir = kind == CreateKind::Folder
                    || (kind != CreateKind::File
                        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()));
                self.mark(&path, |p, fresh| {
                    if fresh {
                        p.created = true;
                    }
                    p.closed = false;
                });
                if is_dir {
                    self.scan(&path, Scan::New);
                }
            }
            EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) => {
                self.mark(&path, |p, _| p.closed = false);
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                self.mark(&path, |p, _| p.closed = true);
            }
            EventKind::Modify(ModifyKind::Metadata(_)) => {
                // Only a changed size or mtime (touch) makes a new announcement.
                let changed = match (self.known.get(&path), std::fs::symlink_metadata(&path)) {
                    (Some(Known::File(st)), Ok(m)) => m.is_file() && Stamp::of(&m) != *st,
                    _ => false,
                };
                if changed || self.pending.contains_key(&path) {
                    self.mark(&path, |p, fresh| {
                        if fresh {
                            p.closed = true;
                        }
                    });
                }
            }
            EventKind::Modify(ModifyKind::Name(mode)) => match mode {
                RenameMode::From => match ev.tracker() {
                    Some(t) => {
                        self.moved_from.insert(t, (path, Instant::now()));
                    }
                    None => self.mark(&path, |_, _| {}),
                },
                RenameMode::To => {
                    if ev
                        .tracker()
                        .is_some_and(|t| self.moved_from.contains_key(&t))
                    {
                        return; // the Both event that follows carries the pair
                    }
                    self.moved_in(&path);
                }
                RenameMode::Both => {
                    if let Some(t) = ev.tracker() {
                        self.moved_from.remove(&t);
                    }
                    match ev.paths.get(1) {
                        Some(to) if self.under_roots(to) => {
                            let to = to.clone();
                            self.renamed(&path, &to);
                        }
                        _ => self.mark(&path, |_, _| {}),
                    }
                }
                _ => self.mark(&path, |_, _| {}),
            },
            EventKind::Remove(_) => {
                self.mark(&path, |_, _| {});
            }
            _ => {}
        }
    }

    /// Something arrived from outside the tree (or from an unpaired move).
    fn moved_in(&mut self, path: &Path) {
        self.mark(path, |p, fresh| {
            if fresh {
                p.created = true;
            }
            p.closed = true;
        });
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            self.scan(path, Scan::New);
        }
    }

    /// Moves whose other half never came: moved out of the tree, so removed.
    fn pair_moves(&mut self, now: Instant) {
        if self.moved_from.is_empty() {
            return;
        }
        let late: Vec<usize> = self
            .moved_from
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) >= MOVE_PAIRING)
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            if let Some((p, _)) = self.moved_from.remove(&t) {
                self.mark(&p, |_, _| {});
            }
        }
    }

    /// `from` was renamed to `to`, both under the watched paths.
    fn renamed(&mut self, from: &Path, to: &Path) {
        let Ok(meta) = std::fs::symlink_metadata(to) else {
            // Already gone again: the old name is gone, the new one will report itself.
            self.mark(from, |_, _| {});
            return;
        };
        if meta.is_dir() {
            self.renamed_dir(from, to);
            return;
        }
        self.rename_one(from, to);
    }

    fn rename_one(&mut self, from: &Path, to: &Path) {
        let was_known = self.known.remove(from).is_some();
        let old_pending = self.pending.remove(from);
        self.mark(to, |p, _| {
            if was_known {
                p.rename_from = Some(from.to_path_buf());
                p.created = false;
                p.closed = old_pending.as_ref().is_none_or(|o| o.closed);
            } else if let Some(o) = &old_pending {
                // Never announced under its old name: a new file under the new one.
                p.rename_from.clone_from(&o.rename_from);
                p.created = o.created;
                p.closed = o.closed;
            } else {
                p.created = true;
                p.closed = true;
            }
            p.stamp = None;
        });
    }

    fn renamed_dir(&mut self, from: &Path, to: &Path) {
        // The new directory first, then one rename per entry, then the old directory's removal.
        let was_known = self.known.contains_key(from);
        self.pending.remove(from);
        self.mark(to, |p, fresh| {
            if fresh {
                p.created = true;
            }
        });
        let mut dirs_to_drop = vec![from.to_path_buf()];
        let mut stack = vec![to.to_path_buf()];
        while let Some(dir) = stack.pop() {
            self.add_watch(&dir);
            let Ok(entries) = list_sorted(&dir) else {
                continue;
            };
            for (path, meta) in entries.into_iter().rev() {
                let Ok(suffix) = path.strip_prefix(to) else {
                    continue;
                };
                let old = from.join(suffix);
                if meta.is_dir() {
                    self.mark(&path, |p, fresh| {
                        if fresh {
                            p.created = true;
                        }
                    });
                    dirs_to_drop.push(old);
                    stack.push(path);
                } else {
                    self.rename_one(&old, &path);
                }
            }
        }
        if was_known {
            // Deepest first, so each directory is empty when its removal is applied.
            for d in dirs_to_drop.into_iter().rev() {
                if self.known.contains_key(&d) {
                    self.mark(&d, |_, _| {});
                }
            }
        } else {
            for d in dirs_to_drop {
                self.known.remove(&d);
            }
        }
    }

    /// Turn due pending entries into messages, in the order they were first seen.
    fn flush(&mut self, max: usize) -> Vec<Result<Message, String>> {
        let mut out = Vec::new();
        let mut keep = VecDeque::new();
        let n = self.order.len();
        for _ in 0..n {
            if out.len() >= max {
                break;
            }
            let Some(path) = self.order.pop_front() else {
                break;
            };
            let Some(p) = self.pending.get(&path).cloned() else {
                continue;
            };
            let now = Instant::now();
            if p.not_before > now {
                keep.push_back(path);
                continue;
            }
            match self.settle_one(&path, &p, now, &mut out) {
                Outcome::Done => {
                    self.pending.remove(&path);
                }
                Outcome::WaitStamp(at, stamp) => {
                    if let Some(e) = self.pending.get_mut(&path) {
                        e.not_before = at;
                        e.stamp = Some(stamp);
                    }
                    keep.push_back(path);
                }
            }
        }
        // Waiting entries go back in front, in their order.
        while let Some(p) = keep.pop_back() {
            self.order.push_front(p);
        }
        out
    }

    fn settle_one(
        &mut self,
        path: &Path,
        p: &Pending,
        now: Instant,
        out: &mut Vec<Result<Message, String>>,
    ) -> Outcome {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.removed(path, out);
                return Outcome::Done;
            }
            Err(e) => {
                out.push(Err(format!("{}: {e}", path.display())));
                return Outcome::Done;
            }
        };
        let rename = p
            .rename_from
            .as_ref()
            .map(|f| f.to_string_lossy().into_owned());
        if meta.file_type().is_symlink() {
            let target = match std::fs::read_link(path) {
                Ok(t) => t.to_string_lossy().into_owned(),
                Err(e) => {
                    out.push(Err(format!("{}: {e}", path.display())));
                    return Outcome::Done;
                }
            };
            let now_known = Known::Link(target.clone());
            if rename.is_none() && self.known.get(path) == Some(&now_known) {
                return Outcome::Done;
            }
            self.known.insert(path.to_path_buf(), now_known);
            if self.s.link {
                let mut m = self.ann.base_message(path);
                let mut op = FileOp::link(target);
                op.rename = rename;
                m.file_op = Some(op);
                out.push(Ok(m));
            }
            return Outcome::Done;
        }
        if meta.is_dir() {
            if self.known.get(path) == Some(&Known::Dir) && rename.is_none() {
                return Outcome::Done;
            }
            self.known.insert(path.to_path_buf(), Known::Dir);
            let at_base = self
                .ann
                .settings
                .base_dir
                .as_deref()
                .is_some_and(|b| Path::new(b) == path);
            if self.s.mkdir && !self.is_root(path) && !at_base {
                out.push(self.ann.dir_message(path));
            }
            return Outcome::Done;
        }
        if !meta.is_file() {
            return Outcome::Done;
        }
        let stamp = Stamp::of(&meta);
        if rename.is_none() && self.known.get(path) == Some(&Known::File(stamp)) {
            return Outcome::Done;
        }
        // Quiet since when?
        let quiet_since = match p.stamp {
            Some((st, since)) if st == stamp => since,
            _ => now,
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        if self.s.file_age_max > 0.0 && age > self.s.file_age_max && rename.is_none() {
            tracing::debug!("{}: {} too old, not announced", self.label, path.display());
            self.known.insert(path.to_path_buf(), Known::File(stamp));
            return Outcome::Done;
        }
        if age < self.s.file_age_min {
            let left = Duration::from_secs_f64(self.s.file_age_min - age);
            return Outcome::WaitStamp(now + left, (stamp, quiet_since));
        }
        if !p.closed {
            let settle = self.s.settle();
            let quiet = now.duration_since(quiet_since);
            if quiet < settle {
                return Outcome::WaitStamp(quiet_since + settle, (stamp, quiet_since));
            }
        }
        if !self.s.create_modify {
            self.known.insert(path.to_path_buf(), Known::File(stamp));
            return Outcome::Done;
        }
        match self.ann.file_messages(path) {
            Ok(mut msgs) => {
                if let Some(old) = rename {
                    if let [m] = msgs.as_mut_slice() {
                        let mut op = m.file_op.take().unwrap_or_default();
                        op.rename = Some(old);
                        m.file_op = Some(op);
                    } else if let Some(from) = &p.rename_from {
                        // In blocks: the new name is announced whole, the old one removed.
                        msgs.push(self.ann.remove_message(from, false));
                    }
                }
                self.known.insert(path.to_path_buf(), Known::File(stamp));
                out.extend(msgs.into_iter().map(Ok));
            }
            Err(e) => {
                if std::fs::symlink_metadata(path).is_err() {
                    // Gone while it was being read: announce the removal if it was known.
                    self.removed(path, out);
                } else {
                    out.push(Err(e));
                }
            }
        }
        Outcome::Done
    }

    /// `path` is gone: announce the removal of what was known there.
    fn removed(&mut self, path: &Path, out: &mut Vec<Result<Message, String>>) {
        if self.is_root(path) {
            tracing::warn!("{}: watched path {} is gone", self.label, path.display());
            return;
        }
        let Some(was) = self.known.remove(path) else {
            return; // never announced nor there at the start: nothing to tell
        };
        if was == Known::Dir {
            let inside: Vec<(PathBuf, Known)> = self
                .known
                .range(path.to_path_buf()..)
                .take_while(|(k, _)| k.starts_with(path))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in inside.into_iter().rev() {
                self.known.remove(&k);
                self.pending.remove(&k);
                self.removal_message(&k, v == Known::Dir, out);
            }
        }
        self.removal_message(path, was == Known::Dir, out);
    }

    fn removal_message(&self, path: &Path, dir: bool, out: &mut Vec<Result<Message, String>>) {
        if (dir && self.s.rmdir) || (!dir && self.s.delete) {
            out.push(Ok(self.ann.remove_message(path, dir)));
        }
    }
}

/// The entries of `dir` with their (not followed) metadata, sorted by path.
fn list_sorted(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let mut entries: Vec<(PathBuf, std::fs::Metadata)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok().map(|m| (e.path(), m)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At start: remember what is there (announce it with `post_on_start`).
    Prime,
    /// A new directory: everything in it is new.
    New,
    /// Compare with what is known (overflow, polling).
    Rescan,
}

enum Outcome {
    Done,
    WaitStamp(Instant, (Stamp, Instant)),
}
