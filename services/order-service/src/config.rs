//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `DATABASE_URL` / `DATABASE_URL_FILE` | required | PostgreSQL URL |
//! | `AMQP_URL` / `AMQP_URL_FILE` | required | RabbitMQ URL (order events) |
//! | `PRODUCT_SERVICE_URL`, `PAYMENT_SERVICE_URL` | required | the saga's partners |
//! | `PORT` | `8003` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
//! | `CURRENCY` | `EUR` | |
//! | `SAGA_DEADLINE_MS` | `15000` | an order not settled by then is compensated |
//! | `SAGA_LEASE_MS` | `10000` | how long a saga is held by one process |
//! | `STEP_TIMEOUT_MS` | `5000` | one call to a partner |
//! | `PACT_PROVIDER_STATES` | `false` | mount `/_pact/state` and `/_pact/message` for contract verification (docs/contracts.md); never in a real stack |

use crate::saga::SagaConfig;
use kit::config::{ConfigError, Env, Flag};
use kit::identity::Verifier;
use std::time::Duration;

pub const SERVICE: &str = "order-service";
pub const DEFAULT_PORT: u16 = 8003;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub amqp_url: String,
    pub product_service_url: String,
    pub payment_service_url: String,
    pub port: u16,
    pub currency: String,
    pub saga: SagaConfig,
    pub step_timeout: Duration,
    /// Verifies the gateway's identity tokens.
    pub identity: Verifier,
    /// Contract verification only: the provider-state and message routes
    /// (`kit::provider_states`).
    pub provider_states: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let amqp_url = env.required_secret("AMQP_URL");
        let product_service_url = env.required::<String>("PRODUCT_SERVICE_URL");
        let payment_service_url = env.required::<String>("PAYMENT_SERVICE_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let identity = env.required::<Verifier>(kit::identity::VERIFY_KEY_VAR);
        let currency = env.or("CURRENCY", "EUR".to_owned());
        let defaults = SagaConfig::default();
        let deadline = env.or("SAGA_DEADLINE_MS", defaults.deadline.as_millis() as u64);
        let lease = env.or("SAGA_LEASE_MS", defaults.lease.as_millis() as u64);
        let step_timeout = env.or("STEP_TIMEOUT_MS", 5000u64);
        let provider_states = env.or(kit::provider_states::SETTING, Flag(false)).0;
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            amqp_url: amqp_url.unwrap_or_default(),
            product_service_url: product_service_url.unwrap_or_default(),
            payment_service_url: payment_service_url.unwrap_or_default(),
            port,
            identity: identity.expect("env.finish reports a missing key"),
            currency,
            saga: SagaConfig {
                deadline: Duration::from_millis(deadline),
                lease: Duration::from_millis(lease),
                ..defaults
            },
            step_timeout: Duration::from_millis(step_timeout),
            provider_states,
        })
    }
}
