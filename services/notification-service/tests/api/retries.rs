//! Failures: retried with backoff through the retry queues, then dead-lettered (queue and
//! table), without holding up the messages behind them.

use crate::helpers::*;
use kit::amqp::lapin::message::BasicGetMessage;
use kit::amqp::lapin::options::{BasicAckOptions, BasicGetOptions};
use notification_service::topology;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Takes every message from `queue`, acknowledged.
async fn drain(app: &TestApp, queue: &str) -> Vec<BasicGetMessage> {
    let channel = app.connection.create_channel().await.unwrap();
    let mut messages = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
    {
        message.ack(BasicAckOptions::default()).await.unwrap();
        messages.push(message);
    }
    messages
}

#[tokio::test]
async fn poison_messages_are_retried_with_backoff_then_dead_lettered_without_blocking() {
    // 3 attempts, with waits of 1 s and 2 s between them.
    let mut app = spawn_with(settings(3, 1000)).await;
    app.start_consumer();
    let (user, order) = (Uuid::new_v4(), Uuid::new_v4());

    let garbage_id = Uuid::new_v4().to_string();
    let mut no_user = order_event("order.confirmed", user, order);
    no_user["data"].as_object_mut().unwrap().remove("user_id");
    let no_user_id = no_user["id"].as_str().unwrap().to_owned();
    let good = order_event("order.confirmed", user, order);

    let started = Instant::now();
    app.publish_raw("order.confirmed", &garbage_id, b"this is not JSON")
        .await;
    app.publish(&no_user).await;
    app.publish(&good).await;

    // The good message behind the poison ones is processed at once, before their first retry.
    app.wait_for_notifications(user, 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the good message took {:?}",
        started.elapsed()
    );
    assert_eq!(app.messages("dead_lettered").await, 0);
    assert_eq!(app.count("dead_letters").await, 0);

    app.wait_for_messages("dead_lettered", 2).await;
    // Two waits, 1 s and 2 s, before the last attempt.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "dead-lettered after {:?}",
        started.elapsed()
    );
    assert_eq!(app.messages("retried").await, 4);
    assert_eq!(app.messages("processed").await, 1);
    assert_eq!(app.count("notifications").await, 1);

    // In the dead-letter queue, as published, with the attempts and the last error.
    let dead = drain(&app, topology::DEAD_LETTER_QUEUE).await;
    let by_id: BTreeMap<String, &BasicGetMessage> = dead
        .iter()
        .map(|m| {
            let id = kit::amqp::header(&m.delivery.properties, "event_id").unwrap();
            (id, m)
        })
        .collect();
    assert_eq!(by_id.len(), 2);
    let garbage = by_id[&garbage_id];
    assert_eq!(garbage.delivery.data, b"this is not JSON");
    let missing = by_id[&no_user_id];
    assert_eq!(
        serde_json::from_slice::<Value>(&missing.delivery.data).unwrap(),
        no_user
    );
    for m in [garbage, missing] {
        let props = &m.delivery.properties;
        assert_eq!(kit::amqp::header(props, "x-attempt").as_deref(), Some("3"));
        assert!(kit::amqp::header(props, "x-last-error").is_some());
        assert_eq!(
            kit::amqp::header(props, "event_type").as_deref(),
            Some("order.confirmed")
        );
        assert_eq!(
            props.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
    }
    for level in app.settings.retry.levels() {
        assert_eq!(
            app.queue_info(&topology::retry_queue(level)).await,
            Some((0, 0)),
            "retry queue {level}"
        );
    }
    assert_eq!(app.queue_info(topology::QUEUE).await.map(|q| q.0), Some(0));

    // And in the table, for admins.
    let r = app
        .get_as("/notifications/dead-letters", Uuid::new_v4(), "user,admin")
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["total"], 2);
    let letters = page["items"].as_array().unwrap();
    let letter = |id: &str| {
        letters
            .iter()
            .find(|l| l["event_id"] == id)
            .unwrap_or_else(|| panic!("no dead letter {id}: {letters:?}"))
    };
    let garbage = letter(&garbage_id);
    assert_eq!(garbage["attempts"], 3);
    assert_eq!(garbage["routing_key"], "order.confirmed");
    assert_eq!(garbage["body"], "this is not JSON");
    assert_eq!(garbage["headers"]["x-attempt"], 3);
    assert!(garbage["error"]
        .as_str()
        .unwrap()
        .starts_with("unreadable event"));
    let missing = letter(&no_user_id);
    assert_eq!(missing["attempts"], 3);
    assert!(
        missing["error"].as_str().unwrap().contains("user_id"),
        "{missing}"
    );
}

#[tokio::test]
async fn a_database_failure_is_retried_until_it_passes() {
    let mut app = spawn_with(settings(5, 300)).await;
    // The notification insert fails until the table is back.
    sqlx::query("ALTER TABLE notifications RENAME TO notifications_away")
        .execute(&app.pool)
        .await
        .unwrap();
    app.start_consumer();
    let user = Uuid::new_v4();
    app.publish(&order_event("order.confirmed", user, Uuid::new_v4()))
        .await;

    app.wait_for_messages("retried", 1).await;
    sqlx::query("ALTER TABLE notifications_away RENAME TO notifications")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = app.wait_for_notifications(user, 1).await;
    assert_eq!(page["items"][0]["event_type"], "order.confirmed");
    assert_eq!(app.messages("processed").await, 1);
    assert_eq!(app.messages("dead_lettered").await, 0);
    // The failed attempt rolled back its inbox row too, or the retry would have been skipped.
    assert_eq!(app.count("inbox").await, 1);
}

#[tokio::test]
async fn a_single_attempt_dead_letters_at_once() {
    let mut app = spawn_with(settings(1, 100)).await;
    app.start_consumer();
    let id = Uuid::new_v4().to_string();
    app.publish_raw("order.shipped", &id, b"{\"id\": 42}").await;

    app.wait_for_messages("dead_lettered", 1).await;
    assert_eq!(app.messages("retried").await, 0);
    assert_eq!(
        app.queue_info(&topology::retry_queue(1)).await,
        None,
        "no retry queues with one attempt"
    );
    let dead = drain(&app, topology::DEAD_LETTER_QUEUE).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.data, b"{\"id\": 42}");
    assert_eq!(
        kit::amqp::header(&dead[0].delivery.properties, "x-attempt").as_deref(),
        Some("1")
    );
    let page: Value = app
        .get_as("/notifications/dead-letters", Uuid::new_v4(), "user,admin")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["attempts"], 1);
    // The body's `id` is not a string; the header's event id is what identifies it.
    assert_eq!(page["items"][0]["event_id"], id);
    assert_eq!(page["items"][0]["routing_key"], "order.shipped");

    // A version this service does not read is not applied with guessed semantics.
    let version_two = order_event("order.shipped", Uuid::new_v4(), Uuid::new_v4());
    app.publish_version(
        "order.shipped",
        version_two["id"].as_str().unwrap(),
        version_two.to_string().as_bytes(),
        "2",
    )
    .await;
    app.wait_for_messages("dead_lettered", 2).await;
    assert_eq!(app.count("notifications").await, 0);
    let error: String = sqlx::query_scalar("SELECT error FROM dead_letters WHERE event_id = $1")
        .bind(version_two["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(error.contains("unsupported event version"), "{error}");
}
