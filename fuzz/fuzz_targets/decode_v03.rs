//! Any bytes given to the v03 decoder: never a panic; whatever decodes re-encodes, and the
//! re-encoding decodes to the same message (and the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pitcher_core::{Format, Headers, format, v02, v03};

fuzz_target!(|data: &[u8]| {
    let _ = Format::detect(None, data, None);
    if let Ok(msg) = v03::decode(data) {
        let once = v03::encode(&msg);
        let again = v03::decode(once.as_bytes()).expect("re-encoded v03 must decode");
        assert_eq!(again, msg);
        assert_eq!(v03::encode(&again), once);
        // Converting to v02 may be refused (header limits), but must not panic.
        if let Ok((body, headers)) = v02::encode(&msg) {
            let _ = v02::decode(body.as_bytes(), &headers);
        }
        let _ = format::decode(Format::V02, data, &Headers::new(), Default::default());
    }
});
