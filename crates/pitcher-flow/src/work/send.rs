//! The work step of `sender`: copy the announced local file to `sendTo` (sftp, ftp, ftps), under
//! an inflight name then renamed, creating the remote directories (`mkdir -p`), with mode and
//! mtime when `permCopy`/`timeCopy` ask; apply `fileOp` remove/rename/mkdir remotely.
//!
//! Where the local file is: `baseDir` + relPath when `baseDir` is set (sr3), else the path of a
//! `file:` baseUrl + relPath. relPath comes from an untrusted message: `..`, `.`, empty and NUL
//! parts are refused (403), so a sender never reads outside `baseDir`; nor do symbolic links: a
//! relPath whose resolved path leaves the base (a link inside `baseDir` pointing outside it, in
//! the file name or any directory) is refused with 403 too.
//! Where it goes: the placement's directory (`directory` + the mirrored directories of relPath)
//! and file name, on the server of `sendTo`; a relative directory is relative to the login
//! directory, as in sr3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pitcher_config::LoadedFlow;
use pitcher_core::FileOpKind;
use pitcher_transfer::{PutOptions, Remote, RemoteOptions, TransferError};
use tokio::sync::Mutex;

use super::inflight::Inflight;
use super::remote_options;
use crate::item::{Disposition, Item};
use crate::logline;

/// Sends files to one destination; keeps idle connections for the next transfers.
pub struct Sender {
    send_to: url::Url,
    options: RemoteOptions,
    idle: Mutex<Vec<Remote>>,
    inflight: Inflight,
    base_dir: Option<PathBuf>,
    perm_copy: bool,
    perm_default: u32,
    perm_dir_default: u32,
    time_copy: bool,
    file_events: std::collections::BTreeSet<String>,
    attempts: u32,
}

/// Connections kept open between transfers.
const MAX_IDLE: usize = 8;

impl Sender {
    /// From the flow's options; `None` when `sendTo` is not set.
    pub fn new(flow: &Arc<LoadedFlow>, inflight: Inflight) -> Result<Self, String> {
        let o = &flow.options;
        let Some(send_to) = o.send_to.as_ref() else {
            return Err("sender needs sendTo (the server to send to)".into());
        };
        let text = send_to.to_string();
        let mut url = url::Url::parse(&text).map_err(|e| format!("sendTo is not a URL: {e}"))?;
        match url.scheme() {
            "sftp" | "ftp" | "ftps" => {}
            other => {
                return Err(format!(
                    "sendTo: cannot send with {other}: (use sftp://, ftp:// or ftps://)"
                ));
            }
        }
        let options = remote_options(flow, &mut url);
        Ok(Sender {
            send_to: url,
            options,
            idle: Mutex::new(Vec::new()),
            inflight,
            base_dir: o.base_dir.as_ref().map(PathBuf::from),
            perm_copy: o.perm_copy,
            perm_default: o.perm_default,
            perm_dir_default: o.perm_dir_default,
            time_copy: o.time_copy,
            file_events: o.file_events.clone(),
            attempts: u32::try_from(o.attempts.clamp(1, 100)).unwrap_or(3),
        })
    }

    async fn session(&self) -> Result<Remote, TransferError> {
        if let Some(r) = self.idle.lock().await.pop() {
            return Ok(r);
        }
        Remote::connect(&self.send_to, &self.options).await
    }

    async fn give_back(&self, r: Remote) {
        if r.is_usable() {
            let mut idle = self.idle.lock().await;
            if idle.len() < MAX_IDLE {
                idle.push(r);
                return;
            }
        }
        r.close().await;
    }

    /// Closes the idle connections.
    pub async fn close(&self) {
        let all: Vec<Remote> = std::mem::take(&mut *self.idle.lock().await);
        for r in all {
            r.close().await;
        }
    }

    /// The local file a message names (see the module comment), or why it cannot be read.
    /// Where the old file of a rename is on the remote, when the old path can be placed like
    /// the new one: the old path relative to `baseDir` (it is the local path of the old file;
    /// sr3 form) replacing the relPath at the end of `target` (`mirror`). Each part must be a
    /// plain name, as for every path taken from a message.
    fn old_target(&self, old: &str, rel_path: &str, target: &str) -> Option<String> {
        let base = self
            .base_dir
            .as_ref()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let old_rel = old.strip_prefix(&base)?.strip_prefix('/')?;
        let new_rel = rel_path.trim_start_matches('/');
        let prefix = target.strip_suffix(new_rel)?;
        let plain = |p: &str| {
            !p.is_empty()
                && p.split('/')
                    .all(|w| !w.is_empty() && w != "." && w != ".." && !w.contains('\0'))
        };
        (plain(old_rel) && plain(new_rel) && (prefix.is_empty() || prefix.ends_with('/')))
            .then(|| format!("{prefix}{old_rel}"))
    }

