//! Rate limiting per client.

use crate::helpers::*;

#[tokio::test]
async fn exceeding_the_burst_is_429_per_client() {
    let s = stack(json!({"rate_limit": {"per_second": 1, "burst": 3}})).await;
    for _ in 0..3 {
        assert_eq!(s.get("/products", None).await.status(), StatusCode::OK);
    }
    let r = s.get("/products", None).await;
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(r, 429).await;
    assert_eq!(s.products.hits(), 3);
    // So are the gateway's own endpoints and its 404s, reachable without a token (issue #12).
    problem(s.get("/health/live", None).await, 429).await;
    problem(s.get("/no-such-route", None).await, 429).await;

    // Another address is a different client (Linux routes all of 127/8 to loopback).
    let other_ip = reqwest::Client::builder()
        .no_proxy()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let r = other_ip
        .get(format!("{}/products", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Users are limited by their id, not their address.
    let other = sign(OTHER_USER, &["user"], "k1", &keys().main, json!({}));
    for _ in 0..3 {
        assert_eq!(
            s.get("/orders", Some(&user_token())).await.status(),
            StatusCode::OK
        );
    }
    problem(s.get("/orders", Some(&user_token())).await, 429).await;
    assert_eq!(
        s.get("/orders", Some(&other)).await.status(),
        StatusCode::OK
    );

    let metrics = other_ip
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gateway_rate_limited_total 4"),
        "{metrics}"
    );
}
