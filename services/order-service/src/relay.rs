//! The outbox relay: publishes unsent outbox rows to the events exchange and marks them sent.
//!
//! A row counts as sent only when RabbitMQ confirmed it (publisher confirms) *and* did not return
//! it: messages are published `mandatory`, and an unroutable one (no queue bound yet) still acks,
//! with the message handed back. Returned or nacked rows stay unsent and are retried, so an event
//! is never lost; a crash between publishing and marking re-publishes it (at least once; the
//! consumers deduplicate by event id).
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas can relay side by side.
//! Events of one order are published in commit order unless one is returned while a later one
//! is not; consumers must not rely on the order (the notification service does not).

use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use kit::amqp::lapin::{BasicProperties, Channel};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

const BATCH: i64 = 200;
/// Sent rows are kept this long (for inspection), then deleted.
const KEEP_SENT: &str = "1 hour";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// `outbox_messages{outcome}`: published, returned (unroutable), nacked.
#[derive(Clone, Default)]
pub struct RelayMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
}

impl RelayMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> RelayMetrics {
        let m = RelayMetrics::default();
        registry.register(
            "outbox_messages",
            "Outbox rows the relay tried to publish, by outcome (published, returned, nacked)",
            m.outcomes.clone(),
        );
        m
    }

    fn count(&self, outcome: &'static str, n: usize) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(n as u64);
    }
}

#[derive(Clone)]
pub struct Relay {
    pub pool: PgPool,
    pub amqp_url: String,
    /// Notified when a transaction wrote to the outbox, so events go out without polling delay.
    pub wake: Arc<Notify>,
    pub metrics: RelayMetrics,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(#[from] kit::amqp::lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

struct Batch {
    published: usize,
    failed: usize,
}

impl Relay {
    /// Runs forever: (re)connects to RabbitMQ and relays.
    pub async fn run(self) {
        let mut last_prune = std::time::Instant::now();
        loop {
            let connection = kit::amqp::connect(&self.amqp_url, "order-service outbox relay").await;
            let channel = match self.open(&connection).await {
                Ok(channel) => channel,
                Err(e) => {
                    tracing::warn!(error = %e, "relay: could not open a channel");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                if last_prune.elapsed() > Duration::from_secs(60) {
                    last_prune = std::time::Instant::now();
                    let _ = sqlx::query(&format!(
                        "DELETE FROM outbox WHERE sent_at < now() - interval '{KEEP_SENT}'"
                    ))
                    .execute(&self.pool)
                    .await;
                }
                match self.publish_batch(&channel).await {
                    Ok(Batch { published, failed }) if failed > 0 && published == 0 => {
                        // Nothing routable: wait before trying again rather than spin.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Ok(Batch { published: 0, .. }) => {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(500), self.wake.notified())
                                .await;
                    }
                    Ok(_) => {}
                    Err(RelayError::Broker(e)) => {
                        tracing::warn!(error = %e, "relay: lost RabbitMQ; reconnecting");
                        break;
                    }
                    Err(RelayError::Database(e)) => {
                        tracing::warn!(error = %e, "relay: database error");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                if !channel.status().connected() {
                    tracing::warn!("relay: channel closed; reconnecting");
                    break;
                }
            }
            let _ = connection.close(200, "reconnecting".into()).await;
        }
    }

    async fn open(&self, connection: &kit::amqp::lapin::Connection) -> Result<Channel, RelayError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        kit::amqp::declare_events_exchange(&channel).await?;
        Ok(channel)
    }

    async fn publish_batch(&self, channel: &Channel) -> Result<Batch, RelayError> {
        let mut tx = self.pool.begin().await?;
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            i64,
            Uuid,
            String,
            sqlx::types::Json<serde_json::Value>,
            Option<String>,
            Option<String>,
            chrono::DateTime<chrono::Utc>,
        )> = sqlx::query_as(
            "SELECT seq, event_id, event_type, payload, traceparent, request_id, occurred_at
             FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Batch {
                published: 0,
                failed: 0,
            });
        }
        let mut pending = Vec::with_capacity(rows.len());
        for (seq, event_id, event_type, payload, traceparent, request_id, occurred_at) in &rows {
            let id = event_id.to_string();
            let occurred = occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let version = crate::events::VERSION.to_string();
            let mut headers = vec![
                ("event_id", id.as_str()),
                ("event_type", event_type.as_str()),
                ("version", version.as_str()),
                ("occurred_at", occurred.as_str()),
            ];
            if let Some(t) = traceparent {
                headers.push(("traceparent", t));
            }
            if let Some(r) = request_id {
                headers.push(("request_id", r));
            }
            let properties = BasicProperties::default()
                .with_message_id(id.as_str().into())
                .with_type(event_type.as_str().into())
                .with_content_type("application/json".into())
                .with_app_id("order-service".into())
                .with_delivery_mode(2)
                .with_timestamp(occurred_at.timestamp().max(0) as u64)
                .with_headers(kit::amqp::string_headers(headers));
            let body = serde_json::to_vec(&payload.0).expect("JSON value serialises");
            let confirm = channel
                .basic_publish(
                    kit::amqp::EVENTS_EXCHANGE.into(),
                    event_type.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    properties,
                )
                .await?;
            pending.push((*seq, event_type, confirm));
        }
        let mut sent = Vec::new();
        let mut failed = Vec::new();
        for (seq, event_type, confirm) in pending {
            let confirmation = confirm.await?;
            if !confirmation.is_ack() {
                self.metrics.count("nacked", 1);
                failed.push((seq, "nacked by the broker".to_owned()));
            } else if let Some(returned) = confirmation.take_message() {
                self.metrics.count("returned", 1);
                tracing::warn!(%event_type, reply = %returned.reply_text, "relay: event unroutable (no queue bound); will retry");
                failed.push((seq, format!("returned: {}", returned.reply_text)));
            } else {
                sent.push(seq);
            }
        }
        sqlx::query(
            "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE seq = ANY($1)",
        )
        .bind(&sent)
        .execute(&mut *tx)
        .await?;
        for (seq, error) in &failed {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1",
            )
            .bind(seq)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.metrics.count("published", sent.len());
        Ok(Batch {
            published: sent.len(),
            failed: failed.len(),
        })
    }
}
