//! Compiled regular expressions with Python semantics where it matters.
//!
//! Masks use `re.match` semantics (anchored at the start only): the pattern is wrapped as
//! `^(?:...)`. fancy-regex gives look-around and back-references; a backtrack limit guards
//! against catastrophic patterns, and hitting it is reported as an error, never a panic.

use std::fmt;
use std::sync::Arc;

use fancy_regex::{Regex, RegexBuilder};

/// Backtracking steps allowed per match attempt before giving up.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// A regular expression compiled once, compared by its source text.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    /// `None` for the `.*` shortcut (matches anything without evaluation).
    regex: Option<Arc<Regex>>,
}

/// Matching gave up (backtrack limit or another run-time limit of the regex engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchAborted(pub String);

impl Pattern {
    /// Compile for `re.match` semantics: anchored at the start, not at the end. `.*` is a
    /// shortcut that matches everything.
    pub fn anchored(source: &str) -> Result<Self, String> {
        if source == ".*" {
            return Ok(Pattern {
                source: source.to_string(),
                regex: None,
            });
        }
        Self::build(source, &format!("^(?:{source})"))
    }

    /// Compile for `re.search`/`re.sub` semantics (the first match anywhere).
    pub fn search(source: &str) -> Result<Self, String> {
        Self::build(source, source)
    }

    fn build(source: &str, wrapped: &str) -> Result<Self, String> {
        let regex = RegexBuilder::new(wrapped)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Pattern {
            source: source.to_string(),
            regex: Some(Arc::new(regex)),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether this is the `.*` shortcut.
    pub fn is_match_all(&self) -> bool {
        self.regex.is_none()
    }

    /// Match `text`; on success return the groups (`[0]` = whole match; `None` for a group
    /// that did not participate).
    pub fn captures(&self, text: &str) -> Result<Option<Vec<Option<String>>>, MatchAborted> {
        let Some(re) = &self.regex else {
            return Ok(Some(vec![Some(text.to_string())]));
        };
        match re.captures(text) {
            Ok(Some(caps)) => Ok(Some(
                (0..caps.len())
                    .map(|i| caps.get(i).map(|m| m.as_str().to_string()))
                    .collect(),
            )),
            Ok(None) => Ok(None),
            Err(e) => Err(MatchAborted(e.to_string())),
        }
    }

    /// Replace the first match in `text` with nothing (Python `re.sub(p, '', text, 1)`).
    pub fn remove_first(&self, text: &str) -> Result<String, MatchAborted> {
        let Some(re) = &self.regex else {
            return Ok(String::new());
        };
        match re.find(text) {
            Ok(Some(m)) => Ok(format!("{}{}", &text[..m.start()], &text[m.end()..])),
            Ok(None) => Ok(text.to_string()),
            Err(e) => Err(MatchAborted(e.to_string())),
        }
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn anchored_at_start_only() {
        let p = Pattern::anchored("b").unwrap();
        assert_eq!(p.captures("abc").unwrap(), None);
        let p = Pattern::anchored("a").unwrap();
        assert!(p.captures("abc").unwrap().is_some());
        let p = Pattern::anchored(".*/(.*)\\.txt").unwrap();
        let g = p.captures("https://h/x/file.txt.bak").unwrap().unwrap();
        assert_eq!(g[1].as_deref(), Some("file"));
    }

    #[test]
    fn alternation_is_wrapped() {
        // Without the group, `^a|b` would match "xb".
        let p = Pattern::anchored("a|b").unwrap();
        assert!(p.captures("xb").unwrap().is_none());
    }

    #[test]
    fn lookaround_and_backrefs() {
        let p = Pattern::anchored(r".*(?<!\.tmp)$").unwrap();
        assert!(p.captures("a/b.txt").unwrap().is_some());
        assert!(p.captures("a/b.tmp").unwrap().is_none());
        let p = Pattern::anchored(r"(\w+)/\1").unwrap();
        assert!(p.captures("ab/ab").unwrap().is_some());
        assert!(p.captures("ab/cd").unwrap().is_none());
    }

    #[test]
    fn match_all_shortcut() {
        let p = Pattern::anchored(".*").unwrap();
        assert!(p.is_match_all());
        assert_eq!(p.captures("x").unwrap(), Some(vec![Some("x".into())]));
    }

    #[test]
    fn catastrophic_backtracking_is_an_error_not_a_hang() {
        let p = Pattern::anchored(r"(a|a)*\1b").unwrap();
        let text = "a".repeat(40);
        assert!(p.captures(&text).is_err());
    }

    #[test]
    fn remove_first() {
        let p = Pattern::search("WXO-DD/").unwrap();
        assert_eq!(
            p.remove_first("20240101/WXO-DD/a/f").unwrap(),
            "20240101/a/f"
        );
        assert_eq!(p.remove_first("x").unwrap(), "x");
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Pattern::anchored("(").is_err());
        assert!(Pattern::anchored("[z-a]").is_err());
    }
}
