//! The flow loop every component runs (reference 2.3): gather -> filter -> nodupe -> work ->
//! post -> acknowledge, with housekeeping, retry spools and a clean stop.
//!
//! Acknowledgement order (DESIGN "nothing lost"): a broker message is acknowledged at the end
//! of its pass, once its work is done (file in place), or it is rejected, or it sits in the
//! work retry spool; and once its re-announcement is confirmed or sits in the post retry spool.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pitcher_broker::{
    AnyConsumer, AnyPublisher, BrokerError, Confirmed, Consumer, Outgoing, PendingConfirms,
    Publisher,
};
use pitcher_config::{Component, LoadedFlow};
use pitcher_core::Timestamp;
use pitcher_state::{NodupeBasis, NodupeCache, NodupeVerdict, Spool, derive_key};
use pitcher_transfer::{FetchOptions, Fetcher};
use tokio::sync::watch;

use crate::error::FlowError;
use crate::filter::filter_item;
use crate::gather::LocalGather;
use crate::gather::files::{FileSettings, FileWalker};
use crate::item::{Disposition, Item, Origin};
use crate::logline;
use crate::metrics::Metrics;
use crate::post::{PostSettings, outgoing, rewrite};
use crate::retry;
use crate::work::Worker;
use crate::work::download::DownloadSettings;
use crate::work::inflight::Inflight;

/// Everything one instance needs; the binary builds it (endpoints, state directory).
pub struct Instance {
    /// The loaded configuration.
    pub flow: LoadedFlow,
    /// Instance number (1-based).
    pub instance: u32,
    /// The flow's state directory (`~/.cache/pitcher/<component>/<config>`).
    pub state_dir: PathBuf,
    /// The queue to consume, when the component reads a broker.
    pub consumer: Option<AnyConsumer>,
    /// Where to post, when `post_broker` is set.
    pub publisher: Option<AnyPublisher>,
    /// Files and directories to announce (`post`).
    pub paths: Vec<PathBuf>,
    /// Told about every download (progress bars); `None` shows nothing.
    pub progress: Option<Arc<dyn crate::ProgressSink>>,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Asked to stop (signal).
    Requested,
    /// `messageCountMax` reached.
    MessageCountMax,
    /// Nothing left to announce (`post`).
    Finished,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Why it stopped.
    pub reason: StopReason,
    /// Final counters.
    pub metrics: Metrics,
}

enum Gather {
    Broker(AnyConsumer),
    /// A walk (`post`) or a watch, run on a blocking thread (taken out while it runs).
    Local(Option<Box<dyn LocalGather>>),
    Poll(Box<crate::gather::poll::PollGather>),
}

/// Does this flow watch its paths (`watch`, or a `post` with `sleep > 0` as in sr3)?
fn watching(flow: &LoadedFlow) -> bool {
    flow.component == Component::Watch || flow.options.sleep > 0.0
}

impl Gather {
    /// The broker consumer to acknowledge to, if any.
    fn consumer(&mut self) -> Option<&mut AnyConsumer> {
        match self {
            Gather::Broker(c) => Some(c),
            Gather::Poll(p) => p.consumer(),
            Gather::Local(_) => None,
        }
    }
}

fn now_f() -> f64 {
    Timestamp::now().as_f64()
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.clamp(0.0, 1e9))
}

struct Engine {
    flow: Arc<LoadedFlow>,
    id: String,
    instance: u32,
    gather: Gather,
    publisher: Option<AnyPublisher>,
    post: Option<PostSettings>,
    worker: Option<Worker>,
    sender: Option<crate::work::send::Sender>,
    nodupe: Option<(NodupeCache, NodupeBasis)>,
    work_spool: Spool,
    post_spool: Spool,
    metrics: Metrics,
    metrics_file: PathBuf,
    expander: pitcher_config::Expander,
    batch: usize,
    log_accepted: bool,
    log_posted: bool,
    log_reject: bool,
    /// Sent batches of a local gather whose confirms are still to come, oldest first.
    posts_in_flight: VecDeque<(PendingConfirms, PostBatch)>,
}

/// How many messages of a local gather (post, watch) may wait for their confirms while the
/// next batches are gathered and sent (checked after each send, so one batch more; at least one
/// batch always may). RabbitMQ confirms a
/// persistent message once it has synced it: with one batch of 100 out at a time, a post spent
/// most of its time waiting (bench/RESULTS.md, "post: pipelined confirms").
const POSTS_IN_FLIGHT: usize = 1000;

