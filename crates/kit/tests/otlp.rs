//! With OTEL_EXPORTER_OTLP_ENDPOINT set, request spans reach an OTLP/HTTP collector, in the
//! trace of the incoming `traceparent`. (Its own test binary: the subscriber is process-global.)

use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};

/// A request the fake collector got: its path and body.
type Received = (String, Vec<u8>);

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

    let app = kit::Service::new(
        "kit-otlp-test",
        Router::new().route("/hello", get(|| async { "hi" })),
    )
    .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/hello"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

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
}
