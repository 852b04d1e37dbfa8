//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `DATABASE_URL` / `DATABASE_URL_FILE` | required | PostgreSQL URL |
//! | `PORT` | `8002` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
//! | `SEED_DEMO_CATALOGUE` | `true` | load the demo catalogue at first start |
//! | `PACT_PROVIDER_STATES` | `false` | mount `/_pact/state` for contract verification (docs/contracts.md); never in a real stack |

use kit::config::{ConfigError, Env, Flag};
use kit::identity::Verifier;

pub const SERVICE: &str = "product-service";
pub const DEFAULT_PORT: u16 = 8002;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub port: u16,
    pub seed_demo_catalogue: bool,
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
        let seed = env.or("SEED_DEMO_CATALOGUE", Flag(true));
        let provider_states = env.or(kit::provider_states::SETTING, Flag(false));
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            port,
            identity: identity.expect("env.finish reports a missing key"),
            seed_demo_catalogue: seed.0,
            provider_states: provider_states.0,
        })
    }
}
