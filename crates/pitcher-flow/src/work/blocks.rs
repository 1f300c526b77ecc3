//! Partitioned files (`blocks`, reference §1.6 and §5.4): a big file announced as one message
//! per block, each with its own size and checksum and the manifest of all blocks.
//!
//! Receiving: each block is fetched with a byte range, checked against its own checksum and
//! written at its offset into a hidden work file `.<name>.blocks` beside the destination; a
//! small state file `.<name>.blocks.json` (updated under a lock on the work file, replaced
//! atomically) records which blocks of which version are in place. The instance that stores
//! the last block renames the work file to its final name, so a partial file never appears
//! under a final name, and forwards one message for the whole file (size, whole-file sha512, no
//! `blocks`) — what sr3's `block_reassembly` callback produces, built in. A block stored while
//! others are missing is acknowledged and not forwarded (report 206). Blocks can arrive in any
//! order, from several instances, and after a crash: what is stored stays stored.
//!
//! Posting: with `blockSize` N > 1 (0 = 50 MiB, as sr3) a file larger than N is announced as
//! ceil(size/N) block messages in sr3's v03 form (`"blocks": {"method": "inplace", "size": N,
//! "number": i, "manifest": {...}}`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pitcher_core::{BlockEntry, Blocks, ChecksumAlgorithm, ContentHasher, Identity, Message};
use pitcher_transfer::Fetcher;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::confine::Destination;
use super::download::{DownloadError, DownloadSettings};

/// sr3's block size for `blockSize 0`.
pub const DEFAULT_BLOCK_SIZE: u64 = 50 << 20;
/// Largest file assembled from blocks unless `fileSizeMax` says otherwise (1 TiB).
const MAX_TOTAL: u64 = 1 << 40;

/// Where one block goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlan {
    /// Block index (0-origin).
    pub index: u64,
    /// Number of blocks.
    pub count: u64,
    /// Byte offset in the file.
    pub offset: u64,
    /// This block's length.
    pub len: u64,
    /// The whole file's size.
    pub total: u64,
    /// What identifies this version of the file (block sizes and checksums).
    pub version: String,
}

/// Work out a block's place from its message; `Err` is a reason to reject it (400).
pub fn plan(m: &Message) -> Result<BlockPlan, String> {
    let b = m.blocks.as_ref().ok_or("no blocks field")?;
    if !matches!(b.method.as_str(), "inplace" | "partitioned") {
        return Err(format!("blocks method {:?} is not supported", b.method));
    }
    let index = b.number;
    let plan = if let Some(manifest) = &b.manifest {
        let count = manifest.len() as u64;
        if count == 0 || manifest.keys().copied().ne(0..count) {
            return Err("block manifest must list blocks 0..n without gaps".into());
        }
        let mut offset = 0u64;
        let mut total = 0u64;
        let mut version = String::new();
        for (i, e) in manifest {
            if *i < index {
                offset = offset.checked_add(e.size).ok_or("block sizes overflow")?;
            }
            total = total.checked_add(e.size).ok_or("block sizes overflow")?;
            version.push_str(&format!("{i}:{}:{};", e.size, e.identity));
        }
        let len = manifest
            .get(&index)
            .ok_or_else(|| format!("block {index} is not in the manifest of {count}"))?
            .size;
        BlockPlan {
            index,
            count,
            offset,
            len,
            total,
            version,
        }
    } else {
        // The C / v2 form: count and remainder.
        let count = b.count.ok_or("blocks without manifest nor count")?;
        let bsz = b.size;
        if count == 0 || bsz == 0 || index >= count {
            return Err(format!(
                "block {index} of {count} (size {bsz}) is impossible"
            ));
        }
        let rem = b.remainder.unwrap_or(0);
        let last = if rem > 0 { rem } else { bsz };
        let total = bsz
            .checked_mul(count - 1)
            .and_then(|t| t.checked_add(last))
            .ok_or("block sizes overflow")?;
        BlockPlan {
            index,
            count,
            offset: bsz * index,
            len: if index == count - 1 { last } else { bsz },
            total,
            version: format!(
                "{bsz}:{count}:{rem}:{}",
                m.mtime.as_ref().map(|t| t.to_string()).unwrap_or_default()
            ),
        }
    };
    if let Some(size) = m.size
        && size != plan.len
    {
        return Err(format!(
            "block {} announces size {size} but the manifest says {}",
            plan.index, plan.len
        ));
    }
    if plan.total > MAX_TOTAL {
        return Err(format!(
            "a file of {} bytes is too big to assemble",
            plan.total
        ));
    }
    Ok(plan)
}

