//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `DATABASE_URL` / `DATABASE_URL_FILE` | required | PostgreSQL URL |
//! | `PORT` | `8004` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
//! | `SLOW_TOKEN_DELAY_MS` | `3000` | how late `tok_slow` succeeds |
//! | `PAYMENT_FAILURE_RATE` | `0.0` | chaos: share of charges failing transiently (0.0 to 1.0) |
//! | `PAYMENT_LATENCY_MS` | `0` | chaos: added to every charge |
//! | `PACT_PROVIDER_STATES` | `false` | mount `/_pact/state` for contract verification (docs/contracts.md); never in a real stack |

use crate::provider::{Provider, Rate};
use kit::config::{ConfigError, Env, Flag};
use kit::identity::Verifier;
use std::time::Duration;

pub const SERVICE: &str = "payment-service";
pub const DEFAULT_PORT: u16 = 8004;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub port: u16,
    pub provider: Provider,
    /// Verifies the gateway's identity tokens.
    pub identity: Verifier,
    /// Contract verification only: the provider-state route (`kit::provider_states`).
    pub provider_states: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let identity = env.required::<Verifier>(kit::identity::VERIFY_KEY_VAR);
        let slow = env.or("SLOW_TOKEN_DELAY_MS", 3000u64);
        let rate = env.or("PAYMENT_FAILURE_RATE", Rate(0.0));
        let latency = env.or("PAYMENT_LATENCY_MS", 0u64);
        let provider_states = env.or(kit::provider_states::SETTING, Flag(false));
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            port,
            identity: identity.expect("env.finish reports a missing key"),
            provider_states: provider_states.0,
            provider: Provider {
                slow_token_delay: Duration::from_millis(slow),
                failure_rate: rate.0,
                latency: Duration::from_millis(latency),
            },
        })
    }
}
