//! `msctl dashboard`, in process: its OTLP receiver fed by the services' own exporter (kit) and
//! by hand-made bodies (protobuf, JSON, gzip, malformed, oversized), its login, and every page
//! in a real browser (Debian's chromium, driven over WebDriver by chromedriver) with
//! screenshots kept in `target/dashboard-screenshots/`.
//!
//! One test binary on purpose: kit's telemetry is process-global, and each binary links msctl.

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use msctl::dashboard::{self, store::Limits, Options, Running};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use std::io::Write as _;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A dashboard for a one-service stack in a temporary directory.
async fn start(dir: &std::path::Path, limits: Limits, receive_only: bool) -> Running {
    let file = dir.join("msctl.yaml");
    std::fs::write(
        &file,
        format!(
            "name: msctl-it-dash-{}\nservices:\n  web:\n    image: debian:bookworm-slim\n",
            std::process::id()
        ),
    )
    .unwrap();
    let stack = msctl::stack::load(&file).unwrap();
    let docker = msctl::docker::connect().await.ok();
    let opts = Options {
        port: 0,
        token: Some(TOKEN.into()),
        limits,
        scrape_every: std::time::Duration::from_secs(5),
        receive_only,
    };
    dashboard::start(stack, docker, &opts).await.unwrap()
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![string("service.name", service)],
        ..Default::default()
    })
}

fn id(n: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[len - 8..].copy_from_slice(&n.max(1).to_be_bytes());
    v
}

