//! The orders API: idempotency, who may see what, validation, paging, admin transitions.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_same_order() {
    let app = spawn_app().await;
    let a = app.product("4.00", 10).await;
    let first = app
        .place_with(&[(a, 1)], "tok_visa", USER_ID, Some("checkout-1"))
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = app
        .place_with(&[(a, 1)], "tok_visa", USER_ID, Some("checkout-1"))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.headers().contains_key("location"));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Concurrent retries of another key make one order between them.
    let items = [(a, 2)];
    let attempts = futures_util::future::join_all(
        (0..6).map(|_| app.place_with(&items, "tok_visa", USER_ID, Some("checkout-2"))),
    )
    .await;
    let mut ids = Vec::new();
    for r in attempts {
        assert!(r.status().is_success(), "{}", r.status());
        let body: Value = r.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one order for one key");

    // The same key from another user is another order; a different body is a conflict.
    let other = app
        .place_with(&[(a, 1)], "tok_visa", OTHER_ID, Some("checkout-1"))
        .await;
    assert_eq!(other.status(), StatusCode::ACCEPTED);
    let changed = app
        .place_with(&[(a, 3)], "tok_visa", USER_ID, Some("checkout-1"))
        .await;
    let body = problem(changed, 409).await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("different request"));

    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, 3);
    // All three sagas must have reserved before the stock says anything.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE saga_step <> 'done'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} sagas still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.stock(a).await,
        10 - 1 - 2 - 1,
        "each order reserved once"
    );
}

#[tokio::test]
async fn orders_are_private_to_their_owner_and_admins() {
    let app = spawn_app().await;
    let a = app.product("1.00", 10).await;
    let id = app.order(&[(a, 1)], "tok_visa").await;
    let path = app.url(&format!("/orders/{id}"));

    problem(app.client.get(&path).send().await.unwrap(), 401).await;
    let stranger = as_user(app.client.get(&path), OTHER_ID)
        .send()
        .await
        .unwrap();
    problem(stranger, 404).await;
    let admin = as_admin(app.client.get(&path)).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    let cancel = as_user(app.client.post(format!("{path}/cancel")), OTHER_ID)
        .send()
        .await
        .unwrap();
    problem(cancel, 404).await;
    problem(
        app.client
            .post(app.url("/orders"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        as_user(app.client.get(app.url("/orders/not-a-uuid")), USER_ID)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn bad_orders_get_every_problem_listed() {
    let app = spawn_app().await;
    let r = as_user(app.client.post(app.url("/orders")), USER_ID)
        .json(&json!({"items": [{"product_id": "x", "quantity": 0}], "payment": {"token": 5}}))
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["items[0].product_id", "items[0].quantity", "payment.token"]
    );

    let unknown = Uuid::new_v4();
    let r = app.place(&[(unknown, 1)], "tok_visa").await;
    let body = problem(r, 422).await;
    assert!(body.to_string().contains("no such product"));

    let r = as_user(app.client.post(app.url("/orders")), USER_ID)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0, "nothing ordered");
}

#[tokio::test]
async fn lists_own_orders_newest_first_in_pages() {
    let app = spawn_app().await;
    let a = app.product("1.00", 100).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.order(&[(a, 1)], "tok_visa").await.to_string());
    }
    app.order_as_other(a).await;
    let page: Value = as_user(app.client.get(app.url("/orders?per_page=2")), USER_ID)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["id"], ids[2].as_str());
    let bad = as_user(app.client.get(app.url("/orders?page=0")), USER_ID)
        .send()
        .await
        .unwrap();
    problem(bad, 422).await;
}

#[tokio::test]
async fn admins_ship_and_complete_confirmed_orders() {
    let app = spawn_app().await;
    let a = app.product("9.00", 5).await;
    let id = app.order(&[(a, 1)], "tok_visa").await;
    let path = app.url(&format!("/orders/{id}"));
    // Not yet CONFIRMED, or not an admin: refused.
    let early = as_admin(app.client.post(format!("{path}/complete")))
        .send()
        .await
        .unwrap();
    problem(early, 409).await;
    assert_eq!(
        app.settled(id, Duration::from_secs(15)).await["status"],
        "CONFIRMED"
    );
    let user = as_user(app.client.post(format!("{path}/ship")), USER_ID)
        .send()
        .await
        .unwrap();
    problem(user, 403).await;

    let shipped: Value = as_admin(app.client.post(format!("{path}/ship")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shipped["status"], "SHIPPED");
    let cancel = as_user(app.client.post(format!("{path}/cancel")), USER_ID)
        .send()
        .await
        .unwrap();
    problem(cancel, 409).await;
    let completed: Value = as_admin(app.client.post(format!("{path}/complete")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(completed["status"], "COMPLETED");
    let kinds: Vec<String> = app
        .events_of(id, 4)
        .await
        .into_iter()
        .map(|e| e.routing_key)
        .collect();
    assert_eq!(
        kinds,
        [
            "order.created",
            "order.confirmed",
            "order.shipped",
            "order.completed"
        ]
    );
}

/// `OrderStatus::parse` once read any status it did not know as PENDING. An order whose row
/// holds an unknown status (written by a newer version) is a 500 problem, in a read and in a
/// listing, never shown as another status.
#[tokio::test]
async fn an_order_with_an_unknown_status_is_a_500_not_pending() {
    let app = spawn_app().await;
    let a = app.product("3.00", 5).await;
    let id = app.order(&[(a, 1)], "tok_visa").await;
    assert_eq!(
        app.settled(id, Duration::from_secs(15)).await["status"],
        "CONFIRMED"
    );
    sqlx::query("ALTER TABLE orders DROP CONSTRAINT orders_status_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET status = 'ON_HOLD' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    for path in [format!("/orders/{id}"), "/orders".to_owned()] {
        let r = as_user(app.client.get(app.url(&path)), USER_ID)
            .send()
            .await
            .unwrap();
        testkit::problem(r, 500).await;
    }
}

impl TestApp {
    async fn order_as_other(&self, product: Uuid) {
        let r = self
            .place_with(&[(product, 1)], "tok_visa", OTHER_ID, None)
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
}
