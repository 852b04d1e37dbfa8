//! The transactional outbox, for every service that publishes domain events: an event is
//! written to the service's `outbox` table in the same transaction as the change it announces
//! ([`enqueue`], or [`Outgoing::bind`] inside a larger statement), and the [`Relay`] publishes
//! unsent rows to the events exchange ([`crate::amqp::EVENTS_EXCHANGE`], routing key = event
//! type) and marks them sent. So a change and its event commit together or not at all.
//!
//! The table is kit's: [`create_table`] creates it ([`TABLE`], [`INDEX`]) once a publishing
//! service's own migrations have run, so no service copies it into a migration of its own.
//!
//! A row counts as sent only when RabbitMQ confirmed it (publisher confirms) *and* did not return
//! it: messages are published `mandatory`, and an unroutable one (no queue bound yet) still acks,
//! with the message handed back. Returned or nacked rows stay unsent and are retried, so an event
//! is never lost; a crash between publishing and marking re-publishes it (at least once; the
//! consumers deduplicate by event id).
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas can relay side by side.
//! Events are published in commit order unless one is returned while a later one is not;
//! consumers must not rely on the order.
//!
//! Messages carry the properties and headers of docs/events.md: `message_id` = event id, `type`,
//! `app_id` (the service), persistent, `timestamp`; headers `event_id`, `event_type`, `version`,
//! `occurred_at`, and the `traceparent` and `request_id` of the request that caused the event.

use crate::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use crate::amqp::lapin::{BasicProperties, Channel};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The outbox table (and [`INDEX`]), shipped once for every publishing service. Idempotent
/// (`IF NOT EXISTS`), and applied by [`create_table`] rather than as a migration file. Why:
///
/// - sqlx records a checksum of every migration it applied and refuses to start when a file
///   changes, so the order and user services' migrations that already create this very table
///   (`20240101000001_orders.sql`, `20240101000003_create_outbox.sql`) must stay byte for byte
///   as they shipped, or every existing volume would stop starting;
/// - a kit migration file added to each service's `migrations/` would be a copy again, and one
///   merged into the service's migrator would fail on those databases (`CREATE TABLE` of a
///   table that exists) unless it were idempotent anyway.
///
/// So the DDL is idempotent and runs after the service's migrator: on a database whose
/// migrations created the table (old and new order/user databases alike) it changes nothing
/// and [`create_table`] only checks the columns; on a service without such a migration (every
/// service `msctl new service` makes) it creates the table. A service's migrations therefore
/// never create or alter `outbox`.
pub const TABLE: &str = "CREATE TABLE IF NOT EXISTS outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    event_type   text NOT NULL,
    payload      jsonb NOT NULL,
    traceparent  text,
    request_id   text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
)";

/// The index of [`TABLE`] that finds unsent rows, created with it.
pub const INDEX: &str =
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL";

/// The columns [`enqueue`] and the [`Relay`] use, checked on a table that existed before.
const TABLE_COLUMNS: [&str; 10] = [
    "seq",
    "event_id",
    "event_type",
    "payload",
    "traceparent",
    "request_id",
    "occurred_at",
    "sent_at",
    "attempts",
    "last_error",
];

/// Serialises [`create_table`] across replicas starting at once (`CREATE TABLE IF NOT EXISTS`
/// is not safe against a concurrent create of the same table).
const TABLE_LOCK: i64 = 0x4b49_545f_4f55_5442; // "KIT_OUTB"

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("outbox table: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the outbox table lacks the column(s) {}: it is not kit's (kit::outbox::TABLE)", .0.join(", "))]
    MissingColumns(Vec<String>),
}

/// Creates the outbox table ([`TABLE`], [`INDEX`]) unless it exists, and checks that a table
/// that existed has every column the relay uses (one of another shape is an error, not used).
/// Call it after the service's migrations (`startup::connect`), before anything writes an
/// event.
pub async fn create_table(pool: &PgPool) -> Result<(), TableError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(TABLE_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(TABLE).execute(&mut *tx).await?;
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'outbox'",
    )
    .fetch_all(&mut *tx)
    .await?;
    let missing: Vec<String> = TABLE_COLUMNS
        .iter()
        .filter(|c| !present.iter().any(|p| p == *c))
        .map(|c| (*c).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(TableError::MissingColumns(missing));
    }
    sqlx::query(INDEX).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The outbox columns an event is inserted into, in the order of [`Outgoing::bind`]'s binds:
/// event id, type, payload, traceparent, request id, occurred at.
pub const COLUMNS: &str = "event_id, event_type, payload, traceparent, request_id, occurred_at";

const BATCH: i64 = 200;
/// Every event body is JSON.
pub const CONTENT_TYPE: &str = "application/json";

/// What a consumer gets of an event besides its body, as the relay publishes it: exchange,
/// routing key (the event type), content type and the `version` header. Contract verification
/// answers message pacts with it (docs/contracts.md); the per-message headers (ids, trace) are
/// left out, as no consumer may depend on their values.
pub fn metadata(event_type: &str, version: u32) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("contentType".into(), CONTENT_TYPE.into());
    m.insert("exchange".into(), crate::amqp::EVENTS_EXCHANGE.into());
    m.insert("routing_key".into(), event_type.into());
    m.insert("version".into(), version.to_string().into());
    m
}
/// Sent rows are kept this long (for inspection), then deleted.
const KEEP_SENT: &str = "1 hour";

/// An event about to be written to the outbox: its id, type (the routing key), the message body,
/// when it happened, and the trace it continues (the current request or saga step).
#[derive(Debug, Clone)]
pub struct Outgoing<P> {
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: P,
    pub occurred_at: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub request_id: Option<String>,
}

