//! From configuration to a running service: connect and migrate, build (the HTTP API, the saga
//! sweeper and the outbox relay), serve.

use crate::config::{Config, SERVICE};
use crate::routes::{self, AppState};
use crate::{clients, events, saga, settled};
use kit::{StartupError, Worker};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects (waiting for the database) and migrates: the service's migrations, then kit's
/// outbox table (`kit::outbox::TABLE`; the first migration created it too, so on this service's
/// databases it is only checked).
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    let pool = kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?;
    kit::outbox::create_table(&pool).await?;
    Ok(pool)
}

/// The whole service on a migrated `pool`: the HTTP API, and its workers (the saga sweeper and
/// the outbox relay, both cancellable: their state is in the database). What [`run`] serves and
/// what the tests spawn.
pub async fn build(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
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
        clients,
        saga: saga.clone(),
        outbox,
        settled,
        currency: config.currency.clone(),
    };
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .provider_states(
                config.provider_states,
                kit::provider_states::routes(
                    crate::provider_states::states(),
                    Some(crate::provider_states::messages()),
                ),
            )
            .ready(kit::health::database(pool))
            .metrics(metrics)
            .worker(Worker::cancellable("saga sweeper", saga.sweep()))
            .worker(relay.worker()),
    )
}

/// The binary, once `kit::serve::main` has read the configuration (`Config::from_env`):
/// start-up, serve until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let pool = connect(&config).await?;
    build(&config, pool).await?.serve(config.port).await?;
    Ok(())
}
