//! Stock reservations: the saga's reserve/release/commit, idempotency, all-or-nothing, and
//! concurrency.

use crate::helpers::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn reserve_then_commit() {
    let app = spawn_app().await;
    let p = app.product("Mug", "8.00", 10).await;
    let order = Uuid::new_v4();

    let r = app.reserve(order, &[(p.id, 3)]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/stock/reservations/{order}")
    );
    let reserved: Value = r.json().await.unwrap();
    assert_eq!(reserved["order_id"], order.to_string());
    assert_eq!(reserved["status"], "reserved");
    assert_eq!(
        reserved["items"],
        json!([{"product_id": p.id, "quantity": 3}])
    );
    assert_eq!(app.stock(p.id).await, 7);
    assert_eq!(
        app.get_json(&format!("/products/{}", p.id)).await["stock"],
        7
    );
    assert_eq!(
        app.get_json(&format!("/stock/reservations/{order}")).await,
        reserved
    );

    // Commit: stock stays deducted; committing again is a no-op.
    for _ in 0..2 {
        let r = app
            .post(&format!("/stock/reservations/{order}/commit"), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "committed");
        assert_eq!(body["items"], reserved["items"]);
        assert_eq!(app.stock(p.id).await, 7);
    }
    // Releasing a committed reservation is a conflict and returns nothing.
    let r = app
        .post(&format!("/stock/reservations/{order}/release"), &json!({}))
        .await;
    let body = problem(r, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("committed"),
        "{body}"
    );
    assert_eq!(app.stock(p.id).await, 7);
    assert_eq!(
        app.get_json(&format!("/stock/reservations/{order}")).await["status"],
        "committed"
    );
}

#[tokio::test]
async fn release_returns_stock_exactly_once() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 10).await;
    let b = app.product("B", "1.00", 5).await;
    let order = Uuid::new_v4();
    assert_eq!(
        app.reserve(order, &[(a.id, 4), (b.id, 5)]).await.status(),
        201
    );
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (6, 0));

    for _ in 0..3 {
        let r = app
            .post(&format!("/stock/reservations/{order}/release"), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "released");
        assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (10, 5));
    }
    // Committing a released reservation is a conflict.
    problem(
        app.post(&format!("/stock/reservations/{order}/commit"), &json!({}))
            .await,
        409,
    )
    .await;
    // Reserving again under the same order id is a retry of a finished reservation: it
    // reports it (released) and deducts nothing.
    let r = app.reserve(order, &[(a.id, 4), (b.id, 5)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "released");
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (10, 5));
}

#[tokio::test]
async fn returning_a_committed_reservation_gives_stock_back_once() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 10).await;
    let order = Uuid::new_v4();
    assert_eq!(app.reserve(order, &[(a.id, 3)]).await.status(), 201);
    // Only a committed reservation can be returned.
    problem(
        app.post(&format!("/stock/reservations/{order}/return"), &json!({}))
            .await,
        409,
    )
    .await;
    let commit = app
        .post(&format!("/stock/reservations/{order}/commit"), &json!({}))
        .await;
    assert_eq!(commit.status(), StatusCode::OK);
    assert_eq!(app.stock(a.id).await, 7);
    let (path, empty) = (format!("/stock/reservations/{order}/return"), json!({}));
    let returns = futures_util::future::join_all((0..4).map(|_| app.post(&path, &empty))).await;
    for r in returns {
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "returned");
    }
    assert_eq!(app.stock(a.id).await, 10, "given back exactly once");
    problem(
        app.post(&format!("/stock/reservations/{order}/release"), &json!({}))
            .await,
        409,
    )
    .await;
    let missing = Uuid::new_v4();
    problem(
        app.post(&format!("/stock/reservations/{missing}/return"), &json!({}))
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn concurrent_releases_return_stock_once() {
    let app = spawn_app().await;
    let p = app.product("P", "1.00", 10).await;
    let order = Uuid::new_v4();
    assert_eq!(app.reserve(order, &[(p.id, 6)]).await.status(), 201);
    let path = format!("/stock/reservations/{order}/release");
    let body = json!({});
    let results = join_all((0..20).map(|_| app.post(&path, &body))).await;
    assert!(results.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(app.stock(p.id).await, 10);
}

#[tokio::test]
async fn reserving_is_idempotent_by_order_id() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 10).await;
    let b = app.product("B", "1.00", 10).await;
    let order = Uuid::new_v4();

    let first = app.reserve(order, &[(a.id, 2), (b.id, 3)]).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // The same request again, and with the items listed in another order: same reservation.
    for items in [[(a.id, 2), (b.id, 3)], [(b.id, 3), (a.id, 2)]] {
        let again = app.reserve(order, &items).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.json::<Value>().await.unwrap(), first);
    }
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (8, 7));

    // The same order id with different items is a conflict.
    for items in [vec![(a.id, 1), (b.id, 3)], vec![(a.id, 2)]] {
        let body = problem(app.reserve(order, &items).await, 409).await;
        assert!(
            body["detail"].as_str().unwrap().contains("different items"),
            "{body}"
        );
    }
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (8, 7));
}

