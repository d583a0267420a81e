//! Promise: a wrong or missing setting stops the program with exit code 2
//! and one sentence that names the flag or env var to set.

mod support;

use std::time::Duration;

use support::*;

fn refused(launch: Launch, names: &[&str]) {
    let out = launch.run(Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    for n in names {
        assert!(lines[0].contains(n), "should name {n}: {}", lines[0]);
    }
    assert!(out.stdout.is_empty());
}

fn with_token() -> Launch {
    Launch::bare().env("CLOUDFLARE_API_TOKEN", TOKEN)
}

#[test]
fn no_token() {
    refused(
        Launch::bare().env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
        &["CLOUDFLARE_API_TOKEN", "API_KEY"],
    );
}

#[test]
fn no_account() {
    refused(
        with_token(),
        &["--cloudflare.account-id", "CLOUDFLARE_ACCOUNT_ID"],
    );
}

#[test]
fn unknown_flag() {
    refused(
        with_token().arg("--cloudflare.acount-id=x"),
        &["unknown flag --cloudflare.acount-id", "--help"],
    );
}

#[test]
fn flag_without_value() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .arg("--cloudflare.timeout"),
        &["--cloudflare.timeout needs a value"],
    );
}

#[test]
fn bad_timeout() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("CLOUDFLARE_TIMEOUT", "ten"),
        &["CLOUDFLARE_TIMEOUT"],
    );
}

#[test]
fn bad_listen_address() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .arg("--web.listen-address=localhost"),
        &["--web.listen-address"],
    );
}

#[test]
fn bad_log_level() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("LOG_LEVEL", "chatty"),
        &["LOG_LEVEL"],
    );
}

#[test]
fn bad_api_url() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .arg("--cloudflare.api-url=api.cloudflare.com"),
        &["--cloudflare.api-url"],
    );
}

#[test]
fn bad_old_api_url() {
    refused(
        Launch::bare()
            .env("API_KEY", TOKEN)
            .env("API_URL", "https://api.cloudflare.com/client/v4/zones"),
        &["API_URL"],
    );
}

#[test]
fn unreadable_token_file() {
    refused(
        Launch::bare()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("CLOUDFLARE_API_TOKEN_FILE", "/nonexistent/secret"),
        &["CLOUDFLARE_API_TOKEN_FILE", "/nonexistent/secret"],
    );
}

#[test]
fn two_tokens() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .arg("--cloudflare.api-token=a")
            .arg("--cloudflare.api-token-file=/x"),
        &["--cloudflare.api-token", "--cloudflare.api-token-file"],
    );
}

#[test]
fn legacy_metrics_with_two_accounts() {
    refused(
        with_token()
            .arg(&format!("--cloudflare.account-id={ACCOUNT},{ACCOUNT2}"))
            .arg("--compat.legacy-metrics"),
        &["--compat.legacy-metrics"],
    );
}

#[test]
fn unreadable_ca_file() {
    refused(
        with_token()
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("CLOUDFLARE_CA_FILE", "/nonexistent/ca.pem"),
        &["--cloudflare.ca-file", "CLOUDFLARE_CA_FILE"],
    );
}

#[test]
fn the_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = with_token()
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .arg(&format!("--web.listen-address=127.0.0.1:{port}"))
        .run(Duration::from_secs(5));
    // A runtime failure, not a config error: exit 1, and the flag is named.
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("--web.listen-address"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_and_version_exit_0() {
    let out = Launch::bare().arg("--help").run(Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    for flag in [
        "--cloudflare.api-token",
        "--cloudflare.api-token-file",
        "--cloudflare.account-id",
        "--cloudflare.api-url",
        "--cloudflare.timeout",
        "--web.listen-address",
        "--web.telemetry-path",
        "--log.level",
        "--compat.legacy-metrics",
        "healthcheck",
    ] {
        assert!(out.stdout.contains(flag), "--help should list {flag}");
    }
    let out = Launch::bare().arg("--version").run(Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")));
}
