//! The HTTP side: binds the listener, routes requests and keeps slow
//! Cloudflare calls away from the fast routes.
//!
//! A few worker threads share the tiny_http server and answer `/`,
//! `/healthz`, 404 and 405 themselves. Each metrics request is handed to a
//! thread of its own (at most [`MAX_SCRAPES`] at once), so a scrape waiting on
//! Cloudflare never holds up a health check, and concurrent scrapes can all
//! wait on the one shared call.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use tiny_http::{Header, Limits, Method, Request, Response, Server, StatusCode};

use crate::config::ListenAddress;
use crate::exposition::CONTENT_TYPE;
use crate::scrape::{Scraper, SCRAPE_TIMEOUT_HEADER};

/// Threads that take requests off the server.
pub const WORKERS: usize = 4;
/// Metrics requests served at once; more get 503 at once.
pub const MAX_SCRAPES: usize = 64;
/// Connections open at once. A newcomer beyond this closes the connection
/// that has waited longest for a request (the vendored tiny_http patch).
/// Threads: one per connection plus the workers and scrapes stay under the
/// 256 tasks the shipped compose file and systemd unit allow.
pub const MAX_CONNECTIONS: usize = 128;
/// An idle keep-alive connection, or a request head that stops arriving, is
/// closed after this; longer than Prometheus's default 1 m interval.
pub const READ_TIMEOUT: Duration = Duration::from_secs(90);
/// A client that stops reading its response is dropped after this.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request line or header line; longer gets 414 or 431.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// The most header lines in a request; more get 431.
pub const MAX_HEADERS: usize = 100;
/// Stack of a tiny_http connection thread, which only parses request heads.
pub const CONNECTION_STACK: usize = 128 * 1024;
/// Stack of every thread this program starts. Threads reserve their stack
/// up front, so keep it small; a TLS handshake needs well under this.
pub const THREAD_STACK: usize = 512 * 1024;

/// The listener could not be set up.
#[derive(Debug)]
pub struct BindError {
    pub address: String,
    pub reason: String,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot listen on {}: {}; set --web.listen-address (WEB_LISTEN_ADDRESS) to a free \
             host:port",
            self.address, self.reason
        )
    }
}

impl std::error::Error for BindError {}

/// Binds the listen address.
pub fn bind(listen: &ListenAddress) -> Result<Server, BindError> {
    let err = |reason: String| BindError {
        address: listen.raw.clone(),
        reason,
    };
    let listener =
        std::net::TcpListener::bind(listen.bind_target()).map_err(|e| err(e.to_string()))?;
    no_delay(&listener);
    let limits = Limits {
        max_connections: MAX_CONNECTIONS,
        read_timeout: READ_TIMEOUT,
        write_timeout: WRITE_TIMEOUT,
        max_line_bytes: MAX_LINE_BYTES,
        max_headers: MAX_HEADERS,
        thread_stack: CONNECTION_STACK,
    };
    Server::from_listener_with_limits(listener, None, limits).map_err(|e| err(e.to_string()))
}

