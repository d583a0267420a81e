//! Command line and environment: turns argv and env vars into a [`Command`].
//!
//! This module owns every setting the operator can give, their precedence
//! (a flag wins over its env var; the old Go exporter's `API_KEY` and
//! `API_URL` come last) and the sentence printed when a setting is wrong.
//! It does no I/O beyond reading a token file, and it never talks to
//! Cloudflare or opens a socket.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The default Cloudflare API base URL.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";
/// The old exporter's port, kept so that this is a drop-in replacement.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":8099";
/// Where the metrics are served unless `--web.telemetry-path` says otherwise.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
/// The upstream timeout unless `--cloudflare.timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

const FLAG_TOKEN: &str = "--cloudflare.api-token";
const FLAG_TOKEN_FILE: &str = "--cloudflare.api-token-file";
const FLAG_ACCOUNT: &str = "--cloudflare.account-id";
const FLAG_API_URL: &str = "--cloudflare.api-url";
const FLAG_TIMEOUT: &str = "--cloudflare.timeout";
const FLAG_CA_FILE: &str = "--cloudflare.ca-file";
const FLAG_LISTEN: &str = "--web.listen-address";
const FLAG_PATH: &str = "--web.telemetry-path";
const FLAG_LOG_LEVEL: &str = "--log.level";
const FLAG_LEGACY: &str = "--compat.legacy-metrics";

const ENV_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
const ENV_TOKEN_FILE: &str = "CLOUDFLARE_API_TOKEN_FILE";
const ENV_OLD_TOKEN: &str = "API_KEY";
const ENV_ACCOUNT: &str = "CLOUDFLARE_ACCOUNT_ID";
const ENV_API_URL: &str = "CLOUDFLARE_API_URL";
const ENV_OLD_API_URL: &str = "API_URL";
const ENV_TIMEOUT: &str = "CLOUDFLARE_TIMEOUT";
const ENV_CA_FILE: &str = "CLOUDFLARE_CA_FILE";
const ENV_LISTEN: &str = "WEB_LISTEN_ADDRESS";
const ENV_LOG_LEVEL: &str = "LOG_LEVEL";

/// Every flag that takes a value, to tell "given twice" from "unknown".
const VALUE_FLAGS: &[&str] = &[
    FLAG_TOKEN,
    FLAG_TOKEN_FILE,
    FLAG_ACCOUNT,
    FLAG_API_URL,
    FLAG_TIMEOUT,
    FLAG_CA_FILE,
    FLAG_LISTEN,
    FLAG_PATH,
    FLAG_LOG_LEVEL,
];

/// The `--help` text. It is static: no setting's value, and so no token,
/// can ever appear in it.
pub const HELP: &str = "\
cloudflare-stream-exporter: a Prometheus exporter for Cloudflare Stream storage usage.
Each scrape of the metrics path calls the Cloudflare API once per account.

USAGE:
    cloudflare-stream-exporter [FLAGS]
    cloudflare-stream-exporter healthcheck [--web.listen-address=ADDR]

FLAGS (a flag wins over its environment variable):
    --cloudflare.api-token=TOKEN      env CLOUDFLARE_API_TOKEN, else API_KEY
                                      API token with the Stream: Read permission.
                                      Prefer the file or env forms: argv is visible to other users.
    --cloudflare.api-token-file=PATH  env CLOUDFLARE_API_TOKEN_FILE
                                      File holding the token (Docker secrets, systemd credentials).
    --cloudflare.account-id=ID        env CLOUDFLARE_ACCOUNT_ID (required)
                                      Account to watch; repeat the flag or separate IDs by commas.
    --cloudflare.api-url=URL          env CLOUDFLARE_API_URL [https://api.cloudflare.com/client/v4]
                                      The old exporter's API_URL (the full storage-usage URL)
                                      is read when neither this nor the account ID is set.
    --cloudflare.timeout=DURATION     env CLOUDFLARE_TIMEOUT [10s]
                                      Upper bound of one API call; a Prometheus scrape timeout
                                      less 0.5s lowers it further.
    --cloudflare.ca-file=PATH         env CLOUDFLARE_CA_FILE
                                      PEM bundle of CA certificates to trust instead of the
                                      built-in roots (private CA, TLS-intercepting proxy).
    --web.listen-address=ADDR         env WEB_LISTEN_ADDRESS [:8099]
    --web.telemetry-path=PATH         [/metrics]
    --log.level=LEVEL                 env LOG_LEVEL [info]; error, warn, info, debug or trace.
                                      RUST_LOG adds per-module filters.
    --compat.legacy-metrics           Also serve the old exporter's stream_capacity and
                                      stream_limit (minutes, no labels) while dashboards migrate.
    --version                         Print the version and exit.
    -h, --help                        Print this help and exit.

SUBCOMMANDS:
    healthcheck    GET http://127.0.0.1:<port>/healthz with a 2s timeout; exit 0 when it
                   answers 200, else 1. For container HEALTHCHECKs: a scratch image has no curl.

Proxies: HTTPS_PROXY (or ALL_PROXY, HTTP_PROXY) and NO_PROXY are honoured.
Exit codes: 0 on SIGTERM or SIGINT, 1 on a runtime failure, 2 on a configuration error.
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Serve metrics.
    Run(Config),
    /// Check a running exporter's `/healthz`.
    Healthcheck(HealthcheckConfig),
    /// Print [`HELP`].
    Help,
    /// Print the version.
    Version,
}

