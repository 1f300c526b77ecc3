//! Errors and warnings, always naming where the problem is (file:line, or the command line).

use std::fmt;

use crate::secret::mask_passwords_in_text;

/// Longest value echoed back in an error or warning; longer ones are cut with `...`.
const MAX_ECHO: usize = 120;

/// Where a setting (or a problem) comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A line of a file; `file` is shown relative to the configuration root when inside it.
    File {
        /// The file, relative to the configuration root when it is inside it.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// The command-line options given to `load_flow`.
    CommandLine,
    /// The built-in defaults of a component (reference 2.1).
    ComponentDefaults(&'static str),
    /// A value derived by `finalize()` for the named flow (`component/name`).
    Derived(String),
}

impl Origin {
    /// The file of this origin, if it is a file.
    pub fn file(&self) -> Option<&str> {
        match self {
            Origin::File { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The 1-based line of this origin, if it is a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            Origin::File { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line } => write!(f, "{file}:{line}"),
            Origin::CommandLine => f.write_str("command line"),
            Origin::ComponentDefaults(c) => write!(f, "built-in {c} defaults"),
            Origin::Derived(flow) => f.write_str(flow),
        }
    }
}

/// A problem that does not stop loading: returned as data (and logged with `tracing::warn!`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where the problem is.
    pub origin: Origin,
    /// What is wrong (passwords already masked).
    pub message: String,
}

impl ConfigWarning {
    pub(crate) fn new(origin: Origin, message: impl Into<String>) -> Self {
        let message = mask_passwords_in_text(&message.into());
        tracing::warn!("{origin}: {message}");
        ConfigWarning { origin, message }
    }

    /// The file the warning is about, if any (relative to the configuration root).
    pub fn file(&self) -> Option<&str> {
        self.origin.file()
    }

    /// The 1-based line the warning is about, if any.
    pub fn line(&self) -> Option<usize> {
        self.origin.line()
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Everything that can go wrong while reading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value does not fit the kind of its option.
    #[error("{origin}: {option}: expected {expected}, got \"{value}\"")]
    BadValue {
        /// Where.
        origin: Origin,
        /// The option as written (`--batch` on the command line).
        option: String,
        /// What would be right.
        expected: String,
        /// The value given (masked, shortened).
        value: String,
    },
    /// An accept/reject/strip regular expression does not compile.
    #[error("{origin}: {option}: invalid regular expression \"{pattern}\": {reason}")]
    BadRegex {
        /// Where.
        origin: Origin,
        /// The statement (`accept`, `reject`, `strip`).
        option: String,
        /// The pattern as written.
        pattern: String,
        /// The regex engine's explanation.
        reason: String,
    },
    /// A statement is malformed or a value is not allowed (with an explanation).
    #[error("{origin}: {option}: {message}")]
    Invalid {
        /// Where.
        origin: Origin,
        /// The option or statement.
        option: String,
        /// What is wrong and what would be right.
        message: String,
    },
    /// A file includes itself, directly or not.
    #[error("{origin}: include loop: {chain}")]
    IncludeLoop {
        /// The include line that closes the loop.
        origin: Origin,
        /// The files of the loop, `a -> b -> a`.
        chain: String,
    },
    /// An included file cannot be found.
    #[error("{origin}: include: file \"{name}\" not found (looked in: {searched})")]
    IncludeNotFound {
        /// The include line.
        origin: Origin,
        /// The name as written.
        name: String,
        /// The places looked at.
        searched: String,
    },
    /// Includes nested deeper than the limit.
    #[error("{origin}: include: nested more than {limit} deep")]
    IncludeTooDeep {
        /// The include line.
        origin: Origin,
        /// The limit.
        limit: usize,
    },
    /// A file (or directory) cannot be read.
    #[error("{file}: cannot read: {source}")]
    Unreadable {
        /// The file.
        file: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not UTF-8 text.
    #[error(
        "{file}:{line}: not valid UTF-8 text (bad byte at offset {offset}); configuration files must be UTF-8"
    )]
    NotUtf8 {
        /// The file.
        file: String,
        /// The line of the first bad byte.
        line: usize,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    /// A configuration file is larger than any sane configuration.
    #[error("{file}: file too large ({size} bytes; the limit is {limit} bytes)")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A component name that Pitcher does not know.
    #[error("unknown component \"{name}\": expected one of {expected}")]
    UnknownComponent {
        /// The name given.
        name: String,
        /// The known components.
        expected: String,
    },
    /// A component recognised only for listing (run by sarrac, not by Pitcher).
    #[error("{component}: this component is run by sarrac (C), not by Pitcher")]
    UnsupportedComponent {
        /// `cpost` or `cpump`.
        component: String,
    },
    /// A flow name that is empty or tries to leave its component directory.
    #[error("\"{name}\": not a valid flow name (expected a file name without '/')")]
    BadFlowName {
        /// The name given.
        name: String,
    },
    /// The flow's configuration file does not exist.
    #[error("{component}/{name}: no such flow (expected the file {path})")]
    FlowNotFound {
        /// Component.
        component: String,
        /// Flow name.
        name: String,
        /// The file looked for.
        path: String,
    },
    /// The configuration directory cannot be determined.
    #[error("configuration directory: {0}")]
    ConfigDir(String),
}

impl ConfigError {
    pub(crate) fn bad_value(
        origin: Origin,
        option: &str,
        expected: impl Into<String>,
        value: &str,
    ) -> Self {
        ConfigError::BadValue {
            origin,
            option: option.to_string(),
            expected: expected.into(),
            value: echo(value),
        }
    }

    pub(crate) fn invalid(origin: Origin, option: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            origin,
            option: option.to_string(),
            message: mask_passwords_in_text(&message.into()),
        }
    }
}

/// A value made safe to echo: passwords masked, control characters escaped, length bounded.
pub(crate) fn echo(value: &str) -> String {
    let masked = mask_passwords_in_text(value);
    let mut out = String::new();
    for (count, c) in masked.chars().enumerate() {
        if count >= MAX_ECHO {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_value_format() {
        let e = ConfigError::bad_value(
            Origin::File {
                file: "subscribe/wx.conf".into(),
                line: 12,
            },
            "batch",
            "a count like 100 or 1k",
            "many",
        );
        assert_eq!(
            e.to_string(),
            "subscribe/wx.conf:12: batch: expected a count like 100 or 1k, got \"many\""
        );
        let e = ConfigError::bad_value(Origin::CommandLine, "--batch", "a count", "x");
        assert_eq!(
            e.to_string(),
            "command line: --batch: expected a count, got \"x\""
        );
    }

    #[test]
    fn echo_masks_and_bounds() {
        assert_eq!(echo("amqp://u:secret@h/"), "amqp://u:***@h/");
        let long = "x".repeat(10_000);
        assert_eq!(echo(&long).len(), MAX_ECHO + 3);
        assert_eq!(echo("a\u{0}b"), "a\\u{0}b");
    }
}
