//! `spawn_app()`: the order service and its partners on fresh databases and a fresh RabbitMQ
//! vhost, all over real HTTP and AMQP.
//!
//! The order service runs on its own thread and Tokio runtime, so a test can crash it — drop
//! the runtime with saga steps in flight, as a killed process would — and start another
//! instance on the same database.

use order_service::saga::SagaConfig;
use order_service::{startup, Config};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const ADMIN_ID: &str = "6a1d3c0e-6a3b-4e6e-9a2d-0f5f2a1b9c01";
pub const USER_ID: &str = "7b2e4d1f-7b4c-4f7f-8b3e-1a6a3b2c0d02";
pub const OTHER_ID: &str = "8c3f5e2a-8c5d-4a8a-9c4f-2b7b4c3d1e03";

/// An event as it arrived on the tap queue.
#[derive(Debug, Clone)]
pub struct Event {
    pub routing_key: String,
    pub headers: std::collections::HashMap<String, String>,
    pub message_id: Option<String>,
    pub body: Value,
    /// Where the body breaks docs/schemas/order-event.v1.json (checked by `events_of`).
    pub schema_problems: Vec<String>,
}

pub struct Partner {
    pub address: String,
    pub pool: PgPool,
}

/// An order-service instance on its own runtime; dropping it (or [`Instance::crash`]) kills
/// every task it runs, mid-step.
pub struct Instance {
    pub address: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Instance {
    pub fn start(config: Config, pool_url: String) -> Instance {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (ready, started) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let config = Config {
                    database_url: pool_url,
                    ..config
                };
                let pool = startup::connect(&config)
                    .await
                    .unwrap_or_else(|e| panic!("start-up failed: {e}"));
                let service = startup::build(&config, pool)
                    .await
                    .unwrap_or_else(|e| panic!("start-up failed: {e}"));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::spawn(service.serve_on(listener));
                ready.send(()).unwrap();
            });
            // Park until told to stop; then the runtime is dropped with whatever was in flight.
            let _ = stopped.recv();
            runtime.shutdown_background();
        });
        started
            .recv_timeout(Duration::from_secs(60))
            .expect("the order service started");
        Instance {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Kills the instance as a crash would: no graceful shutdown, steps abandoned mid-flight.
    pub fn crash(mut self) {
        self.kill();
    }

    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct TestApp {
    pub orders: Instance,
    pub pool: PgPool,
    pub database_url: String,
    pub amqp_url: String,
    pub products: Partner,
    pub payments: Partner,
    pub client: reqwest::Client,
    pub events: Arc<Mutex<Vec<Event>>>,
}

pub struct Options {
    pub saga: SagaConfig,
    /// Where the order service finds the payment service (`None`: the real one).
    pub payment_url: Option<String>,
    /// Bind a queue to the events exchange (without one, every event is unroutable).
    pub tap: bool,
    pub slow_token_delay: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            saga: SagaConfig {
                deadline: Duration::from_secs(10),
                lease: Duration::from_secs(2),
                ..SagaConfig::default()
            },
            payment_url: None,
            tap: true,
            slow_token_delay: Duration::from_millis(1500),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

async fn partner(service: kit::Service, pool: PgPool) -> Partner {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service.serve_on(listener));
    Partner { address, pool }
}

pub async fn spawn_with(options: Options) -> TestApp {
    let product_config = product_service::Config {
        database_url: testkit::fresh_database().await,
        port: 0,
        seed_demo_catalogue: false,
        identity: testkit::identity::verifier(),
        provider_states: false,
    };
    let product_pool = product_service::startup::connect(&product_config)
        .await
        .unwrap();
    let product_service = product_service::startup::build(&product_config, product_pool.clone());
    let products = partner(product_service.await.unwrap(), product_pool).await;
    let payment_config = payment_service::Config {
        database_url: testkit::fresh_database().await,
        port: 0,
        provider: payment_service::provider::Provider {
            slow_token_delay: options.slow_token_delay,
            ..Default::default()
        },
        identity: testkit::identity::verifier(),
        provider_states: false,
    };
    let payment_pool = payment_service::startup::connect(&payment_config)
        .await
        .unwrap();
    let payment_service = payment_service::startup::build(&payment_config, payment_pool.clone());
    let payments = partner(payment_service.await.unwrap(), payment_pool).await;
    let amqp_url = testkit::fresh_vhost().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    if options.tap {
        tap(&amqp_url, events.clone()).await;
    }
    let database_url = testkit::fresh_database().await;
    let config = config(&amqp_url, &products.address, &payments.address, &options);
    let orders = Instance::start(config, database_url.clone());
    let pool = PgPool::connect(&database_url).await.unwrap();
    TestApp {
        orders,
        pool,
        database_url,
        amqp_url,
        products,
        payments,
        client: reqwest::Client::new(),
        events,
    }
}

pub fn config(amqp_url: &str, products: &str, payments: &str, options: &Options) -> Config {
    Config {
        database_url: String::new(),
        amqp_url: amqp_url.to_owned(),
        product_service_url: products.to_owned(),
        payment_service_url: options
            .payment_url
            .clone()
            .unwrap_or_else(|| payments.to_owned()),
        port: 0,
        currency: "EUR".into(),
        saga: options.saga.clone(),
        step_timeout: Duration::from_secs(3),
        identity: testkit::identity::verifier(),
        provider_states: false,
    }
}

/// Binds a queue to every order event and collects what arrives.
pub async fn tap(amqp_url: &str, events: Arc<Mutex<Vec<Event>>>) {
    testkit::events::tap(amqp_url, "order.#", move |delivered| {
        let problems: Vec<String> = event_schema()
            .iter_errors(&delivered.body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        events.lock().unwrap().push(Event {
            routing_key: delivered.routing_key,
            headers: delivered.headers,
            message_id: delivered.message_id,
            body: delivered.body,
            schema_problems: problems,
        });
    })
    .await;
}

/// The published event schema (docs/schemas/order-event.v1.json), compiled once.
fn event_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schemas/order-event.v1.json"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("a valid JSON Schema")
    })
}

