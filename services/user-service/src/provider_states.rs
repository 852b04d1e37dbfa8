//! The states user-service's consumers name in their pacts (contracts/pacts/), for contract
//! verification. Mounted only with `PACT_PROVIDER_STATES=true` (`kit::provider_states`).

use kit::provider_states::{StateError, StateHandler};
use serde_json::json;

pub fn handler() -> StateHandler {
    kit::provider_states::handler(|change| async move {
        match change.state.as_str() {
            // The service makes (or loads) its signing key before it serves anything.
            "the user service has a signing key" => Ok(json!({})),
            other => Err(StateError::Unknown(other.into())),
        }
    })
}
