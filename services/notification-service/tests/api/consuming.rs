//! Order events in, notifications out: the text, who sees them, idempotency (duplicates and
//! redeliveries), and surviving the loss of the broker connection.

use crate::helpers::*;
use kit::amqp::lapin::options::{BasicGetOptions, QueueDeleteOptions};
use notification_service::store::Applied;
use notification_service::topology;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn a_confirmed_order_yields_one_notification_for_its_user_only() {
    let app = spawn_app().await;
    let (user, other, order) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let event = order_event("order.confirmed", user, order);
    app.publish(&event).await;

    let page = app.wait_for_notifications(user, 1).await;
    assert_eq!(page["page"], 1);
    assert_eq!(page["per_page"], 100);
    let n = &page["items"][0];
    assert_eq!(n["event_id"], event["id"]);
    assert_eq!(n["user_id"], user.to_string());
    assert_eq!(n["order_id"], order.to_string());
    assert_eq!(n["event_type"], "order.confirmed");
    assert_eq!(n["occurred_at"].as_str().map(|s| !s.is_empty()), Some(true));
    assert_eq!(
        n["subject"],
        format!("Your order {} is confirmed", short(order))
    );
    let body = n["body"].as_str().unwrap();
    assert!(
        body.starts_with(&format!(
            "Your order {} is confirmed. Total: 39.98 EUR.",
            short(order)
        )),
        "{body}"
    );
    assert!(body.contains("- 2 x product"), "{body}");

    let theirs = app.page("/notifications", other).await;
    assert_eq!(theirs["total"], 0);
    assert_eq!(theirs["items"], serde_json::json!([]));
    assert_eq!(app.messages("processed").await, 1);
    assert_eq!(app.count("notifications").await, 1);
}

#[tokio::test]
async fn the_same_event_published_twice_is_applied_once() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let event = order_event("order.shipped", user, Uuid::new_v4());
    app.publish(&event).await;
    app.publish(&event).await;

    app.wait_for_messages("duplicate", 1).await;
    assert_eq!(app.messages("processed").await, 1);
    let page = app.page("/notifications", user).await;
    assert_eq!(page["total"], 1);
    assert_eq!(app.count("notifications").await, 1);
    assert_eq!(app.count("inbox").await, 1);
}

