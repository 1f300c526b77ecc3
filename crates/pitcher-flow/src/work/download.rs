//! Downloading one file safely (reference 5.3, DESIGN "no partial files under final names"):
//! decide whether it is needed, write it to its inflight name (resuming a partial one left by a
//! dead instance), hash it on the fly, verify size and identity, set mode and times, rename.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pitcher_core::{ContentHasher, Identity, Message};
use pitcher_transfer::{Fetcher, TransferError};
use tokio::io::AsyncReadExt;

use self::sink::{CHUNK, Sink};

use super::confine::Destination;
use super::inflight::Inflight;

pub(crate) mod sink;

/// Settings of the download step (from the options).
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// Inflight naming.
    pub inflight: Inflight,
    /// `overwrite`: replace an existing file that differs.
    pub overwrite: bool,
    /// `permCopy`: apply the message's mode.
    pub perm_copy: bool,
    /// `permDefault` (0 = leave the umask's choice).
    pub perm_default: u32,
    /// `permDirDefault` for created directories.
    pub perm_dir_default: u32,
    /// `timeCopy`: apply the message's mtime/atime.
    pub time_copy: bool,
    /// `fileSizeMax` (0 = no limit).
    pub file_size_max: u64,
}

/// What the download step decided.
#[derive(Debug)]
pub enum Downloaded {
    /// The file is in place. `identity` is what was computed while writing (when any).
    Done {
        /// Bytes written by this attempt.
        bytes: u64,
        /// The computed identity (replaces a `cod` identity in the re-announced message).
        identity: Option<Identity>,
    },
    /// Nothing to do: the local file is already right (304) or must not be touched (204).
    Skipped {
        /// Report code.
        code: u16,
        /// Reason.
        reason: String,
    },
}

/// Why the download did not happen.
#[derive(Debug)]
pub enum DownloadError {
    /// Permanent: reject with this code (410 gone upstream, 413 too big, 503 bad inflight...).
    Reject {
        /// Report code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// Try again later.
    Retry(String),
}

fn io_retry(what: &str, p: &Path, e: &std::io::Error) -> DownloadError {
    DownloadError::Retry(format!("{what} {}: {e}", p.display()))
}

fn same_identity(a: &Identity, b: &Identity) -> bool {
    a.method == b.method && a.value.trim() == b.value.trim()
}

/// The checksum to compute while writing: the message's content checksum, or the `cod`
/// algorithm.
fn hasher_for(m: &Message) -> Option<ContentHasher> {
    let id = m.identity.as_ref()?;
    id.checksum_algorithm()
        .or_else(|| id.cod_algorithm())
        .map(|a| a.hasher())
}

fn hash_file(p: &Path, mut h: ContentHasher) -> std::io::Result<Identity> {
    let mut f = File::open(p)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}

/// sr3 `file_should_be_downloaded`: is the local file already what the message announces?
fn existing_verdict(m: &Message, path: &Path, s: &DownloadSettings) -> Option<(u16, String)> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    if !s.overwrite {
        return Some((204, "not overwriting existing file".into()));
    }
    if let Some(size) = m.size
        && size != meta.len()
    {
        return None;
    }
    let id = m.identity.as_ref()?;
    let alg = id.checksum_algorithm()?; // random, cod, arbitrary: always download
    let local = hash_file(path, alg.hasher()).ok()?;
    same_identity(&local, id).then(|| (304, "same checksum".into()))
}

/// Make the directories down to `d.dir()` with `permDirDefault`.
pub fn make_dirs(d: &Destination, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    if mode != 0 {
        b.mode(mode);
    }
    b.create(d.dir())
}

/// Open (or create) the inflight file and lock it. Another process holding the lock is writing
/// the same file: defer.
fn open_inflight(p: &Path) -> Result<File, DownloadError> {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_retry("cannot create", parent, &e))?;
    }
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(p)
        .map_err(|e| io_retry("cannot open", p, &e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(DownloadError::Retry(format!(
            "race condition, deferring: {} is being written by another transfer",
            p.display()
        ))),
        Err(TryLockError::Error(e)) => Err(io_retry("cannot lock", p, &e)),
    }
}

