//! Charging (idempotent by order id), refunds, lookups, the provider's tokens and chaos.

use crate::helpers::*;
use payment_service::provider::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[tokio::test]
async fn visa_charges_201_succeeded() {
    let app = spawn_app().await;
    let order = Uuid::new_v4();
    let r = app.pay(order, "19.99", "tok_visa").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], "succeeded");
    assert_eq!(p["amount"], "19.99");
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["order_id"], order.to_string());
    assert!(p.get("decline_reason").is_none());
    assert!(p["created_at"].is_string() && p["updated_at"].is_string());
    assert_eq!(location, format!("/payments/{}", p["id"].as_str().unwrap()));
    let got = app.get(&location).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.json::<Value>().await.unwrap(), p);
}

#[tokio::test]
async fn declined_is_a_201_business_outcome() {
    let app = spawn_app().await;
    let r = app.pay(Uuid::new_v4(), "5.00", "tok_declined").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], "declined");
    assert_eq!(p["decline_reason"], "card_declined");
}

#[tokio::test]
async fn retry_returns_the_same_payment_once() {
    let app = spawn_app().await;
    let order = Uuid::new_v4();
    let first: Value = app
        .pay(order, "10.50", "tok_visa")
        .await
        .json()
        .await
        .unwrap();
    let r = app.pay(order, "10.5", "tok_visa").await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(app.rows(order).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_charge_once() {
    // Latency keeps the first charge in flight while the others arrive.
    let provider = Provider {
        latency: Duration::from_millis(200),
        ..provider()
    };
    let app = spawn_on(testkit::fresh_database().await, provider).await;
    let order = Uuid::new_v4();
    let results = futures_util::future::join_all((0..10).map(|_| async {
        let r = app.pay(order, "42.00", "tok_visa").await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        (status, body["id"].as_str().unwrap().to_owned())
    }))
    .await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!((created, ok), (1, 9), "{results:?}");
    assert!(results.iter().all(|(_, id)| *id == results[0].1));
    assert_eq!(app.rows(order).await, 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("payments_total{outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("payments_total{outcome=\"replayed\"} 9"),
        "{metrics}"
    );
}

#[tokio::test]
async fn retry_with_a_different_amount_conflicts() {
    let app = spawn_app().await;
    let order = Uuid::new_v4();
    assert_eq!(
        app.pay(order, "10.00", "tok_visa").await.status(),
        StatusCode::CREATED
    );
    problem(app.pay(order, "11.00", "tok_visa").await, 409).await;
    assert_eq!(app.rows(order).await, 1);
}

#[tokio::test]
async fn refund_is_idempotent() {
    let app = spawn_app().await;
    let p: Value = app
        .pay(Uuid::new_v4(), "3.00", "tok_visa")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/payments/{}/refund", p["id"].as_str().unwrap());
    let r = app.post(&path, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "refunded");
    assert_eq!(first["id"], p["id"]);
    let r = app.post(&path, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), first);
}

#[tokio::test]
async fn lists_the_payments_of_an_order() {
    let app = spawn_app().await;
    let order = Uuid::new_v4();
    let none: Value = app
        .get(&format!("/payments?order_id={order}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
    let p: Value = app
        .pay(order, "8.00", "tok_visa")
        .await
        .json()
        .await
        .unwrap();
    let r = app.get(&format!("/payments?order_id={order}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([p]));
    problem(app.get("/payments").await, 422).await;
    problem(app.get("/payments?order_id=nope").await, 422).await;
}

#[tokio::test]
async fn refunding_a_declined_payment_conflicts() {
    let app = spawn_app().await;
    let p: Value = app
        .pay(Uuid::new_v4(), "3.00", "tok_declined")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/payments/{}/refund", p["id"].as_str().unwrap());
    problem(app.post(&path, &json!({})).await, 409).await;
}

#[tokio::test]
async fn unknown_payments_are_404_problems() {
    let app = spawn_app().await;
    problem(app.get(&format!("/payments/{}", Uuid::new_v4())).await, 404).await;
    problem(app.get("/payments/not-a-uuid").await, 404).await;
    problem(
        app.post("/payments/not-a-uuid/refund", &json!({})).await,
        404,
    )
    .await;
    problem(
        app.post(&format!("/payments/{}/refund", Uuid::new_v4()), &json!({}))
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn validation_lists_every_bad_field() {
    let app = spawn_app().await;
    let body =
        json!({"order_id": "nope", "amount": "1.999", "currency": "eur", "token": "tok_visa"});
    let p = problem(app.post("/payments", &body).await, 422).await;
    assert_eq!(fields(&p), ["amount", "currency", "order_id"]);
    for amount in [json!("0"), json!("-1.00"), json!("abc"), json!(12)] {
        let body = json!({"order_id": Uuid::new_v4(), "amount": amount, "currency": "EUR", "token": "tok_visa"});
        let p = problem(app.post("/payments", &body).await, 422).await;
        assert_eq!(fields(&p), ["amount"], "{amount}");
    }
    let p = problem(app.pay(Uuid::new_v4(), "1.00", "tok_unknown").await, 422).await;
    assert_eq!(fields(&p), ["token"]);
    let p = problem(app.post("/payments", &json!({})).await, 422).await;
    assert_eq!(fields(&p), ["amount", "currency", "order_id", "token"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/payments"))
        .header("content-type", "application/json")
        .body("{\"order_id\":")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
}

#[tokio::test]
async fn transient_failures_record_nothing_and_a_retry_succeeds() {
    let url = testkit::fresh_database().await;
    let failing = spawn_on(
        url.clone(),
        Provider {
            failure_rate: 1.0,
            ..provider()
        },
    )
    .await;
    let order = Uuid::new_v4();
    let r = failing.pay(order, "7.00", "tok_visa").await;
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    problem(r, 503).await;
    assert_eq!(failing.rows(order).await, 0);

    let healthy = spawn_on(url, provider()).await;
    let r = healthy.pay(order, "7.00", "tok_visa").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "succeeded");
    assert_eq!(healthy.rows(order).await, 1);
}

#[tokio::test]
async fn slow_token_answers_late_then_succeeds() {
    let app = spawn_app().await; // SLOW_TOKEN_DELAY_MS = 200
    let started = Instant::now();
    let r = app.pay(Uuid::new_v4(), "1.00", "tok_slow").await;
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "succeeded");
    assert!(took >= Duration::from_millis(200), "{took:?}");
}

/// `PaymentStatus::parse` once read any status it did not know as `refunded`: a payment whose
/// row says something else (a charge still `pending`, a status from a newer version) must be
/// a 500 problem, never reported as refunded.
#[tokio::test]
async fn a_payment_with_an_unknown_status_is_a_500_not_a_refund() {
    let app = spawn_app().await;
    let order = Uuid::new_v4();
    let created: Value = app
        .pay(order, "5.00", "tok_visa")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/payments/{}", created["id"].as_str().unwrap());
    for status in ["pending", "chargeback"] {
        sqlx::query("ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_status_check")
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE payments SET status = $1 WHERE order_id = $2")
            .bind(status)
            .bind(order)
            .execute(&app.pool)
            .await
            .unwrap();
        testkit::problem(app.get(&path).await, 500).await;
        let listed = app.get(&format!("/payments?order_id={order}")).await;
        testkit::problem(listed, 500).await;
    }
}