#[tokio::test]
async fn a_redelivery_after_the_channel_closed_before_the_ack_is_applied_once() {
    let mut app = spawn_with(settings(3, 100)).await;
    let user = Uuid::new_v4();
    let event = order_event("order.created", user, Uuid::new_v4());
    app.publish(&event).await;

    // A consumer that commits and then loses its channel before acknowledging: the service's
    // own processing step, on a channel closed without an ack.
    let channel = app.connection.create_channel().await.unwrap();
    let message = eventually(
        "the event in the queue",
        Duration::from_secs(10),
        || async {
            channel
                .basic_get(topology::QUEUE.into(), BasicGetOptions { no_ack: false })
                .await
                .unwrap()
        },
    )
    .await;
    assert!(!message.delivery.redelivered);
    let (applied, _) = notification_service::consumer::apply(&app.pool, &message.delivery.data)
        .await
        .unwrap();
    assert!(matches!(applied, Applied::New(_)));
    channel
        .close(200, "gone before the ack".into())
        .await
        .unwrap();

    // The broker hands the message out again; the service acknowledges it without a second
    // notification.
    app.start_consumer();
    app.wait_for_messages("duplicate", 1).await;
    assert_eq!(app.messages("processed").await, 0);
    assert_eq!(app.count("notifications").await, 1);
    let page = app.page("/notifications", user).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["event_id"], event["id"]);
    eventually("the queue drained", Duration::from_secs(10), || async {
        (app.queue_info(topology::QUEUE).await == Some((0, 1))).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_lifecycle_is_listed_newest_first_and_by_order() {
    let app = spawn_app().await;
    let (user, order, other_order) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for kind in [
        "order.created",
        "order.confirmed",
        "order.shipped",
        "order.completed",
    ] {
        app.publish(&order_event(kind, user, order)).await;
        // occurred_at has sub-millisecond precision, but keep the order unambiguous.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut cancelled = order_event("order.cancelled", user, other_order);
    cancelled["data"]["status"] = "CANCELLED".into();
    cancelled["data"]["cancellation_reason"] = "payment_declined".into();
    app.publish(&cancelled).await;

    let page = app.wait_for_notifications(user, 5).await;
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "order.cancelled",
            "order.completed",
            "order.shipped",
            "order.confirmed",
            "order.created"
        ]
    );
    let body = page["items"][0]["body"].as_str().unwrap();
    assert!(
        body.starts_with(&format!(
            "Your order {} was cancelled because the payment was declined.",
            short(other_order)
        )),
        "{body}"
    );
    assert!(page["items"][4]["body"]
        .as_str()
        .unwrap()
        .starts_with(&format!("We received your order {}.", short(order))));

    let of_order = app
        .page(&format!("/notifications?order_id={order}"), user)
        .await;
    assert_eq!(of_order["total"], 4);
    let second: Value = app.page("/notifications?page=2&per_page=2", user).await;
    assert_eq!(
        (second["page"].clone(), second["per_page"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(second["total"], 5);
    let second_kinds: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(second_kinds, ["order.shipped", "order.confirmed"]);
}

/// The management API of the test broker, with the credentials of the app's AMQP URL.
struct Management {
    base: String,
    user: String,
    password: String,
    vhost: String,
}

impl Management {
    async fn of(app: &TestApp) -> Management {
        let url = reqwest::Url::parse(&app.amqp_url).unwrap();
        let rabbit = testkit::rabbitmq().await;
        Management {
            base: format!("http://127.0.0.1:{}/api", rabbit.management_port),
            user: url.username().to_owned(),
            password: url.password().unwrap_or_default().to_owned(),
            vhost: url.path().trim_start_matches('/').to_owned(),
        }
    }

    /// The names of the service's connections.
    async fn service_connections(&self) -> Vec<String> {
        let r = reqwest::Client::new()
            .get(format!("{}/vhosts/{}/connections", self.base, self.vhost))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .unwrap();
        let list: Vec<Value> = r.json().await.unwrap();
        list.iter()
            .filter(|c| c["client_properties"]["connection_name"] == "notification-service")
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn close_connection(&self, name: &str) {
        let mut url = reqwest::Url::parse(&self.base).unwrap();
        url.path_segments_mut()
            .unwrap()
            .push("connections")
            .push(name);
        let r = reqwest::Client::new()
            .delete(url)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "close connection: {}", r.status());
    }
}

#[tokio::test]
async fn the_consumer_reconnects_after_losing_its_connection() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    app.publish(&order_event("order.created", user, Uuid::new_v4()))
        .await;
    app.wait_for_notifications(user, 1).await;

    // The broker's statistics lag behind, so wait for the connection to be listed.
    let management = Management::of(&app).await;
    let first = eventually(
        "the service's connection listed",
        Duration::from_secs(30),
        || async { management.service_connections().await.pop() },
    )
    .await;
    management.close_connection(&first).await;

    app.publish(&order_event("order.confirmed", user, Uuid::new_v4()))
        .await;
    app.wait_for_notifications(user, 2).await;
    let now = management.service_connections().await;
    assert!(!now.contains(&first), "{now:?}");
}

#[tokio::test]
async fn the_consumer_redeclares_its_queue_when_it_disappears() {
    let app = spawn_app().await;
    eventually("the consumer attached", Duration::from_secs(10), || async {
        (app.queue_info(topology::QUEUE).await == Some((0, 1))).then_some(())
    })
    .await;
    let channel = app.connection.create_channel().await.unwrap();
    channel
        .queue_delete(topology::QUEUE.into(), QueueDeleteOptions::default())
        .await
        .unwrap();

    // The broker cancels the consumer; the service reconnects and declares the queue and its
    // binding again.
    eventually(
        "the queue back with its consumer",
        Duration::from_secs(15),
        || async { (app.queue_info(topology::QUEUE).await == Some((0, 1))).then_some(()) },
    )
    .await;
    let user = Uuid::new_v4();
    app.publish(&order_event("order.completed", user, Uuid::new_v4()))
        .await;
    let page = app.wait_for_notifications(user, 1).await;
    assert_eq!(page["items"][0]["event_type"], "order.completed");
}