pub fn as_user(rb: RequestBuilder, user: &str) -> RequestBuilder {
    testkit::identity::as_caller(rb, order_service::config::SERVICE, user, "user")
}

pub fn as_admin(rb: RequestBuilder) -> RequestBuilder {
    testkit::identity::as_caller(rb, order_service::config::SERVICE, ADMIN_ID, "user,admin")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.orders.address, path)
    }

    /// A product with `stock` units at `price`, created through the product service's API.
    pub async fn product(&self, price: &str, stock: i64) -> Uuid {
        let r = testkit::identity::as_caller(
            self.client.post(format!("{}/products", self.products.address)),
            product_service::config::SERVICE,
            ADMIN_ID,
            "user,admin",
        )
            .json(&json!({"name": format!("p-{}", Uuid::new_v4()), "price": price, "stock": stock, "category": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn stock(&self, product: Uuid) -> i32 {
        sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
            .bind(product)
            .fetch_one(&self.products.pool)
            .await
            .unwrap()
    }

    pub async fn reservation(&self, order: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1")
            .bind(order)
            .fetch_optional(&self.products.pool)
            .await
            .unwrap()
    }

    pub async fn payment(&self, order: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
            .bind(order)
            .fetch_optional(&self.payments.pool)
            .await
            .unwrap()
    }

    pub async fn place(&self, items: &[(Uuid, i64)], token: &str) -> Response {
        self.place_with(items, token, USER_ID, None).await
    }

    pub async fn place_with(
        &self,
        items: &[(Uuid, i64)],
        token: &str,
        user: &str,
        key: Option<&str>,
    ) -> Response {
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({"product_id": p, "quantity": q}))
            .collect();
        let mut rb = as_user(self.client.post(self.url("/orders")), user)
            .json(&json!({"items": items, "payment": {"token": token}}));
        if let Some(key) = key {
            rb = rb.header("idempotency-key", key);
        }
        rb.send().await.unwrap()
    }

    /// Places an order and returns its id (asserting 202).
    pub async fn order(&self, items: &[(Uuid, i64)], token: &str) -> Uuid {
        let r = self.place(items, token).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let body: Value = r.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn get(&self, id: Uuid) -> Value {
        let r = as_user(self.client.get(self.url(&format!("/orders/{id}"))), USER_ID)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Polls the order until its status is terminal-for-the-saga (not PENDING); panics after
    /// `within`.
    pub async fn settled(&self, id: Uuid, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let order = self.get(id).await;
            let saga_done: bool =
                sqlx::query_scalar("SELECT saga_step = 'done' FROM orders WHERE id = $1")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            if order["status"] != "PENDING" && saga_done {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} still {} after {within:?}",
                order["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn unsent_events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The events of `order` received so far, waiting until `n` have arrived.
    pub async fn events_of(&self, order: Uuid, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mine: Vec<Event> = self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.body["data"]["order_id"] == order.to_string())
                .cloned()
                .collect();
            if mine.len() >= n {
                for e in &mine {
                    assert!(
                        e.schema_problems.is_empty(),
                        "{} does not match docs/schemas/order-event.v1.json: {:?}\n{}",
                        e.routing_key,
                        e.schema_problems,
                        e.body
                    );
                }
                return mine;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} events of {order}, got {:?}",
                mine.iter().map(|e| &e.routing_key).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub use testkit::problem;
