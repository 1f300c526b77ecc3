//! Pitcher's index pages as sr3's HTTP poll reads them: `tests/sr3/sr3_html_poll.py` restates
//! sr3's parsing logic with Python's own `html.parser` (the parser sr3 uses). Skipped, with a
//! note, when python3 is not installed.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{Server, raw_request};

fn python3() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

fn sr3_read(page: &[u8]) -> Result<Vec<(String, String, u64)>, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sr3/sr3_html_poll.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page)
        .expect("write page");
    let out = child.wait_with_output().expect("python3 output");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(text);
    }
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('\t');
            Some((
                parts.next()?.to_owned(),
                parts.next()?.to_owned(),
                parts.next()?.parse().ok()?,
            ))
        })
        .collect())
}

#[tokio::test]
async fn sr3_reads_pitcher_index_pages() {
    if python3().is_none() {
        eprintln!("SKIPPED: python3 not installed, sr3 parsing logic not checked");
        return;
    }
    let server = Server::start().await;
    let root = server.root();
    let mtime = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_059, 999_000_000);
    for name in [
        "plain.grib2",
        "2026-11-22T10:15:00Z_obs.txt",
        "A_SMCA01CWAO221000_C_CWAO_20231122100000.txt",
        "two words.txt",
        "three word name.txt",
        "a & b.txt",
        "café.txt",
    ] {
        let p = root.join(name);
        std::fs::write(&p, b"data").expect("write");
        std::fs::File::options()
            .write(true)
            .open(&p)
            .expect("open")
            .set_modified(mtime)
            .expect("mtime");
    }
    std::fs::create_dir(root.join("subdir")).expect("mkdir");

    let (status, _, page) = raw_request(&server.addr(), "GET", "/", "").await;
    assert_eq!(status, 200);
    let entries = match sr3_read(&page) {
        Ok(e) => e,
        Err(out) => panic!("sr3's logic raised on the page (whole listing lost): {out}"),
    };
    let get = |n: &str| entries.iter().find(|(name, _, _)| name == n).cloned();
    // To the minute, as sr3 reads it: 1_700_000_059 s is 22:14:19, shown as 22:14.
    assert_eq!(
        get("plain.grib2"),
        Some(("plain.grib2".into(), "file".into(), 1_700_000_040))
    );
    assert!(get("2026-11-22T10:15:00Z_obs.txt").is_some(), "{entries:?}");
    assert!(
        get("A_SMCA01CWAO221000_C_CWAO_20231122100000.txt").is_some(),
        "{entries:?}"
    );
    assert_eq!(get("subdir/").map(|e| e.1), Some("dir".to_owned()));
    // Names that need percent-encoding are dropped by sr3's logic (as with Apache's pages), but
    // never make it fail.
    assert_eq!(entries.len(), 4, "{entries:?}");
    server.stop().await;
}
