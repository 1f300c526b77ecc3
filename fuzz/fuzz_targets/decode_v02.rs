//! v02 body plus headers from arbitrary bytes: first line is the body, then `name=value` lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pitcher_core::{Headers, v02, v03};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = v02::decode(data, &Headers::new());
        return;
    };
    let mut lines = text.split('\n');
    let body = lines.next().unwrap_or("");
    let headers: Headers = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Ok(msg) = v02::decode(body.as_bytes(), &headers) {
        let json = v03::encode(&msg);
        let back = v03::decode(json.as_bytes()).expect("v03 encoding of a decoded v02 message must decode");
        assert_eq!(back.rel_path, msg.rel_path);
        let _ = v02::encode(&msg);
    }
});
