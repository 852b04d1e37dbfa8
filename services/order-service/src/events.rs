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

/// The outbox columns an event is inserted into, in the order of [`Outgoing`]'s binds: event id,
/// type, payload, traceparent, request id, occurred at.
pub const OUTBOX_COLUMNS: &str =
    "event_id, event_type, payload, traceparent, request_id, occurred_at";

/// An event about to be written to the outbox: the envelope, and the trace it continues (the
/// current request or saga step).
pub struct Outgoing {
    pub envelope: Envelope,
    pub traceparent: Option<String>,
    pub request_id: Option<String>,
}

/// A query whose next parameters are an event's outbox values.
type OutboxQuery<'q, O> = sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>;

impl Outgoing {
    /// Binds the event's values, in [`OUTBOX_COLUMNS`] order, as the query's next parameters.
    pub fn bind<'q, O>(&'q self, query: OutboxQuery<'q, O>) -> OutboxQuery<'q, O> {
        query
            .bind(self.envelope.id)
            .bind(self.envelope.kind.as_str())
            .bind(sqlx::types::Json(&self.envelope))
            .bind(&self.traceparent)
            .bind(&self.request_id)
            .bind(self.envelope.occurred_at)
    }

    pub fn new(kind: EventType, data: OrderData) -> Outgoing {
        let trace = kit::trace::outgoing_headers();
        let header = |name: &str| {
            trace
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Outgoing {
            envelope: Envelope {
                id: Uuid::new_v4(),
                kind: kind.as_str().to_owned(),
                version: VERSION,
                occurred_at: Utc::now(),
                data,
            },
            traceparent: header("traceparent"),
            request_id: header("x-request-id"),
        }
    }
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
    let event = Outgoing::new(kind, OrderData::of(order));
    let sql = format!(
        "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING event_id"
    );
    let (id,): (Uuid,) = event.bind(sqlx::query_as(&sql)).fetch_one(conn).await?;
    Ok(id)
}
