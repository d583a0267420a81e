//! A real Prometheus (Debian's package) scrapes the exporter every second;
//! its HTTP API shows what users will see.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{closed_port, FakeCloudflare, Launch, Mode, ACCOUNT};
use crate::util::poll;
use crate::{ensure, Suite};

const JOB: &str = "cloudflare-stream";
/// The scrape timeout Prometheus is given, and so sends the exporter.
const SCRAPE_TIMEOUT_S: f64 = 1.0;

struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    fn start(target: &str) -> Result<Prometheus, String> {
        let dir = std::env::temp_dir().join(format!("cse-prometheus-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: {SCRAPE_TIMEOUT_S}s\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{target}']\n"
        );
        fs::write(dir.join("prometheus.yml"), config).map_err(|e| e.to_string())?;
        let port = closed_port();
        let log = fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start prometheus ({e}); `make test-deps` installs it"))?;
        Ok(Prometheus { child, port, dir })
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: the value of every series in the result.
    fn query(&self, expr: &str) -> Result<Vec<f64>, String> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            encode(expr)
        );
        let body = crate::support::agent()
            .get(&url)
            .call()
            .map_err(|e| e.to_string())?
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        if json["status"] != "success" {
            return Err(format!("query {expr} failed: {body}"));
        }
        let result = json["data"]["result"]
            .as_array()
            .ok_or_else(|| format!("no result in {body}"))?;
        Ok(result
            .iter()
            .filter_map(|s| s["value"][1].as_str()?.parse().ok())
            .collect())
    }

    /// The single value of `expr`, when there is exactly one series.
    fn value(&self, expr: &str) -> Option<f64> {
        match self.query(expr).ok()?.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// Waits up to `limit` for `expr` to have the single value `want`.
    fn wait_for(&self, expr: &str, want: f64, limit: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        poll(limit, || (self.value(expr) == Some(want)).then_some(()))
            .map(|_| started.elapsed())
            .ok_or_else(|| {
                format!(
                    "{expr} is {:?}, not {want}, after {limit:?}; prometheus said: {}",
                    self.query(expr),
                    self.log().lines().last().unwrap_or("")
                )
            })
    }
}

/// Percent-encodes a PromQL expression for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn scenarios(suite: &mut Suite) {
    let fake = FakeCloudflare::start(Mode::ok());
    let exporter = Launch::against(&fake).start();
    let prometheus = match Prometheus::start(&exporter.addr.to_string()) {
        Ok(p) => p,
        Err(e) => {
            suite.run("prometheus: scrapes the exporter", || Err(e));
            return;
        }
    };
    let up = format!("up{{job=\"{JOB}\"}}");
    let stream_up = format!("cloudflare_stream_up{{account_id=\"{ACCOUNT}\"}}");
    let used = format!("cloudflare_stream_storage_used_seconds{{account_id=\"{ACCOUNT}\"}}");
    let limit = format!("cloudflare_stream_storage_limit_seconds{{account_id=\"{ACCOUNT}\"}}");

    suite.run(
        "prometheus: up 1, cloudflare_stream_up 1, fake's values",
        || {
            let took = prometheus.wait_for(&up, 1.0, Duration::from_secs(30))?;
            prometheus.wait_for(&stream_up, 1.0, Duration::from_secs(10))?;
            // The fake answers 1234.5 minutes used of 100000.
            prometheus.wait_for(&used, 1234.5 * 60.0, Duration::from_secs(5))?;
            prometheus.wait_for(&limit, 100_000.0 * 60.0, Duration::from_secs(5))?;
            Ok(format!(
                "up after {:.1} s; used 74070 s, limit 6000000 s",
                took.as_secs_f64()
            ))
        },
    );

    suite.run(
        "prometheus: API 403 -> up 0, storage stale, up{job} 1",
        || {
            fake.set(Mode::forbidden());
            let took = prometheus.wait_for(&stream_up, 0.0, Duration::from_secs(10))?;
            // Stale, not zero: the instant query finds no sample at all.
            let gone = poll(Duration::from_secs(5), || {
                let (u, l) = (
                    prometheus.query(&used).ok()?,
                    prometheus.query(&limit).ok()?,
                );
                (u.is_empty() && l.is_empty()).then_some(())
            });
            ensure!(
                gone.is_some(),
                "storage series still there: used {:?}, limit {:?}",
                prometheus.query(&used),
                prometheus.query(&limit)
            );
            let zeros = prometheus.query(&format!("{used} == 0 or {limit} == 0"))?;
            ensure!(zeros.is_empty(), "a storage series turned zero: {zeros:?}");
            ensure!(
                prometheus.value(&up) == Some(1.0),
                "Prometheus's up is {:?}",
                prometheus.value(&up)
            );
            Ok(format!(
                "cloudflare_stream_up 0 after {:.1} s; storage series stale, none zero; up 1",
                took.as_secs_f64()
            ))
        },
    );

    suite.run("prometheus: hanging API -> scrape_duration_seconds < timeout", || {
        fake.set(Mode::Delay(Duration::from_secs(60), Box::new(Mode::ok())));
        // Six seconds of hanging, then look at the last five only.
        std::thread::sleep(Duration::from_secs(6));
        let window = "[5s]";
        let durations =
            prometheus.query(&format!("max_over_time(scrape_duration_seconds{{job=\"{JOB}\"}}{window})"))?;
        let count =
            prometheus.value(&format!("count_over_time(scrape_duration_seconds{{job=\"{JOB}\"}}{window})"));
        let worst = durations.first().copied().ok_or("no scrape_duration_seconds")?;
        ensure!(
            worst < SCRAPE_TIMEOUT_S,
            "a scrape took {worst} s, over the {SCRAPE_TIMEOUT_S} s timeout"
        );
        let up_max = prometheus.value(&format!("max_over_time({up}{window})"));
        let up_min = prometheus.value(&format!("min_over_time({up}{window})"));
        ensure!(
            up_min == Some(1.0) && up_max == Some(1.0),
            "Prometheus's up moved: min {up_min:?}, max {up_max:?}"
        );
        let stream_up_max = prometheus.value(&format!("max_over_time({stream_up}{window})"));
        ensure!(
            stream_up_max == Some(0.0),
            "cloudflare_stream_up was {stream_up_max:?} while the API hung"
        );
        fake.set(Mode::ok());
        Ok(format!(
            "max scrape_duration_seconds {worst:.3} s of {SCRAPE_TIMEOUT_S} s over {} scrapes; up 1, cloudflare_stream_up 0",
            count.unwrap_or(0.0)
        ))
    });
}
