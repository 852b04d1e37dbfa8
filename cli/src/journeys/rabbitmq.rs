//! `expect_message`: a temporary queue per message step, bound before the journey's first step
//! so that the event cannot be published before anyone listens; the step then waits for a
//! message that satisfies its matchers.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// A message as the matchers see it.
#[derive(Debug, Clone)]
pub struct Message {
    pub routing_key: String,
    pub headers: Map<String, Value>,
    /// The body as JSON, or as a string when it is not JSON.
    pub body: Value,
}

/// What arrived on one bound queue, in order.
#[derive(Clone, Default)]
pub struct Inbox {
    messages: Arc<Mutex<Vec<Message>>>,
    arrived: Arc<Notify>,
}

impl Inbox {
    /// Waits until a message (one that arrived since the queue was bound) satisfies `wanted`,
    /// or `within` passes. Returns the match, or how many messages were looked at.
    pub async fn wait(
        &self,
        within: Duration,
        wanted: impl Fn(&Message) -> bool,
    ) -> Result<Message, usize> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = 0;
        loop {
            // Registered before looking, so a message arriving in between still wakes us.
            let arrived = self.arrived.notified();
            {
                let messages = self.messages.lock().await;
                if let Some(m) = messages[seen..].iter().find(|m| wanted(m)) {
                    return Ok(m.clone());
                }
                seen = messages.len();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Err(seen);
            }
        }
    }

    /// The messages looked at so far (for a failure report).
    pub async fn snapshot(&self) -> Vec<Message> {
        self.messages.lock().await.clone()
    }
}

/// One connection per journey run; dropped (queues auto-deleted) when the run ends.
pub struct Listener {
    connection: Connection,
}

impl Listener {
    pub async fn connect(url: &str) -> Result<Self, String> {
        let properties =
            ConnectionProperties::default().with_connection_name("msctl-journeys".into());
        let connection = tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(url, properties),
        )
        .await
        .map_err(|_| "connecting to RabbitMQ timed out after 10s".to_string())?
        .map_err(|e| format!("connecting to RabbitMQ: {e}"))?;
        Ok(Listener { connection })
    }

    /// Binds an exclusive, auto-deleted queue to `exchange` with `routing_key` and collects
    /// what arrives on it.
    pub async fn bind(&self, exchange: &str, routing_key: &str) -> Result<Inbox, String> {
        let what =
            |e: lapin::Error| format!("binding a queue to `{exchange}` ({routing_key}): {e}");
        let channel = self.connection.create_channel().await.map_err(what)?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(what)?;
        channel
            .queue_bind(
                queue.name().clone(),
                exchange.into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(what)?;
        let mut consumer = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(what)?;
        let inbox = Inbox::default();
        let filler = inbox.clone();
        tokio::spawn(async move {
            // Keeps the channel alive as long as the consumer runs.
            let _channel = channel;
            while let Some(Ok(delivery)) = consumer.next().await {
                let body = serde_json::from_slice(&delivery.data).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&delivery.data).into_owned())
                });
                let headers = delivery
                    .properties
                    .headers()
                    .as_ref()
                    .map(|t| {
                        t.inner()
                            .iter()
                            .map(|(k, v)| (k.as_str().to_owned(), header_json(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                filler.messages.lock().await.push(Message {
                    routing_key: delivery.routing_key.as_str().to_owned(),
                    headers,
                    body,
                });
                filler.arrived.notify_waiters();
            }
        });
        Ok(inbox)
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "journey done".into()).await;
    }
}

/// Headers as JSON: strings and numbers as themselves, anything else as its debug text.
fn header_json(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::LongString(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into()),
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::Float(n) => Value::from(*n),
        AMQPValue::Double(n) => Value::from(*n),
        AMQPValue::Timestamp(n) => Value::from(*n),
        other => Value::String(format!("{other:?}")),
    }
}
