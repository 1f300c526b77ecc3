//! Small file-system helpers: atomic replacement and directory fsync.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;

use crate::error::{StateError, io_err};

/// Makes the creation, rename or removal of entries of `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let d = File::open(dir).map_err(io_err("open directory", dir))?;
        d.sync_all().map_err(io_err("fsync directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Replaces `path` atomically: `fill` writes the new content into `<path>.tmp`, which is fsynced
/// and renamed over `path`; the directory is fsynced last. On failure `path` is left as it was.
pub(crate) fn replace_file(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), StateError> {
    let tmp = tmp_path(path);
    let result = (|| {
        let f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let mut w = BufWriter::with_capacity(256 * 1024, f);
        fill(&mut w).map_err(io_err("write", &tmp))?;
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// `<path>.tmp`.
pub(crate) fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    s.into()
}
