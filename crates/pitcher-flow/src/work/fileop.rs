//! File operations announced with `fileOp` (reference 1.5), applied by downloading components
//! when `fileEvents` allows them: links, removals, renames, directories.

use std::path::Path;

use pitcher_core::{FileOpKind, Message};

use super::confine::{Destination, check_link_target};

/// The `fileEvents` word for an operation.
pub fn event_name(kind: FileOpKind) -> &'static str {
    match kind {
        FileOpKind::Link | FileOpKind::HardLink => "link",
        FileOpKind::Remove => "delete",
        FileOpKind::Rmdir => "rmdir",
        FileOpKind::Mkdir => "mkdir",
        FileOpKind::Rename => "modify",
        FileOpKind::Unknown => "modify",
    }
}

/// Outcome of a file operation.
#[derive(Debug, PartialEq, Eq)]
pub enum OpResult {
    /// Done, with the log verb (`linked`, `removed`, `directory`, ...).
    Done(&'static str),
    /// The old file of a rename is not here: download the new one instead.
    RenameFallback,
    /// Failed: report code and reason.
    Failed(u16, String),
}

fn remove_existing(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Apply the operation of `m` at `d`. `old` is the checked local destination of a rename's old
/// name (when it could be placed).
pub fn apply(m: &Message, d: &Destination, old: Option<&Destination>, dir_mode: u32) -> OpResult {
    let Some(op) = &m.file_op else {
        return OpResult::Failed(500, "no fileOp".into());
    };
    let path = d.path();
    let fail = |what: &str, e: std::io::Error| {
        OpResult::Failed(500, format!("{what} {}: {e}", path.display()))
    };
    match op.kind() {
        FileOpKind::Remove => match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => match std::fs::remove_dir(&path) {
                Ok(()) => OpResult::Done("removed"),
                Err(e) => fail("cannot remove directory", e),
            },
            Ok(_) => match std::fs::remove_file(&path) {
                Ok(()) => OpResult::Done("removed"),
                Err(e) => fail("cannot remove", e),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OpResult::Done("removed"),
            Err(e) => fail("cannot remove", e),
        },
        FileOpKind::Rmdir => match std::fs::remove_dir(&path) {
            Ok(()) => OpResult::Done("rmdired"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OpResult::Done("rmdired"),
            Err(e) => fail("cannot remove directory", e),
        },
        FileOpKind::Mkdir => {
            let as_dir = Destination {
                base: d.base.clone(),
                dirs: d.dirs.iter().cloned().chain([d.file.clone()]).collect(),
                file: String::new(),
            };
            match super::download::make_dirs(&as_dir, dir_mode) {
                Ok(()) => OpResult::Done("directory"),
                Err(e) => fail("cannot make directory", e),
            }
        }
        FileOpKind::Link | FileOpKind::HardLink => {
            let hard = op.kind() == FileOpKind::HardLink;
            let target = if hard {
                op.hlink.as_deref()
            } else {
                op.link.as_deref()
            }
            .unwrap_or("");
            if let Err(e) = check_link_target(d, target) {
                return OpResult::Failed(e.code(), e.to_string());
            }
            if let Err(e) = super::download::make_dirs(d, dir_mode) {
                return fail("cannot make directory for", e);
            }
            if let Err(e) = remove_existing(&path) {
                return fail("cannot replace", e);
            }
            let r = if hard {
                let t = if Path::new(target).is_absolute() {
                    Path::new(target).to_path_buf()
                } else {
                    d.dir().join(target)
                };
                std::fs::hard_link(t, &path)
            } else {
                std::os::unix::fs::symlink(target, &path)
            };
            match r {
                Ok(()) => OpResult::Done("linked"),
                Err(e) => fail("cannot link", e),
            }
        }
        FileOpKind::Rename => {
            let Some(old) = old else {
                return OpResult::RenameFallback;
            };
            let old_path = old.path();
            if std::fs::symlink_metadata(&old_path).is_err() {
                return OpResult::RenameFallback;
            }
            if let Err(e) = super::download::make_dirs(d, dir_mode) {
                return fail("cannot make directory for", e);
            }
            match std::fs::rename(&old_path, &path) {
                Ok(()) => OpResult::Done("renamed"),
                Err(e) => fail("cannot rename", e),
            }
        }
        FileOpKind::Unknown => OpResult::Failed(500, "unknown fileOp".into()),
    }
}
