//! Statements: synonyms, include, declare, set, header, masks, subtopic bindings, callbacks,
//! unknown keywords and v2 plugin lines.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Tree, flow, warnings};
use pitcher_config::{Binding, Component, Strip};

const B: &str = "broker amqps://anonymous@h/\n";

#[test]
fn synonyms_map_to_canonical_options() {
    let o = flow(
        Component::Subscribe,
        "b amqps://anonymous@h/\nex xs_other\nheartbeat 60\ninstance 3\nno_duplicates 10m\nsuppress_duplicates_basis name\n\
         chmod_dir 700\nsimulate on\npreserve_time off\ntopic_prefix v02.post\nqueue q_anonymous.x\nimx 1k\nfile_time_limit 1d\n",
    )
    .options;
    assert_eq!(o.exchange.as_deref(), Some("xs_other"));
    assert_eq!(o.housekeeping, 60.0);
    assert_eq!(o.instances, 3);
    assert_eq!(o.nodupe_ttl, 600.0);
    assert_eq!(o.nodupe_basis.as_deref(), Some("name"));
    assert_eq!(o.perm_dir_default, 0o700);
    assert!(o.dry_run && !o.time_copy);
    assert_eq!(o.topic_prefix, vec!["v02", "post"]);
    assert_eq!(o.queue_name.as_deref(), Some("q_anonymous.x"));
    assert_eq!(o.inline_byte_max, 1000);
    assert_eq!(o.file_age_max, 86400.0);

    let s = flow(
        Component::Sender,
        &format!("{B}destination sftp://u@remote/\n"),
    )
    .options;
    assert_eq!(
        s.send_to.as_ref().map(|u| u.expose()),
        Some("sftp://u@remote/")
    );
    let p = flow(
        Component::Poll,
        "broker amqps://feeder:pw@h/\ndestination ftp://u:p@remote/\n",
    )
    .options;
    assert_eq!(
        p.poll_url.as_ref().map(|u| u.expose()),
        Some("ftp://u:p@remote/")
    );
    assert_eq!(
        p.post_broker.as_ref().map(|u| u.expose()),
        Some("amqps://feeder:pw@h/")
    );
}

#[test]
fn keywords_are_case_sensitive() {
    let f = flow(Component::Subscribe, &format!("{B}Batch 10\n"));
    assert_eq!(f.options.batch, 25);
    assert_eq!(
        f.options.extra,
        vec![("Batch".to_string(), "10".to_string())]
    );
    assert!(
        warnings(&f).contains("subscribe/t.conf:2: unknown option Batch (kept for callbacks)"),
        "{}",
        warnings(&f)
    );
}

#[test]
fn unknown_keywords_kept_and_declared_options_silent() {
    let f = flow(
        Component::Subscribe,
        &format!("{B}declare option myplugin_level\nmyplugin_level 3\nother_thing a b\n"),
    );
    assert_eq!(
        f.options.extra,
        vec![
            ("myplugin_level".into(), "3".into()),
            ("other_thing".into(), "a b".into())
        ]
    );
    let w = warnings(&f);
    assert!(!w.contains("myplugin_level"), "{w}");
    assert!(
        w.contains("subscribe/t.conf:4: unknown option other_thing"),
        "{w}"
    );
}

#[test]
fn v2_plugin_lines_are_kept_with_a_warning() {
    let f = flow(
        Component::Subscribe,
        &format!(
            "{B}on_message msg_print_lag\nplugin accel_wget.py\non_msg msg_log\nno_download\ncache_stat on\n"
        ),
    );
    assert_eq!(
        f.options.v2_plugins,
        vec![
            ("on_message".into(), "msg_print_lag".into()),
            ("plugin".into(), "accel_wget.py".into())
        ]
    );
    assert!(f.options.log_events.contains("after_accept"));
    assert!(!f.options.download);
    let w = warnings(&f);
    assert!(w.contains("subscribe/t.conf:2: v2 plugin line \"on_message msg_print_lag\" is not supported by Pitcher"), "{w}");
    assert!(
        w.contains("subscribe/t.conf:3: v2 plugin line \"plugin accel_wget.py\" is not supported"),
        "{w}"
    );
    assert!(w.contains("subscribe/t.conf:4: v2 plugin line \"on_msg msg_log\" converted to logEvents +after_accept"), "{w}");
    assert!(
        w.contains("subscribe/t.conf:6: obsolete v2 option cache_stat ignored"),
        "{w}"
    );
}

