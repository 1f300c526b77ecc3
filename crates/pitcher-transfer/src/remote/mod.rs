//! Sessions on SFTP and FTP/FTPS servers behind one small interface: [`Remote`].
//!
//! One `Remote` is one logged-in connection. Paths given to its methods are server paths:
//! relative ones are relative to the login directory, absolute ones start with `/`.
//! [`remote_path`] turns a URL into such a path (see the crate README for the rules).
//!
//! Every network operation is bounded by [`RemoteOptions::timeout`]: the connect and login, each
//! command, and each read or write of a transfer that makes no progress.

mod ftp;
pub(crate) mod listing;
mod sftp;

use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::{Download, TransferError, mask_url};

pub use listing::{parse_ls_line, parse_mlsd_line};

/// How to log in, per server (sr3's credentials.conf entry: URL user/password plus details).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCredentials {
    /// Login name; `None`: the URL's user, else `$USER` (SFTP) or `anonymous` (FTP).
    pub user: Option<String>,
    /// Password; `None`: the URL's password. For SFTP a password means password authentication
    /// (as sr3 does); without one, keys are tried.
    pub password: Option<String>,
    /// SFTP private key (sr3 `ssh_keyfile=`); `None`: `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`
    /// (the last only with the `rsa` feature). Passphrase-protected keys are not supported.
    pub ssh_keyfile: Option<PathBuf>,
    /// FTP passive mode (sr3 `passive`, the default) or active (`active`).
    pub passive: bool,
    /// FTP binary transfers (sr3 `binary`, the default) or ASCII (`ascii`).
    pub binary: bool,
    /// Explicit FTPS: `AUTH TLS` then `PROT P` (sr3 `tls`; also implied by `ftps://` URLs).
    pub tls: bool,
    /// Implicit FTPS: TLS from the first byte, port 990 by default (sr3 `implicit_ftps`).
    pub implicit_tls: bool,
}

impl Default for RemoteCredentials {
    /// sr3's defaults: passive, binary, no TLS, no explicit user, password or key.
    fn default() -> Self {
        RemoteCredentials {
            user: None,
            password: None,
            ssh_keyfile: None,
            passive: true,
            binary: true,
            tls: false,
            implicit_tls: false,
        }
    }
}

impl std::fmt::Debug for RemoteCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCredentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssh_keyfile", &self.ssh_keyfile)
            .field("passive", &self.passive)
            .field("binary", &self.binary)
            .field("tls", &self.tls)
            .field("implicit_tls", &self.implicit_tls)
            .finish()
    }
}

/// How a [`Remote`] connects.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Bound on each network operation: connect + login, each command, and each read or write
    /// of a transfer without progress.
    pub timeout: Duration,
    pub credentials: RemoteCredentials,
    /// SFTP host keys: this file instead of `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// SFTP: accept a server whose host key is not in known_hosts (logged as a warning; sr3's
    /// paramiko `AutoAddPolicy`). A key that *differs* from a recorded one is always refused.
    pub accept_unknown_hosts: bool,
    /// FTPS: verify the server certificate and host name (false: sr3's `tlsRigour lax`).
    pub tls_verify: bool,
    /// FTP `LIST` output: the server's time zone (IANA name, sr3's `timezone`); `None` = UTC.
    /// MLSD times are UTC by definition.
    pub timezone: Option<String>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_secs(300),
            credentials: RemoteCredentials::default(),
            known_hosts: None,
            accept_unknown_hosts: false,
            tls_verify: true,
            timezone: None,
        }
    }
}

/// One directory entry (or the result of a stat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    /// The name within its directory (for `stat`, the last path element).
    pub name: String,
    pub is_dir: bool,
    pub is_symlink: bool,
    pub size: Option<u64>,
    pub mtime: Option<SystemTime>,
    /// Permission bits (`0o7777` part), when the server tells.
    pub mode: Option<u32>,
}

