//! `poll`: list remote directories on a schedule and announce what is there (reference §2.6).
//!
//! Schedule (sr3 `flowcb/scheduled`): `scheduled_interval` lists at start and then every
//! interval; otherwise `scheduled_hour` × `scheduled_minute` (an hour alone means minute 0, a
//! minute alone means every hour) and `scheduled_time HH:MM` are appointments in UTC, the first
//! one strictly after now, rolling over to the next day; with none of them a poll lists every
//! 300 s, the first time 300 s after start (as sr3's code does).
//!
//! Each `path` under `pollUrl`, variable-expanded at each listing (`${%Y%m%d}` names today's
//! directory), is listed: HTML index pages over http(s) (Pitcher's own, Apache, nginx),
//! `ls -l`/MLSD over ftp(s), SFTP directory reads. With `recursive` (the default) the
//! subdirectories are listed too, breadth first, at most [`MAX_DEPTH`] levels and
//! [`MAX_DIRS`] directories per path; a directory is announced as a `fileOp` `directory` when
//! `mkdir` is in `fileEvents`. Symbolic links found over SFTP are resolved with a `stat`: a link
//! to a file is announced as that file, a link to a directory is not followed (no loops).
//! Each regular file becomes a message with baseUrl = `pollUrl`, relPath = path/name, its size
//! and mtime, and identity `cod,sha512` (the downloader computes the checksum). Unchanged files
//! are announced once because the poll's nodupe (`relPath,mtime,size`, default 7 h) drops them;
//! `fileAgeMax` (default 30 days) drops old ones in the filter. Times are UTC throughout (FTP
//! listings in `timezone`), so daylight-saving changes cannot make files look new.
//!
//! `vip` (sr3 `Flow._run_vip_update`, `flow/poll.py`): several nodes run the same poll; only the
//! one holding one of the `vip` addresses lists the remote. Every node (active or not) consumes
//! the poll's own output exchange first: whatever arrives only goes through the filter and
//! nodupe and is acknowledged ("poll_catching_up"), so a node that takes over knows what was
//! announced already. A passive node writes `<component>_<config>_NN.noVip` in its state
//! directory and logs `now passive on vips ...`. Local addresses come from the kernel's tables
//! (`/proc/net/fib_trie`, `/proc/net/if_inet6`), re-read at most once a second.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pitcher_broker::{AnyConsumer, Consumer};
use pitcher_config::{Expander, LoadedFlow, Options};
use pitcher_core::message::FileOp;
use pitcher_core::{Identity, IdentityMethod, Message, Timestamp};
use pitcher_transfer::{
    FetchOptions, Fetcher, Remote, RemoteOptions, TransferError, parse_index_page,
};
use tokio::io::AsyncReadExt;

use crate::error::FlowError;
use crate::item::{Item, Origin};

/// Largest index page read.
const MAX_PAGE: u64 = 64 << 20;
/// Deepest subdirectory listed below a `path` (recursive).
pub const MAX_DEPTH: usize = 32;
/// Most directories listed for one `path` in one poll.
pub const MAX_DIRS: usize = 100_000;
/// The wait when no schedule is configured (sr3 `default_wait`).
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// When listings happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `scheduled_interval`: at start, then every interval.
    Interval(Duration),
    /// Appointments: seconds after midnight UTC, sorted, without duplicates.
    Appointments(Vec<u32>),
    /// Nothing configured: every 300 s, the first 300 s after start.
    Default,
}

fn parse_list(values: &[String], what: &str, max: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for v in values {
        for item in v.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match item.parse::<u32>() {
                Ok(n) if n <= max => out.push(n),
                _ => return Err(format!("{what}: expected numbers 0-{max}, got {item:?}")),
            }
        }
    }
    Ok(out)
}

impl Schedule {
    /// The schedule of a poll's options (sr3's precedence: interval, then appointments).
    pub fn from_options(o: &Options) -> Result<Schedule, String> {
        if o.scheduled_interval > 0.0 {
            return Ok(Schedule::Interval(Duration::from_secs_f64(
                o.scheduled_interval.clamp(1.0, 1e9),
            )));
        }
        let times = appointments(&o.scheduled_hour, &o.scheduled_minute, &o.scheduled_time)?;
        Ok(if times.is_empty() {
            Schedule::Default
        } else {
            Schedule::Appointments(times)
        })
    }
}

