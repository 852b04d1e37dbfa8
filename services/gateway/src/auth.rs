//! Bearer token verification: RS256 JWTs against the user service's JWKS, fetched lazily,
//! cached, and refetched when a token names an unknown `kid` (or the keys are older than
//! `jwks_max_age_secs`), at most once per `jwks_refresh_interval_ms` so forged `kid`s cannot
//! hammer the user service. A valid token of a deleted account (`user.deleted`, see
//! [`crate::revocation`]) is refused too.

use crate::config::AuthConfig;
use crate::pool::HttpClient;
use axum::body::Body;
use http::{HeaderMap, Request, Uri};
use http_body_util::BodyExt;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Who a verified token says the caller is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub sub: String,
    pub roles: Vec<String>,
    /// `sub` as the user id the services know (the user service's ids are UUIDs).
    pub user_id: uuid::Uuid,
}

impl Identity {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The token is not acceptable: 401.
    Invalid(&'static str),
    /// No signing keys could be fetched, so no token can be checked: 503.
    KeysUnavailable,
    /// A valid token of an account that was deleted since: 401.
    Revoked,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
}

/// Where the JWKS comes from: replicas round robin.
pub struct JwksSource {
    pub urls: Vec<Uri>,
    pub client: HttpClient,
    pub timeout: Duration,
}

pub struct Authenticator {
    validation: Validation,
    keys: RwLock<Keys>,
    /// Serialises fetches; holds the time of the last attempt.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
    max_age: Duration,
    source: JwksSource,
    next: AtomicUsize,
    fetched_ok: Counter,
    fetch_failed: Counter,
    revocations: crate::revocation::Revocations,
}

const MAX_JWKS_BYTES: usize = 1 << 20;

impl Authenticator {
    pub fn new(
        config: &AuthConfig,
        source: JwksSource,
        fetched_ok: Counter,
        fetch_failed: Counter,
        revoked_subjects: prometheus_client::metrics::gauge::Gauge,
    ) -> Authenticator {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Authenticator {
            validation,
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::new(None),
            min_interval: Duration::from_millis(config.jwks_refresh_interval_ms),
            max_age: Duration::from_secs(config.jwks_max_age_secs.max(1)),
            source,
            next: AtomicUsize::new(0),
            fetched_ok,
            fetch_failed,
            revocations: crate::revocation::Revocations::new(
                Duration::from_secs(config.revocation_ttl_secs.max(1)),
                revoked_subjects,
            ),
        }
    }

    /// The deleted accounts whose tokens are refused.
    pub fn revocations(&self) -> &crate::revocation::Revocations {
        &self.revocations
    }

    fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .expect("keys lock")
            .by_kid
            .get(kid)
            .cloned()
    }

    fn fetched_at(&self) -> Option<Instant> {
        self.keys.read().expect("keys lock").fetched_at
    }

    fn stale(&self) -> bool {
        self.fetched_at()
            .is_some_and(|t| t.elapsed() > self.max_age)
    }

    /// Verifies a bearer token (signature, `exp`, `nbf`, `iss`, `aud`, `sub`, `roles`), and
    /// that its account has not been deleted.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid("the token must be signed with RS256"));
        }
        let kid = header
            .kid
            .ok_or(AuthError::Invalid("the token has no kid"))?;
        let mut key = self.key(&kid);
        if key.is_none() {
            self.refresh(&kid, true).await;
            key = self.key(&kid);
        } else if self.stale() {
            self.refresh(&kid, false).await;
            key = self.key(&kid);
        }
        let Some(key) = key else {
            return Err(if self.fetched_at().is_some() {
                AuthError::Invalid("the token's signing key is unknown")
            } else {
                AuthError::KeysUnavailable
            });
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            AuthError::Invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token has the wrong issuer",
                ErrorKind::InvalidAudience => "the token has the wrong audience",
                ErrorKind::InvalidSignature => "the token's signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is invalid",
            })
        })?;
        let Claims { sub, roles } = data.claims;
        let user_id = uuid::Uuid::parse_str(&sub)
            .map_err(|_| AuthError::Invalid("the token's sub is not a valid id"))?;
        let role_ok = |r: &String| {
            !r.is_empty()
                && r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        };
        if !roles.iter().all(role_ok) {
            return Err(AuthError::Invalid("the token's roles are invalid"));
        }
        if self.revocations.is_revoked(&user_id) {
            return Err(AuthError::Revoked);
        }
        Ok(Identity {
            sub,
            roles,
            user_id,
        })
    }

    /// Fetches the JWKS unless one was fetched less than `min_interval` ago. With `wait`
    /// false (stale keys, still usable) it does not wait for a fetch already under way.
    async fn refresh(&self, kid: &str, wait: bool) {
        let mut last = if wait {
            self.fetching.lock().await
        } else {
            match self.fetching.try_lock() {
                Ok(guard) => guard,
                Err(_) => return,
            }
        };
        // Someone else may have fetched while this request waited.
        if self.key(kid).is_some() && !self.stale() {
            return;
        }
        if last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(by_kid) => {
                self.fetched_ok.inc();
                tracing::info!(keys = by_kid.len(), "fetched the JWKS");
                *self.keys.write().expect("keys lock") = Keys {
                    by_kid,
                    fetched_at: Some(Instant::now()),
                };
            }
            Err(e) => {
                self.fetch_failed.inc();
                tracing::warn!(error = %e, "could not fetch the JWKS");
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let urls = &self.source.urls;
        let uri = urls[self.next.fetch_add(1, Ordering::Relaxed) % urls.len()].clone();
        let mut request = Request::get(uri.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        let trace: HeaderMap = kit::trace::outgoing_headers();
        request.headers_mut().extend(trace);
        let work = async {
            let response = self
                .source
                .client
                .request(request)
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{uri}: status {}", response.status()));
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|e| format!("{uri}: {e}"))?
                .to_bytes();
            Ok(body)
        };
        let body = tokio::time::timeout(self.source.timeout, work)
            .await
            .map_err(|_| format!("{uri}: timed out"))??;
        parse_jwks(&body)
    }
}

/// The RS256 signing keys of a JWKS document, by `kid`; other keys are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let jwks: Jwks = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in jwks.keys {
        let usable = jwk.kty == "RSA"
            && jwk.alg.as_deref().is_none_or(|a| a == "RS256")
            && jwk.use_.as_deref().is_none_or(|u| u == "sig");
        let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        match DecodingKey::from_rsa_components(&n, &e) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(err) => tracing::warn!(%kid, error = %err, "skipping an unusable JWK"),
        }
    }
    Ok(keys)
}
