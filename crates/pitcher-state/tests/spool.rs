//! The retry spool: order, back-off, durability across crashes, damage, bounded disk use.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pitcher_state::{EntryId, Spool, StateError, spool_len};

type R = Result<(), Box<dyn std::error::Error>>;

const T0: f64 = 1_700_000_000.0;

fn segments(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("segment-"))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn dir_bytes(dir: &Path) -> Result<u64, std::io::Error> {
    let mut n = 0;
    for e in fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

fn payloads(entries: &[pitcher_state::SpoolEntry]) -> Vec<Vec<u8>> {
    entries.iter().map(|e| e.payload.clone()).collect()
}

#[test]
fn push_take_done_in_order() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("work_retry_01");
    let mut s = Spool::open(dir.clone())?;
    assert!(s.is_empty());
    for i in 0..5u32 {
        s.push_at(format!("msg {i}").as_bytes(), 0, T0 + f64::from(i), T0)?;
    }
    assert_eq!(s.len(), 5);
    assert_eq!(spool_len(&dir)?, 5);
    let a = s.take(2, T0)?;
    assert_eq!(payloads(&a), [b"msg 0".to_vec(), b"msg 1".to_vec()]);
    assert_eq!((a[0].attempts, a[0].first_queued), (0, T0));
    assert_eq!(s.in_flight(), 2);
    let b = s.take(10, T0)?;
    assert_eq!(b.len(), 3);
    assert_eq!(b[2].payload, b"msg 4");
    assert!(
        s.take(10, T0)?.is_empty(),
        "in-flight entries are not handed out twice"
    );
    for e in a.iter().chain(&b) {
        s.done(e.id)?;
    }
    assert!(s.is_empty());
    assert_eq!(spool_len(&dir)?, 0);
    // done twice, or for an unknown id: an error naming the spool.
    let err = s.done(a[0].id).err().ok_or("done twice should fail")?;
    assert!(matches!(err, StateError::UnknownEntry { .. }));
    assert_eq!(err.path(), dir.as_path());
    drop(s);
    let mut s = Spool::open(dir)?;
    assert!(s.is_empty());
    assert!(s.take(10, T0 + 1e6)?.is_empty());
    Ok(())
}

#[test]
fn push_many_is_one_batch() -> R {
    let tmp = tempfile::tempdir()?;
    let mut s = Spool::open(tmp.path().join("q"))?;
    let items: Vec<(Vec<u8>, u32, f64)> = (0..100u32)
        .map(|i| (i.to_le_bytes().to_vec(), 0, T0))
        .collect();
    let ids = s.push_many_at(&items, T0)?;
    assert_eq!(ids.len(), 100);
    s.push_many(&[])?;
    let got = s.take(1000, T0)?;
    assert_eq!(
        payloads(&got),
        items.iter().map(|(p, _, _)| p.clone()).collect::<Vec<_>>()
    );
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<EntryId>>(), ids);
    Ok(())
}

#[test]
fn back_off_due_times() -> R {
    let tmp = tempfile::tempdir()?;
    let mut s = Spool::open(tmp.path().join("q"))?;
    s.push_at(b"a1", 1, T0, T0)?; // due T0 + 1
    s.push_at(b"a3", 3, T0, T0)?; // due T0 + 4
    s.push_at(b"a0", 0, T0, T0)?; // due at once
    s.push_at(b"a20", 20, T0, T0)?; // capped: due T0 + 64
    assert_eq!(s.next_due(), Some(T0));
    assert_eq!(payloads(&s.take(10, T0)?), [b"a0".to_vec()]);
    assert!(s.take(10, T0 + 0.999)?.is_empty());
    assert_eq!(payloads(&s.take(10, T0 + 1.0)?), [b"a1".to_vec()]);
    assert_eq!(s.next_due(), Some(T0 + 4.0));
    assert!(s.take(10, T0 + 3.9)?.is_empty());
    assert_eq!(payloads(&s.take(10, T0 + 63.0)?), [b"a3".to_vec()]);
    assert_eq!(payloads(&s.take(10, T0 + 64.0)?), [b"a20".to_vec()]);
    // A different base applies to later pushes.
    s.set_backoff_base(Duration::from_millis(100));
    s.push_at(b"b2", 2, T0, T0)?; // due T0 + 0.2
    assert!(s.take(10, T0 + 0.1)?.is_empty());
    assert_eq!(payloads(&s.take(10, T0 + 0.2)?), [b"b2".to_vec()]);
    // Due times survive a restart.
    s.push_at(b"late", 7, T0, T0)?;
    drop(s);
    let mut s = Spool::open(tmp.path().join("q"))?;
    assert!(s.take(10, T0 + 6.3)?.iter().all(|e| e.payload != b"late"));
    let got = s.take(10, T0 + 6.4)?;
    assert!(got.iter().any(|e| e.payload == b"late"));
    Ok(())
}

