//! Layers (admin.conf < default.conf < component defaults < flow file < command line),
//! component defaults, and the derived values of finalize().
#![allow(clippy::unwrap_used)]

mod common;

use common::{Tree, flow, flow_error, warnings};
use pitcher_config::{Binding, Component};

#[test]
fn each_layer_overrides_the_previous_one() {
    let t = Tree::new();
    t.write(
        "admin.conf",
        "batch 11\nprefetch 11\nsleep 11\nheartbeat 11\ntimeout 11\nattempts 11\n",
    );
    t.write(
        "default.conf",
        "prefetch 22\nsleep 22\nheartbeat 22\ntimeout 22\nattempts 22\n",
    );
    t.write(
        "post/p.conf",
        "heartbeat 33\ntimeout 33\nattempts 33\npost_broker amqp://u:p@h/\n",
    );
    let f = t.load(Component::Post, "p", &["--attempts", "44"]);
    let o = &f.options;
    assert_eq!(o.batch, 11, "admin.conf only");
    assert_eq!(o.prefetch, 22, "default.conf over admin.conf");
    assert_eq!(o.sleep, -1.0, "post component default over default.conf");
    assert_eq!(o.housekeeping, 33.0, "flow file over default.conf");
    assert_eq!(o.timeout, 33.0, "flow file");
    assert_eq!(o.attempts, 44, "command line over flow file");
}

#[test]
fn component_defaults_beat_default_conf_as_in_sr3() {
    let t = Tree::new();
    t.write("default.conf", "mirror on\ndownload off\n");
    t.write("subscribe/s.conf", "broker amqps://anonymous@h/\n");
    let f = t.load(Component::Subscribe, "s", &[]);
    assert!(!f.options.mirror);
    assert!(f.options.download);
    // ... and the flow file beats the component defaults.
    t.write(
        "subscribe/m.conf",
        "broker amqps://anonymous@h/\nmirror on\n",
    );
    assert!(t.load(Component::Subscribe, "m", &[]).options.mirror);
}

#[test]
fn command_line_flags_and_synonyms() {
    let t = Tree::new();
    t.write("sarra/s.conf", "broker amqps://anonymous@h/\nmirror off\n");
    let f = t.load(
        Component::Sarra,
        "s",
        &[
            "--mirror",
            "--ll",
            "debug",
            "--sleep=-1",
            "--accept",
            ".*x",
            "--no_duplicates",
            "on",
        ],
    );
    assert!(f.options.mirror);
    assert_eq!(f.options.log_level.as_deref(), Some("debug"));
    assert_eq!(f.options.sleep, -1.0);
    assert_eq!(f.options.masks.len(), 1);
    assert_eq!(f.options.nodupe_ttl, 300.0);
    let f = t.load(Component::Sarra, "s", &["--debug"]);
    assert_eq!(f.options.log_level.as_deref(), Some("debug"));
    assert_eq!(
        t.error(Component::Sarra, "s", &["--mirror", "sometimes"]),
        "command line: --mirror: expected a flag: true/false, yes/no, on/off or 1/0, got \"sometimes\""
    );
    assert_eq!(
        t.error(Component::Sarra, "s", &["--batch"]),
        "command line: --batch: expected a count like 100 or 1k, got \"\""
    );
}

