//! The request path: access rules, authentication, rate limit, header hygiene, then the
//! upstream call with load balancing, timeouts, retries and the circuit breaker.

use crate::auth::{AuthError, Authenticator, Identity, JwksSource};
use crate::breaker::{Breaker, Trip};
use crate::config::{parse_base_url, Access, Config, Resilience};
use crate::policy::{has_dot_segment, Policy};
use crate::pool::{http_client, ConnPool, SendError};
use crate::ratelimit::{ClientKey, Limiter};
use crate::stats::{Families, UpstreamStats};
use crate::trace::RequestIds;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, Version};
use http_body::Body as _;
use kit::Problem;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tracing::field::Empty;
use tracing::Instrument;

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_USER_ROLES: HeaderName = HeaderName::from_static("x-user-roles");
static X_IDENTITY: HeaderName = HeaderName::from_static(kit::identity::TOKEN_HEADER);
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static TRACEPARENT: HeaderName = HeaderName::from_static(crate::trace::TRACEPARENT);
static X_REQUEST_ID: HeaderName = HeaderName::from_static(crate::trace::REQUEST_ID);
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == header::PROXY_AUTHENTICATE
        || name == header::PROXY_AUTHORIZATION
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

/// Removes hop-by-hop headers (and those `Connection` names), plus any `also` says. One pass
/// over the headers when there is nothing to remove, which is the common case.
fn strip_headers(headers: &mut HeaderMap, also: impl Fn(&HeaderName) -> bool) {
    if !headers.keys().any(|n| is_hop_by_hop(n) || also(n)) {
        return;
    }
    let mut doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n) || also(n))
        .cloned()
        .collect();
    doomed.extend(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok()),
    );
    for name in doomed {
        headers.remove(name);
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip_headers(headers, |_| false);
}

/// The client at the other end of a connection: its address, and that address as a header
/// value (made once per connection, not per request).
#[derive(Debug, Clone)]
pub struct Peer {
    pub ip: IpAddr,
    header: HeaderValue,
}

impl Peer {
    pub fn new(ip: IpAddr) -> Peer {
        let header = HeaderValue::from_maybe_shared(bytes::Bytes::from(ip.to_string()))
            .expect("an IP address is a header value");
        Peer { ip, header }
    }

    /// For requests that did not come over a socket (never in the server).
    pub fn unknown() -> Peer {
        Peer::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

struct Replica {
    /// The `Host` header for it, made once.
    host: HeaderValue,
    /// Path prefix of the base URL ("" for none).
    prefix: String,
    pool: ConnPool,
}

impl Replica {
    /// The request target upstream: origin-form, the base URL's prefix first.
    fn uri(&self, incoming: &Uri) -> Uri {
        let pq = incoming
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let pq = if self.prefix.is_empty() {
            pq
        } else {
            PathAndQuery::try_from(format!("{}{}", self.prefix, pq.as_str())).unwrap_or(pq)
        };
        Uri::from(pq)
    }
}

/// One upstream: its replicas, client pool, resilience settings, breaker and metrics.
pub struct Upstream {
    pub name: String,
    replicas: Vec<Replica>,
    next: AtomicUsize,
    request_timeout: Duration,
    attempts: u32,
    backoff: Duration,
    pub breaker: Breaker,
    stats: UpstreamStats,
}

/// How one attempt ended.
enum Attempt {
    Response(Response),
    /// Could not connect, or the connection failed: 502.
    ConnectError(String),
    /// No response headers within the request (or connect) timeout: 504.
    Timeout,
    /// The client's body was too large (413) or could not be read (400): not the upstream's
    /// fault.
    BodyTooLarge,
    BodyUnreadable,
}

fn error_chain_has<T: std::error::Error + 'static>(
    e: &(dyn std::error::Error + 'static),
    pred: impl Fn(&T) -> bool,
) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(t) = err.downcast_ref::<T>() {
            if pred(t) {
                return true;
            }
        }
        current = err.source();
    }
    false
}

