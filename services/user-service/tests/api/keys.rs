use crate::helpers::*;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::LineEnding;
use serde_json::Value;

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn generated_key_is_stored_and_reused_across_restarts() {
    let database_url = testkit::fresh_database().await;
    let config = test_config(&database_url); // no JWT_PRIVATE_KEY: generate at first start

    let first = spawn_with(config.clone()).await;
    let jwks = first.jwks().await;
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    first.create_user("kay@example.com").await;
    let token = first.token("kay@example.com", PASSWORD).await;
    assert_eq!(
        first.verify(&token).await.header.kid.as_deref(),
        Some(kid.as_str())
    );
    assert_eq!(count(&first, "SELECT count(*) FROM signing_keys").await, 1);
    let (stored_kid, pem): (String, String) =
        sqlx::query_as("SELECT kid, private_pem FROM signing_keys")
            .fetch_one(&first.pool)
            .await
            .unwrap();
    assert_eq!(stored_kid, kid);
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = user_service::keys::parse_private_pem(&pem).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&key) * 8, 2048);
    assert_eq!(
        user_service::keys::kid_for(&key).unwrap(),
        kid,
        "kid derives from the key"
    );
    drop(first);

    // Second start on the same database: the same key, the old token still verifies.
    let second = spawn_with(config).await;
    assert_eq!(second.jwks().await, jwks);
    let claims = second.verify(&token).await.claims;
    assert_eq!(claims.roles, ["user"]);
    let fresh = second.token("kay@example.com", PASSWORD).await;
    assert_eq!(
        second.verify(&fresh).await.header.kid.as_deref(),
        Some(kid.as_str())
    );
    assert_eq!(count(&second, "SELECT count(*) FROM signing_keys").await, 1);
}

#[tokio::test]
async fn concurrent_first_starts_agree_on_one_key() {
    let database_url = testkit::fresh_database().await;
    let pool = kit::db::connect_and_migrate(&database_url, &user_service::startup::MIGRATOR)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        user_service::keys::load(&pool, None),
        user_service::keys::load(&pool, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.signing.kid, b.signing.kid);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM signing_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn configured_pkcs1_key_signs_and_nothing_is_stored() {
    let pkcs8 = shared_key().await;
    let key = user_service::keys::parse_private_pem(&pkcs8).unwrap();
    let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));

    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(pkcs1);
    let app = spawn_with(config).await;
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        jwks["keys"][0]["kid"],
        user_service::keys::kid_for(&key).unwrap()
    );
    let token = app.token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.verify(&token).await;
    assert_eq!(count(&app, "SELECT count(*) FROM signing_keys").await, 0);

    // PKCS#8 of the same key: the same kid (and so the same JWKS).
    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(pkcs8);
    let other = spawn_with(config).await;
    assert_eq!(other.jwks().await, jwks);
    other.verify(&token).await;
}

#[tokio::test]
async fn admin_bootstrap_is_idempotent() {
    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(shared_key().await);

    let first = spawn_with(config.clone()).await;
    let admin = first.admin_id().await;
    let me: Value = first
        .as_user(reqwest::Method::GET, "/users/me", admin, "user,admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["roles"], serde_json::json!(["user", "admin"]));
    drop(first);

    // Restart, even with another ADMIN_PASSWORD: the account is neither duplicated nor changed.
    config.admin_password = "a-different-password-9".into();
    let second = spawn_with(config.clone()).await;
    drop(spawn_with(config).await);
    assert_eq!(count(&second, "SELECT count(*) FROM users").await, 1);
    assert_eq!(second.admin_id().await, admin);
    let token = second.token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(second.verify(&token).await.claims.roles, ["user", "admin"]);
    problem(
        second.login(ADMIN_EMAIL, "a-different-password-9").await,
        401,
    )
    .await;
}

#[tokio::test]
async fn admin_bootstrap_uses_the_configured_account() {
    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(shared_key().await);
    config.admin_email = "Root@Example.org".into();
    config.admin_password = "s3cure-enough-pw".into();
    let app = spawn_with(config).await;
    let token = app.token("root@example.org", "s3cure-enough-pw").await;
    assert_eq!(app.verify(&token).await.claims.roles, ["user", "admin"]);
    problem(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await, 401).await;
}
