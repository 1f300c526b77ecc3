//! A hung server must never hang a fetch. Short timeouts; no assertion on speed, only that the
//! fetch ends with a Timeout (each test is also guarded by a generous outer limit).

mod common;

use std::time::Duration;

use common::{fetcher, handcrafted};
use pitcher_transfer::TransferError;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const T: Duration = Duration::from_millis(300);
const GUARD: Duration = Duration::from_secs(60);

#[tokio::test]
async fn server_that_accepts_and_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accept and hold the connections open, never reading or writing.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..4 {
            match listener.accept().await {
                Ok((s, _)) => held.push(s),
                Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(held);
    });
    let url = url::Url::parse(&format!("http://{addr}/file")).expect("url");
    let result = tokio::time::timeout(GUARD, fetcher(T).open(&url, 0, None))
        .await
        .expect("the fetch itself must give up");
    let err = result.expect_err("must time out");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    holder.abort();
}

#[tokio::test]
async fn listener_that_never_accepts() {
    // The kernel completes the handshake into the backlog; nobody ever accepts.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = url::Url::parse(&format!("http://{addr}/file")).expect("url");
    let result = tokio::time::timeout(GUARD, fetcher(T).open(&url, 0, None))
        .await
        .expect("the fetch itself must give up");
    let err = result.expect_err("must time out");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err:?}");
    drop(listener);
}

#[tokio::test]
async fn server_that_sends_part_of_the_headers_then_stalls() {
    let (addr, _heads) = handcrafted(|_| b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(), true).await;
    let url = url::Url::parse(&format!("http://{addr}/file")).expect("url");
    let result = tokio::time::timeout(GUARD, fetcher(T).open(&url, 0, None))
        .await
        .expect("the fetch itself must give up");
    let err = result.expect_err("must time out");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn server_that_sends_headers_and_some_body_then_stalls() {
    let (addr, _heads) = handcrafted(
        |_| b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes".to_vec(),
        true,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/file")).expect("url");
    let d = tokio::time::timeout(GUARD, fetcher(T).open(&url, 0, None))
        .await
        .expect("open in time")
        .expect("headers arrived");
    assert_eq!(d.length, Some(1000));
    let mut reader = d.reader;
    let mut got = Vec::new();
    let err = tokio::time::timeout(GUARD, reader.read_to_end(&mut got))
        .await
        .expect("the read itself must give up")
        .expect_err("must time out");
    assert_eq!(got, b"first bytes");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let classified = TransferError::from_read_error(&url, err);
    assert!(
        matches!(classified, TransferError::Timeout { .. }),
        "{classified:?}"
    );
}

#[tokio::test]
async fn server_that_closes_mid_body_is_an_io_error() {
    let (addr, _heads) = handcrafted(
        |_| b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this".to_vec(),
        false,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/file")).expect("url");
    let d = tokio::time::timeout(GUARD, fetcher(T).open(&url, 0, None))
        .await
        .expect("open in time")
        .expect("headers arrived");
    let mut reader = d.reader;
    let mut got = Vec::new();
    let err = tokio::time::timeout(GUARD, reader.read_to_end(&mut got))
        .await
        .expect("in time")
        .expect_err("truncated body must fail");
    let classified = TransferError::from_read_error(&url, err);
    assert!(
        matches!(classified, TransferError::Io { .. }),
        "{classified:?}"
    );
    assert!(classified.is_transient());
}
