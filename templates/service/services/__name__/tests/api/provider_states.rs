{% if db %}
//! The provider states of contract verification (docs/contracts.md), on a real database: what
//! `contracts/tests/{{ crate }}_consumer.rs` names.

use crate::helpers::{spawn_app, spawn_with_provider_states, TestApp};
use serde_json::{json, Value};

async fn state(app: &TestApp, change: Value) -> reqwest::Response {
    app.client
        .post(app.url(kit::provider_states::STATE_PATH))
        .json(&change)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn provider_states_are_not_there_unless_switched_on() {
    let app = spawn_app().await;
    let r = state(&app, json!({"state": "no such item", "params": {"item_id": "5eed0000-0000-4000-8000-000000000002"}})).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_item_exists_however_often_it_is_set_up_and_then_is_gone() {
    let app = spawn_with_provider_states().await;
    let id = "5eed0000-0000-4000-8000-000000000001";
    for name in ["Contract item", "Contract item again"] {
        let r = state(
            &app,
            json!({"state": "an item exists", "params": {"item_id": id, "name": name}}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let item: Value = app
            .get(&format!("{{ route }}/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(item["id"], id);
        assert_eq!(item["name"], name);
    }
    let r = state(
        &app,
        json!({"state": "no such item", "params": {"item_id": id}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(&format!("{{ route }}/{id}")).await.status(), 404);
}

#[tokio::test]
async fn an_unknown_state_or_missing_param_is_a_400() {
    let app = spawn_with_provider_states().await;
    let r = state(&app, json!({"state": "the moon is full"})).await;
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["type"], kit::provider_states::UNKNOWN_STATE);
    let r = state(&app, json!({"state": "an item exists", "params": {}})).await;
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("item_id"),
        "{problem}"
    );
}
{% endif %}
