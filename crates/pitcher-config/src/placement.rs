//! Destination placement of an accepted message (reference 3.5 steps 1-7, sr3
//! `updateFieldsAccepted` + `Message.updatePaths`).
//!
//! Only strings are computed here: resolving them safely against the file system (`..`,
//! symbolic links) is another layer's job. Computed relative paths never start with `/` and
//! never contain empty elements.

use jiff::Timestamp;

use crate::expand::{Expander, MessageVars, url_path};
use crate::kind::Strip;
use crate::masks::Acceptance;
use crate::options::Options;

/// The message fields placement looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessagePaths<'a> {
    /// `baseUrl`.
    pub base_url: &'a str,
    /// `relPath`.
    pub rel_path: &'a str,
    /// `rename` field (used instead of relPath when present).
    pub rename: Option<&'a str>,
    /// `source` (`${SOURCE}`).
    pub source: Option<&'a str>,
    /// `pubTime` (for the `TIME` file name option).
    pub pub_time: Option<&'a str>,
}

/// Where the file goes and how it is re-announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Local directory; `None` when neither `directory` nor `post_baseDir` is set (a download
    /// is then impossible: see [`Placement::require_dir`]).
    pub new_dir: Option<String>,
    /// The base directory `new_dir` was built on (the mask's expanded `directory`, else
    /// `post_baseDir`): everything below it comes from the message and must stay inside it.
    pub base_dir: Option<String>,
    /// Local file name.
    pub new_file: String,
    /// relPath of the re-announced message (no leading `/`).
    pub new_rel_path: String,
    /// baseUrl of the re-announced message (`post_baseUrl`, else the message's).
    pub new_base_url: String,
    /// Directory words of `new_rel_path` (for the topic).
    pub new_subtopic: Vec<String>,
    /// `${...}` patterns that could not be expanded (left as written).
    pub unresolved: Vec<String>,
}

/// Why a message cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// No `directory` (nor `post_baseDir`): nowhere to download to.
    #[error("no destination directory: set directory (or post_baseDir)")]
    NoDirectory,
    /// The message has no file name.
    #[error("empty relPath: no file name")]
    EmptyRelPath,
    /// A Sundew file name option Pitcher does not implement.
    #[error(
        "filename option {0}: not supported by Pitcher (supported: WHATFN, HEADFN, NONE, TIME, DESTFN=name)"
    )]
    UnsupportedFilename(String),
    /// A file name option that is not understood or gives a bad name.
    #[error("filename option {0}: not understood or gives an invalid file name")]
    BadFilename(String),
    /// `strip <regex>` gave up (backtrack limit).
    #[error("strip regex gave up: {0}")]
    StripAborted(String),
}

impl PlacementError {
    /// The report code (sr3 rejects such messages with 422).
    pub fn code(&self) -> u16 {
        422
    }
}

impl Placement {
    /// The download directory, or the 422 error when there is none.
    pub fn require_dir(&self) -> Result<&str, PlacementError> {
        self.new_dir.as_deref().ok_or(PlacementError::NoDirectory)
    }

    /// `new_dir/new_file`, when there is a directory.
    pub fn new_path(&self) -> Option<String> {
        self.new_dir
            .as_deref()
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), self.new_file))
    }
}

fn split_path(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `base` + `/` + dirs, without doubled slashes.
fn join_dir(base: &str, dirs: &[String]) -> String {
    let b = base.trim_end_matches('/');
    if dirs.is_empty() {
        return if b.is_empty() && base.starts_with('/') {
            "/".to_string()
        } else {
            b.to_string()
        };
    }
    format!("{b}/{}", dirs.join("/"))
}

/// Remove directory `prefix` from the start of `path` at a path-element boundary.
fn strip_dir_prefix<'p>(path: &'p str, prefix: &str) -> &'p str {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return path;
    }
    match path.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// Apply a Sundew `filename` option (`WHATFN`, `HEADFN`, `NONE`, `TIME`, `DESTFN=x`,
