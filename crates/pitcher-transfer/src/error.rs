//! The one error type of this crate, and how callers classify it.

use std::time::Duration;

/// Everything that can go wrong while fetching or serving.
///
/// Classification (see [`TransferError::is_permanent`]):
/// * **permanent** — retrying cannot help: [`NotFound`](Self::NotFound) (HTTP 404/410, missing
///   file), [`Unsupported`](Self::Unsupported) (scheme), [`InvalidUrl`](Self::InvalidUrl).
/// * **transient** — retry later: [`Timeout`](Self::Timeout), [`Http`](Self::Http) (any other
///   unexpected status, 401/403/5xx included, as sr3 retries those too), [`Io`](Self::Io),
///   [`Connect`](Self::Connect), [`Auth`](Self::Auth), [`HostKey`](Self::HostKey),
///   [`Remote`](Self::Remote) (SFTP/FTP refusals such as permission denied).
/// * [`Setup`](Self::Setup) and [`Server`](Self::Server) are local problems (client or listener
///   configuration), not about one URL.
///
/// URLs inside errors are always masked with [`mask_url`]: the password never appears.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The content is no longer available upstream (HTTP 404 or 410, file missing).
    #[error("not found: {url}")]
    NotFound { url: String },
    /// The URL scheme has no transfer implementation here.
    #[error("unsupported URL scheme {scheme:?}")]
    Unsupported { scheme: String },
    /// The URL cannot be used (a `file:` URL with a remote host, a directory instead of a file, ...).
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// One network operation (connect, or one read) made no progress for `after`.
    #[error("timed out after {after:?} without progress: {url}")]
    Timeout { url: String, after: Duration },
    /// The server answered with an unexpected HTTP status.
    #[error("HTTP status {status}: {url}")]
    Http { url: String, status: u16 },
    /// Reading failed (connection reset mid-body, local read error, permission denied, ...).
    #[error("I/O error on {url}: {source}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// The connection (TCP, TLS, SSH handshake, or the HTTP exchange before a status arrived)
    /// failed.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server refused the login (SFTP/FTP: wrong user, password or key). Transient: sr3
    /// keeps the item for retry, and fixing credentials.conf makes the retry succeed.
    #[error("login refused by {url}: {reason}")]
    Auth { url: String, reason: String },
    /// The SFTP server's host key is not in known_hosts, or differs from the recorded one.
    /// Transient (kept for retry until known_hosts is fixed), but never silently accepted.
    #[error("host key check failed for {url}: {reason}")]
    HostKey { url: String, reason: String },
    /// The SFTP or FTP server refused an operation (permission denied, FTP 4xx/5xx other than
    /// "no such file", SFTP failure codes). Transient, as sr3 retries those.
    #[error("{url}: server refused {operation}: {reason}")]
    Remote {
        url: String,
        operation: String,
        reason: String,
    },
    /// The client could not be built (TLS backend, options).
    #[error("transfer client setup failed: {0}")]
    Setup(String),
    /// The file server could not start or failed while running.
    #[error("file server: {0}")]
    Server(String),
}

impl TransferError {
    /// True when retrying the same URL cannot succeed (the caller should drop the item,
    /// sr3 style: log and discard instead of queueing for retry).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            TransferError::NotFound { .. }
                | TransferError::Unsupported { .. }
                | TransferError::InvalidUrl { .. }
        )
    }

    /// True for the transient classes that a retry queue should keep.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransferError::Timeout { .. }
                | TransferError::Http { .. }
                | TransferError::Io { .. }
                | TransferError::Connect { .. }
                | TransferError::Auth { .. }
                | TransferError::HostKey { .. }
                | TransferError::Remote { .. }
        )
    }

    /// Turn an error returned by [`Download::reader`](crate::Download::reader) back into a
    /// `TransferError`.
    ///
    /// Reads on a download stream fail with a `std::io::Error`. When the failure is one this crate
    /// classified (an idle timeout, a body error), the `io::Error` carries a `TransferError` inside
    /// (`io::Error::get_ref()` downcasts to it; an idle timeout also has kind
    /// `io::ErrorKind::TimedOut`). This function extracts it; any other I/O error becomes
    /// [`TransferError::Io`] for `url` (the URL is masked here).
    pub fn from_read_error(url: &url::Url, err: std::io::Error) -> TransferError {
        if err
            .get_ref()
            .is_some_and(|inner| inner.is::<TransferError>())
        {
            let kind = err.kind();
            return match err
                .into_inner()
                .map(|inner| inner.downcast::<TransferError>())
            {
                Some(Ok(classified)) => *classified,
                // Unreachable in practice: the check above saw a TransferError.
                _ => TransferError::Io {
                    url: mask_url(url),
                    source: std::io::Error::new(kind, "read failed"),
                },
            };
        }
        TransferError::Io {
            url: mask_url(url),
            source: err,
        }
    }

    /// Wrap this error in an `io::Error` (kind `TimedOut` for timeouts, `NotFound` for not found,
    /// `Other` otherwise) so it can travel through `AsyncRead`; undone by
    /// [`from_read_error`](Self::from_read_error).
    pub fn into_io(self) -> std::io::Error {
        let kind = match &self {
            TransferError::Timeout { .. } => std::io::ErrorKind::TimedOut,
            TransferError::NotFound { .. } => std::io::ErrorKind::NotFound,
            TransferError::Io { source, .. } => source.kind(),
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}

/// A URL as it may be shown in logs and errors: `scheme://user@host:port/path?query`, never the
/// password.
pub fn mask_url(url: &url::Url) -> String {
    if url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut masked = url.clone();
    // Only fails for URLs that cannot have credentials, which then have no password either.
    if masked.set_password(None).is_err() {
        return format!("{}://(masked)", url.scheme());
    }
    masked.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_password_keeps_user() {
        let u = url::Url::parse("https://alice:s3cr%3At@example.com:8443/a/b?x=1").expect("url");
        let m = mask_url(&u);
        assert_eq!(m, "https://alice@example.com:8443/a/b?x=1");
        let e = TransferError::NotFound { url: m };
        assert!(!e.to_string().contains("s3cr"));
        assert!(e.is_permanent());
    }

    #[test]
    fn io_round_trip_keeps_classification() {
        let u = url::Url::parse("http://h/x").expect("url");
        let e = TransferError::Timeout {
            url: mask_url(&u),
            after: Duration::from_millis(5),
        };
        let io = e.into_io();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        let back = TransferError::from_read_error(&u, io);
        assert!(matches!(back, TransferError::Timeout { .. }));
        assert!(back.is_transient());
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let back = TransferError::from_read_error(&u, plain);
        assert!(matches!(back, TransferError::Io { .. }));
    }
}
