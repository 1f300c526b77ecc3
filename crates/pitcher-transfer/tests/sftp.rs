//! SFTP against a real OpenSSH sshd on 127.0.0.1 (see tests/servers/mod.rs).

mod servers;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, SystemTime};

use pitcher_transfer::{
    FetchOptions, Fetcher, PutOptions, Remote, RemoteCredentials, RemoteFetchOptions, TransferError,
};
use servers::{Sshd, content, silent_server};
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

#[tokio::test]
async fn list_get_resume_put_and_file_operations() {
    let Some(sshd) = Sshd::start() else { return };
    let root = sshd.root.clone();
    let data = content(300_000);
    std::fs::write(root.join("a.txt"), &data).expect("write");
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    std::fs::write(root.join("sub/b.bin"), b"bee").expect("write");
    std::os::unix::fs::symlink("a.txt", root.join("ln")).expect("symlink");

    let mut r = Remote::connect(&sshd.url(""), &sshd.options(T))
        .await
        .expect("connect");

    // list: lstat-like attributes, no . and ..
    let mut entries = r.list(".").await.expect("list");
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "ln", "sub"]);
    assert_eq!(entries[0].size, Some(300_000));
    assert!(!entries[0].is_dir && !entries[0].is_symlink);
    assert_eq!(
        entries[0].mtime,
        Some(
            mtime_of(&root.join("a.txt"))
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()))
                .expect("t")
        )
    );
    assert!(entries[1].is_symlink);
    assert!(entries[2].is_dir);
    assert_eq!(r.list("sub").await.expect("list sub")[0].name, "b.bin");

    let st = r.stat("a.txt").await.expect("stat");
    assert_eq!(st.size, Some(300_000));
    assert!(matches!(
        r.stat("nope").await,
        Err(TransferError::NotFound { .. })
    ));

    // get: whole, from an offset, at the end, beyond the end (file shrank: whole file).
    let dl = r.get("a.txt", 0).await.expect("get");
    assert_eq!(
        (dl.offset, dl.length, dl.total_size),
        (0, Some(300_000), Some(300_000))
    );
    assert_eq!(read_all(dl).await, data);
    let dl = r.get("a.txt", 123_456).await.expect("resume");
    assert_eq!(dl.offset, 123_456);
    assert_eq!(read_all(dl).await, &data[123_456..]);
    let dl = r.get("a.txt", 300_000).await.expect("at end");
    assert_eq!(dl.length, Some(0));
    let dl = r.get("a.txt", 400_000).await.expect("beyond");
    assert_eq!(dl.offset, 0);
    assert_eq!(read_all(dl).await.len(), 300_000);
    let err = r.get("missing.txt", 0).await.expect_err("missing");
    assert!(
        matches!(err, TransferError::NotFound { .. }) && err.is_permanent(),
        "{err}"
    );

    // An absolute path (the URL form sftp://host//abs/path).
    let abs = root.join("sub/b.bin").display().to_string();
    assert_eq!(read_all(r.get(&abs, 0).await.expect("abs")).await, b"bee");

    // put through an inflight name into new nested directories, with mode and mtime.
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let sent = r
        .put(
            data.as_slice(),
            "new/deeper/c.bin",
            &PutOptions {
                inflight: Some(".c.bin.tmp".into()),
                mode: Some(0o640),
                mtime: Some(when),
                dir_mode: Some(0o750),
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
    assert!(!root.join("new/deeper/.c.bin.tmp").exists());
    assert_eq!(
        std::fs::metadata(root.join("new"))
            .expect("m")
            .permissions()
            .mode()
            & 0o777,
        0o750
    );
    // put replaces an existing file (rename over it).
    r.put(
        b"v2".as_slice(),
        "new/deeper/c.bin",
        &PutOptions {
            inflight: Some("tmp/c.bin".into()),
            ..Default::default()
        },
    )
    .await
    .expect("put again");
    assert_eq!(std::fs::read(&c).expect("read"), b"v2");

    // mkdirs is mkdir -p and idempotent.
    r.mkdirs("m/n/o", Some(0o700)).await.expect("mkdirs");
    r.mkdirs("m/n/o", Some(0o700)).await.expect("mkdirs again");
    assert!(root.join("m/n/o").is_dir());

    // rename, chmod, mtime, delete.
    r.rename("sub/b.bin", "m/b2.bin").await.expect("rename");
    assert!(root.join("m/b2.bin").is_file() && !root.join("sub/b.bin").exists());
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
    r.delete("m/n/o").await.expect("delete empty dir");
    r.delete("m/never-was").await.expect("delete missing is ok");
    assert!(!root.join("m/b2.bin").exists() && !root.join("m/n/o").exists());
    r.delete("ln").await.expect("delete symlink");
    assert!(
        root.join("a.txt").is_file(),
        "deleting a symlink keeps its target"
    );
    assert!(r.is_usable());
    r.close().await;
}

fn fetcher_for(sshd: &Sshd, timeout: Duration) -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout,
        auth: None,
        tls_verify: true,
    })
    .expect("fetcher")
    .with_remote(RemoteFetchOptions {
        credentials: RemoteCredentials {
            ssh_keyfile: Some(sshd.key.clone()),
            ..Default::default()
        },
        known_hosts: Some(sshd.known_hosts.clone()),
        ..Default::default()
    })
}