/// Everything the exporter needs to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub token: Secret,
    /// Where the token came from, for messages: a flag or env var name.
    pub token_source: &'static str,
    pub accounts: Vec<String>,
    /// Base URL without a trailing slash, e.g. `https://api.cloudflare.com/client/v4`.
    pub api_url: String,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub listen: ListenAddress,
    pub telemetry_path: String,
    pub log_level: log::LevelFilter,
    pub legacy_metrics: bool,
}

/// Settings of the `healthcheck` subcommand.
#[derive(Debug, Clone)]
pub struct HealthcheckConfig {
    pub listen: ListenAddress,
}

/// The API token. It has no `Display`, and its `Debug` hides the value, so
/// that no format string can print it by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    /// The token itself: only for the `Authorization` header and the log redactor.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A `host:port` to listen on, as the operator wrote it and split up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// As given, e.g. `:8099`.
    pub raw: String,
    /// The host part; empty for "all interfaces". IPv6 hosts lose their brackets.
    pub host: String,
    pub port: u16,
}

impl ListenAddress {
    /// What to bind: an empty host means every IPv4 interface, as `:8099` did in Go.
    pub fn bind_target(&self) -> String {
        match self.host.as_str() {
            "" => format!("0.0.0.0:{}", self.port),
            h if h.contains(':') => format!("[{}]:{}", h, self.port),
            h => format!("{}:{}", h, self.port),
        }
    }

    /// Where the healthcheck connects: loopback when listening on every interface.
    pub fn probe_target(&self) -> String {
        match self.host.as_str() {
            "" | "0.0.0.0" => format!("127.0.0.1:{}", self.port),
            "::" => format!("[::1]:{}", self.port),
            h if h.contains(':') => format!("[{}]:{}", h, self.port),
            h => format!("{}:{}", h, self.port),
        }
    }
}

