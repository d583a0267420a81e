//! The Cloudflare API client: one function per endpoint, each returning
//! decoded figures or an [`ApiError`] that says what went wrong.
//!
//! This module owns the one `ureq::Agent` (and so the keep-alive pool and the
//! TLS setup, both built once), the `Authorization` header, the response
//! size bound and the decoding of Cloudflare's envelope. It knows nothing of
//! Prometheus: turning figures into metric families is [`crate::storage`]'s job.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::DefaultConnector;

use crate::resolver::CachingResolver;

/// How long an idle connection to the API is kept, and as long, the API
/// host's addresses: a scrape on a warm connection needs no DNS.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The most of a response body the exporter reads. A storage-usage answer is
/// about 200 bytes; anything near this bound is not the API answering.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Storage figures of one account, as Cloudflare reports them (minutes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageUsage {
    /// `result.totalStorageMinutes`
    pub storage_minutes: f64,
    /// `result.totalStorageMinutesLimit`
    pub limit_minutes: f64,
    /// `result.videoCount`
    pub video_count: u64,
}

/// One entry of the envelope's `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudflareMessage {
    pub code: Option<i64>,
    pub message: String,
}

impl fmt::Display for CloudflareMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "error {} {:?}", code, self.message),
            None => write!(f, "error {:?}", self.message),
        }
    }
}

/// What a response body looked like, for messages about non-JSON answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Json,
    Html,
    Other(String),
}

impl fmt::Display for BodyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyKind::Empty => f.write_str("an empty body"),
            BodyKind::Json => f.write_str("a JSON body"),
            BodyKind::Html => f.write_str("an HTML page"),
            BodyKind::Other(ct) => write!(f, "a {ct} body"),
        }
    }
}

/// Why one API call gave no figures. Each message is a sentence for the
/// operator; none of them carries the token.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No complete answer within the call's timeout.
    Timeout { after: Duration },
    /// Nothing listens at the API's address.
    ConnectionRefused { host: String },
    /// The API's host name does not resolve.
    Dns { host: String, detail: String },
    /// The TLS handshake failed (certificate, protocol).
    Tls { host: String, detail: String },
    /// The proxy from HTTPS_PROXY refused or failed the CONNECT.
    Proxy { detail: String },
    /// Any other network failure.
    Network { host: String, detail: String },
    /// The body was larger than [`MAX_BODY_BYTES`]; reading stopped there.
    BodyTooLarge { limit: u64 },
    /// A status other than 2xx.
    Status {
        status: u16,
        errors: Vec<CloudflareMessage>,
        retry_after: Option<String>,
        body: BodyKind,
    },
    /// A 2xx whose body is not JSON at all (an HTML page, say).
    NotJson { status: u16, body: BodyKind },
    /// The envelope says `success: false` or lists errors.
    Unsuccessful { errors: Vec<CloudflareMessage> },
    /// The envelope has no `result`, or a null one.
    MissingResult,
    /// JSON that does not have the expected shape, or is cut short.
    Decode { detail: String },
}

