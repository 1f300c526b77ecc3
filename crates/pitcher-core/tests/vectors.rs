//! Golden tests: real messages written by sr3 3.3.1 (tests/vectors/, copied from shared/vectors).
#![allow(clippy::unwrap_used)]

use pitcher_core::topic::{amqp_topic, amqp_words, mqtt_topic, mqtt_words, rel_path_dirs};
use pitcher_core::{Format, Headers, IdentityMethod, Message, format, v02, v03};
use serde_json::Value;

struct AmqpVector {
    note: String,
    routing_key: String,
    content_type: String,
    headers: Headers,
    body: String,
}

fn amqp_vectors() -> Vec<AmqpVector> {
    let text = include_str!("vectors/amqp.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let headers = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            AmqpVector {
                note: v["note"].as_str().unwrap().to_string(),
                routing_key: v["routing_key"].as_str().unwrap().to_string(),
                content_type: v["content_type"].as_str().unwrap().to_string(),
                headers,
                body: v["body"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn decode(v: &AmqpVector) -> (Format, Message) {
    let f = Format::detect(
        Some(&v.content_type),
        v.body.as_bytes(),
        Some(&v.routing_key),
    )
    .unwrap();
    let m = format::decode(f, v.body.as_bytes(), &v.headers, Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", v.note));
    (f, m)
}

#[test]
fn there_are_vectors_of_both_formats() {
    let vs = amqp_vectors();
    assert!(vs.len() >= 20);
    assert!(vs.iter().any(|v| v.content_type == "text/plain"));
    assert!(vs.iter().any(|v| v.content_type == "application/json"));
}

#[test]
fn every_amqp_vector_decodes_and_reencodes_identically() {
    for v in amqp_vectors() {
        let (f, m) = decode(&v);
        let enc = format::encode(f, &m).unwrap();
        assert_eq!(enc.content_type, v.content_type, "{}", v.note);
        match f {
            // Byte for byte: field order, spacing and time spellings are kept.
            Format::V03 => assert_eq!(enc.body, v.body, "{}", v.note),
            Format::V02 => {
                assert_eq!(enc.body, v.body, "{}", v.note);
                assert_eq!(enc.headers, v.headers, "{}", v.note);
            }
        }
    }
}

#[test]
fn topics_derive_like_sr3() {
    for v in amqp_vectors() {
        let (_, m) = decode(&v);
        let words = amqp_words(&v.routing_key);
        let prefix: Vec<&str> = if v.routing_key.starts_with("v02.post") {
            vec!["v02", "post"]
        } else {
            vec!["v03"]
        };
        assert_eq!(
            amqp_topic(&prefix, &rel_path_dirs(&m.rel_path)),
            v.routing_key,
            "{}",
            v.note
        );
        assert_eq!(
            words[..prefix.len()],
            prefix.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]
        );
    }
}

#[test]
fn v03_to_v02_and_back_round_trips() {
    for v in amqp_vectors() {
        let (f, m) = decode(&v);
        if f != Format::V03 || m.blocks.is_some() {
            continue;
        }
        let (body, headers) = v02::encode(&m).unwrap();
        let back = v02::decode(body.as_bytes(), &headers).unwrap();
        let a: Value = serde_json::from_str(&v03::encode(&m)).unwrap();
        let b: Value = serde_json::from_str(&v03::encode(&back)).unwrap();
        assert_eq!(a, b, "{}", v.note);
    }
}

#[test]
fn v02_to_v03_and_back_round_trips() {
    for v in amqp_vectors() {
        let (f, m) = decode(&v);
        if f != Format::V02 {
            continue;
        }
        let body = v03::encode(&m);
        let back = v03::decode(body.as_bytes()).unwrap();
        let (b2, h2) = v02::encode(&back).unwrap();
        assert_eq!(b2, v.body, "{}", v.note);
        assert_eq!(h2, v.headers, "{}", v.note);
    }
}

#[test]
fn v02_and_v03_of_the_same_file_agree() {
    let vs = amqp_vectors();
    let v3 = vs
        .iter()
        .find(|v| v.content_type == "application/json" && v.body.contains("file one#1.txt"))
        .unwrap();
    let v2 = vs
        .iter()
        .find(|v| v.content_type == "text/plain" && v.body.contains("file%20one%231.txt"))
        .unwrap();
    let (_, a) = decode(v3);
    let (_, b) = decode(v2);
    assert_eq!(a.rel_path, b.rel_path);
    assert_eq!(a.rel_path, "obs/2026.11/a_b/file one#1.txt");
    assert_eq!(a.identity, b.identity);
    assert_eq!(a.size, b.size);
    assert_eq!(a.mtime, b.mtime);
    assert_eq!(a.mode, b.mode);
}

#[test]
fn special_vectors_have_the_expected_meaning() {
    let vs = amqp_vectors();
    let cod = vs
        .iter()
        .map(decode)
        .find(|(_, m)| {
            m.identity
                .as_ref()
                .is_some_and(|i| i.method == IdentityMethod::Cod)
        })
        .unwrap()
        .1;
    assert_eq!(cod.identity.unwrap().value, "sha512");
    let blocks: Vec<Message> = vs
        .iter()
        .map(|v| decode(v).1)
        .filter(|m| m.blocks.is_some())
        .collect();
    assert_eq!(blocks.len(), 3);
    for (i, m) in blocks.iter().enumerate() {
        let b = m.blocks.as_ref().unwrap();
        assert_eq!(b.number, i as u64);
        assert_eq!(b.manifest.as_ref().unwrap().len(), 3);
        assert_eq!(
            b.manifest.as_ref().unwrap()[&(i as u64)].identity,
            m.identity.as_ref().unwrap().value
        );
    }
    let rename = vs
        .iter()
        .map(|v| decode(v).1)
        .find(|m| m.file_op.as_ref().is_some_and(|f| f.rename.is_some()))
        .unwrap();
    assert_eq!(
        rename.file_op.unwrap().rename.unwrap(),
        "/srv/pump/www/watched/ex_new.txt"
    );
    // The v02 link message sr3 3.3.1 writes has no `link` header: sr3 reads it as identity "link".
    let link2 = vs
        .iter()
        .filter(|v| v.content_type == "text/plain")
        .map(|v| decode(v).1)
        .find(|m| m.rel_path.ends_with("link.bin"))
        .unwrap();
    assert_eq!(link2.identity.unwrap().method.as_str(), "link");
}

#[test]
fn every_mqtt_vector_decodes_and_reencodes_identically() {
    let text = include_str!("vectors/mqtt-v5.txt");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.splitn(7, '|').collect();
        assert_eq!(parts.len(), 7, "{line}");
        let (topic, ct, payload) = (parts[0], parts[3], parts[6]);
        let f = Format::detect(Some(ct), payload.as_bytes(), Some(topic)).unwrap();
        assert_eq!(f, Format::V03);
        let m = v03::decode(payload.as_bytes()).unwrap();
        assert_eq!(v03::encode(&m), payload);
        let (exchange, words) = mqtt_words(topic);
        assert_eq!(words[0], "v03");
        assert_eq!(
            mqtt_topic(&exchange, &["v03"], &rel_path_dirs(&m.rel_path)),
            topic
        );
        n += 1;
    }
    assert_eq!(n, 7);
}
