//! The watch gatherer against the real file system (inotify, and polling), without a broker:
//! what it hands out is what a `watch` flow posts.

mod watch_common;

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use pitcher_core::FileOpKind;
use watch_common::{Harness, kinds_by_path, settings};

/// The issue's stress case: 10,000 files written as fast as possible into 100 directories
/// that did not exist when the watch started (ten chains of ten nested directories, two
/// writers at once). Every file must be announced exactly once, every directory once.
#[test]
fn ten_thousand_files_in_fresh_nested_dirs_each_announced_once() {
    let mut h = Harness::start(settings(), |_| {});
    let root = h.root.clone();
    let writer = |first: usize| {
        let root = root.clone();
        std::thread::spawn(move || {
            for chain in (first..10).step_by(2) {
                let mut dir = root.join(format!("c{chain}"));
                for level in 0..10 {
                    if level > 0 {
                        dir = dir.join(format!("l{level}"));
                    }
                    fs::create_dir(&dir).expect("mkdir");
                    for f in 0..100 {
                        fs::write(dir.join(format!("f{f:03}")), [b'x'; 1024]).expect("write");
                    }
                }
            }
        })
    };
    // The watcher works while the writers write (the races are the point).
    let (a, b) = (writer(0), writer(1));
    let msgs = h.collect_until(Duration::from_secs(120), |m| {
        m.iter().filter(|m| m.file_op.is_none()).count() >= 10_000
    });
    a.join().expect("writer");
    b.join().expect("writer");
    // Anything late would be a duplicate: keep listening a little longer.
    let late = h.collect_for(Duration::from_secs(3));
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    for m in msgs.iter().chain(late.iter()) {
        match m.file_op.as_ref().map(|o| o.kind()) {
            None => *files.entry(m.rel_path.clone()).or_default() += 1,
            Some(FileOpKind::Mkdir) => *dirs.entry(m.rel_path.clone()).or_default() += 1,
            Some(k) => panic!("unexpected {k:?} for {}", m.rel_path),
        }
    }
    let twice: Vec<_> = files.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "announced more than once: {twice:?}");
    assert_eq!(files.len(), 10_000, "files announced: {}", files.len());
    assert_eq!(dirs.len(), 100, "directories announced: {dirs:?}");
    assert!(
        dirs.values().all(|n| *n == 1),
        "a directory twice: {dirs:?}"
    );
    for m in &msgs {
        if m.file_op.is_none() {
            assert_eq!(
                m.size,
                Some(1024),
                "{} announced before it was complete",
                m.rel_path
            );
        }
    }
    let st = h.watcher.stats().clone();
    eprintln!("watch stats: {st:?}");
    assert!(st.new_dirs >= 100, "{st:?}");
}

#[test]
fn file_operations_are_announced_as_sr3_does() {
    let mut h = Harness::start(settings(), |root| {
        fs::create_dir(root.join("old")).expect("mkdir");
        fs::write(root.join("old/kept"), b"kept").expect("write");
        fs::write(root.join("existing"), b"existing").expect("write");
        fs::write(root.join("doomed"), b"doomed").expect("write");
    });
    let r = h.root.clone();
    // Nothing is announced for what was there at the start (no post_on_start).
    assert!(h.collect_for(Duration::from_millis(600)).is_empty());

    fs::write(r.join("new"), b"hello").expect("write");
    fs::write(r.join(".new2.tmp"), b"in flight").expect("write");
    fs::rename(r.join(".new2.tmp"), r.join("new2")).expect("rename");
    fs::write(r.join("transient"), b"x").expect("write");
    fs::remove_file(r.join("transient")).expect("rm");
    fs::rename(r.join("existing"), r.join("renamed")).expect("rename");
    fs::remove_file(r.join("doomed")).expect("rm");
    std::os::unix::fs::symlink("new", r.join("link")).expect("symlink");
    fs::rename(r.join("old"), r.join("moved")).expect("rename dir");
    let msgs = h.collect_until(Duration::from_secs(20), |m| m.len() >= 9);
    let late = h.collect_for(Duration::from_millis(1500));
    let all: Vec<_> = msgs.into_iter().chain(late).collect();
    let got = kinds_by_path(&all);
    let want: Vec<(&str, &str)> = vec![
        ("new", "file"),
        ("new2", "file"),
        ("renamed", "rename from existing"),
        ("doomed", "remove"),
        ("link", "link to new"),
        ("moved", "mkdir"),
        ("moved/kept", "rename from old/kept"),
        ("old", "rmdir"),
    ];
    let mut want: Vec<(String, String)> = want
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    // Order matters only within the directory rename: new directory, its entries, old one.
    let pos = |p: &str| got.iter().position(|(r, _)| r == p);
    assert!(
        pos("moved") < pos("moved/kept") && pos("moved/kept") < pos("old"),
        "{got:?}"
    );
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want, "all messages: {all:#?}");
    // The rename carries the whole file (sr3: size and identity) and the OLD absolute path.
    let ren = all
        .iter()
        .find(|m| m.rel_path == "renamed")
        .expect("rename");
    assert_eq!(ren.size, Some(8));
    assert!(ren.identity.is_some());
    let old = ren
        .file_op
        .as_ref()
        .and_then(|o| o.rename.clone())
        .expect("old");
    assert_eq!(old, r.join("existing").to_string_lossy());

    // A modification after the announcement is announced again; a chmod or our own xattrs
    // are not.
    fs::write(r.join("new"), b"hello again").expect("write");
    let again = h.collect_until(Duration::from_secs(10), |m| !m.is_empty());
    assert_eq!(kinds_by_path(&again), vec![("new".into(), "file".into())]);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(r.join("new"), fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(h.collect_for(Duration::from_millis(1500)).is_empty());

    // rm -r: the files, then the directory.
    fs::remove_dir_all(r.join("moved")).expect("rm -r");
    let gone = h.collect_until(Duration::from_secs(10), |m| m.len() >= 2);
    assert_eq!(
        kinds_by_path(&gone),
        vec![
            ("moved/kept".into(), "remove".into()),
            ("moved".into(), "rmdir".into())
        ]
    );
}

