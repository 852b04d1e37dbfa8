{% if consumes %}
//! The consumer of `{{ name }}.events` ({% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}).
//!
//! At-least-once in, exactly-once in effect: a message is acknowledged only after its own
//! transaction commits (inbox row + effect, see [`crate::store::apply`]), so a crash between
//! the two redelivers a message whose event id is already in the inbox, and it is then
//! acknowledged without being applied twice.
//!
//! A message that fails (unreadable, another version, a database error) is never requeued in
//! place, where it would come straight back and hold up the queue: a copy with `x-attempt` + 1
//! and `x-last-error` goes to the retry queue of its attempt (it returns to the main queue
//! after that queue's delay), or, after `MAX_ATTEMPTS` deliveries, to the dead-letter queue.
//! The original is acknowledged only once the broker has confirmed the copy (publisher
//! confirms, `mandatory`, and not returned); if the copy cannot be placed the session ends
//! without acknowledging, and the broker redelivers the original on the next connection. No
//! message is lost either way.
//!
//! The session (connection, topology, channels, consume) is rebuilt whenever the connection or
//! a channel is lost, for as long as the service runs.

use crate::events::{self, Incoming};
use crate::store::{self, Applied};
use crate::topology::{self, RetryPolicy};
use futures_util::StreamExt;
use kit::amqp::lapin::message::Delivery;
use kit::amqp::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use kit::amqp::lapin::types::{AMQPValue, FieldTable, ShortString};
use kit::amqp::lapin::{self, BasicProperties, Channel, Connection};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;
use std::future::Future;
use std::time::{Duration, Instant};

/// The number of this delivery (1 for the first), carried on the retried copies.
pub const ATTEMPT_HEADER: &str = "x-attempt";
/// Why the previous attempt failed.
pub const LAST_ERROR_HEADER: &str = "x-last-error";
/// The routing key the event was published with; a retried copy comes back from the retry
/// queue under the main queue's name, so the original would otherwise be lost.
pub const ROUTING_KEY_HEADER: &str = "x-original-routing-key";

/// Headers RabbitMQ adds when it dead-letters a message out of a retry queue. Dropped from the
/// copies: `x-attempt` counts the attempts, and the history would only grow with each round.
const BROKER_HEADERS: [&str; 7] = [
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Unacknowledged messages the broker may send ahead (`basic.qos`).
    pub prefetch: u16,
    pub retry: RetryPolicy,
}

/// `{{ crate }}_messages_total{outcome}`: consumed messages by outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct MessageMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
}

impl MessageMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> MessageMetrics {
        let m = MessageMetrics::default();
        registry.register(
            "{{ crate }}_messages",
            "Consumed events, by outcome (processed, duplicate, retried, dead_lettered)",
            m.outcomes.clone(),
        );
        m
    }

    fn count(&self, outcome: &'static str) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

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

/// Why a session ended (the consumer then reconnects).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not take the copy for {queue}: {reason}")]
    NotConfirmed { queue: String, reason: String },
    #[error("the channel closed before the acknowledgement was sent")]
    AckLost,
    #[error("the broker cancelled the consumer")]
    Cancelled,
}

/// Parses and applies one message body: what the consumer does before it acknowledges.
pub async fn apply(pool: &PgPool, body: &[u8]) -> Result<(Applied, Incoming), Failure> {
    let event = Incoming::parse(body)?;
    let applied = store::apply(pool, &event).await?;
    Ok((applied, event))
}

pub struct Consumer {
    amqp_url: String,
    settings: Settings,
    pool: PgPool,
    metrics: MessageMetrics,
}

impl Consumer {
    pub fn new(
        amqp_url: String,
        settings: Settings,
        pool: PgPool,
        metrics: MessageMetrics,
    ) -> Consumer {
        Consumer {
            amqp_url,
            settings,
            pool,
            metrics,
        }
    }

