//! Liveness, readiness, and the `healthcheck` subcommand a container healthcheck runs (so
//! images need no curl).

use crate::problem::Problem;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A readiness check from an async closure.
pub fn check<F, Fut>(f: F) -> ReadyCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// Ready when the database answers.
pub fn database(pool: sqlx::PgPool) -> ReadyCheck {
    check(move || {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map(drop)
                .map_err(|e| format!("database: {e}"))
        }
    })
}

pub fn routes(ready: ReadyCheck) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/health/ready",
            get(move || {
                let ready = ready.clone();
                async move {
                    match ready().await {
                        Ok(()) => Ok(axum::Json(serde_json::json!({"status": "ready"}))),
                        Err(reason) => Err(Problem::unavailable(format!("not ready: {reason}"))),
                    }
                }
            }),
        )
}

/// `<binary> healthcheck`: probes `/health/ready` on `host:port` (the local port, or another
/// pod's service) with a plain HTTP/1.1 GET (no runtime, no client library) and returns the
/// process exit code.
pub fn probe(host: &str, port: u16) -> std::process::ExitCode {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    use std::time::Duration;
    let attempt = || -> std::io::Result<String> {
        // Every address of the name in turn (`localhost` may be ::1 first).
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address"),
        );
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut s = stream.ok_or(last)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET /health/ready HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")?;
        let mut response = String::new();
        s.read_to_string(&mut response)?;
        Ok(response)
    };
    match attempt() {
        Ok(r) if r.starts_with("HTTP/1.1 200") => std::process::ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("not ready: {}", r.lines().last().unwrap_or_default());
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("not ready: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
