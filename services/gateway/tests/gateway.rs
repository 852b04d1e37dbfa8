//! The gateway against real upstream servers over TCP: small axum apps started here that echo
//! what they receive, fail or stall on demand and count their hits, one of them serving a real
//! JWKS made from RSA keys generated here. Tokens are signed with jsonwebtoken.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Keys and tokens

struct Keys {
    main: EncodingKey,
    main_jwk: Value,
    other: EncodingKey,
    other_jwk: Value,
}

fn jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
    use rsa::traits::PublicKeyParts;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
        let mut rng = rand::thread_rng();
        let gen = |rng: &mut rand::rngs::ThreadRng| {
            let key = rsa::RsaPrivateKey::new(rng, 2048).expect("RSA key");
            let pem = key.to_pkcs1_pem(LineEnding::LF).expect("PEM");
            (EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key"), key)
        };
        let (main, main_key) = gen(&mut rng);
        let (other, other_key) = gen(&mut rng);
        Keys {
            main,
            main_jwk: jwk(&main_key, "k1"),
            other,
            other_jwk: jwk(&other_key, "k2"),
        }
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const USER: &str = "5f0c6f3e-8a63-4c2e-9a43-2a7a3c1d9b10";
const OTHER_USER: &str = "0b7a1c9e-1f0e-4b5e-8a4d-6d2f8e9c1a22";
const ADMIN: &str = "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";

/// A token for `sub` with `roles`, signed by `key` under `kid`, with `extra` claims merged in.
fn sign(sub: &str, roles: &[&str], kid: &str, key: &EncodingKey, extra: Value) -> String {
    let t = now();
    let mut claims = json!({"sub": sub, "roles": roles, "iss": "shop-users", "aud": "shop",
                            "iat": t, "nbf": t, "exp": t + 900});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn user_token() -> String {
    sign(USER, &["user"], "k1", &keys().main, json!({}))
}

fn admin_token() -> String {
    sign(ADMIN, &["user", "admin"], "k1", &keys().main, json!({}))
}

// ---------------------------------------------------------------------------------------------
// Fake upstreams

#[derive(Clone)]
struct Upstream {
    name: &'static str,
    url: String,
    hits: Arc<AtomicUsize>,
    /// The next this-many requests fail with `fail_status`.
    fail_next: Arc<AtomicUsize>,
    /// Every request fails with `fail_status`.
    failing: Arc<AtomicBool>,
    fail_status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    jwks: Arc<Mutex<Value>>,
    jwks_hits: Arc<AtomicUsize>,
}

impl Upstream {
    fn hits(&self) -> usize {
        self.hits.load(SeqCst)
    }
    fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(SeqCst)
    }
}

async fn echo(State(u): State<Upstream>, request: Request) -> Response {
    u.hits.fetch_add(1, SeqCst);
    let delay = u.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(u.fail_status.load(SeqCst)).unwrap();
    let fail_once = u
        .fail_next
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail_once || u.failing.load(SeqCst) {
        return (status, format!("{} failing on purpose", u.name)).into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let v = value.to_str().unwrap_or("<binary>").to_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(s)) => *s = format!("{s}|{v}"),
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(v));
            }
        }
    }
    axum::Json(json!({
        "replica": u.name,
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body_len": body.len(),
        "identity": forwarded_identity(&parts.headers),
    }))
    .into_response()
}

/// The identity the gateway forwarded, as a service sees it: `x-identity` verified with the
/// tests' key for the audience it names (`null` without one; a bad token fails the test).
fn forwarded_identity(headers: &axum::http::HeaderMap) -> Value {
    let Some(token) = headers.get("x-identity") else {
        return Value::Null;
    };
    let token = token.to_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let aud = claims["aud"].as_str().unwrap();
    let identity = testkit::identity::verifier()
        .verify(aud, token)
        .expect("the gateway signs what it forwards");
    json!({"aud": aud, "sub": identity.user_id.to_string(), "roles": identity.roles})
}