#[tokio::test]
async fn fetcher_open_stat_range_and_reconnect() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let data = content(100_000);
    std::fs::create_dir(sshd.root.join("d")).expect("mkdir");
    std::fs::write(sshd.root.join("d/f.dat"), &data).expect("write");
    let f = fetcher_for(&sshd, T);
    let url = sshd.url("d/f.dat");

    let st = f.stat(&url).await.expect("stat");
    assert_eq!(st.size, Some(100_000));
    assert!(st.mtime.is_some());
    let dl = f.open(&url, 0, None).await.expect("open");
    assert_eq!(read_all(dl).await, data);
    let dl = f.open(&url, 1000, None).await.expect("resume");
    assert_eq!(dl.offset, 1000);
    assert_eq!(read_all(dl).await, &data[1000..]);
    let dl = f.open(&url, 10, Some(19)).await.expect("range");
    assert_eq!(dl.length, Some(10));
    assert_eq!(read_all(dl).await, &data[10..20]);
    assert_eq!(sshd.logins(), 1, "one cached session served all of these");
    let abs = url::Url::parse(&format!(
        "sftp://{}@127.0.0.1:{}/{}",
        sshd.user,
        sshd.port,
        sshd.root.join("d/f.dat").display()
    ))
    .expect("abs url");
    assert!(abs.path().starts_with("//"));
    assert_eq!(f.stat(&abs).await.expect("abs stat").size, Some(100_000));
    let missing = sshd.url("d/none");
    assert!(matches!(
        f.open(&missing, 0, None).await,
        Err(TransferError::NotFound { .. })
    ));

    // The cached session dies with the server; after a restart the next open reconnects.
    sshd.restart();
    let dl = f.open(&url, 0, None).await.expect("open after restart");
    assert_eq!(read_all(dl).await, data);
}

