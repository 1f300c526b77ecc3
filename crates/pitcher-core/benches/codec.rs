//! v03 / v02 decode and encode over the real sr3 messages in tests/vectors/amqp.jsonl.
//!
//! `cargo bench -p pitcher-core --bench codec`; results are recorded in bench/RESULTS.md.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pitcher_core::{Format, Headers, format};
use serde_json::Value;

struct Vector {
    format: Format,
    headers: Headers,
    body: String,
}

fn vectors() -> Vec<Vector> {
    include_str!("../tests/vectors/amqp.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let headers: Headers = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let body = v["body"].as_str().unwrap().to_string();
            let format = Format::detect(
                v["content_type"].as_str(),
                body.as_bytes(),
                v["routing_key"].as_str(),
            )
            .unwrap();
            Vector {
                format,
                headers,
                body,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let all = vectors();
    for f in [Format::V03, Format::V02] {
        let vs: Vec<&Vector> = all.iter().filter(|v| v.format == f).collect();
        let msgs: Vec<_> = vs
            .iter()
            .map(|v| format::decode(f, v.body.as_bytes(), &v.headers, Default::default()).unwrap())
            .collect();
        let mut g = c.benchmark_group(format!("{f}"));
        // Per message: one iteration handles every vector of the format.
        g.throughput(Throughput::Elements(vs.len() as u64));
        g.bench_function(format!("decode {} sr3 messages", vs.len()), |b| {
            b.iter(|| {
                for v in &vs {
                    black_box(
                        format::decode(
                            f,
                            black_box(v.body.as_bytes()),
                            &v.headers,
                            Default::default(),
                        )
                        .unwrap(),
                    );
                }
            })
        });
        g.bench_function(format!("encode {} sr3 messages", msgs.len()), |b| {
            b.iter(|| {
                for m in &msgs {
                    black_box(format::encode(f, black_box(m)).unwrap());
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
