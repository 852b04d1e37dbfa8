//! `memory-burst [--gateway URL] [--logins 1000] [--orders 1000] [--concurrency 20]`: the
//! burst of `bench/service-memory.sh` against the running stack: logins (one argon2id
//! verification each), then orders followed to their outcome; prints login latency and counts.
//! The admin account comes from `ADMIN_EMAIL` / `ADMIN_PASSWORD` (defaults: the stack's).
//! Exit 1 if a login or an order failed.

use loadtests::burst::{run, BurstConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = BurstConfig {
        gateway: "http://127.0.0.1:8000".into(),
        logins: 1000,
        orders: 1000,
        concurrency: 20,
        admin_email: std::env::var("ADMIN_EMAIL").unwrap_or_else(|_| "admin@shop.local".into()),
        admin_password: std::env::var("ADMIN_PASSWORD")
            .unwrap_or_else(|_| "admin-password-1".into()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--gateway" => config.gateway = value(),
            "--logins" => config.logins = value().parse().unwrap_or(config.logins),
            "--orders" => config.orders = value().parse().unwrap_or(config.orders),
            "--concurrency" => config.concurrency = value().parse().unwrap_or(config.concurrency),
            other => {
                eprintln!("memory-burst: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let report = match run(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("memory-burst: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "logins: {} ok, {} failed, {} concurrent, {:.1} s ({:.1}/s); latency p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        report.logins_ok,
        report.logins_failed,
        config.concurrency,
        report.login_wall.as_secs_f64(),
        report.logins_ok as f64 / report.login_wall.as_secs_f64(),
        report.login_p50_ms,
        report.login_p95_ms,
        report.login_max_ms,
    );
    println!(
        "orders: {} confirmed, {} failed, {} concurrent customers, {:.1} s ({:.1}/s)",
        report.orders_confirmed,
        report.orders_failed,
        config.concurrency,
        report.order_wall.as_secs_f64(),
        report.orders_confirmed as f64 / report.order_wall.as_secs_f64(),
    );
    if report.logins_failed == 0 && report.orders_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
