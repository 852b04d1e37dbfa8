{% if consumes %}
//! Events in ({% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}): applied once (the inbox), duplicates skipped, poison messages
//! retried and then dead-lettered, on a real RabbitMQ (a fresh virtual host per test).

use crate::helpers::*;
use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use kit::amqp::lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

use {{ crate }}::topology;

/// A publishing channel on the app's virtual host, once the service's queues exist (declared
/// here too, with the same policy: declarations are idempotent).
async fn publisher(app: &TestApp) -> (Connection, Channel) {
    let connection = Connection::connect(&app.amqp_url, ConnectionProperties::default())
        .await
        .expect("test connection");
    let channel = connection.create_channel().await.unwrap();
    topology::declare(&channel, &settings().retry)
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (connection, channel)
}

/// Publishes `body` to the events exchange as a publishing service's relay would.
async fn publish(channel: &Channel, routing_key: &str, event_id: &str, body: &[u8]) {
    let properties = BasicProperties::default()
        .with_message_id(event_id.into())
        .with_type(routing_key.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(kit::amqp::string_headers([
            ("event_id", event_id),
            ("event_type", routing_key),
            ("version", "1"),
        ]));
    let confirmation = channel
        .basic_publish(
            kit::amqp::EVENTS_EXCHANGE.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirmation.is_ack());
    assert!(confirmation.take_message().is_none(), "unroutable");
}

fn event(kind: &str) -> Value {
    json!({"id": Uuid::new_v4(), "type": kind, "version": 1,
        "occurred_at": "2026-11-21T20:00:00Z", "data": {"example": true}})
}

/// `{{ crate }}_messages_total{outcome}` from /metrics (0 when not counted yet).
async fn messages(app: &TestApp, outcome: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = ["{{ crate }}_messages_total{outcome=\"", outcome, "\"} "].concat();
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

async fn wait_for_messages(app: &TestApp, outcome: &str, count: u64) {
    eventually(
        &format!("{count} {outcome} messages"),
        Duration::from_secs(20),
        || async { (messages(app, outcome).await >= count).then_some(()) },
    )
    .await;
    assert_eq!(messages(app, outcome).await, count, "{outcome}");
}

#[tokio::test]
async fn every_consumed_event_is_applied_once() {
    let app = spawn_app().await;
    let (_connection, channel) = publisher(&app).await;
    for kind in {{ crate }}::events::CONSUMED {
        let event = event(kind);
        let id = event["id"].as_str().unwrap();
        // Published twice (a duplicate publish, or a redelivery): applied once.
        for _ in 0..2 {
            publish(&channel, kind, id, event.to_string().as_bytes()).await;
        }
    }
    let kinds = {{ crate }}::events::CONSUMED.len() as u64;
    wait_for_messages(&app, "processed", kinds).await;
    wait_for_messages(&app, "duplicate", kinds).await;
    assert_eq!(app.count("inbox").await, kinds as i64);
}

#[tokio::test]
async fn poison_messages_are_retried_then_dead_lettered() {
    let app = spawn_app().await;
    let (connection, channel) = publisher(&app).await;
    let kind = {{ crate }}::events::CONSUMED[0];
    publish(&channel, kind, "not-an-event", b"this is not JSON").await;
    let mut other_version = event(kind);
    other_version["version"] = json!(2);
    let id = other_version["id"].as_str().unwrap().to_owned();
    publish(&channel, kind, &id, other_version.to_string().as_bytes()).await;

    // 3 attempts each: 2 retries, then the dead-letter queue.
    wait_for_messages(&app, "dead_lettered", 2).await;
    assert_eq!(messages(&app, "retried").await, 4);
    assert_eq!(messages(&app, "processed").await, 0);
    assert_eq!(app.count("inbox").await, 0);
    let inspect = connection.create_channel().await.unwrap();
    let dlq = inspect
        .queue_declare(
            topology::DEAD_LETTER_QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(dlq.message_count(), 2);
}
{% endif %}
