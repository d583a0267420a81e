//! Promise: when Cloudflare fails, nothing lies. `up` is 0, the storage,
//! limit and video series of the account are absent (never zeros, never the
//! last good values), `/metrics` still answers 200, and one warn or error
//! line names the cause.

mod support;

use std::time::Duration;

use support::*;

const SCRAPE_LOG: &str = "scrape of account";

/// Scrapes once and checks every part of the failure contract.
fn assert_failure(exporter: &Exporter, account: &str, cause: &[&str]) {
    let before = exporter.wait_log(SCRAPE_LOG, Duration::ZERO).len();
    let answer = exporter.get("/metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    let page = answer.body;
    assert_eq!(
        sample(&page, "cloudflare_stream_up", account),
        Some(0.0),
        "{page}"
    );
    assert!(
        sample(&page, "cloudflare_stream_scrape_duration_seconds", account).is_some(),
        "{page}"
    );
    for absent in [
        "cloudflare_stream_storage_used_seconds",
        "cloudflare_stream_storage_limit_seconds",
        "cloudflare_stream_videos",
    ] {
        assert!(!page.contains(absent), "{absent} must be absent:\n{page}");
    }
    assert!(!page.contains("stream_capacity") && !page.contains("stream_limit "));

    // The log line comes from the scrape itself, so it is there already;
    // give the pipe a moment.
    std::thread::sleep(Duration::from_millis(50));
    let lines = exporter.wait_log(SCRAPE_LOG, Duration::from_secs(2));
    let new: Vec<&String> = lines.iter().skip(before).collect();
    assert_eq!(new.len(), 1, "one log line per failed scrape: {new:?}");
    let line = new[0];
    assert!(
        line.contains(" WARN ") || line.contains(" ERROR "),
        "at warn or error: {line}"
    );
    for c in cause {
        assert!(line.contains(c), "the log line should name {c:?}: {line}");
    }
}

fn failing(mode: Mode, cause: &[&str]) {
    let fake = FakeCloudflare::start(mode);
    let exporter = Launch::against(&fake).start();
    assert_failure(&exporter, ACCOUNT, cause);
}

#[test]
fn forbidden_with_cloudflare_error_code() {
    failing(
        Mode::forbidden(),
        &["HTTP 403", "10000", "Authentication error", "Stream: Read"],
    );
}

#[test]
fn wrong_token_is_a_403_too() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake)
        .env("CLOUDFLARE_API_TOKEN", "not-the-right-token")
        .start();
    assert_failure(&exporter, ACCOUNT, &["HTTP 403"]);
}

#[test]
fn not_found_for_a_bad_account() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::bare()
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .arg(&format!("--cloudflare.api-url={}", fake.api_url()))
        .arg("--cloudflare.account-id=00000000000000000000000000000bad")
        .arg("--web.listen-address=127.0.0.1:0")
        .start();
    assert_failure(
        &exporter,
        "00000000000000000000000000000bad",
        &["HTTP 404", "7003", "--cloudflare.account-id"],
    );
}

#[test]
fn rate_limited_logs_retry_after() {
    failing(Mode::rate_limited(), &["HTTP 429", "Retry-After: 37"]);
}

#[test]
fn server_error_with_an_html_body() {
    failing(Mode::html(502), &["HTTP 502", "HTML"]);
}

#[test]
fn ok_status_with_an_html_body() {
    failing(Mode::html(200), &["HTTP 200", "HTML", "instead of JSON"]);
}

#[test]
fn success_false() {
    failing(
        Mode::json(
            200,
            r#"{"success":false,"errors":[{"code":1001,"message":"Stream is disabled"}],"messages":[],"result":null}"#,
        ),
        &["success=false", "1001"],
    );
}

#[test]
fn null_result() {
    failing(
        Mode::json(
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":null}"#,
        ),
        &["no result"],
    );
}

