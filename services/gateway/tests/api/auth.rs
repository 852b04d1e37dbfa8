//! Authentication and authorisation: tokens, the JWKS, roles, access rules.

use crate::helpers::*;

#[tokio::test]
async fn public_routes_pass_without_a_token() {
    let s = stack(json!({})).await;
    for (method, path) in [
        ("GET", "/products"),
        ("GET", "/products/search?q=tea"),
        ("GET", "/products/123"),
        ("POST", "/users"),
        ("POST", "/users/login"),
        ("GET", "/.well-known/jwks.json"),
    ] {
        let r = s.send(method, path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{method} {path}");
    }
    // A bad token on a public route is ignored (never a 401 there); a valid one is used.
    let e = echoed(s.get("/products", Some("not.a.token")).await).await;
    assert_eq!(e["identity"], Value::Null);
    let e = echoed(s.get("/products", Some(&user_token())).await).await;
    assert_eq!(e["identity"]["sub"], USER);
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        assert_eq!(s.get(path, None).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn protected_routes_need_a_valid_token() {
    let s = stack(json!({})).await;
    let k = keys();

    let r = s.get("/users/me", None).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, 401).await;
    let r = s
        .http
        .get(format!("{}/orders", s.url))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;

    let expired = sign(USER, &["user"], "k1", &k.main, json!({"exp": now() - 120}));
    let r = s.get("/users/me", Some(&expired)).await;
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let body = problem(r, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let future = sign(USER, &["user"], "k1", &k.main, json!({"nbf": now() + 600}));
    problem(s.get("/users/me", Some(&future)).await, 401).await;

    let wrong_aud = sign(USER, &["user"], "k1", &k.main, json!({"aud": "elsewhere"}));
    let body = problem(s.get("/users/me", Some(&wrong_aud)).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("audience"),
        "{body}"
    );

    let wrong_iss = sign(USER, &["user"], "k1", &k.main, json!({"iss": "mallory"}));
    let body = problem(s.get("/users/me", Some(&wrong_iss)).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("issuer"),
        "{body}"
    );

    // Signed by another key under the real kid.
    let forged = sign(USER, &["user", "admin"], "k1", &k.other, json!({}));
    let body = problem(s.get("/users/me", Some(&forged)).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("signature"),
        "{body}"
    );

    problem(s.get("/users/me", Some("garbage")).await, 401).await;

    assert_eq!(
        s.users.hits(),
        0,
        "nothing unauthenticated reached the upstream"
    );
    assert_eq!(
        echoed(s.get("/users/me", Some(&user_token())).await).await["replica"],
        "users"
    );
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let s = stack(json!({"auth": {"jwks_refresh_interval_ms": 400}})).await;
    let k = keys();
    assert_eq!(s.users.jwks_hits(), 0, "fetched lazily");
    echoed(s.get("/orders", Some(&user_token())).await).await;
    echoed(s.get("/orders", Some(&user_token())).await).await;
    assert_eq!(s.users.jwks_hits(), 1, "fetched once, then cached");

    tokio::time::sleep(Duration::from_millis(450)).await;
    let unknown = sign(USER, &["user"], "nope", &k.other, json!({}));
    let body = problem(s.get("/orders", Some(&unknown)).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("key"), "{body}");
    assert_eq!(s.users.jwks_hits(), 2, "an unknown kid refetches the JWKS");
    for i in 0..5 {
        let unknown = sign(USER, &["user"], &format!("forged-{i}"), &k.other, json!({}));
        problem(s.get("/orders", Some(&unknown)).await, 401).await;
    }
    assert_eq!(
        s.users.jwks_hits(),
        2,
        "further refetches wait for the interval"
    );

    // The user service rotates to a new key: tokens under the new kid are accepted once the
    // interval allows a refetch.
    *s.users.jwks.lock().unwrap() = json!({"keys": [k.main_jwk, k.other_jwk]});
    tokio::time::sleep(Duration::from_millis(450)).await;
    let rotated = sign(USER, &["user"], "k2", &k.other, json!({}));
    assert_eq!(
        echoed(s.get("/orders", Some(&rotated)).await).await["identity"]["sub"],
        USER
    );
    assert_eq!(s.users.jwks_hits(), 3);
    echoed(s.get("/orders", Some(&user_token())).await).await;
    assert_eq!(s.users.jwks_hits(), 3);

    let metrics = s.metrics().await;
    assert!(
        metrics.contains("gateway_jwks_fetches_total{result=\"ok\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn tokens_cannot_be_checked_while_the_jwks_is_unreachable() {
    let down = closed_url().await;
    let s = stack(json!({"upstreams": {"user-service": {"urls": [down]}}})).await;
    let r = s.get("/orders", Some(&user_token())).await;
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 503).await;
    // Public routes do not depend on it.
    assert_eq!(
        s.get("/products", Some(&user_token())).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn roles_decide_admin_routes() {
    let s = stack(json!({})).await;
    let user = user_token();
    let admin = admin_token();
    for (method, path) in [
        ("GET", "/users"),
        ("POST", "/products"),
        ("PUT", "/products/1"),
        ("DELETE", "/products/1"),
    ] {
        let body = problem(s.send(method, path, Some(&user)).await, 403).await;
        assert_eq!(body["title"], "Forbidden", "{method} {path}");
        problem(s.send(method, path, None).await, 401).await;
        let r = s.send(method, path, Some(&admin)).await;
        let e = echoed(r).await;
        assert_eq!(e["method"], method);
        assert_eq!(e["identity"]["roles"], json!(["user", "admin"]));
    }
    // A token without the user role cannot use user routes.
    let none = sign(USER, &[], "k1", &keys().main, json!({}));
    problem(s.get("/orders", Some(&none)).await, 403).await;
    assert_eq!(
        s.users.hits() + s.products.hits(),
        4,
        "only the admin's requests went through"
    );
}

/// Issue #12: a rule that listed six methods let a user's `OPTIONS`, `TRACE` or `FOO` through
/// to the payment service. A rule without methods covers every method, made-up ones included.
#[tokio::test]
async fn a_rule_without_methods_covers_every_method() {
    let s = stack(json!({})).await;
    let user = user_token();
    for method in ["GET", "POST", "OPTIONS", "TRACE", "FOO", "ZZSEC1"] {
        for path in ["/payments", "/payments/1/refund", "/products/1"] {
            if path == "/products/1" && method == "GET" {
                continue; // public: reading the catalogue
            }
            let r = s.send(method, path, Some(&user)).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    // (A forwarded payments request would be a 502: no payment upstream runs here.)
    assert_eq!(s.products.hits(), 0, "nothing reached the services");
}

/// Issue #12: the gateway labelled metrics with the raw method, so made-up methods on paths
/// anyone can reach created series without limit. Every label is bounded now.
#[tokio::test]
async fn metric_series_stay_bounded_whatever_the_methods_and_paths() {
    let s = stack(json!({})).await;
    let series = |m: &str| m.lines().filter(|l| !l.starts_with('#')).count();
    // Every kind of request once, so the series that exist by design exist.
    for (method, path) in [
        ("GET", "/health/live"),
        ("ZZ0", "/nope/0"),
        ("ZZ0", "/products/0"),
    ] {
        s.send(method, path, None).await;
    }
    let before = series(&s.metrics().await);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..1000 {
        let method = format!("ZZ{:X}", next() % 100_000);
        let path = match i % 4 {
            0 => format!("/nope/{}", next()),
            1 => format!("/health/{}", next()),
            2 => format!("/products/{}", next()),
            _ => format!("/metrics/{}", next()),
        };
        let status = s.send(&method, &path, None).await.status();
        assert!(
            status.is_client_error() || status.is_success(),
            "{method} {path}: {status}"
        );
    }
    let metrics = s.metrics().await;
    let after = series(&metrics);
    assert!(
        after <= before + 40,
        "{before} series before, {after} after 1,000 made-up requests:\n{metrics}"
    );
    assert!(
        !metrics.contains("ZZ"),
        "no method of a client's invention is a label"
    );
}
