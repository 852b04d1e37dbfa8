//! Concurrent checkouts under faults, then the invariants that must hold afterwards.
//!
//! `orders` checkouts (a share with a declined card, some for a scarce product) start spread
//! over `spread`; a quarter of the way in the order service is SIGKILLed and started again
//! two seconds later, half way in RabbitMQ is restarted. Afterwards:
//!
//! - every order is CONFIRMED or CANCELLED within `settle`;
//! - for every product, initial stock = current stock + confirmed quantities, exactly;
//! - every terminal event (order.confirmed / order.cancelled) has exactly one notification;
//! - the order service's outbox has nothing unsent.

use crate::shop::{Customer, Error, Shop};
use crate::stack::Stack;
use futures_util::future::join_all;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct FaultConfig {
    pub gateway: String,
    pub project: String,
    pub orders: usize,
    pub customers: usize,
    pub declined_share: f64,
    pub spread: Duration,
    pub settle: Duration,
    pub admin_email: String,
    pub admin_password: String,
    /// Leave the stack alone (no kills): the same checks on a healthy stack.
    pub no_faults: bool,
}

impl FaultConfig {
    pub fn new(gateway: &str, project: &str) -> FaultConfig {
        FaultConfig {
            gateway: gateway.to_owned(),
            project: project.to_owned(),
            orders: 300,
            customers: 30,
            declined_share: 0.25,
            spread: Duration::from_secs(8),
            settle: Duration::from_secs(30),
            admin_email: crate::credentials::admin_email(),
            admin_password: crate::credentials::admin_password(),
            no_faults: false,
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub timeline: Vec<String>,
    pub attempted: usize,
    pub placed: usize,
    pub post_failures: Vec<String>,
    pub outcomes: BTreeMap<String, usize>,
    pub not_terminal: Vec<String>,
    pub settled_in: Duration,
    pub products: usize,
    pub stock_mismatches: Vec<String>,
    pub terminal_events: usize,
    pub notified_once: usize,
    pub notification_problems: Vec<String>,
    pub outbox_unsent: Option<i64>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.post_failures.is_empty()
            && self.not_terminal.is_empty()
            && self.stock_mismatches.is_empty()
            && self.notification_problems.is_empty()
            && self.notified_once == self.terminal_events
            && self.outbox_unsent == Some(0)
    }

    pub fn print(&self) {
        println!("faults:");
        for line in &self.timeline {
            println!("  {line}");
        }
        println!(
            "checkouts: {} attempted, {} placed, {} failed to place",
            self.attempted,
            self.placed,
            self.post_failures.len()
        );
        for failure in self.post_failures.iter().take(5) {
            println!("  ! {failure}");
        }
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        println!("outcomes: {}", outcomes.join(", "));
        println!(
            "terminal within {:.1} s: {} of {} (not terminal: {})",
            self.settled_in.as_secs_f64(),
            self.placed - self.not_terminal.len(),
            self.placed,
            self.not_terminal.len()
        );
        println!(
            "stock: {} products, {} with initial != current + confirmed",
            self.products,
            self.stock_mismatches.len()
        );
        for m in &self.stock_mismatches {
            println!("  ! {m}");
        }
        println!(
            "notifications: {} terminal events, {} with exactly one notification",
            self.terminal_events, self.notified_once
        );
        for p in self.notification_problems.iter().take(10) {
            println!("  ! {p}");
        }
        match self.outbox_unsent {
            Some(n) => println!("outbox: {n} unsent"),
            None => println!("outbox: could not be read"),
        }
        println!("result: {}", if self.ok() { "PASS" } else { "FAIL" });
    }
}

struct Plan {
    customer: usize,
    items: Vec<(String, i64)>,
    token: &'static str,
    start_at: Duration,
}

struct Placed {
    customer: usize,
    id: String,
}

fn is_terminal(order: &Value) -> bool {
    matches!(order["status"].as_str(), Some("CONFIRMED" | "CANCELLED"))
}

pub async fn run(config: &FaultConfig) -> Result<Report, Error> {
    let shop = Shop::new(&config.gateway);
    let stack = Stack::new(&config.project);
    let mut report = Report::default();
    let admin = shop
        .login(&config.admin_email, &config.admin_password)
        .await?;

    // Five plentiful products and one scarce, so that some orders run out of stock.
    let mut products = Vec::new();
    for (price, stock) in [
        ("9.99", 2000),
        ("19.50", 2000),
        ("4.25", 2000),
        ("99.00", 2000),
        ("1.10", 2000),
        ("49.90", 40),
    ] {
        products.push((shop.product(&admin, price, stock).await?, stock));
    }
    report.products = products.len();

    let mut customers = Vec::new();
    for chunk in (0..config.customers).collect::<Vec<_>>().chunks(10) {
        let batch = join_all(chunk.iter().map(|i| shop.customer(format!("chaos{i}")))).await;
        for c in batch {
            customers.push(c?);
        }
    }
    let customers: Arc<Vec<Customer>> = Arc::new(customers);

    let plans: Vec<Plan> = {
        let mut rng = rand::thread_rng();
        (0..config.orders)
            .map(|_| {
                let n = rng.gen_range(1..=3);
                let mut chosen: Vec<&(String, i64)> = products.iter().collect();
                chosen.shuffle(&mut rng);
                Plan {
                    customer: rng.gen_range(0..customers.len()),
                    items: chosen[..n]
                        .iter()
                        .map(|(id, _)| (id.clone(), rng.gen_range(1..=3)))
                        .collect(),
                    token: if rng.gen_bool(config.declined_share) {
                        "tok_declined"
                    } else {
                        "tok_visa"
                    },
                    start_at: config.spread.mul_f64(rng.gen::<f64>()),
                }
            })
            .collect()
    };
    report.attempted = plans.len();

    let started = Instant::now();
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let faults = {
        let timeline = timeline.clone();
        let spread = config.spread;
        let no_faults = config.no_faults;
        tokio::spawn(async move {
            if no_faults {
                return;
            }
            let note = |what: String| {
                timeline.lock().unwrap().push(format!(
                    "{:>5.1} s  {what}",
                    started.elapsed().as_secs_f64()
                ))
            };
            tokio::time::sleep(spread / 4).await;
            note(format!(
                "kill order-service: {:?}",
                stack.kill("order-service").map(|_| "ok")
            ));
            tokio::time::sleep(Duration::from_secs(2)).await;
            note(format!(
                "start order-service: {:?}",
                stack.start("order-service").map(|_| "ok")
            ));
            let wait = (spread / 2).saturating_sub(started.elapsed());
            tokio::time::sleep(wait).await;
            note("restart rabbitmq (begins)".into());
            let restarted =
                tokio::task::spawn_blocking(move || stack.restart("rabbitmq").map(|_| "ok"))
                    .await
                    .map_err(|e| e.to_string());
            note(format!("restart rabbitmq: {restarted:?}"));
        })
    };

    let placed: Vec<Result<Placed, String>> = join_all(plans.into_iter().map(|plan| {
        let shop = shop.clone();
        let customers = customers.clone();
        async move {
            tokio::time::sleep(plan.start_at).await;
            let customer = &customers[plan.customer];
            shop.place(customer, &plan.items, plan.token, Duration::from_secs(60))
                .await
                .map(|order| Placed {
                    customer: plan.customer,
                    id: order["id"].as_str().unwrap_or_default().to_owned(),
                })
                .map_err(|e| e.to_string())
        }
    }))
    .await;
    let _ = faults.await;
    report.timeline = timeline.lock().unwrap().clone();
    let placed: Vec<Placed> = placed
        .into_iter()
        .filter_map(|r| r.map_err(|e| report.post_failures.push(e)).ok())
        .collect();
    report.placed = placed.len();

    // Every order terminal within `settle` of the last checkout.
    let settle_from = Instant::now();
    let mut finals: HashMap<String, Value> = HashMap::new();
    loop {
        let open: Vec<&Placed> = placed
            .iter()
            .filter(|p| !finals.contains_key(&p.id))
            .collect();
        if open.is_empty() || settle_from.elapsed() > config.settle {
            report.not_terminal = open.iter().map(|p| p.id.clone()).collect();
            break;
        }
        for chunk in open.chunks(50) {
            let read = join_all(
                chunk
                    .iter()
                    .map(|p| shop.order(&customers[p.customer], &p.id)),
            )
            .await;
            for (p, order) in chunk.iter().zip(read) {
                if let Some(order) = order.filter(is_terminal) {
                    finals.insert(p.id.clone(), order);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    report.settled_in = settle_from.elapsed();
    for order in finals.values() {
        let outcome = match order["status"].as_str() {
            Some("CANCELLED") => format!(
                "CANCELLED({})",
                order["cancellation_reason"].as_str().unwrap_or("?")
            ),
            other => other.unwrap_or("?").to_owned(),
        };
        *report.outcomes.entry(outcome).or_default() += 1;
    }

    // Stock: initial = current + confirmed quantities.
    for (product, initial) in &products {
        let confirmed: i64 = finals
            .values()
            .filter(|o| o["status"] == "CONFIRMED")
            .flat_map(|o| o["items"].as_array().cloned().unwrap_or_default())
            .filter(|i| i["product_id"].as_str() == Some(product))
            .map(|i| i["quantity"].as_i64().unwrap_or(0))
            .sum();
        let current = shop.stock(product).await?;
        if *initial != current + confirmed {
            report.stock_mismatches.push(format!(
                "{product}: initial {initial} != current {current} + confirmed {confirmed}"
            ));
        }
    }

    // Each terminal event notified exactly once (waiting for the consumer to catch up).
    let notify_from = Instant::now();
    let terminal: Vec<(&Placed, String)> = placed
        .iter()
        .filter_map(|p| {
            finals.get(&p.id).map(|o| {
                let event = if o["status"] == "CONFIRMED" {
                    "order.confirmed"
                } else {
                    "order.cancelled"
                };
                (p, event.to_owned())
            })
        })
        .collect();
    report.terminal_events = terminal.len();
    let mut counts: HashMap<String, usize> = HashMap::new();
    loop {
        let missing: Vec<&(&Placed, String)> = terminal
            .iter()
            .filter(|(p, _)| counts.get(&p.id).copied().unwrap_or(0) == 0)
            .collect();
        if missing.is_empty() || notify_from.elapsed() > config.settle {
            break;
        }
        for chunk in missing.chunks(50) {
            let read = join_all(
                chunk
                    .iter()
                    .map(|(p, _)| shop.notifications(&customers[p.customer], &p.id)),
            )
            .await;
            for ((p, event), notes) in chunk.iter().zip(read) {
                if let Some(notes) = notes {
                    let n = notes
                        .iter()
                        .filter(|n| n["event_type"].as_str() == Some(event))
                        .count();
                    counts.insert(p.id.clone(), n);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A final read of all, so that late duplicates are seen too.
    for (p, event) in &terminal {
        let n = shop
            .notifications(&customers[p.customer], &p.id)
            .await
            .map(|notes| {
                notes
                    .iter()
                    .filter(|n| n["event_type"].as_str() == Some(event.as_str()))
                    .count()
            })
            .unwrap_or(0);
        if n == 1 {
            report.notified_once += 1;
        } else {
            report
                .notification_problems
                .push(format!("order {} {event}: {n} notifications", p.id));
        }
    }

    // The outbox drains.
    let stack = Stack::new(&config.project);
    let drain_from = Instant::now();
    loop {
        let unsent = stack
            .psql(
                "orders-db",
                "orders",
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
            )
            .ok()
            .and_then(|v| v.parse::<i64>().ok());
        report.outbox_unsent = unsent;
        if unsent == Some(0) || drain_from.elapsed() > config.settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(report)
}
