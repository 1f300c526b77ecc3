//! Reading directory index pages (HTML listings) into entries: Pitcher's own pages, Apache
//! `mod_autoindex` (classic `<pre>` and `HTMLTable` layouts) and nginx `autoindex`.

pub(crate) mod html;

use std::time::SystemTime;

use html::Token;

/// One entry of a directory index page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The entry's name, percent-decoded from its link (no trailing `/` for directories).
    pub name: String,
    /// The link ended with `/`.
    pub is_dir: bool,
    /// Exact size in bytes: from Pitcher's `data-size` attribute, or a listing that shows a plain
    /// byte count. Rounded sizes (`5.2M`, `47K`) give `None` rather than a wrong number (sr3
    /// ignores HTML sizes entirely for the same reason). Always `None` for directories.
    pub size: Option<u64>,
    /// Modification time: from Pitcher's `data-mtime` attribute (exact), else from the date column,
    /// read as UTC (nginx's default; Apache shows the server's local time, which cannot be known).
    pub mtime: Option<SystemTime>,
}

/// Parse a directory index page.
///
/// Entries are the links whose target is a direct child of the page's directory: relative links
/// without `/` inside (a trailing `/` marks a directory). Parent links (`../`, absolute paths),
/// sort links (`?C=N;O=D`), fragments and links to other sites are skipped. The date and size are
/// read from the text after the link up to the next link or table row. A name listed twice keeps
/// its first position; details missing there are taken from the later one.
pub fn parse_index_page(html: &str) -> Vec<IndexEntry> {
    let tokens = html::tokenize(html);
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        i += 1;
        if !token.is_start("a") {
            continue;
        }
        let Some((name, is_dir)) = token.attr("href").and_then(entry_name) else {
            continue;
        };
        let exact_size = token
            .attr("data-size")
            .and_then(|s| s.trim().parse::<u64>().ok());
        let exact_mtime = token
            .attr("data-mtime")
            .and_then(|s| s.trim().parse::<jiff::Timestamp>().ok())
            .map(SystemTime::from);
        // Skip the link text.
        while i < tokens.len() && !tokens[i].is_end("a") && !tokens[i].is_start("a") {
            i += 1;
        }
        if i < tokens.len() && tokens[i].is_end("a") {
            i += 1;
        }
        // The details: text up to the next link, row, or rule.
        let mut details = String::new();
        let mut j = i;
        while j < tokens.len() {
            match &tokens[j] {
                Token::Text(t) => {
                    details.push(' ');
                    details.push_str(t);
                }
                t if t.is_start("a")
                    || t.is_start("tr")
                    || t.is_end("tr")
                    || t.is_start("hr")
                    || t.is_end("pre")
                    || t.is_end("table") =>
                {
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let (text_mtime, text_size) = parse_details(&details);
        let entry = IndexEntry {
            name,
            is_dir,
            size: if is_dir {
                None
            } else {
                exact_size.or(text_size)
            },
            mtime: exact_mtime.or(text_mtime),
        };
        match entries.iter_mut().find(|e| e.name == entry.name) {
            Some(existing) => {
                existing.size = existing.size.or(entry.size);
                existing.mtime = existing.mtime.or(entry.mtime);
            }
            None => entries.push(entry),
        }
    }
    entries
}

/// The child name a link points to, or `None` when it is not a direct child.
fn entry_name(href: &str) -> Option<(String, bool)> {
    let href = href.trim();
    if href.is_empty() || href.starts_with(['?', '#', '/']) || href.contains("://") {
        return None;
    }
    let lower = href.to_ascii_lowercase();
    if ["mailto:", "javascript:", "data:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return None;
    }
    let href = href.split(['?', '#']).next().unwrap_or("");
    // Apache writes "./a:b" for names that would otherwise look like a URL scheme.
    let href = href.strip_prefix("./").unwrap_or(href);
    let (path, is_dir) = match href.strip_suffix('/') {
        Some(p) => (p, true),
        None => (href, false),
    };
    if path.is_empty() || path.contains('/') {
        return None;
    }
    let name = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    if name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return None;
    }
    Some((name, is_dir))
}

const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S", // Apache with seconds, lighttpd-like
    "%Y-%m-%d %H:%M",    // Apache default, Pitcher
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M",    // nginx, older Apache
    "%Y-%b-%d %H:%M:%S", // lighttpd
];

/// Find "date time" and the size that follows (or precedes) it.
fn parse_details(text: &str) -> (Option<SystemTime>, Option<u64>) {
    let words: Vec<&str> = text.split_whitespace().collect();
    for k in 0..words.len().saturating_sub(1) {
        let candidate = format!("{} {}", words[k], words[k + 1]);
        let Some(mtime) = parse_date(&candidate) else {
            continue;
        };
        let size = words
            .get(k + 2)
            .and_then(|w| exact_size(w))
            .or_else(|| k.checked_sub(1).and_then(|p| exact_size(words[p])));
        return (Some(mtime), size);
    }
    (None, None)
}

fn parse_date(s: &str) -> Option<SystemTime> {
    DATE_FORMATS.iter().find_map(|fmt| {
        let dt = jiff::civil::DateTime::strptime(fmt, s).ok()?;
        let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()?;
        Some(SystemTime::from(ts))
    })
}

/// A plain byte count (digits only). Rounded sizes are not exact and give `None`.
fn exact_size(word: &str) -> Option<u64> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_links() {
        assert_eq!(entry_name("a%20b.txt"), Some(("a b.txt".into(), false)));
        assert_eq!(entry_name("sub/"), Some(("sub".into(), true)));
        assert_eq!(entry_name("./a:b"), Some(("a:b".into(), false)));
        assert_eq!(entry_name("../"), None);
        assert_eq!(entry_name("/pub/"), None);
        assert_eq!(entry_name("?C=N;O=D"), None);
        assert_eq!(entry_name("https://x/y"), None);
        assert_eq!(entry_name("a/b"), None);
        assert_eq!(entry_name("%2e%2e/"), None);
        assert_eq!(entry_name("a%2Fb"), None);
    }

    #[test]
    fn details() {
        let (t, s) = parse_details("   2023-01-13 03:49  1234 ");
        assert_eq!(
            t,
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_673_581_740))
        );
        assert_eq!(s, Some(1234));
        let (t, s) = parse_details(" 11-Jan-2023 23:58     47K");
        assert!(t.is_some());
        assert_eq!(s, None);
        assert_eq!(parse_details("Parent Directory -"), (None, None));
    }
}
