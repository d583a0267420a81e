//! The fake Cloudflare API as a program, for `make demo` and the benchmarks.
//! It is the same fake the tests use, and it listens on 127.0.0.1 only.
//!
//!   fake-cloudflare [--listen 127.0.0.1:18787] [--mode ok|forbidden|html|slow]
//!                   [--delay-ms N] [--print-token]

#[path = "fake.rs"]
mod fake;

use std::time::Duration;

fn main() {
    let mut args = pico_args::Arguments::from_env();
    if args.contains("--print-token") {
        println!("{}", fake::TOKEN);
        return;
    }
    let listen: String = args
        .opt_value_from_str("--listen")
        .ok()
        .flatten()
        .unwrap_or_else(|| "127.0.0.1:18787".to_string());
    let mode_name: String = args
        .opt_value_from_str("--mode")
        .ok()
        .flatten()
        .unwrap_or_else(|| "ok".to_string());
    let delay_ms: u64 = args
        .opt_value_from_str("--delay-ms")
        .ok()
        .flatten()
        .unwrap_or(0);
    let mut mode = match mode_name.as_str() {
        "ok" => fake::Mode::ok(),
        "forbidden" => fake::Mode::forbidden(),
        "html" => fake::Mode::html(502),
        "ratelimit" => fake::Mode::rate_limited(),
        other => {
            eprintln!("fake-cloudflare: unknown --mode {other}");
            std::process::exit(2);
        }
    };
    if delay_ms > 0 {
        mode = fake::Mode::Delay(Duration::from_millis(delay_ms), Box::new(mode));
    }
    let server = match fake::FakeCloudflare::start_on(&listen, mode) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake-cloudflare: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "fake-cloudflare: {} (token {}, account {})",
        server.api_url(),
        fake::TOKEN,
        fake::ACCOUNT
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
