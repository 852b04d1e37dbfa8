//! The notification service: consumes every order event the order service publishes on
//! RabbitMQ and stores the customer notification (the email text) each one would send. Over
//! HTTP, behind the gateway, customers list their notifications and admins the messages that
//! could not be processed.
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (database, broker, the consumer's prefetch and retries).
//! - [`startup`]: connect and migrate, build the service and its consumer, serve.
//! - [`routes`]: the HTTP API ([`routes::notifications`]: `/notifications`,
//!   `/notifications/dead-letters`).
//! - [`store`]: PostgreSQL: the inbox (idempotency), notifications, dead letters.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own:
//! - [`topology`]: the queues this service owns (main, one retry queue per delay, dead letters).
//! - [`consumer`]: what an order event does (a notification, with its inbox row) and the record
//!   of a dead letter; `kit::consumer` does the consuming (ack after commit, retries, the
//!   dead-letter queue, reconnects).
//! - [`events`]: the order event as published (parsing and validation).
//! - [`templates`]: the email text of each event type.

pub mod config;
pub mod consumer;
pub mod events;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod store;
pub mod templates;
pub mod topology;

pub use config::{Config, DEFAULT_PORT, SERVICE};
