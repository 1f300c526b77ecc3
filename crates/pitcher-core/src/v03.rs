//! The v03 wire format: one JSON object per message, content type `application/json`.
//!
//! Decoding is lenient where sr3 and its C sibling differ (numbers as strings, old field names
//! `integrity`/`retPath`, any spacing, any time-fraction spelling) and strict about types
//! otherwise: a field of the wrong type is a [`DecodeError`], never a panic and never a guess.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::format::{DecodeLimits, Format, body_text};
use crate::identity::{Identity, IdentityMethod};
use crate::json_style::to_python_json;
use crate::message::{BlockEntry, Blocks, Content, FileOp, LocalFields, Message, Mode, Report};
use crate::time::Timestamp;

/// Field codes recorded in [`LocalFields::field_order`]; `EXTRA` stands for the next unknown field.
mod field {
    pub const PUB_TIME: u8 = 0;
    pub const BASE_URL: u8 = 1;
    pub const REL_PATH: u8 = 2;
    pub const RETRIEVE_PATH: u8 = 3;
    pub const IDENTITY: u8 = 4;
    pub const FILE_OP: u8 = 5;
    pub const SIZE: u8 = 6;
    pub const BLOCKS: u8 = 7;
    pub const MTIME: u8 = 8;
    pub const ATIME: u8 = 9;
    pub const MODE: u8 = 10;
    pub const CONTENT_TYPE: u8 = 11;
    pub const CONTENT: u8 = 12;
    pub const SOURCE: u8 = 13;
    pub const FROM_CLUSTER: u8 = 14;
    pub const TO_CLUSTERS: u8 = 15;
    pub const RENAME: u8 = 16;
    pub const REPORT: u8 = 17;
    pub const EXTRA: u8 = 255;
    /// Order used for fields not seen on receive (messages Pitcher creates): sr3's poster order.
    pub const DEFAULT_ORDER: [u8; 18] = [
        BLOCKS,
        PUB_TIME,
        REL_PATH,
        BASE_URL,
        RETRIEVE_PATH,
        SOURCE,
        FROM_CLUSTER,
        TO_CLUSTERS,
        MODE,
        SIZE,
        MTIME,
        ATIME,
        IDENTITY,
        FILE_OP,
        CONTENT_TYPE,
        CONTENT,
        RENAME,
        REPORT,
    ];
}

/// Decodes a v03 body with the default limits.
pub fn decode(body: &[u8]) -> Result<Message, DecodeError> {
    decode_with(body, DecodeLimits::default())
}

/// Decodes a v03 body.
pub fn decode_with(body: &[u8], limits: DecodeLimits) -> Result<Message, DecodeError> {
    let text = body_text(body, limits)?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(DecodeError::NotAnObject);
    };
    from_object(obj)
}

/// Builds a message from an already-parsed v03 JSON object.
pub fn from_object(obj: Map<String, Value>) -> Result<Message, DecodeError> {
    let mut pub_time = None;
    let mut base_url = None;
    let mut rel_path = None;
    let mut msg = Message::new("", "");
    let mut order = Vec::with_capacity(obj.len());
    for (key, value) in obj {
        let code = match key.as_str() {
            "pubTime" => {
                pub_time = Some(time(&key, &value)?);
                field::PUB_TIME
            }
            "baseUrl" => {
                base_url = Some(string(&key, value)?);
                field::BASE_URL
            }
            "relPath" => {
                rel_path = Some(string(&key, value)?);
                field::REL_PATH
            }
            "retrievePath" | "retPath" => {
                msg.retrieve_path = Some(string(&key, value)?);
                field::RETRIEVE_PATH
            }
            "identity" | "integrity" => {
                msg.identity = Some(identity(&key, value)?);
                field::IDENTITY
            }
            "fileOp" => {
                msg.file_op = Some(file_op(value)?);
                field::FILE_OP
            }
            "size" => {
                msg.size = Some(count(&key, &value)?);
                field::SIZE
            }
            "blocks" => {
                msg.blocks = Some(blocks(value)?);
                field::BLOCKS
            }
            "mtime" => {
                msg.mtime = Some(time(&key, &value)?);
                field::MTIME
            }
            "atime" => {
                msg.atime = Some(time(&key, &value)?);
                field::ATIME
            }
            "mode" => {
                let s = string(&key, value)?;
                msg.mode = Some(Mode::parse(&s).ok_or_else(|| {
                    DecodeError::bad_value(
                        "mode",
                        &s,
                        "expected octal permission bits like \"644\"",
                    )
                })?);
                field::MODE
            }
            "contentType" => {
                msg.content_type = Some(string(&key, value)?);
                field::CONTENT_TYPE
            }
            "content" => {
                msg.content = Some(content(value)?);
                field::CONTENT
            }
            "source" => {
                msg.source = Some(string(&key, value)?);
                field::SOURCE
            }
            "from_cluster" => {
                msg.from_cluster = Some(string(&key, value)?);
                field::FROM_CLUSTER
            }
            "to_clusters" => {
                msg.to_clusters = Some(string(&key, value)?);
                field::TO_CLUSTERS
            }
            "rename" => {
                msg.rename = Some(string(&key, value)?);
                field::RENAME
            }
            "report" => {
                msg.report = Some(report(value)?);
                field::REPORT
            }
            _ => {
                msg.extra.insert(key, value);
                field::EXTRA
            }
        };
        // `identity` and `integrity` (or `retrievePath` and `retPath`) both present: one field.
        if code == field::EXTRA || !order.contains(&code) {
            order.push(code);
        }
    }
    msg.pub_time = pub_time.ok_or(DecodeError::Missing("pubTime"))?;
    msg.base_url = base_url.ok_or(DecodeError::Missing("baseUrl"))?;
    msg.rel_path = rel_path.ok_or(DecodeError::Missing("relPath"))?;
    msg.local = LocalFields {
        format: Some(Format::V03),
        field_order: order,
        ..LocalFields::default()
    };
    Ok(msg)
}

