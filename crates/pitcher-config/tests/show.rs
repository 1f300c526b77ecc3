//! `show` renders resolved options in config syntax; parsing that output gives the same options.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Tree, flow};
use pitcher_config::{Component, LoadedFlow};

/// Load `text` as a flow, show it, load the shown text as a flow in a fresh tree, compare.
fn round_trip(component: Component, text: &str) -> (LoadedFlow, String) {
    let first = flow(component, text);
    let shown = first.show();
    let t = Tree::new();
    t.write(&format!("{component}/t.conf"), &shown);
    let second = t.load(component, "t", &[]);
    assert_eq!(
        first.options, second.options,
        "round trip changed the options; show was:\n{shown}"
    );
    assert_eq!(second.show(), shown, "show is not stable");
    (first, shown)
}

#[test]
fn subscribe_round_trip() {
    let (_, shown) = round_trip(
        Component::Subscribe,
        "broker amqps://bob@broker.example.com/\n\
         exchange xs_bob_one\ntopicPrefix v02.post\nsubtopic *.WXO-DD.#\nexchange xs_two\nsubtopic b.#\n\
         batch 1k\nheartbeat 1h30m\nexpire 10m\nnodupe_ttl on\nfileEvents -rmdir\nlogReject on\nlogEvents +on_start\n\
         inflight 10\nfileAgeMin 5\nchmod 644\nvip 10.0.0.1\npath /a b\n\
         declare env FEED=radar\ndeclare source bob\ndeclare exchange xs_bob\ndeclare option plugin_opt\n\
         header a=b=c\nset x.Y.z some value\ncallback log\ncallback_prepend p1\ncallback_prepend p2\nimport my.mod\n\
         plugin_opt 3\nunknown_thing with words\non_message msg_fancy\n\
         directory /data/${FEED}/${YYYYMMDD}\nmirror on\nstrip .*WXO-DD/\naccept .*\\.grib2 WHATFN arg1\n\
         flatten -\nstrip 2\nreject .*tmp.*\nfilename NONE\ndirectory /last\naccept .*\n\
         debug\n",
    );
    for line in [
        "batch 1000\n",
        "housekeeping 5400\n",
        "expire 600\n",
        "nodupe_ttl 300\n",
        "permDefault 0o644\n",
        "fileEvents create,delete,link,mkdir,modify\n",
        "logLevel debug\n",
        "subtopic *.WXO-DD.#\n",
        "accept .*\\.grib2 arg1\n",
        "strip /.*WXO-DD/\n",
        "retry_ttl 600\n",
    ] {
        assert!(shown.contains(line), "missing {line:?} in\n{shown}");
    }
}

#[test]
fn other_components_round_trip() {
    round_trip(
        Component::Poll,
        "post_broker amqps://feeder@h/\ndestination sftp://u@remote/data\nsleep 600\npath /data\npath /data2\nfeeder amqps://feeder@h/\n",
    );
    round_trip(
        Component::Sender,
        "broker amqps://bob@h/\nsendTo sftp://u@remote/\npost_broker amqps://bob@h/\nbaseDir /srv\ndocument_root /dr\n",
    );
    round_trip(
        Component::Post,
        "post_broker amqp://bob@h/\npath ~/x\nmessageCountMax 3\nbatch 100\nrename /r/\n",
    );
    round_trip(
        Component::Winnow,
        "broker amqps://anonymous@h/\npost_broker amqps://anonymous@h/\npost_exchangeSplit 4\nnodupe_ttl None\n",
    );
    round_trip(
        Component::Flow,
        "flowMain sarra\nbroker mqtts://u@h/\nreceiveMaximum 10\nmessageRateMax 0.5\n",
    );
}

#[test]
fn show_is_config_syntax_in_table_order() {
    let f = flow(Component::Subscribe, "broker amqps://anonymous@h/\n");
    let shown = f.show();
    assert!(
        shown.starts_with("# pitcher show subscribe/t (resolved)\nbroker amqps://anonymous@h/\n"),
        "{shown}"
    );
    let table: Vec<&str> = pitcher_config::OPTIONS.iter().map(|o| o.name).collect();
    let mut last = 0;
    let mut seen = 0;
    for l in shown.lines().skip(1) {
        let name = l.split(' ').next().unwrap();
        let Some(i) = table.iter().position(|t| *t == name) else {
            break;
        };
        assert!(i >= last, "{name} out of table order");
        last = i;
        seen += 1;
    }
    assert!(seen >= table.len(), "every option is shown ({seen})");
    for l in shown.lines() {
        assert!(l.starts_with('#') || l.contains(' '), "bad line {l:?}");
    }
}
