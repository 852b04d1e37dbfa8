//! Migrations as they shipped.

use order_service::startup;

/// sqlx refuses to start a database whose applied migration files changed (it records their
/// checksums), so a migration that shipped stays byte for byte as it was. The first one creates
/// the outbox table that kit now ships (`kit::outbox::TABLE`): it must not be edited.
#[test]
fn shipped_migrations_are_unchanged() {
    assert_eq!(
        testkit::migration_checksums(&startup::MIGRATOR),
        [(20240101000001, "70658217203554cb1c82f98103b1f8f932690405fb76168cf2da02aa35136c32ed50d8c1a629b0867f759ab97c39b4c6".to_owned())]
    );
}
