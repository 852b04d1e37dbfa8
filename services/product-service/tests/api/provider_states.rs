//! The provider states of contract verification (docs/contracts.md), on a real database:
//! set up as the pacts name them, absent unless switched on.

use crate::helpers::{spawn_app, spawn_with_provider_states};
use serde_json::{json, Value};

async fn state(app: &crate::helpers::TestApp, change: Value) -> reqwest::Response {
    app.post(kit::provider_states::STATE_PATH, &change).await
}

#[tokio::test]
async fn provider_states_are_not_there_unless_switched_on() {
    let app = spawn_app().await;
    let response = state(&app, json!({"state": "a product with stock"})).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_states_of_the_order_service_pact_are_set_up_from_scratch() {
    let app = spawn_with_provider_states().await;
    let product = "5eed0000-0000-4000-8000-000000000001";
    let order = "5eed0000-0000-4000-8000-000000000016";
    let params = json!({"product_id": product, "stock": 5, "price": "19.99"});
    let r = state(
        &app,
        json!({"state": "a product with stock", "params": params}),
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let body: Value = app.get_json(&format!("/products/{product}")).await;
    assert_eq!(
        (body["stock"].clone(), body["price"].clone()),
        (json!(5), json!("19.99"))
    );

    // Twice, as the verifier does for two interactions in the same state: the second starts
    // from scratch even though the first one's reservation is still there.
    let committed = json!({"order_id": order, "product_id": product, "quantity": 2});
    for _ in 0..2 {
        let r = state(
            &app,
            json!({"state": "an order's reservation is committed", "params": committed}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let reservation: Value = app.get_json(&format!("/stock/reservations/{order}")).await;
        assert_eq!(reservation["status"], "committed");
        let returned = app
            .client
            .post(app.url(&format!("/stock/reservations/{order}/return")))
            .send()
            .await
            .unwrap();
        assert_eq!(returned.status(), 200);
    }

    let r = state(
        &app,
        json!({"state": "no such product", "params": {"product_id": product}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let gone = app.get(&format!("/products/{product}")).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn an_unknown_state_is_a_400_naming_it_not_a_mismatch_later() {
    let app = spawn_with_provider_states().await;
    let r = state(&app, json!({"state": "product P is on sale"})).await;
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown provider state \"product P is on sale\""),
        "{problem}"
    );
    assert_eq!(problem["type"], kit::provider_states::UNKNOWN_STATE);
}

/// Found by verifying twice against one database (msctl with `--keep`, then the Pact CLI):
/// the second "reservation within the stock" met the first one's reservation and got 200.
#[tokio::test]
async fn a_product_with_stock_holds_no_reservation_from_an_earlier_verification() {
    let app = spawn_with_provider_states().await;
    let product = "5eed0000-0000-4000-8000-000000000001";
    let order = "5eed0000-0000-4000-8000-00000000000b";
    let params = json!({"product_id": product, "stock": 5, "price": "19.99"});
    let reserve = json!({"order_id": order, "items": [{"product_id": product, "quantity": 2}]});
    for _ in 0..2 {
        let r = state(
            &app,
            json!({"state": "a product with stock", "params": params}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let r = app.post("/stock/reservations", &reserve).await;
        assert_eq!(r.status(), 201, "a new reservation each time");
    }
}
