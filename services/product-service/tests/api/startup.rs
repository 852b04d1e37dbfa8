//! Start-up: the demo catalogue (once), and the real binary (config, healthcheck, SIGTERM).

use crate::helpers::*;
use product_service::seed::{seed_demo_catalogue, SeedOutcome};
use std::process::{Command, Stdio};
use testkit::{free_port, healthcheck, stop_with_sigterm, wait_healthy};

async fn count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn demo_catalogue_loads_once() {
    let url = testkit::fresh_database().await;
    let first = spawn_on(url.clone(), true).await;
    let loaded = count(&first).await;
    assert!(loaded >= 50, "{loaded}");
    let categories: i64 = sqlx::query_scalar("SELECT count(DISTINCT category) FROM products")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert!(categories >= 4, "{categories}");
    let min_stock: i32 = sqlx::query_scalar("SELECT min(stock) FROM products")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert!(min_stock > 0);
    let page = first
        .get_json("/products?category=books&per_page=100")
        .await;
    assert!(page["total"].as_i64().unwrap() >= 5);

    // Searchable: the headphones come first for "bluetooth headphones".
    let hits = first
        .get_json("/products/search?q=bluetooth%20headphones")
        .await;
    assert_eq!(
        hits["items"][0]["name"],
        "Wireless Noise-Cancelling Headphones"
    );

    // A second start on the same database: still the same catalogue.
    let second = spawn_on(url.clone(), true).await;
    assert_eq!(count(&second).await, loaded);
    assert_eq!(
        seed_demo_catalogue(&second.pool).await.unwrap(),
        SeedOutcome::AlreadyDone
    );

    // Once means once: a catalogue the admin emptied stays empty after a restart.
    sqlx::query("DELETE FROM products")
        .execute(&second.pool)
        .await
        .unwrap();
    let third = spawn_on(url, true).await;
    assert_eq!(count(&third).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_seed_once() {
    let url = testkit::fresh_database().await;
    let apps = futures_util::future::join_all((0..3).map(|_| spawn_on(url.clone(), true))).await;
    let expected = product_service::seed::catalogue().len() as i64;
    for app in &apps {
        assert_eq!(count(app).await, expected);
    }
}

#[tokio::test]
async fn seeding_is_skipped_when_disabled_or_not_empty() {
    let app = spawn_app().await; // SEED_DEMO_CATALOGUE=false
    assert_eq!(count(&app).await, 0);
    app.product("Mine", "1.00", 1).await;
    // Enabling it later, on a catalogue that has products: left alone, decision recorded.
    let again = spawn_on(app.database_url.clone(), true).await;
    assert_eq!(count(&again).await, 1);
    assert_eq!(
        seed_demo_catalogue(&again.pool).await.unwrap(),
        SeedOutcome::AlreadyDone
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_product-service");

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let url = testkit::fresh_database().await;
    let port = free_port();
    assert!(
        !healthcheck(BIN, port),
        "healthcheck fails when nothing listens"
    );

    let mut child = Command::new(BIN)
        .env("DATABASE_URL", &url)
        .env("IDENTITY_VERIFY_KEY", testkit::identity::VERIFY_KEY)
        .env("PORT", port.to_string())
        .env_remove("SEED_DEMO_CATALOGUE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = wait_healthy(BIN, port, &mut child).await;
    eprintln!("binary ready in {ready:?}");

    let base = format!("http://127.0.0.1:{port}");
    let page: serde_json::Value = reqwest::get(format!("{base}/products"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["total"].as_i64().unwrap(),
        product_service::seed::catalogue().len() as i64,
        "seeded by default"
    );
    let doc: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/stock/reservations"].is_object());
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests"), "{metrics}");

    let status = stop_with_sigterm(&mut child).await;
    assert!(status.success(), "{status}");
    assert!(!healthcheck(BIN, port));
}

#[test]
fn the_binary_reports_every_config_problem() {
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env("PORT", "8002")
        .env("SEED_DEMO_CATALOGUE", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("DATABASE_URL is required"), "{text}");
    assert!(text.contains("SEED_DEMO_CATALOGUE"), "{text}");
}
