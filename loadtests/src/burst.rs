//! A burst of logins and orders through the gateway, for `bench/service-memory.sh`: the work
//! that makes the services allocate (argon2id hashes in the user service, sagas everywhere
//! else), at a fixed concurrency.
//!
//! The logins are all for one customer with the right password (each costs one argon2id
//! verification, the expensive path); the orders are spread over `concurrency` customers, each
//! with a product of its own, and each order is followed to its outcome (`?wait=`), so every
//! service (product, payment, order, notification) has done its part when the burst ends.

use crate::percentile;
use crate::shop::{Customer, Error, Shop};
use futures_util::stream::{self, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BurstConfig {
    pub gateway: String,
    pub logins: usize,
    pub orders: usize,
    pub concurrency: usize,
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug, Default)]
pub struct BurstReport {
    pub logins_ok: usize,
    pub logins_failed: usize,
    pub login_wall: Duration,
    pub login_p50_ms: f64,
    pub login_p95_ms: f64,
    pub login_max_ms: f64,
    pub orders_confirmed: usize,
    pub orders_failed: usize,
    pub order_wall: Duration,
}

pub async fn run(config: &BurstConfig) -> Result<BurstReport, Error> {
    let shop = Shop::new(&config.gateway);
    let admin = shop
        .login(&config.admin_email, &config.admin_password)
        .await
        .map_err(|e| format!("admin login ({}): {e}", config.admin_email))?;
    let lanes = config.concurrency.max(1);
    let per_lane = config.orders.div_ceil(lanes) as i64;
    let mut customers: Vec<Customer> = Vec::new();
    let mut products = Vec::new();
    for i in 0..lanes {
        customers.push(shop.customer(format!("membench{i}")).await?);
        products.push(shop.product(&admin, "1.00", per_lane + 10).await?);
    }

    // Logins: one customer, right password, `concurrency` in flight.
    let email = format!(
        "membench-login-{}@loadtest.local",
        uuid::Uuid::new_v4().simple()
    );
    let password = "load-test-password-1";
    let r = shop
        .http
        .post(format!("{}/users", shop.base))
        .json(&serde_json::json!({"email": email, "name": "membench", "password": password}))
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("register: {} {}", r.status(), r.text().await?).into());
    }
    let started = Instant::now();
    let results: Vec<Option<f64>> = stream::iter(0..config.logins)
        .map(|_| {
            let shop = shop.clone();
            let email = email.clone();
            async move {
                let t0 = Instant::now();
                let r = shop
                    .http
                    .post(format!("{}/users/login", shop.base))
                    .json(&serde_json::json!({"email": email, "password": password}))
                    .send()
                    .await
                    .ok()?;
                let ok = r.status().is_success();
                let _ = r.bytes().await;
                ok.then(|| t0.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(lanes)
        .collect()
        .await;
    let login_wall = started.elapsed();
    let mut samples: Vec<f64> = results.iter().flatten().copied().collect();
    samples.sort_by(|a, b| a.total_cmp(b));

    // Orders: `concurrency` customers ordering back to back, each its own product.
    let next = AtomicUsize::new(0);
    let confirmed = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let started = Instant::now();
    futures_util::future::join_all(customers.iter().zip(&products).map(|(customer, product)| {
        let (shop, next, confirmed, failed) = (&shop, &next, &confirmed, &failed);
        async move {
            while next.fetch_add(1, Ordering::Relaxed) < config.orders {
                let placed = shop
                    .place(
                        customer,
                        &[(product.clone(), 1)],
                        "tok_visa",
                        Duration::from_secs(10),
                    )
                    .await;
                let Ok(order) = placed else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let id = order["id"].as_str().unwrap_or_default().to_owned();
                let last = if order["status"] == "PENDING" {
                    shop.outcome(
                        customer,
                        &id,
                        Duration::from_secs(4),
                        Duration::from_secs(30),
                    )
                    .await
                    .unwrap_or(order)
                } else {
                    order
                };
                if last["status"] == "CONFIRMED" {
                    confirmed.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }))
    .await;

    Ok(BurstReport {
        logins_ok: samples.len(),
        logins_failed: config.logins - samples.len(),
        login_wall,
        login_p50_ms: percentile(&samples, 0.50),
        login_p95_ms: percentile(&samples, 0.95),
        login_max_ms: samples.last().copied().unwrap_or(f64::NAN),
        orders_confirmed: confirmed.into_inner(),
        orders_failed: failed.into_inner(),
        order_wall: started.elapsed(),
    })
}
