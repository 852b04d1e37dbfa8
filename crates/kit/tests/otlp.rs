//! With OTEL_EXPORTER_OTLP_ENDPOINT set, request spans reach an OTLP/HTTP collector, in the
//! trace of the incoming `traceparent`, and link up: a request's span is the parent of the
//! spans of the calls it makes and of the work continuing it, and the ids the services pass on
//! (response headers, outgoing `traceparent`) are those of the exported spans. (Its own test
//! binary: the subscriber is process-global.)

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode as Otel, Span};
use prost::Message;
use std::sync::{Arc, Mutex};

/// A request the fake collector got: its content type and body.
type Received = (String, Vec<u8>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trace id and span id of a `traceparent`.
fn ids(traceparent: &str) -> (String, String) {
    let t = kit::trace::TraceContext::parse(traceparent).expect("a valid traceparent");
    (t.trace_id, t.span_id)
}

fn traceparent(r: &reqwest::Response) -> String {
    r.headers()["traceparent"].to_str().unwrap().to_owned()
}

/// The exported span with this id.
fn span<'a>(spans: &'a [Span], span_id: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| hex(&s.span_id) == span_id)
        .unwrap_or_else(|| {
            let all: Vec<_> = spans
                .iter()
                .map(|s| (&s.name, hex(&s.span_id), hex(&s.parent_span_id)))
                .collect();
            panic!("no exported span {span_id} in {all:?}")
        })
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .and_then(|v| match v {
            AnyValue::IntValue(i) => Some(*i),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_to_the_collector_in_the_callers_trace() {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = received.clone();
    let collector = Router::new().route(
        "/v1/traces",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let kind = headers
                        .get("content-type")
                        .map(|v| v.to_str().unwrap_or("").to_owned())
                        .unwrap_or_default();
                    sink.lock().unwrap().push((kind, body.to_vec()));
                    ""
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });

    std::env::set_var(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://{collector_addr}"),
    );
    let telemetry = tokio::task::spawn_blocking(|| kit::telemetry::init("kit-otlp-test"))
        .await
        .unwrap();
    assert!(kit::telemetry::exporting());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = kit::Service::new(
        "kit-otlp-test",
        Router::new()
            .route("/hello", get(|| async { "hi" }))
            .route("/items/{id}", get(|| async { "an item" }))
            .route(
                "/boom",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
            )
            // Calls /hello of the same app as a service calls another: with the trace headers.
            .route(
                "/outer",
                get(move || async move {
                    let r = reqwest::Client::new()
                        .get(format!("http://{addr}/hello"))
                        .headers(kit::trace::outgoing_headers())
                        .send()
                        .await
                        .unwrap();
                    traceparent(&r)
                }),
            ),
    )
    .router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();

    // (b) A caller's trace is continued: the span is the caller's child.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = client
        .get(format!("http://{addr}/hello"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let continued = ids(&traceparent(&r));
    assert_eq!(continued.0, trace_id);

    // (a) No caller's trace: the span is a root, and the response names it.
    let r = client
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let root = ids(&traceparent(&r));

    // (c) A call made while handling a request is the request span's child.
    let r = client
        .get(format!("http://{addr}/outer"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let outer = ids(&traceparent(&r));
    let inner = ids(&r.text().await.unwrap());

    // (d) Work continuing a request (a saga step, a consumed message) is its child.
    let r = client
        .get(format!("http://{addr}/items/7"))
        .send()
        .await
        .unwrap();
    let item_tp = traceparent(&r);
    let item = ids(&item_tp);
    let work = kit::trace::continue_in(Some(&item_tp), Some("req-d"), "test work", async {
        kit::trace::current().unwrap()
    })
    .await;
    assert_eq!(work.trace.trace_id, item.0);
    assert_eq!(work.request_id, "req-d");

    // (e) A 5xx marks the span failed.
    let r = client
        .get(format!("http://{addr}/boom"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let boom = ids(&traceparent(&r));

    // (f) Probes are answered, logged, and not exported (they would drown the real traces).
    for probe in ["/health/live", "/metrics"] {
        let r = client
            .get(format!("http://{addr}{probe}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{probe}");
    }

    // Dropping the guard flushes the batch.
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector received nothing");
    let (kind, body) = &got[0];
    assert_eq!(kind, "application/x-protobuf");
    let raw_trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    assert!(
        body.windows(16).any(|w| w == raw_trace_id.as_slice()),
        "the exported span carries the caller's trace id"
    );
    assert!(
        body.windows(13).any(|w| w == b"kit-otlp-test"),
        "service name in the resource"
    );

    let mut spans = Vec::new();
    for (_, body) in &got {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    // (f)
    assert!(
        !spans
            .iter()
            .any(|s| s.name.contains("/health") || s.name.contains("/metrics")),
        "no probe span exported: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    // (b)
    let s = span(&spans, &continued.1);
    assert_eq!(hex(&s.trace_id), trace_id);
    assert_eq!(hex(&s.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(s.name, "GET /hello");
    assert_eq!(s.kind, SpanKind::Server as i32);
    assert_eq!(int_attribute(s, "http.response.status_code"), Some(200));

    // (a)
    let s = span(&spans, &root.1);
    assert_eq!(
        hex(&s.trace_id),
        root.0,
        "the response's trace is the span's"
    );
    assert!(
        s.parent_span_id.is_empty(),
        "a root: {:?}",
        s.parent_span_id
    );
    assert_ne!(root.0, trace_id);

    // (c)
    let s = span(&spans, &outer.1);
    assert_eq!(s.name, "GET /outer");
    assert!(s.parent_span_id.is_empty());
    let s = span(&spans, &inner.1);
    assert_eq!(s.name, "GET /hello");
    assert_eq!(
        hex(&s.trace_id),
        outer.0,
        "the call is in the caller's trace"
    );
    assert_eq!(
        hex(&s.parent_span_id),
        outer.1,
        "the caller's span is the parent"
    );

    // (d)
    let s = span(&spans, &item.1);
    assert_eq!(s.name, "GET /items/{id}", "named by route, not path");
    let s = span(&spans, &work.trace.span_id);
    assert_eq!(s.name, "test work");
    assert_eq!(s.kind, SpanKind::Consumer as i32);
    assert_eq!(hex(&s.trace_id), item.0);
    assert_eq!(
        hex(&s.parent_span_id),
        item.1,
        "the request's span is the parent"
    );

    // (e)
    let s = span(&spans, &boom.1);
    assert_eq!(s.name, "GET /boom");
    assert_eq!(int_attribute(s, "http.response.status_code"), Some(500));
    assert_eq!(
        s.status.as_ref().map(|st| st.code),
        Some(Otel::Error as i32),
        "a 5xx is an error"
    );
    for ok in [&continued.1, &root.1, &item.1] {
        let code = span(&spans, ok).status.as_ref().map_or(0, |st| st.code);
        assert_ne!(code, Otel::Error as i32, "{ok}: not an error");
    }
}