/// How [`Remote::put`] writes a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Write to this path first, then rename it to the final one (sr3 `inflight`). A name
    /// without `/` is taken in the final file's directory; the caller turns sr3's `inflight`
    /// setting into it (`.name`, `name.tmp`, `tmp/name`).
    pub inflight: Option<String>,
    /// Permission bits to set after writing (sr3 `chmod`/`permDefault`).
    pub mode: Option<u32>,
    /// Modification time to set after writing (sr3 `timeCopy`).
    pub mtime: Option<SystemTime>,
    /// Permission bits for directories created on the way (sr3 `permDirDefault`).
    pub dir_mode: Option<u32>,
}

/// The server path a URL designates: the URL path percent-decoded, without its first `/`.
/// So `sftp://h/dir/f` and `ftp://h/dir/f` mean `dir/f` relative to the login directory,
/// `sftp://h//dir/f` (or `ftp://h/%2Fdir/f`) the absolute `/dir/f`, and `sftp://h/~/dir/f` is
/// `dir/f` too. An empty path is the login directory (`.`).
pub fn remote_path(url: &url::Url) -> Result<String, TransferError> {
    let decoded = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .map_err(|_| TransferError::InvalidUrl {
            url: mask_url(url),
            reason: "path is not UTF-8".into(),
        })?;
    if decoded.contains('\0') {
        return Err(TransferError::InvalidUrl {
            url: mask_url(url),
            reason: "NUL in path".into(),
        });
    }
    let rest = decoded.strip_prefix('/').unwrap_or(&decoded);
    let path = if rest.starts_with('/') {
        format!("/{}", rest.trim_start_matches('/'))
    } else if let Some(home) = rest.strip_prefix("~/") {
        home.to_owned()
    } else if rest.is_empty() || rest == "~" {
        ".".to_owned()
    } else {
        rest.to_owned()
    };
    Ok(path)
}

/// The URL sr3 would fetch for `base_url` + `rel_path`, written so that [`remote_path`] gives
/// the same server path sr3 uses (`Flow.download`): for `sftp:` and `ftp(s):`, a base URL
/// without a path and a relative `rel_path` stay relative to the login directory
/// (`sftp://h` + `a/f` -> `sftp://h/a/f`); a base URL with a path (even just `/`) or an absolute
/// `rel_path` mean an absolute path (`sftp://h/` + `a/f` -> `sftp://h//a/f`). Other schemes: the
/// two joined with one `/`.
pub fn sr3_remote_url(base_url: &str, rel_path: &str) -> String {
    let scheme_end = base_url.find("://");
    let is_remote = scheme_end.is_some_and(|i| {
        matches!(
            base_url[..i].to_ascii_lowercase().as_str(),
            "sftp" | "ftp" | "ftps"
        )
    });
    let Some(i) = scheme_end.filter(|_| is_remote) else {
        return pitcher_core::message::join_url(base_url, rel_path);
    };
    let after = &base_url[i + 3..];
    let (authority, base_path) = match after.find('/') {
        Some(j) => (&after[..j], &after[j..]),
        None => (after, ""),
    };
    let head = &base_url[..i + 3 + authority.len()];
    if base_path.is_empty() && !rel_path.starts_with('/') {
        return format!("{head}/{rel_path}");
    }
    // sr3 (baseUrlParse) collapses leading `//` of an sftp base path: absolute either way.
    let base_path = format!("/{}", base_path.trim_start_matches('/'));
    let joined = pitcher_core::message::join_url(&base_path, rel_path);
    format!("{head}/{}", joined)
}

/// A logged-in SFTP or FTP/FTPS session.
pub struct Remote {
    inner: Inner,
    /// `scheme://user@host:port`, for errors.
    label: String,
    timeout: Duration,
    /// Set when an operation failed in a way that may have left the connection unusable
    /// (timeout, I/O error): such a session is not reused.
    broken: bool,
}

enum Inner {
    Sftp(Box<sftp::SftpRemote>),
    Ftp(Box<ftp::FtpRemote>),
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("server", &self.label)
            .field("timeout", &self.timeout)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// `scheme://user@host:port` of a URL, masked (no password), for messages.
pub(crate) fn server_label(url: &url::Url) -> String {
    let mut label = format!("{}://", url.scheme());
    if !url.username().is_empty() {
        label.push_str(url.username());
        label.push('@');
    }
    label.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        label.push_str(&format!(":{port}"));
    }
    label
}

