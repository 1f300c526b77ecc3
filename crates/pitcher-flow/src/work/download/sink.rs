//! Where a download's bytes go: the inflight file and the checksum being computed.
//!
//! sha512 runs at about the loopback network rate on one core (~0.5 GB/s on the 2-core bench
//! machine, bench/RESULTS.md), so hashing in line with the network read and the write makes the
//! hash the whole cost of a big download. Once a download has filled one [`CHUNK`], its chunks
//! are therefore hashed by a blocking task fed through a bounded channel ([`DEPTH`] chunks, so at
//! most a few MiB per download are in memory), while the caller goes on reading the network and
//! writing the file: read, write and hash overlap. The write stays with the caller: it has the
//! chunk in its cache, and a third task per download cost more CPU than it saved (measured). A
//! smaller download (the common case of many small files) is hashed in place, with no task
//! hand-over at all.
//!
//! Verification is unchanged: [`Sink::finish`] returns the hasher only after every byte was
//! written and hashed, and the caller compares before renaming into place.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use pitcher_core::ContentHasher;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes per hand-over; a download that fills one chunk is hashed on its own task.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Chunks queued for the hasher before the network read waits (back-pressure).
const DEPTH: usize = 8;

type Chunk = Arc<Vec<u8>>;

/// The inflight file and its hasher.
pub(crate) struct Sink {
    file: File,
    hash: Hash,
}

enum Hash {
    None,
    Inline(ContentHasher),
    Task {
        tx: mpsc::Sender<Chunk>,
        task: JoinHandle<ContentHasher>,
    },
}

impl Sink {
    /// Write to `file` from its current position; feed `hasher` (already fed with any prefix).
    pub(crate) fn new(file: File, hasher: Option<ContentHasher>) -> Self {
        Sink {
            file,
            hash: hasher.map_or(Hash::None, Hash::Inline),
        }
    }

    /// Take the next bytes. A full [`CHUNK`] moves the hashing to its own task.
    pub(crate) async fn push(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        if chunk.len() >= CHUNK
            && let Hash::Inline(_) = &self.hash
            && let Hash::Inline(mut h) = std::mem::replace(&mut self.hash, Hash::None)
        {
            let (tx, mut rx) = mpsc::channel::<Chunk>(DEPTH);
            let task = tokio::task::spawn_blocking(move || {
                while let Some(c) = rx.blocking_recv() {
                    h.update(&c);
                }
                h
            });
            self.hash = Hash::Task { tx, task };
        }
        match &mut self.hash {
            Hash::None => self.file.write_all(&chunk),
            Hash::Inline(h) => {
                h.update(&chunk);
                self.file.write_all(&chunk)
            }
            Hash::Task { tx, .. } => {
                let chunk = Arc::new(chunk);
                // Queue for the hasher first, so that it works while this writes. It only stops
                // when its sender is dropped: a send error means it panicked, which `finish`
                // reports.
                let _ = tx.send(Arc::clone(&chunk)).await;
                self.file.write_all(&chunk)
            }
        }
    }

    /// Everything pushed is written and hashed: the hasher (when there is one) to finalize.
    pub(crate) async fn finish(self) -> std::io::Result<Option<ContentHasher>> {
        match self.hash {
            Hash::None => Ok(None),
            Hash::Inline(h) => Ok(Some(h)),
            Hash::Task { tx, task } => {
                drop(tx);
                task.await
                    .map(Some)
                    .map_err(|e| std::io::Error::other(format!("hash task: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitcher_core::ChecksumAlgorithm;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    async fn through_sink(sizes: &[usize]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        let all = data(sizes.iter().sum());
        let mut sink = Sink::new(
            File::create(&p).expect("create"),
            Some(ChecksumAlgorithm::Sha512.hasher()),
        );
        let mut at = 0;
        for &n in sizes {
            sink.push(all[at..at + n].to_vec()).await.expect("push");
            at += n;
        }
        let h = sink.finish().await.expect("finish").expect("hasher");
        let mut expected = ChecksumAlgorithm::Sha512.hasher();
        expected.update(&all);
        assert_eq!(h.finalize().value, expected.finalize().value);
        assert!(
            std::fs::read(&p).expect("read") == all,
            "file content differs"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_pieces_stay_inline_and_verify() {
        through_sink(&[10, 1000, 0, 77]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn big_downloads_go_through_the_tasks_and_verify() {
        through_sink(&[100, CHUNK, CHUNK, 5, CHUNK * 3, 1]).await;
        let many = vec![CHUNK; DEPTH * 3];
        through_sink(&many).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_is_reported() {
        // /dev/full fails every write with ENOSPC.
        let Ok(f) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let mut sink = Sink::new(f, Some(ChecksumAlgorithm::Sha512.hasher()));
        assert!(sink.push(vec![1u8; CHUNK]).await.is_err());
        assert!(sink.push(vec![1u8; 10]).await.is_err());
    }
}
