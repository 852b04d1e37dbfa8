//! A service: its routes plus everything every service has (health, metrics, OpenAPI, trace
//! and request ids, problem+json fallbacks, panics as 500s), and its background [`Worker`]s
//! (consumers, sweepers, relays), served until SIGTERM.
//!
//! Every service's `startup::build` returns a [`Service`]; its `main` is [`main`]`(SERVICE,
//! DEFAULT_PORT, Config::from_env, startup::run)`; its tests bind it on `127.0.0.1:0` with
//! [`Service::serve_on`].

use crate::config::{Bounded, ConfigError, Env};
use crate::health::{self, ReadyCheck};
use crate::metrics::{self, Metrics};
use crate::problem::{self, Problem};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

/// Whatever stops a service from starting (configuration, database, broker, keys): reported
/// once by [`main`], which exits 1.
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves when the service is told to stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a stopping service waits for its workers to finish what they hold.
pub const WORKER_GRACE: Duration = Duration::from_secs(10);

/// A worker's body: given the shutdown signal, the work to run.
type WorkerRun = Box<dyn FnOnce(Shutdown) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Background work of a service, started when it is served.
pub struct Worker {
    name: &'static str,
    run: WorkerRun,
}

impl Worker {
    /// Work that watches the shutdown signal itself, to finish what it holds before it returns
    /// (a consumer acknowledging the message in hand); waited for up to [`WORKER_GRACE`].
    pub fn graceful<F, Fut>(name: &'static str, run: F) -> Worker
    where
        F: FnOnce(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Worker {
            name,
            run: Box::new(move |stop| Box::pin(run(stop))),
        }
    }

    /// Work that may stop anywhere (its state is in the database): dropped at shutdown.
    pub fn cancellable<Fut>(name: &'static str, work: Fut) -> Worker
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        Worker::graceful(name, move |stop| async move {
            tokio::select! { _ = work => {}, _ = stop => {} }
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Starts the work on the current runtime; it stops when `stop` resolves.
    pub fn spawn(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn((self.run)(Box::pin(stop)))
    }
}

pub struct Service {
    name: &'static str,
    routes: Router,
    ready: ReadyCheck,
    openapi: Option<utoipa::openapi::OpenApi>,
    metrics: Metrics,
    workers: Vec<Worker>,
    identity: Option<crate::identity::Verifier>,
    provider_states: Option<Router>,
}

impl Service {
    pub fn new(name: &'static str, routes: Router) -> Service {
        Service {
            name,
            routes,
            ready: health::check(|| async { Ok(()) }),
            openapi: None,
            metrics: Metrics::new(),
            workers: Vec::new(),
            identity: None,
            provider_states: None,
        }
    }

    /// A service whose routes and OpenAPI document come from one list of documented handlers
    /// (`utoipa_axum::routes!`), so no route goes undocumented and no document lists a route
    /// the router lacks. `doc` gives the title, description and tags.
    pub fn documented<S>(
        name: &'static str,
        doc: utoipa::openapi::OpenApi,
        routes: OpenApiRouter<S>,
        state: S,
    ) -> Service
    where
        S: Clone + Send + Sync + 'static,
    {
        let (routes, doc) = crate::openapi::split(doc, routes);
        Service::new(name, routes.with_state(state)).openapi(doc)
    }

    pub fn ready(mut self, check: ReadyCheck) -> Service {
        self.ready = check;
        self
    }

    /// The document served at `/openapi.json`, with the kit's problem+json error bodies.
    pub fn openapi(mut self, doc: utoipa::openapi::OpenApi) -> Service {
        self.openapi = Some(crate::openapi::with_problems(doc));
        self
    }

    /// Background work started with the service (see [`Worker`]).
    pub fn worker(mut self, worker: Worker) -> Service {
        self.workers.push(worker);
        self
    }

    /// Takes the workers out, for a test that starts them itself (or not at all).
    pub fn take_workers(&mut self) -> Vec<Worker> {
        std::mem::take(&mut self.workers)
    }

    /// Verifies the gateway's identity tokens with `verifier` (see [`crate::identity`]);
    /// without one, every request that claims an identity is refused.
    pub fn identity(mut self, verifier: crate::identity::Verifier) -> Service {
        self.identity = Some(verifier);
        self
    }

    /// Mounts the provider-state routes for contract verification (built with
    /// [`crate::provider_states::routes`]) when `enabled`: the service's
    /// `PACT_PROVIDER_STATES` setting, off by default.
    pub fn provider_states(mut self, enabled: bool, routes: Router) -> Service {
        if enabled {
            self.provider_states = Some(routes);
        }
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
        if let Some(states) = self.provider_states {
            tracing::warn!(
                service = self.name,
                "provider states are on ({}=true): {} changes data without authentication",
                crate::provider_states::SETTING,
                crate::provider_states::STATE_PATH
            );
            app = app.merge(states);
        }
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
                crate::identity::Gate {
                    audience: name,
                    verifier: self.identity,
                },
                crate::identity::middleware,
            ))
            .layer(axum::middleware::from_fn(crate::input::middleware))
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

    /// Serves on `0.0.0.0:port` until SIGTERM or Ctrl-C, then finishes in-flight requests.
    pub async fn serve(self, port: u16) -> std::io::Result<()> {
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?;
        self.serve_on(listener).await
    }

    /// Starts the workers and serves on `listener` until SIGTERM or Ctrl-C; then finishes
    /// in-flight requests and gives graceful workers [`WORKER_GRACE`] to finish theirs.
    pub async fn serve_on(mut self, listener: TcpListener) -> std::io::Result<()> {
        let name = self.name;
        let workers: Vec<_> = self
            .take_workers()
            .into_iter()
            .map(|w| (w.name(), w.spawn(shutdown_signal())))
            .collect();
        tracing::info!(service = name, addr = %listener.local_addr()?, "listening");
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown_signal())
            .await;
        for (worker, handle) in workers {
            if served.is_err() {
                handle.abort();
            } else if tokio::time::timeout(WORKER_GRACE, handle).await.is_err() {
                tracing::warn!(service = name, worker, "did not stop in {WORKER_GRACE:?}");
            }
        }
        served?;
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

/// The shape of every service's `main`: `<binary> healthcheck` probes the service running on
/// `PORT` (default `default_port`); anything else reads the configuration (`config`, the
/// service's `Config::from_env`) and runs the service with it (`run`).
///
/// The kit's own variables are read with the same [`Env`] rules and reported with the
/// service's problems, in one message, before anything starts (exit 1):
///
/// - `PORT`: the port `healthcheck` probes (the service reads it too, for `serve`);
/// - `HEALTHCHECK_HOST`: the host `healthcheck` probes, default `127.0.0.1`: another pod's
///   init container runs this binary against the service's name to wait for it to be ready
///   (`msctl export k8s`);
/// - `WORKER_THREADS`: the runtime's threads, 0 (the default) one per CPU, 1 the current
///   thread only (on a machine shared with the rest of a stack, tasks handed between worker
///   threads cost wake-ups that one thread does not pay).
pub fn main<C, R, F, Fut>(
    name: &'static str,
    default_port: u16,
    config: R,
    run: F,
) -> std::process::ExitCode
where
    R: FnOnce() -> Result<C, ConfigError>,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<(), StartupError>>,
{
    let mut env = Env::new();
    let port: u16 = env.or("PORT", default_port);
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        let host: String = env.or("HEALTHCHECK_HOST", "127.0.0.1".to_owned());
        return match env.finish() {
            Ok(()) => health::probe(&host, port),
            Err(e) => {
                eprintln!("not ready: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let threads = env
        .or("WORKER_THREADS", Bounded::<0, MAX_WORKER_THREADS>(0))
        .0 as usize;
    let _telemetry = crate::telemetry::init(name);
    let config = match together(env.finish(), config()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            return std::process::ExitCode::FAILURE;
        }
    };
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
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed: no tokio runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The most `WORKER_THREADS` takes.
pub const MAX_WORKER_THREADS: u64 = 1024;

/// The kit's configuration problems and the service's, as one report (a problem both found,
/// such as a bad `PORT`, once).
fn together<C>(
    kit: Result<(), ConfigError>,
    service: Result<C, ConfigError>,
) -> Result<C, ConfigError> {
    match (kit, service) {
        (Ok(()), service) => service,
        (Err(kit), Ok(_)) => Err(kit),
        (Err(kit), Err(service)) => {
            let mut problems = kit.problems;
            for p in service.problems {
                if !problems.contains(&p) {
                    problems.push(p);
                }
            }
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(list: &[&str]) -> ConfigError {
        ConfigError {
            problems: list.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_kit_s_problems_and_the_service_s_are_one_report() {
        let bad_port = "PORT=\"x\" is invalid: invalid digit found in string";
        let both = together::<()>(
            Err(problems(&[bad_port, "WORKER_THREADS=\"y\" is invalid"])),
            Err(problems(&[
                bad_port,
                "DATABASE_URL is required but not set",
            ])),
        )
        .unwrap_err();
        assert_eq!(
            both.problems,
            [
                bad_port,
                "WORKER_THREADS=\"y\" is invalid",
                "DATABASE_URL is required but not set"
            ]
        );
        assert!(together(Err(problems(&["a"])), Ok(1)).is_err());
        assert_eq!(together(Ok(()), Ok(1)).unwrap(), 1);
    }
}
