//! The OpenAPI document: snapshotted in docs/api/order-service.openapi.snap (`cargo insta review`
//! accepts a change), served at /openapi.json, and every route it lists is served.

use crate::helpers::spawn_app;
use order_service::openapi::document;

#[test]
fn the_document_matches_its_snapshot() {
    testkit::assert_openapi_snapshot("order-service", &document());
}

#[tokio::test]
async fn served_document_is_the_same() {
    testkit::assert_served_openapi(&spawn_app().await.orders.address, &document()).await;
}

#[tokio::test]
async fn every_documented_route_is_served() {
    testkit::assert_every_documented_route_is_served(
        &spawn_app().await.orders.address,
        &document(),
    )
    .await;
}
