//! A short, bounded cargo fuzz run of each target in tests/fuzz. `make fuzz`
//! runs them for longer.

use std::path::Path;
use std::process::Command;

use crate::{ensure, Outcome, Suite};

const TARGETS: [&str; 2] = ["decode", "route"];

pub fn scenarios(suite: &mut Suite) {
    let seconds: u64 = std::env::var("CSE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    for target in TARGETS {
        suite.run(&format!("fuzz: {target}, {seconds} s"), || {
            fuzz(target, seconds)
        });
    }
}

fn fuzz(target: &str, seconds: u64) -> Outcome {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("target/fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
    let seeds = root.join("tests/fuzz/seeds").join(target);
    let out = Command::new("cargo")
        .current_dir(root)
        .args([
            "fuzz",
            "run",
            "--fuzz-dir",
            "tests/fuzz",
            "-s",
            "none",
            target,
        ])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .output()
        .map_err(|e| format!("cannot run cargo fuzz ({e}); `make fuzz-deps` installs it"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let done = log.lines().find(|l| l.starts_with("Done ")).unwrap_or("");
    let cov = log
        .lines()
        .rev()
        .find_map(|l| l.split(" cov: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?");
    ensure!(
        out.status.success(),
        "cargo fuzz failed ({}): {}",
        out.status,
        log.lines()
            .filter(|l| l.contains("panicked") || l.contains("ERROR") || l.contains("error"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" / ")
    );
    ensure!(!done.is_empty(), "cargo fuzz printed no Done line");
    Ok(format!(
        "{}, cov {cov}, no crash",
        done.trim_start_matches("Done ")
    ))
}
