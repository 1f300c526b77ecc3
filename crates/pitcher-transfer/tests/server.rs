//! The file server: index pages (parsed back exactly), redirects, and everything it must refuse.

mod common;

use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime};

use common::{Server, fetcher, header, raw_request, read_all};
use pitcher_transfer::{IndexEntry, TransferError, parse_index_page};

const T: Duration = Duration::from_secs(10);

fn at(secs: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

fn write_with_mtime(path: &std::path::Path, data: &[u8], mtime: SystemTime) {
    std::fs::write(path, data).expect("write");
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(mtime)
        .expect("mtime");
}

#[tokio::test]
async fn index_page_lists_exact_sizes_and_times() {
    let server = Server::start().await;
    let root = server.root();
    std::fs::create_dir_all(root.join("obs/sub dir")).expect("mkdir");
    write_with_mtime(
        &root.join("obs/b.grib2"),
        &vec![7u8; 5_452_595],
        at(1_700_000_000, 123_456_789),
    );
    write_with_mtime(&root.join("obs/a.txt"), b"hello", at(1_600_000_000, 0));
    write_with_mtime(&root.join("obs/x y&z.txt"), b"", at(1_500_000_000, 1));
    write_with_mtime(
        &root.join("obs/.inflight"),
        b"partial",
        at(1_500_000_000, 0),
    );
    write_with_mtime(&root.join("obs/sub dir/inner"), b"1", at(1_500_000_000, 0));

    let d = fetcher(T)
        .open(&server.url("obs/"), 0, None)
        .await
        .expect("index");
    let page = String::from_utf8(read_all(d).await).expect("utf-8 page");
    assert!(page.contains("<title>Index of /obs</title>"), "{page}");
    assert!(
        !page.contains("inflight"),
        "dot-files are not listed: {page}"
    );
    let entries = parse_index_page(&page);
    assert_eq!(
        entries,
        vec![
            IndexEntry {
                name: "a.txt".into(),
                is_dir: false,
                size: Some(5),
                mtime: Some(at(1_600_000_000, 0)),
            },
            IndexEntry {
                name: "b.grib2".into(),
                is_dir: false,
                size: Some(5_452_595),
                mtime: Some(at(1_700_000_000, 123_456_789)),
            },
            IndexEntry {
                name: "sub dir".into(),
                is_dir: true,
                size: None,
                mtime: entries[2].mtime,
            },
            IndexEntry {
                name: "x y&z.txt".into(),
                is_dir: false,
                size: Some(0),
                mtime: Some(at(1_500_000_000, 1)),
            },
        ]
    );
    assert!(entries[2].mtime.is_some());
    // The visible columns alone (as sr3 reads them) give the minute and the exact size.
    let line = page
        .lines()
        .find(|l| l.contains(">b.grib2</a>"))
        .expect("line for b.grib2");
    assert!(line.ends_with("2023-11-14 22:13  5452595"), "{line}");

    // Every listed link works, including the encoded ones.
    let d = fetcher(T)
        .open(&server.url("obs/x%20y%26z.txt"), 0, None)
        .await
        .expect("encoded name");
    assert_eq!(d.length, Some(0));
    let d = fetcher(T)
        .open(&server.url("obs/sub%20dir/inner"), 0, None)
        .await
        .expect("inside encoded dir");
    assert_eq!(read_all(d).await, b"1");
    server.stop().await;
}

#[tokio::test]
async fn root_index_and_head_and_redirect() {
    let server = Server::start().await;
    std::fs::create_dir(server.root().join("dir")).expect("mkdir");
    std::fs::write(server.root().join("dir/f"), b"x").expect("write");
    let addr = server.addr();

    let (status, headers, body) = raw_request(&addr, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html;charset=UTF-8")
    );
    let page = String::from_utf8(body.clone()).expect("utf-8");
    assert!(page.contains("Index of /"));
    assert!(!page.contains("Parent Directory"), "no parent at the root");
    let names: Vec<_> = parse_index_page(&page)
        .into_iter()
        .map(|e| (e.name, e.is_dir))
        .collect();
    assert_eq!(names, vec![("dir".to_owned(), true)]);

    let (status, headers, head_body) = raw_request(&addr, "HEAD", "/", "").await;
    assert_eq!(status, 200);
    assert!(head_body.is_empty());
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );

    let (status, headers, _) = raw_request(&addr, "GET", "/dir", "").await;
    assert_eq!(status, 301);
    assert_eq!(header(&headers, "location"), Some("/dir/"));
    // The redirect is rebuilt from the checked path, never echoed (no "//host" open redirect).
    let (status, headers, _) = raw_request(&addr, "GET", "//dir", "").await;
    assert_eq!(status, 301);
    assert_eq!(header(&headers, "location"), Some("/dir/"));

    let (status, _, body) = raw_request(&addr, "GET", "/dir/", "").await;
    assert_eq!(status, 200);
    let page = String::from_utf8(body).expect("utf-8");
    assert!(
        page.contains("<a href=\"/\">Parent Directory</a>"),
        "{page}"
    );

    // A directory URL fetched as a file gives the page too (after the redirect).
    let d = fetcher(T)
        .open(&server.url("dir"), 0, None)
        .await
        .expect("follow");
    let page = String::from_utf8(read_all(d).await).expect("utf-8");
    assert_eq!(parse_index_page(&page).len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    // A secret beside the served root, reachable only by climbing out.
    let outer = tempfile::tempdir().expect("tempdir");
    std::fs::write(outer.path().join("secret.txt"), b"TOP SECRET").expect("write");
    let root = outer.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    // The served root is a directory inside `root`, so `..` from it reaches beside.txt and
    // `../..` reaches secret.txt.
    let server_dir = tempfile::tempdir_in(&root).expect("root tempdir");
    let served = server_dir.path().to_path_buf();
    std::fs::create_dir(served.join("pub")).expect("mkdir");
    std::fs::write(served.join("pub/ok.txt"), b"fine").expect("write");
    std::fs::write(served.join(".hidden"), b"hidden").expect("write");
    std::fs::write(root.join("beside.txt"), b"BESIDE").expect("write");
    let server = Server::start_in(server_dir).await;
    let addr = server.addr();

    let (status, _, body) = raw_request(&addr, "GET", "/pub/ok.txt", "").await;
    assert_eq!((status, body.as_slice()), (200, b"fine".as_slice()));

    let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
    for target in [
        "/../beside.txt",
        "/pub/../../beside.txt",
        "/%2e%2e/beside.txt",
        "/pub/%2E%2E/%2e%2e/beside.txt",
        "/pub%2f..%2f..%2fbeside.txt",
        "/..%2fbeside.txt",
        "/../../secret.txt",
        "/%2e%2e/%2e%2e/secret.txt",
        "/.hidden",
        "/%2ehidden",
        "/pub/./ok.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/etc/passwd",
        "/pub/ok.txt%00.html",
    ] {
        let (status, _, body) = raw_request(&addr, "GET", target, "").await;
        assert!(
            status == 404 || status == 403 || status == 400,
            "{target}: status {status}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("SECRET") && !text.contains("BESIDE") && !text.contains("hidden"),
            "{target} leaked: {text}"
        );
        if !passwd.is_empty() {
            assert!(
                !body.starts_with(&passwd[..passwd.len().min(16)]),
                "{target}"
            );
        }
    }
    // An absolute URL as request target names a path of the served tree, not of the machine.
    let (status, _, _) = raw_request(&addr, "GET", "http://test/../beside.txt", "").await;
    assert!(status == 404 || status == 400, "absolute form: {status}");
    server.stop().await;
}

#[tokio::test]
async fn symlinks_leading_outside_are_refused_and_not_listed() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), b"TOP SECRET").expect("write");
    let server = Server::start().await;
    let root = server.root();
    std::fs::create_dir(root.join("data")).expect("mkdir");
    std::fs::write(root.join("data/real.txt"), b"real").expect("write");
    std::fs::create_dir(root.join(".private")).expect("mkdir");
    std::fs::write(root.join(".private/p.txt"), b"private").expect("write");
    symlink(
        outside.path().join("secret.txt"),
        root.join("data/leak.txt"),
    )
    .expect("symlink");
    symlink(outside.path(), root.join("data/leakdir")).expect("symlink");
    symlink("/etc", root.join("etc")).expect("symlink");
    symlink("real.txt", root.join("data/alias.txt")).expect("symlink");
    symlink("../.private/p.txt", root.join("data/peek.txt")).expect("symlink");
    symlink("nowhere", root.join("data/dangling")).expect("symlink");
    let addr = server.addr();

    for target in [
        "/data/leak.txt",
        "/data/leakdir/secret.txt",
        "/data/leakdir/",
        "/etc/passwd",
        "/etc/",
    ] {
        let (status, _, body) = raw_request(&addr, "GET", target, "").await;
        assert_eq!(status, 403, "{target}");
        assert!(
            !String::from_utf8_lossy(&body).contains("SECRET"),
            "{target}"
        );
    }
    for target in ["/data/peek.txt", "/data/dangling"] {
        let (status, _, _) = raw_request(&addr, "GET", target, "").await;
        assert_eq!(status, 404, "{target}");
    }
    // A symlink that stays inside the tree is served like the file it names.
    let (status, _, body) = raw_request(&addr, "GET", "/data/alias.txt", "").await;
    assert_eq!((status, body.as_slice()), (200, b"real".as_slice()));

    let (status, _, body) = raw_request(&addr, "GET", "/data/", "").await;
    assert_eq!(status, 200);
    let names: Vec<_> = parse_index_page(&String::from_utf8_lossy(&body))
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec!["alias.txt", "real.txt"]);

    let err = fetcher(T)
        .open(&server.url("data/leak.txt"), 0, None)
        .await
        .expect_err("403");
    assert!(
        matches!(err, TransferError::Http { status: 403, .. }),
        "{err:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn special_files_are_not_served() {
    let server = Server::start().await;
    let fifo = server.root().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let (status, _, _) = raw_request(&server.addr(), "GET", "/pipe", "").await;
    assert_eq!(status, 403);
    let (_, _, body) = raw_request(&server.addr(), "GET", "/", "").await;
    assert!(parse_index_page(&String::from_utf8_lossy(&body)).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn run_refuses_a_missing_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = pitcher_transfer::FileServer::run(dir.path().join("missing"), listener, async {})
        .await
        .expect_err("missing root");
    assert!(matches!(err, TransferError::Server(_)), "{err:?}");
}

#[tokio::test]
async fn shutdown_ends_run_despite_idle_and_stalled_clients() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start().await;
    std::fs::write(server.root().join("f"), b"x").expect("write");
    // One client idle after a complete keep-alive exchange, one stuck in the middle of its headers.
    let mut idle = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    idle.write_all(b"GET /f HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = tokio::io::AsyncReadExt::read(&mut idle, &mut buf)
        .await
        .expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let mut stuck = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    stuck
        .write_all(b"GET /f HTTP/1.1\r\nHo")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Server::stop waits (with a generous guard) for run() to return Ok.
    server.stop().await;
    drop((idle, stuck));
}
