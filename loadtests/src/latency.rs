//! Saga latency: POST /orders → the customer sees the order CONFIRMED, per order, with `users`
//! customers each placing orders, back to back or pausing between them.
//!
//! After the POST, the customer asks for the order with `?wait=` (the order service holds the
//! answer until the saga settles), so the interval ends when the confirmation reaches the
//! client, with no polling interval added and no stream of status reads loading the stack. The
//! confirming commit's own time (the order's `updated_at`, stamped by the order service;
//! containers share the host's clock) is reported alongside: the difference is the answer's way
//! back through the gateway.

use crate::percentile;
use crate::shop::{Error, Shop};
use futures_util::future::join_all;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LatencyConfig {
    pub gateway: String,
    pub users: usize,
    pub orders_per_user: usize,
    /// How long each `GET /orders/{id}?wait=` may be held.
    pub wait: Duration,
    /// A customer's pause after seeing an order confirmed, before the next one (0: back to back,
    /// a closed loop that measures capacity rather than a shop's customers). Jittered ±50 % so
    /// that customers do not move in lockstep.
    pub think: Duration,
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug)]
pub struct LatencyReport {
    pub orders: usize,
    pub not_confirmed: usize,
    /// POST sent → the client has the CONFIRMED order.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// POST sent → the confirming commit.
    pub commit_p50_ms: f64,
    pub commit_p95_ms: f64,
    pub wall: Duration,
}

pub async fn run(config: &LatencyConfig) -> Result<LatencyReport, Error> {
    let shop = Shop::new(&config.gateway);
    let admin = shop
        .login(&config.admin_email, &config.admin_password)
        .await?;
    // Customers buy from a catalogue, not all the same item: one product per customer, so that
    // the figure is the saga's, not one stock row's lock queue.
    let stock = (config.orders_per_user * 2 + 10) as i64;
    let mut products = Vec::new();
    for _ in 0..config.users {
        products.push(shop.product(&admin, "12.34", stock).await?);
    }
    let mut customers = Vec::new();
    for chunk in (0..config.users).collect::<Vec<_>>().chunks(10) {
        for c in join_all(chunk.iter().map(|i| shop.customer(format!("bench{i}")))).await {
            customers.push(c?);
        }
    }
    let started = Instant::now();
    let per_user = join_all(customers.iter().zip(&products).map(|(customer, product)| {
        let shop = shop.clone();
        async move {
            let mut samples = Vec::new();
            let mut commits = Vec::new();
            let mut failed = 0;
            // Customers arrive spread over one pause rather than all in the same millisecond
            // (with a pause, the stampede at t=0 would be most of the slowest 5 %).
            if !config.think.is_zero() {
                tokio::time::sleep(config.think.mul_f64(rand::random::<f64>())).await;
            }
            for n in 0..config.orders_per_user {
                if n > 0 && !config.think.is_zero() {
                    let jitter = 0.5 + rand::random::<f64>();
                    tokio::time::sleep(config.think.mul_f64(jitter)).await;
                }
                let t0 = Instant::now();
                let sent_at = chrono::Utc::now();
                let order = match shop
                    .place(
                        customer,
                        &[(product.clone(), 1)],
                        "tok_visa",
                        Duration::from_secs(10),
                    )
                    .await
                {
                    Ok(order) => order,
                    Err(_) => {
                        failed += 1;
                        continue;
                    }
                };
                let id = order["id"].as_str().unwrap_or_default().to_owned();
                let last = if order["status"] == "PENDING" {
                    shop.outcome(customer, &id, config.wait, Duration::from_secs(30))
                        .await
                        .unwrap_or(order)
                } else {
                    order
                };
                let seen = t0.elapsed();
                let committed_at = last["updated_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                match (last["status"].as_str(), committed_at) {
                    (Some("CONFIRMED"), Some(at)) => {
                        let ms = (at.with_timezone(&chrono::Utc) - sent_at).num_microseconds();
                        commits.push(ms.unwrap_or(i64::MAX) as f64 / 1000.0);
                        samples.push(seen.as_secs_f64() * 1000.0);
                    }
                    _ => failed += 1,
                }
            }
            (samples, commits, failed)
        }
    }))
    .await;
    let wall = started.elapsed();
    let mut samples: Vec<f64> = per_user.iter().flat_map(|(s, _, _)| s.clone()).collect();
    let mut commits: Vec<f64> = per_user.iter().flat_map(|(_, c, _)| c.clone()).collect();
    let not_confirmed = per_user.iter().map(|(_, _, f)| f).sum();
    samples.sort_by(|a, b| a.total_cmp(b));
    commits.sort_by(|a, b| a.total_cmp(b));
    Ok(LatencyReport {
        orders: samples.len(),
        not_confirmed,
        p50_ms: percentile(&samples, 0.50),
        p95_ms: percentile(&samples, 0.95),
        p99_ms: percentile(&samples, 0.99),
        max_ms: samples.last().copied().unwrap_or(f64::NAN),
        commit_p50_ms: percentile(&commits, 0.50),
        commit_p95_ms: percentile(&commits, 0.95),
        wall,
    })
}
