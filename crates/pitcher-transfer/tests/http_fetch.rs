//! Fetching over HTTP from Pitcher's own file server (and handcrafted servers for the odd cases).

mod common;

use std::time::{Duration, SystemTime};

use common::{Server, fetcher, handcrafted, pattern, raw_request, read_all};
use pitcher_transfer::{Auth, FetchOptions, Fetcher, TransferError};

const T: Duration = Duration::from_secs(10);

fn set_mtime(path: &std::path::Path, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open for mtime");
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

#[tokio::test]
async fn whole_file() {
    let server = Server::start().await;
    let data = pattern(100_000);
    std::fs::write(server.root().join("data.bin"), &data).expect("write");
    set_mtime(&server.root().join("data.bin"), 1_700_000_000);

    let d = fetcher(T)
        .open(&server.url("data.bin"), 0, None)
        .await
        .expect("open");
    assert_eq!(d.offset, 0);
    assert_eq!(d.length, Some(100_000));
    assert_eq!(d.total_size, Some(100_000));
    assert_eq!(
        d.mtime,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(read_all(d).await, data);
    server.stop().await;
}

#[tokio::test]
async fn resume_at_offset_gives_identical_content() {
    let server = Server::start().await;
    let data = pattern(300_001);
    std::fs::write(server.root().join("big.bin"), &data).expect("write");
    let f = fetcher(T);
    let url = server.url("big.bin");

    // First part, "interrupted" after 123_457 bytes; then resume from there.
    let first = read_all(f.open(&url, 0, Some(123_456)).await.expect("open")).await;
    assert_eq!(first.len(), 123_457);
    let d = f.open(&url, 123_457, None).await.expect("resume");
    assert_eq!(d.offset, 123_457);
    assert_eq!(d.length, Some(300_001 - 123_457));
    assert_eq!(d.total_size, Some(300_001));
    let mut joined = first;
    joined.extend(read_all(d).await);
    assert_eq!(joined, data);
    server.stop().await;
}

#[tokio::test]
async fn range_slice() {
    let server = Server::start().await;
    let data = pattern(10_000);
    std::fs::write(server.root().join("blocks.bin"), &data).expect("write");
    let d = fetcher(T)
        .open(&server.url("blocks.bin"), 4096, Some(8191))
        .await
        .expect("open");
    assert_eq!(d.offset, 4096);
    assert_eq!(d.length, Some(4096));
    assert_eq!(d.total_size, Some(10_000));
    assert_eq!(read_all(d).await, &data[4096..8192]);

    // A slice running past the end is cut at the end.
    let d = fetcher(T)
        .open(&server.url("blocks.bin"), 8192, Some(20_000))
        .await
        .expect("open");
    assert_eq!(d.offset, 8192);
    assert_eq!(read_all(d).await, &data[8192..]);
    server.stop().await;
}

#[tokio::test]
async fn offset_at_end_is_empty_and_shrunk_file_restarts() {
    let server = Server::start().await;
    let data = pattern(5000);
    std::fs::write(server.root().join("f"), &data).expect("write");
    let f = fetcher(T);

    let d = f
        .open(&server.url("f"), 5000, None)
        .await
        .expect("open at end");
    assert_eq!(d.offset, 5000);
    assert_eq!(d.length, Some(0));
    assert_eq!(d.total_size, Some(5000));
    assert!(read_all(d).await.is_empty());

    // The file is now shorter than what we hold: the whole file comes back from offset 0.
    let d = f
        .open(&server.url("f"), 7000, None)
        .await
        .expect("open past end");
    assert_eq!(d.offset, 0);
    assert_eq!(d.total_size, Some(5000));
    assert_eq!(read_all(d).await, data);
    server.stop().await;
}

#[tokio::test]
async fn server_ignoring_range_gives_offset_zero() {
    let body = b"0123456789".to_vec();
    let (addr, mut heads) = handcrafted(
        move |_| {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        },
        false,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/x")).expect("url");
    let d = fetcher(T).open(&url, 4, None).await.expect("open");
    let head = heads.recv().await.expect("request seen");
    assert!(
        head.to_ascii_lowercase().contains("range: bytes=4-\r\n"),
        "{head}"
    );
    assert_eq!(d.offset, 0, "server sent the whole file");
    assert_eq!(d.length, Some(10));
    assert_eq!(d.total_size, Some(10));
    assert_eq!(
        d.mtime,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(read_all(d).await, b"0123456789");
}

#[tokio::test]
async fn not_found_is_permanent_and_masks_password() {
    let server = Server::start().await;
    let mut url = server.url("no/such/file");
    url.set_username("alice").expect("user");
    url.set_password(Some("s3cret")).expect("password");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("404");
    assert!(matches!(err, TransferError::NotFound { .. }), "{err:?}");
    assert!(err.is_permanent());
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("alice@"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn other_statuses_are_transient() {
    let (addr, _heads) = handcrafted(
        |_| b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
        false,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/x")).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("503");
    assert!(
        matches!(err, TransferError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert!(!err.is_permanent());
    assert!(err.is_transient());

    let (addr, _heads) = handcrafted(
        |_| b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n".to_vec(),
        false,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/x")).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("410");
    assert!(err.is_permanent(), "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_transient_connect_error() {
    // Bind then drop: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/x")).expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("refused");
    assert!(matches!(err, TransferError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn unsupported_scheme() {
    let url = url::Url::parse("gopher://127.0.0.1/x").expect("url");
    let err = fetcher(T).open(&url, 0, None).await.expect_err("gopher");
    assert!(
        matches!(&err, TransferError::Unsupported { scheme } if scheme == "gopher"),
        "{err:?}"
    );
    assert!(err.is_permanent());
}

#[tokio::test]
async fn auth_headers_are_sent() {
    let (addr, mut heads) = handcrafted(
        |_| b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec(),
        false,
    )
    .await;
    let url = url::Url::parse(&format!("http://{addr}/x")).expect("url");

    let basic = Fetcher::new(FetchOptions {
        timeout: T,
        auth: Some(Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        }),
        tls_verify: true,
    })
    .expect("fetcher");
    assert!(!format!("{basic:?}").contains("s3cret"));
    assert_eq!(
        read_all(basic.open(&url, 0, None).await.expect("open")).await,
        b"ok"
    );
    let head = heads.recv().await.expect("head").to_ascii_lowercase();
    // base64("alice:s3cret")
    assert!(
        head.contains("authorization: basic ywxpy2u6cznjcmv0\r\n"),
        "{head}"
    );

    let bearer = Fetcher::new(FetchOptions {
        timeout: T,
        auth: Some(Auth::Bearer("tok-123".into())),
        tls_verify: false,
    })
    .expect("fetcher");
    assert_eq!(
        read_all(bearer.open(&url, 0, None).await.expect("open")).await,
        b"ok"
    );
    let head = heads.recv().await.expect("head").to_ascii_lowercase();
    assert!(head.contains("authorization: bearer tok-123\r\n"), "{head}");

    // Credentials in the URL itself are used when no Auth is configured.
    let with_user = url::Url::parse(&format!("http://bob:pw@{addr}/x")).expect("url");
    let plain = fetcher(T);
    assert_eq!(
        read_all(plain.open(&with_user, 0, None).await.expect("open")).await,
        b"ok"
    );
    let head = heads.recv().await.expect("head").to_ascii_lowercase();
    // base64("bob:pw")
    assert!(head.contains("authorization: basic ym9ionb3\r\n"), "{head}");
}

#[tokio::test]
async fn stat_uses_head() {
    let server = Server::start().await;
    std::fs::write(server.root().join("s.txt"), b"hello").expect("write");
    set_mtime(&server.root().join("s.txt"), 1_600_000_000);
    let st = fetcher(T).stat(&server.url("s.txt")).await.expect("stat");
    assert_eq!(st.size, Some(5));
    assert_eq!(
        st.mtime,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000))
    );
    let err = fetcher(T)
        .stat(&server.url("missing"))
        .await
        .expect_err("404");
    assert!(err.is_permanent());
    server.stop().await;
}

#[tokio::test]
async fn head_and_conditional_get_on_the_server() {
    let server = Server::start().await;
    std::fs::write(server.root().join("c.txt"), b"content!").expect("write");
    set_mtime(&server.root().join("c.txt"), 1_700_000_000);
    let addr = server.addr();

    let (status, headers, body) = raw_request(&addr, "HEAD", "/c.txt", "").await;
    assert_eq!(status, 200);
    assert_eq!(common::header(&headers, "content-length"), Some("8"));
    assert_eq!(
        common::header(&headers, "last-modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    assert_eq!(common::header(&headers, "content-type"), Some("text/plain"));
    assert_eq!(common::header(&headers, "accept-ranges"), Some("bytes"));
    let etag = common::header(&headers, "etag").expect("etag").to_owned();
    assert!(body.is_empty());

    let (status, _, _) = raw_request(
        &addr,
        "GET",
        "/c.txt",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!(status, 304);

    let (status, _, body) = raw_request(
        &addr,
        "GET",
        "/c.txt",
        "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n",
    )
    .await;
    assert_eq!(status, 304);
    assert!(body.is_empty());

    let (status, _, body) = raw_request(
        &addr,
        "GET",
        "/c.txt",
        "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, b"content!");

    let (status, headers, body) = raw_request(&addr, "GET", "/c.txt", "Range: bytes=2-4\r\n").await;
    assert_eq!(status, 206);
    assert_eq!(
        common::header(&headers, "content-range"),
        Some("bytes 2-4/8")
    );
    assert_eq!(body, b"nte");

    let (status, headers, _) = raw_request(&addr, "PUT", "/c.txt", "Content-Length: 0\r\n").await;
    assert_eq!(status, 405);
    assert_eq!(common::header(&headers, "allow"), Some("GET, HEAD"));
    server.stop().await;
}
