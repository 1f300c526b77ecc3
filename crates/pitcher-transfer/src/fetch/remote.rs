//! `sftp:`, `ftp:` and `ftps:` URLs for [`Fetcher`]: one cached session per
//! (scheme, user, host, port), replaced when it turns out dead.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};

use super::{Download, FetchOptions, Fetcher, RemoteFetchOptions, RemoteStat};
use crate::TransferError;
use crate::remote::{Remote, RemoteOptions, remote_path, url_user};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    scheme: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

/// Idle sessions, at most one per server and user.
pub(crate) struct RemotePool {
    pub(super) options: RemoteFetchOptions,
    idle: Mutex<HashMap<Key, Remote>>,
}

impl RemotePool {
    pub(crate) fn new(options: RemoteFetchOptions) -> Self {
        RemotePool {
            options,
            idle: Mutex::new(HashMap::new()),
        }
    }

    fn options_for(&self, url: &url::Url, fetch: &FetchOptions) -> RemoteOptions {
        let credentials = self
            .options
            .lookup
            .as_ref()
            .and_then(|lookup| lookup(url))
            .unwrap_or_else(|| self.options.credentials.clone());
        RemoteOptions {
            timeout: fetch.timeout,
            credentials,
            known_hosts: self.options.known_hosts.clone(),
            accept_unknown_hosts: self.options.accept_unknown_hosts,
            tls_verify: fetch.tls_verify,
            timezone: self.options.timezone.clone(),
        }
    }

    fn take(&self, key: &Key) -> Option<Remote> {
        let remote = self.idle.lock().ok()?.remove(key)?;
        remote.is_usable().then_some(remote)
    }

    /// Keep `remote` for the next request, unless it is unusable or one is kept already.
    fn put_back(&self, key: Key, remote: Remote) {
        if !remote.is_usable() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.entry(key).or_insert(remote);
        }
    }
}

fn key_of(url: &url::Url, options: &RemoteOptions) -> Key {
    Key {
        scheme: url.scheme().to_owned(),
        user: url_user(url).or_else(|| options.credentials.user.clone()),
        host: url.host_str().unwrap_or("").to_ascii_lowercase(),
        port: url.port(),
    }
}

/// Errors after which a *cached* session is worth replacing by a fresh one and the request
/// repeated once (the server may have closed the idle connection).
fn retry_fresh(e: &TransferError) -> bool {
    matches!(
        e,
        TransferError::Io { .. }
            | TransferError::Connect { .. }
            | TransferError::Timeout { .. }
            | TransferError::Remote { .. }
    )
}

/// Run `op` on a cached session for `url` (or a new one); on a connection-type failure of a
/// cached session, once more on a fresh one. `op` returns whether to keep the session.
async fn with_session<T, F>(
    fetcher: &Fetcher,
    url: &url::Url,
    mut op: F,
) -> Result<T, TransferError>
where
    F: for<'a> FnMut(
        &'a mut Remote,
    ) -> Pin<Box<dyn Future<Output = Result<T, TransferError>> + Send + 'a>>,
{
    let pool = &fetcher.remote;
    let options = pool.options_for(url, &fetcher.options);
    let key = key_of(url, &options);
    let mut cached = pool.take(&key);
    loop {
        let (mut remote, reused) = match cached.take() {
            Some(r) => (r, true),
            None => (Remote::connect(url, &options).await?, false),
        };
        let result = op(&mut remote).await;
        match result {
            Err(e) if reused && retry_fresh(&e) => {
                tracing::debug!(
                    "cached session to {} failed ({e}); reconnecting",
                    remote.server()
                );
                continue;
            }
            other => {
                pool.put_back(key, remote);
                return other;
            }
        }
    }
}

pub(super) async fn stat(fetcher: &Fetcher, url: &url::Url) -> Result<RemoteStat, TransferError> {
    let path = remote_path(url)?;
    let entry = with_session(fetcher, url, |r| {
        let path = path.clone();
        Box::pin(async move { r.stat(&path).await })
    })
    .await?;
    if entry.is_dir {
        return Err(TransferError::InvalidUrl {
            url: crate::mask_url(url),
            reason: "a directory, not a file".into(),
        });
    }
    Ok(RemoteStat {
        size: entry.size,
        mtime: entry.mtime,
    })
}

pub(super) async fn open(
    fetcher: &Fetcher,
    url: &url::Url,
    offset: u64,
    range_end: Option<u64>,
) -> Result<Download, TransferError> {
    let path = remote_path(url)?;
    let pool = &fetcher.remote;
    let options = pool.options_for(url, &fetcher.options);
    let key = key_of(url, &options);
    let mut cached = pool.take(&key);
    loop {
        let (mut remote, reused) = match cached.take() {
            Some(r) => (r, true),
            None => (Remote::connect(url, &options).await?, false),
        };
        let mut dl = match remote.get(&path, offset).await {
            Ok(dl) => dl,
            Err(e) if reused && retry_fresh(&e) => {
                tracing::debug!(
                    "cached session to {} failed ({e}); reconnecting",
                    remote.server()
                );
                continue;
            }
            Err(e) => {
                pool.put_back(key, remote);
                return Err(e);
            }
        };
        // A slice only (sr3 block transfers), when the offset was honoured.
        let mut sliced = false;
        if let Some(end) = range_end
            && dl.offset == offset
        {
            let want = end.saturating_add(1).saturating_sub(offset);
            if dl.length.is_none_or(|l| want < l) {
                let reader = std::mem::replace(&mut dl.reader, Box::pin(tokio::io::empty()));
                dl.reader = Box::pin(reader.take(want));
                dl.length = Some(dl.length.map_or(want, |l| l.min(want)));
                sliced = true;
            }
        }
        if !remote.is_ftp() {
            // SFTP: the open file is independent of the session, which can serve others now.
            pool.put_back(key, remote);
        } else if !sliced && dl.length != Some(0) {
            // FTP: the session is busy until the data connection is done; it comes back then.
            let reader = std::mem::replace(&mut dl.reader, Box::pin(tokio::io::empty()));
            dl.reader = Box::pin(ReturnOnEof {
                inner: reader,
                slot: Some((Arc::clone(pool), key, remote)),
            });
        } else if dl.length == Some(0) {
            pool.put_back(key, remote);
        }
        return Ok(dl);
    }
}

/// Gives the FTP session back to the pool once its download has been read to a clean end.
struct ReturnOnEof {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    slot: Option<(Arc<RemotePool>, Key, Remote)>,
}

impl AsyncRead for ReturnOnEof {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        let result = self.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result
            && had_room
            && buf.filled().len() == before
            && let Some((pool, key, remote)) = self.slot.take()
        {
            pool.put_back(key, remote);
        }
        result
    }
}