/// Appointments as seconds after midnight UTC, sorted: every hour × minute (an hour list alone
/// means minute 0; a minute list alone means every hour; neither: none), and every `HH:MM`.
pub fn appointments(
    hours: &[String],
    minutes: &[String],
    times: &[String],
) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    let h = parse_list(hours, "scheduled_hour", 23)?;
    let m = parse_list(minutes, "scheduled_minute", 59)?;
    if !h.is_empty() || !m.is_empty() {
        let h = if h.is_empty() { (0..24).collect() } else { h };
        let m = if m.is_empty() { vec![0] } else { m };
        for hh in &h {
            for mm in &m {
                out.push(hh * 3600 + mm * 60);
            }
        }
    }
    for v in times {
        for t in v.split(',') {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            let parsed = t.split_once(':').and_then(|(a, b)| {
                let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
                (a <= 23 && b <= 59).then_some(a * 3600 + b * 60)
            });
            match parsed {
                Some(s) => out.push(s),
                None => return Err(format!("scheduled_time: expected HH:MM, got {t:?}")),
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The first appointment strictly after `now` (Unix seconds, UTC): later today, else the first
/// one tomorrow. `None` without appointments.
pub fn next_appointment(now: f64, appointments: &[u32]) -> Option<f64> {
    let first = *appointments.first()?;
    let day = (now / 86_400.0).floor();
    let midnight = day * 86_400.0;
    let later_today = appointments
        .iter()
        .map(|&s| midnight + f64::from(s))
        .find(|&t| t > now);
    Some(later_today.unwrap_or(midnight + 86_400.0 + f64::from(first)))
}

/// One entry found by a listing.
struct Found {
    name: String,
    is_dir: bool,
    size: Option<u64>,
    mtime: Option<SystemTime>,
}

/// A listed name worth announcing: a plain file name. Hidden and inflight files (`.name`), `.`,
/// `..`, and names a hostile listing could use to point elsewhere (a `/`, a NUL, empty) are
/// skipped.
fn announceable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\0')
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// What a listing does besides the files themselves.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Descend into subdirectories (`recursive`).
    pub recursive: bool,
    /// Announce directories (`mkdir` in `fileEvents`).
    pub post_directories: bool,
    /// Expands `path` at each listing.
    pub expander: Expander,
}

/// The poll's lister.
pub struct Poller {
    url: url::Url,
    paths: Vec<String>,
    fetcher: Fetcher,
    remote: RemoteOptions,
    schedule: Schedule,
    settings: PollSettings,
    /// Monotonic due time (interval, default); `None`: now.
    next: Option<Instant>,
    /// Wall-clock due time (appointments), Unix seconds.
    next_wall: Option<f64>,
    pending: VecDeque<Message>,
}

fn wall_now() -> f64 {
    Timestamp::now().as_f64()
}

fn show_time(t: f64) -> String {
    jiff::Timestamp::from_second(t as i64).map_or_else(|_| format!("{t}"), |x| x.to_string())
}

impl Poller {
    /// `paths` relative to `url` (sr3 `path` lines; none: the URL's own directory).
    pub fn new(
        url: url::Url,
        mut paths: Vec<String>,
        fetcher: Fetcher,
        remote: RemoteOptions,
        schedule: Schedule,
        settings: PollSettings,
    ) -> Self {
        if paths.is_empty() {
            paths.push(String::new());
        }
        let now = Instant::now();
        let (next, next_wall) = match &schedule {
            Schedule::Interval(_) => (None, None),
            Schedule::Default => {
                tracing::warn!(
                    "no scheduled_interval or appointments (combination of scheduled_hour and scheduled_minute) set defaulting to every {} seconds",
                    DEFAULT_WAIT.as_secs()
                );
                (Some(now + DEFAULT_WAIT), None)
            }
            Schedule::Appointments(a) => {
                let at = next_appointment(wall_now(), a);
                if let Some(t) = at {
                    tracing::info!("next poll scheduled for {}", show_time(t));
                }
                (None, at)
            }
        };
        Poller {
            url,
            paths,
            fetcher,
            remote,
            schedule,
            settings,
            next,
            next_wall,
            pending: VecDeque::new(),
        }
    }

    /// How long until the next listing is due (zero: now).
    fn until_due(&self) -> Duration {
        match &self.schedule {
            Schedule::Appointments(_) => {
                let left = self.next_wall.map_or(0.0, |t| t - wall_now());
                Duration::from_secs_f64(left.clamp(0.0, 1e9))
            }
            _ => self.next.map_or(Duration::ZERO, |at| {
                at.saturating_duration_since(Instant::now())
            }),
        }
    }

    fn schedule_next(&mut self) {
        match &self.schedule {
            Schedule::Interval(d) => self.next = Some(Instant::now() + *d),
            Schedule::Default => self.next = Some(Instant::now() + DEFAULT_WAIT),
            Schedule::Appointments(a) => {
                self.next_wall = next_appointment(wall_now(), a);
                if let Some(t) = self.next_wall {
                    tracing::info!("next poll scheduled for {}", show_time(t));
                }
            }
        }
    }

    /// Up to `max` messages: what the last listing found, or a new listing when one is due.
    /// Waits at most `wait` when nothing is due.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<Message> {
        if self.pending.is_empty() {
            let left = self.until_due();
            if !left.is_zero() {
                tokio::time::sleep(left.min(wait)).await;
                if !self.until_due().is_zero() {
                    return Vec::new();
                }
            }
            self.schedule_next();
            self.poll_all().await;
        }
        let n = max.min(self.pending.len());
        self.pending.drain(..n).collect()
    }

    async fn poll_all(&mut self) {
        let mut session: Option<Remote> = None;
        let now = jiff::Timestamp::now();
        for path in self.paths.clone() {
            let expanded = self.settings.expander.expand(&path, now, None);
            if !expanded.unresolved.is_empty() {
                tracing::warn!(
                    "path {path}: cannot expand {} (listed as written)",
                    expanded.unresolved.join(", ")
                );
            }
            let top = expanded.text.trim_matches('/').to_string();
            let mut queue: VecDeque<(String, usize)> = VecDeque::from([(top, 0)]);
            let mut seen: HashSet<String> = HashSet::new();
            while let Some((dir, depth)) = queue.pop_front() {
                if !seen.insert(dir.clone()) {
                    continue;
                }
                if seen.len() > MAX_DIRS {
                    tracing::warn!(
                        "poll of {path:?}: more than {MAX_DIRS} directories, the rest is not listed"
                    );
                    break;
                }
                let listed = match self.url.scheme() {
                    "http" | "https" => self.list_http(&dir).await,
                    "sftp" | "ftp" | "ftps" => self.list_remote(&mut session, &dir).await,
                    other => Err(TransferError::Unsupported {
                        scheme: other.to_string(),
                    }),
                };
                let found = match listed {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!("poll of {dir:?} failed: {e} (next try in the next poll)");
                        continue;
                    }
                };
                tracing::info!(
                    "poll {}: {} files in {}",
                    pitcher_transfer::mask_url(&self.url),
                    found.iter().filter(|f| !f.is_dir).count(),
                    if dir.is_empty() { "." } else { dir.as_str() }
                );
                for f in found {
                    if !f.is_dir {
                        self.pending.push_back(self.message(&dir, f));
                        continue;
                    }
                    if !self.settings.recursive {
                        continue;
                    }
                    let sub = join(&dir, &f.name);
                    if depth + 1 > MAX_DEPTH {
                        tracing::warn!(
                            "poll: not descending into {sub}: deeper than {MAX_DEPTH} levels"
                        );
                        continue;
                    }
                    if self.settings.post_directories {
                        self.pending.push_back(self.message(&dir, f));
                    }
                    queue.push_back((sub, depth + 1));
                }
            }
        }
        if let Some(s) = session {
            s.close().await;
        }
    }

    fn message(&self, dir: &str, f: Found) -> Message {
        let mut m = Message::new(self.url.as_str(), join(dir, &f.name));
        m.mtime = f.mtime.and_then(|t| Timestamp::from_system_time(t).ok());
        if f.is_dir {
            m.file_op = Some(FileOp::mkdir());
        } else {
            m.size = f.size;
            m.identity = Some(Identity::new(IdentityMethod::Cod, "sha512"));
        }
        m
    }

    fn dir_url(&self, dir: &str) -> Result<url::Url, TransferError> {
        let mut base = self.url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let rel = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        base.join(&rel).map_err(|e| TransferError::InvalidUrl {
            url: pitcher_transfer::mask_url(&self.url),
            reason: format!("path {dir:?}: {e}"),
        })
    }

    async fn list_http(&self, dir: &str) -> Result<Vec<Found>, TransferError> {
        let url = self.dir_url(dir)?;
        let mut dl = self.fetcher.open(&url, 0, None).await?;
        let mut page = Vec::new();
        (&mut dl.reader)
            .take(MAX_PAGE)
            .read_to_end(&mut page)
            .await
            .map_err(|e| TransferError::from_read_error(&url, e))?;
        let html = String::from_utf8_lossy(&page);
        Ok(parse_index_page(&html)
            .into_iter()
            .filter(|e| announceable(&e.name))
            .map(|e| Found {
                name: e.name,
                is_dir: e.is_dir,
                size: e.size,
                mtime: e.mtime,
            })
            .collect())
    }

    async fn list_remote(
        &self,
        session: &mut Option<Remote>,
        dir: &str,
    ) -> Result<Vec<Found>, TransferError> {
        if session.as_ref().is_none_or(|s| !s.is_usable()) {
            *session = Some(Remote::connect(&self.url, &self.remote).await?);
        }
        let Some(s) = session.as_mut() else {
            return Ok(Vec::new());
        };
        let url = self.dir_url(dir)?;
        let path = pitcher_transfer::remote_path(&url)?;
        let entries = s.list(&path).await?;
        let mut out = Vec::new();
        for e in entries {
            if !announceable(&e.name) {
                continue;
            }
            if e.is_symlink && !e.is_dir {
                // A link: announce the file it points to; never follow one to a directory.
                let target = format!("{}/{}", path.trim_end_matches('/'), e.name);
                match s.stat(&target).await {
                    Ok(t) if t.is_dir => {
                        tracing::debug!("poll: not following {target}: a link to a directory");
                    }
                    Ok(t) => out.push(Found {
                        name: e.name,
                        is_dir: false,
                        size: t.size,
                        mtime: t.mtime,
                    }),
                    Err(err) => tracing::debug!("poll: skipping link {target}: {err}"),
                }
                continue;
            }
            out.push(Found {
                name: e.name,
                is_dir: e.is_dir,
                size: if e.is_dir { None } else { e.size },
                mtime: e.mtime,
            });
        }
        Ok(out)
    }
}

