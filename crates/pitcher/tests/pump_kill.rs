//! A subscriber killed with `kill -9` in the middle of its downloads restarts and delivers every
//! file, and no partial file is ever visible under a final name.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Pump, files, make_tree, same_content, service, unique, wait_for};

#[test]
fn subscriber_killed_mid_download_delivers_everything_without_partial_files() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let x = format!("xs_guest_kill{}", unique());
    let src = p.path("src");
    let dest = p.path("dest");
    // Big files so that the kill lands while transfers are running.
    let tree = make_tree(&src, 24, 1, 6 << 20);
    std::fs::create_dir_all(&dest).unwrap();
    let line = p.spawn_server("serve", &["serve", src.to_str().unwrap(), "--port", "0"]);
    let http = line
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    p.config(
        "post",
        "k",
        &format!(
            "post_broker amqp://guest@127.0.0.1/\npost_exchange {x}\npost_baseUrl http://{http}/\npost_baseDir {}\nfileEvents create,modify\n",
            src.display()
        ),
    );
    p.config(
        "subscribe",
        "k",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {x}\nexpire 5m\nsubtopic #\nbatch 4\nprefetch 4\ntransferConcurrency 4\ndirectory {}\nmirror on\naccept .*\n",
            dest.display()
        ),
    );
    let out = p.run(&["declare", "post/k", "subscribe/k"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = p.run(&["post", "-c", "k", src.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Watch the destination the whole time: a final name must always hold the whole file.
    let stop = Arc::new(AtomicBool::new(false));
    let bad = Arc::new(std::sync::Mutex::new(Vec::new()));
    let watcher = {
        let (stop, bad, src, dest) = (stop.clone(), bad.clone(), src.clone(), dest.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for rel in files(&dest) {
                    let want = std::fs::metadata(src.join(&rel))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    let have = std::fs::metadata(dest.join(&rel))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    if have != want {
                        bad.lock()
                            .unwrap()
                            .push(format!("{} had {have} of {want} bytes", rel.display()));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };

    p.spawn("sub1", &["foreground", "subscribe/k"]);
    // Kill it once some files are in and some are still coming.
    let started = wait_for(120, || {
        let n = files(&dest).len();
        n >= 2 && n < tree.len()
    });
    p.kill9("sub1");
    let after_kill = files(&dest).len();
    p.spawn("sub2", &["foreground", "subscribe/k"]);
    let all = wait_for(180, || files(&dest).len() >= tree.len());
    let status = p.stop("sub2");
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    assert!(started, "the first run never got going:\n{}", p.log("sub1"));
    assert!(
        all,
        "only {} of {} files:\n{}",
        files(&dest).len(),
        tree.len(),
        p.log("sub2")
    );
    assert!(status.success());
    assert!(
        after_kill < tree.len(),
        "the kill came too late to test anything"
    );
    assert!(
        bad.lock().unwrap().is_empty(),
        "partial files under final names: {:?}",
        bad.lock().unwrap()
    );
    assert_eq!(files(&dest), tree);
    for rel in &tree {
        assert!(
            same_content(&src.join(rel), &dest.join(rel)),
            "{} differs",
            rel.display()
        );
    }
    let hidden: Vec<_> = common::all_entries(&dest)
        .into_iter()
        .filter(|e| {
            e.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    assert!(hidden.is_empty(), "inflight files left: {hidden:?}");
    let _ = p.run(&["cleanup", "subscribe/k"]);
}
