//! Orders as stored and as served, and the queries that read them or change their status. The
//! saga's own statements (placing an order, its steps, a cancellation: everything that moves
//! `saga_step`) are in [`crate::saga`], each one conditional statement beside the state machine
//! it implements.
//!
//! Statuses and reasons are decoded by `sqlx::Type`: a value this code does not know (a row
//! written by a newer version) is a decode error, answered with a 500 problem, never taken for
//! another status (`OrderStatus::parse` once read it as PENDING).

use chrono::{DateTime, Utc};
use kit::paging::Paging;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "UPPERCASE")]
#[sqlx(type_name = "text", rename_all = "UPPERCASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Cancelled,
    Shipped,
    Completed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Completed => "COMPLETED",
        }
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CancelReason {
    OutOfStock,
    PaymentDeclined,
    CancelledByUser,
    Timeout,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::OutOfStock => "out_of_stock",
            CancelReason::PaymentDeclined => "payment_declined",
            CancelReason::CancelledByUser => "cancelled_by_user",
            CancelReason::Timeout => "timeout",
        }
    }
}

/// A line of an order, priced when the order was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub quantity: i32,
    /// Unit price, decimal string.
    #[schema(value_type = String, example = "19.99")]
    pub price: Decimal,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// Sum of the items, decimal string.
    #[schema(value_type = String, example = "39.98")]
    pub total_amount: Decimal,
    #[schema(example = "EUR")]
    pub currency: String,
    /// Why it was cancelled; only on CANCELLED orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<CancelReason>,
    pub items: Vec<OrderItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    user_id: Uuid,
    status: OrderStatus,
    total_amount: Decimal,
    currency: String,
    cancellation_reason: Option<CancelReason>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, user_id, status, total_amount, currency, cancellation_reason, created_at, updated_at";

impl OrderRow {
    fn into_order(self, items: Vec<OrderItem>) -> Order {
        let status = self.status;
        Order {
            id: self.id,
            user_id: self.user_id,
            status,
            total_amount: self.total_amount,
            currency: self.currency,
            // A reason recorded while compensating is not shown until the order is CANCELLED.
            cancellation_reason: match status {
                OrderStatus::Cancelled => self.cancellation_reason,
                _ => None,
            },
            items,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

async fn items_of(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, OrderItem)>> {
    let rows: Vec<(Uuid, Uuid, i32, Decimal)> = sqlx::query_as(
        "SELECT order_id, product_id, quantity, price FROM order_items
         WHERE order_id = ANY($1) ORDER BY order_id, product_id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order_id, product_id, quantity, price)| {
            (
                order_id,
                OrderItem {
                    product_id,
                    quantity,
                    price,
                },
            )
        })
        .collect())
}

async fn with_items(conn: &mut PgConnection, rows: Vec<OrderRow>) -> sqlx::Result<Vec<Order>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items = items_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine = items
                .iter()
                .filter(|(id, _)| *id == row.id)
                .map(|(_, item)| item.clone())
                .collect();
            items.retain(|(id, _)| *id != row.id);
            row.into_order(mine)
        })
        .collect())
}

/// One order with its items.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Order>> {
    let row: Option<OrderRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(with_items(conn, vec![row]).await?.pop()),
    }
}

/// One page of a user's orders, newest first, and how many there are in all.
pub async fn list_for_user(
    pool: &PgPool,
    user_id: Uuid,
    paging: Paging,
) -> sqlx::Result<(Vec<Order>, i64)> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(user_id)
    .bind(paging.limit())
    .bind(paging.offset())
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((with_items(&mut conn, rows).await?, total))
}

/// An order by the user's idempotency key.
pub async fn by_idempotency_key(
    conn: &mut PgConnection,
    user_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<Order>> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM orders WHERE user_id = $1 AND idempotency_key = $2")
            .bind(user_id)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => load(conn, id).await,
        None => Ok(None),
    }
}

/// The card token an order was placed with (an idempotent retry must bring the same one).
pub async fn payment_token(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT payment_token FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Moves an order whose saga is done from status `from` to `to` (shipped, completed), in the
/// caller's transaction; false when it is not in `from` (or its saga still runs).
pub async fn advance_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: OrderStatus,
    to: OrderStatus,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE orders SET status = $3, updated_at = now()
         WHERE id = $1 AND status = $2 AND saga_step = 'done'",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}
