//! Topic derivation, parsing and wildcard matching on arbitrary strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pitcher_core::Timestamp;
use pitcher_core::topic::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    let dirs = rel_path_dirs(b);
    let key = amqp_topic(&["v03"], &dirs);
    assert!(key.len() <= AMQP_MAX_ROUTING_KEY);
    let _ = amqp_words(&key);
    let _ = amqp_binding_matches(a, &key);
    let t = mqtt_topic("x", &["v03"], &dirs);
    let _ = mqtt_words(&t);
    let _ = mqtt_filter_matches(a, &t);
    if let Ok(ts) = Timestamp::parse(text) {
        let s = ts.to_v03_string();
        assert_eq!(Timestamp::parse(&s).ok(), Some(ts));
    }
});
