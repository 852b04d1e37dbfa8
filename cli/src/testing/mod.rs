//! What every `msctl test …` command shares: where the project's services are ([`targets`]),
//! the JUnit report CI reads ([`junit`]), URL pieces built from names, and
//! service log lines as people read them.

use serde_json::Value;

pub mod junit;
pub mod targets;

/// Percent-encodes what would break a URL's path segment or user-info part (names, versions,
/// credentials).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A service's log line (kit's JSON, without Docker's timestamp) as `time level message
/// key=value… method path`; any other line as it is. Journeys and contracts print these.
pub fn compact_log_line(line: &str) -> String {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let stamp = text(o.get("timestamp"));
    let mut out = format!(
        "{} {:<5}",
        stamp.get(11..23).unwrap_or(&stamp),
        text(o.get("level"))
    );
    if let Some(Value::Object(fields)) = o.get("fields") {
        out.push_str(&format!(" {}", text(fields.get("message"))));
        // The ids are what selected the line; repeating them on every line is noise.
        let shown = |k: &str| !matches!(k, "message" | "request_id" | "trace_id");
        for (k, v) in fields.iter().filter(|(k, _)| shown(k)) {
            out.push_str(&format!(" {k}={}", text(Some(v))));
        }
    }
    if let Some(Value::Object(span)) = o.get("span") {
        for k in ["method", "path"] {
            if let Some(v) = span.get(k) {
                out.push_str(&format!(" {}", text(Some(v))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kit_log_line_reads_as_one_short_line_without_the_ids_that_selected_it() {
        let line = r#"{"timestamp":"2026-11-30T22:53:59.378332Z","level":"INFO","fields":{"message":"handled","status":415,"request_id":"pact-2"},"span":{"method":"POST","path":"/payments","request_id":"pact-2"}}"#;
        assert_eq!(
            super::compact_log_line(line),
            "22:53:59.378 INFO  handled status=415 POST /payments"
        );
        assert_eq!(super::compact_log_line("plain text"), "plain text");
    }

    #[test]
    fn names_and_credentials_are_percent_encoded() {
        assert_eq!(super::percent_encode("a b/c@d"), "a%20b%2Fc%40d");
        assert_eq!(
            super::percent_encode("order-service_1.0~x"),
            "order-service_1.0~x"
        );
    }
}