#[test]
fn release_makes_an_entry_due_again() -> R {
    let tmp = tempfile::tempdir()?;
    let mut s = Spool::open(tmp.path().join("q"))?;
    s.push_at(b"x", 0, T0, T0)?;
    s.push_at(b"y", 0, T0, T0)?;
    let got = s.take(1, T0)?;
    s.release(got[0].id);
    s.release(got[0].id); // twice: ignored
    assert_eq!(s.in_flight(), 0);
    assert_eq!(payloads(&s.take(5, T0)?), [b"x".to_vec(), b"y".to_vec()]);
    Ok(())
}

#[test]
fn entries_not_done_come_back_after_a_crash() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    for p in ["one", "two", "three", "four"] {
        s.push_at(p.as_bytes(), 2, T0, T0)?;
    }
    let got = s.take(3, T0 + 10.0)?;
    s.done(got[1].id)?;
    // "Crash": the in-flight entries were neither done nor released.
    drop(s);
    assert_eq!(spool_len(&dir)?, 3);
    let mut s = Spool::open(dir.clone())?;
    assert_eq!(s.len(), 3);
    let again = s.take(10, T0 + 10.0)?;
    assert_eq!(
        payloads(&again),
        [b"one".to_vec(), b"three".to_vec(), b"four".to_vec()]
    );
    assert!(
        again
            .iter()
            .all(|e| e.attempts == 2 && e.first_queued == T0)
    );
    Ok(())
}

#[test]
fn one_process_at_a_time() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let s = Spool::open(dir.clone())?;
    let err = Spool::open(dir.clone())
        .err()
        .ok_or("second open should fail")?;
    assert!(matches!(err, StateError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(s);
    Spool::open(dir)?;
    Ok(())
}

fn binary_payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"\n".to_vec(),
        b"line1\nline2\r\n\n".to_vec(),
        (0..=255u8).collect(),
        b"PRECPRECPREC looks like a record marker".to_vec(),
        (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect(),
        "{\"json\": \"with\\nescapes\", \"é\": 1}\n"
            .as_bytes()
            .to_vec(),
    ]
}

#[test]
fn payloads_with_any_bytes() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    for p in binary_payloads() {
        s.push_at(&p, 0, T0, T0)?;
    }
    drop(s);
    let mut s = Spool::open(dir)?;
    assert_eq!(payloads(&s.take(100, T0)?), binary_payloads());
    Ok(())
}

#[test]
fn a_torn_record_at_the_end_loses_only_that_record() -> R {
    // Cut the last record at every interesting place: inside its header, inside its payload,
    // and just one byte short.
    for cut in [1u64, 10, 47, 48, 49, 60, 99] {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("q");
        let mut s = Spool::open(dir.clone())?;
        for i in 0..3u8 {
            s.push_at(&[i; 52], 0, T0, T0)?;
        }
        drop(s);
        let segs = segments(&dir)?;
        assert_eq!(segs.len(), 1);
        let len = fs::metadata(&segs[0])?.len();
        let f = fs::OpenOptions::new().write(true).open(&segs[0])?;
        f.set_len(len - 100 + cut)?; // the last record is 48 + 52 = 100 bytes
        drop(f);
        assert_eq!(spool_len(&dir)?, 2, "cut {cut}");
        let mut s = Spool::open(dir.clone())?;
        assert_eq!(
            payloads(&s.take(10, T0)?),
            [vec![0u8; 52], vec![1u8; 52]],
            "cut {cut}"
        );
        // New pushes after the damaged segment are fine and survive.
        s.push_at(b"after", 0, T0, T0)?;
        drop(s);
        let mut s = Spool::open(dir)?;
        assert_eq!(s.len(), 3);
        assert_eq!(s.take(10, T0)?[2].payload, b"after");
    }
    Ok(())
}

