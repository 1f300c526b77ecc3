//! Keeping message-derived paths inside the destination tree.
//!
//! A placement is a base directory from the configuration (trusted) plus directory words and a
//! file name taken from the message (untrusted). Before anything is written, every untrusted
//! element is checked: no `..`, no `.`, no empty element, no NUL, no absolute path; and no
//! directory already on disk between the base and the file may be a symbolic link that leads
//! outside the base (a tree that links to itself stays allowed).

use std::path::{Component, Path, PathBuf};

use pitcher_config::Placement;

/// Why a destination is refused (reported with code 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escape {
    /// The message path has an element that is not a plain name.
    #[error("path element {element:?} not allowed in {path:?}")]
    BadElement {
        /// The offending element.
        element: String,
        /// The whole path.
        path: String,
    },
    /// A directory on the way is a symbolic link out of the tree.
    #[error("{link} is a symbolic link leading outside {base}")]
    SymlinkOut {
        /// The link.
        link: String,
        /// The base directory.
        base: String,
    },
    /// The placement has no base directory (nothing to confine to).
    #[error("no destination directory")]
    NoBase,
    /// A link target leaves the tree.
    #[error("link target {target:?} leads outside {base}")]
    LinkTargetOut {
        /// The target as announced.
        target: String,
        /// The base directory.
        base: String,
    },
}

impl Escape {
    /// The report code.
    pub fn code(&self) -> u16 {
        403
    }
}

/// A checked destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The trusted base directory.
    pub base: PathBuf,
    /// Directory words below the base (checked).
    pub dirs: Vec<String>,
    /// The file name (checked).
    pub file: String,
}

impl Destination {
    /// The directory the file goes into.
    pub fn dir(&self) -> PathBuf {
        let mut p = self.base.clone();
        p.extend(&self.dirs);
        p
    }

    /// The final path.
    pub fn path(&self) -> PathBuf {
        self.dir().join(&self.file)
    }
}

fn check_element(e: &str, whole: &str) -> Result<(), Escape> {
    let bad = e.is_empty()
        || e == "."
        || e == ".."
        || e.contains('\0')
        || e.contains('/')
        || e.contains('\\') && cfg!(windows);
    if bad {
        return Err(Escape::BadElement {
            element: e.to_string(),
            path: whole.to_string(),
        });
    }
    Ok(())
}

/// Check a placement: split `new_dir` into the trusted base and the message-derived words.
pub fn destination(p: &Placement) -> Result<Destination, Escape> {
    let base = p.base_dir.as_deref().ok_or(Escape::NoBase)?;
    let new_dir = p.new_dir.as_deref().ok_or(Escape::NoBase)?;
    let whole = format!("{new_dir}/{}", p.new_file);
    let b = base.trim_end_matches('/');
    let rest = new_dir
        .strip_prefix(b)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .ok_or_else(|| Escape::BadElement {
            element: new_dir.to_string(),
            path: whole.clone(),
        })?;
    let dirs: Vec<String> = rest
        .split('/')
        .skip(1) // the empty element before the leading '/'
        .map(str::to_string)
        .collect();
    for d in &dirs {
        check_element(d, &whole)?;
    }
    check_element(&p.new_file, &whole)?;
    Ok(Destination {
        base: PathBuf::from(if base.is_empty() { "/" } else { base }),
        dirs,
        file: p.new_file.clone(),
    })
}

