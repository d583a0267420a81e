//! The `healthcheck` subcommand: a scratch image has no curl, so the binary
//! checks itself. It GETs `/healthz` of the exporter on this host and turns
//! the answer into an exit code. It never calls Cloudflare.

use std::fmt;
use std::time::Duration;

use crate::config::HealthcheckConfig;

/// How long the check waits for an answer in all.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Why the exporter is not healthy.
#[derive(Debug)]
pub enum Unhealthy {
    /// It answered, but not 200.
    Status { url: String, status: u16 },
    /// It did not answer.
    Unreachable { url: String, reason: String },
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unhealthy::Status { url, status } => {
                write!(f, "unhealthy: {url} answered HTTP {status}, not 200")
            }
            Unhealthy::Unreachable { url, reason } => write!(
                f,
                "unhealthy: no answer from {url} within {}s ({reason}); is the exporter running \
                 and does WEB_LISTEN_ADDRESS match its --web.listen-address?",
                TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::error::Error for Unhealthy {}

/// Checks the exporter; `Ok` carries the URL that answered 200.
pub fn check(config: &HealthcheckConfig) -> Result<String, Unhealthy> {
    let url = format!("http://{}/healthz", config.listen.probe_target());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    match agent.get(&url).call() {
        Ok(response) if response.status().as_u16() == 200 => Ok(url),
        Ok(response) => Err(Unhealthy::Status {
            url,
            status: response.status().as_u16(),
        }),
        Err(e) => Err(Unhealthy::Unreachable {
            url,
            reason: e.to_string(),
        }),
    }
}
