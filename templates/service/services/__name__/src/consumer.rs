{% if consumes %}
//! What this service does with an event it consumes ({% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}):
//! apply it with its inbox row in one transaction ([`crate::store::apply`]), so a redelivered
//! event is recognised and skipped. [`kit::consumer`] does the consuming: manual ack after the
//! commit, retry queues with growing delays, the dead-letter queue, reconnects.

use crate::events::{self, Incoming};
use crate::store::{self, Applied};
use crate::topology;
use kit::amqp::lapin::message::Delivery;
use kit::consumer::{Handled, Handler, MessageMetrics};
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
pub async fn apply(pool: &PgPool, body: &[u8]) -> Result<(Applied, Incoming), Failure> {
    let event = Incoming::parse(body)?;
    let applied = store::apply(pool, &event).await?;
    Ok((applied, event))
}

/// The consumer of `{{ name }}.events`, as the service runs it.
pub fn consumer(
    amqp_url: String,
    settings: &Settings,
    pool: PgPool,
    metrics: &kit::metrics::Metrics,
) -> kit::consumer::Consumer<Events> {
    kit::consumer::Consumer::new(
        crate::SERVICE,
        amqp_url,
        topology::QUEUE,
        &topology::BINDINGS,
        settings,
        Events { pool },
        MessageMetrics::new(
            metrics,
            "{{ crate }}_messages",
            "Consumed events, by outcome (processed, duplicate, retried, dead_lettered)",
        ),
    )
}

pub struct Events {
    pool: PgPool,
}

impl Handler for Events {
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
            Applied::New => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, "event applied");
                Handled::Applied
            }
            Applied::Duplicate => {
                tracing::info!(event_id = %event.id, event_type = %event.kind,
                    redelivered = delivery.redelivered, "event already applied; skipped");
                Handled::Duplicate
            }
        })
    }
}
{% endif %}
