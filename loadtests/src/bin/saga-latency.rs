//! `saga-latency [--gateway URL] [--users N] [--orders-per-user N] [--think-ms N]`: POST /orders →
//! CONFIRMED latency percentiles against the running stack; exits 1 if p95 misses 200 ms.

use loadtests::latency::{run, LatencyConfig};
use std::process::ExitCode;
use std::time::Duration;

const TARGET_P95_MS: f64 = 200.0;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = LatencyConfig {
        gateway: "http://127.0.0.1:8000".into(),
        users: 50,
        orders_per_user: 20,
        wait: Duration::from_secs(4),
        think: Duration::ZERO,
        admin_email: loadtests::credentials::admin_email(),
        admin_password: loadtests::credentials::admin_password(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--gateway" => config.gateway = value(),
            "--users" => config.users = value().parse().unwrap_or(config.users),
            "--orders-per-user" => {
                config.orders_per_user = value().parse().unwrap_or(config.orders_per_user)
            }
            "--think-ms" => config.think = Duration::from_millis(value().parse().unwrap_or(0)),
            other => {
                eprintln!("saga-latency: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let report = match run(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("saga-latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "saga latency, POST /orders -> the customer has the CONFIRMED order, {} concurrent users, {}, {} orders in {:.1} s = {:.1} orders/s ({} not confirmed)",
        config.users,
        if config.think.is_zero() { "back to back".to_string() } else { format!("pausing ~{} ms after each", config.think.as_millis()) },
        report.orders,
        report.wall.as_secs_f64(),
        report.orders as f64 / report.wall.as_secs_f64(),
        report.not_confirmed,
    );
    println!(
        "p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms   (target p95 < {TARGET_P95_MS} ms: {})",
        report.p50_ms,
        report.p95_ms,
        report.p99_ms,
        report.max_ms,
        if report.p95_ms < TARGET_P95_MS { "met" } else { "MISSED" }
    );
    println!(
        "POST -> the confirming commit in the order service: p50 {:.1} ms   p95 {:.1} ms",
        report.commit_p50_ms, report.commit_p95_ms
    );
    if report.p95_ms < TARGET_P95_MS && report.not_confirmed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
