//! Content identity (`identity` field): methods, values, and streaming computation.
//!
//! sha512 and md5 values are base64 of the digest; `cod` carries the algorithm to compute on
//! download (e.g. `sha512`); `random` a 4-digit random number; `arbitrary` a user-supplied string.
//! Unknown method names from other implementations are kept verbatim and treated as binary methods.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use sha2::{Digest, Sha512};

/// How a message identifies content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdentityMethod {
    Sha512,
    Md5,
    /// Checksum on download: `value` names the algorithm to compute.
    Cod,
    Random,
    Arbitrary,
    /// v2 `n`: md5 of the file name (no content identity).
    Md5Name,
    /// A method name this implementation does not know (kept and forwarded verbatim).
    Other(String),
}

impl IdentityMethod {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            IdentityMethod::Sha512 => "sha512",
            IdentityMethod::Md5 => "md5",
            IdentityMethod::Cod => "cod",
            IdentityMethod::Random => "random",
            IdentityMethod::Arbitrary => "arbitrary",
            IdentityMethod::Md5Name => "md5name",
            IdentityMethod::Other(s) => s,
        }
    }

    /// Parses a wire name; never fails (unknown names become `Other`).
    pub fn from_wire(s: &str) -> Self {
        match s {
            "sha512" => IdentityMethod::Sha512,
            "md5" => IdentityMethod::Md5,
            "cod" => IdentityMethod::Cod,
            "random" => IdentityMethod::Random,
            "arbitrary" => IdentityMethod::Arbitrary,
            "md5name" => IdentityMethod::Md5Name,
            other => IdentityMethod::Other(other.to_string()),
        }
    }

    /// True when the value fingerprints the content, so equal values mean equal data.
    pub fn is_content_checksum(&self) -> bool {
        matches!(
            self,
            IdentityMethod::Sha512 | IdentityMethod::Md5 | IdentityMethod::Other(_)
        )
    }
}

impl fmt::Display for IdentityMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `identity` field of a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub method: IdentityMethod,
    pub value: String,
}

impl Identity {
    pub fn new(method: IdentityMethod, value: impl Into<String>) -> Self {
        Identity {
            method,
            value: value.into(),
        }
    }

    /// For `cod`: the algorithm to compute on download, if this implementation can.
    pub fn cod_algorithm(&self) -> Option<ChecksumAlgorithm> {
        if self.method == IdentityMethod::Cod {
            ChecksumAlgorithm::from_name(&self.value)
        } else {
            None
        }
    }

    /// The algorithm that verifies this identity against content, if any.
    pub fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self.method {
            IdentityMethod::Sha512 => Some(ChecksumAlgorithm::Sha512),
            IdentityMethod::Md5 => Some(ChecksumAlgorithm::Md5),
            _ => None,
        }
    }
}

/// A checksum algorithm that can be computed by streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Sha512,
    Md5,
}

impl ChecksumAlgorithm {
    /// Accepts the v03 names and the v2 letters (`s`, `d`).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "sha512" | "s" => Some(ChecksumAlgorithm::Sha512),
            "md5" | "d" => Some(ChecksumAlgorithm::Md5),
            _ => None,
        }
    }

    pub fn method(self) -> IdentityMethod {
        match self {
            ChecksumAlgorithm::Sha512 => IdentityMethod::Sha512,
            ChecksumAlgorithm::Md5 => IdentityMethod::Md5,
        }
    }

    pub fn hasher(self) -> ContentHasher {
        match self {
            ChecksumAlgorithm::Sha512 => ContentHasher::Sha512(Box::default()),
            ChecksumAlgorithm::Md5 => ContentHasher::Md5(Md5::new()),
        }
    }
}

/// A hasher fed with chunks as data streams by, finishing into an [`Identity`].
#[derive(Clone)]
pub enum ContentHasher {
    Sha512(Box<Sha512>),
    Md5(Md5),
}