#[tokio::test]
async fn wrong_password_is_a_clear_login_error_without_the_password() {
    let Some(sshd) = Sshd::start() else { return };
    let secret = "Wr0ng-Pa55w0rd-xyzzy";
    let mut options = sshd.options(T);
    options.credentials.ssh_keyfile = None;
    options.credentials.password = Some(secret.into());
    let err = Remote::connect(&sshd.url(""), &options)
        .await
        .expect_err("wrong password");
    let text = err.to_string();
    assert!(matches!(err, TransferError::Auth { .. }), "{text}");
    assert!(text.contains("password refused"), "{text}");
    assert!(
        !text.contains(secret) && !format!("{err:?}").contains(secret),
        "{text}"
    );

    // The same with the password in the URL, through the Fetcher.
    let mut url = sshd.url("x");
    url.set_password(Some(secret)).expect("password");
    let f = Fetcher::new(FetchOptions::default())
        .expect("fetcher")
        .with_remote(RemoteFetchOptions {
            known_hosts: Some(sshd.known_hosts.clone()),
            ..Default::default()
        });
    let err = f.open(&url, 0, None).await.expect_err("wrong password");
    assert!(matches!(err, TransferError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{f:?}").contains(secret));
}

#[tokio::test]
async fn host_keys_are_checked_against_known_hosts() {
    let Some(sshd) = Sshd::start() else { return };
    let url = sshd.url("");

    // Unknown: refused, with the fingerprint and how to fix it.
    let empty = sshd.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let mut options = sshd.options(T);
    options.known_hosts = Some(empty.clone());
    let err = Remote::connect(&url, &options)
        .await
        .expect_err("unknown host");
    let text = err.to_string();
    assert!(matches!(err, TransferError::HostKey { .. }), "{text}");
    assert!(
        text.contains("SHA256:") && text.contains("not in"),
        "{text}"
    );

    // Unknown but accept_unknown_hosts: accepted.
    options.accept_unknown_hosts = true;
    let r = Remote::connect(&url, &options).await.expect("accepted");
    r.close().await;

    // Changed (another key recorded for this host:port): refused even with the opt-out.
    let other = std::fs::read_to_string(sshd.dir.path().join("client_key.pub")).expect("pub");
    let mut it = other.split_whitespace();
    let (algo, b64) = (it.next().expect("algo"), it.next().expect("b64"));
    let changed = sshd.dir.path().join("changed_known_hosts");
    std::fs::write(
        &changed,
        format!("[127.0.0.1]:{} {algo} {b64}\n", sshd.port),
    )
    .expect("write");
    options.known_hosts = Some(changed);
    let err = Remote::connect(&url, &options)
        .await
        .expect_err("changed key");
    assert!(matches!(err, TransferError::HostKey { .. }), "{err}");
    assert!(err.to_string().contains("CHANGED"), "{err}");
}

#[tokio::test]
async fn server_killed_mid_transfer_is_a_transient_error_not_a_hang() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let big = content(64 << 20);
    std::fs::write(sshd.root.join("big.bin"), &big).expect("write");
    drop(big);
    let timeout = Duration::from_secs(3);
    let mut r = Remote::connect(&sshd.url(""), &sshd.options(timeout))
        .await
        .expect("connect");
    let url = sshd.url("big.bin");
    let dl = r.get("big.bin", 0).await.expect("get");
    let mut reader = dl.reader;
    let mut buf = vec![0u8; 1 << 20];
    reader.read_exact(&mut buf).await.expect("first MiB");
    sshd.kill();
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
    let Some(sshd) = Sshd::start() else { return };
    std::fs::write(sshd.root.join("big.bin"), content(64 << 20)).expect("write");
    let timeout = Duration::from_secs(2);
    let mut r = Remote::connect(&sshd.url(""), &sshd.options(timeout))
        .await
        .expect("connect");
    let url = sshd.url("big.bin");
    let mut reader = r.get("big.bin", 0).await.expect("get").reader;
    let mut buf = vec![0u8; 1 << 20];
    reader.read_exact(&mut buf).await.expect("first MiB");
    sshd.freeze_sessions();
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
    let url = url::Url::parse(&format!("sftp://someone@127.0.0.1:{port}/f")).expect("url");
    let options = pitcher_transfer::RemoteOptions {
        timeout: Duration::from_millis(500),
        accept_unknown_hosts: true,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let err = Remote::connect(&url, &options)
        .await
        .expect_err("silent server");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let f = Fetcher::new(FetchOptions {
        timeout: Duration::from_millis(500),
        ..FetchOptions::default()
    })
    .expect("fetcher");
    let err = f.open(&url, 0, None).await.expect_err("silent server");
    assert!(err.is_transient(), "{err}");
}

/// A missing file is a prompt, permanent NotFound, relative or absolute, through `Remote` and
/// through the `Fetcher` (which a flow uses); it never waits for the timeout.
#[tokio::test]
async fn missing_files_fail_at_once() {
    let Some(sshd) = Sshd::start() else { return };
    let started = std::time::Instant::now();
    let mut r = Remote::connect(&sshd.url(""), &sshd.options(T))
        .await
        .expect("connect");
    for path in ["nope/missing.bin", "/nope/missing.bin"] {
        let Err(err) = r.get(path, 0).await else {
            panic!("{path} found")
        };
        assert!(
            matches!(err, TransferError::NotFound { .. }),
            "{path}: {err:?}"
        );
    }
    let fetcher = Fetcher::new(FetchOptions {
        timeout: T,
        auth: None,
        tls_verify: true,
    })
    .expect("fetcher")
    .with_remote(RemoteFetchOptions {
        credentials: sshd.options(T).credentials,
        known_hosts: sshd.options(T).known_hosts,
        ..Default::default()
    });
    for path in ["nope/missing.bin", "/nope/missing.bin"] {
        let url = sshd.url(path);
        let Err(err) = fetcher.open(&url, 0, None).await else {
            panic!("{path} found")
        };
        assert!(err.is_permanent(), "{path}: {err:?}");
    }
    assert!(started.elapsed() < T, "took {:?}", started.elapsed());
}
