//! Configuration from the environment; every problem is reported at once.
//!
//! | Variable | Default | |
//! |---|---|---|
//! | `DATABASE_URL` | required | PostgreSQL URL |
//! | `AMQP_URL` / `AMQP_URL_FILE` | required | RabbitMQ URL (`user.deleted` events, docs/events.md) |
//! | `PORT` | `8001` | |
//! | `IDENTITY_VERIFY_KEY` | required | the gateway's public key for identity tokens (base64url Ed25519; `msctl up` generates it) |
//! | `ADMIN_EMAIL` | `admin@shop.local` | admin account created at first start |
//! | `ADMIN_PASSWORD` / `ADMIN_PASSWORD_FILE` | `admin-password-1` | its password (secret) |
//! | `JWT_PRIVATE_KEY` / `JWT_PRIVATE_KEY_FILE` | unset | RSA signing key, PKCS#8 or PKCS#1 PEM (secret); unset: generated once and kept in the database |
//! | `TOKEN_TTL_SECONDS` | `900` | access token lifetime |
//! | `PASSWORD_HASH_WORKERS` | available parallelism, at most 8 | threads hashing passwords, each keeping one 19 MiB block (argon2id's memory cost): hashing memory is this × 19 MiB |
//! | `PACT_PROVIDER_STATES` | `false` | mount `/_pact/state` for contract verification (docs/contracts.md); never in a real stack |

use crate::{keys, passwords, validation};
use kit::config::{ConfigError, Env, Flag};
use kit::identity::Verifier;

