//! `make bench`: what the exporter costs a small host, as one table.
//!
//! Measured against the fake Cloudflare API (tests/support/fake.rs, the same
//! fake as the tests and the demo) on 127.0.0.1, with a load client in this
//! process: one kept-alive connection per client thread, as Prometheus does.
//! Timings are taken over several runs and shown as min / median / max; CPU
//! per scrape is counted in instructions by callgrind, which noise does not
//! move. Nothing here passes or fails on speed: the table says whether each
//! target was met, and the program exits 0 unless a measurement broke.
//!
//! Environment (the Makefile sets it): CSE_PACKED_BIN, CSE_STATIC_BIN,
//! CSE_IMAGE_BYTES, CSE_BENCH_RUNS (default 5), CSE_CALLGRIND_SCRAPES
//! (default 1000), CSE_CALLGRIND_KEEP (keep the profiles for
//! callgrind_annotate; give CSE_STATIC_BIN a build with symbols).

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::{
    closed_port, kept_alive_agent, quantile, raw_exchange, rss_kib, FakeCloudflare, Launch, Mode,
    ACCOUNT, TOKEN,
};

const WARM_UP: usize = 1_000;
const SEQUENTIAL: usize = 3_000;
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 750;
const FAKE_DIRECT: usize = 3_000;

/// A latency in milliseconds, as the table shows it.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn file_size(path: &str) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// One GET, read whole; its latency. Panics on failure: a broken
/// measurement must not pass for a figure.
fn timed_get(agent: &ureq::Agent, url: &str, auth: Option<&str>) -> Duration {
    let started = Instant::now();
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut answer = req.call().expect("the request is answered");
    assert_eq!(answer.status().as_u16(), 200, "{url}");
    let body = answer.body_mut().read_to_string().expect("a body");
    assert!(!body.is_empty());
    started.elapsed()
}

