//! The process facts configuration depends on (host name, environment, per-process id),
//! captured once so that tests can inject their own.

use std::fmt;
use std::sync::OnceLock;

use indexmap::IndexMap;

/// Host name, environment variables and the per-process random id used by variable expansion.
#[derive(Clone)]
pub struct Environment {
    /// `${HOSTNAME}`.
    pub hostname: String,
    /// `${RANDID}`: 4 hex digits, fixed for the process.
    pub randid: String,
    /// Environment variables (`${HOME}`, `${USER}`, ...). Never modified by Pitcher.
    pub vars: IndexMap<String, String>,
}

impl Environment {
    /// Capture the real process: host name, environment (UTF-8 variables only), RANDID.
    pub fn from_process() -> Self {
        Environment {
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            randid: randid().to_string(),
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment with the given host name and variables (for tests and embedding).
    pub fn fixed(hostname: &str, vars: &[(&str, &str)]) -> Self {
        Environment {
            hostname: hostname.to_string(),
            randid: randid().to_string(),
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        }
    }

    /// An environment variable.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Expand a leading `~` or `~/` with `$HOME`.
    pub fn expand_tilde(&self, path: &str) -> String {
        match (path, self.var("HOME")) {
            ("~", Some(home)) => home.to_string(),
            (p, Some(home)) if p.starts_with("~/") => {
                format!("{}{}", home.trim_end_matches('/'), &p[1..])
            }
            (p, _) => p.to_string(),
        }
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("hostname", &self.hostname)
            .field("randid", &self.randid)
            .field("vars", &format_args!("<{} variables>", self.vars.len()))
            .finish()
    }
}

/// `${RANDID}`: 4 hex digits chosen once per process.
pub fn randid() -> &'static str {
    static RANDID: OnceLock<String> = OnceLock::new();
    RANDID.get_or_init(|| format!("{:04x}", rand::random_range(0..0x1_0000u32)))
}

/// `${RAND8}`: a fresh 8-digit random number each time.
pub fn rand8() -> String {
    format!("{:08}", rand::random_range(0..100_000_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randoms() {
        assert_eq!(randid().len(), 4);
        assert_eq!(randid(), randid());
        let r = rand8();
        assert_eq!(r.len(), 8);
        assert!(r.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn tilde() {
        let e = Environment::fixed("h", &[("HOME", "/home/u/")]);
        assert_eq!(e.expand_tilde("~/x"), "/home/u/x");
        assert_eq!(e.expand_tilde("~"), "/home/u/");
        assert_eq!(e.expand_tilde("/a/~"), "/a/~");
        let e = Environment::fixed("h", &[]);
        assert_eq!(e.expand_tilde("~/x"), "~/x");
        assert!(!format!("{e:?}").is_empty());
    }
}
