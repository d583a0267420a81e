//! The storage-usage source: `GET /accounts/{id}/stream/storage-usage`
//! mirrored into metric families at scrape time.
//!
//! Like a blackbox prober, a source has one shape: [`collect`] makes the
//! upstream call for one account and [`render`] writes the families for
//! every account's outcome. A failed account gets `up 0` and its duration;
//! its storage, limit and video series are left out, never zeroed.
//! A further source (minutes delivered, live inputs) would be a sibling file.

use std::time::Duration;

use crate::cloudflare::{ApiError, Client, StorageUsage};
use crate::exposition::{Desc, Kind, Page};

/// The outcome of one account's call.
#[derive(Debug, Clone)]
pub struct AccountOutcome {
    pub result: Result<StorageUsage, ApiError>,
    /// How long the call took, or how long this scrape waited for it.
    pub duration: Duration,
}

/// One account's outcome, labelled.
#[derive(Debug, Clone)]
pub struct AccountScrape<'a> {
    pub account_id: &'a str,
    pub outcome: AccountOutcome,
}

pub const UP: Desc = Desc {
    name: "cloudflare_stream_up",
    help: "1 when the call to the Cloudflare Stream storage-usage API for this account \
           succeeded and its answer decoded, else 0.",
    kind: Kind::Gauge,
};

pub const DURATION: Desc = Desc {
    name: "cloudflare_stream_scrape_duration_seconds",
    help: "How long the call to the Cloudflare Stream storage-usage API for this account took \
           during this scrape, in seconds.",
    kind: Kind::Gauge,
};

pub const STORAGE_USED: Desc = Desc {
    name: "cloudflare_stream_storage_used_seconds",
    help: "Video storage used by the account, in seconds: result.totalStorageMinutes of the \
           Stream storage-usage API times 60. Cloudflare bills stored video in minutes.",
    kind: Kind::Gauge,
};

pub const STORAGE_LIMIT: Desc = Desc {
    name: "cloudflare_stream_storage_limit_seconds",
    help: "Video storage limit of the account, in seconds: result.totalStorageMinutesLimit of \
           the Stream storage-usage API times 60. Cloudflare bills stored video in minutes.",
    kind: Kind::Gauge,
};

pub const VIDEOS: Desc = Desc {
    name: "cloudflare_stream_videos",
    help: "Number of videos stored in the account: result.videoCount of the Stream \
           storage-usage API.",
    kind: Kind::Gauge,
};

pub const LEGACY_CAPACITY: Desc = Desc {
    name: "stream_capacity",
    help: "Deprecated, from the old Go exporter: Stream storage used, in minutes \
           (result.totalStorageMinutes). Use cloudflare_stream_storage_used_seconds.",
    kind: Kind::Gauge,
};

pub const LEGACY_LIMIT: Desc = Desc {
    name: "stream_limit",
    help: "Deprecated, from the old Go exporter: Stream storage limit, in minutes \
           (result.totalStorageMinutesLimit). Use cloudflare_stream_storage_limit_seconds.",
    kind: Kind::Gauge,
};

/// Calls the storage-usage endpoint for one account.
pub fn collect(client: &Client, account_id: &str, timeout: Duration) -> AccountOutcome {
    let (result, duration) = client.storage_usage(account_id, timeout);
    AccountOutcome { result, duration }
}