/// How long a stopping flow waits for its pipelined posts' confirms before it spools them.
const STOP_SETTLE: Duration = Duration::from_secs(10);

/// One batch of posts: what is sent, and what its log lines and retry warnings need.
#[derive(Default)]
struct PostBatch {
    out: Vec<Outgoing>,
    /// The relPath of each message (for warnings).
    rel_paths: Vec<String>,
    /// The messages, for the `posted` lines (empty when they are not logged).
    logged: Vec<pitcher_core::Message>,
}

fn state_err(id: &str) -> impl Fn(pitcher_state::StateError) -> FlowError + '_ {
    move |source| FlowError::State {
        flow: id.to_string(),
        source,
    }
}

impl Engine {
    fn build(inst: Instance) -> Result<Engine, FlowError> {
        let Instance {
            flow,
            instance,
            state_dir,
            consumer,
            publisher,
            paths,
            progress,
        } = inst;
        let flow = Arc::new(flow);
        let id = flow.id();
        let o = &flow.options;
        let cfg_err = |reason: String| FlowError::Config {
            flow: id.clone(),
            reason,
        };
        let gather = match (consumer, flow.component) {
            (c, Component::Poll) => Gather::Poll(Box::new(crate::gather::poll::build(
                &flow, c, &state_dir, instance,
            )?)),
            (Some(c), _) => Gather::Broker(c),
            (None, Component::Watch) | (None, Component::Post) if watching(&flow) => {
                let settings = FileSettings::from_options(o).map_err(&cfg_err)?;
                let mut roots = Vec::new();
                for p in o.path.iter().map(PathBuf::from).chain(paths) {
                    let abs = std::path::absolute(&p)
                        .map_err(|e| cfg_err(format!("cannot watch {}: {e}", p.display())))?;
                    roots.push(abs);
                }
                if roots.is_empty() {
                    return Err(cfg_err("nothing to watch: give paths or set path".into()));
                }
                let ws = crate::gather::watch::WatchSettings::from_options(o);
                let label = format!("{id} (posting to {})", o.post_exchanges().join(","));
                let w = crate::gather::watch::Watcher::start(roots, settings, ws, label)
                    .map_err(&cfg_err)?;
                Gather::Local(Some(Box::new(w)))
            }
            (None, Component::Post) => {
                let settings = FileSettings::from_options(o).map_err(&cfg_err)?;
                let mut all: Vec<PathBuf> = o.path.iter().map(PathBuf::from).collect();
                all.extend(paths);
                if all.is_empty() {
                    return Err(cfg_err("nothing to post: give paths or set path".into()));
                }
                Gather::Local(Some(Box::new(FileWalker::new(all, settings))))
            }
            (None, c) => {
                return Err(cfg_err(format!(
                    "{c} needs a broker to consume from (set broker)"
                )));
            }
        };
        let sender = if flow.component == Component::Sender {
            let inflight = Inflight::from_option(o.inflight.as_deref()).map_err(&cfg_err)?;
            Some(crate::work::send::Sender::new(&flow, inflight).map_err(&cfg_err)?)
        } else {
            None
        };
        let post = match &publisher {
            Some(_) => Some(PostSettings::from_options(o).ok_or_else(|| {
                cfg_err("post_broker is set but there is no post_exchange".into())
            })?),
            None => None,
        };
        let worker = if o.download && sender.is_none() {
            let inflight = Inflight::from_option(o.inflight.as_deref()).map_err(&cfg_err)?;
            let fetcher = Fetcher::new(FetchOptions {
                timeout: secs(if o.timeout > 0.0 { o.timeout } else { 300.0 }),
                auth: None,
                tls_verify: !o
                    .tls_rigour
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("lax")),
            })
            .map_err(|source| FlowError::Transfer {
                flow: id.clone(),
                source,
            })?
            .with_remote(crate::work::remote_fetch_options(&flow));
            Some(Worker {
                flow: Arc::clone(&flow),
                expander: flow.expander(),
                fetcher,
                bearer_fetchers: Default::default(),
                progress: progress.unwrap_or_else(|| Arc::new(crate::NoProgress)),
                settings: DownloadSettings {
                    inflight,
                    overwrite: o.overwrite,
                    perm_copy: o.perm_copy,
                    perm_default: o.perm_default,
                    perm_dir_default: o.perm_dir_default,
                    time_copy: o.time_copy,
                    file_size_max: o.file_size_max,
                },
                file_events: o.file_events.clone(),
                attempts: u32::try_from(o.attempts.clamp(1, 100)).unwrap_or(3),
            })
        } else {
            None
        };
        let nodupe = if o.nodupe_ttl > 0.0 {
            let basis = match o.nodupe_basis.as_deref() {
                Some("name") => NodupeBasis::Name,
                Some("data") => NodupeBasis::Data,
                _ => NodupeBasis::Path,
            };
            let file = state_dir.join(format!("recent_files_{instance:03}.cache"));
            let cache =
                NodupeCache::open(file, secs(o.nodupe_ttl), 2_000_000).map_err(state_err(&id))?;
            Some((cache, basis))
        } else {
            None
        };
        let work_spool = Spool::open(state_dir.join(format!("work_retry_{instance:02}")))
            .map_err(state_err(&id))?;
        let post_spool = Spool::open(state_dir.join(format!("post_retry_{instance:03}")))
            .map_err(state_err(&id))?;
        let metrics_file = state_dir.join(format!(
            "{}_{}_{instance:02}.metrics",
            flow.component, flow.name
        ));
        let now = now_f();
        let metrics = Metrics {
            pid: std::process::id(),
            instance,
            started: now,
            updated: now,
            ..Metrics::default()
        };
        let batch = usize::try_from(o.batch.clamp(1, 100_000)).unwrap_or(25);
        let ev = &o.log_events;
        let expander = flow.expander();
        Ok(Engine {
            log_accepted: ev.contains("after_accept"),
            log_posted: ev.contains("after_post"),
            log_reject: o.log_reject,
            flow,
            id,
            instance,
            gather,
            publisher,
            post,
            worker,
            sender,
            nodupe,
            work_spool,
            post_spool,
            metrics,
            metrics_file,
            expander,
            batch,
            posts_in_flight: VecDeque::new(),
        })
    }

    /// Gather up to `max` fresh items; `wait` bounds the wait for the first one.
    /// Only the wait for the first message is interrupted by `stop` (nothing has been taken
    /// then); once messages are in hand the pass runs to its end.
    async fn gather(
        &mut self,
        max: usize,
        wait: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> Vec<Item> {
        match &mut self.gather {
            Gather::Broker(c) => {
                let before = c.stats().bad;
                let received = tokio::select! {
                    r = c.receive(max, wait) => r,
                    _ = stop.changed() => Ok(Vec::new()),
                };
                let got = match received {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::debug!("receive: {e}");
                        // The consumer logs connection trouble once per attempt; pace retries.
                        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                        Vec::new()
                    }
                };
                self.metrics.malformed += c.stats().bad - before;
                got.into_iter()
                    .map(|r| Item::delivered(r.message, r.token, r.redelivered))
                    .collect()
            }
            Gather::Poll(p) => tokio::select! {
                v = p.gather(max, wait) => v,
                _ = stop.changed() => Vec::new(),
            },
            Gather::Local(slot) => {
                let Some(mut g) = slot.take() else {
                    return Vec::new();
                };
                let (g, batch) = match tokio::task::spawn_blocking(move || {
                    let b = g.next_batch(max, wait);
                    (g, b)
                })
                .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("reading the file system failed: {e}");
                        return Vec::new();
                    }
                };
                *slot = Some(g);
                batch
                    .into_iter()
                    .filter_map(|r| match r {
                        Ok(m) => Some(Item::new(m, Origin::Local)),
                        Err(e) => {
                            tracing::error!("cannot post {e}");
                            None
                        }
                    })
                    .collect()
            }
        }
    }

    fn files_done(&self) -> bool {
        matches!(&self.gather, Gather::Local(Some(g)) if g.is_done())
    }

    /// Work retries, when fresh traffic leaves room (fresh data has priority).
    fn refill_retries(&mut self, items: &mut Vec<Item>) {
        let room = (self.batch / 2).max(1).saturating_sub(items.len());
        if room == 0 || self.work_spool.is_empty() {
            return;
        }
        match self.work_spool.take(room, now_f()) {
            Ok(entries) => {
                for e in entries {
                    match retry::work_message(&e.payload) {
                        Ok(m) => {
                            let mut it = Item::new(m, Origin::WorkRetry(e.id));
                            it.attempts = e.attempts;
                            it.first_queued = Some(e.first_queued);
                            items.push(it);
                        }
                        Err(err) => {
                            tracing::error!("dropping unreadable work retry entry: {err}");
                            let _ = self.work_spool.done(e.id);
                        }
                    }
                }
            }
            Err(e) => tracing::error!("work retry spool: {e}"),
        }
    }

    fn nodupe_check(&mut self, item: &mut Item, now: f64) {
        let Some((cache, basis)) = self.nodupe.as_mut() else {
            return;
        };
        if item.msg.local.is_retry {
            return;
        }
        let o = &self.flow.options;
        if let Some(mt) = &item.msg.mtime {
            let mt = mt.as_f64();
            if o.file_age_max > 0.0 && mt < now - o.file_age_max {
                item.reject(406, "too old (nodupe check)");
                return;
            }
            let young_limit = if o.file_age_min > 0.0 {
                now - o.file_age_min
            } else {
                now + 100.0
            };
            if mt > young_limit {
                item.reject(425, "too new (nodupe check)");
                return;
            }
        }
        let key = derive_key(&item.msg, *basis);
        if cache.check(&key, now) == NodupeVerdict::Duplicate {
            self.metrics.duplicates += 1;
            item.reject(304, "Not modified 1 (nodupe check)");
            if self.flow.options.log_duplicates || self.log_reject {
                logline::rejected(&item.msg, 304, "Not modified 1 (nodupe check)");
            }
        }
    }

    /// One pass. Returns the number of items gathered.
    async fn pass(
        &mut self,
        max: usize,
        wait: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> usize {
        let mut items = self.gather(max, wait, stop).await;
        let fresh = items.len();
        self.refill_retries(&mut items);
        if items.is_empty() {
            self.settle_posts().await;
            self.replay_posts().await;
            return 0;
        }
        let now = Timestamp::now();
        let now_s = now.as_f64();
        self.metrics.received += items.len() as u64;
        self.metrics.last_activity = now_s;

        // filter + after_accept (nodupe, log)
        for it in items.iter_mut() {
            filter_item(&self.flow, &self.expander, &now, it);
            if it.is_live() {
                self.nodupe_check(it, now_s);
            }
            if it.is_live() {
                self.metrics.accepted += 1;
                let lag = it.msg.lag(&now).max(0.0);
                self.metrics.lag_sum += lag;
                self.metrics.lag_last = lag;
                self.metrics.lag_max = self.metrics.lag_max.max(lag);
                if self.log_accepted {
                    logline::accepted(&it.msg, &now);
                }
            }
        }
        // poll with vip: its own posts only feed nodupe (sr3 poll_catching_up).
        if matches!(&self.gather, Gather::Poll(p) if p.catching_up()) {
            for it in &items {
                if let (Origin::Broker(token), Some(c)) = (&it.origin, self.gather.consumer())
                    && let Err(e) = c.ack(*token).await
                {
                    tracing::warn!("ack failed (the broker will redeliver): {e}");
                }
            }
            self.flush_nodupe();
            return fresh;
        }

        // work
        if let Some(sender) = &self.sender {
            let limit =
                usize::try_from(self.flow.options.transfer_concurrency.clamp(1, 256)).unwrap_or(4);
            // Remote directories first and their removals last, so that the entries of a
            // renamed directory (sent concurrently) find the new one and have left the old.
            let phase = |it: &Item| match it.msg.file_op.as_ref().map(|o| o.kind()) {
                Some(pitcher_core::FileOpKind::Mkdir) => 0,
                Some(pitcher_core::FileOpKind::Rmdir) => 2,
                _ => 1,
            };
            for p in 0..3 {
                let live = items.iter_mut().filter(|i| i.is_live() && phase(i) == p);
                if p == 1 {
                    futures_util::stream::iter(live)
                        .for_each_concurrent(limit, |it| sender.send(it))
                        .await;
                } else {
                    for it in live {
                        sender.send(it).await;
                    }
                }
            }
            for it in &items {
                if it.downloaded && !it.reused {
                    self.metrics.files += 1;
                    self.metrics.bytes += it.bytes;
                }
            }
        } else if let Some(worker) = &self.worker {
            let limit =
                usize::try_from(self.flow.options.transfer_concurrency.clamp(1, 256)).unwrap_or(4);
            futures_util::stream::iter(items.iter_mut().filter(|i| i.is_live()))
                .for_each_concurrent(limit, |it| worker.download(it))
                .await;
            for it in &items {
                if it.downloaded && !it.reused {
                    self.metrics.files += 1;
                    self.metrics.bytes += it.bytes;
                }
            }
        } else {
            for it in items.iter_mut().filter(|i| i.is_live()) {
                it.disposition = Disposition::Ok;
                if self.flow.component != Component::Post {
                    let verb = format!("{}ed", self.flow.component.as_str().trim_end_matches('e'));
                    tracing::debug!("{verb} ok: {}", it.msg.rel_path);
                }
            }
        }

        // failed work -> retry spool (durable before the acknowledgement below)
        let mut spooled_ok = true;
        let failed: Vec<(Vec<u8>, u32, f64)> = items
            .iter()
            .filter_map(|it| match &it.disposition {
                Disposition::Failed { reason } => {
                    tracing::warn!("{} queued for retry: {reason}", it.msg.rel_path);
                    match retry::work_payload(&it.msg) {
                        Ok(p) => Some((p, it.attempts + 1, it.first_queued.unwrap_or(now_s))),
                        Err(e) => {
                            tracing::error!("{} cannot be queued for retry: {e}", it.msg.rel_path);
                            None
                        }
                    }
                }
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            self.metrics.work_failed += failed.len() as u64;
            if let Err(e) = self.work_spool.push_many(&failed) {
                tracing::error!("work retry spool: {e}: the messages stay unacknowledged");
                spooled_ok = false;
            }
        }

        // rejected: count and log, once each (nodupe logs its 304s itself). Escapes from the
        // destination tree (403) are always logged: they are hostile or broken input.
        for it in &items {
            if let Disposition::Rejected { code, reason } = &it.disposition {
                self.metrics.rejected += 1;
                if *code == 403 {
                    tracing::warn!(
                        "{} rejected: 403 {reason} (from exchange {})",
                        it.msg.rel_path,
                        it.msg.local.exchange.as_deref().unwrap_or("?")
                    );
                } else if self.log_reject && *code != 304 {
                    logline::rejected(&it.msg, *code, reason);
                }
            }
        }

        // post (a local gather's posts are pipelined: there is nothing to acknowledge)
        let post_durable = if self.pipelines_posts() {
            self.post_items_pipelined(&mut items).await;
            true
        } else {
            self.post_items(&mut items).await
        };

        // acknowledge (the broker's messages all at once)
        let mut acks = Vec::new();
        for it in &items {
            let failed = matches!(it.disposition, Disposition::Failed { .. });
            if failed && !spooled_ok {
                continue;
            }
            if !post_durable && matches!(it.disposition, Disposition::Ok) {
                continue;
            }
            match it.origin {
                Origin::Broker(token) => acks.push(token),
                Origin::WorkRetry(id) => {
                    if let Err(e) = self.work_spool.done(id) {
                        tracing::error!("work retry spool: {e}");
                    }
                }
                Origin::Local => {}
            }
        }
        if !acks.is_empty()
            && let Some(c) = self.gather.consumer()
            && let Err(e) = c.ack_all(&acks).await
        {
            tracing::warn!("ack failed (the broker will redeliver): {e}");
        }
        // Only now is what this pass saw recorded on disk: a crash before this point gets the
        // messages redelivered, and they must not then be taken for duplicates of themselves
        // (that lost files when sarra or winnow was killed mid-pass).
        self.flush_nodupe();
        self.replay_posts().await;
        fresh.max(items.len())
    }

    fn flush_nodupe(&mut self) {
        if let Some((cache, _)) = self.nodupe.as_mut()
            && let Err(e) = cache.flush()
        {
            tracing::error!("nodupe cache: {e}");
        }
    }

    /// Post the items whose work is done. Returns false when neither the broker nor the post
    /// retry spool took them (then they must not be acknowledged).
    async fn post_items(&mut self, items: &mut [Item]) -> bool {
        let Some(batch) = self.encode_posts(items) else {
            return true;
        };
        let Some(publisher) = self.publisher.as_mut() else {
            return true;
        };
        let results = publisher.publish(&batch.out).await;
        self.record_posts(batch, results)
    }

    /// Post the items of a local gather (a walk or a watch) without waiting for the broker's
    /// confirms: they are settled while the next batches are gathered and sent, with at most
    /// [`POSTS_IN_FLIGHT`] messages unconfirmed. Nothing is acknowledged on them, so nothing
    /// but the log lines and counters waits, and a failure still goes to the post retry spool.
    async fn post_items_pipelined(&mut self, items: &mut [Item]) {
        if let Some(batch) = self.encode_posts(items)
            && let Some(publisher) = self.publisher.as_mut()
        {
            let pending = publisher.send(&batch.out).await;
            self.posts_in_flight.push_back((pending, batch));
        }
        // What is confirmed already is logged and counted now, not when the window fills.
        self.settle_confirmed_posts().await;
        while self.posts_in_flight.len() > 1
            && self
                .posts_in_flight
                .iter()
                .map(|(p, _)| p.len())
                .sum::<usize>()
                > POSTS_IN_FLIGHT
        {
            self.settle_oldest_post().await;
        }
    }

    /// Can this flow's posts be pipelined? Only when nothing is recorded at the end of a pass
    /// on the strength of its posts: a local gather (a walk or a watch: no broker message to
    /// acknowledge) with no nodupe cache (it would be written to disk with keys whose posts are
    /// not confirmed yet, and a crash would then make them duplicates of themselves) and no
    /// work step (its retry spool entries are marked done at the end of a pass).
    fn pipelines_posts(&self) -> bool {
        matches!(self.gather, Gather::Local(_))
            && self.nodupe.is_none()
            && self.worker.is_none()
            && self.sender.is_none()
    }

    /// Wait for every batch still in flight (when a pass found nothing to do, or a walk ended).
    async fn settle_posts(&mut self) {
        while !self.posts_in_flight.is_empty() {
            self.settle_oldest_post().await;
        }
    }

    /// Before stopping: wait for the batches still in flight, but at most [`STOP_SETTLE`] in
    /// all (`pitcher stop` kills an instance after 30 s, and a broker that stopped confirming
    /// would hold each batch for `timeout`). What is not confirmed by then goes to the post
    /// retry spool, to be posted again at the next start (a duplicate at worst).
    async fn settle_posts_before_stop(&mut self) {
        let deadline = tokio::time::Instant::now() + STOP_SETTLE;
        while let Some((pending, batch)) = self.posts_in_flight.pop_front() {
            match tokio::time::timeout_at(deadline, pending.wait()).await {
                Ok(confirmed) => {
                    self.settle_post(confirmed, batch).await;
                }
                Err(_) => {
                    let results = batch
                        .out
                        .iter()
                        .map(|_| {
                            Err(BrokerError::NotConfirmed {
                                broker: String::new(),
                                reason: format!(
                                    "not confirmed within {} s of the stop",
                                    STOP_SETTLE.as_secs()
                                ),
                            })
                        })
                        .collect();
                    self.record_posts(batch, results);
                }
            }
        }
    }

    /// Settle, oldest first, the batches whose confirms are all in already (without waiting).
    async fn settle_confirmed_posts(&mut self) {
        while let Some((pending, batch)) = self.posts_in_flight.pop_front() {
            match pending.try_wait() {
                Ok(confirmed) => {
                    self.settle_post(confirmed, batch).await;
                }
                Err(pending) => {
                    self.posts_in_flight.push_front((pending, batch));
                    return;
                }
            }
        }
    }

    async fn settle_oldest_post(&mut self) {
        let Some((pending, batch)) = self.posts_in_flight.pop_front() else {
            return;
        };
        let confirmed = pending.wait().await;
        self.settle_post(confirmed, batch).await;
    }

    /// Hand a batch's confirms back to the publisher, then count, log and spool its messages.
    async fn settle_post(&mut self, confirmed: Confirmed, batch: PostBatch) {
        let results = match self.publisher.as_mut() {
            Some(p) => p.settle(confirmed).await,
            // Unreachable: only a flow with a publisher sends. Spooled rather than dropped.
            None => batch
                .out
                .iter()
                .map(|_| {
                    Err(BrokerError::NotConfirmed {
                        broker: String::new(),
                        reason: "no publisher".into(),
                    })
                })
                .collect(),
        };
        self.record_posts(batch, results);
    }

    /// The rewritten messages of the items whose work is done, encoded for the publisher.
    fn encode_posts(&mut self, items: &mut [Item]) -> Option<PostBatch> {
        let post = self.post.clone();
        for it in items.iter_mut() {
            if matches!(it.disposition, Disposition::Ok) {
                rewrite(it, post.as_ref());
            }
        }
        let (Some(publisher), Some(s)) = (self.publisher.as_ref(), post.as_ref()) else {
            return None;
        };
        let mut batch = PostBatch::default();
        for it in items.iter() {
            if !matches!(it.disposition, Disposition::Ok) {
                continue;
            }
            match outgoing(s, publisher, &it.msg) {
                Ok(o) => {
                    batch.out.push(o);
                    batch.rel_paths.push(it.msg.rel_path.clone());
                    if self.log_posted {
                        batch.logged.push(it.msg.clone());
                    }
                }
                Err(e) => tracing::error!("cannot encode {}: {e}", it.msg.rel_path),
            }
        }
        (!batch.out.is_empty()).then_some(batch)
    }

    /// Count and log what the broker confirmed; put the rest in the post retry spool. Returns
    /// false when the spool could not take them.
    fn record_posts(&mut self, batch: PostBatch, results: Vec<Result<(), BrokerError>>) -> bool {
        let mut spool: Vec<(Vec<u8>, u32, f64)> = Vec::new();
        let now = now_f();
        for (i, (o, r)) in batch.out.iter().zip(results).enumerate() {
            match r {
                Ok(()) => {
                    self.metrics.posted += 1;
                    if let Some(m) = batch.logged.get(i) {
                        logline::posted(m, &o.exchange, &o.topic);
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "failed to post, queued to retry: {} ({e})",
                        batch.rel_paths.get(i).map_or("", String::as_str)
                    );
                    self.metrics.post_failed += 1;
                    match retry::post_payload(o) {
                        Ok(p) => spool.push((p, 0, now)),
                        Err(e) => tracing::error!("cannot queue post: {e}"),
                    }
                }
            }
        }
        if spool.is_empty() {
            return true;
        }
        match self.post_spool.push_many(&spool) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("post retry spool: {e}: the messages stay unacknowledged");
                false
            }
        }
    }

    /// Publish due entries of the post retry spool.
    async fn replay_posts(&mut self) {
        let Some(publisher) = self.publisher.as_mut() else {
            return;
        };
        if self.post_spool.is_empty() {
            return;
        }
        let entries = match self.post_spool.take(self.batch.max(1), now_f()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("post retry spool: {e}");
                return;
            }
        };
        if entries.is_empty() {
            return;
        }
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for e in entries {
            match retry::post_outgoing(&e.payload) {
                Ok(o) => {
                    out.push(o);
                    ids.push(e);
                }
                Err(err) => {
                    tracing::error!("dropping unreadable post retry entry: {err}");
                    let _ = self.post_spool.done(e.id);
                }
            }
        }
        let results = publisher.publish(&out).await;
        let mut again = Vec::new();
        for ((o, e), r) in out.iter().zip(ids).zip(results) {
            match r {
                Ok(()) => {
                    self.metrics.posted += 1;
                    if self.log_posted {
                        tracing::info!(
                            "posted (retry) to exchange: {} topic: {}",
                            o.exchange,
                            o.topic
                        );
                    }
                    if let Err(err) = self.post_spool.done(e.id) {
                        tracing::error!("post retry spool: {err}");
                    }
                }
                Err(_) => again.push(e),
            }
        }
        if !again.is_empty() {
            let items: Vec<(Vec<u8>, u32, f64)> = again
                .iter()
                .map(|e| (e.payload.clone(), e.attempts + 1, e.first_queued))
                .collect();
            match self.post_spool.push_many(&items) {
                Ok(()) => {
                    for e in again {
                        let _ = self.post_spool.done(e.id);
                    }
                }
                Err(err) => {
                    tracing::error!("post retry spool: {err}");
                    for e in again {
                        self.post_spool.release(e.id);
                    }
                }
            }
        }
    }

    fn housekeeping(&mut self, since: f64) {
        let m = &self.metrics;
        let elapsed = (now_f() - since).max(0.001);
        tracing::info!(
            "messages received: {}, accepted: {}, rejected: {}   rate accepted: {:.1}% or {:.1} m/s",
            m.received,
            m.accepted,
            m.rejected,
            if m.received > 0 {
                100.0 * m.accepted as f64 / m.received as f64
            } else {
                0.0
            },
            m.accepted as f64 / elapsed
        );
        tracing::info!(
            "files transferred: {} bytes: {} rate: {:.0} B/sec",
            m.files,
            m.bytes,
            m.bytes as f64 / elapsed
        );
        tracing::info!(
            "lag: average: {:.2}, maximum: {:.2}",
            m.lag_average(),
            m.lag_max
        );
        let now = now_f();
        if let Some((cache, _)) = self.nodupe.as_mut() {
            match cache.housekeeping(now) {
                Ok(s) => tracing::info!("nodupe: {s}"),
                Err(e) => tracing::error!("nodupe cache: {e}"),
            }
        }
        let ttl = self.flow.options.retry_ttl.map(secs);
        for (name, spool) in [
            ("work_retry", &mut self.work_spool),
            ("post_retry", &mut self.post_spool),
        ] {
            if let Err(e) = spool.housekeeping(now, ttl) {
                tracing::error!("{name}: {e}");
            }
            tracing::info!("{name} Number of messages in retry list {}", spool.len());
        }
    }

    fn write_metrics(&mut self) {
        self.metrics.updated = now_f();
        self.metrics.work_retry_queue = self.work_spool.len() as u64;
        self.metrics.post_retry_queue = self.post_spool.len() as u64;
        if let Err(e) = self.metrics.write(&self.metrics_file) {
            tracing::warn!("cannot write {}: {e}", self.metrics_file.display());
        }
    }

    async fn close(&mut self) {
        match &mut self.gather {
            Gather::Broker(c) => c.close().await,
            Gather::Poll(p) => p.close().await,
            Gather::Local(_) => {}
        }
        if let Some(p) = self.publisher.as_mut() {
            p.close().await;
        }
        let now = now_f();
        if let Some((cache, _)) = self.nodupe.as_mut()
            && let Err(e) = cache.housekeeping(now)
        {
            tracing::error!("nodupe cache: {e}");
        }
        self.write_metrics();
    }
}