impl ContentHasher {
    pub fn update(&mut self, chunk: &[u8]) {
        match self {
            ContentHasher::Sha512(h) => h.update(chunk),
            ContentHasher::Md5(h) => h.update(chunk),
        }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            ContentHasher::Sha512(_) => ChecksumAlgorithm::Sha512,
            ContentHasher::Md5(_) => ChecksumAlgorithm::Md5,
        }
    }

    /// The raw digest bytes.
    pub fn finalize_bytes(self) -> Vec<u8> {
        match self {
            ContentHasher::Sha512(h) => h.finalize().to_vec(),
            ContentHasher::Md5(h) => h.finalize().to_vec(),
        }
    }

    /// The identity (base64 of the digest), as sr3 writes it.
    pub fn finalize(self) -> Identity {
        let method = self.algorithm().method();
        Identity::new(method, B64.encode(self.finalize_bytes()))
    }
}

impl fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHasher({:?})", self.algorithm())
    }
}

/// The `identity` option of a poster: what to put in the messages it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySpec {
    /// Compute this checksum of the content.
    Checksum(ChecksumAlgorithm),
    /// Announce `cod,<algorithm>`: the downloader computes it.
    Cod(ChecksumAlgorithm),
    /// A fresh random 4-digit value per message.
    Random,
    /// A fixed user-supplied value.
    Arbitrary(String),
    /// No identity at all (`none`, or v2 `md5name`/`n`).
    None,
}

impl IdentitySpec {
    /// Whether the content must be read to build the identity.
    pub fn needs_content(&self) -> bool {
        matches!(self, IdentitySpec::Checksum(_))
    }

    /// A streaming hasher for `Checksum` specs.
    pub fn hasher(&self) -> Option<ContentHasher> {
        match self {
            IdentitySpec::Checksum(a) => Some(a.hasher()),
            _ => None,
        }
    }

    /// The identity for content that needs no reading (cod, random, arbitrary, none).
    pub fn identity_without_content(&self) -> Option<Identity> {
        match self {
            IdentitySpec::Cod(a) => Some(Identity::new(
                IdentityMethod::Cod,
                a.method().as_str().to_string(),
            )),
            IdentitySpec::Random => Some(Identity::new(IdentityMethod::Random, random_value())),
            IdentitySpec::Arbitrary(v) => Some(Identity::new(IdentityMethod::Arbitrary, v.clone())),
            IdentitySpec::Checksum(_) | IdentitySpec::None => None,
        }
    }

    /// Computes the identity of everything `reader` yields, in chunks of `buf_size` bytes.
    pub fn compute<R: std::io::Read>(
        &self,
        mut reader: R,
        buf_size: usize,
    ) -> std::io::Result<Option<Identity>> {
        let Some(mut h) = self.hasher() else {
            return Ok(self.identity_without_content());
        };
        let mut buf = vec![0u8; buf_size.clamp(4096, 16 << 20)];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            h.update(&buf[..n]);
        }
        Ok(Some(h.finalize()))
    }
}

/// Why an `identity` option value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected sha512, md5, cod,sha512, cod,md5, random, arbitrary,<value> or none (or the v2 letters s, d, z,s, z,d, 0, a,<value>, n), got {0:?}"
)]
pub struct IdentitySpecError(pub String);

impl FromStr for IdentitySpec {
    type Err = IdentitySpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (head, tail) = match t.split_once(',') {
            Some((h, rest)) => (h.trim(), Some(rest.trim())),
            None => (t, None),
        };
        let err = || IdentitySpecError(s.to_string());
        match (head, tail) {
            ("sha512" | "s", None) => Ok(IdentitySpec::Checksum(ChecksumAlgorithm::Sha512)),
            ("md5" | "d", None) => Ok(IdentitySpec::Checksum(ChecksumAlgorithm::Md5)),
            ("cod" | "z", Some(a)) => Ok(IdentitySpec::Cod(
                ChecksumAlgorithm::from_name(a).ok_or_else(err)?,
            )),
            ("random" | "0", None) => Ok(IdentitySpec::Random),
            ("arbitrary" | "a", Some(v)) if !v.is_empty() => {
                Ok(IdentitySpec::Arbitrary(v.to_string()))
            }
            ("none" | "None" | "md5name" | "n", None) => Ok(IdentitySpec::None),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for IdentitySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySpec::Checksum(a) => f.write_str(a.method().as_str()),
            IdentitySpec::Cod(a) => write!(f, "cod,{}", a.method().as_str()),
            IdentitySpec::Random => f.write_str("random"),
            IdentitySpec::Arbitrary(v) => write!(f, "arbitrary,{v}"),
            IdentitySpec::None => f.write_str("none"),
        }
    }
}