/// Addresses assigned to this host (Linux: the kernel's local routes and IPv6 address table).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(parse_fib_trie(&text));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        out.extend(parse_if_inet6(&text));
    }
    out.sort();
    out.dedup();
    out
}

/// IPv4 addresses of `/proc/net/fib_trie`: the `|-- a.b.c.d` entries followed by
/// `/32 host LOCAL` (an address of an interface; network and broadcast routes are not).
pub fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut current: Option<IpAddr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            current = a.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(a) = current
        {
            out.push(a);
        }
    }
    out
}

/// IPv6 addresses of `/proc/net/if_inet6` (32 hex digits first on each line).
pub fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let hex = l.split_whitespace().next()?;
            let n = u128::from_str_radix(hex, 16).ok()?;
            (hex.len() == 32).then(|| IpAddr::V6(std::net::Ipv6Addr::from(n)))
        })
        .collect()
}

/// The first `vip` held by this host, if any.
pub fn held_vip(vips: &[IpAddr], local: &[IpAddr]) -> Option<IpAddr> {
    vips.iter().find(|v| local.contains(v)).copied()
}

/// A poll's `vip` state: are we the active node?
pub struct Vip {
    vips: Vec<IpAddr>,
    shown: String,
    novip_file: PathBuf,
    had_vip: bool,
    have: bool,
    checked: Option<Instant>,
}