/// The URL's user name, percent-decoded; `None` when empty.
pub(crate) fn url_user(url: &url::Url) -> Option<String> {
    if url.username().is_empty() {
        return None;
    }
    Some(
        percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The URL's password, percent-decoded.
pub(crate) fn url_password(url: &url::Url) -> Option<String> {
    url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    })
}

macro_rules! dispatch {
    ($self:ident, $r:ident => $call:expr) => {{
        let result = match &mut $self.inner {
            Inner::Sftp($r) => $call,
            Inner::Ftp($r) => $call,
        };
        $self.note(result)
    }};
}

impl Remote {
    /// Connect and log in to the server of `url` (`sftp://`, `ftp://`, `ftps://`; the path is
    /// ignored). The URL's user and password win over `options.credentials`.
    pub async fn connect(url: &url::Url, options: &RemoteOptions) -> Result<Remote, TransferError> {
        let label = server_label(url);
        let inner = match url.scheme() {
            "sftp" => Inner::Sftp(Box::new(sftp::SftpRemote::connect(url, options).await?)),
            "ftp" | "ftps" => Inner::Ftp(Box::new(ftp::FtpRemote::connect(url, options).await?)),
            other => {
                return Err(TransferError::Unsupported {
                    scheme: other.to_owned(),
                });
            }
        };
        tracing::debug!("connected to {label}");
        Ok(Remote {
            inner,
            label,
            timeout: options.timeout,
            broken: false,
        })
    }

    /// `scheme://user@host:port` of this session (no password).
    pub fn server(&self) -> &str {
        &self.label
    }

    /// False once an operation failed in a way that may have broken the connection, or the
    /// connection is known to be closed.
    pub fn is_usable(&self) -> bool {
        !self.broken
            && match &self.inner {
                Inner::Sftp(s) => !s.is_closed(),
                Inner::Ftp(_) => true,
            }
    }

    fn note<T>(&mut self, result: Result<T, TransferError>) -> Result<T, TransferError> {
        if let Err(e) = &result
            && matches!(
                e,
                TransferError::Timeout { .. }
                    | TransferError::Io { .. }
                    | TransferError::Connect { .. }
            )
        {
            self.broken = true;
        }
        result
    }

    /// The entries of directory `dir` (without `.` and `..`). SFTP: attributes as `lstat`
    /// gives them; FTP: `MLSD` when the server supports it, else `LIST` parsed as `ls -l`.
    pub async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, TransferError> {
        dispatch!(self, r => r.list(dir).await)
    }

    /// What the server says about `path` (symlinks followed on SFTP).
    pub async fn stat(&mut self, path: &str) -> Result<RemoteEntry, TransferError> {
        dispatch!(self, r => r.stat(path).await)
    }

    /// Stream the file at `path` from byte `offset`. As [`crate::Fetcher::open`]: an offset equal
    /// to the size gives an empty download, one beyond it (the file shrank) the whole file with
    /// `offset` 0. The stream fails with a premature EOF if the file ends before its announced
    /// length. FTP: read the stream to its end before using this session again.
    pub async fn get(&mut self, path: &str, offset: u64) -> Result<Download, TransferError> {
        dispatch!(self, r => r.get(path, offset).await)
    }

    /// Write everything `reader` yields to `path` (through `options.inflight` then a rename),
    /// creating missing parent directories, then set mode and mtime. Returns the bytes sent.
    pub async fn put<R>(
        &mut self,
        reader: R,
        path: &str,
        options: &PutOptions,
    ) -> Result<u64, TransferError>
    where
        R: AsyncRead + Unpin + Send,
    {
        dispatch!(self, r => r.put(reader, path, options).await)
    }

    /// Create `dir` and its missing parents (`mkdir -p`), with `mode` on the ones created.
    pub async fn mkdirs(&mut self, dir: &str, mode: Option<u32>) -> Result<(), TransferError> {
        dispatch!(self, r => r.mkdirs(dir, mode).await)
    }

