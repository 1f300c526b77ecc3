//! The standard three-stage pump used by several test binaries: `post` -> `sarra` ->
//! `subscribe`, each stage with its own HTTP server, checked file by file at the end.
#![allow(dead_code, clippy::unwrap_used)]

use super::{Pump, all_entries, files, make_tree, same_content, wait_for};

pub fn addr_of(line: &str) -> String {
    // "pitcher serve DIR on http://127.0.0.1:PORT/" or "pitcher broker listening on ADDR"
    line.rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// How a mirror run goes: the tree, extra sarra options, and when to disturb it.
pub struct Plan {
    /// Files in the generated tree (every 20th is 3 MiB).
    pub files: usize,
    /// Extra lines for the sarra configuration (e.g. `messageRateMax 40`).
    pub sarra_extra: String,
    /// Extra lines for the post configuration (e.g. `blockSize 256k`).
    pub post_extra: String,
    /// Call the disruption once this many files have reached the subscriber.
    pub disrupt_after: usize,
    /// How long everything may take to arrive.
    pub wait_secs: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            files: 60,
            sarra_extra: String::new(),
            post_extra: String::new(),
            disrupt_after: 0,
            wait_secs: 120,
        }
    }
}

/// post -> sarra -> subscribe through broker URL `b`; `x` makes exchange names unique.
pub fn mirror_through(p: &mut Pump, b: &str, x: &str) {
    mirror_with(p, b, x, &Plan::default(), |_| {});
}

/// Like [`mirror_through`], calling `disrupt` (restart the broker, kill a stage...) in the middle
/// of the run, once `plan.disrupt_after` files have arrived.
pub fn mirror_with(p: &mut Pump, b: &str, x: &str, plan: &Plan, disrupt: impl FnOnce(&mut Pump)) {
    let src = p.path("src");
    let mirror = p.path("mirror");
    let dest = p.path("dest");
    let tree = make_tree(&src, plan.files, 20, 3 << 20);
    std::fs::create_dir_all(&mirror).unwrap();
    let src_http = addr_of(&p.spawn_server(
        "serve-src",
        &["serve", src.to_str().unwrap(), "--port", "0"],
    ));
    let mirror_http = addr_of(&p.spawn_server(
        "serve-mirror",
        &["serve", mirror.to_str().unwrap(), "--port", "0"],
    ));
    std::fs::write(
        p.path("config").join("credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    p.config(
        "post",
        "t",
        &format!(
            "post_broker {b}\npost_exchange xs_guest_{x}\npost_baseUrl http://{src_http}/\npost_baseDir {}\n{}\n",
            src.display(),
            plan.post_extra
        ),
    );
    p.config(
        "sarra",
        "t",
        &format!(
            "broker {b}\nexchange xs_guest_{x}\nexpire 5m\nsubtopic #\ndirectory {m}\nmirror on\npost_broker {b}\npost_exchange xpublic_{x}\npost_baseDir {m}\npost_baseUrl http://{mirror_http}/\n{extra}\naccept .*\n",
            m = mirror.display(),
            extra = plan.sarra_extra
        ),
    );
    p.config(
        "subscribe",
        "t",
        &format!(
            "broker {b}\nexchange xpublic_{x}\nexpire 5m\nsubtopic #\ndirectory {}\nmirror on\naccept .*\n",
            dest.display()
        ),
    );
    let out = p.run(&["declare", "post/t", "sarra/t", "subscribe/t"]);
    assert!(
        out.status.success(),
        "declare: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("sarra", &["foreground", "sarra/t"]);
    p.spawn("subscribe", &["foreground", "subscribe/t"]);
    let out = p.run(&["post", "-c", "t", src.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "post: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if plan.disrupt_after > 0 {
        let reached = wait_for(plan.wait_secs, || files(&dest).len() >= plan.disrupt_after);
        assert!(
            reached,
            "only {} files arrived before the disruption\nsarra log:\n{}\nsubscribe log:\n{}",
            files(&dest).len(),
            p.log("sarra"),
            p.log("subscribe")
        );
        disrupt(p);
    }
    let arrived = wait_for(plan.wait_secs, || files(&dest).len() >= tree.len());
    let sarra_status = p.stop("sarra");
    let sub_status = p.stop("subscribe");
    assert!(
        arrived,
        "only {} of {} files arrived\nsarra log:\n{}\nsubscribe log:\n{}",
        files(&dest).len(),
        tree.len(),
        p.log("sarra"),
        p.log("subscribe")
    );
    assert!(sarra_status.success(), "sarra exit {sarra_status:?}");
    assert!(sub_status.success(), "subscribe exit {sub_status:?}");
    assert_eq!(files(&dest), tree, "subscriber tree");
    assert_eq!(files(&mirror), tree, "mirror tree");
    for rel in &tree {
        assert!(
            same_content(&src.join(rel), &dest.join(rel)),
            "{} differs",
            rel.display()
        );
        assert!(
            same_content(&src.join(rel), &mirror.join(rel)),
            "{} differs in the mirror",
            rel.display()
        );
    }
    // No inflight leftovers.
    for root in [&dest, &mirror] {
        let hidden: Vec<_> = all_entries(root)
            .into_iter()
            .filter(|e| {
                e.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        assert!(hidden.is_empty(), "inflight files left: {hidden:?}");
    }
    let log = p.log("subscribe");
    assert!(log.contains("downloaded ok:"), "{log}");
    assert!(
        p.log("sarra").contains("posted"),
        "sarra log lacks posted lines"
    );
    let _ = p.run(&["cleanup", "sarra/t", "subscribe/t"]);
}
