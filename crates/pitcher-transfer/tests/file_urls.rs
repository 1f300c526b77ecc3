//! `file:` URLs: whole file, offsets, slices, percent-decoding, and what is refused.

mod common;

use std::time::{Duration, SystemTime};

use common::{fetcher, pattern, read_all};
use pitcher_transfer::TransferError;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn whole_offset_and_slice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a file é.bin");
    let data = pattern(70_000);
    std::fs::write(&path, &data).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890))
        .expect("mtime");
    let url = url::Url::from_file_path(&path).expect("file url");
    assert!(url.as_str().contains("a%20file%20%C3%A9.bin"), "{url}");
    let f = fetcher(T);

    let d = f.open(&url, 0, None).await.expect("open");
    assert_eq!(
        (d.offset, d.length, d.total_size),
        (0, Some(70_000), Some(70_000))
    );
    assert_eq!(
        d.mtime,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890))
    );
    assert_eq!(read_all(d).await, data);

    let d = f.open(&url, 12_345, None).await.expect("offset");
    assert_eq!((d.offset, d.length), (12_345, Some(70_000 - 12_345)));
    assert_eq!(read_all(d).await, &data[12_345..]);

    let d = f.open(&url, 100, Some(199)).await.expect("slice");
    assert_eq!((d.offset, d.length), (100, Some(100)));
    assert_eq!(read_all(d).await, &data[100..200]);

    let d = f.open(&url, 70_000, None).await.expect("at end");
    assert_eq!((d.offset, d.length), (70_000, Some(0)));
    assert!(read_all(d).await.is_empty());

    // Shorter than the offset: the file changed, it comes back whole.
    let d = f.open(&url, 80_000, None).await.expect("past end");
    assert_eq!(d.offset, 0);
    assert_eq!(read_all(d).await, data);

    let st = f.stat(&url).await.expect("stat");
    assert_eq!(st.size, Some(70_000));
}

#[tokio::test]
async fn missing_file_is_not_found_and_permanent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = url::Url::from_file_path(dir.path().join("nope.txt")).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("missing");
    assert!(matches!(err, TransferError::NotFound { .. }), "{err:?}");
    assert!(err.is_permanent());

    // A path through a regular file is as missing as any.
    std::fs::write(dir.path().join("plain"), b"x").expect("write");
    let url = url::Url::from_file_path(dir.path().join("plain/below")).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("not a dir");
    assert!(matches!(err, TransferError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn directories_fifos_and_remote_hosts_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = url::Url::from_directory_path(dir.path()).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("dir");
    assert!(matches!(err, TransferError::InvalidUrl { .. }), "{err:?}");

    // Opening a FIFO for reading would block until a writer comes: it must be refused first.
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let url = url::Url::from_file_path(&fifo).expect("url");
    let err = tokio::time::timeout(Duration::from_secs(30), fetcher(T).open(&url, 0, None))
        .await
        .expect("no hang")
        .expect_err("fifo");
    assert!(matches!(err, TransferError::InvalidUrl { .. }), "{err:?}");

    let url = url::Url::parse("file://elsewhere.example/etc/hosts").expect("url");
    let err = fetcher(T)
        .open(&url, 0, None)
        .await
        .expect_err("remote host");
    assert!(matches!(err, TransferError::InvalidUrl { .. }), "{err:?}");
    assert!(err.is_permanent());
}
