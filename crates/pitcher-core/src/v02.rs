//! The v02 wire format: body `"<pubTime> <baseUrl> <relPath>"` (content type `text/plain`) plus
//! headers (`sum`, `parts`, `mtime`, `atime`, `mode`, `source`, `oldname`, `link`, user headers).
//!
//! Conversions follow sr3 (`postformat/v02.py`, `flowcb/v2wrapper.py`) with these deliberate
//! differences, chosen so that v02 ↔ v03 conversion round-trips:
//! * `%20` and `%23` in relPath are decoded on receive (sr3 leaves them encoded, which makes the
//!   download URL wrong); spaces and `#` in baseUrl are also encoded on send (sr3 only decodes them).
//! * `to_clusters` is not forced to `ALL` on import.
//! * a `fileOp.link` is sent with a `link` header carrying the target (as v2 did; sr3 3.x loses it).
//! * `i`/`p` `parts` (v2 partitioned files) are imported as `blocks` rather than refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::error::{DecodeError, EncodeError};
use crate::format::{DecodeLimits, Format, Headers, body_text};
use crate::identity::{Identity, IdentityMethod};
use crate::message::{Blocks, FileOp, FileOpKind, Message, Mode};
use crate::time::Timestamp;

/// Longest header value AMQP (and sr3) accepts.
pub const MAX_HEADER_LEN: usize = 255;

/// Decodes a v02 body and its headers with the default limits.
pub fn decode(body: &[u8], headers: &Headers) -> Result<Message, DecodeError> {
    decode_with(body, headers, DecodeLimits::default())
}

