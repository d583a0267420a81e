//! The real TLS path: an HTTPS fake on 127.0.0.1 whose CA and certificates
//! this run makes, and `--cloudflare.ca-file`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::{sample, Exporter, Launch, Mode, ACCOUNT, TOKEN};
use crate::{ensure, Outcome, Suite};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn make_ca() -> Result<Ca, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "cloudflare-stream-exporter test CA");
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(Ca { cert, key })
}

/// A server certificate for `name` (an IP address or a DNS name), by `ca`.
fn leaf(ca: &Ca, name: &str) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), String> {
    let params = CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params
        .signed_by(&key, &ca.cert, &ca.key)
        .map_err(|e| e.to_string())?;
    Ok((
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    ))
}

/// An HTTPS Cloudflare fake: answers the storage-usage call for [`TOKEN`].
struct TlsFake {
    port: u16,
    calls: Arc<AtomicUsize>,
}

impl TlsFake {
    fn start(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsFake, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| e.to_string())?;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, counter) = (Arc::clone(&config), Arc::clone(&counter));
                thread::spawn(move || serve(config, tcp, &counter));
            }
        });
        Ok(TlsFake { port, calls })
    }

    fn api_url(&self, host: &str) -> String {
        format!("https://{host}:{}/client/v4", self.port)
    }
}

/// Answers requests on one connection until it closes; a failed handshake
/// just ends it.
fn serve(config: Arc<rustls::ServerConfig>, tcp: TcpStream, calls: &AtomicUsize) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    for _ in 0..1000 {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tls.read(&mut byte) {
                Ok(1) if head.len() < 16 * 1024 => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let authorised = head.contains(&format!(
            "authorization: bearer {}",
            TOKEN.to_ascii_lowercase()
        ));
        let (status, body) = if head.starts_with("get /client/v4/accounts/") && authorised {
            calls.fetch_add(1, Ordering::SeqCst);
            ("200 OK", Mode::body(1234.5, 100_000.0, 42))
        } else {
            ("403 Forbidden", r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#.to_string())
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if tls
            .write_all(answer.as_bytes())
            .and_then(|_| tls.flush())
            .is_err()
        {
            return;
        }
    }
}

fn launch(url: &str, ca_file: Option<&str>) -> Exporter {
    let mut launch = Launch::against_api(url).arg("--cloudflare.timeout=5s");
    if let Some(path) = ca_file {
        launch = launch.arg(&format!("--cloudflare.ca-file={path}"));
    }
    launch.start()
}

/// The first warning or error line that names the failure.
fn failure_line(exporter: &Exporter) -> String {
    exporter
        .wait_log("TLS", Duration::from_secs(2))
        .into_iter()
        .next()
        .unwrap_or_default()
}

pub fn scenarios(suite: &mut Suite) {
    let setup = (|| -> Result<_, String> {
        let ca = make_ca()?;
        let dir = std::env::temp_dir().join(format!("cse-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.cert.pem()).map_err(|e| e.to_string())?;
        let (cert, key) = leaf(&ca, "127.0.0.1")?;
        let right = TlsFake::start(cert, key)?;
        let (cert, key) = leaf(&ca, "stream-api.example.internal")?;
        let misnamed = TlsFake::start(cert, key)?;
        Ok((ca_file.display().to_string(), right, misnamed))
    })();
    let (ca_file, right, misnamed) = match setup {
        Ok(s) => s,
        Err(e) => {
            suite.run("tls: set up a CA and an HTTPS fake", || Err(e));
            return;
        }
    };

    suite.run(
        "tls: --cloudflare.ca-file with the right CA -> up 1",
        || {
            let exporter = launch(&right.api_url("127.0.0.1"), Some(&ca_file));
            let page = exporter.metrics();
            let up = sample(&page, "cloudflare_stream_up", ACCOUNT);
            ensure!(up == Some(1.0), "up is {up:?}: {}", failure_line(&exporter));
            let videos = sample(&page, "cloudflare_stream_videos", ACCOUNT);
            ensure!(videos == Some(42.0), "videos {videos:?}");
            ensure!(
                right.calls.load(Ordering::SeqCst) >= 1,
                "the HTTPS fake saw no call"
            );
            Ok("up 1, videos 42 over TLS from the test's own CA".to_string())
        },
    );

    suite.run("tls: default roots -> up 0, log says certificate", || {
        refused(&right, None, "an unknown CA")
    });

    suite.run("tls: certificate for another host name -> up 0", || {
        refused(&misnamed, Some(&ca_file), "a misnamed certificate")
    });
}

/// The exporter, trusting `ca_file` (or the built-in roots), must refuse the
/// fake's certificate: up 0, a log line naming the certificate, no request.
fn refused(fake: &TlsFake, ca_file: Option<&str>, case: &str) -> Outcome {
    let calls_before = fake.calls.load(Ordering::SeqCst);
    let exporter = launch(&fake.api_url("127.0.0.1"), ca_file);
    let page = exporter.metrics();
    let up = sample(&page, "cloudflare_stream_up", ACCOUNT);
    ensure!(up == Some(0.0), "up is {up:?} with {case}");
    let line = failure_line(&exporter);
    ensure!(
        line.contains("certificate"),
        "no log line says certificate: {line:?}"
    );
    ensure!(
        fake.calls.load(Ordering::SeqCst) == calls_before,
        "a request went through {case}"
    );
    Ok(format!("up 0; log: {}", after_level(&line)))
}

/// The TLS detail of a log line: after its last "failed: ", up to ";".
fn after_level(line: &str) -> String {
    let detail = line.rsplit("failed: ").next().unwrap_or(line);
    detail.split(';').next().unwrap_or(detail).to_string()
}
