//! Any bytes as Cloudflare's answer: the decoder returns usage or an error,
//! never panics, and never hands on a value the metrics could not carry.
#![no_main]

use cloudflare_stream_exporter::cloudflare::{decode_storage_usage, RawResponse};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("text/html; charset=UTF-8"),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    // Two bytes of status, one to pick the content type, a Retry-After
    // header up to the first newline, then the body.
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let content_type = CONTENT_TYPES[usize::from(data[2]) % CONTENT_TYPES.len()];
    let rest = &data[3..];
    let (retry_after, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&rest[..i]).ok(), &rest[i + 1..]),
        None => (None, rest),
    };
    let response = RawResponse {
        status,
        content_type,
        retry_after,
        body,
    };
    match decode_storage_usage(&response) {
        Ok(usage) => {
            assert!((200..300).contains(&status), "usage from a {status}");
            for v in [usage.storage_minutes, usage.limit_minutes] {
                assert!(
                    v.is_finite() && v >= 0.0,
                    "a value the page cannot carry: {v}"
                );
            }
        }
        Err(e) => {
            // The operator's sentence: one line, and bounded.
            let sentence = e.to_string();
            assert!(!sentence.contains('\n'), "{sentence:?}");
            assert!(sentence.len() < 4096, "{} bytes", sentence.len());
        }
    }
});
