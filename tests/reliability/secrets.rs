//! Everything the process prints at trace level, and everything it serves,
//! holds the API token zero times.

use std::time::Duration;

use crate::support::{request, FakeCloudflare, Launch, Mode, TOKEN};
use crate::{ensure, Outcome, Suite};

pub fn scenarios(suite: &mut Suite) {
    suite.run("secrets: token scan at --log.level=trace", token_scan);
}

/// Runs the exporter through success and failure with the token in env and
/// in a flag, and gathers every byte it wrote or served.
fn gather() -> Vec<(String, String)> {
    let fake = FakeCloudflare::start(Mode::ok());
    let mut texts = Vec::new();
    let flag = format!("--cloudflare.api-token={TOKEN}");
    for (how, launch) in [
        ("env token", Launch::against(&fake)),
        (
            "flag token",
            Launch::against(&fake)
                .env("CLOUDFLARE_API_TOKEN", "")
                .arg(&flag),
        ),
    ] {
        fake.set(Mode::ok());
        let exporter = launch.arg("--log.level=trace").start();
        for path in ["/", "/metrics", "/healthz", "/nope"] {
            let a = request("GET", &exporter.url(path), &[]);
            let headers: Vec<String> = a.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            texts.push((
                format!("{how}: GET {path}"),
                format!("{}\n{}", headers.join("\n"), a.body),
            ));
        }
        // Failures log the most: a 403, a 429 and a dead API.
        for mode in [Mode::forbidden(), Mode::rate_limited(), Mode::html(502)] {
            fake.set(mode);
            texts.push((format!("{how}: failed /metrics"), exporter.metrics()));
        }
        exporter.signal("TERM");
        std::thread::sleep(Duration::from_millis(200));
        texts.push((format!("{how}: stderr"), exporter.stderr().join("\n")));
        texts.push((format!("{how}: stdout"), exporter.stdout().join("\n")));
    }
    // What runs and exits: help, version, the healthcheck, a config error.
    for (what, launch) in [
        (
            "--help",
            Launch::bare()
                .env("CLOUDFLARE_API_TOKEN", TOKEN)
                .arg("--help"),
        ),
        (
            "--version",
            Launch::bare()
                .env("CLOUDFLARE_API_TOKEN", TOKEN)
                .arg("--version"),
        ),
        (
            "healthcheck",
            Launch::bare()
                .env("CLOUDFLARE_API_TOKEN", TOKEN)
                .arg("healthcheck")
                .arg("--web.listen-address=127.0.0.1:9")
                .arg("--log.level=trace"),
        ),
        (
            "config error",
            Launch::bare()
                .arg(&flag)
                .arg("--cloudflare.timeout=soon")
                .arg("--log.level=trace"),
        ),
    ] {
        let done = launch.run(Duration::from_secs(10));
        texts.push((
            what.to_string(),
            format!("{}\n{}", done.stdout, done.stderr),
        ));
    }
    texts
}

fn token_scan() -> Outcome {
    let texts = gather();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let full: usize = texts.iter().map(|(_, t)| t.matches(TOKEN).count()).sum();
    // A dump may split the token across lines: look for any 10-byte piece.
    let pieces: Vec<&str> = (0..=TOKEN.len() - 10).map(|i| &TOKEN[i..i + 10]).collect();
    let leaks: Vec<&String> = texts
        .iter()
        .filter(|(_, t)| pieces.iter().any(|p| t.contains(p)))
        .map(|(what, _)| what)
        .collect();
    ensure!(
        full == 0 && leaks.is_empty(),
        "the token occurs {full} times; pieces of it in {leaks:?}"
    );
    let help = texts
        .iter()
        .find(|(w, _)| w == "--help")
        .map_or(0, |(_, t)| t.len());
    ensure!(help > 500, "--help printed only {help} bytes");
    let trace = texts
        .iter()
        .filter(|(w, _)| w.ends_with("stderr"))
        .map(|(_, t)| t.lines().filter(|l| l.contains("TRACE")).count())
        .sum::<usize>();
    ensure!(
        trace > 0,
        "no TRACE line was captured; the scan saw too little"
    );
    Ok(format!(
        "token 0 times (nor any 10-char piece) in {bytes} bytes from {} sources, {trace} TRACE lines",
        texts.len()
    ))
}
