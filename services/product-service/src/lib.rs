//! The product service: the shop's catalogue (list, filter, full-text search, admin writes) and
//! the stock reservations of the order saga.
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (`DATABASE_URL`, `PORT`, `SEED_DEMO_CATALOGUE`).
//! - [`startup`]: connect, migrate and seed, build the service, serve.
//! - [`routes`]: the HTTP API ([`routes::products`], [`routes::reservations`]).
//! - [`store`]: the catalogue table.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own: [`reservations`] (all-or-nothing stock reservations, their transactions),
//! [`seed`] (the demo catalogue) and [`provider_states`] (the states its consumers' pacts name,
//! contract verification only).

pub mod config;
pub mod openapi;
pub mod provider_states;
pub mod reservations;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod store;

pub use config::{Config, DEFAULT_PORT, SERVICE};
