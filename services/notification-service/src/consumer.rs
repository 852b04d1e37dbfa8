//! What this service does with an order event ([`kit::consumer`] does the consuming: manual
//! ack after commit, retry queues, the dead-letter queue, reconnects): render the customer's
//! email and store it with the event's inbox row in one transaction ([`crate::store::apply`]);
//! a dead letter is also kept in the `dead_letters` table.

use crate::events::{self, OrderEvent};
use crate::store::{self, Applied, NewDeadLetter};
use crate::templates;
use crate::topology;
use kit::amqp::lapin::message::Delivery;
use kit::consumer::{DeadLetter, Handled, Handler, MessageMetrics};
use sqlx::PgPool;

pub use kit::consumer::Settings;

/// Why a message could not be applied; it goes to a retry queue or the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Unreadable(#[from] events::Unreadable),
    #[error("unsupported event version {0:?} (this service reads version 1)")]
    UnsupportedVersion(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Parses and applies one message body: what the consumer does before it acknowledges.
pub async fn apply(pool: &PgPool, body: &[u8]) -> Result<(Applied, OrderEvent), Failure> {
    let event = OrderEvent::parse(body)?;
    let email = templates::render(&event);
    let applied = store::apply(pool, &event, &email).await?;
    Ok((applied, event))
}

/// The consumer of `notification.order-events`, as the service runs it.
pub fn consumer(
    amqp_url: String,
    settings: &Settings,
    pool: PgPool,
    metrics: &kit::metrics::Metrics,
) -> kit::consumer::Consumer<Notifications> {
    kit::consumer::Consumer::new(
        crate::SERVICE,
        amqp_url,
        topology::QUEUE,
        &[topology::BINDING],
        settings,
        Notifications { pool },
        MessageMetrics::new(
            metrics,
            "notification_messages",
            "Consumed order events, by outcome (processed, duplicate, retried, dead_lettered)",
        ),
    )
}

pub struct Notifications {
    pool: PgPool,
}

impl Handler for Notifications {
    async fn apply(&self, delivery: &Delivery) -> Result<Handled, String> {
        if let Some(v) = kit::amqp::header(&delivery.properties, "version") {
            if v.trim() != events::VERSION.to_string() {
                return Err(Failure::UnsupportedVersion(v).to_string());
            }
        }
        let (applied, event) = apply(&self.pool, &delivery.data)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match applied {
            Applied::New(notification_id) => {
                tracing::info!(event_id = %event.id, event_type = %event.kind,
                    order_id = %event.data.order_id, %notification_id, "notification stored");
                Handled::Applied
            }
            Applied::Duplicate => {
                tracing::info!(event_id = %event.id, event_type = %event.kind,
                    redelivered = delivery.redelivered, "event already applied; skipped");
                Handled::Duplicate
            }
        })
    }

    /// The dead letter in `dead_letters`. When the database is what is failing, the message
    /// still goes to the queue (and the log), unrecorded.
    async fn record_dead_letter(
        &self,
        letter: &DeadLetter<'_>,
    ) -> Option<sqlx::Transaction<'static, sqlx::Postgres>> {
        let delivery = letter.delivery;
        let without_nul = kit::consumer::without_nul;
        let record = NewDeadLetter {
            event_id: events::id_of(&delivery.data)
                .or_else(|| kit::amqp::header(&delivery.properties, "event_id"))
                .or_else(|| {
                    delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|id| id.to_string())
                })
                .map(|id| without_nul(&id)),
            routing_key: letter.routing_key.clone(),
            body: without_nul(&String::from_utf8_lossy(&delivery.data)),
            headers: letter.headers.clone(),
            error: without_nul(&letter.error),
            attempts: letter.attempts as i32,
        };
        match store::record_dead_letter(&self.pool, &record).await {
            Ok(tx) => Some(tx),
            Err(e) => {
                tracing::error!(error = %e, "could not record the dead letter; it goes to the queue only");
                None
            }
        }
    }
}
