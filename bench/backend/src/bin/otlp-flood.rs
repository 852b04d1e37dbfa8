//! Floods an OTLP/HTTP receiver (bench/dashboard.sh): spans or log records as protobuf bodies,
//! as fast as the receiver takes them, with a fixed number of requests in flight.
//!
//!   otlp-flood spans N  --url http://127.0.0.1:PORT [--batch 500] [--concurrency 4]
//!   otlp-flood logs N   --url …                     [--batch 500] [--concurrency 4]
//!   otlp-flood trace    --url …     # one trace of exactly 500 spans (deep and wide, 5 services)
//!
//! `spans`: traces of 8–12 spans (a root in `gateway`, children spread over 5 services, each
//! with its parent among the trace's earlier spans, 3–4 attributes, ~2 % errors, random ids),
//! cut into bodies the way exporters send them: each body is one service's (one resource),
//! `--batch` spans, so a trace's spans arrive in several requests, from several services.
//! `logs`: log records of the same 5 services (level, message, 2–3 attributes; half carry a
//! trace id), one service per body. Every body is encoded before the clock starts: the figure
//! is the receiver's, not the encoder's.
//!
//! Prints one JSON line: `{"sent": N (rows in requests answered 2xx), "seconds": S, "per_second": R, "failed_requests": F,
//! "requests": Q, "started_at": UNIX_SECONDS}` (`trace` adds `"trace_id"`), where `seconds`
//! runs from the first request sent to the last answer received. A request fails when it
//! cannot be sent or is answered anything but 2xx; the first few failures are described on
//! stderr, and the exit status is 1 if any request failed (2 for bad arguments).

use futures_util::stream::{self, StreamExt};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SERVICES: [&str; 5] = [
    "gateway",
    "order-service",
    "product-service",
    "payment-service",
    "notification-service",
];
const ROUTES: [&str; 6] = [
    "/products",
    "/products/{id}",
    "/orders",
    "/orders/{id}",
    "/payments",
    "/notifications",
];
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
const MESSAGES: [&str; 6] = [
    "request finished",
    "order created",
    "payment authorised",
    "stock reserved",
    "notification queued",
    "slow query: SELECT id, name, price FROM products WHERE id = $1",
];

const USAGE: &str =
    "usage: otlp-flood (spans N | logs N | trace) --url URL [--batch B] [--concurrency C]";

fn usage(problem: &str) -> ! {
    eprintln!("otlp-flood: {problem}\n{USAGE}");
    std::process::exit(2)
}