    /// Rename `from` to `to`, replacing `to` if it exists.
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), TransferError> {
        dispatch!(self, r => r.rename(from, to).await)
    }

    /// Remove a file, symlink or empty directory. A path that does not exist is not an error
    /// (sr3's `delete`).
    pub async fn delete(&mut self, path: &str) -> Result<(), TransferError> {
        dispatch!(self, r => r.delete(path).await)
    }

    /// Set permission bits (FTP: `SITE CHMOD`).
    pub async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), TransferError> {
        dispatch!(self, r => r.chmod(path, mode).await)
    }

    /// Set the modification time (FTP: `MFMT`, when the server has it).
    pub async fn set_mtime(&mut self, path: &str, mtime: SystemTime) -> Result<(), TransferError> {
        dispatch!(self, r => r.set_mtime(path, mtime).await)
    }

    /// Log out and close (bounded by the timeout; errors are ignored).
    pub async fn close(self) {
        let timeout = self.timeout;
        let fut = async move {
            match self.inner {
                Inner::Sftp(r) => r.close().await,
                Inner::Ftp(r) => r.close().await,
            }
        };
        let _ = tokio::time::timeout(timeout, fut).await;
    }

    /// Whether this session is FTP (whose downloads hold the connection until read to the end).
    pub(crate) fn is_ftp(&self) -> bool {
        matches!(self.inner, Inner::Ftp(_))
    }
}

/// Run `fut` within `timeout`, mapping the elapsed case to [`TransferError::Timeout`].
pub(crate) async fn timed<T>(
    label: &str,
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, TransferError>>,
) -> Result<T, TransferError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(TransferError::Timeout {
            url: label.to_owned(),
            after: timeout,
        }),
    }
}

/// Copy `reader` into `writer`, each read and each write bounded by `timeout` (local reads too:
/// a stalled source must not hang the upload). `crlf`: turn lone `\n` into `\r\n` (FTP ASCII).
pub(crate) async fn copy_timed<R, W>(
    label: &str,
    timeout: Duration,
    mut reader: R,
    writer: &mut W,
    crlf: bool,
) -> Result<u64, TransferError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut last_cr = false;
    let io_err = |source: std::io::Error| TransferError::Io {
        url: label.to_owned(),
        source,
    };
    let timed_out = || TransferError::Timeout {
        url: label.to_owned(),
        after: timeout,
    };
    loop {
        let n = tokio::time::timeout(timeout, reader.read(&mut buf))
            .await
            .map_err(|_| timed_out())?
            .map_err(io_err)?;
        if n == 0 {
            break;
        }
        let chunk: &[u8] = if crlf {
            out.clear();
            for &b in &buf[..n] {
                if b == b'\n' && !last_cr {
                    out.push(b'\r');
                }
                out.push(b);
                last_cr = b == b'\r';
            }
            &out
        } else {
            &buf[..n]
        };
        tokio::time::timeout(timeout, writer.write_all(chunk))
            .await
            .map_err(|_| timed_out())?
            .map_err(io_err)?;
        total += chunk.len() as u64;
    }
    Ok(total)
}

/// Where an upload writes first: the inflight path (a bare name is put beside the target).
pub(crate) fn inflight_path(path: &str, options: &PutOptions) -> String {
    match options.inflight.as_deref() {
        None | Some("") => path.to_owned(),
        Some(tmp) if tmp.contains('/') => tmp.to_owned(),
        Some(tmp) => match parent_dir(path) {
            Some(dir) => format!("{dir}/{tmp}"),
            None => tmp.to_owned(),
        },
    }
}

/// The directory part of a server path (`None` for a bare name: the login directory).
pub(crate) fn parent_dir(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&trimmed[..i]),
        None => None,
    }
}

/// The last element of a server path.
pub(crate) fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The prefixes of `dir` from the top: `a/b/c` -> `a`, `a/b`, `a/b/c`; `/x/y` -> `/x`, `/x/y`.
pub(crate) fn dir_prefixes(dir: &str) -> Vec<String> {
    let absolute = dir.starts_with('/');
    let mut acc = String::new();
    let mut out = Vec::new();
    for part in dir.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if !acc.is_empty() || absolute {
            acc.push('/');
        }
        acc.push_str(part);
        out.push(acc.clone());
    }
    out
}

