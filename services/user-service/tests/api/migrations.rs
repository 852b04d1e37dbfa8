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

/// sqlx refuses to start a database whose applied migration files changed (it records their
/// checksums), so a migration that shipped stays byte for byte as it was. Migration 3 creates
/// the outbox table that kit now ships (`kit::outbox::TABLE`): it must not be edited or removed.
#[test]
fn shipped_migrations_are_unchanged() {
    assert_eq!(
        testkit::migration_checksums(&startup::MIGRATOR),
        [
            (20240101000001, "eea2f0290b9fe330891606b9e870b47ab4602070ad5ea9f737a2808b09ffc056184aca071dac05d54b099ed41b1884c3".to_owned()),
            (20240101000002, "976481f32e3984f4f15f95305165f563a627c8be05ef5a5d6a32c31175cd2d9d015a459566bd532154c141ac8dc8808b".to_owned()),
            (20240101000003, "d5e925cbb80cd49a080447b61072d7d3b489b9b94e0f340291541c7231e6c96f3189f4e8ac4336f49b3fd8eb752f6af0".to_owned()),
        ]
    );
}