pub const SERVICE: &str = "user-service";
pub const DEFAULT_PORT: u16 = 8001;
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@shop.local";
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin-password-1";
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 900;
/// Longest token lifetime accepted (a day): these are access tokens, not sessions.
pub const MAX_TOKEN_TTL_SECONDS: u64 = 86_400;
/// Most password hashing workers accepted (64 × 19 MiB is already 1.2 GiB).
pub const MAX_PASSWORD_HASH_WORKERS: usize = 64;

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// RabbitMQ, where the outbox relay publishes `user.deleted`.
    pub amqp_url: String,
    pub port: u16,
    pub admin_email: String,
    pub admin_password: String,
    /// PEM of the signing key; `None`: use (or create) the key stored in the database.
    pub jwt_private_key: Option<String>,
    pub token_ttl_seconds: u64,
    /// Argon2id cost of new password hashes. Always the `argon2` crate's default (m = 19 MiB,
    /// t = 2, p = 1) when configured from the environment; only tests lower it.
    pub password_hashing: argon2::Params,
    /// Verifies the gateway's identity tokens.
    pub identity: Verifier,
    /// Threads hashing passwords, each with one block of `password_hashing`'s memory cost.
    pub password_hash_workers: usize,
    /// Contract verification only: the provider-state route (`kit::provider_states`).
    pub provider_states: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("amqp_url", &kit::amqp::redact(&self.amqp_url))
            .field("admin_email", &self.admin_email)
            .field("admin_password", &"<secret>")
            .field(
                "jwt_private_key",
                &self.jwt_private_key.as_ref().map(|_| "<secret>"),
            )
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("password_hashing", &self.password_hashing)
            .field("password_hash_workers", &self.password_hash_workers)
            .field("provider_states", &self.provider_states)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The defaults, for a database; what tests start from (set `amqp_url` before `build`).
    pub fn new(database_url: impl Into<String>, identity: Verifier) -> Config {
        Config {
            database_url: database_url.into(),
            amqp_url: String::new(),
            port: DEFAULT_PORT,
            identity,
            admin_email: DEFAULT_ADMIN_EMAIL.into(),
            admin_password: DEFAULT_ADMIN_PASSWORD.into(),
            jwt_private_key: None,
            token_ttl_seconds: DEFAULT_TOKEN_TTL_SECONDS,
            password_hashing: argon2::Params::default(),
            password_hash_workers: passwords::default_workers(),
            provider_states: false,
        }
    }

    pub fn from_env() -> Result<Config, ConfigError> {
        let mut env = Env::new();
        let database_url: Option<String> = env.required("DATABASE_URL");
        let amqp_url = env.required_secret("AMQP_URL");
        let port = env.or("PORT", DEFAULT_PORT);
        let identity = env.required::<Verifier>(kit::identity::VERIFY_KEY_VAR);
        let admin_email = env.or("ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL.to_string());
        let admin_password = env
            .secret("ADMIN_PASSWORD")
            .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.into());
        // An empty value (`JWT_PRIVATE_KEY: ${JWT_PRIVATE_KEY:-}` in a stack file) means unset.
        let jwt_private_key = env
            .secret("JWT_PRIVATE_KEY")
            .filter(|pem| !pem.trim().is_empty());
        let token_ttl_seconds = env.or("TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS);
        let password_hash_workers = env.or("PASSWORD_HASH_WORKERS", passwords::default_workers());
        let provider_states = env.or(kit::provider_states::SETTING, Flag(false)).0;

        let mut problems = env.finish().err().map(|e| e.problems).unwrap_or_default();
        if let Err(why) = validation::email(&admin_email) {
            problems.push(format!("ADMIN_EMAIL={admin_email:?} is invalid: {why}"));
        }
        if let Err(why) = validation::password(&admin_password) {
            problems.push(format!("ADMIN_PASSWORD is invalid: it {why}"));
        }
        if let Some(pem) = &jwt_private_key {
            if let Err(why) = keys::parse_private_pem(pem) {
                problems.push(format!("JWT_PRIVATE_KEY is invalid: {why}"));
            }
        }
        if !(1..=MAX_TOKEN_TTL_SECONDS).contains(&token_ttl_seconds) {
            problems.push(format!(
                "TOKEN_TTL_SECONDS={token_ttl_seconds} is invalid: must be 1 to {MAX_TOKEN_TTL_SECONDS}"
            ));
        }
        if !(1..=MAX_PASSWORD_HASH_WORKERS).contains(&password_hash_workers) {
            problems.push(format!(
                "PASSWORD_HASH_WORKERS={password_hash_workers} is invalid: must be 1 to {MAX_PASSWORD_HASH_WORKERS}"
            ));
        }
        match (database_url, amqp_url, identity) {
            (Some(database_url), Some(amqp_url), Some(identity)) if problems.is_empty() => {
                Ok(Config {
                    database_url,
                    amqp_url,
                    port,
                    identity,
                    admin_email,
                    admin_password,
                    jwt_private_key,
                    token_ttl_seconds,
                    password_hashing: argon2::Params::default(),
                    password_hash_workers,
                    provider_states,
                })
            }
            _ => Err(ConfigError { problems }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test touching these variables (tests share the process environment).
    #[test]
    fn from_env_reports_everything_then_applies_defaults() {
        for name in [
            "DATABASE_URL",
            "AMQP_URL",
            "AMQP_URL_FILE",
            "PORT",
            "ADMIN_EMAIL",
            "ADMIN_PASSWORD",
            "ADMIN_PASSWORD_FILE",
            "JWT_PRIVATE_KEY",
            "JWT_PRIVATE_KEY_FILE",
            "TOKEN_TTL_SECONDS",
            "IDENTITY_VERIFY_KEY",
            "PASSWORD_HASH_WORKERS",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("ADMIN_EMAIL", "not-an-email");
        std::env::set_var("ADMIN_PASSWORD", "weak");
        std::env::set_var("JWT_PRIVATE_KEY", "not a key");
        std::env::set_var("TOKEN_TTL_SECONDS", "0");
        std::env::set_var("PASSWORD_HASH_WORKERS", "0");
        let problems = Config::from_env().unwrap_err().problems;
        assert_eq!(problems.len(), 8, "{problems:?}");
        let all = problems.join("\n");
        for expected in [
            "DATABASE_URL is required",
            "AMQP_URL is required",
            "IDENTITY_VERIFY_KEY is required",
            "ADMIN_EMAIL=\"not-an-email\" is invalid",
            "ADMIN_PASSWORD is invalid",
            "JWT_PRIVATE_KEY is invalid",
            "TOKEN_TTL_SECONDS=0 is invalid",
            "PASSWORD_HASH_WORKERS=0 is invalid",
        ] {
            assert!(all.contains(expected), "{expected} in {all}");
        }
        assert!(!all.contains("weak"), "secrets are not echoed");

        for name in [
            "ADMIN_EMAIL",
            "ADMIN_PASSWORD",
            "TOKEN_TTL_SECONDS",
            "PASSWORD_HASH_WORKERS",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("JWT_PRIVATE_KEY", "  \n");
        std::env::set_var("DATABASE_URL", "postgres://u:p@db/users");
        std::env::set_var("AMQP_URL", "amqp://u:p@rabbitmq:5672/%2f");
        std::env::set_var(
            "IDENTITY_VERIFY_KEY",
            "KY_STR-KOCZI6rRxzVB9puHAKl3mop2zwc2O-WGjBIo",
        );
        let config = Config::from_env().unwrap();
        assert_eq!(config.port, 8001);
        assert_eq!(config.admin_email, "admin@shop.local");
        assert_eq!(config.admin_password, "admin-password-1");
        assert!(config.jwt_private_key.is_none(), "blank means unset");
        assert_eq!(config.token_ttl_seconds, 900);
        assert_eq!(config.password_hashing, argon2::Params::default());
        assert_eq!(config.password_hash_workers, passwords::default_workers());
        std::env::set_var("PASSWORD_HASH_WORKERS", "3");
        assert_eq!(Config::from_env().unwrap().password_hash_workers, 3);
        std::env::remove_var("PASSWORD_HASH_WORKERS");
        assert!(!format!("{config:?}").contains("admin-password-1"));
        std::env::remove_var("JWT_PRIVATE_KEY");
        assert_eq!(config.amqp_url, "amqp://u:p@rabbitmq:5672/%2f");
        assert!(
            !format!("{config:?}").contains("u:p@"),
            "the broker's password is a secret"
        );
        std::env::remove_var("DATABASE_URL");
        std::env::remove_var("AMQP_URL");
        std::env::remove_var("IDENTITY_VERIFY_KEY");
    }
}
