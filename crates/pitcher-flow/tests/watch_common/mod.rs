//! Shared by the watch tests: a watcher on a fresh temporary directory, and ways to read what
//! it announces.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pitcher_core::{FileOpKind, IdentitySpec, Message};
use pitcher_flow::gather::files::FileSettings;
use pitcher_flow::gather::watch::{WatchSettings, Watcher};

/// Poster settings for `root` plus watch settings with every file event on.
pub fn settings() -> (FileSettings, WatchSettings) {
    (
        FileSettings {
            base_url: "http://localhost:8080/".into(),
            base_dir: None,
            identity: "sha512".parse::<IdentitySpec>().expect("identity"),
            recursive: true,
            follow_symlinks: false,
            perm_copy: true,
            time_copy: true,
            post_directories: true,
            post_links: true,
            source: None,
            block_size: 1,
        },
        WatchSettings {
            file_age_min: 0.0,
            file_age_max: 0.0,
            post_on_start: false,
            force_polling: false,
            rescan_every: Duration::from_secs(5),
            create_modify: true,
            delete: true,
            rmdir: true,
            link: true,
            mkdir: true,
        },
    )
}

/// A watcher on a temporary directory (post_baseDir = that directory).
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub watcher: Watcher,
}

impl Harness {
    /// `prepare` fills the directory before the watch starts.
    pub fn start(s: (FileSettings, WatchSettings), prepare: impl FnOnce(&Path)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        prepare(&root);
        let (mut fs_settings, ws) = s;
        fs_settings.base_dir = Some(root.to_string_lossy().into_owned());
        let watcher =
            Watcher::start(vec![root.clone()], fs_settings, ws, "test".into()).expect("watch");
        Harness { dir, root, watcher }
    }

    fn take(&mut self, out: &mut Vec<Message>) {
        for r in self.watcher.next_batch(1000, Duration::from_millis(50)) {
            match r {
                Ok(m) => out.push(m),
                Err(e) => panic!("watch error: {e}"),
            }
        }
    }

    /// Messages until `done` says so (or the deadline passes).
    pub fn collect_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let end = Instant::now() + limit;
        let mut out = Vec::new();
        while !done(&out) && Instant::now() < end {
            self.take(&mut out);
        }
        out
    }

    /// Everything announced during `d`.
    pub fn collect_for(&mut self, d: Duration) -> Vec<Message> {
        let end = Instant::now() + d;
        let mut out = Vec::new();
        while Instant::now() < end {
            self.take(&mut out);
        }
        out
    }
}

/// (relPath, what) in order, `what` being "file", "mkdir", "rmdir", "remove", "link to T" or
/// "rename from OLD" (OLD relative to the watched directory when under it).
pub fn kinds_by_path(msgs: &[Message]) -> Vec<(String, String)> {
    msgs.iter()
        .map(|m| {
            let what = match &m.file_op {
                None => "file".to_string(),
                Some(op) => match op.kind() {
                    FileOpKind::Mkdir => "mkdir".into(),
                    FileOpKind::Rmdir => "rmdir".into(),
                    FileOpKind::Remove => "remove".into(),
                    FileOpKind::Link => format!("link to {}", op.link.clone().unwrap_or_default()),
                    FileOpKind::Rename => {
                        let old = op.rename.clone().unwrap_or_default();
                        let short = old.rsplit_once("/old/").map_or_else(
                            || old.rsplit('/').next().unwrap_or("").to_string(),
                            |(_, rest)| format!("old/{rest}"),
                        );
                        format!("rename from {short}")
                    }
                    k => format!("{k:?}"),
                },
            };
            (m.rel_path.clone(), what)
        })
        .collect()
}
