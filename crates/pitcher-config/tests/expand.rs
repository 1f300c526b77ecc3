//! Variable expansion at parse time and per message, with a fixed "now" (UTC).
#![allow(clippy::unwrap_used)]

mod common;

use common::{flow, warnings};
use jiff::Timestamp;
use pitcher_config::{Component, MessageVars};

fn now() -> Timestamp {
    "2024-12-31T23:30:00Z".parse().unwrap()
}

#[test]
fn parse_time_expansion() {
    let f = flow(
        Component::Sarra,
        "broker amqps://bob:pw@h/\npost_broker amqps://alice:pw@h/\n\
         directory /data/${BROKER_USER}/${POST_BROKER_USER}/${PROGRAM}/${CONFIG}/${HOSTNAME}/${USER}/${HOME}\n\
         header id=${RANDID}\nheader r=${RAND8}\nbatch 40\nheader b=${batch}\n\
         post_baseUrl http://${HOSTNAME}:8001/\n",
    );
    let o = &f.options;
    assert_eq!(
        o.directory.as_deref(),
        Some("/data/bob/alice/sarra/t/pump.example.com/wxuser//home/wxuser")
    );
    assert_eq!(
        o.headers.get("id").map(String::as_str),
        Some(pitcher_config::randid())
    );
    let r = o.headers.get("r").unwrap();
    assert!(r.len() == 8 && r.bytes().all(|b| b.is_ascii_digit()), "{r}");
    assert_eq!(o.headers.get("b").map(String::as_str), Some("40"));
    assert_eq!(
        o.post_base_url.as_ref().map(|u| u.expose()),
        Some("http://pump.example.com:8001/")
    );
    assert!(f.warnings.is_empty(), "{}", warnings(&f));
}

#[test]
fn message_patterns_are_deferred_and_unknown_ones_warned() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\ndirectory /d/${YYYYMMDD}/${%H}/${SOURCE}/${1}/${BUP}/${BD}/${T1}\nheader x=${NOT_A_THING}\n",
    );
    assert_eq!(
        f.options.directory.as_deref(),
        Some("/d/${YYYYMMDD}/${%H}/${SOURCE}/${1}/${BUP}/${BD}/${T1}")
    );
    assert_eq!(
        f.options.headers.get("x").map(String::as_str),
        Some("${NOT_A_THING}")
    );
    let w = warnings(&f);
    assert!(
        w.contains("subscribe/t.conf:3: unknown variable ${NOT_A_THING} left as is"),
        "{w}"
    );
    assert_eq!(f.warnings.len(), 1, "{w}");
}

#[test]
fn per_message_expansion_in_utc_with_offsets() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\nbaseDir /base\nvarTimeOffset 1h\n",
    );
    let x = f.expander();
    let groups = vec![
        Some("https://h/a/T_123.txt".to_string()),
        Some("T".to_string()),
        Some("123".to_string()),
    ];
    let m = MessageVars {
        source: Some("WXO-DD"),
        base_url: Some("https://dd.example.com/data/radar"),
        groups: &groups,
    };
    let e = |s: &str| x.expand(s, now(), Some(&m)).text;
    // now + varTimeOffset (1h) crosses into 2025.
    assert_eq!(e("${YYYYMMDD}/${HH}/${JJJ}"), "20250101/00/001");
    assert_eq!(e("${%Y-%m-%d}"), "2025-01-01");
    // An explicit offset replaces varTimeOffset.
    assert_eq!(e("${%o-1h%Y%m%d%H}"), "2024123122");
    assert_eq!(e("${YYYYMMDD-1D}"), "20241230");
    assert_eq!(
        e("${SOURCE}/${BUP}/${BUPL}/${BD}"),
        "WXO-DD//data/radar/radar//base"
    );
    assert_eq!(e("${1}-${2}-${0}"), "T-123-https://h/a/T_123.txt");
    let ex = x.expand("${9}${UNKNOWN}", now(), Some(&m));
    assert_eq!(ex.text, "${9}${UNKNOWN}");
    assert_eq!(ex.unresolved, vec!["9", "UNKNOWN"]);

    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\nsundew_compat_regex_first_match_is_zero on\n",
    );
    assert_eq!(
        f.expander().expand("${0}${1}", now(), Some(&m)).text,
        "T123"
    );
}

#[test]
fn declared_env_before_process_env() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\ndeclare env HOME=/declared\ndirectory ${HOME}/x\n",
    );
    assert_eq!(f.options.directory.as_deref(), Some("/declared/x"));
    assert_eq!(
        f.expander().expand("${HOME}", now(), None).text,
        "/declared"
    );
}

#[test]
fn queue_name_and_share_are_not_expanded_at_parse_time() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://bob:pw@h/\nqueueShare ${HOSTNAME}\nqueueName q_${BROKER_USER}.${QUEUESHARE}.x\n",
    );
    assert_eq!(f.options.queue_share.as_deref(), Some("${HOSTNAME}"));
    assert_eq!(
        f.options.queue_name.as_deref(),
        Some("q_bob.pump.example.com.x")
    );
    let f = flow(
        Component::Subscribe,
        "broker amqps://bob:pw@h/\nqueueShare fixed\n",
    );
    assert_eq!(
        f.options.queue_name.as_deref(),
        Some("q_bob.subscribe.t.fixed")
    );
}
