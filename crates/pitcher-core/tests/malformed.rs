//! Hostile and odd input: every case returns a typed error (or a sensible message), never panics.
#![allow(clippy::unwrap_used)]

use pitcher_core::{DecodeError, DecodeLimits, Format, Headers, format, v02, v03};

fn v03_err(body: &[u8]) -> DecodeError {
    v03::decode(body).expect_err(&String::from_utf8_lossy(&body[..body.len().min(200)]))
}

const OK: &str =
    r#"{"pubTime": "20240102T030405.25", "baseUrl": "http://h/", "relPath": "a/b.txt"}"#;

#[test]
fn minimal_message_decodes() {
    let m = v03::decode(OK.as_bytes()).unwrap();
    assert_eq!(m.url(), "http://h/a/b.txt");
    assert_eq!(m.local.format, Some(Format::V03));
}

#[test]
fn not_json_and_not_objects() {
    assert!(matches!(v03_err(b""), DecodeError::NotJson(_)));
    assert!(matches!(v03_err(b"hello"), DecodeError::NotJson(_)));
    assert!(matches!(
        v03_err(b"{\"pubTime\": "),
        DecodeError::NotJson(_)
    ));
    assert!(matches!(v03_err(b"[1,2,3]"), DecodeError::NotAnObject));
    assert!(matches!(v03_err(b"\"x\""), DecodeError::NotAnObject));
    assert!(matches!(v03_err(b"null"), DecodeError::NotAnObject));
}

