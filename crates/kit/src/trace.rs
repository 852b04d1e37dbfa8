//! W3C trace context. Every request gets a trace id (from its `traceparent`, or a new one) and a
//! request id (from `x-request-id`, or a new one); both go on the request's log span and back
//! in the response headers, and outgoing calls made while handling it carry them on.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tracing::Instrument;

pub const TRACEPARENT: &str = "traceparent";
pub const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    pub sampled: bool,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl TraceContext {
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: random_hex(16),
            span_id: random_hex(8),
            sampled: true,
        }
    }

    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else (including all-zero ids) is `None`.
    pub fn parse(header: &str) -> Option<TraceContext> {
        let parts: Vec<&str> = header.trim().split('-').collect();
        let [version, trace_id, span_id, flags] = parts.as_slice() else {
            return None;
        };
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !hex(version, 2)
            || *version == "ff"
            || !hex(trace_id, 32)
            || !hex(span_id, 16)
            || !hex(flags, 2)
        {
            return None;
        }
        if trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
            return None;
        }
        Some(TraceContext {
            trace_id: (*trace_id).to_owned(),
            span_id: (*span_id).to_owned(),
            sampled: u8::from_str_radix(flags, 16).unwrap_or(0) & 1 == 1,
        })
    }

    /// The same trace, a new span: what a child call carries.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id.clone(),
            span_id: random_hex(8),
            sampled: self.sampled,
        }
    }

    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub trace: TraceContext,
    pub request_id: String,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The context of the request being handled, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Headers an outgoing call should carry: `traceparent` (same trace, new span) and the
/// request id.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(ctx) = current() {
        if let Ok(v) = HeaderValue::from_str(&ctx.trace.child().header()) {
            headers.insert(TRACEPARENT, v);
        }
        if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            headers.insert(REQUEST_ID, v);
        }
    }
    headers
}

/// Runs background work (a saga step, a consumed message) as part of the trace and request it
/// stems from: `traceparent` and `request_id` as stored or received (a new root when missing or
/// invalid). Logs inside carry the ids, and [`outgoing_headers`] propagates them.
pub async fn continue_in<F: std::future::Future>(
    traceparent: Option<&str>,
    request_id: Option<&str>,
    name: &'static str,
    work: F,
) -> F::Output {
    let incoming = traceparent.and_then(TraceContext::parse);
    let trace = match &incoming {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(),
    };
    let request_id = request_id
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| random_hex(16));
    let span = tracing::info_span!(
        "work",
        work = name,
        request_id = %request_id,
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
    );
    link_parent(&span, incoming.as_ref().unwrap_or(&trace));
    let ctx = RequestContext { trace, request_id };
    CURRENT.scope(ctx, work).instrument(span).await
}

/// Makes the OpenTelemetry span of `span` a child of `parent`, so exported traces join up
/// across services. A no-op when export is off (the `telemetry` module installs the exporter).
pub fn link_parent(span: &tracing::Span, parent: &TraceContext) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let carrier = std::collections::HashMap::from([(TRACEPARENT.to_string(), parent.header())]);
    let context = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

/// A request slower than this is logged at info even when it succeeds.
const SLOW: std::time::Duration = std::time::Duration::from_millis(500);

/// Middleware: extracts or creates the trace and request ids, runs the handler inside a span
/// carrying them, and returns them in the response.
pub async fn middleware(request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse);
    let trace = match &incoming {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(),
    };
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| random_hex(16));
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
    );
    link_parent(&span, incoming.as_ref().unwrap_or(&trace));
    let ctx = RequestContext {
        trace: trace.clone(),
        request_id: request_id.clone(),
    };
    let started = std::time::Instant::now();
    let mut response = CURRENT
        .scope(ctx, async move {
            let response = next.run(request).await;
            let (status, elapsed) = (response.status(), started.elapsed());
            // Every successful request at info was ~60 % of a busy stack's log lines, and
            // logging them cost ~10 % of its throughput: they are debug (RUST_LOG=debug),
            // failures and slow answers stay info.
            if status.is_client_error() || status.is_server_error() || elapsed >= SLOW {
                tracing::info!(
                    status = status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "handled"
                );
            } else {
                tracing::debug!(
                    status = status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "handled"
                );
            }
            response
        })
        .instrument(span)
        .await;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&trace.header()) {
        headers.insert(TRACEPARENT, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_invalid() {
        let t =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(t.sampled);
        assert_eq!(TraceContext::parse(&t.header()), Some(t.clone()));
        assert_eq!(t.child().trace_id, t.trace_id);
        assert_ne!(t.child().span_id, t.span_id);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad}");
        }
    }
}
