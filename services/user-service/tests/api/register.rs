use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn register_returns_201_with_location_and_no_hash() {
    let app = spawn_app().await;
    let response = app
        .register("Ada@Example.com", "Ada Lovelace", PASSWORD)
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/users/{id}"));
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["roles"], json!(["user"]));
    assert!(body["created_at"].is_string() && body["updated_at"].is_string());
    let text = body.to_string();
    assert!(body.get("password_hash").is_none() && body.get("password").is_none());
    assert!(
        !text.contains("argon2") && !text.contains(PASSWORD),
        "{text}"
    );

    // Stored hashed with argon2id, never in clear.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // The Location resolves (for the owner).
    let fetched: Value = app
        .as_user(reqwest::Method::GET, &location, id.parse().unwrap(), "user")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, body);
}

#[tokio::test]
async fn duplicate_email_is_409_whatever_the_case() {
    let app = spawn_app().await;
    app.create_user("grace@example.com").await;
    for email in [
        "grace@example.com",
        "Grace@EXAMPLE.com",
        "  GRACE@example.COM ",
    ] {
        let body = problem(app.register(email, "Grace", PASSWORD).await, 409).await;
        assert_eq!(body["title"], "Conflict");
    }
    // The admin bootstrap's address is taken too.
    problem(
        app.register("ADMIN@shop.local", "Mallory", PASSWORD).await,
        409,
    )
    .await;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE lower(email) = 'grace@example.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn invalid_input_is_422_listing_every_bad_field() {
    let app = spawn_app().await;
    let body = problem(app.register("not-an-email", "   ", "short").await, 422).await;
    assert_eq!(error_fields(&body), ["email", "name", "password"]);
    let message = |field: &str| {
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message("email").contains("email address"));
    assert_eq!(message("name"), "must not be empty");
    assert_eq!(
        message("password"),
        "must be at least 10 characters long, contain a digit"
    );

    // Each rule on its own.
    let long_name = "n".repeat(101);
    let cases = [
        ("ok@example.com", "Name", "onlyletters", "password"),
        ("ok@example.com", "Name", "1234567890123", "password"),
        ("ok@example.com", long_name.as_str(), PASSWORD, "name"),
        ("ok@example", "Name", PASSWORD, "email"),
    ];
    for (email, name, password, field) in cases {
        let body = problem(app.register(email, name, password).await, 422).await;
        assert_eq!(error_fields(&body), [field], "{body}");
    }

    // Missing fields are listed too; unknown ones (roles cannot be chosen) refused.
    let response = app
        .client
        .post(app.url("/users"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(error_fields(&body), ["email", "name", "password"]);
    let response = app
        .client
        .post(app.url("/users"))
        .json(&json!({"email": "eve@example.com", "name": "Eve", "password": PASSWORD, "roles": ["user", "admin"]}))
        .send()
        .await
        .unwrap();
    problem(response, 422).await;

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "only the admin exists");
}

#[tokio::test]
async fn malformed_json_is_400_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/users"))
        .header("content-type", "application/json")
        .body(r#"{"email": "a@example.com", "name": "#)
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("malformed JSON"));

    // Same for login; and a body that is not JSON at all is a 415.
    let response = app
        .client
        .post(app.url("/users/login"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
    let response = app
        .client
        .post(app.url("/users"))
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
}
