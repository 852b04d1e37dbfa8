//! Argon2id password hashing, off the async runtime and bounded in parallelism (each hash holds
//! its memory cost, 19 MiB by default, while it runs).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("password hashing is shutting down")]
    Closed,
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password with the configured cost: verified against when an email is
    /// unknown, so a login takes as long whether or not the account exists.
    dummy: Arc<str>,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub async fn new(params: Params) -> Result<Hasher, HashError> {
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut hasher = Hasher {
            params,
            dummy: Arc::from(""),
            permits: Arc::new(Semaphore::new(parallelism * 2)),
        };
        let random: String = {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(rand::distributions::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        };
        hasher.dummy = Arc::from(hasher.hash(random).await?);
        Ok(hasher)
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Hasher::argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(HashError::Hash)
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) it does the same work
    /// against the dummy hash and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.to_string());
        let params = self.params.clone();
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(HashError::Hash)?;
            // The stored hash carries its own cost parameters; `params` only applies to new ones.
            match Hasher::argon2(params).verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(HashError::Hash(e)),
            }
        })
        .await??;
        Ok(known && matches)
    }
}
