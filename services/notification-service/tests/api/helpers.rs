//! `spawn_app()`: a fresh database and a fresh RabbitMQ virtual host, the consumer running and
//! the router bound on 127.0.0.1:0; plus publishing events exactly as the order service does.

use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use kit::amqp::lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use kit::identity::TOKEN_HEADER;
use kit::Worker;
use notification_service::consumer::Settings;
use notification_service::topology::{self, RetryPolicy};
use notification_service::{startup, Config};
use reqwest::Response;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub amqp_url: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    /// The test's own connection (publishing, inspecting queues), not the service's.
    pub connection: Connection,
    publisher: Channel,
    consumer: Option<Worker>,
}

pub fn settings(max_attempts: u32, retry_base_ms: u64) -> Settings {
    Settings {
        prefetch: 16,
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(retry_base_ms),
        },
    }
}

/// The service, consuming, with fast retries (3 attempts, 100 ms doubling).
pub async fn spawn_app() -> TestApp {
    let mut app = spawn_with(settings(3, 100)).await;
    app.start_consumer();
    app
}

/// The service with `settings`, its topology declared, its consumer not started yet.
pub async fn spawn_with(settings: Settings) -> TestApp {
    let config = Config {
        database_url: testkit::fresh_database().await,
        amqp_url: testkit::fresh_vhost().await,
        port: 0,
        consumer: settings.clone(),
        identity: testkit::identity::verifier(),
    };
    let pool = startup::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    let mut service = startup::build(&config, pool.clone())
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    // The test starts the consumer when it is ready for it (`start_consumer`).
    let consumer = service.take_workers().pop().expect("the consumer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service.serve_on(listener));

    let connection = Connection::connect(&config.amqp_url, ConnectionProperties::default())
        .await
        .expect("test connection");
    let publisher = connection.create_channel().await.expect("channel");
    // The queues must exist before the first event, or the exchange drops it (as in
    // production, where the service is deployed before events it must not miss).
    topology::declare(&publisher, &settings.retry)
        .await
        .expect("declare topology");
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    TestApp {
        address,
        pool,
        amqp_url: config.amqp_url,
        settings,
        client: reqwest::Client::new(),
        connection,
        publisher,
        consumer: Some(consumer),
    }
}

/// An order event as the order service publishes it.
pub fn order_event(kind: &str, user: Uuid, order: Uuid) -> Value {
    let status = kind.trim_start_matches("order.").to_uppercase();
    let status = if status == "CREATED" {
        "PENDING".to_owned()
    } else {
        status
    };
    json!({
        "id": Uuid::new_v4(), "type": kind, "version": 1,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "data": {"order_id": order, "user_id": user, "status": status,
            "total_amount": "39.98", "currency": "EUR",
            "items": [{"product_id": Uuid::new_v4(), "quantity": 2, "price": "19.99"}],
            "cancellation_reason": null}
    })
}

pub fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

pub use testkit::eventually;

impl TestApp {
    pub fn start_consumer(&mut self) {
        let consumer = self.consumer.take().expect("the consumer runs once");
        consumer.spawn(std::future::pending());
    }

    /// Publishes to the events exchange with the order service's properties and headers; the
    /// broker confirms it was routed to a queue.
    pub async fn publish_raw(&self, routing_key: &str, event_id: &str, body: &[u8]) {
        self.publish_version(routing_key, event_id, body, "1").await
    }

    /// [`Self::publish_raw`] with another `version` header.
    pub async fn publish_version(
        &self,
        routing_key: &str,
        event_id: &str,
        body: &[u8],
        version: &str,
    ) {
        let occurred_at = chrono::Utc::now().to_rfc3339();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let headers = kit::amqp::string_headers([
            ("event_id", event_id),
            ("event_type", routing_key),
            ("version", version),
            ("occurred_at", occurred_at.as_str()),
            ("traceparent", traceparent),
            ("request_id", "test-request"),
        ]);
        let properties = BasicProperties::default()
            .with_message_id(event_id.into())
            .with_type(routing_key.into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let confirmation = self
            .publisher
            .basic_publish(
                kit::amqp::EVENTS_EXCHANGE.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirmation.is_ack());
        assert!(confirmation.take_message().is_none(), "unroutable");
    }

    pub async fn publish(&self, event: &Value) {
        self.publish_raw(
            event["type"].as_str().unwrap(),
            event["id"].as_str().unwrap(),
            event.to_string().as_bytes(),
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET with the identity headers the gateway would set.
    pub async fn get_as(&self, path: &str, user: Uuid, roles: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(TOKEN_HEADER, identity(user, roles))
            .send()
            .await
            .expect("GET")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// `GET path` as `user` (role `user`): 200 and the page.
    pub async fn page(&self, path: &str, user: Uuid) -> Value {
        let r = self.get_as(path, user, "user").await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Waits until `user` has `count` notifications; returns the page.
    pub async fn wait_for_notifications(&self, user: Uuid, count: u64) -> Value {
        eventually(
            &format!("{count} notifications"),
            Duration::from_secs(15),
            || async {
                let page = self.page("/notifications?per_page=100", user).await;
                (page["total"] == count).then_some(page)
            },
        )
        .await
    }

    /// `notification_messages_total{outcome}` from /metrics (0 when not counted yet).
    pub async fn messages(&self, outcome: &str) -> u64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        let prefix = format!("notification_messages_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0)
    }

    pub async fn wait_for_messages(&self, outcome: &str, count: u64) {
        eventually(
            &format!("{count} {outcome} messages"),
            Duration::from_secs(20),
            || async { (self.messages(outcome).await >= count).then_some(()) },
        )
        .await;
        assert_eq!(self.messages(outcome).await, count, "{outcome}");
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Ready messages and consumers of `queue`, `None` when it does not exist (a passive
    /// declare on a throwaway channel: a missing queue closes the channel it is asked on).
    pub async fn queue_info(&self, queue: &str) -> Option<(u32, u32)> {
        let channel = self.connection.create_channel().await.ok()?;
        let declared = channel
            .queue_declare(
                queue.into(),
                kit::amqp::lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .ok()?;
        let _ = channel.close(200, "done".into()).await;
        Some((declared.message_count(), declared.consumer_count()))
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

/// The identity token the gateway would forward for `user` with `roles`.
pub fn identity(user: Uuid, roles: &str) -> String {
    testkit::identity::header(
        notification_service::config::SERVICE,
        &user.to_string(),
        roles,
    )
    .1
}
