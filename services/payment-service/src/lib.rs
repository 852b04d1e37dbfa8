//! The payment service: charges orders through a simulated card provider, idempotently by order
//! id, and refunds them. The order service calls it on the private network; through the gateway
//! only admins reach it (`/payments/**`, msctl.yaml). Its handlers ask for no identity (kit still
//! refuses bare identity headers).
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (`DATABASE_URL`, `PORT`, the provider's knobs).
//! - [`startup`]: connect and migrate, build the service, serve.
//! - [`routes`]: the HTTP API ([`routes::payments`]: charge, read, list, refund).
//! - [`store`]: the payments table.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own: [`provider`], the simulated card provider (tokens, chaos); [`provider_states`],
//! the states its consumers' pacts name (contract verification only).

pub mod config;
pub mod openapi;
pub mod provider;
pub mod provider_states;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::{Config, DEFAULT_PORT, SERVICE};