#[test]
fn missing_mandatory_fields() {
    assert_eq!(
        v03_err(br#"{"baseUrl": "x", "relPath": "y"}"#),
        DecodeError::Missing("pubTime")
    );
    assert_eq!(
        v03_err(br#"{"pubTime": "20240102T030405", "relPath": "y"}"#),
        DecodeError::Missing("baseUrl")
    );
    assert_eq!(
        v03_err(br#"{"pubTime": "20240102T030405", "baseUrl": "y"}"#),
        DecodeError::Missing("relPath")
    );
}

#[test]
fn bad_times() {
    for t in ["", "2024", "20241340T030405", "yesterday", "20240102T03040"] {
        let body = format!(r#"{{"pubTime": "{t}", "baseUrl": "x", "relPath": "y"}}"#);
        assert!(
            matches!(v03_err(body.as_bytes()), DecodeError::BadTime { .. }),
            "{t}"
        );
    }
    let body = r#"{"pubTime": "20240102T030405", "baseUrl": "x", "relPath": "y", "mtime": "soon"}"#;
    assert!(
        matches!(v03_err(body.as_bytes()), DecodeError::BadTime { field, .. } if field == "mtime")
    );
    let body = r#"{"pubTime": 20240102, "baseUrl": "x", "relPath": "y"}"#;
    assert!(matches!(
        v03_err(body.as_bytes()),
        DecodeError::WrongType { .. }
    ));
}

#[test]
fn wrong_types() {
    let cases = [
        r#""baseUrl": 1"#,
        r#""relPath": ["a"]"#,
        r#""size": -1"#,
        r#""size": 1.5"#,
        r#""size": "12abc""#,
        r#""size": {}"#,
        r#""mode": "rwx""#,
        r#""mode": 644"#,
        r#""identity": "sha512""#,
        r#""identity": {"value": "x"}"#,
        r#""identity": {"method": 3, "value": "x"}"#,
        r#""fileOp": {"link": 5}"#,
        r#""fileOp": []"#,
        r#""blocks": {"method": "inplace"}"#,
        r#""blocks": {"method": "inplace", "size": 10, "number": 0, "manifest": {"x": {"size": 1}}}"#,
        r#""content": {"encoding": "utf-8"}"#,
        r#""report": {"message": "no code"}"#,
        r#""source": null"#,
    ];
    for c in cases {
        let body = format!(
            r#"{{"pubTime": "20240102T030405", "baseUrl": "http://h/", "relPath": "a", {c}}}"#
        );
        assert!(v03::decode(body.as_bytes()).is_err(), "{c}");
    }
}

#[test]
fn c_implementation_variants_are_accepted() {
    // sarrac: other spacing, numbers as strings, blocks numbers as strings, old `integrity` name.
    let body = r#"{ "pubTime" : "20240102T030405.123" , "baseUrl" : "http://h" , "relPath" : "/a/b.txt" , "integrity" : { "method" : "sha512" , "value" : "abc=" } , "source" : "s" , "size" : "12" , "mode" : "0644" , "blocks" : { "method" : "inplace" , "size" : "100" , "count" : "3" , "remainder" : "12" , "number" : "2" } , "retPath" : "x?y=1" }"#;
    let m = v03::decode(body.as_bytes()).unwrap();
    assert_eq!(m.size, Some(12));
    assert_eq!(m.mode.unwrap().0, 0o644);
    assert_eq!(m.identity.as_ref().unwrap().method.as_str(), "sha512");
    let b = m.blocks.as_ref().unwrap();
    assert_eq!(
        (b.size, b.count, b.remainder, b.number),
        (100, Some(3), Some(12), 2)
    );
    assert_eq!(m.retrieve_path.as_deref(), Some("x?y=1"));
    assert_eq!(m.retrieval_url(), "http://h/x?y=1");
    // Re-encoded with the modern names and numbers.
    let out = v03::encode(&m);
    assert!(
        out.contains(r#""identity": {"method": "sha512", "value": "abc="}"#),
        "{out}"
    );
    assert!(out.contains(r#""size": 12"#));
    assert!(out.contains(r#""retrievePath": "x?y=1""#));
    assert!(!out.contains("integrity"));
}

#[test]
fn unknown_fields_pass_through_in_order() {
    let body = r#"{"pubTime": "20240102T030405", "zz": {"nested": [1, 2]}, "baseUrl": "http://h/", "relPath": "a", "aa": "first", "unknownMethod": true}"#;
    let m = v03::decode(body.as_bytes()).unwrap();
    assert_eq!(m.extra.len(), 3);
    assert_eq!(v03::encode(&m), body);
}

#[test]
fn unknown_identity_methods_are_kept() {
    let body = r#"{"pubTime": "20240102T030405", "baseUrl": "http://h/", "relPath": "a", "identity": {"method": "sha512name", "value": "x"}}"#;
    let m = v03::decode(body.as_bytes()).unwrap();
    assert_eq!(m.identity.as_ref().unwrap().method.as_str(), "sha512name");
    assert_eq!(v03::encode(&m), body);
}

#[test]
fn huge_bodies_are_refused_before_parsing() {
    let big = vec![b' '; 10 * 1024 * 1024];
    assert!(matches!(
        v03::decode(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    assert!(matches!(
        v02::decode(&big, &Headers::new()),
        Err(DecodeError::TooLarge { .. })
    ));
    // A limit can be raised deliberately.
    let mut ok = OK.to_string();
    ok.push_str(&" ".repeat(2 << 20));
    assert!(v03::decode(ok.as_bytes()).is_err());
    assert!(v03::decode_with(ok.as_bytes(), DecodeLimits { max_body: 4 << 20 }).is_ok());
}

#[test]
fn invalid_utf8_is_refused() {
    let mut body = OK.as_bytes().to_vec();
    body[40] = 0xff;
    assert!(matches!(v03::decode(&body), Err(DecodeError::NotUtf8(40))));
    assert!(matches!(
        v02::decode(b"20240102030405 http://h/ a\xff", &Headers::new()),
        Err(DecodeError::NotUtf8(_))
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let body = format!(
        r#"{{"pubTime": "20240102T030405", "baseUrl": "x", "relPath": "y", "x": {}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        v03::decode(body.as_bytes()),
        Err(DecodeError::NotJson(_))
    ));
}

#[test]
fn v02_bad_input() {
    let h = Headers::new();
    assert!(matches!(
        v02::decode(b"", &h),
        Err(DecodeError::BadV02Body(_))
    ));
    assert!(matches!(
        v02::decode(b"20240102030405 http://h/", &h),
        Err(DecodeError::BadV02Body(_))
    ));
    assert!(matches!(
        v02::decode(b"notatime http://h/ a", &h),
        Err(DecodeError::BadTime { .. })
    ));
    let mut h = Headers::new();
    h.insert("parts".into(), "1,x,1,0,0".into());
    assert!(v02::decode(b"20240102030405 http://h/ a", &h).is_err());
    let mut h = Headers::new();
    h.insert("sum".into(), "s,nothex".into());
    assert!(v02::decode(b"20240102030405 http://h/ a", &h).is_err());
    let mut h = Headers::new();
    h.insert("mtime".into(), "bad".into());
    assert!(v02::decode(b"20240102030405 http://h/ a", &h).is_err());
}

#[test]
fn v02_c_variant_trailing_newline_and_partitioned_parts() {
    let mut h = Headers::new();
    h.insert("parts".into(), "i,100,3,12,2".into());
    h.insert("sum".into(), "d,900150983cd24fb0d6963f7d28e17f72".into());
    let m = v02::decode(b"20240102030405.5 http://h/ a/b.txt \n", &h).unwrap();
    assert_eq!(m.rel_path, "a/b.txt");
    assert_eq!(m.size, Some(12));
    let b = m.blocks.unwrap();
    assert_eq!(
        (b.method.as_str(), b.size, b.count, b.number),
        ("inplace", 100, Some(3), 2)
    );
}

#[test]
fn v02_unknown_sum_flag_is_kept_verbatim() {
    let mut h = Headers::new();
    h.insert("sum".into(), "p,abcdef".into());
    let m = v02::decode(b"20240102030405 http://h/ a", &h).unwrap();
    assert!(m.identity.is_none());
    let (_, out) = v02::encode(&m).unwrap();
    assert_eq!(out.get("sum").unwrap(), "p,abcdef");
}

#[test]
fn v02_header_limit() {
    let mut m = v03::decode(OK.as_bytes()).unwrap();
    m.source = Some("x".repeat(300));
    assert!(matches!(
        v02::encode(&m),
        Err(pitcher_core::EncodeError::HeaderTooLong { .. })
    ));
}

#[test]
fn detection_refuses_unknown_content_types() {
    assert!(matches!(
        Format::detect(Some("application/octet-stream"), b"{", None),
        Err(DecodeError::UnknownFormat(_))
    ));
    let m = format::decode(
        Format::V03,
        OK.as_bytes(),
        &Headers::new(),
        Default::default(),
    )
    .unwrap();
    assert_eq!(m.rel_path, "a/b.txt");
}

#[test]
fn old_and_new_names_together_make_one_field() {
    let body = r#"{"pubTime": "20240102T030405", "baseUrl": "http://h/", "relPath": "a", "integrity": {"method": "md5", "value": "old"}, "identity": {"method": "sha512", "value": "new"}}"#;
    let m = v03::decode(body.as_bytes()).unwrap();
    assert_eq!(m.identity.as_ref().unwrap().value, "new");
    let out = v03::encode(&m);
    assert_eq!(out.matches("identity").count(), 1);
    assert_eq!(v03::decode(out.as_bytes()).unwrap(), m);
}

#[test]
fn fuzz_regression_non_ascii_in_time_digits() {
    // Found by `cargo fuzz run decode_v03`: a multi-byte character inside the date digits.
    let body = "{\"pubTime\": \"202611112\u{3ab}032............................................301.247111082\", \"identity\": {\"method\": \"sha512\", \"value\": \"s134644985EA==\"}}";
    assert!(matches!(
        v03::decode(body.as_bytes()),
        Err(DecodeError::BadTime { .. })
    ));
}

#[test]
fn fuzz_regression_unknown_float_fields_round_trip() {
    // Found by `cargo fuzz run decode_v03`: a huge float in an unknown field must re-encode to a
    // value that decodes to the same number (serde_json `float_roundtrip`).
    let body = r#"{"x": {"size": 14444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444000}, "pubTime": "20261122T042936.134644985", "relPath": "a/b", "baseUrl": "http://h"}"#;
    let m = v03::decode(body.as_bytes()).unwrap();
    let again = v03::decode(v03::encode(&m).as_bytes()).unwrap();
    assert_eq!(again, m);
}

#[test]
fn fuzz_regression_v02_headers_with_v03_field_names() {
    // Found by `cargo fuzz run decode_v02`: a header named like a typed v03 field would have been
    // carried as an unknown field and made the v03 encoding undecodable.
    for name in [
        "blocks", "size", "identity", "fileOp", "pubTime", "relPath", "content", "report",
    ] {
        let mut h = Headers::new();
        h.insert(name.into(), "x".into());
        assert!(
            matches!(
                v02::decode(b"20240102030405 http://h/ a", &h),
                Err(DecodeError::BadValue { .. })
            ),
            "{name}"
        );
    }
}