/// Writes the source's families. Families with no sample are left out.
pub fn render(page: &mut Page, scrapes: &[AccountScrape<'_>], legacy: bool) {
    family(page, &UP, scrapes, |o| {
        Some(if o.result.is_ok() { 1.0 } else { 0.0 })
    });
    family(page, &DURATION, scrapes, |o| Some(o.duration.as_secs_f64()));
    family(page, &STORAGE_USED, scrapes, |o| {
        o.result.as_ref().ok().map(|u| u.storage_minutes * 60.0)
    });
    family(page, &STORAGE_LIMIT, scrapes, |o| {
        o.result.as_ref().ok().map(|u| u.limit_minutes * 60.0)
    });
    family(page, &VIDEOS, scrapes, |o| {
        o.result.as_ref().ok().map(|u| u.video_count as f64)
    });
    if legacy {
        // The config allows this flag only with one account: no labels.
        if let Some(Ok(usage)) = scrapes.first().map(|s| &s.outcome.result) {
            page.family(&LEGACY_CAPACITY);
            page.sample(&LEGACY_CAPACITY, &[], usage.storage_minutes);
            page.family(&LEGACY_LIMIT);
            page.sample(&LEGACY_LIMIT, &[], usage.limit_minutes);
        }
    }
}

fn family(
    page: &mut Page,
    desc: &Desc,
    scrapes: &[AccountScrape<'_>],
    value: impl Fn(&AccountOutcome) -> Option<f64>,
) {
    let mut started = false;
    for s in scrapes {
        if let Some(v) = value(&s.outcome) {
            if !started {
                page.family(desc);
                started = true;
            }
            page.sample(desc, &[("account_id", s.account_id)], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(minutes: f64, limit: f64, videos: u64) -> AccountOutcome {
        AccountOutcome {
            result: Ok(StorageUsage {
                storage_minutes: minutes,
                limit_minutes: limit,
                video_count: videos,
            }),
            duration: Duration::from_millis(125),
        }
    }

    fn failed() -> AccountOutcome {
        AccountOutcome {
            result: Err(ApiError::MissingResult),
            duration: Duration::from_millis(5),
        }
    }

    fn rendered(scrapes: &[AccountScrape<'_>], legacy: bool) -> String {
        let mut page = Page::default();
        render(&mut page, scrapes, legacy);
        page.into_string()
    }

    #[test]
    fn a_good_account_in_base_units() {
        let text = rendered(
            &[AccountScrape {
                account_id: "abc",
                outcome: ok(1234.5, 100000.0, 42),
            }],
            false,
        );
        assert!(text.contains("cloudflare_stream_up{account_id=\"abc\"} 1\n"));
        assert!(
            text.contains("cloudflare_stream_scrape_duration_seconds{account_id=\"abc\"} 0.125\n")
        );
        assert!(text.contains("cloudflare_stream_storage_used_seconds{account_id=\"abc\"} 74070\n"));
        assert!(
            text.contains("cloudflare_stream_storage_limit_seconds{account_id=\"abc\"} 6000000\n")
        );
        assert!(text.contains("cloudflare_stream_videos{account_id=\"abc\"} 42\n"));
        assert!(!text.contains("stream_capacity"));
    }

    #[test]
    fn a_failed_account_has_up_0_and_no_made_up_values() {
        let text = rendered(
            &[
                AccountScrape {
                    account_id: "good",
                    outcome: ok(1.0, 2.0, 3),
                },
                AccountScrape {
                    account_id: "bad",
                    outcome: failed(),
                },
            ],
            false,
        );
        assert!(text.contains("cloudflare_stream_up{account_id=\"bad\"} 0\n"));
        assert!(text.contains("cloudflare_stream_scrape_duration_seconds{account_id=\"bad\"}"));
        for line in text.lines().filter(|l| l.contains("\"bad\"")) {
            assert!(
                line.starts_with("cloudflare_stream_up")
                    || line.starts_with("cloudflare_stream_scrape_duration"),
                "{line}"
            );
        }
        // HELP/TYPE once per family even with two accounts
        assert_eq!(text.matches("# TYPE cloudflare_stream_up gauge").count(), 1);
    }

    #[test]
    fn all_failed_leaves_out_the_value_families() {
        let text = rendered(
            &[AccountScrape {
                account_id: "bad",
                outcome: failed(),
            }],
            true,
        );
        assert!(!text.contains("storage_used"));
        assert!(!text.contains("# HELP cloudflare_stream_videos"));
        assert!(
            !text.contains("stream_capacity"),
            "legacy must not serve zeros"
        );
    }

    #[test]
    fn legacy_metrics_in_minutes_without_labels() {
        let text = rendered(
            &[AccountScrape {
                account_id: "abc",
                outcome: ok(1234.5, 100000.0, 42),
            }],
            true,
        );
        assert!(text.contains("# TYPE stream_capacity gauge\nstream_capacity 1234.5\n"));
        assert!(text.contains("# TYPE stream_limit gauge\nstream_limit 100000\n"));
    }
}