#[test]
fn damaged_records_in_the_middle_are_skipped() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    for i in 0..5u8 {
        s.push_at(&[b'a' + i; 20], 0, T0, T0)?;
    }
    drop(s);
    let seg = segments(&dir)?.remove(0);
    let mut bytes = fs::read(&seg)?;
    let rec = 48 + 20;
    // Record 1: a flipped payload byte (found when taken). Record 3: a flipped length byte in
    // its header (found when opening; the next record is found again by its marker).
    bytes[8 + rec + 48 + 5] ^= 0xFF;
    bytes[8 + 3 * rec + 4] ^= 0x01;
    fs::write(&seg, &bytes)?;
    let mut s = Spool::open(dir.clone())?;
    assert_eq!(s.len(), 4);
    let got = s.take(10, T0)?;
    assert_eq!(
        payloads(&got),
        [vec![b'a'; 20], vec![b'c'; 20], vec![b'e'; 20]]
    );
    for e in &got {
        s.done(e.id)?;
    }
    assert!(s.is_empty());
    drop(s);
    assert_eq!(spool_len(&dir)?, 0);
    Ok(())
}

#[test]
fn a_file_that_is_not_a_segment_is_left_alone() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("segment-00000003.dat"), b"something else entirely")?;
    fs::write(dir.join("done.log"), b"garbage")?;
    let mut s = Spool::open(dir.clone())?;
    assert!(s.is_empty());
    s.push_at(b"x", 0, T0, T0)?;
    drop(s);
    // The foreign file is still there and the new segment got a higher number.
    assert_eq!(
        fs::read(dir.join("segment-00000003.dat"))?,
        b"something else entirely"
    );
    assert!(dir.join("segment-00000004.dat").exists());
    assert_eq!(Spool::open(dir)?.len(), 1);
    Ok(())
}

#[test]
fn retry_ttl_drops_old_entries() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    s.push_at(b"old", 1, T0 - 1000.0, T0)?;
    s.push_at(b"old but in flight", 0, T0 - 1000.0, T0)?;
    s.push_at(b"new", 1, T0 - 10.0, T0)?;
    let inflight = s.take(1, T0)?;
    assert_eq!(inflight[0].payload, b"old but in flight");
    let st = s.housekeeping(T0 + 100.0, None)?;
    assert_eq!((st.expired, st.len), (0, 3));
    let st = s.housekeeping(T0 + 100.0, Some(Duration::from_secs(500)))?;
    assert_eq!((st.expired, st.len, st.in_flight), (1, 2, 1));
    s.release(inflight[0].id);
    let st = s.housekeeping(T0 + 100.0, Some(Duration::from_secs(500)))?;
    assert_eq!((st.expired, st.len), (1, 1));
    drop(s);
    let mut s = Spool::open(dir)?;
    assert_eq!(payloads(&s.take(10, T0 + 100.0)?), [b"new".to_vec()]);
    Ok(())
}

