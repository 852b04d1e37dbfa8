//! The order events (catalogue and JSON schemas: docs/events.md), and writing them to the
//! outbox in the caller's transaction, so an order's state and its event commit together.

use crate::store::{CancelReason, Order, OrderItem, OrderStatus};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// Bumped on a breaking change of [`OrderData`]; consumers read it from the `version` header.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Confirmed,
    Cancelled,
    Shipped,
    Completed,
}

impl EventType {
    /// The event's type, also its routing key on the events exchange.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "order.created",
            EventType::Confirmed => "order.confirmed",
            EventType::Cancelled => "order.cancelled",
            EventType::Shipped => "order.shipped",
            EventType::Completed => "order.completed",
        }
    }
}

/// The message body: an envelope around the order as it is after the change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub data: OrderData,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderData {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub total_amount: Decimal,
    pub currency: String,
    pub items: Vec<OrderItem>,
    pub cancellation_reason: Option<CancelReason>,
}

/// The outbox columns an event is inserted into, in the order of [`Outgoing::bind`]'s binds.
pub use kit::outbox::COLUMNS as OUTBOX_COLUMNS;

/// An order event about to be written to the outbox (`kit::outbox`): the envelope, and the
/// trace it continues (the current request or saga step).
pub type Outgoing = kit::outbox::Outgoing<Envelope>;

/// The event `kind` for an order now in the state `data`.
pub fn outgoing(kind: EventType, data: OrderData) -> Outgoing {
    let envelope = Envelope {
        id: Uuid::new_v4(),
        kind: kind.as_str().to_owned(),
        version: VERSION,
        occurred_at: Utc::now(),
        data,
    };
    Outgoing::new(envelope.id, kind.as_str(), envelope.occurred_at, envelope)
}

impl OrderData {
    pub fn of(order: &Order) -> OrderData {
        OrderData {
            order_id: order.id,
            user_id: order.user_id,
            status: order.status,
            total_amount: order.total_amount,
            currency: order.currency.clone(),
            items: order.items.clone(),
            cancellation_reason: order.cancellation_reason,
        }
    }
}

/// Writes `kind` for `order` (as it is now) to the outbox, in the caller's transaction.
pub async fn record(conn: &mut PgConnection, order: &Order, kind: EventType) -> sqlx::Result<Uuid> {
    kit::outbox::enqueue(conn, &outgoing(kind, OrderData::of(order))).await
}
