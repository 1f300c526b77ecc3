//! SFTP over russh + russh-sftp (sr3's `Sftp` transfer class, paramiko there). As sr3 does,
//! `~/.ssh/config` supplies `HostName`, `Port`, `User` and `IdentityFile` for the URL's host
//! when the URL and credentials.conf do not.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use tokio::io::{AsyncRead, AsyncSeekExt as _, AsyncWriteExt as _};

use super::{
    ExactLength, PutOptions, RemoteEntry, RemoteOptions, base_name, copy_timed, dir_prefixes,
    inflight_path, parent_dir, server_label, timed, unix_secs, url_password, url_user,
};
use crate::fetch::idle::IdleTimeout;
use crate::{Download, TransferError};

/// Checks the server's host key against known_hosts; records why it refused one.
struct HostKeyCheck {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_unknown: bool,
    label: String,
    refusal: Arc<Mutex<Option<String>>>,
}

impl HostKeyCheck {
    fn refuse(&self, reason: String) -> bool {
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(reason);
        }
        false
    }

    fn check(&self, key: &PublicKeyOrCertificate) -> bool {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return self.refuse("host certificates are not supported".into());
            }
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256);
        let file = self.known_hosts.display();
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => true,
            Ok(false) if self.accept_unknown => {
                tracing::warn!(
                    "{}: host key {fingerprint} is not in {file}; accepted (accept_unknown_hosts)",
                    self.label
                );
                true
            }
            Ok(false) => self.refuse(format!(
                "host key {} {fingerprint} is not in {file} (add it, e.g. with `ssh-keyscan -p {} {} >> {file}`, \
                 or set accept_unknown_hosts)",
                key.algorithm(),
                self.port,
                self.host
            )),
            Err(russh::keys::Error::KeyChanged { line }) => self.refuse(format!(
                "HOST KEY CHANGED: the server sent {fingerprint}, which differs from line {line} of {file} \
                 (possible man-in-the-middle; never accepted, even with accept_unknown_hosts)"
            )),
            Err(e) if self.accept_unknown => {
                tracing::warn!(
                    "{}: cannot check host key against {file} ({e}); accepted (accept_unknown_hosts)",
                    self.label
                );
                true
            }
            Err(e) => self.refuse(format!("cannot check the host key against {file}: {e}")),
        }
    }
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(self.check(server_public_key))
    }
}

pub(super) struct SftpRemote {
    handle: Handle<HostKeyCheck>,
    sftp: SftpSession,
    label: String,
    timeout: Duration,
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// What `~/.ssh/config` says for a host: sr3 (paramiko's `SSHConfig.lookup`) takes `HostName`,
/// `Port`, `User` and `IdentityFile` from it. The URL and credentials.conf win over it; a missing
/// file means nothing, an unreadable one is logged and ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SshHostConfig {
    pub host_name: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// The first `IdentityFile` that exists (`~` expanded).
    pub identity_file: Option<PathBuf>,
}

/// Look `host` up in the OpenSSH client configuration at `path`.
pub(crate) fn ssh_config_lookup(path: &Path, host: &str) -> SshHostConfig {
    use ssh2_config::{ParseRule, SshConfig};
    let Ok(f) = std::fs::File::open(path) else {
        return SshHostConfig::default();
    };
    let mut reader = std::io::BufReader::new(f);
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    let config = match SshConfig::default().parse(&mut reader, rules) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("{}: {e} (ignored)", path.display());
            return SshHostConfig::default();
        }
    };
    let p = config.query(host);
    SshHostConfig {
        host_name: p.host_name.filter(|h| !h.is_empty()),
        port: p.port,
        user: p.user.filter(|u| !u.is_empty()),
        identity_file: p
            .identity_file
            .unwrap_or_default()
            .into_iter()
            .find(|f| f.is_file()),
    }
}

/// The keys sr3/paramiko look for when no `ssh_keyfile` is given.
fn default_keys() -> Vec<PathBuf> {
    let Some(home) = home_dir() else {
        return Vec::new();
    };
    let mut names = vec!["id_ed25519", "id_ecdsa"];
    if cfg!(feature = "rsa") {
        names.push("id_rsa");
    }
    names
        .into_iter()
        .map(|n| home.join(".ssh").join(n))
        .filter(|p| p.is_file())
        .collect()
}

fn connect_err(label: &str, e: impl std::fmt::Display) -> TransferError {
    TransferError::Connect {
        url: label.to_owned(),
        reason: e.to_string(),
    }
}

