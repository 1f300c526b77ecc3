//! `poll`: list remote directories on a schedule and announce what is there (reference §2.6).
//!
//! Every `scheduled_interval` (default 300 s) each `path` under `pollUrl` is listed: HTML index
//! pages over http(s) (Pitcher's own, Apache, nginx), `ls -l`/MLSD over ftp(s), SFTP directory
//! reads. Each regular file becomes a message with baseUrl = `pollUrl`, relPath = path/name, its
//! size and mtime, and identity `cod,sha512` (the downloader computes the checksum). Unchanged
//! files are announced once because the poll's nodupe (`relPath,mtime,size`, default 7 h) drops
//! them; `fileAgeMax` (default 30 days) drops old ones in the filter. Directories are not
//! descended (list them as further `path`s). Times are UTC throughout (FTP listings in
//! `timezone`), so daylight-saving changes cannot make files look new.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use pitcher_core::{Identity, IdentityMethod, Message, Timestamp};
use pitcher_transfer::{Fetcher, Remote, RemoteOptions, TransferError, parse_index_page};
use tokio::io::AsyncReadExt;

/// Largest index page read.
const MAX_PAGE: u64 = 64 << 20;

/// One entry found by a listing.
struct Found {
    name: String,
    size: Option<u64>,
    mtime: Option<SystemTime>,
}

/// A listed name worth announcing: a plain file name. Hidden and inflight files (`.name`), `.`,
/// `..`, and names a hostile listing could use to point elsewhere (a `/`, a NUL, empty) are
/// skipped.
fn announceable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\0')
}

/// The poll's gatherer.
pub struct Poller {
    url: url::Url,
    paths: Vec<String>,
    fetcher: Fetcher,
    remote: RemoteOptions,
    interval: Duration,
    next: Option<Instant>,
    pending: VecDeque<Message>,
}

impl Poller {
    /// `paths` relative to `url` (sr3 `path` lines; none: the URL's own directory).
    pub fn new(
        url: url::Url,
        mut paths: Vec<String>,
        fetcher: Fetcher,
        remote: RemoteOptions,
        interval: Duration,
    ) -> Self {
        if paths.is_empty() {
            paths.push(String::new());
        }
        Poller {
            url,
            paths,
            fetcher,
            remote,
            interval: interval.max(Duration::from_secs(1)),
            next: None,
            pending: VecDeque::new(),
        }
    }

    /// Up to `max` messages: what the last listing found, or a new listing when one is due.
    /// Waits at most `wait` when nothing is due.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<Message> {
        if self.pending.is_empty() {
            let now = Instant::now();
            match self.next {
                Some(at) if at > now => {
                    tokio::time::sleep((at - now).min(wait)).await;
                    if Instant::now() < at {
                        return Vec::new();
                    }
                }
                _ => {}
            }
            self.next = Some(Instant::now() + self.interval);
            self.poll_all().await;
        }
        let n = max.min(self.pending.len());
        self.pending.drain(..n).collect()
    }

    async fn poll_all(&mut self) {
        let mut session: Option<Remote> = None;
        for path in self.paths.clone() {
            let dir = path.trim_matches('/').to_string();
            let listed = match self.url.scheme() {
                "http" | "https" => self.list_http(&dir).await,
                "sftp" | "ftp" | "ftps" => self.list_remote(&mut session, &dir).await,
                other => Err(TransferError::Unsupported {
                    scheme: other.to_string(),
                }),
            };
            match listed {
                Ok(found) => {
                    tracing::info!(
                        "poll {}: {} files in {}",
                        pitcher_transfer::mask_url(&self.url),
                        found.len(),
                        if dir.is_empty() { "." } else { dir.as_str() }
                    );
                    for f in found {
                        self.pending.push_back(self.message(&dir, f));
                    }
                }
                Err(e) => {
                    tracing::error!("poll of {dir:?} failed: {e} (next try in the next poll)")
                }
            }
        }
        if let Some(s) = session {
            s.close().await;
        }
    }

    fn message(&self, dir: &str, f: Found) -> Message {
        let rel = if dir.is_empty() {
            f.name
        } else {
            format!("{dir}/{}", f.name)
        };
        let mut m = Message::new(self.url.as_str(), rel);
        m.size = f.size;
        m.mtime = f.mtime.and_then(|t| Timestamp::from_system_time(t).ok());
        m.identity = Some(Identity::new(IdentityMethod::Cod, "sha512"));
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
            .filter(|e| !e.is_dir && announceable(&e.name))
            .map(|e| Found {
                name: e.name,
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
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_dir && announceable(&e.name))
            .map(|e| Found {
                name: e.name,
                size: e.size,
                mtime: e.mtime,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::announceable;

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
}