    fn local_path(&self, item: &Item) -> Result<PathBuf, (u16, String)> {
        let m = &item.msg;
        let rel = m.rel_path.trim_start_matches('/');
        let parts: Vec<&str> = rel.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
        {
            return Err((403, format!("unsafe relPath {:?}", m.rel_path)));
        }
        if let Some(base) = &self.base_dir {
            return confined(base, &parts);
        }
        let base = url::Url::parse(&m.base_url)
            .map_err(|e| (417, format!("bad baseUrl {:?}: {e}", m.base_url)))?;
        if base.scheme() != "file" {
            return Err((
                422,
                format!(
                    "sender reads local files: set baseDir (the baseUrl is {})",
                    base.scheme()
                ),
            ));
        }
        let root = base
            .to_file_path()
            .map_err(|()| (417, format!("bad file baseUrl {:?}", m.base_url)))?;
        confined(&root, &parts)
    }

    fn remote_target(item: &Item) -> Option<(String, String)> {
        let p = item.placement.as_ref()?;
        let dir = p.new_dir.clone().unwrap_or_default();
        Some((dir, p.new_file.clone()))
    }

    /// Sends (or applies the file operation of) one accepted item.
    pub async fn send(&self, item: &mut Item) {
        let Some((dir, file)) = Self::remote_target(item) else {
            item.reject(422, "cannot determine the remote destination");
            return;
        };
        if file.is_empty() || file.contains('/') || file == ".." || file == "." {
            item.reject(403, format!("unsafe remote file name {file:?}"));
            return;
        }
        let target = if dir.is_empty() {
            file.clone()
        } else {
            format!("{}/{file}", dir.trim_end_matches('/'))
        };
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            match self.send_once(item, &dir, &file, &target).await {
                Ok(verb) => {
                    logline::work_ok(verb, &target);
                    item.disposition = Disposition::Ok;
                    return;
                }
                Err(SendError::Reject(code, reason)) => {
                    // Not the filter's choice: the product is not sent, always worth a line
                    // (as for a failed download). A file event left out on purpose (202) is
                    // not news; a 403 is logged by the flow (once).
                    if code != 202 && code != 403 {
                        tracing::warn!("send of {} failed: {code} {reason}", item.msg.rel_path);
                    }
                    item.reject(code, reason);
                    return;
                }
                Err(SendError::Retry(reason)) => {
                    tracing::warn!(
                        "send of {} failed (attempt {}/{}): {reason}",
                        item.msg.rel_path,
                        attempt + 1,
                        self.attempts.max(1)
                    );
                    last = reason;
                }
            }
        }
        item.fail(last);
    }

    async fn send_once(
        &self,
        item: &mut Item,
        dir: &str,
        file: &str,
        target: &str,
    ) -> Result<&'static str, SendError> {
        if let Some(op) = item.msg.file_op.clone() {
            let kind = op.kind();
            let event = super::fileop::event_name(kind);
            if !self.file_events.contains(event) {
                return Err(SendError::Reject(202, format!("{event} not in fileEvents")));
            }
            let mut r = self.session().await.map_err(SendError::from)?;
            let result = match kind {
                FileOpKind::Remove | FileOpKind::Rmdir => {
                    r.delete(target).await.map(|()| "removed")
                }
                FileOpKind::Mkdir => r
                    .mkdirs(target, Some(self.perm_dir_default).filter(|m| *m != 0))
                    .await
                    .map(|()| "directory"),
                FileOpKind::Rename => {
                    // The old name in the same remote directory tree: sr3 renames on the remote
                    // when it can, and sends the file again otherwise.
                    let old = op.rename.as_deref().unwrap_or_default();
                    let old_name = old.rsplit('/').next().unwrap_or_default();
                    if let Some(from) = self.old_target(old, &item.msg.rel_path, target) {
                        let mut done = r.rename(&from, target).await;
                        if done.is_err()
                            && let Some((parent, _)) = target.rsplit_once('/')
                            && r.mkdirs(parent, Some(self.perm_dir_default).filter(|m| *m != 0))
                                .await
                                .is_ok()
                        {
                            // The new directory may not exist yet.
                            done = r.rename(&from, target).await;
                        }
                        done.map(|()| "renamed")
                    } else if old_name.is_empty() || old_name == ".." || old_name == "." {
                        Err(TransferError::Remote {
                            url: pitcher_transfer::mask_url(&self.send_to),
                            operation: "rename".into(),
                            reason: "no usable old name".into(),
                        })
                    } else {
                        let from = if dir.is_empty() {
                            old_name.to_string()
                        } else {
                            format!("{}/{old_name}", dir.trim_end_matches('/'))
                        };
                        r.rename(&from, target).await.map(|()| "renamed")
                    }
                }
                _ => {
                    self.give_back(r).await;
                    return Err(SendError::Reject(
                        501,
                        format!("{event} is not sent to remote servers by this version"),
                    ));
                }
            };
            self.give_back(r).await;
            return match result {
                Ok(v) => Ok(v),
                Err(e)
                    if matches!(kind, FileOpKind::Remove | FileOpKind::Rmdir)
                        && matches!(e, TransferError::NotFound { .. }) =>
                {
                    Ok("removed")
                }
                Err(e) if kind == FileOpKind::Rename => {
                    // Fall back to sending the file under its new name.
                    tracing::debug!("remote rename failed ({e}); sending the file instead");
                    self.put(item, dir, file, target).await
                }
                Err(e) => Err(e.into()),
            };
        }
        self.put(item, dir, file, target).await
    }

    async fn put(
        &self,
        item: &mut Item,
        dir: &str,
        file: &str,
        target: &str,
    ) -> Result<&'static str, SendError> {
        let local = self
            .local_path(item)
            .map_err(|(c, r)| SendError::Reject(c, r))?;
        let f = match tokio::fs::File::open(&local).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SendError::Reject(
                    404,
                    format!("{} does not exist (any more)", local.display()),
                ));
            }
            Err(e) => {
                return Err(SendError::Retry(format!(
                    "cannot open {}: {e}",
                    local.display()
                )));
            }
        };
        let meta = f
            .metadata()
            .await
            .map_err(|e| SendError::Retry(format!("cannot stat {}: {e}", local.display())))?;
        if !meta.is_file() {
            return Err(SendError::Reject(
                422,
                format!("{} is not a regular file", local.display()),
            ));
        }
        let mode = if self.perm_copy {
            item.msg.mode.as_ref().map(|m| m.0 & 0o7777)
        } else {
            None
        }
        .or((self.perm_default != 0).then_some(self.perm_default));
        let mtime = if self.time_copy {
            item.msg
                .mtime
                .as_ref()
                .and_then(super::download::to_system_time)
                .or_else(|| meta.modified().ok())
        } else {
            None
        };
        let options = PutOptions {
            inflight: inflight_name(&self.inflight, dir, file),
            mode,
            mtime,
            dir_mode: Some(self.perm_dir_default).filter(|m| *m != 0),
        };
        let mut r = self.session().await?;
        let sent = r.put(f, target, &options).await;
        self.give_back(r).await;
        let bytes = sent?;
        if let Some(size) = item.msg.size
            && size != bytes
        {
            // The local file changed after it was announced: what was sent is what is there now.
            tracing::warn!(
                "{}: announced {size} bytes, sent {bytes} (the file changed since)",
                local.display()
            );
        }
        item.bytes = bytes;
        item.downloaded = true;
        Ok("sent")
    }
}

