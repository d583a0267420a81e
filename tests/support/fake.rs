//! A fake Cloudflare API on 127.0.0.1, for tests, benchmarks and the demo.
//!
//! It answers `GET /client/v4/accounts/{id}/stream/storage-usage` the way
//! the real API does, or fails the way the real API fails, as its current
//! [`Mode`] says. It counts calls and keeps the last Authorization header.
//! It never listens anywhere but 127.0.0.1.
#![allow(dead_code)]

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tiny_http::{Header, Response, Server, StatusCode};

/// The account ID the fake knows; others get Cloudflare's 404.
pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// A second account, for multi-account tests.
pub const ACCOUNT2: &str = "9a7806061c88ada191ed06f989cc3dac";
/// The token the fake accepts; others get Cloudflare's 403.
pub const TOKEN: &str = "FAKEt0ken-9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// How the fake answers the next calls.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The documented success answer with these figures.
    Ok {
        minutes: f64,
        limit: f64,
        videos: u64,
    },
    /// Any status, content type and body, with extra headers.
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
        headers: Vec<(&'static str, String)>,
    },
    /// Wait, then answer as the inner mode.
    Delay(Duration, Box<Mode>),
    /// A 200 whose JSON body streams on and on: `bytes` in all.
    Huge { bytes: usize },
    /// Answer the modes in turn, one per call, round and round.
    Cycle(Vec<Mode>),
}

impl Mode {
    pub fn ok() -> Mode {
        Mode::Ok {
            minutes: 1234.5,
            limit: 100000.0,
            videos: 42,
        }
    }

    pub fn json(status: u16, body: &str) -> Mode {
        Mode::Raw {
            status,
            content_type: "application/json",
            body: body.to_string(),
            headers: vec![],
        }
    }

    pub fn forbidden() -> Mode {
        Mode::json(
            403,
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#,
        )
    }

    pub fn not_found() -> Mode {
        Mode::json(
            404,
            r#"{"success":false,"errors":[{"code":7003,"message":"Could not route to /accounts/x/stream/storage-usage, perhaps your object identifier is invalid?"}],"messages":[],"result":null}"#,
        )
    }

    pub fn rate_limited() -> Mode {
        Mode::Raw {
            status: 429,
            content_type: "application/json",
            body: r#"{"success":false,"errors":[{"code":10429,"message":"Too many requests"}],"messages":[],"result":null}"#.into(),
            headers: vec![("Retry-After", "37".into())],
        }
    }

    pub fn html(status: u16) -> Mode {
        Mode::Raw {
            status,
            content_type: "text/html; charset=UTF-8",
            body: "<!DOCTYPE html><html><head><title>502 Bad gateway</title></head>\
                   <body>cloudflare</body></html>"
                .into(),
            headers: vec![],
        }
    }

    /// The documented success body with these figures.
    pub fn body(minutes: f64, limit: f64, videos: u64) -> String {
        format!(
            r#"{{"result":{{"creator":"","totalStorageMinutes":{minutes},"totalStorageMinutesLimit":{limit},"videoCount":{videos}}},"success":true,"errors":[],"messages":[]}}"#
        )
    }
}

struct State {
    mode: Mutex<Mode>,
    cycle_pos: AtomicUsize,
    calls: AtomicUsize,
    last_auth: Mutex<Option<String>>,
}

/// A running fake; it stops when dropped.
pub struct FakeCloudflare {
    server: Arc<Server>,
    state: Arc<State>,
    pub port: u16,
}

impl FakeCloudflare {
    /// Starts on a free port of 127.0.0.1.
    pub fn start(mode: Mode) -> FakeCloudflare {
        Self::start_on("127.0.0.1:0", mode).expect("start the fake Cloudflare API")
    }

