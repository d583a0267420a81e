//! Any method and URL: routing never panics, only the telemetry path (with
//! any query) reaches the scrape, and nothing else is taken for it.
#![no_main]

use cloudflare_stream_exporter::server::{route_for, Route};
use libfuzzer_sys::fuzz_target;
use tiny_http::Method;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // "METHOD URL": tiny_http hands on any token as a method.
    let (method, url) = text.split_once(' ').unwrap_or(("GET", text));
    let Ok(method) = method.parse::<Method>() else {
        return;
    };
    let route = route_for(&method, url, "/metrics");
    let path = url.split(['?', '#']).next().unwrap_or("");
    let readable = matches!(method, Method::Get | Method::Head);
    if route == Route::Metrics {
        assert!(
            readable && path == "/metrics",
            "{method} {url:?} reached the scrape"
        );
    }
    if readable && path == "/metrics" {
        assert_eq!(route, Route::Metrics, "{url:?}");
    }
    if !readable {
        assert!(
            matches!(route, Route::MethodNotAllowed | Route::NotFound),
            "{method} {url:?} -> {route:?}"
        );
    }
});