fn random_value() -> String {
    format!("{:04}", rand::random_range(0..10_000u32))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sha512_of_vector_file_matches_sr3() {
        // The 12-byte file announced in the vectors; its content is known from the v02 sum (hex)
        // and the v03 identity (base64) of the same digest.
        let hex = "db3974a97f2407b7cae1ae637c0030687a11913274d578492558e39c16c017de84eacdc8c62fe34ee4e12b4b1428817f09b6a2760c3f8a664ceae94d2434a593";
        let b64 = "2zl0qX8kB7fK4a5jfAAwaHoRkTJ01XhJJVjjnBbAF96E6s3Ixi/jTuThK0sUKIF/Cbaidgw/imZM6ulNJDSlkw==";
        assert_eq!(B64.encode(hex::decode(hex).unwrap()), b64);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let spec: IdentitySpec = "sha512".parse().unwrap();
        let streamed = spec.compute(&data[..], 4096).unwrap().unwrap();
        let one = B64.encode(Sha512::digest(&data));
        assert_eq!(streamed.value, one);
        assert_eq!(streamed.method, IdentityMethod::Sha512);
        let mut h = ChecksumAlgorithm::Md5.hasher();
        for c in data.chunks(333) {
            h.update(c);
        }
        assert_eq!(h.finalize().value, B64.encode(Md5::digest(&data)));
    }

    #[test]
    fn known_digests() {
        let md5 = IdentitySpec::Checksum(ChecksumAlgorithm::Md5)
            .compute(&b"abc"[..], 1)
            .unwrap();
        assert_eq!(
            md5.unwrap().value,
            B64.encode(hex::decode("900150983cd24fb0d6963f7d28e17f72").unwrap())
        );
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(
            "cod,sha512".parse::<IdentitySpec>().unwrap(),
            IdentitySpec::Cod(ChecksumAlgorithm::Sha512)
        );
        assert_eq!(
            "z,d".parse::<IdentitySpec>().unwrap(),
            IdentitySpec::Cod(ChecksumAlgorithm::Md5)
        );
        assert_eq!(
            "a,hello".parse::<IdentitySpec>().unwrap(),
            IdentitySpec::Arbitrary("hello".into())
        );
        assert_eq!("none".parse::<IdentitySpec>().unwrap(), IdentitySpec::None);
        for bad in ["sha1", "cod", "cod,crc", "arbitrary", "", "sha512,x"] {
            assert!(bad.parse::<IdentitySpec>().is_err(), "{bad}");
        }
        for good in [
            "sha512",
            "md5",
            "cod,sha512",
            "random",
            "arbitrary,v",
            "none",
        ] {
            assert_eq!(good.parse::<IdentitySpec>().unwrap().to_string(), good);
        }
    }

    #[test]
    fn non_content_identities() {
        let r = IdentitySpec::Random.identity_without_content().unwrap();
        assert_eq!(r.value.len(), 4);
        assert!(r.value.bytes().all(|c| c.is_ascii_digit()));
        let c = IdentitySpec::Cod(ChecksumAlgorithm::Sha512)
            .identity_without_content()
            .unwrap();
        assert_eq!((c.method.as_str(), c.value.as_str()), ("cod", "sha512"));
        assert_eq!(c.cod_algorithm(), Some(ChecksumAlgorithm::Sha512));
        assert!(IdentitySpec::None.compute(&b"x"[..], 10).unwrap().is_none());
    }
}