/// Fails a stream with `UnexpectedEof` when it ends before `expected` bytes (a server that went
/// away mid-transfer may just close the connection), and stops after `expected` bytes.
pub(crate) struct ExactLength<R> {
    inner: R,
    remaining: u64,
    label: String,
}

impl<R> ExactLength<R> {
    pub(crate) fn new(inner: R, expected: u64, label: String) -> Self {
        ExactLength {
            inner,
            remaining: expected,
            label,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ExactLength<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.remaining == 0 || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let max = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.remaining());
        let mut limited = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(max));
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let n = limited.filled().len();
                if n == 0 {
                    let err = TransferError::Io {
                        url: this.label.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!(
                                "connection ended with {} bytes still expected",
                                this.remaining
                            ),
                        ),
                    };
                    return Poll::Ready(Err(err.into_io()));
                }
                buf.advance(n);
                this.remaining -= n as u64;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Seconds since the epoch, clamped into `u32` (SFTP v3 times) / formatted for FTP `MFMT`.
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(u: &str) -> String {
        remote_path(&url::Url::parse(u).expect("url")).expect("path")
    }

    #[test]
    fn url_paths_follow_the_login_directory_rule() {
        assert_eq!(rp("sftp://h/dir/f.txt"), "dir/f.txt");
        assert_eq!(rp("sftp://h//dir/f.txt"), "/dir/f.txt");
        assert_eq!(rp("sftp://h///dir/f.txt"), "/dir/f.txt");
        assert_eq!(rp("sftp://h/~/dir/f.txt"), "dir/f.txt");
        assert_eq!(rp("ftp://h/%2Fdir/f%20x"), "/dir/f x");
        assert_eq!(rp("ftp://h/"), ".");
        assert_eq!(rp("ftp://h"), ".");
    }

    #[test]
    fn sr3_url_joining() {
        assert_eq!(sr3_remote_url("sftp://u@h", "a/f"), "sftp://u@h/a/f");
        assert_eq!(sr3_remote_url("sftp://u@h/", "a/f"), "sftp://u@h//a/f");
        assert_eq!(sr3_remote_url("sftp://u@h", "/a/f"), "sftp://u@h//a/f");
        assert_eq!(sr3_remote_url("sftp://u@h/d", "a/f"), "sftp://u@h//d/a/f");
        assert_eq!(sr3_remote_url("sftp://u@h//d/", "a/f"), "sftp://u@h//d/a/f");
        assert_eq!(
            sr3_remote_url("ftp://u@h:2121", "a/f"),
            "ftp://u@h:2121/a/f"
        );
        assert_eq!(sr3_remote_url("https://h/d", "a/f"), "https://h/d/a/f");
        let u = url::Url::parse(&sr3_remote_url("sftp://u@h/", "a/f")).expect("url");
        assert_eq!(remote_path(&u).expect("path"), "/a/f");
    }

    #[test]
    fn path_helpers() {
        assert_eq!(dir_prefixes("a/b/c"), ["a", "a/b", "a/b/c"]);
        assert_eq!(dir_prefixes("/x//y/"), ["/x", "/x/y"]);
        assert_eq!(dir_prefixes("."), Vec::<String>::new());
        assert_eq!(parent_dir("a/b/f"), Some("a/b"));
        assert_eq!(parent_dir("/f"), Some("/"));
        assert_eq!(parent_dir("f"), None);
        assert_eq!(base_name("a/b/f"), "f");
        let o = PutOptions {
            inflight: Some(".f.tmp".into()),
            ..Default::default()
        };
        assert_eq!(inflight_path("a/f", &o), "a/.f.tmp");
        assert_eq!(inflight_path("f", &o), ".f.tmp");
        assert_eq!(inflight_path("a/f", &PutOptions::default()), "a/f");
    }

    #[test]
    fn credentials_debug_hides_password() {
        let c = RemoteCredentials {
            password: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn exact_length_reports_truncation() {
        let data: &[u8] = b"abc";
        let mut r = ExactLength::new(data, 5, "x://y".into());
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).await.expect_err("truncated");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(out, b"abc");
        let mut r = ExactLength::new(b"abcdef".as_slice(), 4, "x://y".into());
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.expect("exact");
        assert_eq!(out, b"abcd");
    }
}