    /// Consumes until `shutdown` resolves, reconnecting whenever the connection or a channel is
    /// lost. On shutdown the message in hand is finished and the connection closed, so the
    /// broker requeues the prefetched rest at once.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let first_delay = Duration::from_millis(200);
        let mut delay = first_delay;
        loop {
            let connection = tokio::select! {
                connection = kit::amqp::connect(&self.amqp_url, crate::SERVICE) => connection,
                () = &mut shutdown => return,
            };
            let started = Instant::now();
            let ended = self.session(&connection, shutdown.as_mut()).await;
            // Closing also returns any unacknowledged message to the queue straight away.
            // Bounded: a broker that stopped answering must not hold up the reconnect.
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                connection.close(200, crate::SERVICE.into()),
            )
            .await;
            match ended {
                Ok(()) => {
                    tracing::info!("consumer stopped");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "consumer session ended; reconnecting"),
            }
            // A session that ran a while was healthy: start the backoff over. One that fails
            // at once (say, a queue declared with other arguments) must not spin.
            if started.elapsed() > Duration::from_secs(30) {
                delay = first_delay;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = &mut shutdown => return,
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's worth of consuming: `Ok` on shutdown, `Err` when the connection or a
    /// channel is lost (or a copy could not be placed).
    async fn session(
        &self,
        connection: &Connection,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), SessionError> {
        let channel = connection.create_channel().await?;
        topology::declare(&channel, &self.settings.retry).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await?;
        // Copies go out on their own channel so that waiting for a confirm never interleaves
        // with deliveries.
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut deliveries = channel
            .basic_consume(
                topology::QUEUE.into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(
            queue = topology::QUEUE,
            prefetch = self.settings.prefetch,
            "consuming"
        );
        // One message at a time, in queue order: a retry never races the message after it,
        // and the prefetched ones are already on hand when the current one is done.
        loop {
            let next = tokio::select! {
                next = deliveries.next() => next,
                () = &mut shutdown => return Ok(()),
            };
            match next {
                Some(Ok(delivery)) => self.handle(&publisher, delivery).await?,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(SessionError::Cancelled),
            }
        }
    }

    /// Handles one delivery inside the trace and request it stems from.
    async fn handle(&self, publisher: &Channel, delivery: Delivery) -> Result<(), SessionError> {
        let traceparent = kit::amqp::header(&delivery.properties, "traceparent");
        let request_id = kit::amqp::header(&delivery.properties, "request_id");
        kit::trace::continue_in(
            traceparent.as_deref(),
            request_id.as_deref(),
            "consume",
            self.handle_in_trace(publisher, &delivery),
        )
        .await
    }

    async fn handle_in_trace(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
    ) -> Result<(), SessionError> {
        let attempt = attempt_of(&delivery.properties);
        let applied = match kit::amqp::header(&delivery.properties, "version") {
            Some(v) if v.trim() != events::VERSION.to_string() => {
                Err(Failure::UnsupportedVersion(v))
            }
            _ => apply(&self.pool, &delivery.data).await,
        };
        match applied {
            Ok((applied, event)) => {
                ack(delivery).await?;
                match applied {
                    Applied::New => {
                        self.metrics.count("processed");
                        tracing::info!(event_id = %event.id, event_type = %event.kind, attempt,
                            "event applied");
                    }
                    Applied::Duplicate => {
                        self.metrics.count("duplicate");
                        tracing::info!(event_id = %event.id, event_type = %event.kind,
                            redelivered = delivery.redelivered, "event already applied; skipped");
                    }
                }
            }
            Err(failure) if attempt < self.settings.retry.max_attempts => {
                let queue = topology::retry_queue(attempt);
                let headers = copy_headers(delivery, attempt + 1, &failure.to_string());
                publish_copy(publisher, delivery, &queue, headers).await?;
                ack(delivery).await?;
                self.metrics.count("retried");
                tracing::warn!(error = %failure, attempt, max_attempts = self.settings.retry.max_attempts,
                    retry_in_ms = self.settings.retry.delay(attempt).as_millis() as u64,
                    routing_key = %routing_key_of(delivery), "message failed; retrying later");
            }
            Err(failure) => {
                let headers = copy_headers(delivery, attempt, &failure.to_string());
                publish_copy(publisher, delivery, topology::DEAD_LETTER_QUEUE, headers).await?;
                ack(delivery).await?;
                self.metrics.count("dead_lettered");
                tracing::error!(error = %failure, attempts = attempt,
                    routing_key = %routing_key_of(delivery), "message failed every attempt; dead-lettered");
            }
        }
        Ok(())
    }
}

/// `x-attempt` of the message; 1 when absent or unreadable (a first delivery).
fn attempt_of(properties: &BasicProperties) -> u32 {
    kit::amqp::header(properties, ATTEMPT_HEADER)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

fn routing_key_of(delivery: &Delivery) -> String {
    kit::amqp::header(&delivery.properties, ROUTING_KEY_HEADER)
        .unwrap_or_else(|| delivery.routing_key.to_string())
}

/// The original headers without the broker's dead-lettering history, plus `x-attempt`,
/// `x-last-error` and the original routing key.
fn copy_headers(delivery: &Delivery, attempt: u32, error: &str) -> FieldTable {
    let mut headers = FieldTable::default();
    if let Some(original) = delivery.properties.headers() {
        for (name, value) in original {
            if !BROKER_HEADERS.contains(&name.as_str()) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    headers.insert(
        ShortString::from(ATTEMPT_HEADER),
        AMQPValue::LongLongInt(i64::from(attempt)),
    );
    // Bounded: a header is not the place for an unbounded error text.
    let error: String = error.chars().take(1000).collect();
    headers.insert(
        ShortString::from(LAST_ERROR_HEADER),
        AMQPValue::LongString(error.into()),
    );
    headers.insert(
        ShortString::from(ROUTING_KEY_HEADER),
        AMQPValue::LongString(routing_key_of(delivery).into()),
    );
    headers
}

/// The original's properties for a copy, persistent, except two that would lose or block it:
/// `expiration` (the copy would silently expire in the dead-letter queue) and `user_id`
/// (RabbitMQ rejects a publish whose `user_id` is not the publishing connection's user).
fn copy_properties(original: &BasicProperties, headers: FieldTable) -> BasicProperties {
    let mut copy = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(v) = original.content_type() {
        copy = copy.with_content_type(v.clone());
    }
    if let Some(v) = original.content_encoding() {
        copy = copy.with_content_encoding(v.clone());
    }
    if let Some(v) = original.correlation_id() {
        copy = copy.with_correlation_id(v.clone());
    }
    if let Some(v) = original.message_id() {
        copy = copy.with_message_id(v.clone());
    }
    if let Some(v) = original.timestamp() {
        copy = copy.with_timestamp(*v);
    }
    if let Some(v) = original.kind() {
        copy = copy.with_type(v.clone());
    }
    if let Some(v) = original.app_id() {
        copy = copy.with_app_id(v.clone());
    }
    copy
}

/// Publishes a copy of `delivery` (same body and properties, `headers`) to `queue` through the
/// default exchange and waits until the broker has taken it: confirmed, and not returned as
/// unroutable (an unroutable `mandatory` message is still confirmed with an ack).
async fn publish_copy(
    publisher: &Channel,
    delivery: &Delivery,
    queue: &str,
    headers: FieldTable,
) -> Result<(), SessionError> {
    let properties = copy_properties(&delivery.properties, headers);
    let confirmation = publisher
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    let not_confirmed = |reason: String| SessionError::NotConfirmed {
        queue: queue.to_owned(),
        reason,
    };
    if !confirmation.is_ack() {
        return Err(not_confirmed("nacked".into()));
    }
    if let Some(returned) = confirmation.take_message() {
        return Err(not_confirmed(format!(
            "returned: {} {}",
            returned.reply_code, returned.reply_text
        )));
    }
    Ok(())
}

async fn ack(delivery: &Delivery) -> Result<(), SessionError> {
    // `false`: the channel is gone, so the broker will redeliver; the session must end too.
    if delivery.acker.ack(BasicAckOptions::default()).await? {
        Ok(())
    } else {
        Err(SessionError::AckLost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_defaults_to_the_first() {
        let none = BasicProperties::default();
        assert_eq!(attempt_of(&none), 1);
        let three = BasicProperties::default()
            .with_headers(kit::amqp::string_headers([("x-attempt", "3")]));
        assert_eq!(attempt_of(&three), 3);
        let zero = BasicProperties::default()
            .with_headers(kit::amqp::string_headers([("x-attempt", "0")]));
        assert_eq!(attempt_of(&zero), 1);
    }

    #[test]
    fn copies_drop_the_broker_history_and_count_the_attempt() {
        let mut original = kit::amqp::string_headers([("event_id", "e1"), ("x-attempt", "2")]);
        original.insert("x-death".into(), AMQPValue::FieldArray(vec![].into()));
        let mut delivery = Delivery::mock(1, "".into(), topology::QUEUE.into(), false, vec![]);
        delivery.properties = BasicProperties::default().with_headers(original);
        let copy = BasicProperties::default().with_headers(copy_headers(&delivery, 3, "boom"));
        let header = |name: &str| kit::amqp::header(&copy, name);
        assert_eq!(header("event_id").as_deref(), Some("e1"));
        assert_eq!(header(ATTEMPT_HEADER).as_deref(), Some("3"));
        assert_eq!(header(LAST_ERROR_HEADER).as_deref(), Some("boom"));
        assert_eq!(header(ROUTING_KEY_HEADER).as_deref(), Some(topology::QUEUE));
        assert_eq!(header("x-death"), None);
    }

    #[test]
    fn copies_keep_the_properties_but_not_expiry_or_user() {
        let original = BasicProperties::default()
            .with_message_id("e1".into())
            .with_content_type("application/json".into())
            .with_expiration("60000".into())
            .with_user_id("someone".into());
        let copy = copy_properties(&original, FieldTable::default());
        assert_eq!(copy.message_id().as_ref().map(|v| v.as_str()), Some("e1"));
        assert_eq!(
            copy.content_type().as_ref().map(|v| v.as_str()),
            Some("application/json")
        );
        assert_eq!(*copy.delivery_mode(), Some(2));
        assert_eq!(*copy.expiration(), None);
        assert_eq!(*copy.user_id(), None);
    }
}
{% endif %}
