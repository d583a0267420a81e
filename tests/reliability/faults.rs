//! Faults on the Cloudflare side, asserted while they run.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::rss_kib;
use crate::support::{sample, wait_for, FakeCloudflare, Launch, Mode, ACCOUNT};
use crate::util::{mib, ms, poll};
use crate::{ensure, Outcome, Suite};

pub fn scenarios(suite: &mut Suite) {
    suite.run(
        "fault: hanging API, scrape in timeout, /healthz < 100 ms",
        hanging,
    );
    suite.run(
        "fault: 50 concurrent scrapes, slow API -> 1 call",
        concurrent,
    );
    suite.run("fault: flapping API ok/500/429/bad JSON", flapping);
    suite.run("fault: huge response body, memory bounded", huge_body);
    suite.run(
        "fault: SIGTERM during an in-flight scrape -> exit < 1 s",
        sigterm_in_flight,
    );
}

fn hanging() -> Outcome {
    let fake = FakeCloudflare::start(Mode::Delay(Duration::from_secs(60), Box::new(Mode::ok())));
    let timeout = Duration::from_secs(2);
    let exporter = Arc::new(
        Launch::against(&fake)
            .arg("--cloudflare.timeout=2s")
            .start(),
    );
    let scraping = {
        let e = Arc::clone(&exporter);
        thread::spawn(move || {
            let started = Instant::now();
            let page = e.metrics();
            (started.elapsed(), page)
        })
    };
    // Probe /healthz the whole time the scrape hangs.
    let mut worst = Duration::ZERO;
    let mut probes = 0;
    while !scraping.is_finished() && probes < 400 {
        let started = Instant::now();
        let a = exporter.get("/healthz");
        worst = worst.max(started.elapsed());
        ensure!(a.status == 200, "/healthz answered {}", a.status);
        probes += 1;
        thread::sleep(Duration::from_millis(20));
    }
    let (took, page) = scraping.join().map_err(|_| "the scrape panicked")?;
    ensure!(
        took < timeout + Duration::from_millis(500),
        "the scrape took {took:?} with a {timeout:?} timeout"
    );
    ensure!(
        sample(&page, "cloudflare_stream_up", ACCOUNT) == Some(0.0),
        "cloudflare_stream_up is not 0 after the timeout"
    );
    ensure!(
        sample(&page, "cloudflare_stream_storage_used_seconds", ACCOUNT).is_none(),
        "a storage value was made up for a timed-out call"
    );
    ensure!(
        worst < Duration::from_millis(100),
        "/healthz took {worst:?}"
    );
    Ok(format!(
        "scrape {} (timeout 2 s), up 0; {probes} /healthz probes, worst {}",
        ms(took),
        ms(worst)
    ))
}

fn concurrent() -> Outcome {
    let fake = FakeCloudflare::start(Mode::Delay(
        Duration::from_millis(1500),
        Box::new(Mode::ok()),
    ));
    let exporter = Arc::new(Launch::against(&fake).start());
    let n = 50;
    let start = Arc::new(Barrier::new(n));
    let started = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (e, start) = (Arc::clone(&exporter), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                e.get("/metrics")
            })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        let a = h.join().map_err(|_| "a scrape panicked")?;
        ensure!(a.status == 200, "a scrape answered {}", a.status);
        if sample(&a.body, "cloudflare_stream_up", ACCOUNT) == Some(1.0) {
            ok += 1;
        }
    }
    let took = started.elapsed();
    ensure!(ok == n, "only {ok} of {n} scrapes had up 1");
    ensure!(
        fake.calls() == 1,
        "{n} scrapes made {} upstream calls",
        fake.calls()
    );
    Ok(format!(
        "{n} scrapes, {} upstream call, all up 1, in {}",
        fake.calls(),
        ms(took)
    ))
}

