//! The states payment-service's consumers name in their pacts (contracts/pacts/), set up
//! directly in the database for contract verification. Mounted only with
//! `PACT_PROVIDER_STATES=true` (`kit::provider_states`). Each is set up from scratch.

use kit::provider_states::{StateChange, StateError, StateHandler};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub fn handler(pool: PgPool) -> StateHandler {
    kit::provider_states::handler(move |change| set_up(pool.clone(), change))
}

async fn set_up(pool: PgPool, change: StateChange) -> Result<Value, StateError> {
    match change.state.as_str() {
        // {"order_id"}
        "no payment for the order" => {
            let order_id: Uuid = change.param("order_id")?;
            forget(&pool, order_id).await?;
            Ok(json!({}))
        }
        // {"order_id", "payment_id"}
        "an order has a succeeded payment" => {
            let order_id: Uuid = change.param("order_id")?;
            let payment_id: Uuid = change.param("payment_id")?;
            forget(&pool, order_id).await?;
            sqlx::query("DELETE FROM payments WHERE id = $1")
                .bind(payment_id)
                .execute(&pool)
                .await?;
            sqlx::query(
                "INSERT INTO payments (id, order_id, amount, currency, status)
                 VALUES ($1, $2, 39.98, 'EUR', 'succeeded')",
            )
            .bind(payment_id)
            .bind(order_id)
            .execute(&pool)
            .await?;
            Ok(json!({}))
        }
        other => Err(StateError::Unknown(other.into())),
    }
}

async fn forget(pool: &PgPool, order_id: Uuid) -> Result<(), StateError> {
    sqlx::query("DELETE FROM payments WHERE order_id = $1")
        .bind(order_id)
        .execute(pool)
        .await?;
    Ok(())
}
