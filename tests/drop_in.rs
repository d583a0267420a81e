//! Promise: a deployment of the old Go exporter (env API_KEY and API_URL,
//! port 8099) works unchanged, and its metric names are there on request.

mod support;

use support::*;

/// Exactly what the old compose template set: API_KEY and API_URL.
fn old_env(fake: &FakeCloudflare) -> Launch {
    Launch::bare()
        .env("API_KEY", TOKEN)
        .env("API_URL", &fake.legacy_url())
}

#[test]
fn old_env_contract_on_port_8099() {
    let fake = FakeCloudflare::start(Mode::ok());
    // The old settings and nothing else, so the old port 8099.
    let exporter = old_env(&fake).start();
    assert_eq!(exporter.addr.port(), 8099);
    let page = request("GET", "http://127.0.0.1:8099/metrics", &[]).body;
    assert_eq!(
        sample(&page, "cloudflare_stream_up", ACCOUNT),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "cloudflare_stream_storage_used_seconds", ACCOUNT),
        Some(74070.0)
    );
    assert_eq!(fake.last_authorization(), Some(format!("Bearer {TOKEN}")));
    let started = exporter.wait_log("token from API_KEY", std::time::Duration::ZERO);
    assert_eq!(started.len(), 1);
}

#[test]
fn old_metric_names_with_the_compat_flag() {
    let fake = FakeCloudflare::start(Mode::Ok {
        minutes: 8812.25,
        limit: 10000.0,
        videos: 7,
    });
    let exporter = old_env(&fake)
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--compat.legacy-metrics")
        .start();
    let page = exporter.metrics();
    // In minutes and without labels, as the old dashboards expect.
    assert_eq!(plain_sample(&page, "stream_capacity"), Some(8812.25));
    assert_eq!(plain_sample(&page, "stream_limit"), Some(10000.0));
    // stream_limit was a counter by mistake; it is a gauge now.
    assert!(page.contains("# TYPE stream_limit gauge"));
}

#[test]
fn old_names_are_absent_on_failure_not_zero() {
    // The old exporter served stream_capacity 0 on a 403. This one does not.
    let fake = FakeCloudflare::start(Mode::forbidden());
    let exporter = old_env(&fake)
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--compat.legacy-metrics")
        .start();
    let page = exporter.metrics();
    assert_eq!(plain_sample(&page, "stream_capacity"), None, "{page}");
    assert_eq!(plain_sample(&page, "stream_limit"), None);
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(0.0));
}

#[test]
fn new_settings_win_over_the_old_ones() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::bare()
        .env("API_KEY", "old-token-that-is-wrong")
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("API_URL", &fake.legacy_url())
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT2)
        .arg("--web.listen-address=127.0.0.1:0")
        .start();
    let page = exporter.metrics();
    assert_eq!(
        sample(&page, "cloudflare_stream_up", ACCOUNT2),
        Some(1.0),
        "{page}"
    );
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), None);
}
