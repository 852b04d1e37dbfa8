//! `spawn_app()`: a fresh database on the test PostgreSQL and a fresh RabbitMQ vhost, the real
//! router (and its outbox relay) on a real port; `tap()`: the events it publishes.

use jsonwebtoken::{Algorithm, DecodingKey, TokenData, Validation};
use kit::identity::TOKEN_HEADER;
use reqwest::Response;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use user_service::routes::tokens::Claims;
use user_service::{startup, Config};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = user_service::config::DEFAULT_ADMIN_EMAIL;
pub const ADMIN_PASSWORD: &str = user_service::config::DEFAULT_ADMIN_PASSWORD;
pub const PASSWORD: &str = "correct-horse-42";

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    /// The vhost the outbox relay publishes to.
    pub amqp_url: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Cheap argon2id for tests (the real default costs 19 MiB and two passes per hash).
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::new(database_url, testkit::identity::verifier());
    config.password_hashing = argon2::Params::new(1024, 1, 1, None).unwrap();
    config
}

/// One generated key per test process: most tests need a key, not a fresh one each.
pub async fn shared_key() -> String {
    static KEY: OnceCell<String> = OnceCell::const_new();
    KEY.get_or_init(|| async { user_service::keys::generate_pem().await.unwrap() })
        .await
        .clone()
}

/// A fresh database; the shared signing key.
pub async fn spawn_app() -> TestApp {
    let database_url = testkit::fresh_database().await;
    let mut config = test_config(&database_url);
    config.jwt_private_key = Some(shared_key().await);
    spawn_with(config).await
}

/// Migrates `config.database_url` and serves the app on 127.0.0.1:0 (on a fresh vhost unless
/// `config.amqp_url` names one).
pub async fn spawn_with(mut config: Config) -> TestApp {
    if config.amqp_url.is_empty() {
        config.amqp_url = testkit::fresh_vhost().await;
    }
    let pool = startup::connect(&config).await.expect("migrate");
    let service = startup::build(&config, pool.clone())
        .await
        .expect("start-up");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        service.serve_on(listener).await.unwrap();
    });
    TestApp {
        address,
        pool,
        amqp_url: config.amqp_url.clone(),
        client: reqwest::Client::new(),
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn register(&self, email: &str, name: &str, password: &str) -> Response {
        self.client
            .post(self.url("/users"))
            .json(&json!({"email": email, "name": name, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Registers a user and returns its id.
    pub async fn create_user(&self, email: &str) -> Uuid {
        let response = self.register(email, "Test User", PASSWORD).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/users/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_id(&self) -> Uuid {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(ADMIN_EMAIL)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn jwks(&self) -> Value {
        let response = self
            .client
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Verifies `token` with the key of its `kid` from this app's JWKS, as the gateway will.
    pub async fn verify(&self, token: &str) -> TokenData<Claims> {
        verify_with(&self.jwks().await, token)
    }

    /// A request as the gateway forwards it for `user` with `roles`.
    pub fn as_user(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Uuid,
        roles: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(TOKEN_HEADER, identity(user, roles))
    }
}

pub fn verify_with(jwks: &Value, token: &str) -> TokenData<Claims> {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("no key {kid} in {jwks}"));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&["shop-users"]);
    validation.set_audience(&["shop"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud"]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Claims>(token, &key, &validation).expect("the token verifies")
}

/// Asserts a problem+json response with `status`; returns its body.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// The fields a validation problem names, sorted.
pub fn error_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

/// The identity token the gateway would forward for `user` with `roles`.
pub fn identity(user: Uuid, roles: &str) -> String {
    testkit::identity::header(user_service::config::SERVICE, &user.to_string(), roles).1
}

/// An event as it arrived on a tap queue.
pub use testkit::events::Delivered as Event;

/// A queue bound to the events exchange, collecting what arrives.
pub struct Tap {
    events: Arc<Mutex<Vec<Event>>>,
}

impl Tap {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` events have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "{n} events expected within 10 s, got {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl TestApp {
    /// Binds a queue to the events exchange with `binding` (before anything is published, or
    /// the relay's messages are unroutable and retried) and collects what arrives.
    pub async fn tap(&self, binding: &str) -> Tap {
        let events = Arc::new(Mutex::new(Vec::new()));
        let collected = events.clone();
        testkit::events::tap(&self.amqp_url, binding, move |event| {
            collected.lock().unwrap().push(event)
        })
        .await;
        Tap { events }
    }

    /// Outbox rows not yet published.
    pub async fn unsent_events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Where `body` breaks docs/schemas/user-event.v1.json.
pub fn schema_problems(body: &Value) -> Vec<String> {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schemas/user-event.v1.json"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("a valid JSON Schema")
    });
    schema
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