#[test]
fn declare_env_is_used_by_later_lines_and_not_exported() {
    let f = flow(
        Component::Subscribe,
        &format!(
            "{B}directory /before/${{FEED}}\ndeclare env FEED=radar\ndirectory /data/${{FEED}}/${{FEED_ROOT}}\naccept .*\n"
        ),
    );
    let o = &f.options;
    assert_eq!(o.env.get("FEED").map(String::as_str), Some("radar"));
    assert_eq!(o.directory.as_deref(), Some("/data/radar//srv/feeds"));
    assert!(
        std::env::var_os("FEED").is_none(),
        "declare env must not touch the process environment"
    );
    assert!(
        warnings(&f).contains("subscribe/t.conf:2: unknown variable ${FEED} left as is"),
        "{}",
        warnings(&f)
    );
    let f = flow(
        Component::Subscribe,
        &format!(
            "{B}declare envvar X=a=b c\ndeclare subscriber anon\ndeclare source bob\ndeclare exchange xs_bob_x\n"
        ),
    );
    assert_eq!(f.options.env.get("X").map(String::as_str), Some("a=b c"));
    assert_eq!(
        f.options.declared_users.get("anon").map(String::as_str),
        Some("subscriber")
    );
    assert_eq!(
        f.options.declared_users.get("bob").map(String::as_str),
        Some("source")
    );
    assert_eq!(f.options.declared_exchanges, vec!["xs_bob_x"]);
}

#[test]
fn set_header_callbacks() {
    let o = flow(
        Component::Subscribe,
        &format!(
            "{B}set sarracenia.flowcb.log.Log.level debug info\ns x.Y.z 1\nheader toto=pig=2\nh empty=\n\
             callback log\nflowcb work.age\nfcb log\ncallback_prepend a\ncbp b\nimport my.module\n"
        ),
    )
    .options;
    assert_eq!(
        o.settings
            .get("sarracenia.flowcb.log.Log.level")
            .map(String::as_str),
        Some("debug info")
    );
    assert_eq!(o.settings.get("x.Y.z").map(String::as_str), Some("1"));
    assert_eq!(o.headers.get("toto").map(String::as_str), Some("pig=2"));
    assert_eq!(o.headers.get("empty").map(String::as_str), Some(""));
    assert_eq!(o.callbacks, vec!["log", "work.age"]);
    assert_eq!(o.callbacks_prepend, vec!["b", "a"]);
    assert_eq!(o.imports, vec!["my.module"]);
}

#[test]
fn masks_capture_placement_options_at_their_line() {
    let o = flow(
        Component::Subscribe,
        &format!(
            "{B}directory /one\naccept .*a.*\nmirror on\nstrip 2\ndirectory /two\nreject .*\\.tmp\n\
             flatten -\nfilename WHATFN\naccept .*b.* NONE:TIME extra1 extra2\naccept .*c.* arg\ndirectory /three\n"
        ),
    )
    .options;
    assert_eq!(o.masks.len(), 4);
    let m0 = &o.masks[0];
    assert!(m0.accept);
    assert_eq!(m0.pattern.as_str(), ".*a.*");
    assert_eq!(m0.placement.directory.as_deref(), Some("/one"));
    assert!(!m0.placement.mirror);
    assert_eq!(m0.placement.strip, Strip::Count(0));
    let m1 = &o.masks[1];
    assert!(!m1.accept);
    assert_eq!(m1.placement.directory.as_deref(), Some("/two"));
    assert!(m1.placement.mirror);
    assert_eq!(m1.placement.strip, Strip::Count(2));
    let m2 = &o.masks[2];
    assert_eq!(m2.placement.flatten.as_deref(), Some("-"));
    assert_eq!(m2.placement.filename.as_deref(), Some("NONE:TIME"));
    assert_eq!(m2.args, vec!["extra1", "extra2"]);
    let m3 = &o.masks[3];
    assert_eq!(m3.placement.filename.as_deref(), Some("WHATFN"));
    assert_eq!(m3.args, vec!["arg"]);
    assert_eq!(o.directory.as_deref(), Some("/three"));
}

