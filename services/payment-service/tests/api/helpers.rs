//! `spawn_app()`: a fresh database, migrated, the service's router bound on 127.0.0.1:0.

use payment_service::provider::Provider;
use payment_service::{startup, Config};
use reqwest::Response;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
}

/// The service on a fresh database, default provider with a short slow-token delay.
pub async fn spawn_app() -> TestApp {
    spawn_on(testkit::fresh_database().await, provider()).await
}

pub fn provider() -> Provider {
    Provider {
        slow_token_delay: Duration::from_millis(200),
        ..Provider::default()
    }
}

pub async fn spawn_on(database_url: String, provider: Provider) -> TestApp {
    spawn_with(database_url, provider, false).await
}

/// The service as contract verification starts it: with the provider-state route.
pub async fn spawn_with_provider_states() -> TestApp {
    spawn_with(testkit::fresh_database().await, provider(), true).await
}

async fn spawn_with(database_url: String, provider: Provider, provider_states: bool) -> TestApp {
    let config = Config {
        database_url: database_url.clone(),
        port: 0,
        provider,
        identity: testkit::identity::verifier(),
        provider_states,
    };
    let pool = startup::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    let service = startup::build(&config, pool.clone())
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service.serve_on(listener));
    TestApp {
        address,
        pool,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET that must answer 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn pay(&self, order_id: Uuid, amount: &str, token: &str) -> Response {
        self.post(
            "/payments",
            &json!({"order_id": order_id, "amount": amount, "currency": "EUR", "token": token}),
        )
        .await
    }

    pub async fn rows(&self, order_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

pub use testkit::problem;

pub fn fields(problem: &Value) -> Vec<String> {
    let mut f: Vec<String> = problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    f.sort();
    f
}
