//! The work step: download (subscribe, sarra), or nothing (shovel, winnow, post...).

pub mod blocks;
pub mod confine;
pub mod download;
pub mod fileop;
pub mod inflight;
pub mod send;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use pitcher_config::{Decision, Expander, LoadedFlow, MessagePaths};
use pitcher_core::{FileOpKind, Message};
use pitcher_transfer::{
    Auth, FetchOptions, Fetcher, RemoteCredentials, RemoteFetchOptions, sr3_remote_url,
};

use crate::item::{Disposition, Item};
use crate::logline;
use blocks::BlockOutcome;
use confine::{Destination, check_on_disk, destination};
use download::{DownloadError, DownloadSettings, Downloaded};
use fileop::{OpResult, apply, event_name};

/// How the flow's fetcher logs in to SFTP and FTP servers: the credentials.conf entry matching
/// each URL (password, `ssh_keyfile`, `passive`/`active`, `binary`/`ascii`, `tls`,
/// `implicit_ftps`), `sshKnownHosts`, `sshAcceptUnknownHosts` and `timezone` (FTP listings).
pub fn remote_fetch_options(flow: &Arc<LoadedFlow>) -> RemoteFetchOptions {
    let f = Arc::clone(flow);
    let lookup = move |url: &url::Url| {
        let c = f.credentials.lookup(url.as_str()).ok()?;
        Some(RemoteCredentials {
            user: c.username().filter(|u| !u.is_empty()),
            password: c.password(),
            ssh_keyfile: c.ssh_keyfile.as_ref().map(std::path::PathBuf::from),
            passive: c.passive,
            binary: c.binary,
            tls: c.tls || c.implicit_ftps,
            implicit_tls: c.implicit_ftps,
        })
    };
    let o = &flow.options;
    RemoteFetchOptions {
        credentials: RemoteCredentials::default(),
        lookup: Some(Arc::new(lookup)),
        known_hosts: o.ssh_known_hosts.as_ref().map(std::path::PathBuf::from),
        accept_unknown_hosts: o.ssh_accept_unknown_hosts,
        timezone: o
            .timezone
            .clone()
            .filter(|t| !t.eq_ignore_ascii_case("UTC")),
    }
}

/// How to log in to the SFTP/FTP server of `url` (sendTo, pollUrl): credentials.conf fills in
/// what the URL lacks (its password goes into `url`), plus `timeout`, `tlsRigour`,
/// `sshKnownHosts`, `sshAcceptUnknownHosts` and `timezone`.
pub fn remote_options(
    flow: &Arc<LoadedFlow>,
    url: &mut url::Url,
) -> pitcher_transfer::RemoteOptions {
    let o = &flow.options;
    let remote = remote_fetch_options(flow);
    let creds = remote
        .lookup
        .as_ref()
        .and_then(|l| l(url))
        .unwrap_or_default();
    if url.password().is_none()
        && let Some(p) = &creds.password
    {
        let _ = url.set_password(Some(p));
    }
    let timeout = if o.timeout > 0.0 { o.timeout } else { 300.0 };
    pitcher_transfer::RemoteOptions {
        timeout: std::time::Duration::from_secs_f64(timeout.min(1e6)),
        credentials: creds,
        known_hosts: remote.known_hosts,
        accept_unknown_hosts: remote.accept_unknown_hosts,
        tls_verify: !o
            .tls_rigour
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("lax")),
        timezone: remote.timezone,
    }
}

/// What the download step needs, shared by concurrent transfers.
pub struct Worker {
    /// The flow.
    pub flow: Arc<LoadedFlow>,
    /// Expander for placements of rename sources.
    pub expander: Expander,
    /// HTTP/file client.
    pub fetcher: Fetcher,
    /// Clients for servers that credentials.conf gives a bearer token (one per origin, built on
    /// first use; the token is sent as `Authorization: Bearer` on every request to that server).
    pub bearer_fetchers: Mutex<HashMap<String, Fetcher>>,
    /// Download settings.
    pub settings: DownloadSettings,
    /// `fileEvents`.
    pub file_events: BTreeSet<String>,
    /// Told about every download.
    pub progress: Arc<dyn crate::ProgressSink>,
    /// `attempts`: tries within one pass before the retry spool.
    pub attempts: u32,
}

/// Where a received rename's old file is on this pump (a local field, never published).
pub const OLD_LOCAL_PATH: &str = "pitcher_old_local_path";

