//! The migrations were renamed from `0001_`/`0002_` to the dated names every service uses.

use user_service::{startup, Config};

/// A database migrated under the old numbers (versions 1 and 2) must still start: the service
/// renumbers them instead of refusing to migrate.
#[tokio::test]
async fn a_database_migrated_under_the_old_numbers_still_starts() {
    let config = Config::new(
        testkit::fresh_database().await,
        testkit::identity::verifier(),
    );
    let pool = startup::connect(&config).await.expect("first start");
    // As such a database is: versions 1 and 2 only (the outbox came later).
    sqlx::query(
        "UPDATE _sqlx_migrations SET version = version - 20240101000000 \
         WHERE version IN (20240101000001, 20240101000002)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version > 20240101000000")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE outbox")
        .execute(&pool)
        .await
        .unwrap();
    let pool = startup::connect(&config)
        .await
        .expect("start after the rename");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(versions, [20240101000001, 20240101000002, 20240101000003]);
}
