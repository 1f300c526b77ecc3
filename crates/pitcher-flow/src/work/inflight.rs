//! Where a file is written while it is incomplete (reference 5.3).

use std::path::{Path, PathBuf};

/// How incomplete files are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inflight {
    /// Write the final name directly (sr3 `inflight NONE`).
    None,
    /// `<prefix><name>` in the same directory (sr3 `inflight .`).
    Prefix(String),
    /// `<name><suffix>` in the same directory (sr3 `inflight .tmp`).
    Suffix(String),
    /// A sub-directory of the destination (`tmp/`), or an absolute directory.
    Directory(String),
}

impl Inflight {
    /// From the `inflight` option. Unset means Pitcher's default, `.` (a hidden `.name`): sr3's
    /// code writes in place, which shows partial files under final names.
    pub fn from_option(v: Option<&str>) -> Result<Self, String> {
        let Some(v) = v else {
            return Ok(Inflight::Prefix(".".into()));
        };
        let v = v.trim();
        if v.eq_ignore_ascii_case("none") {
            Ok(Inflight::None)
        } else if v == "." {
            Ok(Inflight::Prefix(".".into()))
        } else if v.ends_with('/') || v.starts_with('/') {
            Ok(Inflight::Directory(v.trim_end_matches('/').to_string()))
        } else if v.starts_with('.') {
            Ok(Inflight::Suffix(v.to_string()))
        } else if v.parse::<f64>().is_ok() {
            Err(format!(
                "inflight {v}: a number (seconds) is for posting, not for downloads (report 503)"
            ))
        } else if v.eq_ignore_ascii_case("umask") {
            Err("inflight umask: only for FTP senders".into())
        } else {
            Ok(Inflight::Suffix(v.to_string()))
        }
    }

    /// The inflight path for `final_path` (its directory is `dir`).
    pub fn path(&self, dir: &Path, file: &str) -> PathBuf {
        match self {
            Inflight::None => dir.join(file),
            Inflight::Prefix(p) => dir.join(format!("{p}{file}")),
            Inflight::Suffix(s) => dir.join(format!("{file}{s}")),
            Inflight::Directory(d) => {
                let d = Path::new(d);
                if d.is_absolute() {
                    d.join(file)
                } else {
                    dir.join(d).join(file)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = Path::new("/x");
        let p = |v: Option<&str>| Inflight::from_option(v).expect("ok").path(d, "f");
        assert_eq!(p(None), PathBuf::from("/x/.f"));
        assert_eq!(p(Some(".")), PathBuf::from("/x/.f"));
        assert_eq!(p(Some(".tmp")), PathBuf::from("/x/f.tmp"));
        assert_eq!(p(Some("tmp/")), PathBuf::from("/x/tmp/f"));
        assert_eq!(p(Some("/var/tmp/")), PathBuf::from("/var/tmp/f"));
        assert_eq!(p(Some("NONE")), PathBuf::from("/x/f"));
        assert!(Inflight::from_option(Some("10")).is_err());
    }
}
