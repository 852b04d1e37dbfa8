//! gateway → user-service: the JWKS the gateway verifies every token with, fetched by the
//! gateway's own `Authenticator` and used to verify a token signed with the example key.

use crate::pact;
use gateway::auth::{Authenticator, JwksSource};
use gateway::config::AuthConfig;
use jsonwebtoken::{EncodingKey, Header};
use pact_consumer::prelude::*;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fixed test key (not the stack's: the user service makes its own at first start), so the
/// example in the pact file is the same on every run.
const KEY: &str = include_str!("../data/jwks-test-key.pem");
const KID: &str = "contract-test-key";

fn public_jwk() -> serde_json::Value {
    use base64::Engine;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(KEY).expect("the test key");
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
}

#[tokio::test]
async fn the_gateway_verifies_tokens_with_user_services_jwks() {
    let jwk = public_jwk();
    let mut builder = pact("gateway", "user-service");
    builder.interaction("the signing keys", "", |mut i| {
        i.given("the user service has a signing key");
        i.request.get().path("/.well-known/jwks.json");
        // The gateway uses RS256 signing keys by `kid`; the key material is the provider's own.
        i.response.ok().json_body(json_pattern!({
            "keys": each_like!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": like!(KID),
                "n": term!(r"^[A-Za-z0-9_-]+$", jwk["n"].as_str().unwrap()),
                "e": term!(r"^[A-Za-z0-9_-]+$", jwk["e"].as_str().unwrap()),
            })
        }));
        i
    });
    let server = builder.start_mock_server(None, None);

    let config = AuthConfig {
        issuer: "shop-users".into(),
        audience: "shop".into(),
        leeway_secs: 0,
        jwks_upstream: "user-service".into(),
        jwks_path: "/.well-known/jwks.json".into(),
        jwks_url: None,
        jwks_refresh_interval_ms: 0,
        jwks_max_age_secs: 300,
        revocation_ttl_secs: 60,
    };
    let source = JwksSource {
        urls: vec![server
            .path("/.well-known/jwks.json")
            .as_str()
            .parse()
            .unwrap()],
        client: gateway::pool::http_client(Duration::from_secs(2)),
        timeout: Duration::from_secs(5),
    };
    let auth = Authenticator::new(
        &config,
        source,
        Default::default(),
        Default::default(),
        Default::default(),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sub = crate::ids::id(51).to_string();
    let claims = json!({"sub": sub, "roles": ["user"], "iss": "shop-users", "aud": "shop",
                        "iat": now, "nbf": now, "exp": now + 60});
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    let identity = auth
        .verify(&token)
        .await
        .expect("verified with the fetched key");
    assert_eq!(identity.sub, sub);
    drop(server);
    crate::normalise("gateway", "user-service");
}
