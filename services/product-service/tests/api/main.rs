//! Integration tests: the real service over real HTTP, on a fresh PostgreSQL database per test
//! (one PostgreSQL container for the whole test binary).

mod helpers;
mod hostile;
mod openapi;
mod products;
mod provider_states;
mod reservations;
mod search;
mod startup;
