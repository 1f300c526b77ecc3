//! Keeping passwords out of sight: URL masking and a URL option type that never prints one.

use std::fmt;

use percent_encoding::percent_decode_str;

/// What a password is replaced with wherever it would be shown.
pub const MASK: &str = "***";

/// Render `url` with the password (if any) replaced by `***`.
///
/// Works on anything that looks like `scheme://user:password@host...`, valid URL or not.
pub fn mask_url(url: &str) -> String {
    mask_passwords_in_text(url)
}

/// Mask the password of every `scheme://user:password@host` found in free text.
pub fn mask_passwords_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (before, after) = rest.split_at(i + 3);
        out.push_str(before);
        let seg_end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '<' || c == '>')
            .unwrap_or(after.len());
        let (seg, tail) = after.split_at(seg_end);
        out.push_str(&mask_segment(seg));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `seg` is what follows `://` up to whitespace: `user:pass@host/path?q`.
fn mask_segment(seg: &str) -> String {
    let limit = seg.find(['?', '#']).unwrap_or(seg.len());
    let Some(at) = seg[..limit].rfind('@') else {
        return seg.to_string();
    };
    let userinfo = &seg[..at];
    match userinfo.find(':') {
        Some(colon) => format!("{}{}{}", &seg[..=colon], MASK, &seg[at..]),
        None => seg.to_string(),
    }
}

/// The user name of a URL (percent-decoded), if it has one.
pub(crate) fn url_username(url: &str) -> Option<String> {
    let start = url.find("://")? + 3;
    let seg = &url[start..];
    let end = seg.find(['/', '?', '#']).unwrap_or(seg.len());
    let authority = &seg[..end];
    let at = authority.rfind('@')?;
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    if user.is_empty() {
        None
    } else {
        Some(percent_decode_str(user).decode_utf8_lossy().into_owned())
    }
}

/// The scheme of a URL (lower-cased), if it has one.
pub(crate) fn url_scheme(url: &str) -> Option<String> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    if !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    {
        Some(scheme.to_ascii_lowercase())
    } else {
        None
    }
}

/// A URL option value (`broker`, `post_broker`, `sendTo`, ...) as written in the configuration.
///
/// It may carry a password: `Debug` and `Display` mask it; use [`ConfigUrl::expose`] to get
/// the real text (for credential lookup).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConfigUrl(String);

impl ConfigUrl {
    /// Wrap a URL string.
    pub fn new(url: impl Into<String>) -> Self {
        ConfigUrl(url.into())
    }

    /// The URL exactly as configured, password included. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password masked.
    pub fn masked(&self) -> String {
        mask_url(&self.0)
    }

    /// The user name in the URL (percent-decoded), if any.
    pub fn username(&self) -> Option<String> {
        url_username(&self.0)
    }

    /// The scheme (lower-cased), if any.
    pub fn scheme(&self) -> Option<String> {
        url_scheme(&self.0)
    }
}

impl fmt::Debug for ConfigUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigUrl({:?})", self.masked())
    }
}

impl fmt::Display for ConfigUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_password() {
        assert_eq!(
            mask_url("amqps://bob:s3cret@broker.example.com:5671/vhost"),
            "amqps://bob:***@broker.example.com:5671/vhost"
        );
        assert_eq!(mask_url("amqps://bob@host/"), "amqps://bob@host/");
        assert_eq!(mask_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(mask_url("ftp://u:p%40ss@h"), "ftp://u:***@h");
        assert_eq!(mask_url("not a url"), "not a url");
        assert_eq!(mask_url("sftp://u:pw@h?x=a@b"), "sftp://u:***@h?x=a@b");
    }

    #[test]
    fn masks_in_text() {
        let t = "broker amqp://a:pw1@h1 and \"mqtt://b:pw2@h2/x\" ok";
        let m = mask_passwords_in_text(t);
        assert!(!m.contains("pw1") && !m.contains("pw2"), "{m}");
        assert_eq!(m, "broker amqp://a:***@h1 and \"mqtt://b:***@h2/x\" ok");
        assert_eq!(mask_passwords_in_text("x://"), "x://");
        assert_eq!(mask_passwords_in_text("é://é:é@é"), "é://é:***@é");
    }

    #[test]
    fn config_url_never_shows_password() {
        let u = ConfigUrl::new("amqps://bob:topsecret@h/");
        assert!(!format!("{u:?}").contains("topsecret"));
        assert!(!format!("{u}").contains("topsecret"));
        assert_eq!(u.username().as_deref(), Some("bob"));
        assert_eq!(u.scheme().as_deref(), Some("amqps"));
        assert_eq!(u.expose(), "amqps://bob:topsecret@h/");
        assert_eq!(ConfigUrl::new("amqp://h").username(), None);
        assert_eq!(
            ConfigUrl::new("amqp://b%40x:p@h").username().as_deref(),
            Some("b@x")
        );
    }
}
