//! notification-service ← order-service: message pacts for every order event the notification
//! service turns into an email. Each message goes through the consumer's real code: the
//! routing key must match its queue's binding, the `version` header must be one it reads, the
//! body must parse (`OrderEvent::parse`) and render (`templates::render`).

use crate::ids::id;
use crate::pact;
use notification_service::events::{OrderEvent, VERSION};
use notification_service::{templates, topology};
use pact_consumer::prelude::*;
use serde_json::{json, Value};

const UUID: &str = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const TIMESTAMP: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$";
const MONEY: &str = r"^\d+(\.\d{1,2})?$";

/// The event's body as the consumer needs it: the status and, on a cancellation, the reason
/// are exact (the email's wording depends on them); the rest only has to have its shape.
fn event(kind: &str, status: &str, reason: Option<&str>) -> JsonPattern {
    let reason = match reason {
        Some(r) => JsonPattern::from(json!(r)),
        None => JsonPattern::from(Value::Null),
    };
    json_pattern!({
        "id": term!(UUID, id(41).to_string()),
        "type": kind,
        "version": 1,
        "occurred_at": term!(TIMESTAMP, "2026-11-30T12:00:00Z"),
        "data": {
            "order_id": term!(UUID, id(42).to_string()),
            "user_id": term!(UUID, id(43).to_string()),
            "status": status,
            "total_amount": term!(MONEY, "39.98"),
            "currency": like!("EUR"),
            "items": each_like!({
                "product_id": term!(UUID, id(1).to_string()),
                "quantity": like!(2),
                "price": term!(MONEY, "19.99"),
            }),
            "cancellation_reason": reason,
        },
    })
}

/// Whether `key` matches an AMQP topic binding such as `order.*` (`*`: exactly one word).
fn matches_binding(binding: &str, key: &str) -> bool {
    let (b, k): (Vec<_>, Vec<_>) = (binding.split('.').collect(), key.split('.').collect());
    b.len() == k.len() && b.iter().zip(&k).all(|(b, k)| *b == "*" || b == k)
}

#[test]
fn notification_service_reads_every_order_event() {
    let events = [
        ("an order was placed", "order.created", "PENDING", None),
        (
            "an order was confirmed",
            "order.confirmed",
            "CONFIRMED",
            None,
        ),
        (
            "an order was cancelled because the payment was declined",
            "order.cancelled",
            "CANCELLED",
            Some("payment_declined"),
        ),
        ("an order was shipped", "order.shipped", "SHIPPED", None),
        (
            "an order was completed",
            "order.completed",
            "COMPLETED",
            None,
        ),
    ];
    let mut builder = pact("notification-service", "order-service");
    for (description, kind, status, reason) in events {
        builder.message_interaction(description, |mut i| {
            i.given_with_params(
                "an order in a state",
                &json!({"order_id": id(42), "status": status, "cancellation_reason": reason}),
            );
            i.json_body(event(kind, status, reason));
            i.metadata("contentType", "application/json");
            i.metadata("exchange", kit::amqp::EVENTS_EXCHANGE);
            i.metadata("routing_key", kind);
            i.metadata("version", VERSION.to_string());
            i
        });
    }
    let mut seen = 0;
    for message in builder.messages() {
        seen += 1;
        let metadata = &message.contents.metadata;
        let key = metadata["routing_key"].as_str().expect("routing_key");
        assert!(
            matches_binding(topology::BINDING, key),
            "{key} reaches the queue"
        );
        assert_eq!(metadata["version"], json!(VERSION.to_string()));
        let body = message.contents.contents.value().expect("a body");
        let event = OrderEvent::parse(&body).expect("the consumer reads it");
        assert_eq!(event.kind, key, "the routing key is the event's type");
        let email = templates::render(&event);
        assert!(
            email
                .subject
                .contains(&templates::short_id(event.data.order_id)),
            "{email:?}"
        );
    }
    assert_eq!(seen, events.len());
    // The iterator wrote the file when the loop dropped it.
    crate::normalise("notification-service", "order-service");
}
