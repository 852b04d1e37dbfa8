//! A client of the shop's public API, through the gateway.
//!
//! Writes are retried only where that is safe: placing an order carries an Idempotency-Key, so
//! a retry after a 5xx or a dropped connection (the order service was killed) cannot order
//! twice.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct Shop {
    pub base: String,
    pub http: reqwest::Client,
}

#[derive(Clone)]
pub struct Customer {
    pub id: String,
    pub token: String,
}

fn err(message: String) -> Error {
    message.into()
}

impl Shop {
    pub fn new(base: &str) -> Shop {
        Shop {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(256)
                .build()
                .expect("HTTP client"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Customer, Error> {
        let r = self
            .http
            .post(self.url("/users/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| err(format!("login {email}: {status} {body}")))?;
        let me: Value = self
            .http
            .get(self.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        Ok(Customer {
            id: me["id"].as_str().unwrap_or_default().to_owned(),
            token: token.to_owned(),
        })
    }

    /// Registers a new customer and logs in.
    pub async fn customer(&self, label: String) -> Result<Customer, Error> {
        let email = format!("{label}-{}@loadtest.local", Uuid::new_v4().simple());
        let password = "load-test-password-1";
        let r = self
            .http
            .post(self.url("/users"))
            .json(&json!({"email": email, "name": &label, "password": password}))
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(err(format!("register: {} {}", r.status(), r.text().await?)));
        }
        self.login(&email, password).await
    }

    /// Creates a product (as `admin`); returns its id.
    pub async fn product(
        &self,
        admin: &Customer,
        price: &str,
        stock: i64,
    ) -> Result<String, Error> {
        let r = self
            .http
            .post(self.url("/products"))
            .bearer_auth(&admin.token)
            .json(&json!({
                "name": format!("load test {}", Uuid::new_v4().simple()),
                "price": price,
                "stock": stock,
                "category": "loadtest",
            }))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| err(format!("create product: {status} {body}")))
    }

    pub async fn stock(&self, product: &str) -> Result<i64, Error> {
        let body: Value = self
            .http
            .get(self.url(&format!("/products/{product}")))
            .send()
            .await?
            .json()
            .await?;
        body["stock"]
            .as_i64()
            .ok_or_else(|| err(format!("product {product}: {body}")))
    }

    /// Places an order, retrying (same Idempotency-Key) through 5xx, 429 and connection errors
    /// until `patience` runs out. Returns the order as first accepted.
    pub async fn place(
        &self,
        customer: &Customer,
        items: &[(String, i64)],
        token: &str,
        patience: Duration,
    ) -> Result<Value, Error> {
        let key = Uuid::new_v4().to_string();
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({"product_id": p, "quantity": q}))
            .collect();
        let body = json!({"items": items, "payment": {"token": token}});
        let deadline = Instant::now() + patience;
        let mut last = String::new();
        while Instant::now() < deadline {
            let sent = self
                .http
                .post(self.url("/orders"))
                .bearer_auth(&customer.token)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(r.json().await?),
                Ok(r) if r.status().is_server_error() || r.status() == 429 => {
                    last = format!("{}", r.status());
                }
                Ok(r) => {
                    return Err(err(format!(
                        "POST /orders: {} {}",
                        r.status(),
                        r.text().await?
                    )))
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(err(format!("POST /orders kept failing: {last}")))
    }

    /// The order now, or `None` when it could not be read (a transient error).
    pub async fn order(&self, customer: &Customer, id: &str) -> Option<Value> {
        let r = self
            .http
            .get(self.url(&format!("/orders/{id}")))
            .bearer_auth(&customer.token)
            .send()
            .await
            .ok()?;
        if r.status().is_success() {
            r.json().await.ok()
        } else {
            None
        }
    }

    /// The order once it is no longer PENDING, asking the order service to hold each answer
    /// up to `wait` (its long poll) rather than polling; `None` if it is still PENDING after
    /// `patience` or cannot be read.
    pub async fn outcome(
        &self,
        customer: &Customer,
        id: &str,
        wait: Duration,
        patience: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            let r = self
                .http
                .get(self.url(&format!("/orders/{id}?wait={}", wait.as_secs_f64())))
                .bearer_auth(&customer.token)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    let order: Value = r.json().await.ok()?;
                    if order["status"] != "PENDING" {
                        return Some(order);
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        None
    }

    /// The customer's notifications about `order`.
    pub async fn notifications(&self, customer: &Customer, order: &str) -> Option<Vec<Value>> {
        let r = self
            .http
            .get(self.url(&format!("/notifications?order_id={order}&per_page=100")))
            .bearer_auth(&customer.token)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        let body: Value = r.json().await.ok()?;
        body["items"].as_array().cloned()
    }
}