impl Vip {
    /// `vips` as configured; `novip_file` is written while passive.
    pub fn new(vips: &[String], novip_file: PathBuf) -> Result<Vip, String> {
        let mut parsed = Vec::new();
        for v in vips {
            for a in v.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                parsed.push(
                    a.parse::<IpAddr>()
                        .map_err(|_| format!("vip: expected IP addresses, got {a:?}"))?,
                );
            }
        }
        if parsed.is_empty() {
            return Err("vip: no address given".into());
        }
        let shown = format!(
            "{:?}",
            parsed.iter().map(|a| a.to_string()).collect::<Vec<_>>()
        );
        Ok(Vip {
            vips: parsed,
            shown,
            had_vip: !novip_file.exists(),
            novip_file,
            have: false,
            checked: None,
        })
    }

    /// Re-check (at most once a second) and return whether this node holds a vip; logs and
    /// writes or removes the `.noVip` file on changes (sr3 wording).
    pub fn update(&mut self) -> bool {
        if self
            .checked
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return self.have;
        }
        self.checked = Some(Instant::now());
        let held = held_vip(&self.vips, &local_addresses());
        self.have = held.is_some();
        match held {
            None if self.had_vip || !self.novip_file.exists() => {
                tracing::info!("now passive on vips {}", self.shown);
                let stamp = format!("{}\n", wall_now());
                if let Err(e) = std::fs::write(&self.novip_file, stamp) {
                    tracing::warn!("cannot write {}: {e}", self.novip_file.display());
                }
                self.had_vip = false;
            }
            Some(a) if !self.had_vip => {
                tracing::info!("now active on vip {a}");
                self.had_vip = true;
                self.remove_file();
            }
            _ => {}
        }
        self.have
    }

    fn remove_file(&self) {
        match std::fs::remove_file(&self.novip_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", self.novip_file.display()),
        }
    }
}