impl SftpRemote {
    pub(super) async fn connect(
        url: &url::Url,
        options: &RemoteOptions,
    ) -> Result<SftpRemote, TransferError> {
        let label = server_label(url);
        let timeout = options.timeout;
        let host = url
            .host_str()
            .ok_or_else(|| TransferError::InvalidUrl {
                url: label.clone(),
                reason: "no host".into(),
            })?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let ssh_config = home_dir()
            .map(|h| ssh_config_lookup(&h.join(".ssh").join("config"), &host))
            .unwrap_or_default();
        if ssh_config != SshHostConfig::default() {
            tracing::debug!("{label}: ~/.ssh/config gives {ssh_config:?}");
        }
        let host = ssh_config.host_name.clone().unwrap_or(host);
        let port = url.port().or(ssh_config.port).unwrap_or(22);
        let known_hosts = match &options.known_hosts {
            Some(p) => p.clone(),
            None => home_dir()
                .map(|h| h.join(".ssh").join("known_hosts"))
                .unwrap_or_else(|| PathBuf::from(".ssh/known_hosts")),
        };
        let refusal = Arc::new(Mutex::new(None));
        let handler = HostKeyCheck {
            host: host.clone(),
            port,
            known_hosts,
            accept_unknown: options.accept_unknown_hosts,
            label: label.clone(),
            refusal: Arc::clone(&refusal),
        };
        let config = Arc::new(client::Config {
            // Detect a dead peer on idle cached connections: 3 unanswered keepalives.
            keepalive_interval: Some(timeout.max(Duration::from_secs(1))),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let connected = tokio::time::timeout(
            timeout,
            client::connect(config, (host.as_str(), port), handler),
        )
        .await;
        let mut handle = match connected {
            Err(_) => {
                return Err(TransferError::Timeout {
                    url: label,
                    after: timeout,
                });
            }
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let refused = refusal.lock().ok().and_then(|mut r| r.take());
                return Err(match refused {
                    Some(reason) => TransferError::HostKey { url: label, reason },
                    None => connect_err(&label, e),
                });
            }
        };
        let creds = &options.credentials;
        let user = url_user(url)
            .or_else(|| creds.user.clone())
            .or_else(|| ssh_config.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .ok_or_else(|| TransferError::Auth {
                url: label.clone(),
                reason: "no user name (none in the URL, the credentials, or $USER)".into(),
            })?;
        let password = url_password(url).or_else(|| creds.password.clone());
        timed(
            &label,
            timeout,
            authenticate(
                &mut handle,
                &label,
                &user,
                password,
                creds
                    .ssh_keyfile
                    .as_deref()
                    .or(ssh_config.identity_file.as_deref()),
            ),
        )
        .await?;
        let sftp = timed(&label, timeout, async {
            let channel = handle
                .channel_open_session()
                .await
                .map_err(|e| connect_err(&label, e))?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| connect_err(&label, e))?;
            let config = russh_sftp::client::Config {
                request_timeout_secs: timeout.as_secs_f64().ceil().max(1.0) as u64,
                ..Default::default()
            };
            SftpSession::new_with_config(channel.into_stream(), config)
                .await
                .map_err(|e| connect_err(&label, format!("SFTP subsystem: {e}")))
        })
        .await?;
        Ok(SftpRemote {
            handle,
            sftp,
            label,
            timeout,
        })
    }

    pub(super) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// `sftp://user@host:port/path` in the URL convention (an absolute path gives `//`).
    fn url_of(&self, path: &str) -> String {
        format!("{}/{}", self.label, path)
    }

    fn classify(&self, operation: &str, path: &str, e: SftpError) -> TransferError {
        let url = self.url_of(path);
        match e {
            SftpError::Status(s) => match s.status_code {
                StatusCode::NoSuchFile => TransferError::NotFound { url },
                StatusCode::NoConnection | StatusCode::ConnectionLost => TransferError::Io {
                    url,
                    source: std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        s.error_message,
                    ),
                },
                code => TransferError::Remote {
                    url,
                    operation: operation.to_owned(),
                    reason: if s.error_message.is_empty() {
                        code.to_string()
                    } else {
                        format!("{code}: {}", s.error_message)
                    },
                },
            },
            SftpError::Timeout => TransferError::Timeout {
                url,
                after: self.timeout,
            },
            SftpError::IO(msg) => TransferError::Io {
                url,
                source: std::io::Error::other(msg),
            },
            other => TransferError::Remote {
                url,
                operation: operation.to_owned(),
                reason: other.to_string(),
            },
        }
    }

    fn io_err(&self, path: &str, source: std::io::Error) -> TransferError {
        TransferError::Io {
            url: self.url_of(path),
            source,
        }
    }