struct Args {
    mode: String,
    count: usize,
    url: String,
    batch: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage("no mode"));
    let mut count = 500;
    let (mut url, mut batch, mut concurrency) = (None, 500, 4);
    let number = |v: Option<String>, what: &str| -> usize {
        v.and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| usage(&format!("{what} needs a positive number")))
    };
    match mode.as_str() {
        "spans" | "logs" => count = number(it.next(), &mode),
        "trace" => {}
        other => usage(&format!("unknown mode `{other}`")),
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--url" => url = Some(it.next().unwrap_or_else(|| usage("--url needs a value"))),
            "--batch" => batch = number(it.next(), "--batch"),
            "--concurrency" => concurrency = number(it.next(), "--concurrency"),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    Args {
        mode,
        count,
        url: url
            .unwrap_or_else(|| usage("--url is required"))
            .trim_end_matches('/')
            .to_owned(),
        batch,
        concurrency,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn id<const N: usize>(rng: &mut impl Rng) -> Vec<u8> {
    let mut b = [0u8; N];
    rng.fill(&mut b[..]);
    b[0] |= 1; // never all zero (the receiver rejects that)
    b.to_vec()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn text(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", text(service)),
            kv("service.version", text("0.1.0")),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "otlp-flood".into(),
        version: "0.1.0".into(),
        ..Default::default()
    })
}

/// One trace of `size` spans: (service index, span). The root is the gateway's; every other
/// span's parent is `parent(j, rng)` (an earlier span), and lies inside its parent's time.
fn trace(
    rng: &mut impl Rng,
    size: usize,
    start: u64,
    parent: impl Fn(usize, &mut dyn rand::RngCore) -> usize,
) -> Vec<(usize, Span)> {
    let trace_id = id::<16>(rng);
    let mut out: Vec<(usize, Span)> = Vec::with_capacity(size);
    for j in 0..size {
        let (service, parent_id, s, e, kind) = if j == 0 {
            let dur = rng.gen_range(20_000_000..80_000_000u64);
            (0, Vec::new(), start, start + dur, span::SpanKind::Server)
        } else {
            let p = parent(j, rng);
            let (ps, pe) = (out[p].1.start_time_unix_nano, out[p].1.end_time_unix_nano);
            // Inside the parent: up to a quarter of its time cut at each end.
            let room = pe - ps;
            let cut = |r: &mut dyn rand::RngCore| {
                if room >= 4 {
                    r.gen_range(0..room / 4)
                } else {
                    0
                }
            };
            let s = ps + cut(rng);
            let e = pe - cut(rng);
            let kind = match rng.gen_range(0..3) {
                0 => span::SpanKind::Client,
                1 => span::SpanKind::Server,
                _ => span::SpanKind::Internal,
            };
            (
                rng.gen_range(0..SERVICES.len()),
                out[p].1.span_id.clone(),
                s,
                e,
                kind,
            )
        };
        let method = METHODS[rng.gen_range(0..METHODS.len())];
        let route = ROUTES[rng.gen_range(0..ROUTES.len())];
        let error = rng.gen_bool(0.02);
        let mut attributes = vec![
            kv("http.request.method", text(method)),
            kv("http.route", text(route)),
            kv(
                "http.response.status_code",
                any_value::Value::IntValue(if error { 500 } else { 200 }),
            ),
        ];
        if rng.gen_bool(0.5) {
            attributes.push(kv("db.system", text("postgresql")));
        }
        out.push((
            service,
            Span {
                trace_id: trace_id.clone(),
                span_id: id::<8>(rng),
                parent_span_id: parent_id,
                name: format!("{method} {route}"),
                kind: kind as i32,
                start_time_unix_nano: s,
                end_time_unix_nano: e,
                attributes,
                status: error.then(|| Status {
                    code: status::StatusCode::Error as i32,
                    message: "upstream answered 500".into(),
                }),
                ..Default::default()
            },
        ));
    }
    out
}

/// Bodies of at most `batch` rows, each one service's (`per_service[s]` are service `s`'s rows),
/// the services' bodies interleaved, as exporters of several services would send them; `encode`
/// makes one request of one service's rows.
fn interleave<T>(
    per_service: Vec<Vec<T>>,
    batch: usize,
    encode: impl Fn(usize, Vec<T>) -> Vec<u8>,
) -> Vec<(usize, Vec<u8>)> {
    let mut chunks: Vec<std::vec::IntoIter<Vec<T>>> = per_service
        .into_iter()
        .map(|v| {
            let mut v = v.into_iter().peekable();
            let mut out = Vec::new();
            while v.peek().is_some() {
                out.push(v.by_ref().take(batch).collect::<Vec<_>>());
            }
            out.into_iter()
        })
        .collect();
    let mut bodies = Vec::new();
    loop {
        let mut any = false;
        for (s, it) in chunks.iter_mut().enumerate() {
            if let Some(rows) = it.next() {
                any = true;
                bodies.push((rows.len(), encode(s, rows)));
            }
        }
        if !any {
            return bodies;
        }
    }
}

/// Bodies of at most `batch` spans, each one service's, the services' bodies interleaved.
fn span_bodies(spans: Vec<(usize, Span)>, batch: usize) -> Vec<(usize, Vec<u8>)> {
    let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for (s, span) in spans {
        per_service[s].push(span);
    }
    interleave(per_service, batch, |s, spans| {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(SERVICES[s]),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    })
}

/// `n` spans in traces of 8–12 (the last one cut to fit).
fn flood_spans(n: usize, batch: usize) -> Vec<(usize, Vec<u8>)> {
    let mut rng = rand::thread_rng();
    let base = now_ns() - 3_600_000_000_000; // an hour ago, so the single trace sent later is newest
    let mut spans = Vec::with_capacity(n);
    let mut t = 0u64;
    while spans.len() < n {
        let size = rng.gen_range(8..=12).min(n - spans.len());
        let start = base + t * 100_000; // a trace every 0.1 ms
        spans.extend(trace(&mut rng, size, start, |j, r| r.gen_range(0..j)));
        t += 1;
    }
    span_bodies(spans, batch)
}

/// Exactly 500 spans: every fifth span a child of the span before it (chains: depth), the
/// others children of any earlier span (breadth).
fn one_trace() -> (String, Vec<(usize, Vec<u8>)>) {
    let mut rng = rand::thread_rng();
    let spans = trace(&mut rng, 500, now_ns(), |j, r| {
        if j % 5 == 0 {
            j - 1
        } else {
            r.gen_range(0..j)
        }
    });
    let trace_id: String = spans[0]
        .1
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (trace_id, span_bodies(spans, 500))
}

fn flood_logs(n: usize, batch: usize) -> Vec<(usize, Vec<u8>)> {
    let mut rng = rand::thread_rng();
    let base = now_ns() - 3_600_000_000_000;
    let mut per_service: Vec<Vec<LogRecord>> = vec![Vec::new(); SERVICES.len()];
    for i in 0..n {
        let (number, level) = match rng.gen_range(0..100) {
            0..=79 => (9, "INFO"),
            80..=94 => (13, "WARN"),
            _ => (17, "ERROR"),
        };
        let traced = rng.gen_bool(0.5);
        let mut attributes = vec![
            kv("target", text("kit::http")),
            kv("http.route", text(ROUTES[rng.gen_range(0..ROUTES.len())])),
        ];
        if rng.gen_bool(0.5) {
            attributes.push(kv(
                "latency_ms",
                any_value::Value::IntValue(rng.gen_range(1..500)),
            ));
        }
        let time = base + i as u64 * 10_000;
        per_service[rng.gen_range(0..SERVICES.len())].push(LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time,
            severity_number: number,
            severity_text: level.into(),
            body: Some(AnyValue {
                value: Some(text(MESSAGES[rng.gen_range(0..MESSAGES.len())])),
            }),
            attributes,
            trace_id: if traced {
                id::<16>(&mut rng)
            } else {
                Vec::new()
            },
            span_id: if traced {
                id::<8>(&mut rng)
            } else {
                Vec::new()
            },
            ..Default::default()
        });
    }
    interleave(per_service, batch, |s, log_records| {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(SERVICES[s]),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    })
}

