//! Watching what a service publishes: a test binds its own queue to the events exchange and
//! collects every message, with the properties and headers the relay set.

use futures_util::StreamExt;
use kit::amqp::lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use kit::amqp::lapin::types::FieldTable;
use serde_json::Value;
use std::collections::HashMap;

/// A message as a test sees it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub routing_key: String,
    /// Every header, as text.
    pub headers: HashMap<String, String>,
    pub message_id: Option<String>,
    pub app_id: Option<String>,
    /// The body as JSON (`null` if it is not JSON).
    pub body: Value,
}

/// Binds an exclusive queue on `amqp_url` to the events exchange with `binding` and hands each
/// message that arrives to `each`, until the test ends. Call it before anything is published:
/// with no queue bound, a relay's messages are unroutable and retried.
pub async fn tap(amqp_url: &str, binding: &str, mut each: impl FnMut(Delivered) + Send + 'static) {
    let connection = kit::amqp::connect(amqp_url, "test tap").await;
    let channel = connection.create_channel().await.unwrap();
    kit::amqp::declare_events_exchange(&channel).await.unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().clone(),
            kit::amqp::EVENTS_EXCHANGE.into(),
            binding.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "tap".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    tokio::spawn(async move {
        let _keep = connection;
        while let Some(Ok(delivery)) = consumer.next().await {
            let props = &delivery.properties;
            let headers = props
                .headers()
                .as_ref()
                .map(|h| {
                    h.inner()
                        .keys()
                        .filter_map(|k| {
                            kit::amqp::header(props, k.as_str()).map(|v| (k.to_string(), v))
                        })
                        .collect()
                })
                .unwrap_or_default();
            each(Delivered {
                routing_key: delivery.routing_key.to_string(),
                headers,
                message_id: props.message_id().as_ref().map(|m| m.to_string()),
                app_id: props.app_id().as_ref().map(|m| m.to_string()),
                body: serde_json::from_slice(&delivery.data).unwrap_or(Value::Null),
            });
        }
    });
}
