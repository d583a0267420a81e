//! 20,000 scrapes in a row: RSS must not grow past 10% after warm-up.

use std::time::{Duration, Instant};

use crate::support::{
    kept_alive_agent, quantile, rss_kib, sample, FakeCloudflare, Launch, Mode, ACCOUNT,
};
use crate::util::{mib, ms};
use crate::{ensure, Outcome, Suite};

const SCRAPES: usize = 20_000;
const WARM_UP: usize = 2_000;
const SAMPLE_EVERY: usize = 2_000;

pub fn scenarios(suite: &mut Suite) {
    suite.run("soak: 20000 scrapes, RSS growth after warm-up <= 10%", soak);
}

fn soak() -> Outcome {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let pid = exporter.pid();
    // One kept-alive connection, as Prometheus scrapes.
    let agent = kept_alive_agent();
    let url = exporter.url("/metrics");
    let start_rss = rss_kib(pid);
    let mut warm_rss = 0;
    let mut samples = Vec::new();
    let mut latencies = Vec::with_capacity(SCRAPES);
    let deadline = Instant::now() + Duration::from_secs(300);
    let started = Instant::now();
    for i in 1..=SCRAPES {
        ensure!(Instant::now() < deadline, "only {i} scrapes in 300 s");
        let t = Instant::now();
        let mut answer = agent
            .get(&url)
            .call()
            .map_err(|e| format!("scrape {i}: {e}"))?;
        let body = answer
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("scrape {i}: {e}"))?;
        latencies.push(t.elapsed());
        if i % 1000 == 1 {
            ensure!(
                sample(&body, "cloudflare_stream_up", ACCOUNT) == Some(1.0),
                "scrape {i} has no up 1"
            );
        }
        if i == WARM_UP {
            warm_rss = rss_kib(pid);
        }
        if i % SAMPLE_EVERY == 0 {
            samples.push(rss_kib(pid));
        }
    }
    let took = started.elapsed();
    let end_rss = rss_kib(pid);
    ensure!(
        fake.calls() == SCRAPES,
        "{SCRAPES} scrapes made {} calls",
        fake.calls()
    );
    let peak = samples.iter().copied().max().unwrap_or(end_rss);
    let growth = (peak as f64 / warm_rss.max(1) as f64 - 1.0) * 100.0;
    let trail: Vec<String> = samples.iter().map(|k| format!("{k}")).collect();
    eprintln!("RSS KiB every {SAMPLE_EVERY} scrapes: {}", trail.join(" "));
    ensure!(
        growth <= 10.0,
        "RSS grew {growth:.1}% after warm-up: {warm_rss} KiB -> {peak} KiB ({})",
        trail.join(" ")
    );
    latencies.sort();
    Ok(format!(
        "RSS {} at start, {} after warm-up, peak {} ({growth:+.1}%); {:.0} scrapes/s, p50 {} p99 {}",
        mib(start_rss),
        mib(warm_rss),
        mib(peak),
        SCRAPES as f64 / took.as_secs_f64(),
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99))
    ))
}
