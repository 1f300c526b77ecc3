//! Rough throughput figures (ignored by default; no timing asserts):
//! `cargo test -p pitcher-state --release --test throughput -- --ignored --nocapture`

use std::time::{Duration, Instant};

use pitcher_state::{NodupeCache, NodupeKey, NodupeVerdict, Spool};

type R = Result<(), Box<dyn std::error::Error>>;

#[test]
#[ignore]
fn nodupe_check_rate() -> R {
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("recent_files_001.cache");
    let mut c = NodupeCache::open(file, Duration::from_secs(300), 1_000_000)?;
    let keys: Vec<NodupeKey> = (0..1_500_000u32)
        .map(|i| {
            NodupeKey::new(
                format!("sha512,{:0>86}==", i % 1_200_000),
                format!("WXO-DD/observations/swob-ml/20240102/CXYZ/{i}.xml"),
            )
        })
        .collect();
    let t = Instant::now();
    let mut dups = 0;
    let now = pitcher_state::unix_now();
    for (i, k) in keys.iter().enumerate() {
        if c.check(k, now + i as f64 * 1e-5) == NodupeVerdict::Duplicate {
            dups += 1;
        }
        if i % 100 == 99 {
            c.flush()?;
        }
    }
    c.flush()?;
    let el = t.elapsed().as_secs_f64();
    println!(
        "nodupe: {} checks in {el:.2} s = {:.0}/s ({dups} dups, {} entries)",
        keys.len(),
        keys.len() as f64 / el,
        c.len()
    );
    let t = Instant::now();
    let st = c.housekeeping(now + 20.0)?;
    println!(
        "nodupe housekeeping: {:.2} s: {st}",
        t.elapsed().as_secs_f64()
    );
    drop(c);
    let t = Instant::now();
    let c = NodupeCache::open(
        tmp.path().join("recent_files_001.cache"),
        Duration::from_secs(300),
        1_000_000,
    )?;
    println!(
        "nodupe load: {} entries in {:.2} s",
        c.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
#[ignore]
fn spool_rates() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("q");
    let mut s = Spool::open(dir.clone())?;
    let payload = vec![b'm'; 700];
    let t = Instant::now();
    let n = 2000;
    for _ in 0..n {
        s.push(&payload, 0, 0.0)?;
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "spool: {n} single pushes (fsync each) in {el:.2} s = {:.0}/s",
        n as f64 / el
    );
    let batch: Vec<(Vec<u8>, u32, f64)> = (0..100).map(|_| (payload.clone(), 0, 0.0)).collect();
    let t = Instant::now();
    for _ in 0..2000 {
        s.push_many(&batch)?;
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "spool: 200000 pushes in batches of 100 in {el:.2} s = {:.0}/s",
        200_000.0 / el
    );
    drop(s);
    let t = Instant::now();
    let mut s = Spool::open(dir.clone())?;
    println!(
        "spool: open with {} entries in {:.2} s",
        s.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    println!(
        "spool_len: {} in {:.2} s",
        pitcher_state::spool_len(&dir)?,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut k = 0;
    loop {
        let got = s.take(100, f64::MAX)?;
        if got.is_empty() {
            break;
        }
        for e in got {
            s.done(e.id)?;
            k += 1;
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!("spool: {k} take+done in {el:.2} s = {:.0}/s", k as f64 / el);
    Ok(())
}
