//! The line format of sr3's nodupe cache file: `"<key> <epoch %f> <urllib.parse.quote(path)>\n"`.
//!
//! sr3 writes with `"%s %f %s\n"` and reads with `line.split()` (any whitespace), taking words 0,
//! 1 and 2 and skipping lines where that fails. A key containing whitespace (a fallback key made
//! from a `relPath` with a space) therefore does not survive a reload in sr3. Here a line is read
//! from the right first: the path is quoted and the time is a number, so neither contains a
//! space, and everything before them is the key — this reads every line sr3 writes as sr3 does,
//! and also keeps keys with inner spaces. Only when that fails is sr3's `split()` rule applied.
//! Leading and trailing whitespace of a key are not preserved across a reload (nor in sr3).
//!
//! Keys containing a line break cannot be written (they would break the line structure for sr3,
//! whose text-mode reader also splits on `\r`): the cache keeps them in memory only.

/// Python's `urllib.parse.quote(s)` (safe = `/`): every byte of the UTF-8 form except ASCII
/// letters, digits and `_.-~/` becomes `%XX` (upper-case hex).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    quote_into(s, &mut out);
    out
}

pub(crate) fn quote_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
    }
}

/// Python's `urllib.parse.unquote(s)`: `%XX` (either case) becomes the byte, malformed escapes
/// stay as they are, and the bytes are decoded as UTF-8 with U+FFFD for invalid sequences.
pub fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex_val(*c)),
                b.get(i + 2).and_then(|c| hex_val(*c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// True when `key` can be written on a line (no line break sr3's reader would split on).
pub(crate) fn key_is_writable(key: &str) -> bool {
    !key.contains(['\n', '\r'])
}

/// One line as sr3 writes it: `"<key> <time %f> <quote(path)>\n"`.
pub fn format_line(key: &str, time: f64, path: &str) -> String {
    let mut s = String::with_capacity(key.len() + path.len() + 24);
    format_line_into(key, time, path, &mut s);
    s
}

pub(crate) fn format_line_into(key: &str, time: f64, path: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push_str(key);
    let _ = write!(out, " {time:.6} ");
    quote_into(path, out);
    out.push('\n');
}

/// Parses one line (with or without its line break) into `(key, time, path)`; `None` when it is
/// not a valid entry (sr3 logs "load corrupted" and skips those). Non-finite times are refused.
pub fn parse_line(line: &str) -> Option<(String, f64, String)> {
    let l = line.strip_suffix('\n').unwrap_or(line);
    let l = l.strip_suffix('\r').unwrap_or(l);
    // Right to left: "<key> <time> <qpath>" with single spaces, as both writers produce.
    if let Some((rest, qpath)) = l.rsplit_once(' ')
        && !qpath.contains(char::is_whitespace)
        && let Some((key, t)) = rest.rsplit_once(' ')
        && let Some(t) = parse_time(t)
    {
        let key = if key.contains(char::is_whitespace) && key.split_whitespace().count() == 1 {
            key.trim()
        } else {
            key
        };
        if !key.is_empty() {
            return Some((key.to_string(), t, unquote(qpath)));
        }
    }
    // sr3's own rule: words = line.split(); key, time, qpath = words[0], words[1], words[2].
    let mut words = l.split_whitespace();
    let (key, t, qpath) = (words.next()?, words.next()?, words.next()?);
    Some((key.to_string(), parse_time(t)?, unquote(qpath)))
}

fn parse_time(t: &str) -> Option<f64> {
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_python() {
        // Expected values computed with Python 3: urllib.parse.quote(s).
        assert_eq!(quote("a/b c.txt"), "a/b%20c.txt");
        assert_eq!(quote("A-z_0.9~/"), "A-z_0.9~/");
        assert_eq!(quote("é€"), "%C3%A9%E2%82%AC");
        assert_eq!(quote("a+b%c&d=e?f#g"), "a%2Bb%25c%26d%3De%3Ff%23g");
        assert_eq!(quote("x\ny\tz"), "x%0Ay%09z");
        assert_eq!(quote(""), "");
    }

    #[test]
    fn unquote_like_python() {
        assert_eq!(unquote("a/b%20c.txt"), "a/b c.txt");
        assert_eq!(unquote("%c3%A9"), "é");
        assert_eq!(unquote("100%"), "100%");
        assert_eq!(unquote("%zz%4"), "%zz%4");
        assert_eq!(unquote("a+b"), "a+b");
        assert_eq!(unquote("%FF"), "\u{FFFD}");
        for s in ["a b/c%d", "é\n€", "", "%%", "/x/y"] {
            assert_eq!(unquote(&quote(s)), s);
        }
    }

    #[test]
    fn lines() {
        let l = format_line("sha512,abc", 1_700_000_000.5, "a/b c");
        assert_eq!(l, "sha512,abc 1700000000.500000 a/b%20c\n");
        assert_eq!(
            parse_line(&l),
            Some(("sha512,abc".into(), 1_700_000_000.5, "a/b c".into()))
        );
        // Keys with inner spaces survive (sr3 would skip the line).
        let l = format_line("dir/a b.txt,20240101T000000,5", 12.0, "dir/a b.txt");
        assert_eq!(
            parse_line(&l),
            Some((
                "dir/a b.txt,20240101T000000,5".into(),
                12.0,
                "dir/a b.txt".into()
            ))
        );
        // Empty path (relPath "/"): "key 12.000000 \n".
        assert_eq!(
            parse_line("k 12.000000 \n"),
            Some(("k".into(), 12.0, String::new()))
        );
        // sr3's split() rule: tabs, several spaces, trailing words.
        assert_eq!(
            parse_line("k\t12.5\tp%20q  \n"),
            Some(("k".into(), 12.5, "p q".into()))
        );
        assert_eq!(
            parse_line("k 12.5 p extra"),
            Some(("k".into(), 12.5, "p".into()))
        );
        assert_eq!(
            parse_line("k  12.5 p"),
            Some(("k".into(), 12.5, "p".into()))
        );
        for bad in [
            "",
            "\n",
            "k",
            "k 12.5",
            "k notanumber p",
            "k nan p",
            "k inf p",
            "k 1700000",
        ] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
        assert!(!key_is_writable("a\nb"));
        assert!(!key_is_writable("a\rb"));
        assert!(key_is_writable("a b"));
    }
}
