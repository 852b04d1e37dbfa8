//! The states {{ name }}'s consumers name in their pacts (contracts/pacts/), set up directly
{% if db %}
//! in the database for contract verification. Mounted only with `PACT_PROVIDER_STATES=true`
//! (`kit::provider_states`). Every state is set up from scratch, whatever earlier interactions
//! left: the verifier runs a pact's interactions in any order against one database.

use kit::provider_states::{StateChange, StateError, StateHandler};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub fn handler(pool: PgPool) -> StateHandler {
    kit::provider_states::handler(move |change| set_up(pool.clone(), change))
}

async fn set_up(pool: PgPool, change: StateChange) -> Result<Value, StateError> {
    match change.state.as_str() {
        // {"item_id", "name"}
        "an item exists" => {
            let id: Uuid = change.param("item_id")?;
            let name: String = change.param("name")?;
            sqlx::query(
                "INSERT INTO items (id, name, description) VALUES ($1, $2, '')
                 ON CONFLICT (id) DO UPDATE SET name = $2, description = '', updated_at = now()",
            )
            .bind(id)
            .bind(name)
            .execute(&pool)
            .await?;
            Ok(json!({}))
        }
        // {"item_id"}
        "no such item" => {
            let id: Uuid = change.param("item_id")?;
            sqlx::query("DELETE FROM items WHERE id = $1")
                .bind(id)
                .execute(&pool)
                .await?;
            Ok(json!({}))
        }
        other => Err(StateError::Unknown(other.into())),
    }
}
{% else %}
//! for contract verification. Mounted only with `PACT_PROVIDER_STATES=true`
//! (`kit::provider_states`). A service without a database has little state to set up yet.

use kit::provider_states::{StateError, StateHandler};
use serde_json::json;

pub fn handler() -> StateHandler {
    kit::provider_states::handler(|change| async move {
        match change.state.as_str() {
            // Nothing to set up: the service answers once it serves.
            "{{ name }} is up" => Ok(json!({})),
            other => Err(StateError::Unknown(other.into())),
        }
    })
}
{% endif %}
