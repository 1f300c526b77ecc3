//! Option kinds and how a value of each kind is stored, set from text and rendered back.

use std::collections::BTreeSet;

use crate::pattern::Pattern;
use crate::secret::{ConfigUrl, url_scheme};
use crate::value::{
    self, EXPECT_COUNT, EXPECT_DURATION, EXPECT_FLAG, EXPECT_FLOAT, EXPECT_OCTAL, EXPECT_SIZE,
    fmt_f64,
};

/// The kind of an option: decides how its value is parsed, combined and shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptionKind {
    /// Whole number, `k`/`m`/`g` suffixes (`u64`).
    Count,
    /// Like `Count`, or `None` for unset (`Option<u64>`).
    OptCount,
    /// Byte size, same syntax as a count (`u64`).
    Size,
    /// Seconds with unit suffixes (`f64`); `on` means `on` when given.
    Duration {
        /// Value of `on`/`true`/`yes`, if the option has one.
        on: Option<f64>,
    },
    /// Like `Duration`, or unset with `None`/`off` (`Option<f64>`).
    OptDuration,
    /// Floating point number (`f64`).
    Float,
    /// Boolean; a bare keyword means true (`bool`).
    Flag,
    /// Each occurrence appends the rest of the line; `None` clears (`Vec<String>`).
    List,
    /// Each occurrence appends comma-separated items; `None` clears (`Vec<String>`).
    CsvList,
    /// A set of words: `+x` adds, `-x` removes, plain replaces (`BTreeSet<String>`).
    Set {
        /// Allowed words (empty: anything).
        choices: &'static [&'static str],
    },
    /// Text, the rest of the line; last wins; `None` unsets (`Option<String>`).
    Str,
    /// A URL that may hold a password; never shown unmasked (`Option<ConfigUrl>`).
    Url,
    /// Octal permission bits (`u32`).
    Octal,
    /// Topic words split on `.` (or `/` when present) (`Vec<String>`).
    TopicPrefix,
    /// Like `TopicPrefix`, or unset (`Option<Vec<String>>`).
    OptTopicPrefix,
    /// `strip N` or `strip <regex>` ([`Strip`]).
    Strip,
    /// Inflight naming: a suffix/prefix text, a directory, `NONE`, or a duration (`Option<String>`).
    Inflight,
    /// Checksum method, v2 short forms accepted (`Option<String>`).
    Identity,
}

impl OptionKind {
    /// Short name of the kind for documentation.
    pub fn name(&self) -> &'static str {
        match self {
            OptionKind::Count | OptionKind::OptCount => "count",
            OptionKind::Size => "size",
            OptionKind::Duration { .. } | OptionKind::OptDuration => "duration",
            OptionKind::Float => "float",
            OptionKind::Flag => "flag",
            OptionKind::List => "list",
            OptionKind::CsvList => "list (comma-separated)",
            OptionKind::Set { .. } => "set",
            OptionKind::Str => "str",
            OptionKind::Url => "url",
            OptionKind::Octal => "octal",
            OptionKind::TopicPrefix | OptionKind::OptTopicPrefix => "topic words",
            OptionKind::Strip => "count or regex",
            OptionKind::Inflight => "str or duration",
            OptionKind::Identity => "str (checksum method)",
        }
    }

    /// Whether the value is the first word only (sr3 reads `line[1]`) rather than the whole
    /// rest of the line.
    pub fn single_word(&self) -> bool {
        !matches!(
            self,
            OptionKind::Str | OptionKind::List | OptionKind::CsvList
        )
    }

    /// What a value of this kind looks like (for error messages).
    pub fn expected(&self) -> String {
        match self {
            OptionKind::Count | OptionKind::OptCount => EXPECT_COUNT.into(),
            OptionKind::Size => EXPECT_SIZE.into(),
            OptionKind::Duration { .. } | OptionKind::OptDuration => EXPECT_DURATION.into(),
            OptionKind::Float => EXPECT_FLOAT.into(),
            OptionKind::Flag => EXPECT_FLAG.into(),
            OptionKind::Set { choices } => value::expect_set(choices),
            OptionKind::Url => "a URL like amqps://user@host/".into(),
            OptionKind::Octal => EXPECT_OCTAL.into(),
            OptionKind::Strip => "a count or a regular expression".into(),
            _ => "a value".into(),
        }
    }
}

/// `strip N` (remove N leading path elements) or `strip <regex>` (remove its first match).
#[derive(Clone, Debug, PartialEq)]
pub enum Strip {
    /// Number of leading path elements to remove.
    Count(u64),
    /// Remove the first match of this regex from the relative path.
    Regex(Pattern),
}

impl Default for Strip {
    fn default() -> Self {
        Strip::Count(0)
    }
}

