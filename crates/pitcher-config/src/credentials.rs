//! `credentials.conf` (reference 6.2): passwords and connection details, looked up by URL.
//!
//! A [`Credential`] never shows its password (nor tokens) in `Debug`/`Display`.

use std::fmt;
use std::path::Path;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::env::Environment;
use crate::error::{ConfigError, ConfigWarning, Origin};
use crate::secret::{MASK, mask_url};

/// Largest credentials file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// Connection details for one URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    url: Url,
    /// `ssh_keyfile=<path>` (sftp).
    pub ssh_keyfile: Option<String>,
    /// FTP passive mode (`passive`, default) or active (`active`).
    pub passive: bool,
    /// FTP binary mode (`binary`, default) or ascii (`ascii`).
    pub binary: bool,
    /// FTP explicit TLS (`tls`; `ssl` turns it off).
    pub tls: bool,
    /// FTPS protected data channel (`prot_p`).
    pub prot_p: bool,
    /// Implicit FTPS (`implicit_ftps`, also sets `tls`).
    pub implicit_ftps: bool,
    /// AMQP login method (`login_method=PLAIN|AMQPLAIN|EXTERNAL|GSSAPI`).
    pub login_method: Option<String>,
    /// S3 endpoint (`s3_endpoint=`).
    pub s3_endpoint: Option<String>,
    bearer_token: Option<String>,
    s3_session_token: Option<String>,
    azure_storage_credentials: Option<String>,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl Credential {
    fn from_url(url: Url) -> Self {
        Credential {
            url,
            ssh_keyfile: None,
            passive: true,
            binary: true,
            tls: false,
            prot_p: false,
            implicit_ftps: false,
            login_method: None,
            s3_endpoint: None,
            bearer_token: None,
            s3_session_token: None,
            azure_storage_credentials: None,
        }
    }

    /// URL scheme (`amqps`, `sftp`, ...).
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// Host name.
    pub fn host(&self) -> Option<&str> {
        self.url.host_str().filter(|h| !h.is_empty())
    }

    /// Port, if given in the URL.
    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    /// URL path (the AMQP vhost, `/` when empty).
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// User name (percent-decoded).
    pub fn username(&self) -> Option<String> {
        Some(self.url.username())
            .filter(|u| !u.is_empty())
            .map(decode)
    }

    /// Password (percent-decoded). Never log it.
    pub fn password(&self) -> Option<String> {
        self.url.password().map(decode)
    }

    /// `bearer_token=` / `bt=` (HTTP). Never log it.
    pub fn bearer_token(&self) -> Option<&str> {
        self.bearer_token.as_deref()
    }

    /// `s3_session_token=` (URL-decoded). Never log it.
    pub fn s3_session_token(&self) -> Option<&str> {
        self.s3_session_token.as_deref()
    }

    /// `azure_storage_credentials=` (URL-decoded). Never log it.
    pub fn azure_storage_credentials(&self) -> Option<&str> {
        self.azure_storage_credentials.as_deref()
    }

    /// The URL with the password masked.
    pub fn url_masked(&self) -> String {
        mask_url(self.url.as_str())
    }

    /// The full URL, password included (percent-encoded). Never log it.
    pub fn expose_url(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &Option<String>| s.as_ref().map(|_| MASK);
        f.debug_struct("Credential")
            .field("url", &self.url_masked())
            .field("ssh_keyfile", &self.ssh_keyfile)
            .field("passive", &self.passive)
            .field("binary", &self.binary)
            .field("tls", &self.tls)
            .field("prot_p", &self.prot_p)
            .field("implicit_ftps", &self.implicit_ftps)
            .field("login_method", &self.login_method)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("bearer_token", &secret(&self.bearer_token))
            .field("s3_session_token", &secret(&self.s3_session_token))
            .field(
                "azure_storage_credentials",
                &secret(&self.azure_storage_credentials),
            )
            .finish()
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url_masked())?;
        let scheme = self.scheme();
        if scheme.starts_with("ftp") {
            write!(
                f,
                " passive={} binary={} tls={} prot_p={} implicit_ftps={}",
                self.passive, self.binary, self.tls, self.prot_p, self.implicit_ftps
            )?;
        }
        if let Some(k) = &self.ssh_keyfile {
            write!(f, " ssh_keyfile={k}")?;
        }
        if let Some(m) = &self.login_method {
            write!(f, " login_method={m}")?;
        }
        if let Some(e) = &self.s3_endpoint {
            write!(f, " s3_endpoint={e}")?;
        }
        for (name, v) in [
            ("bearer_token", &self.bearer_token),
            ("s3_session_token", &self.s3_session_token),
            ("azure_storage_credentials", &self.azure_storage_credentials),
        ] {
            if v.is_some() {
                write!(f, " {name}={MASK}")?;
            }
        }
        Ok(())
    }
}