#[test]
fn a_file_still_being_written_is_announced_once_complete() {
    let mut h = Harness::start(settings(), |_| {});
    let path = h.root.join("slow");
    let mut f = fs::File::create(&path).expect("create");
    use std::io::Write;
    for _ in 0..5 {
        f.write_all(&[b'y'; 4096]).expect("write");
        f.flush().expect("flush");
        // Slower than nothing, faster than the settle time of unconfirmed files.
        assert!(h.collect_for(Duration::from_millis(300)).is_empty());
    }
    drop(f);
    let msgs = h.collect_until(Duration::from_secs(10), |m| !m.is_empty());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].size, Some(5 * 4096));
}

#[test]
fn file_age_min_holds_files_back() {
    let mut s = settings();
    s.1.file_age_min = 2.0;
    let mut h = Harness::start(s, |_| {});
    fs::write(h.root.join("young"), b"young").expect("write");
    let early = h.collect_for(Duration::from_millis(1200));
    assert!(early.is_empty(), "announced before fileAgeMin: {early:?}");
    let later = h.collect_until(Duration::from_secs(10), |m| !m.is_empty());
    assert_eq!(kinds_by_path(&later), vec![("young".into(), "file".into())]);
}

#[test]
fn post_on_start_announces_what_is_there_then_watches() {
    let mut s = settings();
    s.1.post_on_start = true;
    let mut h = Harness::start(s, |root| {
        fs::create_dir(root.join("d")).expect("mkdir");
        fs::write(root.join("d/a"), b"a").expect("write");
    });
    let first = h.collect_until(Duration::from_secs(10), |m| m.len() >= 2);
    assert_eq!(
        kinds_by_path(&first),
        vec![("d".into(), "mkdir".into()), ("d/a".into(), "file".into())]
    );
    fs::write(h.root.join("d/b"), b"b").expect("write");
    let next = h.collect_until(Duration::from_secs(10), |m| !m.is_empty());
    assert_eq!(kinds_by_path(&next), vec![("d/b".into(), "file".into())]);
}

#[test]
fn file_events_choose_what_is_announced() {
    let mut s = settings();
    s.1.delete = false;
    s.1.mkdir = false;
    let mut h = Harness::start(s, |root| {
        fs::write(root.join("old"), b"old").expect("write");
    });
    fs::remove_file(h.root.join("old")).expect("rm");
    fs::create_dir(h.root.join("dir")).expect("mkdir");
    fs::write(h.root.join("dir/f"), b"f").expect("write");
    let msgs = h.collect_until(Duration::from_secs(10), |m| !m.is_empty());
    let late = h.collect_for(Duration::from_millis(1200));
    let all: Vec<_> = msgs.into_iter().chain(late).collect();
    assert_eq!(kinds_by_path(&all), vec![("dir/f".into(), "file".into())]);
}

#[test]
fn force_polling_finds_creates_changes_and_removals() {
    let mut s = settings();
    s.1.force_polling = true;
    s.1.rescan_every = Duration::from_millis(300);
    let mut h = Harness::start(s, |root| {
        fs::write(root.join("gone"), b"gone").expect("write");
        fs::write(root.join("changed"), b"v1").expect("write");
    });
    fs::create_dir(h.root.join("sub")).expect("mkdir");
    fs::write(h.root.join("sub/new"), b"new").expect("write");
    fs::remove_file(h.root.join("gone")).expect("rm");
    fs::write(h.root.join("changed"), b"version 2").expect("write");
    let msgs = h.collect_until(Duration::from_secs(15), |m| m.len() >= 4);
    let late = h.collect_for(Duration::from_millis(1500));
    let mut got = kinds_by_path(&msgs.into_iter().chain(late).collect::<Vec<_>>());
    got.sort();
    assert_eq!(
        got,
        vec![
            ("changed".into(), "file".into()),
            ("gone".into(), "remove".into()),
            ("sub".into(), "mkdir".into()),
            ("sub/new".into(), "file".into()),
        ]
    );
    assert!(h.watcher.stats().rescans >= 1);
    assert_eq!(h.watcher.stats().events, 0, "polling must not use inotify");
}

#[test]
fn a_missing_path_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fs_settings, ws) = settings();
    let err = pitcher_flow::gather::watch::Watcher::start(
        vec![dir.path().join("nope")],
        fs_settings,
        ws,
        "test".into(),
    )
    .err()
    .expect("must fail");
    assert!(err.contains("does not exist"), "{err}");
}
