//! FTP and FTPS over suppaftp (sr3's `Ftp` transfer class, ftplib there).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream, AsyncRustlsStream};
use suppaftp::{FtpError, Status};
use tokio::io::{AsyncRead, ReadBuf};

use super::listing::{parse_ftp_time, parse_ls_line, parse_mlsd_line};
use super::{
    PutOptions, RemoteEntry, RemoteOptions, base_name, copy_timed, dir_prefixes, inflight_path,
    parent_dir, server_label, timed, unix_secs, url_password, url_user,
};
use crate::fetch::idle::IdleTimeout;
use crate::{Download, TransferError};

type Transfer = suppaftp::tokio::TransferStream<AsyncRustlsStream>;

pub(super) struct FtpRemote {
    ftp: AsyncRustlsFtpStream,
    label: String,
    timeout: Duration,
    binary: bool,
    mlst: bool,
    mfmt: bool,
    tz: TimeZone,
    /// The login directory (PWD after login); relative paths are relative to it.
    home: String,
}

/// Accepts any certificate (sr3 `tlsRigour lax`).
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector(verify: bool, label: &str) -> Result<AsyncRustlsConnector, TransferError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TransferError::Setup(format!("TLS for {label}: {e}")))?;
    let config = if verify {
        let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
            .map_err(|e| TransferError::Setup(format!("TLS roots for {label}: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    };
    Ok(AsyncRustlsConnector::from(
        tokio_rustls::TlsConnector::from(Arc::new(config)),
    ))
}

/// Turn a suppaftp error into ours. `url` is masked.
fn classify(url: &str, timeout: Duration, operation: &str, e: FtpError) -> TransferError {
    match e {
        FtpError::ConnectionError(source) if source.kind() == io::ErrorKind::TimedOut => {
            TransferError::Timeout {
                url: url.to_owned(),
                after: timeout,
            }
        }
        FtpError::ConnectionError(source) => TransferError::Io {
            url: url.to_owned(),
            source,
        },
        FtpError::SecureError(reason) => TransferError::Connect {
            url: url.to_owned(),
            reason: format!("TLS: {reason}"),
        },
        FtpError::UnexpectedResponse(resp) => {
            let code = resp.status.code();
            let text = String::from_utf8_lossy(&resp.body).trim().to_owned();
            let lower = text.to_ascii_lowercase();
            let missing = [
                "no such file",
                "not found",
                "does not exist",
                "doesn't exist",
                "cannot find",
                "no such directory",
            ]
            .iter()
            .any(|m| lower.contains(m));
            if code == 530 {
                TransferError::Auth {
                    url: url.to_owned(),
                    reason: text,
                }
            } else if (code == 550 || code == 450) && missing {
                TransferError::NotFound {
                    url: url.to_owned(),
                }
            } else {
                TransferError::Remote {
                    url: url.to_owned(),
                    operation: operation.to_owned(),
                    reason: text,
                }
            }
        }
        other => TransferError::Remote {
            url: url.to_owned(),
            operation: operation.to_owned(),
            reason: other.to_string(),
        },
    }
}

impl FtpRemote {
    pub(super) async fn connect(
        url: &url::Url,
        options: &RemoteOptions,
    ) -> Result<FtpRemote, TransferError> {
        let label = server_label(url);
        let timeout = options.timeout;
        let creds = &options.credentials;
        let implicit = creds.implicit_tls;
        let explicit = !implicit && (url.scheme() == "ftps" || creds.tls);
        let host = url
            .host_str()
            .ok_or_else(|| TransferError::InvalidUrl {
                url: label.clone(),
                reason: "no host".into(),
            })?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(if implicit { 990 } else { 21 });
        let c = |op: &'static str| {
            let label = label.clone();
            move |e: FtpError| classify(&label, timeout, op, e)
        };
        let connect_err = |e: io::Error| TransferError::Connect {
            url: label.clone(),
            reason: e.to_string(),
        };
        let addr = timed(&label, timeout, async {
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(connect_err)?
                .next()
                .ok_or_else(|| TransferError::Connect {
                    url: label.clone(),
                    reason: "host name resolves to no address".into(),
                })
        })
        .await?;
        let greeting_err = |e: FtpError| match e {
            FtpError::ConnectionError(io) => TransferError::Connect {
                url: label.clone(),
                reason: io.to_string(),
            },
            other => classify(&label, timeout, "connect", other),
        };
        let mut ftp = if implicit {
            let connector = tls_connector(options.tls_verify, &label)?;
            timed(&label, timeout, async {
                AsyncRustlsFtpStream::connect_secure_implicit(addr, connector, &host)
                    .await
                    .map_err(greeting_err)
            })
            .await?
        } else {
            timed(&label, timeout, async {
                let tcp = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(connect_err)?;
                AsyncRustlsFtpStream::connect_with_stream(tcp)
                    .await
                    .map_err(greeting_err)
            })
            .await?
        };
        if explicit {
            let connector = tls_connector(options.tls_verify, &label)?;
            ftp = timed(&label, timeout, async {
                ftp.into_secure(connector, &host)
                    .await
                    .map_err(c("AUTH TLS"))
            })
            .await?;
        }
        if implicit {
            // suppaftp protects data connections of an implicit session; tell the server so.
            for cmd in ["PBSZ 0", "PROT P"] {
                timed(&label, timeout, async {
                    ftp.custom_command(cmd, &[Status::CommandOk])
                        .await
                        .map(|_| ())
                        .map_err(c("PBSZ/PROT"))
                })
                .await?;
            }
        }
        if !creds.passive {
            ftp = ftp.active_mode(timeout);
        }
        // Like Python's ftplib (sr3): connect data channels to the control connection's host,
        // not to whatever address the PASV reply names (NAT, and no FTP bounce).
        ftp.set_passive_nat_workaround(true);
        let user = url_user(url)
            .or_else(|| creds.user.clone())
            .unwrap_or_else(|| "anonymous".into());
        let password = url_password(url)
            .or_else(|| creds.password.clone())
            .unwrap_or_else(|| "anonymous@".into());
        timed(&label, timeout, async {
            ftp.login(user.as_str(), password.as_str())
                .await
                .map_err(|e| match classify(&label, timeout, "login", e) {
                    TransferError::Remote { url, reason, .. } => {
                        TransferError::Auth { url, reason }
                    }
                    other => other,
                })
        })
        .await?;
        // Plain `TYPE I` / `TYPE A` (some servers refuse suppaftp's `TYPE A N`).
        let type_cmd = if creds.binary { "TYPE I" } else { "TYPE A" };
        timed(&label, timeout, async {
            ftp.custom_command(type_cmd, &[Status::CommandOk])
                .await
                .map(|_| ())
                .map_err(c("TYPE"))
        })
        .await?;
        let features = timed(&label, timeout, async {
            Ok(ftp.feat().await.unwrap_or_default())
        })
        .await?;
        let has = |name: &str| features.keys().any(|k| k.eq_ignore_ascii_case(name));
        let (mlst, mfmt) = (has("MLST"), has("MFMT"));
        if mlst {
            // Ask for the permission bits too (not in every server's default fact set).
            let _ = timed(&label, timeout, async {
                ftp.custom_command(
                    "OPTS MLST type;size;modify;unix.mode;",
                    &[Status::CommandOk],
                )
                .await
                .map_err(c("OPTS"))
            })
            .await;
        }
        let home = timed(&label, timeout, async { ftp.pwd().await.map_err(c("PWD")) }).await?;
        let tz = match options.timezone.as_deref() {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name)
                .map_err(|e| TransferError::Setup(format!("timezone {name:?} for {label}: {e}")))?,
        };
        Ok(FtpRemote {
            ftp,
            label,
            timeout,
            binary: creds.binary,
            mlst,
            mfmt,
            tz,
            home,
        })
    }

    fn url_of(&self, path: &str) -> String {
        format!("{}/{}", self.label, path)
    }

    /// One FTP command within the timeout.
    async fn op<'a, T, F>(
        &'a mut self,
        operation: &str,
        path: &str,
        f: impl FnOnce(&'a mut AsyncRustlsFtpStream) -> F,
    ) -> Result<T, TransferError>
    where
        F: Future<Output = Result<T, FtpError>> + 'a,
    {
        let url = self.url_of(path);
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, f(&mut self.ftp)).await {
            Ok(r) => r.map_err(|e| classify(&url, timeout, operation, e)),
            Err(_) => Err(TransferError::Timeout {
                url,
                after: timeout,
            }),
        }
    }

    fn arg(path: &str) -> Option<&str> {
        (path != "." && !path.is_empty()).then_some(path)
    }

    pub(super) async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, TransferError> {
        if self.mlst {
            let lines = self.op("MLSD", dir, |f| f.mlsd(Self::arg(dir))).await?;
            return Ok(lines.iter().filter_map(|l| parse_mlsd_line(l)).collect());
        }
        let lines = self.op("LIST", dir, |f| f.list(Self::arg(dir))).await?;
        let now = SystemTime::now();
        Ok(lines
            .iter()
            .filter_map(|l| parse_ls_line(l, &self.tz, now))
            .collect())
    }

    pub(super) async fn stat(&mut self, path: &str) -> Result<RemoteEntry, TransferError> {
        let name = base_name(path).to_owned();
        if self.mlst {
            let line = self.op("MLST", path, |f| f.mlst(Some(path))).await?;
            // The fact line ends with the full path; keep the facts, name it ourselves.
            let facts = line.trim().split_once(' ').map_or(line.trim(), |(f, _)| f);
            let mut entry = parse_mlsd_line(&format!("{facts} {name}")).ok_or_else(|| {
                TransferError::Remote {
                    url: self.url_of(path),
                    operation: "MLST".into(),
                    reason: format!("unreadable reply {line:?}"),
                }
            })?;
            entry.name = name;
            return Ok(entry);
        }
        // SIZE answers for files; otherwise look the name up in its directory's listing.
        if let Ok(size) = self.op("SIZE", path, |f| f.size(path)).await {
            let mtime = self.mdtm(path).await;
            return Ok(RemoteEntry {
                name,
                is_dir: false,
                is_symlink: false,
                size: Some(size as u64),
                mtime,
                mode: None,
            });
        }
        let parent = parent_dir(path).unwrap_or(".").to_owned();
        let listing = match self.list(&parent).await {
            Ok(l) => l,
            Err(TransferError::Remote { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        listing
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| TransferError::NotFound {
                url: self.url_of(path),
            })
    }

    async fn mdtm(&mut self, path: &str) -> Option<SystemTime> {
        let cmd = format!("MDTM {path}");
        let resp = self
            .op("MDTM", path, |f| f.custom_command(cmd, &[Status::File]))
            .await
            .ok()?;
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        text.split_whitespace().find_map(parse_ftp_time)
    }

    /// `Some(true)` when `path` is a directory one can enter (CWD there and back home).
    async fn is_dir(&mut self, path: &str) -> Result<bool, TransferError> {
        if self.op("CWD", path, |f| f.cwd(path)).await.is_err() {
            return Ok(false);
        }
        let home = self.home.clone();
        self.op("CWD", &home, |f| f.cwd(home.as_str())).await?;
        Ok(true)
    }

    pub(super) async fn get(&mut self, path: &str, offset: u64) -> Result<Download, TransferError> {
        let size = match self.op("SIZE", path, |f| f.size(path)).await {
            Ok(s) => Some(s as u64),
            Err(e @ TransferError::NotFound { .. }) => return Err(e),
            Err(e @ (TransferError::Timeout { .. } | TransferError::Io { .. })) => return Err(e),
            Err(_) => None,
        };
        let mtime = self.mdtm(path).await;
        let start = match size {
            Some(s) if offset == s => return Ok(Download::empty(offset, size, mtime)),
            Some(s) if offset > s => 0,
            _ => offset,
        };
        if start > 0 {
            let at = usize::try_from(start).map_err(|_| TransferError::InvalidUrl {
                url: self.url_of(path),
                reason: "offset too large".into(),
            })?;
            self.op("REST", path, |f| f.resume_transfer(at)).await?;
        }
        let stream = self.op("RETR", path, |f| f.retr_as_stream(path)).await?;
        let url = self.url_of(path);
        let length = size.map(|s| s - start);
        let reader = FtpReader {
            state: State::Reading(stream),
            expected: length,
            got: 0,
            url: url.clone(),
            timeout: self.timeout,
        };
        Ok(Download {
            reader: Box::pin(IdleTimeout::new(reader, self.timeout, url)),
            offset: start,
            length,
            total_size: size,
            mtime,
        })
    }

    pub(super) async fn put<R>(
        &mut self,
        reader: R,
        path: &str,
        options: &PutOptions,
    ) -> Result<u64, TransferError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let temp = inflight_path(path, options);
        for p in [path, temp.as_str()] {
            if let Some(dir) = parent_dir(p) {
                self.mkdirs(dir, options.dir_mode).await?;
            }
        }
        let mut stream = self
            .op("STOR", &temp, |f| f.put_with_stream(temp.as_str()))
            .await?;
        let url = self.url_of(&temp);
        let sent = copy_timed(&url, self.timeout, reader, &mut stream, !self.binary).await?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, stream.finish()).await {
            Ok(r) => r.map_err(|e| classify(&url, timeout, "STOR", e))?,
            Err(_) => {
                return Err(TransferError::Timeout {
                    url,
                    after: timeout,
                });
            }
        }
        // Mode and times on the inflight file, then the rename: the final name appears with
        // them already set. (Set after the rename, a downstream poll listing in between saw
        // the file with the time of the upload and announced it a second time.)
        if let Some(mode) = options.mode {
            self.chmod(&temp, mode).await?;
        }
        if let Some(mtime) = options.mtime {
            self.set_mtime(&temp, mtime).await?;
        }
        if temp != path {
            self.rename(&temp, path).await?;
        }
        Ok(sent)
    }

    pub(super) async fn mkdirs(
        &mut self,
        dir: &str,
        mode: Option<u32>,
    ) -> Result<(), TransferError> {
        if self.is_dir(dir).await? {
            return Ok(());
        }
        for prefix in dir_prefixes(dir) {
            match self.op("MKD", &prefix, |f| f.mkdir(prefix.as_str())).await {
                Ok(()) => {
                    if let Some(mode) = mode {
                        self.chmod(&prefix, mode).await?;
                    }
                }
                // Exists already (or cannot be made: then the next step says so).
                Err(e @ (TransferError::Timeout { .. } | TransferError::Io { .. })) => {
                    return Err(e);
                }
                Err(e) => {
                    if !self.is_dir(&prefix).await? {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Result<(), TransferError> {
        match self.op("RNFR/RNTO", from, |f| f.rename(from, to)).await {
            Ok(()) => Ok(()),
            // Some servers refuse to replace an existing target.
            Err(TransferError::Remote { .. })
                if self.op("DELE", to, |f| f.rm(to)).await.is_ok() =>
            {
                self.op("RNFR/RNTO", from, |f| f.rename(from, to)).await
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn delete(&mut self, path: &str) -> Result<(), TransferError> {
        let first = match self.op("DELE", path, |f| f.rm(path)).await {
            Ok(()) => return Ok(()),
            Err(e @ (TransferError::Timeout { .. } | TransferError::Io { .. })) => return Err(e),
            Err(e) => e,
        };
        if self.op("RMD", path, |f| f.rmdir(path)).await.is_ok() {
            return Ok(());
        }
        match self.stat(path).await {
            Err(TransferError::NotFound { .. }) => Ok(()),
            Ok(_) => Err(first),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), TransferError> {
        let cmd = format!("CHMOD {:o} {path}", mode & 0o7777);
        self.op("SITE CHMOD", path, |f| f.site(cmd))
            .await
            .map(|_| ())
    }

    pub(super) async fn set_mtime(
        &mut self,
        path: &str,
        mtime: SystemTime,
    ) -> Result<(), TransferError> {
        if !self.mfmt {
            return Err(TransferError::Remote {
                url: self.url_of(path),
                operation: "MFMT".into(),
                reason: "the server does not support MFMT (setting modification times)".into(),
            });
        }
        let ts = jiff::Timestamp::from_second(unix_secs(mtime)).map_err(|e| {
            TransferError::InvalidUrl {
                url: self.url_of(path),
                reason: format!("mtime out of range: {e}"),
            }
        })?;
        let cmd = format!("MFMT {} {path}", ts.strftime("%Y%m%d%H%M%S"));
        self.op("MFMT", path, |f| f.custom_command(cmd, &[Status::File]))
            .await
            .map(|_| ())
    }

    pub(super) async fn close(mut self) {
        let _ = self.ftp.quit().await;
    }
}

enum State {
    Reading(Transfer),
    Finishing(Pin<Box<dyn Future<Output = Result<(), FtpError>> + Send>>),
    Done,
}

/// The data connection of a `RETR`; at its end, waits for the server's completion reply (a
/// transfer the server reports as failed is an error, not a silent short file).
struct FtpReader {
    state: State,
    expected: Option<u64>,
    got: u64,
    url: String,
    timeout: Duration,
}

impl AsyncRead for FtpReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Done => return Poll::Ready(Ok(())),
                State::Reading(stream) => {
                    let remaining = this.expected.map(|e| e.saturating_sub(this.got));
                    if remaining != Some(0) && buf.remaining() > 0 {
                        let max = remaining
                            .and_then(|r| usize::try_from(r).ok())
                            .unwrap_or(usize::MAX)
                            .min(buf.remaining());
                        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(max));
                        match Pin::new(&mut *stream).poll_read(cx, &mut limited) {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Ready(Ok(())) => {
                                let n = limited.filled().len();
                                if n > 0 {
                                    buf.advance(n);
                                    this.got += n as u64;
                                    return Poll::Ready(Ok(()));
                                }
                                if let Some(r) = remaining {
                                    let err = TransferError::Io {
                                        url: this.url.clone(),
                                        source: io::Error::new(
                                            io::ErrorKind::UnexpectedEof,
                                            format!(
                                                "data connection ended with {r} bytes still expected"
                                            ),
                                        ),
                                    };
                                    this.state = State::Done;
                                    return Poll::Ready(Err(err.into_io()));
                                }
                            }
                        }
                    } else if buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    // All expected bytes (or EOF): collect the completion reply.
                    let State::Reading(stream) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        return Poll::Ready(Ok(()));
                    };
                    this.state = State::Finishing(Box::pin(stream.finish()));
                }
                State::Finishing(fut) => {
                    let result = match fut.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r,
                    };
                    this.state = State::Done;
                    match result {
                        Ok(()) => return Poll::Ready(Ok(())),
                        // Every announced byte arrived: a late complaint does not matter.
                        Err(e) if this.expected.is_some() => {
                            tracing::debug!("{}: after a complete transfer: {e}", this.url);
                            return Poll::Ready(Ok(()));
                        }
                        Err(e) => {
                            let err = classify(&this.url, this.timeout, "RETR", e);
                            return Poll::Ready(Err(err.into_io()));
                        }
                    }
                }
            }
        }
    }
}