/// Encodes a message as a v03 body, in Python `json.dumps` style, keeping the received field order.
pub fn encode(msg: &Message) -> String {
    to_python_json(&Body(msg))
}

/// Encodes a message as a v03 JSON value (e.g. for reports or WIS2 wrapping).
pub fn to_value(msg: &Message) -> Value {
    serde_json::to_value(Body(msg)).unwrap_or(Value::Null)
}

struct Body<'a>(&'a Message);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = s.serialize_map(None)?;
        let mut done = [false; 18];
        let mut extras = m.extra.iter();
        for &code in &m.local.field_order {
            if code == field::EXTRA {
                if let Some((k, v)) = extras.next() {
                    map.serialize_entry(k, v)?;
                }
            } else if let Some(slot) = done.get_mut(code as usize)
                && !*slot
            {
                *slot = true;
                write_field(&mut map, m, code)?;
            }
        }
        for code in field::DEFAULT_ORDER {
            if !done[code as usize] {
                write_field(&mut map, m, code)?;
            }
        }
        for (k, v) in extras {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn write_field<M: SerializeMap>(map: &mut M, m: &Message, code: u8) -> Result<(), M::Error> {
    match code {
        field::PUB_TIME => map.serialize_entry("pubTime", &m.pub_time.to_v03_string()),
        field::BASE_URL => map.serialize_entry("baseUrl", &m.base_url),
        field::REL_PATH => map.serialize_entry("relPath", &m.rel_path),
        field::RETRIEVE_PATH => opt(map, "retrievePath", m.retrieve_path.as_ref()),
        field::IDENTITY => match &m.identity {
            Some(i) => map.serialize_entry("identity", &IdentityBody(i)),
            None => Ok(()),
        },
        field::FILE_OP => match &m.file_op {
            Some(f) => map.serialize_entry("fileOp", &FileOpBody(f)),
            None => Ok(()),
        },
        field::SIZE => opt(map, "size", m.size.as_ref()),
        field::BLOCKS => match &m.blocks {
            Some(b) => map.serialize_entry("blocks", &BlocksBody(b)),
            None => Ok(()),
        },
        field::MTIME => opt(
            map,
            "mtime",
            m.mtime.as_ref().map(Timestamp::to_v03_string).as_ref(),
        ),
        field::ATIME => opt(
            map,
            "atime",
            m.atime.as_ref().map(Timestamp::to_v03_string).as_ref(),
        ),
        field::MODE => opt(map, "mode", m.mode.map(|x| x.to_string()).as_ref()),
        field::CONTENT_TYPE => opt(map, "contentType", m.content_type.as_ref()),
        field::CONTENT => match &m.content {
            Some(c) => map.serialize_entry("content", &ContentBody(c)),
            None => Ok(()),
        },
        field::SOURCE => opt(map, "source", m.source.as_ref()),
        field::FROM_CLUSTER => opt(map, "from_cluster", m.from_cluster.as_ref()),
        field::TO_CLUSTERS => opt(map, "to_clusters", m.to_clusters.as_ref()),
        field::RENAME => opt(map, "rename", m.rename.as_ref()),
        field::REPORT => match &m.report {
            Some(r) => map.serialize_entry("report", &ReportBody(r)),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn opt<M: SerializeMap, T: Serialize>(
    map: &mut M,
    key: &str,
    v: Option<&T>,
) -> Result<(), M::Error> {
    match v {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

struct IdentityBody<'a>(&'a Identity);
impl Serialize for IdentityBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("method", self.0.method.as_str())?;
        map.serialize_entry("value", &self.0.value)?;
        map.end()
    }
}

struct FileOpBody<'a>(&'a FileOp);
impl Serialize for FileOpBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut map = s.serialize_map(None)?;
        opt(&mut map, "rename", f.rename.as_ref())?;
        opt(&mut map, "link", f.link.as_ref())?;
        opt(&mut map, "hlink", f.hlink.as_ref())?;
        opt(&mut map, "directory", f.directory.as_ref())?;
        opt(&mut map, "remove", f.remove.as_ref())?;
        for (k, v) in &f.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct BlocksBody<'a>(&'a Blocks);
impl Serialize for BlocksBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("method", &b.method)?;
        map.serialize_entry("size", &b.size)?;
        opt(&mut map, "count", b.count.as_ref())?;
        opt(&mut map, "remainder", b.remainder.as_ref())?;
        map.serialize_entry("number", &b.number)?;
        if let Some(manifest) = &b.manifest {
            map.serialize_entry("manifest", &ManifestBody(manifest))?;
        }
        for (k, v) in &b.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct ManifestBody<'a>(&'a BTreeMap<u64, BlockEntry>);
