//! From configuration to a running service: {% if db %}connect and migrate, {% endif %}build{% if consumes %} (the HTTP API and the consumer){% endif %}, serve.

use crate::config::{Config, SERVICE};
use crate::routes::{self, AppState};
{% if consumes %}
use kit::{StartupError, Worker};
{% else %}
use kit::StartupError;
{% endif %}
{% if db %}
use sqlx::PgPool;
{% endif %}
{% if publishes %}
use std::sync::Arc;
use tokio::sync::Notify;
{% endif %}

{% if db %}
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

{% if publishes %}
/// Connects (waiting for the database) and migrates: the service's migrations, then kit's
/// outbox table (`kit::outbox::TABLE`).
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    let pool = kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?;
    kit::outbox::create_table(&pool).await?;
    Ok(pool)
}
{% else %}
/// Connects (waiting for the database) and migrates.
pub async fn connect(config: &Config) -> Result<PgPool, StartupError> {
    Ok(kit::db::connect_and_migrate(&config.database_url, &MIGRATOR).await?)
}
{% endif %}

/// The whole service on a migrated `pool`{% if consumes %}, with its consumer (graceful: at
/// shutdown it finishes the message in hand){% endif %}{% if publishes %}, with its outbox relay{% endif %}: what
/// [`run`] serves and what the tests spawn.
pub async fn build(config: &Config, pool: PgPool) -> Result<kit::Service, StartupError> {
    let metrics = kit::metrics::Metrics::new();
{% if consumes %}
    let consumer = crate::consumer::consumer(
        config.amqp_url.clone(),
        &config.consumer,
        pool.clone(),
        &metrics,
    );
{% endif %}
{% if publishes %}
    let outbox = Arc::new(Notify::new());
    let relay = kit::outbox::Relay::new(
        SERVICE,
        crate::events::VERSION,
        pool.clone(),
        &config.amqp_url,
        outbox.clone(),
        &metrics,
    );
{% endif %}
{% if publishes %}
    let state = AppState {
        pool: pool.clone(),
        outbox,
    };
{% else %}
    let state = AppState { pool: pool.clone() };
{% endif %}
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .provider_states(
                config.provider_states,
                kit::provider_states::routes(crate::provider_states::handler(pool.clone()), None),
            )
            .ready(kit::health::database(pool))
{% if publishes %}
            .worker(relay.worker())
{% endif %}
{% if consumes %}
            .worker(Worker::graceful("consumer", |stop| consumer.run(stop)))
{% endif %}
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
{% else %}
/// The whole service: what [`run`] serves and what the tests spawn.
pub async fn build(config: &Config) -> Result<kit::Service, StartupError> {
    let metrics = kit::metrics::Metrics::new();
    let state = AppState {};
    Ok(
        kit::Service::documented(SERVICE, crate::openapi::info(), routes::router(), state)
            .identity(config.identity.clone())
            .provider_states(
                config.provider_states,
                kit::provider_states::routes(crate::provider_states::handler(), None),
            )
            .metrics(metrics),
    )
}

/// The binary, once `kit::serve::main` has read the configuration (`Config::from_env`):
/// start-up, serve until SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    build(&config).await?.serve(config.port).await?;
    Ok(())
}
{% endif %}