fn list(errors: &[CloudflareMessage]) -> String {
    if errors.is_empty() {
        return "no error details".to_string();
    }
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ApiError::*;
        match self {
            Timeout { after } => write!(
                f,
                "Cloudflare did not answer within {:.1}s (the smaller of --cloudflare.timeout \
                 and the scrape timeout less 0.5s); the next scrape tries again, and if this \
                 repeats raise --cloudflare.timeout and scrape_timeout",
                after.as_secs_f64()
            ),
            ConnectionRefused { host } => write!(
                f,
                "the connection to {host} was refused; check --cloudflare.api-url \
                 (CLOUDFLARE_API_URL) and any HTTPS_PROXY"
            ),
            Dns { host, detail } => write!(
                f,
                "cannot resolve {host} ({detail}); check this host's DNS and --cloudflare.api-url"
            ),
            Tls { host, detail } => write!(
                f,
                "the TLS handshake with {host} failed: {detail}; if a proxy or private CA \
                 signs the certificate, name its CA bundle in --cloudflare.ca-file"
            ),
            Proxy { detail } => write!(
                f,
                "the proxy named by HTTPS_PROXY failed: {detail}; check HTTPS_PROXY and NO_PROXY"
            ),
            Network { host, detail } => write!(
                f,
                "the request to {host} failed: {detail}; the next scrape tries again"
            ),
            BodyTooLarge { limit } => write!(
                f,
                "Cloudflare's answer is larger than {} KiB, so the exporter stopped reading it; \
                 check that --cloudflare.api-url points at the API",
                limit / 1024
            ),
            Status {
                status,
                errors,
                retry_after,
                body,
            } => {
                write!(f, "Cloudflare answered HTTP {status}")?;
                if !errors.is_empty() {
                    write!(f, " with {}", list(errors))?;
                } else {
                    write!(f, " with {body}")?;
                }
                match status {
                    401 | 403 => write!(
                        f,
                        "; the token is wrong, expired or lacks the Stream: Read permission \
                         for this account: check CLOUDFLARE_API_TOKEN(_FILE) or API_KEY"
                    ),
                    404 => write!(
                        f,
                        "; the account ID is probably wrong: check --cloudflare.account-id \
                         (CLOUDFLARE_ACCOUNT_ID or API_URL)"
                    ),
                    429 => write!(
                        f,
                        " (Retry-After: {}); the token is rate limited (1200 requests per \
                         5 minutes), so lengthen the scrape interval or share fewer tokens",
                        retry_after.as_deref().unwrap_or("not given")
                    ),
                    500..=599 => write!(
                        f,
                        "; this is a fault on Cloudflare's side and the next scrape tries again"
                    ),
                    _ => write!(f, "; check --cloudflare.api-url"),
                }
            }
            NotJson { status, body } => write!(
                f,
                "Cloudflare answered HTTP {status} with {body} instead of JSON; check that \
                 --cloudflare.api-url points at the API (https://api.cloudflare.com/client/v4) \
                 and not at a web page or a proxy's login page"
            ),
            Unsuccessful { errors } => write!(
                f,
                "Cloudflare answered success=false with {}; see Cloudflare's API error codes",
                list(errors)
            ),
            MissingResult => write!(
                f,
                "Cloudflare's answer has success=true but no result object; \
                 the API may have changed, please report it"
            ),
            Decode { detail } => write!(f, "Cloudflare's answer could not be decoded: {detail}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// A setting of the client that cannot be used; found at start-up.
#[derive(Debug)]
pub enum ClientError {
    CaFile { path: String, reason: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::CaFile { path, reason } => write!(
                f,
                "cannot use the CA bundle {path} named by --cloudflare.ca-file \
                 (CLOUDFLARE_CA_FILE): {reason}; give a readable PEM file of CA certificates"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Settings the client needs; a slice of [`crate::config::Config`].
pub struct ClientSettings<'a> {
    pub api_url: &'a str,
    pub token: &'a str,
    pub ca_file: Option<&'a Path>,
}

/// A reusable Cloudflare API client. Cheap to share behind an `Arc`; all
/// calls go through one agent so that connections are kept alive.
pub struct Client {
    agent: ureq::Agent,
    api_url: String,
    host: String,
    authorization: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

impl Client {
    pub fn new(settings: &ClientSettings<'_>) -> Result<Client, ClientError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = settings.ca_file {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(load_ca_file(
                path,
            )?)));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!(
                "cloudflare-stream-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .max_redirects(0)
            .max_response_header_size(16 * 1024)
            .input_buffer_size(16 * 1024)
            .output_buffer_size(4 * 1024)
            .max_idle_connections(4)
            .max_idle_connections_per_host(4)
            .max_idle_age(KEEP_ALIVE)
            .tls_config(tls.build())
            .build();
        let resolver = CachingResolver::new(DefaultResolver::default(), KEEP_ALIVE);
        Ok(Client {
            agent: ureq::Agent::with_parts(config, DefaultConnector::default(), resolver),
            api_url: settings.api_url.to_string(),
            host: host_of(settings.api_url),
            authorization: format!("Bearer {}", settings.token),
        })
    }

    /// `GET /accounts/{account}/stream/storage-usage`, bounded by `timeout`,
    /// and how long the call took (one clock for the log and the metric).
    pub fn storage_usage(
        &self,
        account: &str,
        timeout: Duration,
    ) -> (Result<StorageUsage, ApiError>, Duration) {
        let url = format!("{}/accounts/{}/stream/storage-usage", self.api_url, account);
        let started = Instant::now();
        let outcome = self.get(&url, timeout);
        let elapsed = started.elapsed();
        match &outcome {
            Ok(raw) => log::debug!(
                "GET {url} answered {} in {} ms",
                raw.status,
                elapsed.as_millis()
            ),
            Err(e) => log::debug!("GET {url} failed after {} ms: {e}", elapsed.as_millis()),
        }
        let result = outcome.and_then(|raw| decode_storage_usage(&raw.as_response()));
        (result, elapsed)
    }

    fn get(&self, url: &str, timeout: Duration) -> Result<OwnedResponse, ApiError> {
        let mut response = self
            .agent
            .get(url)
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(|e| self.classify(e, timeout))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(sanitize)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| self.classify(e, timeout))?;
        Ok(OwnedResponse {
            status,
            content_type,
            retry_after,
            body,
        })
    }

    fn classify(&self, error: ureq::Error, timeout: Duration) -> ApiError {
        let host = self.host.clone();
        match error {
            ureq::Error::Timeout(_) => ApiError::Timeout { after: timeout },
            ureq::Error::HostNotFound => ApiError::Dns {
                host,
                detail: "no address found".to_string(),
            },
            ureq::Error::BodyExceedsLimit(limit) => ApiError::BodyTooLarge { limit },
            ureq::Error::Rustls(e) => ApiError::Tls {
                host,
                detail: e.to_string(),
            },
            ureq::Error::Tls(e) => ApiError::Tls {
                host,
                detail: e.to_string(),
            },
            ureq::Error::ConnectProxyFailed(e) => ApiError::Proxy { detail: e },
            ureq::Error::InvalidProxyUrl => ApiError::Proxy {
                detail: "the proxy URL is not valid".to_string(),
            },
            ureq::Error::Io(e) => classify_io(host, e, timeout),
            other => ApiError::Network {
                host,
                detail: other.to_string(),
            },
        }
    }
}

fn classify_io(host: String, e: std::io::Error, timeout: Duration) -> ApiError {
    use std::io::ErrorKind;
    // rustls reports a failed handshake as an io::Error wrapping its own.
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return ApiError::Tls {
            host,
            detail: tls.to_string(),
        };
    }
    let detail = e.to_string();
    match e.kind() {
        ErrorKind::ConnectionRefused => ApiError::ConnectionRefused { host },
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ApiError::Timeout { after: timeout },
        _ if detail.contains("lookup address") || detail.contains("resolve") => {
            ApiError::Dns { host, detail }
        }
        _ => ApiError::Network { host, detail },
    }
}

fn load_ca_file(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, ClientError> {
    let err = |reason: String| ClientError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(err(format!("it is not valid PEM ({e})"))),
        }
    }
    if certs.is_empty() {
        return Err(err("it holds no CERTIFICATE block".to_string()));
    }
    Ok(certs)
}

