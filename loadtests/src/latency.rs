//! Saga latency: POST /orders → the order reads CONFIRMED, per order, with `users` customers
//! each placing orders back to back. The status is polled every `poll`, so each figure is late
//! by up to one poll interval (reported alongside).

use crate::percentile;
use crate::shop::{Error, Shop};
use futures_util::future::join_all;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LatencyConfig {
    pub gateway: String,
    pub users: usize,
    pub orders_per_user: usize,
    pub poll: Duration,
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug)]
pub struct LatencyReport {
    pub orders: usize,
    pub not_confirmed: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub wall: Duration,
}

pub async fn run(config: &LatencyConfig) -> Result<LatencyReport, Error> {
    let shop = Shop::new(&config.gateway);
    let admin = shop
        .login(&config.admin_email, &config.admin_password)
        .await?;
    let stock = (config.users * config.orders_per_user * 2 + 10) as i64;
    let product = shop.product(&admin, "12.34", stock).await?;
    let mut customers = Vec::new();
    for chunk in (0..config.users).collect::<Vec<_>>().chunks(10) {
        for c in join_all(chunk.iter().map(|i| shop.customer(format!("bench{i}")))).await {
            customers.push(c?);
        }
    }
    let started = Instant::now();
    let per_user = join_all(customers.iter().map(|customer| {
        let shop = shop.clone();
        let product = product.clone();
        async move {
            let mut samples = Vec::new();
            let mut failed = 0;
            for _ in 0..config.orders_per_user {
                let t0 = Instant::now();
                let order = match shop
                    .place(customer, &[(product.clone(), 1)], "tok_visa", Duration::from_secs(10))
                    .await
                {
                    Ok(order) => order,
                    Err(_) => {
                        failed += 1;
                        continue;
                    }
                };
                let id = order["id"].as_str().unwrap_or_default().to_owned();
                let mut status = order["status"].as_str().unwrap_or_default().to_owned();
                while status == "PENDING" && t0.elapsed() < Duration::from_secs(30) {
                    tokio::time::sleep(config.poll).await;
                    if let Some(o) = shop.order(customer, &id).await {
                        status = o["status"].as_str().unwrap_or_default().to_owned();
                    }
                }
                if status == "CONFIRMED" {
                    samples.push(t0.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failed += 1;
                }
            }
            (samples, failed)
        }
    }))
    .await;
    let wall = started.elapsed();
    let mut samples: Vec<f64> = per_user.iter().flat_map(|(s, _)| s.clone()).collect();
    let not_confirmed = per_user.iter().map(|(_, f)| f).sum();
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(LatencyReport {
        orders: samples.len(),
        not_confirmed,
        p50_ms: percentile(&samples, 0.50),
        p95_ms: percentile(&samples, 0.95),
        p99_ms: percentile(&samples, 0.99),
        max_ms: samples.last().copied().unwrap_or(f64::NAN),
        wall,
    })
}