impl Drop for Vip {
    fn drop(&mut self) {
        self.remove_file();
    }
}

/// The poll's gatherer: its own output first (vip), then listings when active.
pub struct PollGather {
    poller: Poller,
    consumer: Option<AnyConsumer>,
    vip: Option<Vip>,
    catching_up: bool,
}

impl PollGather {
    /// A poll; `consumer` reads the poll's own output exchange (needed with `vip`).
    pub fn new(poller: Poller, consumer: Option<AnyConsumer>, vip: Option<Vip>) -> Self {
        PollGather {
            poller,
            consumer,
            vip,
            catching_up: false,
        }
    }

    /// The consumer of the poll's own output, to acknowledge with.
    pub fn consumer(&mut self) -> Option<&mut AnyConsumer> {
        self.consumer.as_mut()
    }

    /// Were the last items gathered the poll's own posts (only to feed nodupe)?
    pub fn catching_up(&self) -> bool {
        self.catching_up
    }

    /// Up to `max` items, waiting at most `wait` when there is nothing.
    pub async fn gather(&mut self, max: usize, wait: Duration) -> Vec<Item> {
        self.catching_up = false;
        let active = self.vip.as_mut().is_none_or(Vip::update);
        if let Some(c) = self.consumer.as_mut() {
            let w = if active {
                Duration::from_millis(50)
            } else {
                wait
            };
            match c.receive(max, w).await {
                Ok(got) if !got.is_empty() => {
                    tracing::info!(
                        "ingesting {} postings into duplicate suppression cache",
                        got.len()
                    );
                    self.catching_up = true;
                    return got
                        .into_iter()
                        .map(|r| Item::delivered(r.message, r.token, r.redelivered))
                        .collect();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("receive: {e}");
                    if !active {
                        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                    }
                }
            }
        }
        if !active {
            return Vec::new();
        }
        self.poller
            .next_batch(max, wait)
            .await
            .into_iter()
            .map(|m| Item::new(m, Origin::Local))
            .collect()
    }

    /// Close the consumer.
    pub async fn close(&mut self) {
        if let Some(c) = self.consumer.as_mut() {
            c.close().await;
        }
    }
}

