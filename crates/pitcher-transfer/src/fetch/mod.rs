//! Fetching remote (or local) files by URL, from an offset, with timeouts.

mod file;
mod http;
pub(crate) mod idle;
mod remote;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncRead;

use crate::{RemoteCredentials, TransferError};

/// Credentials sent with HTTP requests.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic ...` (sr3: user and password from credentials.conf).
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>` (sr3: `bearer_token=` credential detail).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output.
        match self {
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"***")
                .finish(),
            Auth::Bearer(_) => f.debug_tuple("Bearer").field(&"***").finish(),
        }
    }
}

/// How a [`Fetcher`] talks to servers.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Per network operation: the connect, and each read (idle timeout), not the whole transfer.
    /// Opening an HTTP URL (connect + response headers) is bounded by twice this.
    pub timeout: Duration,
    /// Credentials for HTTP(S); a password in the URL itself is used when this is `None`.
    pub auth: Option<Auth>,
    /// Verify TLS certificates and host names; `false` only for sr3's `tlsRigour lax`.
    pub tls_verify: bool,
}

impl Default for FetchOptions {
    /// sr3's defaults: `timeout 300` s, no credentials, TLS verified.
    fn default() -> Self {
        FetchOptions {
            timeout: Duration::from_secs(300),
            auth: None,
            tls_verify: true,
        }
    }
}

/// Per-server SFTP/FTP credentials: given the URL to fetch, the credentials.conf entry for its
/// server (or `None` to use [`RemoteFetchOptions::credentials`]).
pub type CredentialLookup = Arc<dyn Fn(&url::Url) -> Option<RemoteCredentials> + Send + Sync>;

/// How a [`Fetcher`] logs in to SFTP and FTP/FTPS servers (set with [`Fetcher::with_remote`]).
/// A user and password in the URL itself always win.
#[derive(Clone, Default)]
pub struct RemoteFetchOptions {
    /// Used for every server the lookup has nothing for.
    pub credentials: RemoteCredentials,
    /// Per-server credentials (sr3: the credentials.conf entry matching the URL).
    pub lookup: Option<CredentialLookup>,
    /// SFTP host keys: this file instead of `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// SFTP: accept host keys that are not in known_hosts (a changed key is always refused).
    pub accept_unknown_hosts: bool,
    /// FTP `LIST` times: the server's time zone (IANA name); `None` = UTC.
    pub timezone: Option<String>,
}

impl std::fmt::Debug for RemoteFetchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFetchOptions")
            .field("credentials", &self.credentials)
            .field("lookup", &self.lookup.as_ref().map(|_| "<fn>"))
            .field("known_hosts", &self.known_hosts)
            .field("accept_unknown_hosts", &self.accept_unknown_hosts)
            .field("timezone", &self.timezone)
            .finish()
    }
}

/// The bytes of a remote file from `offset` on.
pub struct Download {
    /// The content. Reads fail with an `io::Error`; [`TransferError::from_read_error`] turns it
    /// back into a classified error (an idle timeout has kind `TimedOut` and carries
    /// [`TransferError::Timeout`]).
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
    /// Where the stream really starts: the requested offset when the server honoured the range,
    /// 0 when it sent the whole file instead (the caller must then restart from 0).
    pub offset: u64,
    /// Bytes this stream will yield, when known.
    pub length: Option<u64>,
    /// Whole file size when known (Content-Range total, Content-Length of a full answer, metadata).
    pub total_size: Option<u64>,
    /// Last modification time, when known (Last-Modified, file metadata).
    pub mtime: Option<SystemTime>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("offset", &self.offset)
            .field("length", &self.length)
            .field("total_size", &self.total_size)
            .field("mtime", &self.mtime)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// A download with nothing left to read (the offset is already the end of the file).
    pub(crate) fn empty(offset: u64, total_size: Option<u64>, mtime: Option<SystemTime>) -> Self {
        Download {
            reader: Box::pin(tokio::io::empty()),
            offset,
            length: Some(0),
            total_size,
            mtime,
        }
    }
}

/// What a server says about a file without sending it (HTTP HEAD, file metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteStat {
    pub size: Option<u64>,
    pub mtime: Option<SystemTime>,
}

/// One client per flow instance; cheap to clone (shares the connection pool).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
    /// Cached SFTP/FTP sessions and how to open them; shared by clones.
    remote: Arc<remote::RemotePool>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("options", &self.options)
            .field("remote", &self.remote.options)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Build the client. Installs ring as the process's rustls crypto provider if none is
    /// installed yet (an already installed provider is kept).
    pub fn new(options: FetchOptions) -> Result<Self, TransferError> {
        let client = http::build_client(&options)?;
        Ok(Fetcher {
            client,
            options,
            remote: Arc::new(remote::RemotePool::new(RemoteFetchOptions::default())),
        })
    }

    /// Use `remote` to log in to SFTP and FTP(S) servers (credentials, known_hosts policy, FTP
    /// time zone). Starts a new session cache: clones made before keep the old one.
    pub fn with_remote(mut self, remote: RemoteFetchOptions) -> Self {
        self.remote = Arc::new(remote::RemotePool::new(remote));
        self
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Open `url` for reading from byte `offset` (0 = whole file). Schemes: http, https, file,
    /// sftp, ftp, ftps (see [`crate::remote_path`] for what an SFTP/FTP URL path means).
    /// `range_end` (inclusive) asks for a slice only (sr3 block transfers: `Range: bytes=off-end`).
    ///
    /// Check [`Download::offset`]: a server that ignores ranges sends the whole file (offset 0).
    /// When `offset` is exactly the file size the download is empty (nothing left); when the file
    /// has become shorter than `offset`, the whole file is returned (offset 0).
    pub async fn open(
        &self,
        url: &url::Url,
        offset: u64,
        range_end: Option<u64>,
    ) -> Result<Download, TransferError> {
        if let Some(end) = range_end
            && end < offset
        {
            return Err(TransferError::InvalidUrl {
                url: crate::mask_url(url),
                reason: format!("range end {end} is before offset {offset}"),
            });
        }
        match url.scheme() {
            "http" | "https" => http::open(self, url, offset, range_end).await,
            "file" => file::open(url, offset, range_end, self.options.timeout).await,
            "sftp" | "ftp" | "ftps" => remote::open(self, url, offset, range_end).await,
            other => Err(TransferError::Unsupported {
                scheme: other.to_owned(),
            }),
        }
    }

    /// Size and modification time without transferring content (HTTP HEAD, file metadata), as sr3
    /// does to tell an obsolete announcement from a failed transfer.
    pub async fn stat(&self, url: &url::Url) -> Result<RemoteStat, TransferError> {
        match url.scheme() {
            "http" | "https" => http::stat(self, url).await,
            "file" => file::stat(url).await,
            "sftp" | "ftp" | "ftps" => remote::stat(self, url).await,
            other => Err(TransferError::Unsupported {
                scheme: other.to_owned(),
            }),
        }
    }
}
