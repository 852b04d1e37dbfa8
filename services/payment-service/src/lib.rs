//! The payment service: charges orders through a simulated card provider, idempotently by order
//! id, and refunds them. Internal: the order service calls it on the private network (no auth).
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (`DATABASE_URL`, `PORT`, the provider's knobs).
//! - [`startup`]: connect and migrate, build the service, serve.
//! - [`routes`]: the HTTP API ([`routes::payments`]: charge, read, list, refund).
//! - [`store`]: the payments table.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own: [`provider`], the simulated card provider (tokens, chaos).

pub mod config;
pub mod openapi;
pub mod provider;
pub mod provider_states;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::{Config, DEFAULT_PORT, SERVICE};
