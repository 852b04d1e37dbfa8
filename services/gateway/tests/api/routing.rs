//! Routing: by prefix, unknown paths, replicas, forwarded headers.

use crate::helpers::*;

#[tokio::test]
async fn routes_by_prefix_and_unknown_paths_are_404_problems() {
    let s = stack(json!({})).await;
    assert_eq!(
        echoed(s.get("/products", None).await).await["replica"],
        "products"
    );
    let e = echoed(s.get("/products/42?x=1&y=2", None).await).await;
    assert_eq!(e["replica"], "products");
    assert_eq!(e["uri"], "/products/42?x=1&y=2");
    assert_eq!(
        echoed(s.get("/.well-known/jwks.json", None).await).await["keys"][0]["kid"],
        "k1"
    );
    let e = echoed(s.get("/orders/7", Some(&user_token())).await).await;
    assert_eq!(e["replica"], "orders");
    for path in ["/nope", "/productsx", "/", "/paymentsx"] {
        let body = problem(s.get(path, None).await, 404).await;
        assert_eq!(body["title"], "Not Found", "{path}");
    }
    // Payments are routed, for admins only: the payment service has no authentication.
    problem(s.get("/payments/1", None).await, 401).await;
    problem(s.get("/payments/1", Some(&user_token())).await, 403).await;
    // Dot segments would let a normalising upstream see another route than the rules did.
    // (Sent by hand: URL libraries resolve dot segments before sending.)
    for path in [
        "/products/%2e%2e/users",
        "/products/../users",
        "/products/./1",
    ] {
        assert_eq!(raw_get(&s.url, path).await, 400, "{path}");
    }
    assert_eq!(s.products.hits(), 2);
    assert_eq!(s.orders.hits(), 1);
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_502_problem_and_does_not_make_the_gateway_unready() {
    let down = closed_url().await;
    let url = gateway(json!({"upstreams": {"product-service": {"urls": [down]}}})).await;
    let http = client();
    let started = Instant::now();
    let r = http.get(format!("{url}/products")).send().await.unwrap();
    let body = problem(r, 502).await;
    assert!(body["detail"].as_str().unwrap().contains("product-service"));
    assert!(started.elapsed() < Duration::from_secs(3));
    let r = http
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A GET is retried: 3 attempts, 2 retries.
    assert!(
        metrics.contains(
            "gateway_upstream_requests_total{upstream=\"product-service\",outcome=\"connect_error\"} 3"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_upstream_retries_total{upstream=\"product-service\"} 2"));
}

#[tokio::test]
async fn round_robin_alternates_between_replicas() {
    let (a, b) = tokio::join!(upstream("a"), upstream("b"));
    let url = gateway(json!({"upstreams": {"product-service": {"urls": [a.url, b.url]}}})).await;
    let http = client();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = http.get(format!("{url}/products")).send().await.unwrap();
        let e: Value = r.json().await.unwrap();
        seen.push(e["replica"].as_str().unwrap().to_owned());
    }
    assert_eq!((a.hits(), b.hits()), (5, 5));
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "replicas alternate: {seen:?}");
    }
}

#[tokio::test]
async fn pooled_connections_survive_an_upstream_restart() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = upstream_on("first", "127.0.0.1:0", async {
        let _ = stopped.await;
    })
    .await;
    let addr = first.url.trim_start_matches("http://").to_owned();
    let users = upstream("users").await;
    let url = gateway(json!({"upstreams": {
        "order-service": {"urls": [first.url], "resilience": {"retry_attempts": 1}},
        "user-service": {"urls": [users.url]}}}))
    .await;
    let http = client();
    let token = user_token();
    let post = || {
        http.post(format!("{url}/orders"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
    };
    // Keep-alive connections to the first server are pooled...
    let all = futures_util::future::join_all((0..8).map(|_| post())).await;
    for r in all {
        assert_eq!(echoed(r.unwrap()).await["replica"], "first");
    }
    // ...and closed when it stops; a new server comes up on the same port.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = upstream_on("second", &addr, std::future::pending()).await;
    // POSTs are never retried, so a stale pooled connection would show as a 502.
    for _ in 0..10 {
        assert_eq!(echoed(post().await.unwrap()).await["replica"], "second");
    }
    assert_eq!(second.hits(), 10);
}

#[tokio::test]
async fn forwarded_headers_identity_and_trace_context() {
    let s = stack(json!({})).await;
    let r = s
        .http
        .get(format!("{}/users/me", s.url))
        .bearer_auth(user_token())
        .header("x-user-id", "spoofed")
        .header("x-user-roles", "admin")
        .header("x-request-id", "req-123")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "x-secret")
        .header("x-secret", "hop-by-hop")
        .send()
        .await
        .unwrap();
    let e = echoed(r).await;
    let h = e["headers"].clone();
    assert_eq!(
        e["identity"],
        json!({"aud": "user-service", "sub": USER, "roles": ["user"]}),
        "the verified id, signed for this upstream, never the spoofed one"
    );
    assert!(h.get("x-user-id").is_none() && h.get("x-user-roles").is_none());
    assert_eq!(h["x-request-id"], "req-123");
    let tp = h["traceparent"].as_str().unwrap();
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{tp}"
    );
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "an untrusted X-Forwarded-For is replaced"
    );
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(h["x-forwarded-host"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(
        h.get("x-secret").is_none(),
        "headers named by Connection are stripped"
    );
    assert!(h.get("connection").is_none() || h["connection"] != "x-secret");
    assert!(h["host"].as_str().unwrap() != h["x-forwarded-host"].as_str().unwrap());

    // Admin roles pass through, in a token for the order service only.
    let e = echoed(s.get("/orders", Some(&admin_token())).await).await;
    assert_eq!(
        e["identity"],
        json!({"aud": "order-service", "sub": ADMIN, "roles": ["user", "admin"]})
    );

    // Public route, no token: spoofed identity headers and tokens are stripped all the same.
    let forged = testkit::identity::header("product-service", ADMIN, "user,admin").1;
    let r = s
        .http
        .get(format!("{}/products", s.url))
        .header("x-user-id", USER)
        .header("x-user-roles", "admin")
        .header("x-identity", forged)
        .send()
        .await
        .unwrap();
    let e = echoed(r).await;
    let h = &e["headers"];
    assert!(h.get("x-user-id").is_none(), "{h}");
    assert!(h.get("x-user-roles").is_none(), "{h}");
    assert_eq!(e["identity"], Value::Null, "{h}");
}

#[tokio::test]
async fn trusted_proxies_extend_x_forwarded_for() {
    let s = stack(json!({"trusted_proxy_hops": 1})).await;
    let r = s
        .http
        .get(format!("{}/products", s.url))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let h = echoed(r).await["headers"].clone();
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
}
