//! sr3's metadata cache in extended attributes: `user.sr_identity` (JSON `{"method": ..,
//! "value": ..}`) and `user.sr_mtime` (the v03 time string of the mtime the identity was
//! computed for). A file whose mtime still matches is not read again.

use std::path::Path;

use pitcher_core::{Identity, IdentityMethod, Timestamp};

const IDENTITY: &str = "user.sr_identity";
const MTIME: &str = "user.sr_mtime";

/// The cached identity of `path`, if its recorded mtime is `mtime`.
pub fn cached_identity(path: &Path, mtime: &Timestamp, method: IdentityMethod) -> Option<Identity> {
    let m = xattr::get(path, MTIME).ok()??;
    if std::str::from_utf8(&m).ok()? != mtime.to_string() {
        return None;
    }
    let raw = xattr::get(path, IDENTITY).ok()??;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let id = Identity::new(
        IdentityMethod::from_wire(v.get("method")?.as_str()?),
        v.get("value")?.as_str()?.to_string(),
    );
    (id.method == method).then_some(id)
}

/// Record `identity` as computed for `mtime` (silently skipped where xattrs are unsupported,
/// as sr3 does).
pub fn store_identity(path: &Path, mtime: &Timestamp, identity: &Identity) {
    let json = format!(
        "{{\"method\": \"{}\", \"value\": \"{}\"}}",
        identity.method.as_str(),
        identity.value
    );
    let _ = xattr::set(path, IDENTITY, json.as_bytes());
    let _ = xattr::set(path, MTIME, mtime.to_string().as_bytes());
}
