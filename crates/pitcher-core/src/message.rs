//! The notification message model: typed sr3 v03 fields, unknown fields passed through, and
//! local-only fields that are never published.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::format::Format;
use crate::identity::Identity;
use crate::time::Timestamp;

/// One notification message (an "announcement" of a file or of an operation on it).
///
/// Field names follow sr3 v03 (`pubTime` → `pub_time`, ...). Fields a receiver does not know are
/// kept in [`Message::extra`] and forwarded unchanged; [`Message::local`] holds state that belongs
/// to this pump only and is never encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Time of first publication; preserved when re-announced.
    pub pub_time: Timestamp,
    /// Root of the retrieval URL.
    pub base_url: String,
    /// Path appended to `base_url`; its directories form the topic.
    pub rel_path: String,
    /// If present, where to download from instead of `rel_path` (API-style URLs).
    pub retrieve_path: Option<String>,
    pub identity: Option<Identity>,
    pub file_op: Option<FileOp>,
    /// Bytes announced (for a block: the block length).
    pub size: Option<u64>,
    pub blocks: Option<Blocks>,
    pub mtime: Option<Timestamp>,
    pub atime: Option<Timestamp>,
    pub mode: Option<Mode>,
    pub content_type: Option<String>,
    /// Inlined data.
    pub content: Option<Content>,
    pub source: Option<String>,
    pub from_cluster: Option<String>,
    pub to_clusters: Option<String>,
    /// Suggested local name (consumed by downloaders).
    pub rename: Option<String>,
    pub report: Option<Report>,
    /// Fields this implementation does not model, in received order; forwarded verbatim.
    pub extra: Map<String, Value>,
    /// Local-only state; never published.
    pub local: LocalFields,
}

impl Message {
    /// A message for `base_url` + `rel_path`, published now.
    pub fn new(base_url: impl Into<String>, rel_path: impl Into<String>) -> Self {
        Message {
            pub_time: Timestamp::now(),
            base_url: base_url.into(),
            rel_path: rel_path.into(),
            retrieve_path: None,
            identity: None,
            file_op: None,
            size: None,
            blocks: None,
            mtime: None,
            atime: None,
            mode: None,
            content_type: None,
            content: None,
            source: None,
            from_cluster: None,
            to_clusters: None,
            rename: None,
            report: None,
            extra: Map::new(),
            local: LocalFields::default(),
        }
    }

    /// `base_url` and `rel_path` joined with exactly one `/` (sr3's data URL).
    pub fn url(&self) -> String {
        join_url(&self.base_url, &self.rel_path)
    }

    /// The URL to fetch the data from: `retrievePath` when present, else `relPath`.
    pub fn retrieval_url(&self) -> String {
        join_url(
            &self.base_url,
            self.retrieve_path.as_deref().unwrap_or(&self.rel_path),
        )
    }

    /// The directory words of `rel_path` (what the topic is made of after its prefix).
    pub fn rel_path_dirs(&self) -> Vec<&str> {
        crate::topic::rel_path_dirs(&self.rel_path)
    }

    /// The last element of `rel_path`.
    pub fn file_name(&self) -> &str {
        self.rel_path.rsplit('/').next().unwrap_or(&self.rel_path)
    }

    /// Seconds between `pub_time` and `now` (sr3's "lag").
    pub fn lag(&self, now: &Timestamp) -> f64 {
        now.seconds_since(&self.pub_time)
    }
}

/// Joins a base URL and a path with exactly one `/` between them (none added if the path is empty).
pub fn join_url(base: &str, path: &str) -> String {
    let mut out = String::with_capacity(base.len() + path.len() + 1);
    out.push_str(base);
    match (base.ends_with('/'), path.starts_with('/')) {
        (true, true) => out.push_str(&path[1..]),
        (false, false) if !path.is_empty() && !base.is_empty() => {
            out.push('/');
            out.push_str(path);
        }
        _ => out.push_str(path),
    }
    out
}

/// Permission bits, written as an octal string (`"644"`) on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode(pub u32);

impl Mode {
    /// Parses `"644"`, `"0644"` (C), `"0o644"`; bits above 0o7777 are refused.
    pub fn parse(s: &str) -> Option<Mode> {
        let t = s.trim();
        let t = t.strip_prefix("0o").unwrap_or(t);
        if t.is_empty() || t.len() > 12 || !t.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return None;
        }
        let v = u32::from_str_radix(t, 8).ok()?;
        (v <= 0o7777).then_some(Mode(v))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:o}", self.0)
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mode(0o{:o})", self.0)
    }
}

/// Non-data operations (`fileOp`). Each present key keeps its wire value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileOp {
    /// Symbolic link target, as `readlink` gave it.
    pub link: Option<String>,
    /// Hard link target.
    pub hlink: Option<String>,
    /// The OLD path of a file renamed to `relPath`.
    pub rename: Option<String>,
    /// Present (normally `""`) when the file or directory was removed.
    pub remove: Option<String>,
    /// Present (normally `""`) when the item is a directory.
    pub directory: Option<String>,
    /// Keys this implementation does not know.
    pub extra: Map<String, Value>,
}

