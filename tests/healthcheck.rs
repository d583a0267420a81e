//! Promise: `cloudflare-stream-exporter healthcheck` exits 0 when the
//! exporter's /healthz answers 200 and 1 otherwise, with one line saying why.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn healthcheck(listen: &str) -> Finished {
    Launch::bare()
        .arg("healthcheck")
        .env("WEB_LISTEN_ADDRESS", listen)
        .run(Duration::from_secs(5))
}

#[test]
fn healthy_exporter_exits_0() {
    let fake = FakeCloudflare::start(Mode::forbidden());
    let exporter = Launch::against(&fake).start();
    let port = exporter.addr.port();
    // The env var, as a container's HEALTHCHECK would see it...
    let out = healthcheck(&format!(":{port}"));
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("healthy"), "{}", out.stdout);
    // ...or the flag.
    let out = Launch::bare()
        .arg("healthcheck")
        .arg(&format!("--web.listen-address=127.0.0.1:{port}"))
        .run(Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    // It never calls Cloudflare, so a broken token does not make it unhealthy.
    assert_eq!(fake.calls(), 0);
}

#[test]
fn nothing_listening_exits_1_with_a_reason() {
    let port = closed_port();
    let t = Instant::now();
    let out = healthcheck(&format!(":{port}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(3));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("unhealthy") && lines[0].contains(&port.to_string()));
}

#[test]
fn a_non_200_answer_exits_1() {
    // Something that is not the exporter answers /healthz with 404.
    let fake = FakeCloudflare::start(Mode::ok());
    let out = healthcheck(&format!("127.0.0.1:{}", fake.port));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.contains("HTTP 404"), "{}", out.stdout);
}

#[test]
fn a_hung_server_exits_1_within_the_2s_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = Instant::now();
    let out = healthcheck(&format!(":{port}"));
    let took = t.elapsed();
    drop(listener);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn a_bad_listen_address_is_a_config_error() {
    let out = healthcheck("nope");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("WEB_LISTEN_ADDRESS"), "{}", out.stderr);
}
