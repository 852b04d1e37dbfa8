//! Configuration: a JSON file (`GATEWAY_CONFIG`, else the built-in `gateway.json`), merged over
//! the built-in default (objects merge key by key, lists and values replace), then the routing
//! table (`GATEWAY_ROUTES`: upstreams, routes and access rules, which msctl renders from the
//! `routes:` blocks of the stack file's services), then environment overrides. Every problem is
//! collected and reported at once. `docs/gateway.md` documents each setting.
//!
//! The built-in configuration holds no routes: a service declares its own, in the stack file.

pub use crate::policy::{Access, AccessRule};
use kit::config::{ConfigError, Env};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const SERVICE: &str = "gateway";
pub const DEFAULT_PORT: u16 = 8000;

fn default_port() -> u16 {
    DEFAULT_PORT
}

/// The built-in configuration: timeouts, retries, breaker, rate limit, auth; no routes.
pub const DEFAULT_CONFIG: &str = include_str!("../gateway.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Upstream name → its replicas (and optional resilience overrides).
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Which paths go to which upstream.
    pub routes: Vec<RouteConfig>,
    /// Who may call what; the first rule matching method and path decides.
    pub access: Vec<AccessRule>,
    /// Access of a request no rule matches.
    pub default_access: Access,
    /// Timeouts, retries and circuit breaker of every upstream (overridable per upstream).
    pub resilience: Resilience,
    pub rate_limit: RateLimitConfig,
    pub auth: AuthConfig,
    /// Largest request body accepted; larger → 413.
    pub max_body_bytes: u64,
    /// How many proxies in front of the gateway append to `X-Forwarded-For` (0: trust none,
    /// the client is the socket peer).
    pub trusted_proxy_hops: usize,
    /// Log every proxied request (one JSON line each); otherwise only failures are logged and
    /// the metrics count the rest.
    pub access_log: bool,
    /// Worker threads, each with its own runtime and upstream connections (0: one per CPU).
    pub workers: usize,
    /// The port to serve on (`PORT`, never in the JSON file).
    #[serde(skip, default = "default_port")]
    pub port: u16,
    /// Signs the identity forwarded upstream (`IDENTITY_SIGNING_KEY`, a secret, so never in the
    /// JSON file). Without it no identity is forwarded and the services refuse every caller;
    /// the binary does not start without it.
    #[serde(skip)]
    pub identity_signer: Option<kit::identity::Signer>,
    /// RabbitMQ (`AMQP_URL` / `AMQP_URL_FILE`, a secret, so never in the JSON file): when set,
    /// the gateway consumes `user.deleted` and refuses the tokens of deleted accounts
    /// (`revocation.rs`). Unset: no revocation.
    #[serde(skip)]
    pub amqp_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URLs of the replicas (`http://host:port`, optionally with a path prefix).
    pub urls: Vec<String>,
    /// Settings that differ from the global `resilience` for this upstream.
    #[serde(default)]
    pub resilience: ResilienceOverrides,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `/users` matches `/users` and `/users/...` (not `/usersx`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Exactly this path.
    #[serde(default)]
    pub path: Option<String>,
    pub upstream: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resilience {
    pub connect_timeout_ms: u64,
    /// Until the upstream's response headers arrive, per attempt.
    pub request_timeout_ms: u64,
    /// Attempts in total for idempotent methods (1 = no retries); POST/PATCH always get 1.
    pub retry_attempts: u32,
    /// Wait before the first retry; doubles for each further retry.
    pub retry_backoff_ms: u64,
    /// The sliding window over which the circuit judges the failure rate.
    pub circuit_window_ms: u64,
    /// Attempts the window must hold before the rate is judged.
    pub circuit_min_calls: u32,
    /// Failed share of the window's attempts, in percent (1 to 100), that opens the circuit.
    /// A failure is an upstream that could not be reached, timed out, or answered 502, 503 or
    /// 504; any other answer (a 500 included) shows the upstream alive.
    pub circuit_failure_rate_percent: u32,
    /// How long an open circuit fails fast before it admits trial requests.
    pub circuit_cooldown_ms: u64,
    /// Trial requests a half-open circuit admits; all must succeed to close it.
    pub circuit_half_open_trials: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResilienceOverrides {
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub retry_attempts: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
    pub circuit_window_ms: Option<u64>,
    pub circuit_min_calls: Option<u32>,
    pub circuit_failure_rate_percent: Option<u32>,
    pub circuit_cooldown_ms: Option<u64>,
    pub circuit_half_open_trials: Option<u32>,
}

impl Resilience {
    /// These settings with an upstream's overrides applied.
    pub fn with(&self, o: &ResilienceOverrides) -> Resilience {
        Resilience {
            connect_timeout_ms: o.connect_timeout_ms.unwrap_or(self.connect_timeout_ms),
            request_timeout_ms: o.request_timeout_ms.unwrap_or(self.request_timeout_ms),
            retry_attempts: o.retry_attempts.unwrap_or(self.retry_attempts),
            retry_backoff_ms: o.retry_backoff_ms.unwrap_or(self.retry_backoff_ms),
            circuit_window_ms: o.circuit_window_ms.unwrap_or(self.circuit_window_ms),
            circuit_min_calls: o.circuit_min_calls.unwrap_or(self.circuit_min_calls),
            circuit_failure_rate_percent: o
                .circuit_failure_rate_percent
                .unwrap_or(self.circuit_failure_rate_percent),
            circuit_cooldown_ms: o.circuit_cooldown_ms.unwrap_or(self.circuit_cooldown_ms),
            circuit_half_open_trials: o
                .circuit_half_open_trials
                .unwrap_or(self.circuit_half_open_trials),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client; 0 disables rate limiting.
    pub per_second: u32,
    /// Requests a client may send at once before the sustained rate applies.
    pub burst: u32,
    /// How often idle clients are dropped from the limiter's memory.
    pub prune_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// The upstream serving the JWKS (its replicas are used round robin).
    pub jwks_upstream: String,
    pub jwks_path: String,
    /// A full JWKS URL instead of `jwks_upstream` + `jwks_path`.
    pub jwks_url: Option<String>,
    /// Least time between two JWKS fetches (a token with an unknown `kid` triggers one).
    pub jwks_refresh_interval_ms: u64,
    /// Keys older than this are refreshed when the next token arrives.
    pub jwks_max_age_secs: u64,
    /// How long the tokens of a deleted account stay refused: the longest token lifetime the
    /// user service issues (its `MAX_TOKEN_TTL_SECONDS`, a day).
    pub revocation_ttl_secs: u64,
}

/// The configuration `json` with the routing table `routes` (a JSON object of `upstreams`,
/// `routes` and `access`) merged over it.
fn with_routes(json: &str, routes: &str) -> Result<String, String> {
    let mut config: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let table: Value = serde_json::from_str(routes).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(table) = table else {
        return Err("must be a JSON object".into());
    };
    if let Some(key) = table
        .keys()
        .find(|k| !["upstreams", "routes", "access"].contains(&k.as_str()))
    {
        return Err(format!(
            "{key:?} is not part of a routing table (upstreams, routes, access)"
        ));
    }
    merge(&mut config, Value::Object(table));
    Ok(config.to_string())
}

/// Merges `over` into `base`: objects key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

impl Config {
    /// A configuration from JSON merged over the built-in default, validated; no environment.
    pub fn from_json(json: &str) -> Result<Config, ConfigError> {
        let fail = |p: String| ConfigError { problems: vec![p] };
        let mut value: Value = serde_json::from_str(DEFAULT_CONFIG).expect("built-in JSON");
        let over: Value = serde_json::from_str(json).map_err(|e| fail(format!("not JSON: {e}")))?;
        if !over.is_object() {
            return Err(fail("the configuration must be a JSON object".into()));
        }
        merge(&mut value, over);
        let config: Config =
            serde_json::from_value(value).map_err(|e| fail(format!("invalid: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration the binary runs with: `GATEWAY_CONFIG` (a JSON file) over the
    /// built-in default, then environment overrides.
    pub fn load() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let path: String = env.or("GATEWAY_CONFIG", String::new());
        let fail = |p: String| ConfigError { problems: vec![p] };
        let json = if path.is_empty() {
            "{}".to_owned()
        } else {
            std::fs::read_to_string(&path)
                .map_err(|e| fail(format!("GATEWAY_CONFIG={path}: {e}")))?
        };
        let routes: String = env.or("GATEWAY_ROUTES", String::new());
        let json = if routes.trim().is_empty() {
            json
        } else {
            with_routes(&json, &routes).map_err(|e| fail(format!("GATEWAY_ROUTES: {e}")))?
        };
        let mut config = Config::from_json(&json).map_err(|mut e| {
            if !path.is_empty() {
                for p in &mut e.problems {
                    *p = format!("{path}: {p}");
                }
            }
            e
        })?;
        config.apply_env(&mut env);
        config.port = env.or("PORT", DEFAULT_PORT);
        let signing_key = env.required_secret(kit::identity::SIGNING_KEY_VAR);
        // Empty (`AMQP_URL: ${AMQP_URL:-}` in a stack file) means unset.
        config.amqp_url = env.secret("AMQP_URL").filter(|u| !u.trim().is_empty());
        env.finish()?;
        config.identity_signer = match signing_key.map(|k| k.parse()) {
            Some(Ok(signer)) => Some(signer),
            Some(Err(why)) => return Err(fail(format!("IDENTITY_SIGNING_KEY is invalid: {why}"))),
            None => None,
        };
        config.validate()?;
        Ok(config)
    }

    /// Environment overrides (see docs/gateway.md).
    pub fn apply_env(&mut self, env: &mut Env) {
        for (name, upstream) in self.upstreams.iter_mut() {
            let var = format!("UPSTREAM_{}", name.to_uppercase().replace('-', "_"));
            let urls: String = env.or(&var, String::new());
            if !urls.trim().is_empty() {
                upstream.urls = urls
                    .split(',')
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty())
                    .collect();
            }
        }
        for (var, _) in std::env::vars() {
            if let Some(name) = var.strip_prefix("UPSTREAM_") {
                let known = self
                    .upstreams
                    .keys()
                    .any(|k| k.to_uppercase().replace('-', "_") == name);
                if !known {
                    tracing::warn!(%var, "no upstream of that name is configured; ignored");
                }
            }
        }
        let r = &mut self.resilience;
        r.connect_timeout_ms = env.or("CONNECT_TIMEOUT_MS", r.connect_timeout_ms);
        r.request_timeout_ms = env.or("REQUEST_TIMEOUT_MS", r.request_timeout_ms);
        r.retry_attempts = env.or("RETRY_ATTEMPTS", r.retry_attempts);
        r.retry_backoff_ms = env.or("RETRY_BACKOFF_MS", r.retry_backoff_ms);
        r.circuit_window_ms = env.or("CIRCUIT_WINDOW_MS", r.circuit_window_ms);
        r.circuit_min_calls = env.or("CIRCUIT_MIN_CALLS", r.circuit_min_calls);
        r.circuit_failure_rate_percent = env.or(
            "CIRCUIT_FAILURE_RATE_PERCENT",
            r.circuit_failure_rate_percent,
        );
        r.circuit_cooldown_ms = env.or("CIRCUIT_COOLDOWN_MS", r.circuit_cooldown_ms);
        r.circuit_half_open_trials = env.or("CIRCUIT_HALF_OPEN_TRIALS", r.circuit_half_open_trials);
        let l = &mut self.rate_limit;
        l.per_second = env.or("RATE_LIMIT_PER_SECOND", l.per_second);
        l.burst = env.or("RATE_LIMIT_BURST", l.burst);
        l.prune_interval_ms = env.or("RATE_LIMIT_PRUNE_INTERVAL_MS", l.prune_interval_ms);
        let a = &mut self.auth;
        a.issuer = env.or("JWT_ISSUER", a.issuer.clone());
        a.audience = env.or("JWT_AUDIENCE", a.audience.clone());
        a.leeway_secs = env.or("JWT_LEEWAY_SECS", a.leeway_secs);
        let url: String = env.or("JWKS_URL", String::new());
        if !url.is_empty() {
            a.jwks_url = Some(url);
        }
        a.jwks_refresh_interval_ms = env.or("JWKS_REFRESH_INTERVAL_MS", a.jwks_refresh_interval_ms);
        a.jwks_max_age_secs = env.or("JWKS_MAX_AGE_SECS", a.jwks_max_age_secs);
        a.revocation_ttl_secs = env.or("REVOCATION_TTL_SECS", a.revocation_ttl_secs);
        self.max_body_bytes = env.or("MAX_BODY_BYTES", self.max_body_bytes);
        self.trusted_proxy_hops = env.or("TRUSTED_PROXY_HOPS", self.trusted_proxy_hops);
        self.access_log = env.or("ACCESS_LOG", self.access_log);
        self.workers = env.or("WORKERS", self.workers);
    }

    /// Every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let resilience = |p: &mut Vec<String>, at: &str, r: &Resilience| {
            for (name, v) in [
                ("connect_timeout_ms", r.connect_timeout_ms),
                ("request_timeout_ms", r.request_timeout_ms),
                ("retry_attempts", r.retry_attempts as u64),
                ("circuit_window_ms", r.circuit_window_ms),
                ("circuit_min_calls", r.circuit_min_calls as u64),
                (
                    "circuit_failure_rate_percent",
                    r.circuit_failure_rate_percent as u64,
                ),
                ("circuit_cooldown_ms", r.circuit_cooldown_ms),
                (
                    "circuit_half_open_trials",
                    r.circuit_half_open_trials as u64,
                ),
            ] {
                if v == 0 {
                    p.push(format!("{at}.{name} must be at least 1"));
                }
            }
            if r.retry_attempts > 10 {
                p.push(format!("{at}.retry_attempts must be at most 10"));
            }
            if r.circuit_failure_rate_percent > 100 {
                p.push(format!(
                    "{at}.circuit_failure_rate_percent must be at most 100"
                ));
            }
        };
        resilience(&mut problems, "resilience", &self.resilience);
        if self.upstreams.is_empty() {
            problems.push(
                "upstreams: at least one is needed (GATEWAY_ROUTES, which msctl sets from the \
                 stack file's `routes:` blocks, or GATEWAY_CONFIG)"
                    .into(),
            );
        }
        for (name, u) in &self.upstreams {
            if u.urls.is_empty() {
                problems.push(format!("upstreams.{name}: no urls"));
            }
            for url in &u.urls {
                if let Err(e) = parse_base_url(url) {
                    problems.push(format!("upstreams.{name}: {url:?}: {e}"));
                }
            }
            resilience(
                &mut problems,
                &format!("upstreams.{name}.resilience"),
                &self.resilience.with(&u.resilience),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in self.routes.iter().enumerate() {
            let at = format!("routes[{i}]");
            let p = match (&r.prefix, &r.path) {
                (Some(p), None) | (None, Some(p)) => p,
                _ => {
                    problems.push(format!("{at}: give exactly one of prefix and path"));
                    continue;
                }
            };
            if !p.starts_with('/') || p.len() < 2 || p.ends_with('/') {
                problems.push(format!(
                    "{at}: {p:?} must start with / and not end with / (and not be /)"
                ));
            } else if p.contains(['{', '}', '*', '?', '#']) {
                problems.push(format!("{at}: {p:?} must be a literal path"));
            } else if RESERVED.iter().any(|r| {
                *r == p || r.starts_with(&format!("{p}/")) || p.starts_with(&format!("{r}/"))
            }) {
                problems.push(format!("{at}: {p:?} clashes with the gateway's own routes"));
            } else if !seen.insert(p.clone()) {
                problems.push(format!("{at}: {p:?} is routed twice"));
            }
            if !self.upstreams.contains_key(&r.upstream) {
                problems.push(format!("{at}: no upstream named {:?}", r.upstream));
            }
        }
        for (i, rule) in self.access.iter().enumerate() {
            if let Err(e) = crate::policy::Pattern::parse(&rule.path) {
                problems.push(format!("access[{i}]: {e}"));
            }
            for m in &rule.methods {
                if http::Method::from_bytes(m.as_bytes()).is_err() || m.to_uppercase() != *m {
                    problems.push(format!(
                        "access[{i}]: {m:?} is not an upper-case HTTP method"
                    ));
                }
            }
        }
        if self.rate_limit.per_second > 0 && self.rate_limit.burst == 0 {
            problems.push("rate_limit.burst must be at least 1".into());
        }
        if self.rate_limit.prune_interval_ms == 0 {
            problems.push("rate_limit.prune_interval_ms must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            problems.push("max_body_bytes must be at least 1".into());
        }
        match &self.auth.jwks_url {
            Some(url) => {
                if let Err(e) = parse_base_url(url) {
                    problems.push(format!("auth.jwks_url: {url:?}: {e}"));
                }
            }
            None => {
                if !self.upstreams.contains_key(&self.auth.jwks_upstream) {
                    problems.push(format!(
                        "auth.jwks_upstream: no upstream named {:?}",
                        self.auth.jwks_upstream
                    ));
                }
                if !self.auth.jwks_path.starts_with('/') {
                    problems.push("auth.jwks_path must start with /".into());
                }
            }
        }
        if self.auth.jwks_refresh_interval_ms == 0 {
            problems.push("auth.jwks_refresh_interval_ms must be at least 1".into());
        }
        if self.auth.revocation_ttl_secs == 0 {
            problems.push("auth.revocation_ttl_secs must be at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// Paths the gateway serves itself.
pub const RESERVED: &[&str] = &["/health", "/metrics", "/openapi.json"];

/// A replica's base URL: `http://host:port[/prefix]` → (scheme, authority, path prefix without
/// a trailing slash).
pub fn parse_base_url(
    url: &str,
) -> Result<(http::uri::Scheme, http::uri::Authority, String), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let scheme = uri.scheme().cloned().ok_or("no scheme (http://...)")?;
    if scheme != http::uri::Scheme::HTTP {
        return Err("only http:// is supported (the gateway has no TLS client)".into());
    }
    let authority = uri.authority().cloned().ok_or("no host")?;
    if uri.query().is_some() {
        return Err("a base URL cannot have a query".into());
    }
    let prefix = uri.path().trim_end_matches('/').to_owned();
    Ok((scheme, authority, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled stack's routing table, as msctl renders it from `msctl.yaml`.
    pub const SHOP_ROUTES: &str = include_str!("../tests/data/shop-routes.json");

    pub fn shop() -> Config {
        Config::from_json(SHOP_ROUTES).unwrap()
    }

    #[test]
    fn the_routing_table_is_the_stack_files() {
        let c = shop();
        assert_eq!(
            c.upstreams["user-service"].urls,
            ["http://user-service:8001"]
        );
        assert_eq!(
            c.upstreams["product-service"].urls,
            ["http://product-service:8002"]
        );
        assert_eq!(c.resilience.retry_attempts, 3);
        assert_eq!(c.auth.issuer, "shop-users");
    }

    #[test]
    fn without_a_routing_table_the_gateway_says_where_one_comes_from() {
        let all = Config::from_json("{}").unwrap_err().problems.join("\n");
        assert!(all.contains("GATEWAY_ROUTES"), "{all}");
    }

    #[test]
    fn files_merge_over_the_default() {
        let json = with_routes(
            r#"{"upstreams": {"user-service": {"urls": ["http://a:1", "http://b:2"], "resilience": {"retry_attempts": 1}}},
                "rate_limit": {"burst": 7}}"#,
            SHOP_ROUTES,
        )
        .unwrap();
        let c = Config::from_json(&json).unwrap();
        assert_eq!(
            c.upstreams["user-service"].urls,
            ["http://user-service:8001"],
            "the table's"
        );
        let c = Config::from_json(
            &with_routes(
                SHOP_ROUTES,
                r#"{"upstreams": {"user-service": {"urls": ["http://a:1", "http://b:2"], "resilience": {"retry_attempts": 1}}}}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(c.upstreams["user-service"].urls.len(), 2);
        assert_eq!(
            c.upstreams["product-service"].urls,
            ["http://product-service:8002"]
        );
        assert_eq!(
            c.resilience
                .with(&c.upstreams["user-service"].resilience)
                .retry_attempts,
            1
        );
        let c = Config::from_json(&json).unwrap();
        assert_eq!(c.rate_limit.burst, 7);
        assert_eq!(c.rate_limit.per_second, 100);
    }

    /// The only test that touches the environment (it is process-wide).
    #[test]
    fn the_file_and_the_environment_override_the_default() {
        let file = std::env::temp_dir().join(format!("gateway-config-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"rate_limit": {"burst": 9}}"#).unwrap();
        std::env::set_var("GATEWAY_CONFIG", &file);
        std::env::set_var("GATEWAY_ROUTES", SHOP_ROUTES);
        std::env::set_var("UPSTREAM_USER_SERVICE", "http://u1:8001, http://u2:8001");
        std::env::set_var("UPSTREAM_PAYMENT_SERVICE", "http://p:1");
        std::env::set_var("RATE_LIMIT_PER_SECOND", "7");
        std::env::set_var("REQUEST_TIMEOUT_MS", "250");
        std::env::remove_var("IDENTITY_SIGNING_KEY");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("IDENTITY_SIGNING_KEY is required"), "{err}");
        std::env::set_var("IDENTITY_SIGNING_KEY", "not a key");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("IDENTITY_SIGNING_KEY is invalid"), "{err}");
        assert!(!err.contains("not a key"), "a secret is not echoed: {err}");
        std::env::set_var(
            "IDENTITY_SIGNING_KEY",
            "MC4CAQAwBQYDK2VwBCIEIDH5FqVltZSF0kyhyuermgFB4GWDnQFc4zBjvBGbjSMP",
        );
        std::env::remove_var("AMQP_URL_FILE");
        std::env::set_var("AMQP_URL", "");
        let c = Config::load().unwrap();
        assert!(c.identity_signer.is_some());
        assert_eq!(c.amqp_url, None, "empty means unset");
        assert_eq!(c.auth.revocation_ttl_secs, 86_400);
        std::env::set_var("AMQP_URL", "amqp://shop:pw@rabbitmq:5672/%2f");
        std::env::set_var("REVOCATION_TTL_SECS", "900");
        let c = Config::load().unwrap();
        assert_eq!(
            c.amqp_url.as_deref(),
            Some("amqp://shop:pw@rabbitmq:5672/%2f")
        );
        assert_eq!(c.auth.revocation_ttl_secs, 900);
        std::env::remove_var("AMQP_URL");
        std::env::remove_var("REVOCATION_TTL_SECS");
        assert_eq!(
            c.upstreams["user-service"].urls,
            ["http://u1:8001", "http://u2:8001"]
        );
        assert_eq!(c.upstreams["payment-service"].urls, ["http://p:1"]);
        assert_eq!(
            c.upstreams["product-service"].urls,
            ["http://product-service:8002"]
        );
        assert_eq!((c.rate_limit.per_second, c.rate_limit.burst), (7, 9));
        assert_eq!(c.resilience.request_timeout_ms, 250);

        std::env::set_var("RETRY_ATTEMPTS", "many");
        std::env::set_var("UPSTREAM_ORDER_SERVICE", "ftp://x");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("RETRY_ATTEMPTS=\"many\" is invalid"), "{err}");
        std::env::remove_var("RETRY_ATTEMPTS");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("upstreams.order-service"), "{err}");
        std::env::remove_var("UPSTREAM_ORDER_SERVICE");

        std::env::set_var("GATEWAY_ROUTES", r#"{"rate_limit": {"burst": 1}}"#);
        let err = Config::load().unwrap_err().to_string();
        assert!(
            err.contains("GATEWAY_ROUTES: \"rate_limit\" is not part of a routing table"),
            "{err}"
        );
        std::env::set_var("GATEWAY_ROUTES", "");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("upstreams: at least one is needed"), "{err}");

        std::env::set_var("GATEWAY_CONFIG", "/nonexistent/gateway.json");
        let err = Config::load().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/gateway.json"), "{err}");
        for var in [
            "GATEWAY_CONFIG",
            "GATEWAY_ROUTES",
            "UPSTREAM_USER_SERVICE",
            "UPSTREAM_PAYMENT_SERVICE",
            "RATE_LIMIT_PER_SECOND",
            "REQUEST_TIMEOUT_MS",
        ] {
            std::env::remove_var(var);
        }
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn every_problem_is_reported() {
        let err = Config::from_json(
            r#"{"upstreams": {"user-service": {"urls": ["https://x"]}},
                "routes": [{"prefix": "/metrics", "upstream": "nope"}, {"prefix": "/a", "path": "/b", "upstream": "user-service"}],
                "resilience": {"retry_attempts": 0}}"#,
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        for want in [
            "only http://",
            "clashes with the gateway",
            "no upstream named \"nope\"",
            "exactly one of prefix and path",
            "retry_attempts must be at least 1",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
        let err = Config::from_json(r#"{"rate_limit": {"per_sec": 1}}"#).unwrap_err();
        assert!(
            err.problems[0].contains("unknown field"),
            "{:?}",
            err.problems
        );
    }

    #[test]
    fn the_shop_s_access_rules_as_the_policy_reads_them() {
        let c = shop();
        let p = crate::policy::Policy::new(&c.access, c.default_access);
        let get = http::Method::GET;
        let post = http::Method::POST;
        assert_eq!(p.access(&post, "/users"), Access::Public);
        assert_eq!(p.access(&post, "/users/login"), Access::Public);
        assert_eq!(p.access(&get, "/users"), Access::Admin);
        assert_eq!(p.access(&get, "/users/me"), Access::User);
        assert_eq!(p.access(&get, "/products"), Access::Public);
        assert_eq!(p.access(&get, "/products/search"), Access::Public);
        assert_eq!(p.access(&get, "/products/123"), Access::Public);
        assert_eq!(p.access(&post, "/products"), Access::Admin);
        assert_eq!(p.access(&http::Method::PUT, "/products/1"), Access::Admin);
        assert_eq!(
            p.access(&http::Method::DELETE, "/products/1"),
            Access::Admin
        );
        assert_eq!(p.access(&get, "/.well-known/jwks.json"), Access::Public);
        assert_eq!(p.access(&get, "/orders"), Access::User);
        assert_eq!(p.access(&post, "/orders"), Access::User);
    }
}