/// combined with `:`).
pub fn sundew_filename(
    option: &str,
    filename: &str,
    pub_time: Option<&str>,
    now: Timestamp,
) -> Result<String, PlacementError> {
    if option == "None" {
        return Ok(filename.to_string());
    }
    let parts: Vec<&str> = filename.split(':').collect();
    let first = parts.first().copied().unwrap_or("");
    let mut dest = filename.to_string();
    let mut time_suffix = String::new();
    for spec in option.split(':') {
        match spec {
            "" => {}
            "WHATFN" => dest = first.to_string(),
            "HEADFN" => {
                let hp: Vec<&str> = first.split('_').collect();
                dest = if hp.len() >= 2 {
                    format!("{}_{}", hp[0], hp[1])
                } else {
                    first.to_string()
                };
            }
            "NONE" => {
                if let Some(i) = filename.find("SENDER=") {
                    dest = filename[..i].to_string();
                } else if parts.len() >= 6 {
                    let keep = if parts[4].chars().count() != 1 { 5 } else { 6 };
                    dest = parts[..keep].join(":");
                }
                dest = dest.trim_end_matches(':').to_string();
            }
            "TIME" => {
                let stamp = match pub_time {
                    Some(t) => t.split('.').next().unwrap_or(t).replace('T', ""),
                    None => jiff::fmt::strtime::format(
                        "%Y%m%d%H%M%S",
                        &now.to_zoned(jiff::tz::TimeZone::UTC),
                    )
                    .unwrap_or_default(),
                };
                time_suffix = match parts.last() {
                    Some(last) if parts.len() > 1 && last.len() == 14 && last.starts_with('2') => {
                        format!(":{last}")
                    }
                    _ => format!(":{stamp}"),
                };
            }
            s if s.starts_with("DESTFN=") => dest = s["DESTFN=".len()..].to_string(),
            s if matches!(s, "SENDER" | "NONESENDER")
                || s.starts_with("SATNET=")
                || s.starts_with("DESTFNSCRIPT=") =>
            {
                return Err(PlacementError::UnsupportedFilename(s.to_string()));
            }
            other => return Err(PlacementError::BadFilename(other.to_string())),
        }
    }
    let name = format!("{dest}{time_suffix}");
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(PlacementError::BadFilename(option.to_string()));
    }
    Ok(name)
}