impl FileOp {
    pub fn link(target: impl Into<String>) -> Self {
        FileOp {
            link: Some(target.into()),
            ..Default::default()
        }
    }
    pub fn hard_link(target: impl Into<String>) -> Self {
        FileOp {
            hlink: Some(target.into()),
            ..Default::default()
        }
    }
    pub fn rename(old: impl Into<String>) -> Self {
        FileOp {
            rename: Some(old.into()),
            ..Default::default()
        }
    }
    pub fn remove() -> Self {
        FileOp {
            remove: Some(String::new()),
            ..Default::default()
        }
    }
    pub fn mkdir() -> Self {
        FileOp {
            directory: Some(String::new()),
            ..Default::default()
        }
    }
    pub fn rmdir() -> Self {
        FileOp {
            remove: Some(String::new()),
            directory: Some(String::new()),
            ..Default::default()
        }
    }

    /// What the operation is, in the order a receiver must consider it.
    pub fn kind(&self) -> FileOpKind {
        match (&self.remove, &self.directory) {
            (Some(_), Some(_)) => FileOpKind::Rmdir,
            (Some(_), None) => FileOpKind::Remove,
            _ if self.rename.is_some() => FileOpKind::Rename,
            _ if self.link.is_some() => FileOpKind::Link,
            _ if self.hlink.is_some() => FileOpKind::HardLink,
            (None, Some(_)) => FileOpKind::Mkdir,
            _ => FileOpKind::Unknown,
        }
    }
}

/// The kind of a [`FileOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOpKind {
    Link,
    HardLink,
    Rename,
    Remove,
    Mkdir,
    Rmdir,
    Unknown,
}

impl FileOpKind {
    /// The word sr3's log lines use.
    pub fn as_str(self) -> &'static str {
        match self {
            FileOpKind::Link => "link",
            FileOpKind::HardLink => "hlink",
            FileOpKind::Rename => "rename",
            FileOpKind::Remove => "remove",
            FileOpKind::Mkdir => "directory",
            FileOpKind::Rmdir => "rmdir",
            FileOpKind::Unknown => "fileOp",
        }
    }
}

/// Partitioned-transfer metadata (`blocks`).
#[derive(Debug, Clone, PartialEq)]
pub struct Blocks {
    /// `inplace`, `partitioned`, `separate`, ...
    pub method: String,
    /// Nominal block size.
    pub size: u64,
    /// This block's index, 0-origin.
    pub number: u64,
    /// v2-style block count (C, old form).
    pub count: Option<u64>,
    /// v2-style size of the last block.
    pub remainder: Option<u64>,
    /// Every block's size and checksum, by block index.
    pub manifest: Option<BTreeMap<u64, BlockEntry>>,
    pub extra: Map<String, Value>,
}

/// One entry of a block manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    pub size: u64,
    pub identity: String,
}

/// Inlined file content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// `utf-8`, `base64` or `iso-8859-1`.
    pub encoding: String,
    pub value: String,
}

/// The disposition of a message, carried by reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub code: i64,
    pub time_completed: Option<Timestamp>,
    pub message: Option<String>,
    pub extra: Map<String, Value>,
}

/// State a pump keeps about a message and never publishes (sr3's `_deleteOnPost` fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalFields {
    /// Wire format the message arrived in.
    pub format: Option<Format>,
    /// Exchange it was received from.
    pub exchange: Option<String>,
    /// The received topic, split in words (AMQP: the routing key; MQTT: the topic after the exchange).
    pub topic: Option<Vec<String>>,
    /// The received topic words after the topic prefix.
    pub subtopic: Option<Vec<String>>,
    /// True when the message comes back from a retry queue.
    pub is_retry: bool,
    /// The order of fields as received, so a forwarded message is written as it came.
    pub(crate) field_order: Vec<u8>,
    /// Other local values (destination placement, transfer state, ...), by name.
    pub other: BTreeMap<String, Value>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn url_joining() {
        assert_eq!(join_url("http://h/", "a/b"), "http://h/a/b");
        assert_eq!(join_url("http://h", "a/b"), "http://h/a/b");
        assert_eq!(join_url("http://h/", "/a/b"), "http://h/a/b");
        assert_eq!(join_url("http://h", "/a/b"), "http://h/a/b");
        assert_eq!(join_url("file:", "/a/b"), "file:/a/b");
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("0644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("0o755"), Some(Mode(0o755)));
        assert_eq!(Mode(0o44).to_string(), "44");
        for bad in ["", "9", "rw-", "77777", "-1", "0o"] {
            assert_eq!(Mode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_op_kinds() {
        assert_eq!(FileOp::rmdir().kind(), FileOpKind::Rmdir);
        assert_eq!(FileOp::remove().kind(), FileOpKind::Remove);
        assert_eq!(FileOp::mkdir().kind(), FileOpKind::Mkdir);
        assert_eq!(FileOp::link("t").kind(), FileOpKind::Link);
        let mut r = FileOp::rename("/old");
        r.link = Some("x".into());
        assert_eq!(r.kind(), FileOpKind::Rename);
        assert_eq!(FileOp::default().kind(), FileOpKind::Unknown);
    }
}