fn retryable_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

impl Upstream {
    pub fn new(name: &str, urls: &[String], r: &Resilience, stats: UpstreamStats) -> Upstream {
        let connect_timeout = Duration::from_millis(r.connect_timeout_ms);
        let replicas = urls
            .iter()
            .map(|u| {
                let (_, authority, prefix) = parse_base_url(u).expect("validated URL");
                Replica {
                    host: HeaderValue::from_str(authority.as_str()).expect("an authority"),
                    prefix,
                    pool: ConnPool::new(&authority, connect_timeout),
                }
            })
            .collect();
        Upstream {
            name: name.to_owned(),
            replicas,
            next: AtomicUsize::new(0),
            request_timeout: Duration::from_millis(r.request_timeout_ms),
            attempts: r.retry_attempts.max(1),
            backoff: Duration::from_millis(r.retry_backoff_ms),
            breaker: Breaker::new(
                Trip {
                    window: Duration::from_millis(r.circuit_window_ms),
                    min_calls: r.circuit_min_calls,
                    failure_rate: r.circuit_failure_rate_percent,
                },
                Duration::from_millis(r.circuit_cooldown_ms),
                r.circuit_half_open_trials,
                stats.circuit.clone(),
            ),
            stats,
        }
    }

    /// Round robin.
    fn pick(&self) -> &Replica {
        if self.replicas.len() == 1 {
            // No shared counter to bump (it would bounce between the cores' caches).
            return &self.replicas[0];
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.replicas[i % self.replicas.len()]
    }

    async fn attempt(&self, replica: &Replica, request: http::Request<Body>) -> Attempt {
        let started = tokio::time::Instant::now();
        let result =
            tokio::time::timeout_at(started + self.request_timeout, replica.pool.send(request))
                .await;
        self.stats.latency.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(response)) => Attempt::Response(response),
            Err(_) | Ok(Err(SendError::ConnectTimeout)) => Attempt::Timeout,
            Ok(Err(SendError::Connect(e))) => Attempt::ConnectError(e),
            Ok(Err(SendError::Request(e))) => {
                if error_chain_has::<http_body_util::LengthLimitError>(&e, |_| true) {
                    Attempt::BodyTooLarge
                } else if e.is_user() {
                    Attempt::BodyUnreadable
                } else {
                    Attempt::ConnectError(e.to_string())
                }
            }
        }
    }

    /// Sends the request upstream (retrying idempotent ones) and returns the response or a
    /// problem.
    pub async fn forward(
        &self,
        method: Method,
        uri: Uri,
        mut headers: HeaderMap,
        body: Body,
        max_body: u64,
        ids: &RequestIds,
    ) -> Response {
        let attempts = if retryable_method(&method) {
            self.attempts
        } else {
            1
        };
        // A retry needs the body again, so retried requests have theirs buffered (bounded by
        // max_body); the others stream, cut off at max_body.
        let mut buffered: Option<bytes::Bytes> = None;
        let mut streaming: Option<Body> = None;
        if body.is_end_stream() {
            buffered = Some(bytes::Bytes::new());
        } else if attempts > 1 {
            match http_body_util::BodyExt::collect(http_body_util::Limited::new(
                body,
                max_body as usize,
            ))
            .await
            {
                Ok(collected) => buffered = Some(collected.to_bytes()),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(max_body),
                Err(_) => return unreadable_body(),
            }
        } else if headers.contains_key(header::CONTENT_LENGTH) {
            // hyper holds the body to its declared length, which was checked against max_body.
            streaming = Some(body);
        } else {
            streaming = Some(Body::new(http_body_util::Limited::new(
                body,
                max_body as usize,
            )));
        }

        let mut attempt = 1;
        loop {
            let permit = match self.breaker.acquire() {
                Ok(permit) => permit,
                Err(wait) => {
                    self.stats.circuit_open.inc();
                    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                    return Problem::unavailable(format!(
                        "upstream {} is failing; the gateway is not sending it requests for now",
                        self.name
                    ))
                    .retry_after(secs)
                    .into_response();
                }
            };
            let last = attempt >= attempts;
            let replica = self.pick();
            let mut request = http::Request::new(match (&buffered, streaming.take()) {
                (Some(bytes), _) if bytes.is_empty() => Body::empty(),
                (Some(bytes), _) => Body::from(bytes.clone()),
                (None, Some(body)) => body,
                (None, None) => Body::empty(),
            });
            *request.method_mut() = method.clone();
            *request.uri_mut() = replica.uri(&uri);
            *request.version_mut() = Version::HTTP_11;
            *request.headers_mut() = if last {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            request
                .headers_mut()
                .insert(header::HOST, replica.host.clone());

            let retry_reason = match self.attempt(replica, request).await {
                Attempt::Response(mut response) => {
                    let status = response.status();
                    // The breaker judges the upstream's health, not the request: a 502, 503
                    // or 504 says the upstream (or what it depends on) is failing; a 500 is an
                    // answer, and counting it let a client open the circuit for everyone with
                    // requests that made the service fail (issue #12).
                    let unhealthy = matches!(
                        status,
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    );
                    if status.is_server_error() {
                        self.stats.server_error.inc();
                    } else {
                        self.stats.ok.inc();
                    }
                    if unhealthy {
                        permit.failure();
                    } else {
                        permit.success();
                    }
                    let retry = unhealthy;
                    if !retry || last {
                        strip_hop_by_hop(response.headers_mut());
                        response.headers_mut().reserve(2);
                        return response;
                    }
                    format!("status {status}")
                }
                Attempt::ConnectError(e) => {
                    self.stats.connect_error.inc();
                    permit.failure();
                    if last {
                        tracing::warn!(upstream = %self.name, error = %e, request_id = ids.request_id(),
                            trace_id = ids.trace_id(), "upstream unreachable");
                        return Problem::new(StatusCode::BAD_GATEWAY, "Bad Gateway")
                            .detail(format!("upstream {} could not be reached", self.name))
                            .into_response();
                    }
                    e
                }
                Attempt::Timeout => {
                    self.stats.timeout.inc();
                    permit.failure();
                    if last {
                        tracing::warn!(upstream = %self.name, request_id = ids.request_id(),
                            trace_id = ids.trace_id(), "upstream timed out");
                        return Problem::new(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
                            .detail(format!(
                                "upstream {} did not answer within {} ms",
                                self.name,
                                self.request_timeout.as_millis()
                            ))
                            .into_response();
                    }
                    "timeout".to_owned()
                }
                Attempt::BodyTooLarge => return too_large(max_body),
                Attempt::BodyUnreadable => return unreadable_body(),
            };
            self.stats.retries.inc();
            let wait = self.backoff * 2u32.saturating_pow(attempt - 1);
            tracing::info!(upstream = %self.name, attempt, reason = %retry_reason,
                wait_ms = wait.as_millis() as u64, request_id = ids.request_id(),
                trace_id = ids.trace_id(), "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

fn too_large(max: u64) -> Response {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large")
        .detail(format!("request bodies are limited to {max} bytes"))
        .into_response()
}

fn unreadable_body() -> Response {
    Problem::bad_request("the request body could not be read").into_response()
}

fn unauthorized(detail: &str, token_given: bool) -> Response {
    let mut response = Problem::unauthorized(detail).into_response();
    let challenge = if token_given {
        HeaderValue::from_static("Bearer error=\"invalid_token\"")
    } else {
        HeaderValue::from_static("Bearer")
    };
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    response
}

/// The bearer token of an `Authorization` header: `Some(Ok(token))`, `Some(Err(()))` for an
/// `Authorization` header that is not a bearer token, `None` without one.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = match value.to_str() {
        Ok(v) => v,
        Err(_) => return Some(Err(())),
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Some(Err(()))
            } else {
                Some(Ok(token))
            }
        }
        _ => Some(Err(())),
    }
}

/// Everything requests share.
pub struct Gateway {
    pub upstreams: BTreeMap<String, Upstream>,
    policy: Policy,
    auth: Authenticator,
    limiter: Limiter,
    max_body: u64,
    trusted_hops: usize,
    families: Families,
    access_log: bool,
    /// Spans are exported (OTLP): give each proxied request one, parented on the caller's.
    otel: bool,
    /// Signs the identity forwarded upstream (none configured: none forwarded).
    minter: Option<crate::identity::Minter>,
}

impl Gateway {
    /// Builds the shared state; spawns the rate limiter's pruning task (needs a runtime).
    pub fn new(config: &Config, families: Families) -> Gateway {
        let upstreams: BTreeMap<String, Upstream> = config
            .upstreams
            .iter()
            .map(|(name, u)| {
                let r = config.resilience.with(&u.resilience);
                let up = Upstream::new(name, &u.urls, &r, families.upstream(name));
                (name.clone(), up)
            })
            .collect();
        let a = &config.auth;
        let (urls, resilience) = match &a.jwks_url {
            Some(url) => (
                vec![url.parse().expect("validated URL")],
                config.resilience.clone(),
            ),
            None => {
                let u = &config.upstreams[&a.jwks_upstream];
                let urls = u
                    .urls
                    .iter()
                    .map(|base| {
                        let (scheme, authority, prefix) =
                            parse_base_url(base).expect("validated URL");
                        Uri::builder()
                            .scheme(scheme)
                            .authority(authority)
                            .path_and_query(format!("{prefix}{}", a.jwks_path))
                            .build()
                            .expect("a JWKS URL")
                    })
                    .collect();
                (urls, config.resilience.with(&u.resilience))
            }
        };
        let source = JwksSource {
            urls,
            client: http_client(Duration::from_millis(resilience.connect_timeout_ms)),
            timeout: Duration::from_millis(resilience.request_timeout_ms),
        };
        let auth = Authenticator::new(
            a,
            source,
            families.jwks("ok"),
            families.jwks("error"),
            families.revoked_subjects.clone(),
        );
        Gateway {
            upstreams,
            policy: Policy::new(&config.access, config.default_access),
            auth,
            limiter: Limiter::new(&config.rate_limit, families.rate_limit_clients.clone()),
            max_body: config.max_body_bytes,
            trusted_hops: config.trusted_proxy_hops,
            families,
            access_log: config.access_log,
            // Whether the kit installed the exporter (`kit::serve::main` initialises telemetry
            // first), not just whether the variable is set: without the OTLP layer a span per
            // request would cost without being exported, and its ids would be none to adopt.
            otel: kit::telemetry::exporting(),
            minter: config
                .identity_signer
                .clone()
                .map(crate::identity::Minter::new),
        }
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The deleted accounts whose tokens are refused.
    pub fn revocations(&self) -> &crate::revocation::Revocations {
        self.auth.revocations()
    }

    /// The client's address: the socket peer, or with `trusted_proxy_hops` = n the n-th
    /// `X-Forwarded-For` entry from the right (what the outermost trusted proxy saw).
    fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.trusted_hops == 0 {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return peer;
        }
        let i = entries.len().saturating_sub(self.trusted_hops);
        entries[i].parse().unwrap_or(peer)
    }

    /// The 429 for a request from `peer` to the gateway's own endpoints, when its client
    /// (address) is over the limit.
    pub fn limit_client(&self, peer: &Peer, headers: &HeaderMap) -> Option<Response> {
        self.rate_limited(&ClientKey::ip(self.client_ip(peer.ip, headers)))
    }

    fn rate_limited(&self, key: &ClientKey) -> Option<Response> {
        let secs = self.limiter.check(key).err()?;
        self.families.rate_limited.inc();
        Some(
            Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
                .detail("this client sent more requests than the gateway allows; slow down")
                .retry_after(secs)
                .into_response(),
        )
    }

    /// Handles one request routed to `upstream`: the trace ids, metrics and access log around
    /// [`Gateway::route`].
    pub async fn handle(&self, upstream: &Upstream, request: Request, peer: &Peer) -> Response {
        let mut ids = crate::trace::ids(request.headers());
        let logged = self.access_log.then(|| {
            (
                Instant::now(),
                request.method().clone(),
                request.uri().clone(),
            )
        });
        let mut response = if self.otel {
            // The span viewers show: named by method and path (the gateway routes by prefix,
            // so the path says more than the route would), of the upstream, and (recorded at
            // the end) with the response's status. Its ids are known once it is built, below.
            let span = tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                request_id = Empty,
                trace_id = Empty,
                upstream = %upstream.name,
                otel.name = format!("{} {}", request.method(), request.uri().path()),
                otel.kind = "server",
                otel.status_code = Empty,
                http.response.status_code = Empty,
            );
            if let Some(parent) = request
                .headers()
                .get(&TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .and_then(kit::trace::TraceContext::parse)
            {
                kit::trace::link_parent(&span, &parent);
            }
            // The exported span's own ids go upstream and back to the client, so the
            // upstream's span is a child of one the collector has, in the same trace (without
            // a caller's trace the exporter starts its own, not the one `ids` made up).
            if let Some(exported) = kit::trace::exported_context(&span) {
                ids.adopt(&exported);
            }
            span.record("request_id", ids.request_id());
            span.record("trace_id", ids.trace_id());
            let response = self
                .route(upstream, request, peer, &ids)
                .instrument(span.clone())
                .await;
            let status = response.status();
            // As i64: the OpenTelemetry layer maps a u64 to a string attribute.
            span.record("http.response.status_code", i64::from(status.as_u16()));
            // Only a 5xx is the server's failure (a 4xx is the client's).
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            response
        } else {
            self.route(upstream, request, peer, &ids).await
        };
        let status = response.status().as_u16();
        upstream.stats.responses[(status / 100).clamp(1, 5) as usize - 1].inc();
        if let Some((started, method, uri)) = logged {
            tracing::info!(
                method = %method,
                path = %uri.path(),
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                upstream = %upstream.name,
                request_id = ids.request_id(),
                trace_id = ids.trace_id(),
                "proxied"
            );
        }
        let headers = response.headers_mut();
        headers.insert(&X_REQUEST_ID, ids.request_id);
        headers.insert(&TRACEPARENT, ids.traceparent);
        response
    }

    /// Access rules, authentication, rate limit, headers, then the upstream.
    async fn route(
        &self,
        upstream: &Upstream,
        request: Request,
        peer: &Peer,
        ids: &RequestIds,
    ) -> Response {
        let (parts, body) = request.into_parts();
        let http::request::Parts {
            method,
            uri,
            mut headers,
            ..
        } = parts;
        let path = uri.path();
        if has_dot_segment(path) {
            return Problem::bad_request("paths with . or .. segments are not accepted")
                .into_response();
        }
        let client_ip = self.client_ip(peer.ip, &headers);

        // Authentication and authorisation.
        let access = self.policy.access(&method, path);
        let identity: Option<Identity> = match (bearer(&headers), access) {
            (None, Access::Public) => None,
            (None, _) => {
                self.families.auth_rejected("missing_token");
                return unauthorized("this route needs a bearer token", false);
            }
            (Some(Err(())), Access::Public) => None,
            (Some(Err(())), _) => {
                self.families.auth_rejected("malformed_authorization");
                return unauthorized("the Authorization header must be `Bearer <token>`", true);
            }
            (Some(Ok(token)), Access::Public) => self.auth.verify(token).await.ok(),
            (Some(Ok(token)), _) => match self.auth.verify(token).await {
                Ok(identity) => Some(identity),
                Err(AuthError::Invalid(reason)) => {
                    self.families.auth_rejected("invalid_token");
                    // Bad tokens count against the client's address, so guessing is limited.
                    if let Some(limited) = self.rate_limited(&ClientKey::ip(client_ip)) {
                        return limited;
                    }
                    return unauthorized(reason, true);
                }
                Err(AuthError::Revoked) => {
                    self.families.auth_rejected("revoked");
                    if let Some(limited) = self.rate_limited(&ClientKey::ip(client_ip)) {
                        return limited;
                    }
                    return unauthorized("the account no longer exists", true);
                }
                Err(AuthError::KeysUnavailable) => {
                    self.families.auth_rejected("keys_unavailable");
                    return Problem::unavailable(
                        "tokens cannot be verified now: the signing keys are unavailable",
                    )
                    .retry_after(5)
                    .into_response();
                }
            },
        };
        match (access, &identity) {
            (Access::Admin, Some(id)) if !id.has_role("admin") => {
                self.families.auth_rejected("not_admin");
                return Problem::forbidden("this route is for administrators").into_response();
            }
            (Access::User, Some(id)) if !id.has_role("user") && !id.has_role("admin") => {
                self.families.auth_rejected("no_role");
                return Problem::forbidden("the token has no user role").into_response();
            }
            _ => {}
        }

        // Rate limit: per user when the request carries a valid token, else per address.
        let key = match &identity {
            Some(id) => ClientKey::User(id.sub.as_str().into()),
            None => ClientKey::ip(client_ip),
        };
        if let Some(limited) = self.rate_limited(&key) {
            return limited;
        }

        if let Some(len) = headers.get(header::CONTENT_LENGTH) {
            match len.to_str().ok().and_then(|l| l.parse::<u64>().ok()) {
                Some(len) if len > self.max_body => return too_large(self.max_body),
                Some(_) => {}
                None => return Problem::bad_request("invalid Content-Length").into_response(),
            }
        }

        // Headers: nothing hop-by-hop, no client-supplied identity, proxy and trace headers.
        // The host is forwarded as X-Forwarded-Host; Expect was answered by the gateway's own
        // server when it read the body; the identity only ever comes from a verified token, as
        // a token the gateway signs for this upstream.
        // Room for the headers added below, in one allocation rather than several.
        headers.reserve(8);
        let host = headers.remove(header::HOST);
        let untrusted = self.trusted_hops == 0;
        strip_headers(&mut headers, |n| {
            n == header::EXPECT
                || n == X_USER_ID
                || n == X_USER_ROLES
                || n == X_IDENTITY
                || (untrusted && n == FORWARDED)
        });
        let peer_value = peer.header.clone();
        if untrusted {
            headers.insert(&X_FORWARDED_FOR, peer_value);
            headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
            match host {
                Some(h) => headers.insert(&X_FORWARDED_HOST, h),
                None => headers.remove(&X_FORWARDED_HOST),
            };
        } else {
            // One list, the peer last (some frameworks read only the first header line).
            let mut chain = String::new();
            for v in headers.get_all(&X_FORWARDED_FOR) {
                if let Ok(v) = v.to_str() {
                    chain.push_str(v);
                    chain.push_str(", ");
                }
            }
            chain.push_str(peer_value.to_str().unwrap_or_default());
            headers.insert(
                &X_FORWARDED_FOR,
                HeaderValue::from_str(&chain).unwrap_or(peer_value),
            );
            if !headers.contains_key(&X_FORWARDED_PROTO) {
                headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
            }
            if let (false, Some(h)) = (headers.contains_key(&X_FORWARDED_HOST), host) {
                headers.insert(&X_FORWARDED_HOST, h);
            }
        }
        headers.insert(&TRACEPARENT, ids.traceparent.clone());
        headers.insert(&X_REQUEST_ID, ids.request_id.clone());
        if let (Some(id), Some(minter)) = (&identity, &self.minter) {
            headers.insert(&X_IDENTITY, minter.token(&upstream.name, id));
        }

        upstream
            .forward(method, uri, headers, body, self.max_body, ids)
            .await
    }
}