/// What became of one block.
#[derive(Debug)]
pub enum BlockOutcome {
    /// Stored; others are still missing.
    Stored {
        /// Bytes fetched.
        bytes: u64,
        /// Blocks in place now.
        have: u64,
    },
    /// This was the last one: the whole file is in place.
    Complete {
        /// Bytes fetched for this block.
        bytes: u64,
        /// The whole file's sha512.
        identity: Identity,
    },
    /// Nothing to do (the file is already complete with this block in it).
    Skipped {
        /// Report code.
        code: u16,
        /// Reason.
        reason: String,
    },
}

#[derive(Debug, Serialize, Deserialize, Default)]
struct State {
    version: String,
    total: u64,
    count: u64,
    done: BTreeSet<u64>,
}

fn work_paths(d: &Destination) -> (PathBuf, PathBuf) {
    let dir = d.dir();
    (
        dir.join(format!(".{}.blocks", d.file)),
        dir.join(format!(".{}.blocks.json", d.file)),
    )
}

fn retry(what: &str, p: &Path, e: &std::io::Error) -> DownloadError {
    DownloadError::Retry(format!("{what} {}: {e}", p.display()))
}

fn read_state(p: &Path) -> Option<State> {
    let text = std::fs::read(p).ok()?;
    serde_json::from_slice(&text).ok()
}

fn write_state(p: &Path, s: &State) -> std::io::Result<()> {
    let tmp = p.with_extension("json.new");
    let text = serde_json::to_vec(s).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, p)
}

fn algorithm_of(m: &Message) -> Option<ChecksumAlgorithm> {
    m.identity.as_ref().and_then(Identity::checksum_algorithm)
}

/// Checksum of `len` bytes of `f` at `offset`.
fn hash_region(
    f: &mut File,
    offset: u64,
    len: u64,
    mut h: ContentHasher,
) -> std::io::Result<Identity> {
    f.seek(SeekFrom::Start(offset))?;
    let mut left = len;
    let mut buf = vec![0u8; 256 * 1024];
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shorter than its blocks",
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h.finalize())
}

/// Is this block already in the complete file at `path`?
fn already_in_place(path: &Path, m: &Message, p: &BlockPlan) -> bool {
    let (Some(alg), Some(id)) = (algorithm_of(m), m.identity.as_ref()) else {
        return false;
    };
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    if f.metadata().map(|x| x.len()).ok() != Some(p.total) {
        return false;
    }
    hash_region(&mut f, p.offset, p.len, alg.hasher()).is_ok_and(|h| h.value == id.value.trim())
}

/// Prepare the work file for this version: the state file is reset when the version changed.
fn prepare(work: &Path, state_path: &Path, p: &BlockPlan) -> std::io::Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(work)?;
    f.lock()?;
    let st = read_state(state_path);
    let fresh = st.as_ref().is_none_or(|s| s.version != p.version);
    if fresh {
        f.set_len(p.total)?;
        write_state(
            state_path,
            &State {
                version: p.version.clone(),
                total: p.total,
                count: p.count,
                done: BTreeSet::new(),
            },
        )?;
    } else if f.metadata()?.len() != p.total {
        f.set_len(p.total)?;
    }
    Ok(())
}

/// Record block `p.index` as stored; when it was the last one, finish the file: whole-file
/// checksum, mode and times, rename into place, state removed.
fn record(
    work: &Path,
    state_path: &Path,
    final_path: &Path,
    m: &Message,
    p: &BlockPlan,
    s: &DownloadSettings,
) -> Result<Option<Identity>, DownloadError> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(work)
        .map_err(|e| retry("cannot open", work, &e))?;
    f.lock().map_err(|e| retry("cannot lock", work, &e))?;
    let mut st = match read_state(state_path) {
        Some(st) if st.version == p.version => st,
        // Another version took over meanwhile: this block is obsolete.
        _ => {
            return Err(DownloadError::Retry(
                "the file changed while its blocks arrived".into(),
            ));
        }
    };
    st.done.insert(p.index);
    if (st.done.len() as u64) < st.count {
        write_state(state_path, &st).map_err(|e| retry("cannot write", state_path, &e))?;
        return Ok(None);
    }
    let identity = hash_region(&mut f, 0, p.total, ChecksumAlgorithm::Sha512.hasher())
        .map_err(|e| retry("cannot read", work, &e))?;
    f.flush().map_err(|e| retry("cannot write", work, &e))?;
    super::download::apply_mode_and_times(&f, m, s)
        .map_err(|e| retry("cannot set mode/times", work, &e))?;
    std::fs::rename(work, final_path).map_err(|e| retry("cannot rename into", final_path, &e))?;
    let _ = std::fs::remove_file(state_path);
    Ok(Some(identity))
}

