//! `spawn_app()`: a fresh database, migrated, the service's router bound on 127.0.0.1:0.

use product_service::store::Product;
use product_service::{startup, Config};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub const ADMIN_ID: &str = "6a1d3c0e-6a3b-4e6e-9a2d-0f5f2a1b9c01";
pub const USER_ID: &str = "7b2e4d1f-7b4c-4f7f-8b3e-1a6a3b2c0d02";

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
    pub database_url: String,
}

/// The service on a fresh, empty database (no demo catalogue).
pub async fn spawn_app() -> TestApp {
    spawn_on(testkit::fresh_database().await, false).await
}

/// The service on `database_url`, started the way the binary starts (migrations, optional
/// demo catalogue).
pub async fn spawn_on(database_url: String, seed: bool) -> TestApp {
    spawn_with(database_url, seed, false).await
}

/// The service as contract verification starts it: with the provider-state route.
pub async fn spawn_with_provider_states() -> TestApp {
    spawn_with(testkit::fresh_database().await, false, true).await
}

async fn spawn_with(database_url: String, seed: bool, provider_states: bool) -> TestApp {
    let config = Config {
        database_url: database_url.clone(),
        port: 0,
        seed_demo_catalogue: seed,
        identity: testkit::identity::verifier(),
        provider_states,
    };
    let pool = startup::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let service = startup::build(&config, pool.clone())
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    tokio::spawn(service.serve_on(listener));
    TestApp {
        address,
        pool,
        client: reqwest::Client::new(),
        database_url,
    }
}

pub fn admin(rb: RequestBuilder) -> RequestBuilder {
    testkit::identity::as_caller(rb, product_service::config::SERVICE, ADMIN_ID, "user,admin")
}

pub fn user(rb: RequestBuilder) -> RequestBuilder {
    testkit::identity::as_caller(rb, product_service::config::SERVICE, USER_ID, "user")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
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

    /// Creates a product as admin; returns it.
    pub async fn create(&self, body: Value) -> Product {
        let r = admin(self.client.post(self.url("/products")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "create {body}");
        r.json().await.unwrap()
    }

    /// A product with just what a test cares about.
    pub async fn product(&self, name: &str, price: &str, stock: i64) -> Product {
        self.create(json!({"name": name, "price": price, "stock": stock, "category": "test"}))
            .await
    }

    /// Stock, straight from the database.
    pub async fn stock(&self, id: Uuid) -> i32 {
        sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn reserve(&self, order_id: Uuid, items: &[(Uuid, i64)]) -> Response {
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({"product_id": p, "quantity": q}))
            .collect();
        self.post(
            "/stock/reservations",
            &json!({"order_id": order_id, "items": items}),
        )
        .await
    }
}

pub use testkit::problem;

/// The `field`s of a problem's `errors`.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}
