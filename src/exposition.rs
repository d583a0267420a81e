//! The Prometheus text format 0.0.4, written by hand.
//!
//! This module owns escaping (HELP text, label values) and the spelling of
//! sample values. It knows no metric names of its own: callers describe
//! families with [`Desc`] and add samples to one reused [`Page`]. It does no
//! I/O and calls nothing upstream.

use std::fmt::Write;

/// The `Content-Type` of a page in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type line of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// A metric family's fixed description, built once as a `const`.
#[derive(Debug, Clone, Copy)]
pub struct Desc {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

/// A page being written. Families must be written whole, one after the other:
/// [`Page::family`] writes HELP and TYPE, then [`Page::sample`] adds its samples.
#[derive(Debug, Default)]
pub struct Page {
    buf: String,
}

impl Page {
    pub fn with_capacity(capacity: usize) -> Self {
        Page {
            buf: String::with_capacity(capacity),
        }
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, desc: &Desc) {
        self.buf.push_str("# HELP ");
        self.buf.push_str(desc.name);
        self.buf.push(' ');
        escape_help(&mut self.buf, desc.help);
        self.buf.push_str("\n# TYPE ");
        self.buf.push_str(desc.name);
        self.buf.push(' ');
        self.buf.push_str(desc.kind.as_str());
        self.buf.push('\n');
    }

    /// One sample line of the family last started.
    pub fn sample(&mut self, desc: &Desc, labels: &[(&str, &str)], value: f64) {
        self.buf.push_str(desc.name);
        if !labels.is_empty() {
            self.buf.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                self.buf.push_str(name);
                self.buf.push_str("=\"");
                escape_label_value(&mut self.buf, value);
                self.buf.push('"');
            }
            self.buf.push('}');
        }
        self.buf.push(' ');
        write_value(&mut self.buf, value);
        self.buf.push('\n');
    }

    /// Appends a page rendered before, such as one that never changes.
    pub fn append(&mut self, other: &Page) {
        self.buf.push_str(&other.buf);
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

/// HELP text escapes backslash and newline.
pub fn escape_help(out: &mut String, text: &str) {
    escape(out, text, |b| match b {
        b'\\' => Some("\\\\"),
        b'\n' => Some("\\n"),
        _ => None,
    });
}

/// Label values escape backslash, double quote and newline.
pub fn escape_label_value(out: &mut String, text: &str) {
    escape(out, text, |b| match b {
        b'\\' => Some("\\\\"),
        b'"' => Some("\\\""),
        b'\n' => Some("\\n"),
        _ => None,
    });
}

/// Copies `text`, replacing the ASCII bytes `special` names. The runs in
/// between go over whole: copying char by char was a sixth of a scrape's
/// instructions (callgrind). Slicing at an ASCII byte is always on a char
/// boundary, since no byte of a multi-byte UTF-8 char is below 0x80.
fn escape(out: &mut String, text: &str, special: impl Fn(u8) -> Option<&'static str>) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if let Some(replacement) = special(b) {
            out.push_str(&text[start..i]);
            out.push_str(replacement);
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

/// Writes a value as Prometheus parses it: `NaN`, `+Inf`, `-Inf`, integers
/// without a fraction, and the shortest text that reads back to the same f64.
pub fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value == 0.0 {
        // Also folds -0 into 0.
        out.push('0');
    } else {
        let magnitude = value.abs();
        if (1e-5..1e15).contains(&magnitude) {
            let _ = write!(out, "{value}");
        } else {
            let _ = write!(out, "{value:e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut s = String::new();
        write_value(&mut s, v);
        s
    }

    #[test]
    fn special_values() {
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(-0.0), "0");
    }

    #[test]
    fn integers_and_fractions() {
        assert_eq!(value(1.0), "1");
        assert_eq!(value(-1.0), "-1");
        assert_eq!(value(74070.0), "74070");
        assert_eq!(value(6_000_000.0), "6000000");
        assert_eq!(value(1234.5), "1234.5");
        assert_eq!(value(0.1), "0.1");
        assert_eq!(value(0.000123), "0.000123");
        assert_eq!(value(1e20), "1e20");
        assert_eq!(value(1.5e-9), "1.5e-9");
        assert_eq!(value(f64::MAX), "1.7976931348623157e308");
    }

    #[test]
    fn values_read_back_exactly() {
        for v in [
            1234.5 * 60.0,
            0.1 + 0.2,
            1.0 / 3.0,
            123456789.123,
            9.99e-6,
            2e15,
        ] {
            let text = value(v);
            assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
        }
    }

    #[test]
    fn label_values_escape_quotes_backslashes_and_newlines() {
        let mut s = String::new();
        escape_label_value(&mut s, "a\"b\\c\nd");
        assert_eq!(s, r#"a\"b\\c\nd"#);
    }

    #[test]
    fn escaping_keeps_multibyte_text_whole() {
        let mut s = String::new();
        escape_label_value(&mut s, "ü\"ß\n€\\日本");
        assert_eq!(s, "ü\\\"ß\\n€\\\\日本");
        let mut plain = String::from("x=");
        escape_label_value(&mut plain, "no specials at all");
        assert_eq!(plain, "x=no specials at all");
        let mut edge = String::new();
        escape_help(&mut edge, "\n\\");
        assert_eq!(edge, "\\n\\\\");
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut s = String::new();
        escape_help(&mut s, "say \"hi\"\\\nbye");
        assert_eq!(s, r#"say "hi"\\\nbye"#);
    }

    #[test]
    fn a_family_with_labels() {
        const D: Desc = Desc {
            name: "x_seconds",
            help: "A help\ntext.",
            kind: Kind::Gauge,
        };
        let mut page = Page::default();
        page.family(&D);
        page.sample(&D, &[("account_id", "a\"1"), ("k", "v")], 1.5);
        page.sample(&D, &[], f64::NAN);
        assert_eq!(
            page.as_str(),
            "# HELP x_seconds A help\\ntext.\n# TYPE x_seconds gauge\n\
             x_seconds{account_id=\"a\\\"1\",k=\"v\"} 1.5\nx_seconds NaN\n"
        );
    }
}
