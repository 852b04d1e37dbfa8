//! From configuration to a running service: connect and migrate, build (signing key, password
//! hasher, admin account, routes), serve.

use crate::config::{Config, SERVICE};
use crate::routes::{self, AppState, ServiceMetrics};
use crate::{events, keys, passwords, store, validation};
use kit::StartupError;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The name of the account the admin bootstrap creates.
pub const ADMIN_NAME: &str = "Administrator";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Hashing(#[from] passwords::HashError),
    #[error("admin bootstrap: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ADMIN_EMAIL: {0}")]
    AdminEmail(String),
}

/// Connects (waiting for the database) and migrates: the service's migrations, then kit's
/// outbox table (`kit::outbox::TABLE`; migration 3 created it too, so on this service's
/// databases it is only checked).
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    let pool = kit::db::connect(&config.database_url, std::time::Duration::from_secs(60)).await?;
    renumber_old_migrations(&pool).await?;
    MIGRATOR.run(&pool).await?;
    kit::outbox::create_table(&pool).await?;
    Ok(pool)
}

/// The migrations were once numbered `0001_`, `0002_`; every service now names them by date
/// (`20240101000001_`). A database migrated under the old numbers records versions 1 and 2:
/// renumber them (their checksums are unchanged), or the migrator would refuse to start.
async fn renumber_old_migrations(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DO $$ BEGIN
           IF to_regclass('_sqlx_migrations') IS NOT NULL THEN
             UPDATE _sqlx_migrations SET version = 20240101000000 + version WHERE version IN (1, 2);
           END IF;
         END $$",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The whole service on a migrated `pool`: the signing key (loaded, or created and stored),
/// the admin account, the dummy hash, the routes, the outbox relay (`user.deleted`). What [`run`] serves and what the tests spawn.
pub async fn build(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
    let keys = keys::load(&pool, config.jwt_private_key.as_deref())
        .await
        .map_err(BootstrapError::from)?;
    let hasher = passwords::Hasher::new(
        config.password_hashing.clone(),
        config.password_hash_workers,
    )
    .await
    .map_err(BootstrapError::from)?;
    bootstrap_admin(&pool, &hasher, &config.admin_email, &config.admin_password).await?;
    let metrics = kit::metrics::Metrics::new();
    let own = ServiceMetrics::new(&metrics);
    let outbox = Arc::new(Notify::new());
    let relay = kit::outbox::Relay::new(
        SERVICE,
        events::VERSION,
        pool.clone(),
        &config.amqp_url,
        outbox.clone(),
        &metrics,
    );
    let state = AppState {
        pool: pool.clone(),
        hasher,
        keys: Arc::new(keys),
        token_ttl_seconds: config.token_ttl_seconds,
        metrics: own,
        outbox,
    };
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .provider_states(
                config.provider_states,
                kit::provider_states::routes(crate::provider_states::handler(), None),
            )
            .ready(kit::health::database(pool))
            .metrics(metrics)
            .worker(relay.worker()),
    )
}

/// Creates the admin account unless an account with that email exists (whatever its roles or
/// password: an existing account is never changed), so every start after the first is a no-op.
pub async fn bootstrap_admin(
    pool: &PgPool,
    hasher: &passwords::Hasher,
    email: &str,
    password: &str,
) -> Result<(), BootstrapError> {
    let email = validation::email(email).map_err(BootstrapError::AdminEmail)?;
    let existing = store::roles_by_email(pool, &email).await?;
    if let Some(roles) = existing {
        if !roles.iter().any(|r| r == "admin") {
            tracing::warn!(%email, "ADMIN_EMAIL belongs to an account without the admin role; left as it is");
        }
        return Ok(());
    }
    let hash = hasher.hash(password.to_owned()).await?;
    let created = store::insert_admin(pool, &email, ADMIN_NAME, &hash).await?;
    if created {
        tracing::info!(%email, "created the admin account");
    }
    Ok(())
}

/// The binary, once `kit::serve::main` has read the configuration (`Config::from_env`):
/// start-up, serve until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let pool = connect(&config).await?;
    build(&config, pool).await?.serve(config.port).await?;
    Ok(())
}
