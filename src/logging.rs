//! Log set-up: `timestamp level message` lines on stderr, with the timestamp
//! in the zone named by `TZ` (UTC when `TZ` is unset) and the API token
//! scrubbed from every line.
//!
//! Local time comes from the C library's `localtime_r`, which reads `TZ` and
//! `/usr/share/zoneinfo` itself (glibc and musl alike): no TZif parser or
//! zone database is compiled in, so this costs no binary size.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

const REDACTED: &str = "<redacted>";

/// Installs the logger. `level` applies to this crate; libraries log at
/// most at info unless `RUST_LOG` names them. `secret` is scrubbed from
/// every line that would carry it.
pub fn init(level: LevelFilter, secret: &str) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level.min(LevelFilter::Info));
    builder.filter_module("cloudflare_stream_exporter", level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let utc = std::env::var("TZ").map(|t| t.is_empty()).unwrap_or(true);
    let secret = secret.to_string();
    builder.format(move |buf, record| {
        let mut line = String::with_capacity(128);
        timestamp(&mut line, SystemTime::now(), utc);
        let _ = write!(line, " {} ", record.level());
        let message = record.args().to_string();
        line.push_str(&scrub(&message, &secret));
        line.push('\n');
        buf.write_all(line.as_bytes())
    });
    let inner = builder.build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(Guarded { inner })).is_ok() {
        log::set_max_level(max);
    }
}

/// Checks that `TZ`, when it names a zone file, names one that exists, since
/// the C library silently falls back to UTC otherwise.
pub fn zone_warning() -> Option<String> {
    let tz = std::env::var("TZ").ok().filter(|t| !t.is_empty())?;
    let name = tz.strip_prefix(':').unwrap_or(&tz);
    if !name.contains('/') {
        // "UTC" or a POSIX rule such as "EST5EDT": no file needed.
        return None;
    }
    let path = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/usr/share/zoneinfo/{name}")
    };
    if std::path::Path::new(&path).is_file() {
        None
    } else {
        Some(format!(
            "TZ is {tz:?} but {path} does not exist, so log times are in UTC; install tzdata \
             or build the image with --build-arg TZ={name}"
        ))
    }
}

/// Wraps env_logger to drop ureq-proto's trace records, which dump the raw
/// request bytes (the Authorization header included) in 16-byte rows that
/// no substring scrub could catch.
struct Guarded {
    inner: env_logger::Logger,
}

fn dumps_raw_bytes(metadata: &Metadata<'_>) -> bool {
    metadata.level() == log::Level::Trace && metadata.target().starts_with("ureq_proto")
}

impl Log for Guarded {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        !dumps_raw_bytes(metadata) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !dumps_raw_bytes(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Removes the secret and keeps the message on one line.
fn scrub(message: &str, secret: &str) -> String {
    let mut out = if !secret.is_empty() && message.contains(secret) {
        message.replace(secret, REDACTED)
    } else {
        message.to_string()
    };
    if out.contains(['\n', '\r']) {
        out = out.replace('\n', "\\n").replace('\r', "\\r");
    }
    out
}

/// Writes `2026-11-24T21:53:38.123+03:00`, or `...Z` in UTC.
fn timestamp(out: &mut String, now: SystemTime, utc: bool) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    // time_t is 64 bits on every 64-bit target, musl included.
    #[allow(deprecated)]
    let secs = since.as_secs() as libc::time_t;
    let millis = since.subsec_millis();
    // SAFETY: `tm` is plain old data that the C library fills in; both
    // pointers are valid for the duration of the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let filled = unsafe {
        if utc {
            !libc::gmtime_r(&secs, &mut tm).is_null()
        } else {
            !libc::localtime_r(&secs, &mut tm).is_null()
        }
    };
    if !filled {
        let _ = write!(out, "{}.{:03}", since.as_secs(), millis);
        return;
    }
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        millis
    );
    let offset = if utc { 0 } else { tm.tm_gmtoff };
    if offset == 0 && utc {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let _ = write!(out, "{}{:02}:{:02}", sign, abs / 3600, (abs % 3600) / 60);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn scrub_removes_the_secret_and_newlines() {
        assert_eq!(
            scrub("a TOKEN b TOKEN", "TOKEN"),
            "a <redacted> b <redacted>"
        );
        assert_eq!(scrub("line1\nline2\r", "x"), "line1\\nline2\\r");
        assert_eq!(scrub("nothing", ""), "nothing");
    }

    #[test]
    fn utc_timestamp() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        let mut s = String::new();
        timestamp(&mut s, t, true);
        assert_eq!(s, "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn raw_byte_dumps_are_dropped() {
        let m = Metadata::builder()
            .level(log::Level::Trace)
            .target("ureq_proto::util")
            .build();
        assert!(dumps_raw_bytes(&m));
        let m = Metadata::builder()
            .level(log::Level::Debug)
            .target("ureq_proto::client")
            .build();
        assert!(!dumps_raw_bytes(&m));
    }
}