/// The remote inflight path for `file` in `dir` (None: write in place).
/// `root`/`parts` resolved (symbolic links followed), refused with 403 when that leaves `root`
/// (a link inside `baseDir` to a file outside it is never sent). The resolved path is what gets
/// opened, so the link cannot be swapped between this check and the read. A file that does not
/// exist is returned as named (the open reports 404).
fn confined(root: &std::path::Path, parts: &[&str]) -> Result<PathBuf, (u16, String)> {
    let named = parts.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    let Ok(real) = named.canonicalize() else {
        return Ok(named);
    };
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if real.starts_with(&real_root) {
        Ok(real)
    } else {
        Err((
            403,
            format!(
                "{} leads outside {} (symbolic link): not sent",
                named.display(),
                root.display()
            ),
        ))
    }
}

fn inflight_name(i: &Inflight, dir: &str, file: &str) -> Option<String> {
    let in_dir = |name: String| {
        if dir.is_empty() {
            name
        } else {
            format!("{}/{name}", dir.trim_end_matches('/'))
        }
    };
    match i {
        Inflight::None => None,
        Inflight::Prefix(p) => Some(in_dir(format!("{p}{file}"))),
        Inflight::Suffix(s) => Some(in_dir(format!("{file}{s}"))),
        Inflight::Directory(d) if Path::new(d).is_absolute() => {
            Some(format!("{}/{file}", d.trim_end_matches('/')))
        }
        Inflight::Directory(d) => Some(in_dir(format!("{}/{file}", d.trim_end_matches('/')))),
    }
}

enum SendError {
    Reject(u16, String),
    Retry(String),
}

impl From<TransferError> for SendError {
    fn from(e: TransferError) -> Self {
        if e.is_permanent() {
            SendError::Reject(410, e.to_string())
        } else {
            SendError::Retry(e.to_string())
        }
    }
}
