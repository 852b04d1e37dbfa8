//! A RabbitMQ consumer every service that consumes events runs: the service says what a
//! message does ([`Handler`]); the kit does the rest, once for every service.
//!
//! At-least-once in, exactly-once in effect: a message is acknowledged only after the handler's
//! transaction commits (an inbox row with the effect), so a crash between the two redelivers a
//! message whose event id is already in the inbox, and the handler reports it a duplicate.
//!
//! A message that fails (unreadable, another version, a database error) is never requeued in
//! place, where it would come straight back and hold up the queue: a copy with `x-attempt` + 1
//! and `x-last-error` goes to the retry queue of its attempt (it returns to the main queue
//! after that queue's delay), or, after `max_attempts` deliveries, to the dead-letter queue
//! (and the handler's record of it, if it keeps one). The original is acknowledged only once
//! the broker has confirmed the copy (publisher confirms, `mandatory`, and not returned); if
//! the copy cannot be placed the session ends without acknowledging, and the broker redelivers
//! the original on the next connection. No message is lost either way.
//!
//! The session (connection, topology, channels, consume) is rebuilt whenever the connection or
//! a channel is lost, for as long as the service runs.

pub mod copies;
pub mod topology;

pub use copies::{
    headers_json, without_nul, ATTEMPT_HEADER, LAST_ERROR_HEADER, ROUTING_KEY_HEADER,
};
pub use topology::{RetryPolicy, Topology};

use copies::{ack, attempt_of, copy_headers, publish_copy, routing_key_of};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::future::Future;
use std::time::{Duration, Instant};

/// How a service's consumer is tuned (its configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Unacknowledged messages the broker may send ahead (`basic.qos`).
    pub prefetch: u16,
    pub retry: RetryPolicy,
}

/// What applying a message did; either way it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Its event id was in the inbox already: applied before, skipped now.
    Duplicate,
}

/// A message that failed every attempt, as a handler may record it.
pub struct DeadLetter<'a> {
    pub delivery: &'a Delivery,
    pub routing_key: String,
    pub error: String,
    pub attempts: u32,
    /// The dead-lettered copy's headers (`x-attempt`, `x-last-error`, …), as JSON.
    pub headers: serde_json::Value,
}

/// What a service's consumer does with a message.
pub trait Handler: Send + Sync + 'static {
    /// Parses and applies one message, committed before it returns `Ok` (the consumer then
    /// acknowledges it); logs what it did. The `Err` text goes to the log and `x-last-error`.
    fn apply(&self, delivery: &Delivery) -> impl Future<Output = Result<Handled, String>> + Send;

    /// Before a message goes to the dead-letter queue: the record of it, opened in a
    /// transaction that is committed once the broker has the copy (the queue copy is what must
    /// not fail; a record that cannot be made is logged, and the copy still goes). Default:
    /// none kept.
    fn record_dead_letter(
        &self,
        _letter: &DeadLetter<'_>,
    ) -> impl Future<Output = Option<sqlx::Transaction<'static, sqlx::Postgres>>> + Send {
        async { None }
    }
}

/// `<service>_messages_total{outcome}`: consumed messages by outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct MessageMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
}

impl MessageMetrics {
    /// Registers `NAME_total` (`notification_messages`) with `help` in `registry`.
    pub fn new(registry: &crate::metrics::Metrics, name: &str, help: &str) -> MessageMetrics {
        let m = MessageMetrics::default();
        registry.register(name, help, m.outcomes.clone());
        m
    }

    fn count(&self, outcome: &'static str) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
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

pub struct Consumer<H> {
    /// The connection's name on the broker.
    service: &'static str,
    amqp_url: String,
    topology: Topology,
    prefetch: u16,
    handler: H,
    metrics: MessageMetrics,
}

impl<H: Handler> Consumer<H> {
    /// Consumes `queue`, bound to `bindings` on the events exchange, with `settings`.
    pub fn new(
        service: &'static str,
        amqp_url: String,
        queue: &str,
        bindings: &[&str],
        settings: &Settings,
        handler: H,
        metrics: MessageMetrics,
    ) -> Consumer<H> {
        Consumer {
            service,
            amqp_url,
            topology: Topology {
                queue: queue.to_owned(),
                bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
                retry: settings.retry,
            },
            prefetch: settings.prefetch,
            handler,
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
                connection = crate::amqp::connect(&self.amqp_url, self.service) => connection,
                () = &mut shutdown => return,
            };
            let started = Instant::now();
            let ended = self.session(&connection, shutdown.as_mut()).await;
            // Closing also returns any unacknowledged message to the queue straight away.
            // Bounded: a broker that stopped answering must not hold up the reconnect (or the
            // shutdown).
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                connection.close(200, self.service.into()),
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
        self.topology.declare(&channel).await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        // Copies go out on their own channel so that waiting for a confirm never interleaves
        // with deliveries.
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut deliveries = channel
            .basic_consume(
                self.topology.queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(
            queue = %self.topology.queue,
            prefetch = self.prefetch,
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
        let traceparent = crate::amqp::header(&delivery.properties, "traceparent");
        let request_id = crate::amqp::header(&delivery.properties, "request_id");
        crate::trace::continue_in(
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
        let max_attempts = self.topology.retry.max_attempts;
        match self.handler.apply(delivery).await {
            Ok(handled) => {
                ack(delivery).await?;
                self.metrics.count(match handled {
                    Handled::Applied => "processed",
                    Handled::Duplicate => "duplicate",
                });
            }
            Err(failure) if attempt < max_attempts => {
                let queue = self.topology.retry_queue(attempt);
                let headers = copy_headers(delivery, attempt + 1, &failure);
                publish_copy(publisher, delivery, &queue, headers).await?;
                ack(delivery).await?;
                self.metrics.count("retried");
                tracing::warn!(error = %failure, attempt, max_attempts,
                    retry_in_ms = self.topology.retry.delay(attempt).as_millis() as u64,
                    routing_key = %routing_key_of(delivery), "message failed; retrying later");
            }
            Err(failure) => {
                self.dead_letter(publisher, delivery, attempt, &failure)
                    .await?;
                ack(delivery).await?;
                self.metrics.count("dead_lettered");
                tracing::error!(error = %failure, attempts = attempt,
                    routing_key = %routing_key_of(delivery), "message failed every attempt; dead-lettered");
            }
        }
        Ok(())
    }

    /// Puts the message on the dead-letter queue, recorded by the handler when it keeps a
    /// record (committed once the queue has the copy).
    async fn dead_letter(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
        attempt: u32,
        failure: &str,
    ) -> Result<(), SessionError> {
        let headers = copy_headers(delivery, attempt, failure);
        let letter = DeadLetter {
            delivery,
            routing_key: routing_key_of(delivery),
            error: failure.to_owned(),
            attempts: attempt,
            headers: headers_json(&headers),
        };
        let record = self.handler.record_dead_letter(&letter).await;
        publish_copy(
            publisher,
            delivery,
            &self.topology.dead_letter_queue(),
            headers,
        )
        .await?;
        if let Some(tx) = record {
            if let Err(e) = tx.commit().await {
                tracing::error!(error = %e, "could not record the dead letter; it is in the queue only");
            }
        }
        Ok(())
    }
}
