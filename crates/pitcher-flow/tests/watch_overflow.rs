//! A real inotify queue overflow: the watcher must rescan and still announce every file once.
//!
//! The kernel reads `fs.inotify.max_queued_events` when an inotify instance is created, so the
//! test lowers it for the moment the watcher starts and puts it back at once. It is its own test
//! binary so that no other test creates an inotify instance in that moment.

mod watch_common;

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use watch_common::{Harness, settings};

const KNOB: &str = "/proc/sys/fs/inotify/max_queued_events";

#[test]
fn queue_overflow_triggers_a_rescan_and_nothing_is_lost_or_doubled() {
    let before = match fs::read_to_string(KNOB) {
        Ok(v) => v,
        Err(e) => return skip(&format!("cannot read {KNOB}: {e}")),
    };
    if let Err(e) = fs::write(KNOB, "16") {
        return skip(&format!("cannot lower {KNOB} (needs root): {e}"));
    }
    // Directories that exist before the watch: files written into them are only seen through
    // their events, or, once events are lost, through the rescan.
    let prepare = |root: &std::path::Path| {
        for d in 0..20 {
            fs::create_dir(root.join(format!("d{d:02}"))).expect("mkdir");
        }
    };
    let started = std::panic::catch_unwind(|| Harness::start(settings(), prepare));
    fs::write(KNOB, before.trim()).expect("restore max_queued_events");
    let mut h = started.expect("watcher start");

    // Write while nobody reads events: the 16-event queue overflows at once.
    for d in 0..20 {
        let dir = h.root.join(format!("d{d:02}"));
        for f in 0..50 {
            fs::write(dir.join(format!("f{f:02}")), b"overflow").expect("write");
        }
    }
    let msgs = h.collect_until(Duration::from_secs(60), |m| {
        m.iter().filter(|m| m.file_op.is_none()).count() >= 1000
    });
    let late = h.collect_for(Duration::from_secs(2));
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    for m in msgs
        .iter()
        .chain(late.iter())
        .filter(|m| m.file_op.is_none())
    {
        *files.entry(m.rel_path.clone()).or_default() += 1;
    }
    let st = h.watcher.stats().clone();
    eprintln!("watch stats: {st:?}");
    assert!(st.rescans >= 1, "the queue did not overflow: {st:?}");
    assert_eq!(files.len(), 1000, "files announced after the overflow");
    let twice: Vec<_> = files.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "announced more than once: {twice:?}");
}

fn skip(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipping the inotify overflow test: {why}");
}