#[test]
fn disk_use_stays_bounded_over_many_cycles() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    s.set_segment_size(16 * 1024);
    let payload = vec![b'x'; 1000];
    // One entry that stays queued all along (long back-off), pinning its segment until
    // housekeeping moves it.
    s.push_at(b"laggard", 7, T0, T0)?;
    let mut biggest = 0;
    for i in 0..10_000u32 {
        let now = T0 + f64::from(i) * 0.01;
        s.push_at(&payload, 0, now, now)?;
        // Take and finish; now and then leave one in flight for a while.
        let got = s.take(10, now)?;
        for e in got {
            if e.payload == b"laggard" {
                continue;
            }
            s.done(e.id)?;
        }
        if i % 1000 == 999 {
            s.housekeeping(now, None)?;
        }
        if i % 100 == 0 {
            let b = dir_bytes(&dir)?;
            biggest = biggest.max(b);
            assert_eq!(
                b,
                s.disk_usage(),
                "accounting matches the files at cycle {i}"
            );
        }
    }
    // 10 MB went through; at most a few segments of 16 KiB plus a small done-log at any time.
    assert!(biggest < 200 * 1024, "disk use reached {biggest} bytes");
    assert_eq!(s.len(), 1);
    let st = s.housekeeping(T0 + 200.0, None)?;
    assert!(st.disk_bytes < 20 * 1024, "{st:?}");
    drop(s);
    let mut s = Spool::open(dir)?;
    assert_eq!(payloads(&s.take(10, T0 + 100.0)?), [b"laggard".to_vec()]);
    Ok(())
}

#[test]
fn housekeeping_moves_live_records_out_of_sparse_segments() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    s.set_segment_size(4096);
    let mut keep = Vec::new();
    for i in 0..400u32 {
        s.push_at(&i.to_le_bytes(), 0, T0, T0)?;
    }
    for e in s.take(1000, T0)? {
        let i = u32::from_le_bytes(e.payload.as_slice().try_into()?);
        if i % 50 == 0 {
            s.release(e.id);
            keep.push(e.payload);
        } else {
            s.done(e.id)?;
        }
    }
    let before = segments(&dir)?.len();
    let st = s.housekeeping(T0, None)?;
    assert!(st.moved > 0 && st.segments_deleted > 0, "{st:?}");
    assert!(segments(&dir)?.len() < before);
    assert_eq!(st.len, keep.len());
    assert_eq!(payloads(&s.take(1000, T0)?), keep);
    drop(s);
    let mut s = Spool::open(dir)?;
    assert_eq!(payloads(&s.take(1000, T0)?), keep);
    Ok(())
}

/// A compaction interrupted after writing the copies and before deleting the original leaves
/// every live record twice; each entry must still be handed out once, and entries finished
/// afterwards must stay finished even once the original segment is gone.
#[test]
fn copies_left_by_an_interrupted_compaction() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    s.push_at(b"A", 0, T0, T0)?;
    s.push_at(b"B", 0, T0, T0)?;
    drop(s);
    let mut s = Spool::open(dir.clone())?;
    s.push_at(b"D", 0, T0, T0)?;
    drop(s);
    let segs = segments(&dir)?;
    assert_eq!(segs.len(), 2);
    // Segment 3 = the records of segment 1 (A, B) followed by those of segment 2 (D).
    let one = fs::read(&segs[0])?;
    let two = fs::read(&segs[1])?;
    let mut three = one.clone();
    three.extend_from_slice(&two[8..]);
    fs::write(dir.join("segment-00000003.dat"), &three)?;
    fs::remove_file(&segs[1])?;
    assert_eq!(spool_len(&dir)?, 3);
    let mut s = Spool::open(dir.clone())?;
    let got = s.take(10, T0)?;
    assert_eq!(
        payloads(&got),
        [b"A".to_vec(), b"B".to_vec(), b"D".to_vec()]
    );
    s.done(got[0].id)?;
    s.done(got[1].id)?;
    s.housekeeping(T0, None)?;
    assert!(!segs[0].exists(), "segment 1 has nothing live left");
    drop(s);
    assert_eq!(spool_len(&dir)?, 1);
    let mut s = Spool::open(dir)?;
    assert_eq!(payloads(&s.take(10, T0)?), [b"D".to_vec()]);
    Ok(())
}

#[test]
fn too_large_payloads_are_refused() -> R {
    let tmp = tempfile::tempdir()?;
    let mut s = Spool::open(tmp.path().join("q"))?;
    let big = vec![0u8; pitcher_state::spool::record::MAX_PAYLOAD + 1];
    let err = s.push(&big, 0, T0).err().ok_or("should be refused")?;
    assert!(matches!(err, StateError::PayloadTooLarge { .. }));
    assert!(s.is_empty());
    Ok(())
}

