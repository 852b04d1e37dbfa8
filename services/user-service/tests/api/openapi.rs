use crate::helpers::*;
use serde_json::Value;

/// `docs/api/user-service.openapi.json` is this document; `UPDATE_OPENAPI=1` rewrites it.
#[tokio::test]
async fn openapi_is_served_and_matches_the_docs() {
    let app = spawn_app().await;
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated = user_service::openapi::pretty();
    assert_eq!(served, serde_json::from_str::<Value>(&generated).unwrap());
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = served["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/users", &["get", "post"][..]),
        ("/users/login", &["post"]),
        ("/users/me", &["get"]),
        ("/users/{id}", &["get", "put", "delete"]),
        ("/.well-known/jwks.json", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} documented"
            );
        }
    }

    testkit::assert_openapi_file("user-service", &generated);
}
