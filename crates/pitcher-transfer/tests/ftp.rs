//! FTP and FTPS against a real pyftpdlib server on 127.0.0.1 (see tests/servers/mod.rs).

mod servers;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pitcher_transfer::{
    FetchOptions, Fetcher, PutOptions, Remote, RemoteCredentials, RemoteFetchOptions,
    RemoteOptions, TransferError,
};
use servers::{FtpMode, Ftpd, content, silent_server};
use tokio::io::AsyncReadExt as _;

const T: Duration = Duration::from_secs(10);

async fn read_all(dl: pitcher_transfer::Download) -> Vec<u8> {
    let mut out = Vec::new();
    let mut r = dl.reader;
    r.read_to_end(&mut out).await.expect("read");
    out
}

fn mtime_of(p: &std::path::Path) -> SystemTime {
    std::fs::metadata(p)
        .expect("meta")
        .modified()
        .expect("mtime")
}

fn close_to(a: SystemTime, b: SystemTime, within: Duration) -> bool {
    let d = a.duration_since(b).or_else(|_| b.duration_since(a));
    d.is_ok_and(|d| d <= within)
}

/// The whole session interface against one server.
async fn exercise(ftpd: &Ftpd, options: &RemoteOptions, mlst: bool) {
    let root = ftpd.root.clone();
    let data = content(300_000);
    std::fs::write(root.join("a.txt"), &data).expect("write");
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    std::fs::write(root.join("sub/b b.bin"), b"bee").expect("write");

    let mut r = Remote::connect(&ftpd.url(""), options)
        .await
        .expect("connect");

    let mut entries = r.list(".").await.expect("list");
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "sub"], "mlst={mlst}");
    assert_eq!(entries[0].size, Some(300_000));
    assert!(!entries[0].is_dir && entries[1].is_dir);
    // LIST shows minutes; MLSD seconds.
    let slack = if mlst {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(60)
    };
    let t = entries[0].mtime.expect("mtime");
    assert!(close_to(t, mtime_of(&root.join("a.txt")), slack), "{t:?}");
    let mode = std::fs::metadata(root.join("a.txt"))
        .expect("m")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(entries[0].mode, Some(mode));
    let sub = r.list("sub").await.expect("list sub");
    assert_eq!(sub[0].name, "b b.bin");
    assert_eq!(sub[0].size, Some(3));

    let st = r.stat("a.txt").await.expect("stat");
    assert_eq!(st.size, Some(300_000));
    assert!(close_to(
        st.mtime.expect("mtime"),
        mtime_of(&root.join("a.txt")),
        Duration::from_secs(1)
    ));
    let err = r.stat("nope").await.expect_err("missing");
    assert!(matches!(err, TransferError::NotFound { .. }), "{err}");

    // get whole, resume (REST), at the end, beyond the end, missing.
    let dl = r.get("a.txt", 0).await.expect("get");
    assert_eq!(
        (dl.offset, dl.length, dl.total_size),
        (0, Some(300_000), Some(300_000))
    );
    assert_eq!(read_all(dl).await, data);
    let dl = r.get("a.txt", 123_456).await.expect("resume");
    assert_eq!(dl.offset, 123_456);
    assert_eq!(read_all(dl).await, &data[123_456..]);
    assert_eq!(r.get("a.txt", 300_000).await.expect("end").length, Some(0));
    let dl = r.get("a.txt", 400_000).await.expect("beyond");
    assert_eq!(dl.offset, 0);
    assert_eq!(read_all(dl).await.len(), 300_000);
    let err = r.get("missing.txt", 0).await.expect_err("missing");
    assert!(
        matches!(err, TransferError::NotFound { .. }) && err.is_permanent(),
        "{err}"
    );
    assert_eq!(
        read_all(r.get("sub/b b.bin", 0).await.expect("spaces")).await,
        b"bee"
    );

    // put via inflight into new nested directories; mode and mtime.
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let sent = r
        .put(
            data.as_slice(),
            "new/deeper/c.bin",
            &PutOptions {
                inflight: Some("c.bin.tmp".into()),
                mode: Some(0o640),
                mtime: Some(when),
                dir_mode: None,
            },
        )
        .await
        .expect("put");
    assert_eq!(sent, 300_000);
    let c = root.join("new/deeper/c.bin");
    assert_eq!(std::fs::read(&c).expect("read"), data);
    assert_eq!(
        std::fs::metadata(&c).expect("m").permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(mtime_of(&c), when);
    assert!(!root.join("new/deeper/c.bin.tmp").exists());
    // Replacing an existing file.
    r.put(
        b"v2".as_slice(),
        "new/deeper/c.bin",
        &PutOptions {
            inflight: Some(".c.bin".into()),
            ..Default::default()
        },
    )
    .await
    .expect("put again");
    assert_eq!(std::fs::read(&c).expect("read"), b"v2");

    r.mkdirs("m/n/o", None).await.expect("mkdirs");
    r.mkdirs("m/n/o", None).await.expect("mkdirs again");
    assert!(root.join("m/n/o").is_dir());
    r.rename("sub/b b.bin", "m/b2.bin").await.expect("rename");
    assert!(root.join("m/b2.bin").is_file() && !root.join("sub/b b.bin").exists());
    r.chmod("m/b2.bin", 0o600).await.expect("chmod");
    assert_eq!(
        std::fs::metadata(root.join("m/b2.bin"))
            .expect("m")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    r.set_mtime("m/b2.bin", when).await.expect("mtime");
    assert_eq!(mtime_of(&root.join("m/b2.bin")), when);
    r.delete("m/b2.bin").await.expect("delete file");
    r.delete("m/n/o").await.expect("delete dir");
    r.delete("m/never-was").await.expect("delete missing is ok");
    assert!(!root.join("m/b2.bin").exists() && !root.join("m/n/o").exists());
    assert!(r.is_usable());
    r.close().await;
}

#[tokio::test]
async fn plain_ftp_with_mlsd() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    exercise(&ftpd, &ftpd.options(T), true).await;
}

