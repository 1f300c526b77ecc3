//! Topic derivation (relPath -> AMQP routing key / MQTT topic) and parsing a received key back.
//!
//! `cargo bench -p pitcher-core --bench topic`; results are recorded in bench/RESULTS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pitcher_core::topic::{amqp_topic, amqp_words, mqtt_topic, rel_path_dirs};

/// relPaths as they come from real feeds: a dd.weather-like swob path, a deep WIS2-like tree
/// with a `#` to escape, and a flat one.
const REL_PATHS: [&str; 3] = [
    "20261202/WXO-DD/observations/swob-ml/20261202/CYUL/2026-12-02-0900-CYUL-AUTO-swob.xml",
    "cache/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/file #1.bufr4",
    "file.txt",
];

fn bench(c: &mut Criterion) {
    let prefix = ["v03"];
    let mut g = c.benchmark_group("topic");
    for (i, rel) in REL_PATHS.iter().enumerate() {
        g.bench_function(format!("amqp_topic path{i}"), |b| {
            b.iter(|| black_box(amqp_topic(&prefix, &rel_path_dirs(black_box(rel)))))
        });
        g.bench_function(format!("mqtt_topic path{i}"), |b| {
            b.iter(|| {
                black_box(mqtt_topic(
                    "xpublic",
                    &prefix,
                    &rel_path_dirs(black_box(rel)),
                ))
            })
        });
        let key = amqp_topic(&prefix, &rel_path_dirs(rel));
        g.bench_function(format!("amqp_words path{i}"), |b| {
            b.iter(|| black_box(amqp_words(black_box(&key))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