    /// Run one SFTP request within the timeout, classifying its error.
    async fn op<T>(
        &self,
        operation: &str,
        path: &str,
        fut: impl std::future::Future<Output = Result<T, SftpError>>,
    ) -> Result<T, TransferError> {
        let url = self.url_of(path);
        timed(&url, self.timeout, async {
            fut.await.map_err(|e| self.classify(operation, path, e))
        })
        .await
    }

    pub(super) async fn list(&mut self, dir: &str) -> Result<Vec<RemoteEntry>, TransferError> {
        let entries = self.op("readdir", dir, self.sftp.read_dir(dir)).await?;
        Ok(entries
            .filter(|e| {
                let n = e.file_name();
                n != "." && n != ".."
            })
            .map(|e| entry(e.file_name(), &e.metadata()))
            .collect())
    }

    pub(super) async fn stat(&mut self, path: &str) -> Result<RemoteEntry, TransferError> {
        let attrs = self.op("stat", path, self.sftp.metadata(path)).await?;
        Ok(entry(base_name(path).to_owned(), &attrs))
    }

    pub(super) async fn get(&mut self, path: &str, offset: u64) -> Result<Download, TransferError> {
        let mut file = self.op("open", path, self.sftp.open(path)).await?;
        let attrs = self.op("fstat", path, file.metadata()).await?;
        if attrs.is_dir() {
            return Err(TransferError::InvalidUrl {
                url: self.url_of(path),
                reason: "a directory, not a file".into(),
            });
        }
        let mtime = attrs.mtime.map(secs_to_time);
        let Some(size) = attrs.size else {
            // No size: stream to EOF from the start.
            let url = self.url_of(path);
            let reader = IdleTimeout::new(file, self.timeout, url);
            return Ok(Download {
                reader: Box::pin(reader),
                offset: 0,
                length: None,
                total_size: None,
                mtime,
            });
        };
        if offset == size {
            return Ok(Download::empty(offset, Some(size), mtime));
        }
        let start = if offset < size { offset } else { 0 };
        if start > 0 {
            timed(&self.url_of(path), self.timeout, async {
                file.seek(SeekFrom::Start(start))
                    .await
                    .map_err(|e| self.io_err(path, e))
            })
            .await?;
        }
        let url = self.url_of(path);
        let length = size - start;
        let reader = ExactLength::new(
            IdleTimeout::new(file, self.timeout, url.clone()),
            length,
            url,
        );
        Ok(Download {
            reader: Box::pin(reader),
            offset: start,
            length: Some(length),
            total_size: Some(size),
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
        for p in [Some(path), Some(temp.as_str())] {
            if let Some(dir) = p.and_then(parent_dir) {
                self.mkdirs(dir, options.dir_mode).await?;
            }
        }
        let mut file = self
            .op("create", &temp, self.sftp.create(temp.as_str()))
            .await?;
        let url = self.url_of(&temp);
        let sent = copy_timed(&url, self.timeout, reader, &mut file, false).await?;
        timed(&url, self.timeout, async {
            file.shutdown().await.map_err(|e| self.io_err(&temp, e))
        })
        .await?;
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
        if self.is_dir(dir).await? == Some(true) {
            return Ok(());
        }
        for prefix in dir_prefixes(dir) {
            match self.is_dir(&prefix).await? {
                Some(true) => continue,
                Some(false) => {
                    return Err(TransferError::Remote {
                        url: self.url_of(&prefix),
                        operation: "mkdir".into(),
                        reason: "exists and is not a directory".into(),
                    });
                }
                None => {}
            }
            let made = self
                .op("mkdir", &prefix, self.sftp.create_dir(prefix.as_str()))
                .await;
            if let Err(e) = made {
                // Someone else may have created it meanwhile.
                if self.is_dir(&prefix).await? != Some(true) {
                    return Err(e);
                }
            } else if let Some(mode) = mode {
                self.chmod(&prefix, mode).await?;
            }
        }
        Ok(())
    }

    /// `Some(is_dir)` when `path` exists, `None` when it does not.
    async fn is_dir(&self, path: &str) -> Result<Option<bool>, TransferError> {
        match self.op("stat", path, self.sftp.metadata(path)).await {
            Ok(a) => Ok(Some(a.is_dir())),
            Err(TransferError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Result<(), TransferError> {
        let first = self.op("rename", from, self.sftp.rename(from, to)).await;
        match first {
            Ok(()) => Ok(()),
            // SFTP v3 rename refuses an existing target (OpenSSH): remove it, then rename.
            Err(TransferError::Remote { .. }) if self.is_dir(to).await? == Some(false) => {
                self.op("remove", to, self.sftp.remove_file(to)).await?;
                self.op("rename", from, self.sftp.rename(from, to)).await
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn delete(&mut self, path: &str) -> Result<(), TransferError> {
        let attrs = match self
            .op("lstat", path, self.sftp.symlink_metadata(path))
            .await
        {
            Ok(a) => a,
            Err(TransferError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let result = if attrs.is_dir() {
            self.op("rmdir", path, self.sftp.remove_dir(path)).await
        } else {
            self.op("remove", path, self.sftp.remove_file(path)).await
        };
        match result {
            Err(TransferError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    pub(super) async fn chmod(&mut self, path: &str, mode: u32) -> Result<(), TransferError> {
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(mode & 0o7777);
        self.op("chmod", path, self.sftp.set_metadata(path, attrs))
            .await
    }

    pub(super) async fn set_mtime(
        &mut self,
        path: &str,
        mtime: SystemTime,
    ) -> Result<(), TransferError> {
        let secs = u32::try_from(unix_secs(mtime).max(0)).unwrap_or(u32::MAX);
        let mut attrs = FileAttributes::empty();
        // SFTP v3 sets both times together.
        attrs.atime = Some(secs);
        attrs.mtime = Some(secs);
        self.op("utime", path, self.sftp.set_metadata(path, attrs))
            .await
    }

    pub(super) async fn close(self) {
        let _ = self.sftp.close().await;
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

async fn authenticate(
    handle: &mut Handle<HostKeyCheck>,
    label: &str,
    user: &str,
    password: Option<String>,
    keyfile: Option<&Path>,
) -> Result<(), TransferError> {
    let auth_err = |reason: String| TransferError::Auth {
        url: label.to_owned(),
        reason,
    };
    // sr3: an ssh_keyfile wins over a password; a password means password authentication.
    let keys: Vec<PathBuf> = match (keyfile, &password) {
        (Some(k), _) => vec![k.to_path_buf()],
        (None, Some(pw)) => {
            let result = handle
                .authenticate_password(user, pw.as_str())
                .await
                .map_err(|e| connect_err(label, e))?;
            return if result.success() {
                Ok(())
            } else {
                Err(auth_err(format!("password refused for user {user:?}")))
            };
        }
        (None, None) => default_keys(),
    };
    if keys.is_empty() {
        return Err(auth_err(
            "no password and no key (give ssh_keyfile, or create ~/.ssh/id_ed25519)".into(),
        ));
    }
    let mut problems = Vec::new();
    for path in &keys {
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(e) => {
                problems.push(format!("cannot load key {}: {e}", path.display()));
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| connect_err(label, e))?
                .flatten()
        } else {
            None
        };
        let result = handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| connect_err(label, e))?;
        if result.success() {
            return Ok(());
        }
        problems.push(format!("key {} refused", path.display()));
    }
    Err(auth_err(format!("user {user:?}: {}", problems.join("; "))))
}

fn secs_to_time(secs: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

fn entry(name: String, attrs: &FileAttributes) -> RemoteEntry {
    let is_dir = attrs.is_dir();
    RemoteEntry {
        name,
        is_dir,
        is_symlink: attrs.is_symlink(),
        size: if is_dir { None } else { attrs.size },
        mtime: attrs.mtime.map(secs_to_time),
        mode: attrs.permissions.map(|p| p & 0o7777),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_gives_host_name_port_user_and_the_first_existing_identity() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_test");
        std::fs::write(&key, "not read here").unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(
            &cfg,
            format!(
                "# comment\nHost pump-a pump-b\n    HostName 192.0.2.7\n    Port 2222\n    User bob\n    IdentityFile {missing}\n    IdentityFile {key}\n    ForwardAgent yes\n    SomeFutureOption 1\n\nHost *\n    User fallback\n    Port 22\n",
                missing = dir.path().join("missing").display(),
                key = key.display()
            ),
        )
        .unwrap();
        let a = ssh_config_lookup(&cfg, "pump-b");
        assert_eq!(
            a,
            SshHostConfig {
                host_name: Some("192.0.2.7".into()),
                port: Some(2222),
                user: Some("bob".into()),
                identity_file: Some(key.clone()),
            }
        );
        // First match wins per field; other hosts get only the `Host *` values.
        let other = ssh_config_lookup(&cfg, "elsewhere");
        assert_eq!(other.host_name, None);
        assert_eq!(other.user.as_deref(), Some("fallback"));
        assert_eq!(other.port, Some(22));
        assert_eq!(other.identity_file, None);
        // No file: nothing.
        assert_eq!(
            ssh_config_lookup(&dir.path().join("none"), "pump-a"),
            SshHostConfig::default()
        );
    }
}
