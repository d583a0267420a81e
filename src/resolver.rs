//! Name resolution for the Cloudflare client: remembers the API host's
//! addresses for as long as a kept-alive connection lives.
//!
//! ureq resolves the host name on every request, before it looks in its
//! connection pool, and with a timeout set it starts a thread for each
//! lookup. So every scrape sent a DNS query and started a thread, even
//! when it went out on a pooled connection, and a DNS hiccup failed
//! scrapes that needed no new connection. With this cache a scrape on a
//! warm connection does neither. Failures are never cached.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// A resolver that keeps the last answer for a while (the client gives its
/// idle-connection age). The exporter talks to one host, so one entry is
/// all it needs.
#[derive(Debug)]
pub struct CachingResolver<R> {
    inner: R,
    ttl: Duration,
    last: Mutex<Option<Entry>>,
}

#[derive(Debug)]
struct Entry {
    /// Scheme and authority: the host, and the port they imply.
    scheme: String,
    authority: String,
    addrs: ResolvedSocketAddrs,
    until: Instant,
}

fn parts(uri: &Uri) -> (&str, &str) {
    (
        uri.scheme_str().unwrap_or(""),
        uri.authority().map_or("", |a| a.as_str()),
    )
}

impl<R: Resolver> CachingResolver<R> {
    pub fn new(inner: R, ttl: Duration) -> Self {
        CachingResolver {
            inner,
            ttl,
            last: Mutex::new(None),
        }
    }

    fn cached(&self, uri: &Uri, now: Instant) -> Option<ResolvedSocketAddrs> {
        let (scheme, authority) = parts(uri);
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .filter(|e| e.scheme == scheme && e.authority == authority && now < e.until)
            .map(|e| e.addrs.clone())
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let now = Instant::now();
        if let Some(addrs) = self.cached(uri, now) {
            return Ok(addrs);
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let (scheme, authority) = parts(uri);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(Entry {
            scheme: scheme.to_string(),
            authority: authority.to_string(),
            addrs: addrs.clone(),
            until: now + self.ttl,
        });
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TTL: Duration = Duration::from_secs(30);

    /// Answers 127.0.0.1 with the URI's port, or fails for host "bad".
    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicUsize,
    }

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            _config: &Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if uri.host() == Some("bad") {
                return Err(ureq::Error::HostNotFound);
            }
            let port = uri.port_u16().unwrap_or(443);
            let mut addrs = self.empty();
            addrs.push(SocketAddr::from(([127, 0, 0, 1], port)));
            Ok(addrs)
        }
    }

    fn resolve(r: &CachingResolver<Counting>, url: &str) -> Result<u16, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        let config = Config::default();
        r.resolve(&uri, &config, NextTimeout::default())
            .map(|a| a[0].port())
    }

    fn calls(r: &CachingResolver<Counting>) -> usize {
        r.inner.calls.load(Ordering::SeqCst)
    }

    #[test]
    fn a_second_lookup_within_the_ttl_is_answered_from_the_cache() {
        let r = CachingResolver::new(Counting::default(), TTL);
        assert_eq!(resolve(&r, "https://api.example:8443/x").unwrap(), 8443);
        assert_eq!(resolve(&r, "https://api.example:8443/y").unwrap(), 8443);
        assert_eq!(calls(&r), 1);
    }

    #[test]
    fn another_host_or_port_is_looked_up() {
        let r = CachingResolver::new(Counting::default(), TTL);
        resolve(&r, "https://api.example:8443/").unwrap();
        assert_eq!(resolve(&r, "https://api.example:9443/").unwrap(), 9443);
        assert_eq!(calls(&r), 2);
    }

    #[test]
    fn an_expired_entry_is_looked_up_again() {
        let r = CachingResolver::new(Counting::default(), Duration::ZERO);
        resolve(&r, "https://api.example/").unwrap();
        resolve(&r, "https://api.example/").unwrap();
        assert_eq!(calls(&r), 2);
    }

    #[test]
    fn failures_are_not_cached() {
        let r = CachingResolver::new(Counting::default(), TTL);
        assert!(resolve(&r, "https://bad/").is_err());
        assert!(resolve(&r, "https://bad/").is_err());
        assert_eq!(calls(&r), 2);
    }
}