#[test]
fn code_defaults_of_each_component() {
    let b = "broker amqps://anonymous@h/\n";
    let s = flow(Component::Subscribe, b).options;
    assert_eq!(
        (s.batch, s.prefetch, s.mirror, s.download),
        (25, 25, false, true)
    );
    assert_eq!(s.nodupe_ttl, 0.0);
    assert_eq!(s.expire, None);
    assert_eq!(s.retry_ttl, None);
    assert_eq!(s.inflight, None);
    assert_eq!(s.directory, None);
    assert!(s.accept_unmatched && s.overwrite && s.perm_copy && s.time_copy);
    assert_eq!(s.timeout, 300.0);
    assert_eq!(s.identity.as_deref(), Some("sha512"));
    assert_eq!(s.topic_prefix, vec!["v03"]);
    assert_eq!(s.transfer_concurrency, 4);
    assert_eq!(s.perm_dir_default, 0o775);
    assert_eq!(s.perm_log, 0o600);
    assert_eq!(s.buf_size, 1_048_576);
    assert_eq!(s.inline_byte_max, 4096);
    assert_eq!(
        s.log_events.iter().cloned().collect::<Vec<_>>(),
        [
            "after_accept",
            "after_post",
            "after_work",
            "on_housekeeping"
        ]
    );

    let sarra = flow(Component::Sarra, b).options;
    assert!(sarra.mirror && sarra.download);
    let sender = flow(Component::Sender, b).options;
    assert!(sender.mirror && sender.download);
    let shovel = flow(Component::Shovel, b).options;
    assert!(shovel.mirror && !shovel.download);
    assert_eq!(shovel.nodupe_ttl, 0.0);
    let report = flow(Component::Report, b).options;
    assert!(!report.download);
    // Pitcher's decision (reference Q3): winnow suppresses duplicates for 300 s by default.
    let winnow = flow(Component::Winnow, b).options;
    assert_eq!(winnow.nodupe_ttl, 300.0);
    assert!(!winnow.download);

    let pb = "post_broker amqp://u:p@h/\n";
    let post = flow(Component::Post, pb).options;
    assert_eq!(post.sleep, -1.0);
    assert_eq!(post.block_size, 1);
    assert_eq!(post.nodupe_ttl, 0.0);
    assert!(!post.follow_symlinks);
    assert_eq!(post.identity.as_deref(), Some("sha512"));
    let watch = flow(Component::Watch, pb).options;
    assert_eq!((watch.sleep, watch.block_size), (5.0, 1));
    let poll = flow(Component::Poll, pb).options;
    assert_eq!(poll.identity.as_deref(), Some("cod,sha512"));
    assert_eq!(poll.nodupe_ttl, 25200.0);
    assert_eq!(poll.file_age_max, 30.0 * 86400.0);
    assert_eq!(poll.block_size, 1);
    let fl = flow(Component::Flow, b).options;
    assert!(fl.mirror && !fl.download);
    assert_eq!(fl.sleep, 0.1);
}

#[test]
fn derived_exchange_source_binding_queue() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@dd.example.com/\n",
    );
    let o = &f.options;
    assert_eq!(o.exchange.as_deref(), Some("xpublic"));
    assert_eq!(o.source.as_deref(), Some("anonymous"));
    assert_eq!(
        o.bindings,
        vec![Binding {
            exchange: Some("xpublic".into()),
            topic_prefix: vec!["v03".into()],
            subtopic: "#".into()
        }]
    );
    let q = o.queue_name.clone().unwrap();
    let prefix = "q_anonymous.subscribe.t.wxuser_pump.example.com_";
    assert!(q.starts_with(prefix), "{q}");
    let rand = &q[prefix.len()..];
    assert!(
        rand.len() == 8 && rand.bytes().all(|b| b.is_ascii_digit()),
        "{q}"
    );
    assert_eq!(o.post_topic_prefix, Some(vec!["v03".to_string()]));

    // AMQP without a user is anonymous too.
    let f = flow(Component::Subscribe, "broker amqps://dd.example.com/\n");
    assert_eq!(f.options.exchange.as_deref(), Some("xpublic"));

    let f = flow(
        Component::Sarra,
        "broker amqps://bob:pw@h/\nexchangeSuffix wx\npost_broker amqps://alice:pw@h2/\npost_exchangeSuffix out\nqueueName q_${BROKER_USER}.mine\n",
    );
    let o = &f.options;
    assert_eq!(o.exchange.as_deref(), Some("xs_bob_wx"));
    assert_eq!(o.post_exchange.as_deref(), Some("xs_alice_out"));
    assert_eq!(o.source.as_deref(), Some("alice"));
    assert_eq!(o.queue_name.as_deref(), Some("q_bob.mine"));

    let f = flow(
        Component::Subscribe,
        "broker amqps://bob:pw@h/\nsourceFromExchange on\nqueueName myqueue\n",
    );
    assert_eq!(f.options.source, None);
    assert!(
        warnings(&f).contains("queueName myqueue does not start with q_bob"),
        "{}",
        warnings(&f)
    );
}

