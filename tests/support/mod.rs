//! Shared by the end-to-end tests: start the real binary against the fake
//! Cloudflare API, talk HTTP to it, read its logs.
#![allow(dead_code)]

pub mod fake;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use fake::{FakeCloudflare, Mode, ACCOUNT, ACCOUNT2, TOKEN};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloudflare-stream-exporter");

/// The binary under test: `CSE_EXPORTER_BIN` when set (the reliability
/// suite gets the static release binary that ships), else cargo's build.
pub fn bin() -> String {
    std::env::var("CSE_EXPORTER_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// How to start the exporter. Its environment is cleared, so that nothing
/// of the machine's (a proxy, a token, TZ) leaks into a test.
#[derive(Clone, Default)]
pub struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The program and its first arguments, when not [`bin()`] alone
    /// (the benchmark runs the packed binary, or valgrind with a binary).
    via: Vec<String>,
    /// `--web.listen-address`, given last when set.
    listen: Option<String>,
}

impl Launch {
    /// No flags and no env at all.
    pub fn bare() -> Launch {
        Launch::default()
    }

    /// Token by env, the fake's URL and account by flags, an ephemeral port.
    pub fn against(fake: &FakeCloudflare) -> Launch {
        Launch::against_api(&fake.api_url())
    }

    /// As [`Launch::against`], for an API at any URL (the HTTPS fake).
    pub fn against_api(api_url: &str) -> Launch {
        Launch::bare()
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .arg(&format!("--cloudflare.api-url={api_url}"))
            .arg(&format!("--cloudflare.account-id={ACCOUNT}"))
            .listen("127.0.0.1:0")
    }

    /// Listens on `addr` instead of an ephemeral port.
    pub fn listen(mut self, addr: &str) -> Launch {
        self.listen = Some(addr.to_string());
        self
    }

    /// Runs `command` (a program and its first arguments) instead of [`bin()`].
    pub fn via(mut self, command: &[&str]) -> Launch {
        self.via = command.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn arg(mut self, a: &str) -> Launch {
        self.args.push(a.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Launch {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    fn command(&self) -> Command {
        let mut c = match self.via.split_first() {
            Some((program, first)) => {
                let mut c = Command::new(program);
                c.args(first);
                c
            }
            None => Command::new(bin()),
        };
        c.env_clear()
            .args(&self.args)
            .args(
                self.listen
                    .iter()
                    .map(|a| format!("--web.listen-address={a}")),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs to completion (for commands that exit), within `limit`.
    pub fn run(&self, limit: Duration) -> Finished {
        let mut child = self.command().spawn().expect("spawn the exporter");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let status = wait_for(&mut child, limit).expect("the command did not exit in time");
        thread::sleep(Duration::from_millis(20));
        let stdout = out.lock().unwrap().join("\n");
        let stderr = err.lock().unwrap().join("\n");
        Finished {
            status,
            stdout,
            stderr,
        }
    }

    /// Spawns the process and returns at once.
    pub fn spawn(&self) -> std::io::Result<Child> {
        self.command().spawn()
    }

    /// Starts the server and waits until it says where it listens.
    pub fn start(&self) -> Exporter {
        let mut child = self.command().spawn().expect("spawn the exporter");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        // Generous: under valgrind the start takes seconds.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = stderr.lock().unwrap().iter().find_map(|l| {
                let rest = l.split(" listening on ").nth(1)?;
                rest.split_whitespace().next()?.parse::<SocketAddr>().ok()
            });
            if let Some(addr) = found {
                return Exporter {
                    child,
                    addr,
                    stderr,
                    stdout,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the exporter exited with {status} before listening:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            assert!(Instant::now() < deadline, "the exporter did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn collect<R: std::io::Read + Send + 'static>(r: R) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => sink.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    });
    lines
}

pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A running exporter; killed when dropped.
pub struct Exporter {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One client for all requests of a test process, with no proxy.
pub fn agent() -> ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT
        .get_or_init(|| {
            ureq::Agent::config_builder()
                .proxy(None)
                .http_status_as_error(false)
                .allow_non_standard_methods(true)
                .max_idle_connections(0)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into()
        })
        .clone()
}

pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(()).unwrap();
    let mut resp = agent().run(req).expect("the exporter answers");
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

impl Exporter {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> Answer {
        request("GET", &self.url(path), &[])
    }

    pub fn metrics(&self) -> String {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200, "{a:?}");
        a.body
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits until a log line holds `needle`; returns the lines that do.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let hits: Vec<String> = self
                .stderr()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if !hits.is_empty() || Instant::now() > deadline {
                return hits;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `TERM` or `INT`.
    pub fn signal(&self, sig: &str) {
        let number = match sig {
            "TERM" => libc::SIGTERM,
            "INT" => libc::SIGINT,
            other => panic!("no such signal in these tests: {other}"),
        };
        // SAFETY: kill(2) with a child's pid and a valid signal number.
        let rc = unsafe { libc::kill(self.pid(), number) };
        assert_eq!(rc, 0, "kill -{sig} failed");
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name{account_id="account"}`, if the page has that sample.
pub fn sample(page: &str, name: &str, account: &str) -> Option<f64> {
    let prefix = format!("{name}{{account_id=\"{account}\"}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("a number"))
}

/// The value of an unlabelled sample.
pub fn plain_sample(page: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("a number"))
}

/// A 127.0.0.1 port with nothing listening on it.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A client that keeps its connection alive between requests, as
/// Prometheus does; one per load thread.
pub fn kept_alive_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Sends raw bytes and reads what comes back until the server closes or
/// `limit` passes. Returns the status code of the first answer, if any.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.set_write_timeout(Some(limit)).ok()?;
    // The server may answer and close before all is written; that is fine.
    let _ = stream.write_all(bytes);
    // Half-close: the server sees the end of the request at once, rather
    // than waiting for more until its read timeout.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && got.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

fn status_field(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: i32) -> u64 {
    status_field(pid, "VmRSS:").unwrap_or(0)
}

/// Threads of a process.
pub fn threads(pid: i32) -> u64 {
    status_field(pid, "Threads:").unwrap_or(0)
}

/// The value at quantile `q` (0..=1) of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
