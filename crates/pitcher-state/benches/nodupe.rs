//! NodupeCache lookups: check-and-insert of new keys, and of keys already cached (duplicates),
//! with a 100,000-entry cache; keys derived from messages as the flow does.
//!
//! `cargo bench -p pitcher-state --bench nodupe`; results are recorded in bench/RESULTS.md.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pitcher_core::{Identity, IdentityMethod, Message};
use pitcher_state::nodupe::{NodupeBasis, NodupeCache, NodupeKey, derive_key};

const N: usize = 100_000;

fn keys(n: usize, tag: &str) -> Vec<NodupeKey> {
    (0..n)
        .map(|i| {
            let mut m = Message::new(
                "https://dd.weather.gc.ca/",
                format!("20261202/WXO-DD/observations/swob-ml/20261202/S{i:05}/{tag}-swob.xml"),
            );
            m.identity = Some(Identity::new(
                IdentityMethod::Sha512,
                format!(
                    "{tag}{i:08}Z3pOzqqkpmC0cOpf0hqzSNVKm1iNBPJFwAFg3MqX9nvHrBBhXWQvr+xwIbxg=="
                ),
            ));
            derive_key(&m, NodupeBasis::Path)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let seen = keys(N, "a");
    // Fill to the bound so that new keys evict (the steady state of a long-running flow).
    let fill = keys(N, "b");
    let mut cache = NodupeCache::open(
        dir.path().join("nodupe.txt"),
        Duration::from_secs(3600),
        2 * N,
    )
    .unwrap();
    let now = pitcher_state::unix_now();
    for k in fill.iter().chain(&seen) {
        cache.check(k, now);
    }
    let mut g = c.benchmark_group("nodupe");
    let mut i = 0;
    g.bench_function("check duplicate (100k cached)", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            black_box(cache.check(black_box(&seen[i]), now))
        })
    });
    let mut j = 0u64;
    g.bench_function("check new key (cache full at 200k, evicting)", |b| {
        b.iter_batched(
            || {
                j += 1;
                NodupeKey::new(
                    format!("sha512,{j:08}Z3pOzqqkpmC0cOpf0hqzSNVKm1iNBPJFwAFg3MqX9nvHrBBhX=="),
                    format!("20261202/WXO-DD/observations/swob-ml/20261202/N{j}/x-swob.xml"),
                )
            },
            |k| black_box(cache.check(&k, now)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("derive_key (path basis, sha512 identity)", |b| {
        let mut m = Message::new(
            "https://dd.weather.gc.ca/",
            "20261202/WXO-DD/observations/swob-ml/20261202/CYUL/x-swob.xml",
        );
        m.identity = Some(Identity::new(
            IdentityMethod::Sha512,
            "Z3pOzqqkpmC0cOpf0hqz",
        ));
        b.iter(|| black_box(derive_key(black_box(&m), NodupeBasis::Path)))
    });
    g.finish();
    cache.flush().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