/// A query whose next parameters are an event's outbox values.
pub type OutboxQuery<'q, O> =
    sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>;

impl<P: Serialize + Sync> Outgoing<P> {
    /// An event with the trace context of the current span (`traceparent`, `x-request-id`).
    /// `event_id` and `occurred_at` should be the ones the payload states, if it states them.
    pub fn new(
        event_id: Uuid,
        event_type: impl Into<String>,
        occurred_at: DateTime<Utc>,
        payload: P,
    ) -> Outgoing<P> {
        let trace = crate::trace::outgoing_headers();
        let header = |name: &str| {
            trace
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Outgoing {
            event_id,
            event_type: event_type.into(),
            payload,
            occurred_at,
            traceparent: header("traceparent"),
            request_id: header("x-request-id"),
        }
    }

    /// Binds the event's values, in [`COLUMNS`] order, as the query's next parameters (for an
    /// `INSERT INTO outbox` inside a larger statement).
    pub fn bind<'q, O>(&'q self, query: OutboxQuery<'q, O>) -> OutboxQuery<'q, O> {
        query
            .bind(self.event_id)
            .bind(self.event_type.as_str())
            .bind(sqlx::types::Json(&self.payload))
            .bind(&self.traceparent)
            .bind(&self.request_id)
            .bind(self.occurred_at)
    }
}

/// Writes `event` to the outbox on `conn` (the caller's transaction); returns its id. Notify the
/// relay's `wake` after the commit, so it goes out without polling delay.
pub async fn enqueue<P: Serialize + Sync>(
    conn: &mut PgConnection,
    event: &Outgoing<P>,
) -> sqlx::Result<Uuid> {
    let sql = format!(
        "INSERT INTO outbox ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING event_id"
    );
    let (id,): (Uuid,) = event.bind(sqlx::query_as(&sql)).fetch_one(conn).await?;
    Ok(id)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// `outbox_messages{outcome}`: published, returned (unroutable), nacked; and `outbox_lag_seconds`:
/// how old the oldest unsent row was when the relay last looked (0 when none waited), the
/// figure that says events are late before anyone misses one.
#[derive(Clone, Default)]
pub struct RelayMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
    lag: prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl RelayMetrics {
    pub fn new(registry: &crate::metrics::Metrics) -> RelayMetrics {
        let m = RelayMetrics::default();
        registry.register(
            "outbox_messages",
            "Outbox rows the relay tried to publish, by outcome (published, returned, nacked)",
            m.outcomes.clone(),
        );
        registry.register(
            "outbox_lag_seconds",
            "Age of the oldest unsent outbox row when the relay last looked (0: none waited)",
            m.lag.clone(),
        );
        m
    }

    fn count(&self, outcome: &'static str, n: usize) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(n as u64);
    }
}

/// Publishes a service's outbox. Run it as a cancellable worker ([`Relay::worker`]): its state
/// is in the database.
#[derive(Clone)]
pub struct Relay {
    pub pool: PgPool,
    pub amqp_url: String,
    /// The publishing service: the messages' `app_id` and the connection's name.
    pub app_id: String,
    /// The `version` header: the schema version of the service's events.
    pub version: u32,
    /// Notified when a transaction wrote to the outbox, so events go out without polling delay.
    pub wake: Arc<Notify>,
    pub metrics: RelayMetrics,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

struct Batch {
    published: usize,
    failed: usize,
}

impl Relay {
    /// A relay for `app_id`'s outbox on `pool`, publishing to `amqp_url`, its metrics registered
    /// in `registry`.
    pub fn new(
        app_id: &str,
        version: u32,
        pool: PgPool,
        amqp_url: &str,
        wake: Arc<Notify>,
        registry: &crate::metrics::Metrics,
    ) -> Relay {
        Relay {
            pool,
            amqp_url: amqp_url.to_owned(),
            app_id: app_id.to_owned(),
            version,
            wake,
            metrics: RelayMetrics::new(registry),
        }
    }

    /// The relay as a service's worker ("outbox relay", cancellable).
    pub fn worker(self) -> crate::Worker {
        crate::Worker::cancellable("outbox relay", self.run())
    }

    /// Runs forever: (re)connects to RabbitMQ and relays.
    pub async fn run(self) {
        let mut last_prune = std::time::Instant::now();
        let name = format!("{} outbox relay", self.app_id);
        loop {
            let connection = crate::amqp::connect(&self.amqp_url, &name).await;
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

    async fn open(&self, connection: &lapin::Connection) -> Result<Channel, RelayError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        crate::amqp::declare_events_exchange(&channel).await?;
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
            DateTime<Utc>,
        )> = sqlx::query_as(
            "SELECT seq, event_id, event_type, payload, traceparent, request_id, occurred_at
             FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        // Rows come oldest first: the first one's age is the backlog's.
        let lag = rows.first().map_or(0.0, |r| {
            (Utc::now() - r.6).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.metrics.lag.set(lag);
        if rows.is_empty() {
            return Ok(Batch {
                published: 0,
                failed: 0,
            });
        }
        let version = self.version.to_string();
        let mut pending = Vec::with_capacity(rows.len());
        for (seq, event_id, event_type, payload, traceparent, request_id, occurred_at) in &rows {
            let id = event_id.to_string();
            let occurred = occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
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
                .with_content_type(CONTENT_TYPE.into())
                .with_app_id(self.app_id.as_str().into())
                .with_delivery_mode(2)
                .with_timestamp(occurred_at.timestamp().max(0) as u64)
                .with_headers(crate::amqp::string_headers(headers));
            let body = serde_json::to_vec(&payload.0).expect("JSON value serialises");
            let confirm = channel
                .basic_publish(
                    crate::amqp::EVENTS_EXCHANGE.into(),
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
