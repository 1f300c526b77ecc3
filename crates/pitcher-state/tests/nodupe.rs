//! Duplicate suppression: sr3's key rules, the cache semantics, and the sr3 cache file.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use pitcher_core::{FileOp, Identity, IdentityMethod, Message, Timestamp};
use pitcher_state::{
    NodupeBasis, NodupeCache, NodupeKey, NodupeVerdict, derive_key, nodupe::format_line,
};

type R = Result<(), Box<dyn std::error::Error>>;

const T0: f64 = 1_700_000_000.0;
const TTL: Duration = Duration::from_secs(300);

fn msg(rel: &str) -> Result<Message, Box<dyn std::error::Error>> {
    let mut m = Message::new("https://example.com/data", rel);
    m.pub_time = Timestamp::parse("20240102T030405.25")?;
    Ok(m)
}

fn decode(json: &str) -> Result<Message, Box<dyn std::error::Error>> {
    Ok(pitcher_core::v03::decode(json.as_bytes())?)
}

fn key(k: &str, p: &str) -> NodupeKey {
    NodupeKey::new(k, p)
}

fn cache_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("sarra/cfg/recent_files_001.cache")
}

#[test]
fn key_from_sha512_and_md5_identity() -> R {
    let mut m = msg("/a/b/c.txt")?;
    m.identity = Some(Identity::new(IdentityMethod::Sha512, "abc\ndef=="));
    m.size = Some(5);
    m.mtime = Some(Timestamp::parse("20240101T000000")?);
    assert_eq!(
        derive_key(&m, NodupeBasis::Path),
        key("sha512,abcdef==", "a/b/c.txt")
    );
    m.identity = Some(Identity::new(IdentityMethod::Md5, "q83vEjRWeJA="));
    assert_eq!(
        derive_key(&m, NodupeBasis::Path),
        key("md5,q83vEjRWeJA=", "a/b/c.txt")
    );
    // Methods this implementation does not know are used like sr3 does: "<method>,<value>".
    m.identity = Some(Identity::new(IdentityMethod::Other("sha3".into()), "x"));
    assert_eq!(derive_key(&m, NodupeBasis::Path).key, "sha3,x");
    Ok(())
}

#[test]
fn key_from_cod_falls_back_to_name_time_size() -> R {
    let m = decode(
        r#"{"pubTime":"20240102T030405.25","baseUrl":"https://h","relPath":"x/y.bin",
            "identity":{"method":"cod","value":"sha512"},"size":42,
            "mtime":"20240101T010203.500"}"#,
    )?;
    // The mtime as received (".500", not re-formatted), as sr3 formats msg['mtime'].
    assert_eq!(
        derive_key(&m, NodupeBasis::Path),
        key("x/y.bin,20240101T010203.500,42", "x/y.bin")
    );
    Ok(())
}

#[test]
fn key_without_mtime_uses_pub_time_and_without_size_omits_it() -> R {
    let m = msg("/d/f")?;
    assert_eq!(
        derive_key(&m, NodupeBasis::Path),
        key("/d/f,20240102T030405.25", "d/f")
    );
    let mut m = msg("d/f")?;
    m.size = Some(0);
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "d/f,20240102T030405.25,0"
    );
    let mut m = msg("d/f")?;
    m.mtime = Some(Timestamp::parse("20230101T000000")?);
    assert_eq!(derive_key(&m, NodupeBasis::Path).key, "d/f,20230101T000000");
    Ok(())
}

