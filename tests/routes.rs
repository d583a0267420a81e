//! Promise: `/` is a landing page, `/metrics` the metrics, `/healthz` a
//! check that never calls Cloudflare; other paths 404, other methods 405.

mod support;

use support::*;

#[test]
fn metrics_has_the_families_and_the_content_type() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let a = exporter.get("/metrics");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let page = a.body;
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
    assert_eq!(
        sample(&page, "cloudflare_stream_storage_used_seconds", ACCOUNT),
        Some(1234.5 * 60.0)
    );
    assert_eq!(
        sample(&page, "cloudflare_stream_storage_limit_seconds", ACCOUNT),
        Some(100000.0 * 60.0)
    );
    assert_eq!(
        sample(&page, "cloudflare_stream_videos", ACCOUNT),
        Some(42.0)
    );
    let took = sample(&page, "cloudflare_stream_scrape_duration_seconds", ACCOUNT).unwrap();
    assert!(took > 0.0 && took < 5.0, "{took}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(page.contains(&format!(
        "cloudflare_stream_exporter_build_info{{version=\"{version}\"}} 1\n"
    )));
    assert!(page.contains("# HELP cloudflare_stream_storage_used_seconds"));
    assert!(page.contains("Cloudflare bills stored video in minutes"));
    // No legacy series unless asked for, no Go or process metrics.
    assert!(!page.contains("stream_capacity"));
    assert!(!page.contains("go_") && !page.contains("process_"));
    // The token went to Cloudflare as a Bearer token.
    assert_eq!(fake.last_authorization(), Some(format!("Bearer {TOKEN}")));
}

#[test]
fn each_scrape_calls_cloudflare_again() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    exporter.metrics();
    fake.set(Mode::Ok {
        minutes: 2.0,
        limit: 3.0,
        videos: 4,
    });
    let page = exporter.metrics();
    assert_eq!(
        sample(&page, "cloudflare_stream_videos", ACCOUNT),
        Some(4.0)
    );
    assert_eq!(fake.calls(), 2);
}

#[test]
fn landing_page_links_metrics_and_health() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let a = exporter.get("/");
    assert_eq!(a.status, 200);
    assert!(a.content_type.unwrap().starts_with("text/html"));
    assert!(a.body.contains("href=\"/metrics\""));
    assert!(a.body.contains("href=\"/healthz\""));
    assert!(a.body.contains(env!("CARGO_PKG_VERSION")));
    assert_eq!(fake.calls(), 0, "the landing page calls no API");
}

#[test]
fn healthz_answers_ok_without_calling_cloudflare() {
    let fake = FakeCloudflare::start(Mode::forbidden());
    let exporter = Launch::against(&fake).start();
    let a = exporter.get("/healthz");
    assert_eq!((a.status, a.body.trim()), (200, "ok"));
    assert_eq!(fake.calls(), 0);
}

#[test]
fn unknown_paths_are_404() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    for path in [
        "/nope",
        "/metrics/",
        "/metrics/../metrics",
        "/%00",
        "/healthz/x",
        "/favicon.ico",
    ] {
        assert_eq!(exporter.get(path).status, 404, "{path}");
    }
    assert_eq!(fake.calls(), 0);
}

#[test]
fn other_methods_are_405_with_allow() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/metrics", "/", "/healthz"] {
            let a = request(method, &exporter.url(path), &[]);
            assert_eq!(a.status, 405, "{method} {path}");
            let allow = a
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("allow"));
            assert_eq!(allow.map(|(_, v)| v.as_str()), Some("GET, HEAD"));
        }
    }
    assert_eq!(fake.calls(), 0);
}

#[test]
fn head_gets_headers_and_no_body() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let a = request("HEAD", &exporter.url("/metrics"), &[]);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(a.body.is_empty());
    assert_eq!(request("HEAD", &exporter.url("/healthz"), &[]).status, 200);
}

#[test]
fn a_custom_telemetry_path() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake)
        .arg("--web.telemetry-path=/probe/stream")
        .start();
    assert_eq!(exporter.get("/metrics").status, 404);
    let a = exporter.get("/probe/stream?debug=1");
    assert_eq!(a.status, 200);
    assert!(a.body.contains("cloudflare_stream_up"));
    assert!(exporter.get("/").body.contains("href=\"/probe/stream\""));
}

#[test]
fn legacy_metrics_on_request() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake)
        .arg("--compat.legacy-metrics")
        .start();
    let page = exporter.metrics();
    assert_eq!(plain_sample(&page, "stream_capacity"), Some(1234.5));
    assert_eq!(plain_sample(&page, "stream_limit"), Some(100000.0));
    assert!(page.contains("# TYPE stream_limit gauge"));
    assert!(page.contains("# TYPE stream_capacity gauge"));
    // The new names are there too.
    assert!(sample(&page, "cloudflare_stream_up", ACCOUNT) == Some(1.0));
}
