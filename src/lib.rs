//! cloudflare-stream-exporter: a Prometheus exporter for Cloudflare Stream.
//!
//! Data flows one way, one module per step:
//! [`config`] (flags and env) → [`cloudflare`] (the API client) →
//! [`storage`] (the storage-usage source's metric families, written with
//! [`exposition`]) → [`scrape`] (one scrape: timeouts, shared calls) →
//! [`server`] (routes and workers). [`healthcheck`], [`logging`] and
//! [`shutdown`] stand beside that flow; [`coalesce`] is the single-flight
//! primitive that [`scrape`] uses.

pub mod cloudflare;
pub mod coalesce;
pub mod config;
pub mod exposition;
pub mod healthcheck;
pub mod logging;
pub mod resolver;
pub mod scrape;
pub mod server;
pub mod shutdown;
pub mod storage;