fn host_of(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| url.to_string())
}

/// Upstream text headed for a log line: printable ASCII, at most 64 chars.
fn sanitize(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

struct OwnedResponse {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl OwnedResponse {
    fn as_response(&self) -> RawResponse<'_> {
        RawResponse {
            status: self.status,
            content_type: self.content_type.as_deref(),
            retry_after: self.retry_after.as_deref(),
            body: &self.body,
        }
    }
}

/// An HTTP answer as the decoder sees it. Kept free of ureq so that the
/// decoder can be tested and fuzzed on plain bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawResponse<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub retry_after: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Deserialize)]
struct Envelope {
    success: Option<bool>,
    #[serde(default)]
    errors: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    result: Option<serde_json::Value>,
}

/// Checks status, envelope and `result` of a storage-usage answer, in that order.
pub fn decode_storage_usage(response: &RawResponse<'_>) -> Result<StorageUsage, ApiError> {
    let body = response.body;
    let kind = body_kind(response.content_type, body);
    let parsed: Result<Envelope, serde_json::Error> = serde_json::from_slice(body);

    if !(200..300).contains(&response.status) {
        let errors = parsed
            .as_ref()
            .map(|env| messages(env.errors.as_deref()))
            .unwrap_or_default();
        return Err(ApiError::Status {
            status: response.status,
            errors,
            retry_after: response.retry_after.map(sanitize),
            body: kind,
        });
    }

    let envelope = match parsed {
        Ok(env) => env,
        Err(e) => {
            return Err(match kind {
                BodyKind::Empty => ApiError::Decode {
                    detail: "the body is empty".to_string(),
                },
                BodyKind::Json => ApiError::Decode {
                    detail: json_detail(&e),
                },
                _ if looks_like_json(body) => ApiError::Decode {
                    detail: json_detail(&e),
                },
                other => ApiError::NotJson {
                    status: response.status,
                    body: other,
                },
            })
        }
    };

    let errors = messages(envelope.errors.as_deref());
    match envelope.success {
        Some(true) if errors.is_empty() => {}
        Some(_) => return Err(ApiError::Unsuccessful { errors }),
        None => {
            return Err(ApiError::Decode {
                detail: "the envelope has no boolean `success` field".to_string(),
            })
        }
    }

    let result = match envelope.result {
        None | Some(serde_json::Value::Null) => return Err(ApiError::MissingResult),
        Some(v) => v,
    };
    let Some(fields) = result.as_object() else {
        return Err(ApiError::Decode {
            detail: "result is not an object".to_string(),
        });
    };
    Ok(StorageUsage {
        storage_minutes: number(fields, "totalStorageMinutes")?,
        limit_minutes: number(fields, "totalStorageMinutesLimit")?,
        video_count: count(fields, "videoCount")?,
    })
}

type Fields = serde_json::Map<String, serde_json::Value>;

fn field<'a>(fields: &'a Fields, name: &str) -> Result<&'a serde_json::Value, ApiError> {
    fields.get(name).ok_or_else(|| ApiError::Decode {
        detail: format!("result.{name} is missing"),
    })
}

