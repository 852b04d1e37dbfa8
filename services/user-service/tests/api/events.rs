//! `user.deleted`: published through the outbox exactly once per deleted account, never for a
//! deletion that failed.

use crate::helpers::*;
use reqwest::Method;
use std::time::Duration;

#[tokio::test]
async fn deleting_an_account_publishes_one_user_deleted_event() {
    let app = spawn_app().await;
    let tap = app.tap("user.deleted").await;
    let dave = app.create_user("dave@example.com").await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let response = app
        .as_user(Method::DELETE, &format!("/users/{dave}"), dave, "user")
        .header("traceparent", traceparent)
        .header("x-request-id", "delete-dave")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    let events = tap.wait_for(1).await;
    let event = &events[0];
    assert_eq!(event.routing_key, "user.deleted");
    assert_eq!(event.app_id.as_deref(), Some("user-service"));
    let h = &event.headers;
    assert_eq!(h["event_type"], "user.deleted");
    assert_eq!(h["version"], "1");
    assert_eq!(event.message_id.as_deref(), Some(h["event_id"].as_str()));
    assert!(chrono::DateTime::parse_from_rfc3339(&h["occurred_at"]).is_ok());
    assert!(
        h["traceparent"].starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "the event continues the request's trace: {}",
        h["traceparent"]
    );
    assert_eq!(h["request_id"], "delete-dave");
    let body = &event.body;
    assert_eq!(body["id"].as_str(), Some(h["event_id"].as_str()));
    assert_eq!(body["type"], "user.deleted");
    assert_eq!(body["version"], 1);
    assert_eq!(body["data"]["user_id"], dave.to_string());
    assert_eq!(schema_problems(body), Vec::<String>::new(), "{body}");

    // Exactly one, and the outbox counts it as sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(tap.events().len(), 1, "{:?}", tap.events());
    assert_eq!(app.unsent_events().await, 0);
}

#[tokio::test]
async fn a_failed_deletion_publishes_nothing() {
    let app = spawn_app().await;
    let tap = app.tap("user.#").await;
    let admin = app.admin_id().await;
    let erin = app.create_user("erin@example.com").await;
    let frank = app.create_user("frank@example.com").await;

    // The last admin: 409. Someone else's account: 403. No such account: 404.
    let r = app
        .as_user(
            Method::DELETE,
            &format!("/users/{admin}"),
            admin,
            "user,admin",
        )
        .send()
        .await
        .unwrap();
    problem(r, 409).await;
    let r = app
        .as_user(Method::DELETE, &format!("/users/{frank}"), erin, "user")
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let missing = uuid::Uuid::new_v4();
    let r = app
        .as_user(
            Method::DELETE,
            &format!("/users/{missing}"),
            admin,
            "user,admin",
        )
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(outbox, 0, "a failed deletion writes no event");

    // A deletion that succeeds afterwards is the only event on the exchange.
    let r = app
        .as_user(
            Method::DELETE,
            &format!("/users/{erin}"),
            admin,
            "user,admin",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tap.wait_for(1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = tap.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].body["data"]["user_id"], erin.to_string());
}
