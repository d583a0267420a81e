//! Promise: the page passes `promtool check metrics` with nothing printed.
//! promtool comes from Debian's `prometheus` package, which `make test`
//! installs; without it this test fails rather than skip.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// Runs `promtool check metrics` on `page`: (success, everything printed).
fn promtool(page: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is missing: run `make test-deps` (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), printed)
}

fn promtool_check(page: &str) {
    let (ok, printed) = promtool(page);
    assert!(ok, "promtool failed:\n{printed}\n{page}");
    assert_eq!(printed.trim(), "", "promtool printed something:\n{page}");
}

#[test]
fn a_good_and_a_failed_account_pass_promtool() {
    let fake = FakeCloudflare::start(Mode::Ok {
        minutes: 1234.567,
        limit: 100000.0,
        videos: 42,
    });
    let exporter = Launch::against(&fake)
        .arg("--cloudflare.account-id=00000000000000000000000000000bad")
        .start();
    let page = exporter.metrics();
    assert!(page.contains("cloudflare_stream_storage_used_seconds"));
    assert!(
        page.contains("cloudflare_stream_up{account_id=\"00000000000000000000000000000bad\"} 0")
    );
    promtool_check(&page);
}

#[test]
fn the_legacy_names_pass_promtool() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake)
        .arg("--compat.legacy-metrics")
        .start();
    let page = exporter.metrics();
    assert!(page.contains("stream_capacity"));
    promtool_check(&page);
}

#[test]
fn an_all_failed_page_passes_promtool() {
    let fake = FakeCloudflare::start(Mode::html(503));
    let exporter = Launch::against(&fake).start();
    promtool_check(&exporter.metrics());
}

#[test]
fn promtool_is_a_real_judge() {
    // The same check rejects what the old exporter served: minutes as a unit
    // and a counter without _total. If this passed, the checks above would
    // prove nothing.
    let (_, printed) = promtool(
        "# HELP stream_used_minutes x\n# TYPE stream_used_minutes counter\nstream_used_minutes 1\n",
    );
    assert!(!printed.trim().is_empty());
}
