//! Topics: how sr3 derives them from a message, escapes them for each protocol, reads them back,
//! and matches them against subscriptions.
//!
//! AMQP 0-9-1 routing keys are `.`-separated words: `v03.a.b` for relPath `a/b/file`; `#` and `*`
//! in names become `%23` and `%22` (sic: sr3's choice), and keys are cut to 255 bytes on a
//! character boundary. MQTT topics are `/`-separated and start with the exchange:
//! `xpublic/v03/a/b`; `#` and `+` become `%23` and `%2B`. Dots inside directory names are not
//! escaped, so directory `a.b` is two AMQP words.

/// Longest AMQP routing key (shortstr).
pub const AMQP_MAX_ROUTING_KEY: usize = 255;

/// The directory words of a relPath: `relPath.split('/')[0:-1]` (a leading `/` gives an empty
/// first word, as in sr3).
pub fn rel_path_dirs(rel_path: &str) -> Vec<&str> {
    let mut words: Vec<&str> = rel_path.split('/').collect();
    words.pop();
    words
}

/// The AMQP routing key for `prefix` + `words`.
pub fn amqp_topic<S: AsRef<str>, T: AsRef<str>>(prefix: &[S], words: &[T]) -> String {
    let mut key = String::with_capacity(64);
    let all = prefix
        .iter()
        .map(AsRef::as_ref)
        .chain(words.iter().map(AsRef::as_ref));
    for (i, w) in all.enumerate() {
        if i > 0 {
            key.push('.');
        }
        for c in w.chars() {
            match c {
                '#' => key.push_str("%23"),
                '*' => key.push_str("%22"),
                c => key.push(c),
            }
        }
    }
    truncate_on_char_boundary(&mut key, AMQP_MAX_ROUTING_KEY);
    key
}

/// The MQTT topic for `exchange` + `prefix` + `words`.
pub fn mqtt_topic<S: AsRef<str>, T: AsRef<str>>(
    exchange: &str,
    prefix: &[S],
    words: &[T],
) -> String {
    let mut topic = String::with_capacity(64);
    let all = std::iter::once(exchange)
        .chain(prefix.iter().map(AsRef::as_ref))
        .chain(words.iter().map(AsRef::as_ref));
    for (i, w) in all.enumerate() {
        if i > 0 {
            topic.push('/');
        }
        for c in w.chars() {
            match c {
                '#' => topic.push_str("%23"),
                '+' => topic.push_str("%2B"),
                c => topic.push(c),
            }
        }
    }
    topic
}

/// Splits a received AMQP routing key into words, undoing sr3's escapes.
pub fn amqp_words(routing_key: &str) -> Vec<String> {
    routing_key
        .split('.')
        .map(|w| w.replace("%23", "#").replace("%22", "*"))
        .collect()
}

/// Splits a received MQTT topic into (exchange, words), undoing sr3's escapes.
pub fn mqtt_words(topic: &str) -> (String, Vec<String>) {
    let mut it = topic
        .split('/')
        .map(|w| w.replace("%23", "#").replace("%2B", "+"));
    let exchange = it.next().unwrap_or_default();
    (exchange, it.collect())
}

/// The words after `prefix`, if the topic starts with it.
pub fn strip_prefix<'a, S: AsRef<str>>(words: &'a [String], prefix: &[S]) -> Option<&'a [String]> {
    if words.len() < prefix.len() {
        return None;
    }
    let same = words.iter().zip(prefix).all(|(w, p)| w == p.as_ref());
    same.then(|| &words[prefix.len()..])
}

/// Does an AMQP topic-exchange binding key (`*` = one word, `#` = zero or more) match a routing key?
pub fn amqp_binding_matches(binding: &str, routing_key: &str) -> bool {
    let pattern: Vec<&str> = binding.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    words_match(&pattern, &key, "*")
}

/// Does an MQTT topic filter (`+` = one level, `#` = this level and all below, last only) match a
/// topic? A `$share/<group>/` prefix is ignored; wildcards never match a first level starting
/// with `$`.
pub fn mqtt_filter_matches(filter: &str, topic: &str) -> bool {
    let filter = strip_shared(filter);
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let pattern: Vec<&str> = filter.split('/').collect();
    if pattern
        .iter()
        .enumerate()
        .any(|(i, p)| *p == "#" && i + 1 != pattern.len())
    {
        return false;
    }
    let levels: Vec<&str> = topic.split('/').collect();
    words_match(&pattern, &levels, "+")
}

/// The filter of a shared subscription `$share/<group>/<filter>`, or the filter itself.
pub fn strip_shared(filter: &str) -> &str {
    match filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((_, f)) => f,
        None => filter,
    }
}