/// The whole-file sha512 of a completed file (what the last block forwards).
pub async fn whole_file_identity(path: &Path) -> std::io::Result<Identity> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut f = File::open(&p)?;
        let len = f.metadata()?.len();
        hash_region(&mut f, 0, len, ChecksumAlgorithm::Sha512.hasher())
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Fetch one block from `url` and store it; see the module documentation.
pub async fn receive(
    fetcher: &Fetcher,
    url: &url::Url,
    m: &Message,
    d: &Destination,
    s: &DownloadSettings,
) -> Result<BlockOutcome, DownloadError> {
    let p = plan(m).map_err(|reason| DownloadError::Reject { code: 400, reason })?;
    if s.file_size_max > 0 && p.total > s.file_size_max {
        return Err(DownloadError::Reject {
            code: 413,
            reason: format!(
                "size {} larger than fileSizeMax {}",
                p.total, s.file_size_max
            ),
        });
    }
    let final_path = d.path();
    let (work, state_path) = work_paths(d);
    super::download::make_dirs(d, s.perm_dir_default)
        .map_err(|e| retry("cannot create", &d.dir(), &e))?;
    {
        let (fp, sp, mm, pp) = (final_path.clone(), state_path.clone(), m.clone(), p.clone());
        let done =
            tokio::task::spawn_blocking(move || !sp.exists() && already_in_place(&fp, &mm, &pp))
                .await
                .unwrap_or(false);
        if done {
            return Ok(BlockOutcome::Skipped {
                code: 304,
                reason: format!("block {} of {} already in place", p.index, p.count),
            });
        }
    }
    {
        let (w, sp, pp) = (work.clone(), state_path.clone(), p.clone());
        tokio::task::spawn_blocking(move || prepare(&w, &sp, &pp))
            .await
            .map_err(|e| DownloadError::Retry(format!("block task: {e}")))?
            .map_err(|e| retry("cannot prepare", &work, &e))?;
    }
    // Fetch the range and write it in place, hashing as it streams by.
    let mut dl = fetcher
        .open(url, p.offset, Some(p.offset + p.len.max(1) - 1))
        .await
        .map_err(|e| {
            if e.is_permanent() {
                DownloadError::Reject {
                    code: 410,
                    reason: e.to_string(),
                }
            } else {
                DownloadError::Retry(e.to_string())
            }
        })?;
    let mut skip = if dl.offset == p.offset { 0 } else { p.offset }; // range ignored
    let mut hasher = algorithm_of(m).map(ChecksumAlgorithm::hasher);
    let mut out = OpenOptions::new()
        .write(true)
        .open(&work)
        .map_err(|e| retry("cannot open", &work, &e))?;
    out.seek(SeekFrom::Start(p.offset))
        .map_err(|e| retry("cannot seek", &work, &e))?;
    let mut left = p.len;
    let mut buf = vec![0u8; 256 * 1024];
    while left > 0 {
        let n = dl
            .reader
            .read(&mut buf)
            .await
            .map_err(|e| DownloadError::Retry(format!("reading block {}: {e}", p.index)))?;
        if n == 0 {
            return Err(DownloadError::Retry(format!(
                "incomplete block {}: {} of {} bytes",
                p.index,
                p.len - left,
                p.len
            )));
        }
        let mut chunk = &buf[..n];
        if skip > 0 {
            let k = usize::try_from(skip.min(chunk.len() as u64)).unwrap_or(chunk.len());
            chunk = &chunk[k..];
            skip -= k as u64;
        }
        let take = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        let chunk = &chunk[..take];
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
        out.write_all(chunk)
            .map_err(|e| retry("cannot write", &work, &e))?;
        left -= take as u64;
    }
    drop(out);
    if let (Some(h), Some(id)) = (hasher, m.identity.as_ref()) {
        let got = h.finalize();
        if got.value != id.value.trim() {
            return Err(DownloadError::Retry(format!(
                "checksum mismatch for block {} of {}: announced {}, computed {}",
                p.index, m.rel_path, id.value, got.value
            )));
        }
    }
    let (w, sp, fp, mm, pp, ss) = (
        work.clone(),
        state_path.clone(),
        final_path.clone(),
        m.clone(),
        p.clone(),
        s.clone(),
    );
    let finished = tokio::task::spawn_blocking(move || record(&w, &sp, &fp, &mm, &pp, &ss))
        .await
        .map_err(|e| DownloadError::Retry(format!("block task: {e}")))??;
    Ok(match finished {
        Some(identity) => BlockOutcome::Complete {
            bytes: p.len,
            identity,
        },
        None => {
            let have = read_state(&state_path).map_or(0, |s| s.done.len() as u64);
            BlockOutcome::Stored { bytes: p.len, have }
        }
    })
}

