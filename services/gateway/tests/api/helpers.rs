//! What every topic's tests share: RSA keys and tokens, fake upstreams (small axum apps that
//! echo what they receive, fail or stall on demand and count their hits, one of them serving a
//! real JWKS), and the gateway started in front of them. The imports are re-exported for the
//! topic modules (`use crate::helpers::*`).

pub use axum::extract::{Request, State};
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::get;
pub use axum::Router;
pub use base64::Engine;
pub use jsonwebtoken::{EncodingKey, Header};
pub use reqwest::StatusCode;
pub use serde_json::{json, Value};
pub use std::net::SocketAddr;
pub use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering::SeqCst};
pub use std::sync::{Arc, Mutex, OnceLock};
pub use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// Keys and tokens

pub struct Keys {
    pub main: EncodingKey,
    pub main_jwk: Value,
    pub other: EncodingKey,
    pub other_jwk: Value,
}

pub fn jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
    use rsa::traits::PublicKeyParts;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
}

pub fn keys() -> &'static Keys {
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

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub const USER: &str = "5f0c6f3e-8a63-4c2e-9a43-2a7a3c1d9b10";
pub const OTHER_USER: &str = "0b7a1c9e-1f0e-4b5e-8a4d-6d2f8e9c1a22";
pub const ADMIN: &str = "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";

/// A token for `sub` with `roles`, signed by `key` under `kid`, with `extra` claims merged in.
pub fn sign(sub: &str, roles: &[&str], kid: &str, key: &EncodingKey, extra: Value) -> String {
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

pub fn user_token() -> String {
    sign(USER, &["user"], "k1", &keys().main, json!({}))
}

pub fn admin_token() -> String {
    sign(ADMIN, &["user", "admin"], "k1", &keys().main, json!({}))
}

// Fake upstreams

#[derive(Clone)]
pub struct Upstream {
    pub name: &'static str,
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    /// The next this-many requests fail with `fail_status`.
    pub fail_next: Arc<AtomicUsize>,
    /// Every request fails with `fail_status`.
    pub failing: Arc<AtomicBool>,
    pub fail_status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    pub jwks: Arc<Mutex<Value>>,
    pub jwks_hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn hits(&self) -> usize {
        self.hits.load(SeqCst)
    }
    pub fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(SeqCst)
    }
}

pub async fn echo(State(u): State<Upstream>, request: Request) -> Response {
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
pub fn forwarded_identity(headers: &axum::http::HeaderMap) -> Value {
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

pub async fn jwks(State(u): State<Upstream>) -> Response {
    u.jwks_hits.fetch_add(1, SeqCst);
    axum::Json(u.jwks.lock().unwrap().clone()).into_response()
}

pub async fn upstream(name: &'static str) -> Upstream {
    upstream_on(name, "127.0.0.1:0", std::future::pending()).await
}

/// An upstream on `addr` that stops (gracefully, closing idle keep-alive connections) when
/// `stop` resolves.
pub async fn upstream_on(
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
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// The gateway

pub struct Stack {
    pub url: String,
    pub users: Upstream,
    pub products: Upstream,
    pub orders: Upstream,
    pub http: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The bundled stack's routing table, as msctl renders it from `msctl.yaml` (the CLI's tests
/// hold the two equal).
pub const SHOP_ROUTES: &str = include_str!("../data/shop-routes.json");

/// Starts the gateway on 127.0.0.1:0 with `config` (JSON merged over the test defaults and the
/// bundled stack's routing table, which are merged over the built-in configuration).
pub async fn gateway(config: Value) -> String {
    gateway_with(config, None).await
}

/// [`gateway`], consuming `user.deleted` from `amqp_url` when given (what `AMQP_URL` does).
pub async fn gateway_with(config: Value, amqp_url: Option<&str>) -> String {
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

pub fn merge(base: &mut Value, over: Value) {
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
pub async fn stack(config: Value) -> Stack {
    stack_with(config, None).await
}

/// [`stack`], the gateway consuming `user.deleted` from `amqp_url` when given.
pub async fn stack_with(config: Value, amqp_url: Option<&str>) -> Stack {
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
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn send(&self, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.url),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.json(&json!({"some": "body"})).send().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics", None).await.text().await.unwrap()
    }

    /// The product service's circuit state, as `/metrics` shows it (0 closed, 1 open, 2 half).
    pub async fn product_circuit(&self) -> String {
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
pub async fn problem(r: reqwest::Response, status: u16) -> Value {
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

pub async fn echoed(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub fn metric_line<'a>(metrics: &'a str, prefix: &str) -> Option<&'a str> {
    metrics.lines().find(|l| l.starts_with(prefix))
}

/// Sends `GET path` by hand (no client library to normalise it) and returns the status.
pub async fn raw_get(url: &str, path: &str) -> u16 {
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
