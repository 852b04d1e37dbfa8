//! The OpenAPI document: snapshotted in docs/api/{{ name }}.openapi.snap (`cargo insta review`
//! accepts a change), served at /openapi.json, and every route it lists is served.

use crate::helpers::spawn_app;
use {{ crate }}::openapi::document;

#[test]
fn the_document_matches_its_snapshot() {
    testkit::assert_openapi_snapshot("{{ name }}", &document());
}

#[tokio::test]
async fn served_document_is_the_same() {
    testkit::assert_served_openapi(&spawn_app().await.address, &document()).await;
}

#[tokio::test]
async fn every_documented_route_is_served() {
    testkit::assert_every_documented_route_is_served(&spawn_app().await.address, &document()).await;
}