/// Follow existing directories from the base towards the file; refuse symbolic links that
/// resolve outside the base. Directories that do not exist yet are fine (they will be made).
pub fn check_on_disk(d: &Destination) -> Result<(), Escape> {
    let canon_base = match d.base.canonicalize() {
        Ok(c) => c,
        Err(_) => return Ok(()), // base not made yet: nothing below it can be a link
    };
    let mut p = d.base.clone();
    let file = std::iter::once(d.file.as_str());
    for e in d.dirs.iter().map(String::as_str).chain(file) {
        p.push(e);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                // The final name may be a link: it is replaced by rename, never written through.
                if e == d.file && p == d.path() {
                    return Ok(());
                }
                match p.canonicalize() {
                    Ok(target) if target.starts_with(&canon_base) => {}
                    _ => {
                        return Err(Escape::SymlinkOut {
                            link: p.display().to_string(),
                            base: d.base.display().to_string(),
                        });
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Check a link target announced for `link_path`: relative targets resolve from the link's
/// directory; either way the result must stay inside the base (lexically).
pub fn check_link_target(d: &Destination, target: &str) -> Result<(), Escape> {
    let out = || Escape::LinkTargetOut {
        target: target.to_string(),
        base: d.base.display().to_string(),
    };
    if target.is_empty() || target.contains('\0') {
        return Err(out());
    }
    let start = if Path::new(target).is_absolute() {
        PathBuf::new()
    } else {
        d.dir()
    };
    let mut resolved = PathBuf::new();
    for c in start.join(target).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => resolved.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if !resolved.pop() {
                    return Err(out());
                }
            }
            Component::Normal(n) => resolved.push(n),
        }
    }
    if resolved.starts_with(&d.base) {
        Ok(())
    } else {
        Err(out())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(base: &str, new_dir: &str, file: &str) -> Placement {
        Placement {
            new_dir: Some(new_dir.into()),
            base_dir: Some(base.into()),
            new_file: file.into(),
            new_rel_path: String::new(),
            new_base_url: String::new(),
            new_subtopic: Vec::new(),
            unresolved: Vec::new(),
        }
    }

    #[test]
    fn plain_paths_pass() {
        let d = destination(&placement("/data", "/data/a/b", "f.txt")).expect("ok");
        assert_eq!(d.path(), PathBuf::from("/data/a/b/f.txt"));
        let d = destination(&placement("/data/", "/data", "f.txt")).expect("ok");
        assert_eq!(d.path(), PathBuf::from("/data/f.txt"));
    }

    #[test]
    fn escapes_are_refused() {
        for (dir, file) in [
            ("/data/../etc", "passwd"),
            ("/data/a/..", "x"),
            ("/data/a", ".."),
            ("/data/a/.", "x"),
            ("/data//a", "x"),
            ("/data/a", "x\0y"),
            ("/datax/a", "x"),
            ("/etc", "passwd"),
        ] {
            assert!(
                destination(&placement("/data", dir, file)).is_err(),
                "{dir} {file}"
            );
        }
    }

    #[test]
    fn symlinked_parent_outside_is_refused() {
        let t = tempfile::tempdir().expect("tmp");
        let base = t.path().join("tree");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&base).expect("mk");
        std::fs::create_dir_all(&outside).expect("mk");
        std::os::unix::fs::symlink(&outside, base.join("evil")).expect("ln");
        std::fs::create_dir_all(base.join("real")).expect("mk");
        std::os::unix::fs::symlink(base.join("real"), base.join("alias")).expect("ln");
        let b = base.display().to_string();
        let d = destination(&placement(&b, &format!("{b}/evil"), "f")).expect("lexically ok");
        assert!(matches!(check_on_disk(&d), Err(Escape::SymlinkOut { .. })));
        let d = destination(&placement(&b, &format!("{b}/alias"), "f")).expect("ok");
        assert_eq!(check_on_disk(&d), Ok(()));
        let d = destination(&placement(&b, &format!("{b}/new/dirs"), "f")).expect("ok");
        assert_eq!(check_on_disk(&d), Ok(()));
    }

    #[test]
    fn link_targets() {
        let d = destination(&placement("/data", "/data/a/b", "l")).expect("ok");
        assert!(check_link_target(&d, "target").is_ok());
        assert!(check_link_target(&d, "../c/target").is_ok());
        assert!(check_link_target(&d, "/data/x").is_ok());
        assert!(check_link_target(&d, "../../../etc/passwd").is_err());
        assert!(check_link_target(&d, "/etc/passwd").is_err());
        assert!(check_link_target(&d, "").is_err());
    }
}