#[tokio::test]
async fn all_or_nothing() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 5).await;
    let b = app.product("B", "1.00", 1).await;
    let c = app.product("C", "1.00", 0).await;
    let order = Uuid::new_v4();

    let r = app.reserve(order, &[(a.id, 2), (b.id, 3), (c.id, 1)]).await;
    let body = problem(r, 409).await;
    assert_eq!(fields(&body), ["items[1].quantity", "items[2].quantity"]);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&b.id.to_string()) && detail.contains(&c.id.to_string()));
    assert!(!detail.contains(&a.id.to_string()), "{detail}");
    // Nothing deducted, nothing recorded.
    assert_eq!(app.stock(a.id).await, 5);
    assert_eq!(app.stock(b.id).await, 1);
    assert_eq!(app.stock(c.id).await, 0);
    problem(app.get(&format!("/stock/reservations/{order}")).await, 404).await;

    // The order id is not burnt: a feasible request for it succeeds.
    assert_eq!(
        app.reserve(order, &[(a.id, 2), (b.id, 1)]).await.status(),
        201
    );
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (3, 0));
}

#[tokio::test]
async fn unknown_products_are_404() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 5).await;
    let ghost = Uuid::new_v4();
    let order = Uuid::new_v4();
    let body = problem(app.reserve(order, &[(a.id, 1), (ghost, 1)]).await, 404).await;
    assert_eq!(fields(&body), ["items[1].product_id"]);
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains(&ghost.to_string()));
    assert_eq!(app.stock(a.id).await, 5);
    problem(app.get(&format!("/stock/reservations/{order}")).await, 404).await;

    // Unknown or malformed order ids.
    let other = Uuid::new_v4();
    for path in [
        format!("/stock/reservations/{other}"),
        format!("/stock/reservations/{other}/release"),
        format!("/stock/reservations/{other}/commit"),
        "/stock/reservations/nope/release".to_owned(),
    ] {
        let r = if path.ends_with("release") || path.ends_with("commit") {
            app.post(&path, &json!({})).await
        } else {
            app.get(&path).await
        };
        problem(r, 404).await;
    }
}

