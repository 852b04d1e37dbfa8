//! Resilience: the circuit breaker, retries, timeouts.

use crate::helpers::*;

#[tokio::test]
async fn the_circuit_opens_fails_fast_and_closes_when_the_upstream_recovers() {
    let s = stack(json!({"upstreams": {"product-service": {"resilience": {
        "retry_attempts": 1, "circuit_min_calls": 5,
        "circuit_cooldown_ms": 500, "circuit_half_open_trials": 3}}}}))
    .await;
    assert_eq!(s.product_circuit().await, "0");

    s.products.failing.store(true, SeqCst);
    for _ in 0..5 {
        assert_eq!(
            s.get("/products", None).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert_eq!(s.products.hits(), 5);
    let started = Instant::now();
    let r = s.get("/products", None).await;
    assert!(started.elapsed() < Duration::from_millis(200), "fails fast");
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "the remaining cool-down, rounded up");
    let body = problem(r, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("product-service"));
    assert_eq!(
        s.products.hits(),
        5,
        "the open circuit did not reach the upstream"
    );
    assert_eq!(s.product_circuit().await, "1");
    // Other upstreams are not affected.
    assert_eq!(
        s.get("/orders", Some(&user_token())).await.status(),
        StatusCode::OK
    );

    // After the cool-down one trial goes through; it fails, so the circuit opens again.
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(
        s.get("/products", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(s.products.hits(), 6);
    problem(s.get("/products", None).await, 503).await;
    assert_eq!(s.products.hits(), 6);

    // The upstream recovers: after the cool-down the trials succeed and the circuit closes.
    s.products.failing.store(false, SeqCst);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(s.get("/products", None).await.status(), StatusCode::OK);
    assert_eq!(
        s.product_circuit().await,
        "2",
        "half-open after one good trial"
    );
    for _ in 0..2 {
        assert_eq!(s.get("/products", None).await.status(), StatusCode::OK);
    }
    assert_eq!(s.product_circuit().await, "0");
    for _ in 0..5 {
        assert_eq!(s.get("/products", None).await.status(), StatusCode::OK);
    }
    assert_eq!(
        s.products.hits(),
        14,
        "closed again: every request reaches the upstream"
    );

    let m = s.metrics().await;
    assert!(
        m.contains(
            "gateway_upstream_requests_total{upstream=\"product-service\",outcome=\"circuit_open\"} 2"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "gateway_upstream_requests_total{upstream=\"product-service\",outcome=\"server_error\"} 6"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "gateway_upstream_requests_total{upstream=\"product-service\",outcome=\"ok\"} 8"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "gateway_upstream_request_duration_seconds_count{upstream=\"product-service\"} 14"
        ),
        "{m}"
    );
}

/// Issue #12: five `search?q=%00` (each a 500 then) opened the product service's circuit for
/// everyone. The circuit now judges a failure rate over a window with a minimum of calls, and
/// only failures that say the upstream is unhealthy (unreachable, timeouts, 502/503/504).
#[tokio::test]
async fn a_few_failures_among_good_calls_never_open_the_circuit_a_failing_upstream_does() {
    let s = stack(json!({"resilience": {"retry_attempts": 1}})).await;
    // A client's bad requests answered 500, as many as it likes: the upstream is alive.
    s.products.fail_status.store(500, SeqCst);
    s.products.failing.store(true, SeqCst);
    for _ in 0..60 {
        assert_eq!(s.get("/products", None).await.status(), 500);
    }
    assert_eq!(s.product_circuit().await, "0", "500s do not open it");
    // Five 503s among good answers, repeatedly: under the failure rate, never open.
    s.products.failing.store(false, SeqCst);
    s.products.fail_status.store(503, SeqCst);
    for _ in 0..6 {
        s.products.fail_next.store(5, SeqCst);
        for _ in 0..5 {
            assert_eq!(s.get("/products", None).await.status(), 503);
        }
        for _ in 0..8 {
            assert_eq!(s.get("/products", None).await.status(), StatusCode::OK);
        }
        assert_eq!(s.product_circuit().await, "0");
    }
    assert_eq!(
        s.products.hits(),
        60 + 6 * 13,
        "every request reached the upstream"
    );
    // The upstream fails for real: the rate crosses 50% and the circuit opens.
    s.products.failing.store(true, SeqCst);
    let mut sent = 0;
    while s.product_circuit().await == "0" {
        sent += 1;
        assert!(sent <= 200, "the circuit never opened");
        s.get("/products", None).await;
    }
    assert_eq!(s.product_circuit().await, "1");
    let before = s.products.hits();
    problem(s.get("/products", None).await, 503).await;
    assert_eq!(
        s.products.hits(),
        before,
        "refused without reaching the upstream"
    );
}

#[tokio::test]
async fn idempotent_requests_are_retried_and_posts_are_not() {
    let s = stack(json!({})).await;
    s.products.fail_next.store(2, SeqCst);
    let started = Instant::now();
    assert_eq!(
        echoed(s.get("/products/1", None).await).await["method"],
        "GET"
    );
    assert_eq!(s.products.hits(), 3, "failed twice, then succeeded");
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "backoff 20 ms, then 40 ms"
    );

    // PUT and DELETE are idempotent too.
    s.products.fail_next.store(1, SeqCst);
    let r = s.send("PUT", "/products/1", Some(&admin_token())).await;
    let e = echoed(r).await;
    assert_eq!(e["body_len"], 15, "the body is sent again on the retry");
    assert_eq!(s.products.hits(), 5);

    // A POST is never retried: the client gets the upstream's failure.
    s.products.fail_next.store(2, SeqCst);
    let r = s.send("POST", "/products", Some(&admin_token())).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(s.products.hits(), 6, "hit once");
    s.products.fail_next.store(0, SeqCst);

    // Three failing attempts: the last answer goes back to the client.
    s.products.fail_next.store(3, SeqCst);
    s.products.fail_status.store(502, SeqCst);
    assert_eq!(
        s.get("/products", None).await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(s.products.hits(), 9);
}

#[tokio::test]
async fn a_post_to_an_unreachable_upstream_is_one_attempt_and_a_502() {
    let users = upstream("users").await;
    let down = closed_url().await;
    let url =
        gateway(json!({"upstreams": {"user-service": {"urls": [users.url]}, "order-service": {"urls": [down]}}}))
            .await;
    let r = client()
        .post(format!("{url}/orders"))
        .bearer_auth(user_token())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 502).await;
    let m = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            "gateway_upstream_requests_total{upstream=\"order-service\",outcome=\"connect_error\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains("gateway_upstream_retries_total{upstream=\"order-service\"} 0"),
        "{m}"
    );
}

#[tokio::test]
async fn slow_upstreams_are_504_problems() {
    let s = stack(json!({"upstreams": {"product-service": {"resilience": {
        "request_timeout_ms": 200, "retry_attempts": 2}}}}))
    .await;
    s.products.delay_ms.store(2000, SeqCst);
    let started = Instant::now();
    let body = problem(s.get("/products", None).await, 504).await;
    assert!(
        body["detail"].as_str().unwrap().contains("200 ms"),
        "{body}"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(s.products.hits(), 2, "a GET that timed out is retried");

    // Not retried, a POST times out once.
    let r = s.send("POST", "/products", Some(&admin_token())).await;
    problem(r, 504).await;
    assert_eq!(s.products.hits(), 3);
}
