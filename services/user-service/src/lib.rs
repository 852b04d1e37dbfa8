//! The user service of the reference shop: accounts with argon2id passwords, RS256 access
//! tokens, and the JWKS the gateway verifies them with.
//!
//! The layout every service shares (docs/services-contract.md):
//! - [`config`]: the environment (database, admin account, signing key, token lifetime).
//! - [`startup`]: connect and migrate, build the service (signing key, admin account), serve.
//! - [`routes`]: the HTTP API ([`routes::users`]: accounts; [`routes::tokens`]: login, JWKS).
//! - [`store`]: the users and signing-keys tables.
//! - [`openapi`]: the document's title and tags (the paths come from the routes).
//!
//! And its own:
//! - [`validation`]: the rules for emails, names, passwords and roles.
//! - [`passwords`]: argon2id hashing off the runtime; a dummy hash for unknown emails.
//! - [`events`]: `user.deleted`, written to the outbox with the deletion (`kit::outbox`).
//! - [`keys`]: the signing key (configured, or generated once and stored in the database), JWKS.
//! - [`provider_states`]: the states its consumers' pacts name (contract verification only).
//!
//! The caller is the identity the gateway vouches for: `kit::identity`.

pub mod config;
pub mod events;
pub mod keys;
pub mod openapi;
pub mod passwords;
pub mod provider_states;
pub mod routes;
pub mod startup;
pub mod store;
pub mod validation;

pub use config::{Config, DEFAULT_PORT, SERVICE};