#[test]
fn derived_misc() {
    let f = flow(
        Component::Shovel,
        "broker amqps://anonymous@h/\nexpire 10m\nmessageCountMax 5\npost_broker amqp://u:p@h/\npost_topicPrefix v02.post\n",
    );
    let o = &f.options;
    assert_eq!(o.retry_ttl, Some(600.0));
    assert_eq!(o.batch, 5);
    assert_eq!(
        o.post_topic_prefix,
        Some(vec!["v02".to_string(), "post".to_string()])
    );
    assert_eq!(o.post_format.as_deref(), Some("v02"));

    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\nexpire 0\n",
    );
    assert_eq!(f.options.retry_ttl, None);

    let f = flow(
        Component::Poll,
        "post_broker amqps://feeder:pw@h/\npollUrl sftp://u@remote/data\nsleep 900\ninstances 3\n",
    );
    let o = &f.options;
    assert_eq!(
        o.broker.as_ref().map(|b| b.expose()),
        Some("amqps://feeder:pw@h/")
    );
    assert_eq!(o.post_exchange.as_deref(), Some("xs_feeder"));
    assert_eq!(o.exchange.as_deref(), Some("xs_feeder"));
    assert_eq!((o.sleep, o.scheduled_interval), (1.0, 900.0));
    assert_eq!(
        o.post_base_url.as_ref().map(|u| u.expose()),
        Some("sftp://u@remote/data")
    );
    assert_eq!(o.post_base_dir.as_deref(), Some("/data"));
    assert_eq!(o.instances, 1);
    assert!(warnings(&f).contains("instances 3"));

    let f = flow(
        Component::Poll,
        "broker amqps://feeder:pw@h/\nsleep 900\nscheduled_hour 1,13\n",
    );
    assert_eq!(
        f.options.post_broker.as_ref().map(|u| u.expose()),
        Some("amqps://feeder:pw@h/"),
        "broker means post_broker in a poll"
    );
    assert_eq!(
        (f.options.sleep, f.options.scheduled_interval),
        (900.0, 0.0)
    );
    assert_eq!(f.options.scheduled_hour, vec!["1", "13"]);

    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\npost_baseUrl file:/var/www\n",
    );
    assert_eq!(f.options.post_base_dir.as_deref(), Some("/var/www"));
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\nbaseDir ~/data\ndirectory ~/out\n",
    );
    assert_eq!(
        f.options.post_base_dir.as_deref(),
        Some("/home/wxuser/data")
    );
    assert_eq!(f.options.directory.as_deref(), Some("/home/wxuser/out"));
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\ndocument_root /dr\n",
    );
    assert_eq!(f.options.post_base_dir.as_deref(), Some("/dr"));
    assert!(warnings(&f).contains("use post_baseDir instead of documentRoot"));

    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\nlogLevel None\n",
    );
    assert_eq!(f.options.log_level, None);
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\nlogLevel NONE\n",
    );
    assert_eq!(f.options.log_level.as_deref(), Some("critical"));
}

#[test]
fn finalize_validation_names_file_and_line() {
    assert_eq!(
        flow_error(
            Component::Subscribe,
            "broker amqps://anonymous@h/\n\ninlineEncoding base99\n"
        ),
        "subscribe/t.conf:3: inlineEncoding: expected one of guess, text, binary, got \"base99\""
    );
    assert_eq!(
        flow_error(Component::Subscribe, "post_format v04\n"),
        "subscribe/t.conf:1: post_format: expected one of v02, v03, wis, got \"v04\""
    );
    let f = flow(Component::Subscribe, "batch 3\n");
    assert!(warnings(&f).contains("no broker: a subscribe needs one"));
}
