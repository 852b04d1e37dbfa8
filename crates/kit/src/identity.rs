//! Who is calling, as the gateway vouches for it with a signed, short-lived identity token.
//!
//! The gateway verifies the caller's access token, then forwards `x-identity`: an EdDSA JWT it
//! signs (`iss` gateway, `aud` the upstream service, `sub` the user, `roles`, one minute to
//! live). Every service verifies it with the gateway's public key ([`Verifier`],
//! `IDENTITY_VERIFY_KEY`) in [`middleware`], before any handler runs: a bad token, or bare
//! `x-user-id`/`x-user-roles` headers without one, is a 401. So reaching a service on the
//! stack's network is not enough to act as someone; a token is bound to one service, so one
//! service cannot replay it to another; and only the gateway holds the signing key ([`Signer`],
//! `IDENTITY_SIGNING_KEY`), so no service can mint one. docs/security.md has the threat model.
//!
//! Handlers take an [`Identity`] (any signed-in caller; none → 401) or an [`Admin`] (→ 401 /
//! 403) as an extractor, and ask [`Identity::require`] for any other role.
//! [`IdentityHeaders`] documents the header in OpenAPI.

use crate::Problem;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// The header that carries the gateway's identity token.
pub const TOKEN_HEADER: &str = "x-identity";
/// Headers that once carried the identity in the clear: refused without a token.
pub const BARE_HEADERS: [&str; 2] = ["x-user-id", "x-user-roles"];
pub const ISSUER: &str = "gateway";
/// The services' variable for the gateway's public key.
pub const VERIFY_KEY_VAR: &str = "IDENTITY_VERIFY_KEY";
/// The gateway's variable for its signing key (a secret: `_FILE` works too).
pub const SIGNING_KEY_VAR: &str = "IDENTITY_SIGNING_KEY";
/// How long a token lives: long enough for one request's retries, short enough that a leaked
/// one is soon useless.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// Clock difference tolerated between the gateway and a service (they share a host).
const LEEWAY_SECONDS: u64 = 5;

/// The caller the gateway vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Uuid,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: Uuid,
    #[serde(default)]
    roles: Vec<String>,
    iat: u64,
    exp: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The gateway's half: signs identity tokens. Parsed from `IDENTITY_SIGNING_KEY`, the standard
/// base64 of an Ed25519 PKCS#8 document (what `msctl up` generates into `.env`).
#[derive(Clone)]
pub struct Signer {
    key: Arc<EncodingKey>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

impl FromStr for Signer {
    type Err = String;

    fn from_str(text: &str) -> Result<Signer, String> {
        let der = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let signer = Signer {
            key: Arc::new(EncodingKey::from_ed_der(&der)),
        };
        // A key ring cannot read fails here, at start-up, not on the first request.
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &(), &signer.key)
            .map_err(|_| "not an Ed25519 PKCS#8 key".to_owned())?;
        Ok(signer)
    }
}

impl Signer {
    /// A token for `identity`, for `audience` (the upstream service's name) only, valid for
    /// [`TOKEN_TTL`] from `issued_at` (seconds since the epoch).
    pub fn sign(&self, audience: &str, identity: &Identity, issued_at: u64) -> String {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: audience.into(),
            sub: identity.user_id,
            roles: identity.roles.clone(),
            iat: issued_at,
            exp: issued_at + TOKEN_TTL.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .expect("the key was checked when it was parsed")
    }

    /// As [`Signer::sign`], issued now.
    pub fn sign_now(&self, audience: &str, identity: &Identity) -> String {
        self.sign(audience, identity, now())
    }
}

/// A service's half: verifies identity tokens. Parsed from `IDENTITY_VERIFY_KEY`, the base64url
/// raw Ed25519 public key.
#[derive(Clone)]
pub struct Verifier {
    key: Arc<DecodingKey>,
    text: Arc<str>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({})", self.text)
    }
}

impl FromStr for Verifier {
    type Err = String;

    fn from_str(text: &str) -> Result<Verifier, String> {
        let text = text.trim();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("not base64url: {e}"))?;
        if raw.len() != 32 {
            return Err(format!(
                "an Ed25519 public key is 32 bytes, this is {}",
                raw.len()
            ));
        }
        Ok(Verifier {
            key: Arc::new(DecodingKey::from_ed_der(&raw)),
            text: Arc::from(text),
        })
    }
}

/// Why a token was refused (said in the 401, logged at debug).
#[derive(Debug, thiserror::Error)]
#[error("the identity token is not valid: {0}")]
pub struct InvalidToken(String);

impl Verifier {
    fn validation(audience: &str) -> Validation {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[audience]);
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        v.leeway = LEEWAY_SECONDS;
        v
    }

    /// The identity in `token` if the gateway signed it for `audience` and it has not expired.
    pub fn verify(&self, audience: &str, token: &str) -> Result<Identity, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &Self::validation(audience))
            .map_err(|e| InvalidToken(e.to_string()))?;
        Ok(Identity {
            user_id: data.claims.sub,
            roles: data.claims.roles,
        })
    }
}

/// What [`middleware`] needs: the service's name (the audience) and, when configured, the key.
#[derive(Clone)]
pub struct Gate {
    pub audience: &'static str,
    pub verifier: Option<Verifier>,
}

