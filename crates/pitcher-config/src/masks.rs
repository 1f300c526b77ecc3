//! accept/reject masks (reference 3.5): first match wins; no match -> `acceptUnmatched`.

use crate::kind::Strip;
use crate::options::Options;
use crate::pattern::{MatchAborted, Pattern};

/// Report code of a rejection by a mask (or by `acceptUnmatched off`).
pub const REJECT_CODE: u16 = 404;

/// One `accept`/`reject` line, with the placement options current at that line.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// The compiled regex (`re.match` semantics); its source is the pattern as written.
    pub pattern: Pattern,
    /// `accept` (true) or `reject` (false).
    pub accept: bool,
    /// Placement options captured at the line.
    pub placement: PlacementSpec,
    /// Extra words after the regex (and filename option), kept for callbacks.
    pub args: Vec<String>,
}

/// The options that decide where an accepted file goes: captured by each mask at its line,
/// or the global values for messages accepted by `acceptUnmatched`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementSpec {
    /// `directory` (may still hold per-message `${...}` patterns).
    pub directory: Option<String>,
    /// `mirror`.
    pub mirror: bool,
    /// `strip`.
    pub strip: Strip,
    /// `flatten` (`None` = off).
    pub flatten: Option<String>,
    /// `filename` (Sundew keywords).
    pub filename: Option<String>,
}

impl PlacementSpec {
    /// The global (current) placement options.
    pub fn from_options(o: &Options) -> Self {
        PlacementSpec {
            directory: o.directory.clone(),
            mirror: o.mirror,
            strip: o.strip.clone(),
            flatten: o.flatten.clone(),
            filename: o.filename.clone(),
        }
    }

    /// The flatten separator (`/` = off).
    pub fn flatten_str(&self) -> &str {
        self.flatten.as_deref().unwrap_or("/")
    }
}

/// An accepted message: which mask, the regex groups, where to place it.
#[derive(Clone, Debug, PartialEq)]
pub struct Acceptance {
    /// Index of the matching mask, `None` when accepted by `acceptUnmatched`.
    pub mask_index: Option<usize>,
    /// Regex groups of the match (`[0]` = whole match), for `${0}`..`${9}`.
    pub groups: Vec<Option<String>>,
    /// Placement options to use.
    pub placement: PlacementSpec,
}

/// Outcome of filtering one message URL.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Accepted.
    Accept(Acceptance),
    /// Rejected: report `code` with `reason` (sr3 wording `mask=<regex> url=<url>`).
    Reject {
        /// Index of the rejecting mask, `None` when rejected as unmatched.
        mask_index: Option<usize>,
        /// Report code (404).
        code: u16,
        /// Report message.
        reason: String,
    },
}

/// The result of [`filter`]: the decision and any warnings (regex limits hit).
#[derive(Clone, Debug, PartialEq)]
pub struct Filtered {
    /// The decision.
    pub decision: Decision,
    /// Masks that gave up (backtrack limit): treated as not matching.
    pub warnings: Vec<String>,
}

/// `baseUrl` and `relPath` joined with exactly one `/` (the string masks are matched against).
pub fn match_url(base_url: &str, rel_path: &str) -> String {
    format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        rel_path.trim_start_matches('/')
    )
}

/// Apply the masks of `o` to a message: first match wins; no match -> `acceptUnmatched`.
pub fn filter(o: &Options, base_url: &str, rel_path: &str) -> Filtered {
    let url = match_url(base_url, rel_path);
    let mut warnings = Vec::new();
    for (i, mask) in o.masks.iter().enumerate() {
        let groups = match mask.pattern.captures(&url) {
            Ok(Some(g)) => g,
            Ok(None) => continue,
            Err(MatchAborted(why)) => {
                let w = format!(
                    "mask {} gave up on url={url}: {why}; treated as not matching",
                    mask.pattern.as_str()
                );
                tracing::warn!("{w}");
                warnings.push(w);
                continue;
            }
        };
        let decision = if mask.accept {
            Decision::Accept(Acceptance {
                mask_index: Some(i),
                groups,
                placement: mask.placement.clone(),
            })
        } else {
            Decision::Reject {
                mask_index: Some(i),
                code: REJECT_CODE,
                reason: format!("mask={} url={url}", mask.pattern.as_str()),
            }
        };
        return Filtered { decision, warnings };
    }
    let decision = if o.accept_unmatched {
        Decision::Accept(Acceptance {
            mask_index: None,
            groups: Vec::new(),
            placement: PlacementSpec::from_options(o),
        })
    } else {
        Decision::Reject {
            mask_index: None,
            code: REJECT_CODE,
            reason: format!("unmatched pattern {url}"),
        }
    };
    Filtered { decision, warnings }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mask(p: &str, accept: bool, dir: &str) -> Mask {
        Mask {
            pattern: Pattern::anchored(p).unwrap(),
            accept,
            placement: PlacementSpec {
                directory: Some(dir.into()),
                mirror: false,
                strip: Strip::Count(0),
                flatten: None,
                filename: None,
            },
            args: Vec::new(),
        }
    }

    #[test]
    fn joins_with_one_slash() {
        assert_eq!(match_url("https://h/", "/a/b"), "https://h/a/b");
        assert_eq!(match_url("https://h", "a/b"), "https://h/a/b");
    }

    #[test]
    fn first_match_wins_and_reject_text() {
        let o = Options {
            masks: vec![
                mask(".*\\.tmp", false, "/x"),
                mask(".*/(a)/.*", true, "/a"),
                mask(".*", true, "/all"),
            ],
            ..Options::default()
        };
        let f = filter(&o, "https://h", "d/f.tmp");
        assert_eq!(
            f.decision,
            Decision::Reject {
                mask_index: Some(0),
                code: 404,
                reason: "mask=.*\\.tmp url=https://h/d/f.tmp".into()
            }
        );
        let Decision::Accept(a) = filter(&o, "https://h/", "/x/a/f").decision else {
            panic!("not accepted")
        };
        assert_eq!(a.mask_index, Some(1));
        assert_eq!(a.groups[1].as_deref(), Some("a"));
        assert_eq!(a.placement.directory.as_deref(), Some("/a"));
        let Decision::Accept(a) = filter(&o, "https://h/", "zzz").decision else {
            panic!("not accepted")
        };
        assert_eq!(a.mask_index, Some(2));
    }

    #[test]
    fn unmatched() {
        let mut o = Options {
            masks: vec![mask("nomatch", true, "/x")],
            directory: Some("/global".into()),
            ..Options::default()
        };
        let Decision::Accept(a) = filter(&o, "https://h", "f").decision else {
            panic!("not accepted")
        };
        assert_eq!(a.mask_index, None);
        assert_eq!(a.placement.directory.as_deref(), Some("/global"));
        o.accept_unmatched = false;
        assert_eq!(
            filter(&o, "https://h", "f").decision,
            Decision::Reject {
                mask_index: None,
                code: 404,
                reason: "unmatched pattern https://h/f".into()
            }
        );
    }

    #[test]
    fn backtrack_limit_is_no_match_with_warning() {
        let o = Options {
            masks: vec![mask(r"(a|a)*\1b", true, "/x"), mask(".*", false, "/y")],
            ..Options::default()
        };
        let f = filter(&o, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "");
        assert!(matches!(
            f.decision,
            Decision::Reject {
                mask_index: Some(1),
                ..
            }
        ));
        assert_eq!(f.warnings.len(), 1);
    }
}
