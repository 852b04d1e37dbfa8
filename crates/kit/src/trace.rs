//! W3C trace context. Every request gets a trace id (from its `traceparent`, or a new one) and a
//! request id (from `x-request-id`, or a new one); both go on the request's log span and back
//! in the response headers, and outgoing calls made while handling it carry them on.
//!
//! With spans exported (`telemetry::exporting`), the request's ids are those of its exported
//! span: the trace id and span id the OpenTelemetry layer gave it (a child of the caller's span
//! when a `traceparent` came, else a root). The response, the logs and the `traceparent` of
//! outgoing calls then name a span the collector has, so the services' spans join up into one
//! trace. Without export the kit makes its own ids, as cheaply as it can.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tracing::field::Empty;
use tracing::Instrument;

pub const TRACEPARENT: &str = "traceparent";

/// Paths the engine, msctl and Prometheus poll: their spans are not exported.
pub fn is_probe(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics"
}
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

    /// The same trace, a new span id: the kit's own span for work continuing this context
    /// when spans are not exported (an exported span has the ids its exporter gives it).
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

/// Headers an outgoing call should carry: `traceparent` (this trace, and the current span as
/// the parent of the callee's) and the request id.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(ctx) = current() {
        // The current span's own id, not a new one: no span would have a new id, and the
        // callee's exported span would point at a parent the collector never gets.
        if let Ok(v) = HeaderValue::from_str(&ctx.trace.header()) {
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
/// invalid). Logs inside carry the ids, and [`outgoing_headers`] propagates them. Exported, the
/// work is a span named `name`, of kind consumer (it continues a request asynchronously, after
/// the request itself may have ended), a child of the span `traceparent` names.
pub async fn continue_in<F: std::future::Future>(
    traceparent: Option<&str>,
    request_id: Option<&str>,
    name: &'static str,
    work: F,
) -> F::Output {
    continue_with(
        crate::telemetry::exporting(),
        traceparent,
        request_id,
        name,
        work,
    )
    .await
}

async fn continue_with<F: std::future::Future>(
    exporting: bool,
    traceparent: Option<&str>,
    request_id: Option<&str>,
    name: &'static str,
    work: F,
) -> F::Output {
    let incoming = traceparent.and_then(TraceContext::parse);
    let request_id = request_id
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| random_hex(16));
    // Not exported: the kit's own ids, known now. Exported: the exported span's, known once
    // it is built (below); the fields are recorded then, before anything logs inside it.
    let local = (!exporting).then(|| local_ids(incoming.as_ref()));
    let span = tracing::info_span!(
        "work",
        work = name,
        request_id = %request_id,
        trace_id = local.as_ref().map(|t| t.trace_id.as_str()),
        span_id = local.as_ref().map(|t| t.span_id.as_str()),
        otel.name = exporting.then_some(name),
        otel.kind = exporting.then_some("consumer"),
    );
    let trace = match local {
        Some(trace) => trace,
        None => exported_ids(&span, incoming.as_ref()),
    };
    let ctx = RequestContext { trace, request_id };
    CURRENT.scope(ctx, work).instrument(span).await
}

/// The kit's own ids for a span, when spans are not exported: a child of the caller's span, or
/// a new root.
fn local_ids(incoming: Option<&TraceContext>) -> TraceContext {
    incoming.map_or_else(TraceContext::new_root, TraceContext::child)
}

/// For an exported `span` (its `otel.name` and `otel.kind` already set: they cannot change once
/// it is built): parents it on the caller's span, if there is one, and returns its ids as the
/// request's, recorded as its `trace_id` and `span_id` fields for the logs. Falls back to the
/// kit's own ids when the span is not exported after all (filtered out, or the exporter shut
/// down).
fn exported_ids(span: &tracing::Span, incoming: Option<&TraceContext>) -> TraceContext {
    // Only a real caller is a parent. Without one the span is a root: parenting it on ids of
    // our own making would point it at a span that does not exist.
    if let Some(parent) = incoming {
        link_parent(span, parent);
    }
    let trace = exported_context(span).unwrap_or_else(|| local_ids(incoming));
    span.record("trace_id", trace.trace_id.as_str());
    span.record("span_id", trace.span_id.as_str());
    trace
}

