//! Promise: every log line is `timestamp level message`, the timestamp in
//! the zone that TZ names (read from /usr/share/zoneinfo), UTC without TZ.

mod support;

use std::time::Duration;

use support::*;

fn first_line(launch: Launch) -> String {
    let exporter = launch.start();
    exporter.wait_log("listening on", Duration::from_secs(2))[0].clone()
}

fn parts(line: &str) -> (String, String, String) {
    let mut it = line.splitn(3, ' ');
    (
        it.next().unwrap().to_string(),
        it.next().unwrap().to_string(),
        it.next().unwrap().to_string(),
    )
}

fn base(fake: &FakeCloudflare) -> Launch {
    Launch::against(fake)
}

#[test]
fn utc_without_tz() {
    let fake = FakeCloudflare::start(Mode::ok());
    let line = first_line(base(&fake));
    let (ts, level, message) = parts(&line);
    // 2026-11-24T21:53:38.123Z
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z'), "{ts}");
    assert_eq!(&ts[10..11], "T");
    assert_eq!(level, "INFO");
    assert!(
        message.starts_with("cloudflare-stream-exporter "),
        "{message}"
    );
}

#[test]
fn moscow_time_with_tz() {
    let fake = FakeCloudflare::start(Mode::ok());
    let line = first_line(base(&fake).env("TZ", "Europe/Moscow"));
    let (ts, _, _) = parts(&line);
    // Moscow keeps +03:00 all year.
    assert!(ts.ends_with("+03:00"), "{line}");
    assert_eq!(ts.len(), 29, "{ts}");
}

#[test]
fn a_zone_with_summer_time_gets_its_offset() {
    let fake = FakeCloudflare::start(Mode::ok());
    let line = first_line(base(&fake).env("TZ", "America/New_York"));
    let (ts, _, _) = parts(&line);
    assert!(ts.ends_with("-05:00") || ts.ends_with("-04:00"), "{line}");
}

#[test]
fn a_missing_zone_file_is_reported() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = base(&fake).env("TZ", "Mars/Olympus_Mons").start();
    let warned = exporter.wait_log("does not exist", Duration::from_secs(2));
    assert_eq!(warned.len(), 1, "{:?}", exporter.stderr());
    assert!(warned[0].contains(" WARN ") && warned[0].contains("TZ"));
}

#[test]
fn debug_logs_each_upstream_call_with_status_and_time() {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = base(&fake).env("LOG_LEVEL", "debug").start();
    exporter.metrics();
    let lines = exporter.wait_log("storage-usage answered 200 in", Duration::from_secs(2));
    assert_eq!(lines.len(), 1, "{:?}", exporter.stderr());
    assert!(lines[0].contains(" DEBUG ") && lines[0].contains(" ms"));
    // At the default level the same call logs nothing.
    let quiet = base(&fake).start();
    quiet.metrics();
    std::thread::sleep(Duration::from_millis(100));
    assert!(quiet.wait_log("answered", Duration::ZERO).is_empty());
}
