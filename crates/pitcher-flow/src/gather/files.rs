//! Gathering from the local file system (`post`; reference 2.5): walk the given paths once and
//! make one message per file, symbolic link or directory.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pitcher_config::Options;
use pitcher_core::{FileOp, IdentitySpec, Message, Mode, Timestamp};

use crate::xattrs;

/// Walks paths lazily (a queue of pending paths, directories expanded when reached), so a huge
/// tree never sits in memory at once.
pub struct FileWalker {
    pending: VecDeque<PathBuf>,
    roots: Vec<PathBuf>,
    settings: FileSettings,
}

/// What the poster needs from the options.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// `post_baseUrl` (required).
    pub base_url: String,
    /// `post_baseDir`: removed from paths to make relPaths.
    pub base_dir: Option<String>,
    /// `identity`.
    pub identity: IdentitySpec,
    /// `recursive`.
    pub recursive: bool,
    /// `follow_symlinks`.
    pub follow_symlinks: bool,
    /// `permCopy`.
    pub perm_copy: bool,
    /// `timeCopy`.
    pub time_copy: bool,
    /// Post directories (`mkdir` in fileEvents).
    pub post_directories: bool,
    /// Post links (`link` in fileEvents).
    pub post_links: bool,
    /// `source`.
    pub source: Option<String>,
}

impl FileSettings {
    /// From the options.
    pub fn from_options(o: &Options) -> Result<Self, String> {
        let base_url = o
            .post_base_url
            .as_ref()
            .map(|u| u.expose().to_string())
            .ok_or("post_baseUrl is required to announce local files")?;
        let identity: IdentitySpec = o
            .identity
            .as_deref()
            .unwrap_or("sha512")
            .parse()
            .map_err(|e: pitcher_core::identity::IdentitySpecError| e.to_string())?;
        Ok(FileSettings {
            base_url,
            base_dir: o.post_base_dir.clone().or_else(|| o.base_dir.clone()),
            identity,
            recursive: o.recursive,
            follow_symlinks: o.follow_symlinks,
            perm_copy: o.perm_copy,
            time_copy: o.time_copy,
            post_directories: o.file_events.contains("mkdir"),
            post_links: o.file_events.contains("link"),
            source: o.source.clone(),
        })
    }
}

impl FileWalker {
    /// A walker over `paths`.
    pub fn new(paths: Vec<PathBuf>, settings: FileSettings) -> Self {
        FileWalker {
            pending: paths.iter().cloned().collect(),
            roots: paths,
            settings,
        }
    }

    /// Nothing left to walk?
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// Up to `max` messages (blocking file system work: call from a blocking task).
    pub fn next_batch(&mut self, max: usize) -> Vec<Result<Message, String>> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            let meta = match std::fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(e) => {
                    out.push(Err(format!("{}: {e}", p.display())));
                    continue;
                }
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                if self.settings.post_links {
                    out.push(self.link_message(&p));
                }
                if self.settings.follow_symlinks && p.is_dir() {
                    self.expand_dir(&p, &mut out);
                } else if self.settings.follow_symlinks && p.is_file() {
                    out.push(self.file_message(&p));
                }
            } else if ft.is_dir() {
                let is_root = self.roots.contains(&p);
                let at_base = self
                    .settings
                    .base_dir
                    .as_deref()
                    .is_some_and(|b| Path::new(b) == p);
                if self.settings.post_directories && !at_base && !is_root {
                    out.push(self.dir_message(&p));
                }
                if self.settings.recursive || is_root {
                    self.expand_dir(&p, &mut out);
                }
            } else if ft.is_file() {
                out.push(self.file_message(&p));
            }
        }
        out
    }

    fn expand_dir(&mut self, p: &Path, out: &mut Vec<Result<Message, String>>) {
        match std::fs::read_dir(p) {
            Ok(rd) => {
                let mut entries: Vec<PathBuf> =
                    rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                entries.sort();
                // depth-first: children come before the directory's later siblings
                for e in entries.into_iter().rev() {
                    self.pending.push_front(e);
                }
            }
            Err(e) => out.push(Err(format!("cannot list {}: {e}", p.display()))),
        }
    }

    fn rel_path(&self, p: &Path) -> String {
        let s = p.to_string_lossy();
        let rel = match &self.settings.base_dir {
            Some(b) => {
                let b = b.trim_end_matches('/');
                match s.strip_prefix(b) {
                    Some(r) if r.starts_with('/') || r.is_empty() => r.to_string(),
                    _ => s.to_string(),
                }
            }
            None => s.to_string(),
        };
        rel.trim_start_matches('/').to_string()
    }

    fn base_message(&self, p: &Path) -> Message {
        let mut m = Message::new(self.settings.base_url.clone(), self.rel_path(p));
        m.source.clone_from(&self.settings.source);
        m
    }

    fn link_message(&self, p: &Path) -> Result<Message, String> {
        let target = std::fs::read_link(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut m = self.base_message(p);
        m.file_op = Some(FileOp::link(target.to_string_lossy().to_string()));
        Ok(m)
    }

    fn dir_message(&self, p: &Path) -> Result<Message, String> {
        let mut m = self.base_message(p);
        m.file_op = Some(FileOp::mkdir());
        if self.settings.perm_copy
            && let Ok(meta) = std::fs::metadata(p)
        {
            use std::os::unix::fs::PermissionsExt;
            m.mode = Some(Mode(meta.permissions().mode() & 0o7777));
        }
        Ok(m)
    }

    /// The message for a regular file.
    pub fn file_message(&self, p: &Path) -> Result<Message, String> {
        file_message(p, self.base_message(p), &self.settings)
    }
}

/// Fill `m` with the size, times, mode and identity of file `p`.
pub fn file_message(p: &Path, mut m: Message, s: &FileSettings) -> Result<Message, String> {
    let err = |e: std::io::Error| format!("{}: {e}", p.display());
    let meta = std::fs::metadata(p).map_err(err)?;
    m.size = Some(meta.len());
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| Timestamp::from_system_time(t).ok());
    if s.time_copy {
        m.mtime.clone_from(&mtime);
        m.atime = meta
            .accessed()
            .ok()
            .and_then(|t| Timestamp::from_system_time(t).ok());
    }
    if s.perm_copy {
        use std::os::unix::fs::PermissionsExt;
        m.mode = Some(Mode(meta.permissions().mode() & 0o7777));
    }
    m.identity = match (&s.identity, &mtime) {
        (IdentitySpec::Checksum(alg), Some(mt)) => {
            let method = alg.method();
            match xattrs::cached_identity(p, mt, method) {
                Some(id) => Some(id),
                None => {
                    let f = std::fs::File::open(p).map_err(err)?;
                    let id = s.identity.compute(f, 1 << 20).map_err(err)?;
                    if let Some(id) = &id {
                        xattrs::store_identity(p, mt, id);
                    }
                    id
                }
            }
        }
        (spec, _) => {
            let f = std::fs::File::open(p).map_err(err)?;
            spec.compute(f, 1 << 20).map_err(err)?
        }
    };
    Ok(m)
}