/// The ids of `span`'s exported (OpenTelemetry) span, in `traceparent` form: the ids the
/// collector will have. `None` when the span is not exported (export off, the span disabled by
/// the filter, or the provider shut down). This builds the exported span, so set its parent
/// ([`link_parent`]) and its `otel.name` and `otel.kind` first.
pub fn exported_context(span: &tracing::Span) -> Option<TraceContext> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    // TraceId and SpanId display as fixed-width lowercase hex, what `traceparent` wants.
    sc.is_valid().then(|| TraceContext {
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        sampled: sc.is_sampled(),
    })
}

/// Makes the OpenTelemetry span of `span` a child of `parent`, so exported traces join up
/// across services. A no-op when export is off (the `telemetry` module installs the exporter),
/// or once the span is built ([`exported_context`]).
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
    traced(request, next, crate::telemetry::exporting()).await
}

async fn traced(request: Request, next: Next, exporting: bool) -> Response {
    let probe = is_probe(request.uri().path());
    let exporting = exporting && !probe;
    let incoming = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse);
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| random_hex(16));
    // Not exported: the kit's own ids, known now, and nothing else to do. Exported: the
    // exported span's ids (known once it is built, below) and what viewers show of it: a
    // name by route ("GET /items/{id}"; the path when no route matched), its kind, and
    // (recorded at the end) the status.
    let local = (!exporting).then(|| local_ids(incoming.as_ref()));
    let name = exporting.then(|| {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| request.uri().path(), MatchedPath::as_str);
        format!("{} {route}", request.method())
    });
    let span = if probe {
        // The same fields as below, under the target the exporter skips.
        tracing::info_span!(
            target: crate::telemetry::PROBE_TARGET,
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %request_id,
            trace_id = local.as_ref().map(|t| t.trace_id.as_str()),
            span_id = local.as_ref().map(|t| t.span_id.as_str()),
        )
    } else {
        tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        trace_id = local.as_ref().map(|t| t.trace_id.as_str()),
        span_id = local.as_ref().map(|t| t.span_id.as_str()),
        otel.name = name.as_deref(),
        otel.kind = exporting.then_some("server"),
        otel.status_code = Empty,
        http.response.status_code = Empty,
        )
    };
    let trace = match local {
        Some(trace) => trace,
        None => exported_ids(&span, incoming.as_ref()),
    };
    let exported = exporting.then(|| span.clone());
    let ctx = RequestContext {
        trace: trace.clone(),
        request_id: request_id.clone(),
    };
    let started = std::time::Instant::now();
    let mut response = CURRENT
        .scope(ctx, async move {
            let response = next.run(request).await;
            let (status, elapsed) = (response.status(), started.elapsed());
            if let Some(span) = &exported {
                // As i64: the OpenTelemetry layer maps a u64 to a string attribute.
                span.record("http.response.status_code", i64::from(status.as_u16()));
                // A 4xx is the client's error, not the server's (OpenTelemetry's HTTP
                // conventions): only a 5xx marks the server span failed.
                if status.is_server_error() {
                    span.record("otel.status_code", "ERROR");
                }
            }
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

    /// A log sink for a thread's subscriber: the JSON lines written while it is the default.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        /// The line logged with this message.
        fn line(&self, message: &str) -> serde_json::Value {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .find(|l| l["fields"]["message"] == message)
                .unwrap_or_else(|| panic!("no line {message:?} in {text}"))
        }
    }

    /// Runs `f` on a current-thread runtime with a subscriber like `telemetry::init`'s (JSON
    /// lines with the current span's fields), plus, when `otel`, an OpenTelemetry layer whose
    /// provider has no exporter: its spans still get real ids. Thread-local, so the tests do
    /// not touch the process-global subscriber.
    fn with_subscriber<T>(otel: bool, logs: &Logs, f: impl std::future::Future<Output = T>) -> T {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let sink = logs.clone();
        let fmt = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_writer(move || sink.clone());
        let otel = otel.then(|| tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(fmt)
            .with(otel);
        tracing::subscriber::with_default(subscriber, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
    }

    /// The ids of the current span's exported span.
    fn current_exported() -> Option<TraceContext> {
        exported_context(&tracing::Span::current())
    }

    /// One request through the middleware (`exporting` as given), to a handler that logs
    /// "inside" and answers the ids it sees: its context, its exported span's, and the
    /// outgoing traceparent.
    async fn request(exporting: bool, traceparent: Option<&str>) -> (Response, serde_json::Value) {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/items/{id}",
                axum::routing::get(|| async {
                    tracing::info!("inside");
                    let ctx = current().unwrap();
                    let exported = current_exported();
                    axum::Json(serde_json::json!({
                        "context": ctx.trace.header(),
                        "exported": exported.map(|t| t.header()),
                        "outgoing": outgoing_headers()[TRACEPARENT].to_str().unwrap(),
                    }))
                }),
            )
            .layer(axum::middleware::from_fn(move |r: Request, n: Next| {
                traced(r, n, exporting)
            }));
        let mut req = Request::get("/items/7");
        if let Some(tp) = traceparent {
            req = req.header(TRACEPARENT, tp);
        }
        let response = app
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        (
            Response::from_parts(parts, axum::body::Body::empty()),
            serde_json::from_slice(&body).unwrap(),
        )
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn exported_requests_carry_their_exported_spans_ids() {
        for incoming in [Some(PARENT), None] {
            let logs = Logs::default();
            let (response, body) = with_subscriber(true, &logs, request(true, incoming));
            let back = response.headers()[TRACEPARENT].to_str().unwrap();
            let t = TraceContext::parse(back).unwrap();
            // The response, the handler's context, outgoing calls and the exported span agree.
            assert_eq!(body["exported"], back, "{incoming:?}");
            assert_eq!(body["context"], back);
            assert_eq!(body["outgoing"], back, "the callee's parent is this span");
            if incoming.is_some() {
                assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
                assert_ne!(t.span_id, "00f067aa0ba902b7");
            }
            // So do the logs, which keep their fields.
            let line = logs.line("inside");
            assert_eq!(line["span"]["trace_id"], t.trace_id.as_str(), "{line}");
            assert_eq!(line["span"]["span_id"], t.span_id.as_str());
            assert_eq!(
                line["span"]["request_id"],
                response.headers()[REQUEST_ID].to_str().unwrap()
            );
            assert_eq!(line["span"]["path"], "/items/7");
            assert_eq!(line["span"]["otel.name"], "GET /items/{id}");
        }
    }

    #[test]
    fn without_export_the_kit_makes_the_ids() {
        // Export off (even with an OpenTelemetry layer present): the kit's ids, a child of the
        // caller's, no exported span's, no `otel.*` fields on the log lines.
        for otel in [true, false] {
            let logs = Logs::default();
            let (response, body) = with_subscriber(otel, &logs, request(false, Some(PARENT)));
            let back = response.headers()[TRACEPARENT].to_str().unwrap();
            let t = TraceContext::parse(back).unwrap();
            assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(t.span_id, "00f067aa0ba902b7");
            assert_eq!(body["context"], back);
            assert_eq!(body["outgoing"], back);
            if otel {
                assert_ne!(
                    body["exported"], back,
                    "the ids are not the exported span's"
                );
            } else {
                assert_eq!(body["exported"], serde_json::Value::Null);
            }
            let line = logs.line("inside");
            assert_eq!(line["span"]["trace_id"], t.trace_id.as_str(), "{line}");
            assert_eq!(line["span"]["span_id"], t.span_id.as_str());
            assert!(line["span"].get("otel.name").is_none(), "{line}");
            assert!(line["span"].get("otel.kind").is_none(), "{line}");
        }
    }

    #[test]
    fn continued_work_carries_its_exported_spans_ids() {
        let logs = Logs::default();
        let (ctx, exported) = with_subscriber(
            true,
            &logs,
            continue_with(true, Some(PARENT), Some("req-9"), "saga", async {
                tracing::info!("working");
                (current().unwrap(), current_exported())
            }),
        );
        assert_eq!(Some(&ctx.trace), exported.as_ref());
        assert_eq!(ctx.trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(ctx.trace.span_id, "00f067aa0ba902b7");
        assert_eq!(ctx.request_id, "req-9");
        let line = logs.line("working");
        assert_eq!(line["span"]["trace_id"], ctx.trace.trace_id.as_str());
        assert_eq!(line["span"]["span_id"], ctx.trace.span_id.as_str());
        assert_eq!(line["span"]["request_id"], "req-9");
        assert_eq!(line["span"]["work"], "saga");

        // Not exported: the kit's own child of the stored context.
        let (ctx, exported) = with_subscriber(
            false,
            &Logs::default(),
            continue_with(false, Some(PARENT), None, "saga", async {
                (current().unwrap(), current_exported())
            }),
        );
        assert_eq!(exported, None);
        assert_eq!(ctx.trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(ctx.trace.span_id, "00f067aa0ba902b7");
        assert_eq!(ctx.request_id.len(), 32);
    }
}
