//! The payment service: charges orders through a simulated card provider, idempotently by order
//! id, and refunds them. Internal: the order service calls it on the private network (no auth).
//!
//! - [`Config`]: `DATABASE_URL` (required; or `DATABASE_URL_FILE`), `PORT` (8004), and the
//!   provider's knobs `SLOW_TOKEN_DELAY_MS` (3000), `PAYMENT_FAILURE_RATE` (0.0),
//!   `PAYMENT_LATENCY_MS` (0).
//! - [`provider`]: the simulated provider (tokens, chaos).
//! - [`payments`]: the routes.

pub mod payments;
pub mod provider;

use axum::routing::{get, post};
use axum::Router;
use kit::config::{ConfigError, Env};
use provider::{Provider, Rate};
use sqlx::PgPool;
use std::time::Duration;
use utoipa::OpenApi;

pub const SERVICE: &str = "payment-service";
pub const DEFAULT_PORT: u16 = 8004;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub port: u16,
    pub provider: Provider,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let slow = env.or("SLOW_TOKEN_DELAY_MS", 3000u64);
        let rate = env.or("PAYMENT_FAILURE_RATE", Rate(0.0));
        let latency = env.or("PAYMENT_LATENCY_MS", 0u64);
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            port,
            provider: Provider {
                slow_token_delay: Duration::from_millis(slow),
                failure_rate: rate.0,
                latency: Duration::from_millis(latency),
            },
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub provider: Provider,
    pub metrics: payments::PaymentMetrics,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payment-service",
        description = "Payments of the reference shop, through a simulated card provider. \
            Internal: called by the order service on the private network, which it trusts \
            (no authentication). Charging is idempotent by order id. Test tokens: `tok_visa` \
            (succeeds), `tok_declined` (declined: a 201 payment with status `declined`), \
            `tok_slow` (succeeds late). Errors are RFC 9457 problem details \
            (`application/problem+json`)."
    ),
    paths(
        payments::create_payment,
        payments::list_payments,
        payments::get_payment,
        payments::refund_payment
    ),
    components(schemas(kit::Problem, kit::FieldError)),
    tags((name = "payments", description = "Charges and refunds (internal)"))
)]
pub struct ApiDoc;

/// The OpenAPI document (also at `/openapi.json` and in `docs/api/payment-service.openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/payments",
            post(payments::create_payment).get(payments::list_payments),
        )
        .route("/payments/{id}", get(payments::get_payment))
        .route("/payments/{id}/refund", post(payments::refund_payment))
        .with_state(state)
}

/// The whole service on `pool`: routes plus the kit's health, metrics, OpenAPI and middleware.
pub fn service(pool: PgPool, provider: Provider) -> kit::Service {
    let metrics = kit::metrics::Metrics::new();
    let state = AppState {
        pool: pool.clone(),
        provider,
        metrics: payments::PaymentMetrics::new(&metrics),
    };
    kit::Service::new(SERVICE, routes(state))
        .ready(kit::health::database(pool))
        .openapi(openapi())
        .metrics(metrics)
}

/// The complete router (what tests serve).
pub fn app(pool: PgPool, provider: Provider) -> Router {
    service(pool, provider).router()
}

/// Connects (waiting for the database) and migrates.
pub async fn startup(config: &Config) -> Result<PgPool, Box<dyn std::error::Error>> {
    Ok(kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?)
}

/// The binary: configuration from the environment, start-up, serve until SIGTERM.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let pool = startup(&config).await?;
    service(pool, config.provider)
        .serve(std::net::SocketAddr::from(([0, 0, 0, 0], config.port)))
        .await?;
    Ok(())
}