async fn jwks(State(u): State<Upstream>) -> Response {
    u.jwks_hits.fetch_add(1, SeqCst);
    axum::Json(u.jwks.lock().unwrap().clone()).into_response()
}

async fn upstream(name: &'static str) -> Upstream {
    upstream_on(name, "127.0.0.1:0", std::future::pending()).await
}

/// An upstream on `addr` that stops (gracefully, closing idle keep-alive connections) when
/// `stop` resolves.
async fn upstream_on(
    name: &'static str,
    addr: &str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Upstream {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let u = Upstream {
        name,
        url: format!("http://{}", listener.local_addr().unwrap()),
        hits: Default::default(),
        fail_next: Default::default(),
        failing: Default::default(),
        fail_status: Arc::new(AtomicU16::new(503)),
        delay_ms: Default::default(),
        jwks: Arc::new(Mutex::new(json!({"keys": [keys().main_jwk]}))),
        jwks_hits: Default::default(),
    };
    let app = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .fallback(echo)
        .with_state(u.clone());
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .unwrap()
    });
    u
}

/// A URL nothing listens on.
async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// The gateway

struct Stack {
    url: String,
    users: Upstream,
    products: Upstream,
    orders: Upstream,
    http: reqwest::Client,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The bundled stack's routing table, as msctl renders it from `msctl.yaml` (the CLI's tests
/// hold the two equal).
const SHOP_ROUTES: &str = include_str!("data/shop-routes.json");

/// Starts the gateway on 127.0.0.1:0 with `config` (JSON merged over the test defaults and the
/// bundled stack's routing table, which are merged over the built-in configuration).
async fn gateway(config: Value) -> String {
    gateway_with(config, None).await
}

/// [`gateway`], consuming `user.deleted` from `amqp_url` when given (what `AMQP_URL` does).
async fn gateway_with(config: Value, amqp_url: Option<&str>) -> String {
    let mut base: Value = serde_json::from_str(SHOP_ROUTES).unwrap();
    merge(
        &mut base,
        json!({
            "resilience": {"connect_timeout_ms": 500, "request_timeout_ms": 1000,
                           "retry_backoff_ms": 20, "circuit_cooldown_ms": 300},
            "rate_limit": {"per_second": 100000, "burst": 100000},
            "auth": {"leeway_secs": 5, "jwks_refresh_interval_ms": 300},
        }),
    );
    merge(&mut base, config);
    let mut config = gateway::Config::from_json(&base.to_string()).expect("test configuration");
    config.identity_signer = Some(testkit::identity::signer());
    config.amqp_url = amqp_url.map(str::to_owned);
    let app = gateway::App::new(&config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(gateway::serve(
        listener,
        move || app.dispatch(),
        2,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Three fake upstreams and a gateway in front of them, with `config` merged in.
async fn stack(config: Value) -> Stack {
    stack_with(config, None).await
}

/// [`stack`], the gateway consuming `user.deleted` from `amqp_url` when given.
async fn stack_with(config: Value, amqp_url: Option<&str>) -> Stack {
    let (users, products, orders) =
        tokio::join!(upstream("users"), upstream("products"), upstream("orders"));
    let mut c = json!({"upstreams": {
        "user-service": {"urls": [users.url]},
        "product-service": {"urls": [products.url]},
        "order-service": {"urls": [orders.url]},
    }});
    merge(&mut c, config);
    Stack {
        url: gateway_with(c, amqp_url).await,
        users,
        products,
        orders,
        http: client(),
    }
}

impl Stack {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    async fn send(&self, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.url),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.json(&json!({"some": "body"})).send().await.unwrap()
    }

    async fn metrics(&self) -> String {
        self.get("/metrics", None).await.text().await.unwrap()
    }

    /// The product service's circuit state, as `/metrics` shows it (0 closed, 1 open, 2 half).
    async fn product_circuit(&self) -> String {
        let m = self.metrics().await;
        metric_line(&m, "gateway_circuit_state{upstream=\"product-service\"}")
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    }
}

/// Asserts a problem+json response with `status`; returns the body.
async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "{:?}", r.headers());
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

async fn echoed(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn metric_line<'a>(metrics: &'a str, prefix: &str) -> Option<&'a str> {
    metrics.lines().find(|l| l.starts_with(prefix))
}

// ---------------------------------------------------------------------------------------------
// Routing

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

// ---------------------------------------------------------------------------------------------
// Authentication and authorisation

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

// ---------------------------------------------------------------------------------------------
// Rate limiting

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

// ---------------------------------------------------------------------------------------------
// Resilience

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

// ---------------------------------------------------------------------------------------------
// Bodies

#[tokio::test]
async fn bodies_over_the_limit_are_413_problems() {
    let s = stack(json!({"max_body_bytes": 1024})).await;
    let big = "x".repeat(2048);
    let r = s
        .http
        .post(format!("{}/users", s.url))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    problem(r, 413).await;
    let r = s
        .http
        .post(format!("{}/users", s.url))
        .body("x".repeat(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed(r).await["body_len"], 1000);

    // Chunked bodies have no Content-Length; they are cut off at the limit.
    for (method, path, token) in [
        ("POST", "/users", None),
        ("PUT", "/products/1", Some(admin_token())),
    ] {
        let status = raw_chunked(&s.url, method, path, token.as_deref(), 2048).await;
        assert_eq!(status, 413, "{method} {path}");
        let status = raw_chunked(&s.url, method, path, token.as_deref(), 512).await;
        assert_eq!(status, 200, "{method} {path}");
    }
    assert_eq!(
        s.products.hits(),
        1,
        "the oversized PUT never reached the upstream"
    );
}

/// Sends `GET path` by hand (no client library to normalise it) and returns the status.
async fn raw_get(url: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends a chunked request by hand (chunks of 256 bytes) and returns the response status.
async fn raw_chunked(url: &str, method: &str, path: &str, token: Option<&str>, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n{auth}connection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut sent = 0;
    while sent < len {
        let n = 256.min(len - sent);
        // The gateway may answer (and close) before it has read everything.
        if tcp
            .write_all(format!("{n:x}\r\n{}\r\n", "y".repeat(n)).as_bytes())
            .await
            .is_err()
        {
            break;
        }
        sent += n;
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The binary and the docs

// ---------------------------------------------------------------------------------------------
// Revocation: tokens of deleted accounts

/// Publishes `user.deleted` for `user` on `amqp_url` as the user service's outbox relay does:
/// `mandatory`, with publisher confirms, and again while it comes back unroutable (no gateway
/// has bound its queue yet).
async fn publish_user_deleted(amqp_url: &str, user: &str) {
    use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    use kit::amqp::lapin::BasicProperties;
    let connection = kit::amqp::connect(amqp_url, "test publisher").await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    kit::amqp::declare_events_exchange(&channel).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({"id": id, "type": "user.deleted", "version": 1,
                      "occurred_at": "2026-11-30T12:00:00.000Z", "data": {"user_id": user}})
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let properties = BasicProperties::default()
            .with_message_id(id.as_str().into())
            .with_type("user.deleted".into())
            .with_content_type("application/json".into())
            .with_headers(kit::amqp::string_headers([
                ("event_id", id.as_str()),
                ("event_type", "user.deleted"),
                ("version", "1"),
            ]));
        let confirmation = channel
            .basic_publish(
                kit::amqp::EVENTS_EXCHANGE.into(),
                "user.deleted".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body.as_bytes(),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        if confirmation.is_ack() && confirmation.take_message().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no gateway bound a queue to user.deleted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test]
async fn the_tokens_of_a_deleted_account_are_refused() {
    let amqp_url = testkit::fresh_vhost().await;
    let s = stack_with(json!({}), Some(&amqp_url)).await;
    let token = user_token();
    let other = sign(OTHER_USER, &["user"], "k1", &keys().main, json!({}));
    assert_eq!(
        echoed(s.get("/orders", Some(&token)).await).await["identity"]["sub"],
        USER
    );
    assert_eq!(
        s.send("POST", "/orders", Some(&token)).await.status(),
        StatusCode::OK
    );

    publish_user_deleted(&amqp_url, USER).await;
    // Within a few seconds the same token is refused on protected routes...
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let r = s.send("POST", "/orders", Some(&token)).await;
        if r.status() == StatusCode::UNAUTHORIZED {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "the deleted account's token still works 5 s after user.deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let body = problem(refused, 401).await;
    assert_eq!(body["detail"], "the account no longer exists");
    let hits = s.orders.hits();
    problem(s.get("/orders", Some(&token)).await, 401).await;
    problem(s.get("/users/me", Some(&token)).await, 401).await;
    assert_eq!(s.orders.hits(), hits, "nothing of it reaches the upstream");
    // ...and ignored on public ones (the request goes through anonymously).
    let e = echoed(s.get("/products", Some(&token)).await).await;
    assert_eq!(e["identity"], Value::Null);
    // Another account's token still works.
    let e = echoed(s.send("POST", "/orders", Some(&other)).await).await;
    assert_eq!(e["identity"]["sub"], OTHER_USER);

    let metrics = s.metrics().await;
    assert!(
        metric_line(
            &metrics,
            "gateway_auth_rejections_total{reason=\"revoked\"}"
        )
        .is_some(),
        "{metrics}"
    );
    assert_eq!(
        metric_line(&metrics, "gateway_revoked_subjects"),
        Some("gateway_revoked_subjects 1")
    );
    assert_eq!(
        metric_line(
            &metrics,
            "gateway_revocation_events_total{result=\"revoked\"}"
        ),
        Some("gateway_revocation_events_total{result=\"revoked\"} 1")
    );
}

#[tokio::test]
async fn revocations_end_with_the_longest_token_lifetime() {
    let amqp_url = testkit::fresh_vhost().await;
    let s = stack_with(json!({"auth": {"revocation_ttl_secs": 1}}), Some(&amqp_url)).await;
    let token = user_token();
    publish_user_deleted(&amqp_url, USER).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get("/orders", Some(&token)).await.status() != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // After the TTL the entry is pruned (a token issued before the deletion has expired by
    // then in production; this one is made to last).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        echoed(s.get("/orders", Some(&token)).await).await["identity"]["sub"],
        USER
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = s.metrics().await;
        if metric_line(&metrics, "gateway_revoked_subjects") == Some("gateway_revoked_subjects 0") {
            break;
        }
        assert!(Instant::now() < deadline, "not pruned: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn the_openapi_document_in_docs_is_current() {
    let config = gateway::Config::from_json(SHOP_ROUTES).unwrap();
    let doc = kit::openapi::with_problems(gateway::openapi::doc(&config));
    testkit::assert_openapi_snapshot("gateway", &doc);
}

/// The binary as the stack runs it: configuration from the environment, worker threads, and a
/// graceful stop on SIGTERM.
#[tokio::test]
async fn the_binary_proxies_and_stops_on_sigterm() {
    let products = upstream("products").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("PORT", port.to_string())
        .env("GATEWAY_ROUTES", SHOP_ROUTES)
        .env("UPSTREAM_PRODUCT_SERVICE", &products.url)
        .env("IDENTITY_SIGNING_KEY", testkit::identity::SIGNING_KEY)
        .env("WORKERS", "2")
        .env("RUST_LOG", "warn")
        .env_remove("GATEWAY_CONFIG")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http.get(format!("{url}/health/ready")).send().await {
            Ok(r) if r.status() == StatusCode::OK => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("the gateway did not become ready: {other:?}"),
        }
    }
    let ready = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .status()
        .unwrap();
    assert!(ready.success());
    for _ in 0..4 {
        let e = echoed(http.get(format!("{url}/products/9")).send().await.unwrap()).await;
        assert_eq!(e["uri"], "/products/9");
    }
    assert_eq!(products.hits(), 4);
    problem(http.get(format!("{url}/orders")).send().await.unwrap(), 401).await;

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops within 10 s")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
