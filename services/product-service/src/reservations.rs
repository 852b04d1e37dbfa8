//! Stock reservations for the order saga.
//!
//! A reservation belongs to one order (its id is the idempotency key) and moves
//! `reserved → released` (stock given back) or `reserved → committed` (stock stays deducted,
//! the goods are sold). Both end states are final.
//!
//! Reserving is one transaction: insert the reservation row (`ON CONFLICT DO NOTHING`: a
//! concurrent duplicate waits for the first to finish and then sees its outcome), lock the
//! products in id order (`SELECT … ORDER BY id FOR UPDATE`, so concurrent multi-item
//! reservations cannot deadlock), check every item, then deduct with a guarded `UPDATE`
//! (`stock >= quantity`) and record the items. Any missing product or lacking stock rolls the
//! whole transaction back: all-or-nothing. The `CHECK (stock >= 0)` on products is the last
//! line of defence.

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kit::{FieldError, Problem};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: i64 = 1_000_000;

// Decoded by `sqlx::Type`: a status this code does not know is a decode error (a 500 problem),
// never taken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum ReservationStatus {
    Reserved,
    Released,
    Committed,
    /// A committed reservation whose order was cancelled afterwards: the stock is back.
    Returned,
}

impl ReservationStatus {
    fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Reserved => "reserved",
            ReservationStatus::Released => "released",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Returned => "returned",
        }
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::FromRow,
)]
pub struct ReservationItem {
    pub product_id: Uuid,
    /// Units, from 1 to 1000000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i32,
}

/// The stock held for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    /// Ordered by product id.
    pub items: Vec<ReservationItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What to reserve for an order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReservationRequest {
    /// The order; reserving again for the same order is an idempotent retry.
    pub order_id: Uuid,
    /// 1 to 100 items, each product at most once.
    pub items: Vec<ReservationItem>,
}

/// The request body as received, loosely typed so that every bad field is reported at once.
#[derive(Debug, Default, Deserialize)]
pub struct ReservationRequestRaw {
    order_id: Option<Value>,
    items: Option<Value>,
}

/// A requested item, with its position in the request (for error messages).
#[derive(Debug, Clone, Copy)]
struct Wanted {
    index: usize,
    item: ReservationItem,
}

#[derive(Debug)]
pub struct NewReservation {
    order_id: Uuid,
    items: Vec<Wanted>,
}

fn uuid_field(errors: &mut Vec<FieldError>, field: &str, value: Option<&Value>) -> Uuid {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new(field, "is required")),
        Some(Value::String(s)) => match Uuid::parse_str(s) {
            Ok(id) => return id,
            Err(_) => errors.push(FieldError::new(field, "must be a UUID")),
        },
        Some(_) => errors.push(FieldError::new(field, "must be a UUID string")),
    }
    Uuid::nil()
}

impl ReservationRequestRaw {
    pub fn validate(self) -> Result<NewReservation, Vec<FieldError>> {
        let mut errors = Vec::new();
        let order_id = uuid_field(&mut errors, "order_id", self.order_id.as_ref());
        let mut items = Vec::new();
        match self.items {
            None | Some(Value::Null) => errors.push(FieldError::new("items", "is required")),
            Some(Value::Array(list)) if list.is_empty() => {
                errors.push(FieldError::new("items", "must not be empty"))
            }
            Some(Value::Array(list)) if list.len() > MAX_ITEMS => errors.push(FieldError::new(
                "items",
                format!("must have at most {MAX_ITEMS} items"),
            )),
            Some(Value::Array(list)) => {
                let mut seen = HashSet::new();
                for (index, entry) in list.iter().enumerate() {
                    let Value::Object(entry) = entry else {
                        errors.push(FieldError::new(
                            format!("items[{index}]"),
                            "must be an object with product_id and quantity",
                        ));
                        continue;
                    };
                    let field = format!("items[{index}].product_id");
                    let product_id = uuid_field(&mut errors, &field, entry.get("product_id"));
                    if !product_id.is_nil() && !seen.insert(product_id) {
                        errors.push(FieldError::new(field, "lists a product already listed"));
                    }
                    let field = format!("items[{index}].quantity");
                    let quantity = match entry.get("quantity") {
                        None | Some(Value::Null) => {
                            errors.push(FieldError::new(field, "is required"));
                            0
                        }
                        Some(Value::Number(n)) => match n.as_i64() {
                            Some(q) if (1..=MAX_QUANTITY).contains(&q) => q as i32,
                            _ => {
                                errors.push(FieldError::new(
                                    field,
                                    format!("must be a whole number from 1 to {MAX_QUANTITY}"),
                                ));
                                0
                            }
                        },
                        Some(_) => {
                            errors.push(FieldError::new(field, "must be a whole number"));
                            0
                        }
                    };
                    items.push(Wanted {
                        index,
                        item: ReservationItem {
                            product_id,
                            quantity,
                        },
                    });
                }
            }
            Some(_) => errors.push(FieldError::new("items", "must be an array")),
        }
        if errors.is_empty() {
            Ok(NewReservation { order_id, items })
        } else {
            Err(errors)
        }
    }
}