/// Exec of the binary to the first 200 from /healthz, in ms. The child goes
/// back to the caller, who kills and waits for it.
#[allow(clippy::zombie_processes)]
fn start_up(launch: &Launch, addr: SocketAddr) -> (f64, std::process::Child) {
    let started = Instant::now();
    let mut child = launch.spawn().expect("spawn the exporter");
    let deadline = started + Duration::from_secs(10);
    loop {
        let health = b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
        if raw_exchange(addr, health, Duration::from_secs(2)) == Some(200) {
            return (started.elapsed().as_secs_f64() * 1000.0, child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no 200 from /healthz within 10 s");
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// The figures of one run.
#[derive(Default)]
struct Run {
    start_up_ms: f64,
    rss_idle_kib: f64,
    rss_warm_kib: f64,
    rss_load_kib: f64,
    seq_p50: f64,
    seq_p99: f64,
    fake_p50: f64,
    fake_p99: f64,
    conc_p50: f64,
    conc_p99: f64,
    throughput: f64,
    scrapes: f64,
    calls: f64,
}

fn one_run(packed: &str, fake: &FakeCloudflare) -> Run {
    let addr = SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let launch = Launch::against(fake)
        .via(&[packed])
        .listen(&addr.to_string());
    let (start_up_ms, mut child) = start_up(&launch, addr);
    let pid = child.id() as i32;
    thread::sleep(Duration::from_secs(1));
    let rss_idle_kib = rss_kib(pid) as f64;

    let url = format!("http://{addr}/metrics");
    let agent = kept_alive_agent();
    for _ in 0..WARM_UP {
        timed_get(&agent, &url, None);
    }
    let rss_warm_kib = rss_kib(pid) as f64;

    let mut seq: Vec<Duration> = (0..SEQUENTIAL)
        .map(|_| timed_get(&agent, &url, None))
        .collect();
    seq.sort();

    // The fake's own latency for the same upstream request, same client.
    let fake_url = format!("{}/accounts/{ACCOUNT}/stream/storage-usage", fake.api_url());
    let bearer = format!("Bearer {TOKEN}");
    let fake_agent = kept_alive_agent();
    let mut direct: Vec<Duration> = (0..FAKE_DIRECT)
        .map(|_| timed_get(&fake_agent, &fake_url, Some(&bearer)))
        .collect();
    direct.sort();

    let calls_before = fake.calls();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, barrier) = (url.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                let agent = kept_alive_agent();
                timed_get(&agent, &url, None); // connect before the clock matters
                barrier.wait();
                (0..PER_CLIENT - 1)
                    .map(|_| timed_get(&agent, &url, None))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut conc: Vec<Duration> = Vec::new();
    for h in handles {
        conc.extend(h.join().expect("a client thread"));
    }
    let took = started.elapsed();
    let calls = (fake.calls() - calls_before) as f64;
    conc.sort();
    let rss_load_kib = rss_kib(pid) as f64;
    let _ = child.kill();
    let _ = child.wait();
    Run {
        start_up_ms,
        rss_idle_kib,
        rss_warm_kib,
        rss_load_kib,
        seq_p50: ms(quantile(&seq, 0.5)),
        seq_p99: ms(quantile(&seq, 0.99)),
        fake_p50: ms(quantile(&direct, 0.5)),
        fake_p99: ms(quantile(&direct, 0.99)),
        conc_p50: ms(quantile(&conc, 0.5)),
        conc_p99: ms(quantile(&conc, 0.99)),
        throughput: conc.len() as f64 / took.as_secs_f64(),
        scrapes: conc.len() as f64,
        calls,
    }
}

/// Instructions the whole process ran under callgrind, from its out file.
fn callgrind_total(static_bin: &str, fake: &FakeCloudflare, scrapes: usize) -> Option<u64> {
    let out = std::env::temp_dir().join(format!(
        "cse-callgrind-{}-{scrapes}.out",
        std::process::id()
    ));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let exporter = Launch::against(fake)
        .via(&[
            "/usr/bin/valgrind",
            "--tool=callgrind",
            "-q",
            &out_arg,
            static_bin,
        ])
        .start();
    let url = exporter.url("/metrics");
    let agent = kept_alive_agent();
    for _ in 0..scrapes {
        timed_get(&agent, &url, None);
    }
    exporter.signal("TERM");
    let mut exporter = exporter;
    support::wait_for(&mut exporter.child, Duration::from_secs(60))?;
    let text = std::fs::read_to_string(&out).ok()?;
    if std::env::var_os("CSE_CALLGRIND_KEEP").is_some() {
        eprintln!(
            "callgrind profile kept: callgrind_annotate {}",
            out.display()
        );
    } else {
        let _ = std::fs::remove_file(&out);
    }
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.trim().parse().ok())
}

struct Stat {
    min: f64,
    median: f64,
    max: f64,
}

fn stat(runs: &[Run], f: impl Fn(&Run) -> f64) -> Stat {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    Stat {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

fn row(rows: &mut Vec<String>, figure: &str, s: Stat, unit: &str, target: &str, met: Option<bool>) {
    let fmt = |v: f64| {
        if v.abs() >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    rows.push(format!(
        "| {figure} | {} | {} | {} | {unit} | {target} | {} |",
        fmt(s.min),
        fmt(s.median),
        fmt(s.max),
        match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        }
    ));
}

fn main() {
    let packed = env_or("CSE_PACKED_BIN", "target/pack/cloudflare-stream-exporter");
    let static_bin = env_or(
        "CSE_STATIC_BIN",
        "target/x86_64-unknown-linux-musl/release/cloudflare-stream-exporter",
    );
    let runs: usize = env_or("CSE_BENCH_RUNS", "5").parse().unwrap_or(5).max(1);
    let cg_scrapes: usize = env_or("CSE_CALLGRIND_SCRAPES", "1000")
        .parse()
        .unwrap_or(1000);
    let image: Option<u64> = std::env::var("CSE_IMAGE_BYTES")
        .ok()
        .and_then(|s| s.parse().ok());

    let fake = FakeCloudflare::start(Mode::ok());
    let mut all = Vec::new();
    for i in 0..runs {
        eprintln!("run {} of {runs}", i + 1);
        all.push(one_run(&packed, &fake));
    }
    eprintln!("callgrind: {cg_scrapes} scrapes and a baseline of 0");
    let per_scrape = match (
        callgrind_total(&static_bin, &fake, cg_scrapes),
        callgrind_total(&static_bin, &fake, 0),
    ) {
        (Some(with), Some(without)) if with > without && cg_scrapes > 0 => {
            Some((with - without) as f64 / cg_scrapes as f64)
        }
        _ => None,
    };

    let mut rows: Vec<String> = Vec::new();
    let one = |v: f64| Stat {
        min: v,
        median: v,
        max: v,
    };
    let bytes = |p: &str| file_size(p).map(|b| b as f64).unwrap_or(f64::NAN);
    row(
        &mut rows,
        "binary size (static, stripped)",
        one(bytes(&static_bin)),
        "bytes",
        "report",
        None,
    );
    row(
        &mut rows,
        "packed size (upx)",
        one(bytes(&packed)),
        "bytes",
        "report",
        None,
    );
    match image {
        Some(b) => row(&mut rows,
            "image size (scratch)",
            one(b as f64),
            "bytes",
            "< 1 MiB",
            Some(b < 1 << 20),
        ),
        None => rows.push("| image size (scratch) | - | - | - | bytes | < 1 MiB | not built (CSE_IMAGE_BYTES unset) |".into()),
    }
    let s = stat(&all, |r| r.rss_idle_kib / 1024.0);
    let met = s.max < 3.0;
    row(
        &mut rows,
        "RSS idle, 1 s after start",
        s,
        "MiB",
        "< 3 MiB",
        Some(met),
    );
    let s = stat(&all, |r| r.rss_load_kib / 1024.0);
    let met = s.max < 4.0;
    row(
        &mut rows,
        "RSS after 10,000 scrapes",
        s,
        "MiB",
        "< 4 MiB",
        Some(met),
    );
    let s = stat(&all, |r| r.rss_load_kib - r.rss_warm_kib);
    let met = s.max <= 0.1 * stat(&all, |r| r.rss_warm_kib).min;
    row(
        &mut rows,
        "RSS growth after warm-up (1,000 -> 10,000 scrapes)",
        s,
        "KiB",
        "flat (< 10%)",
        Some(met),
    );
    let s = stat(&all, |r| r.seq_p50);
    row(
        &mut rows,
        "scrape latency p50, sequential",
        s,
        "ms",
        "report",
        None,
    );
    let s = stat(&all, |r| r.seq_p99);
    let met = s.median < 2.0;
    row(
        &mut rows,
        "scrape latency p99, sequential",
        s,
        "ms",
        "< 2 ms",
        Some(met),
    );
    row(
        &mut rows,
        "scrape latency p50, 8 concurrent",
        stat(&all, |r| r.conc_p50),
        "ms",
        "report",
        None,
    );
    row(
        &mut rows,
        "scrape latency p99, 8 concurrent",
        stat(&all, |r| r.conc_p99),
        "ms",
        "report",
        None,
    );
    row(
        &mut rows,
        "fake API's own latency p50 / same client",
        stat(&all, |r| r.fake_p50),
        "ms",
        "report",
        None,
    );
    row(
        &mut rows,
        "exporter overhead p50 (scrape - fake)",
        stat(&all, |r| r.seq_p50 - r.fake_p50),
        "ms",
        "report",
        None,
    );
    row(
        &mut rows,
        "exporter overhead p99 (scrape - fake)",
        stat(&all, |r| r.seq_p99 - r.fake_p99),
        "ms",
        "report",
        None,
    );
    row(
        &mut rows,
        "throughput, 8 concurrent clients",
        stat(&all, |r| r.throughput),
        "scrapes/s",
        "report",
        None,
    );
    row(
        &mut rows,
        "upstream calls per scrape at 8 concurrent (coalescing)",
        stat(&all, |r| r.calls / r.scrapes),
        "calls",
        "report",
        None,
    );
    let s = stat(&all, |r| r.start_up_ms);
    let met = s.median < 50.0;
    row(
        &mut rows,
        "start-up, exec to first /healthz 200 (packed)",
        s,
        "ms",
        "< 50 ms",
        Some(met),
    );
    match per_scrape {
        Some(v) => row(&mut rows, "CPU per scrape (callgrind, unpacked)", one(v), "instructions", "report", None),
        None => rows.push("| CPU per scrape (callgrind, unpacked) | - | - | - | instructions | report | valgrind failed |".into()),
    }

    println!();
    println!("| figure | min | median | max | unit | target | |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!();
    let scrapes = stat(&all, |r| r.scrapes).median;
    let calls = stat(&all, |r| r.calls).median;
    println!(
        "{runs} runs of {WARM_UP} warm-up + {SEQUENTIAL} sequential + {CLIENTS}x{PER_CLIENT} concurrent scrapes \
         against the fake on 127.0.0.1 (median run: {scrapes:.0} concurrent scrapes made {calls:.0} upstream calls); \
         callgrind over {cg_scrapes} scrapes less a run of none."
    );
    println!("The Go exporter it replaces: about 3.5 MB of image and 14 MB of RSS.");
}
