//! The order event as the order service publishes it (version 1):
//!
//! ```json
//! {"id":"<uuid>","type":"order.confirmed","version":1,"occurred_at":"2026-11-21T20:00:00Z",
//!  "data":{"order_id":"<uuid>","user_id":"<uuid>","status":"CONFIRMED","total_amount":"39.98",
//!          "currency":"EUR","items":[{"product_id":"<uuid>","quantity":2,"price":"19.99"}],
//!          "cancellation_reason":null}}
//! ```
//!
//! Everything a notification needs is required; a body without it is a failure (retried, then
//! dead-lettered), never a notification with holes.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize)]
pub struct OrderEvent {
    /// The event id: the idempotency key.
    pub id: Uuid,
    /// `order.created`, `order.confirmed`, `order.cancelled`, `order.shipped`, `order.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: OrderData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderData {
    pub order_id: Uuid,
    pub user_id: Uuid,
    /// PENDING, CONFIRMED, CANCELLED, SHIPPED or COMPLETED.
    pub status: String,
    pub total_amount: Decimal,
    pub currency: String,
    #[serde(default)]
    pub items: Vec<Item>,
    /// On `order.cancelled`: out_of_stock, payment_declined, cancelled_by_user or timeout.
    #[serde(default)]
    pub cancellation_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub product_id: Uuid,
    pub quantity: u32,
    pub price: Decimal,
}

#[derive(Debug, thiserror::Error)]
#[error("unreadable event: {0}")]
pub struct Unreadable(String);

/// The schema version this service reads (body `version`, header `version`).
pub const VERSION: u64 = 1;

impl OrderEvent {
    pub fn parse(body: &[u8]) -> Result<OrderEvent, Unreadable> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| Unreadable(e.to_string()))?;
        // Checked first: another version's `data` would fail on some field, which would hide
        // the real reason. Such a message is dead-lettered, to be replayed by a newer consumer.
        match &value["version"] {
            serde_json::Value::Null => {}
            v if v.as_u64() == Some(VERSION) => {}
            v => return Err(Unreadable(format!("unsupported version {v}"))),
        }
        let event: OrderEvent =
            serde_json::from_value(value).map_err(|e| Unreadable(e.to_string()))?;
        if event.kind.trim().is_empty() {
            return Err(Unreadable("type is empty".into()));
        }
        if event.data.currency.trim().is_empty() {
            return Err(Unreadable("data.currency is empty".into()));
        }
        Ok(event)
    }
}

/// The event id of a body that may not parse as an event, for the dead-letter record.
pub fn id_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match &value["id"] {
        serde_json::Value::String(id) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        json!({"id": Uuid::new_v4(), "type": "order.confirmed", "version": 1,
            "occurred_at": "2026-11-21T20:00:00Z",
            "data": {"order_id": Uuid::new_v4(), "user_id": Uuid::new_v4(), "status": "CONFIRMED",
                "total_amount": "39.98", "currency": "EUR",
                "items": [{"product_id": Uuid::new_v4(), "quantity": 2, "price": "19.99"}],
                "cancellation_reason": null}})
    }

    #[test]
    fn parses_the_published_shape() {
        let e = OrderEvent::parse(event().to_string().as_bytes()).unwrap();
        assert_eq!(e.kind, "order.confirmed");
        assert_eq!(e.data.total_amount.to_string(), "39.98");
        assert_eq!(e.data.items[0].quantity, 2);
        assert_eq!(e.data.cancellation_reason, None);
    }

    #[test]
    fn rejects_missing_fields_and_garbage() {
        let mut e = event();
        e["data"].as_object_mut().unwrap().remove("user_id");
        let err = OrderEvent::parse(e.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("user_id"), "{err}");
        assert!(OrderEvent::parse(b"not json").is_err());
        assert!(OrderEvent::parse(b"{}").is_err());
    }

    #[test]
    fn rejects_other_versions() {
        let mut e = event();
        e["version"] = json!(2);
        let err = OrderEvent::parse(e.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "unreadable event: unsupported version 2");
    }

    #[test]
    fn finds_the_id_of_a_broken_event() {
        let mut e = event();
        e["data"] = json!(null);
        assert_eq!(
            id_of(e.to_string().as_bytes()),
            e["id"].as_str().map(str::to_owned)
        );
        assert_eq!(id_of(b"garbage"), None);
    }
}