/// Sets TCP_NODELAY on the listener; Linux hands it down to every accepted
/// connection. tiny_http writes a response in 1 KiB pieces, and without
/// this Nagle's algorithm holds the last piece back until the client's
/// delayed ACK, some 40 ms, on every page larger than 1 KiB.
fn no_delay(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!(
            "cannot set TCP_NODELAY: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Routes and answers requests until the listener fails, and returns that
/// failure; the caller ends the process so that its supervisor restarts it.
pub fn serve(server: Server, scraper: Scraper, telemetry_path: String) -> io::Error {
    let shared = Arc::new(Shared {
        server,
        scraper,
        telemetry_path,
        scrapes: AtomicUsize::new(0),
    });
    let (failed, failure) = mpsc::channel();
    for i in 0..WORKERS {
        let shared = Arc::clone(&shared);
        let failed = failed.clone();
        let spawned = thread::Builder::new()
            .name(format!("http-{i}"))
            .stack_size(THREAD_STACK)
            .spawn(move || loop {
                match shared.server.recv() {
                    Ok(request) => route(&shared, request),
                    Err(e) => {
                        let _ = failed.send(e);
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            if i == 0 {
                return e;
            }
            log::warn!("started only {i} of {WORKERS} HTTP workers: {e}");
            break;
        }
    }
    drop(failed);
    failure
        .recv()
        .unwrap_or_else(|_| io::Error::other("every HTTP worker stopped"))
}

struct Shared {
    server: Server,
    scraper: Scraper,
    telemetry_path: String,
    scrapes: AtomicUsize,
}

/// What a request asks for, from its method and path alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Landing,
    Health,
    Metrics,
    NotFound,
    MethodNotAllowed,
}

/// Picks the route. The query string is ignored; no path is ever mapped to a
/// file, so `..` and `%00` are just paths that match nothing.
pub fn route_for(method: &Method, url: &str, telemetry_path: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let route = if path == telemetry_path {
        Route::Metrics
    } else if path == "/" {
        Route::Landing
    } else if path == "/healthz" {
        Route::Health
    } else {
        return Route::NotFound;
    };
    match method {
        Method::Get | Method::Head => route,
        _ => Route::MethodNotAllowed,
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn text(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    let mut r = Response::from_data(body.as_bytes().to_vec()).with_status_code(StatusCode(status));
    if let Some(h) = header("Content-Type", "text/plain; charset=utf-8") {
        r.add_header(h);
    }
    r
}

fn respond<R: io::Read>(request: Request, response: Response<R>) {
    if let Err(e) = request.respond(response) {
        // The client went away; nothing to do but note it.
        log::debug!("could not send a response: {e}");
    }
}

fn route(shared: &Arc<Shared>, request: Request) {
    log::trace!(
        "{} {} from {:?}",
        request.method(),
        request.url(),
        request.remote_addr()
    );
    match route_for(request.method(), request.url(), &shared.telemetry_path) {
        Route::Landing => {
            let mut r = Response::from_data(landing_page(&shared.telemetry_path).into_bytes());
            if let Some(h) = header("Content-Type", "text/html; charset=utf-8") {
                r.add_header(h);
            }
            respond(request, r);
        }
        Route::Health => respond(request, text(200, "ok\n")),
        Route::NotFound => respond(request, text(404, "not found\n")),
        Route::MethodNotAllowed => {
            let mut r = text(405, "method not allowed; use GET or HEAD\n");
            if let Some(h) = header("Allow", "GET, HEAD") {
                r.add_header(h);
            }
            respond(request, r);
        }
        Route::Metrics => dispatch_scrape(shared, request),
    }
}

fn dispatch_scrape(shared: &Arc<Shared>, request: Request) {
    let running = shared.scrapes.fetch_add(1, Ordering::SeqCst);
    if running >= MAX_SCRAPES {
        shared.scrapes.fetch_sub(1, Ordering::SeqCst);
        log::warn!(
            "refused a scrape: {MAX_SCRAPES} are already running; too many Prometheus servers \
             or too short a scrape interval"
        );
        let mut r = text(503, "too many scrapes in flight\n");
        if let Some(h) = header("Retry-After", "1") {
            r.add_header(h);
        }
        respond(request, r);
        return;
    }
    let inner = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("scrape".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            scrape(&inner, request);
            inner.scrapes.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        // The request went down with the closure; its client sees a reset.
        shared.scrapes.fetch_sub(1, Ordering::SeqCst);
        log::error!(
            "cannot start a thread for a scrape: {e}; the host is out of threads or memory"
        );
    }
}

fn scrape(shared: &Shared, request: Request) {
    let timeout_header = request
        .headers()
        .iter()
        .find(|h| h.field.equiv(SCRAPE_TIMEOUT_HEADER))
        .map(|h| h.value.as_str().to_string());
    let timeout = shared.scraper.timeout_for(timeout_header.as_deref());
    let body = shared.scraper.scrape(timeout);
    let mut r = Response::from_data(body.into_bytes());
    if let Some(h) = header("Content-Type", CONTENT_TYPE) {
        r.add_header(h);
    }
    respond(request, r);
}

fn landing_page(telemetry_path: &str) -> String {
    let path = html_escape(telemetry_path);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Cloudflare Stream Exporter</title></head>\n\
         <body><h1>Cloudflare Stream Exporter</h1>\n<p>Version {}</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/healthz\">Health</a></li></ul>\n\
         </body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = "/metrics";
        assert_eq!(route_for(&Method::Get, "/metrics", m), Route::Metrics);
        assert_eq!(route_for(&Method::Head, "/metrics?x=1", m), Route::Metrics);
        assert_eq!(route_for(&Method::Get, "/", m), Route::Landing);
        assert_eq!(route_for(&Method::Get, "/healthz", m), Route::Health);
        assert_eq!(route_for(&Method::Get, "/metrics/", m), Route::NotFound);
        assert_eq!(route_for(&Method::Get, "/../metrics", m), Route::NotFound);
        assert_eq!(route_for(&Method::Get, "/metrics%00", m), Route::NotFound);
        assert_eq!(route_for(&Method::Get, "", m), Route::NotFound);
        assert_eq!(
            route_for(&Method::Post, "/metrics", m),
            Route::MethodNotAllowed
        );
        assert_eq!(
            route_for(&Method::Delete, "/healthz", m),
            Route::MethodNotAllowed
        );
        assert_eq!(route_for(&Method::Post, "/nothing", m), Route::NotFound);
        assert_eq!(
            route_for(&Method::Get, "/custom", "/custom"),
            Route::Metrics
        );
        assert_eq!(
            route_for(&Method::Get, "/metrics", "/custom"),
            Route::NotFound
        );
    }

    #[test]
    fn landing_page_links_and_escapes() {
        let page = landing_page("/m\"<x>");
        assert!(page.contains("href=\"/m&quot;&lt;x&gt;\""));
        assert!(page.contains(env!("CARGO_PKG_VERSION")));
        assert!(page.contains("/healthz"));
    }
}