impl Worker {
    fn old_destination(&self, m: &Message) -> Option<Destination> {
        let old = m.file_op.as_ref()?.rename.as_deref()?;
        let old_rel = old.trim_start_matches('/');
        let filtered = self.flow.filter(&m.base_url, old_rel);
        let Decision::Accept(acc) = filtered.decision else {
            return None;
        };
        let paths = MessagePaths {
            base_url: &m.base_url,
            rel_path: old_rel,
            rename: None,
            source: m.source.as_deref(),
            pub_time: None,
        };
        let p = self
            .flow
            .place(&self.expander, jiff::Timestamp::now(), &paths, &acc)
            .ok()?;
        let d = destination(&p).ok()?;
        check_on_disk(&d).ok()?;
        Some(d)
    }

    /// The URL to fetch, with the user and password credentials.conf holds for its server, and
    /// the client to fetch it with (one sending the server's bearer token, when credentials.conf
    /// has a `bearer_token=` for it). sr3 looks credentials up the same way; they never appear in
    /// logs: URLs are masked and tokens are never printed.
    fn retrieval(&self, m: &Message) -> Result<(url::Url, Fetcher), String> {
        let path = m.retrieve_path.as_deref().unwrap_or(&m.rel_path);
        // SFTP/FTP paths are relative to the login directory unless the baseUrl has a path of
        // its own, as sr3 splits them; http and file URLs are simply joined.
        let text = sr3_remote_url(&m.base_url, path);
        let mut url = url::Url::parse(&text).map_err(|e| format!("bad URL {text:?}: {e}"))?;
        let mut fetcher = self.fetcher.clone();
        if url.scheme().starts_with("http") && url.password().is_none() {
            let origin = format!("{}://{}/", url.scheme(), url.authority());
            if let Ok(c) = self.flow.credentials.lookup(&origin) {
                if let Some(token) = c.bearer_token() {
                    fetcher = self.bearer_fetcher(&origin, token)?;
                } else if let (Some(user), Some(pass)) = (c.username(), c.password()) {
                    let _ = url.set_username(&user);
                    let _ = url.set_password(Some(&pass));
                }
            }
        }
        Ok((url, fetcher))
    }

    fn bearer_fetcher(&self, origin: &str, token: &str) -> Result<Fetcher, String> {
        let mut cache = self
            .bearer_fetchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = cache.get(origin) {
            return Ok(f.clone());
        }
        let options = FetchOptions {
            auth: Some(Auth::Bearer(token.to_string())),
            ..self.fetcher.options().clone()
        };
        let f = Fetcher::new(options).map_err(|e| format!("HTTP client for {origin}: {e}"))?;
        cache.insert(origin.to_string(), f.clone());
        Ok(f)
    }

    /// Download (or apply the file operation of) one accepted item.
    pub async fn download(&self, item: &mut Item) {
        let Some(placement) = item.placement.as_ref() else {
            item.reject(422, "cannot determine destination");
            return;
        };
        let d = match destination(placement).and_then(|d| check_on_disk(&d).map(|()| d)) {
            Ok(d) => d,
            Err(confine::Escape::NoBase) => {
                item.reject(
                    422,
                    "no destination directory: set directory (or post_baseDir)",
                );
                return;
            }
            Err(e) => {
                item.reject(e.code(), e.to_string());
                return;
            }
        };
        if let Some(op) = &item.msg.file_op {
            let kind = op.kind();
            let event = event_name(kind);
            if kind != FileOpKind::Rename && !self.file_events.contains(event) {
                item.reject(202, format!("{event} not in fileEvents"));
                return;
            }
            if kind != FileOpKind::Unknown {
                let old = if kind == FileOpKind::Rename {
                    self.old_destination(&item.msg)
                } else {
                    None
                };
                if let Some(o) = &old {
                    // Re-announced with the old file's path here, as sr3 rewrites it, so the
                    // next pump (its baseDir = this one's tree) can rename too.
                    item.msg.local.other.insert(
                        OLD_LOCAL_PATH.into(),
                        serde_json::Value::from(o.path().to_string_lossy().into_owned()),
                    );
                }
                match apply(&item.msg, &d, old.as_ref(), self.settings.perm_dir_default) {
                    OpResult::Done(verb) => {
                        logline::work_ok(verb, &d.path().display().to_string());
                        item.disposition = Disposition::Ok;
                        return;
                    }
                    OpResult::Failed(code, reason) if code == 403 => {
                        item.reject(code, reason);
                        return;
                    }
                    OpResult::Failed(_, reason) => {
                        item.fail(reason);
                        return;
                    }
                    OpResult::RenameFallback => {} // download the new name
                }
            }
        }
        let (url, fetcher) = match self.retrieval(&item.msg) {
            Ok(r) => r,
            Err(reason) => {
                item.reject(417, reason);
                return;
            }
        };
        if item.msg.blocks.is_some() {
            self.receive_block(item, &fetcher, &url, &d).await;
            return;
        }
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            match download::download(
                &fetcher,
                &url,
                &item.msg,
                &d,
                &self.settings,
                self.progress.as_ref(),
            )
            .await
            {
                Ok(Downloaded::Done { bytes, identity }) => {
                    if let (Some(id), Some(old)) = (identity, item.msg.identity.as_ref())
                        && old.method == pitcher_core::IdentityMethod::Cod
                    {
                        item.msg.identity = Some(id);
                    }
                    item.bytes = bytes;
                    item.downloaded = true;
                    item.disposition = Disposition::Ok;
                    logline::work_ok("downloaded", &d.path().display().to_string());
                    return;
                }
                Ok(Downloaded::Skipped { code: 304, reason }) if item.redelivered => {
                    forward_in_place(item, &d, &reason);
                    return;
                }
                Ok(Downloaded::Skipped { code, reason }) => {
                    item.reject(code, reason);
                    return;
                }
                Err(e) => {
                    if self.attempt_failed(item, e, "download", attempt, &mut last) {
                        return;
                    }
                    if reason_is_race(&last) {
                        break;
                    }
                }
            }
        }
        item.fail(last);
    }
}

