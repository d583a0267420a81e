//! Promise: a slow Cloudflare blocks nothing. Health and the landing page
//! answer while a scrape waits; concurrent scrapes share one upstream call;
//! Prometheus's scrape timeout bounds the call.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

fn slow(secs: u64) -> Mode {
    Mode::Delay(Duration::from_secs(secs), Box::new(Mode::ok()))
}

#[test]
fn health_and_landing_answer_during_a_slow_scrape() {
    let fake = FakeCloudflare::start(slow(3));
    let exporter = Arc::new(Launch::against(&fake).start());
    let e = exporter.clone();
    let scraping = thread::spawn(move || e.metrics());
    // Let the scrape reach the fake; and a second one, to hold two threads.
    while fake.calls() == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    let e = exporter.clone();
    let scraping2 = thread::spawn(move || e.metrics());
    thread::sleep(Duration::from_millis(50));
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        for path in ["/healthz", "/"] {
            let t = Instant::now();
            assert_eq!(exporter.get(path).status, 200);
            worst = worst.max(t.elapsed());
        }
    }
    eprintln!("worst /healthz or / latency during a slow scrape: {worst:?}");
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    let page = scraping.join().unwrap();
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
    scraping2.join().unwrap();
}

fn scrape_with(agent: &ureq::Agent, exporter: &Exporter) -> String {
    agent
        .get(&exporter.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn concurrent_scrapes_share_one_upstream_call() {
    let fake = FakeCloudflare::start(Mode::Delay(
        Duration::from_millis(800),
        Box::new(Mode::ok()),
    ));
    let exporter = Arc::new(Launch::against(&fake).arg("--log.level=trace").start());
    let n = 20;
    // A burst of brand-new connections: the vendored tiny_http's pool must
    // give each its own thread at once (upstream's parked one of them until
    // another connection closed).
    let start = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (e, start) = (exporter.clone(), start.clone());
            thread::spawn(move || {
                // A client of its own, so that every scrape opens a new connection.
                let client = kept_alive_agent();
                start.wait();
                scrape_with(&client, &e)
            })
        })
        .collect();
    for h in handles {
        let page = h.join().unwrap();
        assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
        assert_eq!(
            sample(&page, "cloudflare_stream_videos", ACCOUNT),
            Some(42.0)
        );
    }
    eprintln!(
        "{n} concurrent scrapes made {} upstream call(s)",
        fake.calls()
    );
    if fake.calls() != 1 {
        eprintln!("{}", exporter.stderr().join("\n"));
    }
    assert_eq!(fake.calls(), 1);
    let shared = exporter.wait_log("shared a call already in flight", Duration::from_secs(1));
    assert_eq!(shared.len(), n - 1);
    // Not a cache: the next scrape calls again.
    exporter.metrics();
    assert_eq!(fake.calls(), 2);
}

#[test]
fn concurrent_failures_are_shared_and_logged_once() {
    let fake = FakeCloudflare::start(Mode::Delay(
        Duration::from_millis(500),
        Box::new(Mode::forbidden()),
    ));
    let exporter = Arc::new(Launch::against(&fake).start());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let e = exporter.clone();
            thread::spawn(move || e.metrics())
        })
        .collect();
    for h in handles {
        assert_eq!(
            sample(&h.join().unwrap(), "cloudflare_stream_up", ACCOUNT),
            Some(0.0)
        );
    }
    thread::sleep(Duration::from_millis(50));
    let calls = fake.calls();
    let logged = exporter.wait_log("scrape of account", Duration::ZERO).len();
    assert_eq!(logged, calls, "one log line per upstream failure");
    assert!(calls < 8, "{calls}");
}

#[test]
fn the_scrape_timeout_header_bounds_the_call() {
    let fake = FakeCloudflare::start(slow(10));
    let exporter = Launch::against(&fake)
        .arg("--cloudflare.timeout=30s")
        .start();
    let t = Instant::now();
    let a = request(
        "GET",
        &exporter.url("/metrics"),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
    );
    let took = t.elapsed();
    assert_eq!(a.status, 200);
    assert_eq!(sample(&a.body, "cloudflare_stream_up", ACCOUNT), Some(0.0));
    // 2 s less the 0.5 s margin: up 0 reaches Prometheus before it gives up.
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    let logged = exporter.wait_log("did not answer within 1.5s", Duration::from_secs(1));
    assert_eq!(logged.len(), 1);
}

#[test]
fn the_configured_timeout_wins_when_smaller() {
    let fake = FakeCloudflare::start(slow(10));
    let exporter = Launch::against(&fake)
        .arg("--cloudflare.timeout=700ms")
        .start();
    let t = Instant::now();
    let a = request(
        "GET",
        &exporter.url("/metrics"),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "10")],
    );
    assert_eq!(sample(&a.body, "cloudflare_stream_up", ACCOUNT), Some(0.0));
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn several_accounts_are_called_in_parallel() {
    let fake = FakeCloudflare::start(Mode::Delay(
        Duration::from_millis(700),
        Box::new(Mode::ok()),
    ));
    let exporter = Launch::against(&fake)
        .arg(&format!("--cloudflare.account-id={ACCOUNT2}"))
        .start();
    let t = Instant::now();
    let page = exporter.metrics();
    assert!(
        t.elapsed() < Duration::from_millis(1300),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT), Some(1.0));
    assert_eq!(sample(&page, "cloudflare_stream_up", ACCOUNT2), Some(1.0));
    assert_eq!(fake.calls(), 2);
}
