//! The API gateway: the one published port of the shop. It routes by path prefix to the
//! upstream services, verifies bearer tokens against the user service's JWKS, enforces the
//! access rules, forwards the verified identity as a token it signs for that upstream (`x-identity`), limits request
//! rates per client, and protects itself and the upstreams with timeouts, retries of idempotent
//! requests, round-robin load balancing and a circuit breaker per upstream. With `AMQP_URL` set
//! it consumes `user.deleted` and refuses the tokens of deleted accounts (`revocation`).
//!
//! `docs/gateway.md` describes every setting and behaviour.

pub mod auth;
pub mod breaker;
pub mod config;
pub mod identity;
pub mod openapi;
pub mod policy;
pub mod pool;
pub mod proxy;
pub mod ratelimit;
pub mod revocation;
pub mod server;
pub mod startup;
pub mod stats;
pub mod trace;

pub use config::{Config, DEFAULT_PORT, SERVICE};
pub use proxy::Gateway;
pub use server::{serve, ClientAddr};
pub use startup::App;