/// What a scrape of one flapping call must show.
fn check_page(page: &str, want_up: bool) -> Result<(), String> {
    let up = sample(page, "cloudflare_stream_up", ACCOUNT);
    let used = sample(page, "cloudflare_stream_storage_used_seconds", ACCOUNT);
    let limit = sample(page, "cloudflare_stream_storage_limit_seconds", ACCOUNT);
    let videos = sample(page, "cloudflare_stream_videos", ACCOUNT);
    if want_up {
        ensure!(
            up == Some(1.0)
                && used == Some(74070.0)
                && limit == Some(6_000_000.0)
                && videos == Some(42.0),
            "an ok call gave up {up:?}, used {used:?}, limit {limit:?}, videos {videos:?}"
        );
    } else {
        ensure!(
            up == Some(0.0) && used.is_none() && limit.is_none() && videos.is_none(),
            "a failed call gave up {up:?}, used {used:?}, limit {limit:?}, videos {videos:?}"
        );
    }
    Ok(())
}

fn flapping() -> Outcome {
    let fake = FakeCloudflare::start(Mode::Cycle(vec![
        Mode::ok(),
        Mode::json(
            500,
            r#"{"success":false,"errors":[{"code":10001,"message":"Internal error"}],"messages":[],"result":null}"#,
        ),
        Mode::rate_limited(),
        Mode::json(200, r#"{"result":{"totalStorageMinutes":"#),
    ]));
    let exporter = Launch::against(&fake).start();
    let rounds = 5;
    let (mut ups, mut downs) = (0, 0);
    for i in 0..rounds * 4 {
        let page = exporter.metrics();
        let want_up = i % 4 == 0;
        check_page(&page, want_up).map_err(|e| format!("scrape {i}: {e}"))?;
        if want_up {
            ups += 1;
        } else {
            downs += 1;
        }
    }
    ensure!(
        fake.calls() == rounds * 4,
        "{} scrapes made {} calls",
        rounds * 4,
        fake.calls()
    );
    Ok(format!(
        "{} scrapes: {ups} with values and up 1, {downs} with no values and up 0",
        rounds * 4
    ))
}

fn huge_body() -> Outcome {
    let fake = FakeCloudflare::start(Mode::Huge {
        bytes: 256 * 1024 * 1024,
    });
    let exporter = Launch::against(&fake).start();
    exporter.get("/healthz");
    let before = rss_kib(exporter.pid());
    let mut worst = 0;
    let mut slowest = Duration::ZERO;
    let rounds = 5;
    for _ in 0..rounds {
        let started = Instant::now();
        let page = exporter.metrics();
        slowest = slowest.max(started.elapsed());
        check_page(&page, false)?;
        worst = worst.max(rss_kib(exporter.pid()));
    }
    let said = exporter.wait_log("larger than 1024 KiB", Duration::from_secs(1));
    ensure!(!said.is_empty(), "no log line about the bound");
    // The bound is 1 MiB; reading past it would show as hundreds of MiB.
    ensure!(
        worst < before + 4 * 1024,
        "RSS went from {before} KiB to {worst} KiB"
    );
    Ok(format!(
        "{rounds} x 256 MiB bodies: read stopped at 1 MiB, slowest scrape {}, RSS {} -> {}",
        ms(slowest),
        mib(before),
        mib(worst)
    ))
}

fn sigterm_in_flight() -> Outcome {
    let fake = FakeCloudflare::start(Mode::Delay(Duration::from_secs(30), Box::new(Mode::ok())));
    let mut exporter = Launch::against(&fake).start();
    let url = exporter.url("/metrics");
    let scraping = thread::spawn(move || {
        // The answer may never come; the process is gone.
        crate::support::agent().get(&url).call().is_ok()
    });
    ensure!(
        poll(Duration::from_secs(5), || (fake.calls() == 1).then_some(())).is_some(),
        "the scrape never reached the API"
    );
    let started = Instant::now();
    exporter.signal("TERM");
    let status = wait_for(&mut exporter.child, Duration::from_secs(5));
    let took = started.elapsed();
    let status = status.ok_or("the exporter did not exit within 5 s")?;
    ensure!(took < Duration::from_secs(1), "exit took {took:?}");
    ensure!(status.success(), "exit status {status}");
    let _ = scraping.join();
    Ok(format!("exit 0 {} after SIGTERM, call in flight", ms(took)))
}
