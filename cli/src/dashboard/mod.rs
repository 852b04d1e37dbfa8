//! `msctl dashboard`: what happens inside the running stack, in a browser — resources, one log
//! stream, traces, metrics and the last test runs.
//!
//! Layout:
//! - [`store`] keeps telemetry in a SQLite file beside the stack file (bounded tables, kept
//!   across restarts); one writer thread, readers per page.
//! - [`otlp`] is the OTLP/HTTP receiver the services export to (protobuf or JSON, gzip).
//! - [`listen`] decides who can reach what: the pages and OTLP on loopback, OTLP alone on the
//!   Docker host gateway for the project's network (`msctl up` points every workspace service's
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` at `http://msctl-dashboard:PORT`, a name for that gateway).
//! - [`auth`] is the token login (printed in the terminal, then a cookie).
//! - [`collect`] gathers what the services do not send: every container's log lines from the
//!   engine and the Prometheus metrics msctl scrapes.
//! - [`resources`] reads the containers' state and restarts or stops them.
//! - [`pages`] renders HTML (minijinja templates and assets embedded in the binary).

pub mod auth;
pub mod collect;
pub mod listen;
pub mod otlp;
pub mod pages;
pub mod resources;
pub mod store;

use crate::error::{Error, Result};
use crate::stack::Stack;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bollard::Docker;
use std::path::PathBuf;
use std::sync::Arc;
use store::{LogRow, Store};
use tokio::sync::broadcast;

/// `.msctl/dashboard.sqlite` in the stack file's directory.
pub fn store_path(stack_dir: &std::path::Path) -> PathBuf {
    stack_dir.join(".msctl").join("dashboard.sqlite")
}

#[derive(Debug, Clone)]
pub struct Options {
    pub port: u16,
    /// The login token; a random one when none is given.
    pub token: Option<String>,
    pub limits: store::Limits,
    /// Seconds between two scrapes of the services' `/metrics`.
    pub scrape_every: std::time::Duration,
    /// Only the OTLP receiver and the pages: no log tailing, no scraping (the benchmark).
    pub receive_only: bool,
}

/// What every handler shares.
pub struct State {
    pub stack: Stack,
    pub docker: Option<Docker>,
    pub store: Store,
    pub token: String,
    /// Every new log line, for the live stream.
    pub live: broadcast::Sender<LogRow>,
}

pub type Shared = Arc<State>;

/// A problem+json answer.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// A running dashboard: where it listens and its token.
pub struct Running {
    pub url: String,
    pub login_url: String,
    /// The address the services' exporters reach, when the engine's host gateway could be
    /// bound (else only loopback senders are heard).
    pub otlp_gateway: Option<std::net::SocketAddr>,
    pub state: Shared,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Serves until Ctrl-C.
    pub async fn wait(self) -> Result<()> {
        let _ = tokio::signal::ctrl_c().await;
        for t in &self.tasks {
            t.abort();
        }
        self.state.store.flush();
        Ok(())
    }
}

/// Opens the store, binds the listeners and starts collecting; returns once it serves.
pub async fn start(stack: Stack, docker: Option<Docker>, opts: &Options) -> Result<Running> {
    // The port first: a second dashboard on it stops here, before touching the store.
    let loopback = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| {
            Error::Environment(format!(
                "cannot listen on 127.0.0.1:{}: {e} (another dashboard? use --port)",
                opts.port
            ))
        })?;
    let store = Store::open(&store_path(&stack.dir), opts.limits)
        .map_err(|e| Error::Environment(format!("dashboard store: {e}")))?;
    let token = opts.token.clone().unwrap_or_else(auth::new_token);
    let (live, _) = broadcast::channel(1024);
    let state = Arc::new(State {
        stack,
        docker,
        store,
        token,
        live,
    });
    let mut tasks = Vec::new();
    let port = loopback.local_addr().map(|a| a.port()).unwrap_or(opts.port);
    tasks.push(listen::serve(loopback, pages::router(state.clone()), None));
    let mut otlp_gateway = None;
    if let Some(docker) = &state.docker {
        match listen::host_gateway(docker).await {
            Some(ip) => match tokio::net::TcpListener::bind((ip, port)).await {
                Ok(l) => {
                    otlp_gateway = l.local_addr().ok();
                    let allowed = listen::Allowed::new(docker.clone(), &state.stack.name);
                    tasks.push(listen::serve(l, pages::otlp_router(state.clone()), Some(allowed)));
                }
                Err(e) => eprintln!(
                    "msctl dashboard: cannot listen on the engine's host gateway {ip}:{port} ({e}); \
                     containers cannot send telemetry"
                ),
            },
            None => eprintln!(
                "msctl dashboard: the engine's host gateway is unknown; containers cannot send telemetry"
            ),
        }
        if !opts.receive_only {
            tasks.push(tokio::spawn(collect::logs::follow(state.clone())));
            tasks.push(tokio::spawn(collect::metrics::scrape(
                state.clone(),
                opts.scrape_every,
            )));
        }
    }
    let url = format!("http://127.0.0.1:{port}");
    Ok(Running {
        login_url: format!("{url}/login?t={}", state.token),
        url,
        otlp_gateway,
        state,
        tasks,
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
