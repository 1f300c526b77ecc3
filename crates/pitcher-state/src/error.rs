//! The error type of this crate: every variant names the file or directory involved.

use std::path::{Path, PathBuf};

use crate::spool::EntryId;

/// A failure of the state on disk.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An I/O operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`"open"`, `"write"`, `"fsync"`, `"rename"`, ...).
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Spool` in this one) holds the spool's lock.
    #[error(
        "{}: the spool is in use by another process (its lock file is held); \
         is another instance of this flow running?",
        path.display()
    )]
    Locked { path: PathBuf },
    /// A payload is larger than a spool record may be.
    #[error("{}: payload of {len} bytes is larger than the limit of {max} bytes", path.display())]
    PayloadTooLarge {
        path: PathBuf,
        len: usize,
        max: usize,
    },
    /// `done` for an id that is not in the spool (already done, expired, or never pushed).
    #[error("{}: no entry {id} in the spool (already done, expired or unknown)", path.display())]
    UnknownEntry { path: PathBuf, id: EntryId },
}

impl StateError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StateError::Io { path, .. }
            | StateError::Locked { path }
            | StateError::PayloadTooLarge { path, .. }
            | StateError::UnknownEntry { path, .. } => path,
        }
    }
}

/// `map_err` helper: `.map_err(io_err("write", &path))`.
pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}
