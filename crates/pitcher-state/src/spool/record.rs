//! Segment files: a file header, then length-prefixed, checksummed records.
//!
//! ```text
//! file header  8 bytes  "PTSPOOL1"
//! record       48-byte header, then the payload:
//!   0   4  magic "PREC"
//!   4   4  payload length (u32 LE)
//!   8   8  sequence number = entry id (u64 LE)
//!   16  4  attempts (u32 LE)
//!   20  4  reserved, 0
//!   24  8  first_queued, Unix seconds (f64 LE)
//!   32  8  due, Unix seconds (f64 LE)
//!   40  4  CRC-32 of the payload
//!   44  4  CRC-32 of header bytes 0..44
//!   48  ..  payload
//! ```
//! The header checksum makes the length trustworthy before the payload is read; a record whose
//! header is damaged is skipped by searching for the next `PREC` whose header checksum is right.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::crc::{Crc32, crc32};

pub(crate) const SEG_MAGIC: &[u8; 8] = b"PTSPOOL1";
pub(crate) const REC_MAGIC: &[u8; 4] = b"PREC";
pub(crate) const HEADER_LEN: usize = 48;
/// The largest payload a record may hold.
pub const MAX_PAYLOAD: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RecHeader {
    pub len: u32,
    pub seq: u64,
    pub attempts: u32,
    pub first_queued: f64,
    pub due: f64,
    pub payload_crc: u32,
}

impl RecHeader {
    pub(crate) fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.len)
    }

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(REC_MAGIC);
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..16].copy_from_slice(&self.seq.to_le_bytes());
        b[16..20].copy_from_slice(&self.attempts.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_queued.to_le_bytes());
        b[32..40].copy_from_slice(&self.due.to_le_bytes());
        b[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        let c = crc32(&b[0..44]);
        b[44..48].copy_from_slice(&c.to_le_bytes());
        b
    }

    /// `None` unless the magic and the header checksum are right and the length is allowed.
    pub(crate) fn decode(b: &[u8; HEADER_LEN]) -> Option<Self> {
        if &b[0..4] != REC_MAGIC || crc32(&b[0..44]) != le_u32(&b[44..48]) {
            return None;
        }
        let h = RecHeader {
            len: le_u32(&b[4..8]),
            seq: le_u64(&b[8..16]),
            attempts: le_u32(&b[16..20]),
            first_queued: f64::from_le_bytes(b[24..32].try_into().ok()?),
            due: f64::from_le_bytes(b[32..40].try_into().ok()?),
            payload_crc: le_u32(&b[40..44]),
        };
        (h.len as usize <= MAX_PAYLOAD).then_some(h)
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Appends one record to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    seq: u64,
    attempts: u32,
    first_queued: f64,
    due: f64,
    payload: &[u8],
) {
    let h = RecHeader {
        len: payload.len() as u32,
        seq,
        attempts,
        first_queued,
        due,
        payload_crc: crc32(payload),
    };
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(payload);
}

/// What a scan of one segment found besides its records.
#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    pub file_len: u64,
    /// The file does not start with the segment magic: not read at all.
    pub bad_magic: bool,
    /// Damaged regions skipped (each resynchronised on the next valid header).
    pub corrupt: usize,
    /// The file ends inside a record (an interrupted append): offset of that record.
    pub torn_at: Option<u64>,
}

/// Reads the record headers of a segment file (payloads are skipped, not verified), calling
/// `f(offset, header)` for each valid one in file order.
pub(crate) fn scan_segment(
    path: &Path,
    mut f: impl FnMut(u64, &RecHeader),
) -> io::Result<ScanResult> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut res = ScanResult {
        file_len,
        ..Default::default()
    };
    if file_len < SEG_MAGIC.len() as u64 {
        if file_len > 0 {
            res.torn_at = Some(0);
        }
        return Ok(res);
    }
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != SEG_MAGIC {
        res.bad_magic = true;
        return Ok(res);
    }
    let mut pos = SEG_MAGIC.len() as u64;
    let mut hdr = [0u8; HEADER_LEN];
    while pos < file_len {
        if file_len - pos < HEADER_LEN as u64 {
            res.torn_at = Some(pos);
            break;
        }
        r.read_exact(&mut hdr)?;
        match RecHeader::decode(&hdr) {
            Some(h) if pos + h.record_len() <= file_len => {
                f(pos, &h);
                r.seek_relative(i64::from(h.len))?;
                pos += h.record_len();
            }
            Some(_) => {
                res.torn_at = Some(pos);
                break;
            }
            None => {
                res.corrupt += 1;
                match find_magic(&mut r, pos + 1)? {
                    Some(p) => {
                        r.seek(SeekFrom::Start(p))?;
                        pos = p;
                    }
                    None => break,
                }
            }
        }
    }
    Ok(res)
}

/// The offset of the next `PREC` at or after `from`, if any.
fn find_magic(r: &mut BufReader<File>, from: u64) -> io::Result<Option<u64>> {
    r.seek(SeekFrom::Start(from))?;
    let mut window: Vec<u8> = Vec::with_capacity(64 * 1024 + 3);
    let mut window_start = from;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        window.extend_from_slice(&buf[..n]);
        if let Some(i) = window.windows(REC_MAGIC.len()).position(|w| w == REC_MAGIC) {
            return Ok(Some(window_start + i as u64));
        }
        let keep = REC_MAGIC.len() - 1;
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
        window_start += drop as u64;
    }
}

/// Reads and verifies the record of `seq` at `offset`; `Ok(Err(reason))` when it is damaged.
pub(crate) fn read_record(
    file: &mut File,
    offset: u64,
    seq: u64,
    len: u32,
) -> io::Result<Result<Vec<u8>, String>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut hdr = [0u8; HEADER_LEN];
    if let Err(e) = file.read_exact(&mut hdr) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(Err("file shorter than its index says".into()))
        } else {
            Err(e)
        };
    }
    let Some(h) = RecHeader::decode(&hdr) else {
        return Ok(Err("record header checksum mismatch".into()));
    };
    if h.seq != seq || h.len != len {
        return Ok(Err(format!(
            "record header says entry {} of {} bytes, expected entry {seq} of {len} bytes",
            h.seq, h.len
        )));
    }
    let mut payload = vec![0u8; len as usize];
    if let Err(e) = file.read_exact(&mut payload) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(Err("payload cut short".into()))
        } else {
            Err(e)
        };
    }
    let mut c = Crc32::new();
    c.update(&payload);
    if c.finish() != h.payload_crc {
        return Ok(Err("payload checksum mismatch".into()));
    }
    Ok(Ok(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = RecHeader {
            len: 5,
            seq: 42,
            attempts: 3,
            first_queued: 1.5,
            due: 2.5,
            payload_crc: crc32(b"hello"),
        };
        let b = h.encode();
        assert_eq!(RecHeader::decode(&b), Some(h));
        for i in 0..HEADER_LEN {
            let mut d = b;
            d[i] ^= 0x10;
            assert_eq!(RecHeader::decode(&d), None, "byte {i}");
        }
    }
}
