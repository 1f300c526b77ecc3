//! The done-log: which entries are finished. `"PTDONE01"`, then 12-byte records:
//! sequence number (u64 LE) and the CRC-32 of those 8 bytes (u32 LE).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::crc::crc32;
use crate::error::{StateError, io_err};
use crate::fsutil::replace_file;

pub(crate) const DONE_MAGIC: &[u8; 8] = b"PTDONE01";
const REC: usize = 12;

fn encode(seq: u64, out: &mut Vec<u8>) {
    let b = seq.to_le_bytes();
    out.extend_from_slice(&b);
    out.extend_from_slice(&crc32(&b).to_le_bytes());
}

/// Reads a done-log leniently: damaged records and a torn tail are skipped with a warning, a
/// missing file is an empty log. Returns the finished sequence numbers and the largest one.
pub(crate) fn read_done(path: &Path) -> Result<(HashSet<u64>, u64), StateError> {
    let mut data = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut data).map_err(io_err("read", path))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((HashSet::new(), 0)),
        Err(e) => return Err(io_err("open", path)(e)),
    }
    let mut set = HashSet::new();
    let mut max = 0;
    if data.is_empty() {
        return Ok((set, max));
    }
    if data.len() < DONE_MAGIC.len() || &data[..DONE_MAGIC.len()] != DONE_MAGIC {
        warn!(
            "retry spool done-log {} is not readable (bad header): finished entries may be \
             handed out again",
            path.display()
        );
        return Ok((set, max));
    }
    let body = &data[DONE_MAGIC.len()..];
    let mut bad = 0usize;
    let chunks = body.chunks_exact(REC);
    if !chunks.remainder().is_empty() {
        warn!(
            "retry spool done-log {}: incomplete last record (interrupted write) skipped",
            path.display()
        );
    }
    for c in chunks {
        let (s, k) = c.split_at(8);
        let mut sb = [0u8; 8];
        sb.copy_from_slice(s);
        let mut kb = [0u8; 4];
        kb.copy_from_slice(k);
        if crc32(&sb) != u32::from_le_bytes(kb) {
            bad += 1;
            continue;
        }
        let seq = u64::from_le_bytes(sb);
        max = max.max(seq);
        set.insert(seq);
    }
    if bad > 0 {
        warn!(
            "retry spool done-log {}: {bad} damaged record(s) skipped: those entries may be \
             handed out again",
            path.display()
        );
    }
    Ok((set, max))
}

/// The open done-log, appended to by `Spool::done`.
pub(crate) struct DoneLog {
    path: PathBuf,
    file: File,
    records: u64,
    /// An append failed and could not be undone: the file must be rewritten before more appends.
    pub(crate) broken: bool,
}

impl DoneLog {
    /// Replaces the log atomically with exactly `seqs`, then opens it for appending.
    pub(crate) fn rewrite(path: &Path, seqs: &[u64]) -> Result<Self, StateError> {
        let mut buf = Vec::with_capacity(DONE_MAGIC.len() + REC * seqs.len());
        buf.extend_from_slice(DONE_MAGIC);
        for &s in seqs {
            encode(s, &mut buf);
        }
        replace_file(path, |w| w.write_all(&buf))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_err("open for appending", path))?;
        Ok(DoneLog {
            path: path.to_path_buf(),
            file,
            records: seqs.len() as u64,
            broken: false,
        })
    }

    /// Appends `seqs` in one write (not fsynced: a lost record only means a duplicate later).
    pub(crate) fn append(&mut self, seqs: &[u64]) -> Result<(), StateError> {
        let mut buf = Vec::with_capacity(REC * seqs.len());
        for &s in seqs {
            encode(s, &mut buf);
        }
        if let Err(e) = self.file.write_all(&buf) {
            // Keep the 12-byte alignment: cut whatever part was written.
            if self.file.set_len(self.bytes()).is_err() {
                self.broken = true;
            }
            return Err(io_err("append to", &self.path)(e));
        }
        self.records += seqs.len() as u64;
        Ok(())
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn bytes(&self) -> u64 {
        DONE_MAGIC.len() as u64 + REC as u64 * self.records
    }
}