fn wrong_type(name: &str, expected: &str, got: &serde_json::Value) -> ApiError {
    let kind = match got {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    ApiError::Decode {
        detail: format!("result.{name} is {kind}, not {expected}"),
    }
}

fn number(fields: &Fields, name: &str) -> Result<f64, ApiError> {
    let v = field(fields, name)?;
    v.as_f64().ok_or_else(|| wrong_type(name, "a number", v))
}

fn count(fields: &Fields, name: &str) -> Result<u64, ApiError> {
    let v = field(fields, name)?;
    v.as_u64()
        .ok_or_else(|| wrong_type(name, "a whole number of at least 0", v))
}

fn json_detail(e: &serde_json::Error) -> String {
    if e.is_eof() {
        format!("the JSON ends early, the answer was cut short ({e})")
    } else {
        format!("invalid JSON ({e})")
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

fn body_kind(content_type: Option<&str>, body: &[u8]) -> BodyKind {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        return BodyKind::Empty;
    }
    let ct = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if ct == "text/html" || first == Some(&b'<') {
        BodyKind::Html
    } else if ct.contains("json") || looks_like_json(body) {
        BodyKind::Json
    } else if ct.is_empty() {
        BodyKind::Other("non-JSON".to_string())
    } else {
        BodyKind::Other(sanitize(&ct))
    }
}

fn messages(errors: Option<&[serde_json::Value]>) -> Vec<CloudflareMessage> {
    errors
        .unwrap_or_default()
        .iter()
        .take(5)
        .map(|v| CloudflareMessage {
            code: v.get("code").and_then(|c| c.as_i64()),
            message: v
                .get("message")
                .and_then(|m| m.as_str())
                .map(sanitize_long)
                .unwrap_or_else(|| sanitize_long(&v.to_string())),
        })
        .collect()
}

fn sanitize_long(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, ct: Option<&str>, body: &str) -> Result<StorageUsage, ApiError> {
        decode_storage_usage(&RawResponse {
            status,
            content_type: ct,
            retry_after: None,
            body: body.as_bytes(),
        })
    }

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn decodes_the_documented_answer() {
        let body = r#"{"result": {"creator": "", "totalStorageMinutes": 1234.5,
            "totalStorageMinutesLimit": 100000, "videoCount": 42},
            "success": true, "errors": [], "messages": []}"#;
        assert_eq!(
            decode(200, JSON, body),
            Ok(StorageUsage {
                storage_minutes: 1234.5,
                limit_minutes: 100000.0,
                video_count: 42
            })
        );
    }

    #[test]
    fn ignores_unknown_fields_and_missing_messages() {
        let body = r#"{"result":{"totalStorageMinutes":0,"totalStorageMinutesLimit":1000,
            "videoCount":0,"creator":"abc","newField":[1,2]},"success":true,"errors":null}"#;
        assert_eq!(decode(200, JSON, body).unwrap().limit_minutes, 1000.0);
    }

    #[test]
    fn forbidden_with_cloudflare_code() {
        let body = r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#;
        let e = decode(403, JSON, body).unwrap_err();
        assert_eq!(
            e,
            ApiError::Status {
                status: 403,
                errors: vec![CloudflareMessage {
                    code: Some(10000),
                    message: "Authentication error".into()
                }],
                retry_after: None,
                body: BodyKind::Json
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("HTTP 403") && text.contains("10000"),
            "{text}"
        );
        assert!(text.contains("Stream: Read"), "{text}");
    }

    #[test]
    fn not_found_points_at_the_account_id() {
        let body = r#"{"success":false,"errors":[{"code":7003,"message":"No route for that URI"}],"messages":[],"result":null}"#;
        let text = decode(404, JSON, body).unwrap_err().to_string();
        assert!(
            text.contains("7003") && text.contains("--cloudflare.account-id"),
            "{text}"
        );
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let e = decode_storage_usage(&RawResponse {
            status: 429,
            content_type: JSON,
            retry_after: Some("30"),
            body: br#"{"success":false,"errors":[{"code":971,"message":"Please wait"}]}"#,
        })
        .unwrap_err();
        assert!(e.to_string().contains("Retry-After: 30"), "{e}");
    }

    #[test]
    fn server_error_with_html() {
        let e = decode(
            502,
            Some("text/html"),
            "<html><body>Bad gateway</body></html>",
        )
        .unwrap_err();
        assert!(matches!(
            e,
            ApiError::Status {
                status: 502,
                body: BodyKind::Html,
                ..
            }
        ));
        assert!(e.to_string().contains("HTML"), "{e}");
    }

    #[test]
    fn ok_with_html_is_not_json() {
        let e = decode(
            200,
            Some("text/html; charset=UTF-8"),
            "<!doctype html><p>login</p>",
        )
        .unwrap_err();
        assert_eq!(
            e,
            ApiError::NotJson {
                status: 200,
                body: BodyKind::Html
            }
        );
    }

    #[test]
    fn success_false_even_with_200() {
        let body = r#"{"success":false,"errors":[{"code":1000,"message":"x"}],"result":null}"#;
        assert!(matches!(
            decode(200, JSON, body),
            Err(ApiError::Unsuccessful { .. })
        ));
        // errors[] filled while success says true is still a failure
        let body = r#"{"success":true,"errors":[{"code":1,"message":"y"}],"result":{"totalStorageMinutes":1,"totalStorageMinutesLimit":2,"videoCount":3}}"#;
        assert!(matches!(
            decode(200, JSON, body),
            Err(ApiError::Unsuccessful { .. })
        ));
        let body = r#"{"errors":[],"result":{"totalStorageMinutes":1,"totalStorageMinutesLimit":2,"videoCount":3}}"#;
        assert!(matches!(
            decode(200, JSON, body),
            Err(ApiError::Decode { .. })
        ));
    }

    #[test]
    fn null_or_missing_result() {
        assert_eq!(
            decode(200, JSON, r#"{"success":true,"errors":[],"result":null}"#),
            Err(ApiError::MissingResult)
        );
        assert_eq!(
            decode(200, JSON, r#"{"success":true,"errors":[]}"#),
            Err(ApiError::MissingResult)
        );
    }

    #[test]
    fn wrong_field_types() {
        for result in [
            r#"{"totalStorageMinutes":"12","totalStorageMinutesLimit":2,"videoCount":3}"#,
            r#"{"totalStorageMinutes":1,"totalStorageMinutesLimit":null,"videoCount":3}"#,
            r#"{"totalStorageMinutes":1,"totalStorageMinutesLimit":2,"videoCount":-3}"#,
            r#"{"totalStorageMinutes":1,"totalStorageMinutesLimit":2,"videoCount":3.5}"#,
            r#"{"totalStorageMinutes":1,"totalStorageMinutesLimit":2}"#,
            r#"[1,2,3]"#,
            r#""text""#,
        ] {
            let body = format!(r#"{{"success":true,"errors":[],"result":{result}}}"#);
            match decode(200, JSON, &body) {
                Err(ApiError::Decode { detail }) => {
                    assert!(detail.starts_with("result"), "{detail}")
                }
                other => panic!("{result}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_and_empty_json() {
        let e = decode(
            200,
            JSON,
            r#"{"success":true,"errors":[],"result":{"totalStor"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cut short"), "{e}");
        let e = decode(200, JSON, "").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = decode(200, None, "{").unwrap_err();
        assert!(e.to_string().contains("cut short"), "{e}");
    }

    #[test]
    fn weird_errors_entries_do_not_hide_the_status() {
        let e = decode(500, JSON, r#"{"success":false,"errors":["boom", 7]}"#).unwrap_err();
        match e {
            ApiError::Status { errors, .. } => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn upstream_text_is_sanitised_for_logs() {
        let e = decode_storage_usage(&RawResponse {
            status: 429,
            content_type: None,
            retry_after: Some("1\r\nInjected: yes"),
            body: b"",
        })
        .unwrap_err();
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
    }
}
