//! `watch` end to end with the real binary on RabbitMQ: a watch announces what happens in a
//! directory, a subscriber mirrors it, and after creates, modifications, renames (of a file and
//! of a directory), symbolic links and removals, the two trees are the same.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::mirror::addr_of;
use common::{Pump, make_tree, service, tree, tree_diff, unique, wait_for};

#[test]
fn watch_then_subscribe_mirrors_every_change() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let u = unique();
    let src = p.path("src");
    let dest = p.path("dest");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dest).unwrap();
    let http = addr_of(&p.spawn_server("serve", &["serve", src.to_str().unwrap(), "--port", "0"]));
    fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    let b = "amqp://guest@127.0.0.1/";
    p.config(
        "watch",
        "w",
        &format!(
            "post_broker {b}\npost_exchange xs_guest_w{u}\npost_baseUrl http://{http}/\npost_baseDir {s}\npath {s}\n",
            s = src.display()
        ),
    );
    // baseDir: the source's tree, so renames (old absolute paths) land in this tree (sr3 rule).
    p.config(
        "subscribe",
        "w",
        &format!(
            "broker {b}\nexchange xs_guest_w{u}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\nbaseDir {}\naccept .*\n",
            dest.display(),
            src.display()
        ),
    );
    let out = p.run(&["declare", "watch/w", "subscribe/w"]);
    assert!(
        out.status.success(),
        "declare: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("subscribe", &["foreground", "subscribe/w"]);
    p.spawn("watch", &["foreground", "watch/w"]);
    assert!(
        wait_for(30, || p.log("watch").contains("now active on")),
        "watch did not start:\n{}",
        p.log("watch")
    );

    let same = |p: &Pump, what: &str| {
        let ok = wait_for(90, || tree(&src) == tree(&dest));
        assert!(
            ok,
            "{what}: trees differ:\n{}\nwatch log:\n{}\nsubscribe log:\n{}",
            tree_diff("dest", &tree(&src), &tree(&dest)),
            p.log("watch"),
            p.log("subscribe")
        );
    };

    // 1. A fresh tree (new nested directories, one 3 MiB file in twenty) and a link.
    make_tree(&src, 60, 20, 3 << 20);
    std::os::unix::fs::symlink("d0/e0/f_0000.bin", src.join("latest")).unwrap();
    same(&p, "after creating");

    // 2. Changes of every kind.
    fs::write(src.join("d0/e0/f_0000.bin"), b"rewritten").unwrap();
    fs::rename(src.join("d0/e1/f_0010.bin"), src.join("d0/e1/renamed.bin")).unwrap();
    fs::rename(src.join("d1"), src.join("d1moved")).unwrap();
    fs::remove_file(src.join("d3/e0/f_0003.bin")).unwrap();
    fs::remove_dir_all(src.join("d2")).unwrap();
    fs::remove_file(src.join("latest")).unwrap();
    std::os::unix::fs::symlink("d0/e1/renamed.bin", src.join("latest")).unwrap();
    fs::write(src.join(".inflight"), b"in flight").unwrap();
    fs::rename(src.join(".inflight"), src.join("arrived.txt")).unwrap();
    same(&p, "after changing");

    let sub = p.log("subscribe");
    assert!(
        sub.contains("renamed ok:"),
        "renames must be applied, not downloaded again:\n{sub}"
    );
    let watch_log = p.log("watch");
    assert!(!watch_log.contains("ERROR"), "{watch_log}");
    let w = p.stop("watch");
    let s = p.stop("subscribe");
    assert!(
        w.success() && s.success(),
        "exit: watch {w:?} subscribe {s:?}"
    );
    let _ = p.run(&["cleanup", "subscribe/w"]);
}
