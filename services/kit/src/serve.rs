//! A service: its routes plus everything every service has (health, metrics, OpenAPI, trace
//! and request ids, problem+json fallbacks, panics as 500s), served until SIGTERM.

use crate::health::{self, ReadyCheck};
use crate::metrics::{self, Metrics};
use crate::problem::{self, Problem};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub struct Service {
    name: &'static str,
    routes: Router,
    ready: ReadyCheck,
    openapi: Option<utoipa::openapi::OpenApi>,
    metrics: Metrics,
}

impl Service {
    pub fn new(name: &'static str, routes: Router) -> Service {
        Service {
            name,
            routes,
            ready: health::check(|| async { Ok(()) }),
            openapi: None,
            metrics: Metrics::new(),
        }
    }

    pub fn ready(mut self, check: ReadyCheck) -> Service {
        self.ready = check;
        self
    }

    pub fn openapi(mut self, doc: utoipa::openapi::OpenApi) -> Service {
        self.openapi = Some(doc);
        self
    }

    /// Shares a registry the service has already added its own metrics to.
    pub fn metrics(mut self, metrics: Metrics) -> Service {
        self.metrics = metrics;
        self
    }

    /// The complete router, layered; what `serve` runs and what tests can drive directly.
    pub fn router(self) -> Router {
        let mut app = self.routes.merge(health::routes(self.ready)).route(
            "/metrics",
            get(metrics::endpoint).with_state(self.metrics.clone()),
        );
        if let Some(doc) = self.openapi {
            let doc = std::sync::Arc::new(doc);
            app = app.route(
                "/openapi.json",
                get(move || async move { axum::Json((*doc).clone()) }),
            );
        }
        let name = self.name;
        app.fallback(problem::not_found)
            .method_not_allowed_fallback(problem::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.metrics,
                metrics::middleware,
            ))
            .layer(axum::middleware::from_fn(crate::trace::middleware))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                move |_| {
                    tracing::error!(service = name, "handler panicked");
                    axum::response::IntoResponse::into_response(Problem::internal(
                        &"handler panicked",
                    ))
                },
            ))
    }

    /// Serves on `addr` until SIGTERM or Ctrl-C, then finishes in-flight requests.
    pub async fn serve(self, addr: SocketAddr) -> std::io::Result<()> {
        let name = self.name;
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(service = name, %addr, "listening");
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        tracing::info!(service = name, "stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM (what `docker stop` sends) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// The shape of every service's `main`: `<binary> healthcheck` probes the running service;
/// anything else runs it. `run` gets the port from `PORT` (default `default_port`).
pub fn main<F, Fut>(name: &'static str, default_port: u16, run: F) -> std::process::ExitCode
where
    F: FnOnce(u16) -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default_port);
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return health::probe(port);
    }
    let _telemetry = crate::telemetry::init(name);
    // WORKER_THREADS=1 runs the service on one thread: on a machine shared with the rest of a
    // stack, tasks handed between worker threads cost wake-ups that one thread does not pay.
    let threads: usize = std::env::var("WORKER_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let runtime = match threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
    .expect("tokio runtime");
    match runtime.block_on(run(port)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            std::process::ExitCode::FAILURE
        }
    }
}
