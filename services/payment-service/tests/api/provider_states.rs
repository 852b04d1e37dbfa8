//! The provider states of contract verification (docs/contracts.md), on a real database.

use crate::helpers::{spawn_app, spawn_with_provider_states, TestApp};
use serde_json::{json, Value};

async fn state(app: &TestApp, change: Value) -> reqwest::Response {
    app.post(kit::provider_states::STATE_PATH, &change).await
}

#[tokio::test]
async fn provider_states_are_not_there_unless_switched_on() {
    let app = spawn_app().await;
    let response = state(&app, json!({"state": "no payment for the order"})).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_order_with_a_succeeded_payment_is_listed_and_refundable_however_often_it_is_set_up() {
    let app = spawn_with_provider_states().await;
    let order = "5eed0000-0000-4000-8000-000000000023";
    let payment = "5eed0000-0000-4000-8000-000000000031";
    for _ in 0..2 {
        let r = state(
            &app,
            json!({"state": "an order has a succeeded payment",
                   "params": {"order_id": order, "payment_id": payment}}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let listed = app.get_json(&format!("/payments?order_id={order}")).await;
        assert_eq!(listed[0]["id"], payment);
        assert_eq!(listed[0]["status"], "succeeded");
        let refund = app
            .client
            .post(app.url(&format!("/payments/{payment}/refund")))
            .send()
            .await
            .unwrap();
        assert_eq!(refund.status(), 200);
    }
    let r = state(
        &app,
        json!({"state": "no payment for the order", "params": {"order_id": order}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let listed = app.get_json(&format!("/payments?order_id={order}")).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn an_unknown_state_or_missing_param_is_a_400() {
    let app = spawn_with_provider_states().await;
    let r = state(&app, json!({"state": "the card is expired"})).await;
    assert_eq!(r.status(), 400);
    let r = state(
        &app,
        json!({"state": "no payment for the order", "params": {}}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("order_id"),
        "{problem}"
    );
}
