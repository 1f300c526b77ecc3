//! `file:` URLs: local files (sr3's `File` transfer class).

use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::idle::IdleTimeout;
use super::{Download, RemoteStat};
use crate::{TransferError, mask_url};

/// The local path of a `file:` URL, percent-decoded. A host other than `localhost` is refused.
fn to_path(url: &url::Url) -> Result<PathBuf, TransferError> {
    url.to_file_path().map_err(|()| TransferError::InvalidUrl {
        url: mask_url(url),
        reason: "not a local file path (a file: URL must have no host, or localhost)".into(),
    })
}

fn classify(url: &url::Url, err: std::io::Error) -> TransferError {
    match err.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => {
            TransferError::NotFound { url: mask_url(url) }
        }
        _ => TransferError::Io {
            url: mask_url(url),
            source: err,
        },
    }
}

/// Metadata of a regular file; anything else (directory, FIFO, device) is refused before it is
/// opened, so that opening a FIFO can never block.
async fn regular_file_metadata(
    url: &url::Url,
    path: &PathBuf,
) -> Result<std::fs::Metadata, TransferError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| classify(url, e))?;
    if !meta.is_file() {
        return Err(TransferError::InvalidUrl {
            url: mask_url(url),
            reason: "not a regular file".into(),
        });
    }
    Ok(meta)
}

pub(super) async fn stat(url: &url::Url) -> Result<RemoteStat, TransferError> {
    let path = to_path(url)?;
    let meta = regular_file_metadata(url, &path).await?;
    Ok(RemoteStat {
        size: Some(meta.len()),
        mtime: meta.modified().ok(),
    })
}

pub(super) async fn open(
    url: &url::Url,
    offset: u64,
    range_end: Option<u64>,
    timeout: Duration,
) -> Result<Download, TransferError> {
    let path = to_path(url)?;
    let timed_out = || TransferError::Timeout {
        url: mask_url(url),
        after: timeout,
    };
    regular_file_metadata(url, &path).await?;
    let mut file = tokio::time::timeout(timeout, tokio::fs::File::open(&path))
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| classify(url, e))?;
    // Metadata of what was actually opened (the path may have been replaced in between).
    let meta = tokio::time::timeout(timeout, file.metadata())
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| classify(url, e))?;
    if !meta.is_file() {
        return Err(TransferError::InvalidUrl {
            url: mask_url(url),
            reason: "not a regular file".into(),
        });
    }
    let size = meta.len();
    let mtime = meta.modified().ok();
    if offset == size {
        return Ok(Download::empty(offset, Some(size), mtime));
    }
    // A file now shorter than the offset has changed: hand out all of it, like an HTTP server
    // that ignores the range; the caller sees offset 0 and restarts.
    let honoured = offset < size;
    let start = if honoured { offset } else { 0 };
    let stop = match range_end {
        Some(end) if honoured => end.saturating_add(1).min(size),
        _ => size,
    };
    if start > 0 {
        tokio::time::timeout(timeout, file.seek(SeekFrom::Start(start)))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| classify(url, e))?;
    }
    let length = stop - start;
    // take(): a file that grows while it is read still yields exactly the announced length.
    let reader = IdleTimeout::new(file.take(length), timeout, mask_url(url));
    Ok(Download {
        reader: Box::pin(reader),
        offset: start,
        length: Some(length),
        total_size: Some(size),
        mtime,
    })
}