pub(crate) fn to_system_time(t: &pitcher_core::Timestamp) -> Option<SystemTime> {
    let secs = u64::try_from(t.unix_seconds()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, t.subsec_nanos()))
}

pub(crate) fn apply_mode_and_times(
    f: &File,
    m: &Message,
    s: &DownloadSettings,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match (&m.mode, s.perm_copy) {
        (Some(mode), true) => Some(mode.0 & 0o7777),
        _ if s.perm_default != 0 => Some(s.perm_default),
        _ => None,
    };
    if let Some(mode) = mode {
        // Never make a file we must rename unreadable to ourselves.
        f.set_permissions(std::fs::Permissions::from_mode(mode | 0o600))?;
    }
    if s.time_copy
        && let Some(mtime) = m.mtime.as_ref().and_then(to_system_time)
    {
        let mut times = std::fs::FileTimes::new().set_modified(mtime);
        if let Some(atime) = m.atime.as_ref().and_then(to_system_time) {
            times = times.set_accessed(atime);
        }
        f.set_times(times)?;
    }
    Ok(())
}

/// Download `m` from `url` (its retrieval URL, with credentials applied) to `d`.
pub async fn download(
    fetcher: &Fetcher,
    url: &url::Url,
    m: &Message,
    d: &Destination,
    s: &DownloadSettings,
    progress: &dyn crate::ProgressSink,
) -> Result<Downloaded, DownloadError> {
    let final_path = d.path();
    if let Some(size) = m.size
        && s.file_size_max > 0
        && size > s.file_size_max
    {
        return Err(DownloadError::Reject {
            code: 413,
            reason: format!("size {size} larger than fileSizeMax {}", s.file_size_max),
        });
    }
    if let Some((code, reason)) = existing_verdict(m, &final_path, s) {
        return Ok(Downloaded::Skipped { code, reason });
    }
    make_dirs(d, s.perm_dir_default).map_err(|e| io_retry("cannot create", &d.dir(), &e))?;
    let inflight = s.inflight.path(&d.dir(), &d.file);
    let std_file = open_inflight(&inflight)?;
    let result = write_inflight(
        fetcher,
        m,
        url,
        &inflight,
        std_file,
        s,
        inflight != final_path,
        progress,
    )
    .await;
    match result {
        Ok((bytes, identity, file)) => {
            if inflight != final_path {
                std::fs::rename(&inflight, &final_path)
                    .map_err(|e| io_retry("cannot rename into", &final_path, &e))?;
            }
            drop(file); // unlock after the rename: no one can pick up a finished inflight file
            Ok(Downloaded::Done { bytes, identity })
        }
        Err(e) => {
            // A checksum or size failure leaves nothing behind; a broken connection keeps the
            // partial file for the next attempt to resume.
            if let DownloadError::Reject { .. } = e {
                let _ = std::fs::remove_file(&inflight);
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)] // one call site; the pieces of one download
async fn write_inflight(
    fetcher: &Fetcher,
    m: &Message,
    url: &url::Url,
    inflight: &PathBuf,
    std_file: File,
    s: &DownloadSettings,
    resumable: bool,
    progress: &dyn crate::ProgressSink,
) -> Result<(u64, Option<Identity>, File), DownloadError> {
    let have = std_file
        .metadata()
        .map_err(|e| io_retry("cannot stat", inflight, &e))?
        .len();
    // Resume only a real inflight file shorter than the announced size, and only when the
    // announced checksum can prove the joined result (a file changed upstream between attempts
    // must not be spliced silently).
    let verifiable = m
        .identity
        .as_ref()
        .is_some_and(|i| i.checksum_algorithm().is_some());
    let resume_from = match m.size {
        Some(size) if resumable && verifiable && have > 0 && have < size => have,
        _ => 0,
    };
    let mut hasher = hasher_for(m);
    let mut dl = match fetcher.open(url, resume_from, None).await {
        Ok(dl) => dl,
        Err(e) => return Err(transfer_error(&e)),
    };
    let start = if dl.offset == resume_from {
        resume_from
    } else {
        0
    };
    if start > 0 {
        if let Some(h) = hasher.take() {
            let p = inflight.clone();
            let (h, r) = tokio::task::spawn_blocking(move || hash_prefix(&p, start, h))
                .await
                .map_err(|e| DownloadError::Retry(format!("hash task: {e}")))?;
            r.map_err(|e| io_retry("cannot read", inflight, &e))?;
            hasher = Some(h);
        }
        tracing::info!("resuming {} at byte {start}", inflight.display());
    }
    std_file
        .set_len(start)
        .map_err(|e| io_retry("cannot truncate", inflight, &e))?;
    let for_return = std_file
        .try_clone()
        .map_err(|e| io_retry("cannot reopen", inflight, &e))?;
    {
        use std::io::Seek;
        (&std_file)
            .seek(std::io::SeekFrom::Start(start))
            .map_err(|e| io_retry("cannot seek", inflight, &e))?;
    }
    // Network read and write here; the hash in the sink (on its own task for big files).
    let mut sink = Sink::new(std_file, hasher);
    let first = m
        .size
        .and_then(|size| usize::try_from(size.saturating_sub(start)).ok())
        .map_or(CHUNK, |left| left.saturating_add(1).min(CHUNK));
    let mut buf: Vec<u8> = Vec::with_capacity(first);
    let mut written: u64 = 0;
    let name = m.rel_path.rsplit('/').next().unwrap_or(&m.rel_path);
    let mut shown = progress.begin(name, start, m.size.or(dl.total_size));
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(CHUNK.saturating_sub(buf.len()).max(1));
        }
        let n = match dl.reader.read_buf(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                // Keep what arrived for a resume.
                let _ = sink.push(buf).await;
                return Err(DownloadError::Retry(format!(
                    "reading {}: {e}",
                    masked(url)
                )));
            }
        };
        if n == 0 {
            break;
        }
        written += n as u64;
        shown.advance(n as u64);
        if s.file_size_max > 0 && start + written > s.file_size_max {
            return Err(DownloadError::Reject {
                code: 413,
                reason: format!("larger than fileSizeMax {}", s.file_size_max),
            });
        }
        if buf.len() >= CHUNK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK));
            sink.push(full)
                .await
                .map_err(|e| io_retry("cannot write", inflight, &e))?;
        }
    }
    sink.push(buf)
        .await
        .map_err(|e| io_retry("cannot write", inflight, &e))?;
    let hasher = sink
        .finish()
        .await
        .map_err(|e| io_retry("cannot write", inflight, &e))?;
    let total = start + written;
    if let Some(size) = m.size
        && m.blocks.is_none()
        && size != total
    {
        // Short reads mean the connection broke, longer ones that the file changed upstream.
        return Err(if total < size {
            DownloadError::Retry(format!(
                "incomplete: got {total} of {size} bytes from {}",
                masked(url)
            ))
        } else {
            DownloadError::Reject {
                code: 417,
                reason: format!(
                    "size mismatch: announced {size}, got {total} bytes (file changed upstream?)"
                ),
            }
        });
    }
    let computed = hasher.map(ContentHasher::finalize);
    if let (Some(c), Some(expected)) = (&computed, &m.identity)
        && expected.checksum_algorithm().is_some()
        && !same_identity(c, expected)
    {
        let _ = std::fs::remove_file(inflight);
        return Err(DownloadError::Retry(format!(
            "checksum mismatch for {}: announced {} {}, computed {}",
            masked(url),
            expected.method.as_str(),
            expected.value,
            c.value
        )));
    }
    apply_mode_and_times(&for_return, m, s)
        .map_err(|e| io_retry("cannot set mode/times", inflight, &e))?;
    Ok((total, computed, for_return))
}

fn hash_prefix(p: &Path, len: u64, mut h: ContentHasher) -> (ContentHasher, std::io::Result<()>) {
    let r = (|| {
        let f = File::open(p)?;
        let mut f = f.take(len);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            h.update(&buf[..n]);
        }
    })();
    (h, r)
}

fn masked(u: &url::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_password(None);
    u.to_string()
}

fn transfer_error(e: &TransferError) -> DownloadError {
    if e.is_permanent() {
        DownloadError::Reject {
            code: 410,
            reason: e.to_string(),
        }
    } else {
        DownloadError::Retry(e.to_string())
    }
}
