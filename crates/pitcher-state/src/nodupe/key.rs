//! sr3's `deriveKey` and the `path` rules of `nodupe.disk`, `nodupe.name` and `nodupe.data`.

use pitcher_core::Message;

/// What makes two messages "the same" (sr3 `nodupe_basis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NodupeBasis {
    /// `path` (default): same key (identity, or name+mtime+size) **and** same `relPath`.
    #[default]
    Path,
    /// `name` (`flowcb.nodupe.name`): same file name, whatever the directory or content:
    /// key = path = the last element of `relPath`.
    Name,
    /// `data` (`flowcb.nodupe.data`): same key whatever the path: path = `"data"`.
    Data,
}

impl NodupeBasis {
    /// Parses the option value (`path`, `name`, `data`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "path" => Some(NodupeBasis::Path),
            "name" => Some(NodupeBasis::Name),
            "data" => Some(NodupeBasis::Data),
            _ => None,
        }
    }

    /// The option value.
    pub fn as_str(self) -> &'static str {
        match self {
            NodupeBasis::Path => "path",
            NodupeBasis::Name => "name",
            NodupeBasis::Data => "data",
        }
    }
}

/// The pair a message is looked up by (sr3 `msg['noDupe']`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodupeKey {
    pub key: String,
    pub path: String,
}

impl NodupeKey {
    pub fn new(key: impl Into<String>, path: impl Into<String>) -> Self {
        NodupeKey {
            key: key.into(),
            path: path.into(),
        }
    }
}

/// The `(key, path)` sr3 uses for `msg` with the given basis (reference §5.1 items 3-4).
///
/// A callback may set the local (never published) field `nodupe_override` to an object with
/// string members `key` and/or `path`, as sr3 plugins do with `msg['nodupe_override']`; they are
/// honoured like sr3 does (`Name` ignores them: sr3's `nodupe.name` overwrites both). An empty
/// override key counts as absent, as in sr3 (`if not key`).
pub fn derive_key(msg: &Message, basis: NodupeBasis) -> NodupeKey {
    let over = msg.local.other.get("nodupe_override");
    let over_str =
        |field: &str| -> Option<&str> { over.and_then(|o| o.get(field)).and_then(|v| v.as_str()) };
    match basis {
        NodupeBasis::Name => {
            let name = msg.rel_path.rsplit('/').next().unwrap_or_default();
            NodupeKey::new(name, name)
        }
        NodupeBasis::Data | NodupeBasis::Path => {
            let key = match over_str("key") {
                Some(k) if !k.is_empty() => k.to_string(),
                _ => standard_key(msg),
            };
            let path = match (basis, over_str("path")) {
                (NodupeBasis::Data, _) => "data".to_string(),
                (_, Some(p)) => p.to_string(),
                _ => msg.rel_path.trim_start_matches('/').to_string(),
            };
            NodupeKey { key, path }
        }
    }
}

/// sr3's `NoDupe.deriveKey` without overrides:
///
/// * with a `fileOp`: the `link` target if present, else `relPath` for a directory creation
///   (`directory` without `remove`), else (remove, rmdir, rename, hlink — even when an identity is
///   present) the fallback;
/// * else with an identity whose method is not `cod`: `"<method>,<value>"`, newlines removed;
/// * fallback: `"<relPath>,<mtime or pubTime>[,<size>]"`, times as their v03 strings (the text
///   received, so the key matches what sr3 computes from the same message).
pub fn standard_key(msg: &Message) -> String {
    let mut key = String::new();
    if let Some(op) = &msg.file_op {
        if let Some(link) = &op.link {
            key = link.clone();
        } else if op.directory.is_some() && op.remove.is_none() {
            key = msg.rel_path.clone();
        }
    } else if let Some(id) = &msg.identity
        && id.method != pitcher_core::IdentityMethod::Cod
    {
        key = format!("{},{}", id.method.as_str(), id.value.replace('\n', ""));
    }
    if key.is_empty() {
        let t = msg.mtime.as_ref().unwrap_or(&msg.pub_time).to_v03_string();
        key = match msg.size {
            Some(size) => format!("{},{},{}", msg.rel_path, t, size),
            None => format!("{},{}", msg.rel_path, t),
        };
    }
    // Pitcher: blocks of one file with the same content (a run of zeros) have the same
    // checksum; without the block number all but the first would be dropped as duplicates.
    if let Some(b) = &msg.blocks {
        key.push_str(&format!(",block{}", b.number));
    }
    key
}

#[cfg(test)]
mod block_key_tests {
    use super::*;
    use pitcher_core::{Blocks, Identity, IdentityMethod};

    #[test]
    fn identical_blocks_of_one_file_have_different_keys() {
        let block = |n: u64| {
            let mut m = Message::new("http://x/", "big");
            m.identity = Some(Identity::new(IdentityMethod::Sha512, "zeros"));
            m.blocks = Some(Blocks {
                method: "inplace".into(),
                size: 10,
                number: n,
                count: None,
                remainder: None,
                manifest: None,
                extra: Default::default(),
            });
            m
        };
        assert_ne!(standard_key(&block(0)), standard_key(&block(1)));
        assert_eq!(standard_key(&block(1)), standard_key(&block(1)));
    }
}
