//! The saga end to end: its outcomes, compensations, crash recovery and deadline.

use crate::helpers::*;
use order_service::saga::SagaConfig;
use reqwest::StatusCode;
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn happy_path_reserves_charges_commits_and_confirms() {
    let app = spawn_app().await;
    let (a, b) = (app.product("19.99", 10).await, app.product("5.00", 3).await);
    let r = app.place(&[(a, 2), (b, 1)], "tok_visa").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let placed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(placed["status"], "PENDING");
    assert_eq!(placed["total_amount"], "44.98");
    assert_eq!(
        location,
        format!("/orders/{}", placed["id"].as_str().unwrap())
    );
    let id = placed["id"].as_str().unwrap().parse().unwrap();

    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert!(order.get("cancellation_reason").is_none());
    assert_eq!((app.stock(a).await, app.stock(b).await), (8, 2));
    assert_eq!(app.reservation(id).await.as_deref(), Some("committed"));
    assert_eq!(app.payment(id).await.as_deref(), Some("succeeded"));
}

#[tokio::test]
async fn declined_payment_releases_the_stock_and_cancels() {
    let app = spawn_app().await;
    let a = app.product("10.00", 5).await;
    let id = app.order(&[(a, 3)], "tok_declined").await;
    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "payment_declined");
    assert_eq!(app.stock(a).await, 5, "stock restored");
    assert_eq!(app.reservation(id).await.as_deref(), Some("released"));
    assert_eq!(app.payment(id).await.as_deref(), Some("declined"));
}

#[tokio::test]
async fn out_of_stock_cancels_without_charging() {
    let app = spawn_app().await;
    let (a, b) = (
        app.product("10.00", 5).await,
        app.product("1.00", 100).await,
    );
    let id = app.order(&[(a, 6), (b, 1)], "tok_visa").await;
    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "out_of_stock");
    assert_eq!((app.stock(a).await, app.stock(b).await), (5, 100));
    assert_eq!(app.payment(id).await, None, "nothing charged");
}

#[tokio::test]
async fn user_cancels_a_confirmed_order_stock_returned_and_refunded() {
    let app = spawn_app().await;
    let a = app.product("7.50", 4).await;
    let id = app.order(&[(a, 2)], "tok_visa").await;
    assert_eq!(app.settled(id, SETTLE).await["status"], "CONFIRMED");
    assert_eq!(app.stock(a).await, 2);

    let r = as_user(
        app.client.post(app.url(&format!("/orders/{id}/cancel"))),
        USER_ID,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let order: serde_json::Value = r.json().await.unwrap();
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "cancelled_by_user");
    assert_eq!(app.stock(a).await, 4, "stock returned");
    assert_eq!(app.reservation(id).await.as_deref(), Some("returned"));
    assert_eq!(app.payment(id).await.as_deref(), Some("refunded"));

    // Cancelling again answers the same cancelled order.
    let again = as_user(
        app.client.post(app.url(&format!("/orders/{id}/cancel"))),
        USER_ID,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(app.stock(a).await, 4, "returned once");
}

#[tokio::test]
async fn user_cancels_while_the_payment_is_in_flight() {
    let app = spawn_app().await;
    let a = app.product("3.00", 10).await;
    // tok_slow keeps the charge step busy for 1.5 s; the cancel lands in the middle of it.
    let id = app.order(&[(a, 1)], "tok_slow").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = as_user(
        app.client.post(app.url(&format!("/orders/{id}/cancel"))),
        USER_ID,
    )
    .send()
    .await
    .unwrap();
    assert!(
        [StatusCode::OK, StatusCode::ACCEPTED].contains(&r.status()),
        "{}",
        r.status()
    );
    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "cancelled_by_user");
    assert_eq!(app.stock(a).await, 10);
    // The charge that was in flight succeeded, and was refunded by the compensation.
    assert_eq!(app.payment(id).await.as_deref(), Some("refunded"));
}

