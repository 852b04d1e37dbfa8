//! The OpenAPI document: served at /openapi.json, and kept in sync with
//! docs/api/payment-service.openapi.json (`UPDATE_OPENAPI=1 cargo test -p payment-service
//! openapi` rewrites the file).

use crate::common::*;
use std::path::PathBuf;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/api/payment-service.openapi.json")
}

fn rendered() -> String {
    let mut text = payment_service::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    text.push('\n');
    text
}

#[test]
fn docs_file_matches_the_code() {
    let path = doc_path();
    let fresh = rendered();
    let update = std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v != "0");
    match std::fs::read_to_string(&path) {
        Ok(on_disk) if on_disk == fresh => {}
        Ok(_) if !update => panic!(
            "{} is out of date; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test -p payment-service openapi`",
            path.display()
        ),
        _ => std::fs::write(&path, fresh).expect("write the OpenAPI document"),
    }
}

#[test]
fn documents_every_route() {
    let doc: serde_json::Value = serde_json::from_str(&rendered()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut paths: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    paths.sort();
    let mut expected: Vec<(String, String)> = [
        ("POST", "/payments"),
        ("GET", "/payments/{id}"),
        ("POST", "/payments/{id}/refund"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    expected.sort();
    assert_eq!(paths, expected);
}

#[tokio::test]
async fn served_document_is_the_same() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let expected: serde_json::Value = serde_json::from_str(&rendered()).unwrap();
    assert_eq!(served, expected);
}
