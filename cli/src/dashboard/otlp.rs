//! The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf
//! (`application/x-protobuf`) or JSON (`application/json`), plain or gzip.
//!
//! What the specification asks of a server, and what the services' exporter expects: 200 with
//! an (empty) response message in the request's encoding; 400 for a body that does not decode or
//! carries ids of the wrong length; 413 past the size cap, compressed or not (a small gzip body
//! can inflate to gigabytes); 415 for another content type or encoding.

use super::store::{LogRow, PointRow, SpanEvent, SpanRow, Store, Write};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::BTreeMap;
use std::io::Read;

/// Largest body accepted, before and after decompression.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, PartialEq)]
pub enum Rejection {
    /// The store is [`super::store::MAX_QUEUED_ROWS`] behind: come back in a second.
    Busy,
    TooLarge,
    Unsupported(String),
    Bad(String),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, detail) = match self {
            Rejection::Busy => {
                let mut r = super::problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the dashboard is writing what it received; send this again in a second",
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                );
                return r;
            }
            Rejection::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {MAX_BODY} bytes (decompressed)"),
            ),
            Rejection::Unsupported(d) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, d),
            Rejection::Bad(d) => (StatusCode::BAD_REQUEST, d),
        };
        super::problem(status, &detail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// The body's encoding and its bytes, decompressed.
pub fn unwrap_body(headers: &HeaderMap, body: &[u8]) -> Result<(Encoding, Vec<u8>), Rejection> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match kind.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            return Err(Rejection::Unsupported(format!(
                "content type `{other}`: OTLP/HTTP is application/x-protobuf or application/json"
            )))
        }
    };
    if body.len() > MAX_BODY {
        return Err(Rejection::TooLarge);
    }
    let compression = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = match compression.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Rejection::Bad(format!("gzip body: {e}")))?;
            if out.len() > MAX_BODY {
                return Err(Rejection::TooLarge);
            }
            out
        }
        other => {
            return Err(Rejection::Unsupported(format!(
                "content encoding `{other}`: gzip or none"
            )))
        }
    };
    Ok((encoding, bytes))
}

fn decode<T: prost::Message + Default + serde::de::DeserializeOwned>(
    encoding: Encoding,
    bytes: &[u8],
) -> Result<T, Rejection> {
    match encoding {
        Encoding::Protobuf => {
            T::decode(bytes).map_err(|e| Rejection::Bad(format!("protobuf body: {e}")))
        }
        Encoding::Json => {
            let value: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| Rejection::Bad(format!("JSON body: {e}")))?;
            // OTLP/JSON may leave out any field at its default, the top-level list included
            // (`{}` is an export of nothing); the generated types require that one.
            let has_data = ["resourceSpans", "resourceLogs", "resourceMetrics"]
                .iter()
                .any(|k| value.get(k).is_some());
            if value.is_object() && !has_data {
                return Ok(T::default());
            }
            serde_json::from_value(value).map_err(|e| Rejection::Bad(format!("JSON body: {e}")))
        }
    }
}

