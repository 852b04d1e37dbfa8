//! Integration tests: the real service over real HTTP, on a fresh PostgreSQL database per test.

mod helpers;
mod hostile;
mod openapi;
mod payments;
mod provider_states;
mod startup;