impl Worker {
    /// One block of a partitioned file (work/blocks.rs): stored, or the file completed (then the
    /// item becomes the whole file's message, forwarded downstream).
    async fn receive_block(
        &self,
        item: &mut Item,
        fetcher: &Fetcher,
        url: &url::Url,
        d: &Destination,
    ) {
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            match blocks::receive(fetcher, url, &item.msg, d, &self.settings).await {
                Ok(BlockOutcome::Complete { bytes, identity }) => {
                    let total = blocks::plan(&item.msg).map(|p| p.total).ok();
                    item.msg.blocks = None;
                    item.msg.size = total;
                    item.msg.identity = Some(identity);
                    item.bytes = bytes;
                    item.downloaded = true;
                    item.disposition = Disposition::Ok;
                    logline::work_ok("downloaded", &d.path().display().to_string());
                    return;
                }
                Ok(BlockOutcome::Stored { bytes, have }) => {
                    item.bytes = bytes;
                    let (n, count) = blocks::plan(&item.msg)
                        .map(|p| (p.index, p.count))
                        .unwrap_or((0, 0));
                    tracing::info!(
                        "block {n} of {} stored ({have} of {count} in place): {}",
                        item.msg.rel_path,
                        d.path().display()
                    );
                    item.reject(206, format!("block {n} stored, {have} of {count} in place"));
                    return;
                }
                Ok(BlockOutcome::Skipped { code: 304, reason }) if item.redelivered => {
                    // The whole file is in place: forward it as the last block would have.
                    let path = d.path();
                    match blocks::whole_file_identity(&path).await {
                        Ok(identity) => {
                            let total = blocks::plan(&item.msg).map(|p| p.total).ok();
                            item.msg.blocks = None;
                            item.msg.size = total;
                            item.msg.identity = Some(identity);
                            forward_in_place(item, d, &reason);
                        }
                        Err(e) => item.fail(format!("cannot read {}: {e}", path.display())),
                    }
                    return;
                }
                Ok(BlockOutcome::Skipped { code, reason }) => {
                    item.reject(code, reason);
                    return;
                }
                Err(e) => {
                    if self.attempt_failed(item, e, "block", attempt, &mut last) {
                        return;
                    }
                }
            }
        }
        item.fail(last);
    }
}

impl Worker {
    /// One failed transfer attempt of `what` ("download", "block"). A permanent failure (gone
    /// upstream, too big, changed) rejects the item and returns true: stop. A transient one is
    /// logged with its attempt number and kept in `last`; false: try again.
    fn attempt_failed(
        &self,
        item: &mut Item,
        e: DownloadError,
        what: &str,
        attempt: u32,
        last: &mut String,
    ) -> bool {
        match e {
            DownloadError::Reject { code, reason } => {
                // Not the filter's choice: always worth a line.
                tracing::warn!("{what} of {} failed: {code} {reason}", item.msg.rel_path);
                item.reject(code, reason);
                true
            }
            DownloadError::Retry(reason) => {
                tracing::warn!(
                    "{what} of {} failed (attempt {}/{}): {reason}",
                    item.msg.rel_path,
                    attempt + 1,
                    self.attempts.max(1)
                );
                *last = reason;
                false
            }
        }
    }
}

/// A redelivered message whose file is already in place is forwarded, not dropped as "not
/// modified": the instance that received it first may have died after writing the file but
/// before posting it (sr3 drops it, and the product never reaches the next pump). Duplicates
/// downstream are what nodupe is for.
fn forward_in_place(item: &mut Item, d: &Destination, reason: &str) {
    tracing::info!(
        "redelivered and already in place ({reason}), forwarded without download: {}",
        d.path().display()
    );
    item.downloaded = true;
    item.reused = true;
    item.disposition = Disposition::Ok;
}

fn reason_is_race(r: &str) -> bool {
    r.starts_with("race condition")
}
