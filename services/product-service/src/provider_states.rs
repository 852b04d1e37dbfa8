//! The states product-service's consumers name in their pacts (contracts/pacts/), set up
//! directly in the database for contract verification. Mounted only with
//! `PACT_PROVIDER_STATES=true` (`kit::provider_states`).
//!
//! Every state is set up from scratch, whatever earlier interactions left: the verifier runs
//! the interactions of a pact in any order against one database.

use crate::reservations::{self, ReservationRequestRaw, ReservationStatus};
use kit::provider_states::{StateChange, StateError, StateHandler};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub fn handler(pool: PgPool) -> StateHandler {
    kit::provider_states::handler(move |change| set_up(pool.clone(), change))
}

async fn set_up(pool: PgPool, change: StateChange) -> Result<Value, StateError> {
    match change.state.as_str() {
        // {"product_id", "stock", "price"}
        "a product with stock" => {
            let id: Uuid = change.param("product_id")?;
            let stock: i32 = change.param("stock")?;
            let price: Decimal = change.param("price")?;
            forget_reservations_of(&pool, id).await?;
            product(&pool, id, stock, price).await?;
            Ok(json!({}))
        }
        // {"product_id"}
        "no such product" => {
            let id: Uuid = change.param("product_id")?;
            forget_reservations_of(&pool, id).await?;
            sqlx::query("DELETE FROM products WHERE id = $1")
                .bind(id)
                .execute(&pool)
                .await?;
            Ok(json!({}))
        }
        // {"order_id", "product_id", "quantity"}
        "an order holds a reservation" => {
            reservation(&pool, &change, None).await?;
            Ok(json!({}))
        }
        // {"order_id", "product_id", "quantity"}
        "an order's reservation is committed" => {
            reservation(&pool, &change, Some(ReservationStatus::Committed)).await?;
            Ok(json!({}))
        }
        other => Err(StateError::Unknown(other.into())),
    }
}

/// Drops every reservation that holds product `id`: a reservation the consumer then makes for
/// an order an earlier verification already reserved for must be new (201), not the same one
/// again (200). Verifying twice against one database (`--keep`, then the Pact CLI) found it.
async fn forget_reservations_of(pool: &PgPool, id: Uuid) -> Result<(), StateError> {
    sqlx::query(
        "DELETE FROM reservations WHERE order_id IN
           (SELECT order_id FROM reservation_items WHERE product_id = $1)",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Product `id` with exactly `stock` units at `price` (created or overwritten).
async fn product(pool: &PgPool, id: Uuid, stock: i32, price: Decimal) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO products (id, name, description, price, stock, category)
         VALUES ($1, 'Contract test product', '', $2, $3, 'contract-tests')
         ON CONFLICT (id) DO UPDATE SET price = $2, stock = $3, updated_at = now()",
    )
    .bind(id)
    .bind(price)
    .bind(stock)
    .execute(pool)
    .await?;
    Ok(())
}

/// A fresh reservation of `quantity` × product for the order (an earlier one is dropped),
/// then moved to `then` if given.
async fn reservation(
    pool: &PgPool,
    change: &StateChange,
    then: Option<ReservationStatus>,
) -> Result<(), StateError> {
    let order_id: Uuid = change.param("order_id")?;
    let product_id: Uuid = change.param("product_id")?;
    let quantity: i32 = change.param("quantity")?;
    sqlx::query("DELETE FROM reservations WHERE order_id = $1")
        .bind(order_id)
        .execute(pool)
        .await?;
    product(pool, product_id, quantity + 10, Decimal::new(1999, 2)).await?;
    let request: ReservationRequestRaw = serde_json::from_value(json!({
        "order_id": order_id,
        "items": [{"product_id": product_id, "quantity": quantity}],
    }))
    .map_err(|e| StateError::BadParams(e.to_string()))?;
    let request = request
        .validate()
        .map_err(|errors| StateError::BadParams(format!("{errors:?}")))?;
    let failed = |e: reservations::ReservationError| StateError::Failed(format!("{e:?}"));
    reservations::reserve(pool, request).await.map_err(failed)?;
    if let Some(target) = then {
        reservations::finish(pool, order_id, target)
            .await
            .map_err(failed)?;
    }
    Ok(())
}