/// Why a value was refused.
#[derive(Debug, PartialEq)]
pub(crate) enum SlotError {
    /// The value does not fit; says what would.
    Expected(String),
    /// The regular expression does not compile.
    Regex(String),
    /// The Rust type of the field does not fit the declared kind (a table bug).
    Internal,
}

/// A field of `Options` that can be set from text and rendered back.
pub(crate) trait Slot {
    fn set(&mut self, kind: OptionKind, value: &str) -> Result<(), SlotError>;
    /// Values in config syntax, one per line to emit (empty: nothing to emit).
    fn render(&self, kind: OptionKind) -> Vec<String>;
}

fn exp(e: &str) -> SlotError {
    SlotError::Expected(e.to_string())
}

fn is_none(v: &str) -> bool {
    v == "None"
}

impl Slot for u64 {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        *self = match kind {
            OptionKind::Count => value::parse_count(v).map_err(exp)?,
            OptionKind::Size => value::parse_size(v).map_err(exp)?,
            _ => return Err(SlotError::Internal),
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![self.to_string()]
    }
}

impl Slot for Option<u64> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::OptCount {
            return Err(SlotError::Internal);
        }
        *self = if is_none(v) {
            None
        } else {
            Some(value::parse_count(v).map_err(exp)?)
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![self.map_or_else(|| "None".to_string(), |v| v.to_string())]
    }
}

impl Slot for f64 {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        *self = match kind {
            OptionKind::Duration { on } => value::parse_duration(v, on).map_err(exp)?,
            OptionKind::Float => value::parse_float(v).map_err(exp)?,
            _ => return Err(SlotError::Internal),
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![fmt_f64(*self)]
    }
}

impl Slot for Option<f64> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::OptDuration {
            return Err(SlotError::Internal);
        }
        *self = match v.to_ascii_lowercase().as_str() {
            "none" | "off" | "false" => None,
            _ => Some(value::parse_duration(v, None).map_err(exp)?),
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![self.map_or_else(|| "None".to_string(), fmt_f64)]
    }
}

impl Slot for bool {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::Flag {
            return Err(SlotError::Internal);
        }
        *self = value::parse_flag(v).map_err(exp)?;
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![if *self { "on" } else { "off" }.to_string()]
    }
}

/// Split topic words: on `/` when present, else on `.` (sr3 `topicPrefix` parsing).
pub(crate) fn split_topic(v: &str) -> Vec<String> {
    let sep = if v.contains('/') { '/' } else { '.' };
    v.split(sep).map(str::to_string).collect()
}

pub(crate) fn join_topic(words: &[String]) -> String {
    if words.iter().any(|w| w.contains('.')) {
        words.join("/")
    } else {
        words.join(".")
    }
}

impl Slot for Vec<String> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        match kind {
            OptionKind::List | OptionKind::CsvList if is_none(v) => self.clear(),
            OptionKind::List => self.push(v.to_string()),
            OptionKind::CsvList => self.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            OptionKind::TopicPrefix => *self = split_topic(v),
            _ => return Err(SlotError::Internal),
        }
        Ok(())
    }
    fn render(&self, kind: OptionKind) -> Vec<String> {
        match kind {
            OptionKind::TopicPrefix => vec![join_topic(self)],
            _ if self.is_empty() => vec!["None".to_string()],
            OptionKind::CsvList => vec![self.join(",")],
            _ => self.clone(),
        }
    }
}

impl Slot for Option<Vec<String>> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::OptTopicPrefix {
            return Err(SlotError::Internal);
        }
        *self = if is_none(v) {
            None
        } else {
            Some(split_topic(v))
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![
            self.as_ref()
                .map_or_else(|| "None".to_string(), |w| join_topic(w)),
        ]
    }
}

impl Slot for BTreeSet<String> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        let OptionKind::Set { choices } = kind else {
            return Err(SlotError::Internal);
        };
        *self = value::apply_set(self, v, choices).map_err(SlotError::Expected)?;
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        if self.is_empty() {
            vec!["None".to_string()]
        } else {
            vec![self.iter().cloned().collect::<Vec<_>>().join(",")]
        }
    }
}

/// Normalise a checksum method, accepting the v2 short forms (`s`, `d`, `z,d`, `n`, ...).
pub(crate) fn normalize_identity(v: &str) -> Option<String> {
    if v.eq_ignore_ascii_case("none") || v == "n" {
        return None;
    }
    if let Some(rest) = v.strip_prefix("z,") {
        return normalize_identity(rest).map(|m| format!("cod,{m}"));
    }
    Some(
        match v {
            "s" => "sha512",
            "d" => "md5",
            "a" => "arbitrary",
            "r" => "random",
            other => other,
        }
        .to_string(),
    )
}