/// Compute the placement of an accepted message.
pub fn place(
    o: &Options,
    expander: &Expander,
    now: Timestamp,
    m: &MessagePaths<'_>,
    acc: &Acceptance,
) -> Result<Placement, PlacementError> {
    let spec = &acc.placement;
    let vars = MessageVars {
        source: m.source,
        base_url: Some(m.base_url),
        groups: &acc.groups,
    };
    let mut unresolved = Vec::new();
    let mut expand = |t: &str| {
        let e = expander.expand(t, now, Some(&vars));
        unresolved.extend(e.unresolved);
        e.text
    };

    // 1. the relative path (rename wins; baseUrl_relPath prefixes the baseUrl's path).
    let mut rel = m.rel_path.to_string();
    if o.base_url_rel_path {
        let bp = url_path(m.base_url).trim_matches('/');
        if !bp.is_empty() {
            rel = format!("{bp}/{rel}");
        }
    }
    if let Some(r) = m.rename {
        rel = r.to_string();
    }
    let mut tokens = split_path(&rel);
    let Some(filename) = tokens.last().cloned() else {
        return Err(PlacementError::EmptyRelPath);
    };
    let mut filename = filename;

    // 3. strip N elements, or the first match of a regex.
    match &spec.strip {
        Strip::Count(0) => {}
        Strip::Count(n) => {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            if n < tokens.len() {
                tokens.drain(..n);
            } else {
                tokens = vec![filename.clone()];
            }
        }
        Strip::Regex(p) => {
            let joined = tokens.join("/");
            let stripped = p
                .remove_first(&joined)
                .map_err(|e| PlacementError::StripAborted(e.0))?;
            tokens = if stripped.contains(filename.as_str()) {
                split_path(&stripped)
            } else {
                vec![filename.clone()]
            };
            if tokens.is_empty() {
                tokens = vec![filename.clone()];
            }
        }
    }

    // 3b. flatten: all remaining elements joined into the file name.
    let flat = spec.flatten_str();
    if flat != "/" {
        filename = tokens.join(flat);
        tokens = vec![filename.clone()];
    }

    // 6. Sundew file name options.
    if let Some(fo) = &spec.filename {
        filename = sundew_filename(fo, &filename, m.pub_time, now)?;
        if let Some(last) = tokens.last_mut() {
            last.clone_from(&filename);
        }
    }

    // A flatten string or file name option must not smuggle a '/' into the file name.
    // (`..` is passed through: resolving against the file system is another layer's job.)
    if filename.is_empty() || filename.contains('/') {
        return Err(PlacementError::BadFilename(format!(
            "(flatten {flat:?}) gives {filename:?}"
        )));
    }

    // 5. not mirroring: only the file name.
    if !spec.mirror {
        tokens = vec![filename.clone()];
    }

    // 2. base directory: the mask's directory, else post_baseDir.
    let post_base_dir = o.post_base_dir.as_deref().map(&mut expand);
    let base = match &spec.directory {
        Some(d) => Some(expand(d)),
        None => post_base_dir.clone(),
    };

    // 4. remove leading elements equal to baseDir.
    if let Some(bd) = &o.base_dir {
        let bdt = split_path(bd);
        if !bdt.is_empty() && tokens.len() > bdt.len() && tokens[..bdt.len()] == bdt[..] {
            tokens.drain(..bdt.len());
        }
    }
    let dirs = &tokens[..tokens.len().saturating_sub(1)];
    let new_dir = base.as_deref().map(|b| join_dir(b, dirs));

    // 7. the re-announced relPath, baseUrl and subtopic.
    let new_base_url = match &o.post_base_url {
        Some(u) => expand(u.expose()),
        None => m.base_url.to_string(),
    };
    let dir_for_rel = new_dir.clone().unwrap_or_else(|| join_dir("", dirs));
    let mut rel_dir: &str = &dir_for_rel;
    if let Some(pbd) = post_base_dir.as_deref().filter(|p| p.len() > 1) {
        rel_dir = strip_dir_prefix(rel_dir, pbd);
    }
    let bup = url_path(&new_base_url);
    if bup.len() > 1 {
        rel_dir = strip_dir_prefix(rel_dir, bup);
    }
    let mut rel_words = split_path(rel_dir);
    let new_subtopic = rel_words.clone();
    rel_words.push(filename.clone());

    Ok(Placement {
        new_dir,
        base_dir: base,
        new_file: filename,
        new_rel_path: rel_words.join("/"),
        new_base_url,
        new_subtopic,
        unresolved,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-03-05T07:08:09Z".parse().unwrap()
    }

    #[test]
    fn filename_options() {
        let f = "SACN31_CWAO_050700__CYQB_41212:pxatx:CWAO:SA:3:Direct:20240305070812";
        assert_eq!(
            sundew_filename("WHATFN", f, None, now()).unwrap(),
            "SACN31_CWAO_050700__CYQB_41212"
        );
        assert_eq!(
            sundew_filename("HEADFN", f, None, now()).unwrap(),
            "SACN31_CWAO"
        );
        assert_eq!(
            sundew_filename("NONE", f, None, now()).unwrap(),
            "SACN31_CWAO_050700__CYQB_41212:pxatx:CWAO:SA:3:Direct"
        );
        assert_eq!(
            sundew_filename("WHATFN:TIME", f, None, now()).unwrap(),
            "SACN31_CWAO_050700__CYQB_41212:20240305070812"
        );
        assert_eq!(
            sundew_filename("TIME", "a.txt", Some("20240101T000102.5"), now()).unwrap(),
            "a.txt:20240101000102"
        );
        assert_eq!(
            sundew_filename("TIME", "a.txt", None, now()).unwrap(),
            "a.txt:20240305070809"
        );
        assert_eq!(
            sundew_filename("DESTFN=b.txt", "a.txt", None, now()).unwrap(),
            "b.txt"
        );
        assert_eq!(
            sundew_filename("NONE", "a.txt", None, now()).unwrap(),
            "a.txt"
        );
        assert_eq!(
            sundew_filename("None", "a.txt", None, now()).unwrap(),
            "a.txt"
        );
        assert_eq!(
            sundew_filename("SATNET=x", "a", None, now()),
            Err(PlacementError::UnsupportedFilename("SATNET=x".into()))
        );
        assert_eq!(
            sundew_filename("DESTFNSCRIPT=m.C", "a", None, now()),
            Err(PlacementError::UnsupportedFilename(
                "DESTFNSCRIPT=m.C".into()
            ))
        );
        assert!(matches!(
            sundew_filename("BOGUS", "a", None, now()),
            Err(PlacementError::BadFilename(_))
        ));
        assert!(matches!(
            sundew_filename("DESTFN=../x", "a", None, now()),
            Err(PlacementError::BadFilename(_))
        ));
        assert!(matches!(
            sundew_filename("DESTFN=", "a", None, now()),
            Err(PlacementError::BadFilename(_))
        ));
    }

    #[test]
    fn helpers() {
        assert_eq!(join_dir("/a/", &["b".into()]), "/a/b");
        assert_eq!(join_dir("/", &[]), "/");
        assert_eq!(join_dir("/", &["b".into()]), "/b");
        assert_eq!(join_dir("", &["b".into()]), "/b");
        assert_eq!(strip_dir_prefix("/www/a", "/www/"), "/a");
        assert_eq!(strip_dir_prefix("/wwwx/a", "/www"), "/wwwx/a");
        assert_eq!(strip_dir_prefix("/www", "/www"), "");
    }
}
