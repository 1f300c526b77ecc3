//! Directory index pages in the style of Apache's classic `mod_autoindex` `<pre>` listing, laid
//! out so that sr3's HTTP poll (`flowcb/poll/__init__.py`) reads every plain-named entry.
//!
//! sr3's parser takes the `href` of a link as the name, skips the link text only when it equals
//! the href, then expects the following text to be exactly three words: `YYYY-MM-DD HH:MM size`
//! (it fails on seconds, and ignores the size). So each line is
//!
//! ```text
//! <a href="name" data-size="1234" data-mtime="2026-11-22T10:15:33.5Z">name</a>   2026-11-22 10:15  1234
//! ```
//!
//! with the date in UTC to the minute and the exact byte size. The `data-*` attributes carry the
//! exact size and the mtime to the nanosecond for Pitcher's own parser (browsers and sr3 ignore
//! them). Directories end in `/` and show `-` as size.

use std::time::SystemTime;

use percent_encoding::{AsciiSet, CONTROLS};

use super::names::{bytes_display, percent_encode_bytes};
use crate::listing::html::escape;

/// One entry to list.
pub(crate) struct Listed {
    /// Raw file name bytes.
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// Characters percent-encoded in a path segment of a link (plus every non-ASCII byte).
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(0x7f);

/// The relative link for a child name. A colon is encoded only where the name would otherwise
/// read as a URL scheme (`abc:def`): names like `2026-11-22T10:15Z.txt` keep it, so that sr3
/// (which needs link text == href) still lists them.
fn child_href(name: &[u8]) -> String {
    let mut href = percent_encode_bytes(name, SEGMENT);
    if looks_like_scheme(&href) {
        href = href.replacen(':', "%3A", 1);
    }
    href
}

fn looks_like_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(colon) => {
            let scheme = &s[..colon];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Absolute path for a directory given its components, with a trailing `/`.
pub(crate) fn dir_href(components: &[Vec<u8>]) -> String {
    let mut href = String::from("/");
    for c in components {
        href.push_str(&percent_encode_bytes(c, SEGMENT));
        href.push('/');
    }
    href
}

fn minute_utc(t: Option<SystemTime>) -> String {
    t.and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// Render the page for the directory at `components` (empty = the root). `entries` must be
/// sorted already.
pub(crate) fn render(components: &[Vec<u8>], entries: &[Listed]) -> String {
    let title = if components.is_empty() {
        "/".to_owned()
    } else {
        let mut t = String::new();
        for c in components {
            t.push('/');
            t.push_str(&bytes_display(c));
        }
        t
    };
    let title = escape(&title);

    struct Line {
        href: String,
        text: String,
        text_len: usize,
        date: String,
        size: String,
        attrs: String,
    }
    let lines: Vec<Line> = entries
        .iter()
        .map(|e| {
            let mut href = child_href(&e.name);
            let mut shown = bytes_display(&e.name).into_owned();
            if e.is_dir {
                href.push('/');
                shown.push('/');
            }
            let text_len = shown.chars().count();
            let mut text = escape(&shown);
            if href != shown && shown.contains(char::is_whitespace) {
                // sr3 drops a link whose text differs from its href, but a text of exactly three
                // words would make it throw and lose the whole page: break the text into
                // separate chunks for its parser (invisible in a browser).
                text = text
                    .chars()
                    .fold(String::with_capacity(text.len() + 16), |mut t, c| {
                        if c.is_whitespace() {
                            t.push_str("<wbr>");
                        }
                        t.push(c);
                        t
                    });
            }
            let mut attrs = String::new();
            if let Some(ts) = e.mtime.and_then(|t| jiff::Timestamp::try_from(t).ok()) {
                attrs.push_str(&format!(" data-mtime=\"{ts}\""));
            }
            let size = if e.is_dir {
                "-".to_owned()
            } else {
                attrs.insert_str(0, &format!(" data-size=\"{}\"", e.size));
                e.size.to_string()
            };
            Line {
                href: escape(&href),
                text,
                text_len,
                date: minute_utc(e.mtime),
                size,
                attrs,
            }
        })
        .collect();

    const PARENT: &str = "Parent Directory";
    let name_width = lines
        .iter()
        .map(|l| l.text_len)
        .chain([PARENT.len(), 4])
        .max()
        .unwrap_or(4)
        + 1;
    let size_width = lines.iter().map(|l| l.size.len()).max().unwrap_or(4).max(4);

    let mut page = String::with_capacity(512 + lines.len() * (2 * name_width + 120));
    page.push_str("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n");
    page.push_str(&format!(
        "  <title>Index of {title}</title>\n </head>\n <body>\n"
    ));
    page.push_str(&format!("<h1>Index of {title}</h1>\n"));
    page.push_str(&format!(
        "<pre>{:<name_width$}  {:<16}  {:>size_width$}<hr>",
        "Name", "Last modified", "Size"
    ));
    if !components.is_empty() {
        let parent = dir_href(&components[..components.len() - 1]);
        page.push_str(&format!(
            "<a href=\"{}\">{PARENT}</a>{:pad$}  {:16}  {:>size_width$}\n",
            escape(&parent),
            "",
            "",
            "-",
            pad = name_width - PARENT.len()
        ));
    } else {
        page.push('\n');
    }
    for l in &lines {
        page.push_str(&format!(
            "<a href=\"{}\"{}>{}</a>{:pad$}  {}  {:>size_width$}\n",
            l.href,
            l.attrs,
            l.text,
            "",
            l.date,
            l.size,
            pad = name_width.saturating_sub(l.text_len)
        ));
    }
    page.push_str("<hr></pre>\n<address>");
    page.push_str(concat!("Pitcher/", env!("CARGO_PKG_VERSION")));
    page.push_str("</address>\n</body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_index_page;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn page_round_trips_through_parser() {
        let entries = vec![
            Listed {
                name: b"a b c.txt".to_vec(),
                is_dir: false,
                size: 1,
                mtime: Some(at(1_700_000_000, 5)),
            },
            Listed {
                name: b"plain.grib2".to_vec(),
                is_dir: false,
                size: 5_452_595,
                mtime: Some(at(1_700_000_001, 0)),
            },
            Listed {
                name: b"sub".to_vec(),
                is_dir: true,
                size: 4096,
                mtime: Some(at(1_700_000_002, 0)),
            },
            Listed {
                name: "x&y<é>:1".as_bytes().to_vec(),
                is_dir: false,
                size: 0,
                mtime: None,
            },
            Listed {
                name: b"mailto:x".to_vec(),
                is_dir: false,
                size: 3,
                mtime: None,
            },
        ];
        let page = render(&[b"top".to_vec(), b"d ir".to_vec()], &entries);
        assert!(page.contains("<title>Index of /top/d ir</title>"), "{page}");
        assert!(
            page.contains("<a href=\"/top/\">Parent Directory</a>"),
            "{page}"
        );
        assert!(page.contains(">plain.grib2</a>"), "{page}");
        assert!(page.contains("<a href=\"mailto%3Ax\""), "{page}");
        let parsed = parse_index_page(&page);
        let names: Vec<&str> = parsed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["a b c.txt", "plain.grib2", "sub", "x&y<é>:1", "mailto:x"]
        );
        assert_eq!(parsed[0].mtime, Some(at(1_700_000_000, 5)));
        assert_eq!(parsed[1].size, Some(5_452_595));
        assert!(parsed[2].is_dir);
        assert_eq!(parsed[2].size, None);
        assert_eq!(parsed[3].size, Some(0));
    }

    #[test]
    fn scheme_like_names() {
        assert!(looks_like_scheme("mailto:x"));
        assert!(!looks_like_scheme("2026-11-22T10:15Z"));
        assert_eq!(child_href(b"2026-11-22T10:15Z"), "2026-11-22T10:15Z");
    }
}
