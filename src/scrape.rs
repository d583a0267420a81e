//! One scrape, from timeout to page: decides each call's timeout, shares
//! in-flight calls between concurrent scrapes, logs each failure once and
//! renders the page. It holds no values between scrapes.

use std::time::{Duration, Instant};

use crate::cloudflare::{ApiError, Client};
use crate::coalesce::{Coalescer, Role};
use crate::exposition::{Desc, Kind, Page};
use crate::storage::{self, AccountOutcome, AccountScrape};

/// What Prometheus keeps back from its scrape timeout for itself, as
/// blackbox_exporter does.
pub const SCRAPE_TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// The name of the header carrying Prometheus's scrape timeout.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

pub const BUILD_INFO: Desc = Desc {
    name: "cloudflare_stream_exporter_build_info",
    help: "Build information of cloudflare-stream-exporter; the value is always 1.",
    kind: Kind::Gauge,
};

fn build_info_page() -> Page {
    let mut page = Page::default();
    page.family(&BUILD_INFO);
    page.sample(&BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    page
}

/// Everything a scrape needs, built once at start-up.
pub struct Scraper {
    client: Client,
    accounts: Vec<String>,
    timeout: Duration,
    legacy_metrics: bool,
    flights: Coalescer<String, AccountOutcome>,
    /// The build_info family, rendered once: it never changes.
    build_info: Page,
}

impl Scraper {
    pub fn new(
        client: Client,
        accounts: Vec<String>,
        timeout: Duration,
        legacy_metrics: bool,
    ) -> Self {
        Scraper {
            client,
            accounts,
            timeout,
            legacy_metrics,
            flights: Coalescer::new(),
            build_info: build_info_page(),
        }
    }

    /// The timeout for this scrape's calls: `--cloudflare.timeout`, lowered
    /// to Prometheus's scrape timeout less [`SCRAPE_TIMEOUT_MARGIN`].
    pub fn timeout_for(&self, header: Option<&str>) -> Duration {
        effective_timeout(self.timeout, header)
    }

    /// Calls Cloudflare for every account (in parallel when there are
    /// several) and renders the page.
    pub fn scrape(&self, timeout: Duration) -> String {
        let outcomes: Vec<AccountOutcome> = if self.accounts.len() == 1 {
            vec![self.account(&self.accounts[0], timeout)]
        } else {
            self.parallel(timeout)
        };
        let scrapes: Vec<AccountScrape<'_>> = self
            .accounts
            .iter()
            .zip(outcomes)
            .map(|(id, outcome)| AccountScrape {
                account_id: id,
                outcome,
            })
            .collect();
        let mut page = Page::with_capacity(2048);
        page.append(&self.build_info);
        storage::render(&mut page, &scrapes, self.legacy_metrics);
        page.into_string()
    }

    fn parallel(&self, timeout: Duration) -> Vec<AccountOutcome> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .accounts
                .iter()
                .map(|id| {
                    std::thread::Builder::new()
                        .name("scrape-account".into())
                        .stack_size(crate::server::THREAD_STACK)
                        .spawn_scoped(scope, move || self.account(id, timeout))
                        .map_err(|_| id)
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(handle) => handle.join().unwrap_or_else(|_| AccountOutcome {
                        result: Err(ApiError::Network {
                            host: String::new(),
                            detail: "the call's thread failed".into(),
                        }),
                        duration: Duration::ZERO,
                    }),
                    // No thread to be had: call from this one instead.
                    Err(id) => self.account(id, timeout),
                })
                .collect()
        })
    }

    fn account(&self, id: &str, timeout: Duration) -> AccountOutcome {
        let started = Instant::now();
        let key = id.to_string();
        match self.flights.run(&key, timeout, || {
            let outcome = storage::collect(&self.client, id, timeout);
            if let Err(e) = &outcome.result {
                log::warn!("scrape of account {id} failed: {e}");
            }
            outcome
        }) {
            Some((outcome, Role::Leader)) => outcome,
            Some((outcome, Role::Follower)) => {
                log::debug!("scrape of account {id} shared a call already in flight");
                outcome
            }
            None => {
                let waited = started.elapsed();
                log::warn!(
                    "scrape of account {id} gave up after {:.1}s waiting for the call already in \
                     flight; raise scrape_timeout or --cloudflare.timeout if this repeats",
                    waited.as_secs_f64()
                );
                AccountOutcome {
                    result: Err(ApiError::Timeout { after: timeout }),
                    duration: waited,
                }
            }
        }
    }
}

/// The smaller of `configured` and the header's seconds less the margin.
/// A header at or below the margin gives half of itself; a header that is
/// not a positive number is ignored.
pub fn effective_timeout(configured: Duration, header: Option<&str>) -> Duration {
    let Some(secs) = header
        .and_then(|h| h.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
    else {
        return configured;
    };
    let margin = SCRAPE_TIMEOUT_MARGIN.as_secs_f64();
    let budget = if secs > margin {
        secs - margin
    } else {
        secs / 2.0
    };
    configured.min(Duration::from_secs_f64(budget.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    #[test]
    fn timeout_without_header_is_the_configured_one() {
        assert_eq!(effective_timeout(TEN, None), TEN);
    }

    #[test]
    fn timeout_header_lowers_it_by_the_margin() {
        assert_eq!(
            effective_timeout(TEN, Some("3")),
            Duration::from_millis(2500)
        );
        assert_eq!(
            effective_timeout(TEN, Some(" 1.5 ")),
            Duration::from_secs(1)
        );
        assert_eq!(
            effective_timeout(TEN, Some("0.4")),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn timeout_header_never_raises_it() {
        assert_eq!(effective_timeout(TEN, Some("120")), TEN);
    }

    #[test]
    fn junk_timeout_headers_are_ignored() {
        for h in ["", "abc", "-3", "0", "NaN", "inf", "1e999"] {
            assert_eq!(effective_timeout(TEN, Some(h)), TEN, "{h}");
        }
    }
}