/// Iterative wildcard matcher (`#` may match zero words), O(pattern × key) without recursion.
fn words_match(pattern: &[&str], key: &[&str], one: &str) -> bool {
    // reachable[j]: the first i pattern words can consume exactly the first j key words.
    let mut reachable = vec![false; key.len() + 1];
    reachable[0] = true;
    for p in pattern {
        let mut next = vec![false; key.len() + 1];
        if *p == "#" {
            let mut any = false;
            for j in 0..=key.len() {
                any |= reachable[j];
                next[j] = any;
            }
        } else {
            for j in 0..key.len() {
                if reachable[j] && (*p == one || *p == key[j]) {
                    next[j + 1] = true;
                }
            }
        }
        reachable = next;
    }
    reachable[key.len()]
}

fn truncate_on_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqp_derivation() {
        assert_eq!(
            amqp_topic(&["v03"], &rel_path_dirs("a.b/c/file#1.txt")),
            "v03.a.b.c"
        );
        assert_eq!(
            amqp_topic(&["v02", "post"], &rel_path_dirs("obs/2026.11/a_b/x")),
            "v02.post.obs.2026.11.a_b"
        );
        assert_eq!(amqp_topic(&["v03"], &rel_path_dirs("small")), "v03");
        assert_eq!(amqp_topic(&["v03"], &rel_path_dirs("/a/f")), "v03..a");
        assert_eq!(
            amqp_topic(&["v03"], &["we#ird", "st*r"]),
            "v03.we%23ird.st%22r"
        );
    }

    #[test]
    fn amqp_truncation_on_char_boundary() {
        let long = "é".repeat(200);
        let t = amqp_topic(&["v03"], &[long.as_str()]);
        assert!(t.len() <= 255);
        assert!(t.len() >= 253);
        assert!(t.is_char_boundary(t.len()));
    }

    #[test]
    fn mqtt_derivation_and_inverse() {
        let t = mqtt_topic("xs_guest", &["v03"], &rel_path_dirs("small/d00/f.dat"));
        assert_eq!(t, "xs_guest/v03/small/d00");
        assert_eq!(
            mqtt_topic("x", &["v03"], &["a#b", "c+d"]),
            "x/v03/a%23b/c%2Bd"
        );
        let (ex, words) = mqtt_words("x/v03/a%23b/c%2Bd");
        assert_eq!(ex, "x");
        assert_eq!(words, vec!["v03", "a#b", "c+d"]);
        assert_eq!(amqp_words("v03.a%23.b%22"), vec!["v03", "a#", "b*"]);
        assert_eq!(
            strip_prefix(&amqp_words("v03.a.b"), &["v03"]).map(|s| s.to_vec()),
            Some(vec!["a".to_string(), "b".into()])
        );
        assert_eq!(strip_prefix(&amqp_words("v02.a.b"), &["v03"]), None);
    }

    #[test]
    fn amqp_matching() {
        assert!(amqp_binding_matches("v03.#", "v03"));
        assert!(amqp_binding_matches("v03.#", "v03.a.b"));
        assert!(amqp_binding_matches("#", "anything.at.all"));
        assert!(amqp_binding_matches("v03.*.b.#", "v03.a.b"));
        assert!(amqp_binding_matches("v03.*.b.#", "v03.a.b.c.d"));
        assert!(!amqp_binding_matches("v03.*.b.#", "v03.b"));
        assert!(!amqp_binding_matches("v03.*", "v03"));
        assert!(amqp_binding_matches("v03.#.c", "v03.a.b.c"));
        assert!(amqp_binding_matches("v03.#.#.c", "v03.c"));
        assert!(!amqp_binding_matches("v03.a", "v03.a.b"));
    }

    #[test]
    fn mqtt_matching() {
        assert!(mqtt_filter_matches("xpublic/v03/#", "xpublic/v03"));
        assert!(mqtt_filter_matches("xpublic/v03/#", "xpublic/v03/a/b"));
        assert!(mqtt_filter_matches(
            "$share/q_x/xpublic/v03/+/b/#",
            "xpublic/v03/a/b"
        ));
        assert!(!mqtt_filter_matches("xpublic/v03/+", "xpublic/v03"));
        assert!(!mqtt_filter_matches("#", "$SYS/broker"));
        assert!(!mqtt_filter_matches("a/#/b", "a/x/b"));
        assert!(mqtt_filter_matches("+/+", "/x"));
    }

    #[test]
    fn long_patterns_are_fast() {
        let pattern = vec!["#"; 200].join(".") + ".z";
        let key = vec!["a"; 250].join(".");
        assert!(!amqp_binding_matches(&pattern, &key));
    }
}
