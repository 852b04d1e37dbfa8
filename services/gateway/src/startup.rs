//! From configuration to a running gateway: the shared state, the workers' dispatchers, serve.

use crate::config::{Config, SERVICE};
use crate::{config, openapi, revocation, serve, server, stats, Gateway};
use axum::Router;
use kit::StartupError;
use std::net::SocketAddr;

/// The gateway: its shared state (which lives until the process ends: one per process in
/// production, a few small ones in tests) and what the workers' dispatchers are built from.
#[derive(Clone)]
pub struct App {
    pub gateway: &'static Gateway,
    routes: Vec<config::RouteConfig>,
    metrics: kit::metrics::Metrics,
    openapi: utoipa::openapi::OpenApi,
}

impl App {
    /// Builds the shared state. Needs a tokio runtime: it spawns the rate limiter's pruning
    /// task and, with `amqp_url` set, the `user.deleted` consumer and the revocations' pruning
    /// (they run on that runtime, not on the workers').
    pub fn new(config: &Config) -> App {
        let metrics = kit::metrics::Metrics::new();
        let families = stats::Families::register(&metrics);
        let counters = families.revocation_events();
        let gateway: &'static Gateway = Box::leak(Box::new(Gateway::new(config, families)));
        if let Some(url) = &config.amqp_url {
            tracing::info!(broker = %kit::amqp::redact(url), ttl_secs = config.auth.revocation_ttl_secs, "revoking the tokens of deleted accounts (user.deleted)");
            tokio::spawn(revocation::consume(
                url.clone(),
                gateway.revocations(),
                counters,
            ));
            tokio::spawn(revocation::prune(gateway.revocations()));
        }
        App {
            gateway,
            routes: config.routes.clone(),
            metrics,
            openapi: openapi::doc(config),
        }
    }

    /// The kit's router: `/health/live`, `/health/ready`, `/metrics`, `/openapi.json` and the
    /// problem+json 404 for paths no route matches, with the kit's full middleware.
    pub fn kit_router(&self) -> Router {
        kit::Service::new(SERVICE, Router::new())
            .openapi(self.openapi.clone())
            .metrics(self.metrics.clone())
            .router()
    }

    /// What a worker serves: the proxied routes, then the kit's router. Proxied requests skip
    /// the kit's per-request middleware (a span, a log line and label allocations per request:
    /// a third of the throughput); [`Gateway::handle`] does their trace ids, metrics and
    /// optional access log itself.
    pub fn dispatch(&self) -> server::Dispatch {
        let gateway = self.gateway;
        let routes = self
            .routes
            .iter()
            .map(|r| server::Route {
                path: r
                    .prefix
                    .clone()
                    .or_else(|| r.path.clone())
                    .expect("validated route"),
                prefix: r.prefix.is_some(),
                upstream: &gateway.upstreams[&r.upstream],
            })
            .collect();
        server::Dispatch::new(gateway, routes, self.kit_router())
    }
}

/// The binary, once `kit::serve::main` has read the configuration ([`Config::load`]): serve
/// until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let port = config.port;
    let app = App::new(&config);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?;
    let workers = server::worker_count(config.workers);
    tracing::info!(
        port,
        workers,
        upstreams = ?config
            .upstreams
            .iter()
            .map(|(name, u)| format!("{name}={}", u.urls.join(",")))
            .collect::<Vec<_>>(),
        "gateway listening"
    );
    serve(
        listener,
        move || app.dispatch(),
        workers,
        kit::serve::shutdown_signal(),
    )
    .await?;
    tracing::info!("gateway stopped");
    Ok(())
}
