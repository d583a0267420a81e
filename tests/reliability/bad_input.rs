//! Bad input to the exporter's own port. After each, the next good scrape
//! must still be served with the fake's values.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{
    raw_exchange, request, rss_kib, sample, threads, Exporter, FakeCloudflare, Launch, Mode,
    ACCOUNT,
};
use crate::util::{mib, ms};
use crate::{ensure, Outcome, Suite};

const WAIT: Duration = Duration::from_secs(5);

pub fn scenarios(suite: &mut Suite) {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let e = &exporter;
    suite.run("bad input: garbage bytes", || then_good(e, garbage(e)));
    suite.run("bad input: oversized request line", || {
        then_good(e, oversized_line(e))
    });
    suite.run("bad input: oversized headers", || {
        then_good(e, oversized_headers(e))
    });
    suite.run("bad input: 1000 idle connections (slowloris)", || {
        idle_connections(e)
    });
    suite.run("bad input: paths with .. and %00", || {
        then_good(e, paths(e))
    });
    suite.run("bad input: methods other than GET and HEAD", || {
        then_good(e, methods(e))
    });
}

/// The next good scrape after an attack: 200 with the fake's values.
fn good_scrape(exporter: &Exporter) -> Result<Duration, String> {
    let started = Instant::now();
    let a = exporter.get("/metrics");
    let took = started.elapsed();
    ensure!(a.status == 200, "the next scrape answered {}", a.status);
    ensure!(
        sample(&a.body, "cloudflare_stream_up", ACCOUNT) == Some(1.0)
            && sample(&a.body, "cloudflare_stream_videos", ACCOUNT) == Some(42.0),
        "the next scrape lacks the fake's values"
    );
    Ok(took)
}

fn then_good(exporter: &Exporter, attack: Outcome) -> Outcome {
    let figure = attack?;
    let took = good_scrape(exporter)?;
    Ok(format!("{figure}; next scrape 200 in {}", ms(took)))
}

fn garbage(exporter: &Exporter) -> Outcome {
    // A fixed xorshift stream: the same bytes every run.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut statuses = Vec::new();
    for round in 0..20 {
        let bytes: Vec<u8> = (0..4096 + round * 512)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        statuses.push(raw_exchange(exporter.addr, &bytes, WAIT));
    }
    // And two that look like something: a TLS hello on the plain port, and
    // a line that is not a request line.
    for bytes in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"HELLO\r\n\r\n",
    ] {
        statuses.push(raw_exchange(exporter.addr, bytes, WAIT));
    }
    ensure!(
        statuses
            .iter()
            .all(|s| matches!(s, None | Some(400) | Some(414))),
        "garbage got {statuses:?}"
    );
    let count = |want: Option<u16>| statuses.iter().filter(|s| **s == want).count();
    Ok(format!(
        "20 blobs of 4-14 KiB, a TLS hello, a bad line: {} got 400, {} got 414, {} were closed",
        count(Some(400)),
        count(Some(414)),
        count(None)
    ))
}

fn oversized_line(exporter: &Exporter) -> Outcome {
    let line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1 << 20));
    let status = raw_exchange(exporter.addr, line.as_bytes(), WAIT);
    ensure!(status == Some(414), "a 1 MiB request line got {status:?}");
    Ok("1 MiB request line: 414".to_string())
}

fn oversized_headers(exporter: &Exporter) -> Outcome {
    let long = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let long_status = raw_exchange(exporter.addr, long.as_bytes(), WAIT);
    ensure!(
        long_status == Some(431),
        "a 1 MiB header got {long_status:?}"
    );
    let many: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let many_status = raw_exchange(exporter.addr, many.as_bytes(), WAIT);
    ensure!(many_status == Some(431), "5000 headers got {many_status:?}");
    Ok("1 MiB header: 431; 5000 headers: 431".to_string())
}

fn idle_connections(exporter: &Exporter) -> Outcome {
    let pid = exporter.pid();
    let rss_before = rss_kib(pid);
    let n = 1000;
    let mut held = Vec::with_capacity(n);
    let opening = Instant::now();
    for i in 0..n {
        match TcpStream::connect(exporter.addr) {
            Ok(s) => held.push(s),
            Err(e) => return Err(format!("connection {i} failed: {e}")),
        }
    }
    let opened = opening.elapsed();
    // A few of them send half a request line and stop, slowloris style.
    for s in held.iter_mut().step_by(10) {
        use std::io::Write;
        let _ = s.write_all(b"GET /metr");
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss_during, threads_during) = (rss_kib(pid), threads(pid));
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        worst = worst.max(good_scrape(exporter)?);
    }
    let health = request("GET", &exporter.url("/healthz"), &[]);
    ensure!(health.status == 200, "/healthz answered {}", health.status);
    drop(held);
    Ok(format!(
        "{n} opened in {}, held: 5 scrapes 200, worst {}; {threads_during} threads, RSS {} -> {}",
        ms(opened),
        ms(worst),
        mib(rss_before),
        mib(rss_during)
    ))
}

fn paths(exporter: &Exporter) -> Outcome {
    let cases = [
        "/metrics/../metrics",
        "/../metrics",
        "/..%2f..%2fetc%2fpasswd",
        "/metrics%00",
        "/%00",
        "/healthz/..",
        "//metrics",
        "/metrics/",
    ];
    for path in cases {
        let request_line = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let status = raw_exchange(exporter.addr, request_line.as_bytes(), WAIT);
        ensure!(status == Some(404), "GET {path} got {status:?}, not 404");
    }
    // A raw NUL byte in the path is not valid HTTP at all.
    let nul = raw_exchange(
        exporter.addr,
        b"GET /metrics\0 HTTP/1.1\r\nHost: x\r\n\r\n",
        WAIT,
    );
    ensure!(
        matches!(nul, None | Some(400) | Some(404)),
        "a raw NUL got {nul:?}"
    );
    Ok(format!(
        "{} paths: 404; raw NUL: {}",
        cases.len(),
        nul.map_or("closed".to_string(), |s| s.to_string())
    ))
}

fn methods(exporter: &Exporter) -> Outcome {
    let cases = [
        "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW",
    ];
    for method in cases {
        let head = format!(
            "{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let status = raw_exchange(exporter.addr, head.as_bytes(), WAIT);
        ensure!(
            status == Some(405),
            "{method} /metrics got {status:?}, not 405"
        );
    }
    Ok(format!("{} methods on /metrics: 405", cases.len()))
}
