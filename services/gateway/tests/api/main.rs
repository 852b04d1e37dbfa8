//! The gateway against real upstream servers over TCP: small axum apps started here that echo
//! what they receive, fail or stall on demand and count their hits, one of them serving a real
//! JWKS made from RSA keys generated here. Tokens are signed with jsonwebtoken.
//!
//! One test binary; a module per topic, `helpers` what they share.

mod helpers;

mod auth;
mod binary;
mod bodies;
mod ratelimit;
mod resilience;
mod revocation;
mod routing;