/// Decodes a v02 body and its headers.
pub fn decode_with(
    body: &[u8],
    headers: &Headers,
    limits: DecodeLimits,
) -> Result<Message, DecodeError> {
    let text = body_text(body, limits)?;
    let mut words = text.trim().split(' ').filter(|w| !w.is_empty());
    let (Some(pub_time), Some(base_url), Some(rel_path)) =
        (words.next(), words.next(), words.next())
    else {
        let mut end = text.len().min(120);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        return Err(DecodeError::BadV02Body(text[..end].to_string()));
    };
    let pub_time = Timestamp::parse(pub_time).map_err(|source| DecodeError::BadTime {
        field: "pubTime".into(),
        source,
    })?;
    let mut msg = Message::new(unescape(base_url), unescape(rel_path));
    msg.pub_time = pub_time;

    let mut sum: Option<&str> = None;
    for (name, value) in headers {
        match name.as_str() {
            "sum" => sum = Some(value),
            "parts" => {
                if let Some((size, blocks)) = parse_parts(value) {
                    msg.size = Some(size);
                    msg.blocks = blocks;
                } else {
                    return Err(DecodeError::bad_value(
                        "parts",
                        value,
                        "expected 1,<size>,1,0,0 or i|p,<blocksize>,<count>,<remainder>,<number>",
                    ));
                }
            }
            "mtime" | "atime" => {
                let t = Timestamp::parse(value).map_err(|source| DecodeError::BadTime {
                    field: name.clone(),
                    source,
                })?;
                if name == "mtime" {
                    msg.mtime = Some(t);
                } else {
                    msg.atime = Some(t);
                }
            }
            "mode" => {
                msg.mode = Some(Mode::parse(value).ok_or_else(|| {
                    DecodeError::bad_value(
                        "mode",
                        value,
                        "expected octal permission bits like \"644\"",
                    )
                })?)
            }
            "source" => msg.source = Some(value.clone()),
            "from_cluster" => msg.from_cluster = Some(value.clone()),
            "to_clusters" => msg.to_clusters = Some(value.clone()),
            "rename" => msg.rename = Some(value.clone()),
            "contentType" => msg.content_type = Some(value.clone()),
            "retrievePath" | "retPath" => msg.retrieve_path = Some(value.clone()),
            // consumed below together with `sum`
            "oldname" | "link" => {}
            // v03 field names that v02 carries in its body or in `sum`/`parts`: as headers they
            // would collide with the typed fields when the message is written as v03.
            "pubTime" | "baseUrl" | "relPath" | "identity" | "integrity" | "fileOp" | "size"
            | "blocks" | "content" | "report" => {
                return Err(DecodeError::bad_value(
                    name,
                    value,
                    "this name is reserved for a v03 field and cannot be a v02 header",
                ));
            }
            _ => {
                msg.extra.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    let oldname = headers.get("oldname");
    let link = headers.get("link");
    if let Some(sum) = sum {
        apply_sum(&mut msg, sum, oldname, link)?;
    } else {
        if let Some(old) = oldname {
            msg.file_op.get_or_insert_with(FileOp::default).rename = Some(old.clone());
        }
        if let Some(l) = link {
            msg.file_op.get_or_insert_with(FileOp::default).link = Some(l.clone());
        }
    }
    msg.local.format = Some(Format::V02);
    Ok(msg)
}

fn apply_sum(
    msg: &mut Message,
    sum: &str,
    oldname: Option<&String>,
    link: Option<&String>,
) -> Result<(), DecodeError> {
    let (flag, value) = sum.split_once(',').unwrap_or((sum, ""));
    let hex_to_b64 = |v: &str| -> Result<String, DecodeError> {
        hex::decode(v)
            .map(|b| B64.encode(b))
            .map_err(|_| DecodeError::bad_value("sum", sum, "expected hexadecimal checksum"))
    };
    let identity = match flag {
        "s" => Some(Identity::new(IdentityMethod::Sha512, hex_to_b64(value)?)),
        "d" => Some(Identity::new(IdentityMethod::Md5, hex_to_b64(value)?)),
        "z" => {
            let algo = match value {
                "s" => "sha512",
                "d" => "md5",
                _ => return Err(DecodeError::bad_value("sum", sum, "cod must name s or d")),
            };
            Some(Identity::new(IdentityMethod::Cod, algo))
        }
        "0" => Some(Identity::new(IdentityMethod::Random, value)),
        "a" => Some(Identity::new(IdentityMethod::Arbitrary, value)),
        "L" if link.is_none() => Some(Identity::new(
            IdentityMethod::Other("link".into()),
            hex_to_b64(value)?,
        )),
        "L" | "R" | "r" | "m" | "n" | "N" => None,
        _ => {
            // Unknown flag (e.g. C's `p`): keep the header as it came.
            msg.extra
                .insert("sum".into(), Value::String(sum.to_string()));
            None
        }
    };
    let mut op = FileOp::default();
    if let Some(old) = oldname {
        op.rename = Some(old.clone());
    }
    match flag {
        "R" => op.remove = Some(String::new()),
        "r" => {
            op.remove = Some(String::new());
            op.directory = Some(String::new());
        }
        "m" => op.directory = Some(String::new()),
        _ => {}
    }
    if let Some(l) = link {
        op.link = Some(l.clone());
    }
    if op != FileOp::default() {
        msg.file_op = Some(op);
    }
    if !(link.is_some() && flag == "L") {
        msg.identity = identity;
    }
    Ok(())
}

/// `1,<size>,1,0,0` → size; `i|p,<bsz>,<count>,<rem>,<num>` → the block's length and its blocks.
fn parse_parts(s: &str) -> Option<(u64, Option<Blocks>)> {
    let f: Vec<&str> = s.split(',').map(str::trim).collect();
    if f.len() != 5 {
        return None;
    }
    let n = |i: usize| f[i].parse::<u64>().ok();
    let (bsz, count, rem, num) = (n(1)?, n(2)?, n(3)?, n(4)?);
    match f[0] {
        "1" => Some((bsz, None)),
        "i" | "p" => {
            let len = if rem > 0 && num + 1 == count {
                rem
            } else {
                bsz
            };
            let blocks = Blocks {
                method: if f[0] == "i" {
                    "inplace"
                } else {
                    "partitioned"
                }
                .into(),
                size: bsz,
                number: num,
                count: Some(count),
                remainder: Some(rem),
                manifest: None,
                extra: Default::default(),
            };
            Some((len, Some(blocks)))
        }
        _ => None,
    }
}

/// Encodes a message as a v02 body and headers.
pub fn encode(msg: &Message) -> Result<(String, Headers), EncodeError> {
    let body = format!(
        "{} {} {}",
        msg.pub_time.to_v02_string(),
        escape(&msg.base_url),
        escape(&msg.rel_path)
    );
    let mut h = Headers::new();
    let put = |h: &mut Headers, k: &str, v: String| {
        h.insert(k.to_string(), v);
    };
    if let Some(v) = &msg.source {
        put(&mut h, "source", v.clone());
    }
    if let Some(v) = &msg.from_cluster {
        put(&mut h, "from_cluster", v.clone());
    }
    if let Some(v) = &msg.to_clusters {
        put(&mut h, "to_clusters", v.clone());
    }
    if let Some(v) = &msg.rename {
        put(&mut h, "rename", v.clone());
    }
    if let Some(v) = &msg.retrieve_path {
        put(&mut h, "retrievePath", v.clone());
    }
    if let Some(v) = &msg.content_type {
        put(&mut h, "contentType", v.clone());
    }
    if let Some(m) = msg.mode {
        put(&mut h, "mode", m.to_string());
    }
    if let Some(t) = &msg.mtime {
        put(&mut h, "mtime", t.to_v02_string());
    }
    if let Some(t) = &msg.atime {
        put(&mut h, "atime", t.to_v02_string());
    }
    if let Some(b) = &msg.blocks {
        let count = b
            .count
            .or_else(|| b.manifest.as_ref().map(|m| m.len() as u64))
            .unwrap_or(1);
        let remainder = b.remainder.unwrap_or_else(|| {
            let last = b
                .manifest
                .as_ref()
                .and_then(|m| m.values().next_back())
                .map(|e| e.size)
                .unwrap_or(b.size);
            if last == b.size { 0 } else { last }
        });
        let style = if b.method == "partitioned" { "p" } else { "i" };
        put(
            &mut h,
            "parts",
            format!("{style},{},{count},{remainder},{}", b.size, b.number),
        );
    } else if let Some(size) = msg.size {
        put(&mut h, "parts", format!("1,{size},1,0,0"));
    }
    let basename = msg.file_name();
    let sum = match msg.file_op.as_ref().map(|f| (f, f.kind())) {
        Some((f, FileOpKind::Link)) => {
            let target = f.link.clone().unwrap_or_default();
            let s = format!("L,{}", hex::encode(Sha512::digest(target.as_bytes())));
            put(&mut h, "link", target);
            s
        }
        Some((_, FileOpKind::Remove)) => {
            format!("R,{}", hex::encode(Sha512::digest(basename.as_bytes())))
        }
        Some((_, FileOpKind::Rmdir)) => {
            format!("r,{}", hex::encode(Sha512::digest(basename.as_bytes())))
        }
        Some((_, FileOpKind::Mkdir)) => {
            format!("m,{}", hex::encode(Sha512::digest(basename.as_bytes())))
        }
        Some((f, FileOpKind::Rename)) => {
            put(&mut h, "oldname", f.rename.clone().unwrap_or_default());
            if let Some(target) = &f.link {
                put(&mut h, "link", target.clone());
                format!("L,{}", hex::encode(Sha512::digest(target.as_bytes())))
            } else if f.directory.is_some() {
                format!("m,{}", hex::encode(Sha512::digest(basename.as_bytes())))
            } else {
                identity_sum(msg, basename)?
            }
        }
        _ => identity_sum(msg, basename)?,
    };
    put(&mut h, "sum", sum);
    for (k, v) in &msg.extra {
        if h.contains_key(k) {
            continue;
        }
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        put(&mut h, k, v);
    }
    for (k, v) in &h {
        if v.chars().count() >= MAX_HEADER_LEN {
            return Err(EncodeError::HeaderTooLong {
                name: k.clone(),
                len: v.chars().count(),
            });
        }
    }
    Ok((body, h))
}

fn identity_sum(msg: &Message, basename: &str) -> Result<String, EncodeError> {
    if let Some(Value::String(raw)) = msg.extra.get("sum") {
        return Ok(raw.clone());
    }
    let b64_to_hex = |v: &str| {
        B64.decode(v)
            .map(hex::encode)
            .map_err(|_| EncodeError::NotRepresentable("an identity value that is not base64"))
    };
    let Some(id) = &msg.identity else {
        return Ok(format!(
            "n,{}",
            hex::encode(Md5::digest(basename.as_bytes()))
        ));
    };
    Ok(match &id.method {
        IdentityMethod::Sha512 => format!("s,{}", b64_to_hex(&id.value)?),
        IdentityMethod::Md5 => format!("d,{}", b64_to_hex(&id.value)?),
        IdentityMethod::Cod => match id.value.as_str() {
            "sha512" => "z,s".to_string(),
            "md5" => "z,d".to_string(),
            _ => {
                return Err(EncodeError::NotRepresentable(
                    "a cod identity other than sha512 or md5",
                ));
            }
        },
        IdentityMethod::Random => format!("0,{}", id.value),
        IdentityMethod::Arbitrary => format!("a,{}", id.value),
        IdentityMethod::Md5Name => format!("n,{}", hex::encode(Md5::digest(basename.as_bytes()))),
        IdentityMethod::Other(m) if m == "link" => format!("L,{}", b64_to_hex(&id.value)?),
        IdentityMethod::Other(m) if m == "remove" => format!("R,{}", b64_to_hex(&id.value)?),
        IdentityMethod::Other(_) => format!("n,{}", hex::encode(Md5::digest(basename.as_bytes()))),
    })
}

fn escape(s: &str) -> String {
    s.replace(' ', "%20").replace('#', "%23")
}

fn unescape(s: &str) -> String {
    s.replace("%20", " ").replace("%23", "#")
}
