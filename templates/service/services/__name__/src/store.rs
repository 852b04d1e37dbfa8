{% if db %}
//! PostgreSQL: the items table, items as stored and served, and every query on them{% if consumes %};
//! and the inbox that makes consuming idempotent{% endif %}.

{% if consumes %}
use crate::events::Incoming;
{% endif %}
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// An item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    #[schema(example = "My first item")]
    pub name: String,
    /// Empty when none was given.
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated item, as written by a create or a replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub name: String,
    pub description: String,
}

const COLUMNS: &str = "id, name, description, created_at, updated_at";

/// One page of items, newest first, and the number of items in all pages (one snapshot, so
/// `total` matches the items).
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> Result<(Vec<Item>, i64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut *tx)
        .await?;
    let items: Vec<Item> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM items ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((items, total))
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM items WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Inserts a new item on `conn` (the caller's transaction).
pub async fn insert(conn: &mut PgConnection, new: &NewItem) -> Result<Item, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO items (id, name, description) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&new.name)
    .bind(&new.description)
    .fetch_one(conn)
    .await
}

/// Replaces item `id`'s fields; `None` when there is no such item.
pub async fn replace(pool: &PgPool, id: Uuid, new: &NewItem) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE items SET name = $2, description = $3, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&new.name)
    .bind(&new.description)
    .fetch_optional(pool)
    .await
}

/// Deletes item `id`; `false` when there was no such item.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM items WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}
{% if consumes %}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// First time: the event was applied.
    New,
    /// The event was applied before; nothing changed.
    Duplicate,
}

/// Applies `event` once: its id goes into the inbox and, only if it was not there, its effect
/// is written, in one transaction. A concurrent duplicate waits on the inbox key and then finds
/// it taken; a failure rolls both back, so a retry applies it again from scratch.
pub async fn apply(pool: &PgPool, event: &Incoming) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let first = sqlx::query(
        "INSERT INTO inbox (event_id, event_type, occurred_at, payload)
         VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.id)
    .bind(&event.kind)
    .bind(event.occurred_at)
    .bind(&event.data)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        tx.rollback().await?;
        return Ok(Applied::Duplicate);
    }
    // The event's effect on this service's own tables goes here, on `tx`: it commits with the
    // inbox row or not at all.
    tx.commit().await?;
    Ok(Applied::New)
}
{% endif %}
{% endif %}