/// A URL that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Not a URL.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL (password masked).
        url: String,
        /// Why.
        reason: String,
    },
    /// No matching entry, and the URL alone is not enough.
    #[error("bad credential {url}: {reason}")]
    Bad {
        /// The URL (password masked).
        url: String,
        /// Why.
        reason: String,
    },
}

/// Whether `url` is usable as it is (sr3 `CredentialDB.isValid`).
fn is_valid(url: &Url) -> bool {
    let scheme = url.scheme();
    if url.host_str().is_none_or(str::is_empty) {
        return scheme == "file";
    }
    let user = !url.username().is_empty();
    let pass = url.password().is_some_and(|p| !p.is_empty());
    match (user, pass) {
        (true, true) => true,
        (false, false) => matches!(
            scheme,
            "http" | "https" | "sftp" | "s3" | "azure" | "azblob"
        ),
        _ => scheme == "sftp",
    }
}

fn vhost(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

enum Detail {
    Known,
    Unknown,
    NeedsValue,
}

/// Apply one `detail` or `detail=value` of a credentials line.
fn apply_detail(cred: &mut Credential, k: &str, v: Option<&str>, env: &Environment) -> Detail {
    let value = v.filter(|v| !v.is_empty()).map(str::to_string);
    let slot = match k {
        "passive" | "active" => {
            cred.passive = k == "passive";
            return Detail::Known;
        }
        "binary" | "ascii" => {
            cred.binary = k == "binary";
            return Detail::Known;
        }
        "ssl" | "tls" => {
            cred.tls = k == "tls";
            return Detail::Known;
        }
        "prot_p" => {
            cred.prot_p = true;
            return Detail::Known;
        }
        "implicit_ftps" => {
            cred.implicit_ftps = true;
            cred.tls = true;
            return Detail::Known;
        }
        "ssh_keyfile" => &mut cred.ssh_keyfile,
        "bearer_token" | "bt" => &mut cred.bearer_token,
        "login_method" => &mut cred.login_method,
        "s3_endpoint" => &mut cred.s3_endpoint,
        "s3_session_token" => &mut cred.s3_session_token,
        "azure_storage_credentials" => &mut cred.azure_storage_credentials,
        _ => return Detail::Unknown,
    };
    let Some(value) = value else {
        return Detail::NeedsValue;
    };
    *slot = Some(match k {
        "ssh_keyfile" => env.expand_tilde(&value),
        "s3_session_token" | "azure_storage_credentials" => decode(&value),
        _ => value,
    });
    Detail::Known
}

/// The entries of `credentials.conf`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CredentialDb {
    /// (the line's URL as written, the same without its password, the credential).
    entries: Vec<(String, String, Credential)>,
}