/// Run one instance until stopped (`stop` becomes true), `messageCountMax` is reached, or (post)
/// everything is announced.
pub async fn run(inst: Instance, mut stop: watch::Receiver<bool>) -> Result<RunSummary, FlowError> {
    let mut e = Engine::build(inst)?;
    let o = e.flow.options.clone();
    tracing::info!("{} instance {} starting", e.id, e.instance);
    let started = now_f();
    if o.exchange_declare
        && let (Some(p), Some(post)) = (e.publisher.as_mut(), e.post.as_ref())
    {
        for x in &post.exchanges {
            if let Err(err) = p.declare_exchange(x).await {
                tracing::warn!("cannot declare exchange {x} (posts will be retried): {err}");
            }
        }
    }
    let hk_every = secs(if o.housekeeping > 0.0 {
        o.housekeeping
    } else {
        300.0
    });
    let mut next_hk = Instant::now() + hk_every;
    let mut last_metrics = Instant::now();
    let count_max = o.message_count_max;
    let rate_max = o.message_rate_max;
    let rate_start = Instant::now();
    let idle_wait = secs(o.sleep.clamp(0.1, 1.0)).max(Duration::from_millis(100));
    let reason = loop {
        if *stop.borrow() {
            break StopReason::Requested;
        }
        if Instant::now() >= next_hk {
            e.housekeeping(started);
            next_hk = Instant::now() + hk_every;
        }
        let mut max = e.batch;
        if count_max > 0 {
            let left = count_max.saturating_sub(e.metrics.received);
            max = max.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let gathered = e.pass(max.max(1), idle_wait, &mut stop).await;
        if last_metrics.elapsed() >= Duration::from_secs(5) {
            e.write_metrics();
            last_metrics = Instant::now();
        }
        if count_max > 0 && e.metrics.received >= count_max {
            break StopReason::MessageCountMax;
        }
        if gathered == 0 && e.files_done() {
            e.settle_posts().await;
            let wait_posts = o.retry_empty_before_exit && !e.post_spool.is_empty();
            if !wait_posts {
                break StopReason::Finished;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if rate_max > 0.0 {
            let expected = secs(e.metrics.received as f64 / rate_max);
            let elapsed = rate_start.elapsed();
            if expected > elapsed {
                tokio::time::sleep(expected - elapsed).await;
            }
        }
    };
    tracing::info!("{} instance {} stopping ({reason:?})", e.id, e.instance);
    e.settle_posts_before_stop().await;
    e.close().await;
    Ok(RunSummary {
        reason,
        metrics: e.metrics.clone(),
    })
}