#[test]
fn key_for_file_operations() -> R {
    let sha = Some(Identity::new(IdentityMethod::Sha512, "abc"));
    // link: the target, even with an identity.
    let mut m = msg("d/lnk")?;
    m.identity = sha.clone();
    m.file_op = Some(FileOp::link("../target"));
    assert_eq!(derive_key(&m, NodupeBasis::Path), key("../target", "d/lnk"));
    // A renamed symlink still keys on its target (sr3 tests `link` first).
    let mut op = FileOp::rename("d/old");
    op.link = Some("t".into());
    m.file_op = Some(op);
    assert_eq!(derive_key(&m, NodupeBasis::Path).key, "t");
    // rename: the fallback even when an identity is present.
    let mut m = msg("d/new")?;
    m.identity = sha.clone();
    m.size = Some(3);
    m.file_op = Some(FileOp::rename("d/old"));
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "d/new,20240102T030405.25,3"
    );
    // remove: fallback.
    m.file_op = Some(FileOp::remove());
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "d/new,20240102T030405.25,3"
    );
    // directory creation: relPath; rmdir: fallback.
    let mut m = msg("/d/sub")?;
    m.file_op = Some(FileOp::mkdir());
    assert_eq!(derive_key(&m, NodupeBasis::Path), key("/d/sub", "d/sub"));
    m.file_op = Some(FileOp::rmdir());
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "/d/sub,20240102T030405.25"
    );
    // hard link and an empty fileOp: fallback (no identity consulted).
    let mut m = msg("h")?;
    m.identity = sha;
    m.file_op = Some(FileOp::hard_link("other"));
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "h,20240102T030405.25"
    );
    m.file_op = Some(FileOp::default());
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "h,20240102T030405.25"
    );
    // An empty link target counts as no key (sr3: `if not key`).
    m.file_op = Some(FileOp::link(""));
    assert_eq!(
        derive_key(&m, NodupeBasis::Path).key,
        "h,20240102T030405.25"
    );
    Ok(())
}

#[test]
fn key_with_basis_name_and_data() -> R {
    let mut m = msg("/a/b/file.grib2")?;
    m.identity = Some(Identity::new(IdentityMethod::Sha512, "abc"));
    assert_eq!(
        derive_key(&m, NodupeBasis::Name),
        key("file.grib2", "file.grib2")
    );
    assert_eq!(derive_key(&m, NodupeBasis::Data), key("sha512,abc", "data"));
    assert_eq!(NodupeBasis::parse("data"), Some(NodupeBasis::Data));
    assert_eq!(NodupeBasis::parse("name"), Some(NodupeBasis::Name));
    assert_eq!(NodupeBasis::parse("path"), Some(NodupeBasis::Path));
    assert_eq!(NodupeBasis::parse("other"), None);
    assert_eq!(NodupeBasis::default(), NodupeBasis::Path);
    Ok(())
}

