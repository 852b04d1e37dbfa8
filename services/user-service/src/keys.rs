//! The RSA keys that sign access tokens, and their public half as a JWKS.
//!
//! With `JWT_PRIVATE_KEY` set, that key signs and is the only one published. Otherwise the keys
//! live in the `signing_keys` table: the first start generates a 2048-bit key and stores it (an
//! advisory lock makes concurrent first starts agree on one), later starts load it, so tokens
//! survive restarts and no key is baked into an image. The newest stored key signs; every stored
//! key is published, so a key added by hand (rotation) does not invalidate live tokens.

use crate::store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub const GENERATED_KEY_BITS: usize = 2048;
pub const MIN_KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key: {0}")]
    Invalid(String),
    #[error("signing keys table: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing key generation failed: {0}")]
    Generate(String),
}

/// One public key in a JWKS.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Always `RSA`.
    #[schema(example = "RSA")]
    pub kty: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: &'static str,
    /// Always `RS256`.
    #[schema(example = "RS256")]
    pub alg: &'static str,
    /// Key id; the `kid` header of the tokens this key signs.
    pub kid: String,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Public exponent, base64url without padding.
    #[schema(example = "AQAB")]
    pub e: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A private key ready to sign, with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl SigningKey {
    pub fn new(kid: String, key: &RsaPrivateKey) -> Result<SigningKey, KeyError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let public = key.to_public_key();
        Ok(SigningKey {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: Jwk {
                kty: "RSA",
                use_: "sig",
                alg: "RS256",
                kid: kid.clone(),
                n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            },
            kid,
        })
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// The signing key and the published set.
#[derive(Clone)]
pub struct KeySet {
    pub signing: SigningKey,
    pub jwks: Jwks,
}

/// Parses an RSA private key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`)
/// PEM, of at least 2048 bits.
pub fn parse_private_pem(pem: &str) -> Result<RsaPrivateKey, String> {
    let pem = pem.trim();
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("not a PKCS#1 RSA key: {e}"))?
    } else if pem.contains("BEGIN PRIVATE KEY") {
        RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("not a PKCS#8 RSA key: {e}"))?
    } else {
        return Err(
            "expected a PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".into(),
        );
    };
    let bits = key.size() * 8;
    if bits < MIN_KEY_BITS {
        return Err(format!(
            "the key has {bits} bits; at least {MIN_KEY_BITS} are required"
        ));
    }
    Ok(key)
}

/// A stable id derived from the public key: base64url of the first 8 bytes of the SHA-256 of its
/// SubjectPublicKeyInfo DER.
pub fn kid_for(key: &RsaPrivateKey) -> Result<String, KeyError> {
    let der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| KeyError::Invalid(e.to_string()))?;
    let digest = Sha256::digest(der.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(&digest[..8]))
}

/// A new key as PKCS#8 PEM, generated off the async runtime.
pub async fn generate_pem() -> Result<String, KeyError> {
    tokio::task::spawn_blocking(|| {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), GENERATED_KEY_BITS)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        key.to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| KeyError::Generate(e.to_string()))
    })
    .await
    .map_err(|e| KeyError::Generate(e.to_string()))?
}

/// The configured key, or the stored keys (created on first start).
pub async fn load(pool: &PgPool, configured: Option<&str>) -> Result<KeySet, KeyError> {
    if let Some(pem) = configured {
        let key = parse_private_pem(pem).map_err(KeyError::Invalid)?;
        let signing = SigningKey::new(kid_for(&key)?, &key)?;
        tracing::info!(kid = %signing.kid, "signing tokens with the configured key");
        return Ok(KeySet {
            jwks: Jwks {
                keys: vec![signing.jwk.clone()],
            },
            signing,
        });
    }
    let mut stored = stored_keys(pool).await?;
    if stored.is_empty() {
        let pem = generate_pem().await?;
        let key = parse_private_pem(&pem).map_err(KeyError::Invalid)?;
        let kid = kid_for(&key)?;
        // Another instance may have stored one while this one was generating: it wins.
        let inserted = store::insert_first_signing_key(pool, &kid, &pem).await?;
        if inserted {
            tracing::info!(%kid, "generated a signing key and stored it in the database");
        }
        stored = stored_keys(pool).await?;
    }
    let signing = stored
        .first()
        .cloned()
        .ok_or_else(|| KeyError::Invalid("no signing key stored".into()))?;
    tracing::info!(kid = %signing.kid, keys = stored.len(), "signing tokens with the stored key");
    Ok(KeySet {
        jwks: Jwks {
            keys: stored.into_iter().map(|k| k.jwk).collect(),
        },
        signing,
    })
}

/// Stored keys, newest first.
async fn stored_keys(pool: &PgPool) -> Result<Vec<SigningKey>, KeyError> {
    let rows = store::signing_keys(pool).await?;
    rows.into_iter()
        .map(|(kid, pem)| {
            let key = parse_private_pem(&pem)
                .map_err(|e| KeyError::Invalid(format!("stored key {kid}: {e}")))?;
            SigningKey::new(kid, &key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_forms_and_rejections() {
        assert!(parse_private_pem("").is_err());
        assert!(
            parse_private_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err()
                .contains("PKCS#8")
        );
        let small = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = small.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(parse_private_pem(&pem).unwrap_err().contains("1024 bits"));
    }

    #[test]
    fn kid_is_the_same_for_both_pem_forms() {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::CRLF).unwrap();
        let a = kid_for(&parse_private_pem(&pkcs8).unwrap()).unwrap();
        let b = kid_for(&parse_private_pem(&pkcs1).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 11, "8 bytes, base64url unpadded");
        let signing = SigningKey::new(a, &key).unwrap();
        assert_eq!(signing.jwk.e, "AQAB");
        assert_eq!(URL_SAFE_NO_PAD.decode(&signing.jwk.n).unwrap().len(), 256);
    }
}
