//! The OpenAPI document: served at /openapi.json, and kept in sync with
//! docs/api/product-service.openapi.json (`UPDATE_OPENAPI=1 cargo test -p product-service
//! openapi` rewrites the file).

use crate::common::*;

fn rendered() -> String {
    let mut text = product_service::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    text.push('\n');
    text
}

#[test]
fn docs_file_matches_the_code() {
    testkit::assert_openapi_file("product-service", &rendered());
}

#[test]
fn documents_every_route() {
    let expected = testkit::routes(&[
        ("GET", "/products"),
        ("POST", "/products"),
        ("GET", "/products/search"),
        ("GET", "/products/{id}"),
        ("PUT", "/products/{id}"),
        ("DELETE", "/products/{id}"),
        ("POST", "/stock/reservations"),
        ("GET", "/stock/reservations/{order_id}"),
        ("POST", "/stock/reservations/{order_id}/release"),
        ("POST", "/stock/reservations/{order_id}/commit"),
        ("POST", "/stock/reservations/{order_id}/return"),
    ]);
    assert_eq!(testkit::openapi_routes(&rendered()), expected);
}

#[tokio::test]
async fn served_document_is_the_same() {
    let app = spawn_app().await;
    let served = app.get_json("/openapi.json").await;
    let expected: serde_json::Value = serde_json::from_str(&rendered()).unwrap();
    assert_eq!(served, expected);
}