#[test]
fn missing_result() {
    failing(
        Mode::json(200, r#"{"success":true,"errors":[],"messages":[]}"#),
        &["no result"],
    );
}

#[test]
fn fields_of_the_wrong_type() {
    failing(
        Mode::json(
            200,
            r#"{"success":true,"errors":[],"result":{"totalStorageMinutes":"lots","totalStorageMinutesLimit":1,"videoCount":1}}"#,
        ),
        &["could not be decoded", "totalStorageMinutes"],
    );
}

#[test]
fn a_missing_field() {
    failing(
        Mode::json(
            200,
            r#"{"success":true,"errors":[],"result":{"totalStorageMinutes":1,"videoCount":1}}"#,
        ),
        &["could not be decoded", "totalStorageMinutesLimit"],
    );
}

#[test]
fn truncated_json() {
    failing(
        Mode::json(200, r#"{"result":{"creator":"","totalStorageMinutes":12"#),
        &["cut short"],
    );
}

#[test]
fn empty_body() {
    failing(Mode::json(200, ""), &["empty"]);
}

#[test]
fn a_body_over_the_bound_is_not_read_to_the_end() {
    let fake = FakeCloudflare::start(Mode::Huge {
        bytes: 64 * 1024 * 1024,
    });
    let exporter = Launch::against(&fake).start();
    let started = std::time::Instant::now();
    assert_failure(&exporter, ACCOUNT, &["larger than 1024 KiB"]);
    // Reading 64 MiB would take far longer than stopping at 1 MiB.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn connection_refused() {
    let port = closed_port();
    let exporter = Launch::bare()
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .arg(&format!(
            "--cloudflare.api-url=http://127.0.0.1:{port}/client/v4"
        ))
        .arg(&format!("--cloudflare.account-id={ACCOUNT}"))
        .arg("--web.listen-address=127.0.0.1:0")
        .start();
    assert_failure(
        &exporter,
        ACCOUNT,
        &["refused", &format!("127.0.0.1:{port}")],
    );
}

#[test]
fn dns_failure() {
    // A 64-character label is not a valid DNS name, so the C library's
    // resolver refuses it locally: no query leaves this machine.
    let host = format!("{}.invalid", "a".repeat(64));
    let exporter = Launch::bare()
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .arg(&format!("--cloudflare.api-url=http://{host}:9/client/v4"))
        .arg(&format!("--cloudflare.account-id={ACCOUNT}"))
        .arg("--web.listen-address=127.0.0.1:0")
        .start();
    assert_failure(&exporter, ACCOUNT, &["cannot resolve", &host]);
}

#[test]
fn tls_failure() {
    // The port answers in plain HTTP, so a TLS client fails its handshake.
    let port = support::fake::plain_http_port();
    let exporter = Launch::bare()
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .arg(&format!(
            "--cloudflare.api-url=https://127.0.0.1:{port}/client/v4"
        ))
        .arg(&format!("--cloudflare.account-id={ACCOUNT}"))
        .arg("--web.listen-address=127.0.0.1:0")
        .start();
    assert_failure(&exporter, ACCOUNT, &["TLS handshake"]);
}

#[test]
fn timeout() {
    let fake = FakeCloudflare::start(Mode::Delay(Duration::from_secs(5), Box::new(Mode::ok())));
    let exporter = Launch::against(&fake)
        .arg("--cloudflare.timeout=500ms")
        .start();
    let started = std::time::Instant::now();
    assert_failure(&exporter, ACCOUNT, &["did not answer within 0.5s"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn values_come_back_after_a_failure_and_never_linger() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let page = exporter.metrics();
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
    assert_eq!(
        sample(&page, "cloudflare_stream_storage_used_seconds", ACCOUNT),
        Some(74070.0)
    );
    fake.set(Mode::forbidden());
    assert_failure(&exporter, ACCOUNT, &["HTTP 403"]);
    fake.set(Mode::Ok {
        minutes: 10.0,
        limit: 20.0,
        videos: 3,
    });
    let page = exporter.metrics();
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
    assert_eq!(
        sample(&page, "cloudflare_stream_storage_used_seconds", ACCOUNT),
        Some(600.0)
    );
    assert_eq!(
        sample(&page, "cloudflare_stream_videos", ACCOUNT),
        Some(3.0)
    );
}

#[test]
fn one_failing_account_does_not_hide_another() {
    let fake = FakeCloudflare::start(Mode::ok());
    let bad = "00000000000000000000000000000bad";
    let exporter = Launch::against(&fake)
        .arg(&format!("--cloudflare.account-id={ACCOUNT2},{bad}"))
        .start();
    let page = exporter.metrics();
    for good in [ACCOUNT, ACCOUNT2] {
        assert_eq!(
            sample(&page, "cloudflare_stream_up", good),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "cloudflare_stream_storage_limit_seconds", good),
            Some(6_000_000.0)
        );
    }
    assert_eq!(sample(&page, "cloudflare_stream_up", bad), Some(0.0));
    assert_eq!(sample(&page, "cloudflare_stream_videos", bad), None);
    assert_eq!(
        page.matches("# TYPE cloudflare_stream_videos gauge")
            .count(),
        1
    );
}

#[test]
fn the_server_survives_every_failure_in_a_row() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake)
        .arg("--cloudflare.timeout=300ms")
        .start();
    for mode in [
        Mode::forbidden(),
        Mode::rate_limited(),
        Mode::html(503),
        Mode::json(200, "{"),
        Mode::Huge { bytes: 3 << 20 },
        Mode::Delay(Duration::from_secs(2), Box::new(Mode::ok())),
        Mode::ok(),
    ] {
        fake.set(mode);
        assert_eq!(exporter.get("/metrics").status, 200);
        assert_eq!(exporter.get("/healthz").status, 200);
    }
    let page = exporter.metrics();
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
}