#[test]
fn key_override_from_a_callback() -> R {
    let mut m = msg("/a/b")?;
    m.local.other.insert(
        "nodupe_override".into(),
        r#"{"key": "K", "path": "P"}"#.parse()?,
    );
    assert_eq!(derive_key(&m, NodupeBasis::Path), key("K", "P"));
    assert_eq!(derive_key(&m, NodupeBasis::Data), key("K", "data"));
    assert_eq!(derive_key(&m, NodupeBasis::Name), key("b", "b"));
    m.local
        .other
        .insert("nodupe_override".into(), r#"{"key": ""}"#.parse()?);
    assert_eq!(
        derive_key(&m, NodupeBasis::Path),
        key("/a/b,20240102T030405.25", "a/b")
    );
    Ok(())
}

#[test]
fn duplicates_need_same_key_and_path() -> R {
    let dir = tempfile::tempdir()?;
    let mut c = NodupeCache::open_at(cache_file(&dir), TTL, 1000, T0)?;
    assert_eq!(c.check(&key("k", "p"), T0), NodupeVerdict::New);
    assert_eq!(c.check(&key("k", "p"), T0 + 1.0), NodupeVerdict::Duplicate);
    assert_eq!(c.check(&key("k", "q"), T0 + 2.0), NodupeVerdict::New);
    assert_eq!(c.check(&key("j", "p"), T0 + 3.0), NodupeVerdict::New);
    assert_eq!(c.check(&key("k", "q"), T0 + 4.0), NodupeVerdict::Duplicate);
    assert_eq!(c.len(), 3);
    Ok(())
}

#[test]
fn ttl_expiry_and_refresh() -> R {
    let dir = tempfile::tempdir()?;
    let mut c = NodupeCache::open_at(cache_file(&dir), TTL, 1000, T0)?;
    let k = key("k", "p");
    assert_eq!(c.check(&k, T0), NodupeVerdict::New);
    // Exactly ttl later still counts (sr3: time + ttl >= now).
    assert_eq!(c.check(&k, T0 + 300.0), NodupeVerdict::Duplicate);
    // That check refreshed the time: 599 s after the first one is still a duplicate.
    assert_eq!(c.check(&k, T0 + 599.0), NodupeVerdict::Duplicate);
    // More than ttl after the last check: new again.
    assert_eq!(c.check(&k, T0 + 900.0), NodupeVerdict::New);
    // Housekeeping drops the expired entries.
    c.check(&key("old", "p"), T0 + 900.0);
    let st = c.housekeeping(T0 + 1100.0)?;
    assert_eq!((st.expired, st.now_saved), (0, 2));
    let st = c.housekeeping(T0 + 1201.0)?;
    assert_eq!((st.expired, st.now_saved, c.len()), (2, 0, 0));
    Ok(())
}

#[test]
fn reload_from_file_skips_expired() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    {
        let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0)?;
        c.check(&key("sha512,A", "d/a b.txt"), T0);
        c.check(&key("sha512,B", "d/b"), T0 + 200.0);
        c.check(&key("f,20240101T000000,5", "é/x%y"), T0 + 200.0);
        c.flush()?;
    }
    let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0 + 400.0)?;
    assert_eq!(c.len(), 2, "the entry of T0 expired at T0+400");
    assert_eq!(
        c.check(&key("sha512,B", "d/b"), T0 + 400.0),
        NodupeVerdict::Duplicate
    );
    assert_eq!(
        c.check(&key("f,20240101T000000,5", "é/x%y"), T0 + 400.0),
        NodupeVerdict::Duplicate
    );
    assert_eq!(
        c.check(&key("sha512,A", "d/a b.txt"), T0 + 400.0),
        NodupeVerdict::New
    );
    Ok(())
}

#[test]
fn file_lines_are_in_sr3_format() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0)?;
    c.check(&key("sha512,q+/=", "a/b c/é.txt"), T0 + 0.25);
    c.check(&key("rel/p,20240101T000000.5,12", "rel/p"), T0 + 1.0);
    c.flush()?;
    // What Python writes: "%s %f %s\n" % (key, now, urllib.parse.quote(path)).
    let expected = "sha512,q+/= 1700000000.250000 a/b%20c/%C3%A9.txt\n\
                    rel/p,20240101T000000.5,12 1700000001.000000 rel/p\n";
    assert_eq!(fs::read_to_string(&file)?, expected);
    // Housekeeping rewrites the same lines, oldest first.
    c.housekeeping(T0 + 2.0)?;
    assert_eq!(fs::read_to_string(&file)?, expected);
    Ok(())
}

#[test]
fn loads_a_file_written_by_sr3() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    fs::create_dir_all(file.parent().ok_or("no parent")?)?;
    // As sr3's disk.py writes it, including a re-seen entry (the last line wins), an old one,
    // a key with a space (sr3 itself would skip it), and a line sr3 reads with split().
    let lines = [
        format_line("sha512,AAA", T0 - 100.0, "x/one"),
        format_line("sha512,AAA", T0 - 10.0, "x/two"),
        format_line("sha512,BBB", T0 - 1000.0, "x/old"),
        format_line("x/sp ace,20240101T000000,3", T0 - 5.0, "x/sp ace"),
        "md5,CCC\t1699999990.5   x/tab%20bed\n".to_string(),
        format_line("sha512,AAA", T0 - 290.0, "x/one"),
    ];
    fs::write(&file, lines.concat())?;
    let mut c = NodupeCache::open_at(file, TTL, 1000, T0)?;
    assert_eq!(c.len(), 4);
    for (k, p) in [
        ("sha512,AAA", "x/two"),
        ("x/sp ace,20240101T000000,3", "x/sp ace"),
        ("md5,CCC", "x/tab bed"),
    ] {
        assert_eq!(c.check(&key(k, p), T0), NodupeVerdict::Duplicate, "{k}");
    }
    // x/one was last written with T0-290: still within the ttl at T0 + 5, not at T0 + 11.
    assert_eq!(
        c.check(&key("sha512,AAA", "x/one"), T0 + 11.0),
        NodupeVerdict::New
    );
    assert_eq!(c.check(&key("sha512,BBB", "x/old"), T0), NodupeVerdict::New);
    Ok(())
}