/// Verifies `x-identity` before routing and hands the [`Identity`] to the extractors; a bad
/// token, or bare identity headers without one, is a 401 problem. A service built without a
/// [`Verifier`] has no signed-in callers: every identity is refused.
pub async fn middleware(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    match headers.get(TOKEN_HEADER) {
        Some(token) => {
            let verified = match (&gate.verifier, token.to_str()) {
                (Some(verifier), Ok(token)) => verifier.verify(gate.audience, token),
                (None, _) => Err(InvalidToken("this service has no verification key".into())),
                (_, Err(_)) => Err(InvalidToken("not ASCII".into())),
            };
            match verified {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                }
                Err(why) => {
                    tracing::debug!(%why, "identity token refused");
                    return Problem::unauthorized(why.to_string()).into_response();
                }
            }
        }
        None if BARE_HEADERS.iter().any(|h| headers.contains_key(*h)) => {
            return Problem::unauthorized(
                "identity headers are accepted only with the gateway's signed x-identity token",
            )
            .into_response();
        }
        None => {}
    }
    next.run(request).await
}

impl Identity {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// The caller themself, or an admin: who may manage `user`'s things.
    pub fn may_manage(&self, user: Uuid) -> bool {
        self.user_id == user || self.is_admin()
    }

    /// A 403 problem saying `why` unless the caller has `role`.
    pub fn require(&self, role: &str, why: &str) -> Result<(), Problem> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(Problem::forbidden(why))
        }
    }
}

fn unauthenticated() -> Problem {
    Problem::unauthorized("authentication required: sign in and call through the gateway")
}

fn verified(parts: &Parts) -> Result<Identity, Problem> {
    parts
        .extensions
        .get::<Identity>()
        .cloned()
        .ok_or_else(unauthenticated)
}

/// A signed-in caller, as an extractor: no (valid) identity → 401 problem.
impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        verified(parts)
    }
}

/// The identity header, for a route's OpenAPI `params(..)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdentityHeaders {
    /// The caller, as the gateway vouches for it: an EdDSA JWT the gateway signs for this
    /// service (`sub` the user id, `roles`), one minute to live. Set by the gateway from the
    /// client's bearer token; a client cannot set it.
    #[param(rename = "x-identity")]
    x_identity: String,
}

/// An extractor that admits only callers with the `admin` role: no identity → 401 problem,
/// identity without the role → 403 problem.
#[derive(Debug, Clone)]
pub struct Admin(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = verified(parts)?;
        if identity.is_admin() {
            Ok(Admin(identity))
        } else {
            Err(Problem::forbidden("this operation needs the admin role"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key pair for these tests only (testkit has its own).
    const SIGNING: &str = "MC4CAQAwBQYDK2VwBCIEIDH5FqVltZSF0kyhyuermgFB4GWDnQFc4zBjvBGbjSMP";
    const VERIFY: &str = "KY_STR-KOCZI6rRxzVB9puHAKl3mop2zwc2O-WGjBIo";

    fn alice() -> Identity {
        Identity {
            user_id: Uuid::parse_str("0b6f8a10-8a0e-4a4e-9d3c-5a1f3a6b2c01").unwrap(),
            roles: vec!["user".into(), "admin".into()],
        }
    }

    #[test]
    fn a_token_verifies_for_its_audience_only_and_until_it_expires() {
        let signer: Signer = SIGNING.parse().unwrap();
        let verifier: Verifier = VERIFY.parse().unwrap();
        let token = signer.sign_now("user-service", &alice());
        assert_eq!(verifier.verify("user-service", &token).unwrap(), alice());
        let replayed = verifier.verify("payment-service", &token).unwrap_err();
        assert!(
            replayed.to_string().contains("InvalidAudience"),
            "{replayed}"
        );
        let old = signer.sign("user-service", &alice(), now() - 3600);
        assert!(verifier.verify("user-service", &old).is_err());
    }

    #[test]
    fn another_key_and_tampering_are_refused() {
        let verifier: Verifier = VERIFY.parse().unwrap();
        let other_pkcs8 = "MC4CAQAwBQYDK2VwBCIEIHVKxKkFJK+zmz+Z00EwfcRth13EskTI210fXQf2Wm1O";
        let other: Signer = other_pkcs8.parse().unwrap();
        let forged = other.sign_now("user-service", &alice());
        assert!(verifier.verify("user-service", &forged).is_err());
        let token: Signer = SIGNING.parse().unwrap();
        let token = token.sign_now("user-service", &alice());
        let mut parts: Vec<&str> = token.split('.').collect();
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"gateway","aud":"user-service","sub":"0b6f8a10-8a0e-4a4e-9d3c-5a1f3a6b2c02","roles":["admin"],"iat":1,"exp":99999999999}"#);
        parts[1] = &claims;
        assert!(verifier.verify("user-service", &parts.join(".")).is_err());
    }

    #[test]
    fn keys_that_are_not_keys_are_refused_at_parse() {
        assert!("not base64!".parse::<Signer>().is_err());
        assert!("AAAA".parse::<Signer>().is_err());
        assert!("AAAA".parse::<Verifier>().is_err());
        assert!(!format!("{:?}", SIGNING.parse::<Signer>().unwrap()).contains("MC4C"));
    }
}