#[tokio::test]
async fn bad_requests_are_422() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 5).await;
    let order = Uuid::new_v4();
    for (body, expected) in [
        (
            json!({"order_id": order, "items": [{"product_id": a.id, "quantity": 0}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": a.id, "quantity": -2}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": a.id, "quantity": "2"}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": a.id, "quantity": 2.5}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": a.id}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": "x", "quantity": 1}]}),
            vec!["items[0].product_id"],
        ),
        (
            json!({"order_id": order, "items": [{"product_id": a.id, "quantity": 1},
                                              {"product_id": a.id, "quantity": 1}]}),
            vec!["items[1].product_id"],
        ),
        (json!({"order_id": order, "items": []}), vec!["items"]),
        (
            json!({"order_id": "nope", "items": [{"product_id": a.id, "quantity": 1}]}),
            vec!["order_id"],
        ),
        (json!({}), vec!["order_id", "items"]),
    ] {
        let p = problem(app.post("/stock/reservations", &body).await, 422).await;
        assert_eq!(fields(&p), expected, "{body}");
    }
    assert_eq!(app.stock(a.id).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_never_oversell() {
    let app = spawn_app().await;
    let p = app.product("Limited", "99.00", 10).await;
    let orders: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();

    let started = std::time::Instant::now();
    let responses = join_all(orders.iter().map(|o| {
        let app = &app;
        let body = json!({"order_id": o, "items": [{"product_id": p.id, "quantity": 1}]});
        async move { app.post("/stock/reservations", &body).await.status() }
    }))
    .await;
    eprintln!("50 concurrent reservations took {:?}", started.elapsed());

    let created = responses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = responses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (10, 40), "{responses:?}");
    assert_eq!(app.stock(p.id).await, 0);
    let reserved: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(quantity), 0) FROM reservation_items WHERE product_id = $1",
    )
    .bind(p.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reserved, 10);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 10, "failed reservations leave no rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_deduct_once() {
    let app = spawn_app().await;
    let p = app.product("P", "5.00", 10).await;
    let order = Uuid::new_v4();
    let responses = join_all((0..20).map(|_| async {
        let r = app.reserve(order, &[(p.id, 3)]).await;
        let status = r.status();
        (status, r.json::<Value>().await.unwrap())
    }))
    .await;
    let created = responses
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let replayed = responses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!((created, replayed), (1, 19), "{responses:?}");
    assert!(responses.iter().all(|(_, body)| *body == responses[0].1));
    assert_eq!(app.stock(p.id).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_multi_item_reservations_do_not_deadlock() {
    let app = spawn_app().await;
    let a = app.product("A", "1.00", 20).await;
    let b = app.product("B", "1.00", 20).await;
    // Half list the products one way round, half the other: locks must still be taken in one
    // order, or PostgreSQL would abort deadlocked transactions (500s).
    let responses = join_all((0..40).map(|i| {
        let app = &app;
        let items = if i % 2 == 0 {
            [(a.id, 1), (b.id, 1)]
        } else {
            [(b.id, 1), (a.id, 1)]
        };
        async move { app.reserve(Uuid::new_v4(), &items).await.status() }
    }))
    .await;
    let created = responses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = responses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (20, 20), "{responses:?}");
    assert_eq!((app.stock(a.id).await, app.stock(b.id).await), (0, 0));
}

/// `ReservationStatus::parse` once read any status it did not know as `committed`: a
/// reservation whose row says something else (a status from a newer version) must be a 500
/// problem, and must not be released or returned as if it were reserved or committed.
#[tokio::test]
async fn a_reservation_with_an_unknown_status_is_a_500_not_a_committed_one() {
    let app = spawn_app().await;
    let p = app.product("Vase", "12.00", 5).await;
    let order = Uuid::new_v4();
    assert_eq!(
        app.reserve(order, &[(p.id, 2)]).await.status(),
        StatusCode::CREATED
    );
    sqlx::query("ALTER TABLE reservations DROP CONSTRAINT reservations_status_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE reservations SET status = 'on_hold' WHERE order_id = $1")
        .bind(order)
        .execute(&app.pool)
        .await
        .unwrap();
    testkit::problem(app.get(&format!("/stock/reservations/{order}")).await, 500).await;
    for action in ["commit", "release", "return"] {
        let r = app
            .post(&format!("/stock/reservations/{order}/{action}"), &json!({}))
            .await;
        testkit::problem(r, 500).await;
    }
    assert_eq!(app.stock(p.id).await, 3, "no stock moved");
}
