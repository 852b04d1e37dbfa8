//! From configuration to a running service: connect and migrate, build (the HTTP API and the
//! consumer), serve.

use crate::config::{Config, SERVICE};
use crate::routes::{self, AppState};
use kit::{StartupError, Worker};
use sqlx::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects (waiting for the database) and migrates.
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    Ok(kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?)
}

/// The whole service on a migrated `pool`: the HTTP API and its one worker, the consumer,
/// sharing one metrics registry (so `/metrics` shows the consumer's counters). The consumer is
/// graceful: at shutdown it finishes the message in hand and closes its connection, so the
/// broker requeues the prefetched rest at once. What [`run`] serves and what the tests spawn.
pub async fn build(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
    let metrics = kit::metrics::Metrics::new();
    let consumer = crate::consumer::consumer(
        config.amqp_url.clone(),
        &config.consumer,
        pool.clone(),
        &metrics,
    );
    let state = AppState { pool: pool.clone() };
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .ready(kit::health::database(pool))
            .metrics(metrics)
            .worker(Worker::graceful("consumer", |stop| consumer.run(stop))),
    )
}

/// The binary, once `kit::serve::main` has read the configuration (`Config::from_env`):
/// start-up, consume and serve until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let pool = connect(&config).await?;
    build(&config, pool).await?.serve(config.port).await?;
    Ok(())
}