/// The success answer: an empty response message, in the request's encoding.
pub fn accepted(encoding: Encoding) -> Response {
    match encoding {
        // Every Export*ServiceResponse without partial success encodes to zero bytes.
        Encoding::Protobuf => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Bytes::new(),
        )
            .into_response(),
        Encoding::Json => ([(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
    }
}

/// Spans as rows for the store.
pub fn traces(encoding: Encoding, bytes: &[u8]) -> Result<Write, Rejection> {
    let request: ExportTraceServiceRequest = decode(encoding, bytes)?;
    Ok(Write::Spans(spans(request)?))
}

/// Log records as rows for the store (and the live stream).
pub fn logs(encoding: Encoding, bytes: &[u8]) -> Result<Write, Rejection> {
    let request: ExportLogsServiceRequest = decode(encoding, bytes)?;
    Ok(Write::Logs(log_rows(request)?))
}

/// Data points as rows for the store.
pub fn metrics(encoding: Encoding, bytes: &[u8]) -> Result<Write, Rejection> {
    let request: ExportMetricsServiceRequest = decode(encoding, bytes)?;
    Ok(Write::Points(points(request)))
}

/// Hands `write` to the store; while the store is behind, the answer waits (the sender's
/// requests slow down, as TCP's would), and after `patience` it is 503 with Retry-After.
pub async fn enqueue(
    store: &Store,
    mut write: Write,
    patience: std::time::Duration,
) -> Result<(), Rejection> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match store.try_send(write) {
            Ok(()) => return Ok(()),
            Err(_) if tokio::time::Instant::now() >= deadline => return Err(Rejection::Busy),
            Err(back) => {
                write = back;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn hex_id(bytes: &[u8], len: usize, what: &str) -> Result<String, Rejection> {
    if bytes.len() != len || bytes.iter().all(|b| *b == 0) {
        return Err(Rejection::Bad(format!(
            "{what} must be {len} bytes, not all zero (got {})",
            bytes.len()
        )));
    }
    Ok(hex::encode(bytes))
}

fn service_of(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
        .and_then(|a| a.value.as_ref())
        .map(text)
        .unwrap_or_else(|| "unknown".into())
}

/// An attribute value as the pages show it.
pub fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex::encode(b),
        Some(any_value::Value::ArrayValue(a)) => format!(
            "[{}]",
            a.values.iter().map(text).collect::<Vec<_>>().join(", ")
        ),
        Some(any_value::Value::KvlistValue(kv)) => format!(
            "{{{}}}",
            kv.values
                .iter()
                .map(|k| format!(
                    "{}: {}",
                    k.key,
                    k.value.as_ref().map(text).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => String::new(),
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn spans(request: ExportTraceServiceRequest) -> Result<Vec<SpanRow>, Rejection> {
    let mut rows = Vec::new();
    for rs in request.resource_spans {
        let service = service_of(rs.resource.as_ref());
        for ss in rs.scope_spans {
            for s in ss.spans {
                let parent_id = if s.parent_span_id.is_empty() {
                    String::new()
                } else {
                    hex_id(&s.parent_span_id, 8, "parentSpanId")?
                };
                let status = s.status.as_ref();
                rows.push(SpanRow {
                    trace_id: hex_id(&s.trace_id, 16, "traceId")?,
                    span_id: hex_id(&s.span_id, 8, "spanId")?,
                    parent_id,
                    service: service.clone(),
                    kind: match s.kind {
                        1 => "internal",
                        2 => "server",
                        3 => "client",
                        4 => "producer",
                        5 => "consumer",
                        _ => "unspecified",
                    }
                    .into(),
                    start_ns: s.start_time_unix_nano as i64,
                    end_ns: (s.end_time_unix_nano.max(s.start_time_unix_nano)) as i64,
                    status: match status.map(|st| st.code) {
                        Some(2) => "error",
                        Some(1) => "ok",
                        _ => "unset",
                    }
                    .into(),
                    status_message: status.map(|st| st.message.clone()).unwrap_or_default(),
                    attributes: attributes(&s.attributes),
                    events: s
                        .events
                        .iter()
                        .map(|e| SpanEvent {
                            name: e.name.clone(),
                            time_ns: e.time_unix_nano as i64,
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                    name: s.name,
                });
            }
        }
    }
    Ok(rows)
}

fn log_rows(request: ExportLogsServiceRequest) -> Result<Vec<LogRow>, Rejection> {
    let mut rows = Vec::new();
    for rl in request.resource_logs {
        let service = service_of(rl.resource.as_ref());
        for sl in rl.scope_logs {
            for l in sl.log_records {
                let trace_id = if l.trace_id.is_empty() {
                    String::new()
                } else {
                    hex_id(&l.trace_id, 16, "traceId")?
                };
                let level = if l.severity_text.is_empty() {
                    // The specification's ranges: 1–4 TRACE, 5–8 DEBUG, 9–12 INFO, …
                    match l.severity_number {
                        1..=4 => "TRACE",
                        5..=8 => "DEBUG",
                        9..=12 => "INFO",
                        13..=16 => "WARN",
                        17.. => "ERROR",
                        _ => "",
                    }
                    .to_owned()
                } else {
                    l.severity_text.to_ascii_uppercase()
                };
                let time = if l.time_unix_nano > 0 {
                    l.time_unix_nano
                } else {
                    l.observed_time_unix_nano
                };
                rows.push(LogRow {
                    id: None,
                    time_ns: time as i64,
                    service: service.clone(),
                    level,
                    message: l.body.as_ref().map(text).unwrap_or_default(),
                    trace_id,
                    fields: attributes(&l.attributes),
                });
            }
        }
    }
    Ok(rows)
}

fn points(request: ExportMetricsServiceRequest) -> Vec<PointRow> {
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
    let number = |v: &Option<Value>| match v {
        Some(Value::AsDouble(d)) => *d,
        Some(Value::AsInt(i)) => *i as f64,
        None => 0.0,
    };
    let mut rows = Vec::new();
    for rm in request.resource_metrics {
        let service = service_of(rm.resource.as_ref());
        for sm in rm.scope_metrics {
            for m in sm.metrics {
                let mut push = |time: u64, value: f64| {
                    rows.push(PointRow {
                        time_ms: (time / 1_000_000) as i64,
                        service: service.clone(),
                        series: m.name.clone(),
                        metric: "value".into(),
                        value,
                    })
                };
                match &m.data {
                    Some(Data::Gauge(g)) => g
                        .data_points
                        .iter()
                        .for_each(|p| push(p.time_unix_nano, number(&p.value))),
                    Some(Data::Sum(s)) => s
                        .data_points
                        .iter()
                        .for_each(|p| push(p.time_unix_nano, number(&p.value))),
                    Some(Data::Histogram(h)) => h
                        .data_points
                        .iter()
                        .for_each(|p| push(p.time_unix_nano, p.count as f64)),
                    _ => {}
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(kind: &str, encoding: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(kind).unwrap());
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_str(e).unwrap());
        }
        h
    }

    #[test]
    fn a_gzip_bomb_is_too_large_not_a_crash() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..(MAX_BODY / zeros.len() + 1) {
            gz.write_all(&zeros).unwrap();
        }
        let body = gz.finish().unwrap();
        assert!(body.len() < 100_000, "small on the wire: {}", body.len());
        let got = unwrap_body(&headers("application/x-protobuf", Some("gzip")), &body);
        assert_eq!(got.unwrap_err(), Rejection::TooLarge);
    }

    #[test]
    fn a_busy_store_asks_the_exporter_to_come_back() {
        let r = Rejection::Busy.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn other_content_types_and_encodings_are_unsupported() {
        assert!(matches!(
            unwrap_body(&headers("text/plain", None), b"x"),
            Err(Rejection::Unsupported(_))
        ));
        assert!(matches!(
            unwrap_body(&headers("application/json", Some("br")), b"x"),
            Err(Rejection::Unsupported(_))
        ));
        assert!(matches!(
            unwrap_body(&headers("application/json", Some("gzip")), b"not gzip"),
            Err(Rejection::Bad(_))
        ));
    }

    #[test]
    fn json_ids_are_hex_and_wrong_lengths_are_bad_data() {
        let good = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
          "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
          "name":"GET /x","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"2000",
          "attributes":[{"key":"http.response.status_code","value":{"intValue":"500"}}],"status":{"code":2}}]}]}]}"#;
        let req: ExportTraceServiceRequest = decode(Encoding::Json, good.as_bytes()).unwrap();
        let rows = spans(req).unwrap();
        assert_eq!(rows.len(), 1);
        let s = &rows[0];
        assert_eq!(
            (s.service.as_str(), s.kind.as_str(), s.status.as_str()),
            ("svc", "server", "error")
        );
        assert_eq!(s.attributes["http.response.status_code"], "500");
        assert_eq!((s.start_ns, s.end_ns), (1000, 2000));
        let short = good.replace("eee19b7ec3c1b174", "eee19b");
        let req: Result<ExportTraceServiceRequest, _> = decode(Encoding::Json, short.as_bytes());
        let bad = req.map_err(|_| ()).and_then(|r| spans(r).map_err(|_| ()));
        assert!(bad.is_err());
        assert!(matches!(
            decode::<ExportTraceServiceRequest>(Encoding::Protobuf, b"\xff\xff\xff"),
            Err(Rejection::Bad(_))
        ));
        let empty: ExportTraceServiceRequest = decode(Encoding::Json, b"{}").unwrap();
        assert!(
            empty.resource_spans.is_empty(),
            "an export of nothing is valid OTLP/JSON"
        );
        assert!(matches!(
            decode::<ExportTraceServiceRequest>(Encoding::Json, b"[1, 2]"),
            Err(Rejection::Bad(_))
        ));
    }
}