/// An item that cannot be served.
#[derive(Debug, Clone)]
pub struct Shortfall {
    pub index: usize,
    pub product_id: Uuid,
    pub requested: i32,
    pub available: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    #[error("invalid reservation request")]
    Invalid(Vec<FieldError>),
    #[error("unknown product(s): {}", .0.iter().map(|(_, id)| id.to_string()).collect::<Vec<_>>().join(", "))]
    UnknownProducts(Vec<(usize, Uuid)>),
    #[error("insufficient stock for product(s) {}; nothing was reserved",
        .0.iter().map(|s| format!("{} (requested {}, available {})", s.product_id, s.requested, s.available)).collect::<Vec<_>>().join(", "))]
    InsufficientStock(Vec<Shortfall>),
    #[error("order {0} already has a reservation with different items")]
    DifferentItems(Uuid),
    #[error("no stock reservation for order {0}")]
    NotFound(Uuid),
    #[error("the reservation for order {order_id} is {status}; it cannot be {wanted}")]
    Final {
        order_id: Uuid,
        status: ReservationStatus,
        wanted: &'static str,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ReservationError> for Problem {
    fn from(e: ReservationError) -> Problem {
        let detail = e.to_string();
        match e {
            ReservationError::Invalid(errors) => Problem::validation(errors),
            ReservationError::UnknownProducts(ids) => {
                let mut p =
                    Problem::not_found(detail).kind("https://msctl.dev/problems/unknown-product");
                p.errors = ids
                    .into_iter()
                    .map(|(i, _)| {
                        FieldError::new(format!("items[{i}].product_id"), "no such product")
                    })
                    .collect();
                p
            }
            ReservationError::InsufficientStock(short) => {
                let mut p =
                    Problem::conflict(detail).kind("https://msctl.dev/problems/insufficient-stock");
                p.errors = short
                    .into_iter()
                    .map(|s| {
                        FieldError::new(
                            format!("items[{}].quantity", s.index),
                            format!(
                                "product {} has {} in stock, {} requested",
                                s.product_id, s.available, s.requested
                            ),
                        )
                    })
                    .collect();
                p
            }
            ReservationError::DifferentItems(_) | ReservationError::Final { .. } => {
                Problem::conflict(detail)
            }
            ReservationError::NotFound(_) => Problem::not_found(detail),
            ReservationError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for ReservationError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Outcome counters: `stock_reservations_total{operation, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub operation: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct ReservationMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
}

impl ReservationMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> ReservationMetrics {
        let m = ReservationMetrics::default();
        registry.register(
            "stock_reservations",
            "Stock reservation operations, by operation and outcome",
            m.outcomes.clone(),
        );
        m
    }

    pub fn count<T>(
        &self,
        operation: &'static str,
        result: &Result<T, ReservationError>,
        ok: &'static str,
    ) {
        let outcome = match result {
            Ok(_) => ok,
            Err(ReservationError::Invalid(_)) => "invalid",
            Err(ReservationError::UnknownProducts(_)) => "unknown_product",
            Err(ReservationError::InsufficientStock(_)) => "insufficient_stock",
            Err(ReservationError::DifferentItems(_)) => "different_items",
            Err(ReservationError::NotFound(_)) => "not_found",
            Err(ReservationError::Final { .. }) => "wrong_state",
            Err(ReservationError::Database(_)) => "error",
        };
        self.outcomes
            .get_or_create(&OutcomeLabels { operation, outcome })
            .inc();
    }
}

/// Loads a reservation with its items.
pub async fn load(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Reservation>, sqlx::Error> {
    let Some((status, created_at, updated_at)) =
        sqlx::query_as::<_, (ReservationStatus, DateTime<Utc>, DateTime<Utc>)>(
            "SELECT status, created_at, updated_at FROM reservations WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let items = sqlx::query_as::<_, ReservationItem>(
        "SELECT product_id, quantity FROM reservation_items WHERE order_id = $1 ORDER BY product_id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Reservation {
        order_id,
        status,
        items,
        created_at,
        updated_at,
    }))
}

/// Reserves the items for the order, all or nothing. `Ok((true, r))` when this call reserved,
/// `Ok((false, r))` for an idempotent retry of an earlier reservation with the same items.
pub async fn reserve(
    pool: &PgPool,
    request: NewReservation,
) -> Result<(bool, Reservation), ReservationError> {
    let order_id = request.order_id;
    let mut wanted = request.items;
    // A stable order: the locks below are taken in this order by every transaction.
    wanted.sort_by_key(|w| w.item.product_id);

    let mut tx = pool.begin().await?;
    // A concurrent transaction inserting the same order id makes this wait for its outcome:
    // if it commits, this finds the conflict; if it rolls back, this one goes ahead.
    let inserted = sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
        "INSERT INTO reservations (order_id, status) VALUES ($1, 'reserved')
         ON CONFLICT (order_id) DO NOTHING RETURNING created_at, updated_at",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((created_at, updated_at)) = inserted else {
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        let existing = load(&mut conn, order_id)
            .await?
            .ok_or(ReservationError::NotFound(order_id))?;
        let requested: Vec<ReservationItem> = wanted.iter().map(|w| w.item).collect();
        return if existing.items == requested {
            Ok((false, existing))
        } else {
            Err(ReservationError::DifferentItems(order_id))
        };
    };

    let ids: Vec<Uuid> = wanted.iter().map(|w| w.item.product_id).collect();
    let stock: HashMap<Uuid, i32> = sqlx::query_as::<_, (Uuid, i32)>(
        "SELECT id, stock FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let mut unknown: Vec<(usize, Uuid)> = wanted
        .iter()
        .filter(|w| !stock.contains_key(&w.item.product_id))
        .map(|w| (w.index, w.item.product_id))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ReservationError::UnknownProducts(unknown)); // dropping `tx` rolls back
    }
    let mut short: Vec<Shortfall> = wanted
        .iter()
        .filter(|w| stock[&w.item.product_id] < w.item.quantity)
        .map(|w| Shortfall {
            index: w.index,
            product_id: w.item.product_id,
            requested: w.item.quantity,
            available: stock[&w.item.product_id],
        })
        .collect();
    if !short.is_empty() {
        short.sort_by_key(|s| s.index);
        return Err(ReservationError::InsufficientStock(short));
    }

    let quantities: Vec<i32> = wanted.iter().map(|w| w.item.quantity).collect();
    let deducted = sqlx::query(
        "UPDATE products p SET stock = p.stock - r.quantity
         FROM unnest($1::uuid[], $2::int4[]) AS r(product_id, quantity)
         WHERE p.id = r.product_id AND p.stock >= r.quantity",
    )
    .bind(&ids)
    .bind(&quantities)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deducted != ids.len() as u64 {
        // Cannot happen while the rows are locked; refuse rather than reserve partially.
        tracing::error!(%order_id, deducted, wanted = ids.len(), "guarded stock update missed rows");
        return Err(ReservationError::InsufficientStock(Vec::new()));
    }
    sqlx::query(
        "INSERT INTO reservation_items (order_id, product_id, quantity)
         SELECT $1, r.product_id, r.quantity FROM unnest($2::uuid[], $3::int4[]) AS r(product_id, quantity)",
    )
    .bind(order_id)
    .bind(&ids)
    .bind(&quantities)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        true,
        Reservation {
            order_id,
            status: ReservationStatus::Reserved,
            items: wanted.iter().map(|w| w.item).collect(),
            created_at,
            updated_at,
        },
    ))
}

/// Moves a reservation to `target`: `reserved` → released (stock back) or committed (stock stays
/// deducted); `committed` → returned (stock back). Repeating the same transition is a no-op that
/// returns the reservation; any other transition is a conflict.
pub async fn finish(
    pool: &PgPool,
    order_id: Uuid,
    target: ReservationStatus,
) -> Result<Reservation, ReservationError> {
    let (wanted, from) = match target {
        ReservationStatus::Released => ("released", ReservationStatus::Reserved),
        ReservationStatus::Returned => ("returned", ReservationStatus::Committed),
        _ => ("committed", ReservationStatus::Reserved),
    };
    if target == ReservationStatus::Committed {
        if let Some(committed) = commit_reserved(pool, order_id).await? {
            return Ok(committed);
        }
    }
    let mut tx = pool.begin().await?;
    // The row lock serialises concurrent releases/commits of the same order: the second sees
    // the first's result, so stock goes back exactly once.
    let status: Option<ReservationStatus> =
        sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status.ok_or(ReservationError::NotFound(order_id))?;
    if status == target {
        let current = load(&mut tx, order_id)
            .await?
            .ok_or(ReservationError::NotFound(order_id))?;
        tx.commit().await?;
        return Ok(current);
    }
    if status != from {
        return Err(ReservationError::Final {
            order_id,
            status,
            wanted,
        });
    }
    if target != ReservationStatus::Committed {
        // Lock in id order (as reserve does), then give the stock back. Products deleted from
        // the catalogue since are skipped.
        sqlx::query(
            "SELECT id FROM products WHERE id IN
                 (SELECT product_id FROM reservation_items WHERE order_id = $1)
             ORDER BY id FOR UPDATE",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE products p SET stock = p.stock + i.quantity
             FROM reservation_items i WHERE i.order_id = $1 AND p.id = i.product_id",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE reservations SET status = $2, updated_at = now() WHERE order_id = $1")
        .bind(order_id)
        .bind(target)
        .execute(&mut *tx)
        .await?;
    let current = load(&mut tx, order_id)
        .await?
        .ok_or(ReservationError::NotFound(order_id))?;
    tx.commit().await?;
    Ok(current)
}

/// The commit of every confirmed order, in one statement: a reserved reservation becomes
/// committed (its stock stays deducted, so no product row is touched). `None` when the
/// reservation is not `reserved`, for [`finish`]'s general path to sort out.
async fn commit_reserved(pool: &PgPool, order_id: Uuid) -> sqlx::Result<Option<Reservation>> {
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>, Uuid, i32)> = sqlx::query_as(
        "WITH moved AS (
            UPDATE reservations SET status = 'committed', updated_at = now()
            WHERE order_id = $1 AND status = 'reserved'
            RETURNING order_id, created_at, updated_at
         )
         SELECT m.created_at, m.updated_at, i.product_id, i.quantity
         FROM moved m JOIN reservation_items i USING (order_id)
         ORDER BY i.product_id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    let Some(&(created_at, updated_at, _, _)) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Reservation {
        order_id,
        status: ReservationStatus::Committed,
        items: rows
            .iter()
            .map(|&(_, _, product_id, quantity)| ReservationItem {
                product_id,
                quantity,
            })
            .collect(),
        created_at,
        updated_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> ReservationRequestRaw {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_lists_every_problem() {
        let p = "0b6f8a10-8a0e-4a4e-9d3c-5a1f3a6b2c01";
        let errors = raw(json!({"order_id": "x", "items": [
            {"product_id": p, "quantity": 0},
            {"product_id": p, "quantity": 1.5},
            {"product_id": 7},
            "nope"
        ]}))
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order_id",
                "items[0].quantity",
                "items[1].product_id",
                "items[1].quantity",
                "items[2].product_id",
                "items[2].quantity",
                "items[3]"
            ]
        );
        let errors = raw(json!({"order_id": p, "items": []}))
            .validate()
            .unwrap_err();
        assert_eq!(errors[0].field, "items");
        let errors = raw(json!({})).validate().unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
