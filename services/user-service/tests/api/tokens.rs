use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn login_token_verifies_with_the_jwks() {
    let app = spawn_app().await;
    let id = app.create_user("alan@example.com").await;
    let response = app.login("ALAN@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();

    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let n = jwks["keys"][0]["n"].as_str().unwrap();
    assert!(
        !n.contains('=') && !n.contains('+') && !n.contains('/'),
        "base64url, unpadded"
    );
    assert_eq!(jwks["keys"][0]["e"], "AQAB");

    let data = verify_with(&jwks, token);
    assert_eq!(data.header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    let claims = data.claims;
    assert_eq!(claims.sub, id.to_string());
    assert_eq!(claims.roles, ["user"]);
    assert_eq!(claims.iss, "shop-users");
    assert_eq!(claims.aud, "shop");
    let now = chrono::Utc::now().timestamp();
    assert!((claims.iat - now).abs() <= 5);
    assert_eq!(claims.nbf, claims.iat);
    assert_eq!(claims.exp, claims.iat + 900);

    // The admin's token carries both roles.
    let token = app.token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let claims = app.verify(&token).await.claims;
    assert_eq!(claims.roles, ["user", "admin"]);
    assert_eq!(claims.sub, app.admin_id().await.to_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_identical_401s() {
    let app = spawn_app().await;
    app.create_user("joan@example.com").await;
    let wrong_password = app.login("joan@example.com", "not-the-password-1").await;
    assert!(wrong_password.headers().get("cache-control").is_none());
    let wrong_password = problem(wrong_password, 401).await;
    let unknown_email = problem(app.login("nobody@example.com", PASSWORD).await, 401).await;
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(
        wrong_password,
        json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "invalid email or password"})
    );
    // Not even a malformed email is told apart.
    let odd = problem(app.login("not an email", PASSWORD).await, 401).await;
    assert_eq!(odd, wrong_password);
}

#[tokio::test]
async fn token_ttl_is_configurable() {
    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(shared_key().await);
    config.token_ttl_seconds = 60;
    let app = spawn_with(config).await;
    let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let claims = app
        .verify(body["access_token"].as_str().unwrap())
        .await
        .claims;
    assert_eq!(claims.exp - claims.iat, 60);
}