/// A setting that is wrong or missing. Each message is one sentence that
/// names the flag or env var to fix; none of them carries the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// An argument this program does not know (only its name is kept).
    UnknownFlag(String),
    /// A bare word where only flags are expected; its text is not echoed.
    UnexpectedArgument,
    /// A single-valued flag given more than once.
    RepeatedFlag(&'static str),
    /// A flag given without its value.
    MissingValue(String),
    /// An argument that is not valid UTF-8.
    NotUtf8,
    /// Neither a token nor a token file is set anywhere.
    MissingToken,
    /// Two token settings of the same rank are set at once.
    ConflictingToken(&'static str, &'static str),
    /// The token file cannot be read.
    TokenFile {
        source: &'static str,
        path: String,
        reason: String,
    },
    /// The token is empty once whitespace is trimmed.
    EmptyToken(&'static str),
    /// The token holds bytes that cannot go into an HTTP header.
    InvalidToken(&'static str),
    /// No account ID is set anywhere.
    MissingAccount,
    /// An account ID that could not be part of an API path.
    InvalidAccount {
        source: &'static str,
        value: String,
    },
    /// The API base URL is not an http(s) URL.
    InvalidApiUrl {
        source: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The old exporter's `API_URL` is not a storage-usage URL.
    InvalidLegacyApiUrl(String),
    InvalidTimeout {
        source: &'static str,
        value: String,
    },
    InvalidListenAddress {
        source: &'static str,
        value: String,
    },
    InvalidTelemetryPath(String),
    InvalidLogLevel {
        source: &'static str,
        value: String,
    },
    /// `--compat.legacy-metrics` has no label to tell accounts apart.
    LegacyNeedsOneAccount(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ConfigError::*;
        match self {
            UnknownFlag(name) => write!(
                f,
                "unknown flag {name}; run with --help to see the flags this version knows"
            ),
            UnexpectedArgument => write!(
                f,
                "unexpected bare argument (not echoed here in case it is a secret); \
                 every setting is a --flag=value, see --help"
            ),
            RepeatedFlag(name) => write!(f, "{name} was given more than once; give it once"),
            MissingValue(name) => write!(f, "{name} needs a value, as in {name}=VALUE"),
            NotUtf8 => write!(f, "an argument is not valid UTF-8; check the command line"),
            MissingToken => write!(
                f,
                "no Cloudflare API token is set; set {ENV_TOKEN_FILE} (or {FLAG_TOKEN_FILE}), \
                 {ENV_TOKEN} or the old exporter's {ENV_OLD_TOKEN}"
            ),
            ConflictingToken(a, b) => write!(
                f,
                "both {a} and {b} are set; set only one of them so that it is clear which token is used"
            ),
            TokenFile {
                source,
                path,
                reason,
            } => write!(
                f,
                "cannot read the API token file {path} named by {source}: {reason}; \
                 check the path and that this user may read it"
            ),
            EmptyToken(source) => write!(
                f,
                "the API token from {source} is empty; put the token there"
            ),
            InvalidToken(source) => write!(
                f,
                "the API token from {source} holds spaces, control or non-ASCII characters \
                 that cannot be sent in an HTTP header; check {source}"
            ),
            MissingAccount => write!(
                f,
                "no Cloudflare account ID is set; set {FLAG_ACCOUNT} or {ENV_ACCOUNT} \
                 (or the old exporter's {ENV_OLD_API_URL})"
            ),
            InvalidAccount { source, value } => write!(
                f,
                "account ID {value:?} from {source} may hold only letters and digits \
                 (Cloudflare shows a 32-character hex ID); fix {source}"
            ),
            InvalidApiUrl {
                source,
                value,
                reason,
            } => write!(
                f,
                "{source} is {value:?}, which {reason}; set it to a URL such as {DEFAULT_API_URL}"
            ),
            InvalidLegacyApiUrl(value) => write!(
                f,
                "{ENV_OLD_API_URL} is {value:?}, which is not a storage-usage URL; set it to \
                 {DEFAULT_API_URL}/accounts/<ACCOUNT_ID>/stream/storage-usage, \
                 or set {ENV_ACCOUNT} instead"
            ),
            InvalidTimeout { source, value } => write!(
                f,
                "{source} is {value:?}, which is not a positive duration; use a value such as 10s, 1500ms or 1m"
            ),
            InvalidListenAddress { source, value } => write!(
                f,
                "{source} is {value:?}, which is not host:port; use a value such as :8099, \
                 127.0.0.1:8099 or [::]:8099"
            ),
            InvalidTelemetryPath(value) => write!(
                f,
                "{FLAG_PATH} is {value:?}; it must start with / and must not be /healthz"
            ),
            InvalidLogLevel { source, value } => write!(
                f,
                "{source} is {value:?}; use one of error, warn, info, debug or trace"
            ),
            LegacyNeedsOneAccount(n) => write!(
                f,
                "{FLAG_LEGACY} serves unlabelled series, so it needs exactly one account, \
                 but {n} are set; drop the flag or watch one account per exporter"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where settings come from besides argv: the process environment in
/// production, a map in tests. Empty values count as unset, because compose
/// files often write `VAR=` for "not set".
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.is_empty())
    }
}

/// Parses argv (without the program name) and the environment.
pub fn parse(args: Vec<OsString>, env: &dyn Env) -> Result<Command, ConfigError> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains("--version") {
        return Ok(Command::Version);
    }
    let first = peek_first(&args);
    if first.as_deref() == Some("healthcheck") {
        // Drop the subcommand word itself.
        let _ = args.subcommand();
        let listen = listen_address(&mut args, env)?;
        reject_leftovers(args)?;
        return Ok(Command::Healthcheck(HealthcheckConfig { listen }));
    }

    let flag_token = opt_value(&mut args, FLAG_TOKEN)?;
    let flag_token_file = opt_value(&mut args, FLAG_TOKEN_FILE)?;
    let flag_accounts = values(&mut args, FLAG_ACCOUNT)?;
    let flag_api_url = opt_value(&mut args, FLAG_API_URL)?;
    let flag_timeout = opt_value(&mut args, FLAG_TIMEOUT)?;
    let flag_ca_file = opt_value(&mut args, FLAG_CA_FILE)?;
    let listen = listen_address(&mut args, env)?;
    let flag_path = opt_value(&mut args, FLAG_PATH)?;
    let flag_log_level = opt_value(&mut args, FLAG_LOG_LEVEL)?;
    let legacy_metrics = args.contains(FLAG_LEGACY);
    reject_leftovers(args)?;

    let (token, token_source) = token(flag_token, flag_token_file, env)?;

    let legacy_url = match env.get(ENV_OLD_API_URL) {
        Some(raw) => Some(parse_legacy_api_url(&raw)?),
        None => None,
    };

    let accounts = if !flag_accounts.is_empty() {
        account_list(&flag_accounts, FLAG_ACCOUNT)?
    } else if let Some(raw) = env.get(ENV_ACCOUNT) {
        account_list(&[raw], ENV_ACCOUNT)?
    } else if let Some((_, account)) = &legacy_url {
        vec![account.clone()]
    } else {
        return Err(ConfigError::MissingAccount);
    };
    if accounts.is_empty() {
        return Err(ConfigError::MissingAccount);
    }

    let api_url = match (flag_api_url, env.get(ENV_API_URL), &legacy_url) {
        (Some(v), _, _) => parse_api_url(&v, FLAG_API_URL)?,
        (None, Some(v), _) => parse_api_url(&v, ENV_API_URL)?,
        (None, None, Some((base, _))) => base.clone(),
        (None, None, None) => DEFAULT_API_URL.to_string(),
    };

    let timeout = match (flag_timeout, env.get(ENV_TIMEOUT)) {
        (Some(v), _) => parse_timeout(&v, FLAG_TIMEOUT)?,
        (None, Some(v)) => parse_timeout(&v, ENV_TIMEOUT)?,
        (None, None) => DEFAULT_TIMEOUT,
    };

    let ca_file = flag_ca_file
        .or_else(|| env.get(ENV_CA_FILE))
        .map(PathBuf::from);

    let telemetry_path = match flag_path {
        Some(p) if p.starts_with('/') && p != "/healthz" && !p.contains(['?', '#']) => p,
        Some(p) => return Err(ConfigError::InvalidTelemetryPath(p)),
        None => DEFAULT_TELEMETRY_PATH.to_string(),
    };

    let log_level = match (flag_log_level, env.get(ENV_LOG_LEVEL)) {
        (Some(v), _) => parse_log_level(&v, FLAG_LOG_LEVEL)?,
        (None, Some(v)) => parse_log_level(&v, ENV_LOG_LEVEL)?,
        (None, None) => log::LevelFilter::Info,
    };

    if legacy_metrics && accounts.len() != 1 {
        return Err(ConfigError::LegacyNeedsOneAccount(accounts.len()));
    }

    Ok(Command::Run(Config {
        token,
        token_source,
        accounts,
        api_url,
        timeout,
        ca_file,
        listen,
        telemetry_path,
        log_level,
        legacy_metrics,
    }))
}

fn peek_first(args: &pico_args::Arguments) -> Option<String> {
    let mut copy = args.clone();
    copy.subcommand().ok().flatten()
}

fn map_pico(err: pico_args::Error, flag: &'static str) -> ConfigError {
    match err {
        pico_args::Error::NonUtf8Argument => ConfigError::NotUtf8,
        _ => ConfigError::MissingValue(flag.to_string()),
    }
}

fn opt_value(
    args: &mut pico_args::Arguments,
    flag: &'static str,
) -> Result<Option<String>, ConfigError> {
    args.opt_value_from_str::<_, String>(flag)
        .map_err(|e| map_pico(e, flag))
}

fn values(args: &mut pico_args::Arguments, flag: &'static str) -> Result<Vec<String>, ConfigError> {
    args.values_from_str::<_, String>(flag)
        .map_err(|e| map_pico(e, flag))
}

fn listen_address(
    args: &mut pico_args::Arguments,
    env: &dyn Env,
) -> Result<ListenAddress, ConfigError> {
    match (opt_value(args, FLAG_LISTEN)?, env.get(ENV_LISTEN)) {
        (Some(v), _) => parse_listen_address(&v, FLAG_LISTEN),
        (None, Some(v)) => parse_listen_address(&v, ENV_LISTEN),
        (None, None) => parse_listen_address(DEFAULT_LISTEN_ADDRESS, FLAG_LISTEN),
    }
}

/// Anything left after the known flags is an error. Only a flag's name is
/// echoed, never its value and never a bare word, which may be a token.
fn reject_leftovers(args: pico_args::Arguments) -> Result<(), ConfigError> {
    let rest = args.finish();
    let Some(first) = rest.first() else {
        return Ok(());
    };
    let Some(text) = first.to_str() else {
        return Err(ConfigError::NotUtf8);
    };
    if !text.starts_with('-') {
        return Err(ConfigError::UnexpectedArgument);
    }
    let name = text.split('=').next().unwrap_or(text);
    if let Some(known) = VALUE_FLAGS.iter().find(|f| **f == name) {
        return Err(ConfigError::RepeatedFlag(known));
    }
    if name == FLAG_LEGACY {
        return Err(ConfigError::RepeatedFlag(FLAG_LEGACY));
    }
    Err(ConfigError::UnknownFlag(name.to_string()))
}

fn token(
    flag_token: Option<String>,
    flag_file: Option<String>,
    env: &dyn Env,
) -> Result<(Secret, &'static str), ConfigError> {
    match (flag_token, flag_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::ConflictingToken(FLAG_TOKEN, FLAG_TOKEN_FILE))
        }
        (Some(t), None) => return check_token(t, FLAG_TOKEN),
        (None, Some(path)) => return read_token_file(&path, FLAG_TOKEN_FILE),
        (None, None) => {}
    }
    match (env.get(ENV_TOKEN), env.get(ENV_TOKEN_FILE)) {
        (Some(_), Some(_)) => Err(ConfigError::ConflictingToken(ENV_TOKEN, ENV_TOKEN_FILE)),
        (Some(t), None) => check_token(t, ENV_TOKEN),
        (None, Some(path)) => read_token_file(&path, ENV_TOKEN_FILE),
        (None, None) => match env.get(ENV_OLD_TOKEN) {
            Some(t) => check_token(t, ENV_OLD_TOKEN),
            None => Err(ConfigError::MissingToken),
        },
    }
}

fn read_token_file(
    path: &str,
    source: &'static str,
) -> Result<(Secret, &'static str), ConfigError> {
    // Bounded read: a token is some 40 bytes; a huge file is a mistake.
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| ConfigError::TokenFile {
        source,
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    let mut bytes = Vec::new();
    file.take(64 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::TokenFile {
            source,
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::InvalidToken(source))?;
    check_token(text, source)
}

fn check_token(raw: String, source: &'static str) -> Result<(Secret, &'static str), ConfigError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::EmptyToken(source));
    }
    if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::InvalidToken(source));
    }
    Ok((Secret::new(trimmed.to_string()), source))
}