    /// Starts on the given 127.0.0.1 address.
    pub fn start_on(addr: &str, mode: Mode) -> io::Result<FakeCloudflare> {
        assert!(
            addr.starts_with("127.0.0.1:"),
            "the fake listens on loopback only"
        );
        let server = Arc::new(Server::http(addr).map_err(io::Error::other)?);
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other("no port"))?;
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            cycle_pos: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            last_auth: Mutex::new(None),
        });
        let (s, st) = (server.clone(), state.clone());
        thread::spawn(move || {
            for request in s.incoming_requests() {
                let st = st.clone();
                // One thread per request, so a slow answer holds up no other.
                thread::spawn(move || handle(&st, request));
            }
        });
        Ok(FakeCloudflare {
            server,
            state,
            port,
        })
    }

    /// The base URL to give the exporter as `--cloudflare.api-url`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/client/v4", self.port)
    }

    /// The old exporter's full `API_URL` for [`ACCOUNT`].
    pub fn legacy_url(&self) -> String {
        format!("{}/accounts/{ACCOUNT}/stream/storage-usage", self.api_url())
    }

    pub fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        self.state.cycle_pos.store(0, Ordering::SeqCst);
    }

    /// Storage-usage calls answered so far.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn last_authorization(&self) -> Option<String> {
        self.state.last_auth.lock().unwrap().clone()
    }
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

fn handle(state: &State, request: tiny_http::Request) {
    let url = request.url().to_string();
    let auth = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let parts: Vec<&str> = url.split('?').next().unwrap_or("").split('/').collect();
    // ["", "client", "v4", "accounts", id, "stream", "storage-usage"]
    let is_usage = parts.len() == 7
        && parts[1] == "client"
        && parts[2] == "v4"
        && parts[3] == "accounts"
        && parts[5] == "stream"
        && parts[6] == "storage-usage";
    if !is_usage {
        let _ = request.respond(
            Response::from_string(r#"{"success":false,"errors":[{"code":7000,"message":"No route for that URI"}],"messages":[],"result":null}"#)
                .with_status_code(StatusCode(404)),
        );
        return;
    }
    state.calls.fetch_add(1, Ordering::SeqCst);
    *state.last_auth.lock().unwrap() = auth.clone();
    let mode = {
        let mode = state.mode.lock().unwrap().clone();
        match mode {
            Mode::Cycle(modes) if !modes.is_empty() => {
                let i = state.cycle_pos.fetch_add(1, Ordering::SeqCst);
                modes[i % modes.len()].clone()
            }
            m => m,
        }
    };
    let mode = if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        Mode::forbidden()
    } else if parts[4] != ACCOUNT && parts[4] != ACCOUNT2 {
        Mode::not_found()
    } else {
        mode
    };
    answer(request, mode);
}

fn answer(request: tiny_http::Request, mode: Mode) {
    match mode {
        Mode::Ok {
            minutes,
            limit,
            videos,
        } => {
            let r = Response::from_string(Mode::body(minutes, limit, videos))
                .with_header(header("Content-Type", "application/json; charset=utf-8"));
            let _ = request.respond(r);
        }
        Mode::Raw {
            status,
            content_type,
            body,
            headers,
        } => {
            let mut r = Response::from_string(body)
                .with_status_code(StatusCode(status))
                .with_header(header("Content-Type", content_type));
            for (k, v) in headers {
                r.add_header(header(k, &v));
            }
            let _ = request.respond(r);
        }
        Mode::Delay(d, inner) => {
            thread::sleep(d);
            answer(request, *inner);
        }
        Mode::Huge { bytes } => {
            let reader = Endless {
                left: bytes,
                started: false,
            };
            let r = Response::new(
                StatusCode(200),
                vec![header("Content-Type", "application/json")],
                reader,
                None,
                None,
            );
            let _ = request.respond(r);
        }
        Mode::Cycle(_) => {
            let _ = request.respond(Response::empty(StatusCode(500)));
        }
    }
}

/// `{"result":"xxxx...` for as many bytes as asked: never valid, never ends early.
struct Endless {
    left: usize,
    started: bool,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = buf.len().min(self.left);
        let prefix: &[u8] = br#"{"result":""#;
        let mut i = 0;
        if !self.started {
            let p = prefix.len().min(n);
            buf[..p].copy_from_slice(&prefix[..p]);
            i = p;
            self.started = true;
        }
        for b in &mut buf[i..n] {
            *b = b'x';
        }
        self.left -= n;
        Ok(n)
    }
}

/// A 127.0.0.1 port that answers every connection with a plain-HTTP 400 and
/// hangs up, as a web server does when a TLS client knocks: a TLS handshake
/// against it fails at once. Returns the port.
pub fn plain_http_port() -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}