impl Slot for Option<String> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        *self = match kind {
            OptionKind::Str if is_none(v) => None,
            OptionKind::Str => Some(v.to_string()),
            OptionKind::Identity => normalize_identity(v),
            OptionKind::Inflight => match v.to_ascii_lowercase().as_str() {
                "none" | "off" | "false" => None,
                _ => Some(v.to_string()),
            },
            _ => return Err(SlotError::Internal),
        };
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![self.clone().unwrap_or_else(|| "None".to_string())]
    }
}

impl Slot for Option<ConfigUrl> {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::Url {
            return Err(SlotError::Internal);
        }
        if is_none(v) {
            *self = None;
            return Ok(());
        }
        if !v.contains("${") && url_scheme(v).is_none() {
            return Err(SlotError::Expected(kind.expected()));
        }
        *self = Some(ConfigUrl::new(v));
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![
            self.as_ref()
                .map_or_else(|| "None".to_string(), ConfigUrl::masked),
        ]
    }
}

impl Slot for u32 {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::Octal {
            return Err(SlotError::Internal);
        }
        *self = value::parse_octal(v).map_err(exp)?;
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![format!("0o{self:o}")]
    }
}

impl Slot for Strip {
    fn set(&mut self, kind: OptionKind, v: &str) -> Result<(), SlotError> {
        if kind != OptionKind::Strip {
            return Err(SlotError::Internal);
        }
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            *self = Strip::Count(value::parse_count(v).map_err(exp)?);
            return Ok(());
        }
        // sr3: a leading '/' is dropped (relative paths have none).
        let re = v.strip_prefix('/').unwrap_or(v);
        if re.is_empty() {
            return Err(SlotError::Expected(kind.expected()));
        }
        *self = Strip::Regex(Pattern::search(re).map_err(SlotError::Regex)?);
        Ok(())
    }
    fn render(&self, _: OptionKind) -> Vec<String> {
        vec![match self {
            Strip::Count(n) => n.to_string(),
            Strip::Regex(p) => format!("/{}", p.as_str()),
        }]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identity_forms() {
        assert_eq!(normalize_identity("s").as_deref(), Some("sha512"));
        assert_eq!(normalize_identity("z,d").as_deref(), Some("cod,md5"));
        assert_eq!(normalize_identity("z,s").as_deref(), Some("cod,sha512"));
        assert_eq!(normalize_identity("z,n"), None);
        assert_eq!(normalize_identity("None"), None);
        assert_eq!(
            normalize_identity("cod,sha512").as_deref(),
            Some("cod,sha512")
        );
        assert_eq!(normalize_identity("md5").as_deref(), Some("md5"));
    }

    #[test]
    fn topic_words() {
        assert_eq!(split_topic("v02.post"), vec!["v02", "post"]);
        assert_eq!(split_topic("v02/post"), vec!["v02", "post"]);
        let w = split_topic("a.b/c");
        assert_eq!(w, vec!["a.b", "c"]);
        assert_eq!(split_topic(&join_topic(&w)), w);
    }

    #[test]
    fn strip_values() {
        let mut s = Strip::default();
        s.set(OptionKind::Strip, "3").unwrap();
        assert_eq!(s, Strip::Count(3));
        s.set(OptionKind::Strip, "/.*WXO-DD").unwrap();
        assert_eq!(s.render(OptionKind::Strip), vec!["/.*WXO-DD"]);
        let mut t = Strip::default();
        t.set(OptionKind::Strip, &s.render(OptionKind::Strip)[0])
            .unwrap();
        assert_eq!(s, t);
        assert!(matches!(
            s.set(OptionKind::Strip, "("),
            Err(SlotError::Regex(_))
        ));
        assert!(s.set(OptionKind::Strip, "/").is_err());
    }

    #[test]
    fn kind_mismatch_is_internal_not_panic() {
        let mut n = 0u64;
        assert_eq!(n.set(OptionKind::Flag, "1"), Err(SlotError::Internal));
        let mut b = false;
        assert_eq!(b.set(OptionKind::Count, "1"), Err(SlotError::Internal));
    }

    #[test]
    fn url_values() {
        let mut u: Option<ConfigUrl> = None;
        u.set(OptionKind::Url, "amqps://u:pw@h/").unwrap();
        assert_eq!(u.render(OptionKind::Url), vec!["amqps://u:***@h/"]);
        assert!(u.set(OptionKind::Url, "just words").is_err());
        u.set(OptionKind::Url, "None").unwrap();
        assert!(u.is_none());
        u.set(OptionKind::Url, "file:${PBD}").unwrap();
        assert!(u.is_some());
    }
}