#[test]
fn torn_last_line_and_corrupt_lines_are_skipped() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    fs::create_dir_all(file.parent().ok_or("no parent")?)?;
    let mut bytes = format_line("k1", T0, "p1").into_bytes();
    bytes.extend_from_slice(b"garbage line\n");
    bytes.extend_from_slice(b"\xff\xfe not utf-8 1700000000.0 p\n");
    bytes.extend_from_slice(format_line("k2", T0, "p2").as_bytes());
    bytes.extend_from_slice(b"k3 1700000000.00"); // kill -9 in the middle of a line
    fs::write(&file, &bytes)?;
    {
        let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0)?;
        assert_eq!(c.len(), 2);
        assert_eq!(c.check(&key("k2", "p2"), T0), NodupeVerdict::Duplicate);
        assert_eq!(c.check(&key("k3", ""), T0), NodupeVerdict::New);
        c.flush()?;
    }
    // The torn tail was cut when opening, so the appended lines are intact.
    let text = fs::read_to_string(&file)?;
    assert!(text.ends_with('\n'));
    assert!(!text.contains("garbage"));
    let c = NodupeCache::open_at(file, TTL, 1000, T0)?;
    assert_eq!(c.len(), 3);
    Ok(())
}

#[test]
fn eviction_at_max_entries_drops_least_recently_seen() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    let mut c = NodupeCache::open_at(file.clone(), TTL, 3, T0)?;
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        c.check(&key(k, "p"), T0 + i as f64);
    }
    // Seeing "a" again makes "b" the least recently seen.
    assert_eq!(c.check(&key("a", "p"), T0 + 3.0), NodupeVerdict::Duplicate);
    assert_eq!(c.check(&key("d", "p"), T0 + 4.0), NodupeVerdict::New);
    assert_eq!(c.len(), 3);
    assert_eq!(c.check(&key("a", "p"), T0 + 5.0), NodupeVerdict::Duplicate);
    assert_eq!(c.check(&key("b", "p"), T0 + 6.0), NodupeVerdict::New); // evicts "c"
    assert_eq!(c.check(&key("c", "p"), T0 + 7.0), NodupeVerdict::New); // evicts "d"
    let st = c.housekeeping(T0 + 8.0)?;
    assert_eq!(st.evicted, 3);
    assert_eq!(st.now_saved, 3);
    assert_eq!(fs::read_to_string(&file)?.lines().count(), 3);
    // Bounded on load too.
    drop(c);
    let c = NodupeCache::open_at(file, TTL, 2, T0 + 9.0)?;
    assert_eq!(c.len(), 2);
    Ok(())
}

