//! The small kit every reference service is built from, so no service copies another's code.
//!
//! - [`config`]: environment variables, all problems reported at once, `*_FILE` secrets.
//! - [`telemetry`]: JSON logs with request and trace ids; OTLP span export when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! - [`trace`]: W3C `traceparent` in (middleware) and out ([`trace::outgoing_headers`]).
//! - [`health`]: `/health/live`, `/health/ready`, and the `<binary> healthcheck` probe.
//! - [`metrics`]: `/metrics` in Prometheus text format, requests by route and status, latency.
//! - [`identity`]: the caller the gateway vouches for: `x-identity`, a short-lived EdDSA token
//!   the gateway signs for one service, verified before any handler runs (bare `x-user-id` /
//!   `x-user-roles` headers are refused, 401); the `Identity` and `Admin` extractors, role
//!   checks, the header's OpenAPI parameter.
//! - [`amqp`]: RabbitMQ: connecting with retries, the shop's event exchange, message headers.
//! - [`consumer`]: consuming events: manual ack after commit, retry queues with growing delays,
//!   a dead-letter queue, reconnects; a service says what a message does (a `Handler`).
//! - [`outbox`]: the transactional outbox: events written with the change they announce, and
//!   the relay that publishes them (publisher confirms, unroutable ones retried).
//! - [`openapi`]: what every OpenAPI document shares (problem+json error bodies).
//! - [`input`]: text no service takes (control characters, NUL, bytes that are not UTF-8) in
//!   paths, query strings and JSON bodies, refused with a 4xx before any handler runs.
//! - [`paging`]: `?page=&per_page=` of every listing.
//! - [`problem`]: RFC 9457 `application/problem+json` errors.
//! - [`extract`]: extractors whose rejections are problems, never 5xx: [`Json`] bodies,
//!   [`Query`] strings, [`UuidPath`] ids.
//! - [`provider_states`]: the provider-state routes of contract verification, mounted only with
//!   `PACT_PROVIDER_STATES=true`.
//! - [`db`]: PostgreSQL pool with start-up retries and embedded migrations.
//! - [`serve`]: put it together: the layered router (routes and OpenAPI paths from one list of
//!   documented handlers), background workers, graceful shutdown on SIGTERM, and every
//!   service's `main`.

pub mod amqp;
pub mod config;
pub mod consumer;
pub mod db;
pub mod extract;
pub mod health;
pub mod identity;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod paging;
pub mod problem;
pub mod provider_states;
pub mod serve;
pub mod telemetry;
pub mod trace;

pub use extract::{Json, Query, UuidPath};
pub use problem::{FieldError, Problem};
pub use serve::{Service, StartupError, Worker};
