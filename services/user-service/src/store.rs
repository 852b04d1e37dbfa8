//! The service's tables and every query on them: `users` (accounts as the API shows them, never
//! the password hash) and `signing_keys` (the PEMs [`crate::keys`] parses). The outbox is
//! `kit::outbox`'s.

use chrono::{DateTime, Utc};
use kit::paging::Paging;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// An account as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    /// Lowercased.
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// `["user"]` or `["user","admin"]`.
    #[schema(example = json!(["user"]))]
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, email, name, roles, created_at, updated_at";

/// Registers an account with the `user` role.
pub async fn insert(
    pool: &PgPool,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<User, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, name, password_hash, roles) \
         VALUES ($1, $2, $3, $4, ARRAY['user']) RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .fetch_one(pool)
    .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The id, password hash and roles of the account with this (normalised) email.
pub async fn credentials(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(Uuid, String, Vec<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT id, password_hash, roles FROM users WHERE lower(email) = $1")
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// One page of accounts, oldest first, and how many there are, read in one transaction.
pub async fn page(pool: &PgPool, paging: Paging) -> Result<(Vec<User>, i64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await?;
    let items: Vec<User> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
    ))
    .bind(paging.limit())
    .bind(paging.offset())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((items, total))
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Option<Vec<String>>,
}

/// Whether account `id` is the only one with the admin role. Locks every admin row until the
/// caller's transaction ends, so two admins removing each other at once cannot both pass.
pub async fn is_last_admin(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let admins: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM users WHERE 'admin' = ANY(roles) ORDER BY id FOR UPDATE",
    )
    .fetch_all(tx)
    .await?;
    Ok(admins == [id])
}

/// Applies `changes` to account `id`; `None` when there is no such account.
pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    changes: Changes,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET email = COALESCE($2, email), name = COALESCE($3, name), \
         password_hash = COALESCE($4, password_hash), roles = COALESCE($5, roles), \
         updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(changes.email)
    .bind(changes.name)
    .bind(changes.password_hash)
    .bind(changes.roles)
    .fetch_optional(tx)
    .await
}

/// Deletes account `id`; false when there was none.
pub async fn delete(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// The roles of the account with `email` (lowercased), if there is one.
pub async fn roles_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT roles FROM users WHERE lower(email) = $1")
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// Creates an account with the roles `user` and `admin` unless one with `email` exists; whether
/// it did.
pub async fn insert_admin(
    pool: &PgPool,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, roles) \
         VALUES ($1, $2, $3, $4, ARRAY['user', 'admin']) ON CONFLICT ((lower(email))) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// `pg_advisory_xact_lock` key serialising first-start key creation ("userkeys").
const SIGNING_KEY_LOCK: i64 = 0x7573_6572_6b65_7973;

/// The stored signing keys as (kid, private PEM), newest first.
pub async fn signing_keys(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT kid, private_pem FROM signing_keys ORDER BY created_at DESC, kid")
        .fetch_all(pool)
        .await
}

/// Stores a signing key unless one is stored already (another instance starting at the same
/// time wins: the advisory lock makes concurrent first starts agree on one); whether it did.
pub async fn insert_first_signing_key(
    pool: &PgPool,
    kid: &str,
    pem: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SIGNING_KEY_LOCK)
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO signing_keys (kid, private_pem) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
    )
    .bind(kid)
    .bind(pem)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(inserted == 1)
}
