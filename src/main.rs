//! Wires the modules together; see lib.rs for the data flow.

use std::process::ExitCode;

use cloudflare_stream_exporter::cloudflare::{Client, ClientSettings};
use cloudflare_stream_exporter::config::{self, Command, Config, ProcessEnv};
use cloudflare_stream_exporter::{healthcheck, logging, scrape::Scraper, server, shutdown};

const NAME: &str = "cloudflare-stream-exporter";

fn main() -> ExitCode {
    let args = std::env::args_os().skip(1).collect();
    match config::parse(args, &ProcessEnv) {
        Ok(Command::Help) => {
            print!("{}", config::HELP);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Healthcheck(h)) => match healthcheck::check(&h) {
            Ok(url) => {
                println!("healthy: {url} answered 200");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("{e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Run(config)) => run(config),
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(config: Config) -> ExitCode {
    logging::init(config.log_level, config.token.expose());
    if let Some(warning) = logging::zone_warning() {
        log::warn!("{warning}");
    }
    let client = match Client::new(&ClientSettings {
        api_url: &config.api_url,
        token: config.token.expose(),
        ca_file: config.ca_file.as_deref(),
    }) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if config.api_url.starts_with("http://") && !is_loopback_url(&config.api_url) {
        log::warn!(
            "--cloudflare.api-url {} is plain HTTP: the API token crosses the network unencrypted",
            config.api_url
        );
    }
    let http = match server::bind(&config.listen) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = shutdown::exit_on_signals() {
        log::error!("cannot install the SIGTERM handler: {e}");
        return ExitCode::FAILURE;
    }
    log::info!(
        "{NAME} {} listening on {} (metrics at {}), watching {} account(s) at {} with a {:.1}s \
         timeout, token from {}",
        env!("CARGO_PKG_VERSION"),
        http.server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_else(|| config.listen.raw.clone()),
        config.telemetry_path,
        config.accounts.len(),
        config.api_url,
        config.timeout.as_secs_f64(),
        config.token_source
    );
    let scraper = Scraper::new(
        client,
        config.accounts,
        config.timeout,
        config.legacy_metrics,
    );
    let failure = server::serve(http, scraper, config.telemetry_path);
    log::error!(
        "the HTTP listener failed: {failure}; exiting so that the supervisor restarts the exporter"
    );
    ExitCode::FAILURE
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}
