//! Every option kind: good values, and bad values with their exact error text.
#![allow(clippy::unwrap_used)]

mod common;

use common::{flow, flow_error, warnings};
use pitcher_config::{Component, Strip};

const B: &str = "broker amqps://anonymous@h/\n";

fn sub(text: &str) -> pitcher_config::Options {
    flow(Component::Subscribe, &format!("{B}{text}")).options
}

#[test]
fn counts_and_sizes() {
    assert_eq!(sub("batch 1k\n").batch, 1000);
    assert_eq!(sub("prefetch 1Ki\n").prefetch, 1024);
    assert_eq!(sub("bufSize 1MB\n").buf_size, 1_048_576);
    assert_eq!(sub("blockSize 1M\n").block_size, 1_000_000);
    assert_eq!(sub("fileSizeMax 2g\n").file_size_max, 2_000_000_000);
    assert_eq!(sub("byteRateMax 1kb\n").byte_rate_max, 1024);
    assert_eq!(sub("receiveMaximum 10\n").receive_maximum, Some(10));
    assert_eq!(
        sub("receiveMaximum 10\nreceiveMaximum None\n").receive_maximum,
        None
    );
}

#[test]
fn durations_and_floats() {
    let o = sub(
        "sleep 1.5\nhousekeeping 1h30m\nmessageAgeMax 2d\nfileAgeMin 30s\nfileAgeMax 1w\ntimeout off\nvarTimeOffset -70m\n",
    );
    assert_eq!(o.sleep, 1.5);
    assert_eq!(o.housekeeping, 5400.0);
    assert_eq!(o.message_age_max, 172_800.0);
    assert_eq!(o.file_age_min, 30.0);
    assert_eq!(o.file_age_max, 604_800.0);
    assert_eq!(o.timeout, 0.0);
    assert_eq!(o.var_time_offset, -4200.0);
    assert_eq!(sub("nodupe_ttl on\n").nodupe_ttl, 300.0);
    assert_eq!(sub("cache true\n").nodupe_ttl, 300.0);
    assert_eq!(sub("suppress_duplicates 5m\n").nodupe_ttl, 300.0);
    assert_eq!(sub("nodupe_ttl off\n").nodupe_ttl, 0.0);
    assert_eq!(sub("expire 5m\n").expire, Some(300.0));
    assert_eq!(sub("expire 5m\nexpire None\n").expire, None);
    assert_eq!(sub("messageRateMax 1.5k\n").message_rate_max, 1500.0);
    assert_eq!(sub("MemoryMultiplier 2.5\n").memory_multiplier, 2.5);
    // A numeric inflight is a duration that also sets fileAgeMin (sr3).
    let o = sub("inflight 10\n");
    assert_eq!((o.inflight.as_deref(), o.file_age_min), (Some("10"), 10.0));
    assert_eq!(sub("inflight .tmp\n").inflight.as_deref(), Some(".tmp"));
    assert_eq!(
        sub("lock NONE\n").inflight,
        None,
        "sr3: none/off/false in any case = unset"
    );
    assert_eq!(sub("inflight .tmp\ninflight off\n").inflight, None);
}

#[test]
fn flags() {
    assert!(!sub("acceptUnmatched off\n").accept_unmatched);
    assert!(sub("delete\n").delete);
    assert!(sub("delete YES\n").delete);
    assert!(!sub("overwrite 0\n").overwrite);
    assert!(sub("logReject on\n").log_events.contains("reject"));
    assert!(sub("logDuplicates on\n").log_events.contains("nodupe"));
}

#[test]
fn lists_sets_strings_octals_topics() {
    let o = sub("path /a b\npath /c\nvip 10.0.0.1\n");
    assert_eq!(o.path, vec!["/a b", "/c"]);
    assert_eq!(sub("path /a\npath None\npath /b\n").path, vec!["/b"]);
    assert_eq!(o.vip, vec!["10.0.0.1"]);
    let o = sub("fileEvents -delete|rmdir\n");
    assert_eq!(
        o.file_events.iter().cloned().collect::<Vec<_>>(),
        ["create", "link", "mkdir", "modify"]
    );
    let o = sub("events create,modify\nfileEvents +link\n");
    assert_eq!(
        o.file_events.iter().cloned().collect::<Vec<_>>(),
        ["create", "link", "modify"]
    );
    assert!(sub("fileEvents None\n").file_events.is_empty());
    assert_eq!(
        sub("fileEvents None\nfileEvents all\n").file_events.len(),
        6
    );
    assert_eq!(sub("logEvents +reject\n").log_events.len(), 5);
    let o = sub("directory /a\ndirectory /b c\nfilename WHATFN\nfilename None\n");
    assert_eq!(o.directory.as_deref(), Some("/b c"));
    assert_eq!(o.filename, None);
    assert_eq!(
        sub("accelWgetCommand /bin/wget   -q %s   %d\n")
            .accel_wget_command
            .as_deref(),
        Some("/bin/wget -q %s %d")
    );
    let o = sub("chmod 644\npermDirDefault 0o755\npermLog 0600\n");
    assert_eq!(
        (o.perm_default, o.perm_dir_default, o.perm_log),
        (0o644, 0o755, 0o600)
    );
    assert_eq!(
        sub("topicPrefix v02.post\n").topic_prefix,
        vec!["v02", "post"]
    );
    assert_eq!(
        sub("topic_prefix v02/post.x\n").topic_prefix,
        vec!["v02", "post.x"]
    );
    assert_eq!(sub("strip 3\n").strip, Strip::Count(3));
    assert!(matches!(sub("strip .*WXO-DD/\n").strip, Strip::Regex(_)));
    assert_eq!(sub("sum z,d\n").identity.as_deref(), Some("cod,md5"));
    assert_eq!(sub("identity None\n").identity, None);
    assert_eq!(sub("flatten -\n").flatten.as_deref(), Some("-"));
    assert_eq!(
        sub("scheduled_minute 0,30\nscheduled_minute 45\n").scheduled_minute,
        vec!["0", "30", "45"]
    );
}

