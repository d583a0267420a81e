//! Promise: the API token never appears in a log line at any level, in
//! /metrics, in the landing page, in error text or in --help.

mod support;

use std::time::Duration;

use support::*;

/// Occurrences of the token, whole or in pieces: a dump of raw bytes in
/// 16-byte rows would split it, so any 10 characters of it count.
fn count(haystack: &str) -> usize {
    let whole = haystack.matches(TOKEN).count();
    let pieces = (0..=TOKEN.len() - 10)
        .filter(|i| haystack.contains(&TOKEN[*i..*i + 10]))
        .count();
    whole + pieces
}

#[test]
fn the_token_is_nowhere_even_at_trace() {
    let fake = FakeCloudflare::start(Mode::ok());
    // The token on the command line, the worst place, and every log at trace.
    let exporter = Launch::bare()
        .arg(&format!("--cloudflare.api-token={TOKEN}"))
        .arg(&format!("--cloudflare.api-url={}", fake.api_url()))
        .arg(&format!("--cloudflare.account-id={ACCOUNT}"))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--log.level=trace")
        .env("RUST_LOG", "trace")
        .start();
    let mut seen = String::new();
    seen += &exporter.metrics();
    seen += &exporter.get("/").body;
    seen += &exporter.get("/healthz").body;
    seen += &exporter.get("/nope").body;
    // Failures, including one whose body echoes the token back.
    for mode in [
        Mode::forbidden(),
        Mode::json(
            400,
            &format!(
                r#"{{"success":false,"errors":[{{"code":6003,"message":"Invalid request headers: Bearer {TOKEN}"}}]}}"#
            ),
        ),
        Mode::json(
            200,
            &format!(r#"{{"success":false,"errors":[{{"code":1,"message":"{TOKEN}"}}]}}"#),
        ),
        Mode::html(502),
        Mode::json(200, "{"),
    ] {
        fake.set(mode);
        seen += &exporter.metrics();
    }
    // The token really was used: the fake got it.
    assert_eq!(fake.last_authorization(), Some(format!("Bearer {TOKEN}")));
    std::thread::sleep(Duration::from_millis(200));
    let logs = exporter.stderr().join("\n") + &exporter.stdout().join("\n");
    assert!(logs.contains(" TRACE "), "trace logging was on");
    assert!(logs.contains("<redacted>"), "the echoed token was scrubbed");
    seen += &logs;
    assert_eq!(count(&seen), 0, "the token leaked:\n{seen}");
}

#[test]
fn help_and_config_errors_do_not_carry_it() {
    let help = Launch::bare()
        .arg("--help")
        .arg(&format!("--cloudflare.api-token={TOKEN}"))
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .run(Duration::from_secs(5));
    assert_eq!(count(&help.stdout) + count(&help.stderr), 0);
    for launch in [
        // A config error with the token given twice.
        Launch::bare()
            .arg(&format!("--cloudflare.api-token={TOKEN}"))
            .arg(&format!("--cloudflare.api-token={TOKEN}")),
        // The token passed as a bare word by mistake.
        Launch::bare().arg(TOKEN),
        // Both token env vars.
        Launch::bare()
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_API_TOKEN_FILE", TOKEN),
        // A token that cannot be a header value.
        Launch::bare()
            .env("CLOUDFLARE_API_TOKEN", &format!("{TOKEN} x"))
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
    ] {
        let out = launch.run(Duration::from_secs(5));
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(count(&out.stdout) + count(&out.stderr), 0, "{}", out.stderr);
    }
}