impl Serialize for ManifestBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, e) in self.0 {
            map.serialize_entry(&n.to_string(), &BlockEntryBody(e))?;
        }
        map.end()
    }
}

struct BlockEntryBody<'a>(&'a BlockEntry);
impl Serialize for BlockEntryBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("size", &self.0.size)?;
        map.serialize_entry("identity", &self.0.identity)?;
        map.end()
    }
}

struct ContentBody<'a>(&'a Content);
impl Serialize for ContentBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("encoding", &self.0.encoding)?;
        map.serialize_entry("value", &self.0.value)?;
        map.end()
    }
}

struct ReportBody<'a>(&'a Report);
impl Serialize for ReportBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("code", &r.code)?;
        opt(
            &mut map,
            "timeCompleted",
            r.time_completed
                .as_ref()
                .map(Timestamp::to_v03_string)
                .as_ref(),
        )?;
        opt(&mut map, "message", r.message.as_ref())?;
        for (k, v) in &r.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

// ---- lenient field readers ----

fn string(field: &str, v: Value) -> Result<String, DecodeError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(DecodeError::wrong_type(field, "a string")),
    }
}

fn time(field: &str, v: &Value) -> Result<Timestamp, DecodeError> {
    match v {
        Value::String(s) => Timestamp::parse(s).map_err(|source| DecodeError::BadTime {
            field: field.to_string(),
            source,
        }),
        _ => Err(DecodeError::wrong_type(field, "a time string")),
    }
}

/// A non-negative integer, given as a JSON number or (C implementation) a string of digits.
pub(crate) fn count(field: &str, v: &Value) -> Result<u64, DecodeError> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(u)
            } else if let Some(f) = n
                .as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            {
                Ok(f as u64)
            } else {
                Err(DecodeError::bad_value(
                    field,
                    &n.to_string(),
                    "expected a non-negative integer",
                ))
            }
        }
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| DecodeError::bad_value(field, s, "expected a non-negative integer")),
        _ => Err(DecodeError::wrong_type(field, "a non-negative integer")),
    }
}

fn object(field: &str, v: Value) -> Result<Map<String, Value>, DecodeError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(DecodeError::wrong_type(field, "an object")),
    }
}

fn identity(field: &str, v: Value) -> Result<Identity, DecodeError> {
    let mut m = object(field, v)?;
    let method = match m.shift_remove("method") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(DecodeError::wrong_type("identity.method", "a string")),
        None => return Err(DecodeError::Missing("identity.method")),
    };
    let value = match m.shift_remove("value") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(DecodeError::wrong_type("identity.value", "a string")),
        None => String::new(),
    };
    Ok(Identity::new(IdentityMethod::from_wire(&method), value))
}

