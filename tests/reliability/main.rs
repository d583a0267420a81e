//! The reliability and security suite: a real Prometheus, faults, bad input,
//! a soak, fuzzing, TLS and a token scan, each against the fake Cloudflare
//! API on 127.0.0.1. It prints one table, scenario / result / figure, and
//! exits 1 when any scenario failed.
//!
//! Run it with `make reliability` (part of `make test`), which installs
//! Prometheus and cargo-fuzz and points `CSE_EXPORTER_BIN` at the static
//! release binary, so that the binary that ships is the one tested.
//!
//! Every loop here is bounded in count and in time, and every socket is on
//! 127.0.0.1.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod faults;
mod fuzz;
mod prometheus;
mod secrets;
mod soak;
mod tls;
mod util;

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

/// What a scenario gives back: its figure, or why it failed.
pub type Outcome = Result<String, String>;

struct Row {
    scenario: String,
    passed: bool,
    figure: String,
    seconds: f64,
}

/// Runs scenarios, turning a panic into a failed row, and keeps the rows.
pub struct Suite {
    rows: Vec<Row>,
    only: Option<String>,
}

impl Suite {
    /// Runs one scenario unless `CSE_ONLY` names another.
    pub fn run(&mut self, scenario: &str, f: impl FnOnce() -> Outcome) {
        if let Some(only) = &self.only {
            if !scenario.contains(only.as_str()) {
                return;
            }
        }
        eprintln!("--- {scenario}");
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(f))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(&p))));
        let seconds = started.elapsed().as_secs_f64();
        let (passed, figure) = match outcome {
            Ok(figure) => (true, figure),
            Err(why) => (false, why),
        };
        eprintln!(
            "--- {scenario}: {} ({figure})",
            if passed { "pass" } else { "FAIL" }
        );
        self.rows.push(Row {
            scenario: scenario.to_string(),
            passed,
            figure,
            seconds,
        });
    }

    fn table(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.scenario.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut out = format!(
            "| {:width$} | result | figure |\n|{}|--------|--------|\n",
            "scenario",
            "-".repeat(width + 2)
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {:width$} | {} | {} ({:.1} s) |\n",
                r.scenario,
                if r.passed { "pass  " } else { "FAIL  " },
                r.figure.replace('|', "/").replace('\n', " "),
                r.seconds
            ));
        }
        out
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "a panic".to_string()
    }
}

fn main() {
    util::raise_fd_limit();
    let started = Instant::now();
    let mut suite = Suite {
        rows: Vec::new(),
        only: std::env::var("CSE_ONLY").ok(),
    };
    eprintln!("exporter under test: {}", support::bin());

    prometheus::scenarios(&mut suite);
    faults::scenarios(&mut suite);
    bad_input::scenarios(&mut suite);
    soak::scenarios(&mut suite);
    tls::scenarios(&mut suite);
    secrets::scenarios(&mut suite);
    fuzz::scenarios(&mut suite);

    let failed = suite.rows.iter().filter(|r| !r.passed).count();
    println!("\n{}", suite.table());
    println!(
        "{} scenarios, {} passed, {} failed, in {:.0} s; exporter: {}",
        suite.rows.len(),
        suite.rows.len() - failed,
        failed,
        started.elapsed().as_secs_f64(),
        support::bin()
    );
    if failed > 0 || suite.rows.is_empty() {
        std::process::exit(1);
    }
}
