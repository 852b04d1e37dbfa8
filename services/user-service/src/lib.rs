//! The user service of the reference shop: accounts with argon2id passwords, RS256 access
//! tokens, and the JWKS the gateway verifies them with.
//!
//! - [`config`]: the environment.
//! - [`validation`]: the rules for emails, names, passwords and roles.
//! - [`passwords`]: argon2id hashing off the runtime; a dummy hash for unknown emails.
//! - [`keys`]: the signing key (configured, or generated once and stored in the database), JWKS.
//! - [`auth`]: the caller, from the gateway's `x-user-id` / `x-user-roles`.
//! - [`routes`]: the handlers; [`openapi`]: their document.

pub mod auth;
pub mod config;
pub mod keys;
pub mod openapi;
pub mod passwords;
pub mod routes;
pub mod validation;

pub use config::{Config, DEFAULT_PORT};

use axum::routing::{get, post};
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;
use std::sync::Arc;
use utoipa::OpenApi;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const SERVICE_NAME: &str = "user-service";
/// The name of the account the admin bootstrap creates.
pub const ADMIN_NAME: &str = "Administrator";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// The service's own metrics, next to the kit's request metrics.
#[derive(Clone, Default)]
pub struct ServiceMetrics {
    pub registrations: Counter,
    pub logins: Family<OutcomeLabels, Counter>,
}

impl ServiceMetrics {
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub hasher: passwords::Hasher,
    pub keys: Arc<keys::KeySet>,
    pub token_ttl_seconds: u64,
    pub metrics: ServiceMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Hashing(#[from] passwords::HashError),
    #[error("admin bootstrap: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ADMIN_EMAIL: {0}")]
    AdminEmail(String),
}

/// The service's own routes (without the kit's health, metrics and OpenAPI routes).
pub fn routes(state: AppState) -> Router {
    use routes::{tokens, users};
    Router::new()
        .route("/users", post(users::register).get(users::list))
        .route("/users/login", post(tokens::login))
        .route("/users/me", get(users::me))
        .route(
            "/users/{id}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .with_state(state)
}

/// Everything start-up does on a migrated database: the signing key (loaded, or created and
/// stored), the admin account, the dummy hash; then the complete service.
pub async fn service(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
    let keys = keys::load(&pool, config.jwt_private_key.as_deref()).await?;
    let hasher = passwords::Hasher::new(config.password_hashing.clone()).await?;
    bootstrap_admin(&pool, &hasher, &config.admin_email, &config.admin_password).await?;
    let metrics = kit::metrics::Metrics::new();
    let own = ServiceMetrics::default();
    metrics.register(
        "user_registrations",
        "Accounts registered",
        own.registrations.clone(),
    );
    metrics.register(
        "user_logins",
        "Login attempts, by outcome",
        own.logins.clone(),
    );
    let state = AppState {
        pool: pool.clone(),
        hasher,
        keys: Arc::new(keys),
        token_ttl_seconds: config.token_ttl_seconds,
        metrics: own,
    };
    Ok(kit::Service::new(SERVICE_NAME, routes(state))
        .ready(kit::health::database(pool))
        .openapi(openapi::ApiDoc::openapi())
        .metrics(metrics))
}

/// Creates the admin account unless an account with that email exists (whatever its roles or
/// password: an existing account is never changed), so every start after the first is a no-op.
pub async fn bootstrap_admin(
    pool: &PgPool,
    hasher: &passwords::Hasher,
    email: &str,
    password: &str,
) -> Result<(), StartupError> {
    let email = validation::email(email).map_err(StartupError::AdminEmail)?;
    let existing: Option<Vec<String>> =
        sqlx::query_scalar("SELECT roles FROM users WHERE lower(email) = $1")
            .bind(&email)
            .fetch_optional(pool)
            .await?;
    if let Some(roles) = existing {
        if !roles.iter().any(|r| r == "admin") {
            tracing::warn!(%email, "ADMIN_EMAIL belongs to an account without the admin role; left as it is");
        }
        return Ok(());
    }
    let hash = hasher.hash(password.to_owned()).await?;
    let created = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, roles) \
         VALUES ($1, $2, $3, $4, ARRAY['user', 'admin']) ON CONFLICT ((lower(email))) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(&email)
    .bind(ADMIN_NAME)
    .bind(&hash)
    .execute(pool)
    .await?
    .rows_affected();
    if created == 1 {
        tracing::info!(%email, "created the admin account");
    }
    Ok(())
}

/// Connects (waiting for the database), migrates, starts up, and serves on `port` until SIGTERM.
pub async fn run(config: Config, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let pool = kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?;
    let service = service(&config, pool).await?;
    service.serve(([0, 0, 0, 0], port).into()).await?;
    Ok(())
}
