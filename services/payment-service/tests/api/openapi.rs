//! The OpenAPI document: snapshotted in docs/api/payment-service.openapi.snap (`cargo insta
//! review` accepts a change), served at /openapi.json, and every route it lists is served.

use crate::helpers::*;

#[test]
fn the_document_matches_its_snapshot() {
    testkit::assert_openapi_snapshot("payment-service", &payment_service::openapi::document());
}

#[tokio::test]
async fn served_document_is_the_same() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let expected = serde_json::to_value(payment_service::openapi::document()).unwrap();
    assert_eq!(served, expected);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    testkit::assert_every_documented_route_is_served(&app.address, &payment_service::openapi::document())
        .await;
}
