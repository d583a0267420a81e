//! Promise: SIGTERM or SIGINT ends the process with status 0 within 1 s,
//! even with a scrape in flight.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn exits_cleanly_on(signal: &str, busy: bool) {
    let fake = FakeCloudflare::start(Mode::Delay(Duration::from_secs(30), Box::new(Mode::ok())));
    let mut exporter = Launch::against(&fake).start();
    if busy {
        let url = exporter.url("/metrics");
        std::thread::spawn(move || {
            let _ = support::agent().get(&url).call();
        });
        while fake.calls() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    } else {
        assert_eq!(exporter.get("/healthz").status, 200);
    }
    let sent = Instant::now();
    exporter.signal(signal);
    let status = wait_for(&mut exporter.child, Duration::from_secs(1))
        .unwrap_or_else(|| panic!("still running 1 s after {signal}"));
    eprintln!(
        "{signal} (scrape in flight: {busy}): exited {status} after {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(0), "{status}");
    let said = exporter.wait_log(&format!("received SIG{signal}"), Duration::from_millis(200));
    assert_eq!(said.len(), 1, "{:?}", exporter.stderr());
}

#[test]
fn sigterm_when_idle() {
    exits_cleanly_on("TERM", false);
}

#[test]
fn sigterm_during_a_scrape() {
    exits_cleanly_on("TERM", true);
}

#[test]
fn sigint_when_idle() {
    exits_cleanly_on("INT", false);
}
