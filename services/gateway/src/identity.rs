//! The identity the gateway forwards upstream: an `x-identity` token it signs for one upstream
//! (see `kit::identity`), never the bare `x-user-id`/`x-user-roles` headers a service could not
//! tell from anyone else's. Signing is ~20 µs, so a token is reused for the same upstream,
//! user and roles while more than half its life is left.

use crate::auth::Identity;
use http::HeaderValue;
use kit::identity::{Signer, TOKEN_TTL};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Cached tokens kept at most; the cache is emptied when it is full (tokens are cheap to mint
/// again, and a bound keeps many users from growing it without limit).
const CACHE_LIMIT: usize = 10_000;

type Key = (String, uuid::Uuid, String);

pub struct Minter {
    signer: Signer,
    cache: Mutex<HashMap<Key, (HeaderValue, u64)>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Minter {
    pub fn new(signer: Signer) -> Minter {
        Minter {
            signer,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The `x-identity` value for `identity`, for `upstream` only.
    pub fn token(&self, upstream: &str, identity: &Identity) -> HeaderValue {
        let key = (
            upstream.to_owned(),
            identity.user_id,
            identity.roles.join(","),
        );
        let now = now();
        if let Some((token, issued)) = self.cache.lock().expect("identity cache lock").get(&key) {
            if now < issued + TOKEN_TTL.as_secs() / 2 {
                return token.clone();
            }
        }
        // Signed without the lock: other workers' requests do not wait for it.
        let claims = kit::identity::Identity {
            user_id: identity.user_id,
            roles: identity.roles.clone(),
        };
        let token = HeaderValue::from_str(&self.signer.sign(upstream, &claims, now))
            .expect("a JWT is ASCII");
        let mut cache = self.cache.lock().expect("identity cache lock");
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, (token.clone(), now));
        token
    }
}