#[test]
fn only_first_word_of_single_value_kinds() {
    let f = flow(Component::Subscribe, &format!("{B}batch 10 # ten\n"));
    assert_eq!(f.options.batch, 10);
    assert!(
        warnings(&f)
            .contains("subscribe/t.conf:2: batch: only the first word is used; ignored: # ten")
    );
}

#[test]
fn bad_values_name_file_line_option_and_expectation() {
    let cases: &[(&str, &str)] = &[
        (
            "batch many",
            "batch: expected a count like 100 or 1k, got \"many\"",
        ),
        (
            "batch -5",
            "batch: expected a count like 100 or 1k, got \"-5\"",
        ),
        (
            "batch 2.5",
            "batch: expected a count like 100 or 1k, got \"2.5\"",
        ),
        (
            "blockSize 1x",
            "blockSize: expected a size like 4096, 1k (1000), 1kb or 1Ki (1024), 1M, 1MB or 1G, got \"1x\"",
        ),
        (
            "sleep 5q",
            "sleep: expected a duration in seconds like 30, 0.5, 5m, 1h30m, 2d or 1w, got \"5q\"",
        ),
        (
            "timeout on",
            "timeout: expected a duration in seconds like 30, 0.5, 5m, 1h30m, 2d or 1w, got \"on\"",
        ),
        (
            "messageRateMax fast",
            "messageRateMax: expected a number like 0.5, 10 or 1k, got \"fast\"",
        ),
        (
            "mirror maybe",
            "mirror: expected a flag: true/false, yes/no, on/off or 1/0, got \"maybe\"",
        ),
        (
            "acceptUnmatched None",
            "acceptUnmatched: expected a flag: true/false, yes/no, on/off or 1/0, got \"None\"",
        ),
        (
            "permDefault rw-r--r--",
            "permDefault: expected an octal permission like 644, 0644 or 0o755, got \"rw-r--r--\"",
        ),
        (
            "chmod 999",
            "chmod: expected an octal permission like 644, 0644 or 0o755, got \"999\"",
        ),
        (
            "fileEvents +bogus",
            "fileEvents: expected one or more of create,delete,link,mkdir,modify,rmdir separated by , or | (prefix + to add, - to remove; None or all), got \"+bogus\"",
        ),
        (
            "post_broker localhost",
            "post_broker: expected a URL like amqps://user@host/, got \"localhost\"",
        ),
        (
            "header nonsense",
            "header: expected name=value, got \"nonsense\"",
        ),
        ("h =x", "h: expected name=value, got \"=x\""),
        (
            "declare env NOEQUALS",
            "declare env: expected NAME=value, got \"NOEQUALS\"",
        ),
        (
            "declare frobnicate x",
            "declare: expected declare env NAME=value, declare source|subscriber <user>, declare exchange <name> or declare option <name>, got \"frobnicate x\"",
        ),
        ("directory", "directory: expected a value, got \"\""),
        ("accept", "accept: expected a regular expression, got \"\""),
        (
            "set onlykey",
            "set: expected set <module.Class>.<option> <value>",
        ),
        (
            "debug perhaps",
            "debug: expected a flag: true/false, yes/no, on/off or 1/0, got \"perhaps\"",
        ),
    ];
    for (line, want) in cases {
        let got = flow_error(Component::Subscribe, &format!("{B}# comment\n{line}\n"));
        assert_eq!(got, format!("subscribe/t.conf:3: {want}"), "line {line:?}");
    }
}

#[test]
fn bad_regexes_give_the_regex_error() {
    let e = flow_error(Component::Subscribe, "accept .*\nreject (unclosed\n");
    assert!(
        e.starts_with("subscribe/t.conf:2: reject: invalid regular expression \"(unclosed\": "),
        "{e}"
    );
    assert!(
        e.len() > "subscribe/t.conf:2: reject: invalid regular expression \"(unclosed\": ".len()
    );
    let e = flow_error(Component::Subscribe, "strip [z-a]\n");
    assert!(
        e.starts_with("subscribe/t.conf:1: strip: invalid regular expression \"[z-a]\": "),
        "{e}"
    );
}
