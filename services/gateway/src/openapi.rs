//! `/openapi.json`: the gateway's own endpoints, plus (in the description) the routes it
//! proxies and who may call them. The upstreams' own documents describe their APIs.

use crate::config::{Access, Config};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;

/// Liveness: the process is up.
#[utoipa::path(get, path = "/health/live", tag = "gateway",
    responses((status = 200, description = "Alive", body = serde_json::Value, example = json!({"status": "ok"}))))]
#[allow(dead_code)]
fn live() {}

/// Readiness: the configuration is loaded. Upstreams being down does not make the gateway
/// unready (it answers for them with 502/503 problems).
#[utoipa::path(get, path = "/health/ready", tag = "gateway",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value, example = json!({"status": "ready"})),
        (status = 503, description = "Not ready", body = kit::Problem, content_type = "application/problem+json")))]
#[allow(dead_code)]
fn ready() {}

/// Prometheus metrics (OpenMetrics text): requests by route and status, latency, and the
/// gateway's own `gateway_*` series (circuit state, upstream latency and outcomes, retries,
/// rate limiting, auth rejections, JWKS fetches).
#[utoipa::path(get, path = "/metrics", tag = "gateway",
    responses((status = 200, description = "Metrics", body = String, content_type = "application/openmetrics-text")))]
#[allow(dead_code)]
fn metrics() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "gateway",
    responses((status = 200, description = "OpenAPI 3.1 document", body = serde_json::Value)))]
#[allow(dead_code)]
fn openapi() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "shop API gateway", version = "0.1.0"),
    paths(live, ready, metrics, openapi),
    components(schemas(kit::Problem, kit::FieldError)),
    tags((name = "gateway", description = "The gateway's own endpoints"))
)]
struct Doc;

fn access_name(a: Access) -> &'static str {
    match a {
        Access::Public => "public (no token; a valid one is still forwarded as the identity)",
        Access::User => "a valid token with role user or admin",
        Access::Admin => "a valid token with role admin",
    }
}

/// The document for `config`.
pub fn doc(config: &Config) -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    let mut d = String::from(
        "The shop's single entry point. Requests are routed by path to the upstream services; \
         bearer tokens (RS256 JWTs from the user service) are verified here and the identity is \
         forwarded as `x-identity`, a one-minute EdDSA token the gateway signs for that upstream \
         only (client-sent identity headers are always removed). \
         Errors are `application/problem+json`: 401 (missing/invalid token, with \
         `WWW-Authenticate: Bearer`), 403 (role), 404 (no route), 413 (body too large), 429 \
         (rate limited, `Retry-After`), 502 (upstream unreachable), 503 (circuit open, \
         `Retry-After`), 504 (upstream timeout).\n\nRoutes:\n",
    );
    for r in &config.routes {
        match (&r.prefix, &r.path) {
            (Some(p), _) => d.push_str(&format!("- `{p}`, `{p}/...` → {}\n", r.upstream)),
            (None, Some(p)) => d.push_str(&format!("- `{p}` → {}\n", r.upstream)),
            _ => {}
        }
    }
    d.push_str("\nAccess (first match wins):\n");
    for rule in &config.access {
        let methods = if rule.methods.is_empty() {
            "any method".to_owned()
        } else {
            rule.methods.join(", ")
        };
        d.push_str(&format!(
            "- {methods} `{}`: {}\n",
            rule.path,
            access_name(rule.access)
        ));
    }
    d.push_str(&format!(
        "- anything else: {}\n",
        access_name(config.default_access)
    ));
    doc.info.description = Some(d);
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
    doc
}