#[test]
fn spool_len_of_a_missing_spool_is_zero() -> R {
    let tmp = tempfile::tempdir()?;
    assert_eq!(spool_len(&tmp.path().join("nothing"))?, 0);
    Ok(())
}

// ---- kill -9 -------------------------------------------------------------------------------

const CHILD_ENV: &str = "PITCHER_STATE_KILL9_CHILD_DIR";

fn kill9_payload(i: u64) -> Vec<u8> {
    // Varying lengths, newlines and every byte value.
    let mut p = format!("entry {i}\n").into_bytes();
    p.extend((0..(i % 300)).map(|k| (k * 31 + i) as u8));
    p
}

fn kill9_index(p: &[u8]) -> Option<u64> {
    let text = p.split(|b| *b == b'\n').next()?;
    std::str::from_utf8(text)
        .ok()?
        .strip_prefix("entry ")?
        .parse()
        .ok()
}

/// Not a test on its own: the body run in a child process by `survives_kill_9`.
#[test]
fn kill9_child() -> R {
    use std::io::Write;
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let base: u64 = std::env::var("PITCHER_STATE_KILL9_BASE")?.parse()?;
    let mut s = Spool::open(PathBuf::from(dir))?;
    s.set_segment_size(8 * 1024);
    let mut out = std::io::stdout().lock();
    for i in base..base + 1_000_000 {
        if i % 5 == 4 {
            // Finish a couple (of those due), like a flow does.
            for e in s.take(2, f64::MAX)? {
                let Some(k) = kill9_index(&e.payload) else {
                    continue;
                };
                s.done(e.id)?;
                writeln!(out, "@@done {k}")?;
            }
        } else {
            s.push(&kill9_payload(i), (i % 4) as u32, i as f64)?;
            writeln!(out, "@@pushed {i}")?;
        }
        if i % 97 == 0 {
            s.housekeeping(pitcher_state::unix_now(), None)?;
        }
        out.flush()?;
    }
    Ok(())
}

#[test]
fn survives_kill_9() -> R {
    use std::collections::{HashMap, HashSet};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("post_retry_001");
    let exe = std::env::current_exe()?;
    let mut pushed: HashSet<u64> = HashSet::new();
    let mut done: HashSet<u64> = HashSet::new();
    for (round, lines_before_kill) in [150usize, 600, 40, 1000].into_iter().enumerate() {
        let base = round as u64 * 10_000_000;
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .env("PITCHER_STATE_KILL9_BASE", base.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut r = BufReader::new(stdout);
        let mut seen = 0;
        let mut line = Vec::new();
        let mut killed = false;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            // A line cut by the kill (no newline) confirms nothing.
            if line.last() != Some(&b'\n') {
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(n) = text.trim_end().strip_prefix("@@pushed ") {
                pushed.insert(n.parse()?);
                seen += 1;
            } else if let Some(n) = text.trim_end().strip_prefix("@@done ") {
                done.insert(n.parse()?);
            }
            if seen == lines_before_kill && !killed {
                child.kill()?; // SIGKILL
                killed = true;
            }
        }
        child.wait()?;
        assert!(
            killed,
            "round {round}: the child stopped before it was killed"
        );
    }
    // Everything pushed (push returned Ok) and not finished is there, intact, once.
    let mut s = Spool::open(dir.clone())?;
    let all = s.take(usize::MAX, f64::MAX)?;
    let mut present: HashMap<u64, usize> = HashMap::new();
    for e in &all {
        let i = kill9_index(&e.payload).ok_or("unreadable payload")?;
        assert_eq!(e.payload, kill9_payload(i), "payload of {i} intact");
        *present.entry(i).or_default() += 1;
    }
    assert!(present.values().all(|n| *n == 1), "no entry twice");
    for i in pushed.difference(&done) {
        assert!(present.contains_key(i), "entry {i} was pushed and is lost");
    }
    // What was marked done (and survived a kill -9, not a power cut) does not come back.
    for i in &done {
        assert!(!present.contains_key(i), "entry {i} was done and came back");
    }
    assert_eq!(spool_len(&dir)?, all.len());
    assert!(
        pushed.len() > 1000,
        "the children did push: {}",
        pushed.len()
    );
    Ok(())
}