#[test]
fn subtopic_bindings_capture_exchange_and_prefix() {
    let o = flow(
        Component::Subscribe,
        "broker amqps://bob:pw@h/\nsubtopic a.#\nexchange xs_one\nsubtopic b.#\ntopicPrefix v02.post\nexchange xs_two\nsubtopic c.*\n",
    )
    .options;
    assert_eq!(
        o.bindings,
        vec![
            Binding {
                exchange: Some("xs_bob".into()),
                topic_prefix: vec!["v03".into()],
                subtopic: "a.#".into()
            },
            Binding {
                exchange: Some("xs_one".into()),
                topic_prefix: vec!["v03".into()],
                subtopic: "b.#".into()
            },
            Binding {
                exchange: Some("xs_two".into()),
                topic_prefix: vec!["v02".into(), "post".into()],
                subtopic: "c.*".into()
            },
        ]
    );
    let o = flow(
        Component::Subscribe,
        &format!("{B}subtopic a.#\nsubtopic None\nsubtopic z.#\n"),
    )
    .options;
    assert_eq!(o.bindings.len(), 1);
    assert_eq!(o.bindings[0].subtopic, "z.#");
    let f = flow(
        Component::Subscribe,
        &format!("{B}subtopic a.#\nprefetch 5\n"),
    );
    assert!(
        warnings(&f).contains("subscribe/t.conf:3: prefetch should appear before subtopic"),
        "{}",
        warnings(&f)
    );
}

#[test]
fn include_relative_nested_and_root() {
    let t = Tree::new();
    t.write(
        "subscribe/f.conf",
        "include common.inc\ninclude ../shared/more.inc\ninclude rootonly\nbatch 7\n",
    );
    t.write(
        "subscribe/common.inc",
        "broker amqps://anonymous@h/\ninclude deeper/nested.inc\nbatch 3\n",
    );
    t.write("subscribe/deeper/nested.inc", "prefetch 9\n");
    t.write("shared/more.inc", "timeout 12\n");
    t.write("rootonly.inc", "attempts 8\n");
    let f = t.load(Component::Subscribe, "f", &[]);
    assert_eq!(f.options.batch, 7, "lines after the include win");
    assert_eq!(f.options.prefetch, 9);
    assert_eq!(f.options.timeout, 12.0);
    assert_eq!(f.options.attempts, 8);
    // Included lines are reported with their own file and line.
    t.write("subscribe/deeper/nested.inc", "prefetch lots\n");
    assert_eq!(
        t.error(Component::Subscribe, "f", &[]),
        "subscribe/deeper/nested.inc:1: prefetch: expected a count like 100 or 1k, got \"lots\""
    );
    // config is a synonym; absolute paths work; the command line can include too.
    let abs = t.root().join("shared/more.inc");
    t.write(
        "subscribe/g.conf",
        &format!("{B}config {}\n", abs.display()),
    );
    assert_eq!(t.load(Component::Subscribe, "g", &[]).options.timeout, 12.0);
    assert_eq!(
        t.load(Component::Subscribe, "g", &["--include", "rootonly"])
            .options
            .attempts,
        8
    );
}

#[test]
fn include_errors() {
    let t = Tree::new();
    t.write("subscribe/loop.conf", "batch 1\ninclude a.inc\n");
    t.write("subscribe/a.inc", "include b.inc\n");
    t.write("subscribe/b.inc", "\ninclude a.inc\n");
    assert_eq!(
        t.error(Component::Subscribe, "loop", &[]),
        "subscribe/b.inc:2: include loop: subscribe/loop.conf -> subscribe/a.inc -> subscribe/b.inc -> subscribe/a.inc"
    );
    t.write("subscribe/self.conf", "include self.conf\n");
    assert_eq!(
        t.error(Component::Subscribe, "self", &[]),
        "subscribe/self.conf:1: include loop: subscribe/self.conf -> subscribe/self.conf"
    );
    t.write("subscribe/missing.conf", "\n\ninclude nowhere.inc\n");
    assert_eq!(
        t.error(Component::Subscribe, "missing", &[]),
        format!(
            "subscribe/missing.conf:3: include: file \"nowhere.inc\" not found (looked in: subscribe, {})",
            t.root().display()
        )
    );
}
