//! A 50 MB file goes through server and client as a stream: read in chunks, checked byte by
//! byte against the pattern it was written with, and the process's peak memory does not grow
//! by anything near the file size. (Its own test binary, so no other test shares the process.)

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{Server, fetcher, pattern_byte};
use tokio::io::AsyncReadExt;

const SIZE: u64 = 50 * 1024 * 1024;

/// Peak resident set size of this process (Linux), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_stream_through() {
    let server = Server::start().await;
    {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(server.root().join("big.bin")).expect("create"),
        );
        let mut chunk = Vec::with_capacity(1 << 16);
        let mut i = 0u64;
        while i < SIZE {
            chunk.clear();
            let end = (i + (1 << 16)).min(SIZE);
            chunk.extend((i..end).map(pattern_byte));
            f.write_all(&chunk).expect("write");
            i = end;
        }
        f.flush().expect("flush");
    }
    let before = peak_rss();

    let d = fetcher(Duration::from_secs(30))
        .open(&server.url("big.bin"), 0, None)
        .await
        .expect("open");
    assert_eq!(d.length, Some(SIZE));
    let mut reader = d.reader;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = reader.read(&mut buf).await.expect("read chunk");
        if n == 0 {
            break;
        }
        for (k, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, pattern_byte(pos + k as u64), "byte {}", pos + k as u64);
        }
        pos += n as u64;
    }
    assert_eq!(pos, SIZE);

    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let growth = after.saturating_sub(before);
        eprintln!("peak RSS before {before}, after {after}");
        assert!(
            growth < SIZE / 2,
            "peak memory grew by {growth} bytes while streaming {SIZE} bytes"
        );
    }
    server.stop().await;
}