/// The block messages for file `p` of `size` bytes in blocks of `block_size`, each a copy of
/// `template` (baseUrl, relPath, times, mode already set) with its size, checksum and the
/// manifest. `alg` is the checksum used (sr3 uses the poster's identity method).
pub fn block_messages(
    p: &Path,
    template: &Message,
    size: u64,
    block_size: u64,
    alg: ChecksumAlgorithm,
) -> std::io::Result<Vec<Message>> {
    let mut f = File::open(p)?;
    let mut manifest: BTreeMap<u64, BlockEntry> = BTreeMap::new();
    let count = size.div_ceil(block_size);
    for i in 0..count {
        let off = i * block_size;
        let len = block_size.min(size - off);
        let id = hash_region(&mut f, off, len, alg.hasher())?;
        manifest.insert(
            i,
            BlockEntry {
                size: len,
                identity: id.value,
            },
        );
    }
    let mut out = Vec::with_capacity(manifest.len());
    for (i, e) in &manifest {
        let mut m = template.clone();
        m.size = Some(e.size);
        m.identity = Some(Identity::new(alg.method(), e.identity.clone()));
        m.blocks = Some(Blocks {
            method: "inplace".into(),
            size: block_size,
            number: *i,
            count: None,
            remainder: None,
            manifest: Some(manifest.clone()),
            extra: Default::default(),
        });
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg_with(blocks: Blocks, size: Option<u64>) -> Message {
        let mut m = Message::new("http://x/", "a/big");
        m.size = size;
        m.blocks = Some(blocks);
        m
    }

    fn manifest(sizes: &[u64]) -> BTreeMap<u64, BlockEntry> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    i as u64,
                    BlockEntry {
                        size: *s,
                        identity: format!("id{i}"),
                    },
                )
            })
            .collect()
    }

    fn blocks(number: u64, man: Option<BTreeMap<u64, BlockEntry>>) -> Blocks {
        Blocks {
            method: "inplace".into(),
            size: 100,
            number,
            count: None,
            remainder: None,
            manifest: man,
            extra: Default::default(),
        }
    }

    #[test]
    fn offsets_come_from_the_manifest() {
        let p = plan(&msg_with(
            blocks(2, Some(manifest(&[100, 100, 50]))),
            Some(50),
        ))
        .unwrap();
        assert_eq!((p.offset, p.len, p.total, p.count), (200, 50, 250, 3));
    }

    #[test]
    fn the_c_form_uses_count_and_remainder() {
        let mut b = blocks(3, None);
        b.count = Some(4);
        b.remainder = Some(7);
        let p = plan(&msg_with(b, None)).unwrap();
        assert_eq!((p.offset, p.len, p.total), (300, 7, 307));
    }

    #[test]
    fn impossible_blocks_are_refused() {
        // a gap in the manifest
        let mut man = manifest(&[100, 100]);
        let e = man.remove(&1).unwrap();
        man.insert(5, e);
        assert!(plan(&msg_with(blocks(0, Some(man)), None)).is_err());
        // number beyond the manifest
        assert!(plan(&msg_with(blocks(9, Some(manifest(&[100]))), None)).is_err());
        // size disagreeing with the manifest
        assert!(plan(&msg_with(blocks(0, Some(manifest(&[100]))), Some(99))).is_err());
        // sizes that overflow
        assert!(plan(&msg_with(blocks(1, Some(manifest(&[u64::MAX, 5]))), None)).is_err());
        // unknown method
        let mut b = blocks(0, Some(manifest(&[1])));
        b.method = "weird".into();
        assert!(plan(&msg_with(b, None)).is_err());
        // count form with index past the end
        let mut b = blocks(4, None);
        b.count = Some(4);
        assert!(plan(&msg_with(b, None)).is_err());
    }

    #[test]
    fn block_messages_cover_the_file_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let t = Message::new("http://x/", "f");
        let msgs = block_messages(&p, &t, 1000, 300, ChecksumAlgorithm::Sha512).unwrap();
        assert_eq!(msgs.len(), 4);
        let mut off = 0;
        for (i, m) in msgs.iter().enumerate() {
            let pl = plan(m).unwrap();
            assert_eq!(pl.index, i as u64);
            assert_eq!(pl.offset, off);
            assert_eq!(pl.total, 1000);
            let mut h = ChecksumAlgorithm::Sha512.hasher();
            h.update(&data[off as usize..(off + pl.len) as usize]);
            assert_eq!(m.identity.as_ref().unwrap().value, h.finalize().value);
            off += pl.len;
        }
        assert_eq!(off, 1000);
    }
}