/// Build a poll's gatherer from its flow (the engine's `poll` construction).
pub fn build(
    flow: &Arc<LoadedFlow>,
    consumer: Option<AnyConsumer>,
    state_dir: &Path,
    instance: u32,
) -> Result<PollGather, FlowError> {
    let o = &flow.options;
    let cfg_err = |reason: String| FlowError::Config {
        flow: flow.id(),
        reason,
    };
    let Some(poll_url) = o.poll_url.as_ref() else {
        return Err(cfg_err("poll needs pollUrl (the server to list)".into()));
    };
    let mut url = url::Url::parse(&poll_url.to_string())
        .map_err(|e| cfg_err(format!("pollUrl is not a URL: {e}")))?;
    let remote = crate::work::remote_options(flow, &mut url);
    let fetcher = Fetcher::new(FetchOptions {
        timeout: remote.timeout,
        auth: None,
        tls_verify: remote.tls_verify,
    })
    .map_err(|source| FlowError::Transfer {
        flow: flow.id(),
        source,
    })?
    .with_remote(crate::work::remote_fetch_options(flow));
    let schedule = Schedule::from_options(o).map_err(cfg_err)?;
    let vip = if o.vip.is_empty() {
        None
    } else {
        if consumer.is_none() {
            return Err(cfg_err(
                "vip needs post_broker and post_exchange: every poll node subscribes to the poll's own output".into(),
            ));
        }
        let file = state_dir.join(format!(
            "{}_{}_{instance:02}.noVip",
            flow.component, flow.name
        ));
        Some(Vip::new(&o.vip, file).map_err(cfg_err)?)
    };
    let settings = PollSettings {
        recursive: o.recursive,
        post_directories: o.file_events.contains("mkdir"),
        expander: flow.expander(),
    };
    let poller = Poller::new(url, o.path.clone(), fetcher, remote, schedule, settings);
    Ok(PollGather::new(poller, consumer, vip))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// 2026-11-22T00:00:00Z.
    const DAY: f64 = 1_795_305_600.0;

    #[test]
    fn only_plain_file_names_are_announced() {
        for ok in ["a.txt", "20261122T10:15Z.grib2", "with space", "ünïcode"] {
            assert!(announceable(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            ".a.txt",
            "../../etc/passwd",
            "a/b",
            "a\0b",
        ] {
            assert!(!announceable(bad), "{bad:?}");
        }
    }

    #[test]
    fn day_constant_is_a_utc_midnight() {
        let t = jiff::Timestamp::from_second(DAY as i64).unwrap();
        assert_eq!(t.to_string(), "2026-11-22T00:00:00Z");
    }

    #[test]
    fn hours_times_minutes_with_sr3_defaults() {
        // hour alone: minute 0
        assert_eq!(
            appointments(&s(&["4,9"]), &[], &[]).unwrap(),
            vec![4 * 3600, 9 * 3600]
        );
        // minute alone: every hour
        let every = appointments(&[], &s(&["15"]), &[]).unwrap();
        assert_eq!(every.len(), 24);
        assert_eq!(every[0], 15 * 60);
        assert_eq!(every[23], 23 * 3600 + 15 * 60);
        // lists over several lines, with spaces, unsorted, plus HH:MM times, deduplicated
        assert_eq!(
            appointments(
                &s(&["13", " 1"]),
                &s(&["30, 5"]),
                &s(&["01:05", "23:59,00:00"])
            )
            .unwrap(),
            vec![
                0,
                3600 + 5 * 60,
                3600 + 30 * 60,
                13 * 3600 + 5 * 60,
                13 * 3600 + 30 * 60,
                86_340
            ]
        );
        assert!(appointments(&[], &[], &[]).unwrap().is_empty());
        for (h, m, t) in [
            (s(&["24"]), vec![], vec![]),
            (vec![], s(&["60"]), vec![]),
            (vec![], s(&["x"]), vec![]),
            (vec![], vec![], s(&["7"])),
            (vec![], vec![], s(&["24:00"])),
            (vec![], vec![], s(&["12:60"])),
        ] {
            assert!(appointments(&h, &m, &t).is_err(), "{h:?} {m:?} {t:?}");
        }
    }

    #[test]
    fn next_appointment_later_today_or_tomorrow() {
        let a = appointments(&s(&["4,9"]), &s(&["0,30"]), &s(&["12:15"])).unwrap();
        let at = |h: f64, m: f64, sec: f64| DAY + h * 3600.0 + m * 60.0 + sec;
        assert_eq!(
            next_appointment(at(0.0, 0.0, 0.0), &a),
            Some(at(4.0, 0.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(4.0, 0.0, 0.0), &a),
            Some(at(4.0, 30.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(4.0, 0.0, 0.5), &a),
            Some(at(4.0, 30.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(9.0, 29.0, 59.9), &a),
            Some(at(9.0, 30.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(10.0, 0.0, 0.0), &a),
            Some(at(12.0, 15.0, 0.0))
        );
        // after the last one of the day: the first one tomorrow
        assert_eq!(
            next_appointment(at(12.0, 15.0, 0.0), &a),
            Some(at(28.0, 0.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(23.0, 59.0, 59.0), &a),
            Some(at(28.0, 0.0, 0.0))
        );
        // midnight itself is an appointment of the next day only once it is passed
        let m = appointments(&[], &[], &s(&["00:00"])).unwrap();
        assert_eq!(
            next_appointment(at(0.0, 0.0, 0.0), &m),
            Some(at(24.0, 0.0, 0.0))
        );
        assert_eq!(
            next_appointment(at(23.0, 0.0, 0.0), &m),
            Some(at(24.0, 0.0, 0.0))
        );
        // a year boundary is a day like any other (UTC, no daylight saving)
        let newyear = 1_798_761_600.0; // 2027-01-01T00:00:00Z
        assert_eq!(
            next_appointment(newyear - 60.0, &a),
            Some(newyear + 4.0 * 3600.0)
        );
        assert_eq!(next_appointment(at(1.0, 0.0, 0.0), &[]), None);
    }

    #[test]
    fn schedule_precedence() {
        let mut o = Options::default();
        assert_eq!(Schedule::from_options(&o).unwrap(), Schedule::Default);
        o.scheduled_minute = s(&["5"]);
        assert!(matches!(
            Schedule::from_options(&o).unwrap(),
            Schedule::Appointments(a) if a.len() == 24
        ));
        o.scheduled_interval = 30.0;
        assert_eq!(
            Schedule::from_options(&o).unwrap(),
            Schedule::Interval(Duration::from_secs(30))
        );
    }

    #[test]
    fn local_addresses_from_proc_tables() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.0\n              /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n        |-- 127.255.255.255\n           /32 link BROADCAST\n           |-- 192.0.2.0\n              /24 link UNICAST\n           |-- 192.0.2.2\n              /32 host LOCAL\nLocal:\n           |-- 127.0.0.1\n              /32 host LOCAL\n";
        let got = parse_fib_trie(fib);
        let want: Vec<IpAddr> = vec![
            "127.0.0.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
        ];
        assert_eq!(got, want);
        let v6 = "00000000000000000000000000000001 01 80 10 80       lo\nfe8000000000000000fc00fffe000001 04 40 20 80     eth0\nbad\n";
        assert_eq!(
            parse_if_inet6(v6),
            vec![
                "::1".parse::<IpAddr>().unwrap(),
                "fe80::fc:ff:fe00:1".parse::<IpAddr>().unwrap()
            ]
        );
        let vips: Vec<IpAddr> = vec!["127.0.0.99".parse().unwrap(), "192.0.2.2".parse().unwrap()];
        assert_eq!(held_vip(&vips, &got), Some("192.0.2.2".parse().unwrap()));
        assert_eq!(held_vip(&vips[..1], &got), None);
    }

    #[test]
    fn this_host_holds_loopback_but_not_127_0_0_99() {
        let local = local_addresses();
        if local.is_empty() {
            eprintln!("SKIPPED: no /proc/net tables here");
            return;
        }
        assert!(local.contains(&"127.0.0.1".parse().unwrap()), "{local:?}");
        assert!(!local.contains(&"127.0.0.99".parse().unwrap()), "{local:?}");
    }

    #[test]
    fn vip_writes_and_removes_the_novip_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("poll_x_01.noVip");
        let mut passive = Vip::new(&s(&["127.0.0.99"]), f.clone()).unwrap();
        if local_addresses().is_empty() {
            return;
        }
        assert!(!passive.update());
        assert!(f.exists());
        drop(passive);
        assert!(!f.exists());
        std::fs::write(&f, "x").unwrap();
        let mut active = Vip::new(&s(&["127.0.0.99, 127.0.0.1"]), f.clone()).unwrap();
        assert!(active.update());
        assert!(!f.exists(), "an active node removes a stale .noVip");
        assert!(Vip::new(&s(&["not-an-address"]), f).is_err());
    }
}