/// An error with its causes (reqwest's own text names only the outermost).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let (path, trace_id, bodies) = match a.mode.as_str() {
        "spans" => ("/v1/traces", None, flood_spans(a.count, a.batch)),
        "logs" => ("/v1/logs", None, flood_logs(a.count, a.batch)),
        _ => {
            let (id, bodies) = one_trace();
            ("/v1/traces", Some(id), bodies)
        }
    };
    let url = format!("{}{path}", a.url);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("an HTTP client");
    let requests = bodies.len();
    let failed = AtomicU64::new(0);
    // Rows in the requests answered 2xx.
    let sent = AtomicU64::new(0);
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let t0 = Instant::now();
    let (failed_ref, sent_ref, url_ref) = (&failed, &sent, &url);
    stream::iter(bodies)
        .map(|(rows, body)| {
            let request = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body);
            let (failed, sent, url) = (failed_ref, sent_ref, url_ref);
            async move {
                let problem = match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        // The whole answer read, so the connection goes back to the pool.
                        match r.bytes().await {
                            Ok(_) => None,
                            Err(e) => Some(format!("reading the answer: {e}")),
                        }
                    }
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        Some(format!(
                            "answered {status}: {}",
                            text.chars().take(300).collect::<String>()
                        ))
                    }
                    Err(e) => Some(chain(&e)),
                };
                if problem.is_none() {
                    sent.fetch_add(rows as u64, Ordering::Relaxed);
                }
                if let Some(p) = problem {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("otlp-flood: POST {url}: {p}");
                    }
                }
            }
        })
        .buffer_unordered(a.concurrency)
        .collect::<Vec<()>>()
        .await;
    let seconds = t0.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    let sent = sent.load(Ordering::Relaxed);
    let trace = trace_id
        .map(|t| format!(", \"trace_id\": \"{t}\""))
        .unwrap_or_default();
    println!(
        "{{\"sent\": {sent}, \"seconds\": {seconds:.4}, \"per_second\": {:.0}, \"failed_requests\": {failed}, \"requests\": {requests}, \"started_at\": {started_at:.6}{trace}}}",
        sent as f64 / seconds.max(1e-9)
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