#[test]
fn many_entries_stay_bounded_and_consistent() -> R {
    let dir = tempfile::tempdir()?;
    let mut c = NodupeCache::open_at(cache_file(&dir), TTL, 5000, T0)?;
    let mut dups = 0;
    for i in 0..60_000u32 {
        let k = key(&format!("sha512,{}", i % 7000), "p");
        if c.check(&k, T0 + f64::from(i) * 0.001) == NodupeVerdict::Duplicate {
            dups += 1;
        }
        assert!(c.len() <= 5000);
        if i % 1000 == 0 {
            c.flush()?;
        }
    }
    // A cycle of 7000 keys through a cache of 5000: always evicted before coming back.
    assert_eq!(dups, 0);
    let mut c2 = NodupeCache::open_at(cache_file(&dir), TTL, 5000, T0)?;
    c2.flush()?;
    drop(c2);
    let mut c = NodupeCache::open_at(cache_file(&dir), TTL, 10_000, T0 + 60.0)?;
    for i in 0..20_000u32 {
        let k = key(&format!("sha512,{}", i % 7000), "p");
        let v = c.check(&k, T0 + 60.0 + f64::from(i) * 0.001);
        if i >= 7000 {
            assert_eq!(v, NodupeVerdict::Duplicate, "{i}");
        }
    }
    Ok(())
}

#[test]
fn the_file_does_not_grow_without_bound() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0)?;
    let mut biggest = 0;
    for i in 0..300_000u32 {
        c.check(&key(&format!("k{}", i % 10), "some/path"), T0 + 1.0);
        if i % 500 == 0 {
            c.flush()?;
            biggest = biggest.max(fs::metadata(&file)?.len());
        }
    }
    c.flush()?;
    // About 100k lines of ~30 bytes at most between rewrites, 300k checks in total.
    assert!(biggest < 4 << 20, "cache file reached {biggest} bytes");
    Ok(())
}

#[test]
fn housekeeping_stats_and_log_line() -> R {
    let dir = tempfile::tempdir()?;
    let mut c = NodupeCache::open_at(cache_file(&dir), TTL, 1000, T0)?;
    c.check(&key("a", "p"), T0 + 1.0);
    c.check(&key("a", "p"), T0 + 2.0);
    c.check(&key("b", "p"), T0 + 3.0);
    let st = c.housekeeping(T0 + 10.0)?;
    assert_eq!((st.was, st.increased_to, st.now_saved), (0, 3, 2));
    assert_eq!(
        st.to_string(),
        "was 0, but since 10.00 sec, increased up to 3, now saved 2 entries"
    );
    c.check(&key("c", "p"), T0 + 11.0);
    let st = c.housekeeping(T0 + 304.0)?;
    assert_eq!(
        (st.was, st.increased_to, st.now_saved, st.expired),
        (2, 3, 1, 2)
    );
    assert_eq!(
        st.to_string(),
        "was 2, but since 294.00 sec, increased up to 3, now saved 1 entries"
    );
    Ok(())
}

#[test]
fn keys_with_line_breaks_are_kept_in_memory_only() -> R {
    let dir = tempfile::tempdir()?;
    let file = cache_file(&dir);
    let mut c = NodupeCache::open_at(file.clone(), TTL, 1000, T0)?;
    let k = key("odd\nname,20240101T000000", "odd\nname");
    assert_eq!(c.check(&k, T0), NodupeVerdict::New);
    assert_eq!(c.check(&k, T0 + 1.0), NodupeVerdict::Duplicate);
    c.check(&key("ok", "a\nb"), T0);
    c.flush()?;
    assert_eq!(fs::read_to_string(&file)?, format_line("ok", T0, "a\nb"));
    assert_eq!(fs::read_to_string(&file)?, "ok 1700000000.000000 a%0Ab\n");
    Ok(())
}

#[test]
fn a_missing_directory_is_created_and_an_unreadable_path_is_an_error_naming_it() -> R {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("deep/er/recent_files_000.cache");
    NodupeCache::open(file.clone(), TTL, 10)?;
    assert!(file.exists());
    // A directory where the file should be.
    let bad = dir.path().join("isadir");
    fs::create_dir_all(bad.join("x"))?;
    let err = NodupeCache::open(bad.clone(), TTL, 10)
        .err()
        .ok_or("opening a directory as the cache file should fail")?;
    assert_eq!(err.path(), bad.as_path());
    assert!(err.to_string().contains("isadir"), "{err}");
    Ok(())
}
