//! The outbox and its relay: what is published, and that nothing unroutable is dropped.

use crate::helpers::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn events_carry_id_version_time_and_the_request_trace() {
    let app = spawn_app().await;
    let a = app.product("19.99", 3).await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = as_user(app.client.post(app.url("/orders")), USER_ID)
        .header("traceparent", traceparent)
        .header("x-request-id", "journey-42")
        .json(&serde_json::json!({"items": [{"product_id": a, "quantity": 1}], "payment": {"token": "tok_declined"}}))
        .send()
        .await
        .unwrap();
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let events = app.events_of(id, 2).await;
    let created = &events[0];
    let cancelled = &events[1];
    assert_eq!(created.routing_key, "order.created");
    assert_eq!(cancelled.routing_key, "order.cancelled");
    for event in &events {
        let h = &event.headers;
        assert_eq!(h["event_type"], event.routing_key);
        assert_eq!(h["version"], "1");
        assert_eq!(event.message_id.as_deref(), Some(h["event_id"].as_str()));
        assert_eq!(event.body["id"].as_str(), Some(h["event_id"].as_str()));
        assert!(chrono::DateTime::parse_from_rfc3339(&h["occurred_at"]).is_ok());
        // The saga's event continues the trace of the request that placed the order.
        assert!(
            h["traceparent"].starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{}",
            h["traceparent"]
        );
        assert_eq!(h["request_id"], "journey-42");
    }
    assert_eq!(created.body["data"]["status"], "PENDING");
    assert_eq!(created.body["data"]["total_amount"], "19.99");
    assert_eq!(cancelled.body["data"]["status"], "CANCELLED");
    assert_eq!(
        cancelled.body["data"]["cancellation_reason"],
        "payment_declined"
    );
    assert_eq!(app.unsent_events().await, 0);
}

#[tokio::test]
async fn unroutable_events_stay_in_the_outbox_until_a_queue_is_bound() {
    // No queue is bound: RabbitMQ acks the mandatory publish but returns the message, and the
    // relay must not count that as sent.
    let app = spawn_with(Options {
        tap: false,
        ..Options::default()
    })
    .await;
    let a = app.product("1.00", 3).await;
    let id = app.order(&[(a, 1)], "tok_visa").await;
    app.settled(id, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let returned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND last_error LIKE 'returned%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if returned == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the relay never saw the returns");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tap(&app.amqp_url, app.events.clone()).await;
    let events = app.events_of(id, 2).await;
    assert_eq!(events[0].routing_key, "order.created");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.unsent_events().await > 0 {
        assert!(Instant::now() < deadline, "outbox never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
