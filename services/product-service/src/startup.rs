//! From configuration to a running service: connect, migrate and seed, build, serve.

use crate::config::{Config, SERVICE};
use crate::reservations::ReservationMetrics;
use crate::routes::{self, AppState};
use kit::StartupError;
use sqlx::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects (waiting for the database), migrates, and loads the demo catalogue if enabled.
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    let pool = kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?;
    if config.seed_demo_catalogue {
        let outcome = crate::seed::seed_demo_catalogue(&pool).await?;
        tracing::info!(?outcome, "demo catalogue");
    }
    Ok(pool)
}

/// The whole service on a migrated `pool`: what [`run`] serves and what the tests spawn.
pub async fn build(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
    let metrics = kit::metrics::Metrics::new();
    let state = AppState {
        pool: pool.clone(),
        reservations: ReservationMetrics::new(&metrics),
    };
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .provider_states(
                config.provider_states,
                kit::provider_states::routes(crate::provider_states::handler(pool.clone()), None),
            )
            .ready(kit::health::database(pool))
            .metrics(metrics),
    )
}

/// The binary, once `kit::serve::main` has read the configuration (`Config::from_env`):
/// start-up, serve until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let pool = connect(&config).await?;
    build(&config, pool).await?.serve(config.port).await?;
    Ok(())
}
