//! PostgreSQL: the inbox that makes consuming idempotent, the notifications, and the dead
//! letters.

use crate::events::OrderEvent;
use crate::templates::Email;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

/// A notification: the email an order event sent the customer.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// The order event it was made from (one notification per event).
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub order_id: Uuid,
    /// `order.created`, `order.confirmed`, `order.cancelled`, `order.shipped`, `order.completed`.
    #[schema(example = "order.confirmed")]
    pub event_type: String,
    #[schema(example = "Your order 1a2b3c4d is confirmed")]
    pub subject: String,
    /// The email text.
    #[schema(example = "Your order 1a2b3c4d is confirmed. Total: 39.98 EUR.")]
    pub body: String,
    /// When the order event happened.
    pub occurred_at: DateTime<Utc>,
    /// When the notification was made.
    pub created_at: DateTime<Utc>,
}

const NOTIFICATION_COLUMNS: &str =
    "id, event_id, user_id, order_id, event_type, subject, body, occurred_at, created_at";

/// A message that failed every attempt (it is also in the dead-letter queue).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct DeadLetter {
    pub id: Uuid,
    /// The event id, when the message carried one (body `id`, header `event_id` or message id).
    pub event_id: Option<String>,
    /// The routing key it was published with (the event type).
    #[schema(example = "order.confirmed")]
    pub routing_key: String,
    /// The message body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The message headers, including `x-attempt` and `x-last-error`.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// Why the last attempt failed.
    pub error: String,
    /// Deliveries, the first included.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

const DEAD_LETTER_COLUMNS: &str =
    "id, event_id, routing_key, body, headers, error, attempts, created_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// First time: the notification was stored.
    New(Uuid),
    /// The event was applied before; nothing changed.
    Duplicate,
}

/// Applies `event` once: its id goes into the inbox and, only if it was not there, the
/// notification is stored, in one statement (so one round trip, and atomic without a
/// transaction). A concurrent duplicate waits on the inbox key and then finds it taken.
pub async fn apply(
    pool: &PgPool,
    event: &OrderEvent,
    email: &Email,
) -> Result<Applied, sqlx::Error> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "WITH first AS (
            INSERT INTO inbox (event_id, event_type) VALUES ($2, $5)
            ON CONFLICT DO NOTHING RETURNING event_id
         )
         INSERT INTO notifications
             (id, event_id, user_id, order_id, event_type, subject, body, occurred_at)
         SELECT $1, event_id, $3, $4, $5, $6, $7, $8 FROM first
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(event.id)
    .bind(event.data.user_id)
    .bind(event.data.order_id)
    .bind(&event.kind)
    .bind(&email.subject)
    .bind(&email.body)
    .bind(event.occurred_at)
    .fetch_optional(pool)
    .await?;
    Ok(id.map_or(Applied::Duplicate, Applied::New))
}

pub struct NewDeadLetter {
    pub event_id: Option<String>,
    pub routing_key: String,
    pub body: String,
    pub headers: serde_json::Value,
    pub error: String,
    pub attempts: i32,
}

/// Inserts the dead letter in a transaction the caller commits once the message is safely in
/// the dead-letter queue, so a failed publish (the message is redelivered and tried again)
/// leaves no record behind.
pub async fn record_dead_letter(
    pool: &PgPool,
    letter: &NewDeadLetter,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO dead_letters (id, event_id, routing_key, body, headers, error, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::new_v4())
    .bind(&letter.event_id)
    .bind(&letter.routing_key)
    .bind(&letter.body)
    .bind(&letter.headers)
    .bind(&letter.error)
    .bind(letter.attempts)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// One page of a list and the number of rows in all pages.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// `user`'s notifications (of `order`, when given), newest first.
pub async fn notifications(
    pool: &PgPool,
    user: Uuid,
    order: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<Page<Notification>, sqlx::Error> {
    // One snapshot for the count and the page, so `total` matches the items.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let filter = "user_id = $1 AND ($2::uuid IS NULL OR order_id = $2)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM notifications WHERE {filter}"
    ))
    .bind(user)
    .bind(order)
    .fetch_one(&mut *tx)
    .await?;
    let items: Vec<Notification> = sqlx::query_as(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {filter}
         ORDER BY occurred_at DESC, created_at DESC, id LIMIT $3 OFFSET $4"
    ))
    .bind(user)
    .bind(order)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Page { items, total })
}

/// Dead letters, newest first.
pub async fn dead_letters(
    pool: &PgPool,
    limit: i64,
    offset: i64,
) -> Result<Page<DeadLetter>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&mut *tx)
        .await?;
    let items: Vec<DeadLetter> = sqlx::query_as(&format!(
        "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters
         ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Page { items, total })
}
