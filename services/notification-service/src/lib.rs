//! The notification service: consumes every order event the order service publishes on
//! RabbitMQ and stores the customer notification (the email text) each one would send. Over
//! HTTP, behind the gateway, customers list their notifications and admins the messages that
//! could not be processed.
//!
//! - [`Config`]: `DATABASE_URL` and `AMQP_URL` (required; or `*_FILE`), `PORT` (8005),
//!   `PREFETCH` (16), `MAX_ATTEMPTS` (4), `RETRY_BASE_MS` (200).
//! - [`topology`]: the queues this service owns (main, one retry queue per delay, dead letters),
//!   declared at every (re)connect.
//! - [`consumer`]: the consume loop: reconnects forever, acknowledges only after commit, moves
//!   failures to the retry queues and, after the last attempt, to the dead-letter queue.
//! - [`events`]: the order event as published (parsing and validation).
//! - [`templates`]: the email text of each event type.
//! - [`store`]: PostgreSQL: the inbox (idempotency), notifications, dead letters.
//! - [`routes`]: the HTTP API (`/notifications`, `/notifications/dead-letters`).

pub mod consumer;
pub mod events;
pub mod routes;
pub mod store;
pub mod templates;
pub mod topology;

use axum::routing::get;
use axum::Router;
use consumer::{Consumer, MessageMetrics, Settings};
use kit::config::{ConfigError, Env};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;
use topology::RetryPolicy;
use utoipa::OpenApi;

pub const SERVICE: &str = "notification-service";
pub const DEFAULT_PORT: u16 = 8005;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub amqp_url: String,
    pub port: u16,
    pub consumer: Settings,
}

/// An integer setting within `MIN..=MAX`, so an out-of-range value is reported with the other
/// configuration problems instead of failing later (an x-message-ttl RabbitMQ rejects).
#[derive(Debug, Clone, Copy)]
struct Bounded<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> FromStr for Bounded<MIN, MAX> {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<u64>() {
            Ok(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
            _ => Err(format!("must be an integer from {MIN} to {MAX}")),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = secret(&mut env, "DATABASE_URL");
        let amqp_url = secret(&mut env, "AMQP_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let prefetch = env.or("PREFETCH", Bounded::<1, 1000>(16));
        // 16 attempts at the largest base keep the longest delay (base * 2^14) under the
        // 2^32 - 1 ms RabbitMQ accepts as a queue TTL.
        let max_attempts = env.or("MAX_ATTEMPTS", Bounded::<1, 16>(4));
        let retry_base = env.or("RETRY_BASE_MS", Bounded::<1, 60_000>(200));
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            amqp_url: amqp_url.unwrap_or_default(),
            port,
            consumer: Settings {
                prefetch: prefetch.0 as u16,
                retry: RetryPolicy {
                    max_attempts: max_attempts.0 as u32,
                    base_delay: Duration::from_millis(retry_base.0),
                },
            },
        })
    }
}

/// `NAME` or `NAME_FILE`, required.
fn secret(env: &mut Env, name: &str) -> Option<String> {
    match env.secret(name) {
        Some(value) => Some(value),
        // The unreadable file is already reported; do not also say the variable is missing.
        None if std::env::var_os(format!("{name}_FILE")).is_some() => None,
        None => env.required::<String>(name),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "notification-service",
        description = "Customer notifications of the reference shop. The service consumes the \
            order events (`order.*` on the `shop.events` RabbitMQ exchange) and stores the email \
            each would send; these routes list them. The routes trust the `x-user-id` / \
            `x-user-roles` headers the gateway sets after verifying the access token (the \
            service is reachable only on the private network). Errors are RFC 9457 problem \
            details (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(routes::list_notifications, routes::list_dead_letters),
    components(schemas(kit::Problem, kit::FieldError)),
    tags(
        (name = "notifications", description = "The caller's notifications"),
        (name = "operations", description = "Messages that failed every attempt (admin)"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document (also at `/openapi.json` and in
/// `docs/api/notification-service.openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/notifications", get(routes::list_notifications))
        .route(
            "/notifications/dead-letters",
            get(routes::list_dead_letters),
        )
        .with_state(state)
}

/// The HTTP service and the consumer on `pool`, sharing one metrics registry (so `/metrics`
/// shows the consumer's counters). Neither runs until served / run.
pub fn build(config: &Config, pool: PgPool) -> (kit::Service, Consumer) {
    let metrics = kit::metrics::Metrics::new();
    let consumer = Consumer::new(
        config.amqp_url.clone(),
        config.consumer.clone(),
        pool.clone(),
        MessageMetrics::new(&metrics),
    );
    let service = kit::Service::new(SERVICE, routes(AppState { pool: pool.clone() }))
        .ready(kit::health::database(pool))
        .openapi(openapi())
        .metrics(metrics);
    (service, consumer)
}

/// Connects (waiting for the database) and migrates.
pub async fn startup(config: &Config) -> Result<PgPool, Box<dyn std::error::Error>> {
    Ok(kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?)
}

/// The binary: configuration from the environment, start-up, consume and serve until SIGTERM.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let pool = startup(&config).await?;
    let (service, consumer) = build(&config, pool);
    let consuming = tokio::spawn(consumer.run(kit::serve::shutdown_signal()));
    let served = service
        .serve(std::net::SocketAddr::from(([0, 0, 0, 0], config.port)))
        .await;
    if served.is_ok() {
        // The consumer saw the same signal; let it finish the message in hand and close its
        // connection, so the broker requeues the prefetched rest at once.
        if tokio::time::timeout(Duration::from_secs(10), consuming)
            .await
            .is_err()
        {
            tracing::warn!("the consumer did not stop in 10 s");
        }
    } else {
        consuming.abort();
    }
    served?;
    Ok(())
}