fn account_list(raw: &[String], source: &'static str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for item in raw.iter().flat_map(|r| r.split(',')) {
        let id = item.trim();
        if id.is_empty() {
            continue;
        }
        check_account(id, source)?;
        if !out.iter().any(|a| a == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn check_account(id: &str, source: &'static str) -> Result<(), ConfigError> {
    if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(ConfigError::InvalidAccount {
            source,
            value: id.to_string(),
        })
    }
}

/// Checks an http(s) URL and returns it without a trailing slash.
fn parse_api_url(raw: &str, source: &'static str) -> Result<String, ConfigError> {
    let bad = |reason| ConfigError::InvalidApiUrl {
        source,
        value: raw.to_string(),
        reason,
    };
    let uri: ureq::http::Uri = raw.parse().map_err(|_| bad("is not a valid URL"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => return Err(bad("does not start with https:// or http://")),
    }
    if uri.host().is_none_or(|h| h.is_empty()) {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("has a query string"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Splits the old exporter's full storage-usage URL into (base URL, account).
fn parse_legacy_api_url(raw: &str) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError::InvalidLegacyApiUrl(raw.to_string());
    let trimmed = raw.trim().trim_end_matches('/');
    let without = trimmed
        .strip_suffix("/stream/storage-usage")
        .ok_or_else(bad)?;
    let (rest, account) = without.rsplit_once('/').ok_or_else(bad)?;
    let base = rest.strip_suffix("/accounts").ok_or_else(bad)?;
    check_account(account, ENV_OLD_API_URL).map_err(|_| bad())?;
    let base = parse_api_url(base, ENV_OLD_API_URL).map_err(|_| bad())?;
    Ok((base, account.to_string()))
}

/// Parses a Prometheus-style duration: `10s`, `1500ms`, `1m30s`, `1.5s`;
/// a bare number means seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return positive_secs(secs);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * factor;
    }
    positive_secs(total)
}

fn positive_secs(secs: f64) -> Option<Duration> {
    if secs.is_finite() && secs > 0.0 && secs < 86_400.0 {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

fn parse_timeout(raw: &str, source: &'static str) -> Result<Duration, ConfigError> {
    parse_duration(raw).ok_or_else(|| ConfigError::InvalidTimeout {
        source,
        value: raw.to_string(),
    })
}

fn parse_listen_address(raw: &str, source: &'static str) -> Result<ListenAddress, ConfigError> {
    let bad = || ConfigError::InvalidListenAddress {
        source,
        value: raw.to_string(),
    };
    let (host, port) = raw.trim().rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(bad)?;
        inner.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        inner
    } else {
        if host.contains(':') || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        host
    };
    Ok(ListenAddress {
        raw: raw.trim().to_string(),
        host: host.to_string(),
        port,
    })
}

fn parse_log_level(raw: &str, source: &'static str) -> Result<log::LevelFilter, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        _ => Err(ConfigError::InvalidLogLevel {
            source,
            value: raw.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, ConfigError> {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        parse(args.iter().map(OsString::from).collect(), &lookup)
    }

    fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
        match run(args, env) {
            Ok(Command::Run(c)) => c,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn error(args: &[&str], env: &[(&str, &str)]) -> ConfigError {
        match run(args, env) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_with_token_and_account_from_env() {
        let c = config(
            &[],
            &[
                ("CLOUDFLARE_API_TOKEN", "tok"),
                ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
            ],
        );
        assert_eq!(c.token.expose(), "tok");
        assert_eq!(c.token_source, "CLOUDFLARE_API_TOKEN");
        assert_eq!(c.accounts, vec![ACCOUNT]);
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.listen.raw, ":8099");
        assert_eq!(c.listen.bind_target(), "0.0.0.0:8099");
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert!(!c.legacy_metrics);
    }

    #[test]
    fn flags_win_over_env() {
        let c = config(
            &[
                "--cloudflare.api-token=flagtok",
                "--cloudflare.account-id",
                "aaa",
                "--cloudflare.api-url=http://127.0.0.1:9/client/v4/",
                "--cloudflare.timeout=1500ms",
                "--web.listen-address=127.0.0.1:9100",
                "--log.level=debug",
            ],
            &[
                ("CLOUDFLARE_API_TOKEN", "envtok"),
                ("CLOUDFLARE_ACCOUNT_ID", "bbb"),
                ("CLOUDFLARE_API_URL", "https://example.invalid"),
                ("CLOUDFLARE_TIMEOUT", "3s"),
                ("WEB_LISTEN_ADDRESS", ":1"),
                ("LOG_LEVEL", "error"),
            ],
        );
        assert_eq!(c.token.expose(), "flagtok");
        assert_eq!(c.accounts, vec!["aaa"]);
        assert_eq!(c.api_url, "http://127.0.0.1:9/client/v4");
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.listen.bind_target(), "127.0.0.1:9100");
        assert_eq!(c.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn accounts_repeat_and_split_on_commas_without_duplicates() {
        let c = config(
            &[
                "--cloudflare.account-id=aaa,bbb",
                "--cloudflare.account-id=ccc, aaa",
            ],
            &[("API_KEY", "t")],
        );
        assert_eq!(c.accounts, vec!["aaa", "bbb", "ccc"]);
        let c = config(
            &[],
            &[("API_KEY", "t"), ("CLOUDFLARE_ACCOUNT_ID", "x1, y2,")],
        );
        assert_eq!(c.accounts, vec!["x1", "y2"]);
    }

    #[test]
    fn old_exporter_env_contract() {
        let c = config(
            &[],
            &[
                ("API_KEY", "oldtok"),
                (
                    "API_URL",
                    "https://api.cloudflare.com/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/stream/storage-usage",
                ),
            ],
        );
        assert_eq!(c.token.expose(), "oldtok");
        assert_eq!(c.token_source, "API_KEY");
        assert_eq!(c.accounts, vec![ACCOUNT]);
        assert_eq!(c.api_url, "https://api.cloudflare.com/client/v4");
        assert_eq!(c.listen.port, 8099);
    }

    #[test]
    fn new_settings_win_over_api_url_part_by_part() {
        let env = [
            ("API_KEY", "t"),
            (
                "API_URL",
                "http://127.0.0.1:1/v4/accounts/old1/stream/storage-usage/",
            ),
            ("CLOUDFLARE_ACCOUNT_ID", "new1"),
        ];
        let c = config(&[], &env);
        assert_eq!(c.accounts, vec!["new1"]);
        assert_eq!(c.api_url, "http://127.0.0.1:1/v4");
    }

    #[test]
    fn bad_old_api_url_names_api_url() {
        let e = error(
            &[],
            &[("API_KEY", "t"), ("API_URL", "https://x.example/nope")],
        );
        assert!(matches!(e, ConfigError::InvalidLegacyApiUrl(_)));
        assert!(e.to_string().contains("API_URL"));
    }

    #[test]
    fn token_precedence_and_conflicts() {
        let both_flags = error(
            &[
                "--cloudflare.api-token=a",
                "--cloudflare.api-token-file=/nonexistent",
            ],
            &[("CLOUDFLARE_ACCOUNT_ID", "a")],
        );
        assert_eq!(
            both_flags,
            ConfigError::ConflictingToken(FLAG_TOKEN, FLAG_TOKEN_FILE)
        );
        let both_env = error(
            &[],
            &[
                ("CLOUDFLARE_API_TOKEN", "a"),
                ("CLOUDFLARE_API_TOKEN_FILE", "/x"),
                ("CLOUDFLARE_ACCOUNT_ID", "a"),
            ],
        );
        assert_eq!(
            both_env,
            ConfigError::ConflictingToken(ENV_TOKEN, ENV_TOKEN_FILE)
        );
        let c = config(
            &[],
            &[
                ("CLOUDFLARE_API_TOKEN", "new"),
                ("API_KEY", "old"),
                ("CLOUDFLARE_ACCOUNT_ID", "a"),
            ],
        );
        assert_eq!(c.token.expose(), "new");
        let missing = error(&[], &[("CLOUDFLARE_ACCOUNT_ID", "a")]);
        assert_eq!(missing, ConfigError::MissingToken);
        assert!(missing.to_string().contains("CLOUDFLARE_API_TOKEN"));
    }

    #[test]
    fn token_file_is_trimmed_and_errors_name_the_setting() {
        let dir = std::env::temp_dir().join(format!("cse-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "  filetok\n").unwrap();
        let p = path.to_str().unwrap();
        let c = config(
            &[],
            &[
                ("CLOUDFLARE_API_TOKEN_FILE", p),
                ("CLOUDFLARE_ACCOUNT_ID", "a"),
            ],
        );
        assert_eq!(c.token.expose(), "filetok");
        assert_eq!(c.token_source, ENV_TOKEN_FILE);

        std::fs::write(&path, "\n\n").unwrap();
        let e = error(
            &[&format!("--cloudflare.api-token-file={p}")],
            &[("CLOUDFLARE_ACCOUNT_ID", "a")],
        );
        assert_eq!(e, ConfigError::EmptyToken(FLAG_TOKEN_FILE));

        let e = error(
            &["--cloudflare.api-token-file=/nonexistent/token"],
            &[("CLOUDFLARE_ACCOUNT_ID", "a")],
        );
        assert!(e.to_string().contains("--cloudflare.api-token-file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn token_with_header_breaking_bytes_is_refused_without_echo() {
        let e = error(
            &[],
            &[("API_KEY", "abc def"), ("CLOUDFLARE_ACCOUNT_ID", "a")],
        );
        assert_eq!(e, ConfigError::InvalidToken(ENV_OLD_TOKEN));
        assert!(!e.to_string().contains("abc"));
    }

    #[test]
    fn unknown_repeated_and_bare_arguments() {
        let env = [("API_KEY", "t"), ("CLOUDFLARE_ACCOUNT_ID", "a")];
        assert_eq!(
            error(&["--nope=secretvalue"], &env),
            ConfigError::UnknownFlag("--nope".into())
        );
        assert_eq!(
            error(
                &["--cloudflare.timeout=1s", "--cloudflare.timeout=2s"],
                &env
            ),
            ConfigError::RepeatedFlag(FLAG_TIMEOUT)
        );
        let bare = error(&["sometoken"], &env);
        assert_eq!(bare, ConfigError::UnexpectedArgument);
        assert!(!bare.to_string().contains("sometoken"));
        assert_eq!(
            error(&["--cloudflare.timeout"], &env),
            ConfigError::MissingValue(FLAG_TIMEOUT.into())
        );
    }

    #[test]
    fn repeated_token_flag_does_not_echo_the_token() {
        let e = error(
            &[
                "--cloudflare.api-token=s3cr3t",
                "--cloudflare.api-token=s3cr3t",
            ],
            &[("CLOUDFLARE_ACCOUNT_ID", "a")],
        );
        assert_eq!(e, ConfigError::RepeatedFlag(FLAG_TOKEN));
        assert!(!e.to_string().contains("s3cr3t"));
    }

    #[test]
    fn bad_values_name_their_setting() {
        let env = [("API_KEY", "t"), ("CLOUDFLARE_ACCOUNT_ID", "a")];
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (&["--cloudflare.timeout=soon"], &env, "--cloudflare.timeout"),
            (
                &[],
                &[
                    ("API_KEY", "t"),
                    ("CLOUDFLARE_ACCOUNT_ID", "a"),
                    ("CLOUDFLARE_TIMEOUT", "0s"),
                ],
                "CLOUDFLARE_TIMEOUT",
            ),
            (&["--web.listen-address=8099"], &env, "--web.listen-address"),
            (
                &[],
                &[
                    ("API_KEY", "t"),
                    ("CLOUDFLARE_ACCOUNT_ID", "a"),
                    ("WEB_LISTEN_ADDRESS", "x:y"),
                ],
                "WEB_LISTEN_ADDRESS",
            ),
            (&["--log.level=loud"], &env, "--log.level"),
            (
                &["--web.telemetry-path=metrics"],
                &env,
                "--web.telemetry-path",
            ),
            (
                &["--web.telemetry-path=/healthz"],
                &env,
                "--web.telemetry-path",
            ),
            (
                &["--cloudflare.api-url=ftp://x"],
                &env,
                "--cloudflare.api-url",
            ),
            (
                &["--cloudflare.account-id=../etc"],
                &env,
                "--cloudflare.account-id",
            ),
            (&[], &[("API_KEY", "t")], "CLOUDFLARE_ACCOUNT_ID"),
            (
                &["--compat.legacy-metrics", "--cloudflare.account-id=a,b"],
                &env,
                "--compat.legacy-metrics",
            ),
        ];
        for (args, env, name) in cases {
            let e = error(args, env);
            assert!(e.to_string().contains(name), "{args:?}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        for bad in ["", "0", "-1s", "s", "10x", "1s2", "NaN", "inf"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn listen_addresses() {
        let l = parse_listen_address("[::]:9", "x").unwrap();
        assert_eq!(l.bind_target(), "[::]:9");
        assert_eq!(l.probe_target(), "[::1]:9");
        let l = parse_listen_address(":8099", "x").unwrap();
        assert_eq!(l.probe_target(), "127.0.0.1:8099");
        let l = parse_listen_address("localhost:1", "x").unwrap();
        assert_eq!(l.probe_target(), "localhost:1");
        assert!(parse_listen_address("[::1:9", "x").is_err());
        assert!(parse_listen_address("::1:9", "x").is_err());
        assert!(parse_listen_address(":99999", "x").is_err());
    }

    #[test]
    fn healthcheck_reads_only_the_listen_address() {
        match run(&["healthcheck"], &[("WEB_LISTEN_ADDRESS", ":9100")]) {
            Ok(Command::Healthcheck(h)) => assert_eq!(h.listen.port, 9100),
            other => panic!("{other:?}"),
        }
        match run(&["healthcheck", "--web.listen-address=127.0.0.2:1"], &[]) {
            Ok(Command::Healthcheck(h)) => assert_eq!(h.listen.probe_target(), "127.0.0.2:1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(&["healthcheck", "--bogus"], &[]),
            Err(ConfigError::UnknownFlag(_))
        ));
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(run(&["--help"], &[]), Ok(Command::Help)));
        assert!(matches!(run(&["-h"], &[]), Ok(Command::Help)));
        assert!(matches!(run(&["--version"], &[]), Ok(Command::Version)));
    }

    #[test]
    fn secret_debug_hides_the_value() {
        let s = Secret::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