impl CredentialDb {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Read a credentials file; a missing file is an empty database. `label` names the file
    /// in warnings (e.g. `credentials.conf`).
    pub fn read(
        path: &Path,
        label: &str,
        env: &Environment,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        let unreadable = |source| ConfigError::Unreadable {
            file: label.to_string(),
            source,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Self::new(), Vec::new()));
            }
            Err(e) => return Err(unreadable(e)),
        };
        if meta.len() > MAX_FILE {
            return Err(ConfigError::TooLarge {
                file: label.to_string(),
                size: meta.len(),
                limit: MAX_FILE,
            });
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let text = crate::parser::utf8_text(bytes, label)?;
        Ok(Self::parse(&text, label, env))
    }

    /// Parse the text of a credentials file. Bad lines are skipped with a warning (that never
    /// shows a password).
    pub fn parse(text: &str, label: &str, env: &Environment) -> (Self, Vec<ConfigWarning>) {
        let mut db = Self::new();
        let mut warnings = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let origin = Origin::File {
                file: label.to_string(),
                line: i + 1,
            };
            if let Err(why) = db.add_line(line, env, &origin, &mut warnings) {
                warnings.push(ConfigWarning::new(origin, why));
            }
        }
        (db, warnings)
    }

    fn add_line(
        &mut self,
        line: &str,
        env: &Environment,
        origin: &Origin,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(), String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let (raw, details) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let url = Url::parse(raw).map_err(|e| format!("bad credential {}: {e}", mask_url(raw)))?;
        let mut cred = Credential::from_url(url);
        for detail in details.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let (k, v) = match detail.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (detail, None),
            };
            match apply_detail(&mut cred, k, v, env) {
                Detail::Known => {}
                Detail::Unknown => warnings.push(ConfigWarning::new(
                    origin.clone(),
                    format!(
                        "unknown credential detail \"{}\" ignored",
                        crate::error::echo(k)
                    ),
                )),
                Detail::NeedsValue => warnings.push(ConfigWarning::new(
                    origin.clone(),
                    format!("credential detail {k} needs a value ({k}=...); ignored"),
                )),
            }
        }
        if !is_valid(&cred.url) {
            return Err(format!(
                "bad credential {}: needs a host, and a user and password for this scheme",
                mask_url(raw)
            ));
        }
        let key = match cred.url.password() {
            Some(p) => raw.replacen(&format!(":{p}@"), "@", 1),
            None => raw.to_string(),
        };
        self.entries.push((raw.to_string(), key, cred));
        Ok(())
    }

    /// The credential for a URL from a configuration (sr3 `CredentialDB.get`):
    /// 1. an entry written exactly so;
    /// 2. an AMQP URL without user is `anonymous:anonymous`;
    /// 3. an entry with the same scheme, host and port, and the same user and password when
    ///    the URL gives them (AMQP vhost `''` = `/`);
    /// 4. the URL itself when it is usable alone (http/https/sftp/s3/azure without user;
    ///    sftp with a user only; anything with user and password; `file:`);
    /// 5. otherwise a "bad credential" error.
    pub fn lookup(&self, url: &str) -> Result<Credential, CredentialError> {
        if let Some((_, _, c)) = self
            .entries
            .iter()
            .find(|(raw, key, _)| raw == url || key == url)
        {
            return Ok(c.clone());
        }
        let mut q = Url::parse(url).map_err(|e| CredentialError::InvalidUrl {
            url: mask_url(url),
            reason: e.to_string(),
        })?;
        let amqp = q.scheme().contains("amqp");
        if amqp && q.username().is_empty() {
            let mut anon = q.clone();
            if anon.set_username("anonymous").is_ok()
                && anon.set_password(Some("anonymous")).is_ok()
            {
                return Ok(Credential::from_url(anon));
            }
        }
        let found = self.entries.iter().map(|(_, _, c)| c).find(|c| {
            let u = &c.url;
            u.scheme() == q.scheme()
                && u.host_str().map(str::to_ascii_lowercase)
                    == q.host_str().map(str::to_ascii_lowercase)
                && u.port() == q.port()
                && (q.username().is_empty() || u.username() == q.username())
                && q.password().is_none_or(|p| u.password() == Some(p))
                && (!amqp || vhost(u.path()) == vhost(q.path()))
        });
        if let Some(c) = found {
            let mut cred = c.clone();
            if q.username().is_empty() {
                let _ = q.set_username(c.url.username());
            }
            if q.password().is_none() {
                let _ = q.set_password(c.url.password());
            }
            cred.url = q;
            return Ok(cred);
        }
        if is_valid(&q) {
            return Ok(Credential::from_url(q));
        }
        Err(CredentialError::Bad {
            url: mask_url(url),
            reason: "no matching entry in credentials.conf, and the URL alone is not enough (amqp, mqtt and ftp need a user and a password)".into(),
        })
    }
}

impl fmt::Debug for CredentialDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(raw, _, _)| mask_url(raw)))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn db(text: &str) -> (CredentialDb, Vec<ConfigWarning>) {
        CredentialDb::parse(
            text,
            "credentials.conf",
            &Environment::fixed("h", &[("HOME", "/home/u")]),
        )
    }

    #[test]
    fn details_and_defaults() {
        let (d, w) = db(
            "# comment\n\nftp://u:p%2fw%3a@ftp.example.com/ active,ascii,tls , prot_p\nsftp://alice@h/ ssh_keyfile=~/.ssh/id_ed25519\nhttps://h/ bt=tok=en==\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(d.len(), 3);
        let f = d.lookup("ftp://u@ftp.example.com/").unwrap();
        assert_eq!(f.password().as_deref(), Some("p/w:"));
        assert!(!f.passive && !f.binary && f.tls && f.prot_p && !f.implicit_ftps);
        let s = d.lookup("sftp://alice@h/").unwrap();
        assert_eq!(s.ssh_keyfile.as_deref(), Some("/home/u/.ssh/id_ed25519"));
        assert!(s.passive && s.binary && !s.tls);
        let h = d.lookup("https://h/some/path").unwrap();
        assert_eq!(h.bearer_token(), Some("tok=en=="));
    }

    #[test]
    fn bad_lines_warn_without_password() {
        let (d, w) = db("amqp://h/\nnot a url at all\nftp://u:hunter2@h/ bogus,bt\n");
        assert_eq!(d.len(), 1);
        let all: String = w.iter().map(|w| format!("{w}\n")).collect();
        assert!(!all.contains("hunter2"), "{all}");
        assert!(
            all.contains("credentials.conf:1: bad credential amqp://h/"),
            "{all}"
        );
        assert!(all.contains("credentials.conf:2:"), "{all}");
        assert!(
            all.contains("credentials.conf:3: unknown credential detail \"bogus\""),
            "{all}"
        );
        assert!(all.contains("bt needs a value"), "{all}");
    }
}
