//! The OpenAPI document: kept in sync with docs/api/order-service.openapi.json
//! (`UPDATE_OPENAPI=1 cargo test -p order-service openapi` rewrites the file).

fn rendered() -> String {
    let mut text = order_service::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    text.push('\n');
    text
}

#[test]
fn docs_file_matches_the_code() {
    testkit::assert_openapi_file("order-service", &rendered());
}

#[test]
fn documents_every_route() {
    let expected = testkit::routes(&[
        ("POST", "/orders"),
        ("GET", "/orders"),
        ("GET", "/orders/{id}"),
        ("POST", "/orders/{id}/cancel"),
        ("POST", "/orders/{id}/ship"),
        ("POST", "/orders/{id}/complete"),
    ]);
    assert_eq!(testkit::openapi_routes(&rendered()), expected);
}