#[tokio::test]
async fn a_get_with_wait_answers_when_the_saga_settles_instead_of_at_once() {
    let app = spawn_app().await;
    let a = app.product("4.00", 10).await;
    // tok_slow holds the charge for 1.5 s, so the order is still PENDING when asked.
    let id = app.order(&[(a, 1)], "tok_slow").await;
    let get = |query: &'static str| {
        as_user(
            app.client.get(app.url(&format!("/orders/{id}{query}"))),
            USER_ID,
        )
        .send()
    };

    let at_once = get("?wait=0").await.unwrap();
    assert_eq!(at_once.status(), StatusCode::OK);
    assert_eq!(
        at_once.json::<serde_json::Value>().await.unwrap()["status"],
        "PENDING"
    );

    let asked = std::time::Instant::now();
    let waited = get("?wait=4").await.unwrap();
    let took = asked.elapsed();
    assert_eq!(waited.status(), StatusCode::OK);
    let order: serde_json::Value = waited.json().await.unwrap();
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    assert!(
        took > Duration::from_millis(500) && took < Duration::from_millis(3500),
        "answered after {took:?}: neither at once nor at the end of the wait"
    );

    // Settled already: no waiting at all.
    let asked = std::time::Instant::now();
    let again = get("?wait=4").await.unwrap();
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["status"],
        "CONFIRMED"
    );
    assert!(asked.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_wait_out_of_range_is_a_422_and_someone_elses_order_stays_404() {
    let app = spawn_app().await;
    let a = app.product("4.00", 10).await;
    let id = app.order(&[(a, 1)], "tok_visa").await;
    for bad in ["5", "-1", "soon", "NaN"] {
        let r = as_user(
            app.client.get(app.url(&format!("/orders/{id}?wait={bad}"))),
            USER_ID,
        )
        .send()
        .await
        .unwrap();
        let problem = testkit::problem(r, 422).await;
        assert_eq!(problem["errors"][0]["field"], "wait", "{bad}: {problem}");
    }
    let r = as_user(
        app.client.get(app.url(&format!("/orders/{id}?wait=1"))),
        "00000000-0000-0000-0000-0000000000ee",
    )
    .send()
    .await
    .unwrap();
    testkit::problem(r, 404).await;
}

#[tokio::test]
async fn a_crash_mid_saga_resumes_on_restart() {
    // The first instance cannot reach the payment service: its saga is stuck retrying the
    // charge when it is killed. The second instance, on the same database, finishes it.
    let options = Options {
        payment_url: Some("http://127.0.0.1:9".into()),
        ..Options::default()
    };
    let mut app = spawn_with(options).await;
    let a = app.product("12.00", 5).await;
    let id = app.order(&[(a, 2)], "tok_visa").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (step, attempts): (String, i32) =
            sqlx::query_as("SELECT saga_step, saga_attempts FROM orders WHERE id = $1")
                .bind(id)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if step == "charge" && attempts >= 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "saga never reached charge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.stock(a).await, 3, "reserved before the crash");
    let first = std::mem::replace(
        &mut app.orders,
        Instance::start(
            config(
                &app.amqp_url,
                &app.products.address,
                &app.payments.address,
                &Options::default(),
            ),
            app.database_url.clone(),
        ),
    );
    first.crash();

    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(app.stock(a).await, 3, "reserved once, committed once");
    assert_eq!(app.payment(id).await.as_deref(), Some("succeeded"));
    let events = app.events_of(id, 2).await;
    let kinds: Vec<_> = events.iter().map(|e| e.routing_key.as_str()).collect();
    assert_eq!(kinds, ["order.created", "order.confirmed"]);
}

#[tokio::test]
async fn a_step_that_keeps_failing_times_out_and_compensates() {
    let options = Options {
        payment_url: Some("http://127.0.0.1:9".into()),
        saga: SagaConfig {
            deadline: Duration::from_millis(1500),
            lease: Duration::from_secs(2),
            ..SagaConfig::default()
        },
        ..Options::default()
    };
    let app = spawn_with(options).await;
    let a = app.product("2.00", 5).await;
    let id = app.order(&[(a, 5)], "tok_visa").await;
    let order = app.settled(id, SETTLE).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancellation_reason"], "timeout");
    assert_eq!(app.stock(a).await, 5, "reservation released");
    assert_eq!(app.reservation(id).await.as_deref(), Some("released"));
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        error.is_some_and(|e| e.contains("deadline")),
        "the reason is recorded"
    );
}

/// `Step::parse` once read any step it did not know as `done`, ending the saga silently. A
/// saga whose row holds an unknown step (written by a newer version) must be left alone:
/// not charged, not confirmed, not cancelled.
#[tokio::test]
async fn a_saga_with_an_unknown_step_is_left_alone_not_finished() {
    let options = Options {
        payment_url: Some("http://127.0.0.1:9".into()),
        ..Options::default()
    };
    let mut app = spawn_with(options).await;
    let a = app.product("12.00", 5).await;
    let id = app.order(&[(a, 2)], "tok_visa").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.stock(a).await != 3 {
        assert!(std::time::Instant::now() < deadline, "never reserved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.orders.kill();
    sqlx::query("ALTER TABLE orders DROP CONSTRAINT orders_saga_step_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET saga_step = 'audit', lease_until = now() WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    // A healthy instance, with the payment service reachable, sweeps for claimable sagas.
    app.orders = Instance::start(
        config(
            &app.amqp_url,
            &app.products.address,
            &app.payments.address,
            &Options::default(),
        ),
        app.database_url.clone(),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, step): (String, String) =
        sqlx::query_as("SELECT status, saga_step FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), step.as_str()), ("PENDING", "audit"));
    assert_eq!(app.payment(id).await, None, "never charged");
    assert_eq!(app.stock(a).await, 3, "the reservation stays as it was");
}
