//! The pages: server-rendered HTML from minijinja templates, with a little plain JavaScript
//! (the live log stream, search within a trace, the action buttons). Templates, styles and
//! scripts are compiled into the binary: nothing is fetched from elsewhere.

mod logs;
mod metrics;
mod resources;
mod runs;
mod traces;

use super::{otlp, problem, Shared};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../assets/dashboard/base.html"),
    ),
    (
        "resources.html",
        include_str!("../../../assets/dashboard/resources.html"),
    ),
    (
        "logs.html",
        include_str!("../../../assets/dashboard/logs.html"),
    ),
    (
        "traces.html",
        include_str!("../../../assets/dashboard/traces.html"),
    ),
    (
        "trace.html",
        include_str!("../../../assets/dashboard/trace.html"),
    ),
    (
        "metrics.html",
        include_str!("../../../assets/dashboard/metrics.html"),
    ),
    (
        "runs.html",
        include_str!("../../../assets/dashboard/runs.html"),
    ),
];
const CSS: &str = include_str!("../../../assets/dashboard/app.css");
const JS: &str = include_str!("../../../assets/dashboard/app.js");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the dashboard's templates parse");
        }
        env.add_filter("ms", |ns: i64| format_ms(ns as f64 / 1e6));
        env.add_filter("clock", |ns: i64| clock(ns));
        env
    })
}

/// Milliseconds as people read them: `0.42 ms`, `12.3 ms`, `1.24 s`.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// `HH:MM:SS.mmm` (UTC) of a time in Unix nanoseconds.
pub fn clock(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// Renders `template` inside the layout, with the fill marker every page shows.
pub fn render(state: &Shared, template: &str, active: &str, ctx: minijinja::Value) -> Response {
    let fill = state.store.fill();
    let base = minijinja::context! {
        project => state.stack.name.clone(),
        active => active,
        fill => fill,
        limit_reached => fill.limit_reached(),
        limits => minijinja::context! {
            spans => state.store.limits.spans,
            logs => state.store.limits.logs,
            points => state.store.limits.points,
        },
    };
    let ctx = minijinja::context! { ..base, ..ctx };
    match env().get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("rendering {template}: {e:#}"),
        ),
    }
}

/// A store error as a page's answer.
pub fn store_error(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the telemetry store: {e}"),
    )
}

/// The OTLP routes alone (what the host gateway listener serves).
pub fn otlp_router(state: Shared) -> Router {
    Router::new()
        .route("/v1/traces", post(receive_traces))
        .route("/v1/logs", post(receive_logs))
        .route("/v1/metrics", post(receive_metrics))
        .layer(DefaultBodyLimit::max(otlp::MAX_BODY))
        .with_state(state)
}

/// The pages (behind the login) and the OTLP routes.
pub fn router(state: Shared) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/resources") }))
        .route("/resources", get(resources::page))
        .route("/resources/{container}/{action}", post(resources::act))
        .route("/logs", get(logs::page))
        .route("/logs/stream", get(logs::stream))
        .route("/traces", get(traces::list))
        .route("/traces/{trace_id}", get(traces::one))
        .route("/metrics", get(metrics::page))
        .route("/runs", get(runs::page))
        .route("/api/fill", get(fill))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::auth::require,
        ));
    Router::new()
        .route("/login", get(super::auth::login))
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], JS) }),
        )
        .merge(pages)
        .with_state(state.clone())
        .merge(otlp_router(state))
}

async fn fill(State(state): State<Shared>) -> Response {
    axum::Json(state.store.fill()).into_response()
}

/// How long a sender's request waits for room in the store's queue before a 503.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Decodes on a blocking thread (a large protobuf body takes milliseconds of CPU), then queues
/// the rows for the store, waiting while it is behind. Log records also go to the live stream.
async fn receive(
    state: Shared,
    headers: HeaderMap,
    body: Bytes,
    decode: fn(otlp::Encoding, &[u8]) -> Result<super::store::Write, otlp::Rejection>,
) -> Response {
    let (encoding, bytes) = match otlp::unwrap_body(&headers, &body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    drop(body);
    let write = match tokio::task::spawn_blocking(move || decode(encoding, &bytes)).await {
        Ok(Ok(w)) => w,
        Ok(Err(r)) => return r.into_response(),
        Err(_) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "the decoder stopped"),
    };
    let live: Vec<super::store::LogRow> = match &write {
        super::store::Write::Logs(rows) if state.live.receiver_count() > 0 => rows.clone(),
        _ => Vec::new(),
    };
    if let Err(r) = otlp::enqueue(&state.store, write, PATIENCE).await {
        return r.into_response();
    }
    for row in live {
        let _ = state.live.send(row);
    }
    otlp::accepted(encoding)
}

async fn receive_traces(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    receive(state, headers, body, otlp::traces).await
}

async fn receive_logs(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    receive(state, headers, body, otlp::logs).await
}

async fn receive_metrics(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    receive(state, headers, body, otlp::metrics).await
}
