//! Contract verification of order-service as a message provider (docs/contracts.md): the
//! verifier asks for the event an interaction describes, and gets it as the outbox would
//! carry it: the body from [`events::outgoing`] (what [`events::record`] writes in the
//! order's transaction) and the metadata from `kit::outbox::metadata` (what the relay
//! publishes with). So a change to the event's shape fails verification of its consumers'
//! pacts. Mounted only with `PACT_PROVIDER_STATES=true`.

use crate::events::{self, EventType, OrderData};
use crate::store::{CancelReason, OrderItem, OrderStatus};
use kit::provider_states::{
    Message, MessageHandler, MessageRequest, StateChange, StateError, StateHandler,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

/// The one state the consumers name: "an order in a state", with `{"order_id", "status",
/// "cancellation_reason"}`. Messages are built from it, so there is nothing to set up.
const ORDER_IN_A_STATE: &str = "an order in a state";

pub fn states() -> StateHandler {
    kit::provider_states::handler(|change: StateChange| async move {
        match change.state.as_str() {
            ORDER_IN_A_STATE => Ok(json!({})),
            other => Err(StateError::Unknown(other.into())),
        }
    })
}

pub fn messages() -> MessageHandler {
    kit::provider_states::message_handler(|request: MessageRequest| async move {
        let state = request
            .provider_states
            .iter()
            .find(|s| s.name == ORDER_IN_A_STATE)
            .map(|s| s.change())
            .ok_or_else(|| match request.provider_states.first() {
                Some(other) => StateError::Unknown(other.name.clone()),
                None => StateError::BadParams(format!(
                    "{:?} names no provider state (expected {ORDER_IN_A_STATE:?})",
                    request.description
                )),
            })?;
        message(&state)
    })
}

/// The event order-service publishes when an order reaches the state's `status`.
fn message(state: &StateChange) -> Result<Message, StateError> {
    let order_id: Uuid = state.param("order_id")?;
    let status: OrderStatus = state.param("status")?;
    let reason: Option<CancelReason> = state.param("cancellation_reason")?;
    let kind = match status {
        OrderStatus::Pending => EventType::Created,
        OrderStatus::Confirmed => EventType::Confirmed,
        OrderStatus::Cancelled => EventType::Cancelled,
        OrderStatus::Shipped => EventType::Shipped,
        OrderStatus::Completed => EventType::Completed,
    };
    let price = Decimal::new(1999, 2);
    let data = OrderData {
        order_id,
        user_id: Uuid::new_v4(),
        status,
        total_amount: price * Decimal::from(2),
        currency: "EUR".into(),
        items: vec![OrderItem {
            product_id: Uuid::new_v4(),
            quantity: 2,
            price,
        }],
        cancellation_reason: reason,
    };
    let outgoing = events::outgoing(kind, data);
    let body: Value =
        serde_json::to_value(&outgoing.payload).map_err(|e| StateError::Failed(e.to_string()))?;
    Ok(Message {
        body,
        metadata: kit::outbox::metadata(&outgoing.event_type, events::VERSION),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(params: Value) -> StateChange {
        serde_json::from_value(json!({"state": ORDER_IN_A_STATE, "params": params})).unwrap()
    }

    #[test]
    fn a_cancelled_order_is_an_order_cancelled_event_with_its_reason() {
        let id = Uuid::new_v4();
        let m = message(&state(json!({"order_id": id, "status": "CANCELLED",
                                      "cancellation_reason": "payment_declined"})))
        .unwrap();
        assert_eq!(m.body["type"], "order.cancelled");
        assert_eq!(m.body["data"]["order_id"], id.to_string());
        assert_eq!(m.body["data"]["cancellation_reason"], "payment_declined");
        assert_eq!(m.metadata["routing_key"], "order.cancelled");
        assert_eq!(m.metadata["exchange"], kit::amqp::EVENTS_EXCHANGE);
        assert_eq!(m.metadata["version"], "1");
    }

    #[test]
    fn a_status_the_service_does_not_have_is_a_bad_param() {
        let err = message(&state(
            json!({"order_id": Uuid::new_v4(), "status": "LOST"}),
        ));
        assert!(matches!(err, Err(StateError::BadParams(_))), "{err:?}");
    }
}
