//! File names as raw bytes (Unix names need not be UTF-8) and their URL/HTML forms.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};

use percent_encoding::{AsciiSet, percent_encode};

#[cfg(unix)]
pub(crate) fn os_to_bytes(s: &OsStr) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt as _;
    Cow::Borrowed(s.as_bytes())
}

#[cfg(not(unix))]
pub(crate) fn os_to_bytes(s: &OsStr) -> Cow<'_, [u8]> {
    match s.to_string_lossy() {
        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
    }
}

#[cfg(unix)]
pub(crate) fn bytes_to_os(b: &[u8]) -> Option<OsString> {
    use std::os::unix::ffi::OsStrExt as _;
    Some(OsStr::from_bytes(b).to_owned())
}

#[cfg(not(unix))]
pub(crate) fn bytes_to_os(b: &[u8]) -> Option<OsString> {
    std::str::from_utf8(b).ok().map(OsString::from)
}

/// How a name is shown to people (invalid UTF-8 replaced).
pub(crate) fn bytes_display(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

pub(crate) fn percent_encode_bytes(b: &[u8], set: &'static AsciiSet) -> String {
    percent_encode(b, set).to_string()
}