fn file_op(v: Value) -> Result<FileOp, DecodeError> {
    let m = object("fileOp", v)?;
    let mut f = FileOp::default();
    for (k, v) in m {
        let slot = match k.as_str() {
            "link" => &mut f.link,
            "hlink" => &mut f.hlink,
            "rename" => &mut f.rename,
            "remove" => &mut f.remove,
            "directory" => &mut f.directory,
            _ => {
                f.extra.insert(k, v);
                continue;
            }
        };
        *slot = Some(match v {
            Value::String(s) => s,
            _ => return Err(DecodeError::wrong_type(&format!("fileOp.{k}"), "a string")),
        });
    }
    Ok(f)
}

fn blocks(v: Value) -> Result<Blocks, DecodeError> {
    let m = object("blocks", v)?;
    let mut method = None;
    let mut size = None;
    let mut number = None;
    let mut b = Blocks {
        method: String::new(),
        size: 0,
        number: 0,
        count: None,
        remainder: None,
        manifest: None,
        extra: Map::new(),
    };
    for (k, v) in m {
        match k.as_str() {
            "method" => method = Some(string("blocks.method", v)?),
            "size" => size = Some(count("blocks.size", &v)?),
            "number" => number = Some(count("blocks.number", &v)?),
            "count" => b.count = Some(count("blocks.count", &v)?),
            "remainder" => b.remainder = Some(count("blocks.remainder", &v)?),
            "manifest" => {
                let mut out = BTreeMap::new();
                for (n, e) in object("blocks.manifest", v)? {
                    let idx = n.trim().parse::<u64>().map_err(|_| {
                        DecodeError::bad_value(
                            "blocks.manifest",
                            &n,
                            "block numbers must be integers",
                        )
                    })?;
                    let mut e = object("blocks.manifest entry", e)?;
                    let size = count(
                        "blocks.manifest.size",
                        e.get("size").unwrap_or(&Value::Null),
                    )?;
                    let identity = match e.shift_remove("identity") {
                        Some(Value::String(s)) => s,
                        None => String::new(),
                        Some(_) => {
                            return Err(DecodeError::wrong_type(
                                "blocks.manifest.identity",
                                "a string",
                            ));
                        }
                    };
                    out.insert(idx, BlockEntry { size, identity });
                }
                b.manifest = Some(out);
            }
            _ => {
                b.extra.insert(k, v);
            }
        }
    }
    b.method = method.ok_or(DecodeError::Missing("blocks.method"))?;
    b.size = size.ok_or(DecodeError::Missing("blocks.size"))?;
    b.number = number.ok_or(DecodeError::Missing("blocks.number"))?;
    Ok(b)
}

fn content(v: Value) -> Result<Content, DecodeError> {
    let mut m = object("content", v)?;
    let encoding = match m.shift_remove("encoding") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(DecodeError::wrong_type("content.encoding", "a string")),
        None => return Err(DecodeError::Missing("content.encoding")),
    };
    let value = match m.shift_remove("value") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(DecodeError::wrong_type("content.value", "a string")),
        None => return Err(DecodeError::Missing("content.value")),
    };
    Ok(Content { encoding, value })
}

fn report(v: Value) -> Result<Report, DecodeError> {
    let m = object("report", v)?;
    let mut r = Report {
        code: 0,
        time_completed: None,
        message: None,
        extra: Map::new(),
    };
    let mut code = None;
    for (k, v) in m {
        match k.as_str() {
            "code" => {
                code = Some(match &v {
                    Value::Number(n) => n.as_i64().ok_or_else(|| {
                        DecodeError::bad_value("report.code", &n.to_string(), "expected an integer")
                    })?,
                    Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
                        DecodeError::bad_value("report.code", s, "expected an integer")
                    })?,
                    _ => return Err(DecodeError::wrong_type("report.code", "an integer")),
                })
            }
            "timeCompleted" => r.time_completed = Some(time("report.timeCompleted", &v)?),
            "message" => r.message = Some(string("report.message", v)?),
            _ => {
                r.extra.insert(k, v);
            }
        }
    }
    r.code = code.ok_or(DecodeError::Missing("report.code"))?;
    Ok(r)
}