#[tokio::test]
async fn plain_ftp_with_list_only() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, false) else {
        return;
    };
    exercise(&ftpd, &ftpd.options(T), false).await;
}

#[tokio::test]
async fn active_mode() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let mut options = ftpd.options(T);
    options.credentials.passive = false;
    exercise(&ftpd, &options, true).await;
}

#[tokio::test]
async fn explicit_ftps() {
    let Some(ftpd) = Ftpd::start(FtpMode::Explicit, true) else {
        return;
    };
    exercise(&ftpd, &ftpd.options(T), true).await;
    // The same server with certificate verification: the self-signed certificate is refused.
    let mut options = ftpd.options(T);
    options.tls_verify = true;
    let err = Remote::connect(&ftpd.url(""), &options)
        .await
        .expect_err("self-signed");
    assert!(matches!(err, TransferError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn explicit_tls_from_the_credential_flag() {
    let Some(ftpd) = Ftpd::start(FtpMode::Explicit, true) else {
        return;
    };
    let url =
        url::Url::parse(&format!("ftp://{}@127.0.0.1:{}/", ftpd.user, ftpd.port)).expect("url");
    let mut options = ftpd.options(T);
    // Without TLS the server refuses the login (tls_control_required).
    assert!(Remote::connect(&url, &options).await.is_err());
    options.credentials.tls = true;
    let mut r = Remote::connect(&url, &options)
        .await
        .expect("tls via credential");
    assert!(r.list(".").await.expect("list").is_empty());
    r.close().await;
}

#[tokio::test]
async fn implicit_ftps() {
    let Some(ftpd) = Ftpd::start(FtpMode::Implicit, true) else {
        return;
    };
    exercise(&ftpd, &ftpd.options(T), true).await;
}

#[tokio::test]
async fn ascii_mode_uploads_crlf_lines() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let mut options = ftpd.options(T);
    options.credentials.binary = false;
    let mut r = Remote::connect(&ftpd.url(""), &options)
        .await
        .expect("connect");
    r.put(b"a\nb\r\nc\n".as_slice(), "t.txt", &PutOptions::default())
        .await
        .expect("put");
    // pyftpdlib stores ASCII uploads with the local (LF) line ending.
    assert_eq!(
        std::fs::read(ftpd.root.join("t.txt")).expect("read"),
        b"a\nb\nc\n"
    );
    r.close().await;
}

fn fetcher_for(ftpd: &Ftpd, timeout: Duration) -> Fetcher {
    let password = ftpd.password.clone();
    let port = ftpd.port;
    Fetcher::new(FetchOptions {
        timeout,
        auth: None,
        tls_verify: false,
    })
    .expect("fetcher")
    .with_remote(RemoteFetchOptions {
        // As credentials.conf would: the password for this server only.
        lookup: Some(Arc::new(move |u: &url::Url| {
            (u.port() == Some(port)).then(|| RemoteCredentials {
                password: Some(password.clone()),
                ..Default::default()
            })
        })),
        ..Default::default()
    })
}

#[tokio::test]
async fn fetcher_open_stat_range_and_reconnect() {
    let Some(mut ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let data = content(100_000);
    std::fs::create_dir(ftpd.root.join("d")).expect("mkdir");
    std::fs::write(ftpd.root.join("d/f.dat"), &data).expect("write");
    let f = fetcher_for(&ftpd, T);
    let url = ftpd.url("d/f.dat");
    assert_eq!(f.stat(&url).await.expect("stat").size, Some(100_000));
    for _ in 0..3 {
        // The session goes back to the cache after each complete read and is reused.
        assert_eq!(
            read_all(f.open(&url, 0, None).await.expect("open")).await,
            data
        );
    }
    let dl = f.open(&url, 1000, None).await.expect("resume");
    assert_eq!(dl.offset, 1000);
    assert_eq!(read_all(dl).await, &data[1000..]);
    assert_eq!(
        ftpd.connections(),
        1,
        "one cached connection served all of these"
    );
    let dl = f.open(&url, 10, Some(19)).await.expect("range");
    assert_eq!(read_all(dl).await, &data[10..20]);
    let missing = ftpd.url("d/none");
    assert!(matches!(
        f.open(&missing, 0, None).await,
        Err(TransferError::NotFound { .. })
    ));
    // Two downloads at once: the second gets its own connection.
    let a = f.open(&url, 0, None).await.expect("first");
    let b = f.open(&url, 0, None).await.expect("second");
    let (a, b) = tokio::join!(read_all(a), read_all(b));
    assert_eq!((a.len(), b.len()), (100_000, 100_000));

    ftpd.restart();
    let dl = f.open(&url, 0, None).await.expect("open after restart");
    assert_eq!(read_all(dl).await, data);
}

#[tokio::test]
async fn wrong_password_is_a_clear_login_error_without_the_password() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    let secret = "Wr0ng-Pa55w0rd-xyzzy";
    let mut options = ftpd.options(T);
    options.credentials.password = Some(secret.into());
    let err = Remote::connect(&ftpd.url(""), &options)
        .await
        .expect_err("wrong");
    assert!(matches!(err, TransferError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains(secret) && !format!("{err:?}").contains(secret));

    let mut url = ftpd.url("x");
    url.set_password(Some(secret)).expect("password");
    let f = Fetcher::new(FetchOptions::default()).expect("fetcher");
    let err = f.open(&url, 0, None).await.expect_err("wrong");
    assert!(matches!(err, TransferError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains(secret), "{err}");
}

#[tokio::test]
async fn server_killed_mid_transfer_is_a_transient_error_not_a_hang() {
    let Some(mut ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    std::fs::write(ftpd.root.join("big.bin"), content(64 << 20)).expect("write");
    let mut r = Remote::connect(&ftpd.url(""), &ftpd.options(Duration::from_secs(3)))
        .await
        .expect("connect");
    let url = ftpd.url("big.bin");
    let dl = r.get("big.bin", 0).await.expect("get");
    let mut reader = dl.reader;
    let mut buf = vec![0u8; 1 << 20];
    reader.read_exact(&mut buf).await.expect("first MiB");
    ftpd.kill();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink).await
    })
    .await
    .expect("the read ends (no hang)");
    let err = outcome.expect_err("a killed server cannot deliver the rest");
    let classified = TransferError::from_read_error(&url, err);
    assert!(classified.is_transient(), "{classified}");
}

#[tokio::test]
async fn a_server_that_stalls_mid_transfer_times_out() {
    let Some(ftpd) = Ftpd::start(FtpMode::Plain, true) else {
        return;
    };
    std::fs::write(ftpd.root.join("big.bin"), content(64 << 20)).expect("write");
    let timeout = Duration::from_secs(2);
    let mut r = Remote::connect(&ftpd.url(""), &ftpd.options(timeout))
        .await
        .expect("connect");
    let url = ftpd.url("big.bin");
    let mut reader = r.get("big.bin", 0).await.expect("get").reader;
    let mut buf = vec![0u8; 1 << 20];
    reader.read_exact(&mut buf).await.expect("first MiB");
    ftpd.freeze();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink).await
    })
    .await
    .expect("the read ends (no hang)");
    let err = TransferError::from_read_error(&url, outcome.expect_err("stalled"));
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Further requests on the stalled session time out too.
    let err = r.stat("big.bin").await.expect_err("stalled session");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err}");
    assert!(!r.is_usable());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (port, _task) = silent_server().await;
    for scheme in ["ftp", "ftps"] {
        let url = url::Url::parse(&format!("{scheme}://u@127.0.0.1:{port}/f")).expect("url");
        let options = RemoteOptions {
            timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let err = Remote::connect(&url, &options).await.expect_err("silent");
        assert!(matches!(err, TransferError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let mut options = RemoteOptions {
        timeout: Duration::from_millis(500),
        ..Default::default()
    };
    options.credentials.implicit_tls = true;
    let url = url::Url::parse(&format!("ftp://u@127.0.0.1:{port}/f")).expect("url");
    let err = Remote::connect(&url, &options)
        .await
        .expect_err("silent implicit");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err}");
}
