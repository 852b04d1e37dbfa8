//! The payments table: payments as stored and served, and every query the API makes on them
//! (contract verification's set-up writes rows itself: [`crate::provider_states`]).
//!
//! A status is decoded by `sqlx::Type`: a value this code does not know (a row written by a
//! newer version, or the transient `pending` of a charge in flight) is a decode error, answered
//! with a 500 problem, never mistaken for another status.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum PaymentStatus {
    Succeeded,
    Declined,
    Refunded,
}

/// A payment of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    /// Decimal string, 2 decimals at most (`"19.99"`).
    #[schema(value_type = String, example = "19.99")]
    pub amount: Decimal,
    /// ISO 4217 code (`"EUR"`).
    pub currency: String,
    pub status: PaymentStatus,
    /// Why the provider declined (`card_declined`); only on declined payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, order_id, amount, currency, status, decline_reason, created_at, updated_at";

pub async fn by_order(pool: &PgPool, order_id: Uuid) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(pool)
    .await
}

pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Inserts the order's `pending` payment and returns its id; `None` when the order already has
/// one. Within the caller's transaction, the row keeps the order id locked until it commits.
pub async fn insert_pending(
    tx: &mut PgConnection,
    order_id: Uuid,
    amount: Decimal,
    currency: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO payments (id, order_id, amount, currency, status)
         VALUES ($1, $2, $3, $4, 'pending')
         ON CONFLICT (order_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(order_id)
    .bind(amount)
    .bind(currency)
    .fetch_optional(tx)
    .await
}

/// Records the provider's answer on a pending payment.
pub async fn record_outcome(
    tx: &mut PgConnection,
    id: Uuid,
    status: PaymentStatus,
    decline_reason: Option<&str>,
) -> Result<Payment, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE payments SET status = $2, decline_reason = $3, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status)
    .bind(decline_reason)
    .fetch_one(tx)
    .await
}

/// Marks a succeeded payment refunded; `None` when it is missing or was not `succeeded`.
pub async fn refund(pool: &PgPool, id: Uuid) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE payments SET status = 'refunded', updated_at = now()
         WHERE id = $1 AND status = 'succeeded' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}
