//! The OpenAPI document: served at /openapi.json, and kept in sync with
//! docs/api/notification-service.openapi.json (`UPDATE_OPENAPI=1 cargo test -p
//! notification-service openapi` rewrites the file).

use crate::common::*;

fn rendered() -> String {
    let mut text = notification_service::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    text.push('\n');
    text
}

#[test]
fn docs_file_matches_the_code() {
    testkit::assert_openapi_file("notification-service", &rendered());
}

#[test]
fn documents_every_route() {
    let expected = testkit::routes(&[
        ("GET", "/notifications"),
        ("GET", "/notifications/dead-letters"),
    ]);
    assert_eq!(testkit::openapi_routes(&rendered()), expected);
}

#[tokio::test]
async fn served_document_is_the_same() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let expected: serde_json::Value = serde_json::from_str(&rendered()).unwrap();
    assert_eq!(served, expected);
}
