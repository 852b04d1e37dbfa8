//! The API gateway: the one published port of the shop. It routes by path (a prefix or an exact
//! path) to the upstream services, verifies bearer tokens against the user service's JWKS,
//! enforces the access rules, forwards the verified identity as a token it signs for that
//! upstream (`x-identity`), limits request rates per client, and protects itself and the
//! upstreams with timeouts, retries of idempotent requests, round-robin load balancing and a
//! circuit breaker per upstream. With `AMQP_URL` set it consumes `user.deleted` and refuses the
//! tokens of deleted accounts (`revocation`).
//!
//! Its shape differs from the other services' (docs/services-contract.md, "The gateway"):
//! - [`config`]: the JSON configuration, the routing table (`GATEWAY_ROUTES`) and the
//!   environment, every problem reported at once.
//! - [`startup`]: the shared state ([`App`]) and the binary's `run`.
//! - [`server`]: hyper's HTTP/1.1 server, thread per core; proxied paths to [`proxy`], the rest
//!   to the kit's router.
//! - [`proxy`]: the request path: access rules ([`policy`]), authentication ([`auth`]), rate
//!   limit ([`ratelimit`]), header hygiene, the signed identity ([`identity`]), then the
//!   upstream call over [`pool`]'s connections with retries and the [`breaker`].
//! - [`revocation`], [`stats`] (metrics), [`trace`] (trace and request ids), [`openapi`].
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
