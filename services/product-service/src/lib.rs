//! The product service: the shop's catalogue (list, filter, full-text search, admin writes) and
//! the stock reservations of the order saga.
//!
//! - [`Config`]: `DATABASE_URL` (required; or `DATABASE_URL_FILE`), `PORT` (8002),
//!   `SEED_DEMO_CATALOGUE` (true).
//! - [`startup`]: connect, migrate, load the demo catalogue at first start.
//! - [`service`]/[`app`]: the routes inside the kit's router (health, metrics, OpenAPI, …).

pub mod params;
pub mod products;
pub mod reservations;
pub mod seed;

use axum::routing::{get, post};
use axum::Router;
use kit::config::{ConfigError, Env};
use sqlx::PgPool;
use std::str::FromStr;
use utoipa::OpenApi;

pub const SERVICE: &str = "product-service";
pub const DEFAULT_PORT: u16 = 8002;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A boolean setting: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = String;
    fn from_str(s: &str) -> Result<Flag, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Flag(true)),
            "false" | "0" | "no" | "off" => Ok(Flag(false)),
            _ => Err("expected true or false".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub port: u16,
    pub seed_demo_catalogue: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let seed = env.or("SEED_DEMO_CATALOGUE", Flag(true));
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            port,
            seed_demo_catalogue: seed.0,
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub reservations: reservations::ReservationMetrics,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "product-service",
        description = "Catalogue, full-text search and stock reservations of the reference shop. \
            Writes to the catalogue need the `admin` role, read from the `x-user-id` and \
            `x-user-roles` headers the gateway sets (trusted: the service is only reachable on \
            the private network). Stock reservations are internal (called by the order service). \
            Errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    paths(
        products::list_products,
        products::search_products,
        products::get_product,
        products::create_product,
        products::update_product,
        products::delete_product,
        reservations::create_reservation,
        reservations::get_reservation,
        reservations::release_reservation,
        reservations::commit_reservation,
        reservations::return_reservation,
    ),
    components(schemas(kit::Problem, kit::FieldError)),
    tags(
        (name = "products", description = "The catalogue"),
        (name = "stock", description = "Stock reservations of the order saga (internal)"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document (also at `/openapi.json` and in `docs/api/product-service.openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The service's own routes.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/products",
            get(products::list_products).post(products::create_product),
        )
        .route("/products/search", get(products::search_products))
        .route(
            "/products/{id}",
            get(products::get_product)
                .put(products::update_product)
                .delete(products::delete_product),
        )
        .route(
            "/stock/reservations",
            post(reservations::create_reservation),
        )
        .route(
            "/stock/reservations/{order_id}",
            get(reservations::get_reservation),
        )
        .route(
            "/stock/reservations/{order_id}/release",
            post(reservations::release_reservation),
        )
        .route(
            "/stock/reservations/{order_id}/commit",
            post(reservations::commit_reservation),
        )
        .route(
            "/stock/reservations/{order_id}/return",
            post(reservations::return_reservation),
        )
        .with_state(state)
}

/// The whole service on `pool`: routes plus the kit's health, metrics, OpenAPI and middleware.
pub fn service(pool: PgPool) -> kit::Service {
    let metrics = kit::metrics::Metrics::new();
    let state = AppState {
        pool: pool.clone(),
        reservations: reservations::ReservationMetrics::new(&metrics),
    };
    kit::Service::new(SERVICE, routes(state))
        .ready(kit::health::database(pool))
        .openapi(openapi())
        .metrics(metrics)
}

/// The complete router (what tests serve).
pub fn app(pool: PgPool) -> Router {
    service(pool).router()
}

/// Connects (waiting for the database), migrates, and loads the demo catalogue if enabled.
pub async fn startup(config: &Config) -> Result<PgPool, Box<dyn std::error::Error>> {
    let pool = kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?;
    if config.seed_demo_catalogue {
        let outcome = seed::seed_demo_catalogue(&pool).await?;
        tracing::info!(?outcome, "demo catalogue");
    }
    Ok(pool)
}

/// The binary: configuration from the environment, start-up, serve until SIGTERM.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let pool = startup(&config).await?;
    service(pool)
        .serve(std::net::SocketAddr::from(([0, 0, 0, 0], config.port)))
        .await?;
    Ok(())
}
