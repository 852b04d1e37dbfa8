//! `spawn_app()`: {% if db %}a fresh database{% if amqp %} and a fresh RabbitMQ virtual host{% endif %}, `startup::connect` and `startup::build` as
//! the binary does them{% else %}`startup::build` as the binary does it{% endif %}, served on 127.0.0.1:0{% if amqp %} with its workers{% endif %}; plus request helpers.

{% if db and access != "public" %}
use kit::identity::TOKEN_HEADER;
{% endif %}
use reqwest::Response;
{% if db %}
use serde_json::Value;
use sqlx::PgPool;
{% endif %}
{% if consumes %}
use std::time::Duration;
{% endif %}
{% if db and access != "public" %}
use uuid::Uuid;
{% endif %}

{% if consumes %}
use {{ crate }}::consumer::Settings;
use {{ crate }}::topology::RetryPolicy;
{% endif %}
use {{ crate }}::{startup, Config};

pub struct TestApp {
    pub address: String,
{% if db %}
    pub pool: PgPool,
{% endif %}
{% if amqp %}
    pub amqp_url: String,
{% endif %}
    pub client: reqwest::Client,
}

{% if consumes %}
/// Fast retries for tests: 3 attempts, 100 ms doubling.
pub fn settings() -> Settings {
    Settings {
        prefetch: 16,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
        },
    }
}

{% endif %}
/// The service as the binary runs it{% if db %}, on a fresh database{% endif %}.
pub async fn spawn_app() -> TestApp {
    spawn_with(false).await
}

{% if db %}
/// The service as contract verification starts it: with the provider-state route.
pub async fn spawn_with_provider_states() -> TestApp {
    spawn_with(true).await
}
{% endif %}

async fn spawn_with(provider_states: bool) -> TestApp {
    let config = Config {
{% if db %}
        database_url: testkit::fresh_database().await,
{% endif %}
{% if amqp %}
        amqp_url: testkit::fresh_vhost().await,
{% endif %}
        port: 0,
{% if consumes %}
        consumer: settings(),
{% endif %}
        identity: testkit::identity::verifier(),
        provider_states,
    };
{% if db %}
    let pool = startup::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
    let service = startup::build(&config, pool.clone())
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
{% else %}
    let service = startup::build(&config)
        .await
        .unwrap_or_else(|e| panic!("start-up failed: {e}"));
{% endif %}
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service.serve_on(listener));
    TestApp {
        address,
{% if db %}
        pool,
{% endif %}
{% if amqp %}
        amqp_url: config.amqp_url,
{% endif %}
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
{% if db %}

    /// `method path` with a JSON body{% if access != "public" %}, as a caller the gateway vouches for{% endif %}.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
{% if access != "public" %}
        request = request.header(TOKEN_HEADER, identity(Uuid::new_v4(), CALLER_ROLES));
{% endif %}
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates an item named `name`; returns it.
    pub async fn create(&self, name: &str) -> Value {
        let r = self
            .post("{{ route }}", &serde_json::json!({ "name": name }))
            .await;
        assert_eq!(r.status(), 201, "create {name}");
        r.json().await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
{% endif %}
}

pub use testkit::problem;
{% if db %}

/// The fields a 422 problem names, sorted.
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
{% endif %}
{% if db and access != "public" %}

/// The roles of the caller the request helpers send as: what the gateway lets through.
pub const CALLER_ROLES: &str = "{% if access == "admin" %}user,admin{% else %}user{% endif %}";

/// The identity token the gateway would forward for `user` with `roles`.
pub fn identity(user: Uuid, roles: &str) -> String {
    testkit::identity::header({{ crate }}::SERVICE, &user.to_string(), roles).1
}
{% endif %}
{% if consumes %}

pub use testkit::eventually;
{% endif %}
