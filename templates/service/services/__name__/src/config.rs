//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
{% if db %}
//! | `DATABASE_URL` / `DATABASE_URL_FILE` | required | PostgreSQL URL |
{% endif %}
{% if amqp %}
//! | `AMQP_URL` / `AMQP_URL_FILE` | required | RabbitMQ URL |
{% endif %}
//! | `PORT` | `{{ port }}` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
{% if consumes %}
//! | `PREFETCH` | `16` | unacknowledged messages in hand, 1 to 1000 |
//! | `MAX_ATTEMPTS` | `4` | deliveries before a message is dead-lettered, 1 to 16 |
//! | `RETRY_BASE_MS` | `200` | the first retry's delay (doubling after), 1 to 60000 |
{% endif %}
//! | `PACT_PROVIDER_STATES` | `false` | mount `/_pact/state` for contract verification (docs/contracts.md); never in a real stack |

{% if consumes %}
use crate::consumer::Settings;
use crate::topology::RetryPolicy;
use kit::config::{Bounded, ConfigError, Env, Flag};
{% else %}
use kit::config::{ConfigError, Env, Flag};
{% endif %}
use kit::identity::Verifier;
{% if consumes %}
use std::time::Duration;
{% endif %}

pub const SERVICE: &str = "{{ name }}";
pub const DEFAULT_PORT: u16 = {{ port }};

#[derive(Debug, Clone)]
pub struct Config {
{% if db %}
    pub database_url: String,
{% endif %}
{% if amqp %}
    pub amqp_url: String,
{% endif %}
    pub port: u16,
{% if consumes %}
    pub consumer: Settings,
{% endif %}
    /// Verifies the gateway's identity tokens.
    pub identity: Verifier,
    /// Contract verification only: the provider-state route (`kit::provider_states`).
    pub provider_states: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
{% if db %}
        let database_url = env.required_secret("DATABASE_URL");
{% endif %}
{% if amqp %}
        let amqp_url = env.required_secret("AMQP_URL");
{% endif %}
        let port = env.or("PORT", DEFAULT_PORT);
        let identity = env.required::<Verifier>(kit::identity::VERIFY_KEY_VAR);
{% if consumes %}
        let prefetch = env.or("PREFETCH", Bounded::<1, 1000>(16));
        // 16 attempts at the largest base keep the longest delay (base * 2^14) under the
        // 2^32 - 1 ms RabbitMQ accepts as a queue TTL.
        let max_attempts = env.or("MAX_ATTEMPTS", Bounded::<1, 16>(4));
        let retry_base = env.or("RETRY_BASE_MS", Bounded::<1, 60_000>(200));
{% endif %}
        let provider_states = env.or(kit::provider_states::SETTING, Flag(false));
        env.finish()?;
        Ok(Config {
{% if db %}
            database_url: database_url.unwrap_or_default(),
{% endif %}
{% if amqp %}
            amqp_url: amqp_url.unwrap_or_default(),
{% endif %}
            port,
{% if consumes %}
            consumer: Settings {
                prefetch: prefetch.0 as u16,
                retry: RetryPolicy {
                    max_attempts: max_attempts.0 as u32,
                    base_delay: Duration::from_millis(retry_base.0),
                },
            },
{% endif %}
            identity: identity.expect("env.finish reports a missing key"),
            provider_states: provider_states.0,
        })
    }
}
