//! The order service: takes orders and runs the checkout saga across the product service (stock)
//! and the payment service, publishing order events through a transactional outbox.
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (database, broker, partners, the saga's timings).
//! - [`startup`]: connect and migrate, build the service and its workers, serve.
//! - [`routes`]: the HTTP API ([`routes::orders`]: place, read, list, cancel; ship and complete
//!   for admins).
//! - [`store`]: orders as stored and served.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own:
//! - [`saga`]: the orchestrator: steps, compensations, deadline, crash recovery.
//! - [`settled`]: requests waiting for a saga's outcome, woken when it commits.
//! - [`clients`]: the calls to the product and payment services.
//! - [`events`]: the order events, written to the outbox (`kit::outbox`, whose relay publishes
//!   them to RabbitMQ).
//! - [`provider_states`]: the states and messages its consumers' pacts name (contract
//!   verification only, `PACT_PROVIDER_STATES=true`).

pub mod clients;
pub mod config;
pub mod events;
pub mod openapi;
pub mod provider_states;
pub mod routes;
pub mod saga;
pub mod settled;
pub mod startup;
pub mod store;

pub use config::{Config, DEFAULT_PORT, SERVICE};
