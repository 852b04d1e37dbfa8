//! The order service: takes orders and runs the checkout saga across the product service (stock)
//! and the payment service, publishing order events through a transactional outbox.
//!
//! - [`Config`]: `DATABASE_URL`, `AMQP_URL` (or `*_FILE`), `PRODUCT_SERVICE_URL`,
//!   `PAYMENT_SERVICE_URL`, `PORT` (8003), `CURRENCY` (EUR), and the saga's
//!   `SAGA_DEADLINE_MS` (15000), `SAGA_LEASE_MS` (10000), `STEP_TIMEOUT_MS` (5000).
//! - [`orders`]: the HTTP API (place, read, list, cancel; ship and complete for admins).
//! - [`saga`]: the orchestrator: steps, compensations, deadline, crash recovery.
//! - [`settled`]: requests waiting for a saga's outcome, woken when it commits.
//! - [`clients`]: the calls to the product and payment services.
//! - [`events`] and [`relay`]: the outbox and its publisher to RabbitMQ.
//! - [`model`]: orders as stored and served.

pub mod clients;
pub mod events;
pub mod model;
pub mod orders;
pub mod relay;
pub mod saga;
pub mod settled;

use axum::routing::{get, post};
use axum::Router;
use kit::config::{ConfigError, Env};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use utoipa::OpenApi;

pub const SERVICE: &str = "order-service";
pub const DEFAULT_PORT: u16 = 8003;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub amqp_url: String,
    pub product_service_url: String,
    pub payment_service_url: String,
    pub port: u16,
    pub currency: String,
    pub saga: saga::SagaConfig,
    pub step_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let amqp_url = env.required_secret("AMQP_URL");
        let product_service_url = env.required::<String>("PRODUCT_SERVICE_URL");
        let payment_service_url = env.required::<String>("PAYMENT_SERVICE_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let currency = env.or("CURRENCY", "EUR".to_owned());
        let defaults = saga::SagaConfig::default();
        let deadline = env.or("SAGA_DEADLINE_MS", defaults.deadline.as_millis() as u64);
        let lease = env.or("SAGA_LEASE_MS", defaults.lease.as_millis() as u64);
        let step_timeout = env.or("STEP_TIMEOUT_MS", 5000u64);
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            amqp_url: amqp_url.unwrap_or_default(),
            product_service_url: product_service_url.unwrap_or_default(),
            payment_service_url: payment_service_url.unwrap_or_default(),
            port,
            currency,
            saga: saga::SagaConfig {
                deadline: Duration::from_millis(deadline),
                lease: Duration::from_millis(lease),
                ..defaults
            },
            step_timeout: Duration::from_millis(step_timeout),
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub clients: clients::Clients,
    pub saga: saga::Saga,
    pub outbox: Arc<Notify>,
    pub settled: settled::Settled,
    pub currency: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "order-service",
        description = "Orders of the reference shop. Placing an order answers 202 with a PENDING \
            order; a saga then reserves stock, charges the payment and commits the stock \
            (CONFIRMED), or compensates (CANCELLED with a reason: out_of_stock, \
            payment_declined, cancelled_by_user, timeout). Order events are published to \
            RabbitMQ (exchange `shop.events`; catalogue in docs/events.md). Callers are \
            identified by the `x-user-id`/`x-user-roles` headers the gateway sets after \
            verifying their token; the service trusts them (private network only). Errors are \
            RFC 9457 problem details (`application/problem+json`)."
    ),
    paths(
        orders::create_order,
        orders::list_orders,
        orders::get_order,
        orders::cancel_order,
        orders::ship_order,
        orders::complete_order
    ),
    components(schemas(kit::Problem, kit::FieldError)),
    tags((name = "orders", description = "Orders and their saga"))
)]
pub struct ApiDoc;

/// The OpenAPI document (also at `/openapi.json` and in `docs/api/order-service.openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/orders",
            post(orders::create_order).get(orders::list_orders),
        )
        .route("/orders/{id}", get(orders::get_order))
        .route("/orders/{id}/cancel", post(orders::cancel_order))
        .route("/orders/{id}/ship", post(orders::ship_order))
        .route("/orders/{id}/complete", post(orders::complete_order))
        .with_state(state)
}

/// The running parts: the HTTP service, and the background work (saga sweeper, outbox relay)
/// the caller spawns.
pub struct Parts {
    pub service: kit::Service,
    pub saga: saga::Saga,
    pub relay: relay::Relay,
}

/// Builds the service on `pool` (migrated).
pub fn build(pool: PgPool, config: &Config) -> Parts {
    let metrics = kit::metrics::Metrics::new();
    let outbox = Arc::new(Notify::new());
    let settled = settled::Settled::default();
    let clients = clients::Clients::new(
        &config.product_service_url,
        &config.payment_service_url,
        config.step_timeout,
    );
    let saga = saga::Saga::new(
        pool.clone(),
        clients.clone(),
        config.saga.clone(),
        outbox.clone(),
        settled.clone(),
        saga::SagaMetrics::new(&metrics),
    );
    let relay = relay::Relay {
        pool: pool.clone(),
        amqp_url: config.amqp_url.clone(),
        wake: outbox.clone(),
        metrics: relay::RelayMetrics::new(&metrics),
    };
    let state = AppState {
        pool: pool.clone(),
        clients,
        saga: saga.clone(),
        outbox,
        settled,
        currency: config.currency.clone(),
    };
    let service = kit::Service::new(SERVICE, routes(state))
        .ready(kit::health::database(pool))
        .openapi(openapi())
        .metrics(metrics);
    Parts {
        service,
        saga,
        relay,
    }
}

/// Connects (waiting for the database) and migrates.
pub async fn startup(config: &Config) -> Result<PgPool, Box<dyn std::error::Error>> {
    Ok(kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?)
}

/// The binary: configuration from the environment, start-up, the saga sweeper and outbox relay
/// in the background, serve until SIGTERM.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let pool = startup(&config).await?;
    let parts = build(pool, &config);
    tokio::spawn(parts.saga.sweep());
    tokio::spawn(parts.relay.run());
    parts
        .service
        .serve(std::net::SocketAddr::from(([0, 0, 0, 0], config.port)))
        .await?;
    Ok(())
}
