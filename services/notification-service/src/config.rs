//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `DATABASE_URL` / `DATABASE_URL_FILE` | required | PostgreSQL URL |
//! | `AMQP_URL` / `AMQP_URL_FILE` | required | RabbitMQ URL |
//! | `PORT` | `8005` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
//! | `PREFETCH` | `16` | unacknowledged messages in hand, 1 to 1000 |
//! | `MAX_ATTEMPTS` | `4` | deliveries before a message is dead-lettered, 1 to 16 |
//! | `RETRY_BASE_MS` | `200` | the first retry's delay (doubling after), 1 to 60000 |

use crate::consumer::Settings;
use crate::topology::RetryPolicy;
use kit::config::{Bounded, ConfigError, Env};
use kit::identity::Verifier;
use std::time::Duration;

pub const SERVICE: &str = "notification-service";
pub const DEFAULT_PORT: u16 = 8005;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub amqp_url: String,
    pub port: u16,
    pub consumer: Settings,
    /// Verifies the gateway's identity tokens.
    pub identity: Verifier,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url = env.required_secret("DATABASE_URL");
        let amqp_url = env.required_secret("AMQP_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let identity = env.required::<Verifier>(kit::identity::VERIFY_KEY_VAR);
        let prefetch = env.or("PREFETCH", Bounded::<1, 1000>(16));
        // 16 attempts at the largest base keep the longest delay (base * 2^14) under the
        // 2^32 - 1 ms RabbitMQ accepts as a queue TTL.
        let max_attempts = env.or("MAX_ATTEMPTS", Bounded::<1, 16>(4));
        let retry_base = env.or("RETRY_BASE_MS", Bounded::<1, 60_000>(200));
        env.finish()?;
        Ok(Config {
            database_url: database_url.unwrap_or_default(),
            amqp_url: amqp_url.unwrap_or_default(),
            port,
            identity: identity.expect("env.finish reports a missing key"),
            consumer: Settings {
                prefetch: prefetch.0 as u16,
                retry: RetryPolicy {
                    max_attempts: max_attempts.0 as u32,
                    base_delay: Duration::from_millis(retry_base.0),
                },
            },
        })
    }
}