/// One span of trace `trace`, `start`–`end` ms after a fixed time.
#[allow(clippy::too_many_arguments)]
fn span_of(
    trace: u64,
    id_: u64,
    parent: u64,
    name: &str,
    start: u64,
    end: u64,
    error: bool,
) -> Span {
    let base = 1_765_000_000_000_000_000u64;
    Span {
        trace_id: id(trace, 16),
        span_id: id(id_, 8),
        parent_span_id: if parent == 0 { vec![] } else { id(parent, 8) },
        name: name.into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: base + start * 1_000_000,
        end_time_unix_nano: base + end * 1_000_000,
        attributes: vec![string("http.route", name)],
        status: error.then(|| Status {
            code: status::StatusCode::Error as i32,
            message: "payment provider unavailable".into(),
        }),
        events: if error {
            vec![span::Event {
                name: "exception".into(),
                time_unix_nano: base + (end - 1) * 1_000_000,
                attributes: vec![string("exception.message", "connection refused")],
                ..Default::default()
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn request(spans: Vec<(&str, Span)>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: spans
            .into_iter()
            .map(|(service, s)| ResourceSpans {
                resource: resource(service),
                scope_spans: vec![ScopeSpans {
                    spans: vec![s],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// A checkout as the bundled stack makes it: five services, one failing call.
fn checkout(trace: u64) -> ExportTraceServiceRequest {
    let t = trace * 100;
    request(vec![
        (
            "gateway",
            span_of(trace, t + 1, 0, "POST /orders", 0, 48, false),
        ),
        (
            "order-service",
            span_of(trace, t + 2, t + 1, "POST /orders", 2, 46, false),
        ),
        (
            "order-service",
            span_of(trace, t + 3, t + 2, "saga step", 8, 45, false),
        ),
        (
            "product-service",
            span_of(trace, t + 4, t + 3, "POST /reservations", 10, 18, false),
        ),
        (
            "payment-service",
            span_of(
                trace,
                t + 5,
                t + 3,
                "POST /payments",
                20,
                40,
                trace % 2 == 0,
            ),
        ),
        (
            "notification-service",
            span_of(
                trace,
                t + 6,
                t + 5,
                "consume payment.succeeded",
                41,
                44,
                false,
            ),
        ),
    ])
}

async fn post(url: &str, kind: &str, encoding: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", kind)
        .body(body);
    if let Some(e) = encoding {
        r = r.header("content-encoding", e);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

async fn page(running: &Running, path: &str, cookie: bool) -> (u16, String) {
    let mut r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", running.url));
    if cookie {
        r = r.header("cookie", format!("msctl_dashboard={TOKEN}"));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receiver_takes_protobuf_json_and_gzip_and_refuses_bad_or_oversized_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), Limits::default(), true).await;
    let traces = format!("{}/v1/traces", d.url);
    let proto = "application/x-protobuf";

    let (code, body) = post(&traces, proto, None, checkout(1).encode_to_vec()).await;
    assert_eq!(
        (code, body.as_str()),
        (200, ""),
        "protobuf: an empty response message"
    );
    let (code, _) = post(
        &traces,
        proto,
        Some("gzip"),
        gzip(&checkout(2).encode_to_vec()),
    )
    .await;
    assert_eq!(code, 200, "gzip");
    let json = serde_json::to_vec(&checkout(5)).unwrap();
    let (code, body) = post(&traces, "application/json", None, json.clone()).await;
    assert_eq!((code, body.as_str()), (200, "{}"), "OTLP/JSON");
    let (code, _) = post(&traces, "application/json", Some("gzip"), gzip(&json)).await;
    assert_eq!(code, 200, "gzip JSON (the same spans again: kept once)");

    // Bad data: 400 with a problem saying why; nothing stored.
    for (kind, body) in [
        (proto, b"\x0a\xff\xff\xff\xff\x0f".to_vec()),
        ("application/json", b"{\"resourceSpans\": [".to_vec()),
        ("application/json", br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","spanId":"eee19b7ec3c1b174"}]}]}]}"#.to_vec()),
    ] {
        let (code, body) = post(&traces, kind, None, body).await;
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("\"status\":400"), "{body}");
    }
    let (code, _) = post(&traces, proto, Some("gzip"), b"not gzip at all".to_vec()).await;
    assert_eq!(code, 400);
    // Too large: on the wire, and once inflated (a small gzip body can inflate to gigabytes).
    let (code, _) = post(&traces, proto, None, vec![0u8; 9 * 1024 * 1024]).await;
    assert_eq!(code, 413);
    let (code, _) = post(
        &traces,
        proto,
        Some("gzip"),
        gzip(&vec![0u8; 9 * 1024 * 1024]),
    )
    .await;
    assert_eq!(code, 413);
    let (code, _) = post(&traces, "text/plain", None, b"x".to_vec()).await;
    assert_eq!(code, 415);

    d.state.store.flush();
    let fill = d.state.store.fill();
    assert_eq!(
        fill.spans, 18,
        "three checkouts of six spans, the repeat kept once"
    );

    // Logs over OTLP, with their trace.
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("payment-service"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_765_000_000_030_000_000,
                    severity_number: 17,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("charge failed".into())),
                    }),
                    trace_id: id(2, 16),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (code, _) = post(
        &format!("{}/v1/logs", d.url),
        proto,
        None,
        logs.encode_to_vec(),
    )
    .await;
    assert_eq!(code, 200);
    d.state.store.flush();

    // The pages: 401 without the cookie, the data with it.
    for path in [
        "/resources",
        "/logs",
        "/traces",
        "/metrics",
        "/runs",
        "/traces/00000000000000000000000000000002",
    ] {
        assert_eq!(page(&d, path, false).await.0, 401, "{path} without login");
    }
    let (code, html) = page(&d, "/traces?service=payment-service&status=error", true).await;
    assert_eq!(code, 200);
    assert_eq!(
        html.matches("data-trace=").count(),
        1,
        "one failed checkout is in the list: {html}"
    );
    let (_, html) = page(&d, "/traces/00000000000000000000000000000002", true).await;
    for service in [
        "gateway",
        "order-service",
        "product-service",
        "payment-service",
        "notification-service",
    ] {
        assert!(
            html.contains(&format!("data-service=\"{service}\"")),
            "{service} in the waterfall"
        );
    }
    assert!(
        html.contains("charge failed"),
        "the trace's log line is on its page"
    );
    let (code, _) = page(&d, "/traces/not-an-id", true).await;
    assert_eq!(code, 400);
    let (code, _) = page(&d, "/traces/0000000000000000000000000000ffff", true).await;
    assert_eq!(code, 404);

    // Actions: only from the page's script, and only on the project's containers.
    let act = |header: bool| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/resources/someone-elses-db/stop", d.url))
            .header("cookie", format!("msctl_dashboard={TOKEN}"));
        if header {
            r = r.header("x-msctl-action", "1");
        }
        r.send()
    };
    assert_eq!(
        act(false).await.unwrap().status().as_u16(),
        403,
        "a cross-site form"
    );
    assert_eq!(
        act(true).await.unwrap().status().as_u16(),
        409,
        "not this project's"
    );

    // Login: the right token sets the cookie and goes where asked, on this site only.
    let (code, _) = page(&d, "/login?t=wrong", false).await;
    assert_eq!(code, 401);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!(
            "{}/login?t={TOKEN}&next=//elsewhere.example/x",
            d.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_services_own_exporter_delivers_their_spans() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), Limits::default(), true).await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &d.url);
    let telemetry = tokio::task::spawn_blocking(|| kit::telemetry::init("dash-exporter-test"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = kit::Service::new(
        "dash-exporter-test",
        axum::Router::new().route("/hello", axum::routing::get(|| async { "hi" })),
    )
    .router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = reqwest::get(format!("http://{addr}/hello")).await.unwrap();
    let traceparent = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let trace_id = traceparent.split('-').nth(1).unwrap().to_owned();
    // Dropping the telemetry flushes the batch exporter (a blocking client: off the runtime).
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
    d.state.store.flush();
    let spans = d.state.store.reader().unwrap().trace(&trace_id).unwrap();
    assert_eq!(
        spans.len(),
        1,
        "the request's span, in the trace its response names"
    );
    assert_eq!(spans[0].service, "dash-exporter-test");
    assert!(spans[0].name.contains("/hello"), "{:?}", spans[0].name);
}

/// Every page in Chromium: login, each page's DOM, the waterfall, the live log stream, the
/// limit marker; a screenshot of each.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        spans: 60,
        logs: 1000,
        points: 1000,
    };
    let d = start(dir.path(), limits, false).await;
    let traces = format!("{}/v1/traces", d.url);
    for t in 1..=12 {
        post(
            &traces,
            "application/x-protobuf",
            None,
            checkout(t).encode_to_vec(),
        )
        .await;
    }
    d.state.store.flush();
    let shots = support::workspace().join("target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = webdriver::Browser::start().await;

    // No cookie: the login page's 401.
    browser.goto(&format!("{}/traces", d.url)).await;
    assert!(browser.text("body").await.contains("Log in"));
    browser
        .goto(&format!("{}/login?t={TOKEN}&next=/traces", d.url))
        .await;
    assert!(browser.url().await.ends_with("/traces"));
    let rows = browser.count("#traces tbody tr[data-trace]").await;
    assert!(rows >= 8, "the trace list shows the traces kept: {rows}");
    assert!(
        browser
            .text("#limit-reached")
            .await
            .contains("limit reached"),
        "72 spans sent, 60 kept"
    );
    browser.screenshot(&shots.join("traces.png")).await;

    // The waterfall of a failed checkout: five services, the error, the critical path, search.
    browser
        .goto(&format!("{}/traces/{}", d.url, hex::encode(id(12, 16))))
        .await;
    assert_eq!(browser.count("details.span").await, 6);
    let services: std::collections::BTreeSet<String> = browser
        .attributes("details.span", "data-service")
        .await
        .into_iter()
        .collect();
    assert_eq!(services.len(), 5, "{services:?}");
    assert_eq!(browser.count("details.span.error").await, 1);
    assert!(browser.count("details.span.critical").await >= 3);
    let bar_width = browser
        .script("return document.querySelector('details.span .bar').getBoundingClientRect().width")
        .await;
    assert!(
        bar_width.as_f64().unwrap() > 100.0,
        "the root's bar spans the track: {bar_width}"
    );
    browser.type_into("#trace-search", "reservations").await;
    assert!(browser.text("#search-count").await.starts_with("1 of 6"));
    browser.click("details.span.error summary").await;
    assert!(browser
        .text("details.span.error .detail")
        .await
        .contains("connection refused"));
    browser.screenshot(&shots.join("trace.png")).await;

    // Live logs: a line sent after the page opened appears without a reload.
    browser.goto(&format!("{}/logs", d.url)).await;
    browser.wait_for_text("#live-status", "following").await;
    let line = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("order-service"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_765_000_000_000_000_000,
                    severity_text: "WARN".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("stock low for SKU-42".into())),
                    }),
                    trace_id: id(12, 16),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    post(
        &format!("{}/v1/logs", d.url),
        "application/x-protobuf",
        None,
        line.encode_to_vec(),
    )
    .await;
    browser
        .wait_for_text("#logs tbody", "stock low for SKU-42")
        .await;
    assert_eq!(
        browser.count("#logs tbody a.trace-link").await,
        1,
        "the line links to its trace"
    );
    browser.screenshot(&shots.join("logs.png")).await;

    for (path, selector) in [
        ("/resources", "#graph"),
        ("/metrics", "main h1"),
        ("/runs", "main h1"),
    ] {
        browser.goto(&format!("{}{path}", d.url)).await;
        assert!(browser.count(selector).await >= 1, "{path}: {selector}");
        assert_eq!(
            browser.count("nav a.active").await,
            1,
            "{path}: the nav marks the page"
        );
        if path == "/resources" {
            assert_eq!(
                browser.count("#graph .node").await,
                1,
                "the stack's one service"
            );
        }
        browser
            .screenshot(&shots.join(format!("{}.png", &path[1..])))
            .await;
    }
    browser.quit().await;
}

/// What a container on `network` gets back from POSTing `{}` to the dashboard's OTLP address
/// (the status line), through bash's /dev/tcp (the stand-in has no curl).
fn post_from_container(network: &str, addr: std::net::SocketAddr) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/{}/{}; printf 'POST /v1/traces HTTP/1.1\\r\\nHost: d\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{{}}' >&3; head -1 <&3",
        addr.ip(),
        addr.port()
    );
    let out = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            network,
            "debian:bookworm-slim",
            "bash",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_projects_containers_may_send_from_the_engines_side() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), Limits::default(), true).await;
    let gateway = d
        .otlp_gateway
        .expect("the receiver listens on the engine's host gateway");
    // A container of another network (the default bridge) reaches the address, and is refused.
    assert_eq!(
        post_from_container("bridge", gateway),
        "HTTP/1.1 403 Forbidden"
    );
    // One on the project's network is heard.
    let network = msctl::docker::network_name(&d.state.stack.name);
    let created = std::process::Command::new("docker")
        .args([
            "network",
            "create",
            "--label",
            &format!("msctl.project={}", d.state.stack.name),
            &network,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let heard = post_from_container(&network, gateway);
    let _ = std::process::Command::new("docker")
        .args(["network", "rm", &network])
        .output();
    assert_eq!(heard, "HTTP/1.1 200 OK");
}

/// `up --dashboard --port P` would serve where no service sends: refused before anything is
/// touched (the services follow MSCTL_DASHBOARD_PORT, which sets both).
#[test]
fn up_with_a_dashboard_port_the_services_do_not_use_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("msctl.yaml"),
        "name: msctl-it-dash-port\nservices:\n  web:\n    image: debian:bookworm-slim\n",
    )
    .unwrap();
    let env =
        std::collections::HashMap::from([("MSCTL_DASHBOARD_PORT".to_owned(), "18899".to_owned())]);
    let out = support::msctl(&["up", "--dashboard", "--port", "19000"], dir.path(), &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("MSCTL_DASHBOARD_PORT=19000"),
        "{}",
        out.stderr
    );
}

/// A second dashboard on a taken port: exit 3 (the machine is not ready), and the first one's
/// store untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_taken_port_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), Limits::default(), true).await;
    let port = d.url.rsplit(':').next().unwrap().to_owned();
    let out = support::msctl(
        &["dashboard", "--port", &port],
        dir.path(),
        &std::collections::HashMap::new(),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("another dashboard?"), "{}", out.stderr);
}
