//! accept/reject mask matching (`LoadedFlow::filter`) on flows loaded from real sr3-syntax files.
//!
//! `cargo bench -p pitcher-config --bench masks`; results are recorded in bench/RESULTS.md.
#![allow(clippy::unwrap_used)]

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pitcher_config::{Component, LoadedFlow, load_flow};

const BASE: &str = "https://dd.weather.gc.ca/";
const SWOB: &str =
    "20261202/WXO-DD/observations/swob-ml/20261202/CYUL/2026-12-02-0900-CYUL-AUTO-swob.xml";
const OTHER: &str = "20261202/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/003/CMC_glb_TMP.grib2";

fn flow(dir: &std::path::Path, name: &str, masks: &str) -> LoadedFlow {
    let text = format!(
        "broker amqps://anonymous@dd.weather.gc.ca/\nsubtopic #\ndirectory /tmp/bench\n{masks}"
    );
    std::fs::create_dir_all(dir.join("subscribe")).unwrap();
    std::fs::write(dir.join(format!("subscribe/{name}.conf")), text).unwrap();
    load_flow(dir, Component::Subscribe, name, &[]).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // A typical subscriber: a few rejects, then accepts; the swob URL matches the last accept.
    let typical = flow(
        dir.path(),
        "typical",
        "reject .*\\.tmp$\nreject .*/model_.*\nreject .*CWAO.*\naccept .*/citypage_weather/.*\\.xml\naccept .*/hydrometric/.*\naccept .*/observations/swob-ml/.*/C[A-Z]{3}/.*-swob\\.xml\n",
    );
    // A "hot" configuration as in sr3 issue #1104: 150 station accepts, matched at the end or not.
    let mut many = String::new();
    for i in 0..149 {
        writeln!(many, "accept .*/swob-ml/.*/X{i:03}/.*").unwrap();
    }
    many.push_str("accept .*/swob-ml/.*/CYUL/.*\n");
    let hot = flow(dir.path(), "hot150", &many);
    let mut g = c.benchmark_group("masks");
    g.bench_function("typical 6 masks, accepted by the last", |b| {
        b.iter(|| black_box(typical.filter(black_box(BASE), black_box(SWOB))))
    });
    g.bench_function("typical 6 masks, rejected by the second", |b| {
        b.iter(|| black_box(typical.filter(black_box(BASE), black_box(OTHER))))
    });
    g.bench_function("150 accepts, accepted by the last", |b| {
        b.iter(|| black_box(hot.filter(black_box(BASE), black_box(SWOB))))
    });
    g.bench_function("150 accepts, none matches", |b| {
        b.iter(|| black_box(hot.filter(black_box(BASE), black_box(OTHER))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
