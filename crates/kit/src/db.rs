//! PostgreSQL: a pool that waits for the database at start-up (it may still be starting in the
//! next container), and migrations embedded in each service's binary.

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Connects, retrying for up to `patience` while the database is not up yet.
pub async fn connect(url: &str, patience: Duration) -> Result<PgPool, sqlx::Error> {
    let deadline = Instant::now() + patience;
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() < deadline => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Connects and applies the service's migrations.
pub async fn connect_and_migrate(url: &str, migrator: &Migrator) -> Result<PgPool, sqlx::Error> {
    let pool = connect(url, Duration::from_secs(60)).await?;
    migrator.run(&pool).await?;
    Ok(pool)
}
